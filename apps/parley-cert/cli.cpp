#include "cli.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "core/file.hpp"
#include "core/utc_time.hpp"

namespace parley::cert_cli {

namespace {
std::vector<CommandFactory>& registry() {
  static std::vector<CommandFactory> commands;
  return commands;
}
}  // namespace

bool register_command(CommandFactory factory) {
  registry().push_back(std::move(factory));
  return true;
}

const std::vector<CommandFactory>& registered_commands() {
  return registry();
}

std::vector<pki::CertificatePtr> load_certificates(const std::string& path) {
  auto data = read_file(path);
  if (!data) throw UsageError{data.error().message};
  auto parsed = pki::Certificate::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

std::vector<pki::CrlPtr> load_crls(const std::string& path) {
  auto data = read_file(path, 64u * 1024 * 1024);
  if (!data) throw UsageError{data.error().message};
  auto parsed = pki::Crl::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

std::optional<pki::UnixTime> parse_iso_time(const std::string& text) {
  std::tm tm{};
  char zone = 0;
  int consumed = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone, &consumed);
  if (n != 7 || zone != 'Z' || static_cast<std::size_t>(consumed) != text.size())
    return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<pki::UnixTime>(timegm(&tm));
}

std::string iso_time(pki::UnixTime t) {
  return utc_timestamp(t);
}

std::string hex_colon(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += ':';
    out += digits[static_cast<unsigned char>(bytes[i]) >> 4];
    out += digits[static_cast<unsigned char>(bytes[i]) & 0xf];
  }
  return out;
}

boost::json::object describe(const pki::Certificate& c) {
  boost::json::object o;
  o["subject"] = c.subject().to_display_string();
  o["issuer"] = c.issuer().to_display_string();
  o["not_before"] = iso_time(c.not_before());
  o["not_after"] = iso_time(c.not_after());
  o["sha256"] = hex_colon(c.sha256_fingerprint());
  return o;
}

pki::TrustStore load_anchors(const std::vector<std::string>& ca_files) {
  pki::TrustStore anchors;
  const auto files = ca_files.empty() ? std::vector<std::string>{kSystemRoots} : ca_files;
  for (const auto& file : files) {
    for (auto& c : load_certificates(file)) anchors.add(std::move(c));
  }
  return anchors;
}

ChainReport check_chain(const pki::CertificatePtr& leaf,
                        const std::vector<pki::CertificatePtr>& intermediates,
                        const pki::TrustStore& anchors, const pki::VerifyPolicy& policy,
                        pki::ServiceKind service, const pki::ReferenceIdentity& reference,
                        pki::RevocationMode revocation_mode, std::string_view stapled_ocsp) {
  ChainReport report;
  report.leaf = leaf;
  report.path = pki::verify_chain(leaf, intermediates, anchors, policy);
  const pki::VerifyResult& path = *report.path;
  if (path) {
    report.stages.push_back(
        {"path", "pass", "verified to " + path->anchor().subject().to_display_string()});
  } else {
    report.stages.push_back({"path", "fail", path.error().message});
  }

  const pki::IdentityResult identity = pki::check_identity(*leaf, reference, policy.cn_fallback);
  if (identity.ok()) {
    report.stages.push_back({"identity", "pass",
                             std::string(pki::to_string(service)) + " " + reference.display +
                                 " matches " + identity.matched});
  } else {
    report.stages.push_back({"identity", "fail", pki::describe_mismatch(identity, reference)});
  }

  if (path) {
    pki::RevocationPolicy revocation_policy;
    revocation_policy.mode = revocation_mode;
    revocation_policy.now = policy.time;
    pki::RevocationCache cache;
    const std::span<const std::uint8_t> staple(
        reinterpret_cast<const std::uint8_t*>(stapled_ocsp.data()), stapled_ocsp.size());
    report.revocation = pki::check_revocation(*path, revocation_policy, cache, staple);
    const auto& revocation = *report.revocation;
    report.stages.push_back({"revocation", revocation.allows_connection() ? "pass" : "fail",
                             std::string(pki::to_string(revocation.verdict)) +
                                 (revocation.message.empty() ? "" : ": " + revocation.message)});
  } else {
    report.stages.push_back({"revocation", "skipped", "no verified path to check"});
  }

  for (const auto& presented : pki::presented_identities(*leaf, service, policy.cn_fallback)) {
    report.presented_identities.push_back(presented.text);
  }
  return report;
}

int print_report(const ReportHeading& heading, const std::vector<Stage>& stages,
                 const ChainReport* chain, bool json_output) {
  namespace json = boost::json;
  const bool valid =
      std::all_of(stages.begin(), stages.end(), [](const Stage& s) { return s.verdict == "pass"; });
  const pki::VerifyResult* path = chain != nullptr ? &*chain->path : nullptr;
  // The verified path, or as far as path building got, or at least the leaf.
  std::vector<pki::CertificatePtr> shown;
  if (path != nullptr) {
    shown = *path ? (*path)->certificates() : path->error().path;
    if (shown.empty()) shown.push_back(chain->leaf);
  }

  if (json_output) {
    json::object out;
    out[heading.subject_key] = heading.subject;
    out["service"] = heading.service;
    out["host"] = heading.host;
    out["valid"] = valid;
    json::array certificates;
    for (const auto& c : shown) certificates.push_back(describe(*c));
    out["path"] = std::move(certificates);
    json::array stage_list;
    for (const auto& stage : stages) {
      stage_list.push_back(
          {{"stage", stage.name}, {"verdict", stage.verdict}, {"detail", stage.detail}});
    }
    out["stages"] = std::move(stage_list);
    if (path != nullptr && !*path) {
      json::array issues;
      for (const auto& issue : path->error().issues) {
        issues.push_back({{"depth", issue.depth},
                          {"error", pki::to_string(issue.error)},
                          {"detail", issue.detail}});
      }
      out["path_issues"] = std::move(issues);
    }
    if (chain != nullptr) {
      json::array identities;
      for (const auto& text : chain->presented_identities) identities.push_back(json::string(text));
      out["presented_identities"] = std::move(identities);
    }
    if (chain != nullptr && chain->revocation) {
      json::array per_certificate;
      for (const auto& entry : chain->revocation->certificates) {
        per_certificate.push_back({{"position", entry.position},
                                   {"status", pki::to_string(entry.status)},
                                   {"detail", entry.detail}});
      }
      out["revocation"] = std::move(per_certificate);
    }
    std::cout << json::serialize(out) << "\n";
    return valid ? kExitValid : kExitInvalid;
  }

  std::cout << heading.subject << ": " << (valid ? "valid" : "INVALID") << " for "
            << heading.service << " " << heading.host << "\n";
  for (std::size_t i = 0; i < shown.size(); ++i) {
    const auto& c = *shown[i];
    std::cout << "  [" << i << "] " << c.subject().to_display_string() << "\n"
              << "      issuer " << c.issuer().to_display_string() << "\n"
              << "      valid  " << iso_time(c.not_before()) << " .. " << iso_time(c.not_after())
              << "\n"
              << "      sha256 " << hex_colon(c.sha256_fingerprint()) << "\n";
  }
  for (const auto& stage : stages) {
    std::cout << "  " << stage.name << ": " << stage.verdict << " - " << stage.detail << "\n";
    if (stage.name == "path" && path != nullptr && !*path) {
      for (const auto& issue : path->error().issues) {
        std::cout << "      certificate " << issue.depth << ": " << pki::to_string(issue.error)
                  << ": " << issue.detail << "\n";
      }
    }
    if (stage.name == "revocation" && chain != nullptr && chain->revocation) {
      for (const auto& entry : chain->revocation->certificates) {
        std::cout << "      certificate " << entry.position << ": " << pki::to_string(entry.status)
                  << (entry.detail.empty() ? "" : " - " + entry.detail) << "\n";
      }
    }
  }
  return valid ? kExitValid : kExitInvalid;
}

}  // namespace parley::cert_cli
