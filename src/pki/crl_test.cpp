// Tables for pki/crl: parsing (fixtures from scripts/fixtures/crl.sh, plus malformed input) and
// check_crl verdicts. Every "now" is explicit so the fixtures (valid 2024..2049) never age.

#include "pki/crl.hpp"

#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/file.hpp"

namespace parley::pki {
namespace {

constexpr UnixTime k2024_01_01 = 1704067200;
constexpr UnixTime k2024_01_15 = 1705276800;
constexpr UnixTime k2024_02_01 = 1706745600;
constexpr UnixTime k2030_01_01 = 1893456000;
constexpr UnixTime k2048_06_01 = 2474582400;
constexpr UnixTime k2049_01_01 = 2493072000;

std::string fixture_text(const std::string& name) {
  auto text = read_file(std::string(PARLEY_FIXTURES_DIR) + "/crl/" + name);
  EXPECT_TRUE(text.has_value()) << name << ": " << (text ? "" : text.error().message);
  return text ? *text : std::string();
}

CertificatePtr certificate(const std::string& name) {
  auto parsed = Certificate::from_pem(fixture_text(name));
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << name << ": "
                  << (parsed ? "not exactly one certificate" : parsed.error().message);
    return nullptr;
  }
  return parsed->front();
}

CrlPtr crl(const std::string& name) {
  auto parsed = Crl::from_pem(fixture_text(name + ".crl.pem"));
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << name << ": " << (parsed ? "not exactly one CRL" : parsed.error().message);
    return nullptr;
  }
  return parsed->front();
}

std::string der_of(const CrlPtr& parsed) {
  unsigned char* der = nullptr;
  const int length = i2d_X509_CRL(parsed->openssl(), &der);
  EXPECT_GT(length, 0);
  std::string bytes(reinterpret_cast<const char*>(der),
                    static_cast<std::size_t>(std::max(length, 0)));
  OPENSSL_free(der);
  return bytes;
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// --- parsing ------------------------------------------------------------------------------------

struct ParseCase {
  const char* crl;
  int version;
  bool has_crl_number;
  bool crl_number_critical;
  const char* unknown_critical;  // expected unknown_critical_extension()
  bool has_idp;
  std::optional<UnixTime> next_update;
};

class CrlParse : public testing::TestWithParam<ParseCase> {};

TEST_P(CrlParse, ReadsFields) {
  const ParseCase& c = GetParam();
  const CrlPtr parsed = crl(c.crl);
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(parsed->version(), c.version);
  EXPECT_EQ(parsed->crl_number().has_value(), c.has_crl_number);
  EXPECT_EQ(parsed->crl_number_critical(), c.crl_number_critical);
  EXPECT_EQ(parsed->unknown_critical_extension(), c.unknown_critical);
  EXPECT_EQ(parsed->has_unknown_critical_extension(), std::string(c.unknown_critical) != "");
  EXPECT_EQ(parsed->has_issuing_distribution_point(), c.has_idp);
  EXPECT_EQ(parsed->defect(), "");
  EXPECT_EQ(parsed->next_update(), c.next_update);
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_NE(ca, nullptr);
  EXPECT_EQ(parsed->issuer(), ca->subject());
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CrlParse,
    testing::Values(ParseCase{"good", 2, true, false, "", false, k2049_01_01},
                    ParseCase{"revoked", 2, true, false, "", false, k2049_01_01},
                    ParseCase{"expired", 2, true, false, "", false, k2024_02_01},
                    ParseCase{"idp", 2, true, false, "", true, k2049_01_01},
                    ParseCase{"no-crlnumber", 2, false, false, "", false, k2049_01_01},
                    ParseCase{"v1", 1, false, false, "", false, k2049_01_01},
                    ParseCase{"crlnumber-critical", 2, true, true, "", false, k2049_01_01},
                    ParseCase{"unknown-critical", 2, true, false, "1.3.6.1.4.1.55555.1", false,
                              k2049_01_01},
                    ParseCase{"delta", 2, true, false, "2.5.29.27", false, k2049_01_01},
                    ParseCase{"impostor", 2, true, false, "", false, k2049_01_01}),
    [](const testing::TestParamInfo<ParseCase>& param_info) {
      std::string name = param_info.param.crl;
      std::replace(name.begin(), name.end(), '-', '_');
      return name;
    });

TEST(CrlParse, ThisUpdateAndNumbers) {
  const CrlPtr good = crl("good");
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(good->this_update(), k2024_01_01);
  // The script seeds the crlnumber file with hex 1000: the first CRL is number 0x1000.
  EXPECT_EQ(good->crl_number(), std::optional<std::string>(std::string("\x10\x00", 2)));
  const CrlPtr critical = crl("crlnumber-critical");
  ASSERT_NE(critical, nullptr);
  EXPECT_EQ(critical->crl_number(), std::optional<std::string>("\x07"));
}

TEST(CrlParse, ListsSerialAsMinimalMagnitude) {
  const CrlPtr revoked = crl("revoked");
  const CrlPtr good = crl("good");
  const CertificatePtr leaf = certificate("leaf.pem");
  const CertificatePtr other_leaf = certificate("other-leaf.pem");
  ASSERT_TRUE(revoked && good && leaf && other_leaf);
  EXPECT_TRUE(revoked->lists_serial(leaf->serial()));
  // Leading zero octets do not make a different number.
  EXPECT_TRUE(revoked->lists_serial(std::string(2, '\0') + leaf->serial()));
  EXPECT_FALSE(revoked->lists_serial(other_leaf->serial()));
  EXPECT_FALSE(good->lists_serial(leaf->serial()));
  EXPECT_FALSE(revoked->lists_serial(""));
}

TEST(CrlParse, DerAndPemAgree) {
  const CrlPtr from_pem = crl("revoked");
  ASSERT_NE(from_pem, nullptr);
  const std::string der = der_of(from_pem);
  auto from_der = Crl::from_der(bytes_of(der));
  ASSERT_TRUE(from_der.has_value()) << from_der.error().message;
  EXPECT_EQ((*from_der)->issuer(), from_pem->issuer());
  EXPECT_EQ((*from_der)->crl_number(), from_pem->crl_number());
  auto sniffed = Crl::from_pem_or_der(der);
  ASSERT_TRUE(sniffed.has_value()) << sniffed.error().message;
  EXPECT_EQ(sniffed->size(), 1u);
  auto sniffed_pem = Crl::from_pem_or_der(fixture_text("revoked.crl.pem"));
  ASSERT_TRUE(sniffed_pem.has_value()) << sniffed_pem.error().message;
  EXPECT_EQ(sniffed_pem->size(), 1u);
}

TEST(CrlParse, SeveralBlocksAndCertificatesBetweenThem) {
  const std::string text = fixture_text("ca.pem") + "some comment\n" +
                           fixture_text("good.crl.pem") + fixture_text("leaf.pem") +
                           fixture_text("revoked.crl.pem");
  auto parsed = Crl::from_pem(text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->size(), 2u);
}

// --- malformed input ----------------------------------------------------------------------------

// The same PEM text under another label (a certificate dressed up as a CRL).
std::string relabelled(std::string pem, const std::string& from, const std::string& to) {
  for (int i = 0; i < 2; ++i) {  // BEGIN and END lines
    const auto at = pem.find(from);
    if (at == std::string::npos) break;
    pem.replace(at, from.size(), to);
  }
  return pem;
}

struct MalformedCase {
  const char* name;
  std::string input;
  bool as_pem;
  ErrorKind kind;
};

std::vector<MalformedCase> malformed_cases() {
  const std::string good_pem = fixture_text("good.crl.pem");
  const CrlPtr good = crl("good");
  const std::string der = good ? der_of(good) : std::string("\x30", 1);
  std::string bad_base64 = good_pem;
  bad_base64[bad_base64.find('\n') + 5] = '*';
  std::string unterminated = good_pem.substr(0, good_pem.find("-----END"));
  return {
      {"empty_der", "", false, ErrorKind::parse},
      {"empty_pem", "", true, ErrorKind::parse},
      {"garbage_der", "this is not a CRL at all", false, ErrorKind::parse},
      {"garbage_pem", "this is not a CRL at all\n", true, ErrorKind::parse},
      {"lone_sequence_tag", std::string("\x30", 1), false, ErrorKind::parse},
      {"huge_length", std::string("\x30\x84\x7f\xff\xff\xff\x30\x00", 8), false, ErrorKind::parse},
      {"truncated_der", der.substr(0, der.size() / 2), false, ErrorKind::parse},
      {"truncated_by_one", der.substr(0, der.size() - 1), false, ErrorKind::parse},
      {"trailing_byte", der + std::string(1, '\0'), false, ErrorKind::parse},
      {"certificate_not_crl_der", "", false, ErrorKind::parse},  // filled below
      {"only_certificate_pem", fixture_text("ca.pem"), true, ErrorKind::parse},
      {"bad_base64", bad_base64, true, ErrorKind::parse},
      {"no_end_line", unterminated, true, ErrorKind::parse},
      {"empty_block", "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n", true, ErrorKind::parse},
      {"certificate_in_crl_block", relabelled(fixture_text("ca.pem"), "CERTIFICATE", "X509 CRL"),
       true, ErrorKind::parse},
  };
}

TEST(CrlMalformed, ReturnsErrors) {
  auto cases = malformed_cases();
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_NE(ca, nullptr);
  for (auto& c : cases) {
    if (std::string(c.name) == "certificate_not_crl_der") c.input = ca->der();
    SCOPED_TRACE(c.name);
    if (c.as_pem) {
      auto parsed = Crl::from_pem(c.input);
      ASSERT_FALSE(parsed.has_value());
      EXPECT_EQ(parsed.error().kind, c.kind) << parsed.error().message;
      EXPECT_FALSE(parsed.error().message.empty());
    } else {
      auto parsed = Crl::from_der(bytes_of(c.input));
      ASSERT_FALSE(parsed.has_value());
      EXPECT_EQ(parsed.error().kind, c.kind) << parsed.error().message;
      EXPECT_FALSE(parsed.error().message.empty());
      auto sniffed = Crl::from_pem_or_der(c.input);
      EXPECT_FALSE(sniffed.has_value());
    }
  }
}

// Every single-octet change to a signed CRL either fails to parse or yields a CRL that check_crl
// refuses to call good: the signature covers the TBS bytes exactly as received, and the outer
// fields are checked (algorithm identifiers must match). Nothing may crash.
TEST(CrlMalformed, EveryByteFlipIsRejected) {
  const CrlPtr good = crl("good");
  const CertificatePtr leaf = certificate("leaf.pem");
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_TRUE(good && leaf && ca);
  const std::string der = der_of(good);
  for (std::size_t i = 0; i < der.size(); ++i) {
    std::string mutated = der;
    mutated[i] = static_cast<char>(mutated[i] ^ 0x01);
    auto parsed = Crl::from_der(bytes_of(mutated));
    if (!parsed) continue;
    const CrlPtr crls[] = {*parsed};
    Budget budget;
    const CrlCheckResult result = check_crl(*leaf, *ca, crls, k2030_01_01, budget);
    EXPECT_NE(result.verdict, CrlVerdict::good) << "byte " << i << ": " << result.detail;
  }
}

// --- check_crl ----------------------------------------------------------------------------------

struct CheckCase {
  const char* name;
  const char* certificate;  // fixture file
  const char* issuer;       // fixture file
  std::vector<const char*> crls;
  UnixTime now;
  CrlVerdict verdict;
  const char* detail_contains;
};

class CheckCrl : public testing::TestWithParam<CheckCase> {};

TEST_P(CheckCrl, Verdict) {
  const CheckCase& c = GetParam();
  const CertificatePtr subject = certificate(c.certificate);
  const CertificatePtr issuer = certificate(c.issuer);
  ASSERT_TRUE(subject && issuer);
  std::vector<CrlPtr> crls;
  for (const char* name : c.crls) crls.push_back(crl(name));
  Budget budget;
  const CrlCheckResult result = check_crl(*subject, *issuer, crls, c.now, budget);
  EXPECT_EQ(result.verdict, c.verdict) << to_string(result.verdict) << ": " << result.detail;
  EXPECT_NE(result.detail.find(c.detail_contains), std::string::npos) << result.detail;
  EXPECT_FALSE(budget.exhausted());
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, CheckCrl,
    testing::Values(
        // The plain cases.
        CheckCase{"not_listed",
                  "leaf.pem",
                  "ca.pem",
                  {"good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  "not listed"},
        CheckCase{"listed",
                  "leaf.pem",
                  "ca.pem",
                  {"revoked"},
                  k2030_01_01,
                  CrlVerdict::revoked,
                  "listed"},
        CheckCase{"other_serial_listed",
                  "other-leaf.pem",
                  "ca.pem",
                  {"revoked"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        CheckCase{"revocation_wins_over_older_good",
                  "leaf.pem",
                  "ca.pem",
                  {"good", "revoked"},
                  k2030_01_01,
                  CrlVerdict::revoked,
                  ""},
        CheckCase{"no_crls", "leaf.pem", "ca.pem", {}, k2030_01_01, CrlVerdict::unknown, "no CRL"},
        // RFC 5280 5.2.3: cRLNumber is mandatory and never critical (limbo crl::crlnumber-*).
        CheckCase{"no_crl_number",
                  "other-leaf.pem",
                  "ca.pem",
                  {"no-crlnumber"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "cRLNumber"},
        CheckCase{"no_crl_number_listed",
                  "leaf.pem",
                  "ca.pem",
                  {"no-crlnumber"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "cRLNumber"},
        CheckCase{"version_1",
                  "leaf.pem",
                  "ca.pem",
                  {"v1"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "version 1"},
        CheckCase{"crl_number_critical",
                  "other-leaf.pem",
                  "ca.pem",
                  {"crlnumber-critical"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "critical"},
        // RFC 5280 5.2: unknown critical extensions, including delta CRLs we do not process.
        CheckCase{"unknown_critical",
                  "other-leaf.pem",
                  "ca.pem",
                  {"unknown-critical"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "1.3.6.1.4.1.55555.1"},
        CheckCase{"delta_crl",
                  "other-leaf.pem",
                  "ca.pem",
                  {"delta"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "2.5.29.27"},
        // Time: thisUpdate <= now <= nextUpdate.
        CheckCase{"expired",
                  "other-leaf.pem",
                  "ca.pem",
                  {"expired"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "nextUpdate"},
        CheckCase{"expired_but_current_then",
                  "leaf.pem",
                  "ca.pem",
                  {"expired"},
                  k2024_01_15,
                  CrlVerdict::revoked,
                  ""},
        CheckCase{"at_next_update",
                  "leaf.pem",
                  "ca.pem",
                  {"expired"},
                  k2024_02_01,
                  CrlVerdict::revoked,
                  ""},
        CheckCase{"after_next_update",
                  "leaf.pem",
                  "ca.pem",
                  {"expired"},
                  k2024_02_01 + 1,
                  CrlVerdict::invalid,
                  "nextUpdate"},
        CheckCase{"expired_beside_current",
                  "other-leaf.pem",
                  "ca.pem",
                  {"expired", "good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        CheckCase{"not_yet_valid",
                  "other-leaf.pem",
                  "ca.pem",
                  {"not-yet-valid"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "thisUpdate"},
        CheckCase{"not_yet_valid_later",
                  "leaf.pem",
                  "ca.pem",
                  {"not-yet-valid"},
                  k2048_06_01,
                  CrlVerdict::revoked,
                  ""},
        CheckCase{"before_this_update",
                  "leaf.pem",
                  "ca.pem",
                  {"good"},
                  k2024_01_01 - 1,
                  CrlVerdict::invalid,
                  "thisUpdate"},
        // RFC 5280 6.3.3 (f): cRLSign when keyUsage is present (limbo crl::issuer-*).
        CheckCase{"issuer_without_crl_sign",
                  "other-leaf.pem",
                  "ca-no-crlsign.pem",
                  {"good"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "cRLSign"},
        CheckCase{"issuer_without_key_usage",
                  "other-leaf.pem",
                  "ca-no-keyusage.pem",
                  {"good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        CheckCase{"issuer_without_key_usage_listed",
                  "leaf.pem",
                  "ca-no-keyusage.pem",
                  {"revoked"},
                  k2030_01_01,
                  CrlVerdict::revoked,
                  ""},
        // Same name, another key: the signature decides, and a forged list revokes nothing.
        CheckCase{"impostor_alone",
                  "leaf.pem",
                  "ca.pem",
                  {"impostor"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "signature"},
        CheckCase{"impostor_beside_good",
                  "leaf.pem",
                  "ca.pem",
                  {"impostor", "good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        // Another issuer's CRL does not apply (limbo
        // crl::certificate-serial-on-crl-different-issuer).
        CheckCase{"other_issuer_alone",
                  "other-leaf.pem",
                  "ca.pem",
                  {"other-ca"},
                  k2030_01_01,
                  CrlVerdict::unknown,
                  "no CRL"},
        CheckCase{"other_issuer_beside_good",
                  "other-leaf.pem",
                  "ca.pem",
                  {"other-ca", "good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        // issuingDistributionPoint: may prove revocation, never good standing.
        CheckCase{
            "idp_listed", "leaf.pem", "ca.pem", {"idp"}, k2030_01_01, CrlVerdict::revoked, ""},
        CheckCase{"idp_not_listed",
                  "other-leaf.pem",
                  "ca.pem",
                  {"idp"},
                  k2030_01_01,
                  CrlVerdict::unknown,
                  "issuingDistributionPoint"},
        CheckCase{"idp_beside_good",
                  "other-leaf.pem",
                  "ca.pem",
                  {"idp", "good"},
                  k2030_01_01,
                  CrlVerdict::good,
                  ""},
        CheckCase{"idp_beside_broken",
                  "other-leaf.pem",
                  "ca.pem",
                  {"idp", "no-crlnumber"},
                  k2030_01_01,
                  CrlVerdict::invalid,
                  "cRLNumber"}),
    [](const testing::TestParamInfo<CheckCase>& param_info) {
      return std::string(param_info.param.name);
    });

TEST(CheckCrlBudget, OneSignaturePerCandidateCrl) {
  const CertificatePtr leaf = certificate("other-leaf.pem");
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_TRUE(leaf && ca);
  // The other issuer's CRL and the broken one cost nothing: no signature check is spent on them.
  const std::vector<CrlPtr> crls = {crl("other-ca"), crl("no-crlnumber"), crl("good")};
  Budget budget(BudgetLimits{.signature_checks = 5});
  EXPECT_EQ(check_crl(*leaf, *ca, crls, k2030_01_01, budget).verdict, CrlVerdict::good);
  EXPECT_EQ(budget.remaining().signature_checks, 4u);
}

TEST(CheckCrlBudget, ExhaustionIsInvalidNotGood) {
  const CertificatePtr leaf = certificate("leaf.pem");
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_TRUE(leaf && ca);
  const std::vector<CrlPtr> crls = {crl("impostor"), crl("good")};
  Budget budget(BudgetLimits{.signature_checks = 1});
  const CrlCheckResult result = check_crl(*leaf, *ca, crls, k2030_01_01, budget);
  EXPECT_EQ(result.verdict, CrlVerdict::invalid) << result.detail;
  EXPECT_NE(result.detail.find("budget"), std::string::npos) << result.detail;
  EXPECT_TRUE(budget.exhausted());
}

TEST(CheckCrlBudget, EarlierExhaustionDoesNotTaintUnrelatedCheck) {
  const CertificatePtr leaf = certificate("leaf.pem");
  const CertificatePtr ca = certificate("ca.pem");
  ASSERT_TRUE(leaf && ca);
  Budget budget(BudgetLimits{.signature_checks = 0});
  ASSERT_FALSE(budget.spend_signature_check());
  const std::vector<CrlPtr> crls = {crl("other-ca")};
  EXPECT_EQ(check_crl(*leaf, *ca, crls, k2030_01_01, budget).verdict, CrlVerdict::unknown);
}

TEST(CrlVerdictText, Names) {
  const std::map<CrlVerdict, std::string> names = {{CrlVerdict::good, "good"},
                                                   {CrlVerdict::revoked, "revoked"},
                                                   {CrlVerdict::unknown, "unknown"},
                                                   {CrlVerdict::invalid, "invalid"}};
  for (const auto& [verdict, name] : names) EXPECT_EQ(to_string(verdict), name);
}

}  // namespace
}  // namespace parley::pki
