// Tables for inspect.hpp: what a report says about fixtures made with the openssl CLI
// (tests/fixtures/lint, identity, chains, revocation, selfsigned): identities per service and the
// CN verdict, revocation URLs the client can or cannot use, signer, CA flag, validity, key.

#include "pki/inspect.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace parley::pki {
namespace {

std::string fixture_bytes(const std::string& relative) {
  const std::string path = std::string(PARLEY_FIXTURES_DIR) + "/" + relative;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ADD_FAILURE() << path << ": missing fixture";
    std::abort();  // a missing fixture is a broken checkout, not a test verdict
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

constexpr UnixTime kNow = 1893456000;  // 2030-01-01T00:00:00Z, inside every fixture's validity

InspectReport inspect(const std::string& relative, ServiceKind service, UnixTime now = kNow) {
  auto report = inspect_bytes(fixture_bytes(relative), InspectOptions{service, now});
  if (!report) {
    ADD_FAILURE() << relative << ": " << report.error().message;
    return {};
  }
  return *report;
}

std::vector<std::string> identity_texts(const InspectReport& report) {
  std::vector<std::string> out;
  for (const auto& identity : report.identities) {
    out.push_back(std::string(to_string(identity.kind)) + ":" + identity.text);
  }
  return out;
}

struct IdentityCase {
  const char* fixture;
  ServiceKind service;
  std::vector<std::string> identities;
  bool common_name_ignored;
  std::vector<std::string> wildcards;
};

class InspectIdentities : public ::testing::TestWithParam<IdentityCase> {};

TEST_P(InspectIdentities, AsTheClientMatchesThem) {
  const IdentityCase& row = GetParam();
  const InspectReport report = inspect(row.fixture, row.service);
  EXPECT_EQ(identity_texts(report), row.identities) << row.fixture;
  EXPECT_EQ(report.common_name_ignored, row.common_name_ignored)
      << row.fixture << ": " << report.common_name_note;
  EXPECT_EQ(report.wildcard_identities, row.wildcards) << row.fixture;
}

constexpr auto kXmpp = ServiceKind::xmpp_client;
constexpr auto kHttps = ServiceKind::https;

INSTANTIATE_TEST_SUITE_P(
    Inspect, InspectIdentities,
    ::testing::Values(
        IdentityCase{"identity/cn-only.crt", kXmpp, {"CN:example.test"}, false, {}},
        IdentityCase{"identity/cn-and-dns.crt", kHttps, {"dNSName:www.example.test"}, true, {}},
        IdentityCase{"identity/xmpp-addr.crt", kXmpp, {"XmppAddr:example.test"}, true, {}},
        // An https client never looks at XmppAddr, yet its presence still switches the CN off.
        IdentityCase{"identity/xmpp-addr.crt", kHttps, {}, true, {}},
        IdentityCase{"identity/wildcard-dns.crt",
                     kHttps,
                     {"dNSName:*.example.test"},
                     true,
                     {"*.example.test"}},
        IdentityCase{"identity/ip.crt",
                     kHttps,
                     {"iPAddress:192.0.2.10", "iPAddress:2001:db8::10", "CN:example.test"},
                     false,
                     {}},
        IdentityCase{"chains/rsa2048/leaf.crt",
                     kXmpp,
                     {"XmppAddr:example.test", "SRVName:_xmpp-client.example.test",
                      "dNSName:example.test", "dNSName:xmpp.example.test"},
                     true,
                     {}},
        IdentityCase{"lint/cdp-http.crt",
                     kHttps,
                     {"dNSName:xmpp.example.test", "dNSName:*.example.test"},
                     true,
                     {"*.example.test"}},
        // Requests: the same rules, applied to what the CA is asked to sign.
        IdentityCase{"lint/no-san.csr", kXmpp, {"CN:xmpp.example.test"}, false, {}},
        IdentityCase{"lint/cn-not-in-san.csr", kXmpp, {"dNSName:xmpp.example.test"}, true, {}},
        IdentityCase{"lint/der.csr",
                     kHttps,
                     {"dNSName:xmpp.example.test", "dNSName:example.test"},
                     true,
                     {}}));

struct RevocationCase {
  const char* fixture;
  std::vector<std::pair<std::string, bool>> urls;  // (source: url, client can fetch)
  bool checkable;
};

class InspectRevocation : public ::testing::TestWithParam<RevocationCase> {};

TEST_P(InspectRevocation, SaysWhetherTheClientCanCheck) {
  const RevocationCase& row = GetParam();
  const InspectReport report = inspect(row.fixture, kXmpp);
  std::vector<std::pair<std::string, bool>> urls;
  for (const auto& url : report.revocation_urls) {
    urls.emplace_back(std::string(to_string(url.source)) + " " + url.url, url.client_can_fetch);
    if (!url.client_can_fetch) {
      EXPECT_FALSE(url.note.empty()) << url.url;
    }
  }
  EXPECT_EQ(urls, row.urls) << row.fixture;
  EXPECT_EQ(report.revocation_checkable, row.checkable) << row.fixture;
  EXPECT_FALSE(report.revocation_note.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Inspect, InspectRevocation,
    ::testing::Values(
        RevocationCase{"revocation/good.crt",
                       {{"CDP http://127.0.0.1:18889/ca.crl", true},
                        {"AIA OCSP http://127.0.0.1:18888", true}},
                       true},
        RevocationCase{"revocation/no-revocation-info.crt", {}, false},
        RevocationCase{
            "lint/cdp-ldap.crt",
            {{"CDP ldap://ldap.example.test/cn=Example%20CA?certificateRevocationList", false},
             {"AIA OCSP https://ocsp.example.test/", false}},
            false},
        RevocationCase{"lint/cdp-http.crt",
                       {{"CDP http://crl.example.test/example.crl", true},
                        {"AIA OCSP http://ocsp.example.test/", true},
                        {"AIA caIssuers http://crl.example.test/ca.crt", true}},
                       true}));

struct UrlCase {
  const char* url;
  bool fetchable;
};

class RevocationUrls : public ::testing::TestWithParam<UrlCase> {};

TEST_P(RevocationUrls, OnlyHttpWithAHost) {
  std::string why;
  EXPECT_EQ(is_fetchable_revocation_url(GetParam().url, &why), GetParam().fetchable)
      << GetParam().url;
  EXPECT_EQ(why.empty(), GetParam().fetchable) << why;
}

INSTANTIATE_TEST_SUITE_P(
    Inspect, RevocationUrls,
    ::testing::Values(
        UrlCase{"http://crl.example.test/ca.crl", true}, UrlCase{"HTTP://crl.example.test", true},
        UrlCase{"http://[2001:db8::1]:8080/ocsp", true}, UrlCase{"http://user@host/x", true},
        UrlCase{"https://crl.example.test/ca.crl", false},
        UrlCase{"ldap:///CN=CA,CN=CDP,DC=example,DC=test?certificateRevocationList", false},
        UrlCase{"file:///etc/ca.crl", false}, UrlCase{"http://", false},
        UrlCase{"http:///path", false}, UrlCase{"http://:80/x", false},
        UrlCase{"crl.example.test/ca.crl", false}, UrlCase{"http://host/a b", false},
        UrlCase{"", false}));

TEST(Inspect, SelfSignedLeafIsSaidToBePrompted) {
  const InspectReport report = inspect("selfsigned/example.test.crt", kXmpp);
  EXPECT_EQ(report.signer, Signer::self_signed);
  EXPECT_FALSE(report.is_ca);
  EXPECT_NE(report.revocation_note.find("prompted"), std::string::npos) << report.revocation_note;
}

TEST(Inspect, CaSignedLeafAndSelfSignedCa) {
  const InspectReport leaf = inspect("chains/p256/leaf.crt", kXmpp);
  EXPECT_EQ(leaf.signer, Signer::ca_signed);
  EXPECT_FALSE(leaf.is_ca);
  EXPECT_EQ(leaf.key_description, "EC P-256");
  EXPECT_TRUE(leaf.key_acceptable);
  EXPECT_EQ(leaf.signature_algorithm, "ecdsa-with-SHA256");
  EXPECT_TRUE(leaf.signature_algorithm_acceptable);
  ASSERT_TRUE(leaf.extended_key_usage.has_value());
  EXPECT_EQ(*leaf.extended_key_usage, (std::vector<std::string>{"serverAuth", "clientAuth"}));
  EXPECT_EQ(leaf.sha256_fingerprint.size(), 32u);
  EXPECT_EQ(leaf.sha1_fingerprint.size(), 20u);

  const InspectReport ca = inspect("lint/ca.crt", kXmpp);
  EXPECT_EQ(ca.signer, Signer::self_signed);
  EXPECT_TRUE(ca.is_ca);
  EXPECT_FALSE(ca.extended_key_usage.has_value());
  // No SAN: the CN is what a client would compare, host name or not.
  ASSERT_EQ(ca.identities.size(), 1u);
  EXPECT_EQ(ca.identities[0].text, "Example Lab CA");
}

TEST(Inspect, ValidityAgainstNow) {
  const std::string file = "revocation/good.crt";  // 2024-01-01 .. 2049-12-31
  EXPECT_EQ(inspect(file, kXmpp, 1700000000).validity, ValidityState::not_yet_valid);
  EXPECT_EQ(inspect(file, kXmpp, kNow).validity, ValidityState::valid);
  EXPECT_EQ(inspect(file, kXmpp, 2600000000).validity, ValidityState::expired);
}

TEST(Inspect, RequestsReportKeyAndSignatureOnly) {
  const InspectReport weak = inspect("lint/rsa1024.csr", kXmpp);
  EXPECT_EQ(weak.kind, InspectedKind::request);
  EXPECT_EQ(weak.key_description, "RSA 1024 bits");
  EXPECT_FALSE(weak.key_acceptable);
  EXPECT_FALSE(weak.key_problem.empty());
  EXPECT_TRUE(weak.request_signature_valid);
  EXPECT_TRUE(weak.revocation_urls.empty());

  const InspectReport corrupted = inspect("lint/corrupted.csr", kXmpp);
  EXPECT_FALSE(corrupted.request_signature_valid);
  const InspectReport sha1 = inspect("lint/sha1.csr", kXmpp);
  EXPECT_EQ(sha1.signature_algorithm, "sha1WithRSAEncryption");
  EXPECT_FALSE(sha1.signature_algorithm_acceptable);
}

TEST(Inspect, RefusesWhatIsNeitherCertificateNorRequest) {
  for (const std::string& contents :
       {std::string(), std::string("hello"), std::string("\x30\x03\x02\x01\x00", 5),
        fixture_bytes("lint/truncated.csr")}) {
    const auto report = inspect_bytes(contents, InspectOptions{kXmpp, kNow});
    EXPECT_FALSE(report.has_value());
    if (!report) {
      EXPECT_FALSE(report.error().message.empty());
    }
  }
}

}  // namespace
}  // namespace parley::pki
