// The `parley` client against ejabberd 23.01 (xmpp_peers.hpp), the second real server. It asks
// every client for a certificate (optional), and it offers SCRAM-SHA-1-PLUS over TLS 1.3 without
// saying which binding type (no XEP-0440) while binding with tls-unique: parley must not try
// tls-exporter there (it would fail the login) and must say that channel binding was not used.
//
// Ports (this suite's block, outside xmpp_peers.hpp's 18900-18949):
//   18956-18958  ejabberd (c2s, direct TLS, Erlang distribution)

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "client_support.hpp"
#include "xmpp_peers.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kEjabberdPort = 18956;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ClientWithEjabberd : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    XmppPeerOptions options;
    options.c2s_port = kEjabberdPort;
    options.direct_tls_port = kEjabberdPort + 1;
    options.erlang_distribution_port = kEjabberdPort + 2;
    options.certificate_chain_file = fixture("chains/p256/chain.pem");
    options.private_key_file = fixture("chains/p256/leaf.key");
    options.ca_file = fixture("chains/p256/root.crt");
    options.accounts = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
    server_.start(options);
  }
  static void TearDownTestSuite() { server_.stop(); }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (server_.skip_reason()) GTEST_SKIP() << *server_.skip_reason();
    ASSERT_NE(server_.get(), nullptr) << server_.start_error();
  }
  std::vector<std::string> arguments(const std::string& localpart, std::uint16_t port,
                                     std::vector<std::string> rest,
                                     std::vector<std::string> connection = {}) const {
    std::vector<std::string> argv{"--account",
                                  localpart + "@example.test",
                                  "--server",
                                  "127.0.0.1:" + std::to_string(port),
                                  "--ca",
                                  fixture("chains/p256/root.crt"),
                                  "--password-stdin"};
    argv.insert(argv.end(), connection.begin(), connection.end());
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }
  const XmppPeer& peer() const { return *server_.get(); }

  static inline SuitePeer<EjabberdPeer> server_;
};

TEST_F(ClientWithEjabberd, SendAndListen) {
  ParleyUser alice("alice-ejabberd"), bob("bob-ejabberd");
  std::optional<Result<ProgramOutcome>> listened;
  std::thread listener([&] {
    listened = bob.run(
        arguments("bob", kEjabberdPort, {"--json", "listen", "--count", "2", "--timeout", "30"}),
        "bob-secret\n");
  });
  std::this_thread::sleep_for(1s);
  auto starttls =
      alice.run(arguments("alice", kEjabberdPort, {"--json", "send", "bob@example.test", "one"}),
                "alice-secret\n");
  auto direct =
      alice.run(arguments("alice", kEjabberdPort + 1, {"--json", "send", "bob@example.test", "two"},
                          {"--direct-tls"}),
                "alice-secret\n");
  listener.join();
  for (const auto* sent : {&starttls, &direct}) {
    ASSERT_TRUE(*sent) << (*sent).error().message;
    EXPECT_EQ((*sent)->exit_code, 0) << (*sent)->output << peer().log_tail();
    const auto lines = json_lines((*sent)->output);
    ASSERT_EQ(lines.size(), 1u) << (*sent)->output;
    // The lock indicator's line says how the connection is protected.
    const std::string security(lines[0].at("security").as_string());
    EXPECT_TRUE(contains(security, "certificate verified")) << security;
    EXPECT_TRUE(contains(security, ", SCRAM-SHA-1")) << security;
    EXPECT_FALSE(contains(security, "-PLUS")) << security;
    EXPECT_TRUE(contains((*sent)->output,
                         "parley: note: channel binding not used: the server offered SCRAM with "
                         "channel binding (-PLUS) but the server does not say which binding types "
                         "it supports (XEP-0440)"))
        << (*sent)->output;
  }
  ASSERT_TRUE(listened && *listened) << (listened ? listened->error().message : "no result");
  EXPECT_EQ((*listened)->exit_code, 0) << (*listened)->output << peer().log_tail();
  const auto lines = json_lines((*listened)->output);
  ASSERT_EQ(lines.size(), 3u) << (*listened)->output;
  std::vector<std::string> bodies;
  for (std::size_t i = 1; i < lines.size(); ++i)
    bodies.emplace_back(lines[i].at("body").as_string());
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(bodies, (std::vector<std::string>{"one", "two"}));
}

TEST_F(ClientWithEjabberd, WrongPasswordIsRefused) {
  ParleyUser alice("alice-ejabberd-wrong");
  auto sent =
      alice.run(arguments("alice", kEjabberdPort, {"send", "bob@example.test", "x"}), "wrong\n");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "authentication failed")) << sent->output;
}

TEST_F(ClientWithEjabberd, EmptyRoster) {
  ParleyUser alice("alice-ejabberd-roster");
  auto listed =
      alice.run(arguments("alice", kEjabberdPort, {"--json", "roster"}), "alice-secret\n");
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->exit_code, 0) << listed->output;
  EXPECT_TRUE(json_lines(listed->output).empty()) << listed->output;
}

}  // namespace
}  // namespace parley::integration::client_test
