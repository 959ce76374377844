#include "core/utc_time.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

namespace parley {
namespace {

TEST(UtcTimestamp, WritesXep0082DateTimeInUtc) {
  EXPECT_EQ(utc_timestamp(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_timestamp(1'000'000'000), "2001-09-09T01:46:40Z");
  EXPECT_EQ(utc_timestamp(-1), "1969-12-31T23:59:59Z");
  EXPECT_EQ(utc_timestamp(951'782'400), "2000-02-29T00:00:00Z");  // a leap day
}

TEST(UtcTimestamp, ATimeBeyondTheCalendarIsWrittenAsSeconds) {
  const std::int64_t far = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(utc_timestamp(far), std::to_string(far));
}

}  // namespace
}  // namespace parley
