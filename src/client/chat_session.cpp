#include "client/chat_session.hpp"

#include <ctime>

#include "core/overloaded.hpp"

namespace parley::client {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kReceiveSlice = 100ms;
constexpr auto kReplyTimeout = 30s;
constexpr auto kCloseTimeout = 3s;
constexpr std::size_t kMaxQueuedEvents = 10'000;
constexpr std::size_t kMaxOfflineOutbox = 1000;
constexpr std::size_t kRememberedSentIds = 1000;

std::string attribute_or_empty(const xml::Element& element, std::string_view name) {
  const std::string* value = element.attribute(name);
  return value ? *value : std::string();
}

std::string child_text(const xml::Element& element, std::string_view name) {
  const xml::Element* child = element.first_child(xmpp::kClientNamespace, name);
  return child ? child->text() : std::string();
}

}  // namespace

const char* to_string(LinkState state) {
  switch (state) {
    case LinkState::connecting:
      return "connecting";
    case LinkState::connected:
      return "connected";
    case LinkState::waiting_to_reconnect:
      return "waiting to reconnect";
    case LinkState::offline:
      return "offline";
  }
  return "offline";
}

void PromptReply::answer(PromptAnswer answer) {
  std::lock_guard lock(mutex_);
  if (answer_) return;
  answer_ = answer;
  answered_.notify_all();
}

std::optional<PromptAnswer> PromptReply::wait(const std::atomic<bool>& stopping) {
  std::unique_lock lock(mutex_);
  // Woken by answer(); the timeout is only to notice `stopping`.
  while (!answer_ && !stopping) answered_.wait_for(lock, 100ms);
  return answer_;
}

// The CertificatePrompt the trust decision calls on the network thread: the question goes to the
// UI as an event, and the thread waits for the answer.
class ChatSession::QuestionPrompt final : public CertificatePrompt {
 public:
  explicit QuestionPrompt(ChatSession& session) : session_(session) {}

  PromptAnswer ask(const PromptDetails& details) override {
    auto reply = std::make_shared<PromptReply>();
    session_.emit(CertificateQuestion{details, reply});
    return reply->wait(session_.stopping_).value_or(PromptAnswer::decline);
  }

 private:
  ChatSession& session_;
};

ChatSession::ChatSession(ChatSessionSetup setup, std::function<void()> wake)
    : setup_(std::move(setup)),
      wake_(std::move(wake)),
      question_prompt_(std::make_unique<QuestionPrompt>(*this)),
      backoff_(setup_.backoff) {}

ChatSession::~ChatSession() {
  stop();
}

void ChatSession::start() {
  thread_ = std::thread([this] { run(); });
}

void ChatSession::stop() {
  stopping_ = true;
  commands_waiting_.notify_all();
  events_drained_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ChatSession::post(ChatCommand command) {
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(std::move(command));
  }
  commands_waiting_.notify_all();
}

std::vector<ChatEvent> ChatSession::take_events() {
  std::vector<ChatEvent> events;
  {
    std::lock_guard lock(mutex_);
    events.swap(events_);
  }
  events_drained_.notify_all();
  return events;
}

void ChatSession::emit(ChatEvent event) {
  {
    std::unique_lock lock(mutex_);
    // A UI that far behind makes the network wait rather than memory grow.
    events_drained_.wait(lock, [&] { return events_.size() < kMaxQueuedEvents || stopping_; });
    if (stopping_ && !std::holds_alternative<CertificateQuestion>(event) &&
        events_.size() >= kMaxQueuedEvents) {
      return;
    }
    events_.push_back(std::move(event));
  }
  if (wake_) wake_();
}

void ChatSession::set_status(LinkState state, std::string detail,
                             std::vector<std::string> reasons) {
  LinkStatus status;
  status.state = state;
  status.detail = std::move(detail);
  status.reasons = std::move(reasons);
  if (state == LinkState::connected && connection_) {
    status.security = connection_->security_details();
    status.jid = connection_->jid().to_string();
    status.resumed = connection_->resumed();
  }
  emit(std::move(status));
}

bool ChatSession::wait_for_commands(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  commands_waiting_.wait_for(lock, delay, [&] { return stopping_ || !commands_.empty(); });
  return !stopping_;
}

void ChatSession::run() {
  while (!stopping_) {
    if (!connection_) {
      if (hold_offline_) {
        wait_for_commands(1s);
        process_commands();
        continue;
      }
      if (next_attempt_waits_) {
        const auto delay = backoff_.next_delay();
        if (!delay) {
          set_status(LinkState::offline, "gave up after " + std::to_string(backoff_.attempts()) +
                                             " attempts; /reconnect to try again");
          hold_offline_ = true;
          continue;
        }
        set_status(LinkState::waiting_to_reconnect,
                   "next attempt (" + std::to_string(backoff_.attempts()) + " of " +
                       std::to_string(backoff_.policy().max_attempts) + ") in " +
                       std::to_string((delay->count() + 999) / 1000) + " s");
        const auto until = Clock::now() + *delay;
        while (!stopping_ && Clock::now() < until) {
          wait_for_commands(
              std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
          process_commands();
          if (!next_attempt_waits_) break;  // /reconnect: now
        }
        if (stopping_) break;
      }
      next_attempt_waits_ = true;
      attempt_connection();
      continue;
    }
    process_commands();
    if (!connection_) continue;
    auto stanza = connection_->next_stanza(Clock::now() + kReceiveSlice);
    if (!stanza) {
      connection_lost(stanza.error());
      continue;
    }
    if (*stanza) route(**stanza);
    // <enabled/> arrives after the connection was reported: /security should say so.
    if (connection_ && connection_->stream_management() != reported_stream_management_) {
      reported_stream_management_ = connection_->stream_management();
      set_status(LinkState::connected);
    }
  }

  if (connection_) {
    for (auto& [jid, room] : rooms_) {
      if (room.state() != RoomState::not_joined) (void)connection_->send_stanza(room.leave());
    }
    (void)connection_->close(Clock::now() + kCloseTimeout);
    connection_.reset();
  }
}

bool ChatSession::attempt_connection() {
  set_status(LinkState::connecting,
             setup_.options.server
                 ? setup_.options.server->host + ":" + std::to_string(setup_.options.server->port)
                 : setup_.options.account.domainpart());
  CertificatePrompt* prompt =
      setup_.fixed_prompt != nullptr ? setup_.fixed_prompt : question_prompt_.get();
  auto opened = Connection::open(setup_.options, *setup_.anchors, *setup_.store, prompt,
                                 setup_.password, resumption_ ? &*resumption_ : nullptr);
  if (stopping_) {
    if (opened) connection_ = std::move(*opened);
    return false;
  }
  if (!opened) {
    const ConnectionFailure& failure = opened.error();
    std::string detail = std::string(xmpp::to_string(failure.stage)) + ": " + failure.error.message;
    std::vector<std::string> reasons;
    if (failure.trust) reasons = failure.trust->reasons;
    if (classify(failure) == FailureClass::permanent) {
      hold_offline_ = true;
      set_status(LinkState::offline, detail + "; /reconnect to try again", std::move(reasons));
    } else {
      emit(Notice{"connection attempt failed: " + detail, true});
    }
    return false;
  }
  connection_ = std::move(*opened);
  backoff_.reset();
  if (resumption_ && !connection_->resumed()) {
    // A new session: what the old one never got acknowledged goes out again on it, and the
    // rooms are entered again.
    for (auto& message : resumption_->management.take_unacknowledged_messages())
      resend_.push_back(std::move(message));
  }
  resumption_.reset();
  after_connecting();
  return true;
}

void ChatSession::after_connecting() {
  reported_stream_management_ = connection_->stream_management();
  set_status(LinkState::connected);
  const TrustDecision& trust = connection_->trust();
  if (connection_->resumed()) {
    // XEP-0198: the same session, with its presence and rooms; the server sends again what it
    // had not seen acknowledged.
    emit(Notice{"session resumed", false});
    flush_offline_outbox();
    return;
  }
  for (auto& [jid, room] : rooms_) room.connection_lost();
  if (trust.verdict == Verdict::accepted_by_user) emit(Notice{trust.notice, true});
  if (trust.store_error)
    emit(Notice{"could not remember the certificate: " + trust.store_error->message, true});
  for (const auto& note : connection_->security().notes) emit(Notice{note, false});

  auto roster = connection_->roster(Clock::now() + kReplyTimeout);
  if (!roster) {
    connection_lost(roster.error());
    return;
  }
  emit(RosterArrived{std::move(*roster)});
  if (auto announced = connection_->announce_presence(); !announced) {
    connection_lost(announced.error());
    return;
  }
  if (!resend_.empty()) {
    const std::size_t count = resend_.size();
    for (const auto& message : resend_) {
      if (auto sent = connection_->send_stanza(message); !sent) {
        connection_lost(sent.error());
        return;
      }
    }
    resend_.clear();
    emit(Notice{"sent again " + std::to_string(count) +
                    " message(s) the server had not acknowledged before the connection was lost",
                false});
  }
  flush_offline_outbox();
  for (auto& [jid, room] : rooms_) {
    if (!connection_) return;
    join(room);
  }
}

void ChatSession::flush_offline_outbox() {
  while (connection_ && !offline_outbox_.empty()) {
    SendChat queued = std::move(offline_outbox_.front());
    offline_outbox_.pop_front();
    send_chat(queued.to, queued.body);
  }
}

void ChatSession::connection_lost(const Error& error) {
  if (connection_) {
    // Resumable: the rooms and everything unacknowledged stay with the session for the next
    // connection to resume. Otherwise the messages are kept to send on a new session.
    resumption_ = connection_->take_resumption();
    if (!resumption_) {
      for (auto& message : connection_->take_unacknowledged_messages())
        resend_.push_back(std::move(message));
    }
  }
  connection_.reset();
  next_attempt_waits_ = true;
  emit(Notice{"connection lost: " + error.message, true});
}

void ChatSession::process_commands() {
  std::deque<ChatCommand> commands;
  {
    std::lock_guard lock(mutex_);
    commands.swap(commands_);
  }
  for (auto& command : commands) execute(command);
}

void ChatSession::execute(ChatCommand& command) {
  std::visit(
      Overloaded{
          [&](SendChat& send) {
            if (connection_) {
              send_chat(send.to, send.body);
              return;
            }
            if (offline_outbox_.size() >= kMaxOfflineOutbox) {
              emit(Notice{"not connected, and " + std::to_string(kMaxOfflineOutbox) +
                              " messages are already waiting: not sent",
                          true});
              return;
            }
            offline_outbox_.push_back(std::move(send));
            emit(Notice{"not connected: the message goes out when the connection is back", false});
          },
          [&](SendToRoom& send) {
            auto found = rooms_.find(send.room.bare_string());
            if (found == rooms_.end() || found->second.state() != RoomState::joined ||
                !connection_) {
              emit(Notice{"not in " + send.room.bare_string() + " (now): not sent", true});
              return;
            }
            if (auto sent = connection_->send_stanza(found->second.message(send.body)); !sent) {
              connection_lost(sent.error());
              return;
            }
            (void)connection_->request_acknowledgement();
          },
          [&](JoinRoom& join_room) {
            const std::string key = join_room.address.room.bare_string();
            auto [entry, inserted] = rooms_.try_emplace(key, join_room.address);
            if (!inserted && entry->second.state() != RoomState::not_joined) {
              emit(Notice{"already in " + key, false});
              return;
            }
            if (connection_) join(entry->second);
          },
          [&](LeaveRoom& leave) {
            auto found = rooms_.find(leave.room.bare_string());
            if (found == rooms_.end()) return;
            if (connection_ && found->second.state() != RoomState::not_joined)
              (void)connection_->send_stanza(found->second.leave());
            rooms_.erase(found);
            emit(RoomUpdate{leave.room.bare_string(), RoomLeft{RoomExit::left, {}}});
          },
          [&](ConnectAgain&) {
            if (connection_) {
              emit(Notice{"already connected", false});
              return;
            }
            hold_offline_ = false;
            next_attempt_waits_ = false;
            backoff_.reset();
          },
      },
      command);
}

void ChatSession::send_chat(const xmpp::Jid& to, const std::string& body) {
  const std::string id = xmpp::new_stanza_id("chat");
  if (auto sent = connection_->send_stanza(xmpp::make_chat_message(to, body, id)); !sent) {
    // Not counted as sent: it goes out again on the next connection.
    if (offline_outbox_.size() < kMaxOfflineOutbox) offline_outbox_.push_back(SendChat{to, body});
    connection_lost(sent.error());
    return;
  }
  sent_ids_[id] = to.to_string();
  sent_order_.push_back(id);
  if (sent_order_.size() > kRememberedSentIds) {
    sent_ids_.erase(sent_order_.front());
    sent_order_.pop_front();
  }
  if (auto asked = connection_->request_acknowledgement(); !asked) connection_lost(asked.error());
}

void ChatSession::join(Room& room) {
  HistoryRequest history;
  const auto last = room_last_message_.find(room.jid().bare_string());
  if (last != room_last_message_.end()) {
    history.since = last->second;
  } else {
    history.max_stanzas = setup_.history_on_first_join;
  }
  if (auto sent = connection_->send_stanza(room.join(history)); !sent)
    connection_lost(sent.error());
}

void ChatSession::route(const xml::Element& stanza) {
  for (auto& [jid, room] : rooms_) {
    if (!room.concerns(stanza)) continue;
    const auto events = room.apply(stanza);
    if (events.empty()) break;  // not a room stanza after all (a private message): below
    for (const auto& event : events) {
      if (const auto* message = std::get_if<RoomMessage>(&event)) {
        room_last_message_[jid] =
            message->delayed_since.value_or(static_cast<std::int64_t>(std::time(nullptr)));
      }
      emit(RoomUpdate{jid, event});
      if (const auto* joined = std::get_if<RoomJoined>(&event); joined && joined->created) {
        if (auto configured =
                configure_instant_room(*connection_, room, Clock::now() + kReplyTimeout);
            !configured) {
          emit(Notice{configured.error().message, true});
        }
      }
    }
    return;
  }

  if (xmpp::is_stanza(stanza, "message")) {
    const std::string type = attribute_or_empty(stanza, "type");
    if (type == "error") {
      const auto error = xmpp::read_stanza_error(stanza);
      const auto id = sent_ids_.find(attribute_or_empty(stanza, "id"));
      ChatRefused refused{id != sent_ids_.end() ? id->second : attribute_or_empty(stanza, "from"),
                          error ? xmpp::describe(*error) : std::string("no reason given")};
      emit(std::move(refused));
      return;
    }
    if (auto message = xmpp::read_chat_message(stanza)) emit(IncomingChat{std::move(*message)});
    return;
  }
  if (xmpp::is_stanza(stanza, "presence")) {
    const std::string type = attribute_or_empty(stanza, "type");
    auto from = xmpp::Jid::parse(attribute_or_empty(stanza, "from"));
    if (!from) return;
    if (type.empty() || type == "unavailable") {
      emit(ContactPresence{from->bare_string(), from->resourcepart(), type.empty(),
                           child_text(stanza, "show"), child_text(stanza, "status")});
    } else if (type == "subscribe") {
      emit(Notice{from->bare_string() + " asks to see your presence (not answered: subscriptions "
                                        "are managed in another client for now)",
                  false});
    }
  }
}

}  // namespace parley::client
