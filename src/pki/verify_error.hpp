#pragma once
// What can be wrong with a certificate path, banded by how specific the finding is (after Botan's
// status codes): when several candidate paths fail, the report keeps the failure with the highest
// band, because "the signature on the intermediate is bad" helps an admin more than "no path".

#include <cstddef>
#include <string>
#include <vector>

namespace parley::pki {

enum class VerifyError {
  // Band 1: no usable path at all.
  no_issuer_found,   // nothing in the trust store or the intermediates issued this cert
  path_too_long,     // more intermediates than the policy's maximum depth
  budget_exhausted,  // the work budget ran out before a decision (never an acceptance)
  // Band 2: a path exists, a certificate in it is unusable.
  signature_invalid,
  unsupported_signature_algorithm,
  weak_or_unsupported_key,
  malformed_certificate,
  unknown_critical_extension,
  expired,
  not_yet_valid,
  not_a_ca,              // used as an issuer without basicConstraints cA=TRUE
  ca_key_usage_missing,  // issuer's keyUsage lacks keyCertSign
  path_length_exceeded,  // a pathLenConstraint is violated
  extended_key_usage_mismatch,
  name_constraint_violation,
  profile_violation,  // a rule of the chosen profile (CA/B Forum or RFC 5280 MUST)
  revoked,
  revocation_check_failed,  // CRLs were supplied for an issuer but none could be trusted
  // Band 3: the chain is fine but does not name the service.
  name_mismatch,
};

const char* to_string(VerifyError error);
int specificity(VerifyError error);  // higher wins when choosing what to show

// One finding about one certificate of a candidate path; depth 0 is the leaf.
struct CertificateIssue {
  std::size_t depth = 0;
  VerifyError error = VerifyError::no_issuer_found;
  std::string detail;
};

}  // namespace parley::pki
