// tls/session: a client and a server Session pumping ciphertext into each other in memory, with
// the chains of tests/fixtures/chains/ (scripts/fixtures/chains.sh). Hostile clients (TLS 1.1
// only, CBC only, an SSL with no Session behind it) are raw OpenSSL objects built here, because
// Parley's own contexts cannot be configured that weakly.

#include "tls/session.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <array>
#include <functional>
#include <string>

#include "core/file.hpp"
#include "tls/openssl_handles.hpp"

namespace parley::tls {
namespace {

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::shared_ptr<ServerContext> server_context(const std::string& chain,
                                              std::optional<std::string> staple = {},
                                              std::vector<std::string> alpn = {}) {
  ServerOptions options;
  options.chain_file = fixture("chains/" + chain + "/chain.pem");
  options.key_file = fixture("chains/" + chain + "/leaf.key");
  options.ocsp_staple = std::move(staple);
  options.alpn = std::move(alpn);
  auto context = ServerContext::create(options);
  EXPECT_TRUE(context.has_value()) << context.error().message;
  return context ? *context : nullptr;
}

std::shared_ptr<ClientContext> client_context(
    const std::function<void(ClientOptions&)>& change = {}) {
  ClientOptions options;
  if (change) change(options);
  auto context = ClientContext::create(options);
  EXPECT_TRUE(context.has_value()) << context.error().message;
  return context ? *context : nullptr;
}

// Moves everything `from` has for the network into `to`.
void transfer(Session& from, Session& to) {
  std::array<std::uint8_t, 4096> chunk{};
  while (std::size_t n = from.take_ciphertext(chunk)) {
    ASSERT_TRUE(to.feed_ciphertext({chunk.data(), n}).has_value());
  }
}

struct Pair {
  std::unique_ptr<Session> client;
  std::unique_ptr<Session> server;
};

Pair make_pair(std::shared_ptr<ClientContext> client, std::shared_ptr<ServerContext> server) {
  auto c = Session::client(std::move(client), "example.test");
  auto s = Session::server(std::move(server));
  EXPECT_TRUE(c.has_value() && s.has_value());
  return {std::move(*c), std::move(*s)};
}

// Runs both handshakes to completion or failure; returns the first failure.
std::optional<Error> handshake(Pair& pair) {
  for (int round = 0; round < 20; ++round) {
    auto c = pair.client->handshake();
    transfer(*pair.client, *pair.server);
    if (!c) return c.error();
    auto s = pair.server->handshake();
    transfer(*pair.server, *pair.client);
    if (!s) return s.error();
    if (*c == HandshakeProgress::complete && *s == HandshakeProgress::complete) return std::nullopt;
  }
  return Error{ErrorKind::internal, "handshake did not finish in 20 rounds"};
}

void accept(Session& client) {
  ASSERT_FALSE(client.peer_chain().empty());
  auto ok = client.accept_peer(PeerAcceptance::from_trust_decision(
      *client.peer_chain().front(), AcceptanceBasis::accepted_by_user));
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
}

std::string read_all(Session& session) {
  std::string out;
  std::array<std::uint8_t, 64> buffer{};
  for (;;) {
    auto r = session.read(buffer);
    EXPECT_TRUE(r.has_value()) << r.error().message;
    if (!r || r->status != ReadStatus::data) return out;
    out.append(reinterpret_cast<const char*>(buffer.data()), r->bytes);
  }
}

// ---- negotiation
// ---------------------------------------------------------------------------------

struct NegotiationCase {
  const char* name;
  const char* chain;
  TlsVersion max_version;
  TlsVersion protocol;
  const char* openssl_cipher;
};

class NegotiationTable : public testing::TestWithParam<NegotiationCase> {};

TEST_P(NegotiationTable, ChoosesAes256Gcm) {
  const auto& c = GetParam();
  auto pair =
      make_pair(client_context([&](ClientOptions& o) { o.policy.max_version = c.max_version; }),
                server_context(c.chain));
  auto failure = handshake(pair);
  ASSERT_FALSE(failure) << failure->message;
  for (Session* session : {pair.client.get(), pair.server.get()}) {
    auto info = session->connection_info();
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->protocol, c.protocol);
    EXPECT_EQ(info->openssl_cipher, c.openssl_cipher);
    EXPECT_EQ(info->group, "X25519");
  }
  EXPECT_EQ(pair.client->state(), SessionState::awaiting_trust_decision);
  EXPECT_EQ(pair.server->state(), SessionState::established);
}

INSTANTIATE_TEST_SUITE_P(
    Tls, NegotiationTable,
    testing::Values(NegotiationCase{"p256_tls13", "p256", TlsVersion::tls1_3, TlsVersion::tls1_3,
                                    "TLS_AES_256_GCM_SHA384"},
                    NegotiationCase{"rsa2048_tls13", "rsa2048", TlsVersion::tls1_3,
                                    TlsVersion::tls1_3, "TLS_AES_256_GCM_SHA384"},
                    NegotiationCase{"p256_tls12", "p256", TlsVersion::tls1_2, TlsVersion::tls1_2,
                                    "ECDHE-ECDSA-AES256-GCM-SHA384"},
                    NegotiationCase{"rsa2048_tls12", "rsa2048", TlsVersion::tls1_2,
                                    TlsVersion::tls1_2, "ECDHE-RSA-AES256-GCM-SHA384"}),
    [](const testing::TestParamInfo<NegotiationCase>& row) { return std::string(row.param.name); });

TEST(TlsSession, ServerPreferenceWinsOverClientOrder) {
  auto pair =
      make_pair(client_context([](ClientOptions& o) {
                  o.policy.tls13_suites = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
                }),
                server_context("p256"));
  ASSERT_FALSE(handshake(pair));
  EXPECT_EQ(pair.server->connection_info()->cipher, "TLS_AES_256_GCM_SHA384");
}

// ---- hostile clients
// -----------------------------------------------------------------------------

// A raw OpenSSL client over memory BIOs, driven against a server Session.
struct RawClient {
  SslCtxPtr ctx;
  SslPtr ssl;
  BIO* in = nullptr;
  BIO* out = nullptr;

  explicit RawClient(SSL_CTX* context) {
    ssl.reset(SSL_new(context));
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl.get(), in, out);
    SSL_set_connect_state(ssl.get());
  }

  // Returns the server's failure, or nullopt when the server completed its handshake.
  std::optional<Error> run_against(Session& server) {
    std::array<std::uint8_t, 4096> chunk{};
    for (int round = 0; round < 20; ++round) {
      SSL_do_handshake(ssl.get());
      ERR_clear_error();
      int n = 0;
      while ((n = BIO_read(out, chunk.data(), static_cast<int>(chunk.size()))) > 0) {
        if (auto fed = server.feed_ciphertext({chunk.data(), static_cast<std::size_t>(n)}); !fed)
          return fed.error();
      }
      auto progress = server.handshake();
      while (std::size_t m = server.take_ciphertext(chunk))
        BIO_write(in, chunk.data(), static_cast<int>(m));
      if (!progress) return progress.error();
      if (*progress == HandshakeProgress::complete) return std::nullopt;
    }
    return Error{ErrorKind::internal, "handshake did not finish in 20 rounds"};
  }
};

SslCtxPtr weak_client_context(int version, const char* ciphers) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  EXPECT_EQ(SSL_CTX_set_cipher_list(ctx.get(), ciphers), 1);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  return ctx;
}

struct HostileCase {
  const char* name;
  int version;
  const char* ciphers;
  const char* chain;
  const char* reason;  // OpenSSL's reason, as the server reports it
};

class HostileClientTable : public testing::TestWithParam<HostileCase> {};

TEST_P(HostileClientTable, ServerRefuses) {
  const auto& c = GetParam();
  auto ctx = weak_client_context(c.version, c.ciphers);
  RawClient client(ctx.get());
  auto server = Session::server(server_context(c.chain));
  ASSERT_TRUE(server.has_value());
  auto failure = client.run_against(**server);
  ASSERT_TRUE(failure.has_value()) << "the server completed a handshake with " << c.name;
  EXPECT_NE(failure->message.find("TLS handshake failed"), std::string::npos) << failure->message;
  EXPECT_NE(failure->message.find(c.reason), std::string::npos) << failure->message;
  EXPECT_EQ((*server)->state(), SessionState::failed);
}

INSTANTIATE_TEST_SUITE_P(
    Tls, HostileClientTable,
    testing::Values(
        HostileCase{"tls11_only", TLS1_1_VERSION, "ALL:@SECLEVEL=0", "rsa2048",
                    "unsupported protocol"},
        HostileCase{"tls10_only", TLS1_VERSION, "ALL:@SECLEVEL=0", "p256", "unsupported protocol"},
        HostileCase{"tls12_cbc_only_rsa", TLS1_2_VERSION,
                    "ECDHE-RSA-AES256-SHA384:ECDHE-RSA-AES128-SHA:AES256-SHA", "rsa2048",
                    "no shared cipher"},
        HostileCase{"tls12_cbc_only_ecdsa", TLS1_2_VERSION,
                    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES256-SHA", "p256", "no shared cipher"},
        HostileCase{"tls12_rsa_key_exchange", TLS1_2_VERSION, "AES256-GCM-SHA384", "rsa2048",
                    "no shared cipher"},
        HostileCase{"tls12_dhe_only", TLS1_2_VERSION, "DHE-RSA-AES256-GCM-SHA384", "rsa2048",
                    "no shared cipher"}),
    [](const testing::TestParamInfo<HostileCase>& row) { return std::string(row.param.name); });

// An SSL made from Parley's client context without a Session to record the chain must not
// complete a handshake: nobody would answer for the certificate.
TEST(TlsSession, ClientContextWithoutSessionFailsClosed) {
  auto context = client_context();
  RawClient client(context->openssl());
  auto server = Session::server(server_context("p256"));
  ASSERT_TRUE(server.has_value());
  auto failure = client.run_against(**server);
  EXPECT_NE(SSL_is_init_finished(client.ssl.get()), 1);
  // The client aborted in certificate verification (its alert reaches the server).
  ASSERT_TRUE(failure.has_value());
  EXPECT_NE(failure->message.find("unknown ca"), std::string::npos) << failure->message;
}

// ---- the trust gate
// --------------------------------------------------------------------------------

TEST(TlsSession, ApplicationDataRefusedUntilAcceptPeer) {
  auto pair = make_pair(client_context(), server_context("p256"));
  ASSERT_FALSE(handshake(pair));

  // The server speaks first (as an XMPP server may after direct TLS); the client must not read it
  // yet, nor write anything.
  ASSERT_TRUE(pair.server->write(bytes("<stream:features/>")).has_value());
  transfer(*pair.server, *pair.client);
  std::array<std::uint8_t, 64> buffer{};
  auto early_read = pair.client->read(buffer);
  ASSERT_FALSE(early_read.has_value());
  EXPECT_NE(early_read.error().message.find("trust decision"), std::string::npos);
  auto early_write = pair.client->write(bytes("<auth/>"));
  ASSERT_FALSE(early_write.has_value());
  EXPECT_NE(early_write.error().message.find("trust decision"), std::string::npos);
  EXPECT_EQ(pair.client->pending_ciphertext(), 0u);
  EXPECT_EQ(pair.client->state(), SessionState::awaiting_trust_decision);

  accept(*pair.client);
  EXPECT_EQ(pair.client->state(), SessionState::established);
  EXPECT_EQ(pair.client->acceptance(), AcceptanceBasis::accepted_by_user);
  EXPECT_EQ(read_all(*pair.client), "<stream:features/>");
  ASSERT_TRUE(pair.client->write(bytes("<auth/>")).has_value());
  transfer(*pair.client, *pair.server);
  EXPECT_EQ(read_all(*pair.server), "<auth/>");
}

pki::CertificatePtr certificate_file(const std::string& name) {
  auto text = read_file(fixture(name));
  EXPECT_TRUE(text.has_value());
  auto parsed = pki::Certificate::from_pem(text ? *text : std::string());
  EXPECT_TRUE(parsed.has_value());
  return parsed ? parsed->front() : nullptr;
}

TEST(TlsSession, AcceptingAnotherCertificateFailsTheSession) {
  auto pair = make_pair(client_context(), server_context("p256"));
  ASSERT_FALSE(handshake(pair));
  // A decision about the intermediate, or about another server's leaf, is not about this leaf.
  for (const char* other : {"chains/p256/intermediate.crt", "chains/rsa2048/leaf.crt"}) {
    auto fresh = make_pair(client_context(), server_context("p256"));
    ASSERT_FALSE(handshake(fresh));
    auto refused = fresh.client->accept_peer(PeerAcceptance::from_trust_decision(
        *certificate_file(other), AcceptanceBasis::previously_accepted));
    ASSERT_FALSE(refused.has_value()) << other;
    EXPECT_NE(refused.error().message.find("different certificate"), std::string::npos);
    EXPECT_EQ(fresh.client->state(), SessionState::failed);
    // Failed for good: the right acceptance no longer helps.
    EXPECT_FALSE(fresh.client
                     ->accept_peer(PeerAcceptance::from_trust_decision(
                         *fresh.client->peer_chain().front(), AcceptanceBasis::accepted_by_user))
                     .has_value());
    EXPECT_FALSE(fresh.client->write(bytes("x")).has_value());
  }
}

TEST(TlsSession, AcceptPeerBeforeHandshakeIsRefused) {
  auto pair = make_pair(client_context(), server_context("p256"));
  auto leaf = certificate_file("chains/p256/leaf.crt");
  EXPECT_FALSE(pair.client
                   ->accept_peer(PeerAcceptance::from_trust_decision(
                       *leaf, AcceptanceBasis::accepted_by_user))
                   .has_value());
  EXPECT_FALSE(pair.server->write(bytes("x")).has_value());  // servers wait for their handshake too
}

TEST(TlsSession, PeerChainIsTheServedChainAndFindingsAreRecorded) {
  for (const char* chain : {"p256", "rsa2048"}) {
    auto server = server_context(chain);
    auto pair = make_pair(client_context(), server);
    ASSERT_FALSE(handshake(pair));
    const auto& presented = pair.client->peer_chain();
    ASSERT_EQ(presented.size(), server->chain().size()) << chain;
    ASSERT_EQ(presented.size(), 2u);
    for (std::size_t i = 0; i < presented.size(); ++i) {
      EXPECT_EQ(presented[i]->der(), server->chain()[i]->der()) << chain << " certificate " << i;
    }
    // OpenSSL ran without anchors: it must have found the issuer missing, and said so to the
    // recorder, without that deciding anything.
    ASSERT_FALSE(pair.client->openssl_findings().empty());
    EXPECT_TRUE(pair.server->peer_chain().empty());
  }
}

// ---- channel binding
// -------------------------------------------------------------------------------

struct BindingCase {
  const char* name;
  TlsVersion version;
  ChannelBinding type;
  std::size_t length;
  bool differs_between_sessions;
};

class ChannelBindingTable : public testing::TestWithParam<BindingCase> {};

TEST_P(ChannelBindingTable, SameOnBothEnds) {
  const auto& c = GetParam();
  std::vector<std::string> values;
  for (int i = 0; i < 2; ++i) {
    auto pair =
        make_pair(client_context([&](ClientOptions& o) { o.policy.max_version = c.version; }),
                  server_context("p256"));
    ASSERT_FALSE(handshake(pair));
    auto client_value = pair.client->channel_binding(c.type);
    auto server_value = pair.server->channel_binding(c.type);
    ASSERT_TRUE(client_value.has_value()) << client_value.error().message;
    ASSERT_TRUE(server_value.has_value()) << server_value.error().message;
    EXPECT_EQ(*client_value, *server_value);
    EXPECT_EQ(client_value->size(), c.length);
    values.push_back(*client_value);
  }
  if (c.differs_between_sessions) {
    EXPECT_NE(values[0], values[1]);
  } else {
    EXPECT_EQ(values[0], values[1]);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Tls, ChannelBindingTable,
    testing::Values(
        BindingCase{"exporter_tls13", TlsVersion::tls1_3, ChannelBinding::tls_exporter, 32, true},
        BindingCase{"end_point_tls13", TlsVersion::tls1_3, ChannelBinding::tls_server_end_point, 32,
                    false},
        BindingCase{"end_point_tls12", TlsVersion::tls1_2, ChannelBinding::tls_server_end_point, 32,
                    false},
        BindingCase{"unique_tls12", TlsVersion::tls1_2, ChannelBinding::tls_unique, 12, true}),
    [](const testing::TestParamInfo<BindingCase>& row) { return std::string(row.param.name); });

TEST(TlsSession, ServerEndPointIsSha256OfTheLeaf) {
  // The fixture leaves are signed with ECDSA-SHA256 / RSA-SHA256 (RFC 5929 4.1: that hash).
  for (const char* chain : {"p256", "rsa2048"}) {
    auto pair = make_pair(client_context(), server_context(chain));
    ASSERT_FALSE(handshake(pair));
    EXPECT_EQ(*pair.client->channel_binding(ChannelBinding::tls_server_end_point),
              pair.client->peer_chain().front()->sha256_fingerprint());
  }
}

TEST(TlsSession, UndefinedBindingsAreRefused) {
  auto tls13 = make_pair(client_context(), server_context("p256"));
  ASSERT_FALSE(handshake(tls13));
  EXPECT_FALSE(tls13.client->channel_binding(ChannelBinding::tls_unique).has_value());
  auto tls12 =
      make_pair(client_context([](ClientOptions& o) { o.policy.max_version = TlsVersion::tls1_2; }),
                server_context("p256"));
  ASSERT_FALSE(handshake(tls12));
  EXPECT_FALSE(tls12.client->channel_binding(ChannelBinding::tls_exporter).has_value());
  auto early = make_pair(client_context(), server_context("p256"));
  EXPECT_FALSE(early.client->channel_binding(ChannelBinding::tls_server_end_point).has_value());
}

// ---- OCSP stapling, ALPN, close, bounds
// -----------------------------------------------------------

TEST(TlsSession, StapledOcspResponseReachesTheClient) {
  auto response = read_file(fixture("revocation/ocsp/good.ca-signed.der"));
  ASSERT_TRUE(response.has_value());
  for (TlsVersion version : {TlsVersion::tls1_3, TlsVersion::tls1_2}) {
    auto pair = make_pair(client_context([&](ClientOptions& o) { o.policy.max_version = version; }),
                          server_context("p256", *response));
    ASSERT_FALSE(handshake(pair));
    ASSERT_TRUE(pair.client->stapled_ocsp().has_value()) << to_string(version);
    EXPECT_EQ(*pair.client->stapled_ocsp(), *response);
  }
  auto without = make_pair(client_context(), server_context("p256"));
  ASSERT_FALSE(handshake(without));
  EXPECT_FALSE(without.client->stapled_ocsp().has_value());
}

TEST(TlsSession, ReplacedStapleIsServedToNewHandshakes) {
  auto server = server_context("p256");
  const std::string first("\x30\x03\x0a\x01\x01", 5);
  ASSERT_TRUE(server->set_ocsp_staple(first).has_value());
  auto pair = make_pair(client_context(), server);
  ASSERT_FALSE(handshake(pair));
  EXPECT_EQ(pair.client->stapled_ocsp(), first);
}

TEST(TlsSession, AlpnIsNegotiatedOrRefused) {
  auto server = server_context("p256", std::nullopt, {"xmpp-client"});
  auto pair = make_pair(client_context([](ClientOptions& o) {
                          o.alpn = {"h2", "xmpp-client"};
                        }),
                        server);
  ASSERT_FALSE(handshake(pair));
  EXPECT_EQ(pair.client->connection_info()->alpn, "xmpp-client");

  auto wrong = make_pair(client_context([](ClientOptions& o) { o.alpn = {"h2"}; }), server);
  EXPECT_TRUE(handshake(wrong).has_value());
}

TEST(TlsSession, CloseNotifyReachesThePeer) {
  auto pair = make_pair(client_context(), server_context("p256"));
  ASSERT_FALSE(handshake(pair));
  accept(*pair.client);
  ASSERT_TRUE(pair.client->write(bytes("</stream:stream>")).has_value());
  ASSERT_TRUE(pair.client->close().has_value());
  EXPECT_EQ(pair.client->state(), SessionState::closed);
  EXPECT_FALSE(pair.client->write(bytes("more")).has_value());
  transfer(*pair.client, *pair.server);
  EXPECT_EQ(read_all(*pair.server), "</stream:stream>");
  std::array<std::uint8_t, 16> buffer{};
  auto end = pair.server->read(buffer);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(end->status, ReadStatus::closed_by_peer);
  EXPECT_EQ(pair.server->state(), SessionState::closed);
  ASSERT_TRUE(pair.server->close().has_value());
  transfer(*pair.server, *pair.client);
  auto client_end = pair.client->read(buffer);
  ASSERT_TRUE(client_end.has_value());
  EXPECT_EQ(client_end->status, ReadStatus::closed_by_peer);
}

TEST(TlsSession, UnreadCiphertextIsBounded) {
  auto pair = make_pair(client_context(), server_context("p256"));
  const std::string garbage(kMaxBufferedCiphertext + 1, '\x17');
  auto fed = pair.server->feed_ciphertext(bytes(garbage));
  ASSERT_FALSE(fed.has_value());
  EXPECT_EQ(fed.error().kind, ErrorKind::limit);
  EXPECT_EQ(pair.server->state(), SessionState::failed);
}

TEST(TlsSession, GarbageFailsTheHandshakeWithOpensslsReason) {
  auto server = Session::server(server_context("p256"));
  ASSERT_TRUE(server.has_value());
  ASSERT_TRUE((*server)->feed_ciphertext(bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")).has_value());
  auto result = (*server)->handshake();
  ASSERT_FALSE(result.has_value());
  EXPECT_NE(result.error().message.find("TLS handshake failed: "), std::string::npos);
  EXPECT_GT(result.error().message.size(), std::string("TLS handshake failed: ").size());
}

TEST(TlsSession, ServerNameIsChecked) {
  auto context = client_context();
  EXPECT_FALSE(Session::client(context, "").has_value());
  EXPECT_FALSE(Session::client(context, std::string("a\0b", 3)).has_value());
  EXPECT_TRUE(Session::client(context, "127.0.0.1").has_value());  // no SNI for addresses
}

}  // namespace
}  // namespace parley::tls
