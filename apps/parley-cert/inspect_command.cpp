// parley-cert inspect: what a certificate (or CSR) means to a Parley client for one service - the
// identities it will match, whether it can check revocation, key, signature, validity,
// fingerprints, self-signed or CA-signed (pki::inspect_bytes).
// Exit 0 with a report, 2 when the file cannot be read or is neither a certificate nor a CSR. The
// report is information, not a verdict: `parley-cert verify` decides validity.

#include <ctime>
#include <iostream>

#include "cli.hpp"
#include "core/file.hpp"
#include "pki/inspect.hpp"

namespace parley::cert_cli {
namespace {

namespace json = boost::json;
using namespace parley::pki;

struct InspectArguments {
  std::string file;
  std::string service = "xmpp-client";
  bool json_output = false;
};

std::string signer_text(const InspectReport& r) {
  return r.signer == Signer::self_signed
             ? "self-signed: users are always prompted to accept or decline it (not recommended)"
             : "CA-signed";
}

json::object to_json(const std::string& file, const InspectReport& r) {
  json::object out;
  out["file"] = file;
  out["kind"] = r.kind == InspectedKind::certificate ? "certificate" : "request";
  out["service"] = to_string(r.service);
  out["subject"] = r.subject;
  json::array identities;
  for (const auto& identity : r.identities) {
    identities.push_back({{"type", to_string(identity.kind)}, {"value", identity.text}});
  }
  out["identities"] = std::move(identities);
  json::array common_names;
  for (const auto& cn : r.common_names) common_names.push_back(json::string(cn));
  out["common_names"] = std::move(common_names);
  out["common_name_ignored"] = r.common_name_ignored;
  out["common_name_note"] = r.common_name_note;
  json::array wildcards;
  for (const auto& w : r.wildcard_identities) wildcards.push_back(json::string(w));
  out["wildcards"] = std::move(wildcards);
  json::object key{
      {"description", r.key_description}, {"bits", r.key.bits}, {"acceptable", r.key_acceptable}};
  if (!r.key.curve.empty()) key["curve"] = r.key.curve;
  if (!r.key_problem.empty()) key["problem"] = r.key_problem;
  out["key"] = std::move(key);
  out["signature_algorithm"] = r.signature_algorithm;
  out["signature_algorithm_acceptable"] = r.signature_algorithm_acceptable;
  if (r.kind == InspectedKind::request) {
    out["request_signature_valid"] = r.request_signature_valid;
    return out;
  }
  out["issuer"] = r.issuer;
  out["not_before"] = iso_time(r.not_before);
  out["not_after"] = iso_time(r.not_after);
  out["validity"] = to_string(r.validity);
  out["sha256"] = hex_colon(r.sha256_fingerprint);
  out["sha1"] = hex_colon(r.sha1_fingerprint);
  out["self_signed"] = r.signer == Signer::self_signed;
  out["ca"] = r.is_ca;
  if (r.path_length) out["path_length"] = *r.path_length;
  if (r.extended_key_usage) {
    json::array eku;
    for (const auto& usage : *r.extended_key_usage) eku.push_back(json::string(usage));
    out["extended_key_usage"] = std::move(eku);
  } else {
    out["extended_key_usage"] = nullptr;
  }
  json::array urls;
  for (const auto& url : r.revocation_urls) {
    json::object entry{{"source", to_string(url.source)},
                       {"url", url.url},
                       {"client_can_fetch", url.client_can_fetch}};
    if (!url.note.empty()) entry["note"] = url.note;
    urls.push_back(std::move(entry));
  }
  out["revocation_urls"] = std::move(urls);
  out["revocation_checkable"] = r.revocation_checkable;
  out["revocation_note"] = r.revocation_note;
  return out;
}

void print_text(const std::string& file, const InspectReport& r) {
  const bool certificate = r.kind == InspectedKind::certificate;
  std::cout << file << ": "
            << (certificate ? (r.is_ca ? "CA certificate" : "certificate")
                            : "certificate signing request")
            << "\n";
  std::cout << "  subject    " << r.subject << "\n";
  if (certificate) {
    std::cout << "  issuer     " << r.issuer << "\n"
              << "  signer     " << signer_text(r) << "\n"
              << "  validity   " << iso_time(r.not_before) << " .. " << iso_time(r.not_after)
              << " ("
              << (r.validity == ValidityState::valid     ? "valid now"
                  : r.validity == ValidityState::expired ? "EXPIRED"
                                                         : "NOT YET VALID")
              << ")\n";
  }
  std::cout << "  key        " << r.key_description
            << (r.key_acceptable ? "" : "  (NOT ACCEPTED: " + r.key_problem + ")") << "\n";
  std::cout << "  signature  " << r.signature_algorithm
            << (r.signature_algorithm_acceptable ? "" : "  (NOT ACCEPTED by clients)");
  if (!certificate)
    std::cout << (r.request_signature_valid ? ", self-signature valid"
                                            : ", SELF-SIGNATURE INVALID");
  std::cout << "\n";
  if (certificate) {
    std::cout << "  sha256     " << hex_colon(r.sha256_fingerprint) << "\n"
              << "  sha1       " << hex_colon(r.sha1_fingerprint) << "\n"
              << "  CA         " << (r.is_ca ? "yes" : "no (leaf)");
    if (r.path_length) std::cout << ", path length " << *r.path_length;
    std::cout << "\n  EKU        ";
    if (!r.extended_key_usage) {
      std::cout << "(absent: any purpose)";
    } else {
      for (std::size_t i = 0; i < r.extended_key_usage->size(); ++i) {
        std::cout << (i == 0 ? "" : ", ") << (*r.extended_key_usage)[i];
      }
    }
    std::cout << "\n";
  }

  std::cout << "  identities the client matches for " << to_string(r.service) << ", in order:\n";
  if (r.identities.empty())
    std::cout << "    (none: no client can match this for " << to_string(r.service) << ")\n";
  for (const auto& identity : r.identities) {
    std::cout << "    " << to_string(identity.kind) << " " << identity.text;
    if (identity.text.starts_with("*."))
      std::cout << "  (wildcard: one label, not the bare domain)";
    std::cout << "\n";
  }
  if (!r.common_name_note.empty()) std::cout << "  CN: " << r.common_name_note << "\n";

  if (!certificate) return;
  std::cout << "  revocation:\n";
  for (const auto& url : r.revocation_urls) {
    std::cout << "    " << to_string(url.source) << " " << url.url << " - "
              << (url.client_can_fetch ? "http, the client can fetch it"
                                       : "the client cannot use it: " + url.note)
              << "\n";
  }
  std::cout << "    " << r.revocation_note << "\n";
}

int run(const InspectArguments& args) {
  const std::string service_text = args.service == "xmpp" ? "xmpp-client" : args.service;
  const auto service = parse_service_kind(service_text);
  if (!service)
    throw UsageError{"--service " + args.service + ": expected xmpp-client, xmpp-server or https"};
  auto contents = read_file(args.file);
  if (!contents) throw UsageError{contents.error().message};
  const InspectOptions options{*service, static_cast<UnixTime>(std::time(nullptr))};
  auto report = inspect_bytes(*contents, options);
  if (!report) throw UsageError{args.file + ": " + report.error().message};
  if (args.json_output) {
    std::cout << json::serialize(to_json(args.file, *report)) << "\n";
  } else {
    print_text(args.file, *report);
  }
  return kExitValid;
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<InspectArguments>();
  CLI::App* command = root.add_subcommand(
      "inspect",
      "what a certificate or CSR means to a client: identities, revocation URLs, key, validity");
  command->add_option("file", args->file, "certificate (PEM/DER; the first of a chain) or CSR")
      ->required();
  command
      ->add_option("--service", args->service,
                   "xmpp-client (default; also 'xmpp'), xmpp-server or https")
      ->check(CLI::IsMember({"xmpp", "xmpp-client", "xmpp-server", "https"}));
  command->add_flag("--json", args->json_output, "machine-readable output");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
