#pragma once
// Does this certificate name the service the client meant to reach? (RFC 6125 / RFC 9525,
// RFC 6120 13.7.1.2 for XMPP, CA/Browser Forum for DNS-IDs; spec: "Server Identity in
// Certificates", "Identifier Fields", "Prevent Identity Mismatch".)
//
// The reference identity is always required: there is no "skip the name check" entry point. It is
// what RFC 6125 1.8 calls one: a source domain (or here, an IP address) plus the kind of
// application service wanted from it (ServiceKind). A reference built without a service is an
// HTTPS / plain TLS one, which checks exactly what the web PKI checks.
//
// Identifiers consulted, per service (spec: "Identifier Fields"); any one that names the reference
// is a match, and the first in this order is the one reported:
//  - xmpp_client, xmpp_server: SAN otherName id-on-xmppAddr (XmppAddr), SAN otherName SRVName
//    (SRV-ID, "_xmpp-client.<domain>" or "_xmpp-server.<domain>" for the respective service),
//    SAN dNSName (DNS-ID), then the subject CN (CN-ID) under the CnFallback rules below.
//  - https: SAN dNSName, then the subject CN.
//  - An IP reference, for every service: SAN iPAddress only.
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
//  - XmppAddr (RFC 6120 13.7.1.4, RFC 7622): the value must be a DER UTF8String holding a JID
//    that is a bare domainpart; a JID with a localpart ("admin@example.com") or a resourcepart
//    names an account or a session, never the server, and never matches. The domainpart is
//    compared like a DNS-ID without wildcards; one in U-labels is first converted to A-labels
//    (when this build has IDNA support, see below; without it such a value never matches).
//  - SRV-ID (RFC 4985, RFC 6125 6.5.1): the value must be a DER IA5String "_Service.Name"; the
//    service label must be the one of the reference's service ("xmpp-client" or "xmpp-server",
//    case-insensitively) and Name is compared like a DNS-ID without wildcards.
//  - An otherName value that is not the DER string type its OID requires, or whose length does
//    not add up, is never a match (and still counts as present for the CN-ID rule: fail closed).
//  - IP: the reference address (IPv4 dotted quad or IPv6 text, parsed strictly) equals an
//    iPAddress SAN octet for octet. An IP reference never matches a dNSName or the CN, and an
//    IPv4 address never matches its IPv4-mapped IPv6 form (different octets, different name).
//  - CN-ID: consulted only for a DNS reference, only when the subject holds exactly one
//    commonName (then it is matched like a dNSName, wildcard rules included), and only as
//    CnFallback allows; see there. RFC 9525 drops CN-IDs entirely (CnFallback::never).
//  - Spec "Prevent Identity Mismatch": a reference that is an IP address, or a single-label host
//    name, never matches a certificate that names its server by FQDN. The result then says so
//    (MismatchHint) and lists what the certificate does present (PresentedIdentity), so that the
//    prompt can show both; it is never a silent accept.
//  - IDNA: a reference given in U-labels ("café.example") is converted to A-labels (UTS 46
//    non-transitional processing, IDNA2008) when the library was built with libidn2
//    (PARLEY_HAVE_LIBIDN2); without it such input is refused with a message that says so
//    (idna_conversion_available() tells which). The original text stays in `display`.
//
// What it does not do: validate the chain (verify_path.hpp), decide trust (the client), check that
// an "xn--" label is valid Punycode, match URI-IDs (RFC 6125 6.5.2; no Parley service uses them),
// or match zone identifiers ("fe80::1%eth0"), which never appear in certificates.

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"

namespace parley::pki {

enum class IdentityKind { dns_name, ip_address };

// The kind of application service the client wants (RFC 6125 1.8 "application service type");
// it decides which identifiers are consulted (see the top of this file).
enum class ServiceKind {
  https,        // HTTP over TLS: Tomcat, voicemail, file transfer, directory; also plain TLS
  xmpp_client,  // XMPP client-to-server (RFC 6120), SRV-ID "_xmpp-client"
  xmpp_server,  // XMPP server-to-server, SRV-ID "_xmpp-server"
};
const char* to_string(ServiceKind service);  // "https", "xmpp-client", "xmpp-server"
std::optional<ServiceKind> parse_service_kind(std::string_view text);  // the to_string spellings

struct ReferenceIdentity {
  IdentityKind kind = IdentityKind::dns_name;
  std::string value;    // DNS: lowercase, no trailing dot, A-labels. IP: 4 or 16 raw octets.
  std::string display;  // as the user typed it
  ServiceKind service = ServiceKind::https;

  // Parses user input: an IPv4/IPv6 literal becomes ip_address, anything else must be a valid
  // DNS name (LDH labels, A-labels, or U-labels when IDNA conversion is available; no wildcard)
  // or parsing fails. Text that contains ':' is an IPv6 address or nothing; text whose last label
  // is all digits is a strict IPv4 dotted quad or nothing (never silently a DNS name). No
  // brackets, ports or zone identifiers.
  static Result<ReferenceIdentity> parse(std::string_view text,
                                         ServiceKind service = ServiceKind::https);
  static Result<ReferenceIdentity> dns(std::string_view name,
                                       ServiceKind service = ServiceKind::https);
  static Result<ReferenceIdentity> ip(std::string_view address_text,
                                      ServiceKind service = ServiceKind::https);
};

// True when this build converts U-label references to A-labels (built with libidn2).
bool idna_conversion_available();

// When the subject commonName may stand in for a DNS-ID. Whatever the mode: never for an IP
// reference, never with more than one commonName.
enum class CnFallback {
  // RFC 9525: SANs only. The web PKI profile and FIPS mode.
  never,
  // Only when the certificate has no subjectAltName extension at all, not even an undecodable or
  // empty one. Stricter than RFC 6125; what the rfc5280 profile of the verifier uses.
  allow_when_no_san,
  // RFC 6125 6.4.4: only when the certificate presents no DNS-ID, SRV-ID, URI-ID or XmppAddr
  // (the identifier types Parley knows), whatever the service; an iPAddress, rfc822Name or
  // directoryName SAN does not stop it. A subjectAltName extension that is present but decodes to
  // nothing stops it (fail closed). Malformed SRVName or XmppAddr values count as present.
  allow_when_no_identifier_san,
};

// One identifier a certificate presents, as text a person can read (control characters and bytes
// that are not UTF-8 shown as \xNN; at most 256 characters shown), for prompts and reports.
enum class PresentedIdentityKind { xmpp_addr, srv_name, dns_name, ip_address, common_name };
const char* to_string(PresentedIdentityKind kind);  // "XmppAddr", "SRVName", "dNSName", ...

struct PresentedIdentity {
  PresentedIdentityKind kind = PresentedIdentityKind::dns_name;
  std::string text;  // iPAddress in RFC 5952 / dotted-decimal form
  bool operator==(const PresentedIdentity&) const = default;
};

// Why a mismatch happened, when it is the classic one (spec: "Prevent Identity Mismatch").
enum class MismatchHint {
  none,
  address_for_named_server,     // reached by IP address; the certificate names hosts
  short_name_for_named_server,  // reached by a single-label name; the certificate names FQDNs
};

// no_identities: the certificate offers nothing that may be compared with this kind of reference
// (for a DNS reference none of the SAN kinds its service consults and no CN consulted; for an IP
// reference no iPAddress).
// mismatch: it offers such identifiers and none of them names the reference.
enum class IdentityVerdict { match, mismatch, no_identities };

struct IdentityResult {
  IdentityVerdict verdict = IdentityVerdict::mismatch;
  std::string matched;  // the presented identifier that matched, for reports
  // Filled when there is no match: what the certificate presents for the reference's service
  // (presented_identities()), and a hint when the mismatch is the classic IP/short-name one.
  std::vector<PresentedIdentity> presented;
  MismatchHint hint = MismatchHint::none;
  bool ok() const { return verdict == IdentityVerdict::match; }
};

IdentityResult check_identity(const Certificate& leaf, const ReferenceIdentity& reference,
                              CnFallback cn_fallback);

// One line for people about a result that is not a match: what was wanted, what the certificate
// names, and the hint if any. Empty for a match.
std::string describe_mismatch(const IdentityResult& result, const ReferenceIdentity& reference);

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

// Every identifier the certificate presents that a reference for `service` is compared with, in
// the order of the rules above: XmppAddr and SRVName (XMPP services only; every SRVName, whatever
// its service label, so that a person sees a certificate made for the other XMPP role), dNSName,
// iPAddress, and the commonName when `cn_fallback` would consult it for a DNS reference. Malformed
// otherName values are listed with a note instead of their text.
std::vector<PresentedIdentity> presented_identities(const PresentedIdentities& presented,
                                                    ServiceKind service, CnFallback cn_fallback);
std::vector<PresentedIdentity> presented_identities(const Certificate& leaf, ServiceKind service,
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

// The building blocks, exposed for the unit tables.

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

// presented: an otherName value as GeneralName::value holds it (the DER TLV of the [0] EXPLICIT
// contents). reference: a DNS reference. A bare-domain XmppAddr naming the reference's domain.
bool xmpp_addr_matches(std::string_view presented_der, const ReferenceIdentity& reference);
// An SRVName "_<service>.<domain>" whose service label is the reference's XMPP service and whose
// domain names the reference's domain. Never for https references.
bool srv_id_matches(std::string_view presented_der, const ReferenceIdentity& reference);

// The contents of a DER TLV of exactly the universal tag `tag` that fills `der` (definite,
// minimal length; at most 65535 octets of content). nullopt when anything else.
std::optional<std::string_view> der_string_contents(std::string_view der, unsigned char tag);

}  // namespace parley::pki
