// parley-cert verify: what a Parley client would decide about a certificate chain for a service,
// stage by stage (ARCHITECTURE.md, "The certificate validation process"):
//   path       - a path to a trusted anchor, RFC 5280 validation (pki::verify_chain)
//   identity   - the certificate names the service at --host (pki::check_identity)
//   revocation - OCSP from AIA and CRLs from CDP over HTTP, plus any --crl (pki::check_revocation)
// Exit 0 when every stage passes, 1 when one fails, 2 on usage or I/O errors.

#include <ctime>
#include <iostream>

#include "cli.hpp"
#include "pki/identity.hpp"
#include "pki/revocation.hpp"
#include "pki/verify.hpp"

namespace parley::cert_cli {
namespace {

namespace json = boost::json;
using namespace parley::pki;

struct VerifyArguments {
  std::string certificate;
  std::string service = "xmpp-client";
  std::string host;
  std::vector<std::string> ca_files;
  std::vector<std::string> untrusted_files;
  std::vector<std::string> crl_files;
  std::string revocation = "hard";
  std::string at;
  std::string profile = "web-pki";
  bool strict_identity = false;
  bool json_output = false;
};

struct Stage {
  std::string name;
  std::string verdict;  // "pass", "fail", "skipped"
  std::string detail;
};

int run(const VerifyArguments& args) {
  const auto service = parse_service_kind(args.service);
  if (!service) throw UsageError{"--service " + args.service + ": expected xmpp-client, xmpp-server or https"};
  auto reference = ReferenceIdentity::parse(args.host, *service);
  if (!reference) throw UsageError{"--host " + args.host + ": " + reference.error().message};
  auto mode = parse_revocation_mode(args.revocation);
  if (!mode) throw UsageError{"--revocation " + args.revocation + ": " + mode.error().message};

  auto chain = load_certificates(args.certificate);
  const CertificatePtr leaf = chain.front();
  std::vector<CertificatePtr> intermediates(chain.begin() + 1, chain.end());  // a served chain
  for (const auto& file : args.untrusted_files) {
    for (auto& c : load_certificates(file)) intermediates.push_back(std::move(c));
  }
  TrustStore anchors;
  const auto ca_files = args.ca_files.empty() ? std::vector<std::string>{kSystemRoots} : args.ca_files;
  for (const auto& file : ca_files) {
    for (auto& c : load_certificates(file)) anchors.add(std::move(c));
  }

  VerifyPolicy policy;
  policy.profile = args.profile == "rfc5280" ? Profile::rfc5280 : Profile::web_pki;
  policy.purpose = *service == ServiceKind::xmpp_server ? KeyPurpose::none : KeyPurpose::server_auth;
  policy.cn_fallback = args.strict_identity ? CnFallback::never : CnFallback::allow_when_no_identifier_san;
  if (args.at.empty()) {
    policy.time = static_cast<UnixTime>(std::time(nullptr));
  } else {
    const auto at = parse_iso_time(args.at);
    if (!at) throw UsageError{"--at " + args.at + ": expected YYYY-MM-DDTHH:MM:SSZ"};
    policy.time = *at;
  }
  for (const auto& file : args.crl_files) {
    for (auto& crl : load_crls(file)) policy.crls.push_back(std::move(crl));
  }

  std::vector<Stage> stages;
  const VerifyResult path = verify_chain(leaf, intermediates, anchors, policy);
  if (path) {
    stages.push_back({"path", "pass", "verified to " + path->anchor().subject().to_display_string()});
  } else {
    stages.push_back({"path", "fail", path.error().message});
  }

  const IdentityResult identity = check_identity(*leaf, *reference, policy.cn_fallback);
  if (identity.ok()) {
    stages.push_back({"identity", "pass", std::string(to_string(*service)) + " " + reference->display +
                                              " matches " + identity.matched});
  } else {
    stages.push_back({"identity", "fail", describe_mismatch(identity, *reference)});
  }

  std::optional<RevocationResult> revocation;
  if (path) {
    RevocationPolicy revocation_policy;
    revocation_policy.mode = *mode;
    revocation_policy.now = policy.time;
    RevocationCache cache;
    revocation = check_revocation(*path, revocation_policy, cache);
    stages.push_back({"revocation", revocation->allows_connection() ? "pass" : "fail",
                      std::string(to_string(revocation->verdict)) +
                          (revocation->message.empty() ? "" : ": " + revocation->message)});
  } else {
    stages.push_back({"revocation", "skipped", "no verified path to check"});
  }

  const bool valid = std::all_of(stages.begin(), stages.end(), [](const Stage& s) { return s.verdict == "pass"; });
  const auto& shown = path ? path->certificates() : path.error().path;

  if (args.json_output) {
    json::object out;
    out["certificate"] = args.certificate;
    out["service"] = args.service;
    out["host"] = args.host;
    out["valid"] = valid;
    json::array certificates;
    for (const auto& c : shown.empty() ? std::vector<CertificatePtr>{leaf} : shown) {
      certificates.push_back(describe(*c));
    }
    out["path"] = std::move(certificates);
    json::array stage_list;
    for (const auto& stage : stages) {
      stage_list.push_back({{"stage", stage.name}, {"verdict", stage.verdict}, {"detail", stage.detail}});
    }
    out["stages"] = std::move(stage_list);
    if (!path) {
      json::array issues;
      for (const auto& issue : path.error().issues) {
        issues.push_back({{"depth", issue.depth}, {"error", to_string(issue.error)}, {"detail", issue.detail}});
      }
      out["path_issues"] = std::move(issues);
    }
    json::array identities;
    for (const auto& presented : presented_identities(*leaf, *service, policy.cn_fallback)) {
      identities.push_back(json::string(presented.text));
    }
    out["presented_identities"] = std::move(identities);
    if (revocation) {
      json::array per_certificate;
      for (const auto& entry : revocation->certificates) {
        per_certificate.push_back({{"position", entry.position},
                                   {"status", to_string(entry.status)},
                                   {"detail", entry.detail}});
      }
      out["revocation"] = std::move(per_certificate);
    }
    std::cout << json::serialize(out) << "\n";
    return valid ? kExitValid : kExitInvalid;
  }

  std::cout << args.certificate << ": " << (valid ? "valid" : "INVALID") << " for " << args.service << " "
            << args.host << "\n";
  for (std::size_t i = 0; i < (shown.empty() ? 1 : shown.size()); ++i) {
    const auto& c = shown.empty() ? *leaf : *shown[i];
    std::cout << "  [" << i << "] " << c.subject().to_display_string() << "\n"
              << "      issuer " << c.issuer().to_display_string() << "\n"
              << "      valid  " << iso_time(c.not_before()) << " .. " << iso_time(c.not_after()) << "\n"
              << "      sha256 " << hex_colon(c.sha256_fingerprint()) << "\n";
  }
  for (const auto& stage : stages) {
    std::cout << "  " << stage.name << ": " << stage.verdict << " - " << stage.detail << "\n";
    if (stage.name == "path" && !path) {
      for (const auto& issue : path.error().issues) {
        std::cout << "      certificate " << issue.depth << ": " << to_string(issue.error) << ": " << issue.detail << "\n";
      }
    }
    if (stage.name == "revocation" && revocation) {
      for (const auto& entry : revocation->certificates) {
        std::cout << "      certificate " << entry.position << ": " << to_string(entry.status)
                  << (entry.detail.empty() ? "" : " - " + entry.detail) << "\n";
      }
    }
  }
  return valid ? kExitValid : kExitInvalid;
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<VerifyArguments>();
  CLI::App* command = root.add_subcommand(
      "verify", "what a client would decide about a certificate chain: path, identity, revocation");
  command->add_option("certificate", args->certificate, "PEM/DER file: the leaf, optionally followed by its chain")
      ->required();
  command->add_option("--service", args->service, "xmpp-client (default), xmpp-server or https")
      ->check(CLI::IsMember({"xmpp-client", "xmpp-server", "https"}));
  command->add_option("--host", args->host, "the FQDN (or IP address) the client connects to")->required();
  command->add_option("--ca", args->ca_files, "trusted CA certificates (default: the system roots)");
  command->add_option("--untrusted", args->untrusted_files, "extra intermediate certificates");
  command->add_option("--crl", args->crl_files, "CRLs to apply besides those fetched from CDPs");
  command->add_option("--revocation", args->revocation, "hard (default: unreachable = invalid), soft or off")
      ->check(CLI::IsMember({"hard", "soft", "off"}));
  command->add_option("--at", args->at, "validate at this UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  command->add_option("--profile", args->profile, "web-pki (default) or rfc5280")
      ->check(CLI::IsMember({"web-pki", "rfc5280"}));
  command->add_flag("--strict-identity", args->strict_identity, "never use the subject CN as an identity (RFC 9525)");
  command->add_flag("--json", args->json_output, "machine-readable output");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
