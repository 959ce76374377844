// Tables for the front door of verify.hpp: each row is a leaf, the intermediates offered with it,
// the trust anchors, the policy, and the verdict RFC 5280 6.1 (and the profile) gives. Path
// building and the work budget have their own tables in path_builder_test.cpp.
//
// Fixtures: tests/fixtures/chains/p256 (scripts/fixtures/chains.sh, dates relative to the day it
// ran, so rows read their times from the certificates) and tests/fixtures/paths
// (scripts/fixtures/paths.sh, fixed dates 2024-01-01..2049-12-31 unless a scenario says
// otherwise). No row reads the clock.

#include "pki/verify.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/file.hpp"

namespace parley::pki {
namespace {

constexpr UnixTime k2023_12_31_23_59_59 = 1704067199;  // one second before the fixed notBefore
constexpr UnixTime k2024_01_01 = 1704067200;           // paths.sh notBefore
constexpr UnixTime k2024_12_31_23_59_59 = 1735689599;  // paths.sh notAfter of the short-lived CAs
constexpr UnixTime k2025_01_01 = 1735689600;
constexpr UnixTime k2030_01_01 = 1893456000;  // when everything long-lived is valid

// A fixture by its path under tests/fixtures without ".crt", loaded once per test binary.
CertificatePtr fixture(const std::string& name) {
  static std::map<std::string, CertificatePtr> cache;
  if (const auto found = cache.find(name); found != cache.end()) return found->second;
  const auto text = read_file(std::string(PARLEY_FIXTURES_DIR) + "/" + name + ".crt");
  if (!text) {
    ADD_FAILURE() << name << ": " << text.error().message;
    return nullptr;
  }
  auto parsed = Certificate::from_pem(*text);
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << name << ": "
                  << (parsed ? "not exactly one certificate" : parsed.error().message);
    return nullptr;
  }
  return cache.emplace(name, parsed->front()).first->second;
}

// The moment to validate at: a fixed time, or an edge of a fixture's validity plus an offset.
enum class Edge { none, not_before, not_after };
struct When {
  Edge edge = Edge::none;
  const char* certificate = nullptr;
  std::int64_t seconds = k2030_01_01;  // the time itself (Edge::none) or the offset from the edge
};
constexpr When at(UnixTime t) {
  return {Edge::none, nullptr, t};
}
constexpr When from_not_before(const char* certificate, std::int64_t offset) {
  return {Edge::not_before, certificate, offset};
}
constexpr When from_not_after(const char* certificate, std::int64_t offset) {
  return {Edge::not_after, certificate, offset};
}

UnixTime resolve(const When& when) {
  if (when.edge == Edge::none) return when.seconds;
  const CertificatePtr c = fixture(when.certificate);
  if (!c) return 0;
  return (when.edge == Edge::not_before ? c->not_before() : c->not_after()) + when.seconds;
}

enum class Door { server, client };

struct VerifyCase {
  const char* name;  // letters, digits, underscores: the test's name
  const char* leaf;
  std::vector<const char*> intermediates;
  std::vector<const char*> anchors;
  std::optional<VerifyError> expected;  // nullopt: verifies
  std::optional<std::size_t>
      at_depth;  // with `expected`: a finding of that kind about this certificate
  std::vector<const char*> expected_path = {};  // with success: leaf first, anchor last
  When when = at(k2030_01_01);
  Door door = Door::server;
  const char* reference = nullptr;  // server door; nullptr: the leaf's first dNSName
  KeyPurpose purpose = KeyPurpose::server_auth;
  Profile profile = Profile::web_pki;
  std::optional<std::size_t> max_intermediates = std::nullopt;
  const char* matched = nullptr;  // with success at the server door: the identity that matched
};

std::string first_dns_name(const Certificate& leaf) {
  if (leaf.subject_alt_names()) {
    for (const auto& name : *leaf.subject_alt_names()) {
      if (name.kind == GeneralNameKind::dns_name) return name.value;
    }
  }
  ADD_FAILURE() << "leaf has no dNSName; give the row a reference";
  return "invalid.invalid";
}

std::string describe(const VerifyFailure& failure) {
  std::ostringstream out;
  out << failure.message;
  for (const auto& issue : failure.issues) {
    out << "\n  [" << issue.depth << "] " << to_string(issue.error) << ": " << issue.detail;
  }
  return out.str();
}

VerifyResult run(const VerifyCase& row) {
  const CertificatePtr leaf = fixture(row.leaf);
  std::vector<CertificatePtr> intermediates;
  for (const char* name : row.intermediates) intermediates.push_back(fixture(name));
  TrustStore anchors;
  for (const char* name : row.anchors) anchors.add(fixture(name));

  VerifyPolicy policy;
  policy.time = resolve(row.when);
  policy.purpose = row.purpose;
  policy.profile = row.profile;
  policy.max_intermediates = row.max_intermediates;

  if (row.door == Door::client)
    return verify_client_certificate(leaf, intermediates, anchors, policy);
  const std::string reference_text = row.reference != nullptr ? std::string(row.reference)
                                     : leaf                   ? first_dns_name(*leaf)
                                                              : std::string("invalid.invalid");
  const auto reference = ReferenceIdentity::parse(reference_text);
  if (!reference) {
    ADD_FAILURE() << reference_text << ": " << reference.error().message;
    return std::unexpected(VerifyFailure{});
  }
  return verify_server_certificate(leaf, intermediates, anchors, *reference, policy);
}

void expect_verdict(const VerifyCase& row, const VerifyResult& result) {
  if (!row.expected) {
    ASSERT_TRUE(result.has_value()) << describe(result.error());
    if (!row.expected_path.empty()) {
      const auto& path = result->certificates();
      ASSERT_EQ(path.size(), row.expected_path.size());
      for (std::size_t i = 0; i < path.size(); ++i) {
        const CertificatePtr want = fixture(row.expected_path[i]);
        ASSERT_TRUE(want);
        EXPECT_EQ(path[i]->sha256_fingerprint(), want->sha256_fingerprint())
            << "certificate " << i << " of the path should be " << row.expected_path[i];
      }
    }
    if (row.matched != nullptr) {
      EXPECT_EQ(result->matched_identity(), row.matched);
    }
    return;
  }
  ASSERT_FALSE(result.has_value()) << "verified, expected " << to_string(*row.expected);
  const VerifyFailure& failure = result.error();
  EXPECT_EQ(std::string(to_string(failure.error)), to_string(*row.expected)) << describe(failure);
  EXPECT_FALSE(failure.message.empty());
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

void PrintTo(const VerifyCase& row, std::ostream* out) {
  *out << row.name;
}

std::string row_name(const testing::TestParamInfo<VerifyCase>& info) {
  return info.param.name;
}

class VerifyTable : public testing::TestWithParam<VerifyCase> {};

TEST_P(VerifyTable, Verdict) {
  const VerifyCase& row = GetParam();
  expect_verdict(row, run(row));
}

// --- 1. validity: RFC 5280 6.1.3 (a)(2), both bounds inclusive --------------------------------

constexpr const char* kP256Leaf = "chains/p256/leaf";
constexpr const char* kP256Intermediate = "chains/p256/intermediate";
constexpr const char* kP256Root = "chains/p256/root";

const VerifyCase kValidity[] = {
    {.name = "p256_at_leaf_not_before",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {kP256Leaf, kP256Intermediate, kP256Root},
     .when = from_not_before(kP256Leaf, 0)},
    {.name = "p256_at_leaf_not_after",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = from_not_after(kP256Leaf, 0)},
    {.name = "p256_second_before_leaf_not_before",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::not_yet_valid,
     .at_depth = 0,
     .when = from_not_before(kP256Leaf, -1)},
    {.name = "p256_second_after_leaf_not_after",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::expired,
     .at_depth = 0,
     .when = from_not_after(kP256Leaf, 1)},
    // chains.sh makes the intermediate and root outlive the leaf, so past their end everything
    // has expired; the finding about each must still be there.
    {.name = "p256_second_after_intermediate_not_after",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::expired,
     .at_depth = 1,
     .when = from_not_after(kP256Intermediate, 1)},
    {.name = "p256_second_after_root_not_after",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::expired,
     .at_depth = 2,
     .when = from_not_after(kP256Root, 1)},
    {.name = "second_before_fixed_not_before",
     .leaf = "paths/leaf-a",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::not_yet_valid,
     .at_depth = 1,
     .when = at(k2023_12_31_23_59_59)},
    {.name = "at_fixed_not_before",
     .leaf = "paths/leaf-a",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = at(k2024_01_01)},
    // An intermediate that ends before its leaf (paths.sh: ica-short, 2024 only).
    {.name = "intermediate_at_its_not_after",
     .leaf = "paths/leaf-short",
     .intermediates = {"paths/ica-short"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = at(k2024_12_31_23_59_59)},
    {.name = "intermediate_second_after_its_not_after",
     .leaf = "paths/leaf-short",
     .intermediates = {"paths/ica-short"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::expired,
     .at_depth = 1,
     .when = at(k2025_01_01)},
    {.name = "intermediate_expired_leaf_valid",
     .leaf = "paths/leaf-short",
     .intermediates = {"paths/ica-short"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::expired,
     .at_depth = 1},
    // The anchor's validity is enforced too (trust_store.hpp).
    {.name = "root_at_its_not_after",
     .leaf = "paths/leaf-under-short",
     .intermediates = {"paths/ica-under-short"},
     .anchors = {"paths/root-short"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = at(k2024_12_31_23_59_59)},
    {.name = "root_expired",
     .leaf = "paths/leaf-under-short",
     .intermediates = {"paths/ica-under-short"},
     .anchors = {"paths/root-short"},
     .expected = VerifyError::expired,
     .at_depth = 2},
};
INSTANTIATE_TEST_SUITE_P(VerifyValidity, VerifyTable, testing::ValuesIn(kValidity), row_name);

// --- 2. pathLenConstraint (6.1.4 l, m) and the policy's maximum number of intermediates --------

const VerifyCase kPathLength[] = {
    {.name = "root_pathlen0_one_intermediate",
     .leaf = "paths/leaf-pathlen0",
     .intermediates = {"paths/ica-pathlen0"},
     .anchors = {"paths/root-pathlen0"},
     .expected = VerifyError::path_length_exceeded,
     .at_depth = 1},
    {.name = "root_pathlen1_one_intermediate",
     .leaf = "paths/leaf-pathlen1",
     .intermediates = {"paths/ica-pathlen1"},
     .anchors = {"paths/root-pathlen1"},
     .expected = std::nullopt,
     .at_depth = std::nullopt},
    {.name = "root_pathlen1_two_intermediates",
     .leaf = "paths/leaf-pathlen1-b",
     .intermediates = {"paths/ica-pathlen1-b", "paths/ica-pathlen1"},
     .anchors = {"paths/root-pathlen1"},
     .expected = VerifyError::path_length_exceeded,
     .at_depth = 1},
    // ica-pathlen1-rekey is "ICA Pathlen 1" issued by "ICA Pathlen 1": self-issued, so it does not
    // count (6.1.4 l) and one logical intermediate remains.
    {.name = "root_pathlen1_self_issued_not_counted",
     .leaf = "paths/leaf-pathlen1-rekey",
     .intermediates = {"paths/ica-pathlen1-rekey", "paths/ica-pathlen1"},
     .anchors = {"paths/root-pathlen1"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"paths/leaf-pathlen1-rekey", "paths/ica-pathlen1-rekey",
                       "paths/ica-pathlen1", "paths/root-pathlen1"}},
    // A CA certificate as the leaf: its own pathLenConstraint 0 constrains nothing (RFC 5280
    // profile; the web PKI profile refuses a CA leaf outright).
    {.name = "leaf_own_pathlen_ignored",
     .leaf = "paths/leaf-ca-pathlen0",
     .intermediates = {"paths/ica-pathlen1"},
     .anchors = {"paths/root-pathlen1"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .profile = Profile::rfc5280},
    {.name = "leaf_ca_refused_by_web_pki",
     .leaf = "paths/leaf-ca-pathlen0",
     .intermediates = {"paths/ica-pathlen1"},
     .anchors = {"paths/root-pathlen1"},
     .expected = VerifyError::profile_violation,
     .at_depth = 0},
    {.name = "max_intermediates_0_with_one",
     .leaf = "paths/leaf-a",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::path_too_long,
     .at_depth = std::nullopt,
     .max_intermediates = 0},
    {.name = "max_intermediates_1_with_one",
     .leaf = "paths/leaf-a",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .max_intermediates = 1},
    {.name = "max_intermediates_1_with_two",
     .leaf = "paths/leaf-a2",
     .intermediates = {"paths/ica-a2", "paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::path_too_long,
     .at_depth = std::nullopt,
     .max_intermediates = 1},
    {.name = "max_intermediates_2_with_two",
     .leaf = "paths/leaf-a2",
     .intermediates = {"paths/ica-a2", "paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .max_intermediates = 2},
    {.name = "max_intermediates_1_self_issued_not_counted",
     .leaf = "paths/leaf-a-rekey",
     .intermediates = {"paths/ica-a-rekey", "paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"paths/leaf-a-rekey", "paths/ica-a-rekey", "paths/ica-a", "paths/root-a"},
     .max_intermediates = 1},
    {.name = "max_intermediates_0_anchor_issues_leaf",
     .leaf = "paths/leaf-a",
     .intermediates = {},
     .anchors = {"paths/ica-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"paths/leaf-a", "paths/ica-a"},
     .max_intermediates = 0},
    {.name = "max_intermediates_0_leaf_is_anchor",
     .leaf = "paths/leaf-a",
     .intermediates = {},
     .anchors = {"paths/leaf-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .expected_path = {"paths/leaf-a"},
     .max_intermediates = 0},
};
INSTANTIATE_TEST_SUITE_P(VerifyPathLength, VerifyTable, testing::ValuesIn(kPathLength), row_name);

// --- 3. basicConstraints, keyUsage, extKeyUsage, critical extensions ---------------------------

const VerifyCase kConstraints[] = {
    {.name = "issuer_ca_false",
     .leaf = "paths/leaf-not-ca",
     .intermediates = {"paths/ica-not-ca"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::not_a_ca,
     .at_depth = 1},
    {.name = "issuer_without_basic_constraints",
     .leaf = "paths/leaf-no-bc",
     .intermediates = {"paths/ica-no-bc"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::not_a_ca,
     .at_depth = 1},
    {.name = "issuer_key_usage_without_key_cert_sign",
     .leaf = "paths/leaf-no-certsign",
     .intermediates = {"paths/ica-no-certsign"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::ca_key_usage_missing,
     .at_depth = 1},
    {.name = "leaf_client_auth_only_for_server",
     .leaf = "paths/leaf-client-only",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::extended_key_usage_mismatch,
     .at_depth = 0},
    {.name = "leaf_client_auth_only_for_client",
     .leaf = "paths/leaf-client-only",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .door = Door::client,
     .purpose = KeyPurpose::client_auth},
    {.name = "leaf_server_and_client_for_client",
     .leaf = "paths/leaf-a",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .door = Door::client,
     .purpose = KeyPurpose::client_auth},
    // A CA's extKeyUsage limits what it may issue for (Chromium, CABF).
    {.name = "issuer_eku_client_only_for_server",
     .leaf = "paths/leaf-twin",
     .intermediates = {"paths/ica-twin-wrong-eku"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::extended_key_usage_mismatch,
     .at_depth = 1},
    {.name = "issuer_eku_client_only_for_client",
     .leaf = "paths/leaf-twin",
     .intermediates = {"paths/ica-twin-wrong-eku"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .door = Door::client,
     .purpose = KeyPurpose::client_auth},
    {.name = "unknown_critical_extension_in_leaf",
     .leaf = "paths/leaf-unknown-critical-leaf",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::unknown_critical_extension,
     .at_depth = 0},
    {.name = "unknown_critical_extension_in_intermediate",
     .leaf = "paths/leaf-unknown-critical",
     .intermediates = {"paths/ica-unknown-critical"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::unknown_critical_extension,
     .at_depth = 1},
    {.name = "unknown_critical_extension_in_leaf_rfc5280",
     .leaf = "paths/leaf-unknown-critical-leaf",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::unknown_critical_extension,
     .at_depth = 0,
     .profile = Profile::rfc5280},
};
INSTANTIATE_TEST_SUITE_P(VerifyConstraints, VerifyTable, testing::ValuesIn(kConstraints), row_name);

// --- 4. name constraints, end to end (6.1.3 b, c) ------------------------------------------------

const VerifyCase kNameConstraints[] = {
    {.name = "permitted_exact",
     .leaf = "paths/leaf-name-constraints-permit-ok",
     .intermediates = {"paths/ica-name-constraints-permit"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt},
    {.name = "permitted_subdomain",
     .leaf = "paths/leaf-name-constraints-permit-sub",
     .intermediates = {"paths/ica-name-constraints-permit"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt},
    {.name = "outside_permitted",
     .leaf = "paths/leaf-name-constraints-permit-other",
     .intermediates = {"paths/ica-name-constraints-permit"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_constraint_violation,
     .at_depth = 0},
    {.name = "outside_permitted_client_door",
     .leaf = "paths/leaf-name-constraints-permit-other",
     .intermediates = {"paths/ica-name-constraints-permit"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_constraint_violation,
     .at_depth = 0,
     .door = Door::client},
    {.name = "inside_excluded",
     .leaf = "paths/leaf-name-constraints-exclude-bad",
     .intermediates = {"paths/ica-name-constraints-exclude"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_constraint_violation,
     .at_depth = 0},
    {.name = "outside_excluded",
     .leaf = "paths/leaf-name-constraints-exclude-ok",
     .intermediates = {"paths/ica-name-constraints-exclude"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt},
};
INSTANTIATE_TEST_SUITE_P(VerifyNameConstraints, VerifyTable, testing::ValuesIn(kNameConstraints),
                         row_name);

// --- 5. the identity check behind a valid chain
// ----------------------------------------------------

const VerifyCase kIdentity[] = {
    {.name = "dns_first_san",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "example.test",
     .matched = "example.test"},
    {.name = "dns_second_san",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "xmpp.example.test",
     .matched = "xmpp.example.test"},
    {.name = "dns_reference_upper_case",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "EXAMPLE.TEST"},
    {.name = "dns_mismatch",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "other.test"},
    {.name = "dns_subdomain_mismatch",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "www.example.test"},
    {.name = "ip_reference_dns_sans_only",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .when = from_not_before(kP256Leaf, 0),
     .reference = "192.0.2.1"},
    // The chain is checked before the name: an expired chain that also names someone else
    // reports the expiry.
    {.name = "chain_error_before_name",
     .leaf = kP256Leaf,
     .intermediates = {kP256Intermediate},
     .anchors = {kP256Root},
     .expected = VerifyError::expired,
     .at_depth = 0,
     .when = from_not_after(kP256Leaf, 1),
     .reference = "other.test"},
    {.name = "ip_reference_ip_san",
     .leaf = "paths/leaf-ip",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = std::nullopt,
     .at_depth = std::nullopt,
     .reference = "192.0.2.10"},
    {.name = "ip_reference_other_ip",
     .leaf = "paths/leaf-ip",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .reference = "192.0.2.11"},
    {.name = "dns_reference_ip_san_only",
     .leaf = "paths/leaf-ip",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .reference = "ip.example.test"},
    // A dNSName that spells the address is not an iPAddress.
    {.name = "ip_reference_dns_san_spelling_it",
     .leaf = "paths/leaf-dns-ip",
     .intermediates = {"paths/ica-a"},
     .anchors = {"paths/root-a"},
     .expected = VerifyError::name_mismatch,
     .at_depth = 0,
     .reference = "192.0.2.10"},
};
INSTANTIATE_TEST_SUITE_P(VerifyIdentity, VerifyTable, testing::ValuesIn(kIdentity), row_name);

// The front door refuses a missing leaf instead of crashing.
TEST(VerifyFrontDoor, NullLeaf) {
  TrustStore anchors;
  anchors.add(fixture("paths/root-a"));
  VerifyPolicy policy;
  policy.time = k2030_01_01;
  const auto reference = ReferenceIdentity::parse("a.example.test");
  ASSERT_TRUE(reference.has_value());
  const auto server = verify_server_certificate(nullptr, {}, anchors, *reference, policy);
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().error, VerifyError::no_issuer_found);
  const auto client =
      verify_client_certificate(nullptr, {fixture("paths/ica-a"), nullptr}, anchors, policy);
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().error, VerifyError::no_issuer_found);
}

}  // namespace
}  // namespace parley::pki
