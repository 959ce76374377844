#include "net/blocking_socket.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

namespace parley::net {
namespace {

using namespace std::chrono_literals;

// A listening socket on 127.0.0.1 with a kernel-chosen port; accepts one connection and says
// which address it came from.
class LoopbackListener {
 public:
  LoopbackListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
      return;
    port_ = ntohs(address.sin_port);
  }
  ~LoopbackListener() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;

  std::uint16_t port() const { return port_; }

  std::string accept_source() {
    sockaddr_in peer{};
    socklen_t length = sizeof peer;
    const int accepted = ::accept(fd_, reinterpret_cast<sockaddr*>(&peer), &length);
    if (accepted < 0) return {};
    ::close(accepted);
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
    return text;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

TEST(BlockingSocketTest, ConnectFromUsesTheGivenSourceAddress) {
  LoopbackListener listener;
  ASSERT_NE(listener.port(), 0);
  struct Case {
    std::string source;
    std::string seen_by_server;
  };
  for (const Case& c :
       {Case{"", "127.0.0.1"}, Case{"127.0.0.2", "127.0.0.2"}, Case{"127.0.0.3", "127.0.0.3"}}) {
    SCOPED_TRACE(c.source);
    auto socket = c.source.empty()
                      ? BlockingSocket::connect("127.0.0.1", listener.port(),
                                                std::chrono::steady_clock::now() + 5s)
                      : BlockingSocket::connect_from(c.source, "127.0.0.1", listener.port(),
                                                     std::chrono::steady_clock::now() + 5s);
    ASSERT_TRUE(socket) << socket.error().message;
    EXPECT_EQ(listener.accept_source(), c.seen_by_server);
  }
}

TEST(BlockingSocketTest, ConnectFromRefusesAnUnusableSourceAddress) {
  LoopbackListener listener;
  ASSERT_NE(listener.port(), 0);
  struct Case {
    std::string source;
    ErrorKind kind;
  };
  // Not an address at all; an IPv6 source for an IPv4 peer; an address this host does not have.
  for (const Case& c :
       {Case{"not-an-address", ErrorKind::invalid_argument},
        Case{"::1", ErrorKind::invalid_argument}, Case{"192.0.2.1", ErrorKind::io}}) {
    SCOPED_TRACE(c.source);
    auto socket = BlockingSocket::connect_from(c.source, "127.0.0.1", listener.port(),
                                               std::chrono::steady_clock::now() + 5s);
    ASSERT_FALSE(socket);
    EXPECT_EQ(socket.error().kind, c.kind) << socket.error().message;
    EXPECT_NE(socket.error().message.find(c.source), std::string::npos) << socket.error().message;
  }
}

}  // namespace
}  // namespace parley::net
