#include "server/router.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace parley::server {
namespace {

class NamedSession : public BoundSession {
 public:
  explicit NamedSession(std::string_view jid) { full_jid_ = *xmpp::Jid::parse(jid); }
  void send_wire(std::string_view) override {}
  void terminate(xml::StreamErrorCondition, std::string_view) override {}
};

using Sessions = std::vector<BoundSession*>;

TEST(RouterTest, SessionsOfAnAccountByBareTextOrByAnyJidOfIt) {
  Router router;
  NamedSession phone("juliet@example.com/phone"), laptop("juliet@example.com/laptop"),
      other("romeo@example.com/r");
  EXPECT_EQ(router.add(phone), nullptr);
  EXPECT_EQ(router.add(laptop), nullptr);
  EXPECT_EQ(router.add(other), nullptr);
  EXPECT_EQ(router.session_count(), 3u);
  EXPECT_EQ(router.account_count(), 2u);

  EXPECT_EQ(router.sessions_of("juliet@example.com"), (Sessions{&phone, &laptop}));
  EXPECT_EQ(router.sessions_of(*xmpp::Jid::parse("juliet@example.com/elsewhere")),
            (Sessions{&phone, &laptop}))
      << "a full JID names its account";
  EXPECT_EQ(router.sessions_of(*xmpp::Jid::parse("Juliet@Example.COM")),
            (Sessions{&phone, &laptop}));
  EXPECT_TRUE(router.sessions_of(*xmpp::Jid::parse("example.com")).empty());
  EXPECT_TRUE(router.sessions_of(*xmpp::Jid::parse("nurse@example.com")).empty());
  EXPECT_EQ(router.find(*xmpp::Jid::parse("juliet@example.com/laptop")), &laptop);
  EXPECT_EQ(router.find(*xmpp::Jid::parse("juliet@example.com/tablet")), nullptr);
}

TEST(RouterTest, EachSessionSeesItsAccountsCurrentSessions) {
  Router router;
  NamedSession phone("juliet@example.com/phone"), laptop("juliet@example.com/laptop");
  EXPECT_TRUE(phone.account_sessions().empty()) << "not registered yet";
  router.add(phone);
  EXPECT_EQ(phone.account_sessions(), (Sessions{&phone}));
  router.add(laptop);
  EXPECT_EQ(phone.account_sessions(), (Sessions{&phone, &laptop}));
  EXPECT_EQ(laptop.account_sessions(), (Sessions{&phone, &laptop}));

  router.remove(phone);
  EXPECT_TRUE(phone.account_sessions().empty());
  EXPECT_EQ(laptop.account_sessions(), (Sessions{&laptop}));
  router.remove(laptop);
  EXPECT_TRUE(laptop.account_sessions().empty());
  EXPECT_EQ(router.account_count(), 0u);

  // Many other accounts coming and going (the registry rehashes) leave a list where it was.
  router.add(phone);
  std::vector<std::unique_ptr<NamedSession>> crowd;
  for (int i = 0; i < 500; ++i) {
    crowd.push_back(std::make_unique<NamedSession>("user" + std::to_string(i) + "@example.com/r"));
    router.add(*crowd.back());
  }
  router.add(laptop);
  EXPECT_EQ(phone.account_sessions(), (Sessions{&phone, &laptop}));
  for (auto& session : crowd) router.remove(*session);
  EXPECT_EQ(laptop.account_sessions(), (Sessions{&phone, &laptop}));
}

TEST(RouterTest, ANewSessionForTheSameResourceReplacesTheOld) {
  Router router;
  NamedSession old_one("juliet@example.com/phone"), new_one("juliet@example.com/phone");
  router.add(old_one);
  EXPECT_EQ(router.add(new_one), &old_one) << "returned so that it can be terminated";
  EXPECT_TRUE(old_one.account_sessions().empty());
  EXPECT_EQ(new_one.account_sessions(), (Sessions{&new_one}));
  EXPECT_EQ(router.sessions_of("juliet@example.com"), (Sessions{&new_one}));
  EXPECT_EQ(router.session_count(), 1u);
}

TEST(RouterTest, ASessionRemembersTheAddressItLastSentTo) {
  NamedSession session("juliet@example.com/phone");
  // The prepared form of what the session remembers for `text`, or "" when nothing.
  auto remembered = [&](std::string_view text) -> std::string {
    const xmpp::Jid* jid = session.last_address(text);
    return jid != nullptr ? jid->to_string() : std::string();
  };
  EXPECT_EQ(remembered("romeo@example.net"), "") << "nothing sent yet";
  session.set_last_address("Romeo@Example.NET", *xmpp::Jid::parse("Romeo@Example.NET"));
  EXPECT_EQ(remembered("Romeo@Example.NET"), "romeo@example.net");
  EXPECT_EQ(remembered("romeo@example.net"), "") << "compared as written";
  session.set_last_address("nurse@example.com/r", *xmpp::Jid::parse("nurse@example.com/r"));
  EXPECT_EQ(remembered("Romeo@Example.NET"), "") << "only the last one";
  EXPECT_EQ(remembered("nurse@example.com/r"), "nurse@example.com/r");
}

}  // namespace
}  // namespace parley::server
