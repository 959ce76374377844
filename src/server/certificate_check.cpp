#include "server/certificate_check.hpp"

#include <fmt/format.h>

#include <ctime>

#include "core/utc_time.hpp"
#include "pki/identity.hpp"

namespace parley::server {

namespace {

// The identity rules a Parley client applies by default (client/trust_decision.cpp): CN-IDs only
// when the certificate presents no identifier SAN, never in FIPS mode (RFC 9525).
pki::CnFallback client_cn_fallback(const ServerConfig& config) {
  return config.fips ? pki::CnFallback::never : pki::CnFallback::allow_when_no_identifier_san;
}

void check_domain(const pki::Certificate& leaf, const ServerConfig& config,
                  CertificateCheck& check) {
  const std::string file = config.certificate_file.string();
  auto reference = pki::ReferenceIdentity::dns(config.domain, pki::ServiceKind::xmpp_client);
  if (!reference) {
    check.findings.push_back({CertificateFindingSeverity::refusal,
                              fmt::format("{}: [server] domain {} cannot be checked against the "
                                          "certificate: {}",
                                          file, config.domain, reference.error().message)});
    return;
  }
  const pki::IdentityResult result =
      pki::check_identity(leaf, *reference, client_cn_fallback(config));
  if (!result.ok()) {
    if (config.insecure_allow_certificate_name_mismatch) {
      check.findings.push_back(
          {CertificateFindingSeverity::warning,
           fmt::format("{}: [server] domain {}: {}; served anyway because "
                       "insecure_allow_certificate_name_mismatch = true: every client that checks "
                       "names will refuse it",
                       file, config.domain, pki::describe_mismatch(result, *reference))});
      return;
    }
    check.findings.push_back(
        {CertificateFindingSeverity::refusal,
         fmt::format("{}: [server] domain {}: {}; clients would refuse it", file, config.domain,
                     pki::describe_mismatch(result, *reference))});
    return;
  }
  if (!pki::check_identity(leaf, *reference, pki::CnFallback::never).ok()) {
    check.findings.push_back(
        {CertificateFindingSeverity::warning,
         fmt::format("{}: names [server] domain {} only in its subject CN ({}), not in a "
                     "subjectAltName: clients that follow RFC 9525 (Go's, FIPS-mode Parley) "
                     "will refuse it",
                     file, config.domain, result.matched)});
  }
}

void check_muc_domain(const pki::Certificate& leaf, const ServerConfig& config,
                      CertificateCheck& check) {
  if (config.muc.domain.empty()) return;
  const std::string file = config.certificate_file.string();
  auto reference = pki::ReferenceIdentity::dns(config.muc.domain, pki::ServiceKind::xmpp_server);
  if (!reference) {
    check.findings.push_back({CertificateFindingSeverity::warning,
                              fmt::format("{}: [muc] domain {} cannot be checked against the "
                                          "certificate: {}",
                                          file, config.muc.domain, reference.error().message)});
    return;
  }
  const pki::IdentityResult result =
      pki::check_identity(leaf, *reference, client_cn_fallback(config));
  if (result.ok()) return;
  // See the header: no TLS peer checks this name while parleyd has no server-to-server links.
  check.findings.push_back(
      {CertificateFindingSeverity::warning,
       fmt::format("{}: [muc] domain {}: {}; clients reach it through {} and are not affected, "
                   "but another server connecting to it would refuse it",
                   file, config.muc.domain, pki::describe_mismatch(result, *reference),
                   config.domain)});
}

void check_expiry(const pki::Certificate& leaf, const ServerConfig& config, pki::UnixTime now,
                  CertificateCheck& check) {
  const pki::UnixTime left = leaf.not_after() - now;
  if (left < 0 || left >= kExpiryWarningPeriod.count()) return;
  constexpr pki::UnixTime kDay = 24 * 60 * 60;
  check.findings.push_back(
      {CertificateFindingSeverity::warning,
       fmt::format("{}: the server certificate expires on {} (in {} days): renew it",
                   config.certificate_file.string(), utc_timestamp(leaf.not_after()),
                   left / kDay)});
}

}  // namespace

bool CertificateCheck::refused() const {
  for (const auto& finding : findings)
    if (finding.severity == CertificateFindingSeverity::refusal) return true;
  return false;
}

std::string CertificateCheck::refusal_text() const {
  std::string text;
  for (const auto& finding : findings) {
    if (finding.severity != CertificateFindingSeverity::refusal) continue;
    if (!text.empty()) text += "; ";
    text += finding.message;
  }
  return text;
}

std::vector<std::string> CertificateCheck::warnings() const {
  std::vector<std::string> out;
  for (const auto& finding : findings)
    if (finding.severity == CertificateFindingSeverity::warning) out.push_back(finding.message);
  return out;
}

CertificateCheck check_served_certificate(const pki::Certificate& leaf, const ServerConfig& config,
                                          pki::UnixTime now) {
  CertificateCheck check;
  check_domain(leaf, config, check);
  check_muc_domain(leaf, config, check);
  check_expiry(leaf, config, now, check);
  return check;
}

}  // namespace parley::server
