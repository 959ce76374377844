#pragma once
// What the terminal UI (`parley chat`) shows, kept apart from the drawing so that it can be
// tested without a terminal: the contacts pane (console, rooms, roster contacts with presence
// and unread counts), one conversation per contact or room, the status line with the lock
// indicator, the input line's commands, the certificate question and the information boxes
// (/security, /help). The screen code draws this and feeds it keys; the network is in
// chat_session.hpp.
//
// The lock indicator follows the spec ("Lock Icon for Client to Server Encryption"): "[locked]"
// and the TLS version only when the trust decision was a verified chain that names the server
// (verdict `trusted`: path, identity and revocation all passed). A certificate the user accepted
// by exception gets a different indicator that says so ("[UNVERIFIED ...]"), and no connection
// shows no lock at all. /security tells the rest: protocol, cipher, certificate subject, issuer,
// validity, fingerprint, the trust anchor, SASL mechanism and channel binding.
//
// Everything from the network (bodies, nicknames, presence status, error texts) is escaped for
// the terminal before it is kept (xmpp::escape_for_terminal): a message cannot move the cursor or
// draw a fake dialog.
//
// Bounded: lines per conversation (the oldest go), conversations (beyond the limit, messages
// from new correspondents go to the console), resources per contact.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/chat_session.hpp"

namespace parley::client {

enum class LineKind { incoming, outgoing, notice, problem };

struct ConversationLine {
  std::int64_t time = 0;  // seconds since the epoch
  LineKind kind = LineKind::notice;
  std::string who;   // escaped; empty for notices
  std::string text;  // escaped, may contain '\n' between lines of a multi-line message
  bool delayed = false;
};

enum class ConversationKind { console, chat, room };

struct Conversation {
  ConversationKind kind = ConversationKind::console;
  std::string key;    // bare JID (chat, room); empty for the console
  std::string title;  // what the pane shows
  std::deque<ConversationLine> lines;
  std::size_t unread = 0;
  // Rooms.
  bool joined = false;
  std::string nick;
  std::string subject;
  std::size_t occupants = 0;
};

struct ResourcePresence {
  std::string show;
  std::string status;
};

struct Contact {
  std::string jid;  // bare
  std::string name;
  std::string subscription;
  std::map<std::string, ResourcePresence> resources;  // available resources only

  // "offline", "available", or the best <show/> of its resources ("chat", "away", "dnd", "xa").
  std::string presence() const;
};

// One row of the contacts pane.
struct PaneEntry {
  ConversationKind kind = ConversationKind::console;
  std::string key;
  std::string label;  // with the presence marker: "+ bob", "~ carol (away)", "# lobby@..."
  std::size_t unread = 0;
};

struct ModelLimits {
  std::size_t max_lines_per_conversation = 2000;
  std::size_t max_conversations = 500;
  std::size_t max_resources_per_contact = 32;
};

// ---- text on a grid of terminal columns ---------------------------------------------------------

// Columns `text` (valid UTF-8, already escaped) takes on a terminal: wcwidth() per code point,
// characters it does not know counted as one column.
std::size_t display_width(std::string_view text);
// The longest prefix of `text` that fits in `columns`, cut between characters.
std::string fit_to_width(std::string_view text, std::size_t columns);
// `text` broken into lines of at most `columns` (at spaces when possible; '\n' always breaks).
std::vector<std::string> wrap_to_width(std::string_view text, std::size_t columns);

// ---- the model ----------------------------------------------------------------------------------

std::string lock_indicator(const LinkStatus& status);
std::vector<std::string> security_lines(const LinkStatus& status);
std::vector<std::string> help_lines();

// What the input line asks for: a command for the network, and/or a change to the model.
struct InputOutcome {
  std::optional<ChatCommand> command;
};

class ChatModel {
 public:
  explicit ChatModel(xmpp::Jid account, ModelLimits limits = {});

  // ---- from the network ----
  void apply(ChatEvent event);

  // ---- from the user ----
  // A line typed and entered: a message for the current conversation, or a /command.
  InputOutcome submit(std::string_view line, std::int64_t now);
  void select_next();
  void select_previous();
  void scroll(int lines);  // positive: back in time
  // Answers the open certificate question (the session is waiting for it).
  void answer_question(PromptAnswer answer);
  void close_info();

  // ---- what to draw ----
  std::vector<PaneEntry> pane_entries() const;
  const Conversation& current() const;
  std::size_t scroll_offset() const { return scroll_offset_; }
  const LinkStatus& status() const { return status_; }
  std::string status_line() const;
  const std::optional<CertificateQuestion>& question() const { return question_; }
  const std::optional<std::vector<std::string>>& info() const { return info_; }
  bool quit_requested() const { return quit_requested_; }
  const std::map<std::string, Contact>& contacts() const { return contacts_; }
  const Conversation* find(ConversationKind kind, const std::string& key) const;

 private:
  Conversation& conversation(ConversationKind kind, const std::string& key);
  Conversation& console() { return conversations_.front(); }
  void add_line(Conversation& conversation, ConversationLine line, bool counts_as_unread);
  void notice(std::string text, bool problem = false);
  void select(ConversationKind kind, const std::string& key);
  std::string display_name(const std::string& bare_jid) const;
  InputOutcome run_command(std::string_view line, std::int64_t now);
  void apply_room_event(const std::string& room, const RoomEvent& event);

  xmpp::Jid account_;
  ModelLimits limits_;
  std::deque<Conversation> conversations_;  // [0] is the console
  ConversationKind selected_kind_ = ConversationKind::console;
  std::string selected_key_;
  std::size_t scroll_offset_ = 0;
  std::map<std::string, Contact> contacts_;
  LinkStatus status_;
  std::optional<CertificateQuestion> question_;
  std::optional<std::vector<std::string>> info_;
  bool quit_requested_ = false;
};

}  // namespace parley::client
