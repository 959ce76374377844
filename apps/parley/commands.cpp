// parley's commands: send, listen, roster (over a connection) and trust list/remove (the local
// certificate store only, no network).

#include "commands.hpp"

#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

#include "core/utf8.hpp"
#include "xmpp/stanza.hpp"

namespace parley::app {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// listen wakes up this often to notice SIGINT/SIGTERM.
constexpr auto kSignalPollInterval = 200ms;

std::string sender_of(const xmpp::ChatMessage& message) {
  auto jid = xmpp::Jid::parse(message.from);
  return jid ? jid->bare_string() : display(message.from);
}

void print_chat_message(const Session& session, const xmpp::ChatMessage& m) {
  const std::int64_t when = m.delayed_since.value_or(static_cast<std::int64_t>(std::time(nullptr)));
  if (session.json) {
    boost::json::object line{
        {"time", client::format_utc_time(when)}, {"from", m.from}, {"to", m.to},
        {"type", xmpp::to_string(m.type)},       {"id", m.id},     {"body", m.body},
        {"delayed", m.delayed_since.has_value()}};
    print_json_line(line);
  } else {
    std::cout << client::format_utc_time(when) << " " << sender_of(m) << ": " << display(m.body)
              << "\n"
              << std::flush;
  }
}

}  // namespace

int run_send(const GlobalOptions& options, const SendArguments& arguments) {
  auto to = xmpp::Jid::parse(arguments.to);
  if (!to) throw UsageError{"send: " + to.error().message};
  check_body(arguments.text, "send");
  auto session = prepare_session(options);
  auto connection = connect(*session);
  if (!connection) return kExitFailed;
  report_connection(*session, *connection);

  auto sent = connection->send_message(*to, arguments.text, Clock::now() + kReplyTimeout);
  if (!sent) {
    const int code = report_failure(*session, "send", sent.error().message);
    close_quietly(*connection);
    return code;
  }
  close_quietly(*connection);
  if (session->json) {
    print_json_line(boost::json::object{{"ok", true},
                                        {"to", to->to_string()},
                                        {"from", connection->jid().to_string()},
                                        {"security", connection->security_summary()}});
  }
  return kExitOk;
}

int run_listen(const GlobalOptions& options, const ListenArguments& arguments) {
  if (arguments.count && *arguments.count == 0)
    throw UsageError{"listen: --count must be at least 1"};
  // Bounded so that the deadline arithmetic cannot overflow: ten years is "forever" enough.
  if (arguments.timeout_seconds &&
      !(*arguments.timeout_seconds > 0 && *arguments.timeout_seconds <= 315'360'000)) {
    throw UsageError{"listen: --timeout must be more than 0 and at most 315360000 seconds"};
  }
  auto session = prepare_session(options);
  if (arguments.reconnect.enabled)
    session->options.stream_management = client::StreamManagementUse::when_offered_with_resumption;
  install_stop_handlers();
  const auto started = Clock::now();
  const std::optional<Clock::time_point> end =
      arguments.timeout_seconds
          ? std::optional(started + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(*arguments.timeout_seconds)))
          : std::nullopt;
  const auto should_stop = [&] { return stop_requested() || (end && Clock::now() >= *end); };

  auto connection = connect_with_retries(*session, arguments.reconnect, should_stop);
  if (!connection) return kExitFailed;
  std::size_t received = 0;
  for (;;) {
    report_connection(*session, *connection);
    if (connection->resumed()) {
      // XEP-0198: the same session, presence included; what arrived meanwhile comes now.
      std::cerr << "parley: listen: session resumed\n";
      if (session->json) {
        print_json_line(boost::json::object{{"event", "resumed"},
                                            {"listening", connection->jid().to_string()},
                                            {"security", connection->security_summary()}});
      }
    } else {
      // RFC 6121 recommends the roster before presence; presence makes the server deliver
      // (stored offline messages first).
      auto roster = connection->roster(Clock::now() + kReplyTimeout);
      if (!roster) return report_failure(*session, "roster", roster.error().message);
      if (auto announced = connection->announce_presence(); !announced)
        return report_failure(*session, "presence", announced.error().message);
      if (session->json) {
        print_json_line(boost::json::object{{"ok", true},
                                            {"listening", connection->jid().to_string()},
                                            {"security", connection->security_summary()}});
      }
    }

    std::optional<Error> lost;
    while (!arguments.count || received < *arguments.count) {
      if (should_stop()) break;
      auto slice_end = Clock::now() + kSignalPollInterval;
      if (end && *end < slice_end) slice_end = *end;
      auto message = connection->next_message(slice_end);
      if (!message) {
        lost = message.error();
        break;
      }
      if (!*message) continue;
      ++received;
      print_chat_message(*session, **message);
    }
    if (!lost) break;
    if (!arguments.reconnect.enabled) return report_failure(*session, "listen", lost->message);
    std::cerr << "parley: listen: connection lost: " << lost->message << "; reconnecting\n";
    if (session->json) {
      print_json_line(boost::json::object{{"event", "disconnected"}, {"reason", lost->message}});
    }
    auto resumption = connection->take_resumption();
    connection.reset();
    connection = reconnect_after_loss(*session, arguments.reconnect, should_stop,
                                      resumption ? &*resumption : nullptr);
    if (!connection) {
      if (should_stop()) break;  // the time ran out or a signal came while waiting
      return kExitFailed;
    }
  }
  if (connection) close_quietly(*connection);
  if (arguments.count && received < *arguments.count) {
    const std::string why = stop_requested() ? "stopped" : "timed out";
    std::cerr << "parley: listen: " << why << " after " << received << " of " << *arguments.count
              << " messages\n";
    return kExitFailed;
  }
  return kExitOk;
}

int run_roster(const GlobalOptions& options) {
  auto session = prepare_session(options);
  auto connection = connect(*session);
  if (!connection) return kExitFailed;
  report_connection(*session, *connection);
  auto roster = connection->roster(Clock::now() + kReplyTimeout);
  if (!roster) {
    const int code = report_failure(*session, "roster", roster.error().message);
    close_quietly(*connection);
    return code;
  }
  for (const auto& item : *roster) {
    if (session->json) {
      boost::json::array groups;
      for (const auto& group : item.groups) groups.emplace_back(group);
      print_json_line(boost::json::object{{"jid", item.jid.to_string()},
                                          {"name", item.name},
                                          {"subscription", item.subscription},
                                          {"pending", item.subscription_pending},
                                          {"groups", std::move(groups)}});
    } else {
      std::string groups;
      for (const auto& group : item.groups) groups += (groups.empty() ? "" : ",") + display(group);
      std::cout << item.jid.to_string() << "\t" << display(item.subscription)
                << (item.subscription_pending ? "+pending" : "") << "\t" << display(item.name)
                << "\t" << groups << "\n";
    }
  }
  std::cout << std::flush;
  close_quietly(*connection);
  return kExitOk;
}

int run_trust_list(const GlobalOptions& options) {
  const xmpp::Jid account = parse_account(options);
  client::CertificateStore store = open_store(account);
  auto entries = store.list();
  if (!entries) {
    std::cerr << "parley: trust: " << entries.error().message << "\n";
    return kExitFailed;
  }
  for (const auto& entry : *entries) {
    const std::string subject =
        client::escape_for_display(entry.certificate->subject().to_display_string());
    const std::string issuer =
        client::escape_for_display(entry.certificate->issuer().to_display_string());
    if (options.json) {
      print_json_line(boost::json::object{
          {"fingerprint", entry.fingerprint},
          {"service", pki::to_string(entry.service.service)},
          {"host", entry.service.host},
          {"port", entry.service.port ? boost::json::value(*entry.service.port) : nullptr},
          {"accepted_at", client::format_utc_time(entry.accepted_at)},
          {"subject", subject},
          {"issuer", issuer},
          {"not_after", client::format_utc_time(entry.certificate->not_after())}});
    } else {
      std::cout << entry.fingerprint << "  " << entry.service.to_display_string() << "  accepted "
                << client::format_utc_time(entry.accepted_at) << "  " << subject << "\n";
    }
  }
  if (!options.json && entries->empty())
    std::cerr << "parley: no accepted certificates for " << account.bare_string() << "\n";
  std::cout << std::flush;
  return kExitOk;
}

int run_trust_remove(const GlobalOptions& options, const std::string& fingerprint) {
  const xmpp::Jid account = parse_account(options);
  auto parsed = client::parse_fingerprint(fingerprint);
  if (!parsed) throw UsageError{"trust remove: " + parsed.error().message};
  client::CertificateStore store = open_store(account);
  auto removed = store.remove_fingerprint(*parsed);
  if (!removed) {
    std::cerr << "parley: trust: " << removed.error().message << "\n";
    return kExitFailed;
  }
  if (*removed == 0) {
    std::cerr << "parley: trust: no accepted certificate with SHA-256 " << *parsed << " for "
              << account.bare_string() << "\n";
    return kExitFailed;
  }
  if (options.json) {
    print_json_line(boost::json::object{{"removed", *removed}, {"fingerprint", *parsed}});
  } else {
    std::cout << "removed " << *removed << " entr" << (*removed == 1 ? "y" : "ies") << " for "
              << *parsed << "\n";
  }
  return kExitOk;
}

}  // namespace parley::app
