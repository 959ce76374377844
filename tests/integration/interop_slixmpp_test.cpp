// parleyd with slixmpp 1.8 (Debian's python3-slixmpp), a third-party XMPP library, as the client:
// peers/slixmpp_peer.py runs a script of steps against a parleyd started per test on
// 127.0.0.1:19250 (STARTTLS) and 19251 (direct TLS), verifying parleyd's certificate against the
// test CA and the name example.test. Covered: login both ways (and refusal of an untrusted CA),
// roster get/add, subscriptions both ways with presence seen both ways, chat both ways, offline
// delivery with a delay stamp, a subscription request made while the contact was offline and
// redelivered at each of its logins until answered (RFC 6121 3.1.3), group chat with history on
// join, and a XEP-0313 archive query. And slixmpp with its default mechanism order (what poezio
// does): refused -PLUS with 'tls-unique' and plain SCRAM with the 'y' flag, it falls back
// mechanism by mechanism on the same stream, and logs in with PLAIN where parleyd offers it
// (19310-19311).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "interop_support.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kC2sPort = 19250;
constexpr std::uint16_t kDirectTlsPort = 19251;
constexpr std::uint16_t kPlainC2sPort = 19310;
constexpr std::uint16_t kPlainDirectTlsPort = 19311;
constexpr auto kRunTimeout = 60s;

class ParleydWithSlixmpp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    if (auto reason = SlixmppPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    auto started = start_interop_parleyd(kC2sPort, kDirectTlsPort);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  std::filesystem::path log(const std::string& name) const {
    return server_->directory() / (name + ".log");
  }

  SlixmppOptions as(std::string user, std::vector<std::string> steps) const {
    return slixmpp_as(std::move(user), kC2sPort, std::move(steps));
  }

  std::unique_ptr<SlixmppPeer> start(const SlixmppOptions& options, const std::string& name) {
    auto peer = SlixmppPeer::start(options, log(name));
    EXPECT_TRUE(peer) << peer.error().message;
    return peer ? std::move(*peer) : nullptr;
  }

  // The peer's exit code, with its output and parleyd's log when it is not 0.
  ::testing::AssertionResult finished(SlixmppPeer& peer) {
    auto code = peer.wait_for_exit(kRunTimeout);
    if (code == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "exit " << (code ? std::to_string(*code) : "none") << "\n"
           << peer.output() << "\n--- parleyd:\n"
           << server_->log_tail(6000);
  }

  std::unique_ptr<ParleydPeer> server_;
};

::testing::AssertionResult contains(const std::string& text, std::string_view needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "no \"" << needle << "\" in:\n" << text;
}

TEST_F(ParleydWithSlixmpp, LogsInOverStarttlsVerifyingTheCertificate) {
  auto run = run_slixmpp(as("alice", {"roster-get"}), log("alice"));
  ASSERT_EQ(run.exit_code, 0) << run.output << server_->log_tail();
  EXPECT_TRUE(contains(run.output, "connected tls=TLSv1.3 jid=alice@example.test/slixmpp"));
  EXPECT_TRUE(contains(run.output, "roster-end count=0"));
}

TEST_F(ParleydWithSlixmpp, LogsInOverDirectTlsVerifyingTheCertificate) {
  SlixmppOptions options = as("alice", {"roster-get"});
  options.port = kDirectTlsPort;
  options.direct_tls = true;
  auto run = run_slixmpp(options, log("alice"));
  ASSERT_EQ(run.exit_code, 0) << run.output << server_->log_tail();
  EXPECT_TRUE(contains(run.output, "connected tls=TLSv1.3 jid=alice@example.test/slixmpp"));
}

TEST_F(ParleydWithSlixmpp, RefusesParleydWhenTheCaDidNotSignItsCertificate) {
  for (bool direct_tls : {false, true}) {
    SCOPED_TRACE(direct_tls ? "direct TLS" : "STARTTLS");
    SlixmppOptions options = as("alice", {"roster-get"});
    options.ca_file = kUntrustedCa;
    options.direct_tls = direct_tls;
    options.port = direct_tls ? kDirectTlsPort : kC2sPort;
    auto run = run_slixmpp(options, log("untrusted"));
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_TRUE(contains(run.output, "certificate verify failed"));
    EXPECT_EQ(run.output.find("connected tls="), std::string::npos) << run.output;
  }
  EXPECT_EQ(server_->log_tail(100000).find("authenticated"), std::string::npos)
      << "no credentials reached the server";
}

TEST_F(ParleydWithSlixmpp, WrongPasswordIsRefused) {
  SlixmppOptions options = as("alice", {"roster-get"});
  options.password = "not-the-password";
  auto run = run_slixmpp(options, log("alice"));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_TRUE(contains(run.output, "error authentication failed"));
}

// Both online: roster add, subscriptions both ways, presence seen both ways, chat both ways, the
// roster afterwards, and the unavailable presence when one leaves. (Step lists are kept one step
// per line, unformatted.)
TEST_F(ParleydWithSlixmpp, SubscribePresenceAndChatBothWays) {
  // clang-format off
  auto bob = start(as("bob", {
      "presence",
      "wait", "subscribe-request from=alice@example.test",
      "approve", "alice@example.test",
      "subscribe", "alice@example.test",
      "wait", "subscribed from=alice@example.test",
      "wait", "presence from=alice@example.test/slixmpp type=available",
      "wait", "body=hello bob",
      "send", "alice@example.test", "hello alice",
      "roster-get",
  }), "bob");
  // clang-format on
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->wait_for_line("step 1 presence ok", 20s)) << bob->output();
  // Roster pushes go to resources that asked for the roster (RFC 6121 2.1.6): roster-get first.
  // clang-format off
  auto alice = start(as("alice", {
      "roster-get",
      "presence",
      "roster-add", "bob@example.test", "Bob",
      "subscribe", "bob@example.test",
      "wait", "subscribed from=bob@example.test",
      "wait", "presence from=bob@example.test/slixmpp type=available",
      "wait", "subscribe-request from=bob@example.test",
      "approve", "bob@example.test",
      "send", "bob@example.test", "hello bob",
      "wait", "body=hello alice",
      "roster-get",
      "wait", "presence from=bob@example.test/slixmpp type=unavailable",
  }), "alice");
  // clang-format on
  ASSERT_TRUE(alice);
  EXPECT_TRUE(finished(*bob));
  EXPECT_TRUE(finished(*alice));
  const std::string a = alice->output(), b = bob->output();
  // roster-add (slixmpp sends subscription='none', which the server ignores), then the request,
  // then the approval.
  EXPECT_TRUE(contains(a, "roster-push jid=bob@example.test subscription=none ask=none"));
  EXPECT_TRUE(contains(a, "roster-push jid=bob@example.test subscription=none ask=subscribe"));
  EXPECT_TRUE(contains(a, "roster-push jid=bob@example.test subscription=to ask=none"));
  EXPECT_TRUE(
      contains(a, "message from=bob@example.test/slixmpp type=chat delay=no body=hello alice"));
  EXPECT_TRUE(contains(a, "roster jid=bob@example.test subscription=both ask=none name=Bob"));
  EXPECT_TRUE(
      contains(b, "message from=alice@example.test/slixmpp type=chat delay=no body=hello bob"));
  EXPECT_TRUE(contains(b, "roster jid=alice@example.test subscription=both ask=none"));
}

TEST_F(ParleydWithSlixmpp, OfflineMessageArrivesAtNextLoginWithADelayStamp) {
  auto alice =
      run_slixmpp(as("alice", {"send", "bob@example.test", "while you were out"}), log("alice"));
  ASSERT_EQ(alice.exit_code, 0) << alice.output;
  auto bob = run_slixmpp(as("bob", {"presence", "wait", "body=while you were out"}), log("bob"));
  ASSERT_EQ(bob.exit_code, 0) << bob.output << server_->log_tail();
  EXPECT_TRUE(contains(bob.output, "message from=alice@example.test/slixmpp type=chat delay=20"))
      << "a XEP-0203 stamp (this century) on the stored message";
}

// RFC 6121 3.1.3: a request to a contact that is offline is kept and delivered when the contact
// next comes online, again at every login until the contact answers; meanwhile the contact's
// roster does not list the requester (the "None + Pending In" state has no roster item).
TEST_F(ParleydWithSlixmpp, SubscriptionRequestWaitsForTheOfflineContactUntilAnswered) {
  auto alice =
      run_slixmpp(as("alice", {"presence", "subscribe", "bob@example.test"}), log("alice"));
  ASSERT_EQ(alice.exit_code, 0) << alice.output;
  auto first = run_slixmpp(
      as("bob", {"presence", "wait", "subscribe-request from=alice@example.test", "roster-get"}),
      log("bob-1"));
  ASSERT_EQ(first.exit_code, 0) << first.output << server_->log_tail();
  EXPECT_TRUE(contains(first.output, "roster-end count=0"));
  // Bob did not answer: the request comes again.
  auto second =
      run_slixmpp(as("bob", {"presence", "wait", "subscribe-request from=alice@example.test",
                             "approve", "alice@example.test", "sleep", "0.5", "roster-get"}),
                  log("bob-2"));
  ASSERT_EQ(second.exit_code, 0) << second.output << server_->log_tail();
  EXPECT_TRUE(contains(second.output, "roster jid=alice@example.test subscription=from"));
  // Answered: not again.
  auto third = run_slixmpp(as("bob", {"presence", "sleep", "2"}), log("bob-3"));
  ASSERT_EQ(third.exit_code, 0) << third.output;
  EXPECT_EQ(third.output.find("subscribe-request"), std::string::npos) << third.output;
  // Alice's side: subscribed, and the approval she missed while offline.
  auto later = run_slixmpp(as("alice", {"presence", "roster-get"}), log("alice-2"));
  ASSERT_EQ(later.exit_code, 0) << later.output;
  EXPECT_TRUE(contains(later.output, "roster jid=bob@example.test subscription=to ask=none"));
}

TEST_F(ParleydWithSlixmpp, GroupChatMessagesAndHistoryOnJoin) {
  const std::string room = "lobby@conference.example.test";
  // clang-format off
  auto alice = start(as("alice", {
      "presence",
      "join", room, "Alice",
      "groupchat", room, "said before bob came",
      "wait", "groupchat from=" + room + "/Alice delay=no body=said before",
      "wait", "occupant from=" + room + "/Bob type=available",
      "wait", "body=hi alice",
      "groupchat", room, "welcome bob",
      "wait", "occupant from=" + room + "/Bob type=unavailable",
  }), "alice");
  // clang-format on
  ASSERT_TRUE(alice);
  ASSERT_TRUE(alice->wait_for_line("groupchat from=" + room + "/Alice", 20s)) << alice->output();
  // clang-format off
  auto bob = start(as("bob", {
      "presence",
      "join", room, "Bob",
      "groupchat", room, "hi alice",
      "wait", "body=welcome bob",
  }), "bob");
  // clang-format on
  ASSERT_TRUE(bob);
  EXPECT_TRUE(finished(*bob));
  EXPECT_TRUE(finished(*alice));
  const std::string a = alice->output(), b = bob->output();
  // The creator hears 110 (itself) and 201 (a new room).
  EXPECT_TRUE(contains(a, "occupant from=" + room + "/Alice type=available codes=110,201"));
  EXPECT_TRUE(contains(a, "joined room=" + room + " nick=Alice occupants="));
  EXPECT_TRUE(contains(b, "joined room=" + room + " nick=Bob occupants=Alice"));
  EXPECT_TRUE(contains(b, "history from=" + room + "/Alice delay=20"));
  EXPECT_TRUE(contains(b, "body=said before bob came"));
  EXPECT_TRUE(contains(a, "groupchat from=" + room + "/Bob delay=no body=hi alice"));
  EXPECT_TRUE(contains(b, "groupchat from=" + room + "/Alice delay=no body=welcome bob"));
}

TEST_F(ParleydWithSlixmpp, ArchiveQueryReturnsTheConversation) {
  // clang-format off
  auto bob = start(as("bob", {
      "presence",
      "wait", "body=first",
      "send", "alice@example.test", "second",
      "wait", "body=third",
  }), "bob");
  // clang-format on
  ASSERT_TRUE(bob);
  ASSERT_TRUE(bob->wait_for_line("step 1 presence ok", 20s)) << bob->output();
  // clang-format off
  auto alice = start(as("alice", {
      "presence",
      "send", "bob@example.test", "first",
      "wait", "body=second",
      "send", "bob@example.test", "third",
      "sleep", "0.5",
      "mam", "bob@example.test",
  }), "alice");
  // clang-format on
  ASSERT_TRUE(alice);
  EXPECT_TRUE(finished(*bob));
  EXPECT_TRUE(finished(*alice));
  const std::string a = alice->output();
  EXPECT_TRUE(contains(a, "mam from=alice@example.test delay=20"));
  EXPECT_TRUE(contains(a, "body=first"));
  EXPECT_TRUE(contains(a, "mam from=bob@example.test delay=20"));
  EXPECT_TRUE(contains(a, "body=second"));
  EXPECT_TRUE(contains(a, "mam-end count=3"));
}

// slixmpp 1.8 as it comes: SCRAM-*-PLUS with 'tls-unique' (which TLS 1.3 does not have), then
// SCRAM with 'y' (a downgrade sign, since parleyd offers -PLUS): every SCRAM is refused, each
// refusal on the same stream, and slixmpp reports that it ran out of mechanisms. The stream
// stays open through all of them: parleyd counts none as a wrong credential.
TEST_F(ParleydWithSlixmpp, DefaultMechanismsAreRefusedOneByOneOnOneStream) {
  SlixmppOptions options = as("alice", {"roster-get"});
  options.default_mechanisms = true;
  auto run = run_slixmpp(options, log("alice-default"));
  EXPECT_EQ(run.exit_code, 2) << run.output;
  for (const char* mechanism :
       {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1"})
    EXPECT_TRUE(contains(run.output, std::string("auth-refused mechanism=") + mechanism +
                                         " condition=not-authorized"));
  EXPECT_TRUE(contains(run.output, "error authentication failed"));
  const std::string log_text = server_->log_tail(1'000'000);
  EXPECT_EQ(log_text.find("too many"), std::string::npos) << log_text;
  EXPECT_NE(log_text.find("no credential checked"), std::string::npos) << log_text;
}

class ParleydWithSlixmppAndPlain : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    if (auto reason = SlixmppPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    InteropServerOptions options;
    options.c2s_port = kPlainC2sPort;
    options.direct_tls_port = kPlainDirectTlsPort;
    options.insecure_allow_plain = true;
    auto started = start_interop_parleyd(options);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }
  std::unique_ptr<ParleydPeer> server_;
};

// Issue 4: slixmpp (and so poezio) with PLAIN enabled logs in, after its refused SCRAM attempts.
TEST_F(ParleydWithSlixmppAndPlain, DefaultMechanismOrderFallsBackToPlainAndLogsIn) {
  for (bool direct_tls : {false, true}) {
    SCOPED_TRACE(direct_tls ? "direct TLS" : "STARTTLS");
    SlixmppOptions options = slixmpp_as("alice", kPlainC2sPort, {"roster-get"});
    options.default_mechanisms = true;
    options.direct_tls = direct_tls;
    options.port = direct_tls ? kPlainDirectTlsPort : kPlainC2sPort;
    auto run =
        run_slixmpp(options, server_->directory() / (direct_tls ? "direct.log" : "starttls.log"));
    ASSERT_EQ(run.exit_code, 0) << run.output << "\n--- parleyd:\n" << server_->log_tail(6000);
    EXPECT_TRUE(contains(run.output, "auth-refused mechanism=SCRAM-SHA-256-PLUS"));
    EXPECT_TRUE(contains(run.output, "authenticated mechanism=PLAIN"));
    EXPECT_TRUE(contains(run.output, "connected tls=TLSv1.3 jid=alice@example.test/slixmpp"));
    EXPECT_TRUE(contains(run.output, "roster-end count=0"));
  }
}

}  // namespace
}  // namespace parley::integration
