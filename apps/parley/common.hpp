#pragma once
// What parley's commands share: the global options, turning them into a connection (account,
// password, admin policy, trust anchors, the certificate prompt), and reporting failures.
//
// Exit codes (ARCHITECTURE.md): 0 ok, 1 refused or failed (the reason on stderr, and as a JSON
// object on stdout with --json), 2 usage (bad arguments, unreadable files, no password).

#include <boost/json.hpp>
#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/admin_policy.hpp"
#include "client/certificate_store.hpp"
#include "client/connection.hpp"
#include "client/message_body.hpp"
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
// One attempt, nothing printed: for callers that retry (reconnect.hpp).
std::expected<std::unique_ptr<client::Connection>, client::ConnectionFailure> open_connection(
    Session& session, client::SessionResumption* resume = nullptr);
// Prints why a connection attempt failed: the stage, the message, the certificate's reasons.
void report_connection_failure(const Session& session, const client::ConnectionFailure& failure);

// --reconnect and its bound, shared by listen and join.
struct ReconnectOptions {
  bool enabled = false;
  std::size_t max_attempts = 10;
};
// Connects, and with --reconnect keeps trying transient failures with backoff (each attempt a
// full certificate decision), printing each failed attempt on stderr. `should_stop` is polled
// while waiting (SIGINT/SIGTERM). nullptr when it gave up (the reason printed).
std::unique_ptr<client::Connection> connect_with_retries(Session& session,
                                                         const ReconnectOptions& reconnect,
                                                         const std::function<bool()>& should_stop);
// After a lost connection: waits and tries again as the backoff says (the first attempt waits
// too, with jitter), resuming the session when `resume` is given and the server can.
// nullptr when it gave up (the reason printed).
std::unique_ptr<client::Connection> reconnect_after_loss(
    Session& session, const ReconnectOptions& reconnect, const std::function<bool()>& should_stop,
    client::SessionResumption* resume = nullptr);

// Prints notices a successful connection carries (an accepted untrusted certificate, notes about
// weakened authentication) on stderr.
void report_connection(const Session& session, const client::Connection& connection);

// A failure after connecting (sending, waiting): stderr, plus JSON with --json. Returns 1.
int report_failure(const Session& session, const std::string& stage, const std::string& message);

// Text for a terminal line (control characters escaped).
std::string display(std::string_view text);

// How long the server has to confirm a sent message, fetch the roster, and close the stream.
inline constexpr std::chrono::seconds kReplyTimeout{30};
inline constexpr std::chrono::seconds kCloseTimeout{5};
inline constexpr std::size_t kMaxBodyBytes = client::kMaxBodyBytes;

// client::body_problem(): why `text` cannot be a message body, or nullopt when it can.
std::optional<std::string> body_problem(std::string_view text);
// body_problem() as a usage error for `command`, before connecting.
void check_body(std::string_view text, std::string_view command);

// SIGINT and SIGTERM set a flag (stop_requested()) instead of killing the process, so that the
// long-running commands leave rooms and close their streams cleanly.
void install_stop_handlers();
bool stop_requested();

// close() with kCloseTimeout; a server that does not close in time is a note on stderr.
void close_quietly(client::Connection& connection);

void print_json_line(const boost::json::value& value);

}  // namespace parley::app
