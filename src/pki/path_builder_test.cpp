// Tables for the path builder behind verify.hpp: backtracking over candidate issuers, cross-signs,
// the error reported when no path works, and the work budget against garbage (the issue's
// "truncated DER, a 1 MB chain of 500 certificates, a loop of cross-signs returns an error
// within the budget; no crash, no hang").
//
// Fixtures: tests/fixtures/paths (scripts/fixtures/paths.sh; fixed dates, validated at
// 2030-01-01). The script describes each scenario; the decoys and the loop exist for this file.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "pki/verify.hpp"

namespace parley::pki {
namespace {

constexpr UnixTime k2030_01_01 = 1893456000;

std::string fixture_text(const std::string& name) {
  const auto text = read_file(std::string(PARLEY_FIXTURES_DIR) + "/paths/" + name + ".crt");
  EXPECT_TRUE(text.has_value()) << name << ": " << (text ? "" : text.error().message);
  return text ? *text : std::string();
}

// A certificate of tests/fixtures/paths by its name without ".crt", loaded once.
CertificatePtr fixture(const std::string& name) {
  static std::map<std::string, CertificatePtr> cache;
  if (const auto found = cache.find(name); found != cache.end()) return found->second;
  auto parsed = Certificate::from_pem(fixture_text(name));
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << name << ": "
                  << (parsed ? "not exactly one certificate" : parsed.error().message);
    return nullptr;
  }
  return cache.emplace(name, parsed->front()).first->second;
}

std::vector<std::string> decoys() {
  std::vector<std::string> names;
  for (int i = 1; i <= 48; ++i)
    names.push_back((i < 10 ? "decoy-0" : "decoy-") + std::to_string(i));
  return names;
}

std::vector<std::string> loop() {
  std::vector<std::string> names;
  for (const char* n : {"a", "b", "c", "d"}) {
    for (const char* m : {"a", "b", "c", "d"}) {
      if (std::string(n) != m) names.push_back(std::string("loop-") + n + "-by-" + m);
    }
  }
  return names;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::string describe(const VerifyFailure& failure) {
  std::ostringstream out;
  out << failure.message;
  for (const auto& issue : failure.issues) {
    out << "\n  [" << issue.depth << "] " << to_string(issue.error) << ": " << issue.detail;
  }
  return out.str();
}

struct BuildCase {
  const char* name;  // the test's name
  const char* leaf;
  std::vector<std::string> intermediates;  // in the order offered
  std::vector<std::string> anchors;
  std::optional<VerifyError> expected;                 // nullopt: verifies
  std::optional<std::size_t> at_depth = std::nullopt;  // with `expected`: a finding about it
  std::vector<std::string> expected_path = {};         // with success: leaf first, anchor last
  BudgetLimits budget = {};
};

VerifyResult run(const BuildCase& row, const std::vector<CertificatePtr>& intermediates) {
  TrustStore anchors;
  for (const auto& name : row.anchors) anchors.add(fixture(name));
  VerifyPolicy policy;
  policy.time = k2030_01_01;
  policy.budget = row.budget;
  return verify_client_certificate(fixture(row.leaf), intermediates, anchors, policy);
}

void expect_verdict(const BuildCase& row, const VerifyResult& result) {
  if (!row.expected) {
    ASSERT_TRUE(result.has_value()) << describe(result.error());
    if (row.expected_path.empty()) return;
    const auto& path = result->certificates();
    ASSERT_EQ(path.size(), row.expected_path.size());
    for (std::size_t i = 0; i < path.size(); ++i) {
      const CertificatePtr want = fixture(row.expected_path[i]);
      ASSERT_TRUE(want);
      EXPECT_EQ(path[i]->sha256_fingerprint(), want->sha256_fingerprint())
          << "certificate " << i << " of the path should be " << row.expected_path[i];
    }
    return;
  }
  ASSERT_FALSE(result.has_value()) << "verified, expected " << to_string(*row.expected);
  const VerifyFailure& failure = result.error();
  EXPECT_EQ(std::string(to_string(failure.error)), to_string(*row.expected)) << describe(failure);
  if (row.at_depth) {
    bool found = false;
    for (const auto& issue : failure.issues) {
      found = found || (issue.error == *row.expected && issue.depth == *row.at_depth);
    }
    EXPECT_TRUE(found) << "no " << to_string(*row.expected) << " finding at depth " << *row.at_depth
                       << ":\n"
                       << describe(failure);
  }
}

void PrintTo(const BuildCase& row, std::ostream* out) {
  *out << row.name;
}

std::string row_name(const testing::TestParamInfo<BuildCase>& info) {
  return info.param.name;
}

class PathBuilderTable : public testing::TestWithParam<BuildCase> {};

TEST_P(PathBuilderTable, Verdict) {
  const BuildCase& row = GetParam();
  std::vector<CertificatePtr> intermediates;
  for (const auto& name : row.intermediates) intermediates.push_back(fixture(name));
  expect_verdict(row, run(row, intermediates));
}

// --- backtracking, cross-signs, and what is reported when nothing works ------------------------

const BuildCase kSearch[] = {
    // ica-twin-{expired,wrong-eku,good}: one subject, one key (so one subjectKeyIdentifier, and
    // the leaf's authorityKeyIdentifier matches all three); only the offered order differs.
    {.name = "expired_twin_first",
     .leaf = "leaf-twin",
     .intermediates = {"ica-twin-expired", "ica-twin-good"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-twin", "ica-twin-good", "root-a"}},
    {.name = "good_twin_first",
     .leaf = "leaf-twin",
     .intermediates = {"ica-twin-good", "ica-twin-expired"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-twin", "ica-twin-good", "root-a"}},
    {.name = "wrong_eku_twin_first",
     .leaf = "leaf-twin",
     .intermediates = {"ica-twin-wrong-eku", "ica-twin-good"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-twin", "ica-twin-good", "root-a"}},
    {.name = "both_bad_twins_before_good",
     .leaf = "leaf-twin",
     .intermediates = {"ica-twin-expired", "ica-twin-wrong-eku", "ica-twin-good"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-twin", "ica-twin-good", "root-a"}},
    {.name = "only_expired_twin",
     .leaf = "leaf-twin",
     .intermediates = {"ica-twin-expired"},
     .anchors = {"root-a"},
     .expected = VerifyError::expired,
     .at_depth = 1},
    // ica-x is issued by root A and by root B under one key.
    {.name = "cross_signed_only_a_trusted",
     .leaf = "leaf-x",
     .intermediates = {"ica-x-by-b", "ica-x-by-a"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-x", "ica-x-by-a", "root-a"}},
    {.name = "cross_signed_only_b_trusted",
     .leaf = "leaf-x",
     .intermediates = {"ica-x-by-a", "ica-x-by-b"},
     .anchors = {"root-b"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-x", "ica-x-by-b", "root-b"}},
    {.name = "cross_signed_neither_trusted",
     .leaf = "leaf-x",
     .intermediates = {"ica-x-by-a", "ica-x-by-b"},
     .anchors = {"root-pathlen0"},
     .expected = VerifyError::no_issuer_found,
     .at_depth = 1},
    // Root B cross-signed by root A: a path through the untrusted root's cross-sign.
    {.name = "root_b_via_cross_sign_from_a",
     .leaf = "leaf-b",
     .intermediates = {"ica-b", "root-b-by-a"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-b", "ica-b", "root-b-by-a", "root-a"}},
    {.name = "root_b_trusted_shortest_path",
     .leaf = "leaf-b",
     .intermediates = {"ica-b", "root-b-by-a"},
     .anchors = {"root-a", "root-b"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-b", "ica-b", "root-b"}},
    {.name = "anchor_also_offered_as_intermediate",
     .leaf = "leaf-a",
     .intermediates = {"ica-a", "root-a"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-a", "ica-a", "root-a"}},
    {.name = "no_anchor",
     .leaf = "leaf-a",
     .intermediates = {"ica-a"},
     .anchors = {"root-b"},
     .expected = VerifyError::no_issuer_found,
     .at_depth = 1},
    {.name = "empty_trust_store",
     .leaf = "leaf-a",
     .intermediates = {"ica-a"},
     .anchors = {},
     .expected = VerifyError::no_issuer_found},
    {.name = "missing_intermediate",
     .leaf = "leaf-a",
     .intermediates = {},
     .anchors = {"root-a"},
     .expected = VerifyError::no_issuer_found,
     .at_depth = 0},
    // ica-a-impostor is "ICA A" under another key, itself validly issued by root A.
    {.name = "same_name_other_key",
     .leaf = "leaf-a",
     .intermediates = {"ica-a-impostor"},
     .anchors = {"root-a"},
     .expected = VerifyError::signature_invalid,
     .at_depth = 0},
    {.name = "same_name_other_key_as_anchor",
     .leaf = "leaf-a",
     .intermediates = {},
     .anchors = {"ica-a-impostor"},
     .expected = VerifyError::signature_invalid,
     .at_depth = 0},
    {.name = "same_name_other_key_then_real",
     .leaf = "leaf-a",
     .intermediates = {"ica-a-impostor", "ica-a"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-a", "ica-a", "root-a"}},
    // A signature failure is more specific than a dead end elsewhere: ica-a-impostor fails the
    // signature, ica-x-by-b leads nowhere (different issuer name, not a candidate at all).
    {.name = "signature_beats_no_issuer",
     .leaf = "leaf-a",
     .intermediates = {"ica-a-impostor", "ica-x-by-b"},
     .anchors = {"root-a"},
     .expected = VerifyError::signature_invalid,
     .at_depth = 0},
    // 48 decoys named "ICA Crowd" and claiming ica-crowd's subjectKeyIdentifier, under other keys,
    // so the key-identifier ordering cannot skip them: 48 failed signatures, then the real one.
    {.name = "crowd_real_issuer_last",
     .leaf = "leaf-crowd",
     .intermediates = decoys() + std::vector<std::string>{"ica-crowd"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-crowd", "ica-crowd", "root-a"}},
    {.name = "crowd_without_real_issuer",
     .leaf = "leaf-crowd",
     .intermediates = decoys(),
     .anchors = {"root-a"},
     .expected = VerifyError::signature_invalid,
     .at_depth = 0},
    {.name = "crowd_signature_budget_exhausted",
     .leaf = "leaf-crowd",
     .intermediates = decoys() + std::vector<std::string>{"ica-crowd"},
     .anchors = {"root-a"},
     .expected = VerifyError::budget_exhausted,
     .at_depth = std::nullopt,
     .expected_path = {},
     .budget = {.signature_checks = 10,
                .build_calls = 200'000,
                .name_constraint_comparisons = 250'000}},
    // Loop A..D, each cross-signed by the three others, no way to an anchor.
    {.name = "loop_of_cross_signs",
     .leaf = "leaf-loop",
     .intermediates = loop(),
     .anchors = {"root-a"},
     .expected = VerifyError::no_issuer_found},
    {.name = "loop_of_cross_signs_build_budget_exhausted",
     .leaf = "leaf-loop",
     .intermediates = loop(),
     .anchors = {"root-a"},
     .expected = VerifyError::budget_exhausted,
     .at_depth = std::nullopt,
     .expected_path = {},
     .budget = {.signature_checks = 100, .build_calls = 5, .name_constraint_comparisons = 250'000}},
    {.name = "loop_of_cross_signs_signature_budget_exhausted",
     .leaf = "leaf-loop",
     .intermediates = loop(),
     .anchors = {"root-a"},
     .expected = VerifyError::budget_exhausted,
     .at_depth = std::nullopt,
     .expected_path = {},
     .budget = {.signature_checks = 5,
                .build_calls = 200'000,
                .name_constraint_comparisons = 250'000}},
    // The loop is offered along with a real path for another leaf: still found.
    {.name = "loop_offered_beside_a_good_path",
     .leaf = "leaf-a",
     .intermediates = loop() + std::vector<std::string>{"ica-a"},
     .anchors = {"root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"leaf-a", "ica-a", "root-a"}},
};
INSTANTIATE_TEST_SUITE_P(PathBuilderSearch, PathBuilderTable, testing::ValuesIn(kSearch), row_name);

// --- garbage that must not parse -------------------------------------------------------------

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(PathBuilderGarbage, EveryTruncationOfADerCertificateFails) {
  const CertificatePtr leaf = fixture("leaf-a");
  ASSERT_TRUE(leaf);
  const std::string& der = leaf->der();
  ASSERT_TRUE(Certificate::from_der(bytes_of(der)).has_value());
  for (std::size_t length = 0; length < der.size(); ++length) {
    const auto parsed = Certificate::from_der(bytes_of(der).first(length));
    EXPECT_FALSE(parsed.has_value())
        << "a certificate truncated to " << length << " of " << der.size() << " bytes parsed";
  }
  EXPECT_FALSE(Certificate::from_der(bytes_of(der + '\0')).has_value()) << "trailing byte accepted";
}

TEST(PathBuilderGarbage, RandomBytesFail) {
  std::mt19937 random(20240101);  // fixed seed: the same bytes on every run
  std::uniform_int_distribution<int> byte(0, 255);
  for (std::size_t length : {1u, 2u, 16u, 64u, 300u, 1024u, 4096u}) {
    for (int round = 0; round < 50; ++round) {
      std::string bytes(length, '\0');
      for (auto& b : bytes) b = static_cast<char>(byte(random));
      // Half of the rounds start like a DER certificate (SEQUENCE, long form length).
      if (round % 2 == 0 && length >= 4) {
        bytes[0] = '\x30';
        bytes[1] = '\x82';
      }
      EXPECT_FALSE(Certificate::from_der(bytes_of(bytes)).has_value())
          << length << " random bytes parsed";
      EXPECT_FALSE(Certificate::from_pem_or_der(bytes).has_value())
          << length << " random bytes parsed";
    }
  }
}

struct PemGarbage {
  const char* name;
  std::string text;
};

std::string pem_of(const char* name) {
  return fixture_text(name);
}

TEST(PathBuilderGarbage, BrokenPemFails) {
  const std::string good = pem_of("leaf-a");
  ASSERT_TRUE(Certificate::from_pem(good).has_value());
  const std::vector<PemGarbage> rows = {
      {"empty", ""},
      {"no_block", "hello, certificate\n"},
      {"truncated_in_body", good.substr(0, good.size() / 2)},
      {"no_end_line", good.substr(0, good.find("-----END"))},
      {"bad_base64",
       "-----BEGIN CERTIFICATE-----\n!!!!not base64!!!!\n-----END CERTIFICATE-----\n"},
      {"base64_of_garbage",
       "-----BEGIN CERTIFICATE-----\nAAAAAAAAAAAAAAAA\n-----END CERTIFICATE-----\n"},
      {"good_then_truncated", good + good.substr(0, good.size() / 2)},
      {"good_then_garbage_block",
       good + "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_FALSE(Certificate::from_pem(row.text).has_value());
  }
}

// --- a megabyte chain of 500 certificates --------------------------------------------------------

// Every distinct intermediate-ish fixture except ica-crowd (the one real issuer of leaf-crowd),
// then decoys again and again until there are 500 PEM blocks. Duplicates collapse in the pool;
// what remains is 48 same-name issuers whose signatures fail, a loop, and a few unrelated CAs.
std::string megabyte_chain() {
  const std::vector<std::string> distinct = decoys() + loop() +
                                            std::vector<std::string>{"ica-a-impostor",
                                                                     "ica-twin-expired",
                                                                     "ica-twin-wrong-eku",
                                                                     "ica-x-by-b",
                                                                     "root-b",
                                                                     "root-b-by-a",
                                                                     "ica-b",
                                                                     "ica-pathlen0",
                                                                     "ica-pathlen1",
                                                                     "ica-not-ca",
                                                                     "ica-no-bc",
                                                                     "ica-no-certsign",
                                                                     "ica-unknown-critical",
                                                                     "root-pathlen0"};
  std::string pem;
  std::size_t blocks = 0;
  for (const auto& name : distinct) {
    pem += pem_of(name.c_str());
    ++blocks;
  }
  const auto repeat = decoys();
  for (std::size_t i = 0; blocks < 500; ++i, ++blocks)
    pem += pem_of(repeat[i % repeat.size()].c_str());
  return pem;
}

struct FloodCase {
  const char* name;
  const char* leaf;
  bool append_real_issuer;              // ica-crowd as the 501st certificate
  std::optional<VerifyError> expected;  // nullopt: verifies
  BudgetLimits budget = {};
};

class PathBuilderFlood : public testing::TestWithParam<FloodCase> {
 protected:
  static void SetUpTestSuite() {
    chain_text_ = new std::string(megabyte_chain());
    auto parsed = Certificate::from_pem(*chain_text_);
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    chain_ = new std::vector<CertificatePtr>(std::move(*parsed));
  }
  static void TearDownTestSuite() {
    delete chain_text_;
    delete chain_;
    chain_text_ = nullptr;
    chain_ = nullptr;
  }
  static std::string* chain_text_;
  static std::vector<CertificatePtr>* chain_;
};
std::string* PathBuilderFlood::chain_text_ = nullptr;
std::vector<CertificatePtr>* PathBuilderFlood::chain_ = nullptr;

TEST_P(PathBuilderFlood, ErrorWithinBudget) {
  ASSERT_NE(chain_, nullptr);
  ASSERT_GE(chain_text_->size(), 1'000'000u);
  ASSERT_EQ(chain_->size(), 500u);
  const FloodCase& row = GetParam();
  std::vector<CertificatePtr> intermediates = *chain_;
  if (row.append_real_issuer) intermediates.push_back(fixture("ica-crowd"));

  const BuildCase build{.name = row.name,
                        .leaf = row.leaf,
                        .intermediates = {},
                        .anchors = {"root-a"},
                        .expected = row.expected,
                        .at_depth = std::nullopt,
                        .expected_path = {},
                        .budget = row.budget};
  const auto started = std::chrono::steady_clock::now();
  const VerifyResult result = run(build, intermediates);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  expect_verdict(build, result);
  // Not a benchmark: a generous bound that only a hang or an unbounded search would break.
  EXPECT_LT(elapsed, std::chrono::seconds(30));
}

const FloodCase kFlood[] = {
    {"crowd_default_budget", "leaf-crowd", false, VerifyError::signature_invalid},
    {"crowd_real_issuer_at_the_end", "leaf-crowd", true, std::nullopt},
    {"crowd_tight_signature_budget",
     "leaf-crowd",
     true,
     VerifyError::budget_exhausted,
     {.signature_checks = 20, .build_calls = 200'000, .name_constraint_comparisons = 250'000}},
    {"loop_default_budget", "leaf-loop", false, VerifyError::no_issuer_found},
    {"loop_tight_build_budget",
     "leaf-loop",
     false,
     VerifyError::budget_exhausted,
     {.signature_checks = 100, .build_calls = 10, .name_constraint_comparisons = 250'000}},
    // The flood holds ica-a-impostor ("ICA A" under another key) but not ica-a.
    {"impostor_in_flood", "leaf-a", false, VerifyError::signature_invalid},
    // Nothing in the flood is named like leaf-pathlen1-b's issuer.
    {"unrelated_leaf_no_issuer", "leaf-pathlen1-b", false, VerifyError::no_issuer_found},
};

void PrintTo(const FloodCase& row, std::ostream* out) {
  *out << row.name;
}

std::string flood_name(const testing::TestParamInfo<FloodCase>& info) {
  return info.param.name;
}
INSTANTIATE_TEST_SUITE_P(PathBuilderFlood, PathBuilderFlood, testing::ValuesIn(kFlood), flood_name);

}  // namespace
}  // namespace parley::pki
