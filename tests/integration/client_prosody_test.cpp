// The `parley` client against a real Prosody 0.12 (xmpp_peers.hpp) on loopback, run as the built
// binary the way a user or script runs it:
//  - messages between two parley processes (live and from offline storage), direct TLS,
//    roster, wrong password, listen timing out;
//  - interoperation with go-sendxmpp, a client that is not Parley, in both directions;
//  - the certificate validation process: a CA-signed server connects silently; a self-signed one
//    is refused by default with nothing stored, accept-always stores it and the next run is
//    silent, accept-once stores nothing, a changed certificate is refused and named as changed,
//    the RejectAndNotify policy refuses even with accept-once, an account whose domain is an IP
//    address meets a certificate that names an FQDN (mismatch), the terminal prompt;
//  - the admin policy file: FIPS mode, a malformed file.
//
// Ports (this suite's blocks, outside xmpp_peers.hpp's 18900-18949):
//   18950-18951  Prosody with the CA-signed chain (tests/fixtures/chains/p256)
//   18952-18953  Prosody with the self-signed certificate (tests/fixtures/selfsigned)
//   18954-18955  Prosody with the regenerated self-signed certificate (same names, new key)
// Each suite starts its servers once; tests use their own accounts so that messages left in
// offline storage by one test never reach another.

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/certificate_store.hpp"
#include "client_support.hpp"
#include "pki/verify.hpp"
#include "tls/context.hpp"
#include "xmpp/client_stream.hpp"
#include "xmpp/stanza.hpp"
#include "xmpp_peers.hpp"

namespace parley::integration::client_test {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kCaSignedPort = 18950;
constexpr std::uint16_t kSelfSignedPort = 18952;
constexpr std::uint16_t kRegeneratedPort = 18954;

const std::vector<XmppAccount> kAccounts = {{"alice", "alice-secret"}, {"bob", "bob-secret"},
                                            {"carol", "carol-secret"}, {"dave", "dave-secret"},
                                            {"erin", "erin-secret"},   {"frank", "frank-secret"},
                                            {"grace", "grace-secret"}, {"heidi", "heidi-secret"}};

std::string password_of(const std::string& localpart) {
  for (const auto& account : kAccounts) {
    if (account.localpart == localpart) return account.password + "\n";
  }
  return "\n";
}

XmppPeerOptions prosody_options(std::uint16_t port, const std::string& chain,
                                const std::string& key) {
  XmppPeerOptions options;
  options.c2s_port = port;
  options.direct_tls_port = static_cast<std::uint16_t>(port + 1);
  options.certificate_chain_file = fixture(chain);
  options.private_key_file = fixture(key);
  options.accounts = kAccounts;
  // Served with the same certificate: an account at 127.0.0.1 gets a stream, and the FQDN
  // certificate, i.e. an identity mismatch rather than host-unknown.
  options.additional_domains = {"127.0.0.1"};
  return options;
}

// --account, --server 127.0.0.1:PORT, --password-stdin, and the rest.
std::vector<std::string> arguments(const std::string& localpart, std::uint16_t port,
                                   std::vector<std::string> rest, bool trust_fixture_root = true) {
  std::vector<std::string> argv{"--account", localpart + "@example.test", "--server",
                                "127.0.0.1:" + std::to_string(port), "--password-stdin"};
  if (trust_fixture_root) {
    argv.push_back("--ca");
    argv.push_back(fixture("chains/p256/root.crt"));
  }
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

// A JSON string's text; anything else as JSON, so a mismatch shows what was there.
std::string json_text(const boost::json::value& value) {
  return value.is_string() ? std::string(value.as_string()) : boost::json::serialize(value);
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string policy_xml(const std::string& parameters) {
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<config version=\"1.0\">\n  <Policies>\n" +
         parameters + "  </Policies>\n</config>\n";
}

// ---- the CA-signed server ---------------------------------------------------------------------

class ClientWithProsody : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_.start(prosody_options(kCaSignedPort, "chains/p256/chain.pem", "chains/p256/leaf.key"));
  }
  static void TearDownTestSuite() { server_.stop(); }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (server_.skip_reason()) GTEST_SKIP() << *server_.skip_reason();
    ASSERT_NE(server_.get(), nullptr) << server_.start_error();
  }
  const XmppPeer& peer() const { return *server_.get(); }
  std::uint16_t port() const { return kCaSignedPort; }

  static inline SuitePeer<ProsodyPeer> server_;
};

TEST_F(ClientWithProsody, SendAndListenBetweenTwoParleyProcesses) {
  ParleyUser alice("alice-send"), bob("bob-listen");
  std::optional<Result<ProgramOutcome>> listened;
  std::thread listener([&] {
    listened = bob.run(arguments("bob", port(), {"listen", "--count", "1", "--timeout", "30"}),
                       password_of("bob"));
  });
  // Not needed for correctness (a message sent before bob is online waits in offline storage and
  // arrives when listen announces presence), only to exercise live delivery most of the time.
  std::this_thread::sleep_for(1s);
  auto sent =
      alice.run(arguments("alice", port(), {"send", "bob@example.test", "hello bob, äöü ✓"}),
                password_of("alice"));
  listener.join();
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << peer().log_tail();
  // Silent: a CA-signed server that names the domain needs no prompt and no warning.
  EXPECT_FALSE(contains(sent->output, "warning")) << sent->output;
  EXPECT_FALSE(contains(sent->output, "Accept?")) << sent->output;
  ASSERT_TRUE(listened && *listened) << (listened ? listened->error().message : "no result");
  const ProgramOutcome& received = **listened;
  EXPECT_EQ(received.exit_code, 0) << received.output << peer().log_tail();
  const std::regex line(
      R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ alice@example\.test: hello bob, äöü ✓$)",
      std::regex::multiline);
  EXPECT_TRUE(std::regex_search(received.output, line)) << received.output;
  // Nothing was stored: the certificate was trusted by its chain.
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
}

TEST_F(ClientWithProsody, OfflineMessageArrivesWithItsOriginalTime) {
  ParleyUser alice("alice-offline"), carol("carol-offline");
  auto sent = alice.run(
      arguments("alice", port(), {"--json", "send", "carol@example.test", "while you were away"}),
      password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->exit_code, 0) << sent->output;
  const auto sent_lines = json_lines(sent->output);
  ASSERT_EQ(sent_lines.size(), 1u) << sent->output;
  EXPECT_EQ(sent_lines[0].at("ok"), true);
  EXPECT_EQ(json_text(sent_lines[0].at("to")), "carol@example.test");
  EXPECT_TRUE(
      contains(std::string(sent_lines[0].at("security").as_string()), "certificate verified"))
      << sent->output;

  // send exits 0 only once the server has the message, so carol finds it waiting.
  auto listened =
      carol.run(arguments("carol", port(), {"--json", "listen", "--count", "1", "--timeout", "20"}),
                password_of("carol"));
  ASSERT_TRUE(listened) << listened.error().message;
  EXPECT_EQ(listened->exit_code, 0) << listened->output;
  const auto lines = json_lines(listened->output);
  ASSERT_EQ(lines.size(), 2u) << listened->output;  // "listening", then the message
  EXPECT_EQ(lines[0].at("ok"), true);
  const auto& message = lines[1];
  EXPECT_EQ(json_text(message.at("body")), "while you were away");
  EXPECT_EQ(json_text(message.at("type")), "chat");
  EXPECT_EQ(message.at("delayed"), true) << listened->output;
  EXPECT_TRUE(std::string(message.at("from").as_string()).starts_with("alice@example.test/"));
}

TEST_F(ClientWithProsody, DirectTlsWorks) {
  ParleyUser dave("dave-direct");
  auto sent = dave.run({"--account", "dave@example.test", "--server",
                        "127.0.0.1:" + std::to_string(peer().direct_tls_port()), "--direct-tls",
                        "--ca", fixture("chains/p256/root.crt"), "--password-stdin", "--json",
                        "send", "dave@example.test", "to myself over direct TLS"},
                       password_of("dave"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output << peer().log_tail();
  const auto lines = json_lines(sent->output);
  ASSERT_EQ(lines.size(), 1u) << sent->output;
  EXPECT_TRUE(contains(std::string(lines[0].at("security").as_string()), "direct TLS"))
      << sent->output;
}

TEST_F(ClientWithProsody, WrongPasswordIsRefused) {
  ParleyUser alice("alice-wrong");
  auto sent = alice.run(arguments("alice", port(), {"send", "bob@example.test", "x"}),
                        "not-the-password\n");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "parley: authentication: authentication failed"))
      << sent->output;
  EXPECT_TRUE(contains(sent->output, "not-authorized")) << sent->output;
}

TEST_F(ClientWithProsody, ListenTimesOutWithFewerMessages) {
  ParleyUser erin("erin-timeout");
  const auto started = std::chrono::steady_clock::now();
  auto listened = erin.run(arguments("erin", port(), {"listen", "--count", "1", "--timeout", "2"}),
                           password_of("erin"));
  ASSERT_TRUE(listened) << listened.error().message;
  EXPECT_EQ(listened->exit_code, 1) << listened->output;
  EXPECT_TRUE(contains(listened->output, "timed out after 0 of 1 messages")) << listened->output;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
}

TEST_F(ClientWithProsody, UnknownAuthorityIsRefusedWithoutATerminal) {
  ParleyUser alice("alice-unknown-ca");
  auto argv = arguments(
      "alice", port(),
      {"--ca", fixture("chains/rsa2048/root.crt"), "send", "bob@example.test", "x"}, false);
  auto sent = alice.run(argv, password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "parley: certificate:")) << sent->output;
  EXPECT_TRUE(contains(sent->output, "no trusted issuer")) << sent->output;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
}

TEST_F(ClientWithProsody, RejectAndNotifyRefusesEvenWithAcceptOnce) {
  ParleyUser alice("alice-reject-policy");
  const auto policy = alice.data_home() / "jabber-config.xml";
  write_text(policy, policy_xml("    <InvalidCertificateBehavior>RejectAndNotify"
                                "</InvalidCertificateBehavior>\n"));
  auto argv = arguments("alice", port(),
                        {"--ca", fixture("chains/rsa2048/root.crt"), "--policy", policy.string(),
                         "--on-untrusted", "accept-once", "send", "bob@example.test", "x"},
                        false);
  auto sent = alice.run(argv, password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "refused (policy RejectAndNotify)")) << sent->output;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));

  // The same with PromptPerSession connects: the policy is what refused.
  write_text(policy, policy_xml("    <InvalidCertificateBehavior>PromptPerSession"
                                "</InvalidCertificateBehavior>\n"));
  auto accepted = alice.run(argv, password_of("alice"));
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->exit_code, 0) << accepted->output;
  EXPECT_TRUE(contains(accepted->output, "connected for this session only")) << accepted->output;
}

TEST_F(ClientWithProsody, IpAddressAccountMeetsAnFqdnCertificate) {
  // The account's domain is the address (no host name anywhere), and the certificate names
  // example.test: the identity cannot match (spec: "Prevent Identity Mismatch").
  ParleyUser alice("alice-by-ip");
  auto sent =
      alice.run({"--account", "alice@127.0.0.1", "--server", "127.0.0.1:" + std::to_string(port()),
                 "--ca", fixture("chains/p256/root.crt"), "--password-stdin", "--json", "send",
                 "bob@example.test", "x"},
                password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "does not name 127.0.0.1")) << sent->output;
  const auto lines = json_lines(sent->output);
  ASSERT_EQ(lines.size(), 1u) << sent->output;
  const auto& error = lines[0].at("error").as_object();
  EXPECT_EQ(json_text(error.at("stage")), "certificate");
  EXPECT_EQ(json_text(error.at("certificate")), "rejected");
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@127.0.0.1")));
}

TEST_F(ClientWithProsody, FipsModeNeedsTheFipsProvider) {
  ParleyUser alice("alice-fips");
  const auto policy = alice.data_home() / "jabber-config.xml";
  write_text(policy, policy_xml("    <FIPS_MODE>true</FIPS_MODE>\n"));
  auto sent = alice.run(
      arguments("alice", port(), {"--policy", policy.string(), "send", "bob@example.test", "x"}),
      password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  if (tls::fips_provider_available()) {
    // A machine with the provider connects, with a FIPS suite.
    EXPECT_EQ(sent->exit_code, 0) << sent->output;
  } else {
    // Never a silent fallback to the default provider.
    EXPECT_EQ(sent->exit_code, 1) << sent->output;
    EXPECT_TRUE(contains(sent->output, "FIPS_MODE is on but FIPS provider not available"))
        << sent->output;
  }
}

TEST_F(ClientWithProsody, MalformedPolicyFileIsAUsageError) {
  ParleyUser alice("alice-bad-policy");
  const auto policy = alice.data_home() / "jabber-config.xml";
  write_text(policy, policy_xml("    <FIPS_MODE>maybe</FIPS_MODE>\n"));
  auto sent = alice.run(
      arguments("alice", port(), {"--policy", policy.string(), "send", "bob@example.test", "x"}),
      password_of("alice"));
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 2) << sent->output;
  EXPECT_TRUE(contains(sent->output, policy.string() + ": <Policies><FIPS_MODE>: expected true "
                                                       "or false, not \"maybe\""))
      << sent->output;

  write_text(policy, "<config>\n<!-- a comment -->\n</config>\n");
  auto commented = alice.run(
      arguments("alice", port(), {"--policy", policy.string(), "send", "bob@example.test", "x"}),
      password_of("alice"));
  ASSERT_TRUE(commented) << commented.error().message;
  EXPECT_EQ(commented->exit_code, 2) << commented->output;
  EXPECT_TRUE(contains(commented->output, policy.string() + ": line 2: ")) << commented->output;
}

TEST_F(ClientWithProsody, PasswordIsNeverTakenFromArguments) {
  ParleyUser alice("alice-no-password");
  // No --password-stdin and no terminal: a usage error before any connection.
  auto sent = alice.run({"--account", "alice@example.test", "--server",
                         "127.0.0.1:" + std::to_string(port()), "send", "bob@example.test", "x"});
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 2) << sent->output;
  EXPECT_TRUE(contains(sent->output, "no password")) << sent->output;
}

// Adds bob to alice's roster with a name and a group, through libparley's client stream (parley
// has no command for it yet), then checks what `parley roster` prints.
TEST_F(ClientWithProsody, RosterListsItems) {
  auto account = xmpp::Jid::parse("grace@example.test");
  ASSERT_TRUE(account);
  xmpp::ClientStreamOptions options(*account);
  options.connect_host = "127.0.0.1";
  options.port = port();
  auto context = tls::ClientContext::create({});
  ASSERT_TRUE(context) << context.error().message;
  options.tls_context = *context;
  pki::TrustStore anchors;
  {
    std::ifstream in(fixture("chains/p256/root.crt"));
    const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto roots = pki::Certificate::from_pem(pem);
    ASSERT_TRUE(roots) << roots.error().message;
    for (auto& root : *roots) anchors.add(root);
  }
  const xmpp::CertificateJudge judge =
      [&](const tls::Session& session) -> Result<tls::PeerAcceptance> {
    const auto& chain = session.peer_chain();
    auto reference = pki::ReferenceIdentity::parse("example.test", pki::ServiceKind::xmpp_client);
    if (!reference || chain.empty()) return fail(Error::invalid_argument("no chain"));
    pki::VerifyPolicy policy;
    policy.time = static_cast<pki::UnixTime>(std::time(nullptr));
    auto verified = pki::verify_server_certificate(chain.front(), {chain.begin() + 1, chain.end()},
                                                   anchors, *reference, policy);
    if (!verified) return fail(Error::invalid_argument(verified.error().message));
    return tls::PeerAcceptance::from_verified_path(*verified);
  };
  auto stream = xmpp::ClientStream::open(options, judge, "grace-secret");
  ASSERT_TRUE(stream) << xmpp::to_string(stream.error().stage) << ": "
                      << stream.error().error.message;
  xml::Element item(xmpp::kRosterNamespace, "item");
  item.set_attribute("jid", "bob@example.test");
  item.set_attribute("name", "Bob");
  xml::Element group(xmpp::kRosterNamespace, "group");
  group.append_text("Friends");
  item.append_child(std::move(group));
  xml::Element query(xmpp::kRosterNamespace, "query");
  query.append_child(std::move(item));
  ASSERT_TRUE((*stream)->send(xmpp::make_iq(xmpp::IqType::set, "add-bob", std::nullopt, query)));
  bool added = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!added) {
    auto received = (*stream)->receive(deadline);
    ASSERT_TRUE(received) << received.error().message;
    ASSERT_TRUE(*received) << "timed out waiting for the roster set result";
    const std::string* id = (*received)->attribute("id");
    const std::string* type = (*received)->attribute("type");
    added = id && *id == "add-bob" && type && *type == "result";
  }
  EXPECT_TRUE((*stream)->close(std::chrono::steady_clock::now() + 5s));

  ParleyUser grace("grace-roster");
  auto listed = grace.run(arguments("grace", port(), {"--json", "roster"}), password_of("grace"));
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->exit_code, 0) << listed->output;
  const auto lines = json_lines(listed->output);
  ASSERT_EQ(lines.size(), 1u) << listed->output;
  EXPECT_EQ(json_text(lines[0].at("jid")), "bob@example.test");
  EXPECT_EQ(json_text(lines[0].at("name")), "Bob");
  EXPECT_EQ(json_text(lines[0].at("subscription")), "none");
  ASSERT_EQ(lines[0].at("groups").as_array().size(), 1u);
  EXPECT_EQ(json_text(lines[0].at("groups").as_array()[0]), "Friends");

  auto text = grace.run(arguments("grace", port(), {"roster"}), password_of("grace"));
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(text->exit_code, 0) << text->output;
  EXPECT_TRUE(contains(text->output, "bob@example.test\tnone\tBob\tFriends\n")) << text->output;
}

// ---- go-sendxmpp as the other party -----------------------------------------------------------

class ClientWithGoSendxmpp : public ClientWithProsody {
 protected:
  void SetUp() override {
    ClientWithProsody::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (find_program("go-sendxmpp").empty())
      GTEST_SKIP() << "go-sendxmpp is not installed (scripts/install-deps)";
  }
  // go-sendxmpp trusts only the fixture root (Go reads SSL_CERT_FILE) and checks the JID's domain.
  ProgramOptions go_options(const std::string& input) const {
    ProgramOptions options;
    options.standard_input = input;
    options.environment = {{"SSL_CERT_FILE", fixture("chains/p256/root.crt")},
                           {"SSL_CERT_DIR", "/nonexistent"}};
    options.timeout = 30s;
    return options;
  }
};

TEST_F(ClientWithGoSendxmpp, GoSendxmppToParley) {
  auto sent =
      run_program({find_program("go-sendxmpp"), "--username", "frank@example.test", "--password",
                   "frank-secret", "--jserver", "127.0.0.1:" + std::to_string(port()), "--timeout",
                   "10", "heidi@example.test"},
                  go_options("hello from go-sendxmpp\n"));
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->exit_code, 0) << sent->output << peer().log_tail();

  ParleyUser heidi("heidi-from-go");
  auto listened =
      heidi.run(arguments("heidi", port(), {"listen", "--count", "1", "--timeout", "20"}),
                password_of("heidi"));
  ASSERT_TRUE(listened) << listened.error().message;
  EXPECT_EQ(listened->exit_code, 0) << listened->output;
  EXPECT_TRUE(contains(listened->output, " frank@example.test: hello from go-sendxmpp\n"))
      << listened->output;
}

TEST_F(ClientWithGoSendxmpp, ParleyToGoSendxmpp) {
  ParleyUser frank("frank-to-go");
  auto sent =
      frank.run(arguments("frank", port(), {"send", "erin@example.test", "hello from parley"}),
                password_of("frank"));
  ASSERT_TRUE(sent) << sent.error().message;
  ASSERT_EQ(sent->exit_code, 0) << sent->output;

  // go-sendxmpp's listen mode runs until killed; `timeout` ends it after the offline message
  // had plenty of time to arrive (it is delivered right after go-sendxmpp's initial presence).
  auto listened = run_program(
      {"timeout", "6", find_program("go-sendxmpp"), "--username", "erin@example.test", "--password",
       "erin-secret", "--jserver", "127.0.0.1:" + std::to_string(port()), "--listen"},
      go_options(""));
  ASSERT_TRUE(listened) << listened.error().message;
  EXPECT_TRUE(contains(listened->output, "frank@example.test: hello from parley"))
      << listened->output << peer().log_tail();
}

// ---- self-signed servers: the trust flow -------------------------------------------------------

class ClientTrustFlow : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    self_signed_.start(prosody_options(kSelfSignedPort, "selfsigned/example.test.crt",
                                       "selfsigned/example.test.key"));
    regenerated_.start(prosody_options(kRegeneratedPort, "selfsigned/example.test-regenerated.crt",
                                       "selfsigned/example.test-regenerated.key"));
  }
  static void TearDownTestSuite() {
    self_signed_.stop();
    regenerated_.stop();
  }
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (self_signed_.skip_reason()) GTEST_SKIP() << *self_signed_.skip_reason();
    ASSERT_NE(self_signed_.get(), nullptr) << self_signed_.start_error();
    ASSERT_NE(regenerated_.get(), nullptr) << regenerated_.start_error();
  }

  // A send from alice to herself through the self-signed server, trusting the usual root (which
  // did not issue the self-signed certificate).
  Result<ProgramOutcome> send(const ParleyUser& user, std::uint16_t port,
                              std::vector<std::string> options) const {
    std::vector<std::string> rest = std::move(options);
    rest.insert(rest.end(), {"send", "alice@example.test", "note to self"});
    return user.run(arguments("alice", port, rest), password_of("alice"));
  }
  Result<ProgramOutcome> trust(const ParleyUser& user, std::vector<std::string> command) const {
    std::vector<std::string> argv{"--account", "alice@example.test", "--json", "trust"};
    argv.insert(argv.end(), command.begin(), command.end());
    return user.run(argv);
  }

  static inline SuitePeer<ProsodyPeer> self_signed_;
  static inline SuitePeer<ProsodyPeer> regenerated_;
};

TEST_F(ClientTrustFlow, SelfSignedIsRefusedByDefaultAndNothingIsStored) {
  ParleyUser alice("alice-self-signed-default");
  for (const auto& options :
       {std::vector<std::string>{}, std::vector<std::string>{"--on-untrusted", "reject"}}) {
    auto sent = send(alice, kSelfSignedPort, options);
    ASSERT_TRUE(sent) << sent.error().message;
    EXPECT_EQ(sent->exit_code, 1) << sent->output;
    EXPECT_TRUE(contains(sent->output, "self-signed")) << sent->output;
    EXPECT_TRUE(contains(sent->output, "you declined the certificate")) << sent->output;
  }
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
}

TEST_F(ClientTrustFlow, AcceptAlwaysStoresItAndTheNextRunIsSilent) {
  ParleyUser alice("alice-accept-always");
  auto accepted = send(alice, kSelfSignedPort, {"--on-untrusted", "accept-always"});
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->exit_code, 0) << accepted->output;
  EXPECT_TRUE(contains(accepted->output, "certificate accepted and remembered"))
      << accepted->output;

  const std::string fingerprint = fixture_fingerprint("selfsigned/example.test.crt");
  ASSERT_FALSE(fingerprint.empty());
  auto listed = trust(alice, {"list"});
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->exit_code, 0) << listed->output;
  const auto entries = json_lines(listed->output);
  ASSERT_EQ(entries.size(), 1u) << listed->output;
  EXPECT_EQ(json_text(entries[0].at("fingerprint")), fingerprint);
  EXPECT_EQ(json_text(entries[0].at("service")), "xmpp-client");
  EXPECT_EQ(json_text(entries[0].at("host")), "example.test");

  // Next run: no --on-untrusted (so it would decline), yet it connects without a word.
  auto again = send(alice, kSelfSignedPort, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->exit_code, 0) << again->output;
  EXPECT_EQ(again->output, "") << again->output;

  // Also over the direct TLS port: the acceptance is bound to the service, not the port.
  auto direct = alice.run({"--account", "alice@example.test", "--server",
                           "127.0.0.1:" + std::to_string(kSelfSignedPort + 1), "--direct-tls",
                           "--password-stdin", "send", "alice@example.test", "x"},
                          password_of("alice"));
  ASSERT_TRUE(direct) << direct.error().message;
  EXPECT_EQ(direct->exit_code, 0) << direct->output;

  // Forgetting it restores the refusal.
  auto removed = trust(alice, {"remove", fingerprint});
  ASSERT_TRUE(removed) << removed.error().message;
  EXPECT_EQ(removed->exit_code, 0) << removed->output;
  auto refused = send(alice, kSelfSignedPort, {});
  ASSERT_TRUE(refused) << refused.error().message;
  EXPECT_EQ(refused->exit_code, 1) << refused->output;
  auto removed_again = trust(alice, {"remove", fingerprint});
  ASSERT_TRUE(removed_again) << removed_again.error().message;
  EXPECT_EQ(removed_again->exit_code, 1) << removed_again->output;
  auto malformed = trust(alice, {"remove", "not-a-fingerprint"});
  ASSERT_TRUE(malformed) << malformed.error().message;
  EXPECT_EQ(malformed->exit_code, 2) << malformed->output;
}

TEST_F(ClientTrustFlow, AcceptOnceStoresNothing) {
  ParleyUser alice("alice-accept-once");
  auto accepted = send(alice, kSelfSignedPort, {"--on-untrusted", "accept-once"});
  ASSERT_TRUE(accepted) << accepted.error().message;
  EXPECT_EQ(accepted->exit_code, 0) << accepted->output;
  EXPECT_TRUE(contains(accepted->output, "connected for this session only")) << accepted->output;
  EXPECT_TRUE(contains(accepted->output, fixture_fingerprint("selfsigned/example.test.crt")))
      << accepted->output;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
  auto again = send(alice, kSelfSignedPort, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->exit_code, 1) << again->output;
}

TEST_F(ClientTrustFlow, ChangedCertificateIsRefusedAndNamedAsChanged) {
  ParleyUser alice("alice-changed");
  auto accepted = send(alice, kSelfSignedPort, {"--on-untrusted", "accept-always"});
  ASSERT_TRUE(accepted) << accepted.error().message;
  ASSERT_EQ(accepted->exit_code, 0) << accepted->output;
  const std::string old_fingerprint = fixture_fingerprint("selfsigned/example.test.crt");
  const std::string new_fingerprint =
      fixture_fingerprint("selfsigned/example.test-regenerated.crt");

  // The same service now presents another certificate (same names, new key).
  auto changed = send(alice, kRegeneratedPort, {});
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->exit_code, 1) << changed->output;
  EXPECT_TRUE(contains(changed->output, "the certificate CHANGED")) << changed->output;
  EXPECT_TRUE(contains(changed->output, old_fingerprint)) << changed->output;

  // Accepting the new one replaces the old one for this service.
  auto replaced = send(alice, kRegeneratedPort, {"--on-untrusted", "accept-always"});
  ASSERT_TRUE(replaced) << replaced.error().message;
  EXPECT_EQ(replaced->exit_code, 0) << replaced->output;
  auto listed = trust(alice, {"list"});
  ASSERT_TRUE(listed) << listed.error().message;
  const auto entries = json_lines(listed->output);
  ASSERT_EQ(entries.size(), 1u) << listed->output;
  EXPECT_EQ(json_text(entries[0].at("fingerprint")), new_fingerprint);
}

TEST_F(ClientTrustFlow, RejectAndNotifyPolicyStoresNothingEvenWithAcceptAlways) {
  ParleyUser alice("alice-reject-and-notify");
  const auto policy = alice.data_home() / "jabber-config.xml";
  write_text(policy, policy_xml("    <InvalidCertificateBehavior>RejectAndNotify"
                                "</InvalidCertificateBehavior>\n"));
  auto sent = send(alice, kSelfSignedPort,
                   {"--policy", policy.string(), "--on-untrusted", "accept-always"});
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "refused (policy RejectAndNotify)")) << sent->output;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
}

// The prompt on a terminal: `script` gives parley a pseudo-terminal as stdin, and what the test
// writes to script's stdin is typed into it.
class ClientTerminalPrompt : public ClientTrustFlow {
 protected:
  void SetUp() override {
    ClientTrustFlow::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (find_program("script").empty()) GTEST_SKIP() << "script (util-linux) is not installed";
  }
  Result<ProgramOutcome> prompted_send(const ParleyUser& user, std::uint16_t port,
                                       const std::string& typed) const {
    const auto password_file = user.data_home() / "alice.password";
    write_text(password_file, "alice-secret\n");
    std::filesystem::permissions(
        password_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
#ifdef PARLEY_BINARY
    const std::string command =
        std::string(PARLEY_BINARY) +
        " --account alice@example.test --server 127.0.0.1:" + std::to_string(port) +
        " --password-file " + password_file.string() + " send alice@example.test prompted";
#else
    const std::string command;
#endif
    ProgramOptions options;
    options.standard_input = typed;
    options.environment = {{"XDG_DATA_HOME", user.data_home().string()}};
    options.timeout = 60s;
    return run_program(
        {find_program("script"), "--quiet", "--return", "--command", command, "/dev/null"},
        options);
  }
};

TEST_F(ClientTerminalPrompt, ShowsTheCertificateAndStoresOnAlways) {
  ParleyUser alice("alice-terminal");
  auto sent = prompted_send(alice, kSelfSignedPort, "always\n");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output;
  for (const char* expected :
       {"The certificate of xmpp-client example.test is not trusted.",
        "Subject:     CN=example.test, O=Parley Test", "(self-signed)", "Valid:       2026-11-28T",
        "dNSName: example.test", "XmppAddr: example.test", "Accept? [once/always/decline]"}) {
    EXPECT_TRUE(contains(sent->output, expected)) << expected << "\n" << sent->output;
  }
  EXPECT_TRUE(
      contains(sent->output, "SHA-256:     " + fixture_fingerprint("selfsigned/example.test.crt")))
      << sent->output;
  EXPECT_TRUE(std::filesystem::exists(alice.store_file("alice@example.test")));

  // The server changes its certificate: the prompt says so, and "decline" keeps the old one.
  auto changed = prompted_send(alice, kRegeneratedPort, "decline\n");
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->exit_code, 1) << changed->output;
  EXPECT_TRUE(contains(changed->output, "*** The certificate CHANGED")) << changed->output;
  EXPECT_TRUE(contains(changed->output, "Previously accepted: SHA-256 " +
                                            fixture_fingerprint("selfsigned/example.test.crt")))
      << changed->output;
  auto listed = trust(alice, {"list"});
  ASSERT_TRUE(listed) << listed.error().message;
  const auto entries = json_lines(listed->output);
  ASSERT_EQ(entries.size(), 1u) << listed->output;
  EXPECT_EQ(json_text(entries[0].at("fingerprint")),
            fixture_fingerprint("selfsigned/example.test.crt"));
}

TEST_F(ClientTerminalPrompt, DeclineConnectsNothingAndStoresNothing) {
  ParleyUser alice("alice-terminal-decline");
  auto sent = prompted_send(alice, kSelfSignedPort, "d\n");
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 1) << sent->output;
  EXPECT_TRUE(contains(sent->output, "you declined the certificate")) << sent->output;
  EXPECT_FALSE(std::filesystem::exists(alice.store_file("alice@example.test")));
}

}  // namespace
}  // namespace parley::integration::client_test
