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
// server took it, read the roster, announce presence, wait for messages, close. Incoming iq
// requests are answered as RFC 6120 8.2.3 requires (ping and roster pushes with a result,
// anything else with service-unavailable), so no caller can forget to.
//
// What this does not do: reconnect, keep history, end-to-end encryption, or talk to a terminal
// (the prompt is passed in).

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

struct ConnectionOptions {
  explicit ConnectionOptions(xmpp::Jid account_jid) : account(std::move(account_jid)) {}

  xmpp::Jid account;                    // bare JID with a localpart
  std::optional<ServerAddress> server;  // default: the JID's domain on 5222 (5223 direct TLS)
  xmpp::TlsMode tls_mode = xmpp::TlsMode::starttls;
  AdminPolicy policy;
  pki::RevocationMode revocation = pki::RevocationMode::hard;  // the spec's behaviour
  std::string resource;                                        // empty: the server picks one
  xmpp::ClientStreamLimits limits;
  std::size_t max_buffered_messages = 1000;  // messages held while waiting for an iq reply
};

// The service identity certificates of this account's server are judged and stored under.
Result<ServiceIdentity> xmpp_service_identity(const xmpp::Jid& account);

struct ConnectionFailure {
  xmpp::NegotiationStage stage = xmpp::NegotiationStage::connect;
  Error error;
  std::optional<TrustDecision> trust;  // when the certificate was judged
};

class Connection {
 public:
  // `anchors`: trusted CA certificates (system roots or the admin's bundle). `prompt` may be
  // nullptr (untrusted certificates are then refused). The password is used only in SASL.
  static std::expected<std::unique_ptr<Connection>, ConnectionFailure> open(
      const ConnectionOptions& options, const pki::TrustStore& anchors, CertificateStore& store,
      CertificatePrompt* prompt, std::string_view password);

  const xmpp::Jid& jid() const { return stream_->jid(); }
  const TrustDecision& trust() const { return trust_; }
  const xmpp::StreamSecurity& security() const { return stream_->security(); }
  // One line for the lock indicator: protocol, cipher, why the certificate is accepted, SASL.
  std::string security_summary() const;

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
  Result<void> close(net::Deadline deadline);

 private:
  Connection(std::unique_ptr<xmpp::ClientStream> stream, TrustDecision trust,
             std::size_t max_buffered)
      : stream_(std::move(stream)), trust_(std::move(trust)), max_buffered_(max_buffered) {}

  // Handles a stanza that is not what the caller waits for: answers iq requests, keeps chat
  // messages for next_message().
  Result<void> dispatch(xml::Element stanza);
  // Sends an iq and waits for its result or error; `watched_message_id` names a message whose
  // error reply fails the wait.
  Result<xml::Element> request(const xml::Element& iq, const std::string& id,
                               net::Deadline deadline, std::string_view waiting_for,
                               const std::string& watched_message_id = {});

  std::unique_ptr<xmpp::ClientStream> stream_;
  TrustDecision trust_;
  std::size_t max_buffered_;
  std::deque<xmpp::ChatMessage> inbox_;
};

}  // namespace parley::client
