#pragma once
// What parley's commands share: the global options, turning them into a connection (account,
// password, admin policy, trust anchors, the certificate prompt), and reporting failures.
//
// Exit codes (ARCHITECTURE.md): 0 ok, 1 refused or failed (the reason on stderr, and as a JSON
// object on stdout with --json), 2 usage (bad arguments, unreadable files, no password).

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/admin_policy.hpp"
#include "client/certificate_store.hpp"
#include "client/connection.hpp"
#include "client/trust_decision.hpp"
#include "pki/trust_store.hpp"
#include "xmpp/jid.hpp"

namespace parley::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

inline constexpr const char* kSystemRoots = "/etc/ssl/certs/ca-certificates.crt";

// Thrown while preparing a command (arguments, files); main() prints it and exits 2.
struct UsageError {
  std::string message;
};

struct GlobalOptions {
  std::string account;
  std::string server;
  bool direct_tls = false;
  std::vector<std::string> ca_files;
  std::string password_file;
  bool password_stdin = false;
  std::string policy_file;
  std::string on_untrusted;  // empty: not given
  bool json = false;
};

// The account as given (a bare JID, or a full one whose resource is asked for at bind).
xmpp::Jid parse_account(const GlobalOptions& options);
client::CertificateStore open_store(const xmpp::Jid& account);

// Everything needed to connect, prepared before any network traffic so that usage errors come
// first and exit 2.
struct Session {
  explicit Session(xmpp::Jid account) : options(std::move(account)) {}

  client::ConnectionOptions options;
  pki::TrustStore anchors;
  std::string password;
  std::unique_ptr<client::CertificateStore> store;
  std::unique_ptr<client::CertificatePrompt> prompt;
  bool prompt_is_fixed = false;  // --on-untrusted or the non-terminal default
  bool json = false;
};
std::unique_ptr<Session> prepare_session(const GlobalOptions& options);

// Connects; on failure prints why (stderr, and JSON on stdout with --json) and returns nullptr.
std::unique_ptr<client::Connection> connect(Session& session);

// Prints notices a successful connection carries (an accepted untrusted certificate, notes about
// weakened authentication) on stderr.
void report_connection(const Session& session, const client::Connection& connection);

// A failure after connecting (sending, waiting): stderr, plus JSON with --json. Returns 1.
int report_failure(const Session& session, const std::string& stage, const std::string& message);

// Text for a terminal line (control characters escaped).
std::string display(std::string_view text);

void print_json_line(const boost::json::value& value);

}  // namespace parley::app
