// Tables for pki/ocsp: requests we build, and responses made by `openssl ocsp` in responder mode
// (scripts/fixtures/revocation.sh) judged as stapled responses. The fixture responses have
// thisUpdate = when the script ran and nextUpdate 9000 days later, so "now" is the real clock
// here and the stale cases move it past nextUpdate.

#include "pki/ocsp.hpp"

#include <gtest/gtest.h>
#include <openssl/ocsp.h>

#include <ctime>
#include <optional>
#include <string>

#include "core/file.hpp"

namespace parley::pki {
namespace {

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

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

UnixTime real_now() {
  return static_cast<UnixTime>(std::time(nullptr));
}

constexpr UnixTime kYear2100 = 4102444800;

struct ResponseCase {
  const char* name;
  const char* response;  // file under ocsp/, or "" for the special bytes below
  const char* leaf;
  const char* issuer;
  OcspStatus expected;
  const char* detail_contains;
  std::optional<UnixTime> now;  // default: the real clock
};

class OcspResponseTable : public testing::TestWithParam<ResponseCase> {};

TEST_P(OcspResponseTable, Verdict) {
  const ResponseCase& c = GetParam();
  const auto leaf = certificate(c.leaf);
  const auto issuer = certificate(c.issuer);
  ASSERT_TRUE(leaf && issuer);
  const std::string der = fixture_bytes(std::string("ocsp/") + c.response);
  OcspVerifyOptions options;
  options.now = c.now.value_or(real_now());
  Budget budget;
  const OcspResult result = verify_ocsp_response(bytes_of(der), *leaf, *issuer, options, budget);
  EXPECT_EQ(result.status, c.expected) << result.detail;
  EXPECT_NE(result.detail.find(c.detail_contains), std::string::npos) << result.detail;
}

INSTANTIATE_TEST_SUITE_P(
    Stapled, OcspResponseTable,
    testing::Values(
        ResponseCase{"GoodSignedByIssuer", "good.ca-signed.der", "good", "ca", OcspStatus::good,
                     "signed by issuer", std::nullopt},
        ResponseCase{"GoodSignedByDelegatedResponder", "good.delegated.der", "good", "ca",
                     OcspStatus::good, "OCSP Responder", std::nullopt},
        ResponseCase{"RevokedWithReason", "revoked.ca-signed.der", "revoked", "ca",
                     OcspStatus::revoked, "keyCompromise", std::nullopt},
        ResponseCase{"UnknownToResponder", "unknown.ca-signed.der", "unindexed", "ca",
                     OcspStatus::unknown, "does not know", std::nullopt},
        ResponseCase{"SignerWithoutOcspSigningEku", "good.signed-by-responder-without-eku.der",
                     "good", "ca", OcspStatus::invalid, "lacks extendedKeyUsage id-kp-OCSPSigning",
                     std::nullopt},
        ResponseCase{"SignerFromAnotherCa", "good.signed-by-other-ca-responder.der", "good", "ca",
                     OcspStatus::invalid, "is not issued by the certificate's issuer",
                     std::nullopt},
        // A response about another certificate does not answer for this one.
        ResponseCase{"ResponseForAnotherCertificate", "good.ca-signed.der", "revoked", "ca",
                     OcspStatus::invalid, "no SingleResponse for this certificate", std::nullopt},
        // The right serial under another issuer: the CertID's issuer hashes differ.
        ResponseCase{"ResponseCheckedAgainstWrongIssuer", "good.ca-signed.der", "good", "other-ca",
                     OcspStatus::invalid, "not signed by the issuer", std::nullopt},
        ResponseCase{"StaleAfterNextUpdate", "good.ca-signed.der", "good", "ca",
                     OcspStatus::invalid, "nextUpdate has passed", kYear2100},
        ResponseCase{"ThisUpdateInTheFuture", "good.ca-signed.der", "good", "ca",
                     OcspStatus::invalid, "thisUpdate is in the future", UnixTime{1704067200}},
        // The delegated responder's certificate ends in 2049: in 2100 it no longer vouches.
        ResponseCase{"DelegatedResponderExpired", "good.delegated.der", "good", "ca",
                     OcspStatus::invalid, "has expired", kYear2100}),
    [](const testing::TestParamInfo<ResponseCase>& test_case) {
      return std::string(test_case.param.name);
    });

OcspResult verify_bytes(const std::string& der, const OcspVerifyOptions& options) {
  const auto leaf = certificate("good");
  const auto issuer = certificate("ca");
  Budget budget;
  return verify_ocsp_response(bytes_of(der), *leaf, *issuer, options, budget);
}

OcspVerifyOptions options_now() {
  OcspVerifyOptions options;
  options.now = real_now();
  return options;
}

TEST(OcspResponse, GarbageIsInvalid) {
  for (const std::string& garbage :
       {std::string(), std::string("not DER at all"), std::string("\x30\x03\x0a\x01\x00", 5)}) {
    const OcspResult result = verify_bytes(garbage, options_now());
    EXPECT_EQ(result.status, OcspStatus::invalid) << result.detail;
  }
}

TEST(OcspResponse, TrailingBytesAreInvalid) {
  const OcspResult result =
      verify_bytes(fixture_bytes("ocsp/good.ca-signed.der") + "x", options_now());
  EXPECT_EQ(result.status, OcspStatus::invalid);
  EXPECT_NE(result.detail.find("extra bytes"), std::string::npos) << result.detail;
}

TEST(OcspResponse, UnsuccessfulResponseStatusIsInvalid) {
  // An unsigned "tryLater" (RFC 6960 4.2.1), as an overloaded responder sends it.
  std::unique_ptr<OCSP_RESPONSE, decltype(&OCSP_RESPONSE_free)> response(
      OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, nullptr), &OCSP_RESPONSE_free);
  ASSERT_TRUE(response);
  unsigned char* der = nullptr;
  const int length = i2d_OCSP_RESPONSE(response.get(), &der);
  ASSERT_GT(length, 0);
  const std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  const OcspResult result = verify_bytes(bytes, options_now());
  EXPECT_EQ(result.status, OcspStatus::invalid);
  EXPECT_NE(result.detail.find("trylater"), std::string::npos) << result.detail;
}

TEST(OcspResponse, ExpectedNonceMissingIsInvalid) {
  OcspVerifyOptions options = options_now();
  options.expected_nonce = std::string(
      "\x04\x10"
      "0123456789abcdef",
      18);
  const OcspResult result = verify_bytes(fixture_bytes("ocsp/good.ca-signed.der"), options);
  EXPECT_EQ(result.status, OcspStatus::invalid);
  EXPECT_NE(result.detail.find("nonce"), std::string::npos) << result.detail;
}

TEST(OcspResponse, AlteredSignedDataIsInvalid) {
  std::string der = fixture_bytes("ocsp/good.ca-signed.der");
  // The first GeneralizedTime (tag 0x18, 15 octets "YYYYMMDDHHMMSSZ") is producedAt, inside
  // tbsResponseData: change one of its seconds digits and the signature no longer covers it.
  const auto produced_at =
      der.find(std::string("\x18\x0f"
                           "20",
                           4));
  ASSERT_NE(produced_at, std::string::npos);
  char& second_digit = der[produced_at + 2 + 13];
  second_digit = second_digit == '0' ? '1' : '0';
  const OcspResult result = verify_bytes(der, options_now());
  EXPECT_EQ(result.status, OcspStatus::invalid) << result.detail;
  EXPECT_NE(result.detail.find("signature does not verify"), std::string::npos) << result.detail;
}

TEST(OcspResponse, SignatureChecksDrawOnTheBudget) {
  const auto leaf = certificate("good");
  const auto issuer = certificate("ca");
  Budget budget(BudgetLimits{0, 10, 10});
  const std::string der = fixture_bytes("ocsp/good.ca-signed.der");
  const OcspResult result =
      verify_ocsp_response(bytes_of(der), *leaf, *issuer, options_now(), budget);
  EXPECT_EQ(result.status, OcspStatus::invalid);
  EXPECT_NE(result.detail.find("budget"), std::string::npos) << result.detail;
}

TEST(OcspRequestBuild, CarriesSha1CertIdAndNonce) {
  const auto leaf = certificate("good");
  const auto issuer = certificate("ca");
  auto with_nonce = build_ocsp_request(*leaf, *issuer, OcspNonceMode::send_and_require_echo);
  ASSERT_TRUE(with_nonce) << with_nonce.error().message;
  EXPECT_FALSE(with_nonce->nonce.empty());
  auto without_nonce = build_ocsp_request(*leaf, *issuer, OcspNonceMode::omit);
  ASSERT_TRUE(without_nonce) << without_nonce.error().message;
  EXPECT_TRUE(without_nonce->nonce.empty());

  const unsigned char* cursor = reinterpret_cast<const unsigned char*>(with_nonce->der.data());
  std::unique_ptr<OCSP_REQUEST, decltype(&OCSP_REQUEST_free)> parsed(
      d2i_OCSP_REQUEST(nullptr, &cursor, static_cast<long>(with_nonce->der.size())),
      &OCSP_REQUEST_free);
  ASSERT_TRUE(parsed);
  ASSERT_EQ(OCSP_request_onereq_count(parsed.get()), 1);
  OCSP_CERTID* id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(parsed.get(), 0));
  ASSERT_NE(id, nullptr);
  ASSERT_NE(OCSP_id_get0_info(nullptr, nullptr, nullptr, nullptr, id), 0);
  ASN1_OBJECT* digest = nullptr;
  OCSP_id_get0_info(nullptr, &digest, nullptr, nullptr, id);
  EXPECT_EQ(OBJ_obj2nid(digest), NID_sha1);
  EXPECT_GE(OCSP_REQUEST_get_ext_by_NID(parsed.get(), NID_id_pkix_OCSP_Nonce, -1), 0);

  // Two requests never share a nonce.
  auto again = build_ocsp_request(*leaf, *issuer, OcspNonceMode::send_and_require_echo);
  ASSERT_TRUE(again);
  EXPECT_NE(again->nonce, with_nonce->nonce);
}

}  // namespace
}  // namespace parley::pki
