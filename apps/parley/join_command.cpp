// parley join ROOM[/NICK]: a multi-user chat room (XEP-0045, src/client/group_chat.hpp) from the
// command line. It enters the room, prints what happens there (messages, occupants coming and
// going, the subject) like `listen`, sends the --say texts and then every line of standard input
// (after the password, with --password-stdin) as group chat messages, and leaves cleanly.
//
// It ends when --count messages from others arrived, at --timeout, on SIGINT/SIGTERM, or, when
// neither --count nor --timeout is given, once standard input is exhausted and the room has
// reflected everything sent (the reflection is the room's confirmation). A refused entry
// (nickname taken, members-only, banned, no such room) or a refused message is exit 1 with the
// XMPP condition named.
//
// With --reconnect a lost connection is opened again (reconnect.hpp: backoff, and the full
// certificate decision each time), the room entered again asking only for the history since the
// last message seen, messages the server never acknowledged (XEP-0198) sent again, and messages
// seen twice (same id) printed once.

#include <chrono>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <iostream>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <variant>

#include "client/group_chat.hpp"
#include "commands.hpp"
#include "core/overloaded.hpp"

namespace parley::app {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPollInterval = 200ms;
constexpr auto kJoinTimeout = 30s;
constexpr std::size_t kMaxHistory = 1000;
constexpr std::size_t kMaxQueuedLines = 1000;
constexpr std::size_t kRememberedMessageIds = 1000;

// Lines of standard input, read by a thread of their own so that the network loop never waits
// for the terminal. The queue is bounded: the reader waits when it is full. The reader thread is
// detached (a blocking read cannot be interrupted) and shares the queue's ownership, so it never
// outlives what it writes to.
class StandardInputLines {
 public:
  void start() {
    std::thread([queue = queue_] { read_all(*queue); }).detach();
  }

  std::optional<std::string> next() {
    std::lock_guard lock(queue_->mutex);
    if (queue_->lines.empty()) return std::nullopt;
    std::string line = std::move(queue_->lines.front());
    queue_->lines.pop_front();
    queue_->space.notify_one();
    return line;
  }
  bool exhausted() {
    std::lock_guard lock(queue_->mutex);
    return queue_->finished && queue_->lines.empty();
  }

 private:
  struct Queue {
    std::mutex mutex;
    std::condition_variable space;
    std::deque<std::string> lines;
    bool finished = false;
  };

  static void read_all(Queue& queue) {
    std::string line;
    bool too_long = false;
    char c = 0;
    while (std::cin.get(c)) {
      if (c != '\n') {
        if (line.size() <= kMaxBodyBytes)
          line.push_back(c);
        else
          too_long = true;
        continue;
      }
      push(queue, std::move(line), too_long);
      line.clear();
      too_long = false;
    }
    if (!line.empty()) push(queue, std::move(line), too_long);
    std::lock_guard lock(queue.mutex);
    queue.finished = true;
  }

  static void push(Queue& queue, std::string line, bool too_long) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (too_long) line.resize(kMaxBodyBytes + 1);  // body_problem() names it
    std::unique_lock lock(queue.mutex);
    queue.space.wait(lock, [&] { return queue.lines.size() < kMaxQueuedLines; });
    queue.lines.push_back(std::move(line));
  }

  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
};

// Why the run ended early, for the exit code.
struct Stop {
  std::string stage;
  std::string message;
  std::string condition;  // the XMPP condition, when the room refused something
};

class JoinRun {
 public:
  JoinRun(Session& session, const JoinArguments& arguments, client::RoomAddress address)
      : session_(session), arguments_(arguments), room_(std::move(address)) {}

  int run();

 private:
  bool should_stop() const { return stop_requested() || (end_ && Clock::now() >= *end_); }
  // One connection's life: enter, talk, until done (nullopt), a loss (the error) or a stop.
  // How this connection comes to the room: the first entry, entering again on a new session, or
  // still in it (the session was resumed, XEP-0198).
  enum class Entry { first, again, resumed };
  std::variant<std::monostate, Error, Stop> converse(client::Connection& connection, Entry entry);
  std::optional<Stop> handle(client::Connection& connection, const client::RoomEvent& event);
  std::optional<Stop> send(client::Connection& connection, const std::string& body);
  void print(const client::RoomEvent& event);
  bool seen_before(const std::string& id);
  void leave(client::Connection& connection);
  int fail_with(const Stop& stop);

  Session& session_;
  const JoinArguments& arguments_;
  client::Room room_;
  std::optional<Clock::time_point> end_;
  StandardInputLines input_;
  bool said_ = false;
  std::size_t received_ = 0;
  std::optional<std::int64_t> last_message_time_;
  std::vector<xml::Element> resend_;
  std::set<std::string> seen_ids_;
  std::deque<std::string> seen_order_;
  std::optional<Clock::time_point> last_sent_;
};

bool JoinRun::seen_before(const std::string& id) {
  if (id.empty()) return false;
  if (seen_ids_.contains(id)) return true;
  seen_ids_.insert(id);
  seen_order_.push_back(id);
  if (seen_order_.size() > kRememberedMessageIds) {
    seen_ids_.erase(seen_order_.front());
    seen_order_.pop_front();
  }
  return false;
}

void JoinRun::print(const client::RoomEvent& event) {
  const std::string room = room_.jid().bare_string();
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (session_.json) {
    boost::json::object line{{"room", room}};
    std::visit(Overloaded{
                   [&](const client::RoomJoined& e) {
                     line["event"] = "joined";
                     line["nick"] = e.nick;
                     line["created"] = e.created;
                     line["role"] = e.role;
                     line["affiliation"] = e.affiliation;
                   },
                   [&](const client::RoomLeft& e) {
                     line["event"] = "left";
                     line["reason"] = client::to_string(e.reason);
                     line["detail"] = e.detail;
                   },
                   [&](const client::OccupantEvent& e) {
                     line["event"] = "occupant";
                     line["nick"] = e.nick;
                     line["change"] = client::to_string(e.change);
                     if (!e.new_nick.empty()) line["new_nick"] = e.new_nick;
                     line["role"] = e.role;
                     line["affiliation"] = e.affiliation;
                     if (!e.real_jid.empty()) line["jid"] = e.real_jid;
                   },
                   [&](const client::RoomMessage& e) {
                     line["event"] = "message";
                     line["time"] = client::format_utc_time(e.delayed_since.value_or(now));
                     line["nick"] = e.nick;
                     line["body"] = e.body;
                     line["id"] = e.id;
                     line["delayed"] = e.delayed_since.has_value();
                     line["own"] = e.own;
                   },
                   [&](const client::RoomSubject& e) {
                     line["event"] = "subject";
                     line["nick"] = e.nick;
                     line["subject"] = e.subject;
                   },
                   [&](const client::RoomError& e) {
                     line["event"] = "error";
                     line["condition"] = e.error.condition;
                     line["type"] = e.error.type;
                     line["text"] = e.error.text;
                   },
               },
               event);
    print_json_line(line);
    return;
  }
  std::visit(Overloaded{
                 [&](const client::RoomJoined& e) {
                   std::cout << client::format_utc_time(now) << " * joined " << room << " as "
                             << display(e.nick) << (e.created ? " (new room)" : "") << "\n";
                 },
                 [&](const client::RoomLeft& e) {
                   std::cout << client::format_utc_time(now) << " * left " << room << " ("
                             << client::to_string(e.reason) << (e.detail.empty() ? "" : ": ")
                             << e.detail << ")\n";
                 },
                 [&](const client::OccupantEvent& e) {
                   std::cout << client::format_utc_time(now) << " * " << display(e.nick) << " "
                             << client::to_string(e.change);
                   if (!e.new_nick.empty()) std::cout << " to " << display(e.new_nick);
                   std::cout << "\n";
                 },
                 [&](const client::RoomMessage& e) {
                   std::cout << client::format_utc_time(e.delayed_since.value_or(now)) << " "
                             << room << "/" << display(e.nick) << ": " << display(e.body) << "\n";
                 },
                 [&](const client::RoomSubject& e) {
                   // Rooms send an empty subject to say "none" (and that the entry is complete).
                   if (e.subject.empty()) return;
                   std::cout << client::format_utc_time(now) << " * subject: " << display(e.subject)
                             << "\n";
                 },
                 [&](const client::RoomError& e) {
                   std::cout << client::format_utc_time(now)
                             << " * error: " << xmpp::describe(e.error) << "\n";
                 },
             },
             event);
  std::cout << std::flush;
}

std::optional<Stop> JoinRun::send(client::Connection& connection, const std::string& body) {
  if (auto sent = connection.send_stanza(room_.message(body)); !sent)
    return Stop{"send", sent.error().message, {}};
  last_sent_ = Clock::now();
  if (auto asked = connection.request_acknowledgement(); !asked)
    return Stop{"send", asked.error().message, {}};
  return std::nullopt;
}

std::optional<Stop> JoinRun::handle(client::Connection& connection,
                                    const client::RoomEvent& event) {
  if (const auto* message = std::get_if<client::RoomMessage>(&event)) {
    if (seen_before(message->id)) return std::nullopt;
    last_message_time_ =
        message->delayed_since.value_or(static_cast<std::int64_t>(std::time(nullptr)));
    print(event);
    if (!message->own) ++received_;
    return std::nullopt;
  }
  print(event);
  if (const auto* joined = std::get_if<client::RoomJoined>(&event)) {
    if (joined->created) {
      if (auto configured =
              client::configure_instant_room(connection, room_, Clock::now() + kReplyTimeout);
          !configured) {
        return Stop{"join", configured.error().message, {}};
      }
    }
    return std::nullopt;
  }
  if (const auto* error = std::get_if<client::RoomError>(&event)) {
    if (error->while_joining) {
      return Stop{"join", "the room refused entry: " + xmpp::describe(error->error),
                  error->error.condition};
    }
    if (error->our_message) {
      return Stop{"send", "the room refused the message: " + xmpp::describe(error->error),
                  error->error.condition};
    }
    return std::nullopt;  // noted, not ours to act on
  }
  if (const auto* left = std::get_if<client::RoomLeft>(&event)) {
    if (left->reason == client::RoomExit::refused) return std::nullopt;  // the error came first
    return Stop{"join",
                std::string("out of the room: ") + client::to_string(left->reason) +
                    (left->detail.empty() ? "" : ": " + left->detail),
                client::to_string(left->reason)};
  }
  return std::nullopt;
}

std::variant<std::monostate, Error, Stop> JoinRun::converse(client::Connection& connection,
                                                            Entry entry) {
  if (entry != Entry::resumed) {
    client::HistoryRequest history;
    if (entry == Entry::first || !last_message_time_) {
      history.max_stanzas = entry == Entry::first ? arguments_.history.value_or(0) : 0;
    } else {
      history.since = *last_message_time_;  // duplicates of that second are dropped by id
    }
    if (auto sent = connection.send_stanza(room_.join(history)); !sent) return sent.error();
  }
  const auto join_deadline = Clock::now() + kJoinTimeout;
  bool rejoined_sent = false;

  for (;;) {
    if (should_stop()) return std::monostate{};
    if (room_.state() == client::RoomState::joining && Clock::now() >= join_deadline) {
      return Stop{
          "join", "timed out waiting for " + room_.jid().bare_string() + " to let us in", {}};
    }
    if (room_.state() == client::RoomState::joined) {
      if (!rejoined_sent) {
        rejoined_sent = true;
        for (const auto& message : resend_) {
          if (auto sent = connection.send_stanza(message); !sent) return sent.error();
        }
        resend_.clear();
      }
      if (!said_) {
        said_ = true;
        for (const auto& text : arguments_.say) {
          if (auto stop = send(connection, text)) return *stop;
        }
      }
      while (auto line = input_.next()) {
        if (auto problem = body_problem(*line)) {
          if (!line->empty()) std::cerr << "parley: join: line not sent: " << *problem << "\n";
          continue;
        }
        if (auto stop = send(connection, *line)) return *stop;
      }
      if (arguments_.count && received_ >= *arguments_.count) return std::monostate{};
      if (!arguments_.count && !arguments_.timeout_seconds && input_.exhausted()) {
        if (room_.unconfirmed().empty()) return std::monostate{};
        if (last_sent_ && Clock::now() - *last_sent_ > kReplyTimeout) {
          return Stop{"send",
                      "the room did not confirm " + std::to_string(room_.unconfirmed().size()) +
                          " message(s) in time",
                      {}};
        }
      }
    }

    auto slice_end = Clock::now() + kPollInterval;
    if (end_ && *end_ < slice_end) slice_end = *end_;
    auto stanza = connection.next_stanza(slice_end);
    if (!stanza) return stanza.error();
    if (!*stanza || !room_.concerns(**stanza)) continue;
    for (const auto& event : room_.apply(**stanza)) {
      if (auto stop = handle(connection, event)) return *stop;
    }
  }
}

void JoinRun::leave(client::Connection& connection) {
  if (room_.state() == client::RoomState::not_joined) return;
  if (!connection.send_stanza(room_.leave())) return;
  const auto deadline = Clock::now() + kCloseTimeout;
  while (room_.state() != client::RoomState::not_joined && Clock::now() < deadline) {
    auto stanza = connection.next_stanza(deadline);
    if (!stanza || !*stanza) return;
    if (!room_.concerns(**stanza)) continue;
    for (const auto& event : room_.apply(**stanza)) {
      if (std::holds_alternative<client::RoomLeft>(event)) print(event);
    }
  }
}

int JoinRun::fail_with(const Stop& stop) {
  std::cerr << "parley: " << stop.stage << ": " << stop.message << "\n";
  if (session_.json) {
    boost::json::object error{{"stage", stop.stage}, {"message", stop.message}};
    if (!stop.condition.empty()) error["condition"] = stop.condition;
    print_json_line(boost::json::object{{"ok", false}, {"error", std::move(error)}});
  }
  return kExitFailed;
}

int JoinRun::run() {
  install_stop_handlers();
  if (arguments_.timeout_seconds) {
    end_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                              std::chrono::duration<double>(*arguments_.timeout_seconds));
  }
  auto connection =
      connect_with_retries(session_, arguments_.reconnect, [&] { return should_stop(); });
  if (!connection) return kExitFailed;
  input_.start();  // after the password was read from the same standard input
  Entry entry = Entry::first;
  for (;;) {
    report_connection(session_, *connection);
    if (entry == Entry::resumed) std::cerr << "parley: join: session resumed\n";
    if (session_.json) {
      print_json_line(boost::json::object{
          {"ok", true},
          {entry == Entry::resumed ? "resumed" : "joining", room_.jid().bare_string()},
          {"as", connection->jid().to_string()},
          {"security", connection->security_summary()}});
    }
    auto outcome = converse(*connection, entry);
    if (auto* stop = std::get_if<Stop>(&outcome)) {
      leave(*connection);
      close_quietly(*connection);
      return fail_with(*stop);
    }
    if (std::holds_alternative<std::monostate>(outcome)) break;
    const Error& lost = std::get<Error>(outcome);
    if (!arguments_.reconnect.enabled) return fail_with(Stop{"join", lost.message, {}});
    std::cerr << "parley: join: connection lost: " << lost.message << "; reconnecting\n";
    if (session_.json) {
      print_json_line(boost::json::object{{"event", "disconnected"}, {"reason", lost.message}});
    }
    auto resumption = connection->take_resumption();
    std::vector<xml::Element> unacknowledged;
    if (!resumption) unacknowledged = connection->take_unacknowledged_messages();
    connection.reset();
    connection = reconnect_after_loss(
        session_, arguments_.reconnect, [&] { return should_stop(); },
        resumption ? &*resumption : nullptr);
    if (!connection) {
      if (should_stop()) break;
      return kExitFailed;
    }
    if (connection->resumed()) {
      entry = Entry::resumed;  // still in the room; the server sent again what we missed
    } else {
      entry = Entry::again;
      if (resumption) unacknowledged = resumption->management.take_unacknowledged_messages();
      resend_ = std::move(unacknowledged);
      room_.connection_lost();
    }
  }
  if (connection) {
    leave(*connection);
    close_quietly(*connection);
  }
  if (arguments_.count && received_ < *arguments_.count) {
    std::cerr << "parley: join: " << (stop_requested() ? "stopped" : "timed out") << " after "
              << received_ << " of " << *arguments_.count << " messages\n";
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

int run_join(const GlobalOptions& options, const JoinArguments& arguments) {
  if (arguments.count && *arguments.count == 0)
    throw UsageError{"join: --count must be at least 1"};
  if (arguments.timeout_seconds &&
      !(*arguments.timeout_seconds > 0 && *arguments.timeout_seconds <= 315'360'000)) {
    throw UsageError{"join: --timeout must be more than 0 and at most 315360000 seconds"};
  }
  if (arguments.history && *arguments.history > kMaxHistory)
    throw UsageError{"join: --history is at most " + std::to_string(kMaxHistory)};
  for (const auto& text : arguments.say) check_body(text, "join --say");
  const xmpp::Jid account = parse_account(options);
  auto address = client::parse_room_address(arguments.room, account.localpart());
  if (!address) throw UsageError{"join: " + address.error().message};
  auto session = prepare_session(options);
  if (arguments.reconnect.enabled)
    session->options.stream_management = client::StreamManagementUse::when_offered_with_resumption;
  JoinRun run(*session, arguments, std::move(*address));
  return run.run();
}

}  // namespace parley::app
