#include "xmpp/jid.hpp"

#include <gtest/gtest.h>

#include "pki/identity.hpp"
#include "xmpp/precis.hpp"

namespace parley::xmpp {
namespace {

enum class Needs { ascii, unicode };  // unicode: the case needs ICU (precis::unicode_available)

struct ValidCase {
  std::string_view input;
  std::string_view localpart;
  std::string_view domainpart;
  std::string_view resourcepart;
  Needs needs = Needs::ascii;
};

// RFC 7622 3.5 "Examples", 3.5.1 (valid), plus the preparation rules of 3.2-3.4.
const ValidCase kValid[] = {
    {"juliet@example.com", "juliet", "example.com", ""},
    {"juliet@example.com/foo", "juliet", "example.com", "foo"},
    {"juliet@example.com/foo bar", "juliet", "example.com", "foo bar"},
    {"juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"},
    {"foo\\20bar@example.com", "foo\\20bar", "example.com", ""},
    {"fussball@example.com", "fussball", "example.com", ""},
    {"fu\xc3\x9f"
     "ball@example.com",
     "fu\xc3\x9f"
     "ball",
     "example.com", "", Needs::unicode},
    {"\xcf\x80@example.com", "\xcf\x80", "example.com", "", Needs::unicode},         // π
    {"\xce\xa3@example.com/foo", "\xcf\x83", "example.com", "foo", Needs::unicode},  // Σ -> σ
    {"\xcf\x83@example.com/foo", "\xcf\x83", "example.com", "foo", Needs::unicode},  // σ
    {"\xcf\x82@example.com/foo", "\xcf\x82", "example.com", "foo", Needs::unicode},  // ς
    {"king@example.com/\xe2\x99\x9a", "king", "example.com", "\xe2\x99\x9a", Needs::unicode},  // ♚
    {"example.com", "", "example.com", ""},
    {"example.com/foobar", "", "example.com", "foobar"},
    {"a.example.com/b@example.net", "", "a.example.com", "b@example.net"},
    // Case: localpart and domainpart fold, resourcepart does not.
    {"Juliet@Example.COM/Balcony", "juliet", "example.com", "Balcony"},
    // RFC 7622 3.2: a final dot is removed.
    {"juliet@example.com./r", "juliet", "example.com", "r"},
    // IP literals.
    {"juliet@192.0.2.1", "juliet", "192.0.2.1", ""},
    {"juliet@[2001:DB8::1]/r", "juliet", "[2001:db8::1]", "r"},
    {"localhost", "", "localhost", ""},
    // The resourcepart is everything after the first '/'.
    {"a@b/c/d@e", "a", "b", "c/d@e"},
    // IDNA2008: U-labels to A-labels.
    {"juliet@caf\xc3\xa9.example", "juliet", "xn--caf-dma.example", "", Needs::unicode},
    // Fullwidth letters map to their ASCII forms in a localpart (width mapping).
    {"\xef\xbc\xaa"
     "uliet@example.com",
     "juliet", "example.com", "", Needs::unicode},
    // OpaqueString: NFC (e + combining acute -> é), non-ASCII space -> U+0020.
    {"a@b/e\xcc\x81", "a", "b", "\xc3\xa9", Needs::unicode},
    {"a@b/x\xc2\xa0y", "a", "b", "x y", Needs::unicode},
};

TEST(Jid, ParsesAndPreparesValidAddresses) {
  for (const ValidCase& c : kValid) {
    if (c.needs == Needs::unicode && !precis::unicode_available()) continue;
    if (c.needs == Needs::unicode && c.domainpart.starts_with("xn--") &&
        !pki::idna_conversion_available()) {
      continue;
    }
    const Result<Jid> jid = Jid::parse(c.input);
    ASSERT_TRUE(jid) << c.input << ": " << jid.error().message;
    EXPECT_EQ(jid->localpart(), c.localpart) << c.input;
    EXPECT_EQ(jid->domainpart(), c.domainpart) << c.input;
    EXPECT_EQ(jid->resourcepart(), c.resourcepart) << c.input;
    // What to_string writes parses back to the same Jid.
    const Result<Jid> again = Jid::parse(jid->to_string());
    ASSERT_TRUE(again) << jid->to_string();
    EXPECT_EQ(*again, *jid);
  }
}

struct InvalidCase {
  std::string_view input;
  std::string_view message_contains;  // the part named, or the problem
  Needs needs = Needs::ascii;
};

// RFC 7622 3.5.2 (invalid), and each rule of 3.2-3.4 broken once.
const InvalidCase kInvalid[] = {
    {"\"juliet\"@example.com", "localpart"},
    {"foo bar@example.com", "localpart"},
    {"@example.com/", "empty localpart"},
    {"henry\xe2\x85\xa3@example.com/", "resourcepart"},  // empty resourcepart checked first
    {"henry\xe2\x85\xa3@example.com", "localpart", Needs::unicode},  // Ⅳ has a compat mapping
    {"\xe2\x99\x9a@example.com", "localpart", Needs::unicode},       // ♚ is a symbol
    {"juliet@", "empty domainpart"},
    {"/foobar", "empty domainpart"},
    {"", "empty"},
    {"juliet@example.com/", "empty resourcepart"},
    {"a&b@example.com", "localpart"},
    {"a'b@example.com", "localpart"},
    {"a:b@example.com", "localpart"},
    {"a<b@example.com", "localpart"},
    {"a>b@example.com", "localpart"},
    {"a@b@example.com", "domainpart"},
    {"a\tb@example.com", "localpart"},
    {"juliet@example.com/a\x01"
     "b",
     "resourcepart"},
    {"juliet@example.com/a\x7f", "resourcepart"},
    {"juliet@exa mple.com", "domainpart"},
    {"juliet@example..com", "domainpart"},
    {"juliet@example.com..", "domainpart"},
    {"juliet@.", "domainpart"},
    {"juliet@-example.com", "domainpart"},
    {"juliet@example_1.com", "domainpart"},
    {"juliet@2001:db8::1", "domainpart"},  // IPv6 needs brackets
    {"juliet@[2001:db8::1", "domainpart"},
    {"juliet@[example.com]", "domainpart"},
    {"juliet@example.com:5222", "domainpart"},
    {"juliet@1.2.3", "domainpart"},
    {"juliet@256.1.1.1", "domainpart"},
    {"juliet@\xff.example", "domainpart"},
    {"\xc3\x28@example.com", "localpart"},  // invalid UTF-8
    {"juliet@example.com/\xc3\x28", "resourcepart"},
    {"a\xe2\x80\x8d"
     "b@example.com",
     "localpart", Needs::unicode},                                   // ZERO WIDTH JOINER
    {"a@example.com/\xef\xbf\xbf", "resourcepart", Needs::unicode},  // noncharacter U+FFFF
};

TEST(Jid, RefusesInvalidAddressesNamingThePart) {
  for (const InvalidCase& c : kInvalid) {
    if (c.needs == Needs::unicode && !precis::unicode_available()) continue;
    const Result<Jid> jid = Jid::parse(c.input);
    ASSERT_FALSE(jid) << c.input << " parsed as " << jid->to_string();
    EXPECT_NE(jid.error().message.find(c.message_contains), std::string::npos)
        << c.input << ": " << jid.error().message;
  }
}

TEST(Jid, PartLengthLimits) {
  const std::string max_local(kMaxJidPartOctets, 'a');
  EXPECT_TRUE(Jid::parse(max_local + "@example.com"));
  EXPECT_FALSE(Jid::parse(max_local + "a@example.com"));
  EXPECT_TRUE(Jid::parse("example.com/" + std::string(kMaxJidPartOctets, 'r')));
  EXPECT_FALSE(Jid::parse("example.com/" + std::string(kMaxJidPartOctets + 1, 'r')));
  const Result<Jid> huge = Jid::parse(std::string(100000, 'a'));
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().kind, ErrorKind::limit);
}

TEST(Jid, NonAsciiWithoutIcuIsRefusedClearly) {
  if (precis::unicode_available())
    GTEST_SKIP() << "this build links ICU (CMake always does); the non-ASCII refusal tested here "
                    "exists only in builds without it";
  const Result<Jid> jid = Jid::parse("\xcf\x80@example.com");
  ASSERT_FALSE(jid);
  EXPECT_NE(jid.error().message.find("ICU"), std::string::npos) << jid.error().message;
}

TEST(Jid, BareFullAndComparison) {
  const Result<Jid> full = Jid::parse("Juliet@Example.com/Balcony");
  ASSERT_TRUE(full);
  EXPECT_TRUE(full->is_full());
  EXPECT_EQ(full->to_string(), "juliet@example.com/Balcony");
  EXPECT_EQ(full->bare_string(), "juliet@example.com");
  EXPECT_TRUE(full->bare().is_bare());
  EXPECT_EQ(full->bare(), *Jid::parse("JULIET@example.com."));
  EXPECT_NE(*full, *Jid::parse("juliet@example.com/balcony"));  // resourceparts keep case
  EXPECT_LT(*Jid::parse("a@example.com"), *Jid::parse("b@example.com"));

  const Result<Jid> parts = Jid::from_parts("Romeo", "Example.NET", "");
  ASSERT_TRUE(parts);
  EXPECT_EQ(parts->to_string(), "romeo@example.net");
  EXPECT_FALSE(Jid::from_parts("", "", "r"));
}

}  // namespace
}  // namespace parley::xmpp
