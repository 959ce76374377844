#include "pki/name_constraints.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pki/identity.hpp"  // DNS syntax and IP literal parsing, shared so both see one grammar

namespace parley::pki {
namespace {

// RFC 5321 4.5.3.1.1: a local part is at most 64 octets.
constexpr std::size_t kMaxEmailLocalPartLength = 64;
constexpr std::size_t kIpv4Length = 4;
constexpr std::size_t kIpv6Length = 16;
constexpr std::size_t kGeneralNameKindCount = 9;  // GeneralNameKind has the nine RFC 5280 choices
static_assert(static_cast<std::size_t>(GeneralNameKind::registered_id) + 1 == kGeneralNameKindCount,
              "subtrees are grouped by kind in an array indexed by GeneralNameKind");

char ascii_lowercase(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lowercase(a[i]) != ascii_lowercase(b[i])) return false;
  }
  return true;
}

bool ends_with_ignoring_ascii_case(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() &&
         equals_ignoring_ascii_case(text.substr(text.size() - suffix.size()), suffix);
}

// identity.hpp's syntax ignores one trailing dot; the comparisons below must too, or
// "bad.example.com." would slip past an excluded "bad.example.com" that a client still matches.
std::string_view without_trailing_dot(std::string_view name) {
  return (!name.empty() && name.back() == '.') ? name.substr(0, name.size() - 1) : name;
}

// `name` equals `domain` or is below it (RFC 5280: "adding zero or more labels to the left").
// Both are already validated and stripped of their trailing dot.
bool is_same_or_subdomain(std::string_view name, std::string_view domain) {
  if (equals_ignoring_ascii_case(name, domain)) return true;
  return name.size() > domain.size() && name[name.size() - domain.size() - 1] == '.' &&
         ends_with_ignoring_ascii_case(name, domain);
}

// `name` is strictly below `domain` (at least one more label): the ".domain" forms of rfc822Name
// and URI constraints.
bool is_strict_subdomain(std::string_view name, std::string_view domain) {
  return name.size() > domain.size() && is_same_or_subdomain(name, domain) &&
         !equals_ignoring_ascii_case(name, domain);
}

// ---- dNSName ----------------------------------------------------------------------------------

bool dns_constraint_is_well_formed(std::string_view base) {
  if (base.empty()) return true;  // the empty constraint holds every name (RFC 5280 reading of all)
  if (base.front() == '.') return false;  // see the header: RFC 5280 has no leading-dot DNS form
  return is_valid_dns_name(base, WildcardSyntax::forbidden);
}

// ---- iPAddress --------------------------------------------------------------------------------

bool mask_is_contiguous(std::string_view mask) {
  bool seen_zero_bit = false;
  for (const char c : mask) {
    const auto byte = static_cast<unsigned char>(c);
    for (int bit = 7; bit >= 0; --bit) {
      const bool is_one = ((byte >> bit) & 1U) != 0;
      if (is_one && seen_zero_bit) return false;
      if (!is_one) seen_zero_bit = true;
    }
  }
  return true;
}

bool ip_constraint_is_well_formed(std::string_view address_and_mask) {
  if (address_and_mask.size() != 2 * kIpv4Length && address_and_mask.size() != 2 * kIpv6Length) {
    return false;
  }
  return mask_is_contiguous(address_and_mask.substr(address_and_mask.size() / 2));
}

// ---- rfc822Name -------------------------------------------------------------------------------

// RFC 5322 3.2.3 atext, the characters of an unquoted local part besides ".".
bool is_atext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  constexpr std::string_view specials = "!#$%&'*+-/=?^_`{|}~";
  return specials.find(c) != std::string_view::npos;
}

bool is_valid_dot_atom(std::string_view text) {
  if (text.empty() || text.front() == '.' || text.back() == '.') return false;
  char previous = '\0';
  for (const char c : text) {
    if (c == '.' && previous == '.') return false;
    if (c != '.' && !is_atext(c)) return false;
    previous = c;
  }
  return true;
}

// RFC 5322 3.2.4 quoted-string, restricted to printable ASCII (rfc822Name is an IA5String and
// SMTPUTF8 mailboxes travel as an otherName instead).
bool is_valid_quoted_string(std::string_view text) {
  if (text.size() < 2 || text.front() != '"' || text.back() != '"') return false;
  const std::string_view inside = text.substr(1, text.size() - 2);
  bool escaped = false;
  for (const char c : inside) {
    if (c < 0x20 || c > 0x7e) return false;
    if (escaped) {
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == '"') {
      return false;
    }
  }
  return !escaped;
}

struct Mailbox {
  std::string_view local_part;
  std::string_view host;
};

// The host of a mailbox must be a plain DNS name: no trailing dot (not part of an address), no
// "[address literal]" (RFC 5280 has no way to constrain those, so they fail closed).
bool is_valid_mail_host(std::string_view host) {
  return !host.empty() && host.back() != '.' && is_valid_dns_name(host, WildcardSyntax::forbidden);
}

// Splits at the last "@", which is right even for a quoted local part that holds an "@".
std::optional<Mailbox> parse_mailbox(std::string_view text) {
  const std::size_t at = text.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  Mailbox mailbox{text.substr(0, at), text.substr(at + 1)};
  if (mailbox.local_part.size() > kMaxEmailLocalPartLength) return std::nullopt;
  if (!is_valid_dot_atom(mailbox.local_part) && !is_valid_quoted_string(mailbox.local_part)) {
    return std::nullopt;
  }
  if (!is_valid_mail_host(mailbox.host)) return std::nullopt;
  return mailbox;
}

bool email_constraint_is_well_formed(std::string_view base) {
  // An empty rfc822Name constraint has no meaning in RFC 5280 (unlike the dNSName one); refusing it
  // fails closed whichever of "everything" or "nothing" its author meant.
  if (base.empty()) return false;
  if (base.find('@') != std::string_view::npos) return parse_mailbox(base).has_value();
  if (base.front() == '.') return is_valid_mail_host(base.substr(1));
  return is_valid_mail_host(base);
}

// ---- uniformResourceIdentifier ----------------------------------------------------------------

bool uri_constraint_is_well_formed(std::string_view base) {
  if (base.empty()) return false;  // RFC 5280: "MUST be specified as a fully qualified domain name"
  const std::string_view host = base.front() == '.' ? base.substr(1) : base;
  return !host.empty() && host.front() != '.' && is_valid_dns_name(host, WildcardSyntax::forbidden);
}

bool is_uri_scheme(std::string_view scheme) {
  if (scheme.empty()) return false;
  const char first = scheme.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) return false;
  return std::all_of(scheme.begin(), scheme.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '-' || c == '.';
  });
}

enum class UriHostKind { domain_name, ip_address, absent_or_malformed };

struct UriHost {
  UriHostKind kind = UriHostKind::absent_or_malformed;
  std::string_view host;
};

// RFC 3986 3: scheme ":" "//" [userinfo "@"] host [":" port] path... Only what RFC 5280 needs: the
// host, and whether it is a domain name.
UriHost uri_host(std::string_view uri) {
  const std::size_t colon = uri.find(':');
  if (colon == std::string_view::npos || !is_uri_scheme(uri.substr(0, colon))) return {};
  std::string_view rest = uri.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return {};  // no authority component
  rest.remove_prefix(2);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);

  std::string_view host;
  std::string_view after_host;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return {};
    host = authority.substr(1, close - 1);
    after_host = authority.substr(close + 1);
    if (!parse_ipv6(host)) return {};  // IPvFuture and zone ids never name a certified host
    if (!after_host.empty() && after_host.front() != ':') return {};
    host = authority.substr(0, close + 1);
  } else {
    const std::size_t port_colon = authority.find(':');
    host = authority.substr(0, port_colon);
    after_host =
        port_colon == std::string_view::npos ? std::string_view{} : authority.substr(port_colon);
  }
  if (!after_host.empty()) {
    const std::string_view port = after_host.substr(1);
    if (!std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return {};
  }
  if (host.empty()) return {};
  if (host.front() == '[' || parse_ipv4(host)) return {UriHostKind::ip_address, host};
  if (!is_valid_dns_name(host, WildcardSyntax::forbidden)) return {};
  return {UriHostKind::domain_name, without_trailing_dot(host)};
}

// ---- directoryName ----------------------------------------------------------------------------

// RDNs are SETs: equal when they hold the same (type, canonical value) pairs in any order. Sorting
// copies keeps an attacker's RDN with thousands of attributes at n log n.
bool rdns_are_equal(const RelativeDistinguishedName& a, const RelativeDistinguishedName& b) {
  if (a.size() != b.size()) return false;
  using Member = std::pair<std::string_view, std::string_view>;
  auto members = [](const RelativeDistinguishedName& rdn) {
    std::vector<Member> out;
    out.reserve(rdn.size());
    for (const auto& attribute : rdn)
      out.emplace_back(attribute.type_oid, attribute.canonical_value);
    std::sort(out.begin(), out.end());
    return out;
  };
  return members(a) == members(b);
}

// ---- opaque kinds -----------------------------------------------------------------------------

SubtreeMatch opaque_subtree_match(const GeneralName& name, const GeneralName& base) {
  switch (name.kind) {
    case GeneralNameKind::other_name:
      // A different type-id is a different name form: it cannot lie in the subtree.
      if (name.other_name_type != base.other_name_type) return SubtreeMatch::outside;
      break;
    case GeneralNameKind::edi_party_name:
      // certificate.cpp keeps no bytes for ediPartyName, so even equality cannot be seen.
      return SubtreeMatch::undecidable;
    default:
      break;
  }
  // An empty value means the bytes could not be captured; never let two of those look equal.
  if (!name.value.empty() && name.value == base.value) return SubtreeMatch::within;
  return SubtreeMatch::undecidable;
}

// ---- the check over one certificate's names --------------------------------------------------

std::size_t kind_index(GeneralNameKind kind) {
  return static_cast<std::size_t>(kind);
}

// One name to check, wherever it came from (subjectAltName, subject, commonName).
struct PresentedName {
  const GeneralName* general_name = nullptr;  // subjectAltName entries: the entry itself
  GeneralNameKind kind = GeneralNameKind::dns_name;
  std::string value;                             // subject-derived names: the value to compare
  const DistinguishedName* directory = nullptr;  // the subject DN
  const char* origin = "subjectAltName";
};

std::string printable(std::string_view bytes) {
  std::string out;
  static constexpr char digits[] = "0123456789abcdef";
  // Bound the detail text: names come from the attacker, reports should stay readable.
  constexpr std::size_t kMaxShown = 128;
  for (std::size_t i = 0; i < bytes.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(digits[c >> 4]);
      out.push_back(digits[c & 0xf]);
    }
  }
  if (bytes.size() > kMaxShown) out += "...";
  return out;
}

// "192.0.2.1", "2001:db8:0:0:0:0:0:1" (uncompressed: reports only need to be unambiguous).
std::string ip_text(std::string_view octets) {
  std::string out;
  if (octets.size() == kIpv4Length) {
    for (std::size_t i = 0; i < octets.size(); ++i) {
      if (i > 0) out.push_back('.');
      out += std::to_string(static_cast<unsigned char>(octets[i]));
    }
    return out;
  }
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i + 1 < octets.size(); i += 2) {
    if (i > 0) out.push_back(':');
    const unsigned group = (static_cast<unsigned>(static_cast<unsigned char>(octets[i])) << 8) |
                           static_cast<unsigned char>(octets[i + 1]);
    bool leading = true;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned digit = (group >> shift) & 0xfU;
      if (digit == 0 && leading && shift > 0) continue;
      leading = false;
      out.push_back(digits[digit]);
    }
  }
  return out;
}

// An address, or a subtree as "address/prefix" when its mask is contiguous; raw bytes otherwise.
std::string describe_ip(std::string_view octets) {
  if (octets.size() == kIpv4Length || octets.size() == kIpv6Length) return ip_text(octets);
  if (ip_constraint_is_well_formed(octets)) {
    const std::string_view mask = octets.substr(octets.size() / 2);
    int prefix = 0;
    for (const char c : mask) prefix += std::popcount(static_cast<unsigned char>(c));
    return ip_text(octets.substr(0, octets.size() / 2)) + "/" + std::to_string(prefix);
  }
  std::string out = "bytes ";
  static constexpr char digits[] = "0123456789abcdef";
  for (const char c : octets) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

std::string describe_value(const GeneralName& name) {
  switch (name.kind) {
    case GeneralNameKind::ip_address:
      return describe_ip(name.value);
    case GeneralNameKind::directory_name:
      return name.directory.to_display_string();
    case GeneralNameKind::other_name:
      return name.other_name_type + ":" + printable(name.value);
    default:
      return printable(name.value);
  }
}

std::string describe(const PresentedName& name) {
  std::string out = name.origin;
  out += ' ';
  out += to_string(name.kind);
  out += " \"";
  if (name.general_name != nullptr) {
    out += describe_value(*name.general_name);
  } else if (name.directory != nullptr) {
    out += name.directory->to_display_string();
  } else {
    GeneralName shown;
    shown.kind = name.kind;
    shown.value = name.value;
    out += describe_value(shown);
  }
  out += '"';
  return out;
}

std::string describe_subtree(const char* list, const GeneralName& base) {
  return std::string(list) + " " + to_string(base.kind) + " subtree \"" + describe_value(base) +
         "\"";
}

SubtreeMatch match_presented(const PresentedName& name, const GeneralName& base) {
  if (name.general_name != nullptr) return general_name_subtree_match(*name.general_name, base);
  if (name.kind != base.kind) return SubtreeMatch::outside;
  switch (name.kind) {
    case GeneralNameKind::directory_name:
      return name.directory != nullptr
                 ? directory_name_subtree_match(*name.directory, base.directory)
                 : SubtreeMatch::malformed_name;
    case GeneralNameKind::dns_name:
      return dns_name_subtree_match(name.value, base.value);
    case GeneralNameKind::ip_address:
      return ip_address_subtree_match(name.value, base.value);
    case GeneralNameKind::rfc822_name:
      return email_subtree_match(name.value, base.value);
    default:
      return SubtreeMatch::undecidable;  // subject-derived names are never of the other kinds
  }
}

using SubtreesByKind = std::array<std::vector<const GeneralName*>, kGeneralNameKindCount>;

SubtreesByKind group_by_kind(const GeneralNames& subtrees) {
  SubtreesByKind grouped;
  for (const auto& subtree : subtrees) {
    const std::size_t index = kind_index(subtree.kind);
    if (index < grouped.size()) grouped[index].push_back(&subtree);
  }
  return grouped;
}

NameConstraintResult failure(NameConstraintVerdict verdict, std::string detail) {
  return NameConstraintResult{verdict, std::move(detail)};
}

NameConstraintResult budget_failure() {
  return failure(NameConstraintVerdict::budget_exhausted,
                 "name-constraint comparison budget exhausted");
}

// RFC 5280 6.1.3 (b) and (c) for one name: excluded first (it wins over permitted), then permitted.
NameConstraintResult check_one_name(const PresentedName& name, const SubtreesByKind& permitted,
                                    const SubtreesByKind& excluded, Budget& budget) {
  const std::size_t index = kind_index(name.kind);
  if (index >= permitted.size()) return {};

  for (const GeneralName* base : excluded[index]) {
    if (!budget.spend_name_constraint_comparisons()) return budget_failure();
    switch (match_presented(name, *base)) {
      case SubtreeMatch::within:
      case SubtreeMatch::partly_within:  // an expansion of the wildcard would be excluded
        return failure(NameConstraintVerdict::excluded,
                       describe(name) + " lies in " + describe_subtree("excluded", *base));
      case SubtreeMatch::undecidable:
        return failure(
            NameConstraintVerdict::unsupported_constraint,
            describe(name) + " cannot be compared with " + describe_subtree("excluded", *base));
      case SubtreeMatch::malformed_name:
        return failure(NameConstraintVerdict::malformed_name,
                       describe(name) + " is not well formed");
      case SubtreeMatch::malformed_constraint:
        return failure(NameConstraintVerdict::malformed_constraint,
                       describe_subtree("excluded", *base) + " is not well formed");
      case SubtreeMatch::outside:
        break;
    }
  }

  if (permitted[index].empty()) return {};
  const GeneralName* undecided = nullptr;
  for (const GeneralName* base : permitted[index]) {
    if (!budget.spend_name_constraint_comparisons()) return budget_failure();
    switch (match_presented(name, *base)) {
      case SubtreeMatch::within:
        return {};
      case SubtreeMatch::undecidable:
        // Another permitted subtree may still hold it for certain; keep looking.
        if (undecided == nullptr) undecided = base;
        break;
      case SubtreeMatch::malformed_name:
        return failure(NameConstraintVerdict::malformed_name,
                       describe(name) + " is not well formed");
      case SubtreeMatch::malformed_constraint:
        return failure(NameConstraintVerdict::malformed_constraint,
                       describe_subtree("permitted", *base) + " is not well formed");
      case SubtreeMatch::partly_within:  // some expansions would escape the subtree
      case SubtreeMatch::outside:
        break;
    }
  }
  if (undecided != nullptr) {
    return failure(
        NameConstraintVerdict::unsupported_constraint,
        describe(name) + " cannot be compared with " + describe_subtree("permitted", *undecided));
  }
  return failure(
      NameConstraintVerdict::not_permitted,
      describe(name) + " lies outside every permitted " + to_string(name.kind) + " subtree");
}

NameConstraintResult check_extension_shape(const NameConstraintsExtension& constraints) {
  // RFC 5280 4.2.1.10: at least one of the two lists, each with at least one subtree
  // (GeneralSubtrees ::= SEQUENCE SIZE (1..MAX)), minimum 0 and no maximum. The verifier reports
  // these too; repeating them here keeps this function safe on its own.
  if (!constraints.permitted_present && !constraints.excluded_present) {
    return failure(NameConstraintVerdict::malformed_constraint,
                   "nameConstraints has neither permittedSubtrees nor excludedSubtrees");
  }
  if ((constraints.permitted_present && constraints.permitted.empty()) ||
      (constraints.excluded_present && constraints.excluded.empty())) {
    return failure(NameConstraintVerdict::malformed_constraint,
                   "nameConstraints has an empty subtree list");
  }
  if (constraints.has_minimum_or_maximum) {
    return failure(NameConstraintVerdict::malformed_constraint,
                   "nameConstraints has a subtree with a minimum or maximum");
  }
  for (const auto& [list, subtrees] : {std::pair{"permitted", &constraints.permitted},
                                       std::pair{"excluded", &constraints.excluded}}) {
    for (const auto& base : *subtrees) {
      if (!subtree_is_well_formed(base)) {
        return failure(NameConstraintVerdict::malformed_constraint,
                       describe_subtree(list, base) + " is not well formed");
      }
    }
  }
  return {};
}

// The commonName a client might fall back to, as the kind of name it would be taken for; nullopt
// for free text that no client would take for a host.
std::optional<PresentedName> common_name_as_host(const NameAttribute& attribute) {
  PresentedName name;
  name.origin = "subject commonName";
  if (std::optional<std::string> octets = parse_ipv4(attribute.value_utf8)) {
    name.kind = GeneralNameKind::ip_address;
    name.value = std::move(*octets);
    return name;
  }
  if (std::optional<std::string> octets = parse_ipv6(attribute.value_utf8)) {
    name.kind = GeneralNameKind::ip_address;
    name.value = std::move(*octets);
    return name;
  }
  if (is_valid_dns_name(attribute.value_utf8, WildcardSyntax::allowed_as_leftmost)) {
    name.kind = GeneralNameKind::dns_name;
    name.value = attribute.value_utf8;
    return name;
  }
  return std::nullopt;
}

}  // namespace

const char* to_string(NameConstraintVerdict verdict) {
  switch (verdict) {
    case NameConstraintVerdict::satisfied:
      return "satisfied";
    case NameConstraintVerdict::not_permitted:
      return "not permitted";
    case NameConstraintVerdict::excluded:
      return "excluded";
    case NameConstraintVerdict::unsupported_constraint:
      return "unsupported constraint";
    case NameConstraintVerdict::malformed_constraint:
      return "malformed constraint";
    case NameConstraintVerdict::malformed_name:
      return "malformed name";
    case NameConstraintVerdict::budget_exhausted:
      return "budget exhausted";
  }
  return "unknown name-constraint verdict";
}

const char* to_string(SubtreeMatch match) {
  switch (match) {
    case SubtreeMatch::outside:
      return "outside";
    case SubtreeMatch::within:
      return "within";
    case SubtreeMatch::partly_within:
      return "partly within";
    case SubtreeMatch::undecidable:
      return "undecidable";
    case SubtreeMatch::malformed_name:
      return "malformed name";
    case SubtreeMatch::malformed_constraint:
      return "malformed constraint";
  }
  return "unknown subtree match";
}

SubtreeMatch dns_name_subtree_match(std::string_view name, std::string_view base) {
  if (!dns_constraint_is_well_formed(base)) return SubtreeMatch::malformed_constraint;
  if (!is_valid_dns_name(name, WildcardSyntax::allowed_as_leftmost))
    return SubtreeMatch::malformed_name;
  if (base.empty()) return SubtreeMatch::within;

  const std::string_view presented = without_trailing_dot(name);
  const std::string_view constraint = without_trailing_dot(base);
  if (presented.substr(0, 2) != "*.") {
    return is_same_or_subdomain(presented, constraint) ? SubtreeMatch::within
                                                       : SubtreeMatch::outside;
  }
  // "*.example.com" stands for exactly one label in front of "example.com" (identity.hpp).
  const std::string_view wildcard_domain = presented.substr(2);
  if (is_same_or_subdomain(wildcard_domain, constraint)) return SubtreeMatch::within;
  // Chromium's rule: the constraint minus its first label is the wildcard's domain, so one
  // expansion ("bar" for "bar.example.com") lands inside it. Constraints deeper down cannot be
  // reached by a single label.
  const std::size_t first_dot = constraint.find('.');
  if (first_dot != std::string_view::npos &&
      equals_ignoring_ascii_case(constraint.substr(first_dot + 1), wildcard_domain)) {
    return SubtreeMatch::partly_within;
  }
  return SubtreeMatch::outside;
}

SubtreeMatch ip_address_subtree_match(std::string_view address, std::string_view address_and_mask) {
  if (!ip_constraint_is_well_formed(address_and_mask)) return SubtreeMatch::malformed_constraint;
  if (address.size() != kIpv4Length && address.size() != kIpv6Length)
    return SubtreeMatch::malformed_name;
  // Different families never match: an IPv4 subtree says nothing about IPv6 space, and v4-mapped
  // addresses are different octets (identity.hpp treats them as different names too).
  if (address_and_mask.size() != 2 * address.size()) return SubtreeMatch::outside;
  const std::string_view network = address_and_mask.substr(0, address.size());
  const std::string_view mask = address_and_mask.substr(address.size());
  for (std::size_t i = 0; i < address.size(); ++i) {
    const auto a = static_cast<unsigned char>(address[i]);
    const auto n = static_cast<unsigned char>(network[i]);
    const auto m = static_cast<unsigned char>(mask[i]);
    // Host bits set in the subtree's address are ignored, as OpenSSL and Chromium do.
    if ((a & m) != (n & m)) return SubtreeMatch::outside;
  }
  return SubtreeMatch::within;
}

SubtreeMatch email_subtree_match(std::string_view email, std::string_view base) {
  if (!email_constraint_is_well_formed(base)) return SubtreeMatch::malformed_constraint;
  const std::optional<Mailbox> mailbox = parse_mailbox(email);
  if (!mailbox) return SubtreeMatch::malformed_name;

  if (base.find('@') != std::string_view::npos) {
    const std::optional<Mailbox> wanted = parse_mailbox(base);
    if (!wanted) return SubtreeMatch::malformed_constraint;
    // RFC 5280 7.5: the local part is compared exactly, the host case-insensitively.
    const bool same = mailbox->local_part == wanted->local_part &&
                      equals_ignoring_ascii_case(mailbox->host, wanted->host);
    return same ? SubtreeMatch::within : SubtreeMatch::outside;
  }
  if (base.front() == '.') {
    return is_strict_subdomain(mailbox->host, base.substr(1)) ? SubtreeMatch::within
                                                              : SubtreeMatch::outside;
  }
  return equals_ignoring_ascii_case(mailbox->host, base) ? SubtreeMatch::within
                                                         : SubtreeMatch::outside;
}

SubtreeMatch uri_subtree_match(std::string_view uri, std::string_view base) {
  if (!uri_constraint_is_well_formed(base)) return SubtreeMatch::malformed_constraint;
  const UriHost host = uri_host(uri);
  // RFC 5280 4.2.1.10: a URI without a host that is a domain name "MUST" be rejected.
  if (host.kind != UriHostKind::domain_name) return SubtreeMatch::malformed_name;
  const std::string_view constraint = without_trailing_dot(base);
  if (constraint.front() == '.') {
    return is_strict_subdomain(host.host, constraint.substr(1)) ? SubtreeMatch::within
                                                                : SubtreeMatch::outside;
  }
  return equals_ignoring_ascii_case(host.host, constraint) ? SubtreeMatch::within
                                                           : SubtreeMatch::outside;
}

SubtreeMatch directory_name_subtree_match(const DistinguishedName& name,
                                          const DistinguishedName& base) {
  if (base.rdns.size() > name.rdns.size()) return SubtreeMatch::outside;
  for (std::size_t i = 0; i < base.rdns.size(); ++i) {
    if (!rdns_are_equal(name.rdns[i], base.rdns[i])) return SubtreeMatch::outside;
  }
  return SubtreeMatch::within;
}

SubtreeMatch general_name_subtree_match(const GeneralName& name, const GeneralName& base) {
  if (name.kind != base.kind) return SubtreeMatch::outside;
  switch (name.kind) {
    case GeneralNameKind::dns_name:
      return dns_name_subtree_match(name.value, base.value);
    case GeneralNameKind::ip_address:
      return ip_address_subtree_match(name.value, base.value);
    case GeneralNameKind::rfc822_name:
      return email_subtree_match(name.value, base.value);
    case GeneralNameKind::uri:
      return uri_subtree_match(name.value, base.value);
    case GeneralNameKind::directory_name:
      return directory_name_subtree_match(name.directory, base.directory);
    case GeneralNameKind::other_name:
    case GeneralNameKind::registered_id:
    case GeneralNameKind::x400_address:
    case GeneralNameKind::edi_party_name:
      return opaque_subtree_match(name, base);
  }
  return SubtreeMatch::undecidable;
}

bool subtree_is_well_formed(const GeneralName& base) {
  switch (base.kind) {
    case GeneralNameKind::dns_name:
      return dns_constraint_is_well_formed(base.value);
    case GeneralNameKind::ip_address:
      return ip_constraint_is_well_formed(base.value);
    case GeneralNameKind::rfc822_name:
      return email_constraint_is_well_formed(base.value);
    case GeneralNameKind::uri:
      return uri_constraint_is_well_formed(base.value);
    default:
      return true;  // directoryName has no syntax beyond DER; opaque kinds have none we know
  }
}

ConstrainedNames ConstrainedNames::of(const Certificate& certificate,
                                      ConstrainedPosition position) {
  ConstrainedNames names;
  names.subject = &certificate.subject();
  names.has_subject_alt_name_extension = certificate.find_extension(kOidSubjectAltName) != nullptr;
  const auto& defects = certificate.defects();
  names.subject_alt_name_undecodable =
      std::find(defects.begin(), defects.end(), CertificateDefect::malformed_subject_alt_name) !=
      defects.end();
  if (const auto& alt_names = certificate.subject_alt_names()) names.subject_alt_names = *alt_names;
  names.position = position;
  return names;
}

NameConstraintResult check_constrained_names(const NameConstraintsExtension& constraints,
                                             const ConstrainedNames& names, Budget& budget) {
  if (NameConstraintResult shape = check_extension_shape(constraints); !shape.ok()) return shape;

  if (names.subject_alt_name_undecodable) {
    return failure(NameConstraintVerdict::malformed_name,
                   "subjectAltName could not be decoded, so its names cannot be checked against "
                   "the constraints");
  }

  const SubtreesByKind permitted = group_by_kind(constraints.permitted);
  const SubtreesByKind excluded = group_by_kind(constraints.excluded);

  // Every loop below runs over names the certificate holds: bounded by its size, and every
  // comparison inside draws from the budget.
  for (const GeneralName& alt_name : names.subject_alt_names) {
    PresentedName name;
    name.general_name = &alt_name;
    name.kind = alt_name.kind;
    if (NameConstraintResult result = check_one_name(name, permitted, excluded, budget);
        !result.ok()) {
      return result;
    }
  }

  if (names.subject == nullptr) return {};
  const DistinguishedName& subject = *names.subject;

  // RFC 5280 4.2.1.10: directoryName restrictions apply to a non-empty subject field.
  if (!subject.empty()) {
    PresentedName name;
    name.kind = GeneralNameKind::directory_name;
    name.directory = &subject;
    name.origin = "subject";
    if (NameConstraintResult result = check_one_name(name, permitted, excluded, budget);
        !result.ok()) {
      return result;
    }
  }

  const bool common_name_may_be_used =
      names.position == ConstrainedPosition::leaf && !names.has_subject_alt_name_extension;
  for (const auto& rdn : subject.rdns) {
    for (const auto& attribute : rdn) {
      std::optional<PresentedName> name;
      if (attribute.type_oid == kOidEmailAddress) {
        // RFC 5280 4.2.1.10: emailAddress attributes in the subject obey rfc822Name constraints.
        name.emplace();
        name->kind = GeneralNameKind::rfc822_name;
        name->value = attribute.value_utf8;
        name->origin = "subject emailAddress";
      } else if (attribute.type_oid == kOidCommonName && common_name_may_be_used) {
        name = common_name_as_host(attribute);
      }
      if (!name) continue;
      if (NameConstraintResult result = check_one_name(*name, permitted, excluded, budget);
          !result.ok()) {
        return result;
      }
    }
  }
  return {};
}

NameConstraintResult check_name_constraints(const NameConstraintsExtension& constraints,
                                            const Certificate& constrained,
                                            ConstrainedPosition position, Budget& budget) {
  return check_constrained_names(constraints, ConstrainedNames::of(constrained, position), budget);
}

}  // namespace parley::pki
