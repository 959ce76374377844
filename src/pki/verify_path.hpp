#pragma once
// RFC 5280 6.1 path validation of one candidate path, plus the profile rules of verify_policy.hpp.
//
// Input: path[0] is the leaf, path.back() the trust anchor, each certificate issued by the next.
// Signatures are NOT checked here: the path builder (verify.cpp) verifies them once a path has
// passed validate_path, because these checks are cheap and most rejected paths never need a
// signature computed. The anchor's self-signature is never checked (trusted by configuration).
//
// Deliberate deviations from RFC 5280, each the choice Chromium's verifier also makes:
//  - The anchor is a full certificate whose constraints are enforced (validity, basicConstraints,
//    keyUsage, nameConstraints, pathLenConstraint, key strength), not just a name and a key.
//  - Certificate policies (6.1.3 d-f, 6.1.4 a-j) are not processed: no policy tree, no
//    explicit-policy requirement. Policy extensions are parsed, and policyConstraints must be
//    critical as 4.2.1.11 requires, but a path is never rejected for its policies.
//  - Unknown critical extensions reject the certificate carrying them, also the anchor.
//  - Stricter than RFC 5280 on encoding: see CertificateDefect; every defect rejects.
//
// What the caller must still do: check the leaf's identity (identity.hpp); revocation beyond the
// CRLs in the policy (the revocation layer).

#include <span>
#include <vector>

#include "pki/budget.hpp"
#include "pki/certificate.hpp"
#include "pki/verify_error.hpp"
#include "pki/verify_policy.hpp"

namespace parley::pki {

// Returns every issue found; an empty list means the path is valid.
std::vector<CertificateIssue> validate_path(std::span<const CertificatePtr> path,
                                            const VerifyPolicy& policy, Budget& budget);

// Checks that do not depend on the path, for one certificate: key algorithm and size.
bool key_is_acceptable(const PublicKeyInfo& key, std::string& why);
// Signature algorithms Parley accepts on certificates it verifies.
bool signature_algorithm_is_acceptable(std::string_view oid);

}  // namespace parley::pki
