#pragma once
// Reconnecting after a lost connection: exponential backoff with jitter, a bounded number of
// attempts, and every attempt a complete Connection::open(), so that the certificate the server
// presents is judged again from the start (chain, identity, revocation, the store, the admin
// policy, the prompt). Nothing about an earlier connection's certificate carries over except
// what the user stored with "accept always": a server that comes back with a different
// certificate is a new question, asked again by an interactive client and refused by a script.
//
// Which failures are worth another attempt (classify()):
//  - transient: the TCP connection, the stream, the TLS handshake, resource binding (a server
//    restarting, a network down, a server still starting);
//  - permanent: the certificate was refused, STARTTLS missing (a downgrade is an attack, not an
//    outage), authentication refused (retrying a wrong password only locks the account).
//
// Delays: attempt n waits min(max_delay, first_delay * multiplier^(n-1)), reduced by a random
// fraction of at most `jitter` so that clients that lost the same server do not all come back in
// the same instant. The first attempt waits too, for that reason.
//
// What this does not do: notice that a connection was lost (the caller sees the error), or restore
// what the session had (presence, rooms: the caller resumes the XEP-0198 session through its
// OpenConnection when the server can, and re-announces and re-joins when it cannot).

#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <memory>
#include <optional>

#include "client/connection.hpp"

namespace parley::client {

struct BackoffPolicy {
  std::chrono::milliseconds first_delay{1000};
  std::chrono::milliseconds max_delay{30'000};
  double multiplier = 2.0;
  double jitter = 0.5;            // 0: exact delays; 0.5: each delay in [delay/2, delay]
  std::size_t max_attempts = 10;  // attempts after a loss before giving up (at least 1)
};

class Backoff {
 public:
  // `uniform` returns numbers in [0, 1); the default draws from a random device.
  explicit Backoff(BackoffPolicy policy, std::function<double()> uniform = {});

  // The wait before the next attempt, counting it; nullopt when the attempts are used up.
  std::optional<std::chrono::milliseconds> next_delay();
  // After a successful connection: the next loss starts from the first delay again.
  void reset() { attempts_ = 0; }
  std::size_t attempts() const { return attempts_; }
  const BackoffPolicy& policy() const { return policy_; }

 private:
  BackoffPolicy policy_;
  std::function<double()> uniform_;
  std::size_t attempts_ = 0;
};

enum class FailureClass { transient, permanent };
FailureClass classify(const ConnectionFailure& failure);

using OpenConnection =
    std::function<std::expected<std::unique_ptr<Connection>, ConnectionFailure>()>;
// Waits for the given time; false when the caller wants to stop instead (a signal, the user
// quitting), which ends reconnect() at once.
using InterruptibleWait = std::function<bool(std::chrono::milliseconds)>;

struct ReconnectAttempt {
  std::size_t attempt = 0;  // 1-based
  std::chrono::milliseconds delay{0};
};

enum class ReconnectEnd { permanent_failure, attempts_exhausted, stopped };
struct ReconnectFailure {
  ReconnectEnd end = ReconnectEnd::attempts_exhausted;
  std::optional<ConnectionFailure> last;  // the last attempt's failure, when there was one
  std::size_t attempts = 0;
};

struct ReconnectObserver {
  std::function<void(const ReconnectAttempt&)> before_attempt;  // may be empty
  std::function<void(const ReconnectAttempt&, const ConnectionFailure&)> after_failure;
};

// Waits and tries, as the backoff says, until a connection opens, a permanent failure, the
// attempts run out, or `wait` says to stop. The backoff is reset on success.
std::expected<std::unique_ptr<Connection>, ReconnectFailure> reconnect(
    const OpenConnection& open, Backoff& backoff, const InterruptibleWait& wait,
    const ReconnectObserver& observer = {});

}  // namespace parley::client
