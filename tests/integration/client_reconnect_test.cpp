// Reconnection (src/client/reconnect.hpp) as a user sees it: `parley listen --reconnect` keeps
// running while parleyd is killed (SIGKILL: no goodbye on the stream) and started again.
//  - The message sent after the restart arrives: the listener noticed the loss, waited as the
//    backoff says, connected again, announced presence again.
//  - When the server comes back with a different certificate (self-signed instead of the
//    CA-signed chain), the reconnection judges it from the start and, without a terminal,
//    refuses it: exit 1 at the certificate stage with the reasons, nothing stored. The first
//    certificate's acceptance is not carried over to the second.
//  - When only the connection breaks (a relay between client and server cuts it) and the server
//    keeps the session, the reconnection resumes it (XEP-0198 6): no new presence, and the message
//    sent to the session while it was cut arrives. Against parleyd and Prosody 0.12.
//
// Ports (xmpp_peers.hpp, 19220-19249): 19228-19229 parleyd (started, killed and started again);
// 19234-19235 parleyd and 19236 its relay; 19237-19238 Prosody and 19239 its relay.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "client_support.hpp"
#include "parleyd_peer.hpp"
#include "xmpp_peers.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 19228;

XmppPeerOptions server_options(const std::string& chain, const std::string& key) {
  XmppPeerOptions options;
  options.c2s_port = kPort;
  options.direct_tls_port = kPort + 1;
  options.certificate_chain_file = fixture(chain);
  options.private_key_file = fixture(key);
  options.accounts = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
  return options;
}

std::vector<std::string> arguments(const ParleyUser& user, const std::string& localpart,
                                   std::vector<std::string> rest) {
  std::vector<std::string> argv{"--account",
                                localpart + "@example.test",
                                "--server",
                                "127.0.0.1:" + std::to_string(kPort),
                                "--ca",
                                fixture("chains/p256/root.crt"),
                                "--password-file",
                                user.password_file(localpart + "-secret").string()};
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t count = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// Kills the server the hard way and waits until it is gone (and its port free).
void kill_server(std::unique_ptr<ParleydPeer>& server) {
  server->signal(SIGKILL);
  (void)server->wait_for_exit(10s);
  server.reset();
}

class ClientReconnect : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  }
  std::unique_ptr<ParleydPeer> start(const std::string& chain, const std::string& key) {
    auto started = ParleydPeer::start(server_options(chain, key));
    EXPECT_TRUE(started) << started.error().message;
    return started ? std::move(*started) : nullptr;
  }
};

TEST_F(ClientReconnect, ListenGetsTheMessageSentAfterAServerRestart) {
  auto server = start("chains/p256/chain.pem", "chains/p256/leaf.key");
  ASSERT_NE(server, nullptr);
  ParleyUser alice("alice-reconnect"), bob("bob-reconnect");
  auto listener = BackgroundParley::start(
      bob,
      arguments(bob, "bob",
                {"--json", "listen", "--reconnect", "--count", "2", "--timeout", "120"}),
      "listen");
  ASSERT_TRUE(listener) << listener.error().message;
  ASSERT_TRUE((*listener)->wait_for_output("\"listening\"", 30s)) << (*listener)->output();

  auto before =
      alice.run(arguments(alice, "alice", {"send", "bob@example.test", "before the restart"}));
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_EQ(before->exit_code, 0) << before->output;
  ASSERT_TRUE((*listener)->wait_for_output("before the restart", 20s)) << (*listener)->output();

  kill_server(server);
  ASSERT_TRUE((*listener)->wait_for_output("\"disconnected\"", 20s)) << (*listener)->output();
  server = start("chains/p256/chain.pem", "chains/p256/leaf.key");
  ASSERT_NE(server, nullptr);

  // Connected again: a second "listening" line, with the verified chain again.
  const auto reconnected = std::chrono::steady_clock::now() + 60s;
  while (occurrences((*listener)->output(), "\"listening\"") < 2 &&
         std::chrono::steady_clock::now() < reconnected) {
    std::this_thread::sleep_for(100ms);
  }
  const std::string so_far = (*listener)->output();
  ASSERT_EQ(occurrences(so_far, "\"listening\""), 2u) << so_far << server->log_tail();
  EXPECT_EQ(occurrences(so_far, "certificate verified"), 2u) << so_far;

  auto after =
      alice.run(arguments(alice, "alice", {"send", "bob@example.test", "after the restart"}));
  ASSERT_TRUE(after) << after.error().message;
  ASSERT_EQ(after->exit_code, 0) << after->output;
  const auto exit_code = (*listener)->wait_for_exit(30s);
  const std::string output = (*listener)->output();
  ASSERT_TRUE(exit_code) << output;
  EXPECT_EQ(*exit_code, 0) << output;
  EXPECT_NE(output.find("after the restart"), std::string::npos) << output;
}

TEST_F(ClientReconnect, ADifferentCertificateAfterRestartIsJudgedAgainAndRefused) {
  auto server = start("chains/p256/chain.pem", "chains/p256/leaf.key");
  ASSERT_NE(server, nullptr);
  ParleyUser bob("bob-recertified");
  auto listener = BackgroundParley::start(
      bob, arguments(bob, "bob", {"--json", "listen", "--reconnect", "--timeout", "120"}),
      "listen");
  ASSERT_TRUE(listener) << listener.error().message;
  // The first connection: a verified chain, nothing to ask.
  ASSERT_TRUE((*listener)->wait_for_output("\"listening\"", 30s)) << (*listener)->output();
  EXPECT_NE((*listener)->output().find("certificate verified"), std::string::npos);

  kill_server(server);
  server = start("selfsigned/example.test.crt", "selfsigned/example.test.key");
  ASSERT_NE(server, nullptr);

  const auto exit_code = (*listener)->wait_for_exit(60s);
  const std::string output = (*listener)->output();
  ASSERT_TRUE(exit_code) << output;
  EXPECT_EQ(*exit_code, 1) << output;
  EXPECT_NE(output.find("connection lost"), std::string::npos) << output;
  EXPECT_NE(output.find("parley: certificate:"), std::string::npos) << output;
  EXPECT_NE(output.find("\"stage\":\"certificate\""), std::string::npos) << output;
  EXPECT_NE(output.find("self-signed"), std::string::npos) << output;
  EXPECT_NE(output.find(fixture_fingerprint("selfsigned/example.test.crt")), std::string::npos)
      << "the refusal names the new certificate: " << output;
  std::error_code ignored;
  EXPECT_FALSE(std::filesystem::exists(bob.store_file("bob@example.test"), ignored))
      << "nothing stored for a refused certificate";
}

// ---- resumption through a relay that can cut the connection ----------------------------------

// Relays TCP connections from 127.0.0.1:listen_port to 127.0.0.1:target_port on a thread of its
// own; cut() ends every relayed connection at once (both sides see it close) while it keeps
// accepting new ones: a network that drops, not a server that goes away.
class TcpRelay {
 public:
  static Result<std::unique_ptr<TcpRelay>> start(std::uint16_t listen_port,
                                                 std::uint16_t target_port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail(Error::io("socket"));
    const int yes = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(listen_port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd, 16) != 0) {
      ::close(fd);
      return fail(Error::io("cannot listen on 127.0.0.1:" + std::to_string(listen_port)));
    }
    std::unique_ptr<TcpRelay> relay(new TcpRelay(fd, target_port));
    relay->thread_ = std::thread([raw = relay.get()] { raw->run(); });
    return relay;
  }
  ~TcpRelay() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    for (const auto& pair : pairs_) {
      ::close(pair.first);
      ::close(pair.second);
    }
    ::close(listen_fd_);
  }
  TcpRelay(const TcpRelay&) = delete;
  TcpRelay& operator=(const TcpRelay&) = delete;

  void cut() { cut_requested_ = true; }
  std::size_t accepted() const { return accepted_; }

 private:
  TcpRelay(int listen_fd, std::uint16_t target_port)
      : listen_fd_(listen_fd), target_port_(target_port) {}

  int connect_target() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(target_port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
      return fd;
    if (fd >= 0) ::close(fd);
    return -1;
  }

  void close_pair(std::size_t index) {
    ::shutdown(pairs_[index].first, SHUT_RDWR);
    ::shutdown(pairs_[index].second, SHUT_RDWR);
    ::close(pairs_[index].first);
    ::close(pairs_[index].second);
    pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(index));
  }

  void run() {
    char buffer[16384];
    while (!stopping_) {
      if (cut_requested_.exchange(false)) {
        while (!pairs_.empty()) close_pair(0);
      }
      std::vector<pollfd> waiting{{listen_fd_, POLLIN, 0}};
      for (const auto& [client, server] : pairs_) {
        waiting.push_back({client, POLLIN, 0});
        waiting.push_back({server, POLLIN, 0});
      }
      if (::poll(waiting.data(), waiting.size(), 20) <= 0) continue;
      if ((waiting[0].revents & POLLIN) != 0) {
        const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (client >= 0) {
          const int server = connect_target();
          if (server < 0) {
            ::close(client);
          } else {
            pairs_.emplace_back(client, server);
            ++accepted_;
          }
        }
        continue;  // the pair list changed under the poll set
      }
      for (std::size_t i = 0; i < pairs_.size(); ++i) {
        const auto& client = waiting[1 + 2 * i];
        const auto& server = waiting[2 + 2 * i];
        bool closed = false;
        for (const auto* side : {&client, &server}) {
          if ((side->revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          const int from = side->fd;
          const int to = from == pairs_[i].first ? pairs_[i].second : pairs_[i].first;
          const ssize_t n = ::read(from, buffer, sizeof buffer);
          if (n <= 0 || ::send(to, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
            closed = true;
            break;
          }
        }
        if (closed) {
          close_pair(i);
          break;  // indexes moved; poll again
        }
      }
    }
  }

  int listen_fd_;
  std::uint16_t target_port_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_requested_{false};
  std::atomic<std::size_t> accepted_{0};
  std::vector<std::pair<int, int>> pairs_;  // (client side, server side); relay thread only
};

// bob listens through the relay with --reconnect; the relay cuts; alice writes to bob while he
// is cut off; bob resumes his session and gets it.
void resume_after_a_cut(std::uint16_t server_port, std::uint16_t relay_port,
                        const std::function<std::string()>& server_log) {
  auto relay = TcpRelay::start(relay_port, server_port);
  ASSERT_TRUE(relay) << relay.error().message;
  ParleyUser alice("alice-resume-" + std::to_string(server_port)),
      bob("bob-resume-" + std::to_string(server_port));
  const auto via = [&](const ParleyUser& user, const std::string& localpart, std::uint16_t port,
                       std::vector<std::string> rest) {
    std::vector<std::string> argv{"--account",
                                  localpart + "@example.test",
                                  "--server",
                                  "127.0.0.1:" + std::to_string(port),
                                  "--ca",
                                  fixture("chains/p256/root.crt"),
                                  "--password-file",
                                  user.password_file(localpart + "-secret").string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  };
  auto listener = BackgroundParley::start(
      bob,
      via(bob, "bob", relay_port,
          {"--json", "listen", "--reconnect", "--count", "2", "--timeout", "90"}),
      "listen");
  ASSERT_TRUE(listener) << listener.error().message;
  ASSERT_TRUE((*listener)->wait_for_output("\"listening\"", 30s)) << (*listener)->output();

  auto before =
      alice.run(via(alice, "alice", server_port, {"send", "bob@example.test", "before the cut"}));
  ASSERT_TRUE(before) << before.error().message;
  ASSERT_EQ(before->exit_code, 0) << before->output;
  ASSERT_TRUE((*listener)->wait_for_output("before the cut", 20s)) << (*listener)->output();

  (*relay)->cut();
  ASSERT_TRUE((*listener)->wait_for_output("\"disconnected\"", 20s)) << (*listener)->output();
  auto during =
      alice.run(via(alice, "alice", server_port, {"send", "bob@example.test", "during the cut"}));
  ASSERT_TRUE(during) << during.error().message;
  ASSERT_EQ(during->exit_code, 0) << during->output;

  const auto exit_code = (*listener)->wait_for_exit(60s);
  const std::string output = (*listener)->output();
  ASSERT_TRUE(exit_code) << output << server_log();
  EXPECT_EQ(*exit_code, 0) << output << server_log();
  EXPECT_NE(output.find("during the cut"), std::string::npos) << output << server_log();
  EXPECT_EQ(occurrences(output, "\"event\":\"resumed\""), 1u) << output << server_log();
  EXPECT_EQ(occurrences(output, "{\"ok\":true,\"listening\""), 1u)
      << "a resumed session announces no presence again: " << output;
  EXPECT_EQ(occurrences(output, "certificate verified"), 2u)
      << "the resuming connection's certificate was judged too: " << output;
  EXPECT_GE((*relay)->accepted(), 2u);
}

TEST_F(ClientReconnect, ParleydSessionIsResumedAfterTheConnectionIsCut) {
  XmppPeerOptions options = server_options("chains/p256/chain.pem", "chains/p256/leaf.key");
  options.c2s_port = 19234;
  options.direct_tls_port = 19235;
  auto server = ParleydPeer::start(options);
  ASSERT_TRUE(server) << server.error().message;
  resume_after_a_cut(19234, 19236, [&] { return (*server)->log_tail(); });
}

TEST_F(ClientReconnect, ProsodySessionIsResumedAfterTheConnectionIsCut) {
  if (auto reason = ProsodyPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  XmppPeerOptions options = server_options("chains/p256/chain.pem", "chains/p256/leaf.key");
  options.c2s_port = 19237;
  options.direct_tls_port = 19238;
  auto server = ProsodyPeer::start(options);
  ASSERT_TRUE(server) << server.error().message;
  resume_after_a_cut(19237, 19239, [&] { return (*server)->log_tail(); });
}

}  // namespace
}  // namespace parley::integration::client_test
