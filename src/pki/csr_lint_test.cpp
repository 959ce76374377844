// Tables for csr_lint.hpp: each row lints one CSR fixture (or a set given together) under a CA
// profile and lists every finding it must produce, no more and no fewer. The CSRs come from
// scripts/fixtures/lint.sh (the openssl CLI); rows for input that no tool writes on purpose
// (empty, binary, bare Base64, a private key) build the bytes here.

#include "pki/csr_lint.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace parley::pki {
namespace {

std::string fixture_bytes(const std::string& name) {
  const std::string path = std::string(PARLEY_FIXTURES_DIR) + "/lint/" + name;
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    ADD_FAILURE() << path << ": missing fixture (run scripts/make-fixtures lint)";
    std::abort();  // a missing fixture is a broken checkout, not a test verdict
  }
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

struct Expected {
  std::string file;
  std::string rule;
  LintSeverity severity;
  bool operator<(const Expected& other) const {
    return std::tie(file, rule, severity) < std::tie(other.file, other.rule, other.severity);
  }
  bool operator==(const Expected&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Expected& e) {
  return out << e.file << ":" << e.rule << ":" << to_string(e.severity);
}

std::vector<Expected> summary(const std::vector<LintFinding>& findings) {
  std::vector<Expected> out;
  for (const auto& f : findings) out.push_back({f.file, f.rule, f.severity});
  std::sort(out.begin(), out.end());
  return out;
}

constexpr auto kError = LintSeverity::error;
constexpr auto kWarning = LintSeverity::warning;
constexpr auto kInfo = LintSeverity::info;
constexpr auto kPublic = CaProfile::public_ca;
constexpr auto kPrivate = CaProfile::private_ca;

struct FixtureCase {
  std::vector<std::string> files;
  CaProfile profile;
  std::vector<Expected> expected;
};

class LintFixtures : public ::testing::TestWithParam<FixtureCase> {};

TEST_P(LintFixtures, ProducesExactlyTheExpectedFindings) {
  const FixtureCase& row = GetParam();
  std::vector<LintInput> inputs;
  for (const auto& file : row.files) inputs.push_back({file, fixture_bytes(file)});
  const std::vector<LintFinding> findings = lint_csrs(inputs, LintOptions{row.profile});
  std::vector<Expected> expected = row.expected;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(summary(findings), expected);
  // Every finding is complete enough to act on.
  for (const auto& f : findings) {
    EXPECT_FALSE(f.field.empty()) << f.rule;
    EXPECT_FALSE(f.message.empty()) << f.rule;
    EXPECT_FALSE(f.fix.empty()) << f.rule;
    EXPECT_TRUE(std::all_of(f.rule.begin(), f.rule.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    })) << f.rule;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Csr, LintFixtures,
    ::testing::Values(
        // Clean requests.
        FixtureCase{{"good.csr"}, kPublic, {}}, FixtureCase{{"good.csr"}, kPrivate, {}},
        FixtureCase{{"good-rsa.csr"}, kPublic, {}},
        FixtureCase{{"good.csr", "good-rsa.csr"}, kPublic, {}},
        // Subject format: errors for a public CA, warnings for a private one.
        FixtureCase{{"forbidden-chars.csr"},
                    kPublic,
                    {{"forbidden-chars.csr", "subject-forbidden-characters", kError},
                     {"forbidden-chars.csr", "subject-forbidden-characters", kError}}},
        FixtureCase{{"forbidden-chars.csr"},
                    kPrivate,
                    {{"forbidden-chars.csr", "subject-forbidden-characters", kWarning},
                     {"forbidden-chars.csr", "subject-forbidden-characters", kWarning}}},
        FixtureCase{{"non-ascii.csr"}, kPublic, {{"non-ascii.csr", "subject-non-ascii", kWarning}}},
        FixtureCase{{"non-ascii.csr"}, kPrivate, {{"non-ascii.csr", "subject-non-ascii", kInfo}}},
        FixtureCase{
            {"bad-country.csr"}, kPublic, {{"bad-country.csr", "subject-country-code", kError}}},
        FixtureCase{
            {"bad-country.csr"}, kPrivate, {{"bad-country.csr", "subject-country-code", kWarning}}},
        FixtureCase{{"email-in-subject.csr"},
                    kPublic,
                    {{"email-in-subject.csr", "subject-email-address", kWarning}}},
        // Key and signature.
        FixtureCase{{"rsa1024.csr"}, kPublic, {{"rsa1024.csr", "key-too-small", kError}}},
        FixtureCase{{"rsa1024.csr"}, kPrivate, {{"rsa1024.csr", "key-too-small", kError}}},
        FixtureCase{{"ed25519.csr"}, kPublic, {{"ed25519.csr", "key-type-unsupported", kError}}},
        FixtureCase{{"ed25519.csr"}, kPrivate, {{"ed25519.csr", "key-type-unsupported", kWarning}}},
        FixtureCase{{"sha1.csr"}, kPublic, {{"sha1.csr", "signature-algorithm-weak", kError}}},
        FixtureCase{{"sha1.csr"}, kPrivate, {{"sha1.csr", "signature-algorithm-weak", kError}}},
        FixtureCase{{"corrupted.csr"}, kPublic, {{"corrupted.csr", "signature-invalid", kError}}},
        // Identities.
        FixtureCase{{"ip-san.csr"}, kPublic, {{"ip-san.csr", "identity-ip-address", kError}}},
        FixtureCase{{"ip-san.csr"}, kPrivate, {{"ip-san.csr", "identity-ip-address", kWarning}}},
        FixtureCase{{"short-hostname.csr"},
                    kPublic,
                    {{"short-hostname.csr", "identity-short-hostname", kError}}},
        FixtureCase{{"short-hostname.csr"},
                    kPrivate,
                    {{"short-hostname.csr", "identity-short-hostname", kError}}},
        FixtureCase{{"invalid-dns.csr"},
                    kPublic,
                    {{"invalid-dns.csr", "identity-invalid-dns-name", kError}}},
        FixtureCase{{"wildcard.csr"}, kPublic, {{"wildcard.csr", "identity-wildcard", kWarning}}},
        FixtureCase{{"no-san.csr"}, kPublic, {{"no-san.csr", "san-missing", kError}}},
        FixtureCase{{"no-san.csr"}, kPrivate, {{"no-san.csr", "san-missing", kError}}},
        FixtureCase{{"no-cn.csr"}, kPublic, {{"no-cn.csr", "cn-missing", kWarning}}},
        FixtureCase{{"no-cn.csr"}, kPrivate, {{"no-cn.csr", "cn-missing", kInfo}}},
        FixtureCase{
            {"cn-not-in-san.csr"}, kPublic, {{"cn-not-in-san.csr", "cn-not-in-san", kError}}},
        FixtureCase{
            {"cn-not-in-san.csr"}, kPrivate, {{"cn-not-in-san.csr", "cn-not-in-san", kWarning}}},
        FixtureCase{{"xmpp-othername.csr"},
                    kPublic,
                    {{"xmpp-othername.csr", "san-xmpp-othername", kError}}},
        FixtureCase{{"xmpp-othername.csr"}, kPrivate, {}},
        // Input.
        FixtureCase{{"der.csr"}, kPublic, {{"der.csr", "csr-not-pem", kError}}},
        FixtureCase{{"der.csr"}, kPrivate, {{"der.csr", "csr-not-pem", kError}}},
        FixtureCase{{"truncated.csr"}, kPublic, {{"truncated.csr", "csr-pem-truncated", kError}}},
        FixtureCase{{"not-a-csr.csr"}, kPublic, {{"not-a-csr.csr", "csr-not-a-request", kError}}},
        // Sets.
        FixtureCase{{"inconsistent-o-a.csr", "inconsistent-o-b.csr"},
                    kPublic,
                    {{"inconsistent-o-b.csr", "subject-inconsistent", kWarning}}},
        FixtureCase{{"inconsistent-o-a.csr", "inconsistent-o-b.csr"},
                    kPrivate,
                    {{"inconsistent-o-b.csr", "subject-inconsistent", kInfo}}},
        FixtureCase{{"same-fqdn-tomcat.csr", "same-fqdn-xmpp.csr"},
                    kPublic,
                    {{"same-fqdn-xmpp.csr", "fqdn-duplicate", kWarning}}},
        FixtureCase{{"same-fqdn-tomcat.csr", "same-fqdn-xmpp.csr"},
                    kPrivate,
                    {{"same-fqdn-xmpp.csr", "fqdn-duplicate", kInfo}}},
        // der.csr is good.csr re-encoded: same names and the same key.
        FixtureCase{{"good.csr", "der.csr"},
                    kPublic,
                    {{"der.csr", "csr-not-pem", kError},
                     {"der.csr", "fqdn-duplicate", kWarning},
                     {"der.csr", "key-reused", kWarning}}},
        // A file that is not a request takes no part in the set rules.
        FixtureCase{{"good.csr", "truncated.csr", "inconsistent-o-b.csr"},
                    kPublic,
                    {{"truncated.csr", "csr-pem-truncated", kError},
                     {"inconsistent-o-b.csr", "subject-inconsistent", kWarning}}}));

TEST(LintFindings, DuplicateFqdnNamesBothFilesAndTheSpecSentence) {
  const std::vector<LintInput> inputs = {{"tomcat.csr", fixture_bytes("same-fqdn-tomcat.csr")},
                                         {"xmpp.csr", fixture_bytes("same-fqdn-xmpp.csr")}};
  const auto findings = lint_csrs(inputs, LintOptions{kPublic});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].file, "xmpp.csr");
  EXPECT_NE(findings[0].message.find("tomcat.csr"), std::string::npos) << findings[0].message;
  EXPECT_NE(findings[0].message.find("cups1.example.test"), std::string::npos)
      << findings[0].message;
  EXPECT_NE(findings[0].message.find("Some public CAs sign only one certificate per FQDN"),
            std::string::npos);
}

TEST(LintFindings, InconsistentSubjectNamesFieldValuesAndFiles) {
  const std::vector<LintInput> inputs = {{"a.csr", fixture_bytes("inconsistent-o-a.csr")},
                                         {"b.csr", fixture_bytes("inconsistent-o-b.csr")}};
  const auto findings = lint_csrs(inputs, LintOptions{kPublic});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].field, "subject.O");
  EXPECT_NE(findings[0].message.find("\"Example Corporation\""), std::string::npos)
      << findings[0].message;
  EXPECT_NE(findings[0].message.find("\"Example Corp\" in a.csr"), std::string::npos)
      << findings[0].message;
}

TEST(LintFindings, ForbiddenCharactersAreNamedPerField) {
  const std::vector<LintInput> inputs = {{"f.csr", fixture_bytes("forbidden-chars.csr")}};
  const auto findings = lint_csrs(inputs, LintOptions{kPublic});
  ASSERT_EQ(findings.size(), 2u);
  EXPECT_EQ(findings[0].field, "subject.O");
  EXPECT_NE(findings[0].message.find("\"&\" \"!\""), std::string::npos) << findings[0].message;
  EXPECT_EQ(findings[1].field, "subject.OU");
  EXPECT_NE(findings[1].message.find("\"@\""), std::string::npos) << findings[1].message;
}

// Input the CLI sees when users hand it the wrong file: always a finding, never a crash.
struct InputCase {
  const char* name;
  std::string contents;
  const char* rule;
  const char* message_part;
};

std::string pem_wrap(const std::string& label, const std::string& body) {
  return "-----BEGIN " + label + "-----\n" + body + "\n-----END " + label + "-----\n";
}

class LintInputs : public ::testing::TestWithParam<InputCase> {};

TEST_P(LintInputs, ReportsTheProblemWithTheFile) {
  const InputCase& row = GetParam();
  const DecodedCsrFile decoded = decode_csr_file("x.csr", row.contents);
  EXPECT_FALSE(decoded.csr.has_value());
  ASSERT_EQ(decoded.findings.size(), 1u);
  EXPECT_EQ(decoded.findings[0].rule, row.rule);
  EXPECT_EQ(decoded.findings[0].stage, LintStage::input);
  EXPECT_EQ(decoded.findings[0].file, "x.csr");
  EXPECT_NE(decoded.findings[0].message.find(row.message_part), std::string::npos)
      << decoded.findings[0].message;
  EXPECT_TRUE(has_input_problems(decoded.findings));
}

INSTANTIATE_TEST_SUITE_P(
    Csr, LintInputs,
    ::testing::Values(InputCase{"empty", "", "csr-not-a-request", "empty"},
                      InputCase{"text", "hello, this is not a request\n", "csr-not-a-request",
                                "text without a PEM block"},
                      InputCase{"binary",
                                std::string("\x7f"
                                            "ELF\x02\x01\x01\x00",
                                            8),
                                "csr-not-a-request", "binary data"},
                      InputCase{"der_garbage", std::string("\x30\x03\x02\x01\x00", 5),
                                "csr-not-a-request", "binary DER"},
                      InputCase{"bare_base64", "MIIBejCCASACAQAwgYAxCzAJBgNVBAYTAlVT\n",
                                "csr-not-a-request", "without the"},
                      InputCase{"private_key", pem_wrap("PRIVATE KEY", "AAAA"), "csr-not-a-request",
                                "private key"},
                      InputCase{"bad_base64", pem_wrap("CERTIFICATE REQUEST", "MII*not base64*"),
                                "csr-pem-invalid-base64", "not valid Base64"},
                      InputCase{"not_der_inside", pem_wrap("CERTIFICATE REQUEST", "AAAA"),
                                "csr-der-invalid", "PKCS #10"},
                      InputCase{"no_end", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n",
                                "csr-pem-truncated", "cut off"}),
    [](const ::testing::TestParamInfo<InputCase>& row) { return std::string(row.param.name); });

TEST(LintInputs, MicrosoftLabelIsAccepted) {
  std::string pem = fixture_bytes("good.csr");
  for (const std::string_view marker : {"BEGIN CERTIFICATE REQUEST", "END CERTIFICATE REQUEST"}) {
    const std::size_t at = pem.find(marker);
    ASSERT_NE(at, std::string::npos);
    pem.insert(at + marker.find("CERTIFICATE"), "NEW ");
  }
  const DecodedCsrFile decoded = decode_csr_file("ms.csr", pem);
  EXPECT_TRUE(decoded.csr.has_value());
  EXPECT_TRUE(decoded.findings.empty());
}

TEST(LintInputs, SecondRequestInOneFileIsAWarningAndTheFirstIsLinted) {
  const std::string both = fixture_bytes("good.csr") + fixture_bytes("rsa1024.csr");
  const std::vector<LintInput> inputs = {{"two.csr", both}};
  const auto findings = summary(lint_csrs(inputs, LintOptions{kPublic}));
  EXPECT_EQ(findings, (std::vector<Expected>{{"two.csr", "csr-multiple-requests", kWarning}}));
}

TEST(LintInputs, TooManyFilesIsOneErrorNotAPartialLint) {
  std::vector<LintInput> inputs(kMaxCsrsPerLint + 1, LintInput{"x.csr", ""});
  const auto findings = lint_csrs(inputs, LintOptions{kPublic});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].rule, "too-many-csrs");
  EXPECT_TRUE(has_errors(findings));
}

TEST(LintRequest, ParsedFieldsOfAGoodRequest) {
  const DecodedCsrFile decoded = decode_csr_file("good.csr", fixture_bytes("good.csr"));
  ASSERT_TRUE(decoded.csr.has_value());
  const ParsedCsr& csr = *decoded.csr;
  EXPECT_EQ(decoded.encoding, CsrEncoding::pem);
  EXPECT_EQ(csr.version, 0);
  EXPECT_TRUE(csr.signature_valid);
  EXPECT_EQ(csr.signature_algorithm, "1.2.840.10045.4.3.2");
  EXPECT_EQ(csr.public_key.algorithm, KeyAlgorithm::ec);
  EXPECT_EQ(csr.public_key.curve, "P-256");
  EXPECT_TRUE(csr.has_subject_alt_name_extension);
  ASSERT_EQ(csr.subject_alt_names.size(), 2u);
  EXPECT_EQ(csr.subject_alt_names[0].value, "xmpp.example.test");
  EXPECT_EQ(csr.subject.values_of(kOidCommonName), std::vector<std::string>{"xmpp.example.test"});
}

struct CharactersCase {
  const char* value;
  const char* forbidden;
};

class ForbiddenCharacters : public ::testing::TestWithParam<CharactersCase> {};

TEST_P(ForbiddenCharacters, OutsidePrintableString) {
  EXPECT_EQ(forbidden_subject_characters(GetParam().value), GetParam().forbidden)
      << GetParam().value;
}

INSTANTIATE_TEST_SUITE_P(
    Csr, ForbiddenCharacters,
    ::testing::Values(CharactersCase{"Example Corp", ""}, CharactersCase{"Example, Inc.", ""},
                      CharactersCase{"O'Brien (Holdings) Ltd + Co/IT: A=B?", ""},
                      CharactersCase{"AT&T", "&"}, CharactersCase{"Example & Sons!", "&!"},
                      CharactersCase{"IM@Presence", "@"},
                      CharactersCase{"a#b$c%d*e;f<g>h\"", "#$%*;<>\""},
                      CharactersCase{"tab\there", "\t"}, CharactersCase{"Z\xC3\xBCrich", ""},
                      CharactersCase{"x&&y", "&"}));

}  // namespace
}  // namespace parley::pki
