#pragma once
// Name constraints, RFC 5280 4.2.1.10 and the checks of 6.1.3 (b) and (c).
//
// The verifier calls check_name_constraints once for every (constraining CA, constrained
// certificate) pair of a candidate path: the CA's NameConstraints against each name of every
// certificate below it (the leaf always; intermediates unless self-issued, RFC 5280 6.1.3 (b)).
// The trust anchor's constraints count too (x509-limbo expects it; Chromium and rustls-webpki do
// it). Checking each CA's constraints separately is equivalent to RFC 5280's running intersection
// and union of subtrees, and is what Chromium and rustls-webpki do.
//
// Names checked in the constrained certificate:
//  - every subjectAltName entry, by its kind (dNSName, iPAddress, rfc822Name, directoryName, URI,
//    and the opaque kinds below);
//  - the subject DN against directoryName subtrees (unless the subject is empty);
//  - emailAddress attributes of the subject against rfc822Name subtrees (RFC 5280 4.2.1.10);
//  - when the certificate is the leaf, has no subjectAltName extension at all and a subject
//    commonName is a syntactically valid DNS name (wildcard allowed) or a strict IP literal, that
//    name against dNSName / iPAddress subtrees (Chromium's rule: a CN that a client might fall
//    back to must obey the CA). A commonName that is neither is free text and is not checked.
//
// Rules, per kind (a name is only ever compared with subtrees of its own kind):
//  - Permitted subtrees of a kind restrict only names of that kind: each such name must lie in at
//    least one of them. No name may lie in any excluded subtree; excluded wins over permitted.
//  - dNSName: case-insensitive ASCII; "example.com" holds itself and every subdomain; "" holds
//    every name. Both sides use identity.hpp's syntax (LDH labels, no "_", one trailing dot
//    ignored, last label not all digits). A constraint with a leading dot (".example.com") is
//    MALFORMED here: RFC 5280 allows the leading dot for URI and rfc822Name constraints only, and
//    x509-limbo (rfc5280::nc::invalid-dnsname-leading-period) expects rejection, although OpenSSL,
//    Go and rustls-webpki tolerate it. A wildcard constraint ("*.x") is malformed too.
//    A presented wildcard "*.example.com" stands for every one-label expansion: it is within a
//    subtree when all expansions are (its base "example.com" is within), and counts as excluded
//    when any expansion could be (also when the subtree is "bar.example.com"; CVE-2025-61727).
//  - iPAddress: 4 or 16 octets against 8 or 32 (address + mask); the mask must be contiguous
//    leading ones. An IPv4 address never matches an IPv6 subtree or the reverse (no v4-mapped).
//  - rfc822Name: "local@host" is that mailbox (local part exact and case-sensitive, host
//    case-insensitive), "host" every mailbox at that host, ".domain" every mailbox at a host
//    below it. Characters are literal: "*@x" is a mailbox named "*", not a pattern.
//  - URI: the constraint is a host ("host.example.com") or a domain (".example.com": strictly
//    below it); the URI's authority host is compared. RFC 5280 says a URI without an authority
//    host, or with an IP address as host, MUST be rejected: malformed_name.
//  - directoryName: the subtree's RDNs are a prefix of the name's RDNs, RDNs compared as sets of
//    (type, canonical value) (distinguished_name.hpp's RFC 4518 approximation).
//  - otherName, registeredID, x400Address, ediPartyName: Parley does not interpret them. A name
//    equal byte for byte to the subtree (same type-id for otherName) is within it, an otherName of
//    another type-id is outside it; anything else is undecidable and fails closed as
//    unsupported_constraint (RFC 5280: "MUST either process the constraint or reject").
//
// Well-formedness: every subtree is checked before any name (a CA whose constraints cannot be
// read constrains nothing reliably, so it is rejected even when no name of that kind is present).
// A presented name of a constrained kind (some subtree of its kind, permitted or excluded) that is
// not well formed gives malformed_name: it cannot be shown to lie inside or outside.
//
// Budget: every comparison of one name with one subtree draws one unit; running out returns
// budget_exhausted at once.
//
// What it does not do: decide whether a CN is used for identity (identity.hpp), whether the
// extension may appear at all or must be critical (the verifier: only in CA certificates), or
// whether the constrained certificate's own encoding defects reject it (the verifier rejects
// every CertificateDefect; here an undecodable subjectAltName only fails closed).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pki/budget.hpp"
#include "pki/certificate.hpp"

namespace parley::pki {

enum class NameConstraintVerdict {
  satisfied,
  not_permitted,           // a name of a constrained kind lies outside every permitted subtree
  excluded,                // a name lies inside an excluded subtree
  unsupported_constraint,  // a constraint of a kind Parley cannot evaluate applies to a name
  malformed_constraint,  // a subtree is not well formed (bad IP mask, invalid DNS constraint, ...)
  malformed_name,        // a name in the certificate is not well formed for its kind
  budget_exhausted,
};

const char* to_string(NameConstraintVerdict verdict);

struct NameConstraintResult {
  NameConstraintVerdict verdict = NameConstraintVerdict::satisfied;
  std::string detail;  // which name and which subtree, for the error report
  bool ok() const { return verdict == NameConstraintVerdict::satisfied; }
};

enum class ConstrainedPosition { leaf, intermediate };

NameConstraintResult check_name_constraints(const NameConstraintsExtension& constraints,
                                            const Certificate& constrained,
                                            ConstrainedPosition position, Budget& budget);

// What check_name_constraints reads from a certificate, as plain values, so that the whole check
// can be tested with tables and without certificates. Views into storage the caller keeps alive.
struct ConstrainedNames {
  const DistinguishedName* subject = nullptr;  // nullptr or empty: no subject to check
  // True when the certificate carries a subjectAltName extension, even an undecodable one: its
  // presence turns the commonName check off, as it turns identity.hpp's CN fallback off.
  bool has_subject_alt_name_extension = false;
  // The extension is there but OpenSSL could not decode it: its names are unknown, so any
  // constraint fails closed (malformed_name).
  bool subject_alt_name_undecodable = false;
  std::span<const GeneralName> subject_alt_names;
  ConstrainedPosition position = ConstrainedPosition::leaf;

  static ConstrainedNames of(const Certificate& certificate, ConstrainedPosition position);
};

NameConstraintResult check_constrained_names(const NameConstraintsExtension& constraints,
                                             const ConstrainedNames& names, Budget& budget);

// How one presented name relates to one subtree. Exposed for the unit tables.
enum class SubtreeMatch {
  outside,               // no name it stands for lies in the subtree
  within,                // every name it stands for lies in the subtree
  partly_within,         // a wildcard: some expansions lie in the subtree, some do not
  undecidable,           // an opaque kind Parley cannot compare beyond byte equality
  malformed_name,        // the presented name is not well formed for its kind
  malformed_constraint,  // the subtree is not well formed for its kind
};

const char* to_string(SubtreeMatch match);

// name: a dNSName as presented (wildcard allowed); base: a dNSName subtree.
SubtreeMatch dns_name_subtree_match(std::string_view name, std::string_view base);
// address: 4 or 16 raw octets; address_and_mask: 8 or 32 raw octets.
SubtreeMatch ip_address_subtree_match(std::string_view address, std::string_view address_and_mask);
SubtreeMatch email_subtree_match(std::string_view email, std::string_view base);
SubtreeMatch uri_subtree_match(std::string_view uri, std::string_view base);
SubtreeMatch directory_name_subtree_match(const DistinguishedName& name,
                                          const DistinguishedName& base);
// Dispatches on the kind; names and subtrees of different kinds are always outside each other.
SubtreeMatch general_name_subtree_match(const GeneralName& name, const GeneralName& base);
// Whether a subtree is well formed for its kind (the checks *_subtree_match make on `base`).
bool subtree_is_well_formed(const GeneralName& base);

}  // namespace parley::pki
