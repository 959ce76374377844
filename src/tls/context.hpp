#pragma once
// OpenSSL contexts for the two roles, built from a TlsPolicy (policy.hpp). A context is made once
// (per configuration) and shared by every Session of that role; it is safe to use from several
// threads at once.
//
// ServerContext: the certificate chain and private key from files, checked before OpenSSL sees
// them: RSA of 2048 bits or more, or ECDSA on P-256 or P-384 (issue 4: "refused otherwise"); a key
// that matches the leaf; a leaf that is valid now. Each refusal names the file and the problem.
// An OCSP response to staple can be given at start and replaced later (a responder refresh); it is
// sent only to clients that ask for it. ALPN is optional.
//
// ClientContext: the policy and ALPN, and nothing that judges the server. OpenSSL does not decide
// whether the server is trusted: it has no trust anchors and no host name to check, and the
// Session records what the server presented (and anything OpenSSL found wrong with it) for Parley's
// pki pipeline. A context used without a Session's recorder fails every handshake (the verify
// callback installed here refuses: nobody would answer for the certificate).
//
// What this does not do: client certificates (no Parley service asks for one yet), SNI-based
// certificate selection on the server, or session resumption (policy.hpp says why).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "tls/policy.hpp"

typedef struct ssl_ctx_st SSL_CTX;  // NOLINT: OpenSSL's own forward declaration

namespace parley::tls {

// Bounds on what a context is configured with.
inline constexpr std::size_t kMaxOcspStapleBytes = 64 * 1024;
inline constexpr std::size_t kMaxChainFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxKeyFileBytes = 64 * 1024;
inline constexpr std::size_t kMaxAlpnProtocols = 8;

struct ServerOptions {
  std::filesystem::path chain_file;  // PEM: the server's certificate first, then intermediates
  std::filesystem::path key_file;    // PEM private key, not encrypted (no prompt on a server)
  TlsPolicy policy = TlsPolicy::standard();
  std::optional<std::string> ocsp_staple;  // DER OCSPResponse for the leaf
  std::vector<std::string> alpn;           // server preference order; empty: no ALPN
  // When the certificate must be valid (seconds since the epoch); nullopt: the system clock.
  std::optional<pki::UnixTime> validity_time;
};

class ServerContext {
 public:
  static Result<std::shared_ptr<ServerContext>> create(const ServerOptions& options);
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  // Replaces (or with nullopt removes) the stapled OCSP response; new handshakes use it.
  Result<void> set_ocsp_staple(std::optional<std::string> der);

  const std::vector<pki::CertificatePtr>& chain() const;  // as served, leaf first
  const TlsPolicy& policy() const;
  SSL_CTX* openssl() const;  // for session.cpp

  struct Impl;

 private:
  explicit ServerContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct ClientOptions {
  TlsPolicy policy = TlsPolicy::standard();
  std::vector<std::string> alpn;  // offered in this order; empty: no ALPN
};

class ClientContext {
 public:
  static Result<std::shared_ptr<ClientContext>> create(const ClientOptions& options);
  ~ClientContext();
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

  const TlsPolicy& policy() const;
  SSL_CTX* openssl() const;

  struct Impl;

 private:
  explicit ClientContext(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace parley::tls
