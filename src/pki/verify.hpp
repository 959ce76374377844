#pragma once
// The front door of certificate verification: build a path, validate it, check the identity, in
// that order, always (ARCHITECTURE.md, "The certificate validation process"). Revocation by
// CRLs supplied in the policy is part of path validation; fetching CRLs and OCSP is the
// revocation layer's job and comes after this.
//
// Path building (after RFC 4158 and Chromium's path builder): depth-first from the leaf, trying
// every certificate whose subject equals the current issuer, trust anchors first, then
// candidates whose subjectKeyIdentifier matches the authorityKeyIdentifier. A complete path is
// validated in full, then its signatures are verified (each edge once per verification, cached);
// on any failure the search backtracks and tries the next candidate (expired or wrong-EKU
// branches, cross-signs, impostors with a borrowed name). Loops are cut by refusing a certificate
// whose subject and key already appear in the path. All of it draws on the Budget; exhaustion
// fails the verification.
//
// Success is a VerifiedPath, which only this module can construct.

#include <expected>
#include <string>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/identity.hpp"
#include "pki/trust_store.hpp"
#include "pki/verify_error.hpp"
#include "pki/verify_policy.hpp"

namespace parley::pki {

class VerifiedPath {
 public:
  const std::vector<CertificatePtr>& certificates() const { return path_; }  // leaf first
  const Certificate& leaf() const { return *path_.front(); }
  const Certificate& anchor() const { return *path_.back(); }
  const std::string& matched_identity() const { return matched_identity_; }

 private:
  friend class ChainVerifier;
  VerifiedPath(std::vector<CertificatePtr> path, std::string matched)
      : path_(std::move(path)), matched_identity_(std::move(matched)) {}
  std::vector<CertificatePtr> path_;
  std::string matched_identity_;
};

struct VerifyFailure {
  VerifyError error = VerifyError::no_issuer_found;  // the most specific finding
  std::string message;                               // one line for people
  std::vector<CertificateIssue> issues;              // every finding on the best candidate path
  std::vector<CertificatePtr> path;                  // that path (may be just the leaf)
};

using VerifyResult = std::expected<VerifiedPath, VerifyFailure>;

// A server's certificate, for the reference identity the client meant to reach.
VerifyResult verify_server_certificate(const CertificatePtr& leaf,
                                       const std::vector<CertificatePtr>& intermediates,
                                       const TrustStore& anchors,
                                       const ReferenceIdentity& reference,
                                       const VerifyPolicy& policy);

// The chain only, without an identity check: a client's certificate (TLS client
// authentication: who the client is, is the caller's mapping from the verified leaf), or a tool
// that reports each stage on its own (parley-cert verify runs check_identity next to it).
VerifyResult verify_chain(const CertificatePtr& leaf,
                          const std::vector<CertificatePtr>& intermediates,
                          const TrustStore& anchors, const VerifyPolicy& policy);

// A client's certificate (TLS client authentication): the chain only; who the client is, is the
// caller's mapping from the verified leaf.
VerifyResult verify_client_certificate(const CertificatePtr& leaf,
                                       const std::vector<CertificatePtr>& intermediates,
                                       const TrustStore& anchors, const VerifyPolicy& policy);

}  // namespace parley::pki
