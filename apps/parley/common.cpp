#include "common.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <thread>

#include "client/message_body.hpp"
#include "client/reconnect.hpp"
#include "client/text_prompt.hpp"
#include "core/file.hpp"
#include "xmpp/stanza.hpp"

namespace parley::app {
namespace {

constexpr std::size_t kMaxPasswordBytes = 4096;

std::vector<pki::CertificatePtr> load_certificates(const std::string& path) {
  auto data = read_file(path);
  if (!data) throw UsageError{"--ca: " + data.error().message};
  auto parsed = pki::Certificate::from_pem_or_der(*data);
  if (!parsed) throw UsageError{"--ca " + path + ": " + parsed.error().message};
  return std::move(*parsed);
}

// One line: the password ends at the first line end; a trailing CR (a file from Windows) goes
// too. Anything else is kept exactly, spaces included: they may be part of the password.
std::string first_line(std::string text) {
  const auto end = text.find('\n');
  if (end != std::string::npos) text.resize(end);
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

std::string read_password_from_stdin() {
  std::string line;
  char c = 0;
  while (std::cin.get(c) && c != '\n') {
    if (line.size() >= kMaxPasswordBytes)
      throw UsageError{"--password-stdin: the password is longer than 4096 bytes"};
    line.push_back(c);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// Reads a password from the terminal with echo off.
std::string read_password_from_terminal(const std::string& account) {
  std::cerr << "Password for " << account << ": " << std::flush;
  termios saved{};
  const bool have_terminal = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (have_terminal) {
    termios quiet = saved;
    quiet.c_lflag &= static_cast<tcflag_t>(~ECHO);
    (void)::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string password = read_password_from_stdin();
  if (have_terminal) (void)::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  std::cerr << "\n";
  return password;
}

std::string read_password(const GlobalOptions& options, const xmpp::Jid& account) {
  if (!options.password_file.empty() && options.password_stdin)
    throw UsageError{"give either --password-file or --password-stdin, not both"};
  std::string password;
  if (!options.password_file.empty()) {
    auto text = read_file(options.password_file, kMaxPasswordBytes);
    if (!text) throw UsageError{"--password-file: " + text.error().message};
    password = first_line(std::move(*text));
    if (password.empty()) throw UsageError{"--password-file " + options.password_file + ": empty"};
  } else if (options.password_stdin) {
    password = read_password_from_stdin();
    if (password.empty()) throw UsageError{"--password-stdin: no password on standard input"};
  } else if (::isatty(STDIN_FILENO) == 1) {
    password = read_password_from_terminal(account.bare_string());
    if (password.empty()) throw UsageError{"no password entered"};
  } else {
    throw UsageError{
        "no password: use --password-file FILE or --password-stdin (passwords are never taken "
        "from the command line)"};
  }
  return password;
}

client::AdminPolicy load_policy(const GlobalOptions& options) {
  std::filesystem::path file = options.policy_file;
  if (file.empty()) {
    std::error_code ignored;
    if (!std::filesystem::exists(client::kDefaultAdminPolicyFile, ignored)) return {};
    file = client::kDefaultAdminPolicyFile;
  }
  auto policy = client::load_admin_policy(file);
  if (!policy) throw UsageError{"policy: " + policy.error().message};
  return *policy;
}

boost::json::array json_strings(const std::vector<std::string>& items) {
  boost::json::array out;
  for (const auto& item : items) out.emplace_back(item);
  return out;
}

}  // namespace

std::string display(std::string_view text) {
  return xmpp::escape_for_terminal(text);
}

std::optional<std::string> body_problem(std::string_view text) {
  return client::body_problem(text);
}

void check_body(std::string_view text, std::string_view command) {
  if (auto problem = body_problem(text)) throw UsageError{std::string(command) + ": " + *problem};
}

namespace {
volatile std::sig_atomic_t g_stop_requested = 0;
extern "C" void request_stop(int) {
  g_stop_requested = 1;
}
}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  (void)::sigaction(SIGINT, &action, nullptr);
  (void)::sigaction(SIGTERM, &action, nullptr);
}

bool stop_requested() {
  return g_stop_requested != 0;
}

void close_quietly(client::Connection& connection) {
  if (auto closed = connection.close(std::chrono::steady_clock::now() + kCloseTimeout); !closed)
    std::cerr << "parley: note: " << closed.error().message << "\n";
}

void print_json_line(const boost::json::value& value) {
  std::cout << boost::json::serialize(value) << "\n" << std::flush;
}

xmpp::Jid parse_account(const GlobalOptions& options) {
  if (options.account.empty())
    throw UsageError{"--account JID is required (or set PARLEY_ACCOUNT)"};
  auto jid = xmpp::Jid::parse(options.account);
  if (!jid) throw UsageError{"--account: " + jid.error().message};
  if (!jid->has_localpart())
    throw UsageError{"--account " + display(options.account) + ": the JID needs a user name"};
  return *jid;
}

client::CertificateStore open_store(const xmpp::Jid& account) {
  auto store = client::CertificateStore::for_account(account.bare_string());
  if (!store) throw UsageError{"the local certificate store: " + store.error().message};
  return std::move(*store);
}

std::unique_ptr<Session> prepare_session(const GlobalOptions& options) {
  const xmpp::Jid account = parse_account(options);
  auto session = std::make_unique<Session>(account.bare());
  session->json = options.json;
  session->options.resource = account.resourcepart();
  session->options.tls_mode =
      options.direct_tls ? xmpp::TlsMode::direct_tls : xmpp::TlsMode::starttls;
  if (!options.server.empty()) {
    auto server = client::parse_server_address(options.server, options.direct_tls
                                                                   ? client::kDefaultDirectTlsPort
                                                                   : client::kDefaultStarttlsPort);
    if (!server) throw UsageError{"--server: " + server.error().message};
    session->options.server = *server;
  }
  session->options.policy = load_policy(options);

  const auto files =
      options.ca_files.empty() ? std::vector<std::string>{kSystemRoots} : options.ca_files;
  for (const auto& file : files) {
    for (auto& certificate : load_certificates(file)) session->anchors.add(std::move(certificate));
  }

  session->store = std::make_unique<client::CertificateStore>(open_store(account));

  if (!options.on_untrusted.empty()) {
    auto answer = client::parse_prompt_answer(options.on_untrusted);
    if (!answer) throw UsageError{"--on-untrusted: " + answer.error().message};
    session->prompt = std::make_unique<client::FixedPromptAnswer>(*answer);
    session->prompt_is_fixed = true;
  } else if (::isatty(STDIN_FILENO) == 1) {
    session->prompt = std::make_unique<client::TextCertificatePrompt>(std::cin, std::cerr);
  } else {
    // No one to ask and no instruction: decline, so that a script never trusts by accident.
    session->prompt = std::make_unique<client::FixedPromptAnswer>(client::PromptAnswer::decline);
    session->prompt_is_fixed = true;
  }

  session->password = read_password(options, account);
  return session;
}

std::expected<std::unique_ptr<client::Connection>, client::ConnectionFailure> open_connection(
    Session& session, client::SessionResumption* resume) {
  return client::Connection::open(session.options, session.anchors, *session.store,
                                  session.prompt.get(), session.password, resume);
}

std::unique_ptr<client::Connection> connect(Session& session) {
  auto connection = open_connection(session);
  if (connection) return std::move(*connection);
  report_connection_failure(session, connection.error());
  return nullptr;
}

std::unique_ptr<client::Connection> connect_with_retries(Session& session,
                                                         const ReconnectOptions& reconnect,
                                                         const std::function<bool()>& should_stop) {
  if (!reconnect.enabled) return connect(session);
  auto first = open_connection(session);
  if (first) return std::move(*first);
  if (client::classify(first.error()) == client::FailureClass::permanent) {
    report_connection_failure(session, first.error());
    return nullptr;
  }
  std::cerr << "parley: " << xmpp::to_string(first.error().stage) << ": "
            << first.error().error.message << " (will try again)\n";
  return reconnect_after_loss(session, reconnect, should_stop);
}

std::unique_ptr<client::Connection> reconnect_after_loss(Session& session,
                                                         const ReconnectOptions& reconnect,
                                                         const std::function<bool()>& should_stop,
                                                         client::SessionResumption* resume) {
  client::BackoffPolicy policy;
  policy.max_attempts = reconnect.max_attempts;
  client::Backoff backoff(policy);
  const auto wait = [&](std::chrono::milliseconds delay) {
    const auto end = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < end) {
      if (should_stop()) return false;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(100), end - std::chrono::steady_clock::now()));
    }
    return !should_stop();
  };
  client::ReconnectObserver observer;
  observer.after_failure = [&](const client::ReconnectAttempt& attempt,
                               const client::ConnectionFailure& failure) {
    if (client::classify(failure) == client::FailureClass::permanent) return;
    std::cerr << "parley: attempt " << attempt.attempt << " of " << policy.max_attempts
              << " failed: " << xmpp::to_string(failure.stage) << ": " << failure.error.message
              << "\n";
  };
  auto connection =
      client::reconnect([&] { return open_connection(session, resume); }, backoff, wait, observer);
  if (connection) return std::move(*connection);
  const client::ReconnectFailure& failure = connection.error();
  switch (failure.end) {
    case client::ReconnectEnd::permanent_failure:
      report_connection_failure(session, *failure.last);
      break;
    case client::ReconnectEnd::attempts_exhausted:
      if (failure.last) report_connection_failure(session, *failure.last);
      std::cerr << "parley: gave up after " << failure.attempts << " attempts\n";
      break;
    case client::ReconnectEnd::stopped:
      std::cerr << "parley: stopped while reconnecting\n";
      break;
  }
  return nullptr;
}

void report_connection_failure(const Session& session, const client::ConnectionFailure& failure) {
  const std::string stage = xmpp::to_string(failure.stage);
  std::cerr << "parley: " << stage << ": " << failure.error.message << "\n";
  std::vector<std::string> reasons;
  if (failure.trust) {
    reasons = failure.trust->reasons;
    for (const auto& reason : reasons) std::cerr << "parley:   - " << reason << "\n";
    if (const auto* fixed = dynamic_cast<const client::FixedPromptAnswer*>(session.prompt.get());
        fixed && fixed->last_asked() && failure.trust->answer) {
      // What was refused, so that it can be compared with what the administrator says.
      std::cerr << "parley:   certificate SHA-256 " << fixed->last_asked()->fingerprint << "\n";
    }
    if (failure.trust->answer == client::PromptAnswer::decline && session.prompt_is_fixed) {
      std::cerr << "parley: the certificate is not trusted; without a terminal parley declines "
                   "it unless --on-untrusted accept-once or accept-always is given\n";
    }
  }
  if (session.json) {
    boost::json::object error{{"stage", stage}, {"message", failure.error.message}};
    if (failure.trust) {
      error["certificate"] = client::to_string(failure.trust->verdict);
      error["reasons"] = json_strings(reasons);
    }
    print_json_line(boost::json::object{{"ok", false}, {"error", std::move(error)}});
  }
}

void report_connection(const Session& session, const client::Connection& connection) {
  const client::TrustDecision& trust = connection.trust();
  // A certificate the user accepted before connects silently (spec: "If the certificate is in the
  // local certificate store of the device, Cisco Jabber trusts the certificate"); one accepted
  // just now is worth a line in the log.
  if (trust.verdict == client::Verdict::accepted_by_user) {
    std::cerr << "parley: warning: " << trust.notice << "\n";
    for (const auto& reason : trust.reasons) std::cerr << "parley:   - " << reason << "\n";
    if (session.prompt_is_fixed) {
      if (const auto* fixed = dynamic_cast<const client::FixedPromptAnswer*>(session.prompt.get());
          fixed && fixed->last_asked()) {
        std::cerr << "parley:   certificate SHA-256 " << fixed->last_asked()->fingerprint << "\n";
      }
    }
  }
  if (trust.store_error)
    std::cerr << "parley: warning: could not remember the certificate: "
              << trust.store_error->message << "\n";
  for (const auto& note : connection.security().notes)
    std::cerr << "parley: note: " << note << "\n";
}

int report_failure(const Session& session, const std::string& stage, const std::string& message) {
  std::cerr << "parley: " << stage << ": " << message << "\n";
  if (session.json) {
    print_json_line(boost::json::object{
        {"ok", false}, {"error", boost::json::object{{"stage", stage}, {"message", message}}}});
  }
  return kExitFailed;
}

}  // namespace parley::app
