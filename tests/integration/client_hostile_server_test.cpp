// `parley` against hostile fake servers (client_support.hpp: a scripted server on a free
// loopback port, run in a thread, recording every byte the client sends, decrypted once TLS is
// up). The property under test is STYLE.md's "a server that stops offering STARTTLS must not get
// credentials", and its relatives: a server that refuses STARTTLS, injects plaintext after
// <proceed/>, offers only PLAIN after TLS, or presents a certificate the user does not accept.
// Each test asserts on the bytes the server received, and one positive control shows that the
// password does arrive where the policy allows it, so the assertions can fail.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "client_support.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/base64.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPassword = "correct-horse-battery-staple";
// The end of the header parley sends (xml:lang, xmlns, then the stream prefix's namespace).
constexpr const char* kClientHeaderEnd = "streams'>";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// What must never reach a server that has not earned it.
void expect_no_credentials(const std::string& received) {
  EXPECT_FALSE(contains(received, "<auth")) << received;
  EXPECT_FALSE(contains(received, kPassword)) << received;
  const std::string plain = xmpp::base64_encode(std::string("\0alice\0", 7) + kPassword);
  EXPECT_FALSE(contains(received, plain)) << received;
  EXPECT_FALSE(contains(received, "alice")) << "the user name went out: " << received;
}

class HostileServer : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
  }
  Result<ProgramOutcome> send(const FakeXmppServer& server, std::vector<std::string> options = {}) {
    std::vector<std::string> argv{"--account",
                                  "alice@example.test",
                                  "--server",
                                  "127.0.0.1:" + std::to_string(server.port()),
                                  "--ca",
                                  fixture("chains/p256/root.crt"),
                                  "--password-stdin"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {"send", "bob@example.test", "hello"});
    return user_.run(argv, std::string(kPassword) + "\n", 60s);
  }
  std::string write_policy(const std::string& parameters) {
    const auto file = user_.data_home() / "jabber-config.xml";
    std::ofstream out(file);
    out << "<config version='1.0'><Policies>" << parameters << "</Policies></config>\n";
    return file.string();
  }

  ParleyUser user_{"hostile"};
};

// The server answers with features that offer PLAIN and no STARTTLS: a downgrade by an attacker
// who stripped <starttls/>, or a server misconfigured to allow plaintext.
TEST_F(HostileServer, NoStarttlsOfferedGetsNothing) {
  FakeXmppServer server([](FakeConnection& connection) {
    if (!connection.read_until(kClientHeaderEnd)) return;
    connection.send(fake_stream_header() + "<stream:features>" + kPlainOnlyMechanisms +
                    "</stream:features>");
    connection.read_until_closed();
  });
  ASSERT_NE(server.port(), 0);
  auto sent = send(server);
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(
      sent->output, "parley: starttls: example.test (127.0.0.1:" + std::to_string(server.port()) +
                        ") does not offer STARTTLS"))
      << sent->output;
  ASSERT_TRUE(server.connected());
  // Only the stream header went out, and it ends where the server's features came in.
  EXPECT_TRUE(received.ends_with(kClientHeaderEnd)) << received;
  EXPECT_TRUE(contains(received, "to='example.test'")) << received;
  expect_no_credentials(received);
}

TEST_F(HostileServer, StarttlsFailureGetsNothingMore) {
  FakeXmppServer server([](FakeConnection& connection) {
    if (!fake_offer_starttls(connection, kPlainOnlyMechanisms)) return;
    connection.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>");
    connection.read_until_closed();
  });
  auto sent = send(server);
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "answered <starttls/> with <failure/>")) << sent->output;
  EXPECT_TRUE(received.ends_with("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
      << received;
  expect_no_credentials(received);
}

// STARTTLS command injection: plaintext features right behind <proceed/>, hoping the client
// takes them for the first thing said over TLS.
TEST_F(HostileServer, PlaintextAfterProceedIsRefused) {
  FakeXmppServer server([](FakeConnection& connection) {
    if (!fake_offer_starttls(connection)) return;
    connection.send(std::string("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") +
                    "<stream:features>" + kPlainOnlyMechanisms + "</stream:features>");
    connection.read_until_closed();
  });
  auto sent = send(server);
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "sent plaintext after <proceed/>")) << sent->output;
  // Not even a TLS ClientHello followed.
  EXPECT_TRUE(received.ends_with("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
      << received;
  expect_no_credentials(received);
}

// A server whose certificate the user does not accept: the TLS handshake completes (so that the
// certificate can be judged), and then not one byte of application data follows.
TEST_F(HostileServer, DeclinedCertificateGetsNoApplicationData) {
  FakeXmppServer server([](FakeConnection& connection) {
    if (!fake_starttls(connection, fixture("selfsigned/example.test.crt"),
                       fixture("selfsigned/example.test.key"))) {
      return;
    }
    connection.read_until_closed();
  });
  auto sent = send(server, {"--on-untrusted", "reject"});
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "parley: certificate:")) << sent->output;
  EXPECT_TRUE(server.tls_established()) << "the handshake should have completed";
  // Everything received came before TLS; nothing was decrypted after it.
  EXPECT_EQ(received, server.received_before_tls());
  expect_no_credentials(received);
}

// After TLS the server offers only PLAIN (an attacker who can present an accepted certificate,
// or a server set up badly). Which certificate and which policy decide whether PLAIN is used.
class PlainOnlyAfterTls : public HostileServer {
 protected:
  static FakeXmppServer::Script script(const std::string& chain, const std::string& key) {
    return [chain, key](FakeConnection& connection) {
      if (!fake_starttls(connection, fixture(chain), fixture(key))) return;
      if (!connection.read_until(kClientHeaderEnd)) return;
      connection.send(fake_stream_header() + "<stream:features>" + kPlainOnlyMechanisms +
                      "</stream:features>");
      if (connection.read_until("</auth>")) {
        connection.send(
            "<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>");
      }
      connection.read_until_closed();
    };
  }
};

TEST_F(PlainOnlyAfterTls, RefusedByDefaultPolicy) {
  FakeXmppServer server(script("chains/p256/chain.pem", "chains/p256/leaf.key"));
  auto sent = send(server);
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "the admin policy does not allow it (AllowPlainAuth)"))
      << sent->output;
  EXPECT_TRUE(server.tls_established());
  EXPECT_FALSE(contains(received, "<auth")) << received;
  EXPECT_FALSE(contains(received, kPassword)) << received;
}

TEST_F(PlainOnlyAfterTls, RefusedWhenTheCertificateWasOnlyAcceptedByTheUser) {
  FakeXmppServer server(script("selfsigned/example.test.crt", "selfsigned/example.test.key"));
  const std::string policy = write_policy("<AllowPlainAuth>true</AllowPlainAuth>");
  auto sent = send(server, {"--policy", policy, "--on-untrusted", "accept-once"});
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output,
                       "PLAIN is allowed only when the server's certificate was "
                       "verified"))
      << sent->output;
  EXPECT_FALSE(contains(received, "<auth")) << received;
  EXPECT_FALSE(contains(received, kPassword)) << received;
}

// The positive control: allowed by policy, over a verified certificate, PLAIN does carry the
// password, so the assertions above would notice it if it were sent.
TEST_F(PlainOnlyAfterTls, SentWhenAllowedOverAVerifiedCertificate) {
  FakeXmppServer server(script("chains/p256/chain.pem", "chains/p256/leaf.key"));
  const std::string policy = write_policy("<AllowPlainAuth>true</AllowPlainAuth>");
  auto sent = send(server, {"--policy", policy});
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;  // the fake answers not-authorized
  EXPECT_TRUE(contains(sent->output, "authentication failed")) << sent->output;
  EXPECT_TRUE(contains(received,
                       "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                       "mechanism='PLAIN'>" +
                           xmpp::base64_encode(std::string("\0alice\0", 7) + kPassword) +
                           "</auth>"))
      << received;
  // And none of it before TLS.
  EXPECT_FALSE(contains(server.received_before_tls(), "<auth")) << server.received_before_tls();
}

// A server that reads the stream header and hangs up (having read everything, so the client sees
// an orderly close rather than a reset).
TEST_F(HostileServer, ServerThatHangsUpIsAFailure) {
  FakeXmppServer server(
      [](FakeConnection& connection) { connection.read_until(kClientHeaderEnd); });
  auto sent = send(server);
  (void)server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "parley: stream: 127.0.0.1:" + std::to_string(server.port()) +
                                         " closed the connection"))
      << sent->output;
}

// ---- a strict fake server: SCRAM and channel binding checked by sasl::ScramServer --------------

// What the fake saw after binding: the message and the ping that confirms it.
struct AfterBind {
  FakeLoginOutcome login;
  std::string message;  // the <message/> element as received
  bool ping_answered = false;
  bool closed_cleanly = false;
};

enum class MessageAnswer { accept, refuse };

FakeXmppServer::Script strict_server(FakeLogin login, AfterBind& seen, MessageAnswer answer) {
  return [login, &seen, answer](FakeConnection& connection) {
    seen.login = fake_login(connection, login);
    if (!seen.login.bound) {
      connection.read_until_closed();
      return;
    }
    if (!connection.read_until("</message>")) return;
    seen.message = connection.last_read();
    auto message = xml::parse_element(seen.message, "jabber:client");
    if (answer == MessageAnswer::refuse && message && message->attribute("id")) {
      connection.send("<message type='error' from='bob@example.test' id='" +
                      *message->attribute("id") +
                      "'><error type='cancel'><service-unavailable "
                      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>");
    }
    if (!connection.read_until("</iq>")) return;
    auto ping = xml::parse_element(connection.last_read(), "jabber:client");
    if (!ping || ping->attribute("id") == nullptr ||
        ping->first_child("urn:xmpp:ping", "ping") == nullptr) {
      return;
    }
    connection.send("<iq type='result' from='example.test' id='" + *ping->attribute("id") + "'/>");
    seen.ping_answered = true;
    if (connection.read_until("</stream:stream>")) {
      connection.send("</stream:stream>");
      seen.closed_cleanly = true;
    }
    connection.read_until_closed();
  };
}

class StrictFakeServer : public HostileServer {
 protected:
  FakeLogin login(std::vector<std::string> binding_types) const {
    FakeLogin options;
    options.password = kPassword;
    options.channel_binding_types = std::move(binding_types);
    return options;
  }
  Result<ProgramOutcome> send_json(const FakeXmppServer& server) {
    return send(server, {"--json"});
  }
};

TEST_F(StrictFakeServer, ChannelBindingWithTlsExporter) {
  AfterBind seen;
  FakeXmppServer server(strict_server(login({"tls-exporter"}), seen, MessageAnswer::accept));
  auto sent = send_json(server);
  (void)server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << seen.login.failure;
  EXPECT_EQ(seen.login.mechanism, "SCRAM-SHA-256-PLUS");
  EXPECT_TRUE(seen.login.bound) << seen.login.failure;
  EXPECT_TRUE(contains(seen.message, "<body>hello</body>")) << seen.message;
  EXPECT_TRUE(contains(seen.message, "to='bob@example.test'")) << seen.message;
  EXPECT_TRUE(seen.ping_answered);
  EXPECT_TRUE(seen.closed_cleanly) << "parley should end the stream with </stream:stream>";
  const auto lines = json_lines(sent->output);
  ASSERT_EQ(lines.size(), 1u) << sent->output;
  EXPECT_TRUE(contains(std::string(lines[0].at("security").as_string()),
                       "SCRAM-SHA-256-PLUS with tls-exporter"))
      << sent->output;
  EXPECT_FALSE(contains(sent->output, "note:")) << sent->output;
}

TEST_F(StrictFakeServer, ChannelBindingWithServerEndPoint) {
  AfterBind seen;
  FakeXmppServer server(
      strict_server(login({"tls-unique", "tls-server-end-point"}), seen, MessageAnswer::accept));
  auto sent = send_json(server);
  (void)server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << seen.login.failure;
  EXPECT_EQ(seen.login.mechanism, "SCRAM-SHA-256-PLUS");
  const auto lines = json_lines(sent->output);
  ASSERT_EQ(lines.size(), 1u) << sent->output;
  EXPECT_TRUE(contains(std::string(lines[0].at("security").as_string()),
                       "SCRAM-SHA-256-PLUS with tls-server-end-point"))
      << sent->output;
}

TEST_F(StrictFakeServer, WrongPasswordIsNotAuthorized) {
  AfterBind seen;
  FakeLogin options = login({"tls-exporter"});
  options.password = "some-other-password";
  FakeXmppServer server(strict_server(options, seen, MessageAnswer::accept));
  auto sent = send(server);
  (void)server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "authentication failed: example.test answered not-authorized"))
      << sent->output;
  EXPECT_FALSE(seen.login.bound);
}

// A server that accepts any proof but cannot prove it knows the password (an impostor holding an
// accepted certificate): SCRAM's mutual authentication stops the client before it binds.
TEST_F(StrictFakeServer, ServerThatCannotProveItselfIsLeft) {
  AfterBind seen;
  FakeLogin options = login({"tls-exporter"});
  options.forge_server_signature = true;
  FakeXmppServer server(strict_server(options, seen, MessageAnswer::accept));
  auto sent = send(server);
  const std::string received = server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "the server did not prove that it knows the password"))
      << sent->output;
  EXPECT_FALSE(contains(received, "<iq")) << "bound after a forged proof: " << received;
  EXPECT_FALSE(contains(received, "<message")) << received;
}

// send exits 0 only when the server took the message; an error for it before the ping's answer
// is a failure.
TEST_F(StrictFakeServer, RefusedMessageFailsTheSend) {
  AfterBind seen;
  FakeXmppServer server(strict_server(login({"tls-exporter"}), seen, MessageAnswer::refuse));
  auto sent = send(server);
  (void)server.finish();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(
      sent->output, "parley: send: the server refused the message: service-unavailable (cancel)"))
      << sent->output;
}

}  // namespace
}  // namespace parley::integration::client_test
