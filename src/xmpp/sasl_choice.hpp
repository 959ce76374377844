#pragma once
// Which SASL mechanism a Parley client uses on a TLS-protected stream (RFC 6120 6.3.3: the
// initiating entity chooses), and with which channel binding. A pure function of what the server
// offered and what this TLS connection can do, so that the rules are one table in the tests.
//
// Order of preference (sasl_scram.hpp): SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256,
// SCRAM-SHA-1 (not in FIPS mode), and PLAIN last and only when allowed.
//
// Channel binding (RFC 5056; XEP-0440 for how a server lists the types it supports):
//  - Types this connection can provide: tls-exporter on TLS 1.3 (RFC 9266; tls::Session refuses
//    it on TLS 1.2), tls-server-end-point when the server's certificate has a signature hash
//    (RFC 5929 4.1; not Ed25519).
//  - When the server lists types (<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'/>), a -PLUS
//    mechanism is used with the first of tls-exporter, tls-server-end-point that both sides have.
//  - When it lists none, -PLUS is not used. RFC 9266 3 makes tls-exporter the default over
//    TLS 1.3 and RFC 5929 tls-unique over TLS 1.2, but real servers disagree (ejabberd 23.01
//    offers SCRAM-SHA-1-PLUS over TLS 1.3 and binds with tls-unique, refusing tls-exporter;
//    Prosody 0.12 offers -PLUS over TLS 1.2 only, with tls-unique, which Parley does not
//    implement since RFC 9266 retires it), and a refused attempt is a failed login.
//  - The server offered -PLUS but no binding fits: SCRAM without binding and the gs2 flag "n",
//    with a note saying so (an attacker cannot cause this without breaking TLS, but a user who
//    expects channel binding should learn it was not used).
//  - The server offered no -PLUS at all: SCRAM without binding and the gs2 flag "y" when this
//    connection could bind (RFC 5802 6), so that a server that does support binding detects that
//    someone removed -PLUS from its offer. Not noted: it is the common case (Prosody 0.12 over
//    TLS 1.3) and nothing the server supports was left unused.
// PLAIN (RFC 4616) is chosen only when no SCRAM mechanism is offered, the admin policy allows
// it, and the server's certificate was verified by its chain (not merely accepted by a user or
// the local store: a password in the clear must only go to a server that proved who it is).
//
// What this does not do: SASL over a stream without TLS (the client stream never gets that far),
// SCRAM-SHA-512, EXTERNAL, SASL2 (XEP-0388), or XEP-0474 downgrade protection.

#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "tls/policy.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::xmpp {

// Admin policy for PLAIN; the default refuses it.
enum class PlainAuth { refuse, allow_over_verified_tls };

// How the server's certificate came to be accepted (tls::AcceptanceBasis, reduced to what the
// choice needs).
enum class CertificateBasis { verified_chain, accepted_without_chain };

struct SaslOffer {
  std::vector<std::string> mechanisms;  // as listed in <mechanisms/>
  // XEP-0440 types; nullopt when the server sent no <sasl-channel-binding/>.
  std::optional<std::vector<std::string>> channel_binding_types;
};

struct SaslConnection {
  tls::TlsVersion tls_version = tls::TlsVersion::tls1_3;
  bool tls_server_end_point_available = false;  // the session could compute it
  CertificateBasis certificate = CertificateBasis::verified_chain;
  PlainAuth plain = PlainAuth::refuse;
  // FIPS mode (the TLS policy's): SCRAM-SHA-1 is not used, as parleyd does not offer it there.
  tls::FipsMode fips = tls::FipsMode::off;
};

enum class SaslMechanismKind { scram, plain };

struct SaslChoice {
  SaslMechanismKind kind = SaslMechanismKind::scram;
  sasl::ScramMechanism scram;  // for scram
  // For a -PLUS mechanism: the binding type to use. For plain SCRAM: present when the client can
  // bind but the server offered no -PLUS (the "y" flag), absent for "n".
  std::optional<sasl::ChannelBindingType> binding;
  std::vector<std::string> notes;  // for the user: what weakened the authentication, if anything

  std::string mechanism_name() const;  // "SCRAM-SHA-256-PLUS", "PLAIN"
};

// Error (invalid_argument) naming what was offered and why none of it can be used.
Result<SaslChoice> choose_sasl_mechanism(const SaslOffer& offer, const SaslConnection& connection);

}  // namespace parley::xmpp
