#pragma once
// The set of certificates a verification may end at (trust anchors), indexed by subject so the
// path builder finds candidate issuers without scanning. The client's local certificate store of
// accepted certificates (spec: "The Certificate Validation Process") and admin-provisioned CA
// bundles both end up here; where they come from is the caller's business.
//
// An anchor is a whole certificate, and Parley enforces its contents (validity, basicConstraints,
// keyUsage, name constraints, key strength) like any CA certificate in the path, as Chromium does
// with enforced anchor constraints; only its self-signature is not checked.

#include <string>
#include <unordered_map>
#include <vector>

#include "pki/certificate.hpp"

namespace parley::pki {

class CertificatePool {
 public:
  void add(CertificatePtr certificate);
  // Certificates whose subject equals `name` (RFC 5280 7.1 comparison), in insertion order.
  const std::vector<CertificatePtr>& with_subject(const DistinguishedName& name) const;
  bool contains(const Certificate& certificate) const;  // byte-identical certificate present
  std::size_t size() const { return count_; }

 private:
  std::unordered_map<std::string, std::vector<CertificatePtr>> by_subject_;
  std::unordered_map<std::string, bool> fingerprints_;
  std::size_t count_ = 0;
};

using TrustStore = CertificatePool;

}  // namespace parley::pki
