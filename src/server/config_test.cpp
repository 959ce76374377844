#include "server/config.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "core/test_support.hpp"

namespace parley::server {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  Result<ServerConfig> load(const std::string& text) {
    const auto path = dir_.path() / "parleyd.toml";
    std::ofstream(path) << text;
    return load_config(path);
  }
  std::string minimal() const {
    return "[server]\ndomain = \"Example.TEST\"\n"
           "[tls]\ncertificate = \"tls/server.crt\"\nkey = \"/etc/parley/server.key\"\n"
           "[c2s]\nlisten = [\"127.0.0.1:5222\", \"[::1]:5222\"]\n"
           "[storage]\nurl = \"sqlite://data/parley.db\"\n";
  }
  test_support::TempDir dir_;
};

TEST_F(ConfigTest, MinimalConfigurationGetsSafeDefaults) {
  auto config = load(minimal());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->domain, "example.test") << "the domain is prepared (lower case)";
  EXPECT_EQ(config->certificate_file, dir_.path() / "tls/server.crt")
      << "relative paths follow the configuration file";
  EXPECT_EQ(config->key_file, "/etc/parley/server.key");
  ASSERT_EQ(config->c2s_listen.size(), 2u);
  EXPECT_EQ(config->c2s_listen[1].host, "::1");
  EXPECT_EQ(config->c2s_listen[1].to_string(), "[::1]:5222");
  EXPECT_EQ(config->storage_url, "sqlite://" + (dir_.path() / "data/parley.db").string());
  EXPECT_FALSE(config->insecure_allow_plain);
  EXPECT_FALSE(config->fips);
  EXPECT_FALSE(config->insecure_allow_certificate_name_mismatch)
      << "a certificate must name the domain unless the file says otherwise";
  EXPECT_TRUE(config->archive_enabled);
  EXPECT_TRUE(config->muc.domain.empty());
  EXPECT_EQ(config->limits.max_connections_per_ip, 64u);
}

TEST_F(ConfigTest, TheShippedSampleLoads) {
  auto config = load_config(std::string(PARLEY_FIXTURES_DIR) + "/../../dist/parleyd.toml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->domain, "example.org");
  EXPECT_EQ(config->direct_tls_listen.size(), 1u);
}

TEST_F(ConfigTest, LimitsAndMucAreRead) {
  auto config = load(minimal() +
                     "[limits]\nmax_connections_per_ip = 5\nstanza_timeout_seconds = 7\n"
                     "[muc]\ndomain = \"conference.example.test\"\nhistory_messages = 3\n"
                     "[archive]\nenabled = false\n");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->limits.max_connections_per_ip, 5u);
  EXPECT_EQ(config->limits.stanza_timeout, std::chrono::seconds(7));
  EXPECT_EQ(config->muc.domain, "conference.example.test");
  EXPECT_EQ(config->muc.history_messages, 3u);
  EXPECT_FALSE(config->archive_enabled);
}

struct BadConfig {
  const char* name;
  std::string text;
  const char* expected;  // in the error message
};

class BadConfigTest : public ConfigTest, public ::testing::WithParamInterface<BadConfig> {};

TEST_P(BadConfigTest, IsRefusedWithFileLineAndKey) {
  const auto& row = GetParam();
  auto config = load(row.text);
  ASSERT_FALSE(config) << row.name;
  EXPECT_NE(config.error().message.find("parleyd.toml"), std::string::npos)
      << config.error().message;
  EXPECT_NE(config.error().message.find(row.expected), std::string::npos) << config.error().message;
}

const std::string kBase =
    "[server]\ndomain = \"example.test\"\n[tls]\ncertificate = \"a.crt\"\nkey = \"a.key\"\n"
    "[storage]\nurl = \"sqlite:///tmp/x.db\"\n";

INSTANTIATE_TEST_SUITE_P(
    Rows, BadConfigTest,
    ::testing::Values(
        BadConfig{"typo", kBase + "[c2s]\nlisen = [\"127.0.0.1:5222\"]\n",
                  ":9: unknown setting [c2s] lisen"},
        BadConfig{"unknown table", kBase + "[c2s]\nlisten = [\"127.0.0.1:1\"]\n[s2s]\nx = 1\n",
                  "unknown setting [s2s]"},
        BadConfig{"no listener", kBase + "[c2s]\n", "at least one address"},
        BadConfig{"host name", kBase + "[c2s]\nlisten = [\"localhost:5222\"]\n",
                  "not an IPv4 address"},
        BadConfig{"no port", kBase + "[c2s]\nlisten = [\"127.0.0.1\"]\n", "has no port"},
        BadConfig{"port 0", kBase + "[c2s]\nlisten = [\"127.0.0.1:0\"]\n", "not a port number"},
        BadConfig{"bad ipv6", kBase + "[c2s]\nlisten = [\"[::g]:5222\"]\n", "not an IPv6 address"},
        BadConfig{"wrong type", kBase + "[c2s]\nlisten = \"127.0.0.1:5222\"\n", "must be a list"},
        BadConfig{"missing domain", "[tls]\ncertificate = \"a\"\nkey = \"b\"\n",
                  "[server] domain is required"},
        BadConfig{
            "zero limit",
            kBase + "[c2s]\nlisten = [\"127.0.0.1:1\"]\n[limits]\nmax_connections_per_ip = 0\n",
            "integer from 1"},
        BadConfig{"bool as string",
                  kBase + "[c2s]\nlisten = [\"127.0.0.1:1\"]\ninsecure_allow_plain = \"yes\"\n",
                  "true or false"},
        BadConfig{"bad log level",
                  kBase + "[c2s]\nlisten = [\"127.0.0.1:1\"]\n[log]\nlevel = \"loud\"\n",
                  "not one of"},
        BadConfig{"muc on the server domain",
                  kBase + "[c2s]\nlisten = [\"127.0.0.1:1\"]\n[muc]\ndomain = \"example.test\"\n",
                  "domain of its own"},
        BadConfig{"not toml", "[server\ndomain = 1\n", "parleyd.toml:1"}),
    [](const ::testing::TestParamInfo<BadConfig>& row) {
      std::string name = row.param.name;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST_F(ConfigTest, CertificateNameMismatchIsAllowedOnlyByItsInsecureKey) {
  auto config = load(
      "[server]\ndomain = \"example.test\"\n[tls]\ncertificate = \"a.crt\"\nkey = \"a.key\"\n"
      "insecure_allow_certificate_name_mismatch = true\n[c2s]\nlisten = [\"127.0.0.1:1\"]\n"
      "[storage]\nurl = \"sqlite:///tmp/x.db\"\n");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_TRUE(config->insecure_allow_certificate_name_mismatch);
}

TEST_F(ConfigTest, MissingFileNamesTheFile) {
  auto config = load_config(dir_.path() / "absent.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("absent.toml"), std::string::npos);
}

}  // namespace
}  // namespace parley::server
