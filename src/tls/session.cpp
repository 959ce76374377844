#include "tls/session.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/tls1.h>
#include <openssl/x509_vfy.h>

#include <climits>
#include <cstring>

#include "tls/openssl_handles.hpp"

namespace parley::tls {

const char* to_string(AcceptanceBasis basis) {
  switch (basis) {
    case AcceptanceBasis::verified_chain:
      return "verified chain";
    case AcceptanceBasis::previously_accepted:
      return "previously accepted";
    case AcceptanceBasis::accepted_by_user:
      return "accepted by user";
  }
  return "?";
}

const char* to_string(SessionState state) {
  switch (state) {
    case SessionState::handshaking:
      return "handshaking";
    case SessionState::awaiting_trust_decision:
      return "awaiting trust decision";
    case SessionState::established:
      return "established";
    case SessionState::closed:
      return "closed";
    case SessionState::failed:
      return "failed";
  }
  return "?";
}

const char* to_string(ChannelBinding type) {
  switch (type) {
    case ChannelBinding::tls_exporter:
      return "tls-exporter";
    case ChannelBinding::tls_server_end_point:
      return "tls-server-end-point";
    case ChannelBinding::tls_unique:
      return "tls-unique";
  }
  return "?";
}

PeerAcceptance PeerAcceptance::from_verified_path(const pki::VerifiedPath& path) {
  return PeerAcceptance(path.leaf().sha256_fingerprint(), AcceptanceBasis::verified_chain);
}

PeerAcceptance PeerAcceptance::from_trust_decision(const pki::Certificate& accepted_leaf,
                                                   AcceptanceBasis basis) {
  return PeerAcceptance(accepted_leaf.sha256_fingerprint(), basis);
}

namespace {

// Findings beyond this are counted, not kept: the chain length bounds them anyway, this bounds
// the memory if OpenSSL reports one error many times.
constexpr std::size_t kMaxFindings = 32;

int session_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

std::string reason_or(const char* fallback) {
  std::string reason = pki::openssl::last_error_text();
  return reason.empty() ? std::string(fallback) : reason;
}

bool is_ip_literal(const std::string& host) {
  unsigned char address[16];
  return inet_pton(AF_INET, host.c_str(), address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// SSL_get_error() reads the thread's error queue, so it must be empty before an I/O call. It
// nearly always is already, and clearing an empty queue still costs more than the check (this
// runs for every record read and written).
void empty_error_queue() {
  if (ERR_peek_error() != 0) ERR_clear_error();
}

// OPENSSL_free is a macro; Deleter needs a function.
void free_openssl_memory(void* p) {
  OPENSSL_free(p);
}

Result<pki::CertificatePtr> to_certificate(X509* x509) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(x509, &der);
  if (length <= 0) return fail(Error::crypto("cannot encode a peer certificate"));
  std::unique_ptr<unsigned char, Deleter<free_openssl_memory>> owned(der);
  return pki::Certificate::from_der({der, static_cast<std::size_t>(length)});
}

}  // namespace

struct Session::Impl {
  Role role = Role::client;
  std::shared_ptr<const ClientContext> client_context;  // kept alive while the SSL uses it
  std::shared_ptr<const ServerContext> server_context;
  SslPtr ssl;
  BIO* network_in = nullptr;   // owned by ssl: ciphertext from the peer
  BIO* network_out = nullptr;  // owned by ssl: ciphertext for the peer
  SessionState state = SessionState::handshaking;
  bool handshake_done = false;
  bool peer_closed = false;
  std::optional<AcceptanceBasis> acceptance;
  std::optional<Error> failure;

  // Filled by the verify callback.
  bool chain_recorded = false;
  std::vector<pki::CertificatePtr> chain;
  std::vector<OpensslFinding> findings;
  std::size_t findings_dropped = 0;
  std::optional<std::string> recorder_error;

  std::optional<std::string> staple;

  Error fail_with(Error error) {
    state = SessionState::failed;
    failure = error;
    return error;
  }

  Result<void> usable() const {
    if (state == SessionState::failed) {
      return fail(
          Error::invalid_argument("TLS session has failed: " + (failure ? failure->message : "")));
    }
    return {};
  }

  // The verify callback's work: record, never judge.
  bool record(int preverify_ok, X509_STORE_CTX* store) {
    if (!chain_recorded) {
      chain_recorded = true;
      X509* leaf = X509_STORE_CTX_get0_cert(store);
      STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store);
      if (leaf == nullptr) {
        recorder_error = "the server presented no certificate";
        return false;
      }
      std::vector<X509*> in_order{leaf};
      const int count = sent ? sk_X509_num(sent) : 0;
      for (int i = 0; i < count; ++i) {
        X509* c = sk_X509_value(sent, i);
        // OpenSSL passes the whole chain as sent, leaf included.
        if (i == 0 && X509_cmp(c, leaf) == 0) continue;
        in_order.push_back(c);
      }
      if (in_order.size() > kMaxPeerChainLength) {
        recorder_error = "the server sent " + std::to_string(in_order.size()) +
                         " certificates (at most " + std::to_string(kMaxPeerChainLength) +
                         " are read)";
        return false;
      }
      for (X509* c : in_order) {
        auto parsed = to_certificate(c);
        if (!parsed) {
          recorder_error =
              "a certificate the server sent cannot be read: " + parsed.error().message;
          return false;
        }
        chain.push_back(std::move(*parsed));
      }
    }
    if (!recorder_error && preverify_ok != 1) {
      if (findings.size() < kMaxFindings) {
        const int error = X509_STORE_CTX_get_error(store);
        findings.push_back(
            {X509_STORE_CTX_get_error_depth(store), X509_verify_cert_error_string(error)});
      } else {
        ++findings_dropped;
      }
    }
    return !recorder_error;
  }

  Result<HandshakeProgress> finish_handshake() {
    handshake_done = true;
    if (role == Role::server) {
      state = SessionState::established;
      return HandshakeProgress::complete;
    }
    // Fail closed if the recorder never ran or recorded something other than what OpenSSL holds
    // as the peer's certificate: the trust decision must see exactly what was negotiated with.
    X509* peer = SSL_get0_peer_certificate(ssl.get());
    if (!chain_recorded || chain.empty() || peer == nullptr ||
        X509_cmp(peer, chain.front()->openssl()) != 0) {
      return fail(fail_with(
          Error::crypto("TLS handshake completed without a recorded server certificate chain")));
    }
    const unsigned char* response = nullptr;
    const long length = SSL_get_tlsext_status_ocsp_resp(ssl.get(), &response);
    if (response != nullptr && length > 0) {
      staple =
          std::string(reinterpret_cast<const char*>(response), static_cast<std::size_t>(length));
    }
    state = SessionState::awaiting_trust_decision;
    return HandshakeProgress::complete;
  }

  Error openssl_failure(const char* what, int ssl_error) {
    std::string message = std::string(what) + ": ";
    if (recorder_error) {
      message += *recorder_error;
      ERR_clear_error();
    } else if (ssl_error == SSL_ERROR_SYSCALL) {
      message += reason_or("the peer's data ended unexpectedly");
    } else {
      message += reason_or("unknown OpenSSL error");
    }
    return fail_with(Error::crypto(std::move(message)));
  }
};

namespace {

Session::Impl* impl_of(X509_STORE_CTX* store) {
  auto* ssl =
      static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return nullptr;
  return static_cast<Session::Impl*>(SSL_get_ex_data(ssl, session_index()));
}

Result<std::unique_ptr<Session::Impl>> new_impl(Role role, SSL_CTX* ctx) {
  auto impl = std::make_unique<Session::Impl>();
  impl->role = role;
  impl->ssl.reset(SSL_new(ctx));
  if (!impl->ssl)
    return fail(Error::crypto("cannot create a TLS session: " + reason_or("SSL_new failed")));
  impl->network_in = BIO_new(BIO_s_mem());
  impl->network_out = BIO_new(BIO_s_mem());
  if (impl->network_in == nullptr || impl->network_out == nullptr) {
    BIO_free(impl->network_in);
    BIO_free(impl->network_out);
    return fail(Error::crypto("cannot create TLS buffers"));
  }
  // An empty input buffer means "wait for more", never end of stream.
  BIO_set_mem_eof_return(impl->network_in, -1);
  SSL_set_bio(impl->ssl.get(), impl->network_in, impl->network_out);
  if (SSL_set_ex_data(impl->ssl.get(), session_index(), impl.get()) != 1) {
    return fail(Error::crypto("cannot attach the TLS session"));
  }
  return impl;
}

}  // namespace

int recording_verify_callback(int preverify_ok, X509_STORE_CTX* store) {
  Session::Impl* impl = impl_of(store);
  if (impl == nullptr) return 0;  // nobody to answer for this chain: fail closed
  return impl->record(preverify_ok, store) ? 1 : 0;
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::client(std::shared_ptr<const ClientContext> context,
                                                 std::string server_name) {
  if (!context) return fail(Error::invalid_argument("TLS client session without a context"));
  if (server_name.empty() || server_name.size() > 253 ||
      server_name.find('\0') != std::string::npos) {
    return fail(Error::invalid_argument("TLS server name must be 1 to 253 characters"));
  }
  auto impl = new_impl(Role::client, context->openssl());
  if (!impl) return fail(impl.error());
  (*impl)->client_context = std::move(context);
  SSL* ssl = (*impl)->ssl.get();
  SSL_set_connect_state(ssl);
  // SSL_set_tlsext_host_name spelled out (its macro casts away const C-style); OpenSSL copies it.
  if (!is_ip_literal(server_name) && SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                              TLSEXT_NAMETYPE_host_name, server_name.data()) != 1) {
    return fail(Error::crypto("cannot set the TLS server name: " +
                              reason_or("SSL_set_tlsext_host_name failed")));
  }
  if (SSL_set_tlsext_status_type(ssl, TLSEXT_STATUSTYPE_ocsp) != 1) {
    return fail(Error::crypto("cannot request OCSP stapling: " +
                              reason_or("SSL_set_tlsext_status_type failed")));
  }
  return std::unique_ptr<Session>(new Session(std::move(*impl)));
}

Result<std::unique_ptr<Session>> Session::server(std::shared_ptr<const ServerContext> context) {
  if (!context) return fail(Error::invalid_argument("TLS server session without a context"));
  auto impl = new_impl(Role::server, context->openssl());
  if (!impl) return fail(impl.error());
  (*impl)->server_context = std::move(context);
  SSL_set_accept_state((*impl)->ssl.get());
  return std::unique_ptr<Session>(new Session(std::move(*impl)));
}

Role Session::role() const {
  return impl_->role;
}
SessionState Session::state() const {
  return impl_->state;
}
std::optional<AcceptanceBasis> Session::acceptance() const {
  return impl_->acceptance;
}
const std::vector<pki::CertificatePtr>& Session::peer_chain() const {
  return impl_->chain;
}
const std::vector<OpensslFinding>& Session::openssl_findings() const {
  return impl_->findings;
}
const std::optional<std::string>& Session::stapled_ocsp() const {
  return impl_->staple;
}

Result<void> Session::feed_ciphertext(std::span<const std::uint8_t> bytes) {
  if (auto ok = impl_->usable(); !ok) return ok;
  if (bytes.empty()) return {};
  if (BIO_ctrl_pending(impl_->network_in) + bytes.size() > kMaxBufferedCiphertext) {
    return fail(impl_->fail_with(Error::limit(
        "more than " + std::to_string(kMaxBufferedCiphertext) + " bytes of TLS data wait unread")));
  }
  // Bounded above, so the size fits BIO_write's int.
  const int written = BIO_write(impl_->network_in, bytes.data(), static_cast<int>(bytes.size()));
  if (written != static_cast<int>(bytes.size())) {
    return fail(impl_->fail_with(
        Error::crypto("cannot buffer TLS data: " + reason_or("BIO_write failed"))));
  }
  return {};
}

std::size_t Session::take_ciphertext(std::span<std::uint8_t> out) {
  const std::size_t wanted = std::min<std::size_t>(out.size(), INT_MAX);
  if (wanted == 0) return 0;
  const int got = BIO_read(impl_->network_out, out.data(), static_cast<int>(wanted));
  return got > 0 ? static_cast<std::size_t>(got) : 0;
}

std::size_t Session::pending_ciphertext() const {
  return BIO_ctrl_pending(impl_->network_out);
}

Result<HandshakeProgress> Session::handshake() {
  if (auto ok = impl_->usable(); !ok) return fail(ok.error());
  if (impl_->handshake_done) return HandshakeProgress::complete;
  if (impl_->state != SessionState::handshaking) {
    return fail(
        Error::invalid_argument(std::string("TLS handshake in state ") + to_string(impl_->state)));
  }
  ERR_clear_error();
  const int result = SSL_do_handshake(impl_->ssl.get());
  if (result == 1) return impl_->finish_handshake();
  const int error = SSL_get_error(impl_->ssl.get(), result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
    if (impl_->recorder_error) return fail(impl_->openssl_failure("TLS handshake failed", error));
    return HandshakeProgress::needs_more_ciphertext;
  }
  return fail(impl_->openssl_failure("TLS handshake failed", error));
}

Result<void> Session::accept_peer(const PeerAcceptance& acceptance) {
  if (auto ok = impl_->usable(); !ok) return ok;
  if (impl_->role != Role::client) {
    return fail(Error::invalid_argument(
        "accept_peer is for client sessions (a server asks for no certificate)"));
  }
  if (impl_->state != SessionState::awaiting_trust_decision) {
    return fail(
        Error::invalid_argument(std::string("accept_peer in state ") + to_string(impl_->state)));
  }
  // The decision must be about exactly the certificate this connection was negotiated with;
  // anything else means the caller judged a different chain, so the connection must not go on.
  if (acceptance.leaf_sha256().empty() ||
      acceptance.leaf_sha256() != impl_->chain.front()->sha256_fingerprint()) {
    return fail(impl_->fail_with(
        Error::invalid_argument("the trust decision accepted a different certificate than the "
                                "server presented; connection refused")));
  }
  impl_->acceptance = acceptance.basis();
  impl_->state = SessionState::established;
  return {};
}

Result<void> Session::write(std::span<const std::uint8_t> plaintext) {
  if (auto ok = impl_->usable(); !ok) return ok;
  if (impl_->state == SessionState::awaiting_trust_decision) {
    return fail(Error::invalid_argument(
        "no application data before a trust decision accepted the server's certificate"));
  }
  if (impl_->state != SessionState::established) {
    return fail(
        Error::invalid_argument(std::string("TLS write in state ") + to_string(impl_->state)));
  }
  if (plaintext.empty()) return {};
  if (pending_ciphertext() + plaintext.size() > kMaxBufferedCiphertext) {
    return fail(
        Error::limit("more than " + std::to_string(kMaxBufferedCiphertext) +
                     " bytes of TLS data would wait unsent; drain take_ciphertext() first"));
  }
  empty_error_queue();
  std::size_t written = 0;
  const int result = SSL_write_ex(impl_->ssl.get(), plaintext.data(), plaintext.size(), &written);
  if (result != 1 || written != plaintext.size()) {
    return fail(
        impl_->openssl_failure("TLS write failed", SSL_get_error(impl_->ssl.get(), result)));
  }
  return {};
}

Result<ReadOutcome> Session::read(std::span<std::uint8_t> buffer) {
  if (auto ok = impl_->usable(); !ok) return fail(ok.error());
  if (impl_->state == SessionState::awaiting_trust_decision) {
    return fail(Error::invalid_argument(
        "no application data before a trust decision accepted the server's certificate"));
  }
  if (impl_->peer_closed) return ReadOutcome{ReadStatus::closed_by_peer, 0};
  // After our own close_notify the peer may still be finishing what it sends (a half-close).
  if (impl_->state != SessionState::established && impl_->state != SessionState::closed) {
    return fail(
        Error::invalid_argument(std::string("TLS read in state ") + to_string(impl_->state)));
  }
  if (buffer.empty()) return ReadOutcome{ReadStatus::needs_more_ciphertext, 0};
  // Nothing in the session's buffers and nothing fed behind them: SSL_read could only ask for
  // more, so it is not asked (a caller reads until this answer, once per record received).
  if (SSL_has_pending(impl_->ssl.get()) == 0 && BIO_ctrl_pending(impl_->network_in) == 0)
    return ReadOutcome{ReadStatus::needs_more_ciphertext, 0};
  empty_error_queue();
  std::size_t got = 0;
  const int result = SSL_read_ex(impl_->ssl.get(), buffer.data(), buffer.size(), &got);
  if (result == 1) return ReadOutcome{ReadStatus::data, got};
  const int error = SSL_get_error(impl_->ssl.get(), result);
  if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
    return ReadOutcome{ReadStatus::needs_more_ciphertext, 0};
  if (error == SSL_ERROR_ZERO_RETURN) {
    impl_->peer_closed = true;
    impl_->state = SessionState::closed;
    return ReadOutcome{ReadStatus::closed_by_peer, 0};
  }
  return fail(impl_->openssl_failure("TLS read failed", error));
}

Result<void> Session::close() {
  if (auto ok = impl_->usable(); !ok) return ok;
  if (!impl_->handshake_done) {
    // Nothing to protect yet; a close_notify before the handshake would only confuse the peer.
    impl_->state = SessionState::closed;
    return {};
  }
  ERR_clear_error();
  if (SSL_get_shutdown(impl_->ssl.get()) & SSL_SENT_SHUTDOWN) return {};
  const int result = SSL_shutdown(impl_->ssl.get());
  if (result < 0) {
    return fail(
        impl_->openssl_failure("TLS close failed", SSL_get_error(impl_->ssl.get(), result)));
  }
  impl_->state = SessionState::closed;
  return {};
}

Result<ConnectionInfo> Session::connection_info() const {
  if (!impl_->handshake_done)
    return fail(Error::invalid_argument("TLS connection details before the handshake"));
  SSL* ssl = impl_->ssl.get();
  ConnectionInfo info;
  info.protocol = SSL_version(ssl) == TLS1_3_VERSION ? TlsVersion::tls1_3 : TlsVersion::tls1_2;
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl)) {
    if (const char* name = SSL_CIPHER_standard_name(cipher)) info.cipher = name;
    info.openssl_cipher = SSL_CIPHER_get_name(cipher);
  }
  const int group = static_cast<int>(SSL_get_negotiated_group(ssl));
  switch (group) {
    case NID_X25519:
      info.group = "X25519";
      break;
    case NID_X9_62_prime256v1:
      info.group = "P-256";
      break;
    case NID_secp384r1:
      info.group = "P-384";
      break;
    default:
      if (const char* name = OBJ_nid2sn(group)) info.group = name;
  }
  const unsigned char* alpn = nullptr;
  unsigned int alpn_length = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_length);
  if (alpn != nullptr) info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_length);
  return info;
}

Result<std::string> Session::channel_binding(ChannelBinding type) const {
  if (!impl_->handshake_done || impl_->state == SessionState::failed) {
    return fail(Error::invalid_argument("channel binding before the handshake completed"));
  }
  SSL* ssl = impl_->ssl.get();
  const bool tls13 = SSL_version(ssl) == TLS1_3_VERSION;
  switch (type) {
    case ChannelBinding::tls_exporter: {
      // RFC 9266 3: over TLS 1.2 tls-exporter is safe only with extended master secret, and
      // peers disagree on whether its context is absent or empty there; TLS 1.2 sessions use
      // tls-server-end-point or tls-unique instead.
      if (!tls13) return fail(Error::invalid_argument("tls-exporter is offered on TLS 1.3 only"));
      static constexpr char kLabel[] = "EXPORTER-Channel-Binding";
      std::string out(32, '\0');
      ERR_clear_error();
      if (SSL_export_keying_material(ssl, reinterpret_cast<unsigned char*>(out.data()), out.size(),
                                     kLabel, sizeof kLabel - 1, nullptr, 0, 0) != 1) {
        return fail(
            Error::crypto("tls-exporter: " + reason_or("SSL_export_keying_material failed")));
      }
      return out;
    }
    case ChannelBinding::tls_server_end_point: {
      // RFC 5929 4.1: the server's certificate, hashed with its signature's hash, SHA-256 when
      // that is MD5 or SHA-1; undefined for signatures without a separate hash (Ed25519).
      X509* certificate =
          impl_->role == Role::client ? SSL_get0_peer_certificate(ssl) : SSL_get_certificate(ssl);
      if (certificate == nullptr)
        return fail(Error::crypto("tls-server-end-point: no server certificate"));
      int digest_nid = NID_undef;
      if (X509_get_signature_info(certificate, &digest_nid, nullptr, nullptr, nullptr) != 1 ||
          digest_nid == NID_undef) {
        ERR_clear_error();
        return fail(Error::invalid_argument(
            "tls-server-end-point is not defined for this certificate's signature algorithm"));
      }
      if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
      const EVP_MD* digest = EVP_get_digestbynid(digest_nid);
      if (digest == nullptr) return fail(Error::crypto("tls-server-end-point: unknown hash"));
      unsigned char hash[EVP_MAX_MD_SIZE];
      unsigned int length = 0;
      if (X509_digest(certificate, digest, hash, &length) != 1) {
        return fail(Error::crypto("tls-server-end-point: " + reason_or("X509_digest failed")));
      }
      return std::string(reinterpret_cast<const char*>(hash), length);
    }
    case ChannelBinding::tls_unique: {
      // RFC 5929 3.1 defines it for TLS 1.2 and RFC 8446 C.5 leaves it undefined for TLS 1.3;
      // without extended master secret it is open to the triple handshake (RFC 7627).
      if (tls13) return fail(Error::invalid_argument("tls-unique is not defined for TLS 1.3"));
      if (SSL_get_extms_support(ssl) != 1) {
        return fail(
            Error::invalid_argument("tls-unique needs the extended master secret extension"));
      }
      if (SSL_session_reused(ssl) == 1) {
        return fail(Error::invalid_argument(
            "tls-unique on a resumed session"));  // never happens: no resumption
      }
      // The first Finished of a full handshake is the client's.
      unsigned char finished[EVP_MAX_MD_SIZE];
      const std::size_t length = impl_->role == Role::client
                                     ? SSL_get_finished(ssl, finished, sizeof finished)
                                     : SSL_get_peer_finished(ssl, finished, sizeof finished);
      if (length == 0 || length > sizeof finished)
        return fail(Error::crypto("tls-unique: no Finished message"));
      return std::string(reinterpret_cast<const char*>(finished), length);
    }
  }
  return fail(Error::invalid_argument("unknown channel binding type"));
}

}  // namespace parley::tls
