#include "xmpp/sasl_scram.hpp"

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "xmpp/base64.hpp"
#include "xmpp/precis.hpp"

namespace parley::xmpp::sasl {
namespace {

const std::string kSecret = "0123456789abcdef-unknown-user-secret";

std::string decode(std::string_view text) {
  return *base64_decode_strict(text, 1024);
}

// A user store keyed by (user name, hash), holding what derive_scram_credentials made.
struct FakeStore {
  std::map<std::pair<std::string, ScramHash>, ScramCredentials> users;
  bool unavailable = false;
  std::vector<std::string> asked;

  void add(const std::string& name, std::string_view password, ScramHash hash,
           std::string_view salt = "", std::uint32_t iterations = 0) {
    Result<ScramCredentials> c = salt.empty()
                                     ? derive_scram_credentials(password, hash)
                                     : derive_scram_credentials(password, salt, iterations, hash);
    ASSERT_TRUE(c) << c.error().message;
    users[{name, hash}] = *c;
  }
  CredentialLookupFunction function() {
    return [this](std::string_view name, ScramHash hash) {
      asked.emplace_back(name);
      if (unavailable) return CredentialLookup{LookupStatus::unavailable, {}};
      const auto found = users.find({std::string(name), hash});
      if (found == users.end()) return CredentialLookup{LookupStatus::unknown_user, {}};
      return CredentialLookup{LookupStatus::found, found->second};
    };
  }
};

// ---------------------------------------------------------------------------------------------
// RFC 5802 section 5 (SHA-1) and RFC 7677 section 3 (SHA-256), byte for byte.

struct Vector {
  const char* name;
  ScramHash hash;
  const char* client_nonce;
  const char* server_nonce;
  const char* salt_base64;
  const char* client_first;
  const char* server_first;
  const char* client_final;
  const char* server_final;
};

const Vector kVectors[] = {
    {"RFC 5802 5", ScramHash::sha1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j",
     "QSXCR+Q6sek8bf92", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="},
    {"RFC 7677 3", ScramHash::sha256, "rOprNGfwEbeRWgbNEkqO", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
     "W22ZaJ0SNY7soEsUEjb6gQ==", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
     "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
     "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
     "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
     "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="},
};

ScramServerOptions server_options(ScramMechanism mechanism) {
  ScramServerOptions options;
  options.mechanism = mechanism;
  options.unknown_user_secret = kSecret;
  options.unknown_user_iterations = 4096;
  return options;
}

TEST(Scram, RfcTestVectors) {
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(v.name);
    FakeStore store;
    store.add("user", "pencil", v.hash, decode(v.salt_base64), 4096);

    ScramClientOptions client_options;
    client_options.mechanism = {v.hash, ChannelBindingUse::none};
    client_options.username = "user";
    client_options.password = "pencil";
    client_options.insecure_fixed_nonce_for_tests = v.client_nonce;
    Result<ScramClient> client = ScramClient::create(client_options);
    ASSERT_TRUE(client) << client.error().message;

    ScramServerOptions options = server_options({v.hash, ChannelBindingUse::none});
    options.insecure_fixed_nonce_for_tests = v.server_nonce;
    Result<ScramServer> server = ScramServer::create(options, store.function());
    ASSERT_TRUE(server) << server.error().message;

    EXPECT_EQ(client->client_first(), v.client_first);
    const Outcome<std::string> server_first = server->receive_client_first(client->client_first());
    ASSERT_TRUE(server_first) << server_first.error().detail;
    EXPECT_EQ(*server_first, v.server_first);
    const Outcome<std::string> client_final = client->receive_server_first(*server_first);
    ASSERT_TRUE(client_final) << client_final.error().detail;
    EXPECT_EQ(*client_final, v.client_final);
    const Outcome<std::string> server_final = server->receive_client_final(*client_final);
    ASSERT_TRUE(server_final) << server_final.error().detail;
    EXPECT_EQ(*server_final, v.server_final);
    const Outcome<void> verified = client->verify_server_final(*server_final);
    ASSERT_TRUE(verified) << verified.error().detail;
    EXPECT_TRUE(client->succeeded());
    EXPECT_TRUE(server->succeeded());
    EXPECT_EQ(server->username(), "user");
  }
}

// ---------------------------------------------------------------------------------------------
// Full exchanges: mechanisms, channel binding, downgrade.

enum class Step { none, client_first, client_final, server_final };

struct ExchangeCase {
  const char* name;
  ScramMechanism client_mechanism;
  std::optional<ChannelBinding> client_binding;
  ScramMechanism server_mechanism;
  std::optional<std::string> server_exporter;
  std::optional<std::string> server_end_point;
  bool plus_advertised;
  std::string username = "juliet";
  std::string password = "r0m30 & me";
  Step fails_at = Step::none;
  Condition condition = Condition::not_authorized;
};

const std::string kExporter(32, '\x11');
const std::string kEndPoint(32, '\x22');
constexpr ScramMechanism kSha256{ScramHash::sha256, ChannelBindingUse::none};
constexpr ScramMechanism kSha256Plus{ScramHash::sha256, ChannelBindingUse::plus};
constexpr ScramMechanism kSha1{ScramHash::sha1, ChannelBindingUse::none};
constexpr ScramMechanism kSha1Plus{ScramHash::sha1, ChannelBindingUse::plus};
const ChannelBinding kClientExporter{ChannelBindingType::tls_exporter, kExporter};
const ChannelBinding kClientEndPoint{ChannelBindingType::tls_server_end_point, kEndPoint};

const ExchangeCase kExchanges[] = {
    {"SHA-256, no binding", kSha256, std::nullopt, kSha256, std::nullopt, std::nullopt, false},
    {"SHA-1, no binding", kSha1, std::nullopt, kSha1, std::nullopt, std::nullopt, false},
    {"SHA-256-PLUS tls-exporter", kSha256Plus, kClientExporter, kSha256Plus, kExporter, kEndPoint,
     true},
    {"SHA-256-PLUS tls-server-end-point", kSha256Plus, kClientEndPoint, kSha256Plus, kExporter,
     kEndPoint, true},
    {"SHA-1-PLUS tls-exporter", kSha1Plus, kClientExporter, kSha1Plus, kExporter, std::nullopt,
     true},
    {"binding data differs (a man in the middle terminates TLS)", kSha256Plus,
     ChannelBinding{ChannelBindingType::tls_exporter, std::string(32, '\x33')}, kSha256Plus,
     kExporter, std::nullopt, true, "juliet", "r0m30 & me", Step::client_final},
    {"binding type the server cannot provide", kSha256Plus, kClientEndPoint, kSha256Plus, kExporter,
     std::nullopt, true, "juliet", "r0m30 & me", Step::client_first},
    {"'y' although -PLUS was advertised: downgrade", kSha256, kClientExporter, kSha256,
     std::nullopt, std::nullopt, true, "juliet", "r0m30 & me", Step::client_first},
    {"'y' and no -PLUS advertised: fine", kSha256, kClientExporter, kSha256, std::nullopt,
     std::nullopt, false},
    {"'n' sent to a -PLUS server", kSha256, std::nullopt, kSha256Plus, kExporter, std::nullopt,
     true, "juliet", "r0m30 & me", Step::client_first, Condition::malformed_request},
    {"'p=' sent to a plain server", kSha256Plus, kClientExporter, kSha256, std::nullopt,
     std::nullopt, true, "juliet", "r0m30 & me", Step::client_first, Condition::malformed_request},
    {"wrong password", kSha256, std::nullopt, kSha256, std::nullopt, std::nullopt, false, "juliet",
     "wrong", Step::client_final},
    {"unknown user", kSha256, std::nullopt, kSha256, std::nullopt, std::nullopt, false, "nobody",
     "r0m30 & me", Step::client_final},
    {"user name needing escapes", kSha256, std::nullopt, kSha256, std::nullopt, std::nullopt, false,
     "a,b=c", "r0m30 & me"},
};

TEST(Scram, Exchanges) {
  for (const ExchangeCase& c : kExchanges) {
    SCOPED_TRACE(c.name);
    FakeStore store;
    store.add("juliet", "r0m30 & me", ScramHash::sha256);
    store.add("juliet", "r0m30 & me", ScramHash::sha1);
    store.add("a,b=c", "r0m30 & me", ScramHash::sha256);

    ScramClientOptions client_options;
    client_options.mechanism = c.client_mechanism;
    client_options.username = c.username;
    client_options.password = c.password;
    client_options.binding = c.client_binding;
    Result<ScramClient> client = ScramClient::create(client_options);
    ASSERT_TRUE(client) << client.error().message;

    ScramServerOptions options = server_options(c.server_mechanism);
    options.tls_exporter = c.server_exporter;
    options.tls_server_end_point = c.server_end_point;
    options.plus_advertised = c.plus_advertised;
    Result<ScramServer> server = ScramServer::create(options, store.function());
    ASSERT_TRUE(server) << server.error().message;

    const Outcome<std::string> server_first = server->receive_client_first(client->client_first());
    if (c.fails_at == Step::client_first) {
      ASSERT_FALSE(server_first);
      EXPECT_EQ(server_first.error().condition, c.condition) << server_first.error().detail;
      // Refused before any proof was sent: a client falling back to its next mechanism (slixmpp
      // with 'tls-unique' or 'y') must not be counted as guessing.
      EXPECT_EQ(server_first.error().credentials, CredentialVerdict::none_checked);
      EXPECT_FALSE(server->succeeded());
      continue;
    }
    ASSERT_TRUE(server_first) << server_first.error().detail;
    const Outcome<std::string> client_final = client->receive_server_first(*server_first);
    ASSERT_TRUE(client_final) << client_final.error().detail;
    const Outcome<std::string> server_final = server->receive_client_final(*client_final);
    if (c.fails_at == Step::client_final) {
      ASSERT_FALSE(server_final);
      EXPECT_EQ(server_final.error().condition, c.condition) << server_final.error().detail;
      // Every client-final failure of this table is a wrong credential (proof or binding data).
      EXPECT_EQ(server_final.error().credentials, CredentialVerdict::rejected);
      EXPECT_FALSE(server->succeeded());
      continue;
    }
    ASSERT_TRUE(server_final) << server_final.error().detail;
    ASSERT_TRUE(client->verify_server_final(*server_final));
    EXPECT_TRUE(server->succeeded());
    EXPECT_TRUE(client->succeeded());
    EXPECT_EQ(server->username(), c.username);
  }
}

// ---------------------------------------------------------------------------------------------
// The server against hostile client messages, on the RFC 5802 exchange.

struct TamperCase {
  const char* name;
  const char* client_first;  // nullptr: the RFC's
  const char* client_final;  // nullptr: not reached
  Condition condition;
  // Only a nonce, binding or proof that was checked and found wrong counts as a guess.
  CredentialVerdict verdict;
};

const TamperCase kTampered[] = {
    {"proof without padding", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"proof with non-canonical last group", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Tt=",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"proof with a character outside base64", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4T*=",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"channel binding not base64", nullptr,
     "c=biws=,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"proof of the wrong length", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJ",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"wrong proof", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=AAX8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::not_authorized, CredentialVerdict::rejected},
    {"nonce is only the client's part", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", Condition::not_authorized,
     CredentialVerdict::rejected},
    {"nonce with another server part (replayed from another exchange)", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawLAAAAAAAAAAAAAAAAAA,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::not_authorized, CredentialVerdict::rejected},
    {"nonce with a suffix", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7jX,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::not_authorized, CredentialVerdict::rejected},
    {"channel binding says 'y' after 'n'", nullptr,
     "c=eSws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::not_authorized, CredentialVerdict::rejected},
    {"attributes out of order", nullptr,
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,c=biws,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"no proof", nullptr, "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"trailing comma", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=,",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"mandatory extension in client-final", nullptr,
     "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,m=x,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"mandatory extension", "n,,m=ext,n=user,r=fyko+d2lbbFgONRv9qkxdawL", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"extension attribute", "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL,m=ext", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"bad '=' escape in the user name", "n,,n=us=2Cer=41,r=fyko+d2lbbFgONRv9qkxdawL", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"lowercase escape", "n,,n=a=2cb,r=fyko+d2lbbFgONRv9qkxdawL", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"user name not UTF-8", "n,,n=\xc3\x28,r=fyko+d2lbbFgONRv9qkxdawL", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"unknown GS2 flag", "x,,n=user,r=fyko+d2lbbFgONRv9qkxdawL", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"no GS2 header", "n=user,r=fyko+d2lbbFgONRv9qkxdawL", nullptr, Condition::malformed_request,
     CredentialVerdict::none_checked},
    {"empty user name", "n,,n=,r=fyko+d2lbbFgONRv9qkxdawL", nullptr, Condition::malformed_request,
     CredentialVerdict::none_checked},
    {"nonce with a control character", "n,,n=user,r=fyko\x01", nullptr,
     Condition::malformed_request, CredentialVerdict::none_checked},
    {"nonce missing", "n,,n=user", nullptr, Condition::malformed_request,
     CredentialVerdict::none_checked},
};

TEST(Scram, ServerRefusesHostileClientMessages) {
  for (const TamperCase& c : kTampered) {
    SCOPED_TRACE(c.name);
    FakeStore store;
    store.add("user", "pencil", ScramHash::sha1, decode("QSXCR+Q6sek8bf92"), 4096);
    ScramServerOptions options = server_options(kSha1);
    options.insecure_fixed_nonce_for_tests = "3rfcNHYJY1ZVvWVs7j";
    Result<ScramServer> server = ScramServer::create(options, store.function());
    ASSERT_TRUE(server);
    const Outcome<std::string> first = server->receive_client_first(
        c.client_first != nullptr ? c.client_first : "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    if (c.client_final == nullptr) {
      ASSERT_FALSE(first) << *first;
      EXPECT_EQ(first.error().condition, c.condition) << first.error().detail;
      EXPECT_EQ(first.error().credentials, c.verdict) << first.error().detail;
      continue;
    }
    ASSERT_TRUE(first) << first.error().detail;
    const Outcome<std::string> final_message = server->receive_client_final(c.client_final);
    ASSERT_FALSE(final_message) << *final_message;
    EXPECT_EQ(final_message.error().condition, c.condition) << final_message.error().detail;
    EXPECT_EQ(final_message.error().credentials, c.verdict) << final_message.error().detail;
    EXPECT_FALSE(server->succeeded());
    // A failed exchange stays failed: the right message now is refused too.
    EXPECT_FALSE(server->receive_client_final(
        "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="));
  }
}

TEST(Scram, ServerRefusesOversizeAndOutOfOrderMessages) {
  FakeStore store;
  Result<ScramServer> server = ScramServer::create(server_options(kSha256), store.function());
  ASSERT_TRUE(server);
  EXPECT_EQ(server->receive_client_final("c=biws,r=x,p=AAAA").error().condition,
            Condition::malformed_request);
  Result<ScramServer> server2 = ScramServer::create(server_options(kSha256), store.function());
  const std::string huge = "n,,n=" + std::string(kMaxScramMessageOctets, 'a') + ",r=abc";
  EXPECT_EQ(server2->receive_client_first(huge).error().condition, Condition::malformed_request);
  EXPECT_TRUE(store.asked.empty());  // nothing reached the store
}

TEST(Scram, ReplayedClientFinalFailsInANewExchange) {
  FakeStore store;
  store.add("juliet", "secret", ScramHash::sha256);
  ScramClientOptions client_options;
  client_options.mechanism = kSha256;
  client_options.username = "juliet";
  client_options.password = "secret";
  Result<ScramClient> client = ScramClient::create(client_options);
  Result<ScramServer> server = ScramServer::create(server_options(kSha256), store.function());
  ASSERT_TRUE(client && server);
  const Outcome<std::string> server_first = server->receive_client_first(client->client_first());
  const Outcome<std::string> client_final = client->receive_server_first(*server_first);
  ASSERT_TRUE(server->receive_client_final(*client_final));

  // An eavesdropper replays both client messages to a fresh exchange: the server nonce differs.
  Result<ScramServer> replayed = ScramServer::create(server_options(kSha256), store.function());
  ASSERT_TRUE(replayed->receive_client_first(client->client_first()));
  const Outcome<std::string> result = replayed->receive_client_final(*client_final);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().condition, Condition::not_authorized);
  EXPECT_EQ(result.error().credentials, CredentialVerdict::rejected);
}

TEST(Scram, TemporaryFailureWhenTheStoreIsDown) {
  FakeStore store;
  store.unavailable = true;
  Result<ScramServer> server = ScramServer::create(server_options(kSha256), store.function());
  const Outcome<std::string> first = server->receive_client_first("n,,n=juliet,r=abcdefgh");
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().condition, Condition::temporary_auth_failure);
  EXPECT_EQ(first.error().credentials, CredentialVerdict::none_checked);
}

// ---------------------------------------------------------------------------------------------
// An unknown user looks like a known one with a wrong password.

struct ServerFirstShape {
  std::size_t nonce_length;
  std::string salt;
  std::string iterations;
};

ServerFirstShape shape_of(std::string_view server_first) {
  // r=<nonce>,s=<salt>,i=<n>
  const std::size_t s = server_first.find(",s=");
  const std::size_t i = server_first.find(",i=");
  return {s - 2, std::string(server_first.substr(s + 3, i - s - 3)),
          std::string(server_first.substr(i + 3))};
}

TEST(Scram, UnknownUserIsIndistinguishableFromWrongPassword) {
  FakeStore store;
  store.add("juliet", "secret", ScramHash::sha256);  // random 16-octet salt, default iterations
  ScramServerOptions options = server_options(kSha256);
  options.unknown_user_iterations = kDefaultIterationsSha256;

  auto attempt = [&](const std::string& user, std::string& server_first_out) {
    ScramClientOptions client_options;
    client_options.mechanism = kSha256;
    client_options.username = user;
    client_options.password = "not the password";
    Result<ScramClient> client = ScramClient::create(client_options);
    Result<ScramServer> server = ScramServer::create(options, store.function());
    const Outcome<std::string> first = server->receive_client_first(client->client_first());
    EXPECT_TRUE(first);
    server_first_out = *first;
    const Outcome<std::string> client_final = client->receive_server_first(*first);
    EXPECT_TRUE(client_final);
    return server->receive_client_final(*client_final);
  };

  std::string known_first, unknown_first, unknown_again, other_unknown;
  const Outcome<std::string> known = attempt("juliet", known_first);
  const Outcome<std::string> unknown = attempt("nobody", unknown_first);
  attempt("nobody", unknown_again);
  attempt("somebody-else", other_unknown);
  ASSERT_FALSE(known);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(known.error().condition, unknown.error().condition);
  EXPECT_EQ(known.error().condition, Condition::not_authorized);

  const ServerFirstShape a = shape_of(known_first);
  const ServerFirstShape b = shape_of(unknown_first);
  EXPECT_EQ(a.nonce_length, b.nonce_length);
  EXPECT_EQ(a.salt.size(), b.salt.size());
  EXPECT_EQ(a.iterations, b.iterations);
  // The same salt every time for one unknown name (as for a real user); another name, another.
  EXPECT_EQ(b.salt, shape_of(unknown_again).salt);
  EXPECT_NE(b.salt, shape_of(other_unknown).salt);
}

// ---------------------------------------------------------------------------------------------
// The client against hostile server messages.

struct ServerMessageCase {
  const char* name;
  const char* server_first;
  const char* server_final;  // nullptr: failure expected at server-first
  Condition condition;
};

const ServerMessageCase kServerMessages[] = {
    {"nonce not extending ours", "r=somebodyelse3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     nullptr, Condition::not_authorized},
    {"nonce equal to ours (no server part)", "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",
     nullptr, Condition::not_authorized},
    {"too few iterations", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=1", nullptr,
     Condition::mechanism_too_weak},
    {"too many iterations", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=999999999",
     nullptr, Condition::mechanism_too_weak},
    {"iteration count with a leading zero",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=04096", nullptr,
     Condition::malformed_request},
    {"salt not base64", "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf9,i=4096", nullptr,
     Condition::malformed_request},
    {"mandatory extension", "m=x,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096", nullptr,
     Condition::malformed_request},
    {"wrong server signature",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "v=AmF9pqV8S7suAoZWja4dJRkFsKQ=", Condition::not_authorized},
    {"server signature not base64",
     "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "v=rmF9pqV8S7suAoZWja4dJRkFsKQ", Condition::malformed_request},
    {"server error", "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
     "e=invalid-proof", Condition::not_authorized},
};

TEST(Scram, ClientRefusesHostileServerMessages) {
  for (const ServerMessageCase& c : kServerMessages) {
    SCOPED_TRACE(c.name);
    ScramClientOptions options;
    options.mechanism = kSha1;
    options.username = "user";
    options.password = "pencil";
    options.insecure_fixed_nonce_for_tests = "fyko+d2lbbFgONRv9qkxdawL";
    Result<ScramClient> client = ScramClient::create(options);
    ASSERT_TRUE(client);
    const Outcome<std::string> client_final = client->receive_server_first(c.server_first);
    if (c.server_final == nullptr) {
      ASSERT_FALSE(client_final);
      EXPECT_EQ(client_final.error().condition, c.condition) << client_final.error().detail;
      continue;
    }
    ASSERT_TRUE(client_final) << client_final.error().detail;
    const Outcome<void> verified = client->verify_server_final(c.server_final);
    ASSERT_FALSE(verified);
    EXPECT_EQ(verified.error().condition, c.condition) << verified.error().detail;
    EXPECT_FALSE(client->succeeded());
  }
}

TEST(Scram, ClientWritesTheGs2HeaderForEachBindingChoice) {
  struct Case {
    ScramMechanism mechanism;
    std::optional<ChannelBinding> binding;
    std::optional<std::string> authzid;
    std::string_view expected_prefix;
  };
  const Case cases[] = {
      {kSha256, std::nullopt, std::nullopt, "n,,n=user,r="},
      {kSha256, kClientExporter, std::nullopt, "y,,n=user,r="},
      {kSha256Plus, kClientExporter, std::nullopt, "p=tls-exporter,,n=user,r="},
      {kSha256Plus, kClientEndPoint, std::nullopt, "p=tls-server-end-point,,n=user,r="},
      {kSha256, std::nullopt, "admin,x=y@example.com", "n,a=admin=2Cx=3Dy@example.com,n=user,r="},
  };
  for (const Case& c : cases) {
    ScramClientOptions options;
    options.mechanism = c.mechanism;
    options.username = "user";
    options.password = "pencil";
    options.binding = c.binding;
    options.authzid = c.authzid;
    Result<ScramClient> client = ScramClient::create(options);
    ASSERT_TRUE(client) << client.error().message;
    EXPECT_TRUE(client->client_first().starts_with(c.expected_prefix)) << client->client_first();
    // 18 random octets: 24 base64 characters of nonce.
    EXPECT_EQ(client->client_first().size(), c.expected_prefix.size() + 24);
  }
  ScramClientOptions plus_without_data;
  plus_without_data.mechanism = kSha256Plus;
  plus_without_data.username = "user";
  plus_without_data.password = "pencil";
  EXPECT_FALSE(ScramClient::create(plus_without_data));
}

TEST(Scram, AuthzidReachesTheServer) {
  FakeStore store;
  store.add("juliet", "secret", ScramHash::sha256);
  ScramClientOptions client_options;
  client_options.mechanism = kSha256;
  client_options.username = "juliet";
  client_options.password = "secret";
  client_options.authzid = "romeo@example.com";
  Result<ScramClient> client = ScramClient::create(client_options);
  Result<ScramServer> server = ScramServer::create(server_options(kSha256), store.function());
  const Outcome<std::string> first = server->receive_client_first(client->client_first());
  const Outcome<std::string> final_message =
      server->receive_client_final(*client->receive_server_first(*first));
  ASSERT_TRUE(final_message) << final_message.error().detail;
  EXPECT_EQ(server->authzid(), "romeo@example.com");
}

// ---------------------------------------------------------------------------------------------
// Names, escaping, credentials.

TEST(Scram, SaslNameEscaping) {
  EXPECT_EQ(escape_saslname("a,b=c"), "a=2Cb=3Dc");
  EXPECT_EQ(escape_saslname("plain"), "plain");
  EXPECT_EQ(unescape_saslname("a=2Cb=3Dc"), "a,b=c");
  EXPECT_EQ(unescape_saslname("=3D=3D"), "==");
  for (const std::string_view bad : {"a=", "a=2", "a=2c", "a=41", "a,b", "=3d"}) {
    EXPECT_FALSE(unescape_saslname(bad)) << bad;
  }
}

TEST(Scram, MechanismNames) {
  EXPECT_EQ(kSha256Plus.name(), "SCRAM-SHA-256-PLUS");
  EXPECT_EQ(kSha1.name(), "SCRAM-SHA-1");
  EXPECT_EQ(ScramMechanism::parse("SCRAM-SHA-1-PLUS"), kSha1Plus);
  EXPECT_FALSE(ScramMechanism::parse("scram-sha-1"));
  EXPECT_FALSE(ScramMechanism::parse("SCRAM-SHA-512"));
  EXPECT_STREQ(to_string(Condition::not_authorized), "not-authorized");
  EXPECT_STREQ(to_string(Condition::temporary_auth_failure), "temporary-auth-failure");
  EXPECT_EQ(parse_condition("invalid-authzid"), Condition::invalid_authzid);
}

TEST(Scram, DerivedCredentials) {
  // RFC 5802 5: StoredKey and ServerKey of "pencil" are what makes the vector verify; here their
  // shape and the refusals.
  const Result<ScramCredentials> c =
      derive_scram_credentials("pencil", decode("QSXCR+Q6sek8bf92"), 4096, ScramHash::sha1);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->stored_key.size(), 20u);
  EXPECT_EQ(c->server_key.size(), 20u);
  const Result<ScramCredentials> fresh = derive_scram_credentials("pencil", ScramHash::sha256);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->salt.size(), kSaltOctets);
  EXPECT_EQ(fresh->iterations, kDefaultIterationsSha256);
  EXPECT_EQ(fresh->stored_key.size(), 32u);

  EXPECT_FALSE(derive_scram_credentials("pencil", "salt", 4095, ScramHash::sha256));
  EXPECT_FALSE(derive_scram_credentials("pencil", "", 4096, ScramHash::sha256));
  EXPECT_FALSE(derive_scram_credentials("", "salt", 4096, ScramHash::sha256));
  EXPECT_FALSE(derive_scram_credentials("tab\there", "salt", 4096, ScramHash::sha256));
}

TEST(Scram, PasswordsArePreparedWithOpaqueString) {
  if (!precis::unicode_available()) GTEST_SKIP() << "non-ASCII passwords need ICU";
  // RFC 8265 4.2: NFC, so the composed and decomposed spellings of one password are one.
  const Result<ScramCredentials> composed =
      derive_scram_credentials("caf\xc3\xa9", "salt", 4096, ScramHash::sha256);
  const Result<ScramCredentials> decomposed =
      derive_scram_credentials("cafe\xcc\x81", "salt", 4096, ScramHash::sha256);
  ASSERT_TRUE(composed && decomposed);
  EXPECT_EQ(composed->stored_key, decomposed->stored_key);
}

}  // namespace
}  // namespace parley::xmpp::sasl
