#include "xmpp/base64.hpp"

#include <gtest/gtest.h>

namespace parley::xmpp {
namespace {

struct RoundTrip {
  std::string_view bytes;
  std::string_view text;
};

// RFC 4648 section 10.
TEST(Base64, Rfc4648Vectors) {
  const RoundTrip cases[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const RoundTrip& c : cases) {
    EXPECT_EQ(base64_encode(c.bytes), c.text);
    const Result<std::string> decoded = base64_decode_strict(c.text, 100);
    ASSERT_TRUE(decoded) << c.text << ": " << decoded.error().message;
    EXPECT_EQ(*decoded, c.bytes);
  }
}

TEST(Base64, RefusesEverythingButTheCanonicalSpelling) {
  const std::string_view bad[] = {
      "Zg",        // no padding
      "Zg=",       // short padding
      "Zh==",      // non-zero unused bits (canonical: "Zg==")
      "Zm9=",      // non-zero unused bits (canonical: "Zm8=")
      "Zm9v\n",    // whitespace
      "Zm 9v",     // whitespace inside
      "Zm9v====",  // padding as a whole group
      "Z===",      // three padding characters
      "=Zm9",      // padding first
      "Zg==Zm9v",  // padding in the middle
      "Zm-_",      // URL-safe alphabet
      "Zm9\x80",   // non-ASCII
  };
  for (const std::string_view text : bad) {
    EXPECT_FALSE(base64_decode_strict(text, 100)) << text;
  }
}

TEST(Base64, BoundsTheOutputBeforeDecoding) {
  const Result<std::string> decoded = base64_decode_strict(std::string(4000, 'A'), 100);
  ASSERT_FALSE(decoded);
  EXPECT_EQ(decoded.error().kind, ErrorKind::limit);
}

}  // namespace
}  // namespace parley::xmpp
