#pragma once
// The interactive client's connection (`parley chat`), run on a thread of its own so that the
// screen never waits for the network, and the network never waits for the screen:
//
//   UI thread                          network thread (owns the Connection and the rooms)
//   post(ChatCommand)  ---- queue --->  sends, joins, leaves
//   take_events()      <--- queue ----  what arrived, the connection's state, questions
//          ^--- wake() (a byte in a pipe the UI polls) after each batch of events
//
// The certificate prompt is part of this: when the trust decision has to ask, the network
// thread puts a CertificateQuestion (the PromptDetails and a reply slot) in the event queue and
// waits; the UI shows the dialog and answers. A session that is stopped while a question is open
// declines it, so quitting never connects.
//
// Reconnection is always on (reconnect.hpp): after a lost connection the session waits as the
// backoff says and opens a new Connection, which judges the certificate again. It resumes the
// XEP-0198 session when the server can (presence and rooms go on, the server resends what we
// missed); otherwise it fetches the roster, announces presence, enters its rooms again (asking
// for the history since the last message seen), and sends again the messages the server did not
// acknowledge. Either way the messages written while offline go out. A permanent failure
// (certificate refused or declined, authentication refused) or running out of attempts leaves it
// offline until ConnectAgain.
//
// Bounded: the event queue (the network thread waits when the UI is that far behind), the
// messages kept while offline, the ids remembered to match error replies.
//
// What this does not do: draw anything or keep conversations (chat_model.hpp does), history on
// disk, subscriptions management, or end-to-end encryption.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "client/connection.hpp"
#include "client/group_chat.hpp"
#include "client/reconnect.hpp"
#include "client/trust_decision.hpp"

namespace parley::client {

// ---- events: network -> UI ----------------------------------------------------------------------

enum class LinkState {
  connecting,            // an attempt is under way (it may be waiting for a certificate answer)
  connected,             // bound, roster asked for, presence announced
  waiting_to_reconnect,  // lost or failed; the next attempt comes after a delay
  offline,               // given up or refused; ConnectAgain tries again
};
const char* to_string(LinkState state);

struct LinkStatus {
  LinkState state = LinkState::connecting;
  std::string detail;                       // why (for waiting and offline), escaped
  std::vector<std::string> reasons;         // a refused certificate's reasons
  std::optional<SecurityDetails> security;  // when connected
  std::string jid;                          // the bound full JID, when connected
  bool resumed = false;                     // the connection resumed the earlier session (XEP-0198)
};

struct RosterArrived {
  std::vector<xmpp::RosterItem> items;
};

struct ContactPresence {
  std::string bare_jid;
  std::string resource;
  bool available = false;
  std::string show;  // away, chat, dnd, xa, or empty
  std::string status;
};

struct IncomingChat {
  xmpp::ChatMessage message;
};

// An error reply to a chat message we sent.
struct ChatRefused {
  std::string to;
  std::string reason;
};

struct RoomUpdate {
  std::string room;  // bare room JID
  RoomEvent event;
};

// One answer, given once, by the UI; the network thread waits for it.
class PromptReply {
 public:
  void answer(PromptAnswer answer);
  // The answer, or nullopt when `stopping` became true first.
  std::optional<PromptAnswer> wait(const std::atomic<bool>& stopping);

 private:
  std::mutex mutex_;
  std::condition_variable answered_;
  std::optional<PromptAnswer> answer_;
};

struct CertificateQuestion {
  PromptDetails details;
  std::shared_ptr<PromptReply> reply;
};

struct Notice {
  std::string text;
  bool problem = false;
};

using ChatEvent = std::variant<LinkStatus, RosterArrived, ContactPresence, IncomingChat,
                               ChatRefused, RoomUpdate, CertificateQuestion, Notice>;

// ---- commands: UI -> network --------------------------------------------------------------------

struct SendChat {
  xmpp::Jid to;
  std::string body;
};
struct SendToRoom {
  xmpp::Jid room;
  std::string body;
};
struct JoinRoom {
  RoomAddress address;
};
struct LeaveRoom {
  xmpp::Jid room;
};
struct ConnectAgain {};

using ChatCommand = std::variant<SendChat, SendToRoom, JoinRoom, LeaveRoom, ConnectAgain>;

// ---- the session --------------------------------------------------------------------------------

struct ChatSessionSetup {
  explicit ChatSessionSetup(ConnectionOptions connection_options)
      : options(std::move(connection_options)) {}

  ConnectionOptions options;
  const pki::TrustStore* anchors = nullptr;  // required, outlives the session
  CertificateStore* store = nullptr;         // required, outlives the session
  // Set: untrusted certificates get this prompt's answer (`--on-untrusted`) instead of a
  // question to the UI.
  CertificatePrompt* fixed_prompt = nullptr;
  std::string password;
  BackoffPolicy backoff;
  std::size_t history_on_first_join = 20;
};

class ChatSession {
 public:
  // `wake` is called on the network thread after events were queued; it must not block.
  ChatSession(ChatSessionSetup setup, std::function<void()> wake);
  ~ChatSession();
  ChatSession(const ChatSession&) = delete;
  ChatSession& operator=(const ChatSession&) = delete;

  void start();
  void post(ChatCommand command);
  std::vector<ChatEvent> take_events();
  // Leaves the rooms, closes the stream (briefly waiting for the server), ends the thread. An
  // open certificate question is declined.
  void stop();

 private:
  class QuestionPrompt;

  void run();
  void emit(ChatEvent event);
  void set_status(LinkState state, std::string detail = {}, std::vector<std::string> reasons = {});
  bool attempt_connection();
  void after_connecting();
  void connection_lost(const Error& error);
  void flush_offline_outbox();
  // Waits up to `delay` for a command or stop; false when stopping.
  bool wait_for_commands(std::chrono::milliseconds delay);
  void process_commands();
  void execute(ChatCommand& command);
  void send_chat(const xmpp::Jid& to, const std::string& body);
  void join(Room& room);
  void route(const xml::Element& stanza);

  ChatSessionSetup setup_;
  std::function<void()> wake_;
  std::unique_ptr<QuestionPrompt> question_prompt_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};

  std::mutex mutex_;  // guards the two queues
  std::condition_variable commands_waiting_;
  std::condition_variable events_drained_;
  std::deque<ChatCommand> commands_;
  std::vector<ChatEvent> events_;

  // Network thread only.
  std::unique_ptr<Connection> connection_;
  Backoff backoff_;
  bool hold_offline_ = false;
  bool next_attempt_waits_ = false;
  StreamManagementState reported_stream_management_ = StreamManagementState::off;
  std::map<std::string, Room> rooms_;
  std::map<std::string, std::int64_t> room_last_message_;
  std::optional<SessionResumption> resumption_;  // left by a lost connection
  std::vector<xml::Element> resend_;     // unacknowledged on a lost connection, for a new session
  std::deque<SendChat> offline_outbox_;  // written while offline
  std::map<std::string, std::string> sent_ids_;  // message id -> recipient, for error replies
  std::deque<std::string> sent_order_;
};

}  // namespace parley::client
