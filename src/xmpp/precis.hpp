#pragma once
// PRECIS string preparation (RFC 8264) for the two profiles XMPP needs (RFC 8265):
//  - UsernameCaseMapped (RFC 8265 3.3): JID localparts (RFC 7622 3.3) and SCRAM usernames;
//  - OpaqueString (RFC 8265 4.2): JID resourceparts (RFC 7622 3.4) and passwords (RFC 8265 4,
//    which replaces SASLprep, RFC 4013, for SCRAM in XMPP).
// Both functions apply the profile's *enforcement* rules (RFC 8264 7, RFC 8265 3.3.2 / 4.2.2):
// the result is what is stored and compared.
//
// Two implementations, one behaviour:
//  - ASCII input takes a short path that needs no Unicode tables (JIDs on the wire are nearly
//    always ASCII, and this is the path every stanza takes);
//  - other input is classified with ICU (derived properties of RFC 8264 9, NFC, width and case
//    mapping, the Bidi Rule of RFC 5893) when the library was built with ICU (PARLEY_HAVE_ICU,
//    unicode_available()). Without ICU, non-ASCII input is refused with a message that says so:
//    a refusal is safe, a half preparation is not (two spellings of one name would then be two
//    accounts).
//
// Deliberately not done (each one a refusal, never a pass):
//  - The contextual rules of RFC 5892 appendix A (CONTEXTJ: ZERO WIDTH JOINER / NON-JOINER;
//    CONTEXTO: MIDDLE DOT, GREEK KERAIA, HEBREW GERESH/GERSHAYIM, KATAKANA MIDDLE DOT,
//    ARABIC-INDIC and EXTENDED ARABIC-INDIC DIGITS). Strings holding those code points are
//    refused whatever their context, which is stricter than RFC 8264.
//  - The PRECIS "preparation" step on its own (RFC 8264 7: what a client may do before sending);
//    enforcement is a superset and what both roles here need.

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace parley::xmpp::precis {

// Longest input accepted before preparation (octets). Profiles' own length limits (1023 octets
// for each JID part) are the callers' to apply to the output.
inline constexpr std::size_t kMaxInputOctets = 4096;

// True when non-ASCII input is prepared (built with ICU); false when it is refused.
bool unicode_available();

// RFC 8265 3.3.2: width mapping, lowercase, NFC, Bidi Rule, then IdentifierClass (RFC 8264 4.2).
// Errors are Error::invalid_argument sentence fragments ("contains U+0020 SPACE, ...") that the
// caller prefixes with what the text was ("localpart").
Result<std::string> enforce_username_case_mapped(std::string_view text);

// RFC 8265 4.2.2: non-ASCII spaces to U+0020, NFC, then FreeformClass (RFC 8264 4.3).
Result<std::string> enforce_opaque_string(std::string_view text);

}  // namespace parley::xmpp::precis
