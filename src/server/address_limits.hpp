#pragma once
// Per client address bounds: concurrent connections and failed authentications in a sliding
// minute. An address over a bound is refused before it costs the server any work (no TLS
// handshake for a connection over the limit, no proof check for a login over the limit).
#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>

namespace parley::server {

class AddressLimits {
 public:
  using Clock = std::chrono::steady_clock;

  AddressLimits(std::size_t max_connections_per_address, std::size_t auth_failures_per_minute)
      : max_connections_(max_connections_per_address), max_failures_(auth_failures_per_minute) {}

  // False when the address already holds the maximum; otherwise counts one more connection.
  bool try_open(const std::string& address);
  void close(const std::string& address);
  std::size_t connections(const std::string& address) const;

  // True when this address may try to authenticate now.
  bool may_authenticate(const std::string& address, Clock::time_point now);
  void record_auth_failure(const std::string& address, Clock::time_point now);

 private:
  void forget_old_failures(std::deque<Clock::time_point>& failures, Clock::time_point now) const;

  std::size_t max_connections_;
  std::size_t max_failures_;
  std::unordered_map<std::string, std::size_t> connections_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

}  // namespace parley::server
