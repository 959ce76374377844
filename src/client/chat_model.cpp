#include "client/chat_model.hpp"

#include <algorithm>
#include <ctime>
#include <cwchar>

#include "client/certificate_store.hpp"
#include "client/message_body.hpp"
#include "core/overloaded.hpp"
#include "core/utf8.hpp"

namespace parley::client {
namespace {

std::string escaped(std::string_view text) {
  return xmpp::escape_for_terminal(text);
}

// A multi-line body stays multi-line on screen; each line escaped on its own.
std::string escaped_lines(std::string_view text) {
  std::string out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    const std::string_view line =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!out.empty() || start > 0) out += '\n';
    out += escaped(line.ends_with('\r') ? line.substr(0, line.size() - 1) : line);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

std::size_t code_point_width(std::uint32_t code_point) {
  const int width = ::wcwidth(static_cast<wchar_t>(code_point));
  return width < 0 ? 1 : static_cast<std::size_t>(width);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Splits "word rest" at the first space.
std::pair<std::string_view, std::string_view> first_word(std::string_view text) {
  text = trim(text);
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return {text, {}};
  return {text.substr(0, space), trim(text.substr(space + 1))};
}

char presence_marker(const std::string& presence) {
  if (presence == "offline") return '-';
  if (presence == "away" || presence == "xa") return '~';
  if (presence == "dnd") return '!';
  return '+';
}

}  // namespace

// ---- text on a grid -----------------------------------------------------------------------------

std::size_t display_width(std::string_view text) {
  std::size_t width = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    std::uint32_t code_point = 0;
    std::size_t length = utf8_sequence_at(text, position, code_point);
    if (length == 0) {
      length = 1;
      code_point = '?';
    }
    width += code_point_width(code_point);
    position += length;
  }
  return width;
}

std::string fit_to_width(std::string_view text, std::size_t columns) {
  std::size_t width = 0;
  std::size_t position = 0;
  while (position < text.size()) {
    std::uint32_t code_point = 0;
    std::size_t length = utf8_sequence_at(text, position, code_point);
    if (length == 0) {
      length = 1;
      code_point = '?';
    }
    const std::size_t next = width + code_point_width(code_point);
    if (next > columns) break;
    width = next;
    position += length;
  }
  return std::string(text.substr(0, position));
}

std::vector<std::string> wrap_to_width(std::string_view text, std::size_t columns) {
  std::vector<std::string> lines;
  if (columns == 0) return lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t end = text.find('\n', start);
    std::string_view rest =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    // Bounded: every turn takes at least one character off `rest`.
    do {
      std::string piece = fit_to_width(rest, columns);
      const bool broken = piece.size() < rest.size();
      if (broken && rest[piece.size()] != ' ') {
        // Break after the last space of the piece rather than inside a word, when there is one.
        const auto space = piece.rfind(' ');
        if (space != std::string::npos && space > 0) piece.resize(space);
      }
      if (piece.empty()) {
        // A character wider than the columns: it goes on a line of its own.
        std::uint32_t code_point = 0;
        const std::size_t length = utf8_sequence_at(rest, 0, code_point);
        piece = std::string(rest.substr(0, length == 0 ? 1 : length));
      }
      rest.remove_prefix(piece.size());
      if (broken) {
        while (!piece.empty() && piece.back() == ' ') piece.pop_back();
        while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
      }
      lines.push_back(std::move(piece));
    } while (!rest.empty());
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return lines;
}

// ---- presentation helpers -----------------------------------------------------------------------

std::string Contact::presence() const {
  if (resources.empty()) return "offline";
  // The most available of the resources: chat > (none) > away > xa > dnd.
  const auto rank = [](const std::string& show) {
    if (show == "chat") return 0;
    if (show.empty()) return 1;
    if (show == "away") return 2;
    if (show == "xa") return 3;
    return 4;
  };
  std::string best_show = resources.begin()->second.show;
  for (const auto& [resource, presence] : resources) {
    if (rank(presence.show) < rank(best_show)) best_show = presence.show;
  }
  return best_show.empty() ? "available" : best_show;
}

std::string lock_indicator(const LinkStatus& status) {
  switch (status.state) {
    case LinkState::connecting:
      return "[connecting]";
    case LinkState::waiting_to_reconnect:
      return "[not connected]";
    case LinkState::offline:
      return "[offline]";
    case LinkState::connected:
      break;
  }
  if (!status.security) return "[not connected]";
  const SecurityDetails& security = *status.security;
  switch (security.verdict) {
    case Verdict::trusted:
      return "[locked] " + security.protocol;
    case Verdict::accepted_previously:
      return "[UNVERIFIED certificate, accepted earlier] " + security.protocol;
    case Verdict::accepted_by_user:
      return "[UNVERIFIED certificate, accepted now] " + security.protocol;
    case Verdict::rejected:
      break;
  }
  return "[not connected]";
}

std::vector<std::string> security_lines(const LinkStatus& status) {
  std::vector<std::string> lines{"Connection security", ""};
  if (status.state != LinkState::connected || !status.security) {
    lines.push_back("  Not connected (" + std::string(to_string(status.state)) + ").");
    if (!status.detail.empty()) lines.push_back("  " + status.detail);
    for (const auto& reason : status.reasons) lines.push_back("    - " + reason);
    return lines;
  }
  const SecurityDetails& s = *status.security;
  std::string lock;
  switch (s.verdict) {
    case Verdict::trusted:
      lock = "locked: the certificate chain and the server's identity were verified";
      break;
    case Verdict::accepted_previously:
      lock = "NOT locked: the certificate is not verified; you accepted it earlier";
      break;
    case Verdict::accepted_by_user:
      lock = "NOT locked: the certificate is not verified; you accepted it for this session";
      break;
    case Verdict::rejected:
      lock = "NOT locked";
      break;
  }
  lines.push_back("  Lock:           " + lock);
  lines.push_back("  Account:        " + escaped(status.jid));
  lines.push_back("  Protocol:       " + s.protocol + " (" + s.tls_mode + " to " + s.peer + ")");
  lines.push_back("  Cipher:         " + s.cipher +
                  (s.group.empty() ? "" : ", key exchange " + s.group));
  lines.push_back("  Subject:        " + s.subject);
  lines.push_back("  Issuer:         " + s.issuer);
  lines.push_back("  Valid:          " + format_utc_time(s.not_before) + " to " +
                  format_utc_time(s.not_after));
  lines.push_back("  SHA-256:        " + s.fingerprint);
  if (!s.trust_anchor.empty()) lines.push_back("  Trust anchor:   " + s.trust_anchor);
  lines.push_back("  Authentication: " + s.sasl_mechanism +
                  (s.channel_binding.empty() ? "" : " with " + s.channel_binding));
  lines.push_back("  Stream mgmt:    XEP-0198 " + s.stream_management);
  for (const auto& note : s.notes) lines.push_back("  Note:           " + note);
  return lines;
}

std::vector<std::string> help_lines() {
  return {
      "Commands",
      "",
      "  /msg JID [TEXT]      open a conversation with JID (and send TEXT)",
      "  /join ROOM[/NICK]    enter a group chat room (room@service)",
      "  /part                leave the room shown",
      "  /close               close the conversation shown",
      "  /security            protocol, cipher, certificate and authentication of the connection",
      "  /reconnect           connect again now (after giving up or a refused certificate)",
      "  /quit                leave rooms, close the connection and exit (also Ctrl-C)",
      "  /help                this list",
      "  //TEXT               send TEXT starting with a slash",
      "",
      "Keys",
      "",
      "  Tab, Shift-Tab       next / previous conversation in the left pane",
      "  PageUp, PageDown     scroll the conversation",
      "  Enter                send the line to the conversation shown",
      "",
      "The status line shows [locked] and the TLS version only when the server's certificate",
      "chain and identity were verified; [UNVERIFIED ...] when you accepted a certificate that",
      "could not be verified.",
  };
}

// ---- the model ----------------------------------------------------------------------------------

ChatModel::ChatModel(xmpp::Jid account, ModelLimits limits)
    : account_(std::move(account)), limits_(limits) {
  Conversation console;
  console.kind = ConversationKind::console;
  console.title = "console";
  conversations_.push_back(std::move(console));
  status_.state = LinkState::connecting;
}

const Conversation* ChatModel::find(ConversationKind kind, const std::string& key) const {
  for (const auto& conversation : conversations_) {
    if (conversation.kind == kind && conversation.key == key) return &conversation;
  }
  return nullptr;
}

Conversation& ChatModel::conversation(ConversationKind kind, const std::string& key) {
  if (kind == ConversationKind::console) return console();
  for (auto& conversation : conversations_) {
    if (conversation.kind == kind && conversation.key == key) return conversation;
  }
  if (conversations_.size() >= limits_.max_conversations) return console();
  Conversation created;
  created.kind = kind;
  created.key = key;
  created.title = kind == ConversationKind::room ? "# " + escaped(key) : escaped(key);
  conversations_.push_back(std::move(created));
  return conversations_.back();
}

const Conversation& ChatModel::current() const {
  const Conversation* found = find(selected_kind_, selected_key_);
  return found ? *found : conversations_.front();
}

void ChatModel::add_line(Conversation& conversation, ConversationLine line, bool counts_as_unread) {
  conversation.lines.push_back(std::move(line));
  while (conversation.lines.size() > limits_.max_lines_per_conversation)
    conversation.lines.pop_front();
  const bool shown = conversation.kind == selected_kind_ && conversation.key == selected_key_;
  if (counts_as_unread && !shown) ++conversation.unread;
}

void ChatModel::notice(std::string text, bool problem) {
  add_line(console(),
           ConversationLine{static_cast<std::int64_t>(std::time(nullptr)),
                            problem ? LineKind::problem : LineKind::notice,
                            {},
                            std::move(text),
                            false},
           false);
}

std::string ChatModel::display_name(const std::string& bare_jid) const {
  const auto contact = contacts_.find(bare_jid);
  if (contact != contacts_.end() && !contact->second.name.empty())
    return escaped(contact->second.name);
  return escaped(bare_jid);
}

void ChatModel::select(ConversationKind kind, const std::string& key) {
  Conversation& shown = conversation(kind, key);
  selected_kind_ = shown.kind;
  selected_key_ = shown.key;
  shown.unread = 0;
  scroll_offset_ = 0;
}

std::vector<PaneEntry> ChatModel::pane_entries() const {
  std::vector<PaneEntry> entries;
  entries.push_back(
      PaneEntry{ConversationKind::console, {}, "console", conversations_.front().unread});
  std::vector<const Conversation*> rooms;
  std::vector<const Conversation*> strangers;
  for (const auto& conversation : conversations_) {
    if (conversation.kind == ConversationKind::room) rooms.push_back(&conversation);
    if (conversation.kind == ConversationKind::chat && !contacts_.contains(conversation.key))
      strangers.push_back(&conversation);
  }
  const auto by_key = [](const Conversation* a, const Conversation* b) { return a->key < b->key; };
  std::sort(rooms.begin(), rooms.end(), by_key);
  std::sort(strangers.begin(), strangers.end(), by_key);
  for (const Conversation* room : rooms) {
    entries.push_back(PaneEntry{ConversationKind::room, room->key,
                                std::string(room->joined ? "# " : "x ") + escaped(room->key),
                                room->unread});
  }
  for (const auto& [jid, contact] : contacts_) {
    const Conversation* chat = find(ConversationKind::chat, jid);
    const std::string presence = contact.presence();
    std::string label = std::string(1, presence_marker(presence)) + " " + display_name(jid);
    if (presence != "available" && presence != "offline") label += " (" + escaped(presence) + ")";
    entries.push_back(PaneEntry{ConversationKind::chat, jid, label, chat ? chat->unread : 0});
  }
  for (const Conversation* stranger : strangers) {
    entries.push_back(PaneEntry{ConversationKind::chat, stranger->key,
                                "? " + escaped(stranger->key), stranger->unread});
  }
  return entries;
}

void ChatModel::select_next() {
  const auto entries = pane_entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].kind == selected_kind_ && entries[i].key == selected_key_) {
      const auto& next = entries[(i + 1) % entries.size()];
      select(next.kind, next.key);
      return;
    }
  }
  select(ConversationKind::console, {});
}

void ChatModel::select_previous() {
  const auto entries = pane_entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].kind == selected_kind_ && entries[i].key == selected_key_) {
      const auto& previous = entries[(i + entries.size() - 1) % entries.size()];
      select(previous.kind, previous.key);
      return;
    }
  }
  select(ConversationKind::console, {});
}

void ChatModel::scroll(int lines) {
  const std::size_t size = current().lines.size();
  if (lines > 0) {
    scroll_offset_ = std::min(size, scroll_offset_ + static_cast<std::size_t>(lines));
  } else {
    const auto back = static_cast<std::size_t>(-lines);
    scroll_offset_ = back > scroll_offset_ ? 0 : scroll_offset_ - back;
  }
}

void ChatModel::answer_question(PromptAnswer answer) {
  if (!question_) return;
  question_->reply->answer(answer);
  switch (answer) {
    case PromptAnswer::accept_once:
      notice("certificate accepted for this connection only");
      break;
    case PromptAnswer::accept_always:
      notice("certificate accepted and remembered for this service");
      break;
    case PromptAnswer::decline:
      notice("certificate declined: not connecting, nothing stored", true);
      break;
  }
  question_.reset();
}

void ChatModel::close_info() {
  info_.reset();
}

std::string ChatModel::status_line() const {
  std::string line = lock_indicator(status_) + "  ";
  line += status_.jid.empty() ? escaped(account_.bare_string()) : escaped(status_.jid);
  line += "  ";
  line += to_string(status_.state);
  if (!status_.detail.empty() && status_.state != LinkState::connected)
    line += ": " + status_.detail;
  return line;
}

// ---- events -------------------------------------------------------------------------------------

void ChatModel::apply(ChatEvent event) {
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::visit(
      Overloaded{
          [&](LinkStatus& status) {
            switch (status.state) {
              case LinkState::connected:
                // A second report of the same connection only refreshes the details.
                if (status_.state != LinkState::connected || status_.jid != status.jid) {
                  notice(std::string(status.resumed ? "session resumed as " : "connected as ") +
                         escaped(status.jid) + ": " + lock_indicator(status));
                }
                break;
              case LinkState::offline:
                notice("offline: " + status.detail, true);
                for (const auto& reason : status.reasons) notice("  - " + reason, true);
                break;
              case LinkState::waiting_to_reconnect:
                notice(status.detail);
                break;
              case LinkState::connecting:
                notice("connecting to " + status.detail);
                break;
            }
            if (status.state == LinkState::connected && !status.resumed &&
                status_.state != LinkState::connected) {
              // A new session: presence and room membership start over (a resumed one keeps
              // them).
              for (auto& [jid, contact] : contacts_) contact.resources.clear();
              for (auto& conversation : conversations_) {
                if (conversation.kind != ConversationKind::room) continue;
                conversation.joined = false;
                conversation.occupants = 0;
              }
            }
            status_ = std::move(status);
          },
          [&](RosterArrived& roster) {
            std::map<std::string, Contact> contacts;
            for (const auto& item : roster.items) {
              Contact contact;
              contact.jid = item.jid.bare_string();
              contact.name = item.name;
              contact.subscription = item.subscription;
              contacts[contact.jid] = std::move(contact);
            }
            contacts_ = std::move(contacts);
          },
          [&](ContactPresence& presence) {
            auto contact = contacts_.find(presence.bare_jid);
            if (contact == contacts_.end()) return;  // not on the roster: not shown
            auto& resources = contact->second.resources;
            if (!presence.available) {
              resources.erase(presence.resource);
            } else if (resources.contains(presence.resource) ||
                       resources.size() < limits_.max_resources_per_contact) {
              resources[presence.resource] =
                  ResourcePresence{escaped(presence.show), escaped(presence.status)};
            }
          },
          [&](IncomingChat& incoming) {
            const xmpp::ChatMessage& message = incoming.message;
            auto from = xmpp::Jid::parse(message.from);
            const std::string key = from ? from->bare_string() : message.from;
            Conversation& target = conversation(ConversationKind::chat, key);
            add_line(target,
                     ConversationLine{message.delayed_since.value_or(now), LineKind::incoming,
                                      display_name(key), escaped_lines(message.body),
                                      message.delayed_since.has_value()},
                     true);
          },
          [&](ChatRefused& refused) {
            auto to = xmpp::Jid::parse(refused.to);
            Conversation& target =
                conversation(ConversationKind::chat, to ? to->bare_string() : refused.to);
            add_line(target,
                     ConversationLine{
                         now, LineKind::problem, {}, "not delivered: " + refused.reason, false},
                     true);
          },
          [&](RoomUpdate& update) { apply_room_event(update.room, update.event); },
          [&](CertificateQuestion& question) { question_ = std::move(question); },
          [&](Notice& n) { notice(escaped(n.text), n.problem); },
      },
      event);
}

void ChatModel::apply_room_event(const std::string& room, const RoomEvent& event) {
  // The confirmation of a /close: the conversation is gone and stays gone.
  if (std::holds_alternative<RoomLeft>(event) && find(ConversationKind::room, room) == nullptr)
    return;
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  Conversation& target = conversation(ConversationKind::room, room);
  const auto say = [&](std::string text, bool problem = false) {
    add_line(target,
             ConversationLine{
                 now, problem ? LineKind::problem : LineKind::notice, {}, std::move(text), false},
             false);
  };
  std::visit(
      Overloaded{
          [&](const RoomJoined& joined) {
            target.joined = true;
            target.nick = escaped(joined.nick);
            ++target.occupants;  // ourselves, after those already there
            say("* you are in as " + escaped(joined.nick) + (joined.created ? " (new room)" : ""));
          },
          [&](const RoomLeft& left) {
            target.joined = false;
            target.occupants = 0;
            say(std::string("* you left the room (") + to_string(left.reason) +
                    (left.detail.empty() ? "" : ": " + left.detail) + ")",
                left.reason != RoomExit::left);
          },
          [&](const OccupantEvent& occupant) {
            switch (occupant.change) {
              case OccupantChange::present:
              case OccupantChange::joined:
                ++target.occupants;
                if (occupant.change == OccupantChange::joined)
                  say("* " + escaped(occupant.nick) + " joined");
                break;
              case OccupantChange::left:
              case OccupantChange::kicked:
              case OccupantChange::banned:
                if (target.occupants > 0) --target.occupants;
                say("* " + escaped(occupant.nick) + " " + to_string(occupant.change));
                break;
              case OccupantChange::renamed:
                say("* " + escaped(occupant.nick) + " is now " + escaped(occupant.new_nick));
                if (target.occupants > 0) --target.occupants;  // the new name joins again
                break;
              case OccupantChange::updated:
                break;
            }
          },
          [&](const RoomMessage& message) {
            add_line(target,
                     ConversationLine{message.delayed_since.value_or(now),
                                      message.own ? LineKind::outgoing : LineKind::incoming,
                                      escaped(message.nick), escaped_lines(message.body),
                                      message.delayed_since.has_value()},
                     !message.own && !message.delayed_since);
          },
          [&](const RoomSubject& subject) {
            target.subject = escaped(subject.subject);
            if (!subject.subject.empty()) say("* subject: " + escaped(subject.subject));
          },
          [&](const RoomError& error) {
            say("error: " + xmpp::describe(error.error), true);
            if (error.while_joining) target.joined = false;
          },
      },
      event);
}

// ---- input --------------------------------------------------------------------------------------

InputOutcome ChatModel::submit(std::string_view line, std::int64_t now) {
  if (trim(line).empty()) return {};
  if (line.starts_with("/") && !line.starts_with("//")) return run_command(line, now);
  if (line.starts_with("//")) line.remove_prefix(1);

  Conversation& shown = conversation(selected_kind_, selected_key_);
  if (auto problem = body_problem(line)) {
    add_line(shown, ConversationLine{now, LineKind::problem, {}, "not sent: " + *problem, false},
             false);
    return {};
  }
  switch (shown.kind) {
    case ConversationKind::console:
      notice("this is the console: choose a conversation with Tab, or /msg JID TEXT", true);
      return {};
    case ConversationKind::room: {
      auto room = xmpp::Jid::parse(shown.key);
      if (!room) return {};
      // Shown when the room reflects it: that is the room's confirmation.
      return InputOutcome{SendToRoom{*room, std::string(line)}};
    }
    case ConversationKind::chat: {
      auto to = xmpp::Jid::parse(shown.key);
      if (!to) return {};
      add_line(shown, ConversationLine{now, LineKind::outgoing, "me", escaped_lines(line), false},
               false);
      return InputOutcome{SendChat{*to, std::string(line)}};
    }
  }
  return {};
}

InputOutcome ChatModel::run_command(std::string_view line, std::int64_t now) {
  const auto [command, rest] = first_word(line);
  if (command == "/quit" || command == "/exit") {
    quit_requested_ = true;
    return {};
  }
  if (command == "/help") {
    info_ = help_lines();
    return {};
  }
  if (command == "/security") {
    info_ = security_lines(status_);
    return {};
  }
  if (command == "/reconnect") return InputOutcome{ConnectAgain{}};
  if (command == "/msg") {
    const auto [target, text] = first_word(rest);
    auto jid = xmpp::Jid::parse(target);
    if (target.empty() || !jid) {
      notice("usage: /msg JID [TEXT]" + (jid ? std::string() : ": " + jid.error().message), true);
      return {};
    }
    select(ConversationKind::chat, jid->bare_string());
    if (text.empty()) return {};
    return submit(text.starts_with("/") ? "/" + std::string(text) : std::string(text), now);
  }
  if (command == "/join") {
    auto address = parse_room_address(rest, account_.localpart());
    if (rest.empty() || !address) {
      notice("usage: /join room@service[/nick]" +
                 (address ? std::string() : ": " + address.error().message),
             true);
      return {};
    }
    select(ConversationKind::room, address->room.bare_string());
    return InputOutcome{JoinRoom{*address}};
  }
  if (command == "/part" || command == "/leave") {
    if (selected_kind_ != ConversationKind::room) {
      notice("/part leaves the room shown; this is not a room", true);
      return {};
    }
    auto room = xmpp::Jid::parse(selected_key_);
    if (!room) return {};
    return InputOutcome{LeaveRoom{*room}};
  }
  if (command == "/close") {
    if (selected_kind_ == ConversationKind::console) return {};
    std::optional<ChatCommand> leave;
    if (selected_kind_ == ConversationKind::room) {
      if (auto room = xmpp::Jid::parse(selected_key_)) leave = LeaveRoom{*room};
    }
    const auto kind = selected_kind_;
    const std::string key = selected_key_;
    select_previous();
    std::erase_if(conversations_,
                  [&](const Conversation& c) { return c.kind == kind && c.key == key; });
    return InputOutcome{std::move(leave)};
  }
  notice("unknown command " + escaped(command) + "; /help lists them", true);
  return {};
}

}  // namespace parley::client
