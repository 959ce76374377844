#include "server/muc_nickname.hpp"

#include <cstdint>

#if PARLEY_HAVE_ICU
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#endif

namespace parley::server {
namespace {

bool is_ascii(std::string_view text) {
  for (const char c : text)
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  return true;
}

// RFC 8266 additional mapping rule, second half: no leading or trailing spaces, one space
// where there were several.
template <class CharT>
std::basic_string<CharT> trim_and_collapse_spaces(const std::basic_string<CharT>& text) {
  std::basic_string<CharT> out;
  out.reserve(text.size());
  bool pending_space = false;
  for (const CharT c : text) {
    if (c == CharT(' ')) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(CharT(' '));
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

Result<std::string> empty_nickname() {
  return fail(Error::invalid_argument("nickname is empty or consists only of spaces"));
}

Result<std::string> ascii_key(std::string_view nickname) {
  std::string lowered(nickname);
  for (char& c : lowered)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  std::string key = trim_and_collapse_spaces(lowered);
  if (key.empty()) return empty_nickname();
  return key;
}

#if PARLEY_HAVE_ICU

Result<std::u16string> to_utf16(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strFromUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status))
    return fail(Error::invalid_argument("nickname is not valid UTF-8"));
  std::u16string out(static_cast<std::size_t>(length), u'\0');
  status = U_ZERO_ERROR;
  u_strFromUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()),
                &status);
  if (U_FAILURE(status)) return fail(Error::invalid_argument("nickname is not valid UTF-8"));
  return out;
}

Result<std::string> to_utf8(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strToUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status))
    return fail(Error{ErrorKind::internal, "nickname key: UTF-16 to UTF-8 failed"});
  std::string out(static_cast<std::size_t>(length), '\0');
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()), &status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "nickname key: UTF-8 failed"});
  return out;
}

// RFC 8266 additional mapping rule: every non-ASCII space (general category Zs) becomes U+0020.
std::u16string map_spaces(const std::u16string& text) {
  std::u16string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    UChar32 cp = 0;
    U16_NEXT(text.data(), i, text.size(), cp);
    if (u_charType(cp) == U_SPACE_SEPARATOR) {
      out.push_back(u' ');
    } else if (U_IS_BMP(cp)) {
      out.push_back(static_cast<char16_t>(cp));
    } else {
      out.push_back(static_cast<char16_t>(U16_LEAD(cp)));
      out.push_back(static_cast<char16_t>(U16_TRAIL(cp)));
    }
  }
  return out;
}

// RFC 8266 case mapping rule: Unicode toLowerCase, root locale (no Turkish dotless i surprises).
Result<std::u16string> lowercase(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const int32_t length =
      u_strToLower(nullptr, 0, text.data(), static_cast<int32_t>(text.size()), "", &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status))
    return fail(Error{ErrorKind::internal, "nickname key: lowercase failed"});
  std::u16string out(static_cast<std::size_t>(length), u'\0');
  status = U_ZERO_ERROR;
  u_strToLower(out.data(), length, text.data(), static_cast<int32_t>(text.size()), "", &status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "nickname key: lowercase failed"});
  return out;
}

// RFC 8266 normalization rule: NFKC.
Result<std::u16string> normalize_nfkc(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfkc = unorm2_getNFKCInstance(&status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "ICU has no NFKC data"});
  const int32_t length =
      unorm2_normalize(nfkc, text.data(), static_cast<int32_t>(text.size()), nullptr, 0, &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status))
    return fail(Error{ErrorKind::internal, "nickname key: NFKC failed"});
  std::u16string out(static_cast<std::size_t>(length), u'\0');
  status = U_ZERO_ERROR;
  unorm2_normalize(nfkc, text.data(), static_cast<int32_t>(text.size()), out.data(), length,
                   &status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "nickname key: NFKC failed"});
  return out;
}

Result<std::string> unicode_key(std::string_view nickname) {
  auto text = to_utf16(nickname);
  if (!text) return fail(text.error());
  std::u16string current = std::move(*text);
  // The rules are applied until the result is stable (a compatibility decomposition can bring
  // back spaces or capitals); real strings settle in one or two rounds.
  constexpr int kMaxRounds = 4;
  for (int round = 0; round < kMaxRounds; ++round) {
    auto lowered = lowercase(trim_and_collapse_spaces(map_spaces(current)));
    if (!lowered) return fail(lowered.error());
    auto normalized = normalize_nfkc(*lowered);
    if (!normalized) return fail(normalized.error());
    std::u16string next = trim_and_collapse_spaces(map_spaces(*normalized));
    if (next == current) {
      if (next.empty()) return empty_nickname();
      return to_utf8(next);
    }
    current = std::move(next);
  }
  return fail(Error::invalid_argument("nickname does not settle under the Nickname profile"));
}

#endif  // PARLEY_HAVE_ICU

}  // namespace

Result<std::string> nickname_comparison_key(std::string_view nickname) {
  if (nickname.empty()) return empty_nickname();
  if (is_ascii(nickname)) return ascii_key(nickname);
#if PARLEY_HAVE_ICU
  return unicode_key(nickname);
#else
  return fail(Error::invalid_argument(
      "nickname contains non-ASCII characters and this build has no Unicode preparation"));
#endif
}

}  // namespace parley::server
