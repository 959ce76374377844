// `parley join`: group chat (XEP-0045) with two parley processes in one room, on each server the
// project measures itself against and on its own: Prosody 0.12 (muc component; new rooms are
// locked until their owner configures them, which parley does as an instant room), ejabberd
// 23.01 (mod_muc) and parleyd ([muc]). The same scenarios run against each:
//  - bob enters first (creating the room) and says something; alice enters asking for history,
//    receives bob's message as history (delayed) and answers; bob receives the answer live;
//  - a nickname in use by another account is refused with the XMPP condition named (exit 1,
//    "conflict" in the JSON error);
//  - join without --count or --timeout sends standard input's lines and leaves once the room has
//    reflected them.
//
// Ports (xmpp_peers.hpp, 19220-19249):
//   19220-19221  parleyd
//   19222-19224  Prosody
//   19225-19227  ejabberd (c2s, direct TLS, Erlang distribution)

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "client_support.hpp"
#include "parleyd_peer.hpp"
#include "xmpp_peers.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kParleydPort = 19220;
constexpr std::uint16_t kProsodyPort = 19222;
constexpr std::uint16_t kEjabberdPort = 19225;
constexpr const char* kMucDomain = "conference.example.test";

const std::vector<XmppAccount> kAccounts = {
    {"alice", "alice-secret"}, {"bob", "bob-secret"}, {"carol", "carol-secret"}};

XmppPeerOptions muc_options(std::uint16_t port) {
  XmppPeerOptions options;
  options.c2s_port = port;
  options.direct_tls_port = static_cast<std::uint16_t>(port + 1);
  options.erlang_distribution_port = static_cast<std::uint16_t>(port + 2);
  options.certificate_chain_file = fixture("chains/p256/chain.pem");
  options.private_key_file = fixture("chains/p256/leaf.key");
  options.accounts = kAccounts;
  options.muc_domain = kMucDomain;
  return options;
}

std::string password_of(const std::string& localpart) {
  for (const auto& account : kAccounts)
    if (account.localpart == localpart) return account.password;
  return {};
}

std::string room(const std::string& name) {
  return name + "@" + kMucDomain;
}

std::string json_text(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
}

// The JSON objects with "event": `event` (and, when given, "body": `body`).
std::vector<boost::json::object> events(const std::string& output, const std::string& event,
                                        const std::string& body = {}) {
  std::vector<boost::json::object> found;
  for (auto& line : json_lines(output)) {
    const auto* kind = line.if_contains("event");
    if (kind == nullptr || json_text(*kind) != event) continue;
    if (!body.empty()) {
      const auto* text = line.if_contains("body");
      if (text == nullptr || json_text(*text) != body) continue;
    }
    found.push_back(std::move(line));
  }
  return found;
}

// Group chat scenarios against one server, whichever it is.
class RoomScenarios {
 public:
  RoomScenarios(std::uint16_t port, std::function<std::string()> log_tail)
      : port_(port), log_tail_(std::move(log_tail)) {}

  std::vector<std::string> arguments(const ParleyUser& user, const std::string& localpart,
                                     std::vector<std::string> rest) const {
    std::vector<std::string> argv{"--account",
                                  localpart + "@example.test",
                                  "--server",
                                  "127.0.0.1:" + std::to_string(port_),
                                  "--ca",
                                  fixture("chains/p256/root.crt"),
                                  "--password-file",
                                  user.password_file(password_of(localpart)).string()};
    argv.insert(argv.end(), rest.begin(), rest.end());
    return argv;
  }

  void talk_with_history(const std::string& name) const {
    ParleyUser alice("alice-" + name), bob("bob-" + name);
    const std::string lobby = room(name);
    auto first = BackgroundParley::start(bob,
                                         arguments(bob, "bob",
                                                   {"--json", "join", lobby, "--say", "hi from bob",
                                                    "--count", "1", "--timeout", "60"}),
                                         "bob");
    ASSERT_TRUE(first) << first.error().message;
    // Bob is in (and the room configured) once his own message comes back.
    ASSERT_TRUE((*first)->wait_for_output("hi from bob", 30s)) << (*first)->output() << log_tail_();
    const auto bob_so_far = (*first)->output();
    EXPECT_EQ(events(bob_so_far, "joined").size(), 1u) << bob_so_far;

    auto answered = alice.run(arguments(alice, "alice",
                                        {"--json", "join", lobby, "--history", "5", "--say",
                                         "hello from alice", "--count", "1", "--timeout", "30"}),
                              "", 60s);
    ASSERT_TRUE(answered) << answered.error().message;
    EXPECT_EQ(answered->exit_code, 0) << answered->output << log_tail_();
    const auto history = events(answered->output, "message", "hi from bob");
    ASSERT_EQ(history.size(), 1u) << answered->output;
    EXPECT_EQ(json_text(history[0].at("nick")), "bob");
    EXPECT_EQ(json_text(history[0].at("delayed")), "true") << "history comes with a delay";
    EXPECT_EQ(json_text(history[0].at("own")), "false");
    const auto occupants = events(answered->output, "occupant");
    ASSERT_FALSE(occupants.empty()) << answered->output;
    EXPECT_EQ(json_text(occupants[0].at("nick")), "bob");
    EXPECT_EQ(json_text(occupants[0].at("change")), "present");

    const auto exit_code = (*first)->wait_for_exit(30s);
    const std::string bob_output = (*first)->output();
    ASSERT_TRUE(exit_code) << bob_output;
    EXPECT_EQ(*exit_code, 0) << bob_output;
    const auto live = events(bob_output, "message", "hello from alice");
    ASSERT_EQ(live.size(), 1u) << bob_output << log_tail_();
    EXPECT_EQ(json_text(live[0].at("nick")), "alice");
    EXPECT_EQ(json_text(live[0].at("delayed")), "false");
    // Bob saw alice come in, and his own message is marked as his.
    const auto own = events(bob_output, "message", "hi from bob");
    ASSERT_EQ(own.size(), 1u) << bob_output;
    EXPECT_EQ(json_text(own[0].at("own")), "true");
    bool saw_alice = false;
    for (const auto& occupant : events(bob_output, "occupant"))
      saw_alice |= json_text(occupant.at("nick")) == "alice";
    EXPECT_TRUE(saw_alice) << bob_output;
  }

  void nickname_conflict(const std::string& name) const {
    ParleyUser alice("alice-conflict-" + name), bob("bob-conflict-" + name);
    const std::string lobby = room(name);
    auto holder = BackgroundParley::start(
        bob, arguments(bob, "bob", {"join", lobby + "/Speaker", "--timeout", "60"}), "bob");
    ASSERT_TRUE(holder) << holder.error().message;
    ASSERT_TRUE((*holder)->wait_for_output("* joined", 30s)) << (*holder)->output() << log_tail_();

    auto refused = alice.run(
        arguments(alice, "alice", {"--json", "join", lobby + "/Speaker", "--say", "x"}), "", 60s);
    ASSERT_TRUE(refused) << refused.error().message;
    EXPECT_EQ(refused->exit_code, 1) << refused->output;
    EXPECT_NE(refused->output.find("the room refused entry: conflict"), std::string::npos)
        << refused->output;
    bool named = false;
    for (const auto& line : json_lines(refused->output)) {
      const auto* error = line.if_contains("error");
      if (error && error->is_object() && error->as_object().contains("condition"))
        named = json_text(error->as_object().at("condition")) == "conflict";
    }
    EXPECT_TRUE(named) << refused->output;
  }

  void standard_input_lines(const std::string& name) const {
    ParleyUser alice("alice-stdin-" + name), carol("carol-stdin-" + name);
    const std::string lobby = room(name);
    auto listener = BackgroundParley::start(
        carol, arguments(carol, "carol", {"join", lobby, "--count", "2", "--timeout", "60"}),
        "carol");
    ASSERT_TRUE(listener) << listener.error().message;
    ASSERT_TRUE((*listener)->wait_for_output("* joined", 30s))
        << (*listener)->output() << log_tail_();
    // No --count, no --timeout: the lines are sent, and parley leaves once the room echoed both.
    auto said =
        alice.run(arguments(alice, "alice", {"join", lobby}), "first line\nsecond line\n", 60s);
    ASSERT_TRUE(said) << said.error().message;
    EXPECT_EQ(said->exit_code, 0) << said->output << log_tail_();
    EXPECT_NE(said->output.find("/alice: second line"), std::string::npos) << said->output;
    EXPECT_NE(said->output.find("* left " + lobby + " (left)"), std::string::npos) << said->output;
    const auto exit_code = (*listener)->wait_for_exit(30s);
    ASSERT_TRUE(exit_code) << (*listener)->output();
    EXPECT_EQ(*exit_code, 0) << (*listener)->output();
    const std::string heard = (*listener)->output();
    EXPECT_LT(heard.find("/alice: first line"), heard.find("/alice: second line")) << heard;
    EXPECT_NE(heard.find("/alice: second line"), std::string::npos) << heard;
  }

 private:
  std::uint16_t port_;
  std::function<std::string()> log_tail_;
};

// ---- parleyd ------------------------------------------------------------------------------------

class JoinWithParleyd : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (ParleydPeer::unavailable_reason()) return;
    auto started = ParleydPeer::start(muc_options(kParleydPort));
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
  RoomScenarios scenarios() const {
    return RoomScenarios(kParleydPort, [] { return server_->log_tail(); });
  }
  static inline std::unique_ptr<ParleydPeer> server_;
  static inline std::string start_error_;
};

TEST_F(JoinWithParleyd, TwoClientsTalkWithHistory) {
  scenarios().talk_with_history("parleyd-talk");
}
TEST_F(JoinWithParleyd, NicknameConflictIsNamed) {
  scenarios().nickname_conflict("parleyd-conflict");
}
TEST_F(JoinWithParleyd, StandardInputLinesAreSentThenLeaves) {
  scenarios().standard_input_lines("parleyd-stdin");
}

// ---- Prosody ------------------------------------------------------------------------------------

class JoinWithProsody : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_.start(muc_options(kProsodyPort)); }
  static void TearDownTestSuite() { server_.stop(); }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (server_.skip_reason()) GTEST_SKIP() << *server_.skip_reason();
    ASSERT_NE(server_.get(), nullptr) << server_.start_error();
  }
  RoomScenarios scenarios() const {
    return RoomScenarios(kProsodyPort, [] { return server_.get()->log_tail(); });
  }
  static inline SuitePeer<ProsodyPeer> server_;
};

TEST_F(JoinWithProsody, TwoClientsTalkWithHistory) {
  scenarios().talk_with_history("prosody-talk");
}
TEST_F(JoinWithProsody, NicknameConflictIsNamed) {
  scenarios().nickname_conflict("prosody-conflict");
}
TEST_F(JoinWithProsody, StandardInputLinesAreSentThenLeaves) {
  scenarios().standard_input_lines("prosody-stdin");
}

// ---- ejabberd -----------------------------------------------------------------------------------

class JoinWithEjabberd : public testing::Test {
 protected:
  static void SetUpTestSuite() { server_.start(muc_options(kEjabberdPort)); }
  static void TearDownTestSuite() { server_.stop(); }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (server_.skip_reason()) GTEST_SKIP() << *server_.skip_reason();
    ASSERT_NE(server_.get(), nullptr) << server_.start_error();
  }
  RoomScenarios scenarios() const {
    return RoomScenarios(kEjabberdPort, [] { return server_.get()->log_tail(); });
  }
  static inline SuitePeer<EjabberdPeer> server_;
};

TEST_F(JoinWithEjabberd, TwoClientsTalkWithHistory) {
  scenarios().talk_with_history("ejabberd-talk");
}
TEST_F(JoinWithEjabberd, NicknameConflictIsNamed) {
  scenarios().nickname_conflict("ejabberd-conflict");
}
TEST_F(JoinWithEjabberd, StandardInputLinesAreSentThenLeaves) {
  scenarios().standard_input_lines("ejabberd-stdin");
}

}  // namespace
}  // namespace parley::integration::client_test
