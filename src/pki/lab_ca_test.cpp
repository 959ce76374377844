// Tables for pki/lab_ca: the root it creates, the certificates it issues (read back through
// Parley's Certificate and verified with Parley's verifier and with OpenSSL), what it refuses to
// certify, and its files. Requests that no Parley code would make (IP SANs, short names, bad
// signatures, weak keys) are built here with OpenSSL's API directly. No row reads the clock.

#include "pki/lab_ca.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "pki/openssl_types.hpp"
#include "pki/trust_store.hpp"
#include "pki/verify.hpp"

namespace parley::pki {
namespace {

using namespace parley::test_support;

using namespace openssl;  // the RAII handles of openssl_types.hpp

constexpr UnixTime kNow = 1767225600;  // 2026-01-01T00:00:00Z
constexpr UnixTime kDay = 24 * 60 * 60;

// ---- building requests by hand ----------------------------------------------------------------

struct SanSpec {
  enum Kind { dns, ip, email, uri, other_utf8, other_ia5 } kind;
  std::string value;
  std::string oid = {};  // for other_*
};

struct RequestSpec {
  std::vector<SanSpec> names = {{SanSpec::dns, "chat.example.com"}};
  bool with_san_extension = true;
  std::string common_name = "chat.example.com";
  std::string key = "ec";  // "ec" (P-256), "rsa2048", "rsa1024"
  bool tamper_after_signing = false;
};

openssl::EvpPkeyPtr make_key(const std::string& kind) {
  if (kind == "rsa1024")
    return openssl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{1024}));
  if (kind == "rsa2048")
    return openssl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048}));
  return openssl::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

GENERAL_NAME* make_general_name(const SanSpec& spec) {
  GENERAL_NAME* name = GENERAL_NAME_new();
  auto ia5 = [&](int type) {
    ASN1_IA5STRING* string = ASN1_IA5STRING_new();
    ASN1_STRING_set(string, spec.value.data(), static_cast<int>(spec.value.size()));
    GENERAL_NAME_set0_value(name, type, string);
  };
  switch (spec.kind) {
    case SanSpec::dns:
      ia5(GEN_DNS);
      break;
    case SanSpec::email:
      ia5(GEN_EMAIL);
      break;
    case SanSpec::uri:
      ia5(GEN_URI);
      break;
    case SanSpec::ip: {
      ASN1_OCTET_STRING* octets = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(octets, reinterpret_cast<const unsigned char*>(spec.value.data()),
                            static_cast<int>(spec.value.size()));
      GENERAL_NAME_set0_value(name, GEN_IPADD, octets);
      break;
    }
    case SanSpec::other_utf8:
    case SanSpec::other_ia5: {
      const int type = spec.kind == SanSpec::other_utf8 ? V_ASN1_UTF8STRING : V_ASN1_IA5STRING;
      ASN1_STRING* string = ASN1_STRING_type_new(type);
      ASN1_STRING_set(string, spec.value.data(), static_cast<int>(spec.value.size()));
      ASN1_TYPE* any = ASN1_TYPE_new();
      ASN1_TYPE_set(any, type, string);
      GENERAL_NAME_set0_othername(name, OBJ_txt2obj(spec.oid.c_str(), 1), any);
      break;
    }
  }
  return name;
}

// DER of a request built to the spec.
std::string make_request(const RequestSpec& spec) {
  const openssl::EvpPkeyPtr key = make_key(spec.key);
  X509ReqPtr request(X509_REQ_new());
  X509NamePtr subject(X509_NAME_new());
  if (!spec.common_name.empty()) {
    X509_NAME_add_entry_by_NID(subject.get(), NID_commonName, MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(spec.common_name.data()),
                               static_cast<int>(spec.common_name.size()), -1, 0);
  }
  X509_REQ_set_subject_name(request.get(), subject.get());
  X509_REQ_set_pubkey(request.get(), key.get());
  if (spec.with_san_extension) {
    GeneralNamesPtr names(GENERAL_NAMES_new());
    for (const auto& name : spec.names) sk_GENERAL_NAME_push(names.get(), make_general_name(name));
    X509ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
    sk_X509_EXTENSION_push(extensions.get(), X509V3_EXT_i2d(NID_subject_alt_name, 0, names.get()));
    X509_REQ_add_extensions(request.get(), extensions.get());
  }
  EXPECT_GT(X509_REQ_sign(request.get(), key.get(), EVP_sha256()), 0);
  unsigned char* der = nullptr;
  const int length = i2d_X509_REQ(request.get(), &der);
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  if (spec.tamper_after_signing) {
    // Change one letter of the signed subject: the signature no longer covers these bytes.
    const std::size_t at = out.find(spec.common_name);
    EXPECT_NE(at, std::string::npos);
    out[at] = out[at] == 'x' ? 'y' : 'x';
  }
  return out;
}

// ---- helpers ----------------------------------------------------------------------------------

CertificatePtr parse_one(const std::string& pem) {
  auto parsed = Certificate::from_pem(pem);
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << "not exactly one certificate: " << (parsed ? "" : parsed.error().message);
    return nullptr;
  }
  return parsed->front();
}

const LabCa& shared_ca() {
  static const LabCa ca = [] {
    LabCaRequest request;
    request.now = kNow;
    auto made = create_lab_ca(request);
    EXPECT_TRUE(made.has_value()) << made.error().message;
    return made ? *made : LabCa{};
  }();
  return ca;
}

bool is_critical(const Certificate& certificate, const char* oid) {
  const ExtensionInfo* extension = certificate.find_extension(oid);
  return extension != nullptr && extension->critical;
}

// ---- the root ---------------------------------------------------------------------------------

struct RootRow {
  KeyType key;
  KeyAlgorithm algorithm;
  int bits;
  std::string_view signature_oid;
};

TEST(LabCaCreate, SelfSignedRootLabelledNotForProduction) {
  const std::vector<RootRow> rows = {
      {KeyType::ec_p256, KeyAlgorithm::ec, 256, "1.2.840.10045.4.3.2"},  // ecdsa-with-SHA256
      {KeyType::ec_p384, KeyAlgorithm::ec, 384, "1.2.840.10045.4.3.3"},  // ecdsa-with-SHA384
      {KeyType::rsa_2048, KeyAlgorithm::rsa, 2048,
       "1.2.840.113549.1.1.11"},  // sha256WithRSAEncryption
  };
  for (const auto& row : rows) {
    LabCaRequest request;
    request.key = row.key;
    request.now = kNow;
    const auto ca = create_lab_ca(request);
    ASSERT_TRUE(ca.has_value()) << ca.error().message;
    const CertificatePtr root = parse_one(ca->certificate_pem);
    ASSERT_TRUE(root);
    SCOPED_TRACE(to_string(row.key));
    EXPECT_TRUE(root->defects().empty());
    EXPECT_EQ(root->version(), 3);
    EXPECT_TRUE(root->is_self_issued());
    EXPECT_EQ(root->subject().to_display_string(),
              "CN=Parley Lab CA, O=Parley Lab - NOT FOR PRODUCTION");
    EXPECT_EQ(root->public_key().algorithm, row.algorithm);
    EXPECT_EQ(root->public_key().bits, row.bits);
    EXPECT_EQ(root->signature_algorithm(), row.signature_oid);
    ASSERT_TRUE(root->basic_constraints().has_value());
    EXPECT_TRUE(root->basic_constraints()->is_ca);
    EXPECT_EQ(root->basic_constraints()->path_length, 0);
    EXPECT_TRUE(is_critical(*root, kOidBasicConstraints));
    EXPECT_EQ(root->key_usage(), std::uint16_t{kKeyCertSign | kCrlSign});
    EXPECT_TRUE(is_critical(*root, kOidKeyUsage));
    ASSERT_TRUE(root->subject_key_identifier().has_value());
    EXPECT_EQ(root->subject_key_identifier()->size(), 20u);
    EXPECT_EQ(root->not_before(), kNow - 3600);
    EXPECT_EQ(root->not_after(), kNow + UnixTime{kLabCaValidityDays} * kDay);
    EXPECT_EQ(root->serial().size(), 16u);
    EXPECT_EQ(X509_verify(root->openssl(), X509_get0_pubkey(root->openssl())), 1) << "self-signed";
    EXPECT_TRUE(ca->key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
  }
}

TEST(LabCaCreate, RefusesNamesThatCannotBeEncoded) {
  for (const std::string& name :
       {std::string(), std::string(65, 'a'), std::string("Lab\nCA"), std::string("\xff")}) {
    LabCaRequest request;
    request.name = name;
    request.now = kNow;
    const auto ca = create_lab_ca(request);
    ASSERT_FALSE(ca.has_value()) << name;
    EXPECT_NE(ca.error().message.find("the CA name"), std::string::npos) << ca.error().message;
  }
  LabCaRequest custom;
  custom.name = "Demo CA für Tests";
  custom.now = kNow;
  const auto ca = create_lab_ca(custom);
  ASSERT_TRUE(ca.has_value()) << ca.error().message;
  EXPECT_EQ(parse_one(ca->certificate_pem)->subject().to_display_string(),
            "CN=Demo CA für Tests, O=Parley Lab - NOT FOR PRODUCTION");
}

// ---- issuing ----------------------------------------------------------------------------------

struct IssueRow {
  std::string_view label;
  RequestSpec spec;
  std::optional<CsrService> service;
  int days;
  CsrService expected_service;
  std::vector<std::string> expected_eku;
  std::uint16_t expected_key_usage;
};

TEST(LabCaIssue, LeafProfilePerServiceAndKey) {
  const std::string server_auth = kOidEkuServerAuth;
  const std::string client_auth = kOidEkuClientAuth;
  const RequestSpec xmpp_names{{{SanSpec::dns, "example.com"},
                                {SanSpec::dns, "node1.example.com"},
                                {SanSpec::other_utf8, "example.com", kOidXmppAddr},
                                {SanSpec::other_ia5, "_xmpp-client.example.com", kOidSrvName},
                                {SanSpec::other_ia5, "_xmpp-server.example.com", kOidSrvName}},
                               true,
                               "example.com"};
  RequestSpec rsa_https;
  rsa_https.key = "rsa2048";
  RequestSpec wildcard;
  wildcard.names = {{SanSpec::dns, "*.example.com"}};
  wildcard.common_name = "*.example.com";
  const std::vector<IssueRow> rows = {
      {"https from an EC key",
       RequestSpec{},
       std::nullopt,
       90,
       CsrService::https,
       {server_auth},
       kDigitalSignature},
      {"RSA keys also get keyEncipherment",
       rsa_https,
       CsrService::https,
       90,
       CsrService::https,
       {server_auth},
       kDigitalSignature | kKeyEncipherment},
      {"xmpp inferred from XmppAddr and SRVName",
       xmpp_names,
       std::nullopt,
       30,
       CsrService::xmpp,
       {server_auth, client_auth},
       kDigitalSignature},
      {"xmpp asked for with dNSNames only",
       RequestSpec{},
       CsrService::xmpp,
       825,
       CsrService::xmpp,
       {server_auth, client_auth},
       kDigitalSignature},
      {"sip", RequestSpec{}, CsrService::sip, 1, CsrService::sip, {server_auth}, kDigitalSignature},
      {"a wildcard dNSName",
       wildcard,
       std::nullopt,
       90,
       CsrService::https,
       {server_auth},
       kDigitalSignature},
  };
  const LabCa& ca = shared_ca();
  const CertificatePtr root = parse_one(ca.certificate_pem);
  ASSERT_TRUE(root);
  TrustStore anchors;
  anchors.add(root);

  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    IssueRequest request;
    request.csr = make_request(row.spec);
    request.service = row.service;
    request.validity_days = row.days;
    request.now = kNow;
    const auto issued = issue_certificate(ca, request);
    ASSERT_TRUE(issued.has_value()) << issued.error().message;
    EXPECT_EQ(issued->service, row.expected_service);
    const CertificatePtr leaf = parse_one(issued->certificate_pem);
    ASSERT_TRUE(leaf);

    EXPECT_TRUE(leaf->defects().empty());
    EXPECT_EQ(leaf->version(), 3);
    EXPECT_EQ(leaf->issuer(), root->subject());
    EXPECT_EQ(leaf->subject().values_of(kOidCommonName),
              std::vector<std::string>{row.spec.common_name});
    ASSERT_TRUE(leaf->basic_constraints().has_value());
    EXPECT_FALSE(leaf->basic_constraints()->is_ca);
    EXPECT_TRUE(is_critical(*leaf, kOidBasicConstraints));
    EXPECT_EQ(leaf->key_usage(), row.expected_key_usage);
    EXPECT_TRUE(is_critical(*leaf, kOidKeyUsage));
    EXPECT_EQ(leaf->extended_key_usage(), row.expected_eku);
    EXPECT_FALSE(is_critical(*leaf, kOidExtendedKeyUsage));
    EXPECT_TRUE(leaf->subject_key_identifier().has_value());
    ASSERT_TRUE(leaf->authority_key_identifier().has_value());
    EXPECT_EQ(leaf->authority_key_identifier()->key_identifier, root->subject_key_identifier());
    EXPECT_FALSE(is_critical(*leaf, kOidSubjectAltName));
    ASSERT_TRUE(leaf->subject_alt_names().has_value());
    EXPECT_EQ(leaf->subject_alt_names()->size(), row.spec.names.size());
    EXPECT_EQ(issued->subject_alt_names.size(), row.spec.names.size());
    // Serial: 16 octets, positive, never zero.
    ASSERT_EQ(leaf->serial().size(), 16u);
    EXPECT_GE(static_cast<unsigned char>(leaf->serial()[0]), 0x40);
    EXPECT_LE(static_cast<unsigned char>(leaf->serial()[0]), 0x7f);
    EXPECT_EQ(leaf->not_before(), kNow - 3600);
    EXPECT_EQ(leaf->not_after(), kNow + row.days * kDay);
    EXPECT_TRUE(leaf->crl_distribution_urls().empty());
    EXPECT_TRUE(leaf->ocsp_urls().empty());

    // Parley's verifier accepts it for the identity it names, and so does OpenSSL's signature
    // check.
    VerifyPolicy policy;
    policy.time = kNow;
    const VerifyResult verified = verify_chain(leaf, {}, anchors, policy);
    EXPECT_TRUE(verified.has_value()) << (verified ? "" : verified.error().message);
    if (row.expected_service == CsrService::xmpp) {
      policy.purpose = KeyPurpose::client_auth;  // server-to-server: the server is the TLS client
      const VerifyResult as_client = verify_chain(leaf, {}, anchors, policy);
      EXPECT_TRUE(as_client.has_value()) << (as_client ? "" : as_client.error().message);
    }
    EXPECT_EQ(X509_verify(leaf->openssl(), X509_get0_pubkey(root->openssl())), 1);
  }
}

TEST(LabCaIssue, SerialsDiffer) {
  IssueRequest request;
  request.csr = make_request(RequestSpec{});
  request.now = kNow;
  const auto first = issue_certificate(shared_ca(), request);
  const auto second = issue_certificate(shared_ca(), request);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->serial_hex, second->serial_hex);
  EXPECT_EQ(first->serial_hex.size(), 32u);
}

TEST(LabCaIssue, AcceptsPemAsWellAsDer) {
  const std::string der = make_request(RequestSpec{});
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  X509ReqPtr parsed(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der.size())));
  openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  ASSERT_EQ(PEM_write_bio_X509_REQ(bio.get(), parsed.get()), 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  IssueRequest request;
  request.csr.assign(data, static_cast<std::size_t>(length));
  request.now = kNow;
  const auto issued = issue_certificate(shared_ca(), request);
  EXPECT_TRUE(issued.has_value()) << issued.error().message;
}

struct RefusalRow {
  std::string_view label;
  RequestSpec spec;
  int days;
  std::string_view message_part;
};

TEST(LabCaIssue, RefusesWhatAClientCouldNotMatchOrShouldNotTrust) {
  auto names = [](std::vector<SanSpec> list) {
    RequestSpec spec;
    spec.names = std::move(list);
    return spec;
  };
  RequestSpec no_san;
  no_san.with_san_extension = false;
  RequestSpec empty_subject;
  empty_subject.common_name.clear();
  RequestSpec weak_key;
  weak_key.key = "rsa1024";
  RequestSpec tampered;
  tampered.tamper_after_signing = true;
  const std::vector<RefusalRow> rows = {
      {"no subjectAltName", no_san, 90, "no subjectAltName"},
      {"IPv4 address", names({{SanSpec::ip, std::string("\x0a\x00\x00\x01", 4)}}), 90, "iPAddress"},
      {"short host name", names({{SanSpec::dns, "chat"}}), 90, "short host name"},
      {"one bad name among good ones",
       names({{SanSpec::dns, "a.example.com"}, {SanSpec::dns, "b_c.example.com"}}), 90,
       "not a valid DNS name"},
      {"email", names({{SanSpec::email, "admin@example.com"}}), 90, "rfc822Name"},
      {"URI", names({{SanSpec::uri, "https://example.com/"}}), 90, "URI"},
      {"XmppAddr of an account", names({{SanSpec::other_utf8, "admin@example.com", kOidXmppAddr}}),
       90, "XmppAddr 'admin@example.com'"},
      {"XmppAddr as IA5String", names({{SanSpec::other_ia5, "example.com", kOidXmppAddr}}), 90,
       "not a UTF8String"},
      {"SRVName of another service",
       names({{SanSpec::other_ia5, "_sip._tcp.example.com", kOidSrvName}}), 90,
       "is not _xmpp-client"},
      {"SRVName as UTF8String",
       names({{SanSpec::other_utf8, "_xmpp-client.example.com", kOidSrvName}}), 90,
       "not an IA5String"},
      {"unknown otherName", names({{SanSpec::other_utf8, "x", "1.2.3.4"}}), 90,
       "otherName of type 1.2.3.4"},
      {"RSA 1024", weak_key, 90, "1024 bits"},
      {"signature broken", tampered, 90, "signature does not verify"},
      {"empty subject", empty_subject, 90, "empty subject"},
      {"zero days", RequestSpec{}, 0, "1 to 825 days"},
      {"more than 825 days", RequestSpec{}, 826, "1 to 825 days"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    IssueRequest request;
    request.csr = make_request(row.spec);
    request.validity_days = row.days;
    request.now = kNow;
    const auto issued = issue_certificate(shared_ca(), request);
    ASSERT_FALSE(issued.has_value());
    EXPECT_NE(issued.error().message.find(row.message_part), std::string::npos)
        << issued.error().message;
  }
}

TEST(LabCaIssue, RefusesInputThatIsNoRequest) {
  const std::vector<std::pair<std::string, std::string_view>> rows = {
      {"", "neither a PEM nor a DER"},
      {"hello", "neither a PEM nor a DER"},
      {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "no PEM"},
      {make_request(RequestSpec{}) + "x", "bytes follow"},
      {std::string(kMaxCsrFileBytes + 1, 'a'), "larger than"},
  };
  for (const auto& [input, message_part] : rows) {
    IssueRequest request;
    request.csr = input;
    request.now = kNow;
    const auto issued = issue_certificate(shared_ca(), request);
    ASSERT_FALSE(issued.has_value()) << input.substr(0, 40);
    EXPECT_NE(issued.error().message.find(message_part), std::string::npos)
        << issued.error().message;
  }
}

TEST(LabCaIssue, NeverPastTheCaExpiry) {
  LabCaRequest short_lived;
  short_lived.now = kNow;
  short_lived.validity_days = 30;
  const auto ca = create_lab_ca(short_lived);
  ASSERT_TRUE(ca.has_value());
  IssueRequest request;
  request.csr = make_request(RequestSpec{});
  request.now = kNow;
  request.validity_days = 31;
  const auto refused = issue_certificate(*ca, request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("expires before"), std::string::npos)
      << refused.error().message;
  request.validity_days = 29;
  EXPECT_TRUE(issue_certificate(*ca, request).has_value());
}

TEST(LabCaIssue, OnlyFromALabCaWhoseKeyMatches) {
  const LabCa& ca = shared_ca();
  LabCaRequest other_request;
  other_request.now = kNow;
  const auto other = create_lab_ca(other_request);
  ASSERT_TRUE(other.has_value());
  IssueRequest request;
  request.csr = make_request(RequestSpec{});
  request.now = kNow;

  const LabCa mismatched{other->key_pem, ca.certificate_pem};
  const auto refused = issue_certificate(mismatched, request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("does not belong"), std::string::npos)
      << refused.error().message;

  // A self-signed CA without the lab label, made with OpenSSL directly.
  const openssl::EvpPkeyPtr key = make_key("ec");
  openssl::X509Ptr foreign(X509_new());
  X509NamePtr name(X509_NAME_new());
  const std::string cn = "Real Corporate Root";
  X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.data()),
                             static_cast<int>(cn.size()), -1, 0);
  X509_set_version(foreign.get(), X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(foreign.get()), 1);
  X509_set_subject_name(foreign.get(), name.get());
  X509_set_issuer_name(foreign.get(), name.get());
  ASN1_TIME_set(X509_getm_notBefore(foreign.get()), kNow - kDay);
  ASN1_TIME_set(X509_getm_notAfter(foreign.get()), kNow + 1000 * kDay);
  X509_set_pubkey(foreign.get(), key.get());
  ASSERT_GT(X509_sign(foreign.get(), key.get(), EVP_sha256()), 0);
  openssl::BioPtr certificate_bio(BIO_new(BIO_s_mem()));
  openssl::BioPtr key_bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(certificate_bio.get(), foreign.get());
  PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  LabCa unlabelled;
  long length = BIO_get_mem_data(certificate_bio.get(), &data);
  unlabelled.certificate_pem.assign(data, static_cast<std::size_t>(length));
  length = BIO_get_mem_data(key_bio.get(), &data);
  unlabelled.key_pem.assign(data, static_cast<std::size_t>(length));
  const auto refused_foreign = issue_certificate(unlabelled, request);
  ASSERT_FALSE(refused_foreign.has_value());
  EXPECT_NE(refused_foreign.error().message.find("not a Parley lab CA"), std::string::npos)
      << refused_foreign.error().message;
}

// ---- files ------------------------------------------------------------------------------------

TEST(LabCaFilesTest, SaveLoadAndNeverReplace) {
  TempDir temp;
  const auto directory = temp.path() / "ca";
  const auto saved = save_lab_ca(directory, shared_ca());
  ASSERT_TRUE(saved.has_value()) << saved.error().message;
  EXPECT_EQ(directory_entries(directory), (std::vector<std::string>{"ca.crt", "ca.key"}));
  EXPECT_EQ(mode_of(directory), 0700u);
  EXPECT_EQ(mode_of(saved->key), 0600u);
  EXPECT_EQ(mode_of(saved->certificate), 0644u);

  const auto loaded = load_lab_ca(directory);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->key_pem, shared_ca().key_pem);
  EXPECT_EQ(loaded->certificate_pem, shared_ca().certificate_pem);

  LabCaRequest other_request;
  other_request.now = kNow;
  const auto other = create_lab_ca(other_request);
  ASSERT_TRUE(other.has_value());
  const auto refused = save_lab_ca(directory, *other);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("ca.key: already exists"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(load_lab_ca(directory)->key_pem, shared_ca().key_pem) << "the first CA is untouched";
  EXPECT_EQ(directory_entries(directory), (std::vector<std::string>{"ca.crt", "ca.key"}));
}

TEST(LabCaFilesTest, LoadNamesTheMissingFile) {
  TempDir temp;
  const auto loaded = load_lab_ca(temp.path());
  ASSERT_FALSE(loaded.has_value());
  EXPECT_NE(loaded.error().message.find((temp.path() / "ca.key").string()), std::string::npos)
      << loaded.error().message;
}

}  // namespace
}  // namespace parley::pki
