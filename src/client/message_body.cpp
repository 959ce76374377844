#include "client/message_body.hpp"

#include <cstdint>
#include <cstdio>

#include "core/utf8.hpp"

namespace parley::client {

std::optional<std::string> body_problem(std::string_view text) {
  if (text.empty()) return "the message is empty";
  if (text.size() > kMaxBodyBytes)
    return "the message is longer than " + std::to_string(kMaxBodyBytes) + " bytes";
  if (!is_valid_utf8(text)) return "the message is not valid UTF-8";
  std::size_t position = 0;
  while (position < text.size()) {
    std::uint32_t code_point = 0;
    const std::size_t length = utf8_sequence_at(text, position, code_point);
    const bool allowed = code_point == 0x9 || code_point == 0xA || code_point == 0xD ||
                         (code_point >= 0x20 && code_point != 0xFFFE && code_point != 0xFFFF);
    if (!allowed) {
      char hex[8] = {};
      std::snprintf(hex, sizeof hex, "%04X", static_cast<unsigned>(code_point));
      return "the message contains a character XML cannot carry (U+" + std::string(hex) + ")";
    }
    position += length;
  }
  return std::nullopt;
}

}  // namespace parley::client
