#pragma once
// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. The one
// decoder every layer uses to decide whether bytes from the network or a certificate are text.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace parley {

// Length (1-4) of the well-formed sequence that starts at text[position], with its code point
// in `code_point`; 0 when the bytes there are not strict UTF-8.
std::size_t utf8_sequence_at(std::string_view text, std::size_t position,
                             std::uint32_t& code_point);

bool is_valid_utf8(std::string_view text);

// Number of code points, or nullopt when `text` is not strict UTF-8.
std::optional<std::size_t> utf8_code_point_count(std::string_view text);

}  // namespace parley
