#pragma once
// Delivery of stanzas to local accounts (RFC 6121 8.5) and the offline queue (XEP-0160).
//
// Messages to a bare JID go to every available resource with a non-negative priority (8.5.2.1.1
// lets the server choose between "highest priority" and "all non-negative"; all is what users
// of several devices expect and what carbons would give anyway). With none, chat and normal
// messages with content are stored offline and delivered, oldest first, with a XEP-0203 delay
// stamp, at the account's next initial presence; groupchat gets <service-unavailable/>,
// headline and error are dropped. Messages to a full JID whose resource is gone are treated as
// addressed to the bare JID (8.5.3.2.1). Unknown local accounts: <service-unavailable/>
// (8.5.2.2, without revealing whether the account exists through a different error).
#include "server/services.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

// A <message/> from a bound session, 'from' already stamped, addressed to `to`.
void route_message(ServerServices& services, BoundSession& sender, xml::Element message,
                   const xmpp::Jid& to);

// Any stanza for the local account `to` (bare): to its available resources, or into the offline
// queue when none is available. Returns false when it could be neither delivered nor stored.
bool deliver_to_available_or_store(ServerServices& services, const xmpp::Jid& to,
                                   const xml::Element& stanza);

// Sends the offline queue of `session`'s account to it (after its initial presence).
void deliver_offline_messages(ServerServices& services, BoundSession& session);

}  // namespace parley::server
