#pragma once
// TLS policy for every Parley connection, server and client (issue 4 and 5; spec "Encryption":
// XMPP over TLS 1.2 with AES 256-bit session keys; spec "Federal Information Processing
// Standards").
//
// The policy is an allowlist that can only be narrowed: validate() refuses any protocol version,
// suite or group outside the sets below, so a configuration file or a caller can drop TLS 1.2 or
// ChaCha20, reorder, or force FIPS, but never add CBC, RSA key exchange, finite-field DHE or an
// older protocol. Something weaker would need a separate option named insecure_...; none exists.
//
//  - Versions: TLS 1.2 and TLS 1.3.
//  - TLS 1.3 suites, in preference order: TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256,
//    TLS_AES_128_GCM_SHA256 (all AEAD; TLS 1.3 key exchange is always ephemeral).
//  - TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only (no CBC, so no Lucky13 family),
//    AES-256-GCM first, then ChaCha20-Poly1305, then AES-128-GCM, ECDSA before RSA at each step.
//    The server's order wins (so AES-256-GCM is chosen whenever the client offers it).
//  - Groups: X25519, P-256, P-384.
//  - FIPS mode: TLS 1.2 and 1.3 with AES-GCM only, groups P-256 and P-384 only, and every
//    algorithm from the OpenSSL 3 FIPS provider. When that provider cannot be loaded (Debian 12
//    does not ship it), creating a context fails with "FIPS provider not available"; it never
//    falls back to the default provider.
//
// Fixed, not configurable, and why:
//  - No renegotiation (RFC 5746 attacks, and a renegotiation could swap the certificate after the
//    trust decision), no TLS compression (CRIME).
//  - No session resumption, so no session tickets and no session cache, in either role. Every
//    connection does a full handshake, so every connection carries the server's certificate
//    through the client's trust decision again (issue 5: reconnection "re-runs the full trust
//    decision"), and the server holds no ticket key whose theft would decrypt recorded sessions.
//    The cost is one full handshake per connection, which XMPP's long-lived streams make small.
//  - OpenSSL security level 2 at least, whatever the system configuration says.
//
// What this does not do: choose certificates or judge peers (context.hpp, pki/), or decide
// whether FIPS mode is on (the client's admin policy and the server's configuration do).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace parley::tls {

enum class TlsVersion { tls1_2, tls1_3 };
// "TLSv1.2" | "TLSv1.3", as OpenSSL and testssl.sh print them.
const char* to_string(TlsVersion version);

enum class FipsMode { off, on };

// The complete allowlists; validate() accepts only subsets of these (in any order).
const std::vector<std::string>& allowed_tls13_suites();
const std::vector<std::string>& allowed_tls12_suites();
const std::vector<std::string>& allowed_groups();

// Default-constructed, it is the standard policy.
struct TlsPolicy {
  TlsVersion min_version = TlsVersion::tls1_2;
  TlsVersion max_version = TlsVersion::tls1_3;
  // OpenSSL names, preference order first.
  std::vector<std::string> tls13_suites = allowed_tls13_suites();
  std::vector<std::string> tls12_suites = allowed_tls12_suites();
  std::vector<std::string> groups = allowed_groups();
  FipsMode fips = FipsMode::off;
  // Bound on the certificate chain a peer may send (OpenSSL's max_cert_list), in bytes.
  std::size_t max_peer_chain_bytes = 64 * 1024;

  // The default: everything listed at the top of this file.
  static TlsPolicy standard();
  // The FIPS 140 subset: AES-GCM suites and NIST curves, fips = on.
  static TlsPolicy fips_140();
};

// Refuses a policy that is empty where it must not be, names something outside the allowlists,
// has min_version above max_version, or (in FIPS mode) names ChaCha20 or X25519. The message
// names the offending entry.
Result<void> validate(const TlsPolicy& policy);

// Whether the OpenSSL 3 FIPS provider can be loaded here. Fails with a message that starts
// "FIPS provider not available" and carries OpenSSL's reason.
Result<void> fips_provider_available();

}  // namespace parley::tls
