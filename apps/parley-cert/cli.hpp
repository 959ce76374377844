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

namespace parley::cert_cli {

inline constexpr int kExitValid = 0;     // valid / clean
inline constexpr int kExitInvalid = 1;   // invalid / findings
inline constexpr int kExitUsage = 2;     // usage or I/O error

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

}  // namespace parley::cert_cli
