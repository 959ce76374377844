#include "pki/identity.hpp"

#include <libpsl.h>

#include "core/utf8.hpp"

#if PARLEY_HAVE_LIBIDN2
#include <idn2.h>
#endif

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace parley::pki {
namespace {

// RFC 1035 2.3.4 allows 255 octets on the wire, which is 253 characters of text without the
// trailing dot; labels are at most 63 octets.
constexpr std::size_t kMaxDnsNameLength = 253;
constexpr std::size_t kMaxLabelLength = 63;
// A 253-character name holds at most 127 one-character labels; a loop that would see more has
// been handed a name nobody checked, and stops.
constexpr std::size_t kMaxLabels = (kMaxDnsNameLength + 1) / 2;
// The longest strict forms: "255.255.255.255" and "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255".
constexpr std::size_t kMaxIpv4TextLength = 15;
constexpr std::size_t kMaxIpv6TextLength = 45;
constexpr std::size_t kIpv6Groups = 8;
// Error messages quote user input; a megabyte of it helps nobody.
constexpr std::size_t kMaxQuotedLength = 80;
// Presented identities shown to people: a certificate may carry a name of 64 KiB; a prompt shows
// this many characters of it.
constexpr std::size_t kMaxShownCharacters = 256;
// U-label input handed to libidn2: a name of 253 A-label octets is at most a few hundred octets of
// UTF-8 (RFC 7622 3.2 bounds a domainpart at 1023 octets); longer input is refused unread.
constexpr std::size_t kMaxInternationalNameLength = 1023;
// DER lengths: Parley reads short form and long form with one or two octets. 65535 octets is far
// beyond any name (a JID is at most 3071 octets, RFC 7622 3.1).
constexpr std::size_t kMaxDerLengthOctets = 2;
constexpr unsigned char kDerUtf8String = 0x0c;
constexpr unsigned char kDerIa5String = 0x16;

bool is_ascii_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string ascii_lowercase(std::string_view text) {
  std::string lowered;
  lowered.reserve(text.size());
  for (const char c : text) lowered.push_back(ascii_lower(c));
  return lowered;
}

int hex_digit_value(char c) {
  if (is_ascii_digit(c)) return c - '0';
  const char lower = ascii_lower(c);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

std::string_view without_trailing_dot(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return name;
}

// User input goes into error messages; control bytes and non-ASCII are shown as \xNN so that a
// message can neither forge terminal output nor hide what was refused.
std::string quoted(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const std::size_t shown = text.size() < kMaxQuotedLength ? text.size() : kMaxQuotedLength;
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\' && byte != '\'') {
      out.push_back(static_cast<char>(byte));
    } else {
      out += "\\x";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xf]);
    }
  }
  if (shown < text.size()) out += "...";
  out += "'";
  return out;
}

bool has_non_ascii(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// Certificate text for people: UTF-8 stays readable, but C0 and C1 controls, DEL, backslashes and
// bytes that are not UTF-8 become \xNN, so that a name can neither drive a terminal (ESC, CSI
// U+009B) nor pass for another one.
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  std::size_t shown = 0;
  std::size_t position = 0;
  const auto escape = [&out](unsigned char byte) {
    out += "\\x";
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  };
  while (position < text.size() && shown < kMaxShownCharacters) {
    std::uint32_t code_point = 0;
    const std::size_t length = utf8_sequence_at(text, position, code_point);
    ++shown;
    if (length == 0) {
      escape(static_cast<unsigned char>(text[position]));
      ++position;
      continue;
    }
    const bool control =
        code_point < 0x20 || (code_point >= 0x7f && code_point < 0xa0) || code_point == '\\';
    if (control) {
      for (std::size_t i = 0; i < length; ++i)
        escape(static_cast<unsigned char>(text[position + i]));
    } else {
      out.append(text.substr(position, length));
    }
    position += length;
  }
  if (position < text.size()) out += "...";
  return out;
}

// A-labels for a name that may hold U-labels (RFC 5891 with UTS 46 non-transitional mapping, as
// browsers and libcurl do). ASCII input is returned as it is, unchecked: the caller applies the
// DNS syntax rules to whatever comes out. The error is a sentence fragment.
Result<std::string> to_a_labels(std::string_view name) {
  if (!has_non_ascii(name)) return std::string(name);
  if (name.size() > kMaxInternationalNameLength) {
    return fail(Error::invalid_argument("is longer than " +
                                        std::to_string(kMaxInternationalNameLength) + " octets"));
  }
  // libidn2 reads a C string: an embedded NUL would make it convert a shorter name.
  if (name.find('\0') != std::string_view::npos || !is_valid_utf8(name)) {
    return fail(Error::invalid_argument("is not valid UTF-8 text"));
  }
#if PARLEY_HAVE_LIBIDN2
  const std::string input(name);
  char* output = nullptr;
  const int status =
      idn2_to_ascii_8z(input.c_str(), &output, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
  const std::unique_ptr<char, decltype(&idn2_free)> owned(output, &idn2_free);
  if (status != IDN2_OK || output == nullptr) {
    return fail(Error::invalid_argument(
        std::string("is not a valid internationalised domain name (IDNA2008 / UTS 46: ") +
        idn2_strerror(status) + ")"));
  }
  return std::string(output);
#else
  return fail(Error::invalid_argument(
      "contains non-ASCII characters and this build has no IDNA support (libidn2): give "
      "internationalised names as A-labels ('xn--...')"));
#endif
}

// Splits a name of at most kMaxDnsNameLength characters (trailing dot already removed) at its
// dots. Empty labels are kept so that the caller can report them.
std::vector<std::string_view> split_labels(std::string_view body) {
  std::vector<std::string_view> labels;
  std::size_t start = 0;
  for (std::size_t count = 0; count <= kMaxLabels; ++count) {
    const std::size_t dot = body.find('.', start);
    if (dot == std::string_view::npos) {
      labels.push_back(body.substr(start));
      return labels;
    }
    labels.push_back(body.substr(start, dot - start));
    start = dot + 1;
  }
  return labels;  // unreachable for names within the length limit; callers check the length first
}

// inet_aton, getaddrinfo and the WHATWG URL parser all read a name whose last label is a number
// (decimal, "0x" hex, or octal, which is decimal digits too) as an IPv4 address: "127.1",
// "0x7f000001". Such a name must never be taken for a DNS name on either side, or a certificate
// for the "name" would vouch for an address.
bool looks_like_a_number(std::string_view label) {
  if (label.empty()) return false;
  if (label.size() >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    for (const char c : label.substr(2)) {
      if (hex_digit_value(c) < 0) return false;
    }
    return true;
  }
  for (const char c : label) {
    if (!is_ascii_digit(c)) return false;
  }
  return true;
}

std::optional<std::string> label_problem(std::string_view label) {
  if (label.empty()) return "has an empty label (a leading dot or two dots in a row)";
  if (label.size() > kMaxLabelLength) return "has a label longer than 63 characters";
  for (const char c : label) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '*') {
      return "has a wildcard that is not the entire leftmost label ('f*.example.com', "
             "'xn--*', 'foo.*.example.com' are never honoured)";
    }
    if (byte >= 0x80) {
      return "contains non-ASCII characters (give internationalised names as A-labels, "
             "'xn--...')";
    }
    if (c == '_') {
      return "contains '_', which host names cannot (RFC 1123 2.1, RFC 5280 4.2.1.6)";
    }
    if (!is_ascii_letter(c) && !is_ascii_digit(c) && c != '-') {
      return "contains " + quoted(std::string_view(&c, 1)) +
             ", which DNS names cannot (letters, digits and '-' only)";
    }
  }
  if (label.front() == '-' || label.back() == '-')
    return "has a label that starts or ends with '-'";
  return std::nullopt;
}

// libpsl context, loaded once for the life of the process. psl_latest() takes the newer of
// libpsl's built-in copy and the distribution's file (Debian package publicsuffix), so an update
// of either one takes effect.
struct PublicSuffixListDeleter {
  void operator()(psl_ctx_t* list) const { psl_free(list); }
};

const psl_ctx_t* public_suffix_list() {
  static const std::unique_ptr<psl_ctx_t, PublicSuffixListDeleter> loaded{psl_latest(nullptr)};
  if (loaded) return loaded.get();
  return psl_builtin();  // may be nullptr too; the caller fails closed
}

bool ip_address_matches(const GeneralName& presented, const ReferenceIdentity& reference) {
  const std::size_t size = reference.value.size();
  if (size != 4 && size != 16) return false;  // a hand-built reference that parse() never makes
  return presented.value == reference.value;
}

// RFC 5952 text (lowercase, longest run of two or more zero groups compressed), for reports.
std::string format_ip_address(std::string_view octets) {
  if (octets.size() == 4) {
    std::string text;
    for (std::size_t i = 0; i < 4; ++i) {
      if (i > 0) text.push_back('.');
      text += std::to_string(static_cast<unsigned char>(octets[i]));
    }
    return text;
  }
  if (octets.size() != 16)
    return "(malformed address of " + std::to_string(octets.size()) + " octets)";
  std::array<unsigned, kIpv6Groups> groups{};
  for (std::size_t i = 0; i < kIpv6Groups; ++i) {
    groups[i] = (static_cast<unsigned>(static_cast<unsigned char>(octets[2 * i])) << 8) |
                static_cast<unsigned char>(octets[2 * i + 1]);
  }
  std::size_t best_start = kIpv6Groups;
  std::size_t best_length = 1;  // RFC 5952 4.2.2: a single zero group is not compressed
  for (std::size_t start = 0; start < kIpv6Groups; ++start) {
    std::size_t length = 0;
    while (start + length < kIpv6Groups && groups[start + length] == 0) ++length;
    if (length > best_length) {
      best_start = start;
      best_length = length;
    }
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < kIpv6Groups; ++i) {
    if (i == best_start) {
      text += "::";
      i += best_length - 1;
      continue;
    }
    if (!text.empty() && text.back() != ':') text.push_back(':');
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned digit = (groups[i] >> shift) & 0xf;
      if (digit == 0 && !started && shift != 0) continue;
      started = true;
      text.push_back(kHex[digit]);
    }
  }
  return text;
}

IdentityResult verdict_only(IdentityVerdict verdict) {
  IdentityResult result;
  result.verdict = verdict;
  return result;
}

IdentityResult matched_by(std::string presented) {
  IdentityResult result;
  result.verdict = IdentityVerdict::match;
  result.matched = std::move(presented);
  return result;
}

std::string display_of(const GeneralName& presented) {
  if (presented.kind == GeneralNameKind::ip_address) return format_ip_address(presented.value);
  return presented.value;
}

// CA/B Forum BR 7.1.4.3 allows one commonName at most; with several there is no telling which one
// the CA vetted, so none is used.
enum class CommonNameCount { none, one, several };

CommonNameCount find_sole_common_name(const DistinguishedName& subject, std::string& sole) {
  CommonNameCount count = CommonNameCount::none;
  for (const RelativeDistinguishedName& rdn : subject.rdns) {
    for (const NameAttribute& attribute : rdn) {
      if (attribute.type_oid != kOidCommonName) continue;
      if (count != CommonNameCount::none) return CommonNameCount::several;
      count = CommonNameCount::one;
      sole = attribute.value_utf8;
    }
  }
  return count;
}

// True for every spelling inet_aton() turns into an IPv4 address: one to four dot-separated
// numbers, each decimal, octal ("010") or hex ("0xC0"), as in "0xC0A80101" or "192.168.001.001".
bool looks_like_loose_ipv4(std::string_view text) {
  if (text.empty() || text.size() > kMaxDnsNameLength) return false;
  std::size_t start = 0;
  for (std::size_t part = 0; part < 4; ++part) {
    const std::size_t dot = text.find('.', start);
    const std::string_view number =
        text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!looks_like_a_number(number)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
  return false;  // a fifth part
}

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// Parses "h16 *(':' h16)" where only the last piece may be an IPv4 dotted quad (when allowed).
// An empty part is zero groups: it sits next to "::". Appends 16-bit groups to `groups`.
bool parse_ipv6_groups(std::string_view part, bool ipv4_tail_allowed,
                       std::vector<std::uint16_t>& groups) {
  if (part.empty()) return true;
  std::size_t start = 0;
  for (std::size_t pieces = 0; pieces < kIpv6Groups; ++pieces) {
    const std::size_t colon = part.find(':', start);
    const std::string_view piece = part.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    const bool last = colon == std::string_view::npos;
    if (last && ipv4_tail_allowed && piece.find('.') != std::string_view::npos) {
      const std::optional<std::string> ipv4 = parse_ipv4(piece);
      if (!ipv4) return false;
      for (std::size_t i = 0; i < 4; i += 2) {
        groups.push_back(static_cast<std::uint16_t>((static_cast<unsigned char>((*ipv4)[i]) << 8) |
                                                    static_cast<unsigned char>((*ipv4)[i + 1])));
      }
      return true;
    }
    // An empty piece is a lone ':' at either end or ":::"; both are malformed.
    if (piece.empty() || piece.size() > 4) return false;
    unsigned value = 0;
    for (const char c : piece) {
      const int digit = hex_digit_value(c);
      if (digit < 0) return false;
      value = (value << 4) | static_cast<unsigned>(digit);
    }
    groups.push_back(static_cast<std::uint16_t>(value));
    if (last) return true;
    start = colon + 1;
  }
  return false;  // more than eight pieces
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Syntax

std::optional<std::string> dns_name_problem(std::string_view name, WildcardSyntax wildcard) {
  const std::string_view body = without_trailing_dot(name);
  if (body.empty()) return std::string("is empty");
  if (body.size() > kMaxDnsNameLength) return std::string("is longer than 253 characters");
  const std::vector<std::string_view> labels = split_labels(body);

  std::size_t first_ordinary_label = 0;
  if (labels.front() == "*") {
    if (wildcard == WildcardSyntax::forbidden) {
      return std::string("contains a wildcard, which only a presented identifier may");
    }
    // "*" and "*.com" would name every host under the root or a top-level domain.
    if (labels.size() < 3) return std::string("has a wildcard with fewer than two labels after it");
    first_ordinary_label = 1;
  }
  for (std::size_t i = first_ordinary_label; i < labels.size(); ++i) {
    if (std::optional<std::string> problem = label_problem(labels[i])) return problem;
  }
  if (looks_like_a_number(labels.back())) {
    return std::string(
        "ends in an all-numeric label, so it reads as an IPv4 address, yet it is not a strict "
        "dotted quad (four decimal parts 0-255, no leading zeros, no hex or octal)");
  }
  return std::nullopt;
}

// The same rules as dns_name_problem, without building a message or a label list: name
// constraints call this for every (name, subtree) pair, so it must not allocate.
bool is_valid_dns_name(std::string_view name, WildcardSyntax wildcard) {
  const std::string_view body = without_trailing_dot(name);
  if (body.empty() || body.size() > kMaxDnsNameLength) return false;
  auto label_is_valid = [](std::string_view label) {
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (const char c : label) {
      if (!is_ascii_letter(c) && !is_ascii_digit(c) && c != '-') return false;
    }
    return true;
  };
  std::size_t labels = 0;
  bool leading_wildcard = false;
  std::string_view last;
  std::size_t start = 0;
  while (true) {  // at most 127 labels in 253 characters
    const std::size_t dot = body.find('.', start);
    const std::string_view label =
        body.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (labels == 0 && label == "*") {
      if (wildcard == WildcardSyntax::forbidden) return false;
      leading_wildcard = true;
    } else if (!label_is_valid(label)) {
      return false;
    }
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (leading_wildcard && labels < 3) return false;
  return !looks_like_a_number(last);
}

bool is_public_suffix(std::string_view lowercase_name) {
  const psl_ctx_t* list = public_suffix_list();
  if (list == nullptr) return true;  // no list: refuse every wildcard rather than guess
  const std::string name = ascii_lowercase(without_trailing_dot(lowercase_name));
  // libpsl takes a C string; an embedded NUL would make it look at a different name.
  if (name.find('\0') != std::string::npos) return true;
  // PSL_TYPE_ANY: both the ICANN and the private section count (CA/B Forum BR 3.2.2.6 means the
  // whole list), and the list's implicit "*" rule makes an unknown top-level label a suffix too.
  return psl_is_public_suffix2(list, name.c_str(), PSL_TYPE_ANY) != 0;
}

std::optional<std::string> parse_ipv4(std::string_view text) {
  if (text.empty() || text.size() > kMaxIpv4TextLength) return std::nullopt;
  std::string octets;
  std::size_t position = 0;
  for (std::size_t part = 0; part < 4; ++part) {
    if (part > 0) {
      if (position >= text.size() || text[position] != '.') return std::nullopt;
      ++position;
    }
    const std::size_t digits_start = position;
    unsigned value = 0;
    while (position < text.size() && position - digits_start < 3 &&
           is_ascii_digit(text[position])) {
      value = value * 10 + static_cast<unsigned>(text[position] - '0');
      ++position;
    }
    const std::size_t digit_count = position - digits_start;
    if (digit_count == 0 || value > 255) return std::nullopt;
    // inet_aton reads "010" as octal 8; RFC 3986 3.2.2 dec-octet has no leading zeros.
    if (digit_count > 1 && text[digits_start] == '0') return std::nullopt;
    octets.push_back(static_cast<char>(value));
  }
  if (position != text.size()) return std::nullopt;  // a fourth digit, a fifth part, junk
  return octets;
}

std::optional<std::string> parse_ipv6(std::string_view text) {
  if (text.size() < 2 || text.size() > kMaxIpv6TextLength) return std::nullopt;
  const std::size_t compression = text.find("::");
  // "::" may appear once (RFC 4291 2.2 item 2); a second one, or ":::", makes the address
  // ambiguous.
  if (compression != std::string_view::npos &&
      text.find("::", compression + 1) != std::string_view::npos) {
    return std::nullopt;
  }

  std::vector<std::uint16_t> head;
  std::vector<std::uint16_t> tail;
  if (compression == std::string_view::npos) {
    if (!parse_ipv6_groups(text, true, head) || head.size() != kIpv6Groups) return std::nullopt;
  } else {
    const std::string_view before = text.substr(0, compression);
    const std::string_view after = text.substr(compression + 2);
    // The embedded IPv4 address is always the last 32 bits, so it may only end the text.
    if (!parse_ipv6_groups(before, false, head) || !parse_ipv6_groups(after, true, tail)) {
      return std::nullopt;
    }
    // "::" stands for at least one zero group.
    if (head.size() + tail.size() >= kIpv6Groups) return std::nullopt;
  }

  std::string octets(16, '\0');
  const auto put = [&octets](std::size_t group_index, std::uint16_t group) {
    octets[2 * group_index] = static_cast<char>(group >> 8);
    octets[2 * group_index + 1] = static_cast<char>(group & 0xff);
  };
  for (std::size_t i = 0; i < head.size(); ++i) put(i, head[i]);
  for (std::size_t i = 0; i < tail.size(); ++i) put(kIpv6Groups - tail.size() + i, tail[i]);
  return octets;
}

// ---------------------------------------------------------------------------------------------
// Reference identities

const char* to_string(ServiceKind service) {
  switch (service) {
    case ServiceKind::https:
      return "https";
    case ServiceKind::xmpp_client:
      return "xmpp-client";
    case ServiceKind::xmpp_server:
      return "xmpp-server";
  }
  return "unknown service";
}

std::optional<ServiceKind> parse_service_kind(std::string_view text) {
  for (const ServiceKind service :
       {ServiceKind::https, ServiceKind::xmpp_client, ServiceKind::xmpp_server}) {
    if (text == to_string(service)) return service;
  }
  return std::nullopt;
}

bool idna_conversion_available() {
#if PARLEY_HAVE_LIBIDN2
  return true;
#else
  return false;
#endif
}

Result<ReferenceIdentity> ReferenceIdentity::dns(std::string_view name, ServiceKind service) {
  Result<std::string> a_labels = to_a_labels(name);
  if (!a_labels) {
    return fail(Error::invalid_argument("reference DNS name " + quoted(name) + " " +
                                        a_labels.error().message));
  }
  if (std::optional<std::string> problem = dns_name_problem(*a_labels, WildcardSyntax::forbidden)) {
    const std::string converted =
        *a_labels == name ? "" : " (as A-labels " + quoted(*a_labels) + ")";
    return fail(
        Error::invalid_argument("reference DNS name " + quoted(name) + converted + " " + *problem));
  }
  ReferenceIdentity reference;
  reference.kind = IdentityKind::dns_name;
  reference.value = ascii_lowercase(without_trailing_dot(*a_labels));
  reference.display = std::string(name);
  reference.service = service;
  return reference;
}

Result<ReferenceIdentity> ReferenceIdentity::ip(std::string_view address_text,
                                                ServiceKind service) {
  std::optional<std::string> octets = parse_ipv4(address_text);
  if (!octets) octets = parse_ipv6(address_text);
  if (!octets) {
    const bool looks_like_ipv6 = address_text.find(':') != std::string_view::npos;
    return fail(Error::invalid_argument(
        "reference IP address " + quoted(address_text) +
        (looks_like_ipv6 ? " is not an IPv6 address in RFC 4291 text form (no brackets, ports or "
                           "zone identifiers)"
                         : " is not a strict IPv4 dotted quad (four decimal parts 0-255, no "
                           "leading zeros, no hex or octal)")));
  }
  ReferenceIdentity reference;
  reference.kind = IdentityKind::ip_address;
  reference.value = std::move(*octets);
  reference.display = std::string(address_text);
  reference.service = service;
  return reference;
}

Result<ReferenceIdentity> ReferenceIdentity::parse(std::string_view text, ServiceKind service) {
  if (text.empty()) return fail(Error::invalid_argument("reference identity is empty"));
  // A colon never occurs in a DNS name: the text is an IPv6 address or a mistake ("host:port").
  if (text.find(':') != std::string_view::npos || text.front() == '[') return ip(text, service);
  if (parse_ipv4(text)) return ip(text, service);
  // "1.2.3", "010.0.0.1", "0x7f.1": numbers that resolvers would turn into some address. Say so
  // in terms of IPv4 rather than letting them pass, or fail, as DNS names.
  const std::string_view body = without_trailing_dot(text);
  const std::size_t last_dot = body.rfind('.');
  const std::string_view last_label =
      last_dot == std::string_view::npos ? body : body.substr(last_dot + 1);
  if (looks_like_a_number(last_label)) return ip(text, service);
  return dns(text, service);
}

// ---------------------------------------------------------------------------------------------
// Matching

bool dns_id_matches(std::string_view presented, std::string_view reference_normalised) {
  if (!is_valid_dns_name(reference_normalised, WildcardSyntax::forbidden)) return false;
  if (!is_valid_dns_name(presented, WildcardSyntax::allowed_as_leftmost)) return false;
  const std::string reference = ascii_lowercase(without_trailing_dot(reference_normalised));
  const std::string candidate = ascii_lowercase(without_trailing_dot(presented));
  if (!candidate.starts_with("*.")) return candidate == reference;

  // RFC 6125 6.4.3: the wildcard stands for exactly the reference's leftmost label; the rest must
  // be equal label for label. The syntax check guarantees two or more labels after "*.".
  const std::string_view wildcard_base = std::string_view(candidate).substr(2);
  const std::size_t first_dot = reference.find('.');
  if (first_dot == std::string::npos) return false;
  const std::string_view reference_leftmost = std::string_view(reference).substr(0, first_dot);
  const std::string_view reference_rest = std::string_view(reference).substr(first_dot + 1);
  if (reference_rest != wildcard_base) return false;
  // RFC 6125 6.4.3 / CA/B Forum: a wildcard never stands for an internationalised label, whose
  // A-label spelling has nothing to do with the U-label the user reads.
  if (reference_leftmost.starts_with("xn--")) return false;
  // CA/B Forum BR 3.2.2.6: "*.co.uk" or "*.s3.amazonaws.com" would cover unrelated registrants.
  return !is_public_suffix(wildcard_base);
}

std::optional<std::string_view> der_string_contents(std::string_view der, unsigned char tag) {
  if (der.size() < 2 || static_cast<unsigned char>(der[0]) != tag) return std::nullopt;
  const auto first_length_octet = static_cast<unsigned char>(der[1]);
  std::size_t header = 2;
  std::size_t length = first_length_octet;
  if (first_length_octet >= 0x80) {
    const std::size_t length_octets = first_length_octet & 0x7fu;
    // 0x80 alone is BER's indefinite length, which DER forbids.
    if (length_octets == 0 || length_octets > kMaxDerLengthOctets) return std::nullopt;
    if (der.size() < header + length_octets) return std::nullopt;
    // DER (X.690 10.1): the fewest length octets, so no leading zero octet and the long form only
    // for 128 and up.
    if (static_cast<unsigned char>(der[header]) == 0) return std::nullopt;
    length = 0;
    for (std::size_t i = 0; i < length_octets; ++i) {
      length = (length << 8) | static_cast<unsigned char>(der[header + i]);
    }
    if (length < 0x80) return std::nullopt;
    header += length_octets;
  }
  if (der.size() - header != length) return std::nullopt;  // short, or bytes after the string
  return der.substr(header);
}

namespace {

bool is_other_name(const GeneralName& name, std::string_view type_oid) {
  return name.kind == GeneralNameKind::other_name && name.other_name_type == type_oid;
}

bool is_xmpp_service(ServiceKind service) {
  return service == ServiceKind::xmpp_client || service == ServiceKind::xmpp_server;
}

// RFC 6120 13.7.1.2.1 / RFC 4985: the service label of an XMPP SRV-ID, without its '_'.
std::string_view srv_service_label(ServiceKind service) {
  switch (service) {
    case ServiceKind::xmpp_client:
      return "xmpp-client";
    case ServiceKind::xmpp_server:
      return "xmpp-server";
    case ServiceKind::https:
      break;
  }
  return {};
}

// A DNS-ID comparison in which the presented side may not hold a wildcard: XmppAddr and SRV-ID
// name one domain (RFC 6120 13.7.1.2.1, RFC 6125 6.5.1 as applied by XEP-0178 and Prosody).
bool exact_dns_id_matches(std::string_view presented, std::string_view reference_normalised) {
  return is_valid_dns_name(presented, WildcardSyntax::forbidden) &&
         dns_id_matches(presented, reference_normalised);
}

// The JID text of an XmppAddr, when the value is a well-formed DER UTF8String.
std::optional<std::string_view> xmpp_addr_text(std::string_view presented_der) {
  const std::optional<std::string_view> jid = der_string_contents(presented_der, kDerUtf8String);
  if (!jid || !is_valid_utf8(*jid)) return std::nullopt;
  return jid;
}

struct SrvId {
  std::string_view service;  // without the leading '_'
  std::string_view name;
};

// RFC 4985: "_Service.Name" in a DER IA5String (ASCII; Name in A-labels).
std::optional<SrvId> parse_srv_id(std::string_view presented_der) {
  const std::optional<std::string_view> text = der_string_contents(presented_der, kDerIa5String);
  if (!text || has_non_ascii(*text) || text->size() < 2 || text->front() != '_') {
    return std::nullopt;
  }
  const std::size_t dot = text->find('.');
  if (dot == std::string_view::npos || dot < 2) return std::nullopt;
  return SrvId{text->substr(1, dot - 1), text->substr(dot + 1)};
}

std::optional<std::string_view> srv_id_text(std::string_view presented_der) {
  if (!parse_srv_id(presented_der)) return std::nullopt;
  return der_string_contents(presented_der, kDerIa5String);
}

// RFC 6125 6.4.4: the presented identifier types that rule out a CN-ID. URI-IDs are on that list
// although Parley matches none: a certificate that carries one was made for SAN-aware clients.
bool rules_out_common_name(const GeneralName& name) {
  return name.kind == GeneralNameKind::dns_name || name.kind == GeneralNameKind::uri ||
         is_other_name(name, kOidXmppAddr) || is_other_name(name, kOidSrvName);
}

bool may_consult_common_name(const PresentedIdentities& presented, CnFallback cn_fallback) {
  if (presented.subject == nullptr) return false;
  switch (cn_fallback) {
    case CnFallback::never:
      return false;
    case CnFallback::allow_when_no_san:
      return !presented.has_subject_alt_name_extension;
    case CnFallback::allow_when_no_identifier_san:
      if (!presented.has_subject_alt_name_extension) return true;
      // Present but undecodable, or an empty SEQUENCE RFC 5280 forbids: there is no telling what
      // it would have said.
      if (presented.subject_alt_names.empty()) return false;
      return std::none_of(presented.subject_alt_names.begin(), presented.subject_alt_names.end(),
                          rules_out_common_name);
  }
  return false;
}

IdentityResult match_address(const PresentedIdentities& presented,
                             const ReferenceIdentity& reference) {
  bool saw_address = false;
  // Bounded by the number of names the certificate parser decoded from a bounded DER input.
  for (const GeneralName& name : presented.subject_alt_names) {
    if (name.kind != GeneralNameKind::ip_address) continue;
    saw_address = true;
    if (ip_address_matches(name, reference)) return matched_by(display_of(name));
  }
  return verdict_only(saw_address ? IdentityVerdict::mismatch : IdentityVerdict::no_identities);
}

IdentityResult match_name(const PresentedIdentities& presented, const ReferenceIdentity& reference,
                          CnFallback cn_fallback) {
  bool saw_comparable = false;
  // Each loop is bounded by the number of decoded names; each comparison by the 253-character
  // name limit (and the 65535-octet DER string limit) checked before any other work.
  if (is_xmpp_service(reference.service)) {
    // RFC 6120 13.7.1.2: XmppAddr, SRV-ID, DNS-ID, in that order of preference.
    for (const GeneralName& name : presented.subject_alt_names) {
      if (!is_other_name(name, kOidXmppAddr)) continue;
      saw_comparable = true;
      if (xmpp_addr_matches(name.value, reference)) {
        return matched_by(std::string(*xmpp_addr_text(name.value)));
      }
    }
    for (const GeneralName& name : presented.subject_alt_names) {
      if (!is_other_name(name, kOidSrvName)) continue;
      saw_comparable = true;
      if (srv_id_matches(name.value, reference)) {
        return matched_by(std::string(*srv_id_text(name.value)));
      }
    }
  }
  for (const GeneralName& name : presented.subject_alt_names) {
    if (name.kind != GeneralNameKind::dns_name) continue;
    saw_comparable = true;
    if (dns_id_matches(name.value, reference.value)) {
      return matched_by(display_of(name));
    }
  }
  if (saw_comparable) return verdict_only(IdentityVerdict::mismatch);

  // The CN is a DNS-ID of last resort: never for addresses (a CN holds free text, and CA/B Forum
  // BR 7.1.4.3 spellings of addresses vary), never next to the SANs that CnFallback names.
  if (!may_consult_common_name(presented, cn_fallback))
    return verdict_only(IdentityVerdict::no_identities);
  std::string common_name;
  switch (find_sole_common_name(*presented.subject, common_name)) {
    case CommonNameCount::none:
      return verdict_only(IdentityVerdict::no_identities);
    case CommonNameCount::several:
      return verdict_only(IdentityVerdict::mismatch);
    case CommonNameCount::one:
      break;
  }
  if (dns_id_matches(common_name, reference.value)) return matched_by(common_name);
  return verdict_only(IdentityVerdict::mismatch);
}

// Spec "Prevent Identity Mismatch": the user reached the server by IP address or by a short host
// name, and the certificate names the server by FQDN.
MismatchHint mismatch_hint(const std::vector<PresentedIdentity>& presented,
                           const ReferenceIdentity& reference) {
  if (reference.kind == IdentityKind::ip_address) {
    const bool names_a_host =
        std::any_of(presented.begin(), presented.end(), [](const PresentedIdentity& identity) {
          return identity.kind != PresentedIdentityKind::ip_address;
        });
    return names_a_host ? MismatchHint::address_for_named_server : MismatchHint::none;
  }
  if (reference.value.find('.') != std::string::npos) return MismatchHint::none;
  const bool names_an_fqdn =
      std::any_of(presented.begin(), presented.end(), [](const PresentedIdentity& identity) {
        if (identity.kind == PresentedIdentityKind::ip_address) return false;
        std::string_view name = identity.text;
        if (identity.kind == PresentedIdentityKind::srv_name) {
          const std::size_t dot = name.find('.');
          name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
        }
        return without_trailing_dot(name).find('.') != std::string_view::npos;
      });
  return names_an_fqdn ? MismatchHint::short_name_for_named_server : MismatchHint::none;
}

}  // namespace

bool xmpp_addr_matches(std::string_view presented_der, const ReferenceIdentity& reference) {
  if (reference.kind != IdentityKind::dns_name) return false;
  const std::optional<std::string_view> jid = xmpp_addr_text(presented_der);
  if (!jid) return false;
  // RFC 7622 3.1: [localpart "@"] domainpart ["/" resourcepart]. A server is named by its
  // domainpart alone; "admin@example.com" or "example.com/web" name something else.
  if (jid->find_first_of("@/") != std::string_view::npos) return false;
  // RFC 7622 3.2: a domainpart may be written in U-labels; compare its A-labels.
  const Result<std::string> domain = to_a_labels(*jid);
  return domain && exact_dns_id_matches(*domain, reference.value);
}

bool srv_id_matches(std::string_view presented_der, const ReferenceIdentity& reference) {
  if (reference.kind != IdentityKind::dns_name) return false;
  const std::string_view wanted_service = srv_service_label(reference.service);
  if (wanted_service.empty()) return false;
  const std::optional<SrvId> srv = parse_srv_id(presented_der);
  // RFC 6125 6.5.1: the service label compares case-insensitively, the name as a DNS-ID.
  return srv && equals_ignoring_ascii_case(srv->service, wanted_service) &&
         exact_dns_id_matches(srv->name, reference.value);
}

const char* to_string(PresentedIdentityKind kind) {
  switch (kind) {
    case PresentedIdentityKind::xmpp_addr:
      return "XmppAddr";
    case PresentedIdentityKind::srv_name:
      return "SRVName";
    case PresentedIdentityKind::dns_name:
      return "dNSName";
    case PresentedIdentityKind::ip_address:
      return "iPAddress";
    case PresentedIdentityKind::common_name:
      return "CN";
  }
  return "identity";
}

PresentedIdentities PresentedIdentities::of(const Certificate& leaf) {
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension =
      leaf.find_extension(kOidSubjectAltName) != nullptr || leaf.subject_alt_names().has_value();
  if (leaf.subject_alt_names()) presented.subject_alt_names = *leaf.subject_alt_names();
  presented.subject = &leaf.subject();
  return presented;
}

std::vector<PresentedIdentity> presented_identities(const PresentedIdentities& presented,
                                                    ServiceKind service, CnFallback cn_fallback) {
  std::vector<PresentedIdentity> identities;
  const std::span<const GeneralName> names = presented.subject_alt_names;
  if (is_xmpp_service(service)) {
    for (const GeneralName& name : names) {
      if (!is_other_name(name, kOidXmppAddr)) continue;
      const std::optional<std::string_view> jid = xmpp_addr_text(name.value);
      identities.push_back({PresentedIdentityKind::xmpp_addr,
                            jid ? printable(*jid) : "(malformed: not a DER UTF8String)"});
    }
    for (const GeneralName& name : names) {
      if (!is_other_name(name, kOidSrvName)) continue;
      const std::optional<std::string_view> srv = srv_id_text(name.value);
      identities.push_back(
          {PresentedIdentityKind::srv_name,
           srv ? printable(*srv) : "(malformed: not a DER IA5String \"_service.name\")"});
    }
  }
  for (const GeneralName& name : names) {
    if (name.kind == GeneralNameKind::dns_name) {
      identities.push_back({PresentedIdentityKind::dns_name, printable(name.value)});
    }
  }
  for (const GeneralName& name : names) {
    if (name.kind == GeneralNameKind::ip_address) {
      identities.push_back({PresentedIdentityKind::ip_address, display_of(name)});
    }
  }
  std::string common_name;
  if (may_consult_common_name(presented, cn_fallback) &&
      find_sole_common_name(*presented.subject, common_name) == CommonNameCount::one) {
    identities.push_back({PresentedIdentityKind::common_name, printable(common_name)});
  }
  return identities;
}

std::vector<PresentedIdentity> presented_identities(const Certificate& leaf, ServiceKind service,
                                                    CnFallback cn_fallback) {
  return presented_identities(PresentedIdentities::of(leaf), service, cn_fallback);
}

IdentityResult check_presented_identities(const PresentedIdentities& presented,
                                          const ReferenceIdentity& reference,
                                          CnFallback cn_fallback) {
  IdentityResult result = reference.kind == IdentityKind::ip_address
                              ? match_address(presented, reference)
                              : match_name(presented, reference, cn_fallback);
  if (!result.ok()) {
    result.presented = presented_identities(presented, reference.service, cn_fallback);
    result.hint = mismatch_hint(result.presented, reference);
  }
  return result;
}

std::string describe_mismatch(const IdentityResult& result, const ReferenceIdentity& reference) {
  if (result.ok()) return {};
  // A prompt lists them all from result.presented; one line of text stops at a screenful.
  constexpr std::size_t kMaxListed = 8;
  std::string text = "the certificate does not name " + printable(reference.display) + " (" +
                     to_string(reference.service) + ")";
  if (result.presented.empty()) {
    text += ": it carries no identity of that kind";
  } else {
    text += ": it names ";
    for (std::size_t i = 0; i < result.presented.size() && i < kMaxListed; ++i) {
      if (i > 0) text += ", ";
      text += std::string(to_string(result.presented[i].kind)) + " " + result.presented[i].text;
    }
    if (result.presented.size() > kMaxListed) {
      text += " and " + std::to_string(result.presented.size() - kMaxListed) + " more";
    }
  }
  switch (result.hint) {
    case MismatchHint::none:
      break;
    case MismatchHint::address_for_named_server:
      text +=
          "; the server was reached by IP address but is certified under a host name: "
          "connect by that name";
      break;
    case MismatchHint::short_name_for_named_server:
      text +=
          "; the server was reached by a short host name but is certified under a fully "
          "qualified domain name: connect by the FQDN";
      break;
  }
  return text;
}

std::optional<std::string> common_name_encoding_problem(const PresentedIdentities& presented) {
  // Without a subjectAltName extension there is no twin to compare with; the web PKI profile
  // refuses such a leaf for its own reason (no DNS-ID, no fallback).
  if (!presented.has_subject_alt_name_extension || presented.subject == nullptr)
    return std::nullopt;
  std::string common_name;
  switch (find_sole_common_name(*presented.subject, common_name)) {
    case CommonNameCount::none:
      return std::nullopt;
    case CommonNameCount::several:
      return std::string("the subject holds more than one commonName (CA/B Forum BR 7.1.4.3)");
    case CommonNameCount::one:
      break;
  }

  if (common_name.find(':') != std::string::npos) {
    const std::optional<std::string> octets = parse_ipv6(common_name);
    if (octets && common_name != format_ip_address(*octets)) {
      return "the commonName " + quoted(common_name) + " writes the IPv6 address " +
             format_ip_address(*octets) + " other than in RFC 5952 form (CA/B Forum BR 7.1.4.3)";
    }
    return std::nullopt;
  }
  if (looks_like_loose_ipv4(common_name)) {
    if (parse_ipv4(common_name)) return std::nullopt;
    return "the commonName " + quoted(common_name) +
           " is an IPv4 address not written in RFC 3986 dotted decimal (CA/B Forum BR 7.1.4.3)";
  }
  // A dotted name without spaces that carries non-ASCII is a domain name in U-label form; the
  // Baseline Requirements want the A-labels of the dNSName it copies.
  const bool has_non_ascii = std::any_of(common_name.begin(), common_name.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x80;
  });
  const bool looks_like_domain =
      common_name.find('.') != std::string::npos && common_name.find(' ') == std::string::npos;
  if (has_non_ascii && looks_like_domain) {
    return "the commonName " + quoted(common_name) +
           " is a domain name in Unicode form, not a copy of a dNSName's A-labels (CA/B Forum BR "
           "7.1.4.3)";
  }
  for (const GeneralName& name : presented.subject_alt_names) {
    if (name.kind != GeneralNameKind::dns_name) continue;
    if (name.value != common_name && equals_ignoring_ascii_case(name.value, common_name)) {
      return "the commonName " + quoted(common_name) +
             " is not a character-for-character copy of the dNSName " + quoted(name.value) +
             " (CA/B Forum BR 7.1.4.3)";
    }
  }
  return std::nullopt;
}

IdentityResult check_identity(const Certificate& leaf, const ReferenceIdentity& reference,
                              CnFallback cn_fallback) {
  return check_presented_identities(PresentedIdentities::of(leaf), reference, cn_fallback);
}

}  // namespace parley::pki
