#include "core/utf8.hpp"

namespace parley {

std::size_t utf8_sequence_at(std::string_view text, std::size_t position,
                             std::uint32_t& code_point) {
  if (position >= text.size()) return 0;
  const auto lead = static_cast<unsigned char>(text[position]);
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  std::size_t length = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1Fu;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0Fu;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07u;
  } else {
    return 0;  // a continuation byte or 0xF8..0xFF cannot start a sequence
  }
  if (position + length > text.size()) return 0;
  for (std::size_t k = 1; k < length; ++k) {
    const auto next = static_cast<unsigned char>(text[position + k]);
    if ((next & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (next & 0x3Fu);
  }
  static constexpr std::uint32_t kSmallestForLength[] = {0, 0, 0x80, 0x800, 0x10000};
  if (code_point < kSmallestForLength[length] || code_point > 0x10FFFF)
    return 0;                                                  // overlong / too big
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;  // surrogates
  return length;
}

std::optional<std::size_t> utf8_code_point_count(std::string_view text) {
  std::size_t count = 0;
  std::uint32_t code_point = 0;
  for (std::size_t position = 0; position < text.size(); ++count) {
    const std::size_t length = utf8_sequence_at(text, position, code_point);
    if (length == 0) return std::nullopt;
    position += length;
  }
  return count;
}

bool is_valid_utf8(std::string_view text) {
  return utf8_code_point_count(text).has_value();
}

}  // namespace parley
