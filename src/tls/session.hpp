#pragma once
// One TLS connection over memory buffers, in either role. It never touches a socket: the caller
// (the Asio layer, a test, a STARTTLS upgrade in xmpp/) moves bytes between the network and the
// session with feed_ciphertext() and take_ciphertext(), so the same code serves direct TLS,
// STARTTLS and tests that pump two sessions into each other.
//
// The client's secure-by-construction rule (STYLE.md: "A verify callback that returns 1 to
// 'continue': the error must still be recorded and the connection must fail unless a trust decision
// explicitly accepted that exact certificate"):
//  - OpenSSL's verification runs with no trust anchors and no host name. The verify callback
//    records the chain the server sent and every finding OpenSSL makes, and lets the handshake
//    finish so that Parley's pki pipeline (pki::verify_server_certificate, check_revocation,
//    client::decide_server_trust) can judge the chain. If it cannot record (a chain too long or
//    one that does not parse, or no Session behind the SSL), it fails the handshake.
//  - After the handshake, a client session is `awaiting_trust_decision`: it refuses read() and
//    write() of application data until accept_peer() is given a PeerAcceptance for exactly the
//    leaf certificate the server presented. A PeerAcceptance for any other certificate fails the
//    session for good. There is no other way to reach `established`.
//  - A server session (no client certificates) is `established` when its handshake completes.
//
// Flow for the caller:
//   feed_ciphertext(bytes from network); handshake(); send take_ciphertext() to the network;
//   repeat until handshake() says complete (send what take_ciphertext() holds after *every* call,
//   including failures: that is how alerts reach the peer). Client: peer_chain() and
//   stapled_ocsp() to the trust decision, then accept_peer(). Then read()/write(), close().
//
// Bounds: at most kMaxBufferedCiphertext bytes wait in each direction (the caller must drain
// take_ciphertext() and read()); the peer's chain is bounded by the policy's max_peer_chain_bytes
// and kMaxPeerChainLength.
//
// What this does not do: sockets or timeouts (the net layer), name checks or trust (pki/ and
// client/), resumption (policy.hpp), client certificates, or thread safety: one session belongs to
// one strand at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/verify.hpp"
#include "tls/context.hpp"
#include "tls/policy.hpp"

namespace parley::tls {

inline constexpr std::size_t kMaxBufferedCiphertext = 512 * 1024;
inline constexpr std::size_t kMaxPeerChainLength = 10;

enum class Role { client, server };

// Why the client accepted the server's certificate, for the lock indicator and the log.
enum class AcceptanceBasis {
  verified_chain,       // chained to a trust anchor and named the service (pki::VerifiedPath)
  previously_accepted,  // the user's local certificate store holds this exact leaf for the service
  accepted_by_user,     // the user accepted this leaf in a prompt
};
const char* to_string(AcceptanceBasis basis);

// A trust decision's "yes" for one certificate. It names the accepted leaf by its SHA-256
// fingerprint; Session::accept_peer() compares it with the leaf the server actually presented.
class PeerAcceptance {
 public:
  // pki's front door succeeded; only pki can make a VerifiedPath.
  static PeerAcceptance from_verified_path(const pki::VerifiedPath& path);
  // The trust decision accepted a leaf no anchor vouches for (the store or a prompt said yes).
  static PeerAcceptance from_trust_decision(const pki::Certificate& accepted_leaf,
                                            AcceptanceBasis basis);

  const std::string& leaf_sha256() const { return leaf_sha256_; }
  AcceptanceBasis basis() const { return basis_; }

 private:
  PeerAcceptance(std::string sha256, AcceptanceBasis basis)
      : leaf_sha256_(std::move(sha256)), basis_(basis) {}
  std::string leaf_sha256_;
  AcceptanceBasis basis_;
};

enum class SessionState {
  handshaking,
  awaiting_trust_decision,  // client: handshake done, application data refused until accept_peer
  established,
  closed,  // close() was called or the peer sent close_notify
  failed,  // a fatal error; nothing more can be done
};
const char* to_string(SessionState state);

enum class HandshakeProgress { needs_more_ciphertext, complete };

enum class ReadStatus {
  data,                   // `bytes` plaintext bytes were written into the buffer
  needs_more_ciphertext,  // nothing decrypted; feed more
  closed_by_peer,         // close_notify received: the peer sends nothing more
};
struct ReadOutcome {
  ReadStatus status = ReadStatus::needs_more_ciphertext;
  std::size_t bytes = 0;
};

// RFC 5056 channel binding types, for SCRAM-*-PLUS (XEP-0440).
enum class ChannelBinding {
  tls_exporter,          // RFC 9266; offered here on TLS 1.3 only
  tls_server_end_point,  // RFC 5929 4.1
  tls_unique,            // RFC 5929 3.1; TLS 1.2 with extended master secret only
};
const char* to_string(ChannelBinding type);  // "tls-exporter", ...

// What the lock indicator shows "on request".
struct ConnectionInfo {
  TlsVersion protocol = TlsVersion::tls1_3;
  std::string cipher;          // IANA name, "TLS_AES_256_GCM_SHA384"
  std::string openssl_cipher;  // OpenSSL's name, "ECDHE-RSA-AES256-GCM-SHA384"
  std::string group;           // key exchange group, "X25519"
  std::string alpn;            // empty when none was negotiated
};

// A finding of OpenSSL's (anchorless) chain check, recorded for the log; never a verdict.
struct OpensslFinding {
  int depth = 0;
  std::string message;
};

class Session {
 public:
  // server_name: the host the user asked for (the service domain); sent as SNI unless it is an
  // IP address (RFC 6066 3 forbids literal addresses in SNI).
  static Result<std::unique_ptr<Session>> client(std::shared_ptr<const ClientContext> context,
                                                 std::string server_name);
  static Result<std::unique_ptr<Session>> server(std::shared_ptr<const ServerContext> context);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  Role role() const;
  SessionState state() const;

  // Network -> session. Fails with ErrorKind::limit when more than kMaxBufferedCiphertext would
  // wait unread.
  Result<void> feed_ciphertext(std::span<const std::uint8_t> bytes);
  // Session -> network: moves up to out.size() bytes into `out`, returns how many.
  std::size_t take_ciphertext(std::span<std::uint8_t> out);
  std::size_t pending_ciphertext() const;

  // Advances the handshake with what was fed. On failure the session is `failed` and the error
  // carries OpenSSL's reason (or the recorder's, for a chain it could not record).
  Result<HandshakeProgress> handshake();

  // Client only, after the handshake: the trust decision's "yes" for the presented leaf.
  Result<void> accept_peer(const PeerAcceptance& acceptance);
  std::optional<AcceptanceBasis> acceptance() const;

  // Application data; only in `established`.
  Result<void> write(std::span<const std::uint8_t> plaintext);
  Result<ReadOutcome> read(std::span<std::uint8_t> buffer);
  // Sends close_notify (flush take_ciphertext() afterwards).
  Result<void> close();

  // After the handshake.
  Result<ConnectionInfo> connection_info() const;
  // Client: the chain the server sent, leaf first, as recorded by the verify callback (empty for
  // a server session: no client certificates).
  const std::vector<pki::CertificatePtr>& peer_chain() const;
  const std::vector<OpensslFinding>& openssl_findings() const;
  // Client: the DER OCSP response the server stapled, if any.
  const std::optional<std::string>& stapled_ocsp() const;
  Result<std::string> channel_binding(ChannelBinding type) const;

  struct Impl;

 private:
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::tls
