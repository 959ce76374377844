// Tables for tls/policy: what validate() lets through (only narrowing of the allowlists) and what
// FIPS mode does when the FIPS provider is missing (Debian 12 ships none: fail closed).

#include "tls/policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>

#include "tls/context.hpp"

namespace parley::tls {
namespace {

struct PolicyCase {
  const char* name;
  std::function<void(TlsPolicy&)> change;
  const char* error;  // substring of the message; nullptr: valid
};

class PolicyTable : public testing::TestWithParam<PolicyCase> {};

TEST_P(PolicyTable, Validates) {
  const auto& c = GetParam();
  TlsPolicy policy = TlsPolicy::standard();
  c.change(policy);
  auto result = validate(policy);
  if (c.error == nullptr) {
    EXPECT_TRUE(result.has_value()) << result.error().message;
  } else {
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().message.find(c.error), std::string::npos) << result.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tls, PolicyTable,
    testing::Values(
        PolicyCase{"standard", [](TlsPolicy&) {}, nullptr},
        PolicyCase{"tls13_only",
                   [](TlsPolicy& p) {
                     p.min_version = TlsVersion::tls1_3;
                     p.tls12_suites.clear();
                   },
                   nullptr},
        PolicyCase{"tls12_only", [](TlsPolicy& p) { p.max_version = TlsVersion::tls1_2; }, nullptr},
        PolicyCase{"reordered_groups",
                   [](TlsPolicy& p) {
                     p.groups = {"P-384", "P-256"};
                   },
                   nullptr},
        PolicyCase{"cbc_suite",
                   [](TlsPolicy& p) { p.tls12_suites.push_back("ECDHE-RSA-AES256-SHA384"); },
                   "ECDHE-RSA-AES256-SHA384"},
        PolicyCase{"rsa_key_exchange", [](TlsPolicy& p) { p.tls12_suites = {"AES256-GCM-SHA384"}; },
                   "AES256-GCM-SHA384"},
        PolicyCase{"finite_field_dhe",
                   [](TlsPolicy& p) { p.tls12_suites = {"DHE-RSA-AES256-GCM-SHA384"}; }, "DHE-RSA"},
        PolicyCase{"openssl_keyword", [](TlsPolicy& p) { p.tls12_suites = {"DEFAULT"}; },
                   "DEFAULT"},
        PolicyCase{"tls13_ccm",
                   [](TlsPolicy& p) { p.tls13_suites.push_back("TLS_AES_128_CCM_8_SHA256"); },
                   "CCM_8"},
        PolicyCase{"p521_group", [](TlsPolicy& p) { p.groups.push_back("P-521"); }, "P-521"},
        PolicyCase{"ffdhe_group", [](TlsPolicy& p) { p.groups = {"ffdhe2048"}; }, "ffdhe2048"},
        PolicyCase{"duplicate_group",
                   [](TlsPolicy& p) {
                     p.groups = {"P-256", "P-256"};
                   },
                   "twice"},
        PolicyCase{"no_groups", [](TlsPolicy& p) { p.groups.clear(); }, "no key exchange group"},
        PolicyCase{"no_tls13_suites", [](TlsPolicy& p) { p.tls13_suites.clear(); },
                   "no TLS 1.3 suite"},
        PolicyCase{"no_tls12_suites", [](TlsPolicy& p) { p.tls12_suites.clear(); },
                   "no TLS 1.2 suite"},
        PolicyCase{"min_above_max",
                   [](TlsPolicy& p) {
                     p.min_version = TlsVersion::tls1_3;
                     p.max_version = TlsVersion::tls1_2;
                   },
                   "above the maximum"},
        PolicyCase{"fips_chacha", [](TlsPolicy& p) { p.fips = FipsMode::on; }, "not FIPS-approved"},
        PolicyCase{"fips_x25519",
                   [](TlsPolicy& p) {
                     p = TlsPolicy::fips_140();
                     p.groups.push_back("X25519");
                   },
                   "X25519"},
        PolicyCase{"fips_subset", [](TlsPolicy& p) { p = TlsPolicy::fips_140(); }, nullptr},
        PolicyCase{"chain_bound_too_small", [](TlsPolicy& p) { p.max_peer_chain_bytes = 100; },
                   "max_peer_chain_bytes"}),
    [](const testing::TestParamInfo<PolicyCase>& row) { return std::string(row.param.name); });

TEST(TlsPolicy, StandardPrefersAes256) {
  const TlsPolicy policy = TlsPolicy::standard();
  EXPECT_EQ(policy.tls13_suites.front(), "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(policy.tls12_suites.front(), "ECDHE-ECDSA-AES256-GCM-SHA384");
  EXPECT_EQ(policy.min_version, TlsVersion::tls1_2);
  EXPECT_EQ(policy.fips, FipsMode::off);
}

TEST(TlsPolicy, FipsSubsetHasOnlyAesGcmAndNistCurves) {
  const TlsPolicy policy = TlsPolicy::fips_140();
  EXPECT_EQ(policy.fips, FipsMode::on);
  for (const auto& s : policy.tls13_suites) EXPECT_NE(s.find("GCM"), std::string::npos) << s;
  for (const auto& s : policy.tls12_suites) EXPECT_NE(s.find("GCM"), std::string::npos) << s;
  EXPECT_EQ(policy.groups, (std::vector<std::string>{"P-256", "P-384"}));
}

// Debian 12 ships no FIPS module: FIPS mode must refuse to build contexts, never fall back.
TEST(TlsPolicy, FipsModeFailsClosedWithoutProvider) {
  if (fips_provider_available()) GTEST_SKIP() << "a FIPS provider is installed here";
  auto probe = fips_provider_available();
  EXPECT_EQ(probe.error().message.rfind("FIPS provider not available", 0), 0u)
      << probe.error().message;

  ClientOptions client;
  client.policy = TlsPolicy::fips_140();
  auto client_context = ClientContext::create(client);
  ASSERT_FALSE(client_context.has_value());
  EXPECT_NE(client_context.error().message.find("FIPS provider not available"), std::string::npos);

  ServerOptions server;
  server.chain_file = std::string(PARLEY_FIXTURES_DIR) + "/chains/p256/chain.pem";
  server.key_file = std::string(PARLEY_FIXTURES_DIR) + "/chains/p256/leaf.key";
  server.policy = TlsPolicy::fips_140();
  auto server_context = ServerContext::create(server);
  ASSERT_FALSE(server_context.has_value());
  EXPECT_NE(server_context.error().message.find("FIPS provider not available"), std::string::npos);
}

}  // namespace
}  // namespace parley::tls
