#pragma once
// parleyd's multi-user chat service (XEP-0045) on its own domain ([muc] domain in the
// configuration, e.g. conference.example.test). Rooms and what they do are in muc_room.hpp.
//
// Routing: every stanza a local session addresses to the MUC domain comes here.
//   conference.example.test           disco#info (conference/text), disco#items (public rooms,
//                                     XEP-0059 paging), muc#unique (10.1.4), ping
//   room@conference.example.test      the room: groupchat, invitations, disco, configuration,
//                                     moderation; a presence to a room that does not exist
//   room@conference.example.test/nick   creates it (instant room) when creation is allowed
//
// Rooms are NOT persistent: a room exists while it has occupants and is destroyed, with its
// configuration, affiliations, subject and history, when the last one leaves (or its last
// session ends). Keeping rooms across restarts and empty periods needs a store interface and is
// future work; disco#info says muc_temporary so clients know.
//
// Bounds: MucConfig::max_rooms (creation beyond it gets <resource-constraint/>),
// max_occupants_per_room, history_messages (and kMaxHistoryBytesPerRoom); a session is in at
// most kMaxRoomsPerSession rooms; request sizes are bounded in muc_room.hpp. A stanza's size is
// already bounded by the stream parser.
//
// Single-threaded like the rest of the server. Sessions are held by pointer only while they are
// occupants; session_ended() (or session_resumed(), for a session whose identity moved to a
// resumed connection) must be called before a BoundSession is destroyed. Both work in
// O(rooms of that session), through MucSessionIndex.
//
// Deliberately not done: federation (occupants from other servers), persistent rooms, MUC
// archives (XEP-0313 on the room), room avatars, ad-hoc commands on the service.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "server/muc_room.hpp"
#include "server/services.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

class MucService {
 public:
  // Uses services.config.muc. `clock` (Unix seconds) is for tests; the system clock by default.
  explicit MucService(ServerServices& services, std::function<std::int64_t()> clock = {});
  MucService(const MucService&) = delete;
  MucService& operator=(const MucService&) = delete;

  // The MUC domain ("" when the service is off).
  const std::string& domain() const { return context_.config.domain; }

  // A stanza from a bound local session addressed to the MUC domain: `to` is room@domain,
  // room@domain/nick, or the domain itself. 'from' is stamped with the session's full JID.
  void handle(BoundSession& from, xml::Element stanza, const xmpp::Jid& to);

  // The session is going away: it leaves every room it is in (unavailable presence to the
  // others), and rooms left empty are destroyed.
  void session_ended(BoundSession& session);

  // The session sent unavailable broadcast presence (no 'to') but stays connected: RFC 6121
  // 4.6.3 sends that to everything it sent directed presence to, rooms included, so it leaves
  // every room as if it had sent them unavailable (and hears its own 110).
  void session_unavailable(BoundSession& session);

  // A stream-management resumption (XEP-0198) moved `old_session`'s identity to `new_session`:
  // the new one takes its place in every room, without any presence change. Call it before
  // `old_session` is destroyed; afterwards the service holds no pointer to it.
  void session_resumed(const BoundSession& old_session, BoundSession& new_session);

  std::size_t room_count() const { return rooms_.size(); }
  // The room, or nullptr (for tests and diagnostics).
  const MucRoom* find_room(std::string_view localpart) const;

 private:
  void service_iq(BoundSession& from, const xml::Element& iq, const xmpp::Jid& to);
  void disco_items(BoundSession& from, const xml::Element& iq, const xml::Element& query);
  void create_room(BoundSession& from, xml::Element presence, const xmpp::Jid& to);
  void erase_if_empty(const std::string& localpart);
  void reply_error(BoundSession& session, const xml::Element& stanza, ErrorType type,
                   std::string_view condition, std::string_view text = {});

  MucContext context_;
  std::map<std::string, std::unique_ptr<MucRoom>, std::less<>> rooms_;  // by localpart, sorted
};

}  // namespace parley::server
