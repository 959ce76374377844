#include "tls/context.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/tls1.h>

#include <cstring>
#include <ctime>
#include <mutex>

#include "core/file.hpp"
#include "core/utc_time.hpp"
#include "pki/verify_path.hpp"
#include "tls/openssl_handles.hpp"

namespace parley::tls {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ':';
    out += item;
  }
  return out;
}

int openssl_version(TlsVersion version) {
  return version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

std::string with_reason(std::string message) {
  const std::string reason = pki::openssl::last_error_text();
  if (!reason.empty()) message += " (" + reason + ")";
  return message;
}

// RFC 7301 3.1: a list of non-empty, length-prefixed names of at most 255 bytes.
Result<std::string> alpn_wire(const std::vector<std::string>& protocols) {
  if (protocols.size() > kMaxAlpnProtocols) {
    return fail(
        Error::limit("ALPN: more than " + std::to_string(kMaxAlpnProtocols) + " protocols"));
  }
  std::string wire;
  for (const auto& protocol : protocols) {
    if (protocol.empty() || protocol.size() > 255) {
      return fail(Error::invalid_argument("ALPN: protocol name \"" + protocol +
                                          "\" must be 1 to 255 bytes"));
    }
    wire += static_cast<char>(protocol.size());
    wire += protocol;
  }
  return wire;
}

// A FIPS library context holds only the FIPS provider (algorithms) and the base provider
// (encoders and decoders, which FIPS 140 does not cover): nothing can quietly fall back to the
// default provider's non-approved implementations.
Result<LibCtxPtr> fips_library_context() {
  if (auto available = fips_provider_available(); !available) return fail(available.error());
  LibCtxPtr context(OSSL_LIB_CTX_new());
  if (!context || OSSL_PROVIDER_load(context.get(), "fips") == nullptr ||
      OSSL_PROVIDER_load(context.get(), "base") == nullptr) {
    return fail(Error::crypto(with_reason("FIPS provider not available")));
  }
  // Providers loaded into a library context stay until the context is freed.
  return context;
}

constexpr const char* kFipsProperties = "fips=yes";

Result<SslCtxPtr> new_context(const TlsPolicy& policy, bool server, LibCtxPtr& library) {
  if (auto valid = validate(policy); !valid) return fail(valid.error());
  const char* properties = nullptr;
  if (policy.fips == FipsMode::on) {
    auto fips = fips_library_context();
    if (!fips) return fail(fips.error());
    library = std::move(*fips);
    properties = kFipsProperties;
  }
  SslCtxPtr ctx(SSL_CTX_new_ex(library.get(), properties,
                               server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return fail(Error::crypto(with_reason("cannot create a TLS context")));

  // The system configuration (Debian's openssl.cnf) is applied by SSL_CTX_new; everything below
  // overrides it, so the policy means the same on every machine.
  if (SSL_CTX_set_min_proto_version(ctx.get(), openssl_version(policy.min_version)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx.get(), openssl_version(policy.max_version)) != 1) {
    return fail(Error::crypto(with_reason("cannot set the TLS protocol versions")));
  }
  if (!policy.tls13_suites.empty() &&
      SSL_CTX_set_ciphersuites(ctx.get(), join(policy.tls13_suites).c_str()) != 1) {
    return fail(Error::crypto(with_reason("cannot set the TLS 1.3 suites")));
  }
  // validate() allows an empty TLS 1.2 list only when the minimum version is TLS 1.3, and then
  // the version floor alone keeps every TLS 1.2 suite out.
  if (!policy.tls12_suites.empty() &&
      SSL_CTX_set_cipher_list(ctx.get(), join(policy.tls12_suites).c_str()) != 1) {
    return fail(Error::crypto(with_reason("cannot set the TLS 1.2 suites")));
  }
  if (SSL_CTX_set1_groups_list(ctx.get(), join(policy.groups).c_str()) != 1) {
    return fail(Error::crypto(with_reason("cannot set the key exchange groups")));
  }
  SSL_CTX_set_security_level(ctx.get(), 2);
  std::uint64_t options = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET;
  if (server) options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx.get(), options);
  // policy.hpp: no resumption in either role.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(ctx.get(), 0) != 1) {
    return fail(Error::crypto(with_reason("cannot turn off session tickets")));
  }
  SSL_CTX_set_max_cert_list(ctx.get(), static_cast<long>(policy.max_peer_chain_bytes));
  // Memory BIOs never block, so OpenSSL's buffers can be released between records: an idle
  // session then costs less (issue 4 counts memory per idle session).
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

// Encrypted keys would make OpenSSL prompt on the terminal; a server has nobody to ask.
int refuse_passphrase(char*, int, int, void*) {
  return -1;
}

// Issue 4: RSA >= 2048 or ECDSA P-256/P-384, refused otherwise. pki's key check admits more
// (P-521, Ed25519) for certificates it verifies; a Parley server serves only what every client
// in its policy can verify, and P-521 is not among the TLS groups/signature curves of the policy.
Result<void> check_server_key(const pki::PublicKeyInfo& key) {
  std::string why;
  if (!pki::key_is_acceptable(key, why)) return fail(Error::invalid_argument(why));
  if (key.algorithm == pki::KeyAlgorithm::rsa) return {};
  if (key.algorithm == pki::KeyAlgorithm::ec && (key.curve == "P-256" || key.curve == "P-384"))
    return {};
  if (key.algorithm == pki::KeyAlgorithm::ec) {
    return fail(Error::invalid_argument("ECDSA key on curve " + key.curve +
                                        " (a server key must be on P-256 or P-384)"));
  }
  return fail(
      Error::invalid_argument("key type not served (a server key must be RSA of 2048 bits "
                              "or more, or ECDSA on P-256 or P-384)"));
}

}  // namespace

// ---- server ------------------------------------------------------------------------------------

struct ServerContext::Impl {
  LibCtxPtr library;  // declared before ctx: freed after it
  SslCtxPtr ctx;
  TlsPolicy policy;
  std::vector<pki::CertificatePtr> chain;
  std::string alpn;  // wire format
  mutable std::mutex staple_mutex;
  std::optional<std::string> staple;
};

namespace {

// OpenSSL calls this on the server only when the client sent status_request.
int staple_callback(SSL* ssl, void* arg) {
  const auto* impl = static_cast<const ServerContext::Impl*>(arg);
  std::string response;
  {
    std::lock_guard lock(impl->staple_mutex);
    if (!impl->staple) return SSL_TLSEXT_ERR_NOACK;
    response = *impl->staple;
  }
  // OpenSSL takes ownership of an OPENSSL_malloc'ed copy.
  auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(response.size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;  // a staple is optional; no memory, no staple
  std::memcpy(copy, response.data(), response.size());
  if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(response.size())) != 1) {
    OPENSSL_free(copy);
    return SSL_TLSEXT_ERR_NOACK;
  }
  return SSL_TLSEXT_ERR_OK;
}

// RFC 7301 3.2: the server's preference wins; a client that offers ALPN but none of ours gets
// no_application_protocol rather than a stream of the wrong protocol.
int alpn_select_callback(SSL*, const unsigned char** out, unsigned char* out_length,
                         const unsigned char* in, unsigned int in_length, void* arg) {
  const auto* impl = static_cast<const ServerContext::Impl*>(arg);
  unsigned char* selected = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(impl->alpn.data());
  if (SSL_select_next_proto(&selected, out_length, ours,
                            static_cast<unsigned int>(impl->alpn.size()), in,
                            in_length) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

Result<void> check_staple(const std::optional<std::string>& der) {
  if (der && (der->empty() || der->size() > kMaxOcspStapleBytes)) {
    return fail(Error::limit("OCSP response to staple must be 1 to " +
                             std::to_string(kMaxOcspStapleBytes) + " bytes, got " +
                             std::to_string(der->size())));
  }
  return {};
}

}  // namespace

ServerContext::ServerContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ServerContext::~ServerContext() = default;

Result<std::shared_ptr<ServerContext>> ServerContext::create(const ServerOptions& options) {
  const std::string chain_name = options.chain_file.string();
  const std::string key_name = options.key_file.string();
  auto impl = std::make_unique<Impl>();
  impl->policy = options.policy;
  if (auto ok = check_staple(options.ocsp_staple); !ok) return fail(ok.error());
  impl->staple = options.ocsp_staple;
  auto alpn = alpn_wire(options.alpn);
  if (!alpn) return fail(alpn.error());
  impl->alpn = std::move(*alpn);

  auto ctx = new_context(options.policy, true, impl->library);
  if (!ctx) return fail(ctx.error());
  impl->ctx = std::move(*ctx);

  // The chain: parsed by pki so that the checks read the same fields the verifier reads.
  auto chain_text = read_file(options.chain_file, kMaxChainFileBytes);
  if (!chain_text) return fail(chain_text.error());
  auto chain = pki::Certificate::from_pem(*chain_text);
  if (!chain) return fail(Error::parse(chain_name + ": " + chain.error().message));
  impl->chain = std::move(*chain);
  const pki::Certificate& leaf = *impl->chain.front();

  if (auto key_ok = check_server_key(leaf.public_key()); !key_ok) {
    return fail(Error::invalid_argument(
        chain_name + ": the server certificate is refused: " + key_ok.error().message));
  }
  const pki::UnixTime now =
      options.validity_time.value_or(static_cast<pki::UnixTime>(std::time(nullptr)));
  if (now > leaf.not_after()) {
    return fail(Error::invalid_argument(chain_name + ": the server certificate expired on " +
                                        utc_timestamp(leaf.not_after())));
  }
  if (now < leaf.not_before()) {
    return fail(Error::invalid_argument(chain_name +
                                        ": the server certificate is not valid until " +
                                        utc_timestamp(leaf.not_before())));
  }

  auto key_text = read_file(options.key_file, kMaxKeyFileBytes);
  if (!key_text) return fail(key_text.error());
  pki::openssl::BioPtr key_bio(
      BIO_new_mem_buf(key_text->data(), static_cast<int>(key_text->size())));
  if (!key_bio) return fail(Error::crypto(with_reason(key_name + ": cannot read")));
  pki::openssl::EvpPkeyPtr key(
      PEM_read_bio_PrivateKey_ex(key_bio.get(), nullptr, refuse_passphrase, nullptr,
                                 impl->library.get(), impl->library ? kFipsProperties : nullptr));
  if (!key) {
    return fail(Error::parse(with_reason(key_name + ": not an unencrypted PEM private key")));
  }
  if (X509_check_private_key(leaf.openssl(), key.get()) != 1) {
    ERR_clear_error();
    return fail(Error::invalid_argument(
        key_name + ": the private key does not match the certificate in " + chain_name));
  }

  // OpenSSL keeps its own references (up-ref), so the chain stays owned by pki::Certificate.
  if (SSL_CTX_use_certificate(impl->ctx.get(), leaf.openssl()) != 1) {
    return fail(
        Error::crypto(with_reason(chain_name + ": OpenSSL refused the server certificate")));
  }
  for (std::size_t i = 1; i < impl->chain.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(impl->ctx.get(), impl->chain[i]->openssl()) != 1) {
      return fail(Error::crypto(with_reason(
          chain_name + ": OpenSSL refused intermediate certificate " + std::to_string(i + 1))));
    }
  }
  if (SSL_CTX_use_PrivateKey(impl->ctx.get(), key.get()) != 1 ||
      SSL_CTX_check_private_key(impl->ctx.get()) != 1) {
    return fail(Error::crypto(with_reason(key_name + ": OpenSSL refused the private key")));
  }

  // SSL_CTX_set_tlsext_status_cb spelled out: the macro's C cast trips -Wold-style-cast.
  SSL_CTX_callback_ctrl(impl->ctx.get(), SSL_CTRL_SET_TLSEXT_STATUS_REQ_CB,
                        reinterpret_cast<void (*)()>(staple_callback));
  SSL_CTX_set_tlsext_status_arg(impl->ctx.get(), impl.get());
  if (!impl->alpn.empty())
    SSL_CTX_set_alpn_select_cb(impl->ctx.get(), alpn_select_callback, impl.get());
  // A server does not ask for client certificates (see the header).
  SSL_CTX_set_verify(impl->ctx.get(), SSL_VERIFY_NONE, nullptr);
  return std::shared_ptr<ServerContext>(new ServerContext(std::move(impl)));
}

Result<void> ServerContext::set_ocsp_staple(std::optional<std::string> der) {
  if (auto ok = check_staple(der); !ok) return ok;
  std::lock_guard lock(impl_->staple_mutex);
  impl_->staple = std::move(der);
  return {};
}

const std::vector<pki::CertificatePtr>& ServerContext::chain() const {
  return impl_->chain;
}
const TlsPolicy& ServerContext::policy() const {
  return impl_->policy;
}
SSL_CTX* ServerContext::openssl() const {
  return impl_->ctx.get();
}

// ---- client ------------------------------------------------------------------------------------

struct ClientContext::Impl {
  LibCtxPtr library;
  SslCtxPtr ctx;
  TlsPolicy policy;
};

ClientContext::ClientContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientContext::~ClientContext() = default;

Result<std::shared_ptr<ClientContext>> ClientContext::create(const ClientOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->policy = options.policy;
  auto alpn = alpn_wire(options.alpn);
  if (!alpn) return fail(alpn.error());
  auto ctx = new_context(options.policy, false, impl->library);
  if (!ctx) return fail(ctx.error());
  impl->ctx = std::move(*ctx);
  // SSL_CTX_set_alpn_protos returns 0 on success.
  if (!alpn->empty() &&
      SSL_CTX_set_alpn_protos(impl->ctx.get(), reinterpret_cast<const unsigned char*>(alpn->data()),
                              static_cast<unsigned int>(alpn->size())) != 0) {
    return fail(Error::crypto(with_reason("cannot set the ALPN protocols")));
  }
  // No anchors are loaded (no SSL_CTX_set_default_verify_paths): OpenSSL's chain check runs only
  // so that its findings can be recorded by the Session attached to each SSL.
  SSL_CTX_set_verify(impl->ctx.get(), SSL_VERIFY_PEER, recording_verify_callback);
  return std::shared_ptr<ClientContext>(new ClientContext(std::move(impl)));
}

const TlsPolicy& ClientContext::policy() const {
  return impl_->policy;
}
SSL_CTX* ClientContext::openssl() const {
  return impl_->ctx.get();
}

}  // namespace parley::tls
