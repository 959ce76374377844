// Tables for certificate_check.hpp: which leaves parleyd serves for which domains, over the
// fixtures scripts/fixtures/chains.sh and identity.sh make with the openssl CLI.
#include "server/certificate_check.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace parley::server {
namespace {

constexpr pki::UnixTime kDay = 24 * 60 * 60;

const pki::Certificate& fixture(const std::string& name) {
  static std::map<std::string, pki::CertificatePtr, std::less<>> loaded;
  if (auto found = loaded.find(name); found != loaded.end()) return *found->second;
  const std::string path = std::string(PARLEY_FIXTURES_DIR) + "/" + name;
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  auto parsed = pki::Certificate::from_pem(text.str());
  if (!parsed || parsed->empty()) {
    ADD_FAILURE() << path << ": " << (parsed ? "no certificate" : parsed.error().message);
    std::abort();  // a missing fixture is a broken checkout, not a test verdict
  }
  return *loaded.emplace(name, parsed->front()).first->second;
}

ServerConfig config_for(const std::string& certificate, std::string domain,
                        std::string muc_domain = {}, bool fips = false) {
  ServerConfig config;
  config.certificate_file = "/etc/parley/" + certificate;
  config.domain = std::move(domain);
  config.muc.domain = std::move(muc_domain);
  config.fips = fips;
  return config;
}

struct DomainCase {
  const char* name;
  const char* certificate;  // under tests/fixtures
  const char* domain;
  const char* muc_domain;
  bool fips;
  bool refused;
  int warnings;
  std::vector<std::string> mentioned;  // in the refusal, or else in the warnings
};

const DomainCase kDomainCases[] = {
    {"the test chain's leaf names example.test",
     "chains/p256/leaf.crt",
     "example.test",
     "",
     false,
     false,
     0,
     {}},
    {"the test chain's leaf for another domain: refused, with what it does name",
     "chains/p256/leaf.crt",
     "other.test",
     "",
     false,
     true,
     0,
     {"/etc/parley/chains/p256/leaf.crt", "other.test", "dNSName example.test",
      "XmppAddr example.test", "SRVName _xmpp-client.example.test"}},
    {"XmppAddr alone", "identity/xmpp-addr.crt", "example.test", "", false, false, 0, {}},
    {"SRV-ID for client-to-server",
     "identity/srv-client.crt",
     "example.test",
     "",
     false,
     false,
     0,
     {}},
    {"SRV-ID for server-to-server only: not a c2s identity",
     "identity/srv-server.crt",
     "example.test",
     "",
     false,
     true,
     0,
     {"SRVName _xmpp-server.example.test"}},
    {"DNS-ID", "identity/dns.crt", "example.test", "", false, false, 0, {}},
    {"a wildcard names one label below, never the domain itself",
     "identity/wildcard-dns.crt",
     "example.test",
     "",
     false,
     true,
     0,
     {"dNSName *.example.test"}},
    {"a wildcard for a host below it",
     "identity/wildcard-dns.crt",
     "chat.example.test",
     "",
     false,
     false,
     0,
     {}},
    {"CN only: served, with a warning (RFC 9525 clients refuse it)",
     "identity/cn-only.crt",
     "example.test",
     "",
     false,
     false,
     1,
     {"subject CN", "RFC 9525"}},
    {"CN only in FIPS mode: refused, as a FIPS-mode client would",
     "identity/cn-only.crt",
     "example.test",
     "",
     true,
     true,
     0,
     {"example.test"}},
    {"a DNS-ID for another host turns the CN off",
     "identity/cn-and-dns.crt",
     "example.test",
     "",
     false,
     true,
     0,
     {"dNSName www.example.test"}},
    {"a MUC domain the certificate does not name: a warning only (no server-to-server yet)",
     "chains/p256/leaf.crt",
     "example.test",
     "conference.example.test",
     false,
     false,
     1,
     {"[muc] domain conference.example.test", "dNSName example.test"}},
    {"a MUC domain under the certificate's wildcard",
     "identity/wildcard-dns.crt",
     "chat.example.test",
     "conference.example.test",
     false,
     false,
     0,
     {}},
    {"both missing: the domain refuses, the MUC domain warns",
     "identity/dns.crt",
     "other.test",
     "conference.other.test",
     false,
     true,
     1,
     {"[server] domain other.test"}},
};

TEST(CertificateCheck, DomainsAgainstTheLeaf) {
  for (const DomainCase& c : kDomainCases) {
    SCOPED_TRACE(c.name);
    const pki::Certificate& leaf = fixture(c.certificate);
    // A year before expiry: no expiry warning gets in the way.
    const CertificateCheck check =
        check_served_certificate(leaf, config_for(c.certificate, c.domain, c.muc_domain, c.fips),
                                 leaf.not_after() - 365 * kDay);
    EXPECT_EQ(check.refused(), c.refused) << check.refusal_text();
    EXPECT_EQ(static_cast<int>(check.warnings().size()), c.warnings);
    std::string text = check.refusal_text();
    for (const auto& warning : check.warnings()) text += "\n" + warning;
    for (const auto& needle : c.mentioned)
      EXPECT_NE(text.find(needle), std::string::npos) << "no \"" << needle << "\" in: " << text;
  }
}

TEST(CertificateCheck, NameMismatchIsOnlyAWarningWhenExplicitlyAllowed) {
  const pki::Certificate& leaf = fixture("chains/p256/leaf.crt");
  ServerConfig config = config_for("chains/p256/leaf.crt", "other.test");
  config.insecure_allow_certificate_name_mismatch = true;
  const CertificateCheck check =
      check_served_certificate(leaf, config, leaf.not_after() - 365 * kDay);
  EXPECT_FALSE(check.refused()) << check.refusal_text();
  ASSERT_EQ(check.warnings().size(), 1u);
  EXPECT_NE(check.warnings()[0].find("insecure_allow_certificate_name_mismatch"),
            std::string::npos);
  EXPECT_NE(check.warnings()[0].find("dNSName example.test"), std::string::npos)
      << check.warnings()[0];
}

TEST(CertificateCheck, WarnsThirtyDaysBeforeExpiry) {
  const pki::Certificate& leaf = fixture("chains/p256/leaf.crt");
  const ServerConfig config = config_for("chains/p256/leaf.crt", "example.test");
  struct {
    pki::UnixTime before_expiry;
    bool warned;
  } const cases[] = {
      {31 * kDay, false},    {30 * kDay, false},  // exactly the period: not yet
      {30 * kDay - 1, true}, {10 * kDay, true},  {1, true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.before_expiry);
    const CertificateCheck check =
        check_served_certificate(leaf, config, leaf.not_after() - c.before_expiry);
    EXPECT_FALSE(check.refused()) << "a warning, never a refusal: " << check.refusal_text();
    ASSERT_EQ(check.warnings().size(), c.warned ? 1u : 0u);
    if (c.warned) {
      EXPECT_NE(check.warnings()[0].find("expires on"), std::string::npos) << check.warnings()[0];
      EXPECT_NE(check.warnings()[0].find("/etc/parley/chains/p256/leaf.crt"), std::string::npos);
    }
  }
  const CertificateCheck ten_days =
      check_served_certificate(leaf, config, leaf.not_after() - 10 * kDay);
  EXPECT_NE(ten_days.warnings().at(0).find("in 10 days"), std::string::npos)
      << ten_days.warnings()[0];
}

}  // namespace
}  // namespace parley::server
