#pragma once
// XEP-0045 Multi-User Chat, the occupant's side: entering a room, following who is in it, talking,
// and leaving. A Room is the client's view of one room; the stanzas come from a Connection and
// go through Room::apply(), which turns them into events for whoever shows them (the `join`
// command prints them, the terminal UI draws them).
//
//   -> <presence to='room@service/nick'><x xmlns='http://jabber.org/protocol/muc'>
//        <history maxstanzas='N'/></x></presence>                                      (7.2.1)
//   <- presence of every occupant, then our own with status 110 (and 201 when the room was
//      created for us: it is configured as an instant room, 10.1.2), then the history (each
//      with a XEP-0203 delay), then the subject                                         (7.2.3)
//   -> <message type='groupchat' to='room@service'><body/></message>                  (7.4)
//   <- the same message reflected to every occupant, us included, from room@service/nick
//   -> <presence type='unavailable' to='room@service/nick'/>                           (7.14)
//   <- our own unavailable presence with status 110
//
// A refused entry comes back as a presence of type error whose condition says why (7.2.6-7.2.10):
// conflict (nickname in use), not-authorized (password), forbidden (banned),
// registration-required (members-only), item-not-found / not-allowed (no such room and no
// permission to create it), service-unavailable (full). RoomError carries it by name.
//
// Who sent what is decided by the room's occupant JID (room@service/nick), and our own occupant
// is recognised by status code 110 in presence (the service may have changed our nickname,
// status 210) and by our current nickname in messages.
//
// Bounded: the occupants kept per room (max_occupants; more is an error event, not a silent
// truncation), the text of subjects and bodies by the stream's stanza size limit.
//
// What this does not do: room configuration beyond the instant room, moderation, invitations,
// private messages between occupants (they arrive as chat messages and are shown as such), room
// passwords, registration, or bookmarks.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "net/blocking_socket.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza.hpp"

namespace parley::client {

class Connection;

inline constexpr std::string_view kMucNamespace = "http://jabber.org/protocol/muc";
inline constexpr std::string_view kMucUserNamespace = "http://jabber.org/protocol/muc#user";
inline constexpr std::string_view kMucOwnerNamespace = "http://jabber.org/protocol/muc#owner";
inline constexpr std::string_view kDataFormsNamespace = "jabber:x:data";

struct RoomAddress {
  xmpp::Jid room;              // bare: room@service
  std::string nick;            // the nickname asked for
  xmpp::Jid occupant() const;  // room@service/nick
};
// "room@service" or "room@service/nick"; without a nickname, `default_nick` (the account's
// localpart, typically).
Result<RoomAddress> parse_room_address(std::string_view text, std::string_view default_nick);

// XEP-0045 7.2.13: what history to ask for on entering. Neither set: the service's default.
struct HistoryRequest {
  std::optional<std::size_t> max_stanzas;
  std::optional<std::int64_t> since;  // seconds since the epoch
};

xml::Element make_join_presence(const RoomAddress& address, const HistoryRequest& history);
xml::Element make_leave_presence(const xmpp::Jid& occupant);
xml::Element make_groupchat_message(const xmpp::Jid& room, std::string_view body,
                                    std::string_view id);
// 10.1.2: accept the default configuration, which unlocks a room that was created locked.
xml::Element make_instant_room_request(const xmpp::Jid& room, std::string_view id);

// ---- events -------------------------------------------------------------------------------------

// We are in: our own presence arrived (status 110).
struct RoomJoined {
  std::string nick;      // as the service assigned it
  bool created = false;  // status 201: a new room, locked until configured
  std::string role;
  std::string affiliation;
};
// We are out: our own unavailable presence, or the room refused or ended us.
enum class RoomExit { left, kicked, banned, room_destroyed, refused, removed };
const char* to_string(RoomExit exit);
struct RoomLeft {
  RoomExit reason = RoomExit::left;
  std::string detail;  // the error condition or reason text, escaped
};

// `present`: already in the room when we entered (their presence comes before ours).
enum class OccupantChange { present, joined, left, renamed, kicked, banned, updated };
const char* to_string(OccupantChange change);
struct OccupantEvent {
  std::string nick;
  OccupantChange change = OccupantChange::joined;
  std::string new_nick;  // for renamed
  std::string role;
  std::string affiliation;
  std::string real_jid;  // when the room shows it (non-anonymous rooms, moderators)
};

struct RoomMessage {
  std::string nick;  // empty: from the room itself
  std::string body;
  std::string id;
  std::optional<std::int64_t> delayed_since;  // history
  bool own = false;                           // our own message, reflected by the room
};

struct RoomSubject {
  std::string nick;
  std::string subject;
};

// The room (or the service) answered with an error: for the entry (the room is then left) or
// for something we sent.
struct RoomError {
  xmpp::StanzaError error;
  bool while_joining = false;
  bool our_message = false;  // the refusal of a message we sent (Room::message)
};

using RoomEvent =
    std::variant<RoomJoined, RoomLeft, OccupantEvent, RoomMessage, RoomSubject, RoomError>;

// ---- the room -----------------------------------------------------------------------------------

enum class RoomState { not_joined, joining, joined };

struct Occupant {
  std::string role;
  std::string affiliation;
  std::string real_jid;
};

class Room {
 public:
  explicit Room(RoomAddress address, std::size_t max_occupants = 10'000)
      : address_(std::move(address)), nick_(address_.nick), max_occupants_(max_occupants) {}

  const RoomAddress& address() const { return address_; }
  const xmpp::Jid& jid() const { return address_.room; }
  RoomState state() const { return state_; }
  const std::string& nick() const { return nick_; }  // current, after any change by the service
  const std::map<std::string, Occupant>& occupants() const { return occupants_; }

  // The presence that enters (or re-enters, after a reconnection) the room; the state becomes
  // joining and the occupant list starts over.
  xml::Element join(const HistoryRequest& history);
  xml::Element leave() const { return make_leave_presence(occupant_jid()); }
  // A groupchat message; its id is remembered so that the reflection counts as delivered.
  xml::Element message(std::string_view body);
  // Ids of our messages the room has not reflected yet.
  const std::set<std::string>& unconfirmed() const { return unconfirmed_; }
  // The stream ended: the room forgets its occupants; join() again after reconnecting.
  void connection_lost();

  // Whether a stanza comes from this room (its bare 'from' is the room's JID).
  bool concerns(const xml::Element& stanza) const;
  // What a stanza from this room means. Stanzas of other rooms: nothing.
  std::vector<RoomEvent> apply(const xml::Element& stanza);

 private:
  xmpp::Jid occupant_jid() const;
  std::vector<RoomEvent> apply_presence(const xml::Element& presence, const std::string& nick);
  std::vector<RoomEvent> apply_message(const xml::Element& message, const std::string& nick);

  RoomAddress address_;
  std::string nick_;
  std::size_t max_occupants_;
  RoomState state_ = RoomState::not_joined;
  std::map<std::string, Occupant> occupants_;
  std::set<std::string> unconfirmed_;
};

// Configures a room we just created (RoomJoined::created) as an instant room and waits for the
// service's answer: Prosody keeps a new room locked, and nobody else can enter, until its owner
// does this. Stanzas that arrive meanwhile stay in the connection for next_stanza().
Result<void> configure_instant_room(Connection& connection, const Room& room,
                                    net::Deadline deadline);

}  // namespace parley::client
