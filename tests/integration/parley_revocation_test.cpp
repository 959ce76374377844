// The spec's revocation behaviour end to end, for the user ("Revocation Servers"): `parley`
// connects to a real parleyd that presents a leaf of the revocation fixture CA
// (tests/fixtures/revocation/, whose AIA names a real `openssl ocsp` on 127.0.0.1:18888 and whose
// CDP names a CRL on :18889), and
//   - a good certificate connects silently,
//   - a revoked one is refused without a prompt, whatever --on-untrusted says, and nothing is
//     stored,
//   - the same holds when the server staples the "revoked" OCSP response and no responder runs
//     (the staple is believed before the network is asked),
//   - when the revocation servers cannot be reached the connection is refused (hard fail, the
//     spec: "cannot connect ... if the revocation server is not reachable"), again without a
//     prompt.
// Ports: parleyd on 19300 (STARTTLS) and 19301 (direct TLS); the responders on the fixture ports.
#include <gtest/gtest.h>

#include <filesystem>

#include "client_support.hpp"
#include "parleyd_peer.hpp"
#include "program.hpp"
#include "revocation_peers.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using namespace client_test;

constexpr std::uint16_t kPort = 19300;

std::string log_path(const std::string& name) {
  const auto* test = testing::UnitTest::GetInstance()->current_test_info();
  return testing::TempDir() + "parley-revocation-e2e-" + test->name() + "-" + name + ".log";
}

// parleyd for the domain the fixture leaf `leaf` names (LEAF.revocation.example.test), presenting
// that leaf; `staple` is a fixture OCSP response file (ocsp/NAME.der) or empty.
Result<std::unique_ptr<ParleydPeer>> start_parleyd(const std::string& leaf,
                                                   const std::string& staple = {}) {
  XmppPeerOptions options;
  options.domain = leaf + ".revocation.example.test";
  options.c2s_port = kPort;
  options.direct_tls_port = kPort + 1;
  options.certificate_chain_file = revocation_fixture(leaf + ".crt");
  options.private_key_file = revocation_fixture(leaf + ".key");
  options.accounts = {{"alice", "alice-secret"}};
  if (!staple.empty()) options.ocsp_staple_file = revocation_fixture(staple);
  return ParleydPeer::start(options);
}

// `parley send` (to alice herself: it only has to reach the server) as alice of `leaf`'s domain,
// trusting the fixture CA; --json prints the connection's security summary.
Result<ProgramOutcome> connect(const ParleyUser& user, const std::string& leaf,
                               const std::string& on_untrusted = "reject") {
  return user.run({"--account", "alice@" + leaf + ".revocation.example.test", "--server",
                   "127.0.0.1:" + std::to_string(kPort), "--password-stdin", "--ca",
                   revocation_fixture("ca.crt"), "--on-untrusted", on_untrusted, "--json", "send",
                   "alice@" + leaf + ".revocation.example.test", "revocation check"},
                  "alice-secret\n");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class ParleyRevocation : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";
    if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    for (auto port : {kFixtureOcspPort, kFixtureCrlPort, kFixtureClosedPort})
      ASSERT_FALSE(port_is_listening(port)) << revocation_port_busy_message(port);
  }
};

TEST_F(ParleyRevocation, GoodCertificateConnectsSilently) {
  auto responder = start_fixture_ocsp_responder("ocsp-responder", log_path("ocsp"));
  ASSERT_TRUE(responder) << responder.error().message;
  auto server = start_parleyd("good");
  ASSERT_TRUE(server) << server.error().message;
  ParleyUser user("good");
  auto outcome = connect(user, "good");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0) << outcome->output << (*server)->log_tail();
  EXPECT_TRUE(contains(outcome->output, "certificate verified")) << outcome->output;
  EXPECT_FALSE(contains(outcome->output, "Accept")) << "no prompt: " << outcome->output;
  EXPECT_FALSE(std::filesystem::exists(user.store_file("alice@good.revocation.example.test")))
      << "a verified certificate is not stored as an exception";
}

TEST_F(ParleyRevocation, RevokedCertificateIsRefusedWithoutPromptAndNothingStored) {
  auto responder = start_fixture_ocsp_responder("ocsp-responder", log_path("ocsp"));
  ASSERT_TRUE(responder) << responder.error().message;
  auto server = start_parleyd("revoked");
  ASSERT_TRUE(server) << server.error().message;
  ParleyUser user("revoked");
  // Even a user (or script) ready to accept anything must not get past a revoked certificate.
  auto outcome = connect(user, "revoked", "accept-always");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 1) << outcome->output;
  EXPECT_TRUE(contains(outcome->output, "revoked")) << outcome->output;
  EXPECT_FALSE(contains(outcome->output, "accepted")) << outcome->output;
  EXPECT_FALSE(std::filesystem::exists(user.store_file("alice@revoked.revocation.example.test")))
      << "nothing is stored for a revoked certificate";
  // The refusal came before authentication: parleyd saw no login for alice.
  EXPECT_FALSE(contains((*server)->log_tail(20000), "alice@revoked.revocation.example.test/"))
      << (*server)->log_tail();
}

TEST_F(ParleyRevocation, StapledRevokedResponseIsBelievedWithoutAResponder) {
  auto server = start_parleyd("revoked", "ocsp/revoked.ca-signed.der");
  ASSERT_TRUE(server) << server.error().message;
  ParleyUser user("stapled");
  auto outcome = connect(user, "revoked", "accept-always");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 1) << outcome->output;
  EXPECT_TRUE(contains(outcome->output, "revoked")) << outcome->output;
  EXPECT_FALSE(std::filesystem::exists(user.store_file("alice@revoked.revocation.example.test")));
}

TEST_F(ParleyRevocation, StapledGoodResponseConnectsWithoutAResponder) {
  // No responder and no CRL server: only the staple can say "good".
  auto server = start_parleyd("good", "ocsp/good.delegated.der");
  ASSERT_TRUE(server) << server.error().message;
  ParleyUser user("stapled-good");
  auto outcome = connect(user, "good");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 0) << outcome->output << (*server)->log_tail();
}

TEST_F(ParleyRevocation, UnreachableRevocationServersRefuseTheConnection) {
  // The good leaf's responder (18888) and CRL server (18889) are both down.
  auto server = start_parleyd("good");
  ASSERT_TRUE(server) << server.error().message;
  ParleyUser user("unreachable");
  auto outcome = connect(user, "good", "accept-always");
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome->exit_code, 1) << outcome->output;
  EXPECT_TRUE(contains(outcome->output, "revocation status could not be established"))
      << outcome->output;
  EXPECT_FALSE(std::filesystem::exists(user.store_file("alice@good.revocation.example.test")));
}

}  // namespace
}  // namespace parley::integration
