#include "tls/policy.hpp"

#include <openssl/provider.h>

#include <algorithm>

#include "tls/openssl_handles.hpp"

namespace parley::tls {

namespace {

bool contains(const std::vector<std::string>& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// What FIPS 140 admits of the allowlists: AES-GCM (SP 800-38D) and the NIST curves (SP 800-186);
// ChaCha20-Poly1305 and X25519 are not approved in the OpenSSL 3.0 FIPS provider.
bool fips_approved_suite(std::string_view suite) {
  return suite.find("AES") != std::string_view::npos && suite.find("GCM") != std::string_view::npos;
}

bool fips_approved_group(std::string_view group) {
  return group == "P-256" || group == "P-384";
}

Result<void> check_list(const std::vector<std::string>& chosen,
                        const std::vector<std::string>& allowed, const char* what, FipsMode fips,
                        bool (*fips_ok)(std::string_view)) {
  for (const auto& item : chosen) {
    if (!contains(allowed, item)) {
      return fail(Error::invalid_argument("TLS policy: " + std::string(what) + " \"" + item +
                                          "\" is not allowed (AEAD suites with forward secrecy and "
                                          "the groups X25519, P-256, P-384 only)"));
    }
    if (fips == FipsMode::on && !fips_ok(item)) {
      return fail(Error::invalid_argument("TLS policy: " + std::string(what) + " \"" + item +
                                          "\" is not FIPS-approved (FIPS mode allows AES-GCM and "
                                          "P-256/P-384 only)"));
    }
    if (std::count(chosen.begin(), chosen.end(), item) > 1) {
      return fail(Error::invalid_argument("TLS policy: " + std::string(what) + " \"" + item +
                                          "\" is listed twice"));
    }
  }
  return {};
}

}  // namespace

const char* to_string(TlsVersion version) {
  switch (version) {
    case TlsVersion::tls1_2:
      return "TLSv1.2";
    case TlsVersion::tls1_3:
      return "TLSv1.3";
  }
  return "?";
}

const std::vector<std::string>& allowed_tls13_suites() {
  static const std::vector<std::string> suites = {
      "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"};
  return suites;
}

const std::vector<std::string>& allowed_tls12_suites() {
  static const std::vector<std::string> suites = {
      "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
      "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
      "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"};
  return suites;
}

const std::vector<std::string>& allowed_groups() {
  static const std::vector<std::string> groups = {"X25519", "P-256", "P-384"};
  return groups;
}

TlsPolicy TlsPolicy::standard() {
  return TlsPolicy{};
}

TlsPolicy TlsPolicy::fips_140() {
  TlsPolicy policy = standard();
  policy.fips = FipsMode::on;
  std::erase_if(policy.tls13_suites, [](const std::string& s) { return !fips_approved_suite(s); });
  std::erase_if(policy.tls12_suites, [](const std::string& s) { return !fips_approved_suite(s); });
  std::erase_if(policy.groups, [](const std::string& g) { return !fips_approved_group(g); });
  return policy;
}

Result<void> validate(const TlsPolicy& policy) {
  if (static_cast<int>(policy.min_version) > static_cast<int>(policy.max_version)) {
    return fail(Error::invalid_argument(std::string("TLS policy: minimum version ") +
                                        to_string(policy.min_version) + " is above the maximum " +
                                        to_string(policy.max_version)));
  }
  if (auto ok = check_list(policy.tls13_suites, allowed_tls13_suites(), "TLS 1.3 suite",
                           policy.fips, fips_approved_suite);
      !ok) {
    return ok;
  }
  if (auto ok = check_list(policy.tls12_suites, allowed_tls12_suites(), "TLS 1.2 suite",
                           policy.fips, fips_approved_suite);
      !ok) {
    return ok;
  }
  if (auto ok =
          check_list(policy.groups, allowed_groups(), "group", policy.fips, fips_approved_group);
      !ok) {
    return ok;
  }
  // An empty list would let OpenSSL fall back to its own defaults, which are wider than ours.
  if (policy.max_version == TlsVersion::tls1_3 && policy.tls13_suites.empty()) {
    return fail(
        Error::invalid_argument("TLS policy: TLS 1.3 is enabled but no TLS 1.3 suite is listed"));
  }
  if (policy.min_version == TlsVersion::tls1_2 && policy.tls12_suites.empty()) {
    return fail(
        Error::invalid_argument("TLS policy: TLS 1.2 is enabled but no TLS 1.2 suite is listed"));
  }
  if (policy.groups.empty()) {
    return fail(Error::invalid_argument("TLS policy: no key exchange group is listed"));
  }
  if (policy.max_peer_chain_bytes < 4096 || policy.max_peer_chain_bytes > 1024 * 1024) {
    return fail(Error::invalid_argument(
        "TLS policy: max_peer_chain_bytes must be between 4 KiB and 1 MiB"));
  }
  return {};
}

Result<void> fips_provider_available() {
  // A library context of its own, so that probing never changes which provider the rest of the
  // process uses.
  LibCtxPtr context(OSSL_LIB_CTX_new());
  if (!context) {
    return fail(
        Error::crypto("FIPS provider not available: cannot create an OpenSSL library context"));
  }
  OSSL_PROVIDER* fips = OSSL_PROVIDER_load(context.get(), "fips");
  if (fips == nullptr) {
    const std::string reason = pki::openssl::last_error_text();
    return fail(Error::crypto("FIPS provider not available" +
                              (reason.empty() ? std::string() : " (" + reason + ")") +
                              "; FIPS mode refuses to run on non-FIPS cryptography"));
  }
  OSSL_PROVIDER_unload(fips);
  return {};
}

}  // namespace parley::tls
