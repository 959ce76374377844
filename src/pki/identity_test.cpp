// Tables for identity.hpp: each row is one input and the answer RFC 6125/9525, RFC 5280 4.2.1.6
// and the CA/B Forum Baseline Requirements give for it. Rows marked "limbo" mirror an x509-limbo
// case of the same name.

#include "pki/identity.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::pki {
namespace {

// Octets as lowercase hex, so that address rows read as text.
std::string hex(std::string_view octets) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : octets) {
    out.push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

struct DnsMatchRow {
  std::string_view presented;
  std::string_view reference;
  bool expected;
};

TEST(DnsIdMatches, Table) {
  const std::vector<DnsMatchRow> rows = {
      // Exact names (limbo webpki::san::exact-dns-san, mismatch-*).
      {"example.com", "example.com", true},
      {"example.com", "example2.com", false},
      {"abc.example.com", "def.example.com", false},
      {"example.com", "abc.example.com", false},
      {"abc.example.com", "example.com", false},
      {"localhost", "localhost", true},
      // ASCII case folds on both sides.
      {"EXAMPLE.com", "example.com", true},
      {"example.com", "ExAmPlE.CoM", true},
      {"XN--N3H.COM", "xn--n3h.com", true},
      // One trailing dot on either side is ignored; two are not a name.
      {"example.com.", "example.com", true},
      {"example.com", "example.com.", true},
      {"example.com.", "example.com.", true},
      {"example.com..", "example.com", false},
      {"example.com", "example.com..", false},
      {".example.com", "example.com", false},
      {"", "example.com", false},
      {"example.com", "", false},
      {".", "example.com", false},
      // Wildcard as the entire leftmost label stands for exactly one label.
      {"*.example.com", "foo.example.com", true},  // limbo leftmost-wildcard-san
      {"*.EXAMPLE.com", "FOO.example.COM", true},
      {"*.example.com.", "foo.example.com", true},
      {"*.example.com", "foo.example.com.", true},
      {"*.example.com", "foo.bar.example.com", false},  // limbo wildcard-match-across-labels
      {"*.example.com", "example.com", false},          // never the apex
      {"*.example.com", ".example.com", false},
      {"*.example.com", "fooexample.com", false},
      {"*.example.com", "foo.example.org", false},
      {"*.a.b", "x.a.b", true},  // two labels after it is enough
      // Partial, embedded and non-leftmost wildcards are never honoured.
      {"ba*.example.com", "baz.example.com", false},  // limbo wildcard-embedded-leftmost
      {"*a.example.com", "ba.example.com", false},
      {"b*z.example.com", "baz.example.com", false},
      {"foo.*.example.com", "foo.bar.example.com", false},  // limbo wildcard-not-in-leftmost
      {"*.*.example.com", "foo.bar.example.com", false},
      {"**.example.com", "foo.example.com", false},
      {"xn--*-1b3c148a.example.com", "xn--bliss-1b3c148a.example.com",
       false},  // limbo embedded-ulabel
      {"*.example.*", "foo.example.com", false},
      // Too few labels after the wildcard.
      {"*", "example.com", false},  // limbo san-wildcard-only
      {"*", "com", false},          // limbo san-wildcard-only-tld
      {"*.", "com", false},
      {"*.com", "example.com", false},  // limbo public-suffix-wildcard-san
      {"*.localhost", "test.localhost", false},
      // Over a public suffix, however many labels (PSL ICANN and private sections).
      {"*.co.uk", "example.co.uk", false},                        // limbo public-suffix-multi-label
      {"*.s3.amazonaws.com", "example.s3.amazonaws.com", false},  // limbo private-namespace
      {"*.github.io", "someone.github.io", false},
      {"*.gov.uk", "x.gov.uk", false},
      {"*.foo.ck", "x.foo.ck", false},                // PSL rule "*.ck"
      {"*.xn--55qx5d.cn", "x.xn--55qx5d.cn", false},  // PSL entry in A-label form
      {"*.CO.UK", "example.co.uk", false},            // the suffix test folds case too
      {"*.example.co.uk", "www.example.co.uk", true},
      {"*.bucket.s3.amazonaws.com", "x.bucket.s3.amazonaws.com", true},
      {"*.test.localhost", "a.test.localhost", true},  // unknown TLD: only the TLD is a suffix
      // Never a wildcard for an A-label reference label; A-labels otherwise compare as ASCII.
      {"*.example.com", "xn--bliss-1b3c148a.example.com", false},
      {"*.example.com", "XN--bliss-1b3c148a.example.com", false},
      {"*.xn--n3h.com", "www.xn--n3h.com", true},
      {"xn--bliss-1b3c148a.example.com", "xn--bliss-1b3c148a.example.com", true},
      // Non-ASCII presented names never match, not even their own A-label (limbo
      // unicode-emoji-san).
      {"\xF0\x9F\x98\x9C.example.com", "xn--628h.example.com", false},
      {"test-\xE6\xB8\xAC\xE8\xA9\xA6.com", "xn--test--wg5h0h.com",
       false},  // limbo cn::utf8-vs-punycode
      {"caf\xC3\xA9.example.com", "cafe.example.com", false},
      // Outside the preferred name syntax on either side.
      {"foo_bar.example.com", "foo_bar.example.com", false},  // limbo rfc5280::san::underscore-dns
      {"-foo.example.com", "-foo.example.com", false},
      {"foo-.example.com", "foo-.example.com", false},
      {"foo bar.example.com", "foo bar.example.com", false},
      {std::string_view("example.com\0.evil.com", 21), "example.com", false},
      {"8.8.8.8", "8.8.8.8", false},  // limbo rfc5280::san::ip-in-dns
      {"0x7f000001", "0x7f000001", false},
      // The reference is checked too: a "*" in it is not a wildcard and matches nothing.
      {"*.example.com", "*.example.com", false},
      {"foo.example.com", "*.example.com", false},
  };
  for (const DnsMatchRow& row : rows) {
    SCOPED_TRACE(std::string(row.presented) + " vs " + std::string(row.reference));
    EXPECT_EQ(dns_id_matches(row.presented, row.reference), row.expected);
  }
}

struct DnsSyntaxRow {
  std::string name;
  WildcardSyntax wildcard;
  bool expected_valid;
};

TEST(DnsNameSyntax, Table) {
  const std::string label63(63, 'a');
  const std::string label64(64, 'a');
  // 4 labels of 63 plus 3 dots = 255; trimming to 253 and 254 exercises the limit exactly.
  const std::string name253 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'a');
  const std::string name254 = label63 + "." + label63 + "." + label63 + "." + std::string(62, 'a');
  const auto forbidden = WildcardSyntax::forbidden;
  const auto allowed = WildcardSyntax::allowed_as_leftmost;
  const std::vector<DnsSyntaxRow> rows = {
      {"example.com", forbidden, true},
      {"localhost", forbidden, true},
      {"a-b.c0m", forbidden, true},
      {"1password.com", forbidden, true},  // leading digit allowed (RFC 1123 2.1)
      {"xn--n3h.com", forbidden, true},
      {"example.com.", forbidden, true},
      {"", forbidden, false},
      {".", forbidden, false},
      {"example..com", forbidden, false},
      {"foo_bar.example.com", forbidden, false},            // no underscores, see identity.hpp
      {"_xmpp-client._tcp.example.com", forbidden, false},  // SRV-IDs: srv_id_matches
      {"-a.com", forbidden, false},
      {"a-.com", forbidden, false},
      {"a.b-", forbidden, false},
      {"exa mple.com", forbidden, false},
      {"example.com/", forbidden, false},
      {"caf\xC3\xA9.com", forbidden, false},
      {label63 + ".com", forbidden, true},
      {label64 + ".com", forbidden, false},
      {name253, forbidden, true},
      {name253 + ".", forbidden, true},  // the trailing dot does not count
      {name254, forbidden, false},
      {"1.2.3.4", forbidden, false},  // numeric last label: an address, not a name
      {"example.123", forbidden, false},
      {"example.0x1f", forbidden, false},
      {"0x", forbidden, false},
      {"123.example", forbidden, true},  // numbers elsewhere are ordinary labels
      {"0xcafe.com", forbidden, true},
      // Wildcards.
      {"*.example.com", forbidden, false},
      {"*.example.com", allowed, true},
      {"*.example.com.", allowed, true},
      {"*", allowed, false},
      {"*.com", allowed, false},
      {"*.", allowed, false},
      {"*..com", allowed, false},
      {"f*.example.com", allowed, false},
      {"foo.*.example.com", allowed, false},
      {"*.*.example.com", allowed, false},
      {"*.example.*", allowed, false},
  };
  for (const DnsSyntaxRow& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(is_valid_dns_name(row.name, row.wildcard), row.expected_valid);
    EXPECT_EQ(dns_name_problem(row.name, row.wildcard).has_value(), !row.expected_valid);
  }
}

struct AddressRow {
  std::string_view text;
  std::optional<std::string_view> expected_hex;  // nullopt: must be refused
};

TEST(ParseIpv4, Table) {
  const std::vector<AddressRow> rows = {
      {"127.0.0.1", "7f000001"},
      {"0.0.0.0", "00000000"},
      {"255.255.255.255", "ffffffff"},
      {"192.168.1.1", "c0a80101"},
      {"10.0.100.9", "0a006409"},
      {"256.0.0.1", std::nullopt},
      {"192.168.001.001",
       std::nullopt},  // leading zeros: octal to inet_aton (limbo cn::ipv4-leading-zeros)
      {"01.2.3.4", std::nullopt},
      {"00.2.3.4", std::nullopt},
      {"0xC0A80101", std::nullopt},  // hex (limbo cn::ipv4-hex)
      {"0xc0.0xa8.1.1", std::nullopt},
      {"1.2.3", std::nullopt},  // fewer than four parts
      {"127.1", std::nullopt},
      {"2130706433", std::nullopt},
      {"1.2.3.4.5", std::nullopt},
      {"1.2.3.4.", std::nullopt},
      {".1.2.3.4", std::nullopt},
      {"1..2.3", std::nullopt},
      {"1.2.3.1234", std::nullopt},
      {"1.2.3.-1", std::nullopt},
      {"1.2.3.+1", std::nullopt},
      {" 1.2.3.4", std::nullopt},
      {"1.2.3.4 ", std::nullopt},
      {"1.2.3.4/32", std::nullopt},
      {"", std::nullopt},
      {"1111.2.3.4", std::nullopt},
  };
  for (const AddressRow& row : rows) {
    SCOPED_TRACE(std::string(row.text));
    const std::optional<std::string> octets = parse_ipv4(row.text);
    ASSERT_EQ(octets.has_value(), row.expected_hex.has_value());
    if (octets) {
      EXPECT_EQ(hex(*octets), *row.expected_hex);
    }
  }
}

TEST(ParseIpv6, Table) {
  const std::vector<AddressRow> rows = {
      {"::", "00000000000000000000000000000000"},
      {"::1", "00000000000000000000000000000001"},
      {"1::", "00010000000000000000000000000000"},
      {"2001:db8::1", "20010db8000000000000000000000001"},
      {"2001:DB8::8A2E:370:7334", "20010db80000000000008a2e03707334"},  // uppercase accepted
      {"2001:0db8:0000:0000:0000:0000:0000:0001", "20010db8000000000000000000000001"},
      {"2001:db8:0:0:1:0:0:1", "20010db8000000000001000000000001"},
      {"1:2:3:4:5:6:7:8", "00010002000300040005000600070008"},
      {"1:2:3:4:5:6:7::", "00010002000300040005000600070000"},  // "::" for one group
      {"::2:3:4:5:6:7:8", "00000002000300040005000600070008"},
      {"fe80::1:2", "fe800000000000000000000000010002"},
      {"::ffff:192.168.1.1", "00000000000000000000ffffc0a80101"},  // embedded IPv4 tail
      {"::192.168.1.1", "000000000000000000000000c0a80101"},
      {"64:ff9b::10.0.0.1", "0064ff9b00000000000000000a000001"},  // RFC 6052 prefix
      {"1:2:3:4:5:6:1.2.3.4", "00010002000300040005000601020304"},
      {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "ffffffffffffffffffffffffffffffff"},
      {"", std::nullopt},
      {":", std::nullopt},
      {":::", std::nullopt},
      {"1:::2", std::nullopt},
      {"1::2::3", std::nullopt},
      {":1::2", std::nullopt},
      {"1::2:", std::nullopt},
      {":1:2:3:4:5:6:7:8", std::nullopt},
      {"1:2:3:4:5:6:7:8:", std::nullopt},
      {"1:2:3:4:5:6:7", std::nullopt},  // seven groups, no "::"
      {"1:2:3:4:5:6:7:8:9", std::nullopt},
      {"1:2:3:4:5:6:7:8::", std::nullopt},  // "::" must stand for at least one group
      {"::1:2:3:4:5:6:7:8", std::nullopt},
      {"1:2:3:4::5:6:7:8", std::nullopt},
      {"12345::", std::nullopt},
      {"g::1", std::nullopt},
      {"::ffff:1.2.3", std::nullopt},
      {"::ffff:01.2.3.4", std::nullopt},  // the IPv4 tail is strict too
      {"::1.2.3.4:5", std::nullopt},      // IPv4 only at the very end
      {"1.2.3.4::", std::nullopt},
      {"1:2:3:4:5:6:7:1.2.3.4", std::nullopt},  // 7 groups + 2 from IPv4 = 9
      {"[::1]", std::nullopt},
      {"fe80::1%eth0", std::nullopt},  // zone identifiers never appear in certificates
      {"::1/128", std::nullopt},
      {" ::1", std::nullopt},
      {"0000:0000:0000:0000:0000:0000:0000:00001", std::nullopt},
      {"1.2.3.4", std::nullopt},
  };
  for (const AddressRow& row : rows) {
    SCOPED_TRACE(std::string(row.text));
    const std::optional<std::string> octets = parse_ipv6(row.text);
    ASSERT_EQ(octets.has_value(), row.expected_hex.has_value());
    if (octets) {
      EXPECT_EQ(hex(*octets), *row.expected_hex);
    }
  }
}

struct ReferenceRow {
  std::string_view text;
  bool expected_ok;
  IdentityKind expected_kind;
  std::string_view expected_value;  // DNS: the normalised name; IP: hex octets; error: a phrase
};

TEST(ReferenceIdentityParse, Table) {
  const auto dns = IdentityKind::dns_name;
  const auto ip = IdentityKind::ip_address;
  const std::vector<ReferenceRow> rows = {
      {"example.com", true, dns, "example.com"},
      {"Example.COM.", true, dns, "example.com"},
      {"localhost", true, dns, "localhost"},
      {"xn--bliss-1b3c148a.example.com", true, dns, "xn--bliss-1b3c148a.example.com"},
      {"127.0.0.1", true, ip, "7f000001"},
      {"::1", true, ip, "00000000000000000000000000000001"},
      {"2001:DB8::1", true, ip, "20010db8000000000000000000000001"},
      {"::ffff:10.0.0.1", true, ip, "00000000000000000000ffff0a000001"},
      {"", false, dns, "empty"},
      {"*.example.com", false, dns, "wildcard"},
      {"foo_bar.example.com", false, dns, "'_'"},
      {"a..b", false, dns, "empty label"},
      {"exa mple.com", false, dns, "DNS names cannot"},
      {"1.2.3", false, ip, "strict IPv4"},
      {"127.1", false, ip, "strict IPv4"},
      {"192.168.001.001", false, ip, "strict IPv4"},
      {"0x7f000001", false, ip, "strict IPv4"},
      {"0x7f.0.0.1", false, ip, "strict IPv4"},
      {"1.2.3.4.", false, ip, "strict IPv4"},
      {"256.1.1.1", false, ip, "strict IPv4"},
      {"example.com:5222", false, ip, "IPv6"},
      {"[::1]", false, ip, "brackets"},
      {"fe80::1%eth0", false, ip, "zone"},
      {"1::2::3", false, ip, "RFC 4291"},
  };
  for (const ReferenceRow& row : rows) {
    SCOPED_TRACE(std::string(row.text));
    const Result<ReferenceIdentity> parsed = ReferenceIdentity::parse(row.text);
    ASSERT_EQ(parsed.has_value(), row.expected_ok)
        << (parsed ? std::string("accepted") : parsed.error().message);
    if (!parsed) {
      EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_argument);
      EXPECT_NE(parsed.error().message.find(row.expected_value), std::string::npos)
          << parsed.error().message;
      continue;
    }
    EXPECT_EQ(parsed->kind, row.expected_kind);
    EXPECT_EQ(parsed->display, row.text);
    EXPECT_EQ(row.expected_kind == ip ? hex(parsed->value) : parsed->value, row.expected_value);
  }
}

TEST(ReferenceIdentityParse, KindSpecificEntryPointsRefuseTheOtherKind) {
  EXPECT_FALSE(ReferenceIdentity::dns("127.0.0.1").has_value());
  EXPECT_FALSE(ReferenceIdentity::ip("example.com").has_value());
  EXPECT_TRUE(ReferenceIdentity::dns("example.com").has_value());
  EXPECT_TRUE(ReferenceIdentity::ip("::1").has_value());
}

TEST(ReferenceIdentityParse, ErrorMessagesEscapeControlBytes) {
  const Result<ReferenceIdentity> parsed = ReferenceIdentity::parse("bad\x1b[2Jname.com");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().message.find('\x1b'), std::string::npos);
  EXPECT_NE(parsed.error().message.find("\\x1b"), std::string::npos);
}

struct PublicSuffixRow {
  std::string_view name;
  bool expected;
};

TEST(PublicSuffix, Table) {
  const std::vector<PublicSuffixRow> rows = {
      {"com", true},
      {"co.uk", true},
      {"s3.amazonaws.com", true},  // private section
      {"github.io", true},
      {"foo.ck", true},   // "*.ck"
      {"www.ck", false},  // "!www.ck"
      {"CO.UK", true},
      {"co.uk.", true},
      {"example.com", false},
      {"example.co.uk", false},
      {"test.localhost", false},
  };
  for (const PublicSuffixRow& row : rows) {
    SCOPED_TRACE(std::string(row.name));
    EXPECT_EQ(is_public_suffix(row.name), row.expected);
  }
}

// A certificate's identifiers as plain values.
struct CertificateNames {
  bool has_subject_alt_name_extension = false;
  GeneralNames subject_alt_names;
  std::vector<std::string> common_names;
};

GeneralName dns_san(std::string value) {
  return {GeneralNameKind::dns_name, std::move(value), {}, {}};
}

GeneralName ip_san(std::string_view text) {
  std::optional<std::string> octets = parse_ipv4(text);
  if (!octets) octets = parse_ipv6(text);
  return {GeneralNameKind::ip_address, octets.value_or(std::string()), {}, {}};
}

GeneralName raw_ip_san(std::string octets) {
  return {GeneralNameKind::ip_address, std::move(octets), {}, {}};
}

DistinguishedName subject_with(const std::vector<std::string>& common_names) {
  DistinguishedName subject;
  subject.rdns.push_back({NameAttribute{"2.5.4.10", "Example Org", "example org", 12}});
  for (const std::string& common_name : common_names) {
    subject.rdns.push_back({NameAttribute{kOidCommonName, common_name, common_name, 12}});
  }
  return subject;
}

struct PresentedRow {
  std::string_view description;
  CertificateNames certificate;
  std::string_view reference;
  CnFallback cn_fallback;
  IdentityVerdict expected_verdict;
  std::string_view expected_matched;
};

TEST(CheckPresentedIdentities, Table) {
  const auto never = CnFallback::never;
  const auto allow = CnFallback::allow_when_no_san;
  const auto match = IdentityVerdict::match;
  const auto mismatch = IdentityVerdict::mismatch;
  const auto none = IdentityVerdict::no_identities;
  const std::vector<PresentedRow> rows = {
      {"dNSName match",
       {true, {dns_san("example.com")}, {"example.com"}},
       "example.com",
       never,
       match,
       "example.com"},
      {"second dNSName matches",
       {true, {dns_san("a.example"), dns_san("*.example.com")}, {}},
       "www.example.com",
       never,
       match,
       "*.example.com"},
      {"dNSName mismatch",
       {true, {dns_san("example.com")}, {}},
       "example2.com",
       never,
       mismatch,
       ""},
      {"IP SAN match",
       {true, {ip_san("127.0.0.1")}, {"example.com"}},
       "127.0.0.1",
       never,
       match,
       "127.0.0.1"},
      {"IPv6 SAN match, reference in other spelling",
       {true, {ip_san("2001:db8::1")}, {}},
       "2001:0DB8:0:0:0:0:0:1",
       never,
       match,
       "2001:db8::1"},
      {"IPv6 SAN shown per RFC 5952",
       {true, {ip_san("2001:db8:0:0:1:0:0:1")}, {}},
       "2001:db8::1:0:0:1",
       never,
       match,
       "2001:db8::1:0:0:1"},
      {"IP SAN mismatch", {true, {ip_san("192.0.2.1")}, {}}, "192.0.2.2", never, mismatch, ""},
      {"IPv4 never equals its IPv4-mapped IPv6 form",
       {true, {ip_san("::ffff:127.0.0.1")}, {}},
       "127.0.0.1",
       never,
       mismatch,
       ""},
      {"malformed IP SAN of 5 octets",
       {true, {raw_ip_san(std::string("\x7f\0\0\x01\x00", 5))}, {}},
       "127.0.0.1",
       never,
       mismatch,
       ""},
      // An IP reference never looks at dNSNames or the CN (limbo rfc5280::san::ip-in-dns).
      {"IP in dNSName", {true, {dns_san("8.8.8.8")}, {"8.8.8.8"}}, "8.8.8.8", allow, none, ""},
      {"IP in CN, no SAN", {false, {}, {"127.0.0.1"}}, "127.0.0.1", allow, none, ""},
      {"IP SAN present, odd CN (limbo cn::ipv4-hex)",
       {true, {ip_san("192.168.1.1")}, {"0xC0A80101"}},
       "192.168.1.1",
       allow,
       match,
       "192.168.1.1"},
      // A DNS reference never looks at iPAddress SANs.
      {"DNS reference, IP SAN only",
       {true, {ip_san("127.0.0.1")}, {"localhost"}},
       "localhost",
       allow,
       none,
       ""},
      // The CN is never consulted next to a subjectAltName extension (limbo webpki::cn::*).
      {"CN not in SAN",
       {true, {dns_san("valid.example.com")}, {"notinsan.example.com"}},
       "notinsan.example.com",
       allow,
       mismatch,
       ""},
      {"SAN with IP only, CN names the host",
       {true, {ip_san("192.0.2.1")}, {"example.com"}},
       "example.com",
       allow,
       none,
       ""},
      {"SAN extension undecodable, CN names the host",
       {true, {}, {"example.com"}},
       "example.com",
       allow,
       none,
       ""},
      // CN fallback only when allowed and there is no extension at all (limbo webpki::san::no-san
      // expects the default, never).
      {"no SAN, fallback off", {false, {}, {"example.com"}}, "example.com", never, none, ""},
      {"no SAN, fallback on",
       {false, {}, {"example.com"}},
       "example.com",
       allow,
       match,
       "example.com"},
      {"no SAN, fallback on, case folds",
       {false, {}, {"Example.COM"}},
       "example.com",
       allow,
       match,
       "Example.COM"},
      {"no SAN, CN wildcard obeys the same rules",
       {false, {}, {"*.example.com"}},
       "a.example.com",
       allow,
       match,
       "*.example.com"},
      {"no SAN, CN wildcard over a public suffix",
       {false, {}, {"*.co.uk"}},
       "example.co.uk",
       allow,
       mismatch,
       ""},
      {"no SAN, CN mismatch",
       {false, {}, {"other.example.com"}},
       "example.com",
       allow,
       mismatch,
       ""},
      {"no SAN, UTF-8 CN",
       {false, {}, {"test-\xE6\xB8\xAC\xE8\xA9\xA6.com"}},
       "xn--test--wg5h0h.com",
       allow,
       mismatch,
       ""},
      {"no SAN, two CNs",
       {false, {}, {"example.com", "example.com"}},
       "example.com",
       allow,
       mismatch,
       ""},
      {"no SAN, no CN", {false, {}, {}}, "example.com", allow, none, ""},
      {"other kinds of SAN only",
       {true, {GeneralName{GeneralNameKind::uri, "https://example.com/", {}, {}}}, {"example.com"}},
       "example.com",
       allow,
       none,
       ""},
  };
  for (const PresentedRow& row : rows) {
    SCOPED_TRACE(std::string(row.description));
    const Result<ReferenceIdentity> reference = ReferenceIdentity::parse(row.reference);
    ASSERT_TRUE(reference.has_value()) << reference.error().message;
    const DistinguishedName subject = subject_with(row.certificate.common_names);
    PresentedIdentities presented;
    presented.has_subject_alt_name_extension = row.certificate.has_subject_alt_name_extension;
    presented.subject_alt_names = row.certificate.subject_alt_names;
    presented.subject = &subject;
    const IdentityResult result =
        check_presented_identities(presented, *reference, row.cn_fallback);
    EXPECT_EQ(result.verdict, row.expected_verdict);
    EXPECT_EQ(result.matched, row.expected_matched);
    EXPECT_EQ(result.ok(), row.expected_verdict == IdentityVerdict::match);
  }
}

TEST(CheckPresentedIdentities, HandBuiltReferencesFailClosed) {
  const GeneralNames names = {dns_san("*.example.com"), raw_ip_san("")};
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension = true;
  presented.subject_alt_names = names;

  ReferenceIdentity wildcard_reference;
  wildcard_reference.kind = IdentityKind::dns_name;
  wildcard_reference.value = "*.example.com";
  EXPECT_FALSE(check_presented_identities(presented, wildcard_reference, CnFallback::never).ok());

  ReferenceIdentity empty_address;
  empty_address.kind = IdentityKind::ip_address;
  EXPECT_FALSE(check_presented_identities(presented, empty_address, CnFallback::never).ok());
}

struct CommonNameEncodingRow {
  std::string_view description;
  CertificateNames certificate;
  bool expected_problem;
};

TEST(CommonNameEncodingProblem, Table) {
  const std::vector<CommonNameEncodingRow> rows = {
      // The limbo webpki::cn::* cases this rule decides.
      {"IPv4 in hex (ipv4-hex-mismatch)", {true, {ip_san("192.168.1.1")}, {"0xC0A80101"}}, true},
      {"IPv4 with leading zeros", {true, {ip_san("192.168.1.1")}, {"192.168.001.001"}}, true},
      {"IPv6 uppercase",
       {true, {ip_san("2001:db8::8a2e:370:7334")}, {"2001:DB8::8A2E:370:7334"}},
       true},
      {"IPv6 uncompressed",
       {true, {ip_san("2001:db8::1")}, {"2001:0db8:0000:0000:0000:0000:0000:0001"}},
       true},
      {"IPv6 compressing the wrong run",
       {true, {ip_san("2001:db8::1:0:0:1")}, {"2001:db8:0:0:1:0:0:1"}},
       true},
      {"U-label CN for an A-label SAN",
       {true, {dns_san("xn--test--wg5h0h.com")}, {"test-\xE6\xB8\xAC\xE8\xA9\xA6.com"}},
       true},
      {"CN differs from its SAN in case", {true, {dns_san("example.com")}, {"Example.COM"}}, true},
      {"two CNs", {true, {dns_san("example.com")}, {"example.com", "example.com"}}, true},
      // Written as the Baseline Requirements want.
      {"exact DNS copy", {true, {dns_san("example.com")}, {"example.com"}}, false},
      {"exact IPv4", {true, {ip_san("192.168.1.1")}, {"192.168.1.1"}}, false},
      {"exact RFC 5952 IPv6", {true, {ip_san("2001:db8::1:0:0:1")}, {"2001:db8::1:0:0:1"}}, false},
      {"no CN", {true, {dns_san("example.com")}, {}}, false},
      {"no SAN extension: not this rule's business", {false, {}, {"Example.COM"}}, false},
      // Membership is deliberately not checked (see identity.hpp): BetterTLS leaves look like this.
      {"CN names another host", {true, {dns_san("test.localhost")}, {"bad.example.com"}}, false},
      {"CN is another address", {true, {ip_san("127.0.0.1")}, {"1.1.1.1"}}, false},
      {"CN is a label", {true, {dns_san("localhost")}, {"EE"}}, false},
      {"CN is free text with non-ASCII",
       {true, {dns_san("chat.example")}, {"M\xC3\xBCller Chat"}},
       false},
  };
  for (const CommonNameEncodingRow& row : rows) {
    SCOPED_TRACE(std::string(row.description));
    const DistinguishedName subject = subject_with(row.certificate.common_names);
    PresentedIdentities presented;
    presented.has_subject_alt_name_extension = row.certificate.has_subject_alt_name_extension;
    presented.subject_alt_names = row.certificate.subject_alt_names;
    presented.subject = &subject;
    const std::optional<std::string> problem = common_name_encoding_problem(presented);
    EXPECT_EQ(problem.has_value(), row.expected_problem) << problem.value_or("no problem");
  }
}

}  // namespace
}  // namespace parley::pki
