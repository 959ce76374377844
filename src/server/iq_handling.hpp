#pragma once
// <iq/> from a bound session (RFC 6120 8.2.3, 10.3.3):
//   no 'to', or the account's own bare JID -> handled by the server for the account
//       (roster, disco, ping, session, carbons)
//   the server's domain                     -> handled by the server (disco, ping, version)
//   a full JID of a local account           -> routed to that resource, or <service-unavailable/>
//   another local bare JID                  -> answered on the account's behalf (disco, ping) or
//                                              <service-unavailable/>
//   another domain                          -> <remote-server-not-found/> (no federation yet)
// Unsupported namespaces get <service-unavailable/> (RFC 6120 8.4). Results and errors are never
// answered (8.2.3).
#include "server/services.hpp"
#include "xml/element.hpp"

namespace parley::server {

inline constexpr std::string_view kDiscoInfoNamespace = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kDiscoItemsNamespace = "http://jabber.org/protocol/disco#items";
inline constexpr std::string_view kPingNamespace = "urn:xmpp:ping";
inline constexpr std::string_view kVersionNamespace = "jabber:iq:version";
inline constexpr std::string_view kSessionNamespace = "urn:ietf:params:xml:ns:xmpp-session";
inline constexpr std::string_view kCarbonsNamespace = "urn:xmpp:carbons:2";

// `iq` has 'from' stamped with the session's full JID.
void handle_iq(ServerServices& services, BoundSession& session, const xml::Element& iq);

}  // namespace parley::server
