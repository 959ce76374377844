#pragma once
// The last stage of the certificate validation process (spec: "The Certificate Validation
// Process", "Signed Certificates", "Revocation Servers"; ARCHITECTURE.md): given what the
// verifier and the revocation check found, the user's local certificate store and the admin's
// policy, decide whether to connect silently, ask the user, or refuse.
//
// The rules, in the order they are applied (the first that applies decides):
//  1. Revocation blocks everything: a revoked certificate, or one whose revocation status could
//     not be established (responder unreachable, garbage answer), is refused, with no prompt and
//     whatever the store says. The verifier's own `revoked` / `revocation_check_failed` findings
//     (from CRLs given in the policy) count the same way.
//  2. A verified path whose leaf names the service: trusted, connect silently.
//  3. FIPS mode: refuse, never prompt, and do not consult the store either: FIPS mode admits only
//     certificates that chain to an authority and name the service (the spec: FIPS mode manages
//     certificates "more strictly"), so an earlier click cannot widen it. Identity in FIPS mode
//     is SANs only (RFC 9525): a trusted chain whose name matched only through the subject CN is
//     treated as a mismatch.
//  4. The exact leaf (SHA-256 of its DER) is in the store bound to this service identity:
//     accepted_previously, connect silently. Expired or not, as the spec says: "If the
//     certificate is in the local certificate store of the device, Cisco Jabber trusts [it]".
//  5. A verification that did not finish (work budget exhausted) is refused: nobody evaluated
//     the chain, so there is nothing to show the user.
//  6. Otherwise the certificate is untrusted or mismatched (unknown issuer, self-signed, expired,
//     wrong name, ...). RejectAndNotify: refuse with a notice. PromptPerSession: ask the
//     CertificatePrompt. Accept always: store it bound to this service identity (replacing any
//     other certificate accepted for it), connect. Accept once: connect, store nothing.
//     Decline: no connection, nothing stored. No prompt to ask: refuse (fail closed).
//     A self-signed certificate therefore always reaches the prompt unless already accepted.
//
// Reading the store can fail (for instance a corrupt file, which is left as it is): the decision
// is then a refusal whose reason names the file and line, because whether the user accepted this
// certificate cannot be known. A failure to *write* after "accept always" does not undo the
// user's answer: the session connects and the decision carries the error (store_error) so the
// UI can say the certificate will be asked about again.
//
// What this does not do: talk to a terminal (the CertificatePrompt implementation does, and may
// block; this code never does on its own), fetch revocation information (the revocation stage
// does and passes its verdict in), or log. Attacker-controlled text (subject, issuer, names,
// the verifier's details) is escaped before it reaches PromptDetails or reasons: bytes outside
// printable ASCII appear as \xNN, so a certificate cannot move the cursor or spoof the prompt.

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/certificate_store.hpp"
#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/identity.hpp"
#include "pki/trust_store.hpp"
#include "pki/verify.hpp"
#include "pki/verify_policy.hpp"

namespace parley::client {

// Cisco Jabber's parameter of the same name (jabber-config.xml): what to do with a certificate
// that is not trusted. Parley's default is the safe one; the client's config may choose prompting.
enum class InvalidCertificateBehavior { reject_and_notify, prompt_per_session };
// "RejectAndNotify" | "PromptPerSession", exactly as Jabber spells them.
Result<InvalidCertificateBehavior> parse_invalid_certificate_behavior(std::string_view text);
const char* to_string(InvalidCertificateBehavior behavior);

enum class FipsMode { off, on };

struct TrustPolicy {
  InvalidCertificateBehavior on_invalid = InvalidCertificateBehavior::reject_and_notify;
  FipsMode fips = FipsMode::off;
};

// What the revocation stage reports when it blocks a connection. Only blocks are passed in: "good"
// and "no revocation information" (which the spec says to accept silently) are both nullopt.
enum class RevocationBlockKind {
  revoked,             // a CRL or OCSP response says so
  status_unavailable,  // the responder could not be reached or gave no usable answer
};
struct RevocationBlock {
  RevocationBlockKind kind = RevocationBlockKind::revoked;
  std::string reason;  // names the URL and the failure, for the notice
};

// The revocation stage as the front door calls it, on the verified path only.
using RevocationCheck = std::function<std::optional<RevocationBlock>(const pki::VerifiedPath&)>;
// A RevocationCheck that checks nothing, for `revocation = off` and tests: skipping revocation is
// a choice the caller spells out, never what an empty argument means.
RevocationCheck revocation_off();

// ---- the prompt ---------------------------------------------------------------------------------

enum class PromptAnswer { accept_once, accept_always, decline };
// "reject" | "accept-once" | "accept-always", the spellings of `parley --on-untrusted`
// ("reject" is decline).
Result<PromptAnswer> parse_prompt_answer(std::string_view text);
const char* to_string(PromptAnswer answer);

enum class SelfSigned { no, yes };
// Whether a different certificate was accepted for this service identity before.
enum class CertificateChange { not_seen_before, changed };

struct PreviousAcceptance {
  std::string fingerprint;
  pki::UnixTime accepted_at = 0;
};

// Everything the user is shown. All text is escaped (see the top of this file).
struct PromptDetails {
  ServiceIdentity service;
  std::string subject;
  std::string issuer;
  pki::UnixTime not_before = 0;
  pki::UnixTime not_after = 0;
  std::string fingerprint;  // SHA-256, colon hex
  // Every identifier the certificate carries that a Parley service compares: XmppAddr, SRVName,
  // dNSName, iPAddress, and the CN when no SAN of those kinds exists; "kind: text".
  std::vector<std::string> identities;
  std::vector<std::string> reasons;  // why it is not trusted, most specific first
  SelfSigned self_signed = SelfSigned::no;
  CertificateChange change = CertificateChange::not_seen_before;
  std::vector<PreviousAcceptance> previously_accepted;  // when changed: what was accepted before
};

// Implemented by the terminal UI (a dialog), by `parley --on-untrusted` (FixedPromptAnswer) and
// by tests. ask() is called at most once per decision.
class CertificatePrompt {
 public:
  virtual ~CertificatePrompt() = default;
  virtual PromptAnswer ask(const PromptDetails& details) = 0;
};

// Gives the same answer every time and remembers the last question (only the last: a client that
// reconnects for days must not accumulate them); for scripts without a terminal and for tests.
class FixedPromptAnswer final : public CertificatePrompt {
 public:
  explicit FixedPromptAnswer(PromptAnswer answer) : answer_(answer) {}
  PromptAnswer ask(const PromptDetails& details) override;
  std::size_t times_asked() const { return times_asked_; }
  const std::optional<PromptDetails>& last_asked() const { return last_asked_; }

 private:
  PromptAnswer answer_;
  std::size_t times_asked_ = 0;
  std::optional<PromptDetails> last_asked_;
};

// ---- the decision -------------------------------------------------------------------------------

enum class Verdict { trusted, accepted_previously, accepted_by_user, rejected };
const char* to_string(Verdict verdict);

enum class StoreChange { unchanged, certificate_stored };

struct TrustDecision {
  Verdict verdict = Verdict::rejected;
  // Why the certificate is not trusted by its chain (empty for `trusted`), then, for a refusal,
  // why it was refused. Escaped text, one finding per entry.
  std::vector<std::string> reasons;
  std::string notice;  // one line for the user saying what happened and why
  StoreChange store_change = StoreChange::unchanged;
  std::optional<PromptAnswer> answer;     // set when the user was asked
  std::optional<Error> store_error;       // "accept always" could not be saved
  std::optional<pki::VerifiedPath> path;  // set for `trusted`: what the lock indicator may show

  bool connects() const { return verdict != Verdict::rejected; }
};

struct PresentedChain {
  pki::CertificatePtr leaf;
  std::vector<pki::CertificatePtr> intermediates;  // as the server sent them, untrusted
};

// The front door: verify (pki::verify_server_certificate against `anchors`: system roots and
// admin CA bundles), check revocation on a verified path, then decide. `policy.time` is both the
// validation time and the acceptance time recorded in the store. `prompt` may be nullptr (nobody
// to ask: untrusted certificates are refused).
TrustDecision decide_server_trust(const PresentedChain& chain, const pki::TrustStore& anchors,
                                  const ServiceIdentity& service, const pki::VerifyPolicy& policy,
                                  const TrustPolicy& trust, const RevocationCheck& revocation,
                                  CertificateStore& store, CertificatePrompt* prompt);

// The combining stage alone, for callers that ran the earlier stages themselves. `verification`
// must come from pki::verify_server_certificate for this leaf and service's reference identity;
// `revocation` from the revocation stage on its path (nullopt when it did not block).
struct StageResults {
  pki::CertificatePtr leaf;
  pki::VerifyResult verification;
  std::optional<RevocationBlock> revocation;
};
TrustDecision decide_trust(const StageResults& stages, const ServiceIdentity& service,
                           const pki::VerifyPolicy& policy, const TrustPolicy& trust,
                           CertificateStore& store, CertificatePrompt* prompt);

// What decide_trust shows the user, exposed so the UI can show the same for `trust list`.
// `reasons` are taken as given (they are escaped here).
PromptDetails prompt_details(const pki::Certificate& leaf, const ServiceIdentity& service,
                             const std::vector<std::string>& reasons,
                             const std::vector<StoredCertificate>& stored_for_service);

// Bytes outside printable ASCII as \xNN, backslash as \\, at most `max_length` characters of
// output (then "..."): for any certificate-supplied text shown to a person.
std::string escape_for_display(std::string_view text, std::size_t max_length = 1024);

}  // namespace parley::client
