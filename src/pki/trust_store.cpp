#include "pki/trust_store.hpp"

namespace parley::pki {

void CertificatePool::add(CertificatePtr certificate) {
  if (!certificate || contains(*certificate)) return;  // duplicates only slow path building down
  fingerprints_.emplace(certificate->sha256_fingerprint(), true);
  by_subject_[certificate->subject().canonical].push_back(std::move(certificate));
  ++count_;
}

const std::vector<CertificatePtr>& CertificatePool::with_subject(
    const DistinguishedName& name) const {
  static const std::vector<CertificatePtr> none;
  const auto found = by_subject_.find(name.canonical);
  return found == by_subject_.end() ? none : found->second;
}

bool CertificatePool::contains(const Certificate& certificate) const {
  return fingerprints_.contains(certificate.sha256_fingerprint());
}

}  // namespace parley::pki
