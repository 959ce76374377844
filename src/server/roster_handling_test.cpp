#include "server/roster_handling.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <vector>

#include "server/iq_handling.hpp"
#include "server/presence_handling.hpp"
#include "server/stanza.hpp"
#include "store/storage.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::server {
namespace {

// A bound session that keeps what the server sends it.
class FakeSession : public BoundSession {
 public:
  explicit FakeSession(std::string_view jid) { full_jid_ = *xmpp::Jid::parse(jid); }
  void send_wire(std::string_view wire) override { wires_.emplace_back(wire); }
  void terminate(xml::StreamErrorCondition, std::string_view) override {}

  // Everything received since the last call, serialized.
  std::string take() {
    std::string out;
    for (const auto& wire : wires_) out += wire;
    wires_.clear();
    return out;
  }

 private:
  std::vector<std::string> wires_;
};

std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("roster-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

ServerConfig test_config() {
  ServerConfig config;
  config.domain = "example.test";
  return config;
}

class RosterTest : public ::testing::Test {
 protected:
  RosterTest()
      : config_(test_config()),
        storage_(std::move(*store::Storage::open("sqlite::memory:"))),
        services_(config_, *storage_, null_logger()) {
    for (const char* name : {"alice", "bob"}) {
      using xmpp::sasl::ScramCredentials;
      using xmpp::sasl::ScramHash;
      ScramCredentials sha1{ScramHash::sha1, "salt", 4096, std::string(20, 'a'),
                            std::string(20, 'b')};
      ScramCredentials sha256{ScramHash::sha256, "salt", 4096, std::string(32, 'a'),
                              std::string(32, 'b')};
      EXPECT_TRUE(storage_->accounts().create(name, sha1, sha256).has_value());
    }
  }

  // A stanza as the c2s session hands it over: parsed, 'from' stamped.
  static xml::Element stanza(FakeSession& from, const std::string& text) {
    auto element = xml::parse_element(text, kClientNamespace);
    EXPECT_TRUE(element.has_value()) << text;
    element->set_attribute("from", from.full_jid().to_string());
    return std::move(*element);
  }
  void presence(FakeSession& from, const std::string& text) {
    handle_presence(services_, from, stanza(from, text));
  }
  void iq(FakeSession& from, const std::string& text) {
    handle_iq(services_, from, stanza(from, text));
  }
  // Binds the session and sends initial presence; returns what it received.
  std::string log_in(FakeSession& session) {
    services_.router.add(session);
    presence(session, "<presence/>");
    return session.take();
  }
  void log_out(FakeSession& session) {
    session_ended(services_, session);
    services_.router.remove(session);
  }
  std::string roster_of(FakeSession& session) {
    iq(session, "<iq type='get' id='r'><query xmlns='jabber:iq:roster'/></iq>");
    return session.take();
  }

  ServerConfig config_;
  std::unique_ptr<store::Storage> storage_;
  ServerServices services_;
};

TEST_F(RosterTest, SetIgnoresSubscriptionAndAskFromTheClient) {
  FakeSession alice("alice@example.test/a");
  log_in(alice);
  roster_of(alice);
  // slixmpp sends subscription='none' with every roster set; RFC 6121 2.1.2.5 says ignore it.
  iq(alice,
     "<iq type='set' id='s1'><query xmlns='jabber:iq:roster'>"
     "<item jid='bob@example.test' name='Bob' subscription='both' ask='subscribe'/>"
     "</query></iq>");
  const std::string answer = alice.take();
  EXPECT_NE(answer.find("type='result'"), std::string::npos) << answer;
  EXPECT_NE(answer.find("subscription='none'"), std::string::npos) << "the push: " << answer;
  EXPECT_EQ(answer.find("ask="), std::string::npos) << answer;
  auto stored = storage_->roster().item("alice", "bob@example.test");
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->subscription, store::Subscription::none);
  EXPECT_FALSE((*stored)->ask_subscribe);
}

TEST_F(RosterTest, ErrorsForTheAccountComeFromItsBareJid) {
  FakeSession alice("alice@example.test/a");
  log_in(alice);
  iq(alice, "<iq type='set' id='s1'><query xmlns='jabber:iq:roster'/></iq>");
  const std::string answer = alice.take();
  EXPECT_NE(answer.find("type='error'"), std::string::npos) << answer;
  EXPECT_NE(answer.find("from='alice@example.test'"), std::string::npos) << answer;
}

// RFC 6121 3.1.3: kept while the contact is offline, delivered at every initial presence until
// answered, and not a roster item of the contact before it approves.
TEST_F(RosterTest, RequestToAnOfflineContactComesBackAtEachLoginUntilAnswered) {
  FakeSession alice("alice@example.test/a");
  log_in(alice);
  presence(alice, "<presence to='bob@example.test' type='subscribe'/>");

  FakeSession bob1("bob@example.test/1");
  std::string received = log_in(bob1);
  EXPECT_NE(received.find("type='subscribe'"), std::string::npos) << received;
  EXPECT_NE(received.find("from='alice@example.test'"), std::string::npos) << received;
  const std::string roster = roster_of(bob1);
  EXPECT_EQ(roster.find("alice@example.test"), std::string::npos)
      << "a pending request is not a roster item: " << roster;
  log_out(bob1);

  FakeSession bob2("bob@example.test/2");
  received = log_in(bob2);
  EXPECT_EQ(received.find("type='subscribe'"), received.rfind("type='subscribe'"))
      << "once, not twice (no offline copy as well): " << received;
  EXPECT_NE(received.find("type='subscribe'"), std::string::npos) << "again: " << received;
  roster_of(bob2);
  presence(bob2, "<presence to='alice@example.test' type='subscribed'/>");
  const std::string approved = bob2.take();
  EXPECT_NE(approved.find("subscription='from'"), std::string::npos)
      << "approval adds the item: " << approved;
  log_out(bob2);

  FakeSession bob3("bob@example.test/3");
  received = log_in(bob3);
  EXPECT_EQ(received.find("type='subscribe'"), std::string::npos) << received;
  auto alice_item = storage_->roster().item("alice", "bob@example.test");
  ASSERT_TRUE(alice_item && *alice_item);
  EXPECT_EQ((*alice_item)->subscription, store::Subscription::to);
}

TEST_F(RosterTest, DeniedOrWithdrawnRequestLeavesNoItem) {
  FakeSession alice("alice@example.test/a");
  FakeSession bob("bob@example.test/b");
  log_in(alice);
  log_in(bob);
  roster_of(bob);
  presence(alice, "<presence to='bob@example.test' type='subscribe'/>");
  EXPECT_NE(bob.take().find("type='subscribe'"), std::string::npos);
  presence(bob, "<presence to='alice@example.test' type='unsubscribed'/>");
  EXPECT_EQ(bob.take().find("<iq"), std::string::npos) << "no roster push for an unseen item";
  EXPECT_FALSE(*storage_->roster().item("bob", "alice@example.test"));

  presence(alice, "<presence to='bob@example.test' type='subscribe'/>");
  bob.take();
  presence(alice, "<presence to='bob@example.test' type='unsubscribe'/>");
  EXPECT_EQ(bob.take().find("<iq"), std::string::npos);
  EXPECT_FALSE(*storage_->roster().item("bob", "alice@example.test"));
  log_out(bob);
  FakeSession bob2("bob@example.test/2");
  EXPECT_EQ(log_in(bob2).find("type='subscribe'"), std::string::npos);
}

// A contact who already has the requester on its roster keeps the item visible while the
// request is pending, and adding the requester while it is pending makes the item visible.
TEST_F(RosterTest, PendingRequestFromSomeoneOnTheRosterKeepsTheItemVisible) {
  FakeSession alice("alice@example.test/a");
  FakeSession bob("bob@example.test/b");
  log_in(alice);
  presence(alice, "<presence to='bob@example.test' type='subscribe'/>");
  log_in(bob);
  roster_of(bob);
  iq(bob,
     "<iq type='set' id='add'><query xmlns='jabber:iq:roster'>"
     "<item jid='alice@example.test' name='Alice'/></query></iq>");
  const std::string pushed = bob.take();
  EXPECT_NE(pushed.find("name='Alice'"), std::string::npos) << pushed;
  EXPECT_NE(roster_of(bob).find("alice@example.test"), std::string::npos);
  log_out(bob);
  FakeSession bob2("bob@example.test/2");
  EXPECT_NE(log_in(bob2).find("type='subscribe'"), std::string::npos)
      << "still pending, still redelivered";
}

}  // namespace
}  // namespace parley::server
