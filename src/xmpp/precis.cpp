#include "xmpp/precis.hpp"

#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

#if PARLEY_HAVE_ICU
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf16.h>
#endif

namespace parley::xmpp::precis {
namespace {

bool is_ascii(std::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

std::string code_point_name(std::uint32_t cp) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "U+%04X", static_cast<unsigned>(cp));
  return buffer;
}

Result<std::string> check_input_size(std::string_view text) {
  if (text.empty()) return fail(Error::invalid_argument("is empty"));
  if (text.size() > kMaxInputOctets) {
    return fail(Error::limit("is longer than " + std::to_string(kMaxInputOctets) + " octets"));
  }
  return std::string();
}

// RFC 8264 9.12 (Controls) and 9.11 (ASCII7): the whole of what the two classes say about ASCII.
// In IdentifierClass only ASCII7 (U+0021..U+007E) is valid: space is a Zs code point, which the
// class disallows. FreeformClass also takes U+0020 (Spaces, 9.14).
Result<std::string> enforce_ascii(std::string_view text, bool lowercase, bool space_allowed) {
  std::string out(text);
  for (char& c : out) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return fail(Error::invalid_argument("contains the control character " +
                                          code_point_name(byte) + ", which PRECIS disallows"));
    }
    if (byte == 0x20 && !space_allowed) {
      return fail(Error::invalid_argument(
          "contains a space (U+0020), which the PRECIS IdentifierClass disallows"));
    }
    if (lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

#if PARLEY_HAVE_ICU

// The derived property values of RFC 8264 8, as far as the two string classes tell them apart.
enum class Derived {
  pvalid,       // valid in both classes
  free_pvalid,  // FreeformClass only (ID_DIS in IdentifierClass)
  contextual,   // CONTEXTJ / CONTEXTO: refused here, see the header
  disallowed,
  unassigned,
};

bool in(std::uint32_t cp, std::uint32_t first, std::uint32_t last) {
  return cp >= first && cp <= last;
}

// RFC 8264 9.13 HasCompat: toNFKC(cp) != cp.
bool has_compatibility_mapping(UChar32 cp) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfkc = unorm2_getNFKCInstance(&status);
  if (U_FAILURE(status)) return true;  // fail closed: treated as not valid in IdentifierClass
  UChar buffer[4];
  int32_t length = 0;
  U16_APPEND_UNSAFE(buffer, length, cp);
  return unorm2_isNormalized(nfkc, buffer, length, &status) == 0 || U_FAILURE(status);
}

// RFC 8264 8, the algorithm's steps in its order; the first that applies decides.
Derived derive(UChar32 cp) {
  const auto u = static_cast<std::uint32_t>(cp);
  // 9.6 Exceptions (RFC 5892 2.6)
  if (u == 0x00DF || u == 0x03C2 || u == 0x06FD || u == 0x06FE || u == 0x0F0B || u == 0x3007) {
    return Derived::pvalid;
  }
  if (u == 0x00B7 || u == 0x0375 || u == 0x05F3 || u == 0x05F4 || u == 0x30FB ||
      in(u, 0x0660, 0x0669) || in(u, 0x06F0, 0x06F9)) {
    return Derived::contextual;
  }
  if (u == 0x0640 || u == 0x07FA || u == 0x302E || u == 0x302F || in(u, 0x3031, 0x3035) ||
      u == 0x303B) {
    return Derived::disallowed;
  }
  // 9.7 BackwardCompatible is empty.
  const auto category = static_cast<UCharCategory>(u_charType(cp));
  const bool noncharacter = u_hasBinaryProperty(cp, UCHAR_NONCHARACTER_CODE_POINT) != 0;
  // 9.10 Unassigned
  if (category == U_UNASSIGNED && !noncharacter) return Derived::unassigned;
  // 9.11 ASCII7
  if (in(u, 0x21, 0x7E)) return Derived::pvalid;
  // 9.8 JoinControl
  if (u == 0x200C || u == 0x200D) return Derived::contextual;
  // 9.9 OldHangulJamo
  const int jamo = u_getIntPropertyValue(cp, UCHAR_HANGUL_SYLLABLE_TYPE);
  if (jamo == U_HST_LEADING_JAMO || jamo == U_HST_VOWEL_JAMO || jamo == U_HST_TRAILING_JAMO) {
    return Derived::disallowed;
  }
  // 9.13 PrecisIgnorableProperties
  if (u_hasBinaryProperty(cp, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) != 0 || noncharacter) {
    return Derived::disallowed;
  }
  // 9.12 Controls
  if (category == U_CONTROL_CHAR) return Derived::disallowed;
  // 9.17 HasCompat
  if (has_compatibility_mapping(cp)) return Derived::free_pvalid;
  switch (category) {
    // 9.1 LetterDigits
    case U_LOWERCASE_LETTER:
    case U_UPPERCASE_LETTER:
    case U_OTHER_LETTER:
    case U_DECIMAL_DIGIT_NUMBER:
    case U_MODIFIER_LETTER:
    case U_NON_SPACING_MARK:
    case U_COMBINING_SPACING_MARK:
      return Derived::pvalid;
    // 9.18 OtherLetterDigits, 9.14 Spaces, 9.15 Symbols, 9.16 Punctuation
    case U_TITLECASE_LETTER:
    case U_LETTER_NUMBER:
    case U_OTHER_NUMBER:
    case U_ENCLOSING_MARK:
    case U_SPACE_SEPARATOR:
    case U_MATH_SYMBOL:
    case U_CURRENCY_SYMBOL:
    case U_MODIFIER_SYMBOL:
    case U_OTHER_SYMBOL:
    case U_CONNECTOR_PUNCTUATION:
    case U_DASH_PUNCTUATION:
    case U_START_PUNCTUATION:
    case U_END_PUNCTUATION:
    case U_INITIAL_PUNCTUATION:
    case U_FINAL_PUNCTUATION:
    case U_OTHER_PUNCTUATION:
      return Derived::free_pvalid;
    default:
      return Derived::disallowed;
  }
}

Result<std::u16string> to_utf16(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strFromUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) {
    return fail(Error::invalid_argument("is not valid UTF-8 text"));
  }
  std::u16string out(static_cast<std::size_t>(length), u'\0');
  status = U_ZERO_ERROR;
  u_strFromUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()),
                &status);
  if (U_FAILURE(status)) return fail(Error::invalid_argument("is not valid UTF-8 text"));
  return out;
}

Result<std::string> to_utf8(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  int32_t length = 0;
  u_strToUTF8(nullptr, 0, &length, text.data(), static_cast<int32_t>(text.size()), &status);
  if (status != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(status)) {
    return fail(Error{ErrorKind::internal, "UTF-16 to UTF-8 conversion failed"});
  }
  std::string out(static_cast<std::size_t>(length), '\0');
  status = U_ZERO_ERROR;
  u_strToUTF8(out.data(), length, nullptr, text.data(), static_cast<int32_t>(text.size()), &status);
  if (U_FAILURE(status))
    return fail(Error{ErrorKind::internal, "UTF-16 to UTF-8 conversion failed"});
  return out;
}

std::vector<UChar32> code_points(const std::u16string& text) {
  std::vector<UChar32> out;
  const auto length = static_cast<int32_t>(text.size());
  for (int32_t i = 0; i < length;) {
    UChar32 cp = 0;
    U16_NEXT(text.data(), i, length, cp);
    out.push_back(cp);
  }
  return out;
}

std::u16string from_code_points(const std::vector<UChar32>& cps) {
  std::u16string out;
  for (const UChar32 cp : cps) {
    if (cp > 0xFFFF) {
      out += static_cast<char16_t>(U16_LEAD(cp));
      out += static_cast<char16_t>(U16_TRAIL(cp));
    } else {
      out += static_cast<char16_t>(cp);
    }
  }
  return out;
}

Result<std::u16string> normalize_nfc(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "ICU has no NFC normalizer"});
  // NFC of a string is at most three times as long (Unicode UAX #15, "Stream-Safe" bounds).
  std::u16string out(text.size() * 3 + 1, u'\0');
  const int32_t length = unorm2_normalize(nfc, text.data(), static_cast<int32_t>(text.size()),
                                          out.data(), static_cast<int32_t>(out.size()), &status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "NFC normalization failed"});
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// RFC 8265 3.3.2 step 1 (RFC 8264 5.2.1 width mapping): fullwidth and halfwidth forms to their
// decomposition mapping (Unicode <wide> and <narrow> decompositions).
Result<std::vector<UChar32>> map_width(const std::vector<UChar32>& cps) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfkc = unorm2_getNFKCInstance(&status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "ICU has no NFKC data"});
  std::vector<UChar32> out;
  for (const UChar32 cp : cps) {
    const int type = u_getIntPropertyValue(cp, UCHAR_DECOMPOSITION_TYPE);
    if (type != U_DT_WIDE && type != U_DT_NARROW) {
      out.push_back(cp);
      continue;
    }
    UChar buffer[8];
    status = U_ZERO_ERROR;
    const int32_t length = unorm2_getRawDecomposition(nfkc, cp, buffer, 8, &status);
    if (U_FAILURE(status) || length <= 0) {
      out.push_back(cp);
      continue;
    }
    for (int32_t i = 0; i < length;) {
      UChar32 mapped = 0;
      U16_NEXT(buffer, i, length, mapped);
      out.push_back(mapped);
    }
  }
  return out;
}

Result<std::u16string> to_lower(const std::u16string& text) {
  UErrorCode status = U_ZERO_ERROR;
  // Lowercasing can grow a string (U+0130 becomes two code points); three times is ample.
  std::u16string out(text.size() * 3 + 1, u'\0');
  // The root locale: RFC 8265 3.3.2 wants Unicode's default toLowerCase, never Turkish rules.
  const int32_t length = u_strToLower(out.data(), static_cast<int32_t>(out.size()), text.data(),
                                      static_cast<int32_t>(text.size()), "", &status);
  if (U_FAILURE(status)) return fail(Error{ErrorKind::internal, "lowercasing failed"});
  out.resize(static_cast<std::size_t>(length));
  return out;
}

// RFC 5893 2, applied (RFC 8265 3.3.2 step 5) only to strings holding a right-to-left character.
std::optional<std::string> bidi_rule_problem(const std::vector<UChar32>& cps) {
  bool right_to_left = false;
  for (const UChar32 cp : cps) {
    const UCharDirection d = u_charDirection(cp);
    if (d == U_RIGHT_TO_LEFT || d == U_RIGHT_TO_LEFT_ARABIC || d == U_ARABIC_NUMBER) {
      right_to_left = true;
    }
  }
  if (!right_to_left) return std::nullopt;
  const std::string rule = "breaks the Bidi Rule (RFC 5893 2): ";
  // Rule 1
  const UCharDirection first = u_charDirection(cps.front());
  if (first != U_RIGHT_TO_LEFT && first != U_RIGHT_TO_LEFT_ARABIC) {
    return rule + "a string with right-to-left characters must start with one";
  }
  bool european_number = false;
  bool arabic_number = false;
  for (const UChar32 cp : cps) {
    // Rule 2
    switch (u_charDirection(cp)) {
      case U_RIGHT_TO_LEFT:
      case U_RIGHT_TO_LEFT_ARABIC:
      case U_EUROPEAN_NUMBER_SEPARATOR:
      case U_COMMON_NUMBER_SEPARATOR:
      case U_EUROPEAN_NUMBER_TERMINATOR:
      case U_OTHER_NEUTRAL:
      case U_BOUNDARY_NEUTRAL:
      case U_DIR_NON_SPACING_MARK:
        break;
      case U_EUROPEAN_NUMBER:
        european_number = true;
        break;
      case U_ARABIC_NUMBER:
        arabic_number = true;
        break;
      default:
        return rule + code_point_name(static_cast<std::uint32_t>(cp)) +
               " may not appear in a right-to-left string";
    }
  }
  // Rule 4
  if (european_number && arabic_number) {
    return rule + "European and Arabic-Indic digits are mixed";
  }
  // Rule 3
  std::size_t last = cps.size();
  while (last > 0 && u_charDirection(cps[last - 1]) == U_DIR_NON_SPACING_MARK) --last;
  if (last == 0) return rule + "the string holds only combining marks";
  const UCharDirection end = u_charDirection(cps[last - 1]);
  if (end != U_RIGHT_TO_LEFT && end != U_RIGHT_TO_LEFT_ARABIC && end != U_EUROPEAN_NUMBER &&
      end != U_ARABIC_NUMBER) {
    return rule + "a right-to-left string must end with a right-to-left character or a digit";
  }
  return std::nullopt;
}

enum class StringClass { identifier, freeform };

std::optional<std::string> string_class_problem(const std::vector<UChar32>& cps,
                                                StringClass string_class) {
  const char* class_name =
      string_class == StringClass::identifier ? "IdentifierClass" : "FreeformClass";
  for (const UChar32 cp : cps) {
    const Derived derived = derive(cp);
    const std::string what = code_point_name(static_cast<std::uint32_t>(cp));
    switch (derived) {
      case Derived::pvalid:
        continue;
      case Derived::free_pvalid:
        if (string_class == StringClass::freeform) continue;
        return "contains " + what + ", which the PRECIS " + class_name +
               " disallows (symbols, punctuation, spaces and compatibility characters)";
      case Derived::contextual:
        return "contains " + what +
               ", which is valid only in contexts (RFC 5892 appendix A) that Parley does not "
               "check, so it is refused";
      case Derived::unassigned:
        return "contains " + what + ", which is unassigned in this Unicode version";
      case Derived::disallowed:
        return "contains " + what + ", which the PRECIS " + class_name +
               " disallows (controls, ignorable, private-use or otherwise excluded code points)";
    }
  }
  return std::nullopt;
}

Result<std::string> enforce_unicode_username(std::string_view text) {
  Result<std::u16string> utf16 = to_utf16(text);
  if (!utf16) return fail(utf16.error());
  Result<std::vector<UChar32>> widened = map_width(code_points(*utf16));
  if (!widened) return fail(widened.error());
  Result<std::u16string> lower = to_lower(from_code_points(*widened));
  if (!lower) return fail(lower.error());
  Result<std::u16string> normal = normalize_nfc(*lower);
  if (!normal) return fail(normal.error());
  const std::vector<UChar32> cps = code_points(*normal);
  if (cps.empty()) return fail(Error::invalid_argument("is empty after preparation"));
  if (std::optional<std::string> problem = bidi_rule_problem(cps)) {
    return fail(Error::invalid_argument(*problem));
  }
  if (std::optional<std::string> problem = string_class_problem(cps, StringClass::identifier)) {
    return fail(Error::invalid_argument(*problem));
  }
  return to_utf8(*normal);
}

Result<std::string> enforce_unicode_opaque(std::string_view text) {
  Result<std::u16string> utf16 = to_utf16(text);
  if (!utf16) return fail(utf16.error());
  std::vector<UChar32> cps = code_points(*utf16);
  // RFC 8265 4.2.2 step 2: every non-ASCII space (general category Zs) becomes U+0020.
  for (UChar32& cp : cps) {
    if (cp != 0x20 && u_charType(cp) == U_SPACE_SEPARATOR) cp = 0x20;
  }
  Result<std::u16string> normal = normalize_nfc(from_code_points(cps));
  if (!normal) return fail(normal.error());
  cps = code_points(*normal);
  if (cps.empty()) return fail(Error::invalid_argument("is empty after preparation"));
  if (std::optional<std::string> problem = string_class_problem(cps, StringClass::freeform)) {
    return fail(Error::invalid_argument(*problem));
  }
  return to_utf8(*normal);
}

#endif  // PARLEY_HAVE_ICU

#if !PARLEY_HAVE_ICU
Result<std::string> refuse_non_ascii() {
  return fail(Error::invalid_argument(
      "contains non-ASCII characters and this build has no Unicode preparation (PRECIS needs "
      "ICU): use ASCII"));
}
#endif

}  // namespace

bool unicode_available() {
#if PARLEY_HAVE_ICU
  return true;
#else
  return false;
#endif
}

Result<std::string> enforce_username_case_mapped(std::string_view text) {
  if (Result<std::string> size = check_input_size(text); !size) return size;
  if (is_ascii(text)) return enforce_ascii(text, /*lowercase=*/true, /*space_allowed=*/false);
#if PARLEY_HAVE_ICU
  return enforce_unicode_username(text);
#else
  return refuse_non_ascii();
#endif
}

Result<std::string> enforce_opaque_string(std::string_view text) {
  if (Result<std::string> size = check_input_size(text); !size) return size;
  if (is_ascii(text)) return enforce_ascii(text, /*lowercase=*/false, /*space_allowed=*/true);
#if PARLEY_HAVE_ICU
  return enforce_unicode_opaque(text);
#else
  return refuse_non_ascii();
#endif
}

}  // namespace parley::xmpp::precis
