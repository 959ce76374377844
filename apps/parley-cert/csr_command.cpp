// parley-cert csr: a new key and a Base64 PEM certificate signing request for one Parley service,
// for one node or for several (a multi-server SAN request). The rules (identities, subject
// characters, SANs per service and CA profile) are pki/csr.hpp's; this file parses, refuses to
// touch existing files before spending time on a key, and reports.
// Exit 0 when both files were written, 2 on usage or I/O errors (nothing is left behind then).

#include <iostream>
#include <system_error>

#include "cli.hpp"
#include "pki/csr.hpp"

namespace parley::cert_cli {
namespace {

namespace json = boost::json;
using namespace parley::pki;

struct CsrArguments {
  std::string service;
  std::vector<std::string> nodes;
  std::string domain;
  std::string subject;
  std::string key = "rsa:2048";
  std::string profile = "public-ca";
  std::string out_dir;
  bool json_output = false;
};

// Notes that help an administrator get the request signed, printed after the summary.
std::vector<std::string> notes_for(const CsrContents& contents) {
  std::vector<std::string> notes;
  if (contents.profile == CaProfile::public_ca && contents.service == CsrService::xmpp) {
    notes.push_back(
        "public CAs refuse XmppAddr and SRVName entries, so this request names the XMPP domain as "
        "a dNSName; "
        "use --profile private-ca for a private CA");
  }
  if (contents.profile == CaProfile::public_ca) {
    notes.push_back(
        "some public CAs sign only one certificate per FQDN: the requests of different services "
        "for the same "
        "node may have to go to different CAs (spec: \"One Certificate Per FQDN\")");
  }
  return notes;
}

int run(const CsrArguments& args) {
  const auto service = parse_csr_service(args.service);
  if (!service) throw UsageError{"--service " + args.service + ": expected xmpp, https or sip"};
  const auto profile = parse_ca_profile(args.profile);
  if (!profile)
    throw UsageError{"--profile " + args.profile + ": expected public-ca or private-ca"};
  auto key = parse_key_type(args.key);
  if (!key) throw UsageError{"--" + key.error().message};
  auto subject = parse_subject(args.subject, *profile);
  if (!subject) throw UsageError{"--subject: " + subject.error().message};

  CsrRequest request;
  request.service = *service;
  request.nodes = args.nodes;
  request.domain = args.domain;
  request.subject = std::move(*subject);
  request.key = *key;
  request.profile = *profile;

  // Checked before the key is generated (an RSA 4096 key takes seconds) and again, atomically,
  // when the files are written.
  auto planned = plan_csr(request);
  if (!planned) throw UsageError{planned.error().message};
  const CsrFiles planned_files = csr_file_paths(args.out_dir, *planned);
  for (const auto& file : {planned_files.key, planned_files.csr}) {
    std::error_code ignored;
    if (std::filesystem::symlink_status(file, ignored).type() !=
        std::filesystem::file_type::not_found) {
      throw UsageError{file.string() +
                       ": already exists; refusing to overwrite it (move it away or choose "
                       "another --out-dir)"};
    }
  }

  auto generated = generate_csr(request);
  if (!generated) throw UsageError{generated.error().message};
  auto files = save_csr(args.out_dir, *generated);
  if (!files) throw UsageError{files.error().message};

  const CsrContents& contents = generated->contents;
  const std::vector<std::string> notes = notes_for(contents);
  if (args.json_output) {
    json::object out;
    out["service"] = to_string(contents.service);
    out["profile"] = to_string(contents.profile);
    out["key_type"] = to_string(contents.key);
    out["key_file"] = files->key.string();
    out["csr_file"] = files->csr.string();
    out["subject"] = subject_display_string(contents);
    out["common_name"] = contents.common_name;
    json::array names;
    for (const auto& name : contents.subject_alt_names) {
      names.push_back({{"type", to_string(name.kind)}, {"value", name.value}});
    }
    out["subject_alt_names"] = std::move(names);
    json::array note_list;
    for (const auto& note : notes) note_list.push_back(json::string(note));
    out["notes"] = std::move(note_list);
    std::cout << json::serialize(out) << "\n";
    return kExitValid;
  }

  std::cout << "wrote the " << to_string(contents.service) << " request for a "
            << to_string(contents.profile) << " CA\n"
            << "  key      " << files->key.string() << " (" << to_string(contents.key)
            << ", mode 0600)\n"
            << "  request  " << files->csr.string() << "\n"
            << "  subject  " << subject_display_string(contents) << "\n";
  for (const auto& name : contents.subject_alt_names) {
    std::cout << "  SAN      " << to_string(name.kind) << " " << name.value << "\n";
  }
  for (const auto& note : notes) std::cout << "note: " << note << "\n";
  return kExitValid;
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<CsrArguments>();
  CLI::App* command = root.add_subcommand("csr",
                                          "a new key and a PEM certificate signing request for one "
                                          "service (one node or a multi-server SAN)");
  command->add_option("--service", args->service, "xmpp, https or sip")->required();
  command
      ->add_option("--fqdn", args->nodes,
                   "a node's fully qualified domain name; repeat for a multi-server SAN")
      ->required();
  command->add_option("--domain", args->domain, "the XMPP domain (xmpp only; becomes the CN)");
  command->add_option("--subject", args->subject,
                      "\"O=...,OU=...,L=...,ST=...,C=...\" (CN comes from the names)");
  command->add_option("--key", args->key,
                      "rsa:2048 (default), rsa:3072, rsa:4096, ec:P-256 or ec:P-384");
  command->add_option(
      "--profile", args->profile,
      "public-ca (default: no otherName SANs, strict subject characters) or private-ca");
  command
      ->add_option("--out-dir", args->out_dir,
                   "where <service>-<first-fqdn>.key and .csr are written")
      ->required();
  command->add_flag("--json", args->json_output, "machine-readable output");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
