#pragma once
// One multi-user chat room (XEP-0045) of parleyd's MUC service (muc_service.hpp routes to it).
//
// What a room does:
//  - entering (7.2): existing occupants' presence to the newcomer, the newcomer's presence to
//    everyone, self-presence last (status 110; 100 in a non-anonymous room; 201 for the creator),
//    then the discussion history (each message with a XEP-0203 delay from the room; the
//    <history/> limits maxstanzas, maxchars, seconds and since are honoured), then the subject
//    (an empty <subject/> when none was set, because clients wait for it).
//  - the same account may enter again from another resource under the same nickname
//    (multi-session, as Prosody and ejabberd allow): it stays one occupant, every one of its
//    sessions receives what the occupant receives, a nickname change renames it for all of
//    them, and the occupant leaves when its last session does. A different account asking for a
//    taken nickname gets <conflict/>. Nicknames are compared by the RFC 8266 Nickname profile
//    (muc_nickname.hpp), so "Alice" and "alice" clash.
//  - presence updates, nickname changes (7.6, status 303), leaving (7.14) and ending sessions.
//  - groupchat messages reflected to every occupant, the sender included, from room/nick, with
//    the sender's message id kept (clients match their own echo by it); those with a <body/> are
//    kept as history. Private messages (7.5) go to every session of the addressed occupant with
//    from room/sender-nick and an <x xmlns='...muc#user'/> marker.
//  - subject changes (8.1): moderators always; participants too unless the owner turned
//    muc#roomconfig_changesubject off. A new room allows it (the casual "instant room" use:
//    whoever is talking may set the topic, as on ejabberd); XEP-0045's strict default would leave
//    it to the creator alone.
//  - semi-anonymous by default (whois = moderators): real JIDs are shown to moderators and each
//    occupant's own presence; the owner can make the room non-anonymous (whois = anyone).
//  - instant rooms (10.1.2): the room is usable as soon as the creator is in; the creator's
//    instant-room form submit and a full configuration (10.2) are both accepted. Configurable:
//    name, description, public (listed in disco#items) or hidden, members-only, password,
//    anonymity, subject changes, invitations by participants, maximum occupants.
//  - moderation (8, 9, 10): kick (307), voice, moderator role; affiliations outcast (ban, 301),
//    member, admin, owner with the permission rules of 5.1 / 5.2 (nobody acts on a higher
//    affiliation; only owners touch admins and owners; the last owner cannot be removed);
//    affiliation lists; destroying the room (10.9).
//  - mediated invitations and declines (7.8.2) to local accounts; in a members-only room
//    an invitation from someone allowed to invite makes the invitee a member.
//  - XEP-0421 occupant ids in presence and messages (stable per room and account, unlinkable
//    across rooms), XEP-0410 self-ping answered by the room, stanza-id and occupant-id elements
//    forged by a sender removed.
//
// Deliberately not done (yet):
//  - persistence: rooms live in memory and are destroyed when the last occupant leaves, with
//    their configuration, affiliations, subject and history. Persistent rooms need a store
//    interface (store/) and are future work; disco says muc_temporary.
//  - room locking until configured (10.1.1): rooms are instant, never locked.
//  - moderated rooms, voice requests, registration (7.10), reserved nicknames, XEP-0313 MUC
//    archives, forwarding IQs to occupants (only self-ping is answered), vCard avatars, s2s
//    occupants (every occupant is a session of this server).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "server/config.hpp"
#include "server/services.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

inline constexpr std::string_view kMucNamespace = "http://jabber.org/protocol/muc";
inline constexpr std::string_view kMucUserNamespace = "http://jabber.org/protocol/muc#user";
inline constexpr std::string_view kMucAdminNamespace = "http://jabber.org/protocol/muc#admin";
inline constexpr std::string_view kMucOwnerNamespace = "http://jabber.org/protocol/muc#owner";
inline constexpr std::string_view kMucUniqueNamespace = "http://jabber.org/protocol/muc#unique";
inline constexpr std::string_view kMucRoomConfigFormType =
    "http://jabber.org/protocol/muc#roomconfig";
inline constexpr std::string_view kMucRoomInfoFormType = "http://jabber.org/protocol/muc#roominfo";
inline constexpr std::string_view kDataFormsNamespace = "jabber:x:data";
inline constexpr std::string_view kOccupantIdNamespace = "urn:xmpp:occupant-id:0";

// Bounds beyond MucConfig's, on what one request or one room can make the service hold.
inline constexpr std::size_t kMaxRoomsPerSession = 1000;
inline constexpr std::size_t kMaxAffiliationsPerRoom = 10'000;
inline constexpr std::size_t kMaxHistoryBytesPerRoom = 1024 * 1024;
inline constexpr std::size_t kMaxItemsPerAdminRequest = 100;
inline constexpr std::size_t kMaxInvitesPerMessage = 10;
inline constexpr std::size_t kMaxFormFields = 64;
inline constexpr std::size_t kMaxRoomTextOctets = 1024;  // room name, description, password

// XEP-0045 5.2, from least to most privileged (the order is what comparisons rely on).
enum class Affiliation { outcast, none, member, admin, owner };
// XEP-0045 5.1.
enum class Role { none, visitor, participant, moderator };

std::string_view to_string(Affiliation affiliation);
std::string_view to_string(Role role);

// Which rooms each session is in, so that an ending session leaves them in O(its rooms).
class MucSessionIndex {
 public:
  void add(const BoundSession& session, const std::string& room);
  void remove(const BoundSession& session, const std::string& room);
  // The rooms of `session` (a copy: leaving changes the index).
  std::vector<std::string> rooms_of(const BoundSession& session) const;
  std::size_t room_count_of(const BoundSession& session) const;
  std::size_t session_count() const { return rooms_.size(); }

 private:
  std::unordered_map<const BoundSession*, std::vector<std::string>> rooms_;
};

// What every room of one service shares. Owned by MucService.
struct MucContext {
  ServerServices& services;
  const MucConfig& config;
  std::function<std::int64_t()> clock;  // Unix seconds now
  std::string occupant_id_secret;       // XEP-0421 key, per process
  MucSessionIndex sessions;
};

// Room configuration (10.2); what muc#roomconfig can change.
struct RoomSettings {
  std::string name;
  std::string description;
  bool is_public = true;
  bool members_only = false;
  bool non_anonymous = false;  // whois = anyone
  bool participants_change_subject = true;
  bool participants_invite = false;  // in a members-only room
  std::string password;              // empty: not password-protected
  std::size_t max_occupants = 0;     // never above MucConfig::max_occupants_per_room
};

class MucRoom {
 public:
  // A new room with `creator` (bare) as its owner; it stays empty until the creator's join.
  MucRoom(MucContext& context, std::string localpart, const xmpp::Jid& creator);
  MucRoom(const MucRoom&) = delete;
  MucRoom& operator=(const MucRoom&) = delete;

  const std::string& localpart() const { return localpart_; }
  const std::string& jid() const { return jid_; }  // room@service
  bool empty() const { return occupants_.empty(); }
  std::size_t occupant_count() const { return occupants_.size(); }
  const RoomSettings& settings() const { return settings_; }
  // The room's name, or its localpart when it has none.
  const std::string& display_name() const;

  // Stanzas from a local session addressed to this room (`to` is room@service or
  // room@service/nick); 'from' is the session's full JID.
  void handle_presence(BoundSession& from, xml::Element presence, const xmpp::Jid& to);
  void handle_message(BoundSession& from, xml::Element message, const xmpp::Jid& to);
  void handle_iq(BoundSession& from, const xml::Element& iq, const xmpp::Jid& to);

  // The session is going away without a word: it leaves as if it had sent unavailable.
  void session_ended(BoundSession& session);
  // A resumed connection (XEP-0198) takes `old_session`'s place: same occupant, nobody told.
  void session_replaced(const BoundSession& old_session, BoundSession& new_session);

 private:
  struct Occupant {
    std::string nick;
    std::string nick_key;  // nickname_comparison_key(nick)
    xmpp::Jid real_jid;    // bare
    std::string occupant_id;
    std::vector<BoundSession*> sessions;  // never empty while the occupant is in the room
    Role role = Role::participant;
    xml::Element presence;  // the latest presence, cleaned of MUC and forged elements
  };

  // What a presence broadcast about one occupant says besides its presence (status codes of
  // XEP-0045's registry, 303's new nick, a kick's actor and reason, a destroyed room's notice).
  struct PresenceNotice {
    bool unavailable = false;
    std::vector<int> statuses{};       // to everyone
    std::vector<int> self_statuses{};  // only to the occupant's own sessions (110 added there)
    std::string new_nick{};
    std::string actor_nick{};
    std::string reason{};
    const xml::Element* destroy = nullptr;
  };
  enum class Audience { anonymous, with_real_jid, self };

  struct HistoryEntry {
    std::string wire;  // serialized without 'to', delay included
    std::int64_t stamp = 0;
  };

  struct Subject {
    std::string text;
    std::string nick;  // who set it; empty: never set
    std::int64_t stamp = 0;
  };

  // 7.2 and 7.6: presence to room/nick.
  void join(BoundSession& session, xml::Element presence, const xmpp::Jid& to);
  void change_nick(BoundSession& session, Occupant& occupant, xml::Element presence,
                   const xmpp::Jid& to);
  // `presence`: the unavailable presence it sent (its status text is passed on); null when the
  // session ended or failed. `tell_leaver`: false when the session is going away.
  void leave(BoundSession& session, const xml::Element* presence, bool tell_leaver);

  void groupchat(BoundSession& session, xml::Element message);
  void change_subject(BoundSession& session, Occupant& occupant, const xml::Element& message);
  void private_message(BoundSession& session, xml::Element message, const xmpp::Jid& to);
  void invitations(BoundSession& session, const xml::Element& message, const xml::Element& x);
  void decline(BoundSession& session, const xml::Element& message, const xml::Element& x);

  void disco_info(BoundSession& session, const xml::Element& iq);
  void owner_get(BoundSession& session, const xml::Element& iq);
  void owner_set(BoundSession& session, const xml::Element& iq, const xml::Element& query);
  void admin_get(BoundSession& session, const xml::Element& iq, const xml::Element& query);
  void admin_set(BoundSession& session, const xml::Element& iq, const xml::Element& query);
  void destroy(BoundSession& session, const xml::Element& iq, const xml::Element& request);

  // Removes the whole occupant (all its sessions), telling everyone but `skip` with `notice`.
  void remove_occupant(Occupant& occupant, PresenceNotice notice,
                       const BoundSession* skip = nullptr);
  // After an affiliation change: ban, members-only removal, or the role it implies now.
  void apply_affiliation(const std::string& bare_jid, const std::string& actor_nick,
                         const std::string& reason);
  void set_role(Occupant& occupant, Role role, const std::string& actor_nick,
                const std::string& reason);

  Occupant* occupant_of(const BoundSession& session);
  Occupant* occupant_by_key(const std::string& nick_key);
  Occupant* occupant_by_real_jid(const std::string& bare_jid);
  Affiliation affiliation_of(const std::string& bare_jid) const;
  Affiliation affiliation_of(const BoundSession& session) const;
  Role default_role(Affiliation affiliation) const;
  bool sees_real_jids(const Occupant& viewer) const;
  std::string address_of(const Occupant& occupant) const;  // room@service/nick
  std::size_t owner_count() const;

  xml::Element presence_element(const Occupant& subject, const PresenceNotice& notice,
                                Audience audience) const;
  std::string presence_wire(const Occupant& subject, const PresenceNotice& notice,
                            Audience audience) const;
  // `subject`'s presence to every session in the room (its own sessions get the self form),
  // except `skip`.
  void broadcast_presence(const Occupant& subject, const PresenceNotice& notice,
                          const BoundSession* skip = nullptr);
  // A stanza serialized without 'to' to every session of every occupant.
  void broadcast_wire(const std::string& wire, std::string_view element_name);
  void send_history(BoundSession& session, const xml::Element* history_request);
  void send_subject(BoundSession& session);
  void add_history(const xml::Element& message);
  // A groupchat message from the room itself (status codes 104, 172, 173).
  void announce_statuses(const std::vector<int>& statuses);

  void reply_error(BoundSession& session, const xml::Element& stanza, ErrorType type,
                   std::string_view condition, std::string_view text = {});

  MucContext& context_;
  const std::string localpart_;
  const std::string jid_;
  RoomSettings settings_;
  std::map<std::string, Affiliation, std::less<>> affiliations_;  // bare JID -> not none
  std::map<std::string, Occupant, std::less<>> occupants_;        // by nick_key
  std::unordered_map<const BoundSession*, std::string> key_of_session_;
  std::deque<HistoryEntry> history_;
  std::size_t history_bytes_ = 0;
  Subject subject_;
  bool awaiting_creator_ = true;  // the first join creates the room (status 201)
};

}  // namespace parley::server
