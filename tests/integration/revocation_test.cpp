// Revocation against real peers on loopback: a real `openssl ocsp` responder answering from the
// fixture CA's `openssl ca` index, and CRLs served by `python3 -m http.server`. The fixture
// certificates (scripts/fixtures/revocation.sh) name fixed ports:
//   18888 OCSP responder, 18889 CRL server, 18890 closed, 18891 accepts and never answers.
// Each test checks the ports it needs are free and fails with a message naming the port when
// not. `openssl ocsp -port` listens on all interfaces; the tests only ever connect to 127.0.0.1.
//
// Times: the responder signs with the real clock, so every check runs at the real "now"; the
// stale case moves "now" past a short nextUpdate (-nmin 1) instead of waiting for it.

#include "pki/revocation.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "core/file.hpp"
#include "peer_process.hpp"
#include "pki/trust_store.hpp"
#include "pki/verify.hpp"
#include "revocation_peers.hpp"

namespace parley::pki {
namespace {

using namespace std::chrono_literals;
using integration::kFixtureClosedPort;
using integration::kFixtureCrlPort;
using integration::kFixtureHangingPort;
using integration::kFixtureOcspPort;
using integration::PeerProcess;
using integration::revocation_fixture;
using integration::revocation_port_busy_message;
using integration::SilentListener;
using integration::start_fixture_crl_server;
using integration::start_fixture_ocsp_responder;

constexpr std::uint16_t kOcspPort = kFixtureOcspPort;
constexpr std::uint16_t kCrlPort = kFixtureCrlPort;
constexpr std::uint16_t kClosedPort = kFixtureClosedPort;
constexpr std::uint16_t kHangingPort = kFixtureHangingPort;
constexpr const char* kOcspUrl = "http://127.0.0.1:18888";
constexpr const char* kCrlUrl = "http://127.0.0.1:18889/ca.crl";

std::string fixture_path(const std::string& name) {
  return revocation_fixture(name);
}

std::string log_path(const std::string& name) {
  const auto* test = testing::UnitTest::GetInstance()->current_test_info();
  return testing::TempDir() + "parley-revocation-" + test->name() + "-" + name + ".log";
}

UnixTime real_now() {
  return static_cast<UnixTime>(std::time(nullptr));
}

std::string port_busy_message(std::uint16_t port) {
  return revocation_port_busy_message(port);
}

// A real `openssl ocsp` responder signing with `signer`; nullptr (and a recorded failure) when it
// cannot start.
std::unique_ptr<PeerProcess> start_ocsp_responder(const std::string& signer,
                                                  const std::string& validity_option = "-ndays",
                                                  const std::string& validity = "1") {
  auto peer = start_fixture_ocsp_responder(signer, log_path("ocsp"), validity_option, validity);
  if (!peer) {
    ADD_FAILURE() << peer.error().message;
    return nullptr;
  }
  return std::move(*peer);
}

// Serves fixture directory `directory` (holding ca.crl) on kCrlPort.
std::unique_ptr<PeerProcess> start_crl_server(const std::string& directory) {
  auto peer = start_fixture_crl_server(directory, log_path("crl"));
  if (!peer) {
    ADD_FAILURE() << peer.error().message;
    return nullptr;
  }
  return std::move(*peer);
}

// Nothing may listen where the tests expect refusals.
void expect_nothing_listening(std::uint16_t port) {
  EXPECT_FALSE(integration::port_is_listening(port)) << port_busy_message(port);
}

std::optional<VerifiedPath> verified(const std::string& leaf) {
  TrustStore anchors;
  auto ca = Certificate::from_pem(read_file(fixture_path("ca.crt")).value_or(""));
  auto certificate = Certificate::from_pem(read_file(fixture_path(leaf + ".crt")).value_or(""));
  if (!ca || !certificate) {
    ADD_FAILURE() << "cannot read the fixtures for " << leaf;
    return std::nullopt;
  }
  anchors.add(ca->front());
  auto reference = ReferenceIdentity::dns(leaf + ".revocation.example.test");
  if (!reference) {
    ADD_FAILURE() << reference.error().message;
    return std::nullopt;
  }
  VerifyPolicy policy;
  policy.time = real_now();
  auto path = verify_server_certificate(certificate->front(), {}, anchors, *reference, policy);
  if (!path) {
    ADD_FAILURE() << leaf << ": " << path.error().message;
    return std::nullopt;
  }
  return std::move(*path);
}

RevocationPolicy policy(RevocationMode mode = RevocationMode::hard) {
  RevocationPolicy result;
  result.mode = mode;
  result.now = real_now();
  result.ocsp_fetch.connect_timeout = 1500ms;
  result.ocsp_fetch.total_timeout = 1500ms;
  result.crl_fetch.connect_timeout = 1500ms;
  result.crl_fetch.total_timeout = 3000ms;
  return result;  // nonces on: `openssl ocsp` echoes them
}

RevocationResult check(const std::string& leaf, const RevocationPolicy& chosen,
                       RevocationCache& cache) {
  const auto path = verified(leaf);
  if (!path) return {};
  return check_revocation(*path, chosen, cache);
}

std::string describe(const RevocationResult& result) {
  std::string text = std::string(to_string(result.verdict)) + ": " + result.message;
  for (const auto& entry : result.certificates) {
    for (const auto& attempt : entry.attempts) text += "\n  " + attempt.outcome;
  }
  return text;
}

TEST(RevocationIntegration, GoodByOcspSignedByTheCa) {
  const auto responder = start_ocsp_responder("ca");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  const RevocationResult result = check("good", policy(), cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::good) << describe(result);
  ASSERT_EQ(result.certificates.size(), 1u);
  EXPECT_EQ(result.certificates[0].status, CertificateRevocationStatus::good);
  ASSERT_FALSE(result.certificates[0].attempts.empty());
  EXPECT_EQ(result.certificates[0].attempts[0].url, kOcspUrl);
  EXPECT_TRUE(result.certificates[0].attempts[0].conclusive);
}

TEST(RevocationIntegration, GoodByOcspFromADelegatedResponder) {
  const auto responder = start_ocsp_responder("ocsp-responder");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  const RevocationResult result = check("good", policy(), cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::good) << describe(result);
  ASSERT_FALSE(result.certificates.empty());
  EXPECT_NE(result.certificates[0].attempts[0].outcome.find("OCSP Responder"), std::string::npos)
      << describe(result);
}

TEST(RevocationIntegration, RevokedByOcsp) {
  const auto responder = start_ocsp_responder("ca");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  for (const RevocationMode mode : {RevocationMode::hard, RevocationMode::soft}) {
    const RevocationResult result = check("revoked", policy(mode), cache);
    EXPECT_EQ(result.verdict, RevocationVerdict::revoked) << describe(result);
    EXPECT_FALSE(result.allows_connection());
    ASSERT_FALSE(result.certificates.empty());
    EXPECT_EQ(result.certificates[0].revocation_reason, 1);  // keyCompromise
    EXPECT_NE(result.message.find("keyCompromise"), std::string::npos) << result.message;
  }
}

TEST(RevocationIntegration, RevokedByCrlWhenOcspIsDown) {
  expect_nothing_listening(kOcspPort);
  const auto crl_server = start_crl_server("crl");
  ASSERT_TRUE(crl_server);
  RevocationCache cache;
  const RevocationResult revoked = check("revoked", policy(), cache);
  EXPECT_EQ(revoked.verdict, RevocationVerdict::revoked) << describe(revoked);
  EXPECT_NE(revoked.message.find(kCrlUrl), std::string::npos) << revoked.message;

  const RevocationResult good = check("good", policy(), cache);
  EXPECT_EQ(good.verdict, RevocationVerdict::good) << describe(good);
}

TEST(RevocationIntegration, UnreachableServerRejectsUnderHardAcceptsUnderSoft) {
  expect_nothing_listening(kClosedPort);
  RevocationCache cache;
  const RevocationResult hard = check("unreachable", policy(RevocationMode::hard), cache);
  EXPECT_EQ(hard.verdict, RevocationVerdict::unavailable) << describe(hard);
  EXPECT_FALSE(hard.allows_connection());
  EXPECT_NE(hard.message.find("http://127.0.0.1:18890: connection refused"), std::string::npos)
      << hard.message;

  const RevocationResult soft = check("unreachable", policy(RevocationMode::soft), cache);
  EXPECT_EQ(soft.verdict, RevocationVerdict::unavailable_accepted) << describe(soft);
  EXPECT_TRUE(soft.allows_connection());
}

TEST(RevocationIntegration, HangingResponderTakesBoundedTime) {
  if (integration::port_is_listening(kHangingPort)) FAIL() << port_busy_message(kHangingPort);
  auto listener = SilentListener::open(kHangingPort);
  ASSERT_TRUE(listener) << listener.error().message;
  RevocationCache cache;
  RevocationPolicy chosen = policy();
  chosen.ocsp_fetch.total_timeout = 1000ms;
  const auto start = std::chrono::steady_clock::now();
  const RevocationResult result = check("hanging", chosen, cache);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable) << describe(result);
  EXPECT_NE(result.message.find("timed out after"), std::string::npos) << result.message;
  // The limit plus a generous margin for a loaded machine; without a bound this would hang.
  EXPECT_LT(elapsed, 1000ms + 4s);
}

TEST(RevocationIntegration, StaleResponsesAreNotBelieved) {
  // nextUpdate one minute after signing; judged two hours later. The CRL server offers a CRL
  // whose nextUpdate passed in 2024, so neither source may vouch for the certificate.
  const auto responder = start_ocsp_responder("ca", "-nmin", "1");
  ASSERT_TRUE(responder);
  const auto crl_server = start_crl_server("crl-stale");
  ASSERT_TRUE(crl_server);
  RevocationCache cache;
  RevocationPolicy later = policy();
  later.now = real_now() + 2 * 3600;
  const RevocationResult result = check("good", later, cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable) << describe(result);
  EXPECT_NE(result.message.find("stale response: nextUpdate has passed"), std::string::npos)
      << result.message;
  EXPECT_NE(result.message.find("nextUpdate has passed"), result.message.rfind("nextUpdate"))
      << "both the OCSP response and the CRL should be reported stale: " << result.message;
  EXPECT_EQ(cache.ocsp_entries(), 0u);
}

TEST(RevocationIntegration, WrongSignerWithoutOcspSigning) {
  const auto responder = start_ocsp_responder("responder-without-eku");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  const RevocationResult result = check("good", policy(), cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable) << describe(result);
  EXPECT_NE(result.message.find("lacks extendedKeyUsage id-kp-OCSPSigning"), std::string::npos)
      << result.message;
}

TEST(RevocationIntegration, WrongSignerFromAnotherCa) {
  const auto responder = start_ocsp_responder("other-ca-responder");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  const RevocationResult revoked = check("revoked", policy(), cache);
  // Whatever a foreign responder says is not believed, "good" for a revoked certificate least of
  // all; with the CRL server down the status stays unavailable.
  EXPECT_EQ(revoked.verdict, RevocationVerdict::unavailable) << describe(revoked);
  EXPECT_NE(revoked.message.find("is not issued by the certificate's issuer"), std::string::npos)
      << revoked.message;
}

TEST(RevocationIntegration, UnknownToTheResponderIsNotGood) {
  const auto responder = start_ocsp_responder("ca");
  ASSERT_TRUE(responder);
  RevocationCache cache;
  const RevocationResult result = check("unindexed", policy(), cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable) << describe(result);
  EXPECT_NE(result.message.find("does not know"), std::string::npos) << result.message;
}

TEST(RevocationIntegration, NoRevocationInformationProceedsAndIsRecorded) {
  RevocationCache cache;
  const RevocationResult result = check("no-revocation-info", policy(), cache);
  EXPECT_EQ(result.verdict, RevocationVerdict::good) << describe(result);
  ASSERT_EQ(result.certificates.size(), 1u);
  EXPECT_EQ(result.certificates[0].status, CertificateRevocationStatus::no_revocation_information);
  EXPECT_TRUE(result.certificates[0].attempts.empty());
}

TEST(RevocationIntegration, CachedAnswerOutlivesTheResponder) {
  RevocationCache cache;
  {
    const auto responder = start_ocsp_responder("ca");
    ASSERT_TRUE(responder);
    EXPECT_EQ(check("good", policy(), cache).verdict, RevocationVerdict::good);
  }  // responder stopped here
  expect_nothing_listening(kOcspPort);
  const RevocationResult cached = check("good", policy(), cache);
  EXPECT_EQ(cached.verdict, RevocationVerdict::good) << describe(cached);
  ASSERT_FALSE(cached.certificates.empty());
  EXPECT_TRUE(cached.certificates[0].attempts[0].from_cache);
}

TEST(RevocationIntegration, HttpFetchSizeLimitAgainstARealServer) {
  const auto crl_server = start_crl_server("crl");
  ASSERT_TRUE(crl_server);
  net::HttpRequest request;
  request.url = kCrlUrl;
  net::HttpFetchLimits limits;
  limits.max_response_bytes = 16;
  auto fetched = net::http_fetch(request, limits);
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::limit) << fetched.error().message;
  limits.max_response_bytes = 1024 * 1024;
  fetched = net::http_fetch(request, limits);
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(fetched->body, read_file(fixture_path("crl/ca.crl")).value_or(""));
}

}  // namespace
}  // namespace parley::pki
