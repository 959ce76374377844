#pragma once
// Does this certificate name the service the client meant to reach? (RFC 6125 / RFC 9525,
// CA/Browser Forum for DNS-IDs; spec: "Server Identity in Certificates".)
//
// The reference identity is always required: there is no "skip the name check" entry point.
// This scope is DNS names and IP addresses; XMPP identities (XmppAddr, SRV-ID) plug in as
// further ReferenceIdentity kinds (see IdentityKind) without changing callers.
//
// Rules:
//  - DNS-ID: the reference and presented names compare case-insensitively (ASCII; IDNA A-labels
//    compare as ASCII), one trailing dot on either side is ignored. A presented wildcard is
//    honoured only as the entire leftmost label ("*.example.com"), only with at least two labels
//    after it, never when those labels are a public suffix ("*.co.uk", "*.s3.amazonaws.com"; the
//    Public Suffix List's ICANN and private sections, CA/B Forum BR 3.2.2.6), never for an A-label
//    ("xn--") reference label, never as a partial label ("f*.x"), and it stands for exactly one
//    label (never none: "*.example.com" does not name "example.com"; never several).
//  - Syntax (RFC 5280 4.2.1.6 "preferred name syntax", RFC 1123 2.1): both sides must be ASCII LDH
//    names: labels of 1-63 letters, digits and interior hyphens, at most 253 octets without the
//    trailing dot, and a rightmost label that is not all digits (so that "1.2.3" or "0x7f.1" can
//    never pass for an address). Underscores are refused on both sides: they are not in the
//    preferred name syntax, CA/B Forum ballot SC12 ended them in publicly trusted certificates,
//    and host names (RFC 952/1123) never contain them. A presented name that breaks the syntax
//    (non-ASCII, emoji, "_", empty labels) never matches anything.
//  - IP: the reference address (IPv4 dotted quad or IPv6 text, parsed strictly) equals an
//    iPAddress SAN octet for octet. An IP reference never matches a dNSName or the CN, and an
//    IPv4 address never matches its IPv4-mapped IPv6 form (different octets, different name).
//  - CN-ID: consulted only for a DNS reference, only when CnFallback::allow_when_no_san and the
//    certificate has no subjectAltName extension at all (not even an undecodable one), and only
//    when the subject holds exactly one commonName; then it is matched like a dNSName. Otherwise
//    never (RFC 9525 drops CN-IDs entirely).
//
// What it does not do: validate the chain (verify_path.hpp), decide trust (the client), convert
// U-labels to A-labels (the caller passes "xn--" names; non-ASCII reference input is refused with a
// message that says so), check that an "xn--" label is valid Punycode, or match zone identifiers
// ("fe80::1%eth0"), which never appear in certificates.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "pki/certificate.hpp"

namespace parley::pki {

enum class IdentityKind { dns_name, ip_address };

struct ReferenceIdentity {
  IdentityKind kind = IdentityKind::dns_name;
  std::string value;    // DNS: lowercase, no trailing dot, A-labels. IP: 4 or 16 raw octets.
  std::string display;  // as the user typed it

  // Parses user input: an IPv4/IPv6 literal becomes ip_address, anything else must be a valid
  // DNS name (LDH labels, A-labels allowed; no wildcard) or parsing fails. Text that contains ':'
  // is an IPv6 address or nothing; text whose last label is all digits is a strict IPv4 dotted
  // quad or nothing (never silently a DNS name). No brackets, ports or zone identifiers.
  static Result<ReferenceIdentity> parse(std::string_view text);
  static Result<ReferenceIdentity> dns(std::string_view name);
  static Result<ReferenceIdentity> ip(std::string_view address_text);
};

enum class CnFallback { never, allow_when_no_san };

// no_identities: the certificate offers nothing that may be compared with this kind of reference
// (no dNSName for a DNS reference, no iPAddress for an IP reference, and no CN consulted).
// mismatch: it offers such identifiers and none of them names the reference.
enum class IdentityVerdict { match, mismatch, no_identities };

struct IdentityResult {
  IdentityVerdict verdict = IdentityVerdict::mismatch;
  std::string matched;  // the presented identifier that matched, for reports
  bool ok() const { return verdict == IdentityVerdict::match; }
};

IdentityResult check_identity(const Certificate& leaf, const ReferenceIdentity& reference,
                              CnFallback cn_fallback);

// What a certificate presents, as plain values, so that the rules above can be tested with tables
// and without certificates. Views into storage the caller keeps alive (for check_identity, the
// leaf certificate).
struct PresentedIdentities {
  // True when the certificate carries a subjectAltName extension, even one that could not be
  // decoded: its mere presence turns the CN fallback off (fail closed).
  bool has_subject_alt_name_extension = false;
  std::span<const GeneralName> subject_alt_names;  // empty when absent or undecodable
  const DistinguishedName* subject = nullptr;      // nullptr: no subject to fall back on

  static PresentedIdentities of(const Certificate& leaf);
};

IdentityResult check_presented_identities(const PresentedIdentities& presented,
                                          const ReferenceIdentity& reference,
                                          CnFallback cn_fallback);

// CA/B Forum BR 7.1.4.3, the encoding half: in a certificate with a subjectAltName extension, a
// subject commonName must be a single value written exactly as its subjectAltName twin: an IPv4
// address in RFC 3986 dotted decimal, an IPv6 address in RFC 5952 text, a domain name as a
// character-for-character copy (same case, A-labels, never U-labels). Returns the first violation,
// or nullopt. A profile rule for the web PKI, not an identity rule: the verifier applies it under
// Profile::web_pki, check_identity never does (a private CA's "CN=Chat Server" harms no one).
// Deliberately not checked: that the CN is one of the SAN values at all. x509-limbo's BetterTLS
// cases expect leaves whose CN names another host than their SANs to verify, so that half would
// reject hundreds of chains the suite calls valid.
std::optional<std::string> common_name_encoding_problem(const PresentedIdentities& presented);

// The building blocks, exposed for the unit tables and for the XMPP identity checks to come.

// presented: a dNSName (or CN) as the certificate carries it. reference_normalised: as in
// ReferenceIdentity::value; it is still checked and case-folded here, so that a reference built by
// hand can never match by accident (a "*" in it, for instance, matches nothing).
bool dns_id_matches(std::string_view presented, std::string_view reference_normalised);

enum class WildcardSyntax {
  forbidden,            // reference identities, and anything else that names one host
  allowed_as_leftmost,  // presented identities: "*" as the entire leftmost label, >= 2 labels after
};
bool is_valid_dns_name(std::string_view name, WildcardSyntax wildcard);
// The first thing wrong with the name, as a sentence fragment for error messages; nullopt when
// the name is valid. One trailing dot is allowed and not counted.
std::optional<std::string> dns_name_problem(std::string_view name, WildcardSyntax wildcard);

// True when the lowercase ASCII name is a public suffix under the Public Suffix List (ICANN and
// private sections, with the list's implicit "*" rule for unknown top-level labels). Also true when
// no list could be loaded, because the only caller refuses wildcards over a public suffix and
// must fail closed.
bool is_public_suffix(std::string_view lowercase_name);

std::optional<std::string> parse_ipv4(std::string_view text);  // strict dotted quad -> 4 octets
std::optional<std::string> parse_ipv6(std::string_view text);  // RFC 4291 text -> 16 octets

}  // namespace parley::pki
