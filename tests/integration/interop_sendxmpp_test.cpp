// go-sendxmpp 0.5.6 (Debian's, Go's TLS verifier) against parleyd, for what parleyd_test.cpp's
// go-sendxmpp cases leave out: refusal over direct TLS of a certificate from an untrusted CA,
// refusal of a certificate that does not name the JID's domain (STARTTLS and direct TLS), and
// messages between two different third-party clients (go-sendxmpp and slixmpp) both ways.
// go-sendxmpp verifies against the CA named by SSL_CERT_FILE and the JID's domain; it knows only
// SASL PLAIN, so these parleyd instances set insecure_allow_plain (PLAIN over TLS only).
//
// Ports 19256-19257 (interop_support.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "interop_support.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;

constexpr std::uint16_t kC2sPort = 19256;
constexpr std::uint16_t kDirectTlsPort = 19257;

std::string address(bool direct_tls) {
  return "127.0.0.1:" + std::to_string(direct_tls ? kDirectTlsPort : kC2sPort);
}

// go-sendxmpp sending `text` from `from` to `to`, trusting `ca_file`.
Result<ProgramOutcome> send_with_sendxmpp(const std::string& from, const std::string& password,
                                          const std::string& to, const std::string& text,
                                          bool direct_tls, const std::string& ca_file) {
  std::vector<std::string> argv = {"go-sendxmpp"};
  if (direct_tls) argv.push_back("-t");
  for (const std::string& word : {std::string("-u"), from, std::string("-p"), password,
                                  std::string("-j"), address(direct_tls), to})
    argv.push_back(word);
  return run_program(argv, ProgramOptions{.standard_input = text + "\n",
                                          .environment = {{"SSL_CERT_FILE", ca_file}},
                                          .timeout = 30s});
}

class ParleydWithGoSendxmppAndSlixmpp : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    if (find_program("go-sendxmpp").empty()) GTEST_SKIP() << "go-sendxmpp is not installed";
  }

  void start_server(const std::string& domain = std::string(kInteropDomain)) {
    // The chain names example.test: serving another domain with it makes a name mismatch.
    XmppPeerOptions options;
    options.domain = domain;
    // parleyd starts with a certificate for another domain only when told to.
    options.insecure_allow_certificate_name_mismatch = domain != kInteropDomain;
    options.c2s_port = kC2sPort;
    options.direct_tls_port = kDirectTlsPort;
    options.certificate_chain_file = kInteropFixtures + "/chains/p256/chain.pem";
    options.private_key_file = kInteropFixtures + "/chains/p256/leaf.key";
    options.accounts = {{"alice", password_of("alice")}, {"bob", password_of("bob")}};
    auto started = ParleydPeer::start(options, /*insecure_allow_plain=*/true);
    ASSERT_TRUE(started) << started.error().message;
    server_ = std::move(*started);
  }

  std::unique_ptr<ParleydPeer> server_;
};

TEST_F(ParleydWithGoSendxmppAndSlixmpp, UntrustedCaIsRefusedOverDirectTls) {
  start_server();
  auto sent = send_with_sendxmpp("alice@example.test", password_of("alice"), "bob@example.test",
                                 "never sent", /*direct_tls=*/true, kUntrustedCa);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_NE(sent->exit_code, 0) << sent->output;
  EXPECT_NE(sent->output.find("certificate signed by unknown authority"), std::string::npos)
      << sent->output;
  EXPECT_EQ(server_->log_tail(1'000'000).find("authenticated"), std::string::npos);
}

TEST_F(ParleydWithGoSendxmppAndSlixmpp, CertificateWithoutTheDomainIsRefused) {
  start_server("other.test");
  for (bool direct_tls : {false, true}) {
    SCOPED_TRACE(direct_tls ? "direct TLS" : "STARTTLS");
    auto sent = send_with_sendxmpp("alice@other.test", password_of("alice"), "bob@other.test",
                                   "never sent", direct_tls, kInteropCa);
    ASSERT_TRUE(sent) << sent.error().message;
    EXPECT_NE(sent->exit_code, 0) << sent->output;
    EXPECT_NE(sent->output.find("not other.test"), std::string::npos) << sent->output;
  }
  EXPECT_EQ(server_->log_tail(1'000'000).find("authenticated"), std::string::npos);
  EXPECT_NE(server_->log_tail(1'000'000).find("insecure_allow_certificate_name_mismatch = true"),
            std::string::npos)
      << "parleyd warns that it serves a certificate for another name";
}

// go-sendxmpp listening over direct TLS hears slixmpp (STARTTLS); slixmpp hears go-sendxmpp.
TEST_F(ParleydWithGoSendxmppAndSlixmpp, MessagesBetweenGoSendxmppAndSlixmppBothWays) {
  if (auto reason = SlixmppPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  start_server();
  auto listener = PeerProcess::start(
      {"env", "SSL_CERT_FILE=" + kInteropCa, "timeout", "30", "go-sendxmpp", "-t", "-u",
       "bob@example.test", "-p", password_of("bob"), "-j", address(true), "-l"},
      (server_->directory() / "go-sendxmpp.log").string());
  ASSERT_TRUE(listener) << listener.error().message;
  // The listener is online once its session shows in parleyd's log.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (server_->log_tail(1'000'000).find("bob@example.test authenticated") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(100ms);
  auto alice = run_slixmpp(
      slixmpp_as("alice", kC2sPort, {"presence", "send", "bob@example.test", "from slixmpp"}),
      server_->directory() / "alice.log");
  ASSERT_EQ(alice.exit_code, 0) << alice.output;
  const auto heard_by = std::chrono::steady_clock::now() + 10s;
  std::string heard;
  while (heard.find(": from slixmpp") == std::string::npos &&
         std::chrono::steady_clock::now() < heard_by) {
    std::this_thread::sleep_for(100ms);
    heard = file_contents(server_->directory() / "go-sendxmpp.log");
  }
  EXPECT_NE(heard.find(": from slixmpp"), std::string::npos) << heard << server_->log_tail();
  EXPECT_NE(heard.find("alice@example.test"), std::string::npos) << heard;
  listener->reset();

  auto receiver = SlixmppPeer::start(
      slixmpp_as("alice", kC2sPort, {"presence", "wait", "body=from go-sendxmpp"}),
      server_->directory() / "alice-2.log");
  ASSERT_TRUE(receiver) << receiver.error().message;
  ASSERT_TRUE((*receiver)->wait_for_line("step 1 presence ok", 20s)) << (*receiver)->output();
  auto sent = send_with_sendxmpp("bob@example.test", password_of("bob"), "alice@example.test",
                                 "from go-sendxmpp", /*direct_tls=*/false, kInteropCa);
  ASSERT_TRUE(sent) << sent.error().message;
  EXPECT_EQ(sent->exit_code, 0) << sent->output;
  EXPECT_EQ((*receiver)->wait_for_exit(30s), 0) << (*receiver)->output();
  EXPECT_NE((*receiver)->output().find("message from=bob@example.test/"), std::string::npos)
      << (*receiver)->output();
}

}  // namespace
}  // namespace parley::integration
