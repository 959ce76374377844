// parleyd end to end: the real binary started per test on 127.0.0.1:19000 (STARTTLS) and 19001
// (direct TLS) with its SQLite store in a temporary directory, driven by
//  - a raw XMPP client written here (plaintext and TLS, byte-exact), for the bad-input cases and
//    the negotiation details a friendly client would never exercise;
//  - go-sendxmpp, a real third-party client, for send/listen over STARTTLS and direct TLS and
//    offline delivery;
//  - parley-cert probe, which must judge parleyd the way it judges Prosody and ejabberd.
// Ports 19000-19001 are this suite's (parleyd_peer.hpp).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/blocking_socket.hpp"
#include "parleyd_peer.hpp"
#include "parleyd_raw_client.hpp"
#include "program.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kC2sPort = 19000;
constexpr std::uint16_t kDirectTlsPort = 19001;
const std::string kFixtures = PARLEY_FIXTURES_DIR;
const std::string kRoot = kFixtures + "/chains/p256/root.crt";

// The raw client and the fixture (parleyd_raw_client.hpp), on this suite's ports.
class ParleydTest : public ParleydServerTest {
 protected:
  ParleydTest() : ParleydServerTest(kC2sPort, kDirectTlsPort) {}
};

// ----- bad input before TLS: each one a stream error and a closed connection ------------------

TEST_F(ParleydTest, DoctypeIsRestrictedXml) {
  auto out = plaintext_exchange("<!DOCTYPE x [<!ENTITY a 'b'>]>", false);
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
  expect_fresh_session_works("after DoctypeIsRestrictedXml");
}

TEST_F(ParleydTest, CommentIsRestrictedXml) {
  auto out = plaintext_exchange("<!-- hello -->");
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
  expect_fresh_session_works("after CommentIsRestrictedXml");
}

TEST_F(ParleydTest, BillionLaughsIsRestrictedXmlAndCostsNothing) {
  std::string laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i < 10; ++i)
    laughs += "<!ENTITY lol" + std::to_string(i) + " '" + std::string(10, '&') +
              "'>";  // the shape, not the expansion, is what is refused
  laughs += "]><lolz>&lol9;</lolz>";
  auto out = plaintext_exchange(laughs, false);
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
  expect_fresh_session_works("after BillionLaughsIsRestrictedXmlAndCostsNothing");
}

TEST_F(ParleydTest, InvalidUtf8IsNotWellFormed) {
  auto out = plaintext_exchange("<message>\xC3\x28</message>");
  EXPECT_NE(out.find("<not-well-formed"), std::string::npos) << out;
  expect_fresh_session_works("after InvalidUtf8IsNotWellFormed");
}

TEST_F(ParleydTest, UnknownDomainIsHostUnknown) {
  auto out = plaintext_exchange(
      "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
      "xmlns:stream='http://etherx.jabber.org/streams' to='other.test' version='1.0'>",
      false);
  EXPECT_NE(out.find("<host-unknown"), std::string::npos) << out;
  EXPECT_EQ(out.find("<starttls"), std::string::npos) << "no features for a foreign domain";
}

TEST_F(ParleydTest, FeaturesRequireStarttls) {
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  EXPECT_NE(
      client->received().find("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/>"),
      std::string::npos);
  EXPECT_EQ(client->received().find("<mechanisms"), std::string::npos)
      << "no SASL mechanism may be offered before TLS";
}

TEST_F(ParleydTest, AuthBeforeTlsIsEncryptionRequired) {
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  client->send(
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
      "AGFsaWNlAGFsaWNlLXBhc3N3b3Jk</auth>");
  EXPECT_TRUE(client->read_until("<encryption-required/>")) << client->received();
  EXPECT_EQ(client->received().find("<success"), std::string::npos);
}

TEST_F(ParleydTest, MessageBeforeTlsIsNotAuthorized) {
  auto out = plaintext_exchange("<message to='bob@example.test'><body>hi</body></message>");
  EXPECT_NE(out.find("<not-authorized"), std::string::npos) << out;
}

TEST_F(ParleydTest, OversizeStanzaIsPolicyViolation) {
  std::string big = "<message><body>" + std::string(300 * 1024, 'a') + "</body></message>";
  auto out = plaintext_exchange(big);
  EXPECT_NE(out.find("<policy-violation"), std::string::npos) << out.substr(0, 2000);
  expect_fresh_session_works("after OversizeStanzaIsPolicyViolation");
}

TEST_F(ParleydTest, DeepNestingIsPolicyViolation) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  auto out = plaintext_exchange("<message>" + deep);
  EXPECT_NE(out.find("<policy-violation"), std::string::npos) << out;
  expect_fresh_session_works("after DeepNestingIsPolicyViolation");
}

TEST_F(ParleydTest, PlaintextPipelinedBehindStarttlsIsRefused) {
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  // The STARTTLS command-injection pattern: a stanza in plaintext right behind <starttls/>.
  client->send(
      "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"
      "<message to='bob@example.test'><body>injected</body></message>");
  EXPECT_TRUE(client->read_until_closed(5s));
}

// ----- limits -----------------------------------------------------------------------------------

TEST_F(ParleydTest, SlowlorisIsTimedOut) {
  server_.reset();
  start_server("[limits]\nstanza_timeout_seconds = 2\n");
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  const auto started = Clock::now();
  std::string stanza = "<message to='bob@example.test'><body>one byte at a time</body></message>";
  for (char c : stanza) {
    if (!client->send(std::string_view(&c, 1)) || client->read_until("connection-timeout", 500ms))
      break;
  }
  EXPECT_TRUE(client->read_until("<connection-timeout", 3s)) << client->received();
  EXPECT_LT(Clock::now() - started, 6s);
  client.reset();
  expect_fresh_session_works("after SlowlorisIsTimedOut");
}

TEST_F(ParleydTest, ThousandConnectionsFromOneAddressHitThePerAddressLimit) {
  server_.reset();
  start_server("[limits]\nmax_connections_per_ip = 50\n");
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::max<rlim_t>(limit.rlim_cur, std::min<rlim_t>(limit.rlim_max, 4096));
  ::setrlimit(RLIMIT_NOFILE, &limit);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 1000; ++i) {
    auto client = RawClient::connect(kC2sPort);
    if (client) clients.push_back(std::move(client));
  }
  int answered = 0;
  for (auto& client : clients) {
    client->send(kHeader);
  }
  for (auto& client : clients)
    if (client->read_until("<stream:features>", 300ms)) ++answered;
  EXPECT_EQ(answered, 50) << "exactly the per-address limit gets a stream";
  clients.clear();
  // The server is still there for everyone once the flood is gone.
  std::this_thread::sleep_for(300ms);
  auto after = RawClient::connect(kC2sPort);
  ASSERT_TRUE(after);
  after->send(kHeader);
  EXPECT_TRUE(after->read_until("</stream:features>")) << server_->log_tail();
  after.reset();
  expect_fresh_session_works("after ThousandConnectionsFromOneAddressHitThePerAddressLimit");
}

// ----- SASL -------------------------------------------------------------------------------------

TEST_F(ParleydTest, ScramSha256PlusAuthenticatesAndBinds) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  EXPECT_NE(client->received().find("<mechanism>SCRAM-SHA-256-PLUS</mechanism>"),
            std::string::npos);
  EXPECT_EQ(client->received().find("<mechanism>PLAIN</mechanism>"), std::string::npos)
      << "PLAIN is off unless configured";
  ASSERT_EQ(scram_login(*client, "alice", "alice-password", "SCRAM-SHA-256-PLUS"), "success");
  auto mark = client->mark();
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>", 5s, mark));
  EXPECT_NE(client->received().find("<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>", mark),
            std::string::npos);
  mark = client->mark();
  client->send(
      "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
      "<resource>laptop</resource></bind></iq>");
  ASSERT_TRUE(client->read_until("</iq>", 5s, mark));
  EXPECT_NE(client->received().find("<jid>alice@example.test/laptop</jid>", mark),
            std::string::npos);
}

TEST_F(ParleydTest, ScramSha1Authenticates) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  EXPECT_EQ(scram_login(*client, "bob", "bob-password", "SCRAM-SHA-1"), "success");
}

TEST_F(ParleydTest, WrongPasswordIsNotAuthorizedAndThreeFailuresClose) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    auto answer = scram_login(*client, "alice", "wrong", "SCRAM-SHA-256");
    EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  }
  EXPECT_TRUE(client->read_until("<policy-violation", 3s)) << client->received();
  EXPECT_TRUE(client->read_until_closed(3s));
  client.reset();
  expect_fresh_session_works("after WrongPasswordIsNotAuthorizedAndThreeFailuresClose");
}

TEST_F(ParleydTest, UnknownUserLooksLikeAWrongPassword) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  auto answer = scram_login(*client, "nobody", "whatever", "SCRAM-SHA-256");
  EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
}

TEST_F(ParleydTest, BadBase64IsIncorrectEncoding) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  auto mark = client->mark();
  client->send(
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>"
      "!!!not base64!!!</auth>");
  EXPECT_TRUE(client->read_until("<incorrect-encoding/>", 5s, mark)) << client->received();
  client.reset();
  expect_fresh_session_works("after BadBase64IsIncorrectEncoding");
}

// Refusals that check no credential (issue 4: slixmpp 1.8, and so poezio, picks -PLUS with
// 'tls-unique', which TLS 1.3 does not have, or sends the 'y' downgrade flag, and falls back to its
// next mechanism after each refusal): they neither end the stream after three nor feed the
// per-address limit on guessing. Wrong credentials still do both.

// Sends <auth/> with a hand-written initial response and returns the server's answer.
std::string refused_auth(RawClient& client, std::string_view mechanism,
                         std::string_view client_first) {
  const auto mark = client.mark();
  std::string auth =
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + std::string(mechanism) + "'>";
  if (!client_first.empty()) auth += xmpp::base64_encode(client_first);
  client.send(auth + "</auth>");
  if (!client.read_until_any({"</failure>", "</challenge>"}, 5s, mark)) return "no answer";
  return client.received().substr(mark);
}

constexpr std::string_view kTlsUniqueFirst = "p=tls-unique,,n=alice,r=slixmpp-like-nonce";
constexpr std::string_view kDowngradeFirst = "y,,n=alice,r=slixmpp-like-nonce";

TEST_F(ParleydTest, UnsupportedBindingRefusalsLeaveTheStreamForACorrectLogin) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    auto answer = refused_auth(*client, "SCRAM-SHA-256-PLUS", kTlsUniqueFirst);
    EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  }
  EXPECT_EQ(client->received().find("<policy-violation"), std::string::npos);
  EXPECT_EQ(scram_login(*client, "alice", "alice-password", "SCRAM-SHA-256-PLUS"), "success");
}

// slixmpp's whole fallback: both -PLUS with 'tls-unique', both plain SCRAMs with 'y', then the
// mechanism it can use (PLAIN in its case when enabled; SCRAM here, from this test's client).
TEST_F(ParleydTest, SlixmppFallbackSequenceStillReachesALogin) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  for (auto [mechanism, first] :
       {std::pair{"SCRAM-SHA-256-PLUS", kTlsUniqueFirst},
        std::pair{"SCRAM-SHA-1-PLUS", kTlsUniqueFirst}, std::pair{"SCRAM-SHA-256", kDowngradeFirst},
        std::pair{"SCRAM-SHA-1", kDowngradeFirst}}) {
    SCOPED_TRACE(mechanism);
    auto answer = refused_auth(*client, mechanism, first);
    EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  }
  auto answer = refused_auth(*client, "DIGEST-MD5", "");
  EXPECT_NE(answer.find("<invalid-mechanism/>"), std::string::npos) << answer;
  EXPECT_EQ(scram_login(*client, "alice", "alice-password", "SCRAM-SHA-256"), "success");
}

TEST_F(ParleydTest, WrongProofsCloseTheStreamWhateverRefusalsCameBetween) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    auto refused = refused_auth(*client, "SCRAM-SHA-256-PLUS", kTlsUniqueFirst);
    EXPECT_NE(refused.find("<not-authorized/>"), std::string::npos) << refused;
    EXPECT_EQ(client->received().find("<policy-violation"), std::string::npos)
        << "closed after " << i << " wrong proofs";
    auto answer = scram_login(*client, "alice", "wrong", "SCRAM-SHA-256");
    EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  }
  EXPECT_TRUE(client->read_until("<policy-violation", 3s)) << client->received();
  EXPECT_TRUE(client->read_until_closed(3s));
}

TEST_F(ParleydTest, TenRefusalsWithoutAnyCredentialCloseTheStream) {
  auto client = tls_client();
  ASSERT_TRUE(client);
  // Every kind of refusal that checks nothing: unsupported binding, downgrade flag, unknown
  // mechanism, malformed client-first, and an abort of an exchange in progress.
  for (int i = 0; i < 9; ++i) {
    switch (i % 5) {
      case 0:
        refused_auth(*client, "SCRAM-SHA-256-PLUS", kTlsUniqueFirst);
        break;
      case 1:
        refused_auth(*client, "SCRAM-SHA-256", kDowngradeFirst);
        break;
      case 2:
        refused_auth(*client, "X-UNKNOWN", "");
        break;
      case 3:
        refused_auth(*client, "SCRAM-SHA-256", "n,,r=no-user-name");
        break;
      case 4: {
        auto challenge = refused_auth(*client, "SCRAM-SHA-256", "n,,n=alice,r=abortme");
        EXPECT_NE(challenge.find("<challenge"), std::string::npos) << challenge;
        auto mark = client->mark();
        client->send("<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        EXPECT_TRUE(client->read_until("<aborted/>", 5s, mark)) << client->received();
        break;
      }
    }
    ASSERT_EQ(client->received().find("<policy-violation"), std::string::npos)
        << "closed after " << i + 1 << " refusals";
  }
  auto tenth = refused_auth(*client, "SCRAM-SHA-256-PLUS", kTlsUniqueFirst);
  EXPECT_NE(tenth.find("<not-authorized/>"), std::string::npos) << tenth;
  EXPECT_TRUE(client->read_until("<policy-violation", 3s)) << client->received();
  EXPECT_TRUE(client->read_until_closed(3s));
}

// The per-address limit (10 failures a minute by default) counts wrong credentials only: two
// streams of nine refusals each leave the address free to log in.
TEST_F(ParleydTest, RefusalsDoNotCountTowardThePerAddressLimit) {
  for (int stream = 0; stream < 2; ++stream) {
    auto client = tls_client();
    ASSERT_TRUE(client);
    for (int i = 0; i < 9; ++i) {
      auto answer = refused_auth(*client, "SCRAM-SHA-256-PLUS", kTlsUniqueFirst);
      ASSERT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
    }
  }
  auto client = tls_client();
  ASSERT_TRUE(client);
  EXPECT_EQ(scram_login(*client, "alice", "alice-password", "SCRAM-SHA-256"), "success");
}

// ...and wrong credentials do feed it: four streams of three wrong proofs (twelve failures)
// leave the address with <temporary-auth-failure/>, even for the right password.
TEST_F(ParleydTest, WrongProofsFromOneAddressHitThePerAddressLimit) {
  for (int stream = 0; stream < 4; ++stream) {
    auto client = tls_client();
    ASSERT_TRUE(client);
    for (int i = 0; i < 3; ++i) scram_login(*client, "alice", "wrong", "SCRAM-SHA-256");
  }
  auto client = tls_client();
  ASSERT_TRUE(client);
  auto answer = scram_login(*client, "alice", "alice-password", "SCRAM-SHA-256");
  EXPECT_NE(answer.find("<temporary-auth-failure/>"), std::string::npos) << answer;
}

// ----- bound sessions ---------------------------------------------------------------------------

TEST_F(ParleydTest, MessageReachesTheOtherAccount) {
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  bob->send("<presence/>");
  std::this_thread::sleep_for(100ms);
  alice->send(
      "<message to='bob@example.test' type='chat' id='m1'><body>hello bob</body></message>");
  ASSERT_TRUE(bob->read_until("hello bob")) << bob->received();
  EXPECT_NE(bob->received().find("from='alice@example.test/a'"), std::string::npos)
      << "the server stamps the sender's full JID";
}

TEST_F(ParleydTest, BindConflictReplacesTheOldSession) {
  auto first = bound_client("alice", "phone");
  ASSERT_TRUE(first);
  auto second = bound_client("alice", "phone");
  ASSERT_TRUE(second);
  EXPECT_TRUE(first->read_until("<conflict", 3s)) << first->received();
  EXPECT_NE(second->received().find("<jid>alice@example.test/phone</jid>"), std::string::npos);
}

TEST_F(ParleydTest, SpoofedFromIsInvalidFrom) {
  auto alice = bound_client("alice", "a");
  ASSERT_TRUE(alice);
  alice->send(
      "<message from='bob@example.test/x' to='alice@example.test'><body>x</body></message>");
  EXPECT_TRUE(alice->read_until("<invalid-from", 3s)) << alice->received();
}

TEST_F(ParleydTest, AnotherAccountsRosterIsForbidden) {
  auto alice = bound_client("alice", "a");
  ASSERT_TRUE(alice);
  auto mark = alice->mark();
  alice->send(
      "<iq type='get' id='r1' to='bob@example.test'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 3s, mark));
  EXPECT_NE(alice->received().find("<forbidden", mark), std::string::npos) << alice->received();
  // A forged roster push to another account.
  mark = alice->mark();
  alice->send(
      "<iq type='set' id='r2' to='bob@example.test'><query xmlns='jabber:iq:roster'>"
      "<item jid='mallory@example.test' subscription='both'/></query></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 3s, mark));
  EXPECT_NE(alice->received().find("<forbidden", mark), std::string::npos) << alice->received();
}

TEST_F(ParleydTest, SubscriptionApprovedShowsPresenceAndRoster) {
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  alice->send("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_TRUE(alice->read_until("id='r1'"));
  bob->send("<presence/>");
  alice->send("<presence/>");
  alice->send("<presence to='bob@example.test' type='subscribe'/>");
  ASSERT_TRUE(bob->read_until("type='subscribe'")) << bob->received();
  auto alice_mark = alice->mark();
  bob->send("<presence to='alice@example.test' type='subscribed'/>");
  // Alice's roster push says subscription='to', and bob's presence arrives.
  EXPECT_TRUE(alice->read_until("subscription='to'", 5s, alice_mark)) << alice->received();
  EXPECT_TRUE(alice->read_until("<presence from='bob@example.test/b'", 5s, alice_mark))
      << alice->received();
  auto mark = alice->mark();
  alice->send("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 5s, mark));
  EXPECT_NE(alice->received().find("jid='bob@example.test'", mark), std::string::npos);
}

TEST_F(ParleydTest, OfflineMessageIsDeliveredAtNextLogin) {
  {
    auto alice = bound_client("alice", "a");
    ASSERT_TRUE(alice);
    alice->send(
        "<message to='bob@example.test' type='chat'><body>while you were out</body></message>");
    ASSERT_TRUE(ping(*alice, "p1")) << alice->received();  // type='result', not an error
  }
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(bob);
  bob->send("<presence/>");
  EXPECT_TRUE(bob->read_until("while you were out")) << bob->received();
  EXPECT_NE(bob->received().find("urn:xmpp:delay"), std::string::npos)
      << "delivered with a delay stamp";
}

TEST_F(ParleydTest, FloodIsSlowedDownNotLost) {
  server_.reset();
  start_server("[limits]\nstanzas_per_second = 100\nstanza_burst = 20\n");
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  bob->send("<presence/>");
  std::this_thread::sleep_for(100ms);
  const auto started = Clock::now();
  std::string burst;
  for (int i = 0; i < 200; ++i)
    burst += "<message to='bob@example.test' type='chat'><body>m" + std::to_string(i) +
             "</body></message>";
  alice->send(burst);
  ASSERT_TRUE(bob->read_until(">m199<", 10s)) << "every message arrives";
  EXPECT_GE(Clock::now() - started, 1500ms)
      << "200 stanzas at 100/s with a burst of 20 take >1.8 s";
  alice.reset();
  expect_fresh_session_works("after FloodIsSlowedDownNotLost");
}

TEST_F(ParleydTest, CarbonsCopySentMessagesToOtherResources) {
  auto phone = bound_client("alice", "phone");
  auto laptop = bound_client("alice", "laptop");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(phone && laptop && bob);
  auto mark = laptop->mark();
  laptop->send("<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>");
  ASSERT_TRUE(laptop->read_until("id='c1'", 3s, mark));
  for (auto* client : {phone.get(), laptop.get(), bob.get()}) client->send("<presence/>");
  std::this_thread::sleep_for(100ms);
  phone->send(
      "<message to='bob@example.test' type='chat'><body>sent from the phone</body></message>");
  ASSERT_TRUE(bob->read_until("sent from the phone"));
  EXPECT_TRUE(laptop->read_until("<sent xmlns='urn:xmpp:carbons:2'>")) << laptop->received();
  EXPECT_NE(laptop->received().find("sent from the phone"), std::string::npos);
  // A private message is not copied.
  mark = laptop->mark();
  phone->send(
      "<message to='bob@example.test' type='chat'><body>just here</body>"
      "<private xmlns='urn:xmpp:carbons:2'/></message>");
  ASSERT_TRUE(bob->read_until("just here"));
  EXPECT_FALSE(laptop->read_until("just here", 500ms, mark));
}

TEST_F(ParleydTest, ArchiveQueryPagesThroughTheConversation) {
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  bob->send("<presence/>");
  std::this_thread::sleep_for(100ms);
  for (int i = 1; i <= 3; ++i)
    alice->send("<message to='bob@example.test' type='chat'><body>archived " + std::to_string(i) +
                "</body></message>");
  ASSERT_TRUE(bob->read_until("archived 3"));
  EXPECT_NE(bob->received().find("<stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.test'"),
            std::string::npos)
      << "the recipient learns the archive id";
  auto mark = alice->mark();
  alice->send(
      "<iq type='set' id='q1'><query xmlns='urn:xmpp:mam:2' queryid='page1'>"
      "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'>"
      "<value>urn:xmpp:mam:2</value></field><field var='with'><value>bob@example.test</value>"
      "</field></x><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>");
  ASSERT_TRUE(alice->read_until("</fin>", 5s, mark)) << alice->received();
  const std::string first_page = alice->received().substr(mark);
  EXPECT_NE(first_page.find("archived 1"), std::string::npos) << first_page;
  EXPECT_NE(first_page.find("archived 2"), std::string::npos) << first_page;
  EXPECT_EQ(first_page.find("archived 3"), std::string::npos) << first_page;
  EXPECT_EQ(first_page.find("complete='true'"), std::string::npos) << first_page;
  EXPECT_NE(first_page.find("<count>3</count>"), std::string::npos) << first_page;
  const std::string last = between(first_page, "<last", "</last>");
  ASSERT_FALSE(last.empty()) << first_page;
  mark = alice->mark();
  alice->send(
      "<iq type='set' id='q2'><query xmlns='urn:xmpp:mam:2' queryid='page2'>"
      "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>" +
      last + "</after></set></query></iq>");
  ASSERT_TRUE(alice->read_until("</fin>", 5s, mark)) << alice->received();
  const std::string second_page = alice->received().substr(mark);
  EXPECT_NE(second_page.find("archived 3"), std::string::npos) << second_page;
  EXPECT_NE(second_page.find("complete='true'"), std::string::npos) << second_page;
}

TEST_F(ParleydTest, DataSurvivesARestart) {
  {
    auto alice = bound_client("alice", "a");
    ASSERT_TRUE(alice);
    alice->send(
        "<message to='bob@example.test' type='chat'><body>before the restart</body></message>");
    ASSERT_TRUE(ping(*alice, "p1")) << alice->received();  // type='result', not an error
  }
  // kill -9: nothing the server acknowledged may be lost (SQLite WAL).
  server_->signal(SIGKILL);
  server_->wait_for_exit(5s);
  // Restarted as the fixture's server, so TearDown checks it survives the rest and exits cleanly.
  auto restarted = server_->restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(bob);
  bob->send("<presence/>");
  EXPECT_TRUE(bob->read_until("before the restart")) << bob->received();
}

TEST_F(ParleydTest, StreamManagementCountsAndAcknowledges) {
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  EXPECT_NE(alice->received().find("<sm xmlns='urn:xmpp:sm:3'/>"), std::string::npos);
  auto mark = alice->mark();
  alice->send("<enable xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(alice->read_until("<enabled xmlns='urn:xmpp:sm:3'/>", 3s, mark));
  alice->send("<presence/>");
  bob->send("<message to='alice@example.test/a' type='chat'><body>count me</body></message>");
  ASSERT_TRUE(alice->read_until("count me"));
  // The server asks for an acknowledgement of what it sent.
  EXPECT_TRUE(alice->read_until("<r xmlns='urn:xmpp:sm:3'/>", 3s)) << alice->received();
  mark = alice->mark();
  alice->send("<a xmlns='urn:xmpp:sm:3' h='1'/><r xmlns='urn:xmpp:sm:3'/>");
  EXPECT_TRUE(alice->read_until("<a xmlns='urn:xmpp:sm:3' h='1'/>", 3s, mark))
      << "one stanza (the presence) handled since enable: " << alice->received().substr(mark);
  // Acknowledging more than was sent is an error.
  alice->send("<a xmlns='urn:xmpp:sm:3' h='100'/>");
  EXPECT_TRUE(alice->read_until("<undefined-condition", 3s, mark)) << alice->received();
}

TEST_F(ParleydTest, StreamResumptionResendsWhatWasNotAcknowledged) {
  std::string previd;
  {
    auto alice = bound_client("alice", "a");
    ASSERT_TRUE(alice);
    auto mark = alice->mark();
    alice->send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>");
    ASSERT_TRUE(alice->read_until("<enabled", 3s, mark));
    ASSERT_TRUE(alice->read_until("/>", 3s, mark));
    const std::string enabled = alice->received().substr(mark);
    auto id_at = enabled.find("id='");
    ASSERT_NE(id_at, std::string::npos) << enabled;
    previd = enabled.substr(id_at + 4, enabled.find('\'', id_at + 4) - id_at - 4);
    alice->send("<presence/>");
    auto bob = bound_client("bob", "b");
    ASSERT_TRUE(bob);
    bob->send(
        "<message to='alice@example.test/a' type='chat'><body>first, never acked</body></message>");
    ASSERT_TRUE(alice->read_until("first, never acked"));
    // alice's connection drops here, without a closing stream or an ack.
  }
  std::this_thread::sleep_for(300ms);
  auto bob = bound_client("bob", "b2");
  ASSERT_TRUE(bob);
  bob->send(
      "<message to='alice@example.test/a' type='chat'><body>second, while away</body></message>");
  std::this_thread::sleep_for(200ms);
  auto alice = authenticated_client("alice");
  ASSERT_TRUE(alice);
  auto mark = alice->mark();
  alice->send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>");
  ASSERT_TRUE(alice->read_until("<resumed", 3s, mark))
      << alice->received().substr(mark) << server_->log_tail();
  EXPECT_TRUE(alice->read_until("first, never acked", 3s, mark));
  EXPECT_TRUE(alice->read_until("second, while away", 3s, mark));
}

TEST_F(ParleydTest, ExpiredResumptionKeepsMessagesOffline) {
  server_.reset();
  start_server("[limits]\nresumption_timeout_seconds = 1\n");
  {
    auto alice = bound_client("alice", "a");
    ASSERT_TRUE(alice);
    alice->send("<enable xmlns='urn:xmpp:sm:3' resume='true'/><presence/>");
    ASSERT_TRUE(alice->read_until("<enabled"));
    auto bob = bound_client("bob", "b");
    ASSERT_TRUE(bob);
    bob->send(
        "<message to='alice@example.test/a' type='chat'><body>do not lose me</body></message>");
    ASSERT_TRUE(alice->read_until("do not lose me"));
  }
  std::this_thread::sleep_for(2500ms);  // the resumption window closes
  auto alice = bound_client("alice", "a");
  ASSERT_TRUE(alice);
  alice->send("<presence/>");
  EXPECT_TRUE(alice->read_until("do not lose me")) << alice->received() << server_->log_tail();
}

TEST_F(ParleydTest, GroupChatJoinTalkHistoryAndLeave) {
  server_.reset();
  start_server("[muc]\ndomain = \"conference.example.test\"\n");
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  auto mark = alice->mark();
  alice->send(
      "<iq type='get' id='items' to='example.test'>"
      "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
  ASSERT_TRUE(alice->read_until("id='items'", 3s, mark));
  EXPECT_NE(alice->received().find("jid='conference.example.test'", mark), std::string::npos)
      << "the MUC service is discoverable";
  mark = alice->mark();
  alice->send(
      "<presence to='lobby@conference.example.test/Alice'>"
      "<x xmlns='http://jabber.org/protocol/muc'/></presence>");
  ASSERT_TRUE(alice->read_until("code='201'", 3s, mark)) << alice->received().substr(mark);
  ASSERT_TRUE(alice->read_until("<subject", 3s, mark)) << "the join completes with the subject";
  alice->send(
      "<message to='lobby@conference.example.test' type='groupchat'>"
      "<body>said before bob came</body></message>");
  ASSERT_TRUE(alice->read_until("said before bob came", 3s, mark));
  auto bob_mark = bob->mark();
  bob->send(
      "<presence to='lobby@conference.example.test/Bob'>"
      "<x xmlns='http://jabber.org/protocol/muc'/></presence>");
  ASSERT_TRUE(bob->read_until("<subject", 3s, bob_mark)) << bob->received().substr(bob_mark);
  const std::string joined = bob->received().substr(bob_mark);
  EXPECT_NE(joined.find("from='lobby@conference.example.test/Alice'"), std::string::npos) << joined;
  EXPECT_NE(joined.find("said before bob came"), std::string::npos)
      << "history on join: " << joined;
  EXPECT_NE(joined.find("urn:xmpp:delay"), std::string::npos) << joined;
  EXPECT_TRUE(alice->read_until("from='lobby@conference.example.test/Bob'", 3s, mark));
  bob->send(
      "<message to='lobby@conference.example.test' type='groupchat'><body>hi all</body></message>");
  EXPECT_TRUE(alice->read_until("hi all", 3s, mark));
  mark = alice->mark();
  bob.reset();  // bob's connection goes away
  EXPECT_TRUE(alice->read_until("type='unavailable'", 5s, mark)) << alice->received().substr(mark);
}

TEST_F(ParleydTest, SigtermSendsSystemShutdownAndExitsZero) {
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  server_->signal(SIGTERM);
  EXPECT_TRUE(client->read_until("<system-shutdown", 5s)) << client->received();
  EXPECT_EQ(server_->wait_for_exit(5s), std::optional<int>(0)) << server_->log_tail();
}

// ----- real clients -----------------------------------------------------------------------------

class ParleydWithGoSendxmpp : public ParleydTest {
 protected:
  void SetUp() override {
    if (find_program("go-sendxmpp").empty()) GTEST_SKIP() << "go-sendxmpp is not installed";
    // go-sendxmpp 0.5.6 (Debian 12) authenticates with PLAIN only: the server must offer it.
    start_server({}, true);
  }
  ProgramOptions client_options(std::string input = {}) {
    return ProgramOptions{.standard_input = std::move(input),
                          .environment = {{"SSL_CERT_FILE", kRoot}},
                          .timeout = 20s};
  }
  // go-sendxmpp -l in the background for `seconds`; its output file.
  std::string listen(const std::string& user, int seconds, bool direct_tls = false) {
    std::string out = server_->directory().string() + "/" + user + ".out";
    std::string command =
        "SSL_CERT_FILE=" + kRoot + " timeout " + std::to_string(seconds) + " go-sendxmpp " +
        (direct_tls ? "-t " : "") + "-u " + user + "@example.test -p " + user +
        "-password -j 127.0.0.1:" + std::to_string(direct_tls ? kDirectTlsPort : kC2sPort) +
        " -l > " + out + " 2>&1 &";
    EXPECT_EQ(std::system(command.c_str()), 0);
    return out;
  }
  static std::string contents(const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  bool wait_for(const std::string& path, std::string_view text, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (contents(path).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  Result<ProgramOutcome> send(const std::string& text, bool direct_tls = false) {
    std::vector<std::string> argv = {"go-sendxmpp"};
    if (direct_tls) argv.push_back("-t");
    for (const char* a : {"-u", "alice@example.test", "-p", "alice-password", "-j"})
      argv.push_back(a);
    argv.push_back("127.0.0.1:" + std::to_string(direct_tls ? kDirectTlsPort : kC2sPort));
    argv.push_back("bob@example.test");
    return run_program(argv, client_options(text + "\n"));
  }
};

TEST_F(ParleydWithGoSendxmpp, SendAndListenOverStarttls) {
  auto out = listen("bob", 8);
  std::this_thread::sleep_for(1500ms);  // bob is online
  auto sent = send("hello over starttls");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << server_->log_tail();
  EXPECT_TRUE(wait_for(out, "alice@example.test: hello over starttls", 5s))
      << contents(out) << server_->log_tail();
}

TEST_F(ParleydWithGoSendxmpp, SendAndListenOverDirectTls) {
  auto out = listen("bob", 8, true);
  std::this_thread::sleep_for(1500ms);
  auto sent = send("hello over direct tls", true);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output;
  EXPECT_TRUE(wait_for(out, "alice@example.test: hello over direct tls", 5s)) << contents(out);
}

TEST_F(ParleydWithGoSendxmpp, OfflineMessageReachesALaterListener) {
  auto sent = send("stored for later");
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->exit_code, 0) << sent->output;
  auto out = listen("bob", 5);
  EXPECT_TRUE(wait_for(out, "alice@example.test: stored for later", 6s)) << contents(out);
}

TEST_F(ParleydWithGoSendxmpp, UntrustedCaIsRefusedByTheClient) {
  auto sent =
      run_program({"go-sendxmpp", "-u", "alice@example.test", "-p", "alice-password", "-j",
                   "127.0.0.1:" + std::to_string(kC2sPort), "bob@example.test"},
                  ProgramOptions{.standard_input = "x\n",
                                 .environment = {{"SSL_CERT_FILE", kFixtures + "/tls/ca.crt"}},
                                 .timeout = 20s});
  ASSERT_TRUE(sent);
  EXPECT_NE(sent->exit_code, 0);
  EXPECT_NE(sent->output.find("certificate"), std::string::npos) << sent->output;
}

// ----- parley-cert probe judges parleyd like any other server -----------------------------------

#ifdef PARLEY_CERT_BINARY
TEST_F(ParleydTest, ProbeReportsTrustedServer) {
  auto probe = run_program({PARLEY_CERT_BINARY, "probe", "--service", "xmpp-client", "--host",
                            "example.test", "--connect", "127.0.0.1", "--port",
                            std::to_string(kC2sPort), "--ca", kRoot});
  ASSERT_TRUE(probe) << probe.error().message;
  EXPECT_EQ(probe->exit_code, 0) << probe->output;
  EXPECT_NE(probe->output.find("TLSv1.3"), std::string::npos) << probe->output;
}

TEST_F(ParleydTest, ProbeReportsUntrustedRoot) {
  auto untrusted = run_program({PARLEY_CERT_BINARY, "probe", "--service", "xmpp-client", "--host",
                                "example.test", "--connect", "127.0.0.1", "--port",
                                std::to_string(kC2sPort), "--ca", kFixtures + "/tls/ca.crt"});
  ASSERT_TRUE(untrusted);
  EXPECT_EQ(untrusted->exit_code, 1) << untrusted->output;
}
#endif

// ----- start-up checks of the certificate -------------------------------------------------------

// A configuration for the test chain (which names example.test) with `domain`, written to a fresh
// directory; nothing listens: check-config does not bind, and a refused start never gets there.
class ParleydCertificateCheck : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    directory_ = std::filesystem::temp_directory_path() /
                 ("parley-certificate-check-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  std::string write_config(const std::string& domain, const std::string& extra = {}) {
    const auto path = directory_ / (domain + ".toml");
    std::ofstream(path) << "[server]\ndomain = \"" << domain << "\"\n"
                        << "[tls]\ncertificate = \"" << kChainFile << "\"\nkey = \"" << kKeyFile
                        << "\"\n"
                        << "[c2s]\nlisten = [\"127.0.0.1:19312\"]\n"
                        << "[storage]\nurl = \"sqlite://" << (directory_ / "parley.db").string()
                        << "\"\n"
                        << extra;
    return path.string();
  }

  static Result<ProgramOutcome> parleyd(std::vector<std::string> arguments) {
    arguments.insert(arguments.begin(), PARLEYD_BINARY);
    return run_program(arguments,
                       ProgramOptions{.standard_input = {}, .environment = {}, .timeout = 30s});
  }

  const std::string kChainFile = kFixtures + "/chains/p256/chain.pem";
  const std::string kKeyFile = kFixtures + "/chains/p256/leaf.key";
  std::filesystem::path directory_;
};

TEST_F(ParleydCertificateCheck, CertificateForAnotherDomainIsRefusedAtCheckAndStart) {
  const std::string config = write_config("other.test");
  for (bool check : {true, false}) {
    SCOPED_TRACE(check ? "check-config" : "start");
    auto outcome =
        check ? parleyd({"--config", config, "check-config"}) : parleyd({"--config", config});
    ASSERT_TRUE(outcome) << outcome.error().message;
    EXPECT_EQ(outcome->exit_code, 1) << outcome->output;
    // The file, the domain, and the names the certificate does carry.
    for (const char* needle : {"chains/p256/chain.pem", "[server] domain other.test",
                               "dNSName example.test", "XmppAddr example.test"})
      EXPECT_NE(outcome->output.find(needle), std::string::npos) << "no \"" << needle << "\" in:\n"
                                                                 << outcome->output;
  }
}

TEST_F(ParleydCertificateCheck, NamedDomainPassesAndAnUnnamedMucDomainIsAWarning) {
  auto outcome = parleyd(
      {"--config", write_config("example.test", "[muc]\ndomain = \"conference.example.test\"\n"),
       "check-config"});
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0) << outcome->output;
  EXPECT_NE(outcome->output.find("warning: "), std::string::npos) << outcome->output;
  EXPECT_NE(outcome->output.find("[muc] domain conference.example.test"), std::string::npos)
      << outcome->output;
}

}  // namespace
}  // namespace parley::integration
