#pragma once
// A real program started by an integration test (openssl ocsp, an HTTP server, later Prosody or
// ejabberd), owned like any other resource: the destructor stops it by its PID, so a failing
// ASSERT that returns early still leaves no process behind. Output goes to a log file the test
// can quote when the peer does not come up.
//
// What it does not do: sandbox the peer (it shares the network namespace; tests connect to it on
// 127.0.0.1 only), restart it, or stop grandchildren (peers used here do not fork).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace parley::integration {

class PeerProcess {
 public:
  // Starts argv[0] (looked up in PATH when it has no slash) with the given arguments; stdin is
  // /dev/null, stdout and stderr go to `log_path`.
  static Result<std::unique_ptr<PeerProcess>> start(std::vector<std::string> argv,
                                                    std::string log_path);

  // SIGTERM, up to two seconds to exit, then SIGKILL; always reaps the child.
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  // Waits until a TCP socket listens on `port` (any local address that covers 127.0.0.1). Fails
  // when the process exits first or the timeout passes; the error quotes the end of the log.
  // It looks at the kernel's socket table instead of connecting: a single-threaded peer such as
  // `openssl ocsp` can get stuck on a probe connection that sends no request.
  Result<void> wait_until_listening(std::uint16_t port, std::chrono::milliseconds timeout);

  pid_t pid() const { return pid_; }
  // Waits up to `timeout` for the process to end; its exit code, or nullopt when it is still
  // running or a signal ended it.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  // False once the process has ended, however it ended (it is reaped then).
  bool running() { return !has_exited(); }
  std::string log_tail(std::size_t max_bytes = 2000) const;

 private:
  PeerProcess(pid_t pid, std::string description, std::string log_path)
      : pid_(pid), description_(std::move(description)), log_path_(std::move(log_path)) {}
  bool has_exited();

  pid_t pid_ = -1;
  bool reaped_ = false;
  std::optional<int> exit_code_;
  std::string description_;  // the command line, for messages
  std::string log_path_;
};

// True when a TCP socket listens on `port` on 127.0.0.1 or a wildcard address, IPv4 or IPv6
// (Linux /proc/net/tcp and tcp6), i.e. when a peer could not bind it or a test would reach
// someone else's server there.
bool port_is_listening(std::uint16_t port);

// A listening socket on 127.0.0.1:port that never accepts or answers: the kernel completes the
// handshake from its backlog, so a client connects and then waits for a response that never
// comes. The "hanging responder".
class SilentListener {
 public:
  static Result<std::unique_ptr<SilentListener>> open(std::uint16_t port);
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

 private:
  explicit SilentListener(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace parley::integration
