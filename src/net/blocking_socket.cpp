#include "net/blocking_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace parley::net {
namespace {

// Milliseconds left until the deadline for poll(); 0 once it has passed (poll then only checks).
int remaining_ms(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  return left.count() > 60'000 ? 60'000 : static_cast<int>(left.count());
}

// Waits for `events` on fd. Returns false on timeout; EINTR restarts with the time that is left.
Result<bool> wait_for(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int timeout = remaining_ms(deadline);
    const int n = ::poll(&p, 1, timeout);
    if (n > 0) return true;
    if (n == 0) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      continue;  // the 60 s cap expired before the deadline
    }
    if (errno != EINTR) return fail(Error::io(std::string("poll: ") + std::strerror(errno)));
  }
}

std::string describe_address(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(address);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  const auto* a = reinterpret_cast<const sockaddr_in*>(address);
  ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(a->sin_port));
}

struct AddrinfoFree {
  void operator()(addrinfo* list) const { ::freeaddrinfo(list); }
};

// One attempt at one address; the descriptor is returned only once connected.
Result<int> connect_one(const addrinfo& ai, const std::string& peer, Deadline deadline,
                        const std::string& source_address) {
  const int fd =
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol);
  if (fd < 0) return fail(Error::io("socket for " + peer + ": " + std::strerror(errno)));
  auto close_and_fail = [fd](Error e) {
    ::close(fd);
    return fail(std::move(e));
  };
  // XMPP is request/response with small writes (a stanza, then a ping): with Nagle's algorithm
  // the second write waits for the ACK of the first, which the peer delays (~40 ms on Linux) -
  // twice per `parley send`. Failing to set it only costs time, so the result is not checked.
  const int on = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (!source_address.empty()) {
    sockaddr_storage source{};
    socklen_t source_length = 0;
    if (ai.ai_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&source);
      a->sin6_family = AF_INET6;
      if (::inet_pton(AF_INET6, source_address.c_str(), &a->sin6_addr) != 1)
        return close_and_fail(Error::invalid_argument("not an IPv6 source address for " + peer +
                                                      ": " + source_address));
      source_length = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&source);
      a->sin_family = AF_INET;
      if (::inet_pton(AF_INET, source_address.c_str(), &a->sin_addr) != 1)
        return close_and_fail(Error::invalid_argument("not an IPv4 source address for " + peer +
                                                      ": " + source_address));
      source_length = sizeof *a;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&source), source_length) != 0)
      return close_and_fail(
          Error::io("binding to " + source_address + ": " + std::strerror(errno)));
  }
  if (::connect(fd, ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      const int error = errno;
      return close_and_fail(Error::io(error == ECONNREFUSED
                                          ? "connection refused by " + peer
                                          : "connecting to " + peer + ": " + std::strerror(error)));
    }
    auto ready = wait_for(fd, POLLOUT, deadline);
    if (!ready) return close_and_fail(ready.error());
    if (!*ready) return close_and_fail(Error::io("timed out connecting to " + peer));
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) error = errno;
    if (error != 0) {
      return close_and_fail(Error::io(error == ECONNREFUSED
                                          ? "connection refused by " + peer
                                          : "connecting to " + peer + ": " + std::strerror(error)));
    }
  }
  return fd;
}

}  // namespace

Result<BlockingSocket> BlockingSocket::connect(const std::string& host, std::uint16_t port,
                                               Deadline deadline) {
  return connect_from({}, host, port, deadline);
}

Result<BlockingSocket> BlockingSocket::connect_from(const std::string& source_address,
                                                    const std::string& host, std::uint16_t port,
                                                    Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
  addrinfo* raw = nullptr;
  const std::string service = std::to_string(port);
  const int status = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw);
  if (status != 0) return fail(Error::io("resolving " + host + ": " + ::gai_strerror(status)));
  const std::unique_ptr<addrinfo, AddrinfoFree> list(raw);

  // Try every address (a name may have IPv6 and IPv4 ones); report the last failure, which for a
  // single address is the only one.
  Error last = Error::io("resolving " + host + ": no addresses");
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return fail(Error::io("timed out connecting to " + host + ":" + service));
    }
    const std::string peer = describe_address(ai->ai_addr);
    auto fd = connect_one(*ai, peer, deadline, source_address);
    if (fd) return BlockingSocket(*fd, peer);
    last = fd.error();
  }
  return fail(std::move(last));
}

BlockingSocket::BlockingSocket(BlockingSocket&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), peer_(std::move(other.peer_)) {}

BlockingSocket& BlockingSocket::operator=(BlockingSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    peer_ = std::move(other.peer_);
  }
  return *this;
}

BlockingSocket::~BlockingSocket() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> BlockingSocket::send_all(std::string_view text, Deadline deadline) {
  return send_all(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                  deadline);
}

Result<void> BlockingSocket::send_all(std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    // MSG_NOSIGNAL: a peer that closed must give EPIPE, not kill the process with SIGPIPE.
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto ready = wait_for(fd_, POLLOUT, deadline);
      if (!ready) return fail(ready.error());
      if (!*ready) return fail(Error::io("timed out sending to " + peer_));
      continue;
    }
    return fail(Error::io("sending to " + peer_ + ": " + std::strerror(errno)));
  }
  return {};
}

Result<std::size_t> BlockingSocket::receive_some(std::span<std::uint8_t> buffer,
                                                 Deadline deadline) {
  if (buffer.empty()) return fail(Error::invalid_argument("receive_some: empty buffer"));
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      auto ready = wait_for(fd_, POLLIN, deadline);
      if (!ready) return fail(ready.error());
      if (!*ready) return fail(Error::io("timed out waiting for data from " + peer_));
      continue;
    }
    return fail(Error::io("receiving from " + peer_ + ": " + std::strerror(errno)));
  }
}

}  // namespace parley::net
