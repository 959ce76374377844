#include "pki/verify.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <algorithm>
#include <map>
#include <optional>

#include "pki/verify_path.hpp"

namespace parley::pki {

class ChainVerifier {
 public:
  ChainVerifier(const std::vector<CertificatePtr>& intermediates, const TrustStore& anchors,
                const VerifyPolicy& policy)
      : anchors_(anchors), policy_(policy), budget_(policy.budget) {
    for (const auto& certificate : intermediates) {
      // An intermediate that is also an anchor is tried as the anchor; a second copy would only
      // double the search.
      if (certificate && !anchors.contains(*certificate)) intermediates_.add(certificate);
    }
  }

  VerifyResult verify(const CertificatePtr& leaf, const ReferenceIdentity* reference) {
    if (!leaf)
      return std::unexpected(VerifyFailure{VerifyError::no_issuer_found, "no certificate", {}, {}});
    path_.assign(1, leaf);
    bool found = false;
    if (anchors_.contains(*leaf)) found = try_complete_path();  // the leaf itself is trusted
    if (!found && !budget_.exhausted()) found = extend();
    if (!found) return std::unexpected(failure());

    VerifiedPath verified(path_, {});
    if (reference != nullptr) {
      const IdentityResult identity = check_identity(*leaf, *reference, policy_.cn_fallback);
      if (!identity.ok()) {
        VerifyFailure mismatch;
        mismatch.error = VerifyError::name_mismatch;
        mismatch.message = describe_mismatch(identity, *reference);
        mismatch.issues = {{0, VerifyError::name_mismatch, mismatch.message}};
        mismatch.path = path_;
        return std::unexpected(std::move(mismatch));
      }
      verified.matched_identity_ = identity.matched;
    }
    return verified;
  }

 private:
  // Depth-first extension of path_ towards an anchor. Returns true with path_ complete and valid.
  bool extend() {
    if (!budget_.spend_build_call()) return false;
    const Certificate& current = *path_.back();
    const std::size_t depth = path_.size() - 1;

    std::vector<std::pair<CertificatePtr, bool>> candidates;  // (certificate, is_anchor)
    for (const auto& c : anchors_.with_subject(current.issuer())) candidates.emplace_back(c, true);
    const std::size_t anchor_count = candidates.size();
    for (const auto& c : intermediates_.with_subject(current.issuer()))
      candidates.emplace_back(c, false);
    // Within each group, try candidates whose key identifier the certificate names first.
    const auto& aki = current.authority_key_identifier();
    if (aki && aki->key_identifier) {
      auto named = [&](const std::pair<CertificatePtr, bool>& c) {
        return c.first->subject_key_identifier() == aki->key_identifier;
      };
      std::stable_partition(candidates.begin(),
                            candidates.begin() + static_cast<std::ptrdiff_t>(anchor_count), named);
      std::stable_partition(candidates.begin() + static_cast<std::ptrdiff_t>(anchor_count),
                            candidates.end(), named);
    }
    if (candidates.empty()) {
      record({{depth, VerifyError::no_issuer_found,
               "no trusted or intermediate certificate issued " +
                   current.subject().to_display_string()}});
      return false;
    }

    for (const auto& [candidate, is_anchor] : candidates) {
      if (in_path(*candidate)) continue;  // a loop of cross-signs
      if (path_.size() >= kMaxPathCertificates) {
        record({{depth, VerifyError::path_too_long, "path longer than the builder's ceiling"}});
        return false;
      }
      // With several candidate issuers a signature check is what tells the real one from a
      // same-named pretender, and it keeps the search linear on pools built to explode it
      // (a hundred intermediates sharing one name). With one candidate there is nothing to
      // choose, so its signature waits for try_complete_path.
      if (candidates.size() > 1 && !signature_verifies(current, *candidate)) {
        if (budget_.exhausted()) return false;
        record({{depth, VerifyError::signature_invalid,
                 "signature does not verify with the key of " +
                     candidate->subject().to_display_string()}});
        continue;
      }
      path_.push_back(candidate);
      if (is_anchor ? try_complete_path() : extend()) return true;
      path_.pop_back();
      if (budget_.exhausted()) return false;
    }
    return false;
  }

  // Validates the complete path first and checks signatures only on a path that passes: the
  // checks of validate_path cost microseconds, a signature check tens to hundreds, and most
  // rejected paths (expired, constrained, wrong purpose) never need one. Each edge is verified at
  // most once per verification (cached), so backtracking never repeats the expensive part.
  bool try_complete_path() {
    if (!budget_.spend_build_call()) return false;
    auto issues = validate_path(path_, policy_, budget_);
    if (!issues.empty()) {
      record(std::move(issues));
      return false;
    }
    for (std::size_t depth = 0; depth + 1 < path_.size(); ++depth) {
      const Certificate& issuer = *path_[depth + 1];
      if (!signature_verifies(*path_[depth], issuer)) {
        if (budget_.exhausted()) return false;
        record({{depth, VerifyError::signature_invalid,
                 "signature does not verify with the key of " +
                     issuer.subject().to_display_string()}});
        return false;
      }
    }
    return true;
  }

  // Same subject and same public key as a certificate already in the path (RFC 4158 2.4.2).
  bool in_path(const Certificate& candidate) const {
    return std::any_of(path_.begin(), path_.end(), [&](const CertificatePtr& c) {
      return c->subject() == candidate.subject() &&
             c->subject_public_key_info() == candidate.subject_public_key_info();
    });
  }

  bool signature_verifies(const Certificate& child, const Certificate& issuer) {
    const auto key = std::make_pair(&child, &issuer);
    if (const auto found = signature_cache_.find(key); found != signature_cache_.end())
      return found->second;
    if (!budget_.spend_signature_check()) return false;
    EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.openssl());
    const bool ok = issuer_key != nullptr && X509_verify(child.openssl(), issuer_key) == 1;
    ERR_clear_error();
    signature_cache_.emplace(key, ok);
    return ok;
  }

  static int worst(const std::vector<CertificateIssue>& issues) {
    int best = 0;
    for (const auto& issue : issues) best = std::max(best, specificity(issue.error));
    return best;
  }

  void record(std::vector<CertificateIssue> issues) {
    const int score = worst(issues);
    if (best_issues_.empty() || score > best_score_) {
      best_score_ = score;
      best_issues_ = std::move(issues);
      best_path_ = path_;
    }
  }

  VerifyFailure failure() const {
    VerifyFailure f;
    if (budget_.exhausted()) {
      f.error = VerifyError::budget_exhausted;
      f.message = "path building gave up: its work budget ran out";
      f.issues = {{0, VerifyError::budget_exhausted, f.message}};
      f.path = path_;
      return f;
    }
    f.issues = best_issues_;
    f.path = best_path_;
    const CertificateIssue* top = nullptr;
    for (const auto& issue : f.issues) {
      if (top == nullptr || specificity(issue.error) > specificity(top->error)) top = &issue;
    }
    if (top == nullptr) {
      f.error = VerifyError::no_issuer_found;
      f.message = "no path to a trust anchor";
    } else {
      f.error = top->error;
      f.message =
          std::string(to_string(top->error)) + " (certificate " + std::to_string(top->depth) +
          (top->depth < f.path.size() ? ", " + f.path[top->depth]->subject().to_display_string()
                                      : "") +
          "): " + top->detail;
    }
    return f;
  }

  const TrustStore& anchors_;
  CertificatePool intermediates_;
  const VerifyPolicy& policy_;
  Budget budget_;
  std::vector<CertificatePtr> path_;
  std::map<std::pair<const Certificate*, const Certificate*>, bool> signature_cache_;
  std::vector<CertificateIssue> best_issues_;
  std::vector<CertificatePtr> best_path_;
  int best_score_ = 0;
};

VerifyResult verify_server_certificate(const CertificatePtr& leaf,
                                       const std::vector<CertificatePtr>& intermediates,
                                       const TrustStore& anchors,
                                       const ReferenceIdentity& reference,
                                       const VerifyPolicy& policy) {
  return ChainVerifier(intermediates, anchors, policy).verify(leaf, &reference);
}

VerifyResult verify_chain(const CertificatePtr& leaf,
                          const std::vector<CertificatePtr>& intermediates,
                          const TrustStore& anchors, const VerifyPolicy& policy) {
  return ChainVerifier(intermediates, anchors, policy).verify(leaf, nullptr);
}

VerifyResult verify_client_certificate(const CertificatePtr& leaf,
                                       const std::vector<CertificatePtr>& intermediates,
                                       const TrustStore& anchors, const VerifyPolicy& policy) {
  return ChainVerifier(intermediates, anchors, policy).verify(leaf, nullptr);
}

}  // namespace parley::pki
