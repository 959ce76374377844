#pragma once
// Client-side stanza helpers (RFC 6120 8, RFC 6121): building the few stanzas a client sends and
// reading the ones it receives, on top of xml::Element.
//
// Reading is defensive: every stanza comes from the network, so readers return nullopt or an
// error for shapes they do not understand instead of guessing, and they never trust a count the
// peer chose (roster items, groups and names are bounded; exceeding a bound is an error, not a
// truncation).
//
// What this does not do: routing or addressing checks (the caller knows whose stream it is),
// stanza size limits (the stream parser enforces them), XHTML-IM, receipts, or anything of a
// server's side.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::xmpp {

// ---- namespaces ---------------------------------------------------------------------------------

inline constexpr std::string_view kClientNamespace = "jabber:client";
inline constexpr std::string_view kTlsNamespace = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kSaslNamespace = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view kBindNamespace = "urn:ietf:params:xml:ns:xmpp-bind";
// RFC 3921 3 session establishment; RFC 6121 dropped it, some servers still ask for it.
inline constexpr std::string_view kSessionNamespace = "urn:ietf:params:xml:ns:xmpp-session";
inline constexpr std::string_view kStanzaErrorNamespace = "urn:ietf:params:xml:ns:xmpp-stanzas";
inline constexpr std::string_view kRosterNamespace = "jabber:iq:roster";
inline constexpr std::string_view kPingNamespace = "urn:xmpp:ping";                 // XEP-0199
inline constexpr std::string_view kDelayNamespace = "urn:xmpp:delay";               // XEP-0203
inline constexpr std::string_view kChannelBindingNamespace = "urn:xmpp:sasl-cb:0";  // XEP-0440

// ---- identifiers --------------------------------------------------------------------------------

// A fresh stanza id: a prefix naming the purpose ("ping", "bind") and 16 random hex digits, so
// that a reply cannot be predicted by anyone who did not see the request.
std::string new_stanza_id(std::string_view prefix);

// True when `element` is {jabber:client}local_name, i.e. a stanza of that kind on a c2s stream.
bool is_stanza(const xml::Element& element, std::string_view local_name);

// ---- iq -----------------------------------------------------------------------------------------

enum class IqType { get, set, result, error };
const char* to_string(IqType type);
std::optional<IqType> parse_iq_type(std::string_view text);

// <iq type=... id=... [to=...]>payload</iq>
xml::Element make_iq(IqType type, std::string_view id, std::optional<std::string_view> to,
                     std::optional<xml::Element> payload);
// RFC 6120 7.6: a bind request; an empty resource lets the server choose one.
xml::Element make_bind_request(std::string_view id, std::string_view resource);
// RFC 3921 3: <session/>.
xml::Element make_session_request(std::string_view id);
// RFC 6121 2.1.3: roster get.
xml::Element make_roster_get(std::string_view id);
// XEP-0199 4.3: client-to-server ping (an iq get to the server's domain).
xml::Element make_ping(std::string_view id, std::string_view server_domain);
// RFC 6120 8.2.3: the answer to an iq get/set: type result, same id, addressed back to the
// sender (no 'to' when the request had no 'from', i.e. it came from the account's server).
xml::Element make_iq_result(const xml::Element& request);
// RFC 6120 8.3: an error reply carrying the request's id, e.g. ("cancel", "service-unavailable").
xml::Element make_iq_error(const xml::Element& request, std::string_view error_type,
                           std::string_view condition);

// ---- presence and message -----------------------------------------------------------------------

// RFC 6121 4.2: initial presence (available, default priority).
xml::Element make_initial_presence();

enum class MessageType { normal, chat, groupchat, headline, error };
const char* to_string(MessageType type);
// RFC 6121 5.2.2: an absent or unknown type is "normal".
MessageType parse_message_type(const std::string* type_attribute);

// <message type='chat' to=... id=...><body>text</body></message>
xml::Element make_chat_message(const Jid& to, std::string_view body, std::string_view id);

// A received message that carries text for a person.
struct ChatMessage {
  std::string from;  // the 'from' attribute as received (may be empty: from the server itself)
  std::string to;
  MessageType type = MessageType::normal;
  std::string id;
  std::string body;  // the first <body/> without xml:lang, else the first one
  // XEP-0203: when the message was originally sent (offline storage), seconds since the epoch.
  std::optional<std::int64_t> delayed_since;
};
// Messages of type normal, chat or headline with a non-empty body; nullopt for anything else
// (errors, group chat, chat states without text, receipts).
std::optional<ChatMessage> read_chat_message(const xml::Element& stanza);

// ---- errors -------------------------------------------------------------------------------------

// RFC 6120 8.3.2: <error type=...><condition xmlns='...xmpp-stanzas'/><text>...</text></error>.
struct StanzaError {
  std::string type;       // "cancel", "auth", ... or empty when absent
  std::string condition;  // the defined condition's element name, or "undefined-condition"
  std::string text;       // optional human-readable text (peer-controlled: escape for display)
};
// For stanzas of type 'error'; nullopt when there is no <error/> child.
std::optional<StanzaError> read_stanza_error(const xml::Element& stanza);
// "service-unavailable (cancel): text" with the text escaped for display.
std::string describe(const StanzaError& error);

// ---- roster (RFC 6121 2) ------------------------------------------------------------------------

struct RosterLimits {
  std::size_t max_items = 10'000;
  std::size_t max_groups_per_item = 64;
};

struct RosterItem {
  Jid jid;
  std::string name;                   // may be empty
  std::string subscription;           // none, to, from, both (RFC 6121 2.1.2.5)
  bool subscription_pending = false;  // ask='subscribe'
  std::vector<std::string> groups;
};

// The items of a roster result (<iq type='result'><query xmlns='jabber:iq:roster'>...). Items
// whose JID does not parse are an error naming the item: a client that silently drops a contact
// hides it from its user.
Result<std::vector<RosterItem>> read_roster(const xml::Element& result,
                                            const RosterLimits& limits = {});

// ---- time ---------------------------------------------------------------------------------------

// XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss]TZD with TZD "Z" or +hh:mm / -hh:mm; years
// 1970-9999. Returns seconds since the epoch (fractions dropped).
Result<std::int64_t> parse_xmpp_datetime(std::string_view text);

// Text from a peer for a terminal line: control characters (C0, DEL, C1) become \n, \t, \r or
// \xNN and backslashes are doubled, so a message cannot move the cursor, clear the screen or
// forge a second line; bidirectional overrides and isolates (U+202A-202E, U+2066-2069) become
// \uXXXX so the line cannot be visually reordered; other valid UTF-8 is kept; invalid bytes
// become \xNN.
std::string escape_for_terminal(std::string_view text);

}  // namespace parley::xmpp
