#pragma once
// The raw XMPP client and the test fixture the parleyd suites share (parleyd_test.cpp, on ports
// 19000-19001, and parleyd_operations_test.cpp, on 19330-19331): one parleyd per test, accounts
// alice and bob, and a client that sends exactly the bytes a test wrote, plaintext or TLS, so the
// bad-input cases and negotiation details a friendly client would never produce can be written.
//
// The fixture's TearDown checks that parleyd survived the test (a crash fails it, whatever the
// test asserted) and then that SIGTERM still ends it with exit status 0.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "net/blocking_socket.hpp"
#include "parleyd_peer.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::integration {

using namespace std::chrono_literals;

inline constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.test' version='1.0'>";

// A byte-exact XMPP client: what it sends is exactly what the test wrote.
class RawClient {
 public:
  using Clock = std::chrono::steady_clock;

  // `source_address`, when set, is the local address the connection comes from (another
  // loopback address such as 127.0.0.2 is another client address to the server's limits).
  static std::unique_ptr<RawClient> connect(std::uint16_t port, bool direct_tls = false,
                                            const std::string& source_address = {}) {
    auto socket = source_address.empty()
                      ? net::BlockingSocket::connect("127.0.0.1", port, Clock::now() + 5s)
                      : net::BlockingSocket::connect_from(source_address, "127.0.0.1", port,
                                                          Clock::now() + 5s);
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
inline std::string between(const std::string& text, std::string_view open, std::string_view close,
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

class ParleydServerTest : public ::testing::Test {
 protected:
  using Clock = std::chrono::steady_clock;

  ParleydServerTest(std::uint16_t c2s_port, std::uint16_t direct_tls_port)
      : c2s_port_(c2s_port), direct_tls_port_(direct_tls_port) {}

  void start_server(std::string extra_configuration = {}, bool allow_plain = false) {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    XmppPeerOptions options;
    const std::string fixtures = PARLEY_FIXTURES_DIR;
    options.c2s_port = c2s_port_;
    options.direct_tls_port = direct_tls_port_;
    options.certificate_chain_file = fixtures + "/chains/p256/chain.pem";
    options.private_key_file = fixtures + "/chains/p256/leaf.key";
    options.accounts = {{"alice", "alice-password"}, {"bob", "bob-password"}};
    options.extra_configuration = std::move(extra_configuration);
    auto started = ParleydPeer::start(options, allow_plain);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  void SetUp() override { start_server(); }

  // Whatever the test asserted, parleyd must have survived it: an exit the test did not cause
  // (a crash, an abort) fails the test. Then SIGTERM must still end it cleanly.
  void TearDown() override {
    if (!server_) return;
    if (!server_->signalled_by_test() && !server_->running()) {
      ADD_FAILURE() << "parleyd exited during the test (exit status "
                    << (server_->wait_for_exit(0ms) ? std::to_string(*server_->wait_for_exit(0ms))
                                                    : std::string("none: killed by a signal"))
                    << "); its log:\n"
                    << server_->log_tail();
      return;
    }
    if (!server_->running()) return;  // the test stopped it and judged the exit itself
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_for_exit(20s), std::optional<int>(0))
        << "parleyd did not exit cleanly on SIGTERM; its log:\n"
        << server_->log_tail();
  }

  // A complete new session (STARTTLS, SCRAM, bind, ping answered with a result) works: the
  // server is not only alive but still serves, after whatever the test did to it.
  void expect_fresh_session_works(std::string_view why) {
    SCOPED_TRACE(why);
    auto client = bound_client("alice", "fresh-" + std::to_string(++fresh_sessions_));
    ASSERT_TRUE(client) << "a new session failed after the test's connection closed; log:\n"
                        << server_->log_tail();
    EXPECT_NE(client->received().find("<jid>alice@example.test/fresh-"), std::string::npos)
        << client->received();
    EXPECT_TRUE(ping(*client, "fresh-ping")) << client->received();
  }

  // Sends an XEP-0199 ping to the server and waits for its type='result' answer.
  static bool ping(RawClient& client, const std::string& id,
                   std::chrono::milliseconds timeout = 10s) {
    const auto mark = client.mark();
    client.send("<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>");
    return client.read_until("<iq type='result' id='" + id + "'", timeout, mark);
  }

  // Opens a stream, does STARTTLS, and returns a client on the encrypted stream after its
  // features arrived.
  std::unique_ptr<RawClient> tls_client(const std::string& source_address = {}) {
    auto client = RawClient::connect(c2s_port_, false, source_address);
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
    auto client = RawClient::connect(c2s_port_);
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

  const std::uint16_t c2s_port_;
  const std::uint16_t direct_tls_port_;
  std::unique_ptr<ParleydPeer> server_;

 private:
  int fresh_sessions_ = 0;
};

}  // namespace parley::integration
