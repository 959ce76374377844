// `parley chat`, the terminal UI, driven the way a person uses it: in a tmux pane of 160x48
// (tmux -S <own socket> new-session -d), keys sent with send-keys, the screen read with
// capture-pane -p, every wait a poll of the pane with a deadline. Against parleyd:
//  - a self-signed server: the certificate dialog shows subject, issuer, validity, the SHA-256
//    fingerprint, identities and why it is untrusted; "d" declines: offline, nothing stored;
//    "a" accepts always: stored, connected with the UNVERIFIED indicator (no lock), and the next
//    start connects without a dialog;
//  - a CA-signed server: the lock indicator "[locked] TLSv1.3", and /security shows protocol,
//    cipher, certificate subject, issuer, fingerprint, SASL mechanism and stream management;
//  - a message typed in the UI reaches `parley listen`, one sent by `parley send` appears in
//    the UI (with an unread count until its conversation is shown);
//  - /join enters a room where `parley join` talks with it, both ways.
//
// Ports (xmpp_peers.hpp, 19220-19249): 19230-19231 parleyd CA-signed (with [muc]),
// 19232-19233 parleyd self-signed.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "client_support.hpp"
#include "parleyd_peer.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kSignedPort = 19230;
constexpr std::uint16_t kSelfSignedPort = 19232;

std::string shell_quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

// One tmux server of its own (-S, a socket in the temporary directory, removed at the end) with
// one session running `command`, then a line saying how it exited (kept on screen: the pane
// stays until the server is killed).
class Tmux {
 public:
  static Result<std::unique_ptr<Tmux>> start(const std::vector<std::string>& command) {
    static std::atomic<int> sessions{0};
    std::unique_ptr<Tmux> tmux(
        new Tmux((std::filesystem::temp_directory_path() /
                  ("parley-tui-" + std::to_string(::getpid()) + "-" + std::to_string(sessions++)))
                     .string()));
    std::string line;
    for (const auto& word : command) line += (line.empty() ? "" : " ") + shell_quote(word);
    line += "; echo \"parley exited with $?\"; sleep 600";
    auto started = tmux->run({"new-session", "-d", "-s", "main", "-x", "160", "-y", "48", line});
    if (!started) return fail(started.error());
    if (started->exit_code != 0) return fail(Error::io("tmux new-session: " + started->output));
    return tmux;
  }
  ~Tmux() {
    (void)run({"kill-server"});
    std::error_code ignored;
    std::filesystem::remove(socket_, ignored);
  }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;

  std::string screen() const {
    auto captured = run({"capture-pane", "-p", "-t", "main"});
    return captured && captured->exit_code == 0 ? captured->output : std::string();
  }
  // Polls the pane until `text` is on it.
  bool wait_for(const std::string& text, std::chrono::milliseconds timeout = 30s) const {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (screen().find(text) != std::string::npos) return true;
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(100ms);
    }
  }
  // Text typed literally, then Enter.
  void type_line(const std::string& text) const {
    (void)run({"send-keys", "-t", "main", "-l", text});
    (void)run({"send-keys", "-t", "main", "Enter"});
  }
  void keys(const std::vector<std::string>& names) const {
    std::vector<std::string> argv{"send-keys", "-t", "main"};
    argv.insert(argv.end(), names.begin(), names.end());
    (void)run(argv);
  }

 private:
  explicit Tmux(std::string socket) : socket_(std::move(socket)) {}
  Result<ProgramOutcome> run(std::vector<std::string> arguments) const {
    std::vector<std::string> argv{"tmux", "-f", "/dev/null", "-S", socket_};
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_program(
        std::move(argv),
        ProgramOptions{.standard_input = {}, .environment = {{"TERM", "xterm"}}, .timeout = 10s});
  }
  std::string socket_;
};

std::vector<std::string> arguments(const ParleyUser& user, const std::string& localpart,
                                   std::uint16_t port, std::vector<std::string> rest) {
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
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ChatTui : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ParleydPeer::unavailable_reason() || find_program("tmux").empty()) return;
    XmppPeerOptions signed_options;
    signed_options.c2s_port = kSignedPort;
    signed_options.direct_tls_port = kSignedPort + 1;
    signed_options.certificate_chain_file = fixture("chains/p256/chain.pem");
    signed_options.private_key_file = fixture("chains/p256/leaf.key");
    signed_options.accounts = {
        {"alice", "alice-secret"}, {"bob", "bob-secret"}, {"carol", "carol-secret"}};
    signed_options.muc_domain = "conference.example.test";
    auto signed_server = ParleydPeer::start(signed_options);
    if (signed_server)
      signed_ = std::move(*signed_server);
    else
      start_error_ = signed_server.error().message;

    XmppPeerOptions self_signed_options = signed_options;
    self_signed_options.c2s_port = kSelfSignedPort;
    self_signed_options.direct_tls_port = kSelfSignedPort + 1;
    self_signed_options.certificate_chain_file = fixture("selfsigned/example.test.crt");
    self_signed_options.private_key_file = fixture("selfsigned/example.test.key");
    self_signed_options.muc_domain.clear();
    auto self_signed_server = ParleydPeer::start(self_signed_options);
    if (self_signed_server)
      self_signed_ = std::move(*self_signed_server);
    else
      start_error_ += self_signed_server.error().message;
  }
  static void TearDownTestSuite() {
    signed_.reset();
    self_signed_.reset();
  }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    if (find_program("tmux").empty()) GTEST_SKIP() << "tmux is not installed";
    ASSERT_NE(signed_, nullptr) << start_error_;
    ASSERT_NE(self_signed_, nullptr) << start_error_;
  }

  static std::unique_ptr<Tmux> chat(const ParleyUser& user, const std::string& localpart,
                                    std::uint16_t port) {
    auto tmux = Tmux::start(user.command(arguments(user, localpart, port, {"chat"})));
    EXPECT_TRUE(tmux) << tmux.error().message;
    return tmux ? std::move(*tmux) : nullptr;
  }
  // /quit, and the shell line after parley says it ended well.
  static void quit(const Tmux& tmux) {
    tmux.type_line("/quit");
    EXPECT_TRUE(tmux.wait_for("parley exited with 0", 20s)) << tmux.screen();
  }

  static inline std::unique_ptr<ParleydPeer> signed_;
  static inline std::unique_ptr<ParleydPeer> self_signed_;
  static inline std::string start_error_;
};

TEST_F(ChatTui, DeclinedCertificateConnectsNotAndStoresNothing) {
  ParleyUser alice("alice-tui-decline");
  auto tmux = chat(alice, "alice", kSelfSignedPort);
  ASSERT_NE(tmux, nullptr);
  ASSERT_TRUE(tmux->wait_for("Untrusted certificate")) << tmux->screen();
  const std::string dialog = tmux->screen();
  EXPECT_NE(dialog.find("The certificate of xmpp-client example.test is not trusted"),
            std::string::npos)
      << dialog;
  EXPECT_NE(dialog.find("Subject:     CN=example.test"), std::string::npos) << dialog;
  EXPECT_NE(dialog.find("(self-signed)"), std::string::npos) << dialog;
  EXPECT_NE(dialog.find("Valid:       "), std::string::npos) << dialog;
  EXPECT_NE(dialog.find("SHA-256:     " + fixture_fingerprint("selfsigned/example.test.crt")),
            std::string::npos)
      << dialog;
  EXPECT_NE(dialog.find("dNSName: example.test"), std::string::npos) << dialog;
  EXPECT_NE(dialog.find("- self-signed"), std::string::npos) << dialog;
  EXPECT_NE(dialog.find("[o] accept once   [a] accept always   [d] decline"), std::string::npos)
      << dialog;
  EXPECT_EQ(dialog.find("[locked]"), std::string::npos) << dialog;

  tmux->keys({"d"});
  ASSERT_TRUE(tmux->wait_for("[offline]")) << tmux->screen();
  EXPECT_TRUE(tmux->wait_for("you declined")) << tmux->screen();
  EXPECT_EQ(tmux->screen().find("Untrusted certificate"), std::string::npos) << tmux->screen();
  std::error_code ignored;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test"), ignored))
      << file_text(alice.store_file("alice@example.test"));
  quit(*tmux);
}

TEST_F(ChatTui, AcceptAlwaysStoresAndTheNextStartIsSilent) {
  ParleyUser alice("alice-tui-always");
  const std::string fingerprint = fixture_fingerprint("selfsigned/example.test.crt");
  {
    auto tmux = chat(alice, "alice", kSelfSignedPort);
    ASSERT_NE(tmux, nullptr);
    ASSERT_TRUE(tmux->wait_for("Untrusted certificate")) << tmux->screen();
    tmux->keys({"a"});
    ASSERT_TRUE(tmux->wait_for("[UNVERIFIED certificate, accepted now] TLSv1.3")) << tmux->screen();
    EXPECT_EQ(tmux->screen().find("[locked]"), std::string::npos) << tmux->screen();
    EXPECT_NE(file_text(alice.store_file("alice@example.test")).find(fingerprint),
              std::string::npos);
    quit(*tmux);
  }
  auto again = chat(alice, "alice", kSelfSignedPort);
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->wait_for("[UNVERIFIED certificate, accepted earlier] TLSv1.3"))
      << again->screen();
  EXPECT_TRUE(again->wait_for("connected as alice@example.test")) << again->screen();
  EXPECT_EQ(again->screen().find("Untrusted certificate"), std::string::npos) << again->screen();
  quit(*again);
}

TEST_F(ChatTui, LockIndicatorAndSecurityDetails) {
  ParleyUser alice("alice-tui-lock");
  auto tmux = chat(alice, "alice", kSignedPort);
  ASSERT_NE(tmux, nullptr);
  ASSERT_TRUE(tmux->wait_for("[locked] TLSv1.3")) << tmux->screen() << signed_->log_tail();
  EXPECT_EQ(tmux->screen().find("Untrusted certificate"), std::string::npos);
  // Stream management is enabled a moment after connecting; /security reports it.
  std::this_thread::sleep_for(300ms);
  tmux->type_line("/security");
  ASSERT_TRUE(tmux->wait_for("Connection security")) << tmux->screen();
  const std::string details = tmux->screen();
  for (const std::string& expected : std::vector<std::string>{
           "Lock:           locked: the certificate chain and the server's identity were verified",
           "Protocol:       TLSv1.3 (STARTTLS to 127.0.0.1:" + std::to_string(kSignedPort) + ")",
           "Cipher:         TLS_", "Subject:        CN=example.test",
           "Issuer:         CN=Parley Test Intermediate (p256)",
           "SHA-256:        " + fixture_fingerprint("chains/p256/chain.pem"),
           "Trust anchor:   CN=Parley Test Root (p256)",
           "Authentication: SCRAM-SHA-256-PLUS with tls-exporter",
           "Stream mgmt:    XEP-0198 enabled"}) {
    EXPECT_NE(details.find(expected), std::string::npos) << expected << "\n" << details;
  }
  tmux->keys({"Escape"});
  EXPECT_TRUE(tmux->wait_for("connected as alice@example.test")) << tmux->screen();
  quit(*tmux);
}

TEST_F(ChatTui, MessagesBothWays) {
  ParleyUser alice("alice-tui-messages"), bob("bob-tui-messages"), carol("carol-tui-messages");
  auto listener = BackgroundParley::start(
      bob, arguments(bob, "bob", kSignedPort, {"listen", "--count", "1", "--timeout", "60"}),
      "listen");
  ASSERT_TRUE(listener) << listener.error().message;
  auto tmux = chat(alice, "alice", kSignedPort);
  ASSERT_NE(tmux, nullptr);
  ASSERT_TRUE(tmux->wait_for("[locked] TLSv1.3")) << tmux->screen();

  tmux->type_line("/msg bob@example.test hello from the terminal UI");
  ASSERT_TRUE(tmux->wait_for("me: hello from the terminal UI")) << tmux->screen();
  const auto listened = (*listener)->wait_for_exit(30s);
  ASSERT_TRUE(listened) << (*listener)->output();
  EXPECT_EQ(*listened, 0) << (*listener)->output();
  EXPECT_NE((*listener)->output().find("alice@example.test: hello from the terminal UI"),
            std::string::npos)
      << (*listener)->output();

  auto sent = carol.run(
      arguments(carol, "carol", kSignedPort, {"send", "alice@example.test", "a reply for the UI"}));
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->exit_code, 0) << sent->output;
  // Not the conversation shown: an unread count in the left pane, then Tab shows it.
  ASSERT_TRUE(tmux->wait_for("? carol@example.test [1]")) << tmux->screen();
  tmux->keys({"Tab"});
  ASSERT_TRUE(tmux->wait_for("carol@example.test: a reply for the UI")) << tmux->screen();
  EXPECT_EQ(tmux->screen().find("carol@example.test [1]"), std::string::npos) << tmux->screen();
  quit(*tmux);
}

TEST_F(ChatTui, JoinARoomAndTalk) {
  ParleyUser alice("alice-tui-room"), bob("bob-tui-room");
  auto tmux = chat(alice, "alice", kSignedPort);
  ASSERT_NE(tmux, nullptr);
  ASSERT_TRUE(tmux->wait_for("[locked] TLSv1.3")) << tmux->screen();
  tmux->type_line("/join tui@conference.example.test");
  ASSERT_TRUE(tmux->wait_for("* you are in as alice")) << tmux->screen() << signed_->log_tail();
  EXPECT_TRUE(tmux->wait_for("# tui@conference.example.test")) << tmux->screen();

  auto other =
      BackgroundParley::start(bob,
                              arguments(bob, "bob", kSignedPort,
                                        {"join", "tui@conference.example.test", "--say",
                                         "hello tui room", "--count", "1", "--timeout", "60"}),
                              "join");
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(tmux->wait_for("* bob joined")) << tmux->screen() << (*other)->output();
  ASSERT_TRUE(tmux->wait_for("bob: hello tui room")) << tmux->screen() << (*other)->output();
  tmux->type_line("hi bob, from the UI");
  ASSERT_TRUE(tmux->wait_for("alice: hi bob, from the UI")) << tmux->screen();
  const auto joined = (*other)->wait_for_exit(30s);
  ASSERT_TRUE(joined) << (*other)->output();
  EXPECT_EQ(*joined, 0) << (*other)->output();
  EXPECT_NE((*other)->output().find("tui@conference.example.test/alice: hi bob, from the UI"),
            std::string::npos)
      << (*other)->output();
  EXPECT_TRUE(tmux->wait_for("* bob left")) << tmux->screen();
  tmux->type_line("/part");
  EXPECT_TRUE(tmux->wait_for("* you left the room (left)")) << tmux->screen();
  quit(*tmux);
}

}  // namespace
}  // namespace parley::integration::client_test
