#include "pki/verify_path.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "pki/crl.hpp"
#include "pki/name_constraints.hpp"

namespace parley::pki {
namespace {

// Extensions this validator processes (RFC 5280 4.2: "A certificate-using system MUST reject the
// certificate if it encounters a critical extension it does not recognize").
bool is_recognised_extension(std::string_view oid) {
  static constexpr std::string_view recognised[] = {
      kOidBasicConstraints,       kOidKeyUsage,
      kOidExtendedKeyUsage,       kOidSubjectAltName,
      kOidNameConstraints,        kOidCertificatePolicies,
      kOidPolicyConstraints,      kOidPolicyMappings,
      kOidInhibitAnyPolicy,       kOidSubjectKeyIdentifier,
      kOidAuthorityKeyIdentifier,
  };
  return std::find(std::begin(recognised), std::end(recognised), oid) != std::end(recognised);
}

bool is_serial_number_defect(CertificateDefect defect) {
  return defect == CertificateDefect::serial_number_negative ||
         defect == CertificateDefect::serial_number_zero ||
         defect == CertificateDefect::serial_number_too_long;
}

class PathValidator {
 public:
  PathValidator(std::span<const CertificatePtr> path, const VerifyPolicy& policy, Budget& budget)
      : path_(path), policy_(policy), budget_(budget) {}

  std::vector<CertificateIssue> run() {
    for (std::size_t depth = 0; depth < path_.size(); ++depth) check_certificate(depth);
    check_leaf();
    for (std::size_t depth = 1; depth < path_.size(); ++depth) check_ca(depth);
    check_path_lengths();
    check_name_constraints();
    check_crls();
    return std::move(issues_);
  }

 private:
  const Certificate& at(std::size_t depth) const { return *path_[depth]; }
  std::size_t anchor_depth() const { return path_.size() - 1; }
  bool is_anchor(std::size_t depth) const { return depth == anchor_depth(); }

  void report(std::size_t depth, VerifyError error, std::string detail) {
    issues_.push_back({depth, error, std::move(detail)});
  }

  // Checks every certificate gets, wherever it stands in the path.
  void check_certificate(std::size_t depth) {
    const Certificate& c = at(depth);
    for (const auto defect : c.defects()) {
      // A trust anchor is trusted by configuration; what matters of it is its name, key and
      // constraints, not how its serial number was chosen (old roots in every system store have
      // serial 0 or negative serials).
      if (is_anchor(depth) && is_serial_number_defect(defect)) continue;
      report(depth, VerifyError::malformed_certificate, to_string(defect));
    }
    // RFC 5280 6.1.3 (a)(2): the validity period includes both bounds. The policy time is whole
    // seconds (fractions floored by the caller), as the certificate's own times are.
    if (policy_.time < c.not_before())
      report(depth, VerifyError::not_yet_valid, "notBefore is later than the validation time");
    if (policy_.time > c.not_after())
      report(depth, VerifyError::expired, "notAfter is earlier than the validation time");

    std::string why;
    if (!key_is_acceptable(c.public_key(), why))
      report(depth, VerifyError::weak_or_unsupported_key, why);
    if (!is_anchor(depth) && !signature_algorithm_is_acceptable(c.signature_algorithm())) {
      report(depth, VerifyError::unsupported_signature_algorithm,
             "signature algorithm " + c.signature_algorithm());
    }

    for (const auto& extension : c.extensions()) {
      if (extension.critical && !is_recognised_extension(extension.oid)) {
        report(depth, VerifyError::unknown_critical_extension,
               "critical extension " + extension.oid);
      }
    }
    // RFC 5280 4.2.1.1, 4.2.1.2, 4.2.2.1: these extensions MUST be non-critical.
    if (const auto* e = c.find_extension(kOidAuthorityKeyIdentifier); e && e->critical) {
      report(depth, VerifyError::profile_violation, "authorityKeyIdentifier is critical");
    }
    if (const auto* e = c.find_extension(kOidSubjectKeyIdentifier); e && e->critical) {
      report(depth, VerifyError::profile_violation, "subjectKeyIdentifier is critical");
    }
    if (const auto* e = c.find_extension(kOidAuthorityInfoAccess); e && e->critical) {
      report(depth, VerifyError::profile_violation, "authorityInfoAccess is critical");
    }
    // RFC 5280 4.2.1.11: policyConstraints MUST be critical.
    if (const auto* e = c.find_extension(kOidPolicyConstraints); e && !e->critical) {
      report(depth, VerifyError::profile_violation, "policyConstraints is not critical");
    }

    // RFC 5280 4.1.2.4: the issuer MUST be a non-empty name.
    if (c.issuer().empty()) report(depth, VerifyError::profile_violation, "empty issuer name");

    // RFC 5280 4.2.1.6: an empty subject requires a critical subjectAltName. CABF 7.1.2.7.12:
    // with a non-empty subject the subjectAltName MUST NOT be critical.
    if (const auto* san = c.find_extension(kOidSubjectAltName)) {
      if (c.subject().empty() && !san->critical) {
        report(depth, VerifyError::profile_violation,
               "empty subject with a non-critical subjectAltName");
      }
      if (policy_.profile == Profile::web_pki && !c.subject().empty() && san->critical) {
        report(depth, VerifyError::profile_violation,
               "critical subjectAltName with a non-empty subject");
      }
    } else if (c.subject().empty()) {
      report(depth, VerifyError::profile_violation, "empty subject and no subjectAltName");
    }

    // RFC 5280 4.2.1.1: authorityKeyIdentifier with keyIdentifier is required in every
    // certificate except a self-signed one (which may carry it, then matching its own SKI).
    // An anchor needs none: path building ends at it, so its issuer is never looked up
    // (x509-limbo cve-2024-0567 trusts a cross-signed root without one).
    const bool self_signed_candidate = c.is_self_issued();
    const auto& aki = c.authority_key_identifier();
    if (!self_signed_candidate && !is_anchor(depth)) {
      if (!aki)
        report(depth, VerifyError::profile_violation, "no authorityKeyIdentifier");
      else if (!aki->key_identifier)
        report(depth, VerifyError::profile_violation,
               "authorityKeyIdentifier without keyIdentifier");
    }
    if (is_anchor(depth) && policy_.profile == Profile::web_pki && aki) {
      // CABF 7.1.2.1.3: a root's AKI, if present, holds only a keyIdentifier equal to its SKI.
      if (!aki->key_identifier)
        report(depth, VerifyError::profile_violation,
               "root authorityKeyIdentifier without keyIdentifier");
      if (aki->has_authority_cert_issuer || aki->has_authority_cert_serial) {
        report(depth, VerifyError::profile_violation,
               "root authorityKeyIdentifier names an issuer or serial");
      }
      if (aki->key_identifier && c.subject_key_identifier() && self_signed_candidate &&
          *aki->key_identifier != *c.subject_key_identifier()) {
        report(depth, VerifyError::profile_violation,
               "root authorityKeyIdentifier differs from its subjectKeyIdentifier");
      }
    }
    // RFC 5280 4.2.1.3: keyCertSign only together with cA=TRUE.
    const bool is_ca = c.basic_constraints() && c.basic_constraints()->is_ca;
    if (c.key_usage() && (*c.key_usage() & kKeyCertSign) != 0 && !is_ca) {
      report(depth, VerifyError::profile_violation,
             "keyUsage keyCertSign without basicConstraints cA");
    }
  }

  void check_leaf() {
    const Certificate& leaf = at(0);
    const bool leaf_is_anchor = path_.size() == 1;
    const bool is_ca = leaf.basic_constraints() && leaf.basic_constraints()->is_ca;
    if (policy_.profile == Profile::web_pki && !leaf_is_anchor) {
      // CABF 7.1.2.7.8 and 7.1.2.7.11: a subscriber certificate is not a CA.
      if (is_ca) report(0, VerifyError::profile_violation, "leaf has basicConstraints cA=TRUE");
      if (leaf.key_usage() && (*leaf.key_usage() & kKeyCertSign) != 0) {
        report(0, VerifyError::profile_violation, "leaf keyUsage includes keyCertSign");
      }
      if (leaf.version() < 3)
        report(0, VerifyError::profile_violation, "leaf is not a version 3 certificate");
      if (auto problem = common_name_encoding_problem(PresentedIdentities::of(leaf))) {
        report(0, VerifyError::profile_violation, *problem);
      }
    }
    // RFC 5280 4.2.1.10: nameConstraints only in CA certificates.
    if (leaf.name_constraints() && !is_ca) {
      report(0, VerifyError::profile_violation,
             "nameConstraints in a certificate that is not a CA");
    }
    if (policy_.required_leaf_key_usage && leaf.key_usage() &&
        (*leaf.key_usage() & *policy_.required_leaf_key_usage) !=
            *policy_.required_leaf_key_usage) {
      report(0, VerifyError::profile_violation, "leaf keyUsage lacks the usage required");
    }
    check_leaf_extended_key_usage(leaf);
  }

  const char* purpose_oid() const {
    switch (policy_.purpose) {
      case KeyPurpose::server_auth:
        return kOidEkuServerAuth;
      case KeyPurpose::client_auth:
        return kOidEkuClientAuth;
      case KeyPurpose::none:
        return nullptr;
    }
    return nullptr;
  }

  void check_leaf_extended_key_usage(const Certificate& leaf) {
    const auto& eku = leaf.extended_key_usage();
    const char* wanted = purpose_oid();
    const bool web = policy_.profile == Profile::web_pki;
    if (!eku) {
      // CABF 7.1.2.7.10: a subscriber certificate MUST carry extKeyUsage; RFC 5280 treats absence
      // as "any purpose".
      if (web && wanted != nullptr)
        report(0, VerifyError::extended_key_usage_mismatch, "leaf has no extKeyUsage");
      return;
    }
    const bool has_any = std::find(eku->begin(), eku->end(), kOidAnyExtendedKeyUsage) != eku->end();
    if (web) {
      if (const auto* e = leaf.find_extension(kOidExtendedKeyUsage); e && e->critical) {
        report(0, VerifyError::profile_violation, "leaf extKeyUsage is critical");
      }
      if (has_any)
        report(0, VerifyError::extended_key_usage_mismatch,
               "leaf extKeyUsage has anyExtendedKeyUsage");
    }
    if (wanted == nullptr) return;
    const bool has_wanted = std::find(eku->begin(), eku->end(), wanted) != eku->end();
    if (!has_wanted && !(has_any && !web)) {
      report(0, VerifyError::extended_key_usage_mismatch,
             std::string("leaf extKeyUsage lacks ") + wanted);
    }
  }

  // RFC 5280 6.1.4 (k), (n) and the profile's CA rules, for each issuer in the path.
  void check_ca(std::size_t depth) {
    const Certificate& c = at(depth);
    const auto& constraints = c.basic_constraints();
    if (!constraints) {
      report(depth, VerifyError::not_a_ca, "issuer has no basicConstraints");
    } else {
      if (!constraints->is_ca)
        report(depth, VerifyError::not_a_ca, "issuer has basicConstraints cA=FALSE");
      // RFC 5280 4.2.1.9: CA certificates MUST mark basicConstraints critical.
      const auto* extension = c.find_extension(kOidBasicConstraints);
      if (extension && !extension->critical) {
        report(depth, VerifyError::profile_violation, "CA basicConstraints is not critical");
      }
    }
    if (c.version() < 3)
      report(depth, VerifyError::not_a_ca, "a version 1 or 2 certificate cannot be a CA");
    if (!c.has_key_usage(kKeyCertSign))
      report(depth, VerifyError::ca_key_usage_missing, "issuer keyUsage lacks keyCertSign");
    // RFC 5280 4.2.1.2: CA certificates MUST carry a subjectKeyIdentifier.
    if (!c.subject_key_identifier())
      report(depth, VerifyError::profile_violation, "CA has no subjectKeyIdentifier");

    const auto& eku = c.extended_key_usage();
    if (eku && is_anchor(depth) && policy_.profile == Profile::web_pki) {
      report(depth, VerifyError::profile_violation, "root has extKeyUsage");  // CABF 7.1.2.1.2
    }
    // Chromium's and CABF's reading: an extKeyUsage in a CA restricts what it may issue for.
    if (eku && purpose_oid() != nullptr) {
      const bool allows =
          std::find(eku->begin(), eku->end(), purpose_oid()) != eku->end() ||
          std::find(eku->begin(), eku->end(), kOidAnyExtendedKeyUsage) != eku->end();
      if (!allows)
        report(depth, VerifyError::extended_key_usage_mismatch,
               "CA extKeyUsage excludes the purpose");
    }

    if (const auto& nc = c.name_constraints()) {
      const auto* extension = c.find_extension(kOidNameConstraints);
      if (policy_.profile == Profile::rfc5280 && extension && !extension->critical) {
        report(depth, VerifyError::profile_violation,
               "nameConstraints is not critical");  // 4.2.1.10
      }
      if (!nc->permitted_present && !nc->excluded_present) {
        report(depth, VerifyError::malformed_certificate,
               "nameConstraints has neither permitted nor excluded subtrees");
      }
      if ((nc->permitted_present && nc->permitted.empty()) ||
          (nc->excluded_present && nc->excluded.empty())) {
        report(depth, VerifyError::malformed_certificate,
               "nameConstraints has an empty subtree list");
      }
      if (nc->has_minimum_or_maximum) {
        report(depth, VerifyError::malformed_certificate,
               "nameConstraints subtree with minimum or maximum");
      }
    }
  }

  // RFC 5280 6.1.4 (l), (m), and the policy's maximum number of logical intermediates.
  void check_path_lengths() {
    std::int64_t max_path_length = std::numeric_limits<std::int64_t>::max();
    std::size_t logical_intermediates = 0;
    for (std::size_t depth = anchor_depth(); depth >= 1; --depth) {
      const Certificate& c = at(depth);
      if (!is_anchor(depth) && !c.is_self_issued()) {
        ++logical_intermediates;
        if (max_path_length <= 0) {
          report(depth, VerifyError::path_length_exceeded,
                 "pathLenConstraint of an issuer above is exceeded");
        } else {
          --max_path_length;
        }
      }
      if (c.basic_constraints() && c.basic_constraints()->path_length) {
        max_path_length = std::min(max_path_length, *c.basic_constraints()->path_length);
      }
    }
    if (policy_.max_intermediates && logical_intermediates > *policy_.max_intermediates) {
      report(0, VerifyError::path_too_long, "more intermediates than the maximum chain depth");
    }
  }

  // RFC 5280 6.1.3 (b), (c): each CA's constraints against every certificate below it, except
  // self-issued intermediates.
  void check_name_constraints() {
    for (std::size_t ca = 1; ca < path_.size(); ++ca) {
      const auto& constraints = at(ca).name_constraints();
      if (!constraints) continue;
      for (std::size_t below = 0; below < ca; ++below) {
        if (below != 0 && at(below).is_self_issued()) continue;
        const auto result = check_name_constraints_for(*constraints, below);
        if (result.verdict == NameConstraintVerdict::budget_exhausted) {
          report(below, VerifyError::budget_exhausted,
                 "name-constraint comparison budget exhausted");
          return;
        }
        if (!result.ok()) {
          report(below, VerifyError::name_constraint_violation,
                 std::string(to_string(result.verdict)) + ": " + result.detail);
        }
      }
    }
  }

  NameConstraintResult check_name_constraints_for(const NameConstraintsExtension& constraints,
                                                  std::size_t depth) {
    return pki::check_name_constraints(
        constraints, at(depth),
        depth == 0 ? ConstrainedPosition::leaf : ConstrainedPosition::intermediate, budget_);
  }

  void check_crls() {
    if (policy_.crls.empty()) return;
    for (std::size_t depth = 0; depth + 1 < path_.size(); ++depth) {
      const auto result = check_crl(at(depth), at(depth + 1), policy_.crls, policy_.time, budget_);
      if (result.verdict == CrlVerdict::revoked) report(depth, VerifyError::revoked, result.detail);
      if (result.verdict == CrlVerdict::invalid)
        report(depth, VerifyError::revocation_check_failed, result.detail);
    }
  }

  std::span<const CertificatePtr> path_;
  const VerifyPolicy& policy_;
  Budget& budget_;
  std::vector<CertificateIssue> issues_;
};

}  // namespace

bool key_is_acceptable(const PublicKeyInfo& key, std::string& why) {
  if (!key.decodable) {
    why = "public key cannot be decoded";
    return false;
  }
  switch (key.algorithm) {
    case KeyAlgorithm::rsa:
      // NIST SP 800-131A and CABF 6.1.5: at least 2048 bits; CABF 6.1.5: modulus size a multiple
      // of 8 (odd sizes are a sign of a broken generator).
      if (key.bits < 2048) {
        why = "RSA key of " + std::to_string(key.bits) + " bits (minimum 2048)";
        return false;
      }
      if (key.bits % 8 != 0) {
        why = "RSA modulus of " + std::to_string(key.bits) + " bits is not a multiple of 8";
        return false;
      }
      return true;
    case KeyAlgorithm::ec:
      if (key.explicit_curve) {
        why = "EC key with explicit curve parameters (RFC 5480 requires a named curve)";
        return false;
      }
      if (key.curve == "P-256" || key.curve == "P-384" || key.curve == "P-521") return true;
      why = "EC key on curve " + (key.curve.empty() ? std::string("(unknown)") : key.curve);
      return false;
    case KeyAlgorithm::ed25519:
    case KeyAlgorithm::ed448:
      return true;
    case KeyAlgorithm::dsa:
      why = "DSA keys are not accepted";
      return false;
    case KeyAlgorithm::other:
      break;
  }
  why = "unsupported public key algorithm";
  return false;
}

bool signature_algorithm_is_acceptable(std::string_view oid) {
  static constexpr std::string_view accepted[] = {
      "1.2.840.113549.1.1.11",  // sha256WithRSAEncryption
      "1.2.840.113549.1.1.12",  // sha384WithRSAEncryption
      "1.2.840.113549.1.1.13",  // sha512WithRSAEncryption
      "1.2.840.113549.1.1.10",  // RSASSA-PSS (parameters checked by OpenSSL when verifying)
      "1.2.840.10045.4.3.2",    // ecdsa-with-SHA256
      "1.2.840.10045.4.3.3",    // ecdsa-with-SHA384
      "1.2.840.10045.4.3.4",    // ecdsa-with-SHA512
      "1.3.101.112",            // Ed25519
      "1.3.101.113",            // Ed448
  };
  return std::find(std::begin(accepted), std::end(accepted), oid) != std::end(accepted);
}

std::vector<CertificateIssue> validate_path(std::span<const CertificatePtr> path,
                                            const VerifyPolicy& policy, Budget& budget) {
  if (path.empty()) return {{0, VerifyError::no_issuer_found, "empty path"}};
  return PathValidator(path, policy, budget).run();
}

}  // namespace parley::pki
