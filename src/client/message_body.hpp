#pragma once
// What a message body Parley sends may contain: XML 1.0 2.2 Char only (anything else would reach
// the other side as U+FFFD, the serializer replaces it), strict UTF-8, not empty, and at most
// kMaxBodyBytes so that it fits the receiving parser's default text limit (64 KiB) with room for
// the stanza around it. Checked before sending, so the user hears about it instead of the peer
// receiving something else.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::client {

inline constexpr std::size_t kMaxBodyBytes = 60 * 1024;

// Why `text` cannot be a message body, or nullopt when it can.
std::optional<std::string> body_problem(std::string_view text);

}  // namespace parley::client
