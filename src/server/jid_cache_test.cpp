#include "server/jid_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace parley::server {
namespace {

TEST(JidCacheTest, GivesWhatParsingGivesTheFirstTimeAndAfter) {
  JidCache cache;
  for (std::string_view text :
       {"Juliet@Example.COM/Balcony", "juliet@example.com", "example.com.", "romeo@[::1]/r"}) {
    auto expected = xmpp::Jid::parse(text);
    ASSERT_TRUE(expected) << text;
    for (int round = 0; round < 2; ++round) {
      auto cached = cache.parse(text);
      ASSERT_TRUE(cached) << text << " round " << round;
      EXPECT_EQ(*cached, *expected) << text << " round " << round;
      EXPECT_EQ(cached->to_string(), expected->to_string());
    }
  }
  EXPECT_EQ(cache.size(), 4u);
}

TEST(JidCacheTest, FailuresAreReportedEveryTimeAndNotKept) {
  JidCache cache;
  for (int round = 0; round < 2; ++round) {
    auto bad = cache.parse("a b@example.com");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, xmpp::Jid::parse("a b@example.com").error().message);
  }
  EXPECT_EQ(cache.size(), 0u);
}

TEST(JidCacheTest, StaysBounded) {
  JidCache cache;
  const std::string long_resource(JidCache::kMaxCachedTextOctets, 'r');
  auto long_jid = cache.parse("user@example.com/" + long_resource);
  ASSERT_TRUE(long_jid);
  EXPECT_EQ(long_jid->resourcepart(), long_resource);
  EXPECT_EQ(cache.size(), 0u) << "long texts are parsed, not kept";

  for (std::size_t i = 0; i < JidCache::kMaxEntries + 10; ++i) {
    auto jid = cache.parse("user" + std::to_string(i) + "@example.com");
    ASSERT_TRUE(jid);
    EXPECT_EQ(jid->localpart(), "user" + std::to_string(i));
    EXPECT_LE(cache.size(), JidCache::kMaxEntries);
  }
  EXPECT_EQ(cache.size(), 10u) << "a full cache starts over";
}

}  // namespace
}  // namespace parley::server
