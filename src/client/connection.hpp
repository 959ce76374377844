#pragma once
// One account's connection to its XMPP server, with the spec's certificate validation process
// in the middle of it (ARCHITECTURE.md): xmpp::ClientStream does the protocol, and its
// CertificateJudge here runs
//
//   the chain the server presented -> client::decide_server_trust (pki::verify_server_certificate
//   against the given anchors, for the reference identity "xmpp-client <JID domain>";
//   pki::check_revocation on the verified path, the server's stapled OCSP response first; the
//   per-account CertificateStore; the admin policy's InvalidCertificateBehavior and FIPS mode;
//   the CertificatePrompt) -> a tls::PeerAcceptance for exactly that leaf, or no connection.
//
// The reference identity is always the domain of the account's JID (RFC 6120 13.7.2.1,
// RFC 7590 3.1), whatever address the connection goes to: `--server 127.0.0.1:5222` changes where
// to connect, never whom the certificate must name. An account whose domain is an IP address
// therefore needs a certificate naming that address (spec: "Prevent Identity Mismatch").
// Certificates accepted at the prompt are bound to that service identity without a port, so an
// acceptance holds for the STARTTLS and the direct TLS port alike.
//
// After negotiation it offers what the `parley` commands need: send a message and learn that the
// server took it, read the roster, announce presence, wait for messages (or any message and
// presence stanza, for group chat and the terminal UI), close. Incoming iq requests are answered
// as RFC 6120 8.2.3 requires (ping and roster pushes with a result, anything else with
// service-unavailable), so no caller can forget to. When the server offers XEP-0198 stream
// management it is enabled right after binding (stream_management.hpp): the server's <r/> are
// answered, and close() acknowledges what arrived so that the server does not deliver it again.
// With resumption requested, a lost connection leaves a SessionResumption that the next open()
// uses to resume the session (XEP-0198 6) after its own certificate decision and SASL.
//
// What this does not do: reconnect (reconnect.hpp does, with a new Connection and therefore a new
// certificate decision), keep history, end-to-end encryption, or talk to a terminal (the prompt
// is passed in).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/admin_policy.hpp"
#include "client/certificate_store.hpp"
#include "client/stream_management.hpp"
#include "client/trust_decision.hpp"
#include "core/error.hpp"
#include "net/blocking_socket.hpp"
#include "pki/revocation.hpp"
#include "pki/trust_store.hpp"
#include "xmpp/client_stream.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/stanza.hpp"

namespace parley::client {

struct ServerAddress {
  std::string host;  // name or address, without brackets
  std::uint16_t port = 5222;
};
// "host", "host:port", "192.0.2.1:5222", "[2001:db8::1]:5222" or "[2001:db8::1]". `default_port`
// is used when none is given.
Result<ServerAddress> parse_server_address(std::string_view text, std::uint16_t default_port);

inline constexpr std::uint16_t kDefaultStarttlsPort = 5222;
inline constexpr std::uint16_t kDefaultDirectTlsPort = 5223;  // XEP-0368's customary port

enum class StreamManagementUse {
  off,           // never send <enable/>
  when_offered,  // XEP-0198 acknowledgements whenever the server offers <sm xmlns='urn:xmpp:sm:3'/>
  // ... and resume='true': after a lost connection the server keeps the session for a while,
  // for a client that reconnects (a one-shot command would only leave it hibernating).
  when_offered_with_resumption,
};

// What a lost connection leaves for the next one to resume its session with (XEP-0198 6).
struct SessionResumption {
  xmpp::StreamResumption request;
  StreamManagement management;  // the counts and the stanzas the server had not acknowledged
  bool refused = false;         // the server could not resume it: not asked again
};

struct ConnectionOptions {
  explicit ConnectionOptions(xmpp::Jid account_jid) : account(std::move(account_jid)) {}

  xmpp::Jid account;                    // bare JID with a localpart
  std::optional<ServerAddress> server;  // default: the JID's domain on 5222 (5223 direct TLS)
  xmpp::TlsMode tls_mode = xmpp::TlsMode::starttls;
  AdminPolicy policy;
  pki::RevocationMode revocation = pki::RevocationMode::hard;  // the spec's behaviour
  std::string resource;                                        // empty: the server picks one
  xmpp::ClientStreamLimits limits;
  // Message and presence stanzas held while waiting for an iq reply (or unread by the caller):
  // a large roster's presence or a busy room can bring thousands at once.
  std::size_t max_buffered_messages = 10'000;
  StreamManagementUse stream_management = StreamManagementUse::when_offered;
};

// The service identity certificates of this account's server are judged and stored under.
Result<ServiceIdentity> xmpp_service_identity(const xmpp::Jid& account);

// What the terminal UI shows when asked about the connection's security (`/security`): the
// protocol and cipher, how the certificate came to be accepted, the certificate itself, SASL.
// Certificate-supplied text is escaped for display.
struct SecurityDetails {
  std::string protocol;  // "TLSv1.3"
  std::string cipher;    // IANA name
  std::string group;     // key exchange
  std::string tls_mode;  // "starttls" | "direct-tls"
  std::string peer;      // the address connected to
  Verdict verdict = Verdict::rejected;
  std::string subject;
  std::string issuer;
  std::string fingerprint;  // SHA-256 of the server's certificate, colon hex
  pki::UnixTime not_before = 0;
  pki::UnixTime not_after = 0;
  std::string trust_anchor;  // for a verified chain: the anchor's subject
  std::string sasl_mechanism;
  std::string channel_binding;    // empty when none
  std::string stream_management;  // StreamManagementState's name
  std::vector<std::string> notes;
};

struct ConnectionFailure {
  xmpp::NegotiationStage stage = xmpp::NegotiationStage::connect;
  Error error;
  std::optional<TrustDecision> trust;  // when the certificate was judged
};

class Connection {
 public:
  // `anchors`: trusted CA certificates (system roots or the admin's bundle). `prompt` may be
  // nullptr (untrusted certificates are then refused). The password is used only in SASL.
  //
  // `resume` (optional): the session a lost connection left. After the certificate decision and
  // SASL, as always, the stream resumes it instead of binding; resumed() then says so, and what
  // the server had not acknowledged is sent again. When the server cannot, a new session is
  // bound, `resume->refused` is set, and its messages are still in `resume->management`.
  static std::expected<std::unique_ptr<Connection>, ConnectionFailure> open(
      const ConnectionOptions& options, const pki::TrustStore& anchors, CertificateStore& store,
      CertificatePrompt* prompt, std::string_view password, SessionResumption* resume = nullptr);

  const xmpp::Jid& jid() const { return stream_->jid(); }
  const TrustDecision& trust() const { return trust_; }
  const xmpp::StreamSecurity& security() const { return stream_->security(); }
  // One line for the lock indicator: protocol, cipher, why the certificate is accepted, SASL.
  std::string security_summary() const;
  SecurityDetails security_details() const;

  // Sends a chat message, then an XEP-0199 ping to the server, and returns once the ping is
  // answered: a server handles one stream's stanzas in order, so by then it has taken the
  // message. An error the server returns for the message before that is the result.
  Result<void> send_message(const xmpp::Jid& to, std::string_view body, net::Deadline deadline);
  // RFC 6121 2.1.3.
  Result<std::vector<xmpp::RosterItem>> roster(net::Deadline deadline);
  // RFC 6121 4.2: initial presence, after which the server delivers messages (and stored
  // offline ones) to this resource.
  Result<void> announce_presence();
  // The next chat message; nullopt when the deadline passes first. Other stanzas are handled or
  // dropped.
  Result<std::optional<xmpp::ChatMessage>> next_message(net::Deadline deadline);
  // The next message or presence stanza, whatever its type (group chat, errors, presence of
  // contacts and room occupants); nullopt when the deadline passes first. iq requests and stream
  // management are handled on the way. Not to be mixed with next_message(), which drops what it
  // does not return.
  Result<std::optional<xml::Element>> next_stanza(net::Deadline deadline);
  // Sends a stanza as it is (counted for stream management).
  Result<void> send_stanza(const xml::Element& stanza);
  // Sends an iq and waits for its result or error (returned as the stanza). Messages and presence
  // that arrive meanwhile are kept for next_stanza().
  Result<xml::Element> query(const xml::Element& iq, net::Deadline deadline,
                             std::string_view waiting_for);
  // XEP-0198: asks the server to acknowledge what it received (nothing when not enabled).
  Result<void> request_acknowledgement();
  StreamManagementState stream_management() const { return stream_management_.state(); }
  // This connection resumed an earlier session (its presence, rooms and subscriptions go on).
  bool resumed() const { return resumed_; }
  // After the connection was lost: what the next connection needs to resume the session;
  // nullopt when the server did not offer resumption. The unacknowledged stanzas go with it.
  std::optional<SessionResumption> take_resumption();
  // Messages sent on this stream that the server never acknowledged (stream management only),
  // for a caller that resends them on the next connection.
  std::vector<xml::Element> take_unacknowledged_messages() {
    return stream_management_.take_unacknowledged_messages();
  }
  // Ends the stream: acknowledges what arrived (stream management), </stream:stream>, and waits
  // for the server's.
  Result<void> close(net::Deadline deadline);

 private:
  Connection(std::unique_ptr<xmpp::ClientStream> stream, TrustDecision trust,
             pki::CertificatePtr server_certificate, std::size_t max_buffered)
      : stream_(std::move(stream)),
        trust_(std::move(trust)),
        server_certificate_(std::move(server_certificate)),
        max_buffered_(max_buffered) {}

  // Handles a stanza that is not what the caller waits for: answers iq requests, keeps messages
  // and presence for next_message() / next_stanza().
  Result<void> dispatch(xml::Element stanza);
  // The next stanza from the stream, with stream management nonzas handled on the way.
  Result<std::optional<xml::Element>> receive(net::Deadline deadline);
  Result<void> send(const xml::Element& stanza);
  // Sends an iq and waits for its result or error; `watched_message_id` names a message whose
  // error reply fails the wait.
  Result<xml::Element> request(const xml::Element& iq, const std::string& id,
                               net::Deadline deadline, std::string_view waiting_for,
                               const std::string& watched_message_id = {});

  std::unique_ptr<xmpp::ClientStream> stream_;
  TrustDecision trust_;
  pki::CertificatePtr server_certificate_;
  std::size_t max_buffered_;
  std::deque<xml::Element> inbox_;
  StreamManagement stream_management_;
  bool resumed_ = false;
};

}  // namespace parley::client
