#include "pki/lab_ca.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <utility>

#include "core/atomic_file.hpp"
#include "core/file.hpp"
#include "pki/distinguished_name.hpp"
#include "pki/openssl_types.hpp"

namespace parley::pki {
namespace {

using namespace openssl;  // the RAII handles of openssl_types.hpp

constexpr UnixTime kSecondsPerDay = 24 * 60 * 60;
// Lab machines' clocks drift; a certificate that is not yet valid on the client is a confusing
// failure for a demo.
constexpr UnixTime kBackdateSeconds = 60 * 60;
constexpr std::size_t kSerialBytes = 16;
constexpr std::size_t kMaxRequestedNames = kMaxCsrNodes + 3;  // nodes, XmppAddr and two SRVNames
constexpr int kMaxLabCaValidityDays = 20 * 365;

// A parsed CA: the certificate and its key.
struct LoadedCa {
  openssl::X509Ptr certificate;
  openssl::EvpPkeyPtr key;
};

Result<openssl::EvpPkeyPtr> parse_private_key(std::string_view pem) {
  openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr)
    return fail(Error::parse("not a PEM private key: " + openssl::last_error_text()));
  return openssl::EvpPkeyPtr(key);
}

Result<openssl::X509Ptr> parse_certificate(std::string_view pem) {
  openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509* certificate = bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (certificate == nullptr) {
    return fail(Error::parse("not a PEM certificate: " + openssl::last_error_text()));
  }
  return openssl::X509Ptr(certificate);
}

Result<X509ReqPtr> parse_request(std::string_view data) {
  if (data.size() > kMaxCsrFileBytes) {
    return fail(
        Error::limit("the request is larger than " + std::to_string(kMaxCsrFileBytes) + " bytes"));
  }
  if (data.find("-----BEGIN") != std::string_view::npos) {
    openssl::BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
    // PEM_read_bio_X509_REQ takes "CERTIFICATE REQUEST" and the older "NEW CERTIFICATE REQUEST".
    X509_REQ* request = bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    if (request == nullptr) {
      return fail(Error::parse("no PEM CERTIFICATE REQUEST block could be read: " +
                               openssl::last_error_text()));
    }
    return X509ReqPtr(request);
  }
  const auto* cursor = reinterpret_cast<const unsigned char*>(data.data());
  X509_REQ* request = d2i_X509_REQ(nullptr, &cursor, static_cast<long>(data.size()));
  if (request == nullptr) {
    return fail(
        Error::parse("neither a PEM nor a DER certificate request: " + openssl::last_error_text()));
  }
  X509ReqPtr owned(request);
  if (cursor != reinterpret_cast<const unsigned char*>(data.data()) + data.size()) {
    return fail(Error::parse("bytes follow the DER certificate request"));
  }
  return owned;
}

Result<std::string> pem_of(X509* certificate) {
  openssl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    return fail(Error::crypto("cannot encode the certificate: " + openssl::last_error_text()));
  }
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  if (length <= 0 || data == nullptr) return fail(Error::crypto("PEM encoding produced nothing"));
  return std::string(data, static_cast<std::size_t>(length));
}

// The digest matched to the key's strength (SHA-384 for P-384, as in csr.cpp).
const EVP_MD* signature_digest(const EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    const int bits = EVP_PKEY_get_bits(key);
    if (bits > 384) return EVP_sha512();
    if (bits > 256) return EVP_sha384();
  }
  return EVP_sha256();
}

// The keys a Parley client accepts from a server (and a public CA would certify).
std::optional<std::string> subject_key_problem(const EVP_PKEY* key) {
  const int bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
      if (bits < 2048)
        return "an RSA key of " + std::to_string(bits) + " bits (at least 2048 are required)";
      return std::nullopt;
    case EVP_PKEY_EC: {
      char curve[64] = {};
      std::size_t length = 0;
      if (EVP_PKEY_get_utf8_string_param(key, "group", curve, sizeof curve, &length) != 1) {
        return std::string("an EC key on an unnamed curve");
      }
      const std::string_view name(curve, length);
      if (name == "prime256v1" || name == "secp384r1" || name == "secp521r1") return std::nullopt;
      return "an EC key on curve " + std::string(name) + " (P-256, P-384 or P-521 are accepted)";
    }
    default:
      return std::string("a key type other than RSA or EC");
  }
}

Result<Asn1IntegerPtr> random_serial(std::string& hex_out) {
  unsigned char bytes[kSerialBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return fail(Error::crypto("no random serial number: " + openssl::last_error_text()));
  }
  // Top bit clear: serials are positive (RFC 5280 4.1.2.2). Next bit set: the encoding is always
  // exactly 16 octets, so every serial has the same length and is never zero.
  bytes[0] = static_cast<unsigned char>((bytes[0] & 0x7f) | 0x40);
  BignumPtr number(BN_bin2bn(bytes, sizeof bytes, nullptr));
  Asn1IntegerPtr serial(number ? BN_to_ASN1_INTEGER(number.get(), nullptr) : nullptr);
  OpensslStringPtr hex(number ? BN_bn2hex(number.get()) : nullptr);
  if (!serial || !hex) return fail(Error::crypto("cannot encode the serial number"));
  hex_out = hex.get();
  return serial;
}

Result<void> set_validity(X509* certificate, UnixTime not_before, UnixTime not_after) {
  if (ASN1_TIME_set(X509_getm_notBefore(certificate), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(certificate), static_cast<time_t>(not_after)) == nullptr) {
    return fail(Error::crypto("cannot set the validity: " + openssl::last_error_text()));
  }
  return {};
}

template <class Value>
Result<void> add_extension(X509* certificate, int nid, Value* value, bool critical) {
  if (X509_add1_ext_i2d(certificate, nid, value, critical ? 1 : 0, X509V3_ADD_DEFAULT) != 1) {
    return fail(Error::crypto(std::string("cannot add the ") + OBJ_nid2ln(nid) +
                              " extension: " + openssl::last_error_text()));
  }
  return {};
}

Result<void> add_basic_constraints(X509* certificate, bool is_ca) {
  BasicConstraintsPtr constraints(BASIC_CONSTRAINTS_new());
  if (!constraints) return fail(Error::crypto("out of memory"));
  if (is_ca) {
    constraints->ca = 0xFF;  // DER TRUE
    constraints->pathlen = ASN1_INTEGER_new();
    if (constraints->pathlen == nullptr || ASN1_INTEGER_set(constraints->pathlen, 0) != 1) {
      return fail(Error::crypto("out of memory"));
    }
  }
  return add_extension(certificate, NID_basic_constraints, constraints.get(), /*critical=*/true);
}

Result<void> add_key_usage(X509* certificate, std::initializer_list<int> bits) {
  Asn1BitStringPtr usage(ASN1_BIT_STRING_new());
  if (!usage) return fail(Error::crypto("out of memory"));
  for (const int bit : bits) {
    if (ASN1_BIT_STRING_set_bit(usage.get(), bit, 1) != 1)
      return fail(Error::crypto("out of memory"));
  }
  return add_extension(certificate, NID_key_usage, usage.get(), /*critical=*/true);
}

// RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's value.
Result<Asn1OctetStringPtr> key_identifier(const X509* certificate) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  Asn1OctetStringPtr identifier(ASN1_OCTET_STRING_new());
  if (!identifier || X509_pubkey_digest(certificate, EVP_sha1(), digest, &length) != 1 ||
      ASN1_OCTET_STRING_set(identifier.get(), digest, static_cast<int>(length)) != 1) {
    return fail(Error::crypto("cannot compute the key identifier: " + openssl::last_error_text()));
  }
  return identifier;
}

Result<void> add_subject_key_identifier(X509* certificate) {
  auto identifier = key_identifier(certificate);
  if (!identifier) return fail(identifier.error());
  return add_extension(certificate, NID_subject_key_identifier, identifier->get(),
                       /*critical=*/false);
}

Result<void> add_authority_key_identifier(X509* certificate, X509* issuer) {
  AuthorityKeyIdPtr authority(AUTHORITY_KEYID_new());
  if (!authority) return fail(Error::crypto("out of memory"));
  if (const ASN1_OCTET_STRING* issuer_identifier = X509_get0_subject_key_id(issuer)) {
    authority->keyid = ASN1_OCTET_STRING_dup(issuer_identifier);
  } else {
    auto computed = key_identifier(issuer);
    if (!computed) return fail(computed.error());
    authority->keyid = computed->release();
  }
  if (authority->keyid == nullptr) return fail(Error::crypto("out of memory"));
  return add_extension(certificate, NID_authority_key_identifier, authority.get(),
                       /*critical=*/false);
}

Result<void> add_extended_key_usage(X509* certificate, CsrService service) {
  ExtendedKeyUsagePtr usage(sk_ASN1_OBJECT_new_null());
  if (!usage || sk_ASN1_OBJECT_push(usage.get(), OBJ_nid2obj(NID_server_auth)) <= 0) {
    return fail(Error::crypto("out of memory"));
  }
  if (service == CsrService::xmpp &&
      sk_ASN1_OBJECT_push(usage.get(), OBJ_nid2obj(NID_client_auth)) <= 0) {
    return fail(Error::crypto("out of memory"));
  }
  return add_extension(certificate, NID_ext_key_usage, usage.get(), /*critical=*/false);
}

Result<void> sign(X509* certificate, EVP_PKEY* key) {
  if (X509_sign(certificate, key, signature_digest(key)) <= 0) {
    return fail(Error::crypto("cannot sign the certificate: " + openssl::last_error_text()));
  }
  // A certificate that does not verify under its issuer's key is a bug; never hand it out.
  if (X509_verify(certificate, key) != 1) {
    return fail(
        Error::crypto("the signed certificate does not verify: " + openssl::last_error_text()));
  }
  return {};
}

bool carries_lab_label(const X509* certificate) {
  const DistinguishedName subject =
      distinguished_name_from_openssl(X509_get_subject_name(certificate));
  for (const auto& organization : subject.values_of("2.5.4.10")) {
    if (organization == kLabCaOrganization) return true;
  }
  return false;
}

Result<LoadedCa> parse_ca(const LabCa& ca) {
  auto certificate = parse_certificate(ca.certificate_pem);
  if (!certificate)
    return fail(Error::parse("the CA certificate is " + certificate.error().message));
  auto key = parse_private_key(ca.key_pem);
  if (!key) return fail(Error::parse("the CA key is " + key.error().message));
  if (X509_check_private_key(certificate->get(), key->get()) != 1) {
    ERR_clear_error();
    return fail(Error::invalid_argument("the CA key does not belong to the CA certificate"));
  }
  if (!carries_lab_label(certificate->get())) {
    return fail(Error::invalid_argument(
        "the CA certificate is not a Parley lab CA (its subject lacks O=" +
        std::string(kLabCaOrganization) + "); only CAs made by 'parley-cert ca init' issue here"));
  }
  return LoadedCa{std::move(*certificate), std::move(*key)};
}

// Checks one subjectAltName entry of a request and says what it asks for.
Result<RequestedName> checked_requested_name(const GENERAL_NAME* name) {
  int type = 0;
  void* value = GENERAL_NAME_get0_value(name, &type);
  switch (type) {
    case GEN_DNS: {
      const std::string dns = openssl::string_bytes(static_cast<const ASN1_STRING*>(value));
      if (auto problem = server_identity_problem(dns, WildcardSyntax::allowed_as_leftmost)) {
        return fail(Error::invalid_argument("dNSName '" + dns + "' " + *problem));
      }
      return RequestedName{RequestedNameKind::dns_name, dns};
    }
    case GEN_OTHERNAME: {
      ASN1_OBJECT* type_id = nullptr;
      ASN1_TYPE* other_value = nullptr;
      GENERAL_NAME_get0_otherName(name, &type_id, &other_value);
      const std::string oid = openssl::oid_text(type_id);
      const int string_type = other_value ? ASN1_TYPE_get(other_value) : 0;
      const std::string text = string_type == V_ASN1_UTF8STRING || string_type == V_ASN1_IA5STRING
                                   ? openssl::string_bytes(other_value->value.asn1_string)
                                   : std::string();
      if (oid == kOidXmppAddr) {
        if (string_type != V_ASN1_UTF8STRING) {
          return fail(
              Error::invalid_argument("an XmppAddr that is not a UTF8String (RFC 6120 13.7.1.4)"));
        }
        // The server's identity is a bare domain; a JID with '@' or '/' names an account.
        if (auto problem = server_identity_problem(text, WildcardSyntax::forbidden)) {
          return fail(Error::invalid_argument("XmppAddr '" + text + "' " + *problem));
        }
        return RequestedName{RequestedNameKind::xmpp_addr, text};
      }
      if (oid == kOidSrvName) {
        if (string_type != V_ASN1_IA5STRING) {
          return fail(Error::invalid_argument("an SRVName that is not an IA5String (RFC 4985)"));
        }
        const bool xmpp_service =
            text.starts_with("_xmpp-client.") || text.starts_with("_xmpp-server.");
        const std::string domain = xmpp_service ? text.substr(text.find('.') + 1) : std::string();
        if (!xmpp_service) {
          return fail(Error::invalid_argument(
              "SRVName '" + text + "' is not _xmpp-client.<domain> or _xmpp-server.<domain>"));
        }
        if (auto problem = server_identity_problem(domain, WildcardSyntax::forbidden)) {
          return fail(Error::invalid_argument("SRVName '" + text + "': the domain " + *problem));
        }
        return RequestedName{RequestedNameKind::srv_name, text};
      }
      return fail(Error::invalid_argument(
          "an otherName of type " + oid +
          ", which Parley clients do not match (XmppAddr and SRVName only)"));
    }
    case GEN_IPADD:
      return fail(
          Error::invalid_argument("an iPAddress entry; the lab CA certifies fully qualified domain "
                                  "names only (spec: \"Prevent "
                                  "Identity Mismatch\")"));
    case GEN_EMAIL:
      return fail(Error::invalid_argument("an rfc822Name (email) entry, which names no server"));
    case GEN_URI:
      return fail(Error::invalid_argument("a URI entry, which Parley clients do not match"));
    default:
      return fail(
          Error::invalid_argument("a subjectAltName entry of a kind Parley clients do not match"));
  }
}

}  // namespace

Result<LabCa> create_lab_ca(const LabCaRequest& request) {
  if (auto problem =
          subject_value_problem(SubjectField::organization, request.name, CaProfile::private_ca)) {
    return fail(Error::invalid_argument("the CA name " + *problem));
  }
  if (request.validity_days < 1 || request.validity_days > kMaxLabCaValidityDays) {
    return fail(Error::invalid_argument("the CA validity must be 1 to " +
                                        std::to_string(kMaxLabCaValidityDays) + " days"));
  }
  auto key_pem = generate_private_key_pem(request.key);
  if (!key_pem) return fail(key_pem.error());
  auto key = parse_private_key(*key_pem);
  if (!key) return fail(key.error());

  X509NamePtr name(X509_NAME_new());
  const std::string organization(kLabCaOrganization);
  if (!name ||
      X509_NAME_add_entry_by_NID(name.get(), NID_organizationName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(organization.data()),
                                 static_cast<int>(organization.size()), -1, 0) != 1 ||
      X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(request.name.data()),
                                 static_cast<int>(request.name.size()), -1, 0) != 1) {
    return fail(Error::crypto("cannot encode the CA name: " + openssl::last_error_text()));
  }

  openssl::X509Ptr certificate(X509_new());
  std::string serial_hex;
  auto serial = random_serial(serial_hex);
  if (!serial) return fail(serial.error());
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(certificate.get(), serial->get()) != 1 ||
      X509_set_subject_name(certificate.get(), name.get()) != 1 ||
      X509_set_issuer_name(certificate.get(), name.get()) != 1 ||
      X509_set_pubkey(certificate.get(), key->get()) != 1) {
    return fail(Error::crypto("cannot assemble the CA certificate: " + openssl::last_error_text()));
  }
  const UnixTime not_after = request.now + UnixTime{request.validity_days} * kSecondsPerDay;
  if (auto set = set_validity(certificate.get(), request.now - kBackdateSeconds, not_after); !set) {
    return fail(set.error());
  }
  if (auto added = add_basic_constraints(certificate.get(), /*is_ca=*/true); !added)
    return fail(added.error());
  if (auto added = add_key_usage(certificate.get(), {5 /*keyCertSign*/, 6 /*cRLSign*/}); !added) {
    return fail(added.error());
  }
  if (auto added = add_subject_key_identifier(certificate.get()); !added)
    return fail(added.error());
  if (auto signed_ok = sign(certificate.get(), key->get()); !signed_ok)
    return fail(signed_ok.error());

  auto certificate_pem = pem_of(certificate.get());
  if (!certificate_pem) return fail(certificate_pem.error());
  return LabCa{std::move(*key_pem), std::move(*certificate_pem)};
}

LabCaFiles lab_ca_files(const std::filesystem::path& directory) {
  return {directory / "ca.key", directory / "ca.crt"};
}

Result<LabCaFiles> save_lab_ca(const std::filesystem::path& directory, const LabCa& ca) {
  // 0700: the directory is about to hold the CA key.
  if (auto made = create_directory_if_missing(directory, 0700); !made) return fail(made.error());
  const LabCaFiles files = lab_ca_files(directory);
  const auto key_written = write_file_atomically(files.key, ca.key_pem,
                                                 {.existing = ExistingFile::refuse, .mode = 0600});
  if (!key_written) return fail(key_written.error());
  const auto certificate_written = write_file_atomically(
      files.certificate, ca.certificate_pem, {.existing = ExistingFile::refuse, .mode = 0644});
  if (!certificate_written) {
    // A CA key without its certificate can issue nothing and would block the next init.
    std::error_code ignored;
    std::filesystem::remove(files.key, ignored);
    return fail(certificate_written.error());
  }
  return files;
}

Result<LabCa> load_lab_ca(const std::filesystem::path& directory) {
  const LabCaFiles files = lab_ca_files(directory);
  auto key_pem = read_file(files.key, kMaxCsrFileBytes);
  if (!key_pem) return fail(key_pem.error());
  auto certificate_pem = read_file(files.certificate, kMaxCsrFileBytes);
  if (!certificate_pem) return fail(certificate_pem.error());
  LabCa ca{std::move(*key_pem), std::move(*certificate_pem)};
  if (auto parsed = parse_ca(ca); !parsed) {
    return fail(Error{parsed.error().kind, directory.string() + ": " + parsed.error().message});
  }
  return ca;
}

Result<IssuedCertificate> issue_certificate(const LabCa& ca, const IssueRequest& request) {
  if (request.validity_days < 1 || request.validity_days > kMaxIssuedValidityDays) {
    return fail(Error::invalid_argument("the validity must be 1 to " +
                                        std::to_string(kMaxIssuedValidityDays) + " days"));
  }
  auto loaded = parse_ca(ca);
  if (!loaded) return fail(loaded.error());
  auto csr = parse_request(request.csr);
  if (!csr) return fail(csr.error());

  // Stage 1: the request is well formed and signed by the key it asks to certify.
  EVP_PKEY* subject_key = X509_REQ_get0_pubkey(csr->get());
  if (subject_key == nullptr) {
    return fail(Error::invalid_argument("the request's public key cannot be decoded: " +
                                        openssl::last_error_text()));
  }
  if (auto problem = subject_key_problem(subject_key)) {
    return fail(Error::invalid_argument("the request has " + *problem));
  }
  if (X509_REQ_verify(csr->get(), subject_key) != 1) {
    ERR_clear_error();
    return fail(
        Error::invalid_argument("the request's signature does not verify with its own key "
                                "(corrupted, or edited after signing)"));
  }
  const X509_NAME* subject = X509_REQ_get_subject_name(csr->get());
  if (subject == nullptr || X509_NAME_entry_count(subject) == 0) {
    return fail(Error::invalid_argument("the request has an empty subject"));
  }

  // Stage 2: every requested name is a server identity a Parley client matches.
  X509ExtensionStackPtr extensions(X509_REQ_get_extensions(csr->get()));
  int critical = -1;
  GeneralNamesPtr names(extensions
                            ? static_cast<GENERAL_NAMES*>(X509V3_get_d2i(
                                  extensions.get(), NID_subject_alt_name, &critical, nullptr))
                            : nullptr);
  if (!names) {
    ERR_clear_error();
    if (critical == -2)
      return fail(Error::invalid_argument("the request has more than one subjectAltName"));
    if (critical >= 0)
      return fail(Error::invalid_argument("the request's subjectAltName cannot be decoded"));
    return fail(
        Error::invalid_argument("the request has no subjectAltName; clients match SAN entries, so "
                                "there would be nothing to match"));
  }
  const int name_count = sk_GENERAL_NAME_num(names.get());
  if (name_count <= 0)
    return fail(Error::invalid_argument("the request's subjectAltName is empty"));
  if (static_cast<std::size_t>(name_count) > kMaxRequestedNames) {
    return fail(Error::limit("the request has more than " + std::to_string(kMaxRequestedNames) +
                             " subjectAltName entries"));
  }
  IssuedCertificate issued;
  bool has_xmpp_identity = false;
  for (int i = 0; i < name_count; ++i) {
    auto requested = checked_requested_name(sk_GENERAL_NAME_value(names.get(), i));
    if (!requested) {
      return fail(
          Error::invalid_argument("the request's subjectAltName has " + requested.error().message));
    }
    has_xmpp_identity = has_xmpp_identity || requested->kind != RequestedNameKind::dns_name;
    issued.subject_alt_names.push_back(std::move(*requested));
  }
  issued.service =
      request.service.value_or(has_xmpp_identity ? CsrService::xmpp : CsrService::https);

  // Stage 3: the certificate.
  issued.not_before = request.now - kBackdateSeconds;
  issued.not_after = request.now + UnixTime{request.validity_days} * kSecondsPerDay;
  UnixTime ca_not_after = 0;
  if (!openssl::time_to_unix(X509_get0_notAfter(loaded->certificate.get()), ca_not_after)) {
    return fail(Error::parse("the CA certificate's notAfter cannot be read"));
  }
  if (issued.not_after > ca_not_after) {
    return fail(Error::invalid_argument(
        "the lab CA expires before the " + std::to_string(request.validity_days) +
        " days asked for; ask for fewer days or make a new lab CA"));
  }

  openssl::X509Ptr certificate(X509_new());
  auto serial = random_serial(issued.serial_hex);
  if (!serial) return fail(serial.error());
  if (!certificate || X509_set_version(certificate.get(), X509_VERSION_3) != 1 ||
      X509_set_serialNumber(certificate.get(), serial->get()) != 1 ||
      X509_set_issuer_name(certificate.get(), X509_get_subject_name(loaded->certificate.get())) !=
          1 ||
      X509_set_subject_name(certificate.get(), subject) != 1 ||
      X509_set_pubkey(certificate.get(), subject_key) != 1) {
    return fail(Error::crypto("cannot assemble the certificate: " + openssl::last_error_text()));
  }
  if (auto set = set_validity(certificate.get(), issued.not_before, issued.not_after); !set) {
    return fail(set.error());
  }
  if (auto added = add_basic_constraints(certificate.get(), /*is_ca=*/false); !added)
    return fail(added.error());
  const bool rsa_key = EVP_PKEY_get_base_id(subject_key) == EVP_PKEY_RSA;
  auto key_usage =
      rsa_key ? add_key_usage(certificate.get(), {0 /*digitalSignature*/, 2 /*keyEncipherment*/})
              : add_key_usage(certificate.get(), {0 /*digitalSignature*/});
  if (!key_usage) return fail(key_usage.error());
  if (auto added = add_extended_key_usage(certificate.get(), issued.service); !added)
    return fail(added.error());
  if (auto added = add_subject_key_identifier(certificate.get()); !added)
    return fail(added.error());
  if (auto added = add_authority_key_identifier(certificate.get(), loaded->certificate.get());
      !added) {
    return fail(added.error());
  }
  // Re-encoded from the entries checked above; not critical because the subject is not empty.
  if (auto added = add_extension(certificate.get(), NID_subject_alt_name, names.get(), false);
      !added) {
    return fail(added.error());
  }
  if (auto signed_ok = sign(certificate.get(), loaded->key.get()); !signed_ok)
    return fail(signed_ok.error());

  auto pem = pem_of(certificate.get());
  if (!pem) return fail(pem.error());
  issued.certificate_pem = std::move(*pem);
  issued.subject = distinguished_name_from_openssl(subject).to_display_string();
  return issued;
}

}  // namespace parley::pki
