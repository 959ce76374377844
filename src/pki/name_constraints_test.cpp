// Tables for name_constraints.hpp: one TEST per table, one row per case. The x509-limbo ids in the
// comments are the conformance cases a row mirrors.

#include "pki/name_constraints.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

namespace parley::pki {
namespace {

std::string octets(std::initializer_list<int> bytes) {
  std::string out;
  for (const int byte : bytes) out.push_back(static_cast<char>(byte));
  return out;
}

std::string ipv6_octets(std::initializer_list<int> groups) {
  std::string out;
  for (const int group : groups) {
    out.push_back(static_cast<char>((group >> 8) & 0xff));
    out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

// An address and mask with `prefix` leading one bits, as a subtree carries them.
std::string subtree(const std::string& address, int prefix) {
  std::string mask(address.size(), '\0');
  for (int bit = 0; bit < prefix; ++bit) {
    mask[static_cast<std::size_t>(bit / 8)] = static_cast<char>(
        static_cast<unsigned char>(mask[static_cast<std::size_t>(bit / 8)]) | (0x80 >> (bit % 8)));
  }
  return address + mask;
}

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// One RDN per attribute unless a row asks for a multi-valued one. The canonical value imitates
// distinguished_name.hpp's folding for plain ASCII, which is all these rows use.
using Attribute = std::pair<std::string, std::string>;  // type OID, value
using Rdn = std::vector<Attribute>;

DistinguishedName name_of(std::initializer_list<Rdn> rdns) {
  DistinguishedName name;
  for (const Rdn& rdn : rdns) {
    RelativeDistinguishedName converted;
    for (const auto& [type, value] : rdn) {
      NameAttribute attribute;
      attribute.type_oid = type;
      attribute.value_utf8 = value;
      attribute.canonical_value = lowercase(value);
      converted.push_back(std::move(attribute));
    }
    name.rdns.push_back(std::move(converted));
  }
  return name;
}

constexpr const char* kOidOrganization = "2.5.4.10";
constexpr const char* kOidOrganizationalUnit = "2.5.4.11";
constexpr const char* kOidCountry = "2.5.4.6";

GeneralName general(GeneralNameKind kind, std::string value) {
  GeneralName name;
  name.kind = kind;
  name.value = std::move(value);
  return name;
}
GeneralName dns(std::string value) {
  return general(GeneralNameKind::dns_name, std::move(value));
}
GeneralName ip(std::string value) {
  return general(GeneralNameKind::ip_address, std::move(value));
}
GeneralName email(std::string value) {
  return general(GeneralNameKind::rfc822_name, std::move(value));
}
GeneralName uri(std::string value) {
  return general(GeneralNameKind::uri, std::move(value));
}
GeneralName registered_id(std::string value) {
  return general(GeneralNameKind::registered_id, std::move(value));
}
GeneralName x400(std::string value) {
  return general(GeneralNameKind::x400_address, std::move(value));
}
GeneralName edi_party() {
  return general(GeneralNameKind::edi_party_name, "");
}
GeneralName other(std::string type, std::string value) {
  GeneralName name = general(GeneralNameKind::other_name, std::move(value));
  name.other_name_type = std::move(type);
  return name;
}
GeneralName directory(std::initializer_list<Rdn> rdns) {
  GeneralName name = general(GeneralNameKind::directory_name, "");
  name.directory = name_of(rdns);
  return name;
}

const std::string kNullValue = octets({0x05, 0x00});  // DER NULL, as x509-limbo's otherName carries
const std::string kXmppAddrValue = octets({0x0c, 0x03, 'a', '@', 'b'});

struct StringMatchRow {
  std::string name;
  std::string base;
  SubtreeMatch expected;
};

TEST(NameConstraints, DnsNameSubtrees) {
  using enum SubtreeMatch;
  const std::vector<StringMatchRow> rows = {
      // exact and subdomains (RFC 5280: "adding zero or more labels to the left-hand side")
      {"example.com", "example.com", within},
      {"foo.bar.example.com", "example.com", within},  // rfc5280::nc::permitted-dns-match-more
      {"not-example.com", "example.com", outside},     // rfc5280::nc::permitted-dns-mismatch
      {"example.com", "foo.example.com", outside},
      {"host1.example.com", "host.example.com", outside},
      {"example.co", "example.com", outside},
      {"xexample.com", "example.com", outside},
      // case-insensitive on both sides
      {"FOO.Example.COM", "example.com", within},
      {"foo.example.com", "EXAMPLE.com", within},
      // one trailing dot is ignored on either side, as identity.hpp ignores it
      {"foo.example.com.", "example.com", within},
      {"bad.example.com.", "bad.example.com", within},
      {"foo.example.com", "example.com.", within},
      {"foo.example.com..", "example.com", malformed_name},
      // the empty constraint holds every name
      {"anything.example.org", "", within},
      {"*.example.org", "", within},
      {"localhost", "", within},
      // single-label names and constraints (BetterTLS uses "localhost")
      {"test.localhost", "localhost", within},
      {"localhost", "localhost", within},
      {"localhost", "test.localhost", outside},
      // presented wildcards stand for one label
      {"*.example.com", "example.com", within},  // webpki::nc::nc-permits-dns-san-pattern
      {"*.foo.example.com", "example.com", within},
      {"*.example.com", "foo.example.com",
       partly_within},  // cve::cve-2025-61727-nc-permits-variant
      {"*.example.com", "bar.example.com",
       partly_within},  // rfc5280::nc::nc-forbids-dnsname-wildcard-san
      {"*.example.com", "BAR.Example.com", partly_within},
      {"*.example.com", "a.b.example.com", outside},  // one label cannot reach two levels down
      {"*.example.com", "other.com", outside},
      {"*.example.com", "example.org", outside},
      // malformed constraints: RFC 5280 has no leading-dot or wildcard DNS form
      {"foo.example.com", ".example.com",
       malformed_constraint},  // rfc5280::nc::invalid-dnsname-leading-period
      {"foo.example.com", "*.example.com",
       malformed_constraint},  // rfc5280::nc::invalid-dnsname-wildcard
      {"foo.example.com", "*", malformed_constraint},
      {"foo.example.com", "f*.example.com", malformed_constraint},
      {"1.1.1.1", "1.1.1.1", malformed_constraint},  // an IP address is not a DNS name
      {"foo.example.com", "127.0.0.1", malformed_constraint},
      {"foo.example.com", "example..com", malformed_constraint},
      {"foo.example.com", "-example.com", malformed_constraint},
      {"foo.example.com", "exa_mple.com", malformed_constraint},
      {"foo.example.com", "example.com/", malformed_constraint},
      {"foo.example.com", ".", malformed_constraint},
      // malformed presented names
      {".example.com", "example.com", malformed_name},  // rfc5280::nc::nc-permits-invalid-dns-san
      {"", "example.com", malformed_name},
      {"foo..example.com", "example.com", malformed_name},
      {"f*.example.com", "example.com", malformed_name},
      {"*.*.example.com", "example.com", malformed_name},
      {"foo.*.example.com", "example.com", malformed_name},
      {"*.com", "com", malformed_name},
      {"under_score.example.com", "example.com", malformed_name},
      {"ex ample.com", "example.com", malformed_name},
      {"caf\xc3\xa9.example.com", "example.com", malformed_name},
      {"192.0.2.1", "example.com", malformed_name},
      {std::string("foo\0.example.com", 16), "example.com", malformed_name},
      {"", "", malformed_name},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE("name \"" + row.name + "\", subtree \"" + row.base + "\"");
    EXPECT_EQ(to_string(dns_name_subtree_match(row.name, row.base)),
              std::string(to_string(row.expected)));
  }
}

TEST(NameConstraints, IpAddressSubtrees) {
  using enum SubtreeMatch;
  const std::string v4_192_0_2_1 = octets({192, 0, 2, 1});
  const std::string v4_192_0_3_1 = octets({192, 0, 3, 1});
  const std::string v6_loopback = ipv6_octets({0, 0, 0, 0, 0, 0, 0, 1});
  const std::string v6_doc = ipv6_octets({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x42});
  const std::string v4_mapped = ipv6_octets({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201});
  const std::vector<StringMatchRow> rows = {
      {v4_192_0_2_1, subtree(octets({192, 0, 2, 0}), 24),
       within},  // rfc5280::nc::permitted-ipv4-match
      {v4_192_0_3_1, subtree(octets({192, 0, 2, 0}), 24),
       outside},  // rfc5280::nc::permitted-ip-mismatch
      {v4_192_0_2_1, subtree(octets({192, 0, 2, 1}), 32), within},
      {v4_192_0_2_1, subtree(octets({192, 0, 2, 2}), 32), outside},
      {v4_192_0_2_1, subtree(octets({0, 0, 0, 0}), 0), within},  // 0.0.0.0/0 holds all of IPv4
      {v4_192_0_2_1, subtree(octets({192, 0, 0, 0}), 22), within},
      {v4_192_0_2_1, subtree(octets({192, 0, 4, 0}), 22), outside},
      {v4_192_0_2_1, subtree(octets({192, 0, 2, 77}), 24),
       within},  // host bits in the subtree ignored
      {octets({127, 0, 0, 1}), subtree(octets({127, 0, 0, 0}), 24), within},
      {octets({1, 1, 1, 1}), subtree(octets({127, 0, 0, 0}), 24), outside},
      {v6_loopback, subtree(v6_loopback, 128), within},  // rfc5280::nc::permitted-ipv6-match
      {v6_doc, subtree(ipv6_octets({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0}), 32), within},
      {v6_doc, subtree(ipv6_octets({0x2001, 0xdb9, 0, 0, 0, 0, 0, 0}), 32), outside},
      {v6_doc, subtree(std::string(16, '\0'), 0), within},
      // IPv4 and IPv6 never meet, not even through v4-mapped addresses
      {v4_192_0_2_1, subtree(std::string(16, '\0'), 0), outside},
      {v6_loopback, subtree(octets({0, 0, 0, 0}), 0), outside},
      {v4_mapped, subtree(octets({192, 0, 2, 0}), 24), outside},
      {v4_192_0_2_1, subtree(ipv6_octets({0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0200}), 120), outside},
      // malformed subtrees: a bare address (rfc5280::nc::invalid-ipv4-address / -ipv6-address),
      // wrong lengths, masks with holes
      {v4_192_0_2_1, octets({192, 0, 2, 1}), malformed_constraint},
      {v6_loopback, v6_loopback, malformed_constraint},
      {v4_192_0_2_1, "", malformed_constraint},
      {v4_192_0_2_1, octets({192, 0, 2, 0, 255, 255, 255}), malformed_constraint},
      {v4_192_0_2_1, octets({192, 0, 2, 0, 255, 255, 255, 0, 0}), malformed_constraint},
      {v4_192_0_2_1, octets({192, 0, 2, 0, 255, 0, 255, 0}), malformed_constraint},
      {v4_192_0_2_1, octets({192, 0, 2, 0, 255, 255, 255, 1}), malformed_constraint},
      {v4_192_0_2_1, octets({192, 0, 2, 0, 0x7f, 255, 255, 0}), malformed_constraint},
      {v6_loopback, v6_loopback + ipv6_octets({0xffff, 0, 0xffff, 0, 0, 0, 0, 0}),
       malformed_constraint},
      // malformed names: a CIDR range in a SAN (rfc5280::nc::nc-permits-invalid-ip-san), odd
      // lengths
      {subtree(octets({192, 0, 2, 0}), 24), subtree(octets({192, 0, 2, 0}), 24), malformed_name},
      {"", subtree(octets({192, 0, 2, 0}), 24), malformed_name},
      {octets({192, 0, 2}), subtree(octets({192, 0, 2, 0}), 24), malformed_name},
      {octets({192, 0, 2, 1, 0}), subtree(octets({192, 0, 2, 0}), 24), malformed_name},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE("row " + std::to_string(i));
    EXPECT_EQ(to_string(ip_address_subtree_match(rows[i].name, rows[i].base)),
              std::string(to_string(rows[i].expected)));
  }
}

TEST(NameConstraints, EmailSubtrees) {
  using enum SubtreeMatch;
  const std::vector<StringMatchRow> rows = {
      // a particular mailbox (rfc5280::nc::nc-permits-email-exact)
      {"foo@example.com", "foo@example.com", within},
      {"foo@EXAMPLE.com", "foo@example.com", within},   // the host is case-insensitive
      {"Foo@example.com", "foo@example.com", outside},  // the local part is not (RFC 5280 7.5)
      {"bar@example.com", "foo@example.com", outside},
      {"foo@sub.example.com", "foo@example.com", outside},
      // every mailbox at a host (rfc5280::nc::nc-permits-email-domain)
      {"foo@example.com", "example.com", within},
      {"foo@Example.Com", "example.com", within},
      {"foo@sub.example.com", "example.com", outside},
      {"foo@notexample.com", "example.com", outside},
      // every mailbox at a host below a domain
      {"foo@sub.example.com", ".example.com", within},
      {"foo@a.b.example.com", ".example.com", within},
      {"foo@example.com", ".example.com", outside},
      {"foo@notexample.com", ".example.com", outside},
      // characters are literal: "*" is a mailbox name, never a pattern
      {"*@example.com", "*@example.com", within},      // ...literal-asterisk-exact-match
      {"user@example.com", "*@example.com", outside},  // ...literal-asterisk-rejects-user
      {"*@subdomain.example.com", "*@example.com",
       outside},                                     // ...literal-asterisk-rejects-subdomain
      {"**@example.com", "**@example.com", within},  // ...literal-double-asterisk
      {"*@example.com", "**@example.com", outside},  // ...literal-double-asterisk-rejects-single
      {"user*@example.com", "user*@example.com", within},  // ...literal-mid-asterisk
      {"user@example.com", "user*@example.com", outside},
      // quoted local parts
      {"\"a@b\"@example.com", "example.com", within},
      {"\"a b\"@example.com", "\"a b\"@example.com", within},
      {"first.last@example.com", "example.com", within},
      // malformed names
      {"invalid@address@example.com", "example.com",
       malformed_name},  // ...nc-permits-invalid-email-san
      {"example.com", "example.com", malformed_name},
      {"@example.com", "example.com", malformed_name},
      {"foo@", "example.com", malformed_name},
      {"foo@example.com.", "example.com", malformed_name},
      {".foo@example.com", "example.com", malformed_name},
      {"fo..o@example.com", "example.com", malformed_name},
      {"fo o@example.com", "example.com", malformed_name},
      {"foo@[192.0.2.1]", "example.com", malformed_name},
      {"f\xc3\xb6@example.com", "example.com", malformed_name},
      {"\"unterminated@example.com", "example.com", malformed_name},
      {std::string(65, 'a') + "@example.com", "example.com", malformed_name},
      // malformed constraints
      {"foo@example.com", "invalid@invalid@example.com",
       malformed_constraint},  // ...invalid-email-address
      {"foo@example.com", "", malformed_constraint},
      {"foo@example.com", ".", malformed_constraint},
      {"foo@example.com", "..example.com", malformed_constraint},
      {"foo@example.com", "@example.com", malformed_constraint},
      {"foo@example.com", "*.example.com", malformed_constraint},
      {"foo@example.com", "example.com.", malformed_constraint},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE("name \"" + row.name + "\", subtree \"" + row.base + "\"");
    EXPECT_EQ(to_string(email_subtree_match(row.name, row.base)),
              std::string(to_string(row.expected)));
  }
}

TEST(NameConstraints, UriSubtrees) {
  using enum SubtreeMatch;
  const std::vector<StringMatchRow> rows = {
      // a host constraint is that host only
      {"https://host.example.com/path", "host.example.com", within},
      {"https://HOST.example.com", "host.example.com", within},
      {"https://user:pw@host.example.com:8443/a?b#c", "host.example.com", within},
      {"https://host.example.com:/x", "host.example.com", within},
      {"https://host.example.com./x", "host.example.com", within},
      {"spiffe://host.example.com/workload", "host.example.com", within},
      {"https://www.host.example.com/", "host.example.com", outside},
      {"https://example.com/", "host.example.com", outside},
      // a domain constraint is everything strictly below it
      {"https://www.example.com/", ".example.com", within},
      {"https://a.b.example.com/", ".example.com", within},
      {"https://example.com/", ".example.com", outside},
      {"https://notexample.com/", ".example.com", outside},
      // the host, not text elsewhere in the URI, is what counts
      {"https://evil.com/host.example.com", "host.example.com", outside},
      {"https://host.example.com@evil.com/", "host.example.com", outside},
      {"https://evil.com?host.example.com", "host.example.com", outside},
      // RFC 5280: no authority, or an IP address as host, MUST be rejected
      {"urn:uuid:0d2b1b7c-8b1a-4a1e-9d1f-4a3c0d2b1b7c", "example.com", malformed_name},
      {"mailto:foo@example.com", "example.com", malformed_name},
      {"host.example.com", "host.example.com", malformed_name},
      {"file:///etc/passwd", "example.com", malformed_name},
      {"https://192.0.2.1/", "example.com", malformed_name},
      {"https://[2001:db8::1]:443/", "example.com", malformed_name},
      {"https://[not-an-address]/", "example.com", malformed_name},
      {"http://bad.example.com:DNS:test.localhost", "test.localhost", malformed_name},
      {"http://bad.example.com;test.localhost", "test.localhost", malformed_name},
      {"http://bad.example.com, DNS:test.localhost", "test.localhost", malformed_name},
      {"1http://host.example.com/", "host.example.com", malformed_name},
      {"", "example.com", malformed_name},
      // malformed constraints
      {"https://host.example.com/", "", malformed_constraint},
      {"https://host.example.com/", ".", malformed_constraint},
      {"https://host.example.com/", "..example.com", malformed_constraint},
      {"https://host.example.com/", "*.example.com", malformed_constraint},
      {"https://host.example.com/", "https://host.example.com", malformed_constraint},
      {"https://host.example.com/", "192.0.2.1", malformed_constraint},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE("name \"" + row.name + "\", subtree \"" + row.base + "\"");
    EXPECT_EQ(to_string(uri_subtree_match(row.name, row.base)),
              std::string(to_string(row.expected)));
  }
}

struct DirectoryRow {
  const char* description;
  DistinguishedName name;
  DistinguishedName base;
  SubtreeMatch expected;
};

TEST(NameConstraints, DirectoryNameSubtrees) {
  using enum SubtreeMatch;
  const std::vector<DirectoryRow> rows = {
      {"equal", name_of({{{kOidCommonName, "foo"}}}), name_of({{{kOidCommonName, "foo"}}}), within},
      {"different value", name_of({{{kOidCommonName, "not-foo"}}}),
       name_of({{{kOidCommonName, "foo"}}}), outside},
      {"canonical values compare, not the text", name_of({{{kOidCommonName, "FOO"}}}),
       name_of({{{kOidCommonName, "foo"}}}), within},
      {"different attribute type", name_of({{{kOidOrganization, "foo"}}}),
       name_of({{{kOidCommonName, "foo"}}}), outside},
      {"base is a prefix of the RDNs",
       name_of({{{kOidCountry, "US"}}, {{kOidOrganization, "Acme"}}, {{kOidCommonName, "host"}}}),
       name_of({{{kOidCountry, "US"}}, {{kOidOrganization, "Acme"}}}), within},
      {"prefix, not suffix",
       name_of({{{kOidCountry, "US"}}, {{kOidOrganization, "Acme"}}, {{kOidCommonName, "host"}}}),
       name_of({{{kOidOrganization, "Acme"}}, {{kOidCommonName, "host"}}}), outside},
      {"base longer than the name", name_of({{{kOidCountry, "US"}}}),
       name_of({{{kOidCountry, "US"}}, {{kOidOrganization, "Acme"}}}), outside},
      {"the empty base holds every name", name_of({{{kOidCountry, "US"}}}), name_of({}), within},
      {"multi-valued RDNs are sets",
       name_of({{{kOidOrganization, "Acme"}, {kOidOrganizationalUnit, "Web"}},
                {{kOidCommonName, "h"}}}),
       name_of({{{kOidOrganizationalUnit, "Web"}, {kOidOrganization, "Acme"}}}), within},
      {"a multi-valued RDN is not a prefix of its own members",
       name_of({{{kOidOrganization, "Acme"}, {kOidOrganizationalUnit, "Web"}}}),
       name_of({{{kOidOrganization, "Acme"}}}), outside},
      {"RDN order matters", name_of({{{kOidOrganization, "Acme"}}, {{kOidCountry, "US"}}}),
       name_of({{{kOidCountry, "US"}}, {{kOidOrganization, "Acme"}}}), outside},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    EXPECT_EQ(to_string(directory_name_subtree_match(row.name, row.base)),
              std::string(to_string(row.expected)));
  }
}

struct GeneralNameRow {
  const char* description;
  GeneralName name;
  GeneralName base;
  SubtreeMatch expected;
};

TEST(NameConstraints, GeneralNameDispatchAndOpaqueKinds) {
  using enum SubtreeMatch;
  const std::vector<GeneralNameRow> rows = {
      {"kinds never cross", dns("example.com"), ip(subtree(octets({192, 0, 2, 0}), 24)), outside},
      {"dNSName against rfc822Name", dns("example.com"), email("example.com"), outside},
      {"dispatches dNSName", dns("a.example.com"), dns("example.com"), within},
      {"dispatches directoryName", directory({{{kOidCommonName, "foo"}}}),
       directory({{{kOidCommonName, "foo"}}}), within},
      // otherName: same type-id and same value bytes is the one relation Parley can be sure of
      {"otherName equal", other("1.3.6.1.4.1.55738.666.3", kNullValue),
       other("1.3.6.1.4.1.55738.666.3", kNullValue), within},  // rfc5280::nc::nc-forbids-othername
      {"otherName of another type-id", other(kOidXmppAddr, kXmppAddrValue),
       other("1.3.6.1.4.1.55738.666.3", kNullValue), outside},
      {"otherName same type, other value", other(kOidXmppAddr, kXmppAddrValue),
       other(kOidXmppAddr, octets({0x0c, 0x01, 'b'})), undecidable},
      {"otherName without captured bytes", other(kOidXmppAddr, ""), other(kOidXmppAddr, ""),
       undecidable},
      {"registeredID equal", registered_id("1.2.3.4"), registered_id("1.2.3.4"), within},
      {"registeredID different", registered_id("1.2.3.4.5"), registered_id("1.2.3.4"), undecidable},
      {"x400Address equal", x400(octets({0x30, 0x00})), x400(octets({0x30, 0x00})), within},
      {"x400Address different", x400(octets({0x30, 0x00})), x400(octets({0x30, 0x01, 0x00})),
       undecidable},
      {"ediPartyName keeps no bytes", edi_party(), edi_party(), undecidable},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    EXPECT_EQ(to_string(general_name_subtree_match(row.name, row.base)),
              std::string(to_string(row.expected)));
  }
}

struct WellFormedRow {
  GeneralName base;
  bool expected;
};

TEST(NameConstraints, SubtreeWellFormedness) {
  const std::vector<WellFormedRow> rows = {
      {dns(""), true},
      {dns("example.com"), true},
      {dns("localhost"), true},
      {dns(".example.com"), false},
      {dns("*.example.com"), false},
      {dns("1.1.1.1"), false},
      {ip(subtree(octets({10, 0, 0, 0}), 8)), true},
      {ip(octets({10, 0, 0, 0})), false},
      {ip(octets({10, 0, 0, 0, 255, 0, 255, 0})), false},
      {email("example.com"), true},
      {email(".example.com"), true},
      {email("foo@example.com"), true},
      {email("invalid@invalid@example.com"), false},
      {email(""), false},
      {uri("example.com"), true},
      {uri(".example.com"), true},
      {uri("https://example.com"), false},
      {directory({}), true},
      {other(kOidXmppAddr, kXmppAddrValue), true},
      {registered_id("1.2.3"), true},
      {edi_party(), true},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(std::string(to_string(row.base.kind)) + " \"" + row.base.value + "\"");
    EXPECT_EQ(subtree_is_well_formed(row.base), row.expected);
  }
}

// ---- the whole check --------------------------------------------------------------------------

struct Constraints {
  GeneralNames permitted;
  GeneralNames excluded;
};

NameConstraintsExtension extension_of(const Constraints& constraints) {
  NameConstraintsExtension extension;
  extension.permitted = constraints.permitted;
  extension.excluded = constraints.excluded;
  extension.permitted_present = !constraints.permitted.empty();
  extension.excluded_present = !constraints.excluded.empty();
  return extension;
}

enum class AltNameExtension { absent, present, undecodable };

struct CheckRow {
  const char* description;
  Constraints constraints;
  GeneralNames alt_names;
  AltNameExtension alt_name_extension;
  DistinguishedName subject;
  ConstrainedPosition position;
  NameConstraintVerdict expected;
};

NameConstraintResult run(const CheckRow& row, Budget& budget) {
  ConstrainedNames names;
  names.subject = &row.subject;
  names.has_subject_alt_name_extension = row.alt_name_extension != AltNameExtension::absent;
  names.subject_alt_name_undecodable = row.alt_name_extension == AltNameExtension::undecodable;
  names.subject_alt_names = row.alt_names;
  names.position = row.position;
  return check_constrained_names(extension_of(row.constraints), names, budget);
}

constexpr auto kLeaf = ConstrainedPosition::leaf;
constexpr auto kIntermediate = ConstrainedPosition::intermediate;
constexpr auto kWithSan = AltNameExtension::present;
constexpr auto kNoSan = AltNameExtension::absent;

TEST(NameConstraints, CheckOneCertificate) {
  using enum NameConstraintVerdict;
  const DistinguishedName no_subject;
  const DistinguishedName cn_example = name_of({{{kOidCommonName, "example.com"}}});
  const DistinguishedName cn_localhost =
      name_of({{{kOidOrganization, "bettertls.com"}}, {{kOidCommonName, "test.localhost"}}});
  const DistinguishedName cn_loopback = name_of({{{kOidCommonName, "127.0.0.1"}}});
  const DistinguishedName cn_free_text = name_of({{{kOidCommonName, "My Test Server"}}});
  const DistinguishedName cn_wildcard = name_of({{{kOidCommonName, "*.example.com"}}});
  const DistinguishedName cn_foo = name_of({{{kOidCommonName, "foo"}}});
  const DistinguishedName cn_not_foo = name_of({{{kOidCommonName, "not-foo"}}});
  const DistinguishedName with_email =
      name_of({{{kOidCommonName, "x"}}, {{kOidEmailAddress, "someone@evil.com"}}});
  const DistinguishedName with_bad_email =
      name_of({{{kOidCommonName, "x"}}, {{kOidEmailAddress, "not an address"}}});
  const std::string loopback_24 = subtree(octets({127, 0, 0, 0}), 24);
  const std::string doc_24 = subtree(octets({192, 0, 2, 0}), 24);

  const std::vector<CheckRow> rows = {
      // permitted and excluded, RFC 5280 6.1.3 (b) (c)
      {"permitted dNSName holds the SAN",
       {{dns("example.com")}, {}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"SAN outside the permitted dNSName",
       {{dns("example.com")}, {}},
       {dns("not-example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       not_permitted},
      {"every SAN must be permitted",
       {{dns("example.com")}, {}},
       {dns("a.example.com"), dns("b.example.org")},
       kWithSan,
       cn_example,
       kLeaf,
       not_permitted},
      {"any one permitted subtree is enough",
       {{dns("example.org"), dns("example.com")}, {}},
       {dns("a.example.com"), dns("b.example.org")},
       kWithSan,
       no_subject,
       kLeaf,
       satisfied},
      {"excluded second SAN",
       {{}, {dns("not-allowed.example.com")}},
       {dns("example.com"), dns("not-allowed.example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       excluded},
      {"excluded wins over permitted",
       {{dns("example.com")}, {dns("example.com")}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       excluded},
      {"constraints of another kind restrict nothing",
       {{ip(doc_24)}, {ip(doc_24)}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"permitted IP, IP SAN inside",
       {{ip(doc_24)}, {}},
       {ip(octets({192, 0, 2, 1}))},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"IPv6 SAN under an IPv4-only permitted list",
       {{ip(doc_24)}, {}},
       {ip(ipv6_octets({0, 0, 0, 0, 0, 0, 0, 1}))},
       kWithSan,
       cn_example,
       kLeaf,
       not_permitted},
      {"wildcard SAN reaching an excluded host",
       {{dns("example.com")}, {dns("bar.example.com")}},
       {dns("*.example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       excluded},
      {"wildcard SAN wider than the permitted host",
       {{dns("foo.example.com")}, {}},
       {dns("*.example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       not_permitted},
      // malformed names of a constrained kind fail; of an unconstrained kind they are not looked at
      {"malformed dNSName under a DNS constraint",
       {{dns("example.com")}, {}},
       {dns(".example.com"), dns("foo.example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_name},
      {"malformed dNSName under an excluded-only DNS constraint",
       {{}, {dns("bad.example.com")}},
       {dns("foo..example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_name},
      {"malformed dNSName, only IP constrained",
       {{ip(doc_24)}, {}},
       {dns(".example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"CIDR range as an IP SAN",
       {{ip(doc_24)}, {}},
       {ip(doc_24), ip(octets({192, 0, 2, 1}))},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_name},
      {"malformed rfc822Name",
       {{email("example.com")}, {}},
       {email("good@example.com"), email("invalid@address@example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_name},
      {"undecodable subjectAltName fails closed",
       {{dns("example.com")}, {}},
       {},
       AltNameExtension::undecodable,
       cn_example,
       kLeaf,
       malformed_name},
      // malformed constraints reject even when no name of that kind is present
      {"leading-dot DNS constraint",
       {{dns(".example.com")}, {}},
       {dns("foo.example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_constraint},
      {"bare IPv4 address as a constraint",
       {{ip(octets({127, 0, 0, 1}))}, {}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_constraint},
      {"malformed rfc822Name constraint",
       {{email("invalid@invalid@example.com")}, {}},
       {email("a@example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_constraint},
      // directoryName: the subject and SAN directoryNames (rfc5280::nc::*-dn-*)
      {"permitted DN holds subject and SAN",
       {{directory({{{kOidCommonName, "foo"}}})}, {}},
       {directory({{{kOidCommonName, "foo"}}})},
       kWithSan,
       cn_foo,
       kLeaf,
       satisfied},
      {"permitted DN, subject outside",
       {{directory({{{kOidCommonName, "foo"}}})}, {}},
       {directory({{{kOidCommonName, "foo"}}})},
       kWithSan,
       cn_not_foo,
       kLeaf,
       not_permitted},
      {"excluded DN matches the subject only",
       {{}, {directory({{{kOidCommonName, "foo"}}})}},
       {directory({{{kOidCommonName, "not-foo"}}})},
       kWithSan,
       cn_foo,
       kLeaf,
       excluded},
      {"an empty subject is not checked",
       {{directory({{{kOidCommonName, "foo"}}})}, {}},
       {dns("example.com")},
       kWithSan,
       no_subject,
       kLeaf,
       satisfied},
      {"intermediate subjects are checked too",
       {{directory({{{kOidCommonName, "foo"}}})}, {}},
       {},
       kNoSan,
       cn_not_foo,
       kIntermediate,
       not_permitted},
      // subject emailAddress obeys rfc822Name constraints
      {"subject emailAddress outside the permitted mailboxes",
       {{email("example.com")}, {}},
       {},
       kNoSan,
       with_email,
       kLeaf,
       not_permitted},
      {"subject emailAddress excluded",
       {{}, {email(".com")}},
       {dns("example.com")},
       kWithSan,
       with_email,
       kIntermediate,
       excluded},
      {"malformed subject emailAddress",
       {{email("example.com")}, {}},
       {},
       kNoSan,
       with_bad_email,
       kLeaf,
       malformed_name},
      {"subject emailAddress, no rfc822Name constraint",
       {{dns("example.com")}, {}},
       {dns("example.com")},
       kWithSan,
       with_email,
       kLeaf,
       satisfied},
      // the commonName a client might fall back to (leaf, no subjectAltName extension)
      {"CN host outside the permitted DNS subtree",
       {{dns("example.com")}, {}},
       {},
       kNoSan,
       cn_localhost,
       kLeaf,
       not_permitted},
      {"CN host in an excluded DNS subtree",
       {{}, {dns("localhost")}},
       {},
       kNoSan,
       cn_localhost,
       kLeaf,
       excluded},
      {"CN host inside the permitted DNS subtree",
       {{dns("localhost")}, {}},
       {},
       kNoSan,
       cn_localhost,
       kLeaf,
       satisfied},
      {"CN IP literal outside the permitted IP subtree",
       {{ip(doc_24)}, {}},
       {},
       kNoSan,
       cn_loopback,
       kLeaf,
       not_permitted},
      {"CN IP literal in an excluded IP subtree",
       {{}, {ip(loopback_24)}},
       {},
       kNoSan,
       cn_loopback,
       kLeaf,
       excluded},
      {"CN IP literal is not a DNS name",
       {{dns("example.com")}, {}},
       {},
       kNoSan,
       cn_loopback,
       kLeaf,
       satisfied},
      {"CN wildcard reaching an excluded host",
       {{}, {dns("bar.example.com")}},
       {},
       kNoSan,
       cn_wildcard,
       kLeaf,
       excluded},
      {"free-text CN is not a host name",
       {{dns("example.com")}, {}},
       {},
       kNoSan,
       cn_free_text,
       kLeaf,
       satisfied},
      {"CN ignored when a subjectAltName exists",
       {{dns("example.com")}, {}},
       {ip(octets({127, 0, 0, 1}))},
       kWithSan,
       cn_localhost,
       kLeaf,
       satisfied},
      {"CN ignored even when the subjectAltName is empty",
       {{dns("example.com")}, {}},
       {},
       kWithSan,
       cn_localhost,
       kLeaf,
       satisfied},
      {"CN of an intermediate is not a host name",
       {{dns("example.com")}, {}},
       {},
       kNoSan,
       cn_localhost,
       kIntermediate,
       satisfied},
      // opaque kinds (rfc5280::nc::nc-forbids-othername, -noop)
      {"excluded otherName present",
       {{dns("example.com")}, {other("1.3.6.1.4.1.55738.666.3", kNullValue)}},
       {dns("example.com"), other("1.3.6.1.4.1.55738.666.3", kNullValue)},
       kWithSan,
       cn_example,
       kLeaf,
       excluded},
      {"excluded otherName, none present",
       {{dns("example.com")}, {other("1.3.6.1.4.1.55738.666.3", kNullValue)}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"excluded otherName, another type present",
       {{}, {other("1.3.6.1.4.1.55738.666.3", kNullValue)}},
       {other(kOidXmppAddr, kXmppAddrValue)},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"excluded otherName, same type, other value",
       {{}, {other(kOidXmppAddr, octets({0x0c, 0x01, 'b'}))}},
       {other(kOidXmppAddr, kXmppAddrValue)},
       kWithSan,
       cn_example,
       kLeaf,
       unsupported_constraint},
      {"permitted otherName, another type present",
       {{other(kOidXmppAddr, kXmppAddrValue)}, {}},
       {other(kOidSrvName, kXmppAddrValue)},
       kWithSan,
       cn_example,
       kLeaf,
       not_permitted},
      {"permitted otherName, same type, other value",
       {{other(kOidXmppAddr, octets({0x0c, 0x01, 'b'}))}, {}},
       {other(kOidXmppAddr, kXmppAddrValue)},
       kWithSan,
       cn_example,
       kLeaf,
       unsupported_constraint},
      {"permitted otherName, exact value",
       {{other(kOidXmppAddr, kXmppAddrValue)}, {}},
       {other(kOidXmppAddr, kXmppAddrValue)},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"excluded ediPartyName with one present",
       {{}, {edi_party()}},
       {edi_party()},
       kWithSan,
       cn_example,
       kLeaf,
       unsupported_constraint},
      {"excluded registeredID, none present",
       {{}, {registered_id("1.2.3")}},
       {dns("example.com")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      // URI
      {"URI inside the permitted domain",
       {{uri(".example.com")}, {}},
       {uri("https://www.example.com/x")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
      {"URI without a host under a URI constraint",
       {{uri(".example.com")}, {}},
       {uri("urn:example:x")},
       kWithSan,
       cn_example,
       kLeaf,
       malformed_name},
      {"URI without a host, only DNS constrained",
       {{dns("example.com")}, {}},
       {dns("example.com"), uri("urn:example:x")},
       kWithSan,
       cn_example,
       kLeaf,
       satisfied},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    Budget budget;
    const NameConstraintResult result = run(row, budget);
    EXPECT_EQ(to_string(result.verdict), std::string(to_string(row.expected))) << result.detail;
    if (!result.ok()) {
      EXPECT_FALSE(result.detail.empty());
    }
  }
}

struct ShapeRow {
  const char* description;
  NameConstraintsExtension extension;
  NameConstraintVerdict expected;
};

NameConstraintsExtension shaped(bool permitted_present, GeneralNames permitted,
                                bool excluded_present, GeneralNames excluded,
                                bool minimum_or_maximum) {
  NameConstraintsExtension extension;
  extension.permitted_present = permitted_present;
  extension.permitted = std::move(permitted);
  extension.excluded_present = excluded_present;
  extension.excluded = std::move(excluded);
  extension.has_minimum_or_maximum = minimum_or_maximum;
  return extension;
}

TEST(NameConstraints, ExtensionShape) {
  using enum NameConstraintVerdict;
  const std::vector<ShapeRow> rows = {
      {"neither list (webpki::nc::...-both-null)", shaped(false, {}, false, {}, false),
       malformed_constraint},
      {"both lists empty (webpki::nc::...-both-empty-sequences)", shaped(true, {}, true, {}, false),
       malformed_constraint},
      {"empty permitted list", shaped(true, {}, true, {dns("bad.example.com")}, false),
       malformed_constraint},
      {"empty excluded list", shaped(true, {dns("example.com")}, true, {}, false),
       malformed_constraint},
      {"minimum or maximum", shaped(true, {dns("example.com")}, false, {}, true),
       malformed_constraint},
      {"permitted only", shaped(true, {dns("example.com")}, false, {}, false), satisfied},
      {"excluded only", shaped(false, {}, true, {dns("bad.example.com")}, false), satisfied},
  };
  const GeneralNames alt_names = {dns("www.example.com")};
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    ConstrainedNames names;
    names.has_subject_alt_name_extension = true;
    names.subject_alt_names = alt_names;
    Budget budget;
    EXPECT_EQ(to_string(check_constrained_names(row.extension, names, budget).verdict),
              std::string(to_string(row.expected)));
  }
}

struct BudgetRow {
  const char* description;
  std::uint32_t allowance;
  std::size_t permitted_count;
  std::size_t excluded_count;
  std::size_t name_count;
  NameConstraintVerdict expected;
  std::uint32_t expected_left;  // allowance left afterwards (0 once exhausted)
};

TEST(NameConstraints, Budget) {
  using enum NameConstraintVerdict;
  const std::vector<BudgetRow> rows = {
      // name i is permitted by subtree i: it costs every excluded subtree plus i + 1 permitted ones
      {"one name, one subtree", 10, 1, 0, 1, satisfied, 9},
      {"exact allowance", 1 + 2 + 3, 3, 0, 3, satisfied, 0},
      {"one comparison short", 1 + 2 + 3 - 1, 3, 0, 3, budget_exhausted, 0},
      {"excluded subtrees count too", 3 * 4 + 6, 3, 4, 3, satisfied, 0},
      {"excluded subtrees exhaust it", 3 * 4 + 5, 3, 4, 3, budget_exhausted, 0},
      {"nothing to compare costs nothing", 0, 0, 5, 0, satisfied, 0},
      {"an empty allowance fails the first comparison", 0, 1, 0, 1, budget_exhausted, 0},
      // pathological::nc-dos-*: 2048 names against 4097 subtrees with the default allowance
      {"nc-dos shape", BudgetLimits{}.name_constraint_comparisons, 2049, 2048, 2048,
       budget_exhausted, 0},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    NameConstraintsExtension extension;
    for (std::size_t i = 0; i < row.permitted_count; ++i)
      extension.permitted.push_back(dns("t" + std::to_string(i) + ".test"));
    for (std::size_t i = 0; i < row.excluded_count; ++i)
      extension.excluded.push_back(dns("x" + std::to_string(i) + ".test"));
    extension.permitted_present = !extension.permitted.empty();
    extension.excluded_present = !extension.excluded.empty();
    GeneralNames alt_names;
    for (std::size_t i = 0; i < row.name_count; ++i)
      alt_names.push_back(dns("t" + std::to_string(i) + ".test"));
    ConstrainedNames names;
    names.has_subject_alt_name_extension = true;
    names.subject_alt_names = alt_names;

    BudgetLimits limits;
    limits.name_constraint_comparisons = row.allowance;
    Budget budget(limits);
    EXPECT_EQ(to_string(check_constrained_names(extension, names, budget).verdict),
              std::string(to_string(row.expected)));
    EXPECT_EQ(budget.remaining().name_constraint_comparisons, row.expected_left);
    EXPECT_EQ(budget.exhausted(), row.expected == budget_exhausted);
  }
}

TEST(NameConstraints, BudgetIsSharedAcrossCalls) {
  // The verifier passes one Budget through every (CA, certificate) pair of every candidate path.
  NameConstraintsExtension extension;
  extension.permitted = {dns("example.com")};
  extension.permitted_present = true;
  const GeneralNames alt_names = {dns("www.example.com")};
  ConstrainedNames names;
  names.has_subject_alt_name_extension = true;
  names.subject_alt_names = alt_names;
  BudgetLimits limits;
  limits.name_constraint_comparisons = 2;
  Budget budget(limits);
  EXPECT_TRUE(check_constrained_names(extension, names, budget).ok());
  EXPECT_TRUE(check_constrained_names(extension, names, budget).ok());
  EXPECT_EQ(check_constrained_names(extension, names, budget).verdict,
            NameConstraintVerdict::budget_exhausted);
}

struct DetailRow {
  const char* description;
  Constraints constraints;
  GeneralNames alt_names;
  std::string expected_detail;
};

TEST(NameConstraints, DetailNamesTheNameAndTheSubtree) {
  const std::vector<DetailRow> rows = {
      {"DNS",
       {{dns("example.com")}, {}},
       {dns("evil.org")},
       "subjectAltName dNSName \"evil.org\" lies outside every permitted dNSName subtree"},
      {"IPv4",
       {{}, {ip(subtree(octets({192, 0, 2, 0}), 24))}},
       {ip(octets({192, 0, 2, 1}))},
       "subjectAltName iPAddress \"192.0.2.1\" lies in excluded iPAddress subtree "
       "\"192.0.2.0/24\""},
      {"IPv6",
       {{}, {ip(subtree(ipv6_octets({0x2001, 0xdb8, 0, 0, 0, 0, 0, 0}), 32))}},
       {ip(ipv6_octets({0x2001, 0xdb8, 0, 0, 0, 0, 0, 1}))},
       "subjectAltName iPAddress \"2001:db8:0:0:0:0:0:1\" lies in excluded iPAddress subtree "
       "\"2001:db8:0:0:0:0:0:0/32\""},
      {"control bytes are escaped",
       {{dns("example.com")}, {}},
       {dns(std::string("a\nb.example.com"))},
       "subjectAltName dNSName \"a\\x0ab.example.com\" is not well formed"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.description);
    ConstrainedNames names;
    names.has_subject_alt_name_extension = true;
    names.subject_alt_names = row.alt_names;
    Budget budget;
    EXPECT_EQ(check_constrained_names(extension_of(row.constraints), names, budget).detail,
              row.expected_detail);
  }
}

}  // namespace
}  // namespace parley::pki
