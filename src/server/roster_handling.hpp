#pragma once
// Rosters and presence subscriptions for local accounts (RFC 6121 2 and 3).
//
// Every account lives on this server (no server-to-server yet), so both sides of a subscription
// are updated here, each with its own roster push, in one store transaction.
//
// Roster get/set (2.1-2.5): get returns the roster (or an empty result when the client's 'ver'
// is current, 2.6), set adds/updates one item or removes it (cancelling subscriptions both ways,
// 2.5.2). A client may not set 'subscription' (other than "remove") or 'ask' (2.1.2.5).
//
// Subscription stanzas (3.1-3.3): subscribe / subscribed / unsubscribe / unsubscribed, with the
// state table of RFC 6121 Appendix A reduced to the states a single server can reach.
// A subscription request to an account that is offline is kept in its offline queue and
// delivered at its next initial presence.
#include "server/services.hpp"
#include "xml/element.hpp"

namespace parley::server {

inline constexpr std::string_view kRosterNamespace = "jabber:iq:roster";

// <iq/> with a jabber:iq:roster query from `session`'s own account.
void handle_roster_iq(ServerServices& services, BoundSession& session, const xml::Element& iq);

// A presence stanza of type subscribe/subscribed/unsubscribe/unsubscribed from `session`,
// addressed to `contact` (a bare JID string, already prepared).
void handle_subscription(ServerServices& services, BoundSession& session, std::string_view type,
                         const xmpp::Jid& contact);

// Sends a roster push for `item` (or a removal when `removed`) to every interested resource of
// `owner`.
void push_roster_item(ServerServices& services, std::string_view owner_bare,
                      const store::RosterItem& item, std::uint64_t version, bool removed = false);

}  // namespace parley::server
