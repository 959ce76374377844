#pragma once
// Small helpers for stanzas as the server sees them (RFC 6120 8): their kind, their addresses,
// and the error replies the server sends on a sender's behalf (8.3).
#include <optional>
#include <string>
#include <string_view>

#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

inline constexpr std::string_view kClientNamespace = "jabber:client";
inline constexpr std::string_view kStanzaErrorNamespace = "urn:ietf:params:xml:ns:xmpp-stanzas";

enum class StanzaKind { message, presence, iq, other };
StanzaKind kind_of(const xml::Element& stanza);

// The 'type' attribute, or "" when absent. A copy, not a view: handlers change the stanza's
// attributes (stamping 'from', 'to') while they still look at its type.
std::string type_of(const xml::Element& stanza);

// RFC 6120 8.3.2: error types.
enum class ErrorType { auth, cancel, continue_, modify, wait };

// The reply to `stanza` with type='error': addresses swapped (from = what it was sent to, or
// `server_domain` when it had no 'to'), the original's children kept (8.3.1 allows it and clients
// use it to match), and <error type=...><CONDITION xmlns='...stanzas'/></error> appended.
// `text` is optional human-readable detail.
xml::Element make_error_reply(const xml::Element& stanza, const std::string& server_domain,
                              ErrorType type, std::string_view condition,
                              std::string_view text = {});

// An empty <iq type='result'/> answering `iq` (same id), from `from`, to the sender.
xml::Element make_iq_result(const xml::Element& iq, std::string_view from);

// The 'to' attribute parsed as a JID; nullopt when absent, an error text when invalid.
struct Addressing {
  std::optional<xmpp::Jid> to;
  bool invalid_to = false;
};
Addressing addressing_of(const xml::Element& stanza);

// Serialization in the jabber:client default namespace, as it goes on the wire.
std::string to_wire(const xml::Element& stanza);

// A random identifier for stream ids, generated resources and resumption ids: `bytes`
// characters of a URL-safe alphabet, 6 bits of OpenSSL CSPRNG output each.
std::string random_id(std::size_t bytes = 12);

}  // namespace parley::server
