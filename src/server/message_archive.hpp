#pragma once
// The message archive (XEP-0313, urn:xmpp:mam:2) and the stanza ids it hands out (XEP-0359).
//
// Every one-to-one chat or normal message with a body between local accounts is archived twice,
// once for each account (with = the other party's bare JID), unless it carries a no-store or
// no-permanent-store hint (XEP-0334). The recipient's copy gets <stanza-id by='bare' id='...'/>
// so a client can later page from it. Queries: the data form fields `with`, `start`, `end`
// (XEP-0082 date-times) and XEP-0059 paging (`max`, `after`, `before`, empty `before` for the last
// page); results are <message><result><forwarded><delay/>original</forwarded></result></message>
// followed by <fin complete=...><set><first/><last/><count/></set></fin>.
// Deliberately not yet: archiving preferences (the server archives always, as ejabberd's
// `default: always`), retention (messages stay until the account is deleted), MUC archives.
#include <optional>
#include <string>

#include "server/services.hpp"
#include "xml/element.hpp"

namespace parley::server {

inline constexpr std::string_view kMamNamespace = "urn:xmpp:mam:2";

// Whether `message` should be archived at all (type, body, hints).
bool is_archivable(const xml::Element& message);

// Archives `message` (from stamped) for `owner` (a local account's localpart) with the other
// party `with_bare`. Returns the archive id, or nullopt when the store failed (logged).
std::optional<std::string> archive_message(ServerServices& services, const std::string& owner,
                                           const std::string& with_bare,
                                           const xml::Element& message);

// <iq type='set'><query xmlns='urn:xmpp:mam:2'/></iq> from the account itself.
void handle_archive_query(ServerServices& services, BoundSession& session, const xml::Element& iq,
                          const xml::Element& query);

// XEP-0082: "2026-11-28T12:00:00Z", with optional fractional seconds and a numeric offset.
std::optional<std::int64_t> parse_datetime_us(std::string_view text);
std::string format_datetime_us(std::int64_t unix_us);

}  // namespace parley::server
