#pragma once
// One way to write a point in time for people and for XMPP: "2026-11-28T19:40:00Z", the
// XEP-0082 DateTime profile in UTC (also RFC 3339). Used for stanza delay stamps, certificate
// validity in messages and reports.
#include <cstdint>
#include <string>

namespace parley {

// Seconds since the Unix epoch, in UTC; a time gmtime cannot represent (beyond year 2^31 on
// this platform) is written as its number of seconds rather than a wrong date.
std::string utc_timestamp(std::int64_t unix_seconds);

}  // namespace parley
