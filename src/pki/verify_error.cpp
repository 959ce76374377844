#include "pki/verify_error.hpp"

namespace parley::pki {

const char* to_string(VerifyError error) {
  switch (error) {
    case VerifyError::no_issuer_found:
      return "no trusted issuer found";
    case VerifyError::path_too_long:
      return "path too long";
    case VerifyError::budget_exhausted:
      return "verification work budget exhausted";
    case VerifyError::signature_invalid:
      return "invalid signature";
    case VerifyError::unsupported_signature_algorithm:
      return "unsupported signature algorithm";
    case VerifyError::weak_or_unsupported_key:
      return "weak or unsupported key";
    case VerifyError::malformed_certificate:
      return "malformed certificate";
    case VerifyError::unknown_critical_extension:
      return "unknown critical extension";
    case VerifyError::expired:
      return "certificate expired";
    case VerifyError::not_yet_valid:
      return "certificate not yet valid";
    case VerifyError::not_a_ca:
      return "issuer is not a CA";
    case VerifyError::ca_key_usage_missing:
      return "issuer may not sign certificates";
    case VerifyError::path_length_exceeded:
      return "path length constraint exceeded";
    case VerifyError::extended_key_usage_mismatch:
      return "extended key usage does not allow this use";
    case VerifyError::name_constraint_violation:
      return "name constraints violated";
    case VerifyError::profile_violation:
      return "certificate profile violated";
    case VerifyError::revoked:
      return "certificate revoked";
    case VerifyError::revocation_check_failed:
      return "revocation could not be checked";
    case VerifyError::name_mismatch:
      return "certificate does not name the service";
  }
  return "unknown error";
}

int specificity(VerifyError error) {
  switch (error) {
    case VerifyError::no_issuer_found:
      return 10;
    case VerifyError::path_too_long:
      return 11;
    case VerifyError::budget_exhausted:
      return 12;
    case VerifyError::signature_invalid:
      return 20;
    case VerifyError::name_mismatch:
      return 15;
    case VerifyError::revoked:
      return 40;
    default:
      return 30;
  }
}

}  // namespace parley::pki
