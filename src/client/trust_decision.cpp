#include "client/trust_decision.hpp"

#include <algorithm>
#include <utility>

#include "pki/verify_error.hpp"

namespace parley::client {
namespace {

// A prompt is read by a person; past this many names the list only hides the reasons.
constexpr std::size_t kMaxIdentitiesShown = 64;

bool blocks_like_revocation(pki::VerifyError error) {
  return error == pki::VerifyError::revoked || error == pki::VerifyError::revocation_check_failed;
}

// Self-signed in the sense a person means: issued by itself with its own key. Read from the names
// and key identifiers instead of checking the signature, because the label only informs the
// prompt; the certificate is untrusted either way and the decision never depends on the label.
SelfSigned is_self_signed(const pki::Certificate& leaf) {
  if (!leaf.is_self_issued()) return SelfSigned::no;
  const auto& aki = leaf.authority_key_identifier();
  if (aki && aki->key_identifier && aki->key_identifier != leaf.subject_key_identifier()) {
    return SelfSigned::no;  // same name, other key: a CA re-keying, not a self-signed server
  }
  return SelfSigned::yes;
}

std::string where(std::size_t depth) {
  if (depth == 0) return "the server's certificate";
  return "the CA certificate " + std::to_string(depth) + " above the server's";
}

// The verifier's findings as sentences, most specific first, plus an identity mismatch the
// verifier never got to (it checks the name only on a complete path).
std::vector<std::string> untrusted_reasons(const pki::Certificate& leaf,
                                           const pki::VerifyFailure& failure,
                                           const pki::ReferenceIdentity& reference,
                                           pki::CnFallback cn_fallback) {
  std::vector<std::string> reasons;
  const bool verifier_checked_name =
      std::any_of(failure.issues.begin(), failure.issues.end(),
                  [](const auto& issue) { return issue.error == pki::VerifyError::name_mismatch; });
  if (!verifier_checked_name) {
    const pki::IdentityResult identity = pki::check_identity(leaf, reference, cn_fallback);
    if (!identity.ok()) {
      reasons.push_back(std::string(pki::to_string(pki::VerifyError::name_mismatch)) + ": " +
                        describe_mismatch(identity, reference));
    }
  }
  std::vector<pki::CertificateIssue> issues = failure.issues;
  std::stable_sort(issues.begin(), issues.end(), [](const auto& a, const auto& b) {
    return pki::specificity(a.error) > pki::specificity(b.error);
  });
  const SelfSigned self_signed = is_self_signed(leaf);
  for (const auto& issue : issues) {
    if (issue.depth == 0 && issue.error == pki::VerifyError::no_issuer_found &&
        self_signed == SelfSigned::yes) {
      reasons.push_back(
          "self-signed: the certificate vouches for itself and no trusted "
          "authority issued it");
      continue;
    }
    std::string text = std::string(pki::to_string(issue.error)) + " (" + where(issue.depth) + ")";
    if (!issue.detail.empty()) text += ": " + issue.detail;
    reasons.push_back(std::move(text));
  }
  if (issues.empty()) reasons.push_back(failure.message);
  for (auto& reason : reasons) reason = escape_for_display(reason);
  return reasons;
}

std::string changed_reason(const std::vector<StoredCertificate>& others) {
  std::string text =
      "the certificate CHANGED: you accepted a different certificate for this "
      "service before (";
  for (std::size_t i = 0; i < others.size(); ++i) {
    if (i > 0) text += "; ";
    text += "SHA-256 " + others[i].fingerprint + " on " + format_utc_time(others[i].accepted_at);
  }
  return text + ")";
}

TrustDecision refuse(std::vector<std::string> reasons, std::string notice) {
  TrustDecision decision;
  decision.verdict = Verdict::rejected;
  decision.reasons = std::move(reasons);
  decision.notice = std::move(notice);
  return decision;
}

std::string first_or(const std::vector<std::string>& reasons, std::string_view fallback) {
  return reasons.empty() ? std::string(fallback) : reasons.front();
}

}  // namespace

// ---- names and parsing --------------------------------------------------------------------------

Result<InvalidCertificateBehavior> parse_invalid_certificate_behavior(std::string_view text) {
  if (text == "RejectAndNotify") return InvalidCertificateBehavior::reject_and_notify;
  if (text == "PromptPerSession") return InvalidCertificateBehavior::prompt_per_session;
  return fail(
      Error::invalid_argument("InvalidCertificateBehavior must be RejectAndNotify or "
                              "PromptPerSession, not \"" +
                              escape_for_display(text, 64) + "\""));
}

const char* to_string(InvalidCertificateBehavior behavior) {
  switch (behavior) {
    case InvalidCertificateBehavior::reject_and_notify:
      return "RejectAndNotify";
    case InvalidCertificateBehavior::prompt_per_session:
      return "PromptPerSession";
  }
  return "unknown";
}

Result<PromptAnswer> parse_prompt_answer(std::string_view text) {
  if (text == "reject") return PromptAnswer::decline;
  if (text == "accept-once") return PromptAnswer::accept_once;
  if (text == "accept-always") return PromptAnswer::accept_always;
  return fail(Error::invalid_argument("expected reject, accept-once or accept-always, not \"" +
                                      escape_for_display(text, 64) + "\""));
}

const char* to_string(PromptAnswer answer) {
  switch (answer) {
    case PromptAnswer::accept_once:
      return "accept-once";
    case PromptAnswer::accept_always:
      return "accept-always";
    case PromptAnswer::decline:
      return "reject";
  }
  return "unknown";
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::trusted:
      return "trusted";
    case Verdict::accepted_previously:
      return "accepted-previously";
    case Verdict::accepted_by_user:
      return "accepted-by-user";
    case Verdict::rejected:
      return "rejected";
  }
  return "unknown";
}

RevocationCheck revocation_off() {
  return [](const pki::VerifiedPath&) { return std::optional<RevocationBlock>{}; };
}

PromptAnswer FixedPromptAnswer::ask(const PromptDetails& details) {
  ++times_asked_;
  last_asked_ = details;
  return answer_;
}

std::string escape_for_display(std::string_view text, std::size_t max_length) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : text) {
    if (out.size() >= max_length) {
      out += "...";
      break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      out += "\\x";
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0xf]);
    }
  }
  return out;
}

// ---- the decision -------------------------------------------------------------------------------

PromptDetails prompt_details(const pki::Certificate& leaf, const ServiceIdentity& service,
                             const std::vector<std::string>& reasons,
                             const std::vector<StoredCertificate>& stored_for_service) {
  PromptDetails details;
  details.service = service;
  details.subject = escape_for_display(leaf.subject().to_display_string());
  details.issuer = escape_for_display(leaf.issuer().to_display_string());
  details.not_before = leaf.not_before();
  details.not_after = leaf.not_after();
  details.fingerprint = fingerprint_text(leaf);
  // The XMPP service and RFC 6125's widest CN rule list every kind Parley compares, whatever the
  // service: the person deciding should see all the names the certificate claims.
  const auto presented = pki::presented_identities(leaf, pki::ServiceKind::xmpp_client,
                                                   pki::CnFallback::allow_when_no_identifier_san);
  for (std::size_t i = 0; i < presented.size() && i < kMaxIdentitiesShown; ++i) {
    details.identities.push_back(std::string(pki::to_string(presented[i].kind)) + ": " +
                                 escape_for_display(presented[i].text));
  }
  if (presented.size() > kMaxIdentitiesShown) {
    details.identities.push_back("(" + std::to_string(presented.size() - kMaxIdentitiesShown) +
                                 " more not shown)");
  }
  for (const auto& reason : reasons) details.reasons.push_back(escape_for_display(reason));
  details.self_signed = is_self_signed(leaf);
  const std::string fingerprint = details.fingerprint;
  for (const auto& stored : stored_for_service) {
    if (stored.service == service && stored.fingerprint != fingerprint) {
      details.previously_accepted.push_back({stored.fingerprint, stored.accepted_at});
    }
  }
  details.change = details.previously_accepted.empty() ? CertificateChange::not_seen_before
                                                       : CertificateChange::changed;
  return details;
}

TrustDecision decide_trust(const StageResults& stages, const ServiceIdentity& service,
                           const pki::VerifyPolicy& policy, const TrustPolicy& trust,
                           CertificateStore& store, CertificatePrompt* prompt) {
  const std::string who = service.to_display_string();
  if (!stages.leaf)
    return refuse({"the server presented no certificate"}, who + ": refused: no certificate");
  const pki::Certificate& leaf = *stages.leaf;
  auto reference = service.reference();
  if (!reference)
    return refuse({reference.error().message}, who + ": refused: " + reference.error().message);

  // Rule 1: revocation, from the revocation stage or from CRLs the verifier was given.
  if (stages.revocation) {
    const std::string reason = escape_for_display(stages.revocation->reason);
    const char* what = stages.revocation->kind == RevocationBlockKind::revoked
                           ? "the certificate is revoked"
                           : "the certificate's revocation status could not be established";
    return refuse({std::string(what) + ": " + reason}, who + ": refused: " + what);
  }
  if (!stages.verification) {
    for (const auto& issue : stages.verification.error().issues) {
      if (!blocks_like_revocation(issue.error)) continue;
      std::string reason = std::string(pki::to_string(issue.error)) + " (" + where(issue.depth) +
                           ")" + (issue.detail.empty() ? "" : ": " + issue.detail);
      reason = escape_for_display(reason);
      return refuse({reason}, who + ": refused: " + reason);
    }
  }

  // Rule 2: a verified path naming the service. (FIPS: SANs only, whatever the policy said.)
  std::vector<std::string> reasons;
  const pki::CnFallback cn_fallback =
      trust.fips == FipsMode::on ? pki::CnFallback::never : policy.cn_fallback;
  if (stages.verification) {
    const pki::VerifiedPath& path = *stages.verification;
    if (path.leaf().sha256_fingerprint() != leaf.sha256_fingerprint()) {
      return refuse({"internal error: the verification result is for another certificate"},
                    who + ": refused: internal error");
    }
    const pki::IdentityResult identity = pki::check_identity(leaf, *reference, cn_fallback);
    if (identity.ok()) {
      TrustDecision decision;
      decision.verdict = Verdict::trusted;
      decision.path = path;
      decision.notice = who + ": certificate verified, issued under " +
                        escape_for_display(path.anchor().subject().to_display_string());
      return decision;
    }
    reasons.push_back(
        escape_for_display(std::string(pki::to_string(pki::VerifyError::name_mismatch)) + ": " +
                           describe_mismatch(identity, *reference)));
  } else {
    reasons = untrusted_reasons(leaf, stages.verification.error(), *reference, cn_fallback);
  }

  // Rule 3: FIPS mode admits nothing the chain does not.
  if (trust.fips == FipsMode::on) {
    std::string notice = who + ": refused (FIPS mode accepts only verified certificates): " +
                         first_or(reasons, "untrusted certificate");
    return refuse(std::move(reasons), std::move(notice));
  }

  // Rule 4: this exact certificate was accepted for this service.
  auto stored = store.lookup(service);
  if (!stored) {
    reasons.push_back("the local certificate store cannot be read: " + stored.error().message);
    return refuse(
        std::move(reasons),
        who + ": refused: the local certificate store cannot be read: " + stored.error().message);
  }
  const std::string fingerprint = fingerprint_text(leaf);
  for (const auto& entry : *stored) {
    if (entry.fingerprint != fingerprint) continue;
    TrustDecision decision;
    decision.verdict = Verdict::accepted_previously;
    decision.reasons = std::move(reasons);
    decision.notice = who +
                      ": certificate not verified, but you accepted this exact certificate on " +
                      format_utc_time(entry.accepted_at);
    return decision;
  }

  // Rule 5: an unfinished verification is nothing to put before a person.
  if (!stages.verification &&
      stages.verification.error().error == pki::VerifyError::budget_exhausted) {
    std::string notice = who + ": refused: " + first_or(reasons, "verification did not finish");
    return refuse(std::move(reasons), std::move(notice));
  }

  // Rule 6: untrusted or mismatched.
  std::vector<StoredCertificate> others = *stored;  // all differ from this certificate (rule 4)
  if (!others.empty()) reasons.insert(reasons.begin(), changed_reason(others));
  if (trust.on_invalid == InvalidCertificateBehavior::reject_and_notify) {
    std::string notice =
        who + ": refused (policy RejectAndNotify): " + first_or(reasons, "untrusted certificate");
    return refuse(std::move(reasons), std::move(notice));
  }
  if (prompt == nullptr) {
    reasons.push_back("nobody can be asked to accept the certificate");
    return refuse(std::move(reasons), who + ": refused: untrusted certificate and nobody to ask");
  }

  const PromptDetails details = prompt_details(leaf, service, reasons, others);
  const PromptAnswer answer = prompt->ask(details);
  TrustDecision decision;
  decision.answer = answer;
  decision.reasons = std::move(reasons);
  switch (answer) {
    case PromptAnswer::decline:
      decision.verdict = Verdict::rejected;
      decision.notice = who + ": not connected: you declined the certificate";
      return decision;
    case PromptAnswer::accept_once:
      decision.verdict = Verdict::accepted_by_user;
      decision.notice = who + ": connected for this session only; you will be asked again";
      return decision;
    case PromptAnswer::accept_always: {
      decision.verdict = Verdict::accepted_by_user;
      auto saved =
          store.accept(service, stages.leaf, policy.time, OnAccept::replace_others_for_service);
      if (saved) {
        // already_present means another Parley process of this account stored it meanwhile.
        decision.store_change = *saved == AcceptOutcome::added ? StoreChange::certificate_stored
                                                               : StoreChange::unchanged;
        decision.notice = who + ": certificate accepted and remembered for this service";
      } else {
        decision.store_error = saved.error();
        decision.notice = who + ": connected, but the certificate could not be remembered (" +
                          saved.error().message + "); you will be asked again";
      }
      return decision;
    }
  }
  return refuse(std::move(decision.reasons), who + ": refused: unknown answer from the prompt");
}

TrustDecision decide_server_trust(const PresentedChain& chain, const pki::TrustStore& anchors,
                                  const ServiceIdentity& service, const pki::VerifyPolicy& policy,
                                  const TrustPolicy& trust, const RevocationCheck& revocation,
                                  CertificateStore& store, CertificatePrompt* prompt) {
  const std::string who = service.to_display_string();
  if (!revocation) {
    // Fail closed: an empty check would silently skip revocation; revocation_off() says it.
    return refuse({"no revocation stage was given (pass revocation_off() to skip it on purpose)"},
                  who + ": refused: internal error: no revocation stage");
  }
  if (!chain.leaf)
    return refuse({"the server presented no certificate"}, who + ": refused: no certificate");
  auto reference = service.reference();
  if (!reference)
    return refuse({reference.error().message}, who + ": refused: " + reference.error().message);

  pki::VerifyPolicy effective = policy;
  if (trust.fips == FipsMode::on) effective.cn_fallback = pki::CnFallback::never;  // RFC 9525
  StageResults stages{chain.leaf,
                      pki::verify_server_certificate(chain.leaf, chain.intermediates, anchors,
                                                     *reference, effective),
                      std::nullopt};
  if (stages.verification) stages.revocation = revocation(*stages.verification);
  return decide_trust(stages, service, effective, trust, store, prompt);
}

}  // namespace parley::client
