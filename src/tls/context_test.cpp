// Table for tls/context: which server certificates and keys parleyd serves, and the message for
// each one it refuses (fixtures: scripts/fixtures/tls.sh and scripts/fixtures/chains.sh).

#include "tls/context.hpp"

#include <gtest/gtest.h>

#include <string>

namespace parley::tls {
namespace {

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

struct ServerCase {
  const char* name;
  const char* chain;
  const char* key;
  const char* error;  // substrings the message must hold; nullptr: served
  const char* names_file;
};

class ServerCertificateTable : public testing::TestWithParam<ServerCase> {};

TEST_P(ServerCertificateTable, ServesOrRefuses) {
  const auto& c = GetParam();
  ServerOptions options;
  options.chain_file = fixture(c.chain);
  options.key_file = fixture(c.key);
  auto context = ServerContext::create(options);
  if (c.error == nullptr) {
    ASSERT_TRUE(context.has_value()) << context.error().message;
    EXPECT_FALSE((*context)->chain().empty());
    return;
  }
  ASSERT_FALSE(context.has_value());
  EXPECT_NE(context.error().message.find(c.error), std::string::npos) << context.error().message;
  EXPECT_NE(context.error().message.find(c.names_file), std::string::npos)
      << context.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Tls, ServerCertificateTable,
    testing::Values(ServerCase{"p256_chain", "chains/p256/chain.pem", "chains/p256/leaf.key",
                               nullptr, ""},
                    ServerCase{"rsa2048_chain", "chains/rsa2048/chain.pem",
                               "chains/rsa2048/leaf.key", nullptr, ""},
                    ServerCase{"p384", "tls/good-p384.crt", "tls/good-p384.key", nullptr, ""},
                    ServerCase{"rsa1024", "tls/weak-rsa1024.crt", "tls/weak-rsa1024.key",
                               "RSA key of 1024 bits", "weak-rsa1024.crt"},
                    ServerCase{"p521", "tls/p521.crt", "tls/p521.key", "curve P-521", "p521.crt"},
                    ServerCase{"ed25519", "tls/ed25519.crt", "tls/ed25519.key",
                               "key type not served", "ed25519.crt"},
                    ServerCase{"mismatched_key", "tls/mismatched.crt", "tls/mismatched.key",
                               "does not match", "mismatched.key"},
                    ServerCase{"key_of_other_chain", "chains/p256/chain.pem",
                               "chains/rsa2048/leaf.key", "does not match", "rsa2048/leaf.key"},
                    ServerCase{"expired", "tls/expired.crt", "tls/expired.key",
                               "expired on 2021-01-01", "expired.crt"},
                    ServerCase{"missing_chain", "tls/no-such.crt", "tls/expired.key", "no-such.crt",
                               "no-such.crt"},
                    ServerCase{"key_is_a_certificate", "tls/good-p384.crt", "tls/good-p384.crt",
                               "not an unencrypted PEM private key", "good-p384.crt"}),
    [](const testing::TestParamInfo<ServerCase>& row) { return std::string(row.param.name); });

TEST(TlsServerContext, StapleIsBounded) {
  ServerOptions options;
  options.chain_file = fixture("chains/p256/chain.pem");
  options.key_file = fixture("chains/p256/leaf.key");
  options.ocsp_staple = std::string(kMaxOcspStapleBytes + 1, 'x');
  auto refused = ServerContext::create(options);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::limit);

  options.ocsp_staple.reset();
  auto context = ServerContext::create(options);
  ASSERT_TRUE(context.has_value()) << context.error().message;
  EXPECT_FALSE((*context)->set_ocsp_staple(std::string()).has_value());
  EXPECT_TRUE((*context)->set_ocsp_staple(std::string("\x30\x03\x0a\x01\x00", 5)).has_value());
}

TEST(TlsContext, AlpnNamesAreChecked) {
  ClientOptions options;
  options.alpn = {""};
  EXPECT_FALSE(ClientContext::create(options).has_value());
  options.alpn = {std::string(256, 'a')};
  EXPECT_FALSE(ClientContext::create(options).has_value());
  options.alpn = {"xmpp-client"};
  EXPECT_TRUE(ClientContext::create(options).has_value());
}

TEST(TlsContext, WeakenedPolicyIsRefused) {
  ClientOptions options;
  options.policy.tls12_suites = {"ECDHE-RSA-AES128-SHA"};
  auto context = ClientContext::create(options);
  ASSERT_FALSE(context.has_value());
  EXPECT_NE(context.error().message.find("ECDHE-RSA-AES128-SHA"), std::string::npos);
}

}  // namespace
}  // namespace parley::tls
