#pragma once
// Strict RFC 4648 section 4 base64, as SCRAM (RFC 5802 section 7, "base64") and XMPP SASL
// payloads (RFC 6120 6.4.2) use it.
//
// Strict means: the standard alphabet only (no URL-safe letters), no whitespace or line breaks,
// padding required so that the length is a multiple of four, and the unused low bits of the last
// quantum must be zero (RFC 4648 3.5, "canonical encoding"). Lenient decoders accept several
// spellings of one value; a parser that does is a place for two implementations to disagree
// about what was signed, so Parley refuses everything but the one canonical spelling.
//
// Deliberately not done: the XMPP convention that a lone "=" stands for an empty payload (RFC
// 6120 6.4.2) belongs to the stanza layer that reads <auth/> and <response/>, not here.

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace parley::xmpp {

std::string base64_encode(std::string_view bytes);

// Error::parse naming the first problem and its offset. `max_decoded` bounds the output (and so
// the work) before anything is decoded; input over it is Error::limit.
Result<std::string> base64_decode_strict(std::string_view text, std::size_t max_decoded);

}  // namespace parley::xmpp
