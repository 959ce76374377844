#pragma once
// Does the certificate parleyd is about to serve name the domains it serves? Run at start-up and
// by `parleyd check-config`, after tls/ has accepted the chain and key (key type and size, key
// match, validity period), so that a server whose clients would all refuse its certificate does
// not start and leave them to find out one prompt at a time.
//
// What is checked, against the leaf:
//  - [server] domain as the reference identity of an XMPP client-to-server service
//    (pki::check_identity with ServiceKind::xmpp_client): XmppAddr, SRV-ID "_xmpp-client.",
//    DNS-ID, and a CN-ID under the same CnFallback a Parley client uses by default
//    (allow_when_no_identifier_san; never in FIPS mode, as the client in FIPS mode). Not named ->
//    refused, with the file, the domain and what the certificate does name; a warning instead
//    with [tls] insecure_allow_certificate_name_mismatch, which exists for one use: a test server
//    that shows clients refusing such a certificate (interop_sendxmpp_test).
//  - A domain matched only through the subject CN: accepted (the Parley client accepts it), with
//    a warning, because clients that follow RFC 9525 (Go's crypto/tls among them) will not.
//  - [muc] domain, when set, as an XMPP server identity (ServiceKind::xmpp_server): only a warning
//    when not named. parleyd has no server-to-server connections, and its clients reach the MUC
//    service through their own stream to [server] domain, so no TLS peer checks that name today;
//    the warning is for the day another server does.
//  - Expiry within kExpiryWarningPeriod of `now`: a warning naming the date. An expired or
//    not-yet-valid leaf is refused earlier, by tls::ServerContext::create.
//
// What it does not do: verify the chain to a trust anchor (parleyd has no trust store for its own
// certificate; the clients do that), or check revocation.

#include <chrono>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "server/config.hpp"

namespace parley::server {

inline constexpr std::chrono::seconds kExpiryWarningPeriod = std::chrono::days(30);

enum class CertificateFindingSeverity { warning, refusal };

struct CertificateFinding {
  CertificateFindingSeverity severity = CertificateFindingSeverity::refusal;
  std::string message;  // one line, naming the certificate file
};

struct CertificateCheck {
  std::vector<CertificateFinding> findings;  // in the order checked

  bool refused() const;
  // The refusals joined by "; " (empty when there is none): the start-up error message.
  std::string refusal_text() const;
  std::vector<std::string> warnings() const;
};

// `leaf` is the first certificate of config.certificate_file; `now` in seconds since the epoch.
CertificateCheck check_served_certificate(const pki::Certificate& leaf, const ServerConfig& config,
                                          pki::UnixTime now);

}  // namespace parley::server
