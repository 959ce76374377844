// Tables for pki/csr: key types, the --subject syntax and the characters public CAs reject, which
// names may be certified, what each service and CA profile puts in the request, and the request
// itself as OpenSSL decodes it (signature, subject, SANs, key, digest) and as a Parley client would
// match it (identity.hpp). Writing: modes, never replacing a file, no partial output.

#include "pki/csr.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "pki/distinguished_name.hpp"
#include "pki/openssl_types.hpp"

namespace parley::pki {
namespace {

using namespace parley::test_support;

using namespace openssl;  // the RAII handles of openssl_types.hpp

// ---- helpers ----------------------------------------------------------------------------------

X509ReqPtr read_request(const std::string& pem) {
  openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509ReqPtr(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
}

openssl::EvpPkeyPtr read_key(const std::string& pem) {
  openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return openssl::EvpPkeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

// The request's SANs as Parley's GeneralName values (the form identity.hpp matches), decoded by
// OpenSSL independently of how csr.cpp built them.
GeneralNames subject_alt_names_of(X509_REQ* request) {
  GeneralNames out;
  X509ExtensionStackPtr extensions(X509_REQ_get_extensions(request));
  if (!extensions) return out;
  int critical = -1;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509V3_get_d2i(extensions.get(), NID_subject_alt_name, &critical, nullptr)));
  EXPECT_EQ(critical, 0) << "the subjectAltName must be present, once, and not critical";
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    int type = 0;
    void* value = GENERAL_NAME_get0_value(name, &type);
    GeneralName converted;
    if (type == GEN_DNS) {
      converted.kind = GeneralNameKind::dns_name;
      converted.value = openssl::string_bytes(static_cast<ASN1_STRING*>(value));
    } else if (type == GEN_OTHERNAME) {
      ASN1_OBJECT* type_id = nullptr;
      ASN1_TYPE* other = nullptr;
      GENERAL_NAME_get0_otherName(name, &type_id, &other);
      converted.kind = GeneralNameKind::other_name;
      converted.other_name_type = openssl::oid_text(type_id);
      unsigned char* der = nullptr;
      const int length = i2d_ASN1_TYPE(other, &der);
      converted.value.assign(reinterpret_cast<char*>(der), static_cast<std::size_t>(length));
      OPENSSL_free(der);
    } else {
      ADD_FAILURE() << "unexpected GeneralName type " << type;
    }
    out.push_back(std::move(converted));
  }
  return out;
}

// The SANs as "dNSName example.com", "XmppAddr example.com", "SRVName _xmpp-client.example.com".
std::vector<std::string> san_texts(const GeneralNames& names) {
  std::vector<std::string> out;
  for (const auto& name : names) {
    if (name.kind == GeneralNameKind::dns_name) {
      out.push_back("dNSName " + name.value);
    } else if (name.other_name_type == kOidXmppAddr) {
      const auto text = der_string_contents(name.value, V_ASN1_UTF8STRING);
      out.push_back("XmppAddr " + (text ? std::string(*text) : "<not a UTF8String>"));
    } else if (name.other_name_type == kOidSrvName) {
      const auto text = der_string_contents(name.value, V_ASN1_IA5STRING);
      out.push_back("SRVName " + (text ? std::string(*text) : "<not an IA5String>"));
    } else {
      out.push_back("otherName " + name.other_name_type);
    }
  }
  return out;
}

std::vector<std::string> san_texts(const std::vector<RequestedName>& names) {
  std::vector<std::string> out;
  for (const auto& name : names)
    out.push_back(std::string(to_string(name.kind)) + " " + name.value);
  return out;
}

// ---- key types --------------------------------------------------------------------------------

struct KeyRow {
  std::string_view text;
  std::optional<KeyType> expected;
  std::string_view message_part;  // for refusals
};

TEST(CsrKeyType, ParsesTheSupportedTypesAndExplainsRefusals) {
  const std::vector<KeyRow> rows = {
      {"rsa:2048", KeyType::rsa_2048, ""},
      {"rsa:3072", KeyType::rsa_3072, ""},
      {"rsa:4096", KeyType::rsa_4096, ""},
      {"ec:P-256", KeyType::ec_p256, ""},
      {"ec:p-384", KeyType::ec_p384, ""},
      {"RSA:2048", KeyType::rsa_2048, ""},
      {"rsa:1024", std::nullopt, "shorter than 2048 bits"},
      {"rsa:512", std::nullopt, "shorter than 2048 bits"},
      {"rsa:8192", std::nullopt, "unknown key type"},
      {"ec:P-521", std::nullopt, "unknown key type"},
      {"ed25519", std::nullopt, "unknown key type"},
      {"", std::nullopt, "choose rsa:2048"},
  };
  for (const auto& row : rows) {
    const auto parsed = parse_key_type(row.text);
    if (row.expected) {
      ASSERT_TRUE(parsed.has_value()) << row.text << ": " << parsed.error().message;
      EXPECT_EQ(*parsed, *row.expected) << row.text;
      EXPECT_EQ(parse_key_type(to_string(*parsed)).value(), *parsed)
          << "round trip of " << row.text;
    } else {
      ASSERT_FALSE(parsed.has_value()) << row.text;
      EXPECT_NE(parsed.error().message.find(row.message_part), std::string::npos)
          << row.text << ": " << parsed.error().message;
    }
  }
}

// ---- subject ----------------------------------------------------------------------------------

struct SubjectRow {
  std::string text;
  CaProfile profile;
  std::optional<std::vector<SubjectAttribute>> expected;
  std::string_view message_part;
};

TEST(CsrSubject, ParsesFieldsAndRefusesWhatCasReject) {
  using F = SubjectField;
  const auto pub = CaProfile::public_ca;
  const auto priv = CaProfile::private_ca;
  const std::vector<SubjectRow> rows = {
      {"", pub, std::vector<SubjectAttribute>{}, ""},
      {"   ", pub, std::vector<SubjectAttribute>{}, ""},
      {"O=Example Corp", pub, std::vector<SubjectAttribute>{{F::organization, "Example Corp"}}, ""},
      // Output order is C, ST, L, O, OU whatever the input order; spaces around fields go.
      {"OU=IT, O=Example Corp , L=Berlin,ST=Berlin,C=DE", pub,
       std::vector<SubjectAttribute>{{F::country, "DE"},
                                     {F::state_or_province, "Berlin"},
                                     {F::locality, "Berlin"},
                                     {F::organization, "Example Corp"},
                                     {F::organizational_unit, "IT"}},
       ""},
      {"o=Example,c=us", pub,
       std::vector<SubjectAttribute>{{F::country, "US"}, {F::organization, "Example"}}, ""},
      {"O=Example\\, Inc.", pub, std::vector<SubjectAttribute>{{F::organization, "Example, Inc."}},
       ""},
      {"O=A\\\\B", priv, std::vector<SubjectAttribute>{{F::organization, "A\\B"}}, ""},
      {"O=Research (R+D): 1/2", pub,
       std::vector<SubjectAttribute>{{F::organization, "Research (R+D): 1/2"}}, ""},
      // The spec's examples, and others outside PrintableString.
      {"O=Example & Sons", pub, std::nullopt, "contains '&'"},
      {"O=admin@example", pub, std::nullopt, "contains '@'"},
      {"OU=Sales!", pub, std::nullopt, "contains '!'"},
      {"L=Town #1", pub, std::nullopt, "contains '#'"},
      {"O=a_b", pub, std::nullopt, "contains '_'"},
      {"O=x;y", pub, std::nullopt, "contains ';'"},
      {"O=Zürich AG", pub, std::nullopt, "non-ASCII"},
      // A private CA takes what its administrator allows.
      {"O=Example & Sons!", priv,
       std::vector<SubjectAttribute>{{F::organization, "Example & Sons!"}}, ""},
      {"L=Zürich", priv, std::vector<SubjectAttribute>{{F::locality, "Zürich"}}, ""},
      // Syntax.
      {"CN=chat.example.com", pub, std::nullopt, "CN cannot be given"},
      {"E=x@example.com", pub, std::nullopt, "unknown field 'E'"},
      {"O=A,O=B", pub, std::nullopt, "more than once"},
      {"O=A,,OU=B", pub, std::nullopt, "empty field"},
      {"O=A,", pub, std::nullopt, "empty field"},
      {"Example Corp", pub, std::nullopt, "FIELD=value"},
      {"O=", pub, std::nullopt, "is empty"},
      {"O=A\\B", pub, std::nullopt, "backslash"},
      {"C=Germany", pub, std::nullopt, "two-letter"},
      {"C=D1", pub, std::nullopt, "two-letter"},
      {"O=" + std::string(64, 'a'), pub,
       std::vector<SubjectAttribute>{{F::organization, std::string(64, 'a')}}, ""},
      {"O=" + std::string(65, 'a'), pub, std::nullopt, "longer than 64"},
      {"L=" + std::string(129, 'a'), pub, std::nullopt, "longer than 128"},
      {"O=a\tb", priv, std::nullopt, "control character"},
      {"O=\xff", priv, std::nullopt, "UTF-8"},
      {std::string(kMaxSubjectTextBytes + 1, 'a'), pub, std::nullopt, "longer than"},
  };
  for (const auto& row : rows) {
    const auto parsed = parse_subject(row.text, row.profile);
    if (row.expected) {
      ASSERT_TRUE(parsed.has_value()) << row.text << ": " << parsed.error().message;
      EXPECT_EQ(*parsed, *row.expected) << row.text;
    } else {
      ASSERT_FALSE(parsed.has_value()) << row.text;
      EXPECT_NE(parsed.error().message.find(row.message_part), std::string::npos)
          << row.text << ": " << parsed.error().message;
    }
  }
}

// ---- identities -------------------------------------------------------------------------------

struct IdentityRow {
  std::string_view name;
  WildcardSyntax wildcard;
  std::optional<std::string_view> problem_part;  // nullopt: acceptable
};

TEST(CsrIdentity, OnlyFullyQualifiedDomainNames) {
  const auto no_wildcard = WildcardSyntax::forbidden;
  const auto wildcard = WildcardSyntax::allowed_as_leftmost;
  const std::vector<IdentityRow> rows = {
      {"chat.example.com", no_wildcard, std::nullopt},
      {"Chat.Example.COM.", no_wildcard, std::nullopt},
      {"xn--caf-dma.example", no_wildcard, std::nullopt},
      {"10.0.0.1", no_wildcard, "is an IP address"},
      {"::1", no_wildcard, "is an IP address"},
      {"2001:db8::1", no_wildcard, "is an IP address"},
      {"chat", no_wildcard, "is a short host name"},
      {"chat.", no_wildcard, "is a short host name"},
      {"", no_wildcard, "is empty"},
      {"chat_1.example.com", no_wildcard, "not a valid DNS name"},
      {"-chat.example.com", no_wildcard, "not a valid DNS name"},
      {"chat..example.com", no_wildcard, "not a valid DNS name"},
      {"chat.example.com:5222", no_wildcard, "contains ':'"},  // a port is not part of the identity
      {"1.2.3", no_wildcard, "not a valid DNS name"},
      {"café.example", no_wildcard, "not a valid DNS name"},
      {"*.example.com", no_wildcard, "wildcard"},
      {"*.example.com", wildcard, std::nullopt},
      {"*.com", wildcard, "not a valid DNS name"},
  };
  for (const auto& row : rows) {
    const auto problem = server_identity_problem(row.name, row.wildcard);
    if (!row.problem_part) {
      EXPECT_FALSE(problem.has_value()) << row.name << ": " << problem.value_or("");
    } else {
      ASSERT_TRUE(problem.has_value()) << row.name;
      EXPECT_NE(problem->find(*row.problem_part), std::string::npos)
          << row.name << ": " << *problem;
    }
  }
}

// ---- what goes into a request -----------------------------------------------------------------

struct PlanRow {
  std::string_view label;
  CsrRequest request;
  std::string_view common_name;  // empty: refused
  std::vector<std::string> subject_alt_names;
  std::string_view file_stem;
  std::string_view message_part;
};

CsrRequest request_for(CsrService service, std::vector<std::string> nodes, std::string domain = {},
                       CaProfile profile = CaProfile::public_ca) {
  CsrRequest request;
  request.service = service;
  request.nodes = std::move(nodes);
  request.domain = std::move(domain);
  request.profile = profile;
  return request;
}

TEST(CsrPlan, SubjectAltNamesPerServiceAndProfile) {
  using S = CsrService;
  const auto priv = CaProfile::private_ca;
  std::vector<std::string> too_many;
  for (std::size_t i = 0; i <= kMaxCsrNodes; ++i)
    too_many.push_back("n" + std::to_string(i) + ".example.com");
  const std::vector<PlanRow> rows = {
      {"xmpp public: dNSNames only",
       request_for(S::xmpp, {"node1.example.com"}, "example.com"),
       "example.com",
       {"dNSName example.com", "dNSName node1.example.com"},
       "xmpp-node1.example.com",
       ""},
      {"xmpp private: XmppAddr and both SRVNames of the domain",
       request_for(S::xmpp, {"node1.example.com", "node2.example.com"}, "example.com", priv),
       "example.com",
       {"dNSName example.com", "dNSName node1.example.com", "dNSName node2.example.com",
        "XmppAddr example.com", "SRVName _xmpp-client.example.com",
        "SRVName _xmpp-server.example.com"},
       "xmpp-node1.example.com",
       ""},
      {"xmpp served from the domain's own host: one dNSName",
       request_for(S::xmpp, {"example.com"}, "example.com"),
       "example.com",
       {"dNSName example.com"},
       "xmpp-example.com",
       ""},
      {"names are normalised",
       request_for(S::xmpp, {"Node1.Example.COM."}, "EXAMPLE.com"),
       "example.com",
       {"dNSName example.com", "dNSName node1.example.com"},
       "xmpp-node1.example.com",
       ""},
      {"https multi-server SAN: CN is the first node",
       request_for(S::https, {"cucm1.example.com", "cucm2.example.com", "cucm3.example.com"}),
       "cucm1.example.com",
       {"dNSName cucm1.example.com", "dNSName cucm2.example.com", "dNSName cucm3.example.com"},
       "https-cucm1.example.com",
       ""},
      {"https with a private CA: still dNSNames only",
       request_for(S::https, {"web.example.com"}, "", priv),
       "web.example.com",
       {"dNSName web.example.com"},
       "https-web.example.com",
       ""},
      {"sip",
       request_for(S::sip, {"sip.example.com"}),
       "sip.example.com",
       {"dNSName sip.example.com"},
       "sip-sip.example.com",
       ""},
      {"IP address",
       request_for(S::https, {"10.0.0.1"}),
       "",
       {},
       "",
       "node '10.0.0.1' is an IP address"},
      {"short name",
       request_for(S::https, {"chat"}),
       "",
       {},
       "",
       "node 'chat' is a short host name"},
      {"short name second",
       request_for(S::https, {"a.example.com", "chat"}),
       "",
       {},
       "",
       "'chat' is a short"},
      {"invalid name",
       request_for(S::https, {"bad_name.example.com"}),
       "",
       {},
       "",
       "not a valid DNS name"},
      {"wildcard", request_for(S::https, {"*.example.com"}), "", {}, "", "wildcard"},
      {"no nodes", request_for(S::https, {}), "", {}, "", "at least one node"},
      {"duplicate node",
       request_for(S::https, {"a.example.com", "A.example.com."}),
       "",
       {},
       "",
       "more than once"},
      {"too many nodes", request_for(S::https, too_many), "", {}, "", "more than 100 nodes"},
      {"xmpp without domain",
       request_for(S::xmpp, {"node1.example.com"}),
       "",
       {},
       "",
       "XMPP domain"},
      {"xmpp short domain",
       request_for(S::xmpp, {"node1.example.com"}, "example"),
       "",
       {},
       "",
       "domain 'example' is a short host name"},
      {"xmpp IP domain",
       request_for(S::xmpp, {"node1.example.com"}, "192.0.2.1"),
       "",
       {},
       "",
       "is an IP address"},
      {"https with a domain",
       request_for(S::https, {"a.example.com"}, "example.com"),
       "",
       {},
       "",
       "only used by xmpp"},
      {"CN too long",
       request_for(S::https, {std::string(60, 'a') + ".example.com"}),
       "",
       {},
       "",
       "64 characters"},
  };
  for (const auto& row : rows) {
    const auto planned = plan_csr(row.request);
    if (!row.common_name.empty()) {
      ASSERT_TRUE(planned.has_value()) << row.label << ": " << planned.error().message;
      EXPECT_EQ(planned->common_name, row.common_name) << row.label;
      EXPECT_EQ(san_texts(planned->subject_alt_names), row.subject_alt_names) << row.label;
      EXPECT_EQ(planned->file_stem, row.file_stem) << row.label;
    } else {
      ASSERT_FALSE(planned.has_value()) << row.label;
      EXPECT_NE(planned.error().message.find(row.message_part), std::string::npos)
          << row.label << ": " << planned.error().message;
    }
  }
}

TEST(CsrPlan, SubjectIsCheckedAgainstTheProfileEvenWhenBuiltByHand) {
  CsrRequest request = request_for(CsrService::https, {"web.example.com"});
  request.subject = {{SubjectField::organization, "Example & Sons"}};
  const auto refused = plan_csr(request);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("subject field O contains '&'"), std::string::npos)
      << refused.error().message;
  request.profile = CaProfile::private_ca;
  EXPECT_TRUE(plan_csr(request).has_value());
}

// ---- the generated request, decoded by OpenSSL --------------------------------------------------

struct GeneratedRow {
  KeyType key;
  int base_id;
  int bits;
  int signature_nid;
};

TEST(CsrGenerate, EveryKeyTypeMakesASignedRequestForItsKey) {
  const std::vector<GeneratedRow> rows = {
      {KeyType::rsa_2048, EVP_PKEY_RSA, 2048, NID_sha256WithRSAEncryption},
      {KeyType::rsa_3072, EVP_PKEY_RSA, 3072, NID_sha256WithRSAEncryption},
      {KeyType::rsa_4096, EVP_PKEY_RSA, 4096, NID_sha256WithRSAEncryption},
      {KeyType::ec_p256, EVP_PKEY_EC, 256, NID_ecdsa_with_SHA256},
      {KeyType::ec_p384, EVP_PKEY_EC, 384, NID_ecdsa_with_SHA384},
  };
  for (const auto& row : rows) {
    CsrRequest request = request_for(CsrService::https, {"web.example.com"});
    request.key = row.key;
    const auto generated = generate_csr(request);
    ASSERT_TRUE(generated.has_value()) << to_string(row.key) << ": " << generated.error().message;
    EXPECT_TRUE(generated->csr_pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"))
        << to_string(row.key);
    EXPECT_TRUE(generated->key_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"))
        << to_string(row.key);

    const X509ReqPtr csr = read_request(generated->csr_pem);
    const openssl::EvpPkeyPtr key = read_key(generated->key_pem);
    ASSERT_TRUE(csr && key) << to_string(row.key);
    EVP_PKEY* public_key = X509_REQ_get0_pubkey(csr.get());
    ASSERT_NE(public_key, nullptr);
    EXPECT_EQ(X509_REQ_verify(csr.get(), public_key), 1) << to_string(row.key);
    EXPECT_EQ(EVP_PKEY_eq(public_key, key.get()), 1) << "the key file holds the request's key";
    EXPECT_EQ(EVP_PKEY_get_base_id(public_key), row.base_id) << to_string(row.key);
    EXPECT_EQ(EVP_PKEY_get_bits(public_key), row.bits) << to_string(row.key);
    EXPECT_EQ(X509_REQ_get_signature_nid(csr.get()), row.signature_nid) << to_string(row.key);
    EXPECT_EQ(X509_REQ_get_version(csr.get()), X509_REQ_VERSION_1);
  }
}

TEST(CsrGenerate, EveryRequestGetsANewKey) {
  CsrRequest request = request_for(CsrService::https, {"web.example.com"});
  request.key = KeyType::ec_p256;
  const auto first = generate_csr(request);
  const auto second = generate_csr(request);
  ASSERT_TRUE(first && second);
  EXPECT_NE(first->key_pem, second->key_pem);
}

TEST(CsrGenerate, SubjectAndSubjectAltNamesAsOpenSslReadsThem) {
  CsrRequest request = request_for(CsrService::xmpp, {"node1.example.com", "node2.example.com"},
                                   "example.com", CaProfile::private_ca);
  request.key = KeyType::ec_p256;
  request.subject = {{SubjectField::organizational_unit, "IT"},
                     {SubjectField::organization, "Example Corp"},
                     {SubjectField::country, "DE"},
                     {SubjectField::locality, "Zürich"}};
  const auto generated = generate_csr(request);
  ASSERT_TRUE(generated.has_value()) << generated.error().message;
  const X509ReqPtr csr = read_request(generated->csr_pem);
  ASSERT_TRUE(csr);

  const DistinguishedName subject =
      distinguished_name_from_openssl(X509_REQ_get_subject_name(csr.get()));
  std::vector<std::string> attributes;
  for (const auto& rdn : subject.rdns) {
    ASSERT_EQ(rdn.size(), 1u) << "one attribute per RDN";
    attributes.push_back(rdn.front().type_oid + "=" + rdn.front().value_utf8 + " (" +
                         std::to_string(rdn.front().asn1_string_type) + ")");
  }
  const std::string utf8 = std::to_string(V_ASN1_UTF8STRING);
  EXPECT_EQ(attributes, (std::vector<std::string>{
                            "2.5.4.6=DE (" + std::to_string(V_ASN1_PRINTABLESTRING) + ")",
                            "2.5.4.7=Zürich (" + utf8 + ")",
                            "2.5.4.10=Example Corp (" + utf8 + ")",
                            "2.5.4.11=IT (" + utf8 + ")",
                            "2.5.4.3=example.com (" + utf8 + ")",
                        }));

  const GeneralNames names = subject_alt_names_of(csr.get());
  EXPECT_EQ(san_texts(names),
            (std::vector<std::string>{"dNSName example.com", "dNSName node1.example.com",
                                      "dNSName node2.example.com", "XmppAddr example.com",
                                      "SRVName _xmpp-client.example.com",
                                      "SRVName _xmpp-server.example.com"}));

  // Only the subjectAltName is requested: key usages are the CA's decision.
  X509ExtensionStackPtr extensions(X509_REQ_get_extensions(csr.get()));
  ASSERT_TRUE(extensions);
  EXPECT_EQ(sk_X509_EXTENSION_num(extensions.get()), 1);
}

// A certificate with exactly the request's names must match what a Parley client looks for:
// XmppAddr first for XMPP, the SRVName of the role, the nodes' dNSNames.
struct MatchRow {
  std::string_view reference;
  ServiceKind service;
  PresentedIdentityKind matched_kind;
};

TEST(CsrGenerate, ClientsMatchTheRequestedNames) {
  CsrRequest request =
      request_for(CsrService::xmpp, {"node1.example.com"}, "example.com", CaProfile::private_ca);
  request.key = KeyType::ec_p256;
  const auto generated = generate_csr(request);
  ASSERT_TRUE(generated.has_value()) << generated.error().message;
  const X509ReqPtr csr = read_request(generated->csr_pem);
  const GeneralNames names = subject_alt_names_of(csr.get());
  const DistinguishedName subject =
      distinguished_name_from_openssl(X509_REQ_get_subject_name(csr.get()));
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension = true;
  presented.subject_alt_names = names;
  presented.subject = &subject;

  const std::vector<MatchRow> rows = {
      {"example.com", ServiceKind::xmpp_client, PresentedIdentityKind::xmpp_addr},
      {"example.com", ServiceKind::xmpp_server, PresentedIdentityKind::xmpp_addr},
      {"node1.example.com", ServiceKind::https, PresentedIdentityKind::dns_name},
  };
  for (const auto& row : rows) {
    const auto reference = ReferenceIdentity::dns(row.reference, row.service);
    ASSERT_TRUE(reference.has_value());
    const IdentityResult result =
        check_presented_identities(presented, *reference, CnFallback::never);
    EXPECT_TRUE(result.ok()) << row.reference << " " << to_string(row.service);
  }
  for (const auto& name : names) {
    if (name.other_name_type != kOidSrvName) continue;
    const auto client = ReferenceIdentity::dns("example.com", ServiceKind::xmpp_client);
    const auto server = ReferenceIdentity::dns("example.com", ServiceKind::xmpp_server);
    EXPECT_TRUE(srv_id_matches(name.value, *client) || srv_id_matches(name.value, *server))
        << san_texts({name})[0];
  }
  const auto other_node = ReferenceIdentity::dns("node9.example.com", ServiceKind::https);
  EXPECT_FALSE(check_presented_identities(presented, *other_node, CnFallback::never).ok());
}

// What parley-cert csr makes, parley-cert lint (csr_lint.hpp) must not call an error for the same
// CA profile: the two commands share one idea of what a CA accepts.
TEST(CsrGenerate, LintFindsNoErrorInWhatCsrMakes) {
  struct LintRow {
    CsrService service;
    CaProfile profile;
  };
  const std::vector<LintRow> rows = {
      {CsrService::xmpp, CaProfile::public_ca},  {CsrService::xmpp, CaProfile::private_ca},
      {CsrService::https, CaProfile::public_ca}, {CsrService::https, CaProfile::private_ca},
      {CsrService::sip, CaProfile::public_ca},
  };
  for (const auto& row : rows) {
    CsrRequest request =
        request_for(row.service, {"node1.example.com", "node2.example.com"},
                    row.service == CsrService::xmpp ? "example.com" : "", row.profile);
    request.key = KeyType::ec_p256;
    request.subject = {{SubjectField::organization, "Example Corp"}, {SubjectField::country, "DE"}};
    const auto generated = generate_csr(request);
    ASSERT_TRUE(generated.has_value()) << generated.error().message;
    const std::vector<LintInput> inputs = {{"generated.csr", generated->csr_pem}};
    LintOptions options;
    options.profile = row.profile;
    for (const auto& finding : lint_csrs(inputs, options)) {
      EXPECT_NE(finding.severity, LintSeverity::error)
          << to_string(row.service) << " " << to_string(row.profile) << ": " << finding.rule << ": "
          << finding.message;
    }
  }
}

TEST(CsrGenerate, RefusedRequestsMakeNoKey) {
  const auto generated = generate_csr(request_for(CsrService::https, {"10.0.0.1"}));
  ASSERT_FALSE(generated.has_value());
  EXPECT_EQ(generated.error().kind, ErrorKind::invalid_argument);
}

TEST(CsrDisplay, SubjectLineMostSpecificFirst) {
  CsrRequest request = request_for(CsrService::https, {"web.example.com"});
  request.subject = {{SubjectField::country, "DE"}, {SubjectField::organization, "Example"}};
  const auto planned = plan_csr(request);
  ASSERT_TRUE(planned.has_value());
  EXPECT_EQ(subject_display_string(*planned), "CN=web.example.com, O=Example, C=DE");
}

// ---- files ------------------------------------------------------------------------------------

GeneratedCsr quick_csr(std::string node = "web.example.com") {
  CsrRequest request = request_for(CsrService::https, {std::move(node)});
  request.key = KeyType::ec_p256;
  auto generated = generate_csr(request);
  EXPECT_TRUE(generated.has_value());
  return generated ? *generated : GeneratedCsr{};
}

TEST(CsrFilesTest, WritesKeyPrivateAndRequestReadable) {
  TempDir temp;
  const auto generated = quick_csr();
  const auto files = save_csr(temp.path() / "out", generated);
  ASSERT_TRUE(files.has_value()) << files.error().message;
  EXPECT_EQ(files->key, temp.path() / "out" / "https-web.example.com.key");
  EXPECT_EQ(files->csr, temp.path() / "out" / "https-web.example.com.csr");
  EXPECT_EQ(mode_of(temp.path() / "out"), 0700u);
  EXPECT_EQ(mode_of(files->key), 0600u);
  EXPECT_EQ(mode_of(files->csr), 0644u);
  EXPECT_EQ(file_bytes(files->key), generated.key_pem);
  EXPECT_EQ(file_bytes(files->csr), generated.csr_pem);
  EXPECT_EQ(directory_entries(temp.path() / "out"),
            (std::vector<std::string>{"https-web.example.com.csr", "https-web.example.com.key"}));
}

TEST(CsrFilesTest, AnExistingKeyIsNeverReplaced) {
  TempDir temp;
  const auto first = quick_csr();
  ASSERT_TRUE(save_csr(temp.path(), first).has_value());
  const auto second = quick_csr();
  const auto refused = save_csr(temp.path(), second);
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("https-web.example.com.key: already exists"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(file_bytes(temp.path() / "https-web.example.com.key"), first.key_pem);
  EXPECT_EQ(file_bytes(temp.path() / "https-web.example.com.csr"), first.csr_pem);
  EXPECT_EQ(directory_entries(temp.path()),
            (std::vector<std::string>{"https-web.example.com.csr", "https-web.example.com.key"}));
}

TEST(CsrFilesTest, AnExistingRequestLeavesNoKeyBehind) {
  TempDir temp;
  {
    std::ofstream stale(temp.path() / "https-web.example.com.csr");
    stale << "someone else's request\n";
  }
  const auto refused = save_csr(temp.path(), quick_csr());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("https-web.example.com.csr: already exists"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(file_bytes(temp.path() / "https-web.example.com.csr"), "someone else's request\n");
  EXPECT_EQ(directory_entries(temp.path()),
            (std::vector<std::string>{"https-web.example.com.csr"}));
}

TEST(CsrFilesTest, AnUnusableDirectoryIsNamedAndNothingIsWritten) {
  TempDir temp;
  {
    std::ofstream file(temp.path() / "a-file");
    file << "x";
  }
  const std::vector<std::pair<std::filesystem::path, std::string_view>> rows = {
      {temp.path() / "a-file", "not a directory"},
      {temp.path() / "a-file" / "sub", "Not a directory"},
      {temp.path() / "missing" / "sub", "cannot create directory"},
  };
  for (const auto& [directory, message_part] : rows) {
    const auto refused = save_csr(directory, quick_csr());
    ASSERT_FALSE(refused.has_value()) << directory;
    EXPECT_NE(refused.error().message.find(directory.string()), std::string::npos)
        << refused.error().message;
    EXPECT_NE(refused.error().message.find(message_part), std::string::npos)
        << refused.error().message;
  }
  EXPECT_EQ(directory_entries(temp.path()), (std::vector<std::string>{"a-file"}));
}

}  // namespace
}  // namespace parley::pki
