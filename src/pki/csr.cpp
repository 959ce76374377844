#include "pki/csr.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <utility>

#include "core/atomic_file.hpp"
#include "core/utf8.hpp"
#include "pki/certificate.hpp"
#include "pki/openssl_types.hpp"

namespace parley::pki {
namespace {

using namespace openssl;  // the RAII handles of openssl_types.hpp

// RFC 5280 Appendix A.1 upper bounds, in characters.
constexpr std::size_t kMaxCommonNameCharacters = 64;          // ub-common-name
constexpr std::size_t kMaxOrganizationCharacters = 64;        // ub-organization-name
constexpr std::size_t kMaxOrganizationalUnitCharacters = 64;  // ub-organizational-unit-name
constexpr std::size_t kMaxLocalityOrStateCharacters = 128;    // ub-locality-name, ub-state-name

constexpr std::string_view kSrvClientPrefix = "_xmpp-client.";
constexpr std::string_view kSrvServerPrefix = "_xmpp-server.";

std::string lowercase_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Lowercase, one trailing dot dropped: the form CAs print and clients compare.
std::string normalised_fqdn(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  return lowercase_ascii(name);
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::optional<SubjectField> parse_subject_field(std::string_view key) {
  const std::string upper = [&] {
    std::string out(key);
    for (char& c : out) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    return out;
  }();
  if (upper == "C") return SubjectField::country;
  if (upper == "ST") return SubjectField::state_or_province;
  if (upper == "L") return SubjectField::locality;
  if (upper == "O") return SubjectField::organization;
  if (upper == "OU") return SubjectField::organizational_unit;
  return std::nullopt;
}

int nid_of(SubjectField field) {
  switch (field) {
    case SubjectField::country:
      return NID_countryName;
    case SubjectField::state_or_province:
      return NID_stateOrProvinceName;
    case SubjectField::locality:
      return NID_localityName;
    case SubjectField::organization:
      return NID_organizationName;
    case SubjectField::organizational_unit:
      return NID_organizationalUnitName;
  }
  return NID_undef;
}

// Checks every attribute, refuses a field given twice (CAs and clients disagree on what a
// repeated O means) and orders them as RFC 4519 names them in a DN, most general first.
Result<std::vector<SubjectAttribute>> checked_subject(std::vector<SubjectAttribute> attributes,
                                                      CaProfile profile) {
  for (auto& attribute : attributes) {
    if (attribute.field == SubjectField::country) {
      // ISO 3166 codes are upper case; accepting "de" costs nothing and avoids a round trip.
      for (char& c : attribute.value) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      }
    }
    if (auto problem = subject_value_problem(attribute.field, attribute.value, profile)) {
      return fail(Error::invalid_argument(std::string("subject field ") +
                                          to_string(attribute.field) + " " + *problem));
    }
  }
  std::stable_sort(attributes.begin(), attributes.end(),
                   [](const auto& a, const auto& b) { return a.field < b.field; });
  for (std::size_t i = 1; i < attributes.size(); ++i) {
    if (attributes[i].field == attributes[i - 1].field) {
      return fail(Error::invalid_argument(std::string("subject field ") +
                                          to_string(attributes[i].field) +
                                          " is given more than once"));
    }
  }
  return attributes;
}

Result<std::string> normalised_identity(std::string_view what, std::string_view name) {
  if (auto problem = server_identity_problem(name, WildcardSyntax::forbidden)) {
    return fail(
        Error::invalid_argument(std::string(what) + " '" + std::string(name) + "' " + *problem));
  }
  return normalised_fqdn(name);
}

Result<std::string> pem_of_bio(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  if (length <= 0 || data == nullptr) return fail(Error::crypto("PEM encoding produced nothing"));
  return std::string(data, static_cast<std::size_t>(length));
}

Result<openssl::EvpPkeyPtr> generate_key(KeyType key) {
  EVP_PKEY* generated = nullptr;
  switch (key) {
    case KeyType::rsa_2048:
      generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048});
      break;
    case KeyType::rsa_3072:
      generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{3072});
      break;
    case KeyType::rsa_4096:
      generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{4096});
      break;
    case KeyType::ec_p256:
      generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::ec_p384:
      generated = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
      break;
  }
  if (generated == nullptr) {
    return fail(Error::crypto(std::string("cannot generate a ") + to_string(key) +
                              " key: " + openssl::last_error_text()));
  }
  return openssl::EvpPkeyPtr(generated);
}

// SHA-384 for P-384 so that the signature is as strong as the key (NIST SP 800-57 pairs them);
// SHA-256 everywhere else, which every CA accepts.
const EVP_MD* signature_digest(KeyType key) {
  return key == KeyType::ec_p384 ? EVP_sha384() : EVP_sha256();
}

Result<X509NamePtr> build_subject(const CsrContents& contents) {
  X509NamePtr name(X509_NAME_new());
  if (!name) return fail(Error::crypto("out of memory"));
  auto add = [&](int nid, const std::string& value) -> Result<void> {
    // MBSTRING_UTF8 with OpenSSL 3's default mask gives UTF8String, and PrintableString for C,
    // whose type the standard fixes (RFC 5280 Appendix A.1).
    if (X509_NAME_add_entry_by_NID(name.get(), nid, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1) {
      return fail(Error::crypto(std::string("cannot encode the subject field ") + OBJ_nid2sn(nid) +
                                ": " + openssl::last_error_text()));
    }
    return {};
  };
  for (const auto& attribute : contents.subject) {
    if (auto added = add(nid_of(attribute.field), attribute.value); !added)
      return fail(added.error());
  }
  if (auto added = add(NID_commonName, contents.common_name); !added) return fail(added.error());
  return name;
}

Result<GeneralNamePtr> build_other_name(const char* oid, int string_type,
                                        const std::string& value) {
  Asn1StringPtr string(ASN1_STRING_type_new(string_type));
  Asn1TypePtr any(ASN1_TYPE_new());
  Asn1ObjectPtr type_id(OBJ_txt2obj(oid, /*no_name=*/1));
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!string || !any || !type_id || !name ||
      ASN1_STRING_set(string.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return fail(Error::crypto("cannot encode an otherName: " + openssl::last_error_text()));
  }
  ASN1_TYPE_set(any.get(), string_type, string.release());  // `any` owns the string now
  if (GENERAL_NAME_set0_othername(name.get(), type_id.get(), any.get()) != 1) {
    return fail(Error::crypto("cannot encode an otherName: " + openssl::last_error_text()));
  }
  type_id.release();  // owned by `name` now
  any.release();
  return name;
}

Result<GeneralNamePtr> build_general_name(const RequestedName& requested) {
  switch (requested.kind) {
    case RequestedNameKind::xmpp_addr:
      return build_other_name(kOidXmppAddr, V_ASN1_UTF8STRING, requested.value);
    case RequestedNameKind::srv_name:
      return build_other_name(kOidSrvName, V_ASN1_IA5STRING, requested.value);
    case RequestedNameKind::dns_name:
      break;
  }
  Asn1StringPtr dns(ASN1_IA5STRING_new());
  GeneralNamePtr name(GENERAL_NAME_new());
  if (!dns || !name ||
      ASN1_STRING_set(dns.get(), requested.value.data(),
                      static_cast<int>(requested.value.size())) != 1) {
    return fail(Error::crypto("cannot encode a dNSName: " + openssl::last_error_text()));
  }
  GENERAL_NAME_set0_value(name.get(), GEN_DNS, dns.release());
  return name;
}

Result<X509ExtensionStackPtr> build_extension_request(const CsrContents& contents) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  if (!names) return fail(Error::crypto("out of memory"));
  for (const auto& requested : contents.subject_alt_names) {
    auto name = build_general_name(requested);
    if (!name) return fail(name.error());
    if (sk_GENERAL_NAME_push(names.get(), name->get()) <= 0)
      return fail(Error::crypto("out of memory"));
    name->release();  // owned by the stack now
  }
  // Not critical: the subject is never empty here (RFC 5280 4.2.1.6 wants critical only then).
  X509ExtensionPtr san(X509V3_EXT_i2d(NID_subject_alt_name, /*crit=*/0, names.get()));
  X509ExtensionStackPtr extensions(sk_X509_EXTENSION_new_null());
  if (!san || !extensions) {
    return fail(Error::crypto("cannot encode the subjectAltName: " + openssl::last_error_text()));
  }
  if (sk_X509_EXTENSION_push(extensions.get(), san.get()) <= 0)
    return fail(Error::crypto("out of memory"));
  san.release();
  return extensions;
}

Result<std::string> key_to_pem(EVP_PKEY* key) {
  openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(Error::crypto("cannot encode the private key: " + openssl::last_error_text()));
  }
  return pem_of_bio(bio.get());
}

}  // namespace

const char* to_string(CsrService service) {
  switch (service) {
    case CsrService::xmpp:
      return "xmpp";
    case CsrService::https:
      return "https";
    case CsrService::sip:
      return "sip";
  }
  return "?";
}

std::optional<CsrService> parse_csr_service(std::string_view text) {
  for (const auto service : {CsrService::xmpp, CsrService::https, CsrService::sip}) {
    if (text == to_string(service)) return service;
  }
  return std::nullopt;
}

const char* to_string(KeyType key) {
  switch (key) {
    case KeyType::rsa_2048:
      return "rsa:2048";
    case KeyType::rsa_3072:
      return "rsa:3072";
    case KeyType::rsa_4096:
      return "rsa:4096";
    case KeyType::ec_p256:
      return "ec:P-256";
    case KeyType::ec_p384:
      return "ec:P-384";
  }
  return "?";
}

Result<KeyType> parse_key_type(std::string_view text) {
  constexpr std::string_view kChoices = "rsa:2048, rsa:3072, rsa:4096, ec:P-256 or ec:P-384";
  for (const auto key : {KeyType::rsa_2048, KeyType::rsa_3072, KeyType::rsa_4096, KeyType::ec_p256,
                         KeyType::ec_p384}) {
    if (lowercase_ascii(text) == lowercase_ascii(to_string(key))) return key;
  }
  const std::string lower = lowercase_ascii(text);
  if (lower.starts_with("rsa:")) {
    const std::string_view bits = std::string_view(lower).substr(4);
    const bool digits =
        !bits.empty() && bits.size() <= 5 &&
        std::all_of(bits.begin(), bits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && std::stoi(std::string(bits)) < 2048) {
      return fail(Error::invalid_argument("key " + std::string(text) +
                                          ": RSA keys shorter than 2048 bits are refused (public "
                                          "CAs reject them and they are breakable); "
                                          "choose " +
                                          std::string(kChoices)));
    }
  }
  return fail(Error::invalid_argument("key " + std::string(text) + ": unknown key type; choose " +
                                      std::string(kChoices)));
}

const char* to_string(SubjectField field) {
  switch (field) {
    case SubjectField::country:
      return "C";
    case SubjectField::state_or_province:
      return "ST";
    case SubjectField::locality:
      return "L";
    case SubjectField::organization:
      return "O";
    case SubjectField::organizational_unit:
      return "OU";
  }
  return "?";
}

const char* to_string(RequestedNameKind kind) {
  switch (kind) {
    case RequestedNameKind::dns_name:
      return "dNSName";
    case RequestedNameKind::xmpp_addr:
      return "XmppAddr";
    case RequestedNameKind::srv_name:
      return "SRVName";
  }
  return "?";
}

std::optional<std::string> subject_value_problem(SubjectField field, std::string_view value,
                                                 CaProfile profile) {
  if (value.empty()) return "is empty";
  const std::optional<std::size_t> characters = utf8_code_point_count(value);
  if (!characters) return "is not valid UTF-8";
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) return "contains a control character";
  }
  if (value.front() == ' ' || value.back() == ' ') return "begins or ends with a space";
  if (field == SubjectField::country) {
    const bool two_letters =
        value.size() == 2 &&
        std::all_of(value.begin(), value.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!two_letters) return "must be a two-letter ISO 3166 country code such as DE or US";
    return std::nullopt;
  }
  const std::size_t limit = field == SubjectField::organization ? kMaxOrganizationCharacters
                            : field == SubjectField::organizational_unit
                                ? kMaxOrganizationalUnitCharacters
                                : kMaxLocalityOrStateCharacters;
  if (*characters > limit) {
    return "is longer than " + std::to_string(limit) + " characters (RFC 5280 upper bound)";
  }
  if (profile == CaProfile::public_ca) {
    if (std::any_of(value.begin(), value.end(),
                    [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
      return std::string(
          "contains non-ASCII characters, which public CAs reject; write it in ASCII, or use "
          "--profile private-ca for a private CA");
    }
    // The lint rule's character set, so that parley-cert never makes what parley-cert lint flags.
    if (const std::string forbidden = forbidden_subject_characters(value); !forbidden.empty()) {
      std::string listed;
      for (const char c : forbidden) listed += std::string(listed.empty() ? "'" : " '") + c + "'";
      return "contains " + listed +
             ", which public CAs reject (safe: letters, digits, spaces and ' ( ) + , - . / : = ?); "
             "use --profile private-ca for a private CA";
    }
  }
  return std::nullopt;
}

Result<std::vector<SubjectAttribute>> parse_subject(std::string_view text, CaProfile profile) {
  if (text.size() > kMaxSubjectTextBytes) {
    return fail(Error::limit("the subject is longer than " + std::to_string(kMaxSubjectTextBytes) +
                             " bytes"));
  }
  if (trim_spaces(text).empty()) return std::vector<SubjectAttribute>{};

  // Split on unescaped commas, resolving the two escapes on the way.
  std::vector<std::string> components(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      if (i + 1 == text.size() || (text[i + 1] != ',' && text[i + 1] != '\\')) {
        return fail(Error::invalid_argument(
            "subject: a backslash may only escape ',' or '\\' (write \\, or \\\\)"));
      }
      components.back() += text[++i];
    } else if (c == ',') {
      components.emplace_back();
    } else {
      components.back() += c;
    }
  }

  std::vector<SubjectAttribute> attributes;
  for (const auto& component : components) {
    const std::size_t equals = component.find('=');
    if (trim_spaces(component).empty()) {
      return fail(Error::invalid_argument(
          "subject: an empty field (two commas in a row, or one at an end)"));
    }
    if (equals == std::string::npos) {
      return fail(Error::invalid_argument("subject: '" + std::string(trim_spaces(component)) +
                                          "' is not of the form FIELD=value"));
    }
    const std::string_view key = trim_spaces(std::string_view(component).substr(0, equals));
    const std::string_view value = trim_spaces(std::string_view(component).substr(equals + 1));
    const auto field = parse_subject_field(key);
    if (!field) {
      if (lowercase_ascii(key) == "cn") {
        return fail(Error::invalid_argument(
            "subject: CN cannot be given; it is set from the node FQDN (or the XMPP domain)"));
      }
      return fail(Error::invalid_argument("subject: unknown field '" + std::string(key) +
                                          "' (expected O, OU, L, ST or C)"));
    }
    attributes.push_back({*field, std::string(value)});
  }
  return checked_subject(std::move(attributes), profile);
}

std::optional<std::string> server_identity_problem(std::string_view name, WildcardSyntax wildcard) {
  if (name.empty()) return "is empty";
  if (parse_ipv4(name) || parse_ipv6(name)) {
    return "is an IP address; public CAs certify, and clients match, fully qualified domain names "
           "(spec: \"Prevent Identity Mismatch\"): give the server's FQDN";
  }
  if (auto problem = dns_name_problem(name, wildcard))
    return "is not a valid DNS name: it " + *problem;
  std::string_view body = name;
  if (body.ends_with('.')) body.remove_suffix(1);
  if (body.starts_with("*.")) body.remove_prefix(2);
  if (body.find('.') == std::string_view::npos) {
    return "is a short host name; give the fully qualified domain name (for example "
           "chat.example.com), "
           "which is what CAs certify and clients match (spec: \"Prevent Identity Mismatch\")";
  }
  return std::nullopt;
}

Result<CsrContents> plan_csr(const CsrRequest& request) {
  if (request.nodes.empty())
    return fail(Error::invalid_argument("at least one node FQDN is required"));
  if (request.nodes.size() > kMaxCsrNodes) {
    return fail(Error::limit(
        "more than " + std::to_string(kMaxCsrNodes) +
        " nodes in one request; public CAs refuse that many names, so split the cluster"));
  }
  std::vector<std::string> nodes;
  for (const auto& node : request.nodes) {
    auto normalised = normalised_identity("node", node);
    if (!normalised) return fail(normalised.error());
    if (std::find(nodes.begin(), nodes.end(), *normalised) != nodes.end()) {
      return fail(Error::invalid_argument("node '" + node + "' is given more than once"));
    }
    nodes.push_back(std::move(*normalised));
  }

  CsrContents contents;
  contents.service = request.service;
  contents.key = request.key;
  contents.profile = request.profile;
  auto subject = checked_subject(request.subject, request.profile);
  if (!subject) return fail(subject.error());
  contents.subject = std::move(*subject);

  if (request.service == CsrService::xmpp) {
    if (request.domain.empty()) {
      return fail(Error::invalid_argument(
          "an XMPP request needs the XMPP domain (the part after '@' in users' JIDs)"));
    }
    auto domain = normalised_identity("domain", request.domain);
    if (!domain) return fail(domain.error());
    contents.common_name = *domain;
    contents.subject_alt_names.push_back({RequestedNameKind::dns_name, *domain});
    for (const auto& node : nodes) {
      // A single-server deployment often serves the domain from the host of the same name.
      if (node != *domain)
        contents.subject_alt_names.push_back({RequestedNameKind::dns_name, node});
    }
    if (request.profile == CaProfile::private_ca) {
      contents.subject_alt_names.push_back({RequestedNameKind::xmpp_addr, *domain});
      contents.subject_alt_names.push_back(
          {RequestedNameKind::srv_name, std::string(kSrvClientPrefix) + *domain});
      contents.subject_alt_names.push_back(
          {RequestedNameKind::srv_name, std::string(kSrvServerPrefix) + *domain});
    }
  } else {
    if (!request.domain.empty()) {
      return fail(
          Error::invalid_argument(std::string("a domain is only used by xmpp requests; for ") +
                                  to_string(request.service) + " give every name as a node"));
    }
    contents.common_name = nodes.front();
    for (const auto& node : nodes)
      contents.subject_alt_names.push_back({RequestedNameKind::dns_name, node});
  }
  if (contents.common_name.size() > kMaxCommonNameCharacters) {
    return fail(
        Error::invalid_argument("'" + contents.common_name + "' is longer than the " +
                                std::to_string(kMaxCommonNameCharacters) +
                                " characters a commonName can hold (RFC 5280 ub-common-name)"));
  }
  contents.file_stem = std::string(to_string(request.service)) + "-" + nodes.front();
  return contents;
}

std::string subject_display_string(const CsrContents& contents) {
  std::string out = "CN=" + contents.common_name;
  for (auto it = contents.subject.rbegin(); it != contents.subject.rend(); ++it) {
    out += ", " + std::string(to_string(it->field)) + "=" + it->value;
  }
  return out;
}

Result<std::string> generate_private_key_pem(KeyType key) {
  auto generated = generate_key(key);
  if (!generated) return fail(generated.error());
  return key_to_pem(generated->get());
}

Result<GeneratedCsr> generate_csr(const CsrRequest& request) {
  auto contents = plan_csr(request);
  if (!contents) return fail(contents.error());
  auto key = generate_key(contents->key);
  if (!key) return fail(key.error());
  auto subject = build_subject(*contents);
  if (!subject) return fail(subject.error());
  auto extensions = build_extension_request(*contents);
  if (!extensions) return fail(extensions.error());

  X509ReqPtr csr(X509_REQ_new());
  if (!csr) return fail(Error::crypto("out of memory"));
  if (X509_REQ_set_version(csr.get(), X509_REQ_VERSION_1) != 1 ||
      X509_REQ_set_subject_name(csr.get(), subject->get()) != 1 ||
      X509_REQ_set_pubkey(csr.get(), key->get()) != 1 ||
      X509_REQ_add_extensions(csr.get(), extensions->get()) != 1) {
    return fail(Error::crypto("cannot assemble the request: " + openssl::last_error_text()));
  }
  if (X509_REQ_sign(csr.get(), key->get(), signature_digest(contents->key)) <= 0) {
    return fail(Error::crypto("cannot sign the request: " + openssl::last_error_text()));
  }
  // A request that does not verify would be rejected by the CA days later; catch it now.
  if (X509_REQ_verify(csr.get(), key->get()) != 1) {
    return fail(Error::crypto("the signed request does not verify: " + openssl::last_error_text()));
  }

  openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), csr.get()) != 1) {
    return fail(Error::crypto("cannot encode the request: " + openssl::last_error_text()));
  }
  auto csr_pem = pem_of_bio(bio.get());
  if (!csr_pem) return fail(csr_pem.error());
  auto key_pem = key_to_pem(key->get());
  if (!key_pem) return fail(key_pem.error());
  return GeneratedCsr{std::move(*contents), std::move(*key_pem), std::move(*csr_pem)};
}

CsrFiles csr_file_paths(const std::filesystem::path& directory, const CsrContents& contents) {
  return {directory / (contents.file_stem + ".key"), directory / (contents.file_stem + ".csr")};
}

Result<CsrFiles> save_csr(const std::filesystem::path& directory, const GeneratedCsr& generated) {
  // 0700: the directory is about to hold a private key.
  if (auto made = create_directory_if_missing(directory, 0700); !made) return fail(made.error());
  const CsrFiles files = csr_file_paths(directory, generated.contents);
  const auto key_written = write_file_atomically(files.key, generated.key_pem,
                                                 {.existing = ExistingFile::refuse, .mode = 0600});
  if (!key_written) return fail(key_written.error());
  const auto csr_written = write_file_atomically(files.csr, generated.csr_pem,
                                                 {.existing = ExistingFile::refuse, .mode = 0644});
  if (!csr_written) {
    // A key without its request is of no use and would block the next attempt with the same name.
    ::unlink(files.key.c_str());
    return fail(csr_written.error());
  }
  return files;
}

}  // namespace parley::pki
