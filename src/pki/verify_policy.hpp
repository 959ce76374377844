#pragma once
// Everything a verification may be told, in one value. Safe by default: the strictest profile,
// the client-side purpose, CN fallback only where RFC 6125 allows it. Nothing here weakens a
// check silently; an option that would is named insecure_... (there is none yet).

#include <cstddef>
#include <optional>
#include <vector>

#include "pki/budget.hpp"
#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/identity.hpp"

namespace parley::pki {

// Which rulebook beyond RFC 5280 6.1 applies. Differences (see verify_path.cpp for each rule):
//  - web_pki: the CA/Browser Forum Baseline Requirements as Chromium and rustls-webpki enforce
//    them: leaf must carry a non-critical extKeyUsage with the purpose and without
//    anyExtendedKeyUsage, a CA certificate may not be a leaf, roots carry no extKeyUsage, a
//    non-critical nameConstraints is accepted (CABF's stated exception to RFC 5280).
//  - rfc5280: RFC 5280's own MUSTs: nameConstraints must be critical, extKeyUsage is optional
//    and anyExtendedKeyUsage satisfies any purpose, a CA certificate may be a leaf.
// Both: key identifiers present where RFC 5280 requires them, positive serials of at most 20
// octets, RSA >= 2048 bits (multiple of 8), ECDSA on P-256/P-384/P-521 named curves, Ed25519,
// no SHA-1 or MD5 signatures, no DSA keys.
enum class Profile { web_pki, rfc5280 };

enum class KeyPurpose { none, server_auth, client_auth };

struct VerifyPolicy {
  Profile profile = Profile::web_pki;
  UnixTime time = 0;  // the moment to validate at; the caller chooses (now, or --at)
  KeyPurpose purpose = KeyPurpose::server_auth;
  std::optional<std::uint16_t> required_leaf_key_usage;  // KeyUsageBit mask, when the use is known
  // Logical intermediates allowed between leaf and anchor (self-issued ones do not count).
  std::optional<std::size_t> max_intermediates;
  // RFC 6125 6.4.4: the subject CN only when the certificate has no DNS-ID, SRV-ID, URI-ID or
  // XmppAddr; FIPS mode and strict deployments use CnFallback::never (RFC 9525).
  CnFallback cn_fallback = CnFallback::allow_when_no_identifier_san;
  BudgetLimits budget;
  std::vector<CrlPtr> crls;  // checked for every certificate below the anchor when non-empty
};

// Hard ceiling on path length whatever the policy says, so that a pathological pool cannot make
// the builder recurse deeply before the budget notices.
inline constexpr std::size_t kMaxPathCertificates = 16;

}  // namespace parley::pki
