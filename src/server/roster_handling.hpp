#pragma once
// Rosters and presence subscriptions for local accounts (RFC 6121 2 and 3).
//
// Every account lives on this server (no server-to-server yet), so both sides of a subscription
// are updated here, each with its own roster push, in one store transaction.
//
// Roster get/set (2.1-2.5): get returns the roster (or an empty result when the client's 'ver'
// is current, 2.6), set adds/updates one item or removes it (cancelling subscriptions both ways,
// 2.5.2). Only the server sets 'subscription' and 'ask': in a set, any 'subscription' other than
// "remove" is ignored (2.1.2.5: slixmpp, for one, always sends subscription='none'), and so is
// 'ask' (2.1.2.2).
//
// Subscription stanzas (3.1-3.3): subscribe / subscribed / unsubscribe / unsubscribed, with the
// state table of RFC 6121 Appendix A reduced to the states a single server can reach.
//
// Pending inbound requests (3.1.3): a subscription request is delivered to the contact's
// available resources and remembered as "pending in" on the contact's roster item, and
// pending_requests_to() redelivers it at every initial presence of the contact until the contact
// approves or denies it, however often the contact logs in without answering. A request from
// someone who is not on the contact's roster is kept as an item in the "None + Pending In" state
// (Appendix A) that roster results and pushes leave out, because the contact never added it; such
// an item is told apart from one the contact added by its stored subscribe stanza
// (pending_in_stanza, empty on items the contact added). Approving makes it an ordinary item
// (pushed with subscription='from'); denying, or the requester cancelling, removes it unseen.
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

// The subscribe stanzas (from the requester's bare JID to `owner_bare`) of every request the
// account has not answered yet, in roster order; sent to a session at its initial presence. Stored
// requests are never more than the roster's own bound (max_roster_items).
std::vector<xml::Element> pending_requests_to(const std::vector<store::RosterItem>& roster,
                                              std::string_view owner_bare);

}  // namespace parley::server
