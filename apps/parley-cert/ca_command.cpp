// parley-cert ca init|issue: the lab CA for demos and tests (pki/lab_ca.hpp), NOT FOR PRODUCTION.
// Every use prints a warning line on stderr saying so, whatever the output format, so that no
// script that uses it can hide the fact from the person running it.
//   ca init  --out-dir DIR [--name NAME] [--key TYPE]            -> DIR/ca.key (0600), DIR/ca.crt
//   ca issue --ca-dir DIR --csr FILE --out FILE [--days N] [--service xmpp|https|sip]
// Exit 0 when the files were written, 2 on usage or I/O errors (nothing is left behind then).

#include <ctime>
#include <iostream>
#include <system_error>

#include "cli.hpp"
#include "core/atomic_file.hpp"
#include "core/file.hpp"
#include "pki/lab_ca.hpp"

namespace parley::cert_cli {
namespace {

namespace json = boost::json;
using namespace parley::pki;

struct InitArguments {
  std::string out_dir;
  std::string name{kLabCaDefaultName};
  std::string key = "ec:P-256";
  bool json_output = false;
};

struct IssueArguments {
  std::string ca_dir;
  std::string csr;
  std::string out;
  int days = kDefaultIssuedValidityDays;
  std::string service;
  bool json_output = false;
};

void refuse_existing(const std::filesystem::path& file) {
  std::error_code ignored;
  if (std::filesystem::symlink_status(file, ignored).type() !=
      std::filesystem::file_type::not_found) {
    throw UsageError{file.string() +
                     ": already exists; refusing to overwrite it (move it away first)"};
  }
}

CertificatePtr parsed_certificate(const std::string& pem) {
  auto parsed = Certificate::from_pem(pem);
  if (!parsed || parsed->size() != 1) {
    throw UsageError{"the certificate just made does not parse: " +
                     (parsed ? "" : parsed.error().message)};
  }
  return parsed->front();
}

int run_init(const InitArguments& args) {
  auto key = parse_key_type(args.key);
  if (!key) throw UsageError{"--" + key.error().message};
  const LabCaFiles files = lab_ca_files(args.out_dir);
  refuse_existing(files.key);
  refuse_existing(files.certificate);

  LabCaRequest request;
  request.name = args.name;
  request.key = *key;
  request.now = static_cast<UnixTime>(std::time(nullptr));
  auto ca = create_lab_ca(request);
  if (!ca) throw UsageError{"--name " + args.name + ": " + ca.error().message};
  auto saved = save_lab_ca(args.out_dir, *ca);
  if (!saved) throw UsageError{saved.error().message};

  const CertificatePtr certificate = parsed_certificate(ca->certificate_pem);
  if (args.json_output) {
    json::object out = describe(*certificate);
    out["key_file"] = saved->key.string();
    out["certificate_file"] = saved->certificate.string();
    out["key_type"] = to_string(*key);
    out["not_for_production"] = true;
    std::cout << json::serialize(out) << "\n";
    return kExitValid;
  }
  std::cout << "created a lab CA (NOT FOR PRODUCTION)\n"
            << "  key          " << saved->key.string() << " (" << to_string(*key)
            << ", mode 0600)\n"
            << "  certificate  " << saved->certificate.string() << "\n"
            << "  subject      " << certificate->subject().to_display_string() << "\n"
            << "  valid        " << iso_time(certificate->not_before()) << " .. "
            << iso_time(certificate->not_after()) << "\n"
            << "  sha256       " << hex_colon(certificate->sha256_fingerprint()) << "\n";
  return kExitValid;
}

int run_issue(const IssueArguments& args) {
  std::optional<CsrService> service;
  if (!args.service.empty()) {
    service = parse_csr_service(args.service);
    if (!service) throw UsageError{"--service " + args.service + ": expected xmpp, https or sip"};
  }
  if (args.days < 1 || args.days > kMaxIssuedValidityDays) {
    throw UsageError{"--days " + std::to_string(args.days) + ": must be 1 to " +
                     std::to_string(kMaxIssuedValidityDays) +
                     " (825 was the CA/Browser Forum maximum)"};
  }
  refuse_existing(args.out);
  auto ca = load_lab_ca(args.ca_dir);
  if (!ca) throw UsageError{ca.error().message};
  auto csr = read_file(args.csr, kMaxCsrFileBytes);
  if (!csr) throw UsageError{csr.error().message};

  IssueRequest request;
  request.csr = std::move(*csr);
  request.service = service;
  request.validity_days = args.days;
  request.now = static_cast<UnixTime>(std::time(nullptr));
  auto issued = issue_certificate(*ca, request);
  if (!issued) throw UsageError{args.csr + ": " + issued.error().message};
  const auto written = write_file_atomically(args.out, issued->certificate_pem,
                                             {.existing = ExistingFile::refuse, .mode = 0644});
  if (!written) throw UsageError{written.error().message};

  const CertificatePtr certificate = parsed_certificate(issued->certificate_pem);
  if (args.json_output) {
    json::object out = describe(*certificate);
    out["certificate_file"] = args.out;
    out["service"] = to_string(issued->service);
    out["serial"] = issued->serial_hex;
    json::array names;
    for (const auto& name : issued->subject_alt_names) {
      names.push_back({{"type", to_string(name.kind)}, {"value", name.value}});
    }
    out["subject_alt_names"] = std::move(names);
    out["not_for_production"] = true;
    std::cout << json::serialize(out) << "\n";
    return kExitValid;
  }
  std::cout << "issued a certificate for " << to_string(issued->service)
            << " from the lab CA (NOT FOR PRODUCTION)\n"
            << "  certificate  " << args.out << "\n"
            << "  subject      " << issued->subject << "\n";
  for (const auto& name : issued->subject_alt_names) {
    std::cout << "  SAN          " << to_string(name.kind) << " " << name.value << "\n";
  }
  std::cout << "  serial       " << issued->serial_hex << "\n"
            << "  valid        " << iso_time(certificate->not_before()) << " .. "
            << iso_time(certificate->not_after()) << "\n"
            << "  sha256       " << hex_colon(certificate->sha256_fingerprint()) << "\n";
  return kExitValid;
}

const bool registered = register_command([](CLI::App& root) {
  auto init_args = std::make_shared<InitArguments>();
  auto issue_args = std::make_shared<IssueArguments>();
  CLI::App* command =
      root.add_subcommand("ca", "a lab CA for demos and tests (NOT FOR PRODUCTION)");
  command->require_subcommand(1);

  CLI::App* init =
      command->add_subcommand("init", "create a self-signed lab root CA in a directory");
  init->add_option("--out-dir", init_args->out_dir, "where ca.key (0600) and ca.crt are written")
      ->required();
  init->add_option("--name", init_args->name, "the CA's common name (default: Parley Lab CA)");
  init->add_option("--key", init_args->key,
                   "ec:P-256 (default), ec:P-384, rsa:2048, rsa:3072 or rsa:4096");
  init->add_flag("--json", init_args->json_output, "machine-readable output");

  CLI::App* issue =
      command->add_subcommand("issue", "issue a server certificate from a CSR with the lab CA");
  issue->add_option("--ca-dir", issue_args->ca_dir, "a directory made by 'ca init'")->required();
  issue->add_option("--csr", issue_args->csr, "the certificate signing request (PEM or DER)")
      ->required();
  issue
      ->add_option("--out", issue_args->out,
                   "where the certificate (PEM) is written; never overwritten")
      ->required();
  issue->add_option("--days", issue_args->days, "validity in days, 1-825 (default 90)");
  issue->add_option(
      "--service", issue_args->service,
      "xmpp (adds clientAuth for server-to-server), https or sip; default: xmpp when the CSR has "
      "XmppAddr or SRVName entries, https otherwise");
  issue->add_flag("--json", issue_args->json_output, "machine-readable output");

  return Command{command, [init, init_args, issue_args] {
                   std::cerr << "parley-cert: " << kLabCaWarning << "\n";
                   if (init->parsed()) return run_init(*init_args);
                   return run_issue(*issue_args);
                 }};
});

}  // namespace
}  // namespace parley::cert_cli
