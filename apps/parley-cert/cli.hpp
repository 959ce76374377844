#pragma once
// Shared plumbing of parley-cert's commands: exit codes, the command registry, loading files the
// user names (with messages that name the file and the problem) and printing certificates.
// Each command lives in its own <name>_command.cpp and registers itself; main.cpp only parses.

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/identity.hpp"
#include "pki/revocation.hpp"
#include "pki/verify.hpp"

namespace parley::cert_cli {

inline constexpr int kExitValid = 0;    // valid / clean
inline constexpr int kExitInvalid = 1;  // invalid / findings
inline constexpr int kExitUsage = 2;    // usage or I/O error

inline constexpr const char* kSystemRoots = "/etc/ssl/certs/ca-certificates.crt";

// Thrown only while preparing a command's inputs (a file that cannot be read, an option that does
// not parse); main() turns it into a message on stderr and exit code 2. Never thrown by libparley.
struct UsageError {
  std::string message;
};

// A command adds its subcommand and options to the root app and returns what runs it.
struct Command {
  CLI::App* subcommand = nullptr;
  std::function<int()> run;
};
using CommandFactory = std::function<Command(CLI::App& root)>;

// Called from a static initializer in each command's file.
bool register_command(CommandFactory factory);
const std::vector<CommandFactory>& registered_commands();

std::vector<pki::CertificatePtr> load_certificates(const std::string& path);
std::vector<pki::CrlPtr> load_crls(const std::string& path);
// "2026-01-31T12:00:00Z", UTC.
std::optional<pki::UnixTime> parse_iso_time(const std::string& text);
std::string iso_time(pki::UnixTime time);
std::string hex_colon(std::string_view bytes);
boost::json::object describe(const pki::Certificate& certificate);

// The --ca files as trust anchors; none given means the system roots.
pki::TrustStore load_anchors(const std::vector<std::string>& ca_files);

// One step of a verdict (verify and probe print the same shape).
struct Stage {
  std::string name;
  std::string verdict;  // "pass", "fail", "skipped"
  std::string detail;
};

// The certificate stages a client runs (path, identity, revocation) and what the printer needs
// to explain them.
struct ChainReport {
  std::vector<Stage> stages;
  pki::CertificatePtr leaf;
  std::optional<pki::VerifyResult> path;
  std::optional<pki::RevocationResult> revocation;
  std::vector<std::string> presented_identities;
};

// `stapled_ocsp` is the DER response a TLS server stapled (empty for none); it is tried first.
ChainReport check_chain(const pki::CertificatePtr& leaf,
                        const std::vector<pki::CertificatePtr>& intermediates,
                        const pki::TrustStore& anchors, const pki::VerifyPolicy& policy,
                        pki::ServiceKind service, const pki::ReferenceIdentity& reference,
                        pki::RevocationMode revocation_mode, std::string_view stapled_ocsp);

// What the report is about: `subject_key`/`subject` become the first JSON field
// ("certificate": FILE, "server": ADDRESS) and the start of the text title.
struct ReportHeading {
  std::string subject_key;
  std::string subject;
  std::string service;
  std::string host;
};

// Prints the verdict as text or one JSON object on stdout; `chain` is null when no certificate
// was obtained (probe: STARTTLS not offered). Returns kExitValid when every stage passed, else
// kExitInvalid.
int print_report(const ReportHeading& heading, const std::vector<Stage>& stages,
                 const ChainReport* chain, bool json_output);

}  // namespace parley::cert_cli
