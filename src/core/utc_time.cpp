#include "core/utc_time.hpp"

#include <ctime>

namespace parley {

std::string utc_timestamp(std::int64_t unix_seconds) {
  const auto seconds = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  if (::gmtime_r(&seconds, &parts) == nullptr) return std::to_string(unix_seconds);
  char text[64];
  if (std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts) == 0)
    return std::to_string(unix_seconds);
  return text;
}

}  // namespace parley
