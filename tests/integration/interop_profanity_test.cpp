// parleyd with profanity 0.13.1 (Debian's console client, on libstrophe 0.12) as a person would
// use it: profanity runs in a tmux server of the test's own (its own socket, no configuration
// file), with HOME and the XDG directories in the test's temporary directory so nothing of the
// machine's is read or written. Keys go in with send-keys, the screen comes back with
// capture-pane, polled until a deadline. The other party is the scripted slixmpp peer.
//
// Trust: profanity is given a certificate directory (its `tls.certpath`, an OpenSSL CApath made
// with `openssl rehash`) holding only the test CA, and must then connect without asking anything.
// Given a directory with a CA that did not sign parleyd's certificate, it must stop at its
// certificate prompt, and /tls deny must leave it logged out.
//
// Ports 19252-19253 (interop_support.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "interop_support.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint16_t kC2sPort = 19252;
constexpr std::uint16_t kDirectTlsPort = 19253;
const std::string kRoom = "lobby@conference.example.test";

// One profanity, logged in (or trying to) as `account`, in a tmux server owned by this object.
class ProfanityInTmux {
 public:
  ProfanityInTmux(fs::path directory, std::string account, const std::string& trusted_ca)
      : directory_(std::move(directory)), account_(std::move(account)) {
    fs::create_directories(directory_ / "config/profanity");
    fs::create_directories(directory_ / "data/profanity");
    fs::create_directories(directory_ / "certs");
    fs::copy_file(trusted_ca, directory_ / "certs/ca.crt", fs::copy_options::overwrite_existing);
    // OpenSSL finds CA files in a directory by their subject hash (<hash>.0 links).
    auto rehash = run_program({"openssl", "rehash", (directory_ / "certs").string()});
    EXPECT_TRUE(rehash && rehash->exit_code == 0) << (rehash ? rehash->output : "no openssl");
    {
      std::ofstream accounts(directory_ / "data/profanity/accounts");
      accounts << "[" << account_ << "]\nenabled=true\njid=" << account_
               << "\nserver=127.0.0.1\nport=" << kC2sPort
               << "\npassword=" << password_of(account_.substr(0, account_.find('@')))
               << "\nresource=profanity\ntls.policy=force\n";
    }
    {
      std::ofstream profrc(directory_ / "config/profanity/profrc");
      profrc << "[connection]\ntls.certpath=" << (directory_ / "certs").string() << "\n";
    }
    const std::string d = directory_.string();
    auto started = tmux({"new-session", "-d", "-s", "profanity", "-x", "200", "-y", "50",
                         "env HOME=" + d + " XDG_CONFIG_HOME=" + d + "/config XDG_DATA_HOME=" + d +
                             "/data profanity -a " + account_});
    EXPECT_TRUE(started && started->exit_code == 0) << (started ? started->output : "no tmux");
  }

  ~ProfanityInTmux() {
    // profanity gets SIGHUP with its terminal; the tmux server goes with its last session.
    tmux({"kill-server"});
  }

  ProfanityInTmux(const ProfanityInTmux&) = delete;
  ProfanityInTmux& operator=(const ProfanityInTmux&) = delete;

  // Types `line` literally (no tmux key names) and presses Enter.
  void type(const std::string& line) {
    tmux({"send-keys", "-t", "profanity", "-l", line});
    tmux({"send-keys", "-t", "profanity", "Enter"});
  }

  // The visible screen and 300 lines of scrollback, wrapped lines joined.
  std::string screen() {
    auto captured = tmux({"capture-pane", "-p", "-J", "-S", "-300", "-t", "profanity"});
    return captured ? captured->output : std::string();
  }

  bool wait_for_screen(std::string_view text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (screen().find(text) != std::string::npos) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(200ms);
    }
  }

 private:
  Result<ProgramOutcome> tmux(std::vector<std::string> arguments) {
    // Its own socket and no configuration file: the machine's tmux servers are not touched.
    std::vector<std::string> argv = {"tmux", "-S", (directory_ / "tmux.sock").string(), "-f",
                                     "/dev/null"};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_program(argv, ProgramOptions{.standard_input = {},
                                            .environment = {{"HOME", directory_.string()}},
                                            .timeout = 10s});
  }

  fs::path directory_;
  std::string account_;
};

class ParleydWithProfanity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    for (const char* program : {"profanity", "tmux", "openssl"})
      if (find_program(program).empty()) GTEST_SKIP() << program << " is not installed";
    if (auto reason = SlixmppPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    auto started = start_interop_parleyd(kC2sPort, kDirectTlsPort);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  std::unique_ptr<ProfanityInTmux> profanity(const std::string& trusted_ca = kInteropCa) {
    return std::make_unique<ProfanityInTmux>(server_->directory() / "profanity",
                                             "alice@example.test", trusted_ca);
  }

  SlixmppOptions bob(std::vector<std::string> steps) const {
    return slixmpp_as("bob", kC2sPort, std::move(steps));
  }

  // alice and bob subscribe to each other (slixmpp on both sides), before profanity starts.
  void make_them_contacts() {
    auto bob_peer =
        SlixmppPeer::start(bob({"presence", "wait", "subscribe-request from=alice@example.test",
                                "approve", "alice@example.test", "subscribe", "alice@example.test",
                                "wait", "subscribed from=alice@example.test"}),
                           server_->directory() / "bob-subscribe.log");
    ASSERT_TRUE(bob_peer) << bob_peer.error().message;
    ASSERT_TRUE((*bob_peer)->wait_for_line("step 1 presence ok", 20s)) << (*bob_peer)->output();
    auto alice = run_slixmpp(
        slixmpp_as("alice", kC2sPort,
                   {"presence", "roster-add", "bob@example.test", "Bob", "subscribe",
                    "bob@example.test", "wait", "subscribed from=bob@example.test", "wait",
                    "subscribe-request from=bob@example.test", "approve", "bob@example.test"}),
        server_->directory() / "alice-subscribe.log");
    ASSERT_EQ(alice.exit_code, 0) << alice.output << server_->log_tail();
    ASSERT_EQ((*bob_peer)->wait_for_exit(30s), 0) << (*bob_peer)->output();
  }

  std::string diagnostics(ProfanityInTmux& client) {
    return "--- profanity's screen:\n" + client.screen() + "\n--- parleyd:\n" +
           server_->log_tail(4000);
  }

  std::unique_ptr<ParleydPeer> server_;
};

TEST_F(ParleydWithProfanity, ConnectsTrustingTheTestCaSeesPresenceAndChatsBothWays) {
  make_them_contacts();  // in alice's roster, bob is named "Bob": profanity shows that name
  auto alice = profanity();
  ASSERT_TRUE(alice->wait_for_screen("alice@example.test/profanity logged in successfully", 30s))
      << diagnostics(*alice);
  EXPECT_EQ(alice->screen().find("TLS certificate verification failed"), std::string::npos)
      << "the test CA in tls.certpath is enough; no prompt";

  auto bob_peer = SlixmppPeer::start(
      bob({"presence", "wait", "presence from=alice@example.test/profanity type=available", "send",
           "alice@example.test", "hello profanity", "wait", "body=hello slixmpp"}),
      server_->directory() / "bob.log");
  ASSERT_TRUE(bob_peer) << bob_peer.error().message;
  EXPECT_TRUE(alice->wait_for_screen("++ Bob (slixmpp) is online", 20s)) << diagnostics(*alice);
  ASSERT_TRUE(alice->wait_for_screen("<< chat message: Bob/slixmpp (win 2)", 20s))
      << (*bob_peer)->output() << diagnostics(*alice);
  alice->type("/win 2");
  EXPECT_TRUE(alice->wait_for_screen("Bob/slixmpp: hello profanity", 10s)) << diagnostics(*alice);
  alice->type("/msg bob@example.test hello slixmpp");
  EXPECT_EQ((*bob_peer)->wait_for_exit(30s), 0) << (*bob_peer)->output() << diagnostics(*alice);
  EXPECT_NE((*bob_peer)->output().find("message from=alice@example.test/profanity type=chat "
                                       "delay=no body=hello slixmpp"),
            std::string::npos)
      << (*bob_peer)->output();
  EXPECT_TRUE(alice->wait_for_screen("me: hello slixmpp", 5s)) << diagnostics(*alice);
  // Bob has gone: the chat window's title says so, the console window tells when.
  EXPECT_TRUE(alice->wait_for_screen("Bob [offline]", 20s)) << diagnostics(*alice);
  alice->type("/win 1");
  EXPECT_TRUE(alice->wait_for_screen("-- Bob (slixmpp) is offline", 10s)) << diagnostics(*alice);
}

TEST_F(ParleydWithProfanity, JoinsARoomAndTalks) {
  auto alice = profanity();
  ASSERT_TRUE(alice->wait_for_screen("logged in successfully", 30s)) << diagnostics(*alice);
  alice->type("/join " + kRoom + " nick Alice");
  // 201: profanity offers to configure the new room; parleyd's rooms are instant, and accepting
  // the defaults submits the instant-room form (XEP-0045 10.1.2).
  ASSERT_TRUE(alice->wait_for_screen("Use '/room accept'", 20s)) << diagnostics(*alice);
  alice->type("/room accept");
  ASSERT_TRUE(alice->wait_for_screen("Room unlocked", 10s)) << diagnostics(*alice);
  alice->type("said before bob came");
  ASSERT_TRUE(alice->wait_for_screen("Alice: said before bob came", 10s)) << diagnostics(*alice);

  auto bob_peer = SlixmppPeer::start(bob({"presence", "join", kRoom, "Bob", "groupchat", kRoom,
                                          "hi alice", "wait", "body=hello bob"}),
                                     server_->directory() / "bob.log");
  ASSERT_TRUE(bob_peer) << bob_peer.error().message;
  ASSERT_TRUE(alice->wait_for_screen("Bob: hi alice", 30s))
      << (*bob_peer)->output() << diagnostics(*alice);
  alice->type("hello bob");
  EXPECT_EQ((*bob_peer)->wait_for_exit(30s), 0) << (*bob_peer)->output() << diagnostics(*alice);
  const std::string seen_by_bob = (*bob_peer)->output();
  EXPECT_NE(seen_by_bob.find("joined room=" + kRoom + " nick=Bob occupants=Alice"),
            std::string::npos)
      << seen_by_bob;
  EXPECT_NE(seen_by_bob.find("body=said before bob came"), std::string::npos)
      << "history on join: " << seen_by_bob;
  EXPECT_NE(seen_by_bob.find("groupchat from=" + kRoom + "/Alice delay=no body=hello bob"),
            std::string::npos)
      << seen_by_bob;
}

TEST_F(ParleydWithProfanity, PromptsForAnUntrustedCertificateAndDenyLeavesItLoggedOut) {
  auto alice = profanity(kUntrustedCa);
  ASSERT_TRUE(alice->wait_for_screen("TLS certificate verification failed", 30s))
      << diagnostics(*alice);
  EXPECT_TRUE(alice->wait_for_screen("Use '/tls deny' to reject this certificate.", 5s))
      << diagnostics(*alice);
  alice->type("/tls deny");
  EXPECT_TRUE(alice->wait_for_screen("Login failed.", 10s)) << diagnostics(*alice);
  EXPECT_EQ(alice->screen().find("logged in successfully"), std::string::npos);
  EXPECT_EQ(server_->log_tail(1'000'000).find("alice@example.test authenticated"),
            std::string::npos)
      << "no credentials were sent";
}

}  // namespace
}  // namespace parley::integration
