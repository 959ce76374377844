// Tables for pki/revocation: the order of sources, the verdicts per mode, the cache and the
// deadline, with a canned fetcher that answers from tests/fixtures/revocation/ (responses made
// by `openssl ocsp`, CRLs by `openssl ca`). The real network path is in
// tests/integration/revocation_test.cpp.

#include "pki/revocation.hpp"

#include <gtest/gtest.h>

#include <ctime>
#include <map>
#include <string>
#include <thread>

#include "core/file.hpp"
#include "pki/trust_store.hpp"

namespace parley::pki {
namespace {

using namespace std::chrono_literals;

constexpr const char* kOcspUrl = "http://127.0.0.1:18888";
constexpr const char* kCrlUrl = "http://127.0.0.1:18889/ca.crl";
constexpr const char* kClosedOcspUrl = "http://127.0.0.1:18890";
constexpr const char* kClosedCrlUrl = "http://127.0.0.1:18890/ca.crl";

std::string fixture_bytes(const std::string& name) {
  auto text = read_file(std::string(PARLEY_FIXTURES_DIR) + "/revocation/" + name);
  EXPECT_TRUE(text.has_value()) << name << ": " << (text ? "" : text.error().message);
  return text ? *text : std::string();
}

CertificatePtr certificate(const std::string& name) {
  auto parsed = Certificate::from_pem(fixture_bytes(name + ".crt"));
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << name << ": " << (parsed ? "not one certificate" : parsed.error().message);
    return nullptr;
  }
  return parsed->front();
}

UnixTime real_now() {
  return static_cast<UnixTime>(std::time(nullptr));
}

// The leaf `name` verified against the fixture CA; revocation only ever sees verified paths.
std::optional<VerifiedPath> verified(const std::string& name) {
  TrustStore anchors;
  anchors.add(certificate("ca"));
  auto reference = ReferenceIdentity::dns(name + ".revocation.example.test");
  if (!reference) {
    ADD_FAILURE() << reference.error().message;
    return std::nullopt;
  }
  VerifyPolicy policy;
  policy.time = real_now();
  auto result = verify_server_certificate(certificate(name), {}, anchors, *reference, policy);
  if (!result) {
    ADD_FAILURE() << name << ": " << result.error().message;
    return std::nullopt;
  }
  return std::move(*result);
}

net::HttpResponse ok(std::string body) {
  net::HttpResponse response;
  response.status = 200;
  response.body = std::move(body);
  return response;
}

// Answers by URL; a URL without an answer is "connection refused". Counts what was asked.
struct CannedFetcher {
  std::map<std::string, Result<net::HttpResponse>> answers;
  std::vector<std::string> asked;
  std::chrono::milliseconds delay{0};

  RevocationFetcher function() {
    return [this](const net::HttpRequest& request, const net::HttpFetchLimits& limits) {
      asked.push_back(request.url);
      if (delay.count() > 0) std::this_thread::sleep_for(std::min(delay, limits.total_timeout));
      const auto found = answers.find(request.url);
      if (found == answers.end()) {
        return Result<net::HttpResponse>(
            fail(Error::io("POST " + request.url + ": connection refused")));
      }
      return found->second;
    };
  }
};

RevocationPolicy policy_without_nonce(RevocationMode mode = RevocationMode::hard) {
  RevocationPolicy policy;
  policy.mode = mode;
  policy.now = real_now();
  // The canned responses were made without a nonce, as a pre-signing responder does.
  policy.ocsp_nonce = OcspNonceMode::omit;
  return policy;
}

struct SourceCase {
  const char* name;
  const char* leaf;
  std::map<std::string, std::string> answers;  // URL -> fixture file
  RevocationMode mode;
  RevocationVerdict verdict;
  CertificateRevocationStatus leaf_status;
  std::size_t fetches;
  const char* message_contains;
};

void PrintTo(const SourceCase& c, std::ostream* out) {
  *out << c.name;
}

class RevocationSources : public testing::TestWithParam<SourceCase> {};

TEST_P(RevocationSources, Verdict) {
  const SourceCase& c = GetParam();
  const auto path = verified(c.leaf);
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  for (const auto& [url, file] : c.answers) fetcher.answers.emplace(url, ok(fixture_bytes(file)));
  RevocationCache cache;
  const RevocationResult result =
      check_revocation(*path, policy_without_nonce(c.mode), cache, {}, fetcher.function());
  EXPECT_EQ(result.verdict, c.verdict) << result.message;
  ASSERT_EQ(result.certificates.size(), 1u);  // leaf only: the anchor is not checked
  EXPECT_EQ(result.certificates[0].status, c.leaf_status) << result.certificates[0].detail;
  EXPECT_EQ(fetcher.asked.size(), c.fetches);
  EXPECT_NE(result.message.find(c.message_contains), std::string::npos) << result.message;
}

INSTANTIATE_TEST_SUITE_P(
    Table, RevocationSources,
    testing::Values(SourceCase{"GoodByOcspWithoutAskingTheCrl",
                               "good",
                               {{kOcspUrl, "ocsp/good.ca-signed.der"}, {kCrlUrl, "crl/ca.crl"}},
                               RevocationMode::hard,
                               RevocationVerdict::good,
                               CertificateRevocationStatus::good,
                               1,
                               "no certificate is revoked"},
                    SourceCase{"RevokedByOcsp",
                               "revoked",
                               {{kOcspUrl, "ocsp/revoked.ca-signed.der"}},
                               RevocationMode::hard,
                               RevocationVerdict::revoked,
                               CertificateRevocationStatus::revoked,
                               1,
                               "keyCompromise"},
                    SourceCase{"RevokedEvenUnderSoft",
                               "revoked",
                               {{kOcspUrl, "ocsp/revoked.ca-signed.der"}},
                               RevocationMode::soft,
                               RevocationVerdict::revoked,
                               CertificateRevocationStatus::revoked,
                               1,
                               "revoked"},
                    SourceCase{"OcspUnreachableCrlGood",
                               "good",
                               {{kCrlUrl, "crl/ca.crl"}},
                               RevocationMode::hard,
                               RevocationVerdict::good,
                               CertificateRevocationStatus::good,
                               2,
                               "no certificate is revoked"},
                    SourceCase{"OcspUnreachableCrlRevoked",
                               "revoked",
                               {{kCrlUrl, "crl/ca.crl"}},
                               RevocationMode::hard,
                               RevocationVerdict::revoked,
                               CertificateRevocationStatus::revoked,
                               2,
                               kCrlUrl},
                    SourceCase{"OcspGarbageCrlGood",
                               "good",
                               {{kOcspUrl, "index.txt"}, {kCrlUrl, "crl-empty/ca.crl"}},
                               RevocationMode::hard,
                               RevocationVerdict::good,
                               CertificateRevocationStatus::good,
                               2,
                               "no certificate is revoked"},
                    SourceCase{"OcspWrongSignerCrlStale",
                               "good",
                               {{kOcspUrl, "ocsp/good.signed-by-responder-without-eku.der"},
                                {kCrlUrl, "crl-stale/ca.crl"}},
                               RevocationMode::hard,
                               RevocationVerdict::unavailable,
                               CertificateRevocationStatus::unavailable,
                               2,
                               "id-kp-OCSPSigning"},
                    SourceCase{"OcspUnknownCrlUnreachableHard",
                               "unindexed",
                               {{kOcspUrl, "ocsp/unknown.ca-signed.der"}},
                               RevocationMode::hard,
                               RevocationVerdict::unavailable,
                               CertificateRevocationStatus::unavailable,
                               2,
                               "does not know"},
                    SourceCase{"UnreachableHardNamesTheUrls",
                               "unreachable",
                               {},
                               RevocationMode::hard,
                               RevocationVerdict::unavailable,
                               CertificateRevocationStatus::unavailable,
                               2,
                               kClosedOcspUrl},
                    SourceCase{"UnreachableSoftIsAccepted",
                               "unreachable",
                               {},
                               RevocationMode::soft,
                               RevocationVerdict::unavailable_accepted,
                               CertificateRevocationStatus::unavailable,
                               2,
                               "revocation = soft"},
                    SourceCase{"NoRevocationInformationProceeds",
                               "no-revocation-info",
                               {},
                               RevocationMode::hard,
                               RevocationVerdict::good,
                               CertificateRevocationStatus::no_revocation_information,
                               0,
                               "carry no revocation information"},
                    SourceCase{"OffFetchesNothing",
                               "revoked",
                               {{kOcspUrl, "ocsp/revoked.ca-signed.der"}},
                               RevocationMode::off,
                               RevocationVerdict::not_checked,
                               CertificateRevocationStatus::not_checked,
                               0,
                               "off"}),
    [](const testing::TestParamInfo<SourceCase>& test_case) {
      return std::string(test_case.param.name);
    });

TEST(Revocation, UnreachableMessageNamesEachUrlAndFailure) {
  const auto path = verified("unreachable");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  RevocationCache cache;
  const RevocationResult result =
      check_revocation(*path, policy_without_nonce(), cache, {}, fetcher.function());
  EXPECT_FALSE(result.allows_connection());
  EXPECT_NE(result.message.find(std::string(kClosedOcspUrl) + ": connection refused"),
            std::string::npos)
      << result.message;
  EXPECT_NE(result.message.find(std::string(kClosedCrlUrl) + ": connection refused"),
            std::string::npos)
      << result.message;
}

TEST(Revocation, StapledResponseIsUsedFirst) {
  const auto path = verified("revoked");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  RevocationCache cache;
  const std::string stapled = fixture_bytes("ocsp/revoked.ca-signed.der");
  const RevocationResult result = check_revocation(
      *path, policy_without_nonce(), cache,
      {reinterpret_cast<const std::uint8_t*>(stapled.data()), stapled.size()}, fetcher.function());
  EXPECT_EQ(result.verdict, RevocationVerdict::revoked) << result.message;
  EXPECT_TRUE(fetcher.asked.empty());
  ASSERT_FALSE(result.certificates[0].attempts.empty());
  EXPECT_EQ(result.certificates[0].attempts[0].source, RevocationSource::stapled_ocsp);
}

TEST(Revocation, UnbelievableStapledResponseFallsBackToFetching) {
  const auto path = verified("good");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  fetcher.answers.emplace(kOcspUrl, ok(fixture_bytes("ocsp/good.ca-signed.der")));
  RevocationCache cache;
  const std::string stapled = fixture_bytes("ocsp/good.signed-by-other-ca-responder.der");
  const RevocationResult result = check_revocation(
      *path, policy_without_nonce(), cache,
      {reinterpret_cast<const std::uint8_t*>(stapled.data()), stapled.size()}, fetcher.function());
  EXPECT_EQ(result.verdict, RevocationVerdict::good) << result.message;
  EXPECT_EQ(fetcher.asked.size(), 1u);
  ASSERT_EQ(result.certificates[0].attempts.size(), 2u);
  EXPECT_FALSE(result.certificates[0].attempts[0].conclusive);
}

TEST(Revocation, ResponseWithoutTheNonceWeSentIsNotBelieved) {
  const auto path = verified("good");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  fetcher.answers.emplace(kOcspUrl, ok(fixture_bytes("ocsp/good.ca-signed.der")));
  RevocationCache cache;
  RevocationPolicy policy = policy_without_nonce();
  policy.ocsp_nonce = OcspNonceMode::send_and_require_echo;  // the default
  const RevocationResult result = check_revocation(*path, policy, cache, {}, fetcher.function());
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable) << result.message;
  EXPECT_NE(result.message.find("nonce"), std::string::npos) << result.message;
}

TEST(Revocation, OcspAnswersAreCachedUntilNextUpdate) {
  const auto path = verified("good");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  fetcher.answers.emplace(kOcspUrl, ok(fixture_bytes("ocsp/good.ca-signed.der")));
  RevocationCache cache;
  RevocationPolicy policy = policy_without_nonce();
  EXPECT_EQ(check_revocation(*path, policy, cache, {}, fetcher.function()).verdict,
            RevocationVerdict::good);
  EXPECT_EQ(cache.ocsp_entries(), 1u);
  const RevocationResult again = check_revocation(*path, policy, cache, {}, fetcher.function());
  EXPECT_EQ(again.verdict, RevocationVerdict::good);
  EXPECT_EQ(fetcher.asked.size(), 1u);
  ASSERT_FALSE(again.certificates[0].attempts.empty());
  EXPECT_TRUE(again.certificates[0].attempts[0].from_cache);

  // Past nextUpdate the cached answer is gone and the responder is asked again (and its
  // response, now stale, is not believed).
  policy.now = 4102444800;  // 2100
  const RevocationResult later = check_revocation(*path, policy, cache, {}, fetcher.function());
  EXPECT_EQ(fetcher.asked.size(), 3u);  // OCSP, then the CRL URL (refused)
  EXPECT_EQ(later.verdict, RevocationVerdict::unavailable) << later.message;
}

TEST(Revocation, CrlsAreCachedPerUrl) {
  CannedFetcher fetcher;
  fetcher.answers.emplace(kCrlUrl, ok(fixture_bytes("crl/ca.crl")));
  RevocationCache cache;
  const RevocationPolicy policy = policy_without_nonce();
  for (const char* leaf : {"good", "revoked"}) {
    const auto path = verified(leaf);
    ASSERT_TRUE(path);
    check_revocation(*path, policy, cache, {}, fetcher.function());
  }
  // Two OCSP attempts (refused, not cached) and one CRL fetch serving both leaves.
  EXPECT_EQ(std::count(fetcher.asked.begin(), fetcher.asked.end(), kCrlUrl), 1);
  EXPECT_EQ(cache.crl_entries(), 1u);
}

TEST(Revocation, CacheStaysWithinItsBounds) {
  RevocationCache cache(RevocationCacheLimits{2, 1, 1024});
  OcspResult good;
  good.status = OcspStatus::good;
  good.this_update = 100;
  for (int i = 0; i < 5; ++i) {
    good.next_update = 1000 + i;
    cache.store_ocsp("key" + std::to_string(i), good);
  }
  EXPECT_EQ(cache.ocsp_entries(), 2u);
  EXPECT_TRUE(cache.find_ocsp("key4", 200));  // the latest-expiring survive
  EXPECT_FALSE(cache.find_ocsp("key0", 200));
  good.next_update.reset();
  cache.store_ocsp("no-next-update", good);  // nothing promised, nothing kept
  EXPECT_FALSE(cache.find_ocsp("no-next-update", 200));

  cache.store_crls("http://a/ca.crl", {}, 2000, 5000);  // larger than the byte bound
  EXPECT_EQ(cache.crl_entries(), 0u);
  cache.store_crls("http://a/ca.crl", {}, 100, 5000);
  cache.store_crls("http://b/ca.crl", {}, 100, 6000);
  EXPECT_EQ(cache.crl_entries(), 1u);
  EXPECT_TRUE(cache.find_crls("http://b/ca.crl", 200));
  EXPECT_FALSE(cache.find_crls("http://b/ca.crl", 6001));  // expired
}

TEST(Revocation, OverallDeadlineStopsFurtherFetches) {
  const auto path = verified("unreachable");
  ASSERT_TRUE(path);
  CannedFetcher fetcher;
  fetcher.delay = 200ms;  // every fetch uses all the time it is given
  RevocationCache cache;
  RevocationPolicy policy = policy_without_nonce();
  policy.overall_deadline = 100ms;
  const auto start = std::chrono::steady_clock::now();
  const RevocationResult result = check_revocation(*path, policy, cache, {}, fetcher.function());
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(fetcher.asked.size(), 1u);
  EXPECT_EQ(result.verdict, RevocationVerdict::unavailable);
  EXPECT_NE(result.message.find("overall time limit"), std::string::npos) << result.message;
}

TEST(Revocation, ParsesModes) {
  EXPECT_EQ(parse_revocation_mode("hard").value(), RevocationMode::hard);
  EXPECT_EQ(parse_revocation_mode("soft").value(), RevocationMode::soft);
  EXPECT_EQ(parse_revocation_mode("off").value(), RevocationMode::off);
  EXPECT_FALSE(parse_revocation_mode("Hard"));
  EXPECT_FALSE(parse_revocation_mode(""));
  EXPECT_EQ(RevocationPolicy{}.mode, RevocationMode::hard);  // safe by default
}

}  // namespace
}  // namespace parley::pki
