// Tables for the service half of identity.hpp: which identifiers each service consults (XmppAddr,
// SRV-ID, DNS-ID, CN-ID), the CN-ID fallback modes, the otherName DER readers, IDNA references,
// and what a mismatch reports ("Prevent Identity Mismatch"). Certificate rows read the leaves
// scripts/fixtures/identity.sh makes with the openssl CLI (tests/fixtures/identity/).

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "pki/identity.hpp"

namespace parley::pki {
namespace {

const Certificate& fixture(std::string_view name) {
  static std::map<std::string, CertificatePtr, std::less<>> loaded;
  if (auto found = loaded.find(name); found != loaded.end()) return *found->second;
  const std::string path =
      std::string(PARLEY_FIXTURES_DIR) + "/identity/" + std::string(name) + ".crt";
  std::ifstream file(path, std::ios::binary);
  std::ostringstream text;
  text << file.rdbuf();
  Result<std::vector<CertificatePtr>> parsed = Certificate::from_pem(text.str());
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << path << ": " << (parsed ? "not one certificate" : parsed.error().message);
    std::abort();  // a missing fixture is a broken checkout, not a test verdict
  }
  return *loaded.emplace(std::string(name), parsed->front()).first->second;
}

// A DER string TLV (short or long length form), as certificate.cpp hands otherName values over.
std::string der(unsigned char tag, std::string_view contents) {
  std::string out(1, static_cast<char>(tag));
  const std::size_t size = contents.size();
  if (size < 0x80) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xff) {
    out += "\x81";
    out.push_back(static_cast<char>(size));
  } else {
    out += "\x82";
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xff));
  }
  out.append(contents);
  return out;
}

std::string utf8_string(std::string_view text) {
  return der(0x0c, text);
}
std::string ia5_string(std::string_view text) {
  return der(0x16, text);
}

ReferenceIdentity reference_for(ServiceKind service, std::string_view host) {
  Result<ReferenceIdentity> reference = ReferenceIdentity::parse(host, service);
  EXPECT_TRUE(reference.has_value()) << host << ": " << reference.error().message;
  return reference.value_or(ReferenceIdentity{});
}

constexpr auto kClient = ServiceKind::xmpp_client;
constexpr auto kServer = ServiceKind::xmpp_server;
constexpr auto kHttps = ServiceKind::https;
constexpr auto kNever = CnFallback::never;
constexpr auto kNoSan = CnFallback::allow_when_no_san;
constexpr auto kRfc6125 = CnFallback::allow_when_no_identifier_san;
constexpr auto kMatch = IdentityVerdict::match;
constexpr auto kMismatch = IdentityVerdict::mismatch;
constexpr auto kNone = IdentityVerdict::no_identities;
constexpr auto kNoHint = MismatchHint::none;
constexpr auto kByAddress = MismatchHint::address_for_named_server;
constexpr auto kByShortName = MismatchHint::short_name_for_named_server;

struct FixtureRow {
  std::string_view fixture;
  ServiceKind service;
  std::string_view reference;
  CnFallback cn_fallback;
  IdentityVerdict expected_verdict;
  std::string_view expected_matched;
  MismatchHint expected_hint = MismatchHint::none;
};

TEST(ServiceIdentity, FixtureTable) {
  const std::vector<FixtureRow> rows = {
      // XmppAddr: a bare domain names the server for both XMPP roles, never for HTTPS.
      {"xmpp-addr", kClient, "example.test", kRfc6125, kMatch, "example.test"},
      {"xmpp-addr", kServer, "example.test", kRfc6125, kMatch, "example.test"},
      {"xmpp-addr", kClient, "EXAMPLE.Test.", kRfc6125, kMatch, "example.test"},
      {"xmpp-addr", kClient, "other.example.test", kRfc6125, kMismatch, ""},
      {"xmpp-addr", kClient, "www.example.test", kRfc6125, kMismatch, ""},
      {"xmpp-addr", kClient, "ignored.example.test", kRfc6125, kMismatch, ""},  // CN ruled out
      {"xmpp-addr", kHttps, "example.test", kRfc6125, kNone, ""},
      {"xmpp-addr", kHttps, "ignored.example.test", kRfc6125, kNone, ""},
      {"xmpp-addr", kHttps, "ignored.example.test", kNoSan, kNone, ""},
      {"xmpp-addr", kClient, "example", kRfc6125, kMismatch, "", kByShortName},
      {"xmpp-addr", kClient, "192.0.2.10", kRfc6125, kNone, "", kByAddress},
      // A JID with a localpart or a resourcepart names an account or a session, not the server.
      {"xmpp-addr-localpart", kClient, "example.test", kRfc6125, kMismatch, ""},
      {"xmpp-addr-localpart", kServer, "example.test", kRfc6125, kMismatch, ""},
      {"xmpp-addr-localpart", kHttps, "example.test", kRfc6125, kNone, ""},
      // An XmppAddr in an IA5String is malformed: never a match, and still rules out the CN.
      {"xmpp-addr-ia5", kClient, "example.test", kRfc6125, kMismatch, ""},
      {"xmpp-addr-ia5", kHttps, "example.test", kRfc6125, kNone, ""},
      {"xmpp-addr-ia5", kHttps, "example.test", kNoSan, kNone, ""},
      // SRV-ID: the service label must be the reference's XMPP role.
      {"srv-client", kClient, "example.test", kRfc6125, kMatch, "_xmpp-client.example.test"},
      {"srv-client", kClient, "Example.TEST", kRfc6125, kMatch, "_xmpp-client.example.test"},
      {"srv-client", kServer, "example.test", kRfc6125, kMismatch, ""},
      {"srv-client", kClient, "www.example.test", kRfc6125, kMismatch, ""},
      {"srv-client", kClient, "ignored.example.test", kRfc6125, kMismatch, ""},
      {"srv-client", kHttps, "example.test", kRfc6125, kNone, ""},
      {"srv-client", kHttps, "ignored.example.test", kRfc6125, kNone, ""},  // SRV-ID rules out CN
      {"srv-server", kServer, "example.test", kRfc6125, kMatch, "_xmpp-server.example.test"},
      {"srv-server", kClient, "example.test", kRfc6125, kMismatch, ""},
      {"srv-wildcard", kClient, "foo.example.test", kRfc6125, kMismatch, ""},  // no wildcards
      // DNS-ID: every service.
      {"dns", kHttps, "example.test", kNever, kMatch, "example.test"},
      {"dns", kClient, "example.test", kNever, kMatch, "example.test"},
      {"dns", kServer, "Example.Test.", kNever, kMatch, "example.test"},
      {"dns", kHttps, "www.example.test", kNever, kMismatch, ""},
      {"dns", kHttps, "ignored.example.test", kRfc6125, kMismatch, ""},
      {"dns", kHttps, "ignored.example.test", kNoSan, kMismatch, ""},
      // Spec "Prevent Identity Mismatch": IP address or short name for a certificate with FQDNs.
      {"dns", kHttps, "192.0.2.10", kRfc6125, kNone, "", kByAddress},
      {"dns", kClient, "example", kRfc6125, kMismatch, "", kByShortName},
      {"dns", kHttps, "test", kRfc6125, kMismatch, "", kByShortName},
      // Wildcard dNSName: exactly one leftmost label, never an A-label, never the apex.
      {"wildcard-dns", kHttps, "foo.example.test", kNever, kMatch, "*.example.test"},
      {"wildcard-dns", kClient, "chat.example.test", kNever, kMatch, "*.example.test"},
      {"wildcard-dns", kHttps, "example.test", kNever, kMismatch, ""},
      {"wildcard-dns", kHttps, "a.b.example.test", kNever, kMismatch, ""},
      {"wildcard-dns", kHttps, "xn--caf-dma.example.test", kNever, kMismatch, ""},
      // CN-ID only: per CnFallback; RFC 9525 / FIPS (never) refuses it.
      {"cn-only", kHttps, "example.test", kRfc6125, kMatch, "example.test"},
      {"cn-only", kHttps, "example.test", kNoSan, kMatch, "example.test"},
      {"cn-only", kClient, "example.test", kRfc6125, kMatch, "example.test"},
      {"cn-only", kServer, "EXAMPLE.test", kRfc6125, kMatch, "example.test"},
      {"cn-only", kHttps, "example.test", kNever, kNone, ""},
      {"cn-only", kClient, "example.test", kNever, kNone, ""},
      {"cn-only", kHttps, "www.example.test", kRfc6125, kMismatch, ""},
      {"cn-only", kHttps, "192.0.2.10", kRfc6125, kNone, "", kByAddress},
      {"cn-only", kHttps, "example", kRfc6125, kMismatch, "", kByShortName},
      // CN next to a dNSName is never consulted, in any mode.
      {"cn-and-dns", kHttps, "example.test", kRfc6125, kMismatch, ""},
      {"cn-and-dns", kHttps, "example.test", kNoSan, kMismatch, ""},
      {"cn-and-dns", kClient, "example.test", kRfc6125, kMismatch, ""},
      {"cn-and-dns", kHttps, "www.example.test", kRfc6125, kMatch, "www.example.test"},
      // iPAddress SANs: only IP references compare them; they do not rule out a CN-ID under
      // RFC 6125 6.4.4, but do under the stricter "no SAN at all" mode.
      {"ip", kHttps, "192.0.2.10", kNever, kMatch, "192.0.2.10"},
      {"ip", kClient, "2001:DB8:0::10", kNever, kMatch, "2001:db8::10"},
      {"ip", kHttps, "192.0.2.11", kNever, kMismatch, ""},
      {"ip", kHttps, "example.test", kNever, kNone, ""},
      {"ip", kHttps, "example.test", kNoSan, kNone, ""},
      {"ip", kHttps, "example.test", kRfc6125, kMatch, "example.test"},
      // A-labels compare as ASCII, case-insensitively.
      {"idna", kHttps, "xn--caf-dma.example.test", kNever, kMatch, "xn--caf-dma.example.test"},
      {"idna", kHttps, "XN--CAF-DMA.Example.Test", kNever, kMatch, "xn--caf-dma.example.test"},
      {"idna", kHttps, "cafe.example.test", kNever, kMismatch, ""},
      // SAN with only an rfc822Name: the CN-ID is consulted under RFC 6125 6.4.4 only.
      {"san-email-cn", kHttps, "example.test", kRfc6125, kMatch, "example.test"},
      {"san-email-cn", kClient, "example.test", kRfc6125, kMatch, "example.test"},
      {"san-email-cn", kHttps, "example.test", kNoSan, kNone, ""},
      {"san-email-cn", kHttps, "example.test", kNever, kNone, ""},
      // SAN with only a URI: RFC 6125 6.4.4 lists URI-IDs among those that rule out a CN-ID.
      {"san-uri-cn", kHttps, "example.test", kRfc6125, kNone, ""},
      {"san-uri-cn", kClient, "example.test", kRfc6125, kNone, ""},
      // Every kind at once, each for its own host.
      {"xmpp-all", kServer, "addr.example.test", kRfc6125, kMatch, "addr.example.test"},
      {"xmpp-all", kServer, "srv.example.test", kRfc6125, kMatch, "_xmpp-server.srv.example.test"},
      {"xmpp-all", kServer, "dns.example.test", kRfc6125, kMatch, "dns.example.test"},
      {"xmpp-all", kClient, "srv.example.test", kRfc6125, kMismatch, ""},
      {"xmpp-all", kHttps, "addr.example.test", kRfc6125, kMismatch, ""},
      {"xmpp-all", kHttps, "dns.example.test", kRfc6125, kMatch, "dns.example.test"},
  };
  for (const FixtureRow& row : rows) {
    SCOPED_TRACE(std::string(row.fixture) + " " + to_string(row.service) + " " +
                 std::string(row.reference));
    const ReferenceIdentity reference = reference_for(row.service, row.reference);
    const IdentityResult result = check_identity(fixture(row.fixture), reference, row.cn_fallback);
    EXPECT_EQ(result.verdict, row.expected_verdict);
    EXPECT_EQ(result.matched, row.expected_matched);
    EXPECT_EQ(result.hint, row.expected_hint);
    EXPECT_EQ(result.ok(), row.expected_verdict == kMatch);
    // A result that is not a match always says what the certificate offers instead.
    if (!result.ok()) {
      EXPECT_EQ(result.presented,
                presented_identities(fixture(row.fixture), row.service, row.cn_fallback));
    } else {
      EXPECT_TRUE(result.presented.empty());
    }
  }
}

struct PresentedListRow {
  std::string_view fixture;
  ServiceKind service;
  CnFallback cn_fallback;
  std::vector<PresentedIdentity> expected;
};

TEST(ServiceIdentity, PresentedIdentitiesTable) {
  using K = PresentedIdentityKind;
  const std::vector<PresentedListRow> rows = {
      {"xmpp-all",
       kClient,
       kRfc6125,
       {{K::xmpp_addr, "addr.example.test"},
        {K::srv_name, "_xmpp-server.srv.example.test"},
        {K::dns_name, "dns.example.test"}}},
      {"xmpp-all", kHttps, kRfc6125, {{K::dns_name, "dns.example.test"}}},
      {"xmpp-addr-localpart",
       kServer,
       kNever,
       {{K::xmpp_addr, "admin@example.test"}, {K::xmpp_addr, "example.test/web"}}},
      {"xmpp-addr-ia5", kClient, kRfc6125, {{K::xmpp_addr, "(malformed: not a DER UTF8String)"}}},
      {"xmpp-addr-ulabel", kClient, kNever, {{K::xmpp_addr, "caf\xC3\xA9.example.test"}}},
      {"srv-wildcard", kClient, kNever, {{K::srv_name, "_xmpp-client.*.example.test"}}},
      {"cn-only", kHttps, kRfc6125, {{K::common_name, "example.test"}}},
      {"cn-only", kHttps, kNever, {}},
      {"cn-and-dns", kHttps, kRfc6125, {{K::dns_name, "www.example.test"}}},
      {"ip",
       kHttps,
       kRfc6125,
       {{K::ip_address, "192.0.2.10"},
        {K::ip_address, "2001:db8::10"},
        {K::common_name, "example.test"}}},
      {"ip", kHttps, kNoSan, {{K::ip_address, "192.0.2.10"}, {K::ip_address, "2001:db8::10"}}},
      {"san-email-cn", kHttps, kRfc6125, {{K::common_name, "example.test"}}},
      {"san-uri-cn", kHttps, kRfc6125, {}},
  };
  for (const PresentedListRow& row : rows) {
    SCOPED_TRACE(std::string(row.fixture) + " " + to_string(row.service));
    EXPECT_EQ(presented_identities(fixture(row.fixture), row.service, row.cn_fallback),
              row.expected);
  }
}

struct DerRow {
  std::string_view description;
  std::string input;
  unsigned char tag;
  std::optional<std::string> expected;
};

TEST(DerStringContents, Table) {
  const std::string s128(128, 'a');
  const std::string s256(256, 'b');
  const std::vector<DerRow> rows = {
      {"short form",
       std::string("\x0c\x03"
                   "abc"),
       0x0c, "abc"},
      {"empty string", std::string("\x0c\x00", 2), 0x0c, ""},
      {"long form, one octet", std::string("\x0c\x81\x80") + s128, 0x0c, s128},
      {"long form, two octets", std::string("\x0c\x82\x01\x00", 4) + s256, 0x0c, s256},
      {"wrong tag",
       std::string("\x16\x03"
                   "abc"),
       0x0c, std::nullopt},
      {"constructed form of the tag",
       std::string("\x2c\x03"
                   "abc"),
       0x0c, std::nullopt},
      {"empty input", std::string(), 0x0c, std::nullopt},
      {"tag only", std::string("\x0c"), 0x0c, std::nullopt},
      {"length longer than the input",
       std::string("\x0c\x04"
                   "abc"),
       0x0c, std::nullopt},
      {"length shorter than the input",
       std::string("\x0c\x02"
                   "abc"),
       0x0c, std::nullopt},
      {"trailing TLV",
       std::string("\x0c\x01"
                   "a"
                   "\x05\x00",
                   5),
       0x0c, std::nullopt},
      {"indefinite length",
       std::string("\x0c\x80"
                   "abc\x00\x00",
                   7),
       0x0c, std::nullopt},
      {"long form for a short length",
       std::string("\x0c\x81\x03"
                   "abc"),
       0x0c, std::nullopt},
      {"leading zero length octet", std::string("\x0c\x82\x00\x80", 4) + s128, 0x0c, std::nullopt},
      {"three length octets", std::string("\x0c\x83\x01\x00\x00", 5) + s256, 0x0c, std::nullopt},
      {"length octets cut short", std::string("\x0c\x82\x01"), 0x0c, std::nullopt},
  };
  for (const DerRow& row : rows) {
    SCOPED_TRACE(std::string(row.description));
    const std::optional<std::string_view> contents = der_string_contents(row.input, row.tag);
    ASSERT_EQ(contents.has_value(), row.expected.has_value());
    if (contents) {
      EXPECT_EQ(*contents, *row.expected);
    }
  }
}

struct OtherNameRow {
  std::string description;
  std::string presented_der;
  ServiceKind service;
  std::string_view reference;
  bool expected;
};

TEST(XmppAddrMatches, Table) {
  const std::vector<OtherNameRow> rows = {
      {"bare domain", utf8_string("example.com"), kClient, "example.com", true},
      {"ASCII case folds", utf8_string("Example.COM"), kClient, "example.com", true},
      {"trailing dot", utf8_string("example.com."), kServer, "example.com", true},
      {"reference with trailing dot", utf8_string("example.com"), kServer, "example.com.", true},
      {"A-label domain", utf8_string("XN--caf-dma.example"), kClient, "xn--caf-dma.example", true},
      {"other domain", utf8_string("example.org"), kClient, "example.com", false},
      {"subdomain", utf8_string("chat.example.com"), kClient, "example.com", false},
      {"localpart", utf8_string("admin@example.com"), kClient, "example.com", false},
      {"resourcepart", utf8_string("example.com/web"), kClient, "example.com", false},
      {"full JID", utf8_string("a@example.com/r"), kClient, "example.com", false},
      {"empty localpart", utf8_string("@example.com"), kClient, "example.com", false},
      {"wildcard", utf8_string("*.example.com"), kClient, "chat.example.com", false},
      {"empty", utf8_string(""), kClient, "example.com", false},
      {"embedded NUL", utf8_string(std::string_view("example.com\0.evil.com", 21)), kClient,
       "example.com", false},
      {"not UTF-8",
       utf8_string("\xff"
                   "example.com"),
       kClient, "example.com", false},
      {"overlong UTF-8 dot",
       utf8_string("example\xc0\xae"
                   "com"),
       kClient, "example.com", false},
      {"underscore", utf8_string("foo_bar.example.com"), kClient, "foobar.example.com", false},
      {"IA5String", ia5_string("example.com"), kClient, "example.com", false},
      {"PrintableString", der(0x13, "example.com"), kClient, "example.com", false},
      {"BMPString", der(0x1e, std::string("\0e\0x", 4)), kClient, "ex.com", false},
      {"bad length",
       std::string("\x0c\x20"
                   "example.com"),
       kClient, "example.com", false},
      {"IP reference", utf8_string("192.0.2.1"), kClient, "192.0.2.1", false},
  };
  for (const OtherNameRow& row : rows) {
    SCOPED_TRACE(row.description);
    EXPECT_EQ(xmpp_addr_matches(row.presented_der, reference_for(row.service, row.reference)),
              row.expected);
  }
}

TEST(SrvIdMatches, Table) {
  const std::vector<OtherNameRow> rows = {
      {"client", ia5_string("_xmpp-client.example.com"), kClient, "example.com", true},
      {"server", ia5_string("_xmpp-server.example.com"), kServer, "example.com", true},
      {"case folds", ia5_string("_XMPP-Client.Example.COM"), kClient, "example.com", true},
      {"trailing dot", ia5_string("_xmpp-client.example.com."), kClient, "example.com", true},
      {"other role", ia5_string("_xmpp-server.example.com"), kClient, "example.com", false},
      {"other role, reversed", ia5_string("_xmpp-client.example.com"), kServer, "example.com",
       false},
      {"never for HTTPS", ia5_string("_xmpp-client.example.com"), kHttps, "example.com", false},
      {"other service", ia5_string("_imap.example.com"), kClient, "example.com", false},
      {"prefix of the service", ia5_string("_xmpp.example.com"), kClient, "example.com", false},
      {"protocol label (SRV RR, not SRVName)", ia5_string("_xmpp-client._tcp.example.com"), kClient,
       "example.com", false},
      {"no underscore", ia5_string("xmpp-client.example.com"), kClient, "example.com", false},
      {"empty service", ia5_string("_.example.com"), kClient, "example.com", false},
      {"no name", ia5_string("_xmpp-client"), kClient, "example.com", false},
      {"empty name", ia5_string("_xmpp-client."), kClient, "example.com", false},
      {"wildcard name", ia5_string("_xmpp-client.*.example.com"), kClient, "chat.example.com",
       false},
      {"other domain", ia5_string("_xmpp-client.example.org"), kClient, "example.com", false},
      {"non-ASCII", ia5_string("_xmpp-client.caf\xc3\xa9.example"), kClient, "xn--caf-dma.example",
       false},
      {"UTF8String", utf8_string("_xmpp-client.example.com"), kClient, "example.com", false},
      {"IP reference", ia5_string("_xmpp-client.192.0.2.1"), kClient, "192.0.2.1", false},
  };
  for (const OtherNameRow& row : rows) {
    SCOPED_TRACE(row.description);
    EXPECT_EQ(srv_id_matches(row.presented_der, reference_for(row.service, row.reference)),
              row.expected);
  }
}

GeneralName other_name(const char* oid, std::string value) {
  return {GeneralNameKind::other_name, std::move(value), oid, {}};
}
GeneralName dns_san(std::string value) {
  return {GeneralNameKind::dns_name, std::move(value), {}, {}};
}

DistinguishedName subject_with_cn(const std::string& common_name) {
  DistinguishedName subject;
  subject.rdns.push_back({NameAttribute{kOidCommonName, common_name, common_name, 12}});
  return subject;
}

struct PlainRow {
  std::string_view description;
  bool has_subject_alt_name_extension;
  GeneralNames names;
  ServiceKind service;
  CnFallback cn_fallback;
  IdentityVerdict expected;
};

// What fixtures cannot show: SAN extensions that openssl will not write.
TEST(ServiceIdentity, CnFallbackEdgeCases) {
  const std::vector<PlainRow> rows = {
      {"SAN extension present but undecodable", true, {}, kHttps, kRfc6125, kNone},
      {"SAN extension present but undecodable, XMPP", true, {}, kClient, kRfc6125, kNone},
      {"malformed SRVName rules out CN",
       true,
       {other_name(kOidSrvName, utf8_string("_xmpp-client.example.com"))},
       kHttps,
       kRfc6125,
       kNone},
      {"unknown otherName does not rule out CN",
       true,
       {other_name("1.3.6.1.4.1.311.20.2.3", utf8_string("user@example.com"))},
       kClient,
       kRfc6125,
       kMatch},
      {"XmppAddr for the wrong host, XMPP",
       true,
       {other_name(kOidXmppAddr, utf8_string("other.example"))},
       kServer,
       kRfc6125,
       kMismatch},
      {"no SAN at all, strict", false, {}, kClient, kNever, kNone},
      {"no SAN at all, RFC 6125", false, {}, kClient, kRfc6125, kMatch},
  };
  const DistinguishedName subject = subject_with_cn("example.com");
  for (const PlainRow& row : rows) {
    SCOPED_TRACE(std::string(row.description));
    PresentedIdentities presented;
    presented.has_subject_alt_name_extension = row.has_subject_alt_name_extension;
    presented.subject_alt_names = row.names;
    presented.subject = &subject;
    const IdentityResult result = check_presented_identities(
        presented, reference_for(row.service, "example.com"), row.cn_fallback);
    EXPECT_EQ(result.verdict, row.expected);
  }
}

TEST(ServiceIdentity, PresentedTextIsSafeToPrint) {
  const GeneralNames names = {
      dns_san("a\x1b[2J.example.com"),
      dns_san("b\xc2\x9b"
              "31m.example.com"),  // U+009B, the C1 control sequence introducer
      dns_san("c\xff.example.com"),
      dns_san("d\\x41.example.com"),
      dns_san(std::string(300, 'e')),
      other_name(kOidXmppAddr, utf8_string("caf\xc3\xa9\x07.example")),
  };
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension = true;
  presented.subject_alt_names = names;
  const std::vector<PresentedIdentity> listed = presented_identities(presented, kClient, kRfc6125);
  ASSERT_EQ(listed.size(), 6u);
  EXPECT_EQ(listed[0].text, "caf\xc3\xa9\\x07.example");  // XmppAddr first
  EXPECT_EQ(listed[1].text, "a\\x1b[2J.example.com");
  EXPECT_EQ(listed[2].text, "b\\xc2\\x9b31m.example.com");
  EXPECT_EQ(listed[3].text, "c\\xff.example.com");
  EXPECT_EQ(listed[4].text, "d\\x5cx41.example.com");
  EXPECT_EQ(listed[5].text, std::string(256, 'e') + "...");
}

TEST(ServiceIdentity, DescribeMismatchNamesWhatTheCertificateCarries) {
  const ReferenceIdentity by_address = reference_for(kClient, "192.0.2.10");
  const IdentityResult address = check_identity(fixture("dns"), by_address, kRfc6125);
  const std::string text = describe_mismatch(address, by_address);
  EXPECT_NE(text.find("does not name 192.0.2.10 (xmpp-client)"), std::string::npos) << text;
  EXPECT_NE(text.find("dNSName example.test"), std::string::npos) << text;
  EXPECT_NE(text.find("IP address"), std::string::npos) << text;

  const ReferenceIdentity short_name = reference_for(kHttps, "example");
  const std::string short_text =
      describe_mismatch(check_identity(fixture("cn-only"), short_name, kRfc6125), short_name);
  EXPECT_NE(short_text.find("CN example.test"), std::string::npos) << short_text;
  EXPECT_NE(short_text.find("FQDN"), std::string::npos) << short_text;

  const ReferenceIdentity strict = reference_for(kHttps, "example.test");
  const std::string none_text =
      describe_mismatch(check_identity(fixture("cn-only"), strict, kNever), strict);
  EXPECT_NE(none_text.find("no identity of that kind"), std::string::npos) << none_text;

  EXPECT_EQ(describe_mismatch(check_identity(fixture("dns"), strict, kNever), strict), "");
}

TEST(ServiceKindText, RoundTrips) {
  for (const ServiceKind service : {kHttps, kClient, kServer}) {
    EXPECT_EQ(parse_service_kind(to_string(service)), service);
  }
  EXPECT_EQ(parse_service_kind("xmpp_client"), std::nullopt);
  EXPECT_EQ(parse_service_kind("HTTPS"), std::nullopt);
  EXPECT_EQ(parse_service_kind(""), std::nullopt);
}

TEST(ReferenceIdentityService, DefaultsToHttpsAndKeepsTheService) {
  EXPECT_EQ(ReferenceIdentity::parse("example.com")->service, kHttps);
  EXPECT_EQ(ReferenceIdentity::dns("example.com")->service, kHttps);
  EXPECT_EQ(ReferenceIdentity::ip("::1")->service, kHttps);
  EXPECT_EQ(ReferenceIdentity::parse("example.com", kClient)->service, kClient);
  EXPECT_EQ(ReferenceIdentity::parse("192.0.2.1", kServer)->service, kServer);
  EXPECT_EQ(ReferenceIdentity::dns("example.com", kServer)->service, kServer);
  EXPECT_EQ(ReferenceIdentity::ip("::1", kClient)->service, kClient);
}

struct IdnaRow {
  std::string_view input;
  std::optional<std::string_view> expected_value;  // with IDNA support; nullopt: refused
  std::string_view expected_error;                 // a phrase of the refusal
};

// U-label references: converted with libidn2 when this build has it, refused clearly otherwise.
TEST(ReferenceIdentityIdna, Table) {
  const std::vector<IdnaRow> rows = {
      {"caf\xC3\xA9.example.test", "xn--caf-dma.example.test", ""},
      {"CAF\xC3\x89.Example.TEST.", "xn--caf-dma.example.test", ""},
      {"caf\xC3\xA9.example.com", "xn--caf-dma.example.com", ""},
      {"m\xC3\xBCnchen.example", "xn--mnchen-3ya.example", ""},
      {"fa\xC3\x9F.de", "xn--fa-hia.de", ""},  // non-transitional: sharp s stays (IDNA2008)
      {"\xF0\x9F\x98\x9C.example.com", std::nullopt, "IDNA2008"},  // emoji: disallowed
      {"*.caf\xC3\xA9.test", std::nullopt, "wildcard"},
      {"foo_bar.caf\xC3\xA9.test", std::nullopt, "'_'"},
      {"caf\xC3\xA9..test", std::nullopt, "empty label"},
      {"\xff.example.com", std::nullopt, "UTF-8"},
      {"caf\xC3\xA9\xC0\xAE.test", std::nullopt, "UTF-8"},  // overlong '.'
  };
  for (const IdnaRow& row : rows) {
    SCOPED_TRACE(std::string(row.input));
    const Result<ReferenceIdentity> parsed = ReferenceIdentity::parse(row.input, kClient);
    const bool expect_ok = idna_conversion_available() && row.expected_value.has_value();
    ASSERT_EQ(parsed.has_value(), expect_ok) << (parsed ? parsed->value : parsed.error().message);
    if (parsed) {
      EXPECT_EQ(parsed->value, *row.expected_value);
      EXPECT_EQ(parsed->display, row.input);
      EXPECT_EQ(parsed->kind, IdentityKind::dns_name);
      continue;
    }
    EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_argument);
    // Without IDNA support every U-label is refused for that reason, except text that is not
    // UTF-8 at all, which is refused before anything looks for a converter.
    const std::string_view phrase = idna_conversion_available() || row.expected_error == "UTF-8"
                                        ? row.expected_error
                                        : "libidn2";
    EXPECT_NE(parsed.error().message.find(phrase), std::string::npos) << parsed.error().message;
  }
}

TEST(ReferenceIdentityIdna, ULabelReferenceMatchesALabelCertificates) {
  const Result<ReferenceIdentity> reference =
      ReferenceIdentity::parse("caf\xC3\xA9.example.test", kClient);
  if (!idna_conversion_available()) {
    ASSERT_FALSE(reference.has_value());
    EXPECT_NE(reference.error().message.find("libidn2"), std::string::npos);
    // Without IDNA support a U-label XmppAddr never matches, not even its own A-labels.
    EXPECT_FALSE(check_identity(fixture("xmpp-addr-ulabel"),
                                reference_for(kClient, "xn--caf-dma.example.test"), kNever)
                     .ok());
    return;
  }
  ASSERT_TRUE(reference.has_value()) << reference.error().message;
  const IdentityResult by_dns = check_identity(fixture("idna"), *reference, kNever);
  EXPECT_TRUE(by_dns.ok());
  EXPECT_EQ(by_dns.matched, "xn--caf-dma.example.test");
  // RFC 7622 3.2: an XmppAddr domainpart in U-labels compares by its A-labels.
  const IdentityResult by_addr = check_identity(fixture("xmpp-addr-ulabel"), *reference, kNever);
  EXPECT_TRUE(by_addr.ok());
  EXPECT_EQ(by_addr.matched, "caf\xC3\xA9.example.test");
  EXPECT_TRUE(check_identity(fixture("xmpp-addr-ulabel"),
                             reference_for(kClient, "xn--caf-dma.example.test"), kNever)
                  .ok());
}

}  // namespace
}  // namespace parley::pki
