// parley-cert probe against real servers on loopback, run as the built binary as a user would run
// it, so exit codes and the --json report are what is tested:
//  - Prosody and ejabberd (xmpp_peers.hpp) serving tests/fixtures/chains/p256 for example.test
//    with STARTTLS required, each also hosting other.test with the same certificate so that
//    probing other.test is an identity mismatch and not a host-unknown stream error. The same
//    verdict tests run against both; once more against both limited to TLS 1.2. ejabberd sends a
//    TLS CertificateRequest, which the probe must answer with no certificate and carry on.
//  - `openssl s_server` as an HTTPS server: trusted, wrong host, untrusted root, expired.
//  - a tiny in-test server that leaves STARTTLS out, a refused port and a silent one.
// Wherever the probe reaches a verdict on a chain, the test also asks the client's own front door
// (client::decide_server_trust) about the chain the server was given, and requires the same
// answer: the probe exists to tell an admin what the client will decide.
// Ports: the blocks of xmpp_peers.hpp's table; tests without a peer pick a free port at run time.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "client/certificate_store.hpp"
#include "client/trust_decision.hpp"
#include "core/file.hpp"
#include "peer_process.hpp"
#include "pki/certificate.hpp"
#include "pki/trust_store.hpp"
#include "program.hpp"
#include "xmpp_peers.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;
using integration::EjabberdPeer;
using integration::PeerProcess;
using integration::ProsodyPeer;
using integration::ServerTlsVersions;
using integration::SuitePeer;
using integration::XmppPeerOptions;
namespace json = boost::json;

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

bool have_parley_cert() {
#ifdef PARLEY_CERT_BINARY
  return true;
#else
  return false;
#endif
}

// ---- running the probe and reading its report ---------------------------------------------------

struct ProbeOutcome {
  int exit_code = -1;
  std::string output;   // stdout and stderr together
  json::object report;  // the --json report; empty when the output is not one JSON object

  bool valid() const {
    const auto* value = report.if_contains("valid");
    return value != nullptr && value->is_bool() && value->as_bool();
  }
  // The stage's {"verdict", "detail"}, or empty strings when the report has no such stage.
  std::string verdict(std::string_view stage) const { return stage_field(stage, "verdict"); }
  std::string detail(std::string_view stage) const { return stage_field(stage, "detail"); }
  bool has_stage(std::string_view stage) const { return !verdict(stage).empty(); }
  // The strings of a top-level array ("presented_identities").
  std::vector<std::string> strings(std::string_view key) const {
    std::vector<std::string> found;
    const auto* array = report.if_contains(key);
    if (array == nullptr || !array->is_array()) return found;
    for (const auto& item : array->as_array()) {
      if (item.is_string()) found.emplace_back(item.as_string());
    }
    return found;
  }
  // The "error" of each entry of "path_issues".
  std::vector<std::string> path_issue_errors() const {
    std::vector<std::string> found;
    const auto* issues = report.if_contains("path_issues");
    if (issues == nullptr || !issues->is_array()) return found;
    for (const auto& issue : issues->as_array()) {
      const auto* error = issue.is_object() ? issue.as_object().if_contains("error") : nullptr;
      if (error != nullptr && error->is_string()) found.emplace_back(error->as_string());
    }
    return found;
  }

 private:
  std::string stage_field(std::string_view stage, std::string_view field) const {
    const auto* stages = report.if_contains("stages");
    if (stages == nullptr || !stages->is_array()) return "";
    for (const auto& entry : stages->as_array()) {
      if (!entry.is_object()) continue;
      const auto& object = entry.as_object();
      const auto* name = object.if_contains("stage");
      const auto* value = object.if_contains(field);
      if (name != nullptr && name->is_string() && name->as_string() == stage && value != nullptr &&
          value->is_string()) {
        return std::string(value->as_string());
      }
    }
    return "";
  }
};

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool starts_with_any(const std::string& text, std::initializer_list<std::string_view> prefixes) {
  for (const auto prefix : prefixes) {
    if (text.starts_with(prefix)) return true;
  }
  return false;
}

ProbeOutcome run_parley_cert(std::vector<std::string> arguments) {
  ProbeOutcome outcome;
#ifdef PARLEY_CERT_BINARY
  arguments.insert(arguments.begin(), PARLEY_CERT_BINARY);
  auto ran = integration::run_program(std::move(arguments));
  if (!ran) {
    outcome.output = ran.error().message;
    return outcome;
  }
  outcome.exit_code = ran->exit_code;
  outcome.output = ran->output;
  boost::system::error_code error;
  json::value parsed = json::parse(outcome.output, error);
  if (!error && parsed.is_object()) outcome.report = std::move(parsed.as_object());
#else
  (void)arguments;
#endif
  return outcome;
}

// ---- what the client would decide ---------------------------------------------------------------

// client::decide_server_trust, the front door the client runs on every connection, on the chain
// in `chain_file` (what the server was configured to present) with the probe's anchors and
// reference identity, the admin default RejectAndNotify, nobody to prompt and nothing accepted
// before, so that only the chain and the name decide. Revocation is off, as in the probes here.
struct ClientView {
  client::Verdict verdict = client::Verdict::rejected;
  std::string reasons;      // joined with "; "
  std::string leaf_sha256;  // "AB:CD:...", as the probe's report spells fingerprints
};

ClientView client_view(const std::string& chain_file, const std::string& ca_file,
                       pki::ServiceKind service, const std::string& host) {
  ClientView view;
  auto chain_pem = read_file(chain_file);
  auto anchors_pem = read_file(ca_file);
  if (!chain_pem || !anchors_pem) {
    view.reasons = "cannot read " + chain_file + " or " + ca_file;
    return view;
  }
  auto chain = pki::Certificate::from_pem(*chain_pem);
  auto anchor_list = pki::Certificate::from_pem(*anchors_pem);
  auto identity = client::ServiceIdentity::make(service, host);
  if (!chain || chain->empty() || !anchor_list || !identity) {
    view.reasons = "unusable fixture " + chain_file + ", " + ca_file + " or host " + host;
    return view;
  }
  pki::TrustStore anchors;
  for (auto& anchor : *anchor_list) anchors.add(std::move(anchor));
  const client::PresentedChain presented{chain->front(), {chain->begin() + 1, chain->end()}};
  pki::VerifyPolicy policy;
  policy.purpose = pki::KeyPurpose::server_auth;
  policy.time = static_cast<pki::UnixTime>(std::time(nullptr));
  // Never written: without a prompt nothing is accepted. The directory need not exist.
  client::CertificateStore store(testing::TempDir() + "parley-probe-client-view");
  const client::TrustDecision decision =
      client::decide_server_trust(presented, anchors, *identity, policy, client::TrustPolicy{},
                                  client::revocation_off(), store, nullptr);
  view.verdict = decision.verdict;
  for (const auto& reason : decision.reasons)
    view.reasons += (view.reasons.empty() ? "" : "; ") + reason;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char byte : presented.leaf->sha256_fingerprint()) {
    const auto value = static_cast<unsigned char>(byte);
    if (!view.leaf_sha256.empty()) view.leaf_sha256 += ':';
    view.leaf_sha256 += kHex[value >> 4];
    view.leaf_sha256 += kHex[value & 0x0f];
  }
  return view;
}

// The probe saw the certificate the client view was computed for, and came to the same verdict.
void expect_same_verdict_as_client(const ProbeOutcome& outcome, const ClientView& client) {
  const auto* path = outcome.report.if_contains("path");
  const json::value* leaf_sha256 = nullptr;
  if (path != nullptr && path->is_array() && !path->as_array().empty() &&
      path->as_array().front().is_object()) {
    leaf_sha256 = path->as_array().front().as_object().if_contains("sha256");
  }
  ASSERT_TRUE(leaf_sha256 != nullptr && leaf_sha256->is_string()) << outcome.output;
  EXPECT_EQ(std::string(leaf_sha256->as_string()), client.leaf_sha256)
      << "the server presented another certificate than the one configured";
  EXPECT_EQ(outcome.valid(), client.verdict == client::Verdict::trusted)
      << "probe: " << outcome.output << "\nclient: " << client::to_string(client.verdict) << " ("
      << client.reasons << ")";
}

// ---- XMPP: Prosody and ejabberd -----------------------------------------------------------------

// xmpp_peers.hpp's port blocks for this file.
template <class Peer>
struct ProbePorts;
template <>
struct ProbePorts<ProsodyPeer> {
  static constexpr std::uint16_t any_version = 18900;
  static constexpr std::uint16_t tls1_2_only = 18909;
};
template <>
struct ProbePorts<EjabberdPeer> {
  static constexpr std::uint16_t any_version = 18903;
  static constexpr std::uint16_t tls1_2_only = 18906;
};

template <class Peer, ServerTlsVersions kVersions>
class ProbedServer : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::uint16_t first = kVersions == ServerTlsVersions::tls1_2_only
                                    ? ProbePorts<Peer>::tls1_2_only
                                    : ProbePorts<Peer>::any_version;
    XmppPeerOptions options;
    options.domain = "example.test";
    options.additional_domains = {"other.test"};
    options.c2s_port = first;
    options.direct_tls_port = static_cast<std::uint16_t>(first + 1);
    options.erlang_distribution_port = static_cast<std::uint16_t>(first + 2);
    options.certificate_chain_file = fixture("chains/p256/chain.pem");
    options.private_key_file = fixture("chains/p256/leaf.key");
    options.ca_file = fixture("chains/p256/root.crt");
    options.tls_versions = kVersions;
    server_.start(std::move(options));
  }
  static void TearDownTestSuite() { server_.stop(); }
  void SetUp() override {
    if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
    if (server_.skip_reason()) GTEST_SKIP() << *server_.skip_reason();
    ASSERT_NE(server_.get(), nullptr) << server_.start_error();
  }

  Peer& server() { return *server_.get(); }

  ProbeOutcome probe(const std::string& host, const std::string& ca) {
    return run_parley_cert({"probe", "--service", "xmpp-client", "--host", host, "--connect",
                            "127.0.0.1", "--port", std::to_string(server().c2s_port()), "--ca", ca,
                            "--revocation", "off", "--json"});
  }

  static inline SuitePeer<Peer> server_;
};

struct ServerNames {
  template <class Peer>
  static std::string GetName(int) {
    return std::is_same_v<Peer, ProsodyPeer> ? "Prosody" : "ejabberd";
  }
};
using Servers = testing::Types<ProsodyPeer, EjabberdPeer>;

template <class Peer>
class XmppProbeTest : public ProbedServer<Peer, ServerTlsVersions::tls1_2_or_later> {};
TYPED_TEST_SUITE(XmppProbeTest, Servers, ServerNames);

TYPED_TEST(XmppProbeTest, TrustedServerIsValid) {
  const auto outcome = this->probe("example.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output << this->server().log_tail();
  EXPECT_TRUE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("starttls"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("tls"), "pass") << outcome.output;
  // Both servers prefer TLS 1.3 when they may; 1.2 has its own test below.
  EXPECT_TRUE(outcome.detail("tls").starts_with("TLSv1.3 ")) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_NE(outcome.detail("path").find("Parley Test Root (p256)"), std::string::npos)
      << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
  EXPECT_EQ(outcome.detail("identity"), "xmpp-client example.test matches example.test")
      << outcome.output;
  expect_same_verdict_as_client(
      outcome, client_view(fixture("chains/p256/chain.pem"), fixture("chains/p256/root.crt"),
                           pki::ServiceKind::xmpp_client, "example.test"));
}

TYPED_TEST(XmppProbeTest, DirectTlsIsJudgedTheSameWithoutAStarttlsStage) {
  const auto outcome = run_parley_cert(
      {"probe", "--service", "xmpp-client", "--host", "example.test", "--connect", "127.0.0.1",
       "--port", std::to_string(this->server().direct_tls_port()), "--direct-tls", "--ca",
       fixture("chains/p256/root.crt"), "--revocation", "off", "--json"});
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output << this->server().log_tail();
  EXPECT_TRUE(outcome.valid()) << outcome.output;
  EXPECT_FALSE(outcome.has_stage("starttls")) << "no plaintext phase: " << outcome.output;
  EXPECT_EQ(outcome.verdict("tls"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
}

TYPED_TEST(XmppProbeTest, UntrustedRootFailsThePathStageAndSaysWhy) {
  const auto outcome = this->probe("example.test", fixture("chains/rsa2048/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("tls"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "fail") << outcome.output;
  EXPECT_TRUE(outcome.detail("path").starts_with("no trusted issuer found")) << outcome.output;
  EXPECT_TRUE(contains(outcome.path_issue_errors(), "no trusted issuer found")) << outcome.output;
  // The name is right; only the trust is missing, and the report keeps the two apart.
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("revocation"), "skipped") << outcome.output;
  const auto client =
      client_view(fixture("chains/p256/chain.pem"), fixture("chains/rsa2048/root.crt"),
                  pki::ServiceKind::xmpp_client, "example.test");
  expect_same_verdict_as_client(outcome, client);
  EXPECT_NE(client.reasons.find("no trusted issuer"), std::string::npos) << client.reasons;
}

TYPED_TEST(XmppProbeTest, OtherHostIsAnIdentityMismatchNamingWhatIsPresented) {
  const auto outcome = this->probe("other.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("starttls"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "fail") << outcome.output;
  const std::string why = outcome.detail("identity");
  EXPECT_TRUE(why.starts_with("the certificate does not name other.test (xmpp-client)")) << why;
  for (const char* presented : {"XmppAddr example.test", "SRVName _xmpp-client.example.test",
                                "dNSName example.test", "dNSName xmpp.example.test"}) {
    EXPECT_NE(why.find(presented), std::string::npos) << presented << " missing from: " << why;
  }
  const auto identities = outcome.strings("presented_identities");
  EXPECT_TRUE(contains(identities, "example.test")) << outcome.output;
  EXPECT_TRUE(contains(identities, "_xmpp-client.example.test")) << outcome.output;
  EXPECT_FALSE(contains(identities, "other.test")) << outcome.output;
  const auto client = client_view(fixture("chains/p256/chain.pem"), fixture("chains/p256/root.crt"),
                                  pki::ServiceKind::xmpp_client, "other.test");
  expect_same_verdict_as_client(outcome, client);
  EXPECT_NE(client.reasons.find("does not name other.test"), std::string::npos) << client.reasons;
}

template <class Peer>
class XmppProbeTls12Test : public ProbedServer<Peer, ServerTlsVersions::tls1_2_only> {};
TYPED_TEST_SUITE(XmppProbeTls12Test, Servers, ServerNames);

// TLS 1.2 takes other paths through the handshake than 1.3, notably ejabberd's
// CertificateRequest, which comes before the server's Finished and is answered in the clear.
TYPED_TEST(XmppProbeTls12Test, TrustedServerIsValid) {
  const auto outcome = this->probe("example.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output << this->server().log_tail();
  EXPECT_TRUE(outcome.valid()) << outcome.output;
  EXPECT_TRUE(outcome.detail("tls").starts_with("TLSv1.2 TLS_ECDHE_ECDSA_WITH_")) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
  expect_same_verdict_as_client(
      outcome, client_view(fixture("chains/p256/chain.pem"), fixture("chains/p256/root.crt"),
                           pki::ServiceKind::xmpp_client, "example.test"));
}

TYPED_TEST(XmppProbeTls12Test, UntrustedRootFailsThePathStage) {
  const auto outcome = this->probe("example.test", fixture("chains/rsa2048/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_TRUE(outcome.detail("tls").starts_with("TLSv1.2 ")) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "fail") << outcome.output;
  EXPECT_TRUE(contains(outcome.path_issue_errors(), "no trusted issuer found")) << outcome.output;
}

// ---- HTTPS: openssl s_server --------------------------------------------------------------------

constexpr std::uint16_t kHttpsPort = 18912;  // xmpp_peers.hpp's table

class HttpsProbeTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
    if (integration::find_program("openssl").empty()) GTEST_SKIP() << "openssl is not installed";
    ASSERT_FALSE(integration::port_is_listening(kHttpsPort))
        << "127.0.0.1:" << kHttpsPort << " is already in use";
  }

  // Serves `certificate` (and `intermediates`, when not empty) with `key` on kHttpsPort.
  void serve(const std::string& certificate, const std::string& key,
             const std::string& intermediates = "") {
    std::vector<std::string> argv{
        "openssl", "s_server",  "-accept", "127.0.0.1:" + std::to_string(kHttpsPort),
        "-cert",   certificate, "-key",    key,
        "-www",    "-quiet"};
    if (!intermediates.empty()) {
      argv.push_back("-cert_chain");
      argv.push_back(intermediates);
    }
    const auto* test = testing::UnitTest::GetInstance()->current_test_info();
    auto server = PeerProcess::start(
        std::move(argv), testing::TempDir() + "parley-probe-https-" + test->name() + ".log");
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    auto listening = server_->wait_until_listening(kHttpsPort, 10s);
    ASSERT_TRUE(listening) << listening.error().message;
  }

  static ProbeOutcome probe(const std::string& host, const std::string& ca) {
    return run_parley_cert({"probe", "--service", "https", "--host", host, "--connect", "127.0.0.1",
                            "--port", std::to_string(kHttpsPort), "--ca", ca, "--revocation", "off",
                            "--json"});
  }

  std::unique_ptr<PeerProcess> server_;
};

TEST_F(HttpsProbeTest, TrustedServerIsValid) {
  ASSERT_NO_FATAL_FAILURE(serve(fixture("chains/p256/leaf.crt"), fixture("chains/p256/leaf.key"),
                                fixture("chains/p256/intermediate.crt")));
  const auto outcome = probe("example.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output << server_->log_tail();
  EXPECT_TRUE(outcome.valid()) << outcome.output;
  EXPECT_FALSE(outcome.has_stage("starttls")) << "HTTPS is direct TLS: " << outcome.output;
  EXPECT_EQ(outcome.verdict("tls"), "pass") << outcome.output;
  EXPECT_TRUE(starts_with_any(outcome.detail("tls"), {"TLSv1.3 ", "TLSv1.2 "})) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
  EXPECT_EQ(outcome.detail("identity"), "https example.test matches example.test")
      << outcome.output;
  expect_same_verdict_as_client(
      outcome, client_view(fixture("chains/p256/chain.pem"), fixture("chains/p256/root.crt"),
                           pki::ServiceKind::https, "example.test"));
}

TEST(ProbeUsage, DirectTlsIsOnlyForXmpp) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  const auto outcome =
      run_parley_cert({"probe", "--service", "https", "--host", "example.test", "--direct-tls"});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("--direct-tls"), std::string::npos) << outcome.output;
}

TEST_F(HttpsProbeTest, WrongHostIsAnIdentityMismatch) {
  ASSERT_NO_FATAL_FAILURE(serve(fixture("chains/p256/leaf.crt"), fixture("chains/p256/leaf.key"),
                                fixture("chains/p256/intermediate.crt")));
  const auto outcome = probe("www.other.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "pass") << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "fail") << outcome.output;
  const std::string why = outcome.detail("identity");
  EXPECT_TRUE(why.starts_with("the certificate does not name www.other.test (https)")) << why;
  EXPECT_NE(why.find("dNSName example.test"), std::string::npos) << why;
  expect_same_verdict_as_client(
      outcome, client_view(fixture("chains/p256/chain.pem"), fixture("chains/p256/root.crt"),
                           pki::ServiceKind::https, "www.other.test"));
}

TEST_F(HttpsProbeTest, UntrustedRootFailsThePathStage) {
  ASSERT_NO_FATAL_FAILURE(serve(fixture("chains/p256/leaf.crt"), fixture("chains/p256/leaf.key"),
                                fixture("chains/p256/intermediate.crt")));
  const auto outcome = probe("example.test", fixture("chains/rsa2048/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "fail") << outcome.output;
  EXPECT_TRUE(contains(outcome.path_issue_errors(), "no trusted issuer found")) << outcome.output;
  EXPECT_EQ(outcome.verdict("identity"), "pass") << outcome.output;
  expect_same_verdict_as_client(
      outcome, client_view(fixture("chains/p256/chain.pem"), fixture("chains/rsa2048/root.crt"),
                           pki::ServiceKind::https, "example.test"));
}

TEST_F(HttpsProbeTest, ExpiredCertificateFailsThePathStage) {
  ASSERT_NO_FATAL_FAILURE(serve(fixture("tls/expired.crt"), fixture("tls/expired.key")));
  const auto outcome = probe("example.test", fixture("tls/ca.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("path"), "fail") << outcome.output;
  EXPECT_NE(outcome.detail("path").find("expired"), std::string::npos) << outcome.output;
  EXPECT_TRUE(contains(outcome.path_issue_errors(), "certificate expired")) << outcome.output;
  const auto client = client_view(fixture("tls/expired.crt"), fixture("tls/ca.crt"),
                                  pki::ServiceKind::https, "example.test");
  expect_same_verdict_as_client(outcome, client);
  EXPECT_NE(client.reasons.find("expired"), std::string::npos) << client.reasons;
}

// ---- a server that leaves STARTTLS out ----------------------------------------------------------

// A server that answers the stream header with features lacking <starttls/>: what a downgrade
// by an active attacker looks like to the client. One connection, then it closes.
class NoStarttlsServer {
 public:
  NoStarttlsServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~NoStarttlsServer() {
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  NoStarttlsServer(const NoStarttlsServer&) = delete;
  NoStarttlsServer& operator=(const NoStarttlsServer&) = delete;
  std::uint16_t port() const { return port_; }
  // Waits for the connection to end and returns what the client sent after the features.
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return after_features_;
  }

 private:
  // Every wait is bounded so a probe that never connects cannot hang the test's destructor.
  void serve() {
    pollfd listening{fd_, POLLIN, 0};
    if (::poll(&listening, 1, 10'000) <= 0) return;
    const int client = ::accept(fd_, nullptr, nullptr);
    if (client < 0) return;
    std::string received;
    std::array<char, 1024> buffer{};
    while (received.find("version='1.0'>") == std::string::npos && received.size() < 64 * 1024) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) break;
      const ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      received.append(buffer.data(), static_cast<std::size_t>(n));
    }
    const std::string answer =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' "
        "from='example.test' id='s1' version='1.0'><stream:features><mechanisms "
        "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></"
        "stream:features>";
    (void)::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
    // Wait for the probe to hang up (it must not send anything else, credentials least of all).
    for (;;) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) break;
      const ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      after_features_.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(client);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string after_features_;  // written by the thread; read by finish() after the join
};

TEST(ProbeWithoutStarttls, ReportsStarttlsNotOffered) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  NoStarttlsServer server;
  ASSERT_NE(server.port(), 0);
  const auto outcome =
      run_parley_cert({"probe", "--service", "xmpp-client", "--host", "example.test", "--connect",
                       "127.0.0.1", "--port", std::to_string(server.port()), "--ca",
                       fixture("chains/p256/root.crt"), "--revocation", "off", "--json"});
  // Nothing after the features: no <auth/>, no plaintext anything, once STARTTLS is missing.
  EXPECT_EQ(server.finish(), "");
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_FALSE(outcome.valid()) << outcome.output;
  EXPECT_EQ(outcome.verdict("starttls"), "fail") << outcome.output;
  EXPECT_TRUE(outcome.detail("starttls").starts_with("not offered")) << outcome.output;
  // Nothing was verified because there was nothing to verify.
  EXPECT_FALSE(outcome.has_stage("tls")) << outcome.output;
  EXPECT_FALSE(outcome.has_stage("path")) << outcome.output;
}

TEST(ProbeNetworkErrors, RefusedConnectionIsExitTwo) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  const std::uint16_t port = free_port();  // nobody listens there once free_port() closed it
  const auto outcome =
      run_parley_cert({"probe", "--host", "example.test", "--connect", "127.0.0.1", "--port",
                       std::to_string(port), "--ca", fixture("chains/p256/root.crt")});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("connection refused by 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << outcome.output;
}

TEST(ProbeNetworkErrors, SilentServerTimesOut) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  const std::uint16_t port = free_port();
  auto silent = integration::SilentListener::open(port);
  ASSERT_TRUE(silent) << silent.error().message;
  const auto started = std::chrono::steady_clock::now();
  const auto outcome =
      run_parley_cert({"probe", "--host", "example.test", "--connect", "127.0.0.1", "--port",
                       std::to_string(port), "--ca", fixture("chains/p256/root.crt")});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("timed out waiting for stream features"), std::string::npos)
      << outcome.output;
}

}  // namespace
}  // namespace parley
