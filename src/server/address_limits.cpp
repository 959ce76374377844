#include "server/address_limits.hpp"

namespace parley::server {

bool AddressLimits::try_open(const std::string& address) {
  auto& count = connections_[address];
  if (count >= max_connections_) {
    if (count == 0) connections_.erase(address);
    return false;
  }
  ++count;
  return true;
}

void AddressLimits::close(const std::string& address) {
  auto it = connections_.find(address);
  if (it == connections_.end()) return;
  if (--it->second == 0) connections_.erase(it);
}

std::size_t AddressLimits::connections(const std::string& address) const {
  auto it = connections_.find(address);
  return it == connections_.end() ? 0 : it->second;
}

void AddressLimits::forget_old_failures(std::deque<Clock::time_point>& failures,
                                        Clock::time_point now) const {
  while (!failures.empty() && now - failures.front() >= std::chrono::minutes(1))
    failures.pop_front();
}

bool AddressLimits::may_authenticate(const std::string& address, Clock::time_point now) {
  auto it = failures_.find(address);
  if (it == failures_.end()) return true;
  forget_old_failures(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return true;
  }
  return it->second.size() < max_failures_;
}

void AddressLimits::record_auth_failure(const std::string& address, Clock::time_point now) {
  auto& failures = failures_[address];
  forget_old_failures(failures, now);
  // Never more entries than the limit: older ones carry no extra information.
  if (failures.size() >= max_failures_) failures.pop_front();
  failures.push_back(now);
}

}  // namespace parley::server
