// parley-cert verify: what a Parley client would decide about a certificate chain for a service,
// stage by stage (ARCHITECTURE.md, "The certificate validation process"):
//   path       - a path to a trusted anchor, RFC 5280 validation (pki::verify_chain)
//   identity   - the certificate names the service at --host (pki::check_identity)
//   revocation - OCSP from AIA and CRLs from CDP over HTTP, plus any --crl (pki::check_revocation)
// Exit 0 when every stage passes, 1 when one fails, 2 on usage or I/O errors.

#include <ctime>

#include "cli.hpp"
#include "pki/identity.hpp"
#include "pki/revocation.hpp"
#include "pki/verify.hpp"

namespace parley::cert_cli {
namespace {

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

int run(const VerifyArguments& args) {
  const auto service = parse_service_kind(args.service);
  if (!service)
    throw UsageError{"--service " + args.service + ": expected xmpp-client, xmpp-server or https"};
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
  const TrustStore anchors = load_anchors(args.ca_files);

  VerifyPolicy policy;
  policy.profile = args.profile == "rfc5280" ? Profile::rfc5280 : Profile::web_pki;
  policy.purpose =
      *service == ServiceKind::xmpp_server ? KeyPurpose::none : KeyPurpose::server_auth;
  policy.cn_fallback =
      args.strict_identity ? CnFallback::never : CnFallback::allow_when_no_identifier_san;
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

  const ChainReport report =
      check_chain(leaf, intermediates, anchors, policy, *service, *reference, *mode, {});
  return print_report({"certificate", args.certificate, args.service, args.host}, report.stages,
                      &report, args.json_output);
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<VerifyArguments>();
  CLI::App* command = root.add_subcommand(
      "verify", "what a client would decide about a certificate chain: path, identity, revocation");
  command
      ->add_option("certificate", args->certificate,
                   "PEM/DER file: the leaf, optionally followed by its chain")
      ->required();
  command->add_option("--service", args->service, "xmpp-client (default), xmpp-server or https")
      ->check(CLI::IsMember({"xmpp-client", "xmpp-server", "https"}));
  command->add_option("--host", args->host, "the FQDN (or IP address) the client connects to")
      ->required();
  command->add_option("--ca", args->ca_files,
                      "trusted CA certificates (default: the system roots)");
  command->add_option("--untrusted", args->untrusted_files, "extra intermediate certificates");
  command->add_option("--crl", args->crl_files, "CRLs to apply besides those fetched from CDPs");
  command
      ->add_option("--revocation", args->revocation,
                   "hard (default: unreachable = invalid), soft or off")
      ->check(CLI::IsMember({"hard", "soft", "off"}));
  command->add_option("--at", args->at, "validate at this UTC time (YYYY-MM-DDTHH:MM:SSZ)");
  command->add_option("--profile", args->profile, "web-pki (default) or rfc5280")
      ->check(CLI::IsMember({"web-pki", "rfc5280"}));
  command->add_flag("--strict-identity", args->strict_identity,
                    "never use the subject CN as an identity (RFC 9525)");
  command->add_flag("--json", args->json_output, "machine-readable output");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
