// The parley client against parleyd, Parley's own server (the same scenarios as against Prosody
// and ejabberd in client_prosody_test.cpp / client_ejabberd_test.cpp): send and listen between
// two parley processes, go-sendxmpp as the other party, the roster, and the channel binding the
// two negotiate (SCRAM-SHA-256-PLUS, which Prosody 0.12 and ejabberd 23.01 cannot give parley).
// Ports 19010-19011 (parleyd_peer.hpp).
#include <gtest/gtest.h>

#include <optional>
#include <thread>

#include "client_support.hpp"
#include "parleyd_peer.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using namespace client_test;

constexpr std::uint16_t kPort = 19010;

std::vector<std::string> parley_arguments(const std::string& localpart,
                                          std::vector<std::string> rest) {
  std::vector<std::string> argv{"--account",
                                localpart + "@example.test",
                                "--server",
                                "127.0.0.1:" + std::to_string(kPort),
                                "--password-stdin",
                                "--ca",
                                fixture("chains/p256/root.crt")};
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

class ClientWithParleyd : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ParleydPeer::unavailable_reason()) return;
    XmppPeerOptions options;
    options.c2s_port = kPort;
    options.direct_tls_port = kPort + 1;
    options.certificate_chain_file = fixture("chains/p256/chain.pem");
    options.private_key_file = fixture("chains/p256/leaf.key");
    options.accounts = {
        {"alice", "alice-secret"}, {"bob", "bob-secret"}, {"carol", "carol-secret"}};
    // PLAIN only for go-sendxmpp (no SCRAM in Debian 12's version); parley uses SCRAM-PLUS.
    auto started = ParleydPeer::start(options, true);
    if (started)
      server_ = std::move(*started);
    else
      start_error_ = started.error().message;
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    ASSERT_NE(server_, nullptr) << start_error_;
  }
  static inline std::unique_ptr<ParleydPeer> server_;
  static inline std::string start_error_;
};

TEST_F(ClientWithParleyd, SendAndListenWithChannelBinding) {
  ParleyUser alice("alice-parleyd"), bob("bob-parleyd");
  std::optional<Result<ProgramOutcome>> listened;
  std::thread listener([&] {
    listened = bob.run(parley_arguments("bob", {"listen", "--count", "1", "--timeout", "30"}),
                       "bob-secret\n");
  });
  std::this_thread::sleep_for(1s);
  auto sent = alice.run(
      parley_arguments("alice", {"--json", "send", "bob@example.test", "hello via parleyd"}),
      "alice-secret\n");
  listener.join();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << server_->log_tail();
  EXPECT_NE(sent->output.find("SCRAM-SHA-256-PLUS with tls-exporter"), std::string::npos)
      << "parley and parleyd agree on channel binding: " << sent->output;
  EXPECT_NE(sent->output.find("certificate verified"), std::string::npos) << sent->output;
  ASSERT_TRUE(listened && *listened);
  EXPECT_EQ((*listened)->exit_code, 0) << (*listened)->output;
  EXPECT_NE((*listened)->output.find("alice@example.test: hello via parleyd"), std::string::npos)
      << (*listened)->output;
}

TEST_F(ClientWithParleyd, GoSendxmppReachesParley) {
  if (find_program("go-sendxmpp").empty()) GTEST_SKIP() << "go-sendxmpp is not installed";
  ParleyUser carol("carol-parleyd");
  std::optional<Result<ProgramOutcome>> listened;
  std::thread listener([&] {
    listened = carol.run(parley_arguments("carol", {"listen", "--count", "1", "--timeout", "30"}),
                         "carol-secret\n");
  });
  std::this_thread::sleep_for(1500ms);
  auto sent = run_program(
      {"go-sendxmpp", "-u", "alice@example.test", "-p", "alice-secret", "-j",
       "127.0.0.1:" + std::to_string(kPort), "carol@example.test"},
      ProgramOptions{.standard_input = "from go-sendxmpp\n",
                     .environment = {{"SSL_CERT_FILE", fixture("chains/p256/root.crt")}},
                     .timeout = 20s});
  listener.join();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output;
  ASSERT_TRUE(listened && *listened);
  EXPECT_NE((*listened)->output.find("alice@example.test: from go-sendxmpp"), std::string::npos)
      << (*listened)->output << server_->log_tail();
}

TEST_F(ClientWithParleyd, RosterIsListed) {
  ParleyUser alice("alice-roster");
  auto roster = alice.run(parley_arguments("alice", {"--json", "roster"}), "alice-secret\n");
  ASSERT_TRUE(roster) << roster.error().message;
  EXPECT_EQ(roster->exit_code, 0) << roster->output << server_->log_tail();
}

TEST_F(ClientWithParleyd, WrongPasswordIsRefused) {
  ParleyUser alice("alice-wrong");
  auto sent = alice.run(parley_arguments("alice", {"send", "bob@example.test", "x"}), "wrong\n");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_NE(sent->output.find("authentication"), std::string::npos) << sent->output;
}

}  // namespace
}  // namespace parley::integration
