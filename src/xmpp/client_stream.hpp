#pragma once
// The client side of an XMPP stream (RFC 6120) over one TCP connection, negotiated in the order
// RFC 6120 9.1 gives and nothing skipped:
//
//   TCP connect -> [direct TLS (XEP-0368) | stream header, features, <starttls/>, <proceed/>]
//   -> TLS handshake -> the CertificateJudge decides about the server's certificate
//   -> stream restart -> SASL (sasl_choice.hpp: SCRAM with channel binding when possible)
//   -> stream restart -> resource binding (RFC 6120 7) -> session (RFC 3921 3, when required)
//      or, when asked to and offered, XEP-0198 resumption of an earlier session instead of binding
//
// Then stanzas go out with send() and come in with receive(), and close() ends the stream with
// </stream:stream> (RFC 6120 4.4) and a TLS close_notify.
//
// Security properties this file is responsible for:
//  - TLS is mandatory. A server that does not offer STARTTLS (or an attacker who removed it), or
//    that answers <starttls/> with <failure/>, ends the connection before anything else is sent:
//    no SASL, no user name, no password. Plaintext that follows <proceed/> in the same read is an
//    attack (STARTTLS command injection) and ends the connection too.
//  - The server's certificate is judged by the caller's CertificateJudge, which must return a
//    tls::PeerAcceptance for exactly the presented leaf; tls::Session refuses application data
//    until it has one. There is no way to skip or "continue anyway" past a refusal.
//  - The password leaves only inside SASL after that, as SCRAM (never the password itself) unless
//    the admin allowed PLAIN and the certificate was verified by its chain (sasl_choice.hpp).
//  - SCRAM mutual authentication: a <success/> without a valid server signature is a failure.
//  - Bounded: bytes before TLS, handshake bytes, stanza size, depth and count (xml::ParserLimits),
//    the number of negotiation round trips, and every wait (deadlines; a negotiation budget that
//    excludes the time the judge spends asking a person).
//
// What this does not do: DNS SRV lookup (the caller names host and port), reconnection, stream
// management's counting (XEP-0198: the caller does it; this only sends <resume/> in place of
// binding when asked), compression, client certificates, or anything asynchronous (one thread
// drives one stream; receive() blocks until a stanza or the deadline).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "net/blocking_socket.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/sasl_choice.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::xmpp {

enum class TlsMode {
  starttls,    // RFC 6120 5: plaintext stream, <starttls/>, then TLS (required, never optional)
  direct_tls,  // XEP-0368: TLS from the first byte, ALPN "xmpp-client"
};
const char* to_string(TlsMode mode);

// Where a connection attempt stopped, so callers (and scripts reading parley's messages) can
// tell "the server is not who it claims" from "wrong password" from "network down".
enum class NegotiationStage { connect, stream, starttls, tls, certificate, authentication, bind };
const char* to_string(NegotiationStage stage);

struct NegotiationFailure {
  NegotiationStage stage = NegotiationStage::connect;
  Error error;
};
template <class T>
using Negotiated = std::expected<T, NegotiationFailure>;

struct ClientStreamLimits {
  xml::ParserLimits parser;
  std::chrono::milliseconds connect_timeout{10'000};
  // Network waits from connect to bound resource, all together (time spent in the judge, which
  // may be waiting for a person, is not counted).
  std::chrono::milliseconds negotiation_timeout{30'000};
  std::size_t max_bytes_before_tls = 64 * 1024;
  std::size_t max_handshake_bytes = 1024 * 1024;
  std::size_t max_sasl_mechanisms = 32;
  std::size_t max_sasl_round_trips = 4;
  // Stanzas the server may send during negotiation that are not the answer being waited for.
  std::size_t max_unexpected_negotiation_elements = 16;
  std::size_t max_outgoing_stanza_bytes = 256 * 1024;
  // Stanzas read and discarded while waiting for the server's </stream:stream> in close().
  std::size_t max_stanzas_while_closing = 1000;
};

// XEP-0198 6: what resuming an earlier stream-managed session takes. The certificate of the new
// connection is judged and SASL completed first, exactly as for a new session.
struct StreamResumption {
  std::string previous_id;    // the id of the server's <enabled/>
  std::uint32_t handled = 0;  // stanzas received on the earlier stream (its h)
  Jid full_jid;               // the earlier session's; this stream's when resumed
};

struct ClientStreamOptions {
  explicit ClientStreamOptions(Jid account_jid) : account(std::move(account_jid)) {}

  Jid account;               // the account's bare JID; its domain is the service
  std::string connect_host;  // where to connect (name or address); empty: the JID's domain
  std::uint16_t port = 5222;
  TlsMode tls_mode = TlsMode::starttls;
  // Required. For direct TLS it should offer ALPN "xmpp-client" (XEP-0368 4).
  std::shared_ptr<const tls::ClientContext> tls_context;
  PlainAuth plain = PlainAuth::refuse;
  std::string resource;  // asked for in <bind/>; empty lets the server choose (unique per login)
  ClientStreamLimits limits;
  // Set: send <resume/> instead of binding when the server offers stream management. A server
  // that cannot resume answers <failed/>, and the stream binds a new resource as usual.
  std::optional<StreamResumption> resume;
};

// Decides about the server's certificate once the handshake completed: the session's
// peer_chain(), stapled_ocsp() and connection_info() are available. It must return a
// PeerAcceptance for the presented leaf, or an error saying why the connection is refused.
// It may block (asking a person); that time does not count against the negotiation budget.
using CertificateJudge = std::function<Result<tls::PeerAcceptance>(const tls::Session& session)>;

// What the lock indicator shows about an open stream.
struct StreamSecurity {
  TlsMode tls_mode = TlsMode::starttls;
  std::string peer;  // "127.0.0.1:5222", the address connected to
  tls::ConnectionInfo tls;
  tls::AcceptanceBasis certificate = tls::AcceptanceBasis::verified_chain;
  std::string sasl_mechanism;                               // "SCRAM-SHA-256-PLUS"
  std::optional<sasl::ChannelBindingType> channel_binding;  // set when a -PLUS mechanism was used
  std::vector<std::string> notes;  // anything that made the connection weaker than the best case
};

class ClientStream {
 public:
  // Connects, negotiates and binds a resource. `password` is used only inside SASL, after TLS and
  // the judge's acceptance.
  static Negotiated<std::unique_ptr<ClientStream>> open(const ClientStreamOptions& options,
                                                        const CertificateJudge& judge,
                                                        std::string_view password);
  ~ClientStream();
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  const Jid& jid() const;  // the full JID the server bound
  const StreamSecurity& security() const;
  // The stream features the server offered after authentication (RFC 6120 4.3.2), for the
  // extensions negotiated after binding, such as stream management (XEP-0198 <sm/>).
  const xml::Element& features_after_authentication() const;
  // The server's h from <resumed/> when this stream resumed an earlier session (the caller
  // resends what that h does not cover); nullopt when it bound a new resource.
  std::optional<std::uint32_t> resumed_with() const;

  // Serializes the stanza into the jabber:client stream and sends it.
  Result<void> send(const xml::Element& stanza);
  // The next top-level element from the server; nullopt when the deadline passed first. A stream
  // error, a closed stream or connection, or malformed XML is an error, and the stream is over.
  Result<std::optional<xml::Element>> receive(net::Deadline deadline);
  // RFC 6120 4.4: sends </stream:stream>, reads (and discards) until the server's, then TLS
  // close_notify. An error means the server did not close in time; the connection is closed
  // either way.
  Result<void> close(net::Deadline deadline);
  bool is_open() const;

  class Impl;

 private:
  explicit ClientStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::xmpp
