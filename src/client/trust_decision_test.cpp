// Tables for client/trust_decision: the spec's certificate validation process end to end through
// the front door (verify -> revocation -> decision), against a real store on disk in a temporary
// directory. Certificates come from tests/fixtures/chains (CA-signed) and
// tests/fixtures/selfsigned; every time is read from the certificates, never the wall clock.

#include "client/trust_decision.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/test_support.hpp"

namespace parley::client {
namespace {

using test_support::directory_entries;
using test_support::fixture_certificate;
using test_support::TempDir;

constexpr pki::UnixTime kDay = 24 * 60 * 60;

std::optional<std::string> file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

enum class Chain {
  ca_signed,               // p256 leaf + intermediate, root in the anchors
  ca_signed_unknown_root,  // the same, with no anchors at all
  self_signed,
  self_signed_regenerated,  // same names, new key
};

enum class When { valid, after_ca_leaf_expiry };

// What the store holds before the decision.
enum class Preset {
  empty,
  presented_for_service,        // the presented leaf, bound to the service connected to
  presented_for_other_host,     // the presented leaf, bound to xmpp-client other.test:5222
  presented_for_other_service,  // the presented leaf, bound to https example.test:5222
  previous_for_service,         // selfsigned/example.test.crt, bound to the service
  corrupt,
};

enum class Asker { nobody, accept_once, accept_always, decline };

// What the store must hold afterwards.
enum class StoreAfter { untouched, holds_presented_only };

struct DecisionRow {
  const char* name;
  Chain chain;
  std::string_view host = "example.test";
  When when = When::valid;
  InvalidCertificateBehavior on_invalid = InvalidCertificateBehavior::prompt_per_session;
  FipsMode fips = FipsMode::off;
  Preset preset = Preset::empty;
  Asker asker = Asker::accept_always;
  std::optional<RevocationBlockKind> revocation = std::nullopt;

  Verdict verdict = Verdict::rejected;
  std::size_t times_asked = 0;
  StoreAfter after = StoreAfter::untouched;
  std::vector<std::string_view> reasons = {};  // phrases that must appear among the reasons
  std::optional<CertificateChange> change = std::nullopt;  // checked when the prompt was asked
  std::optional<SelfSigned> self_signed = std::nullopt;
};

using IcB = InvalidCertificateBehavior;

const DecisionRow kDecisions[] = {
    // A trusted chain that names the service: silent, whatever the policy.
    {.name = "trusted_chain_connects_silently",
     .chain = Chain::ca_signed,
     .verdict = Verdict::trusted},
    {.name = "trusted_chain_in_fips_mode",
     .chain = Chain::ca_signed,
     .fips = FipsMode::on,
     .verdict = Verdict::trusted},
    {.name = "trusted_chain_under_reject_policy",
     .chain = Chain::ca_signed,
     .on_invalid = IcB::reject_and_notify,
     .verdict = Verdict::trusted},
    {.name = "corrupt_store_does_not_block_a_trusted_chain",
     .chain = Chain::ca_signed,
     .preset = Preset::corrupt,
     .verdict = Verdict::trusted},

    // Revocation: refused, never asked, nothing stored, whatever was accepted before.
    {.name = "revoked_is_refused_without_prompt",
     .chain = Chain::ca_signed,
     .revocation = RevocationBlockKind::revoked,
     .verdict = Verdict::rejected,
     .reasons = {"revoked", "serial 2001"}},
    {.name = "revocation_unreachable_is_refused",
     .chain = Chain::ca_signed,
     .revocation = RevocationBlockKind::status_unavailable,
     .verdict = Verdict::rejected,
     .reasons = {"could not be established"}},
    {.name = "revoked_even_if_accepted_before",
     .chain = Chain::ca_signed,
     .preset = Preset::presented_for_service,
     .revocation = RevocationBlockKind::revoked,
     .verdict = Verdict::rejected,
     .reasons = {"revoked"}},

    // Self-signed: always asked unless accepted for this very service.
    {.name = "self_signed_accept_always_stores_and_connects",
     .chain = Chain::self_signed,
     .verdict = Verdict::accepted_by_user,
     .times_asked = 1,
     .after = StoreAfter::holds_presented_only,
     .reasons = {"self-signed"},
     .change = CertificateChange::not_seen_before,
     .self_signed = SelfSigned::yes},
    {.name = "self_signed_accept_once_stores_nothing",
     .chain = Chain::self_signed,
     .asker = Asker::accept_once,
     .verdict = Verdict::accepted_by_user,
     .times_asked = 1,
     .self_signed = SelfSigned::yes},
    {.name = "self_signed_decline_stores_nothing",
     .chain = Chain::self_signed,
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .reasons = {"self-signed"}},
    {.name = "self_signed_accepted_before_is_silent",
     .chain = Chain::self_signed,
     .preset = Preset::presented_for_service,
     .asker = Asker::decline,
     .verdict = Verdict::accepted_previously},
    {.name = "accepted_for_another_host_does_not_count",
     .chain = Chain::self_signed,
     .preset = Preset::presented_for_other_host,
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .change = CertificateChange::not_seen_before},
    {.name = "accepted_for_another_service_does_not_count",
     .chain = Chain::self_signed,
     .preset = Preset::presented_for_other_service,
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .change = CertificateChange::not_seen_before},
    {.name = "self_signed_reached_by_address_says_both",
     .chain = Chain::self_signed,
     .host = "192.0.2.1",
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .reasons = {"does not name 192.0.2.1", "self-signed"}},

    // A changed certificate is asked about again, and the prompt says it changed.
    {.name = "changed_certificate_prompts_and_replaces",
     .chain = Chain::self_signed_regenerated,
     .preset = Preset::previous_for_service,
     .verdict = Verdict::accepted_by_user,
     .times_asked = 1,
     .after = StoreAfter::holds_presented_only,
     .reasons = {"CHANGED"},
     .change = CertificateChange::changed},
    {.name = "changed_certificate_declined_keeps_the_previous",
     .chain = Chain::self_signed_regenerated,
     .preset = Preset::previous_for_service,
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .reasons = {"CHANGED"},
     .change = CertificateChange::changed},
    {.name = "changed_certificate_under_reject_policy_says_so",
     .chain = Chain::self_signed_regenerated,
     .on_invalid = IcB::reject_and_notify,
     .preset = Preset::previous_for_service,
     .verdict = Verdict::rejected,
     .reasons = {"CHANGED", "self-signed"}},
    {.name = "ca_signed_replacing_a_self_signed_one_is_silent",
     .chain = Chain::ca_signed,
     .preset = Preset::previous_for_service,
     .verdict = Verdict::trusted},

    // Policy: RejectAndNotify and FIPS never ask.
    {.name = "reject_and_notify_never_prompts",
     .chain = Chain::self_signed,
     .on_invalid = IcB::reject_and_notify,
     .verdict = Verdict::rejected,
     .reasons = {"self-signed"}},
    {.name = "fips_never_prompts",
     .chain = Chain::self_signed,
     .fips = FipsMode::on,
     .verdict = Verdict::rejected,
     .reasons = {"self-signed"}},
    {.name = "fips_ignores_an_earlier_acceptance",
     .chain = Chain::self_signed,
     .fips = FipsMode::on,
     .preset = Preset::presented_for_service,
     .verdict = Verdict::rejected},
    {.name = "nobody_to_ask_refuses",
     .chain = Chain::self_signed,
     .asker = Asker::nobody,
     .verdict = Verdict::rejected,
     .reasons = {"nobody can be asked"}},

    // Other ways to be untrusted.
    {.name = "unknown_issuer_prompts",
     .chain = Chain::ca_signed_unknown_root,
     .asker = Asker::accept_once,
     .verdict = Verdict::accepted_by_user,
     .times_asked = 1,
     .reasons = {"no trusted issuer found"},
     .self_signed = SelfSigned::no},
    {.name = "expired_prompts",
     .chain = Chain::ca_signed,
     .when = When::after_ca_leaf_expiry,
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .reasons = {"expired"}},
    {.name = "reached_by_address_is_a_mismatch_prompt",
     .chain = Chain::ca_signed,
     .host = "192.0.2.1",
     .verdict = Verdict::accepted_by_user,
     .times_asked = 1,
     .after = StoreAfter::holds_presented_only,
     .reasons = {"does not name 192.0.2.1"}},
    {.name = "other_host_is_a_mismatch_prompt",
     .chain = Chain::ca_signed,
     .host = "other.test",
     .asker = Asker::decline,
     .verdict = Verdict::rejected,
     .times_asked = 1,
     .reasons = {"does not name other.test"}},

    // A corrupt store: refused (whether the user accepted it cannot be known), file untouched.
    {.name = "corrupt_store_refuses_and_stays_intact",
     .chain = Chain::self_signed,
     .preset = Preset::corrupt,
     .verdict = Verdict::rejected,
     .reasons = {"accepted-certificates:2: ", "left unchanged"}},
};

class Decision : public ::testing::TestWithParam<DecisionRow> {
 protected:
  void SetUp() override {
    root_ = fixture_certificate("chains/p256/root.crt");
    intermediate_ = fixture_certificate("chains/p256/intermediate.crt");
    ca_leaf_ = fixture_certificate("chains/p256/leaf.crt");
    self_signed_ = fixture_certificate("selfsigned/example.test.crt");
    regenerated_ = fixture_certificate("selfsigned/example.test-regenerated.crt");
    ASSERT_TRUE(root_ && intermediate_ && ca_leaf_ && self_signed_ && regenerated_);
    anchors_.add(root_);
    valid_time_ =
        std::max({ca_leaf_->not_before(), self_signed_->not_before(), regenerated_->not_before()}) +
        kDay;
  }

  PresentedChain chain(Chain kind) const {
    switch (kind) {
      case Chain::ca_signed:
      case Chain::ca_signed_unknown_root:
        return {ca_leaf_, {intermediate_}};
      case Chain::self_signed:
        return {self_signed_, {}};
      case Chain::self_signed_regenerated:
        return {regenerated_, {}};
    }
    return {};
  }

  static ServiceIdentity service(pki::ServiceKind kind, std::string_view host) {
    auto made = ServiceIdentity::make(kind, host, 5222);
    EXPECT_TRUE(made.has_value()) << host;
    return made ? *made : ServiceIdentity{};
  }

  std::filesystem::path store_directory() const {
    return temp_.path() / "parley" / "alice@example.test";
  }

  TempDir temp_;
  pki::CertificatePtr root_, intermediate_, ca_leaf_, self_signed_, regenerated_;
  pki::TrustStore anchors_;
  pki::UnixTime valid_time_ = 0;
};

TEST_P(Decision, FollowsTheValidationProcess) {
  const DecisionRow& row = GetParam();
  const PresentedChain presented = chain(row.chain);
  const ServiceIdentity target = service(pki::ServiceKind::xmpp_client, row.host);
  CertificateStore store(store_directory());

  switch (row.preset) {
    case Preset::empty:
      break;
    case Preset::presented_for_service:
      ASSERT_TRUE(store.accept(target, presented.leaf, valid_time_, OnAccept::keep_others));
      break;
    case Preset::presented_for_other_host:
      ASSERT_TRUE(store.accept(service(pki::ServiceKind::xmpp_client, "other.test"), presented.leaf,
                               valid_time_, OnAccept::keep_others));
      break;
    case Preset::presented_for_other_service:
      ASSERT_TRUE(store.accept(service(pki::ServiceKind::https, row.host), presented.leaf,
                               valid_time_, OnAccept::keep_others));
      break;
    case Preset::previous_for_service:
      ASSERT_TRUE(store.accept(target, self_signed_, valid_time_, OnAccept::keep_others));
      break;
    case Preset::corrupt:
      std::filesystem::create_directories(store_directory());
      std::ofstream(store.file()) << "parley-accepted-certificates\t1\nnot an entry\n";
      ASSERT_EQ(::chmod(store.file().c_str(), 0600), 0);
      ASSERT_EQ(::chmod(store_directory().c_str(), 0700), 0);
      break;
  }
  const auto before = file_bytes(store.file());

  pki::VerifyPolicy policy;
  policy.time = row.when == When::valid ? valid_time_ : ca_leaf_->not_after() + kDay;
  const TrustPolicy trust{row.on_invalid, row.fips};
  std::size_t revocation_checks = 0;
  const RevocationCheck revocation =
      [&](const pki::VerifiedPath& path) -> std::optional<RevocationBlock> {
    ++revocation_checks;
    EXPECT_EQ(path.leaf().der(), presented.leaf->der());
    if (!row.revocation) return std::nullopt;
    return RevocationBlock{*row.revocation, "http://ocsp.example.test/: serial 2001"};
  };
  std::optional<FixedPromptAnswer> asker;
  switch (row.asker) {
    case Asker::nobody:
      break;
    case Asker::accept_once:
      asker.emplace(PromptAnswer::accept_once);
      break;
    case Asker::accept_always:
      asker.emplace(PromptAnswer::accept_always);
      break;
    case Asker::decline:
      asker.emplace(PromptAnswer::decline);
      break;
  }
  const pki::TrustStore no_anchors;
  const pki::TrustStore& anchors =
      row.chain == Chain::ca_signed_unknown_root ? no_anchors : anchors_;

  const TrustDecision decision = decide_server_trust(presented, anchors, target, policy, trust,
                                                     revocation, store, asker ? &*asker : nullptr);

  EXPECT_EQ(decision.verdict, row.verdict)
      << to_string(decision.verdict) << ": " << decision.notice;
  EXPECT_EQ(decision.connects(), row.verdict != Verdict::rejected);
  EXPECT_FALSE(decision.notice.empty());
  EXPECT_EQ(asker ? asker->times_asked() : 0u, row.times_asked) << decision.notice;
  EXPECT_EQ(decision.answer.has_value(), row.times_asked > 0);
  EXPECT_EQ(decision.path.has_value(), row.verdict == Verdict::trusted);
  EXPECT_LE(revocation_checks, 1u);
  for (const auto phrase : row.reasons) {
    EXPECT_NE(joined(decision.reasons).find(phrase), std::string::npos)
        << "missing \"" << phrase << "\" in:\n"
        << joined(decision.reasons);
  }
  if (row.verdict == Verdict::trusted) {
    EXPECT_TRUE(decision.reasons.empty());
  }

  if (asker && asker->times_asked() == 1) {
    const PromptDetails& details = *asker->last_asked();
    EXPECT_EQ(details.service, target);
    EXPECT_EQ(details.fingerprint, fingerprint_text(*presented.leaf));
    EXPECT_EQ(details.reasons, decision.reasons);
    if (row.change) {
      EXPECT_EQ(details.change, *row.change);
    }
    if (row.self_signed) {
      EXPECT_EQ(details.self_signed, *row.self_signed);
    }
  }

  const auto after = file_bytes(store.file());
  switch (row.after) {
    case StoreAfter::untouched:
      EXPECT_EQ(after, before) << "the store must not change";
      EXPECT_EQ(decision.store_change, StoreChange::unchanged);
      break;
    case StoreAfter::holds_presented_only: {
      EXPECT_EQ(decision.store_change, StoreChange::certificate_stored);
      auto stored = store.lookup(target);
      ASSERT_TRUE(stored.has_value()) << stored.error().message;
      ASSERT_EQ(stored->size(), 1u);
      EXPECT_EQ(stored->front().fingerprint, fingerprint_text(*presented.leaf));
      EXPECT_EQ(stored->front().accepted_at, policy.time);
      break;
    }
  }
  if (std::filesystem::exists(store_directory())) {
    EXPECT_EQ(directory_entries(store_directory()),
              std::vector<std::string>{"accepted-certificates"})
        << "no temporary files left behind";
  }
}

std::string decision_row_name(const ::testing::TestParamInfo<DecisionRow>& row) {
  return row.param.name;
}
INSTANTIATE_TEST_SUITE_P(Table, Decision, ::testing::ValuesIn(kDecisions), decision_row_name);

// ---- sequences and details ----------------------------------------------------------------------

TEST_F(Decision, AcceptAlwaysThenTheNextConnectionIsSilent) {
  CertificateStore store(store_directory());
  const ServiceIdentity target = service(pki::ServiceKind::xmpp_client, "example.test");
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  const TrustPolicy trust{IcB::prompt_per_session, FipsMode::off};

  FixedPromptAnswer first(PromptAnswer::accept_always);
  const auto accepted = decide_server_trust(chain(Chain::self_signed), anchors_, target, policy,
                                            trust, revocation_off(), store, &first);
  EXPECT_EQ(accepted.verdict, Verdict::accepted_by_user);
  EXPECT_EQ(accepted.store_change, StoreChange::certificate_stored);

  // A new session, a new store object reading the same file, a prompt that would decline.
  CertificateStore reopened(store_directory());
  FixedPromptAnswer second(PromptAnswer::decline);
  policy.time += kDay;
  const auto again = decide_server_trust(chain(Chain::self_signed), anchors_, target, policy, trust,
                                         revocation_off(), reopened, &second);
  EXPECT_EQ(again.verdict, Verdict::accepted_previously) << again.notice;
  EXPECT_EQ(second.times_asked(), 0u);
  EXPECT_NE(again.notice.find(format_utc_time(valid_time_)), std::string::npos) << again.notice;

  // The server regenerates its certificate: asked again, told it changed, told when the old one
  // was accepted.
  FixedPromptAnswer third(PromptAnswer::decline);
  const auto changed = decide_server_trust(chain(Chain::self_signed_regenerated), anchors_, target,
                                           policy, trust, revocation_off(), reopened, &third);
  EXPECT_EQ(changed.verdict, Verdict::rejected);
  ASSERT_EQ(third.times_asked(), 1u);
  const PromptDetails& details = *third.last_asked();
  EXPECT_EQ(details.change, CertificateChange::changed);
  ASSERT_EQ(details.previously_accepted.size(), 1u);
  EXPECT_EQ(details.previously_accepted.front().fingerprint, fingerprint_text(*self_signed_));
  EXPECT_EQ(details.previously_accepted.front().accepted_at, valid_time_);
  EXPECT_NE(joined(details.reasons).find(fingerprint_text(*self_signed_)), std::string::npos);
}

TEST_F(Decision, PromptShowsWhatThePersonNeedsToDecide) {
  CertificateStore store(store_directory());
  const ServiceIdentity target = service(pki::ServiceKind::xmpp_client, "example.test");
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  FixedPromptAnswer asker(PromptAnswer::decline);
  decide_server_trust(chain(Chain::self_signed), anchors_, target, policy,
                      {IcB::prompt_per_session, FipsMode::off}, revocation_off(), store, &asker);
  ASSERT_EQ(asker.times_asked(), 1u);
  const PromptDetails& details = *asker.last_asked();
  EXPECT_EQ(details.subject, "CN=example.test, O=Parley Test");
  EXPECT_EQ(details.issuer, details.subject);
  EXPECT_EQ(details.not_before, self_signed_->not_before());
  EXPECT_EQ(details.not_after, self_signed_->not_after());
  EXPECT_EQ(details.fingerprint.size(), 32u * 3 - 1);
  EXPECT_EQ(details.fingerprint, fingerprint_text(*self_signed_));
  const std::vector<std::string> identities = {
      "XmppAddr: example.test", "SRVName: _xmpp-client.example.test", "dNSName: example.test",
      "dNSName: xmpp.example.test"};
  EXPECT_EQ(details.identities, identities);
  EXPECT_EQ(details.self_signed, SelfSigned::yes);
  EXPECT_EQ(details.change, CertificateChange::not_seen_before);
  EXPECT_TRUE(details.previously_accepted.empty());
  ASSERT_FALSE(details.reasons.empty());
}

TEST_F(Decision, RevocationBeatsAStoredAcceptance) {
  // Through the combining stage, as a caller that ran the stages itself would.
  CertificateStore store(store_directory());
  const ServiceIdentity target = service(pki::ServiceKind::xmpp_client, "example.test");
  ASSERT_TRUE(store.accept(target, self_signed_, valid_time_, OnAccept::keep_others));
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  auto reference = target.reference();
  ASSERT_TRUE(reference.has_value());
  const StageResults stages{
      self_signed_, pki::verify_server_certificate(self_signed_, {}, anchors_, *reference, policy),
      RevocationBlock{RevocationBlockKind::revoked, "CRL http://crl.example.test/ca.crl"}};
  FixedPromptAnswer asker(PromptAnswer::accept_always);
  const auto decision =
      decide_trust(stages, target, policy, {IcB::prompt_per_session, FipsMode::off}, store, &asker);
  EXPECT_EQ(decision.verdict, Verdict::rejected);
  EXPECT_EQ(asker.times_asked(), 0u);
  EXPECT_NE(joined(decision.reasons).find("crl.example.test"), std::string::npos);
}

TEST_F(Decision, AStoreThatCannotBeWrittenStillHonoursTheAnswerAndSaysSo) {
  CertificateStore store(store_directory(), StoreLimits{.max_entries = 0});
  const ServiceIdentity target = service(pki::ServiceKind::xmpp_client, "example.test");
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  FixedPromptAnswer asker(PromptAnswer::accept_always);
  const auto decision = decide_server_trust(chain(Chain::self_signed), anchors_, target, policy,
                                            {IcB::prompt_per_session, FipsMode::off},
                                            revocation_off(), store, &asker);
  EXPECT_EQ(decision.verdict, Verdict::accepted_by_user);
  EXPECT_EQ(decision.store_change, StoreChange::unchanged);
  ASSERT_TRUE(decision.store_error.has_value());
  EXPECT_EQ(decision.store_error->kind, ErrorKind::limit);
  EXPECT_NE(decision.notice.find("asked again"), std::string::npos) << decision.notice;
}

TEST_F(Decision, AMissingRevocationStageFailsClosed) {
  CertificateStore store(store_directory());
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  const auto decision = decide_server_trust(chain(Chain::ca_signed), anchors_,
                                            service(pki::ServiceKind::xmpp_client, "example.test"),
                                            policy, {}, RevocationCheck{}, store, nullptr);
  EXPECT_EQ(decision.verdict, Verdict::rejected);
}

TEST_F(Decision, NoCertificateIsRefused) {
  CertificateStore store(store_directory());
  pki::VerifyPolicy policy;
  policy.time = valid_time_;
  FixedPromptAnswer asker(PromptAnswer::accept_always);
  const auto decision = decide_server_trust(
      {}, anchors_, service(pki::ServiceKind::xmpp_client, "example.test"), policy,
      {IcB::prompt_per_session, FipsMode::off}, revocation_off(), store, &asker);
  EXPECT_EQ(decision.verdict, Verdict::rejected);
  EXPECT_EQ(asker.times_asked(), 0u);
}

TEST_F(Decision, FipsModeMatchesNamesBySubjectAltNameOnly) {
  // A certificate that names the host only in its CN, trusted as its own anchor: accepted when CN
  // fallback is allowed, refused in FIPS mode (RFC 9525), and never asked about.
  const auto cn_only = fixture_certificate("identity/cn-only.crt");
  ASSERT_TRUE(cn_only);
  pki::TrustStore anchors;
  anchors.add(cn_only);
  pki::VerifyPolicy policy;
  policy.profile = pki::Profile::rfc5280;
  policy.time = cn_only->not_before() + kDay;
  policy.cn_fallback = pki::CnFallback::allow_when_no_san;
  const ServiceIdentity target = service(pki::ServiceKind::https, "example.test");
  CertificateStore store(store_directory());
  const auto usual = decide_server_trust({cn_only, {}}, anchors, target, policy,
                                         {IcB::prompt_per_session, FipsMode::off}, revocation_off(),
                                         store, nullptr);
  if (usual.verdict != Verdict::trusted) {
    GTEST_SKIP() << "identity/cn-only.crt does not verify as its own anchor: "
                 << joined(usual.reasons);
  }
  FixedPromptAnswer asker(PromptAnswer::accept_always);
  const auto fips =
      decide_server_trust({cn_only, {}}, anchors, target, policy,
                          {IcB::prompt_per_session, FipsMode::on}, revocation_off(), store, &asker);
  EXPECT_EQ(fips.verdict, Verdict::rejected);
  EXPECT_EQ(asker.times_asked(), 0u);
  EXPECT_NE(joined(fips.reasons).find("does not name"), std::string::npos) << joined(fips.reasons);
}

// ---- small tables -------------------------------------------------------------------------------

TEST(TrustDecisionNames, JabberParameterSpellings) {
  EXPECT_EQ(*parse_invalid_certificate_behavior("RejectAndNotify"), IcB::reject_and_notify);
  EXPECT_EQ(*parse_invalid_certificate_behavior("PromptPerSession"), IcB::prompt_per_session);
  for (const std::string_view bad : {"", "rejectandnotify", "Prompt", "PromptPerSession "}) {
    EXPECT_FALSE(parse_invalid_certificate_behavior(bad).has_value()) << bad;
  }
  EXPECT_EQ(*parse_prompt_answer("reject"), PromptAnswer::decline);
  EXPECT_EQ(*parse_prompt_answer("accept-once"), PromptAnswer::accept_once);
  EXPECT_EQ(*parse_prompt_answer("accept-always"), PromptAnswer::accept_always);
  EXPECT_FALSE(parse_prompt_answer("accept").has_value());
  for (const auto answer :
       {PromptAnswer::decline, PromptAnswer::accept_once, PromptAnswer::accept_always}) {
    EXPECT_EQ(*parse_prompt_answer(to_string(answer)), answer);
  }
}

TEST(TrustDecisionNames, EscapeForDisplay) {
  const std::vector<std::pair<std::string_view, std::string_view>> rows = {
      {"example.test", "example.test"},
      {"evil\x1b[2Jtest", "evil\\x1b[2Jtest"},  // no terminal control from a certificate
      {"line\nbreak", "line\\x0abreak"},
      {"caf\xc3\xa9", "caf\\xc3\\xa9"},
      {"\xe2\x80\xae"
       "cba",
       "\\xe2\\x80\\xae"
       "cba"},  // right-to-left override
      {std::string_view("nul\0x", 5), "nul\\x00x"},
  };
  for (const auto& [input, expected] : rows) EXPECT_EQ(escape_for_display(input), expected);
  EXPECT_EQ(escape_for_display(std::string(2000, 'a'), 10), std::string(10, 'a') + "...");
}

}  // namespace
}  // namespace parley::client
