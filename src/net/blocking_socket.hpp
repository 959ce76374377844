#pragma once
// A blocking TCP client socket whose every operation ends by a deadline, for command-line tools
// (parley-cert probe) that talk to one server in sequence and must not hang on a silent one.
// Internally the descriptor is non-blocking and each step waits with poll() until the deadline,
// so a peer that accepts and then says nothing costs at most the time left, never forever.
//
// What it does not do: name resolution with a deadline (getaddrinfo() has none; callers that
// need one pass a numeric address), TLS (tls::Session pumps ciphertext through this), or
// anything asynchronous (the daemon and the client use Asio).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/error.hpp"

namespace parley::net {

using Deadline = std::chrono::steady_clock::time_point;

class BlockingSocket {
 public:
  // Connects to host:port (a name or a numeric address), trying each resolved address in turn
  // until one answers or the deadline passes. Errors name the address: "connection refused by
  // 127.0.0.1:5222", "timed out connecting to 127.0.0.1:5222".
  static Result<BlockingSocket> connect(const std::string& host, std::uint16_t port,
                                        Deadline deadline);
  // Like connect(), from the numeric local address `source_address` (bound before connecting):
  // another loopback address is another client to a server's per-address limits.
  static Result<BlockingSocket> connect_from(const std::string& source_address,
                                             const std::string& host, std::uint16_t port,
                                             Deadline deadline);

  BlockingSocket(BlockingSocket&& other) noexcept;
  BlockingSocket& operator=(BlockingSocket&& other) noexcept;
  BlockingSocket(const BlockingSocket&) = delete;
  BlockingSocket& operator=(const BlockingSocket&) = delete;
  ~BlockingSocket();

  // Sends every byte or fails (timeout, reset).
  Result<void> send_all(std::span<const std::uint8_t> bytes, Deadline deadline);
  Result<void> send_all(std::string_view text, Deadline deadline);
  // Receives at most buffer.size() bytes (at least one); 0 means the peer closed the connection.
  // The buffer size is the caller's bound on one read.
  Result<std::size_t> receive_some(std::span<std::uint8_t> buffer, Deadline deadline);

  // "127.0.0.1:5222", "[::1]:5222": the address actually connected to, for messages.
  const std::string& peer() const { return peer_; }

 private:
  BlockingSocket(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  int fd_ = -1;
  std::string peer_;
};

}  // namespace parley::net
