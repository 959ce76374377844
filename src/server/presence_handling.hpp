#pragma once
// Presence (RFC 6121 4): broadcast to subscribers, probes on initial presence, directed
// presence, and the unavailable broadcast when a session ends. Subscription types go to
// roster_handling.
//
// Initial presence (4.2): broadcast to every contact with subscription from/both and to the
// account's other available resources; the current presence of contacts with subscription
// to/both is sent to the new session (a local probe needs no stanza: the server knows); then the
// subscription requests it has not answered (RFC 6121 3.1.3, every login until answered); then
// the offline queue is delivered (XEP-0160).
#include "server/services.hpp"
#include "xml/element.hpp"

namespace parley::server {

// A <presence/> from a bound session, 'from' stamped with its full JID.
void handle_presence(ServerServices& services, BoundSession& session, xml::Element presence);

// The session is ending: if it was available, broadcast unavailable as if it had sent it.
void session_ended(ServerServices& services, BoundSession& session);

}  // namespace parley::server
