#include "xmpp/base64.hpp"

#include <array>

namespace parley::xmpp {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// -1 for every byte outside the alphabet, so that '-', '_', whitespace and '=' all stop decoding.
constexpr std::array<int, 256> make_decode_table() {
  std::array<int, 256> table{};
  for (int& value : table) value = -1;
  for (std::size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  }
  return table;
}
constexpr std::array<int, 256> kDecodeTable = make_decode_table();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned value = static_cast<unsigned char>(bytes[i]) << 16 |
                           static_cast<unsigned char>(bytes[i + 1]) << 8 |
                           static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[value >> 18 & 63];
    out += kAlphabet[value >> 12 & 63];
    out += kAlphabet[value >> 6 & 63];
    out += kAlphabet[value & 63];
  }
  const std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    const unsigned value = static_cast<unsigned char>(bytes[i]) << 16;
    out += kAlphabet[value >> 18 & 63];
    out += kAlphabet[value >> 12 & 63];
    out += "==";
  } else if (rest == 2) {
    const unsigned value =
        static_cast<unsigned char>(bytes[i]) << 16 | static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kAlphabet[value >> 18 & 63];
    out += kAlphabet[value >> 12 & 63];
    out += kAlphabet[value >> 6 & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode_strict(std::string_view text, std::size_t max_decoded) {
  if (text.size() % 4 != 0) {
    return fail(Error::parse("base64 text of " + std::to_string(text.size()) +
                             " characters is not a whole number of 4-character groups "
                             "(padding is required)"));
  }
  // Checked before decoding so that a huge input costs nothing but this comparison.
  if (text.size() / 4 * 3 > max_decoded + 2) {
    return fail(Error::limit("base64 text decodes to more than " + std::to_string(max_decoded) +
                             " octets"));
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;

  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t group = 0; group < text.size(); group += 4) {
    const bool last_group = group + 4 == text.size();
    const std::size_t data_characters = last_group ? 4 - padding : 4;
    unsigned value = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[group + k];
      if (k >= data_characters) {
        // Only reached in the last group, where `padding` counted these as '='.
        value <<= 6;
        continue;
      }
      const int digit = kDecodeTable[static_cast<unsigned char>(c)];
      if (digit < 0) {
        return fail(Error::parse(
            std::string("base64 text has ") +
            (c == '=' ? "padding before its end" : "a character outside the base64 alphabet") +
            " at offset " + std::to_string(group + k)));
      }
      value = value << 6 | static_cast<unsigned>(digit);
    }
    out += static_cast<char>(value >> 16 & 0xff);
    if (data_characters >= 3) out += static_cast<char>(value >> 8 & 0xff);
    if (data_characters == 4) out += static_cast<char>(value & 0xff);
    // RFC 4648 3.5: the bits that padding leaves over must be zero, or two texts decode alike.
    if (data_characters == 2 && (value & 0xffff) != 0) {
      return fail(
          Error::parse("base64 text is not canonical: the last group has non-zero "
                       "unused bits"));
    }
    if (data_characters == 3 && (value & 0xff) != 0) {
      return fail(
          Error::parse("base64 text is not canonical: the last group has non-zero "
                       "unused bits"));
    }
  }
  if (out.size() > max_decoded) {
    return fail(Error::limit("base64 text decodes to more than " + std::to_string(max_decoded) +
                             " octets"));
  }
  return out;
}

}  // namespace parley::xmpp
