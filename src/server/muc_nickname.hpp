#pragma once
// Room nicknames (XEP-0045 7.2, RFC 8266).
//
// A nickname arrives as the resourcepart of room@service/nick, so it has already been through
// PRECIS OpaqueString (RFC 7622 3.4): valid UTF-8, NFC, no control characters. That is what the
// room shows. Two occupants must not be told apart only by letter case, width or compatibility
// forms ("Alice" and "alice", "ｂｏｂ" and "bob"), so the room compares nicknames by the
// RFC 8266 Nickname profile's enforcement output instead (2.2, compared as 2.3 says): non-ASCII
// spaces mapped to U+0020, leading and trailing spaces removed and inner runs of spaces collapsed
// to one (the additional mapping rule), Unicode lowercase (the case mapping rule), NFKC (the
// normalization rule), repeated until stable. A nickname whose key is empty (nothing but spaces)
// is refused: the profile does not allow an empty result.
//
// Deliberately not done: the displayed nickname is not rewritten to the Nickname profile's form
// (clients expect the room to echo the nickname they asked for; status 210 is reserved for a
// nickname the service changed, which this never does), and the FreeformClass check of RFC 8264
// is the one OpaqueString already ran. Non-ASCII nicknames need ICU (precis.hpp); without it they
// are refused with a message that says so.
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace parley::server {

// The string two nicknames are compared by. Error::invalid_argument for an empty result.
Result<std::string> nickname_comparison_key(std::string_view nickname);

}  // namespace parley::server
