// The test peers themselves (xmpp_peers.hpp), against each server: accounts registered at start
// can log in over STARTTLS and direct TLS (with go-sendxmpp, a client that is not Parley, trusting
// only the fixture root), a wrong password is refused, a server that cannot start says why by
// quoting its log, and stopping leaves no process, listener or directory behind.

#include "xmpp_peers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

// The port blocks of xmpp_peers.hpp's table.
template <class Peer>
struct PortBlocks;
template <>
struct PortBlocks<ProsodyPeer> {
  static constexpr std::uint16_t shared = 18915;
  static constexpr std::uint16_t own = 18921;
};
template <>
struct PortBlocks<EjabberdPeer> {
  static constexpr std::uint16_t shared = 18918;
  static constexpr std::uint16_t own = 18924;
};

XmppPeerOptions options_on(std::uint16_t first_port) {
  XmppPeerOptions options;
  options.c2s_port = first_port;
  options.direct_tls_port = static_cast<std::uint16_t>(first_port + 1);
  options.erlang_distribution_port = static_cast<std::uint16_t>(first_port + 2);
  options.certificate_chain_file = fixture("chains/p256/chain.pem");
  options.private_key_file = fixture("chains/p256/leaf.key");
  options.ca_file = fixture("chains/p256/root.crt");
  options.accounts = {{"alice", "alice-secret"}, {"bob", "bob-secret"}};
  return options;
}

struct PeerNames {
  template <class Peer>
  static std::string GetName(int) {
    return std::is_same_v<Peer, ProsodyPeer> ? "Prosody" : "ejabberd";
  }
};
using Peers = testing::Types<ProsodyPeer, EjabberdPeer>;

enum class Transport { starttls, direct_tls };

// go-sendxmpp sends one message from `account` to bob, trusting only `root` (Go reads
// SSL_CERT_FILE instead of the system roots), and checking the certificate against the JID's
// domain as any client would.
Result<ProgramOutcome> send_with_go_sendxmpp(const XmppPeer& peer, const XmppAccount& account,
                                             Transport transport, const std::string& root) {
  std::vector<std::string> argv{
      find_program("go-sendxmpp"),
      "--username",
      account.localpart + "@" + peer.domain(),
      "--password",
      account.password,
      "--jserver",
      "127.0.0.1:" + std::to_string(transport == Transport::starttls ? peer.c2s_port()
                                                                     : peer.direct_tls_port()),
      "--timeout",
      "10"};
  if (transport == Transport::direct_tls) argv.push_back("--tls");
  argv.push_back("bob@" + peer.domain());
  ProgramOptions options;
  options.standard_input = "hello from the peer test\n";
  options.environment = {{"SSL_CERT_FILE", root}, {"SSL_CERT_DIR", "/nonexistent"}};
  options.timeout = 30s;
  return run_program(std::move(argv), options);
}

// ---- one server shared by the suite -------------------------------------------------------------

template <class Peer>
class XmppPeerTest : public testing::Test {
 protected:
  static void SetUpTestSuite() { shared_.start(options_on(PortBlocks<Peer>::shared)); }
  static void TearDownTestSuite() { shared_.stop(); }
  void SetUp() override {
    if (shared_.skip_reason()) GTEST_SKIP() << *shared_.skip_reason();
    ASSERT_NE(shared_.get(), nullptr) << shared_.start_error();
    if (find_program("go-sendxmpp").empty()) {
      GTEST_SKIP() << "go-sendxmpp is not installed (scripts/install-deps)";
    }
  }
  Peer& peer() { return *shared_.get(); }

  static inline SuitePeer<Peer> shared_;
};
TYPED_TEST_SUITE(XmppPeerTest, Peers, PeerNames);

TYPED_TEST(XmppPeerTest, AccountsLogInOverStarttls) {
  const auto& account = this->peer().options().accounts.front();
  auto sent = send_with_go_sendxmpp(this->peer(), account, Transport::starttls,
                                    fixture("chains/p256/root.crt"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << this->peer().log_tail();
}

TYPED_TEST(XmppPeerTest, AccountsLogInOverDirectTls) {
  const auto& account = this->peer().options().accounts.back();
  auto sent = send_with_go_sendxmpp(this->peer(), account, Transport::direct_tls,
                                    fixture("chains/p256/root.crt"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << this->peer().log_tail();
}

TYPED_TEST(XmppPeerTest, WrongPasswordIsRefused) {
  auto sent = send_with_go_sendxmpp(this->peer(), {"alice", "not-alice-secret"},
                                    Transport::starttls, fixture("chains/p256/root.crt"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_NE(sent->exit_code, 0) << sent->output;
  EXPECT_NE(sent->output.find("auth"), std::string::npos) << sent->output;
}

TYPED_TEST(XmppPeerTest, ServesTheConfiguredChain) {
  // A client trusting another root refuses the server: the peer serves the chain it was given,
  // not some default certificate of the package's.
  auto sent = send_with_go_sendxmpp(this->peer(), this->peer().options().accounts.front(),
                                    Transport::starttls, fixture("chains/rsa2048/root.crt"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_NE(sent->exit_code, 0) << sent->output;
  EXPECT_NE(sent->output.find("unknown authority"), std::string::npos) << sent->output;
}

// ---- one server per test ------------------------------------------------------------------------

template <class Peer>
class XmppPeerLifecycleTest : public testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = Peer::unavailable_reason()) GTEST_SKIP() << *reason;
  }
};
TYPED_TEST_SUITE(XmppPeerLifecycleTest, Peers, PeerNames);

TYPED_TEST(XmppPeerLifecycleTest, StoppingLeavesNothingBehind) {
  const auto options = options_on(PortBlocks<TypeParam>::own);
  const bool epmd_was_running = port_is_listening(4369);
  auto started = TypeParam::start(options);
  ASSERT_TRUE(started) << started.error().message;
  std::unique_ptr<TypeParam> peer = std::move(*started);
  const std::filesystem::path directory = peer->directory();
  // The sweep finds the server by its directory; if it could not, the checks below would pass
  // for nothing.
  EXPECT_FALSE(processes_mentioning(directory.string() + "/").empty()) << peer->log_tail();
  EXPECT_TRUE(port_is_listening(options.c2s_port));
  EXPECT_TRUE(port_is_listening(options.direct_tls_port));

  peer.reset();
  EXPECT_EQ(processes_mentioning(directory.string() + "/"), std::vector<pid_t>{});
  EXPECT_FALSE(port_is_listening(options.c2s_port));
  EXPECT_FALSE(port_is_listening(options.direct_tls_port));
  if constexpr (std::is_same_v<TypeParam, EjabberdPeer>) {
    EXPECT_FALSE(port_is_listening(options.erlang_distribution_port));
    if (!epmd_was_running) {
      EXPECT_FALSE(port_is_listening(4369)) << "epmd is running: ejabberd must not start it";
    }
  }
  EXPECT_FALSE(std::filesystem::exists(directory));
}

TYPED_TEST(XmppPeerLifecycleTest, StartupFailureQuotesTheServersLog) {
  auto options = options_on(PortBlocks<TypeParam>::own);
  options.accounts.clear();
  // Something each server refuses at start-up, naming a token that only its log can contain.
  options.extra_configuration = std::is_same_v<TypeParam, ProsodyPeer>
                                    ? "parley_undefined_function()\n"
                                    : "parley_unknown_option: true\n";
  const auto started_at = std::chrono::steady_clock::now();
  auto started = TypeParam::start(options);
  ASSERT_FALSE(started) << "started despite a broken configuration";
  EXPECT_LT(std::chrono::steady_clock::now() - started_at, options.startup_timeout)
      << "the failure should be noticed when the server exits, not by timing out";
  EXPECT_NE(started.error().message.find(std::is_same_v<TypeParam, ProsodyPeer>
                                             ? "parley_undefined_function"
                                             : "parley_unknown_option"),
            std::string::npos)
      << started.error().message;
  EXPECT_FALSE(port_is_listening(options.c2s_port));
}

TEST(XmppPeerOptionsTest, BusyPortIsNamed) {
  if (auto reason = ProsodyPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  auto options = options_on(PortBlocks<ProsodyPeer>::own);
  auto squatter = SilentListener::open(options.direct_tls_port);
  ASSERT_TRUE(squatter) << squatter.error().message;
  auto started = ProsodyPeer::start(options);
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("127.0.0.1:" + std::to_string(options.direct_tls_port) +
                                         " is already in use"),
            std::string::npos)
      << started.error().message;
}

}  // namespace
}  // namespace parley::integration
