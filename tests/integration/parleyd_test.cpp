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

#include <chrono>
#include <csignal>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/blocking_socket.hpp"
#include "parleyd_peer.hpp"
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
const std::string kChain = kFixtures + "/chains/p256/chain.pem";
const std::string kKey = kFixtures + "/chains/p256/leaf.key";
const std::string kRoot = kFixtures + "/chains/p256/root.crt";

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>";

// A byte-exact XMPP client: what it sends is exactly what the test wrote.
class RawClient {
 public:
  static std::unique_ptr<RawClient> connect(std::uint16_t port, bool direct_tls = false) {
    auto socket = net::BlockingSocket::connect("127.0.0.1", port, Clock::now() + 5s);
    if (!socket) return nullptr;
    auto client = std::unique_ptr<RawClient>(new RawClient(std::move(*socket)));
    if (direct_tls && !client->start_tls()) return nullptr;
    return client;
  }

  bool send(std::string_view text) {
    if (closed_) return false;
    if (tls_) {
      if (!tls_->write(std::span<const std::uint8_t>(
              reinterpret_cast<const std::uint8_t*>(text.data()), text.size())))
        return false;
      return flush_tls();
    }
    return socket_.send_all(text, Clock::now() + 5s).has_value();
  }

  // Reads until `needle` appears in what arrived after `from` (default: everything so far), the
  // peer closes, or the timeout passes. True when the needle arrived.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s,
                  std::size_t from = 0) {
    const auto deadline = Clock::now() + timeout;
    while (received_.find(needle, from) == std::string::npos) {
      if (closed_ || Clock::now() >= deadline) return false;
      read_once(deadline);
    }
    return true;
  }

  // Like read_until, for the first of several needles.
  bool read_until_any(std::initializer_list<std::string_view> needles,
                      std::chrono::milliseconds timeout = 5s, std::size_t from = 0) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      for (auto needle : needles)
        if (received_.find(needle, from) != std::string::npos) return true;
      if (closed_ || Clock::now() >= deadline) return false;
      read_once(deadline);
    }
  }

  // Reads until the peer closes the connection (true) or the timeout passes (false).
  bool read_until_closed(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    while (!closed_ && Clock::now() < deadline) read_once(deadline);
    return closed_;
  }

  bool start_tls() {
    auto context = tls::ClientContext::create({});
    if (!context) return false;
    auto session = tls::Session::client(*context, "example.test");
    if (!session) return false;
    tls_ = std::move(*session);
    tls_received_from_ = received_.size();
    const auto deadline = Clock::now() + 5s;
    for (;;) {
      auto progress = tls_->handshake();
      if (!flush_tls() || !progress) return false;
      if (*progress == tls::HandshakeProgress::complete) break;
      std::array<std::uint8_t, 16384> buffer{};
      auto n = socket_.receive_some(buffer, deadline);
      if (!n || *n == 0) return false;
      if (!tls_->feed_ciphertext(std::span(buffer.data(), *n))) return false;
    }
    // The test trusts this server by construction (it started it with a known chain).
    const auto& chain = tls_->peer_chain();
    if (chain.empty()) return false;
    return tls_
        ->accept_peer(tls::PeerAcceptance::from_trust_decision(
            *chain.front(), tls::AcceptanceBasis::accepted_by_user))
        .has_value();
  }

  tls::Session* tls() { return tls_.get(); }
  const std::string& received() const { return received_; }
  std::size_t mark() const { return received_.size(); }
  bool closed() const { return closed_; }

 private:
  explicit RawClient(net::BlockingSocket socket) : socket_(std::move(socket)) {}

  bool flush_tls() {
    std::array<std::uint8_t, 16384> buffer{};
    while (std::size_t n = tls_->take_ciphertext(buffer))
      if (!socket_.send_all(std::span<const std::uint8_t>(buffer.data(), n), Clock::now() + 5s))
        return false;
    return true;
  }

  void read_once(Clock::time_point deadline) {
    std::array<std::uint8_t, 16384> buffer{};
    auto step = std::min(deadline, Clock::now() + 200ms);
    auto n = socket_.receive_some(buffer, step);
    if (!n) {
      if (n.error().message.find("timed out") == std::string::npos) closed_ = true;
      return;
    }
    if (*n == 0) {
      closed_ = true;
      return;
    }
    if (!tls_) {
      received_.append(reinterpret_cast<const char*>(buffer.data()), *n);
      return;
    }
    if (!tls_->feed_ciphertext(std::span(buffer.data(), *n))) {
      closed_ = true;
      return;
    }
    for (;;) {
      std::array<std::uint8_t, 16384> plain{};
      auto read = tls_->read(plain);
      if (!read) {
        closed_ = true;
        return;
      }
      if (read->status == tls::ReadStatus::needs_more_ciphertext) break;
      if (read->status == tls::ReadStatus::closed_by_peer) {
        closed_ = true;
        break;
      }
      received_.append(reinterpret_cast<const char*>(plain.data()), read->bytes);
    }
    flush_tls();
  }

  net::BlockingSocket socket_;
  std::unique_ptr<tls::Session> tls_;
  std::string received_;
  std::size_t tls_received_from_ = 0;
  bool closed_ = false;
};

// The text between `open` (which may be the start of a tag, up to and including '>') and
// `close`, searched from `from`.
std::string between(const std::string& text, std::string_view open, std::string_view close,
                    std::size_t from = 0) {
  auto start = text.find(open, from);
  if (start == std::string::npos) return {};
  start = text.find('>', start);
  if (start == std::string::npos) return {};
  ++start;
  auto end = text.find(close, start);
  if (end == std::string::npos) return {};
  return text.substr(start, end - start);
}

class ParleydTest : public ::testing::Test {
 protected:
  void start_server(std::string extra_configuration = {}, bool allow_plain = false) {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    XmppPeerOptions options;
    options.c2s_port = kC2sPort;
    options.direct_tls_port = kDirectTlsPort;
    options.certificate_chain_file = kChain;
    options.private_key_file = kKey;
    options.accounts = {{"alice", "alice-password"}, {"bob", "bob-password"}};
    options.extra_configuration = std::move(extra_configuration);
    auto started = ParleydPeer::start(options, allow_plain);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  void SetUp() override { start_server(); }

  // Opens a stream, does STARTTLS, and returns a client on the encrypted stream after its
  // features arrived.
  std::unique_ptr<RawClient> tls_client() {
    auto client = RawClient::connect(kC2sPort);
    if (!client) return nullptr;
    client->send(kHeader);
    if (!client->read_until("</stream:features>")) return nullptr;
    client->send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    if (!client->read_until("<proceed")) return nullptr;
    if (!client->start_tls()) return nullptr;
    auto mark = client->mark();
    client->send(kHeader);
    if (!client->read_until("</stream:features>", 5s, mark)) return nullptr;
    return client;
  }

  // SCRAM login on a TLS client; returns the server's answer element name ("success", or the
  // failure condition).
  std::string scram_login(RawClient& client, const std::string& user, const std::string& password,
                          std::string_view mechanism_name) {
    auto mechanism = xmpp::sasl::ScramMechanism::parse(mechanism_name);
    EXPECT_TRUE(mechanism);
    xmpp::sasl::ScramClientOptions options;
    options.mechanism = *mechanism;
    options.username = user;
    options.password = password;
    if (mechanism->binding == xmpp::sasl::ChannelBindingUse::plus) {
      auto data = client.tls()->channel_binding(tls::ChannelBinding::tls_exporter);
      EXPECT_TRUE(data);
      options.binding =
          xmpp::sasl::ChannelBinding{xmpp::sasl::ChannelBindingType::tls_exporter, *data};
    }
    auto scram = xmpp::sasl::ScramClient::create(options);
    EXPECT_TRUE(scram);
    auto mark = client.mark();
    client.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" +
                std::string(mechanism_name) + "'>" + xmpp::base64_encode(scram->client_first()) +
                "</auth>");
    if (!client.read_until_any({"</challenge>", "</failure>"}, 5s, mark)) return "no answer";
    if (client.received().find("<failure", mark) != std::string::npos)
      return client.received().substr(mark);
    auto server_first = xmpp::base64_decode_strict(
        between(client.received(), "<challenge", "</challenge>", mark), 4096);
    EXPECT_TRUE(server_first);
    auto final_message = scram->receive_server_first(*server_first);
    EXPECT_TRUE(final_message);
    mark = client.mark();
    client.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                xmpp::base64_encode(*final_message) + "</response>");
    if (!client.read_until_any({"<success", "</failure>"}, 5s, mark) ||
        client.received().find("<success", mark) == std::string::npos)
      return client.received().substr(mark);
    return "success";
  }

  // Logs in and restarts the stream; returns the client once the post-auth features arrived.
  std::unique_ptr<RawClient> authenticated_client(const std::string& user) {
    auto client = tls_client();
    if (!client) return nullptr;
    if (scram_login(*client, user, user + "-password", "SCRAM-SHA-256-PLUS") != "success")
      return nullptr;
    auto mark = client->mark();
    client->send(kHeader);
    if (!client->read_until("</stream:features>", 5s, mark)) return nullptr;
    return client;
  }

  // Logs in and binds `resource`; returns the client, or nullptr.
  std::unique_ptr<RawClient> bound_client(const std::string& user, const std::string& resource) {
    auto client = authenticated_client(user);
    if (!client) return nullptr;
    auto mark = client->mark();
    client->send(
        "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" +
        resource + "</resource></bind></iq>");
    if (!client->read_until("</iq>", 5s, mark)) return nullptr;
    return client;
  }

  // Sends a stream header and `payload` on a plaintext connection, and returns what came back
  // until the server closed (or 5 s passed).
  std::string plaintext_exchange(std::string_view payload, bool send_header = true) {
    auto client = RawClient::connect(kC2sPort);
    EXPECT_TRUE(client);
    if (!client) return {};
    if (send_header) {
      client->send(kHeader);
      client->read_until("</stream:features>");
    }
    client->send(payload);
    EXPECT_TRUE(client->read_until_closed(5s)) << "parleyd did not close the stream";
    return client->received();
  }

  std::unique_ptr<ParleydPeer> server_;
};

// ----- bad input before TLS: each one a stream error and a closed connection ------------------

TEST_F(ParleydTest, DoctypeIsRestrictedXml) {
  auto out = plaintext_exchange("<!DOCTYPE x [<!ENTITY a 'b'>]>", false);
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
}

TEST_F(ParleydTest, CommentIsRestrictedXml) {
  auto out = plaintext_exchange("<!-- hello -->");
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
}

TEST_F(ParleydTest, BillionLaughsIsRestrictedXmlAndCostsNothing) {
  std::string laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>";
  for (int i = 1; i < 10; ++i)
    laughs += "<!ENTITY lol" + std::to_string(i) + " '" + std::string(10, '&') +
              "'>";  // the shape, not the expansion, is what is refused
  laughs += "]><lolz>&lol9;</lolz>";
  auto out = plaintext_exchange(laughs, false);
  EXPECT_NE(out.find("<restricted-xml"), std::string::npos) << out;
}

TEST_F(ParleydTest, InvalidUtf8IsNotWellFormed) {
  auto out = plaintext_exchange("<message>\xC3\x28</message>");
  EXPECT_NE(out.find("<not-well-formed"), std::string::npos) << out;
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
}

TEST_F(ParleydTest, DeepNestingIsPolicyViolation) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "<a>";
  auto out = plaintext_exchange("<message>" + deep);
  EXPECT_NE(out.find("<policy-violation"), std::string::npos) << out;
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
    alice->send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    ASSERT_TRUE(alice->read_until("id='p1'"));
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
    alice->send("<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>");
    ASSERT_TRUE(alice->read_until("id='p1'"));
  }
  // kill -9: nothing the server acknowledged may be lost (SQLite WAL).
  server_->signal(SIGKILL);
  server_->wait_for_exit(5s);
  auto restarted = PeerProcess::start({PARLEYD_BINARY, "--config", server_->config_file()},
                                      server_->directory().string() + "/restart.log");
  ASSERT_TRUE(restarted) << restarted.error().message;
  ASSERT_TRUE((*restarted)->wait_until_listening(kC2sPort, 10s));
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

}  // namespace
}  // namespace parley::integration
