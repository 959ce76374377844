// parley-cert: certificate administration for a Parley deployment (ARCHITECTURE.md, interfaces).
// Exit codes: 0 valid/clean, 1 invalid/findings, 2 usage or I/O error.
//
// This file only parses arguments and prints; the work is in libparley (pki/).

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/identity.hpp"
#include "pki/verify.hpp"

namespace json = boost::json;
using namespace parley;
using namespace parley::pki;

namespace {

constexpr int kExitValid = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

constexpr const char* kSystemRoots = "/etc/ssl/certs/ca-certificates.crt";

struct UsageError {
  std::string message;
};

std::vector<CertificatePtr> load_certificates(const std::string& path) {
  auto data = read_file(path);
  if (!data) throw UsageError{data.error().message};
  auto parsed = Certificate::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

std::vector<CrlPtr> load_crls(const std::string& path) {
  auto data = read_file(path, 64u * 1024 * 1024);
  if (!data) throw UsageError{data.error().message};
  auto parsed = Crl::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

// "2026-01-31T12:00:00Z" (or without the Z), UTC.
std::optional<UnixTime> parse_iso_time(const std::string& text) {
  std::tm tm{};
  char zone = 'Z';
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone);
  if (n < 6 || zone != 'Z') return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<UnixTime>(timegm(&tm));
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

std::string iso_time(UnixTime t) {
  const std::time_t time = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

json::object describe(const Certificate& c) {
  json::object o;
  o["subject"] = c.subject().to_display_string();
  o["issuer"] = c.issuer().to_display_string();
  o["not_before"] = iso_time(c.not_before());
  o["not_after"] = iso_time(c.not_after());
  o["sha256"] = hex_colon(c.sha256_fingerprint());
  return o;
}

struct VerifyArguments {
  std::string certificate;
  std::string host;
  std::vector<std::string> ca_files;
  std::vector<std::string> untrusted_files;
  std::vector<std::string> crl_files;
  std::string at;
  std::string profile = "web-pki";
  bool json_output = false;
};

int run_verify(const VerifyArguments& args) {
  auto reference = ReferenceIdentity::parse(args.host);
  if (!reference) throw UsageError{"--host " + args.host + ": " + reference.error().message};

  auto chain = load_certificates(args.certificate);
  const CertificatePtr leaf = chain.front();
  std::vector<CertificatePtr> intermediates(chain.begin() + 1, chain.end());  // a served chain
  for (const auto& file : args.untrusted_files) {
    for (auto& c : load_certificates(file)) intermediates.push_back(std::move(c));
  }
  TrustStore anchors;
  const std::vector<std::string> ca_files =
      args.ca_files.empty() ? std::vector<std::string>{kSystemRoots} : args.ca_files;
  for (const auto& file : ca_files) {
    for (auto& c : load_certificates(file)) anchors.add(std::move(c));
  }

  VerifyPolicy policy;
  policy.profile = args.profile == "rfc5280" ? Profile::rfc5280 : Profile::web_pki;
  if (args.at.empty()) {
    policy.time = static_cast<UnixTime>(std::time(nullptr));
  } else {
    auto at = parse_iso_time(args.at);
    if (!at) throw UsageError{"--at " + args.at + ": expected YYYY-MM-DDTHH:MM:SSZ"};
    policy.time = *at;
  }
  for (const auto& file : args.crl_files) {
    for (auto& crl : load_crls(file)) policy.crls.push_back(std::move(crl));
  }

  const VerifyResult result = verify_server_certificate(leaf, intermediates, anchors, *reference, policy);

  if (args.json_output) {
    json::object out;
    out["certificate"] = args.certificate;
    out["host"] = args.host;
    out["valid"] = result.has_value();
    out["leaf"] = describe(*leaf);
    json::array path;
    const auto& certificates = result ? result->certificates() : result.error().path;
    for (const auto& c : certificates) path.push_back(describe(*c));
    out["path"] = std::move(path);
    if (result) {
      out["matched_identity"] = result->matched_identity();
    } else {
      out["error"] = to_string(result.error().error);
      out["message"] = result.error().message;
      json::array issues;
      for (const auto& issue : result.error().issues) {
        json::object i;
        i["depth"] = issue.depth;
        i["error"] = to_string(issue.error);
        i["detail"] = issue.detail;
        issues.push_back(std::move(i));
      }
      out["issues"] = std::move(issues);
    }
    std::cout << json::serialize(out) << "\n";
  } else {
    std::cout << args.certificate << ": " << (result ? "valid" : "INVALID") << " for " << args.host << "\n";
    const auto& certificates = result ? result->certificates() : result.error().path;
    for (std::size_t i = 0; i < certificates.size(); ++i) {
      const auto& c = *certificates[i];
      std::cout << "  [" << i << "] " << c.subject().to_display_string() << "\n"
                << "      issuer " << c.issuer().to_display_string() << "\n"
                << "      valid " << iso_time(c.not_before()) << " .. " << iso_time(c.not_after()) << "\n"
                << "      sha256 " << hex_colon(c.sha256_fingerprint()) << "\n";
    }
    if (result) {
      std::cout << "  path: verified to a trust anchor\n"
                << "  identity: matches (" << result->matched_identity() << ")\n";
    } else {
      std::cout << "  verdict: " << result.error().message << "\n";
      for (const auto& issue : result.error().issues) {
        std::cout << "    - certificate " << issue.depth << ": " << to_string(issue.error) << ": " << issue.detail << "\n";
      }
    }
  }
  return result ? kExitValid : kExitInvalid;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parley-cert: certificate administration for Parley"};
  app.require_subcommand(1);

  VerifyArguments verify;
  auto* verify_command = app.add_subcommand(
      "verify", "verify a certificate chain for a host: path, validity, constraints, identity, CRLs");
  verify_command->add_option("certificate", verify.certificate, "PEM/DER file: the leaf, optionally followed by its chain")->required();
  verify_command->add_option("--host", verify.host, "the FQDN (or IP address) the client connects to")->required();
  verify_command->add_option("--ca", verify.ca_files, "trusted CA certificates (default: the system roots)");
  verify_command->add_option("--untrusted", verify.untrusted_files, "extra intermediate certificates");
  verify_command->add_option("--crl", verify.crl_files, "CRLs to check revocation against");
  verify_command->add_option("--at", verify.at, "validate at this UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  verify_command->add_option("--profile", verify.profile, "web-pki (default) or rfc5280")
      ->check(CLI::IsMember({"web-pki", "rfc5280"}));
  verify_command->add_flag("--json", verify.json_output, "machine-readable output");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  try {
    if (*verify_command) return run_verify(verify);
  } catch (const UsageError& e) {
    std::cerr << "parley-cert: " << e.message << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
