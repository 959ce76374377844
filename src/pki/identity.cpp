#include "pki/identity.hpp"

#include <libpsl.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
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

bool is_valid_dns_name(std::string_view name, WildcardSyntax wildcard) {
  return !dns_name_problem(name, wildcard).has_value();
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

Result<ReferenceIdentity> ReferenceIdentity::dns(std::string_view name) {
  if (std::optional<std::string> problem = dns_name_problem(name, WildcardSyntax::forbidden)) {
    return fail(Error::invalid_argument("reference DNS name " + quoted(name) + " " + *problem));
  }
  ReferenceIdentity reference;
  reference.kind = IdentityKind::dns_name;
  reference.value = ascii_lowercase(without_trailing_dot(name));
  reference.display = std::string(name);
  return reference;
}

Result<ReferenceIdentity> ReferenceIdentity::ip(std::string_view address_text) {
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
  return reference;
}

Result<ReferenceIdentity> ReferenceIdentity::parse(std::string_view text) {
  if (text.empty()) return fail(Error::invalid_argument("reference identity is empty"));
  // A colon never occurs in a DNS name: the text is an IPv6 address or a mistake ("host:port").
  if (text.find(':') != std::string_view::npos || text.front() == '[') return ip(text);
  if (parse_ipv4(text)) return ip(text);
  // "1.2.3", "010.0.0.1", "0x7f.1": numbers that resolvers would turn into some address. Say so
  // in terms of IPv4 rather than letting them pass, or fail, as DNS names.
  const std::string_view body = without_trailing_dot(text);
  const std::size_t last_dot = body.rfind('.');
  const std::string_view last_label =
      last_dot == std::string_view::npos ? body : body.substr(last_dot + 1);
  if (looks_like_a_number(last_label)) return ip(text);
  return dns(text);
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

PresentedIdentities PresentedIdentities::of(const Certificate& leaf) {
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension =
      leaf.find_extension(kOidSubjectAltName) != nullptr || leaf.subject_alt_names().has_value();
  if (leaf.subject_alt_names()) presented.subject_alt_names = *leaf.subject_alt_names();
  presented.subject = &leaf.subject();
  return presented;
}

IdentityResult check_presented_identities(const PresentedIdentities& presented,
                                          const ReferenceIdentity& reference,
                                          CnFallback cn_fallback) {
  const GeneralNameKind comparable_kind = reference.kind == IdentityKind::ip_address
                                              ? GeneralNameKind::ip_address
                                              : GeneralNameKind::dns_name;
  bool saw_comparable = false;
  // Bounded by the number of names the certificate parser decoded from a bounded DER input; each
  // comparison is bounded by the 253-character name limit checked before any other work.
  for (const GeneralName& name : presented.subject_alt_names) {
    if (name.kind != comparable_kind) continue;
    saw_comparable = true;
    const bool matches = reference.kind == IdentityKind::ip_address
                             ? ip_address_matches(name, reference)
                             : dns_id_matches(name.value, reference.value);
    if (matches) return {IdentityVerdict::match, display_of(name)};
  }
  if (saw_comparable) return {IdentityVerdict::mismatch, {}};

  // The CN is a DNS-ID of last resort: never for addresses (a CN holds free text, and CA/B Forum
  // BR 7.1.4.3 spellings of addresses vary), never next to a subjectAltName extension.
  const bool may_use_common_name =
      reference.kind == IdentityKind::dns_name && cn_fallback == CnFallback::allow_when_no_san &&
      !presented.has_subject_alt_name_extension && presented.subject != nullptr;
  if (!may_use_common_name) return {IdentityVerdict::no_identities, {}};
  std::string common_name;
  switch (find_sole_common_name(*presented.subject, common_name)) {
    case CommonNameCount::none:
      return {IdentityVerdict::no_identities, {}};
    case CommonNameCount::several:
      return {IdentityVerdict::mismatch, {}};
    case CommonNameCount::one:
      break;
  }
  if (dns_id_matches(common_name, reference.value)) return {IdentityVerdict::match, common_name};
  return {IdentityVerdict::mismatch, {}};
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
