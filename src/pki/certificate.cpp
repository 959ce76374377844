#include "pki/certificate.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <algorithm>
#include <limits>
#include <set>

#include "pki/openssl_types.hpp"

namespace parley::pki {
namespace {

using openssl::oid_text;
using openssl::string_bytes;

template <class T, auto FreeFunction>
using Decoded = std::unique_ptr<T, openssl::Deleter<FreeFunction>>;

// Decodes a known extension's value with OpenSSL's own ASN.1 templates. Returns null when the DER
// inside the extension is malformed (the caller records a defect) or unknown to OpenSSL.
void* decode_extension(X509_EXTENSION* extension) {
  return X509V3_EXT_d2i(extension);
}

GeneralNames convert_general_names(const GENERAL_NAMES* names) {
  GeneralNames out;
  const int count = sk_GENERAL_NAME_num(names);
  out.reserve(static_cast<std::size_t>(std::max(count, 0)));
  for (int i = 0; i < count; ++i)
    out.push_back(general_name_from_openssl(sk_GENERAL_NAME_value(names, i)));
  return out;
}

GeneralNames convert_subtrees(const STACK_OF(GENERAL_SUBTREE) * subtrees, bool& has_min_or_max) {
  GeneralNames out;
  const int count = sk_GENERAL_SUBTREE_num(subtrees);
  for (int i = 0; i < count; ++i) {
    const GENERAL_SUBTREE* subtree = sk_GENERAL_SUBTREE_value(subtrees, i);
    if (subtree->maximum != nullptr) has_min_or_max = true;
    if (subtree->minimum != nullptr && ASN1_INTEGER_get(subtree->minimum) != 0)
      has_min_or_max = true;
    out.push_back(general_name_from_openssl(subtree->base));
  }
  return out;
}

// RFC 5280 4.1.2.5: UTCTime is YYMMDDHHMMSSZ, GeneralizedTime YYYYMMDDHHMMSSZ, both in UTC with
// seconds and without fractions. OpenSSL's parser accepts more than that.
bool validity_encoding_is_strict(const ASN1_TIME* time) {
  const int type = ASN1_STRING_type(time);
  const std::string text = string_bytes(time);
  const std::size_t expected = type == V_ASN1_UTCTIME           ? 13
                               : type == V_ASN1_GENERALIZEDTIME ? 15
                                                                : 0;
  if (expected == 0 || text.size() != expected || text.back() != 'Z') return false;
  return std::all_of(text.begin(), text.end() - 1, [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

const char* to_string(CertificateDefect defect) {
  switch (defect) {
    case CertificateDefect::duplicate_extension:
      return "an extension appears more than once";
    case CertificateDefect::malformed_basic_constraints:
      return "malformed basicConstraints";
    case CertificateDefect::malformed_key_usage:
      return "malformed keyUsage";
    case CertificateDefect::empty_key_usage:
      return "keyUsage with no bit set";
    case CertificateDefect::malformed_extended_key_usage:
      return "malformed extKeyUsage";
    case CertificateDefect::empty_extended_key_usage:
      return "extKeyUsage with no purpose";
    case CertificateDefect::malformed_subject_alt_name:
      return "malformed subjectAltName";
    case CertificateDefect::empty_subject_alt_name:
      return "subjectAltName with no name";
    case CertificateDefect::malformed_name_constraints:
      return "malformed nameConstraints";
    case CertificateDefect::malformed_authority_key_identifier:
      return "malformed authorityKeyIdentifier";
    case CertificateDefect::malformed_subject_key_identifier:
      return "malformed subjectKeyIdentifier";
    case CertificateDefect::malformed_authority_info_access:
      return "malformed authorityInfoAccess";
    case CertificateDefect::malformed_crl_distribution_points:
      return "malformed cRLDistributionPoints";
    case CertificateDefect::malformed_policy_extension:
      return "malformed certificate policy extension";
    case CertificateDefect::serial_number_negative:
      return "negative serial number";
    case CertificateDefect::serial_number_zero:
      return "serial number zero";
    case CertificateDefect::serial_number_too_long:
      return "serial number longer than 20 octets";
    case CertificateDefect::signature_algorithm_mismatch:
      return "signatureAlgorithm differs from tbsCertificate.signature";
    case CertificateDefect::unsupported_version:
      return "unsupported certificate version";
    case CertificateDefect::extensions_in_v1_or_v2:
      return "extensions in a version 1 or 2 certificate";
    case CertificateDefect::invalid_validity_encoding:
      return "validity time not encoded as RFC 5280 requires";
  }
  return "unknown defect";
}

Certificate::~Certificate() {
  X509_free(x509_);
}

const ExtensionInfo* Certificate::find_extension(std::string_view oid) const {
  for (const auto& extension : extensions_) {
    if (extension.oid == oid) return &extension;
  }
  return nullptr;
}

Result<CertificatePtr> Certificate::from_der(std::span<const std::uint8_t> der) {
  if (der.empty()) return fail(Error::parse("empty certificate"));
  if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return fail(Error::limit("certificate too large"));
  }
  const unsigned char* cursor = der.data();
  X509* x509 = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (x509 == nullptr) {
    return fail(Error::parse("not a DER certificate: " + openssl::last_error_text()));
  }
  if (cursor != der.data() + der.size()) {
    X509_free(x509);
    return fail(Error::parse("trailing bytes after the certificate"));
  }
  auto certificate = std::shared_ptr<Certificate>(new Certificate());
  auto loaded =
      certificate->load(x509, std::string(reinterpret_cast<const char*>(der.data()), der.size()));
  if (!loaded) return fail(loaded.error());
  return certificate;
}

namespace {

// Finds each "-----BEGIN <label>-----" ... "-----END <label>-----" block and base64-decodes it.
// Text outside blocks (comments, "subject=" lines that openssl prints) is ignored, as every PEM
// reader does.
Result<std::vector<std::string>> pem_blocks(std::string_view pem, std::string_view label) {
  const std::string begin = "-----BEGIN " + std::string(label) + "-----";
  const std::string end = "-----END " + std::string(label) + "-----";
  std::vector<std::string> blocks;
  std::size_t position = 0;
  while (true) {
    const std::size_t start = pem.find(begin, position);
    if (start == std::string_view::npos) break;
    const std::size_t body = start + begin.size();
    const std::size_t stop = pem.find(end, body);
    if (stop == std::string_view::npos) {
      return fail(
          Error::parse("PEM block " + std::to_string(blocks.size() + 1) + " has no END line"));
    }
    std::string base64;
    for (const char c : pem.substr(body, stop - body)) {
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
      base64.push_back(c);
    }
    if (base64.empty() || base64.size() % 4 != 0) {
      return fail(
          Error::parse("PEM block " + std::to_string(blocks.size() + 1) + " is not valid base64"));
    }
    std::string decoded(base64.size() / 4 * 3, '\0');
    const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                       reinterpret_cast<const unsigned char*>(base64.data()),
                                       static_cast<int>(base64.size()));
    if (length < 0) {
      return fail(
          Error::parse("PEM block " + std::to_string(blocks.size() + 1) + " is not valid base64"));
    }
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    std::size_t padding = 0;
    if (base64.ends_with("=="))
      padding = 2;
    else if (base64.ends_with("="))
      padding = 1;
    decoded.resize(static_cast<std::size_t>(length) - padding);
    blocks.push_back(std::move(decoded));
    position = stop + end.size();
  }
  return blocks;
}

bool looks_like_pem(std::string_view data) {
  return data.find("-----BEGIN ") != std::string_view::npos;
}

}  // namespace

Result<std::vector<CertificatePtr>> Certificate::from_pem(std::string_view pem) {
  auto blocks = pem_blocks(pem, "CERTIFICATE");
  if (!blocks) return fail(blocks.error());
  if (blocks->empty()) return fail(Error::parse("no CERTIFICATE block in the PEM text"));
  std::vector<CertificatePtr> certificates;
  certificates.reserve(blocks->size());
  for (std::size_t i = 0; i < blocks->size(); ++i) {
    const auto& der = (*blocks)[i];
    auto certificate =
        from_der(std::span(reinterpret_cast<const std::uint8_t*>(der.data()), der.size()));
    if (!certificate) {
      return fail(Error::parse("certificate " + std::to_string(i + 1) + ": " +
                               certificate.error().message));
    }
    certificates.push_back(std::move(*certificate));
  }
  return certificates;
}

Result<std::vector<CertificatePtr>> Certificate::from_pem_or_der(std::string_view data) {
  if (looks_like_pem(data)) return from_pem(data);
  auto certificate =
      from_der(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  if (!certificate) return fail(certificate.error());
  return std::vector<CertificatePtr>{std::move(*certificate)};
}

Result<void> Certificate::load(X509* owned, std::string der) {
  x509_ = owned;
  der_ = std::move(der);

  // SHA-256 of the DER we already hold, with the digest fetched from the provider once per
  // process (X509_digest re-encodes and re-fetches on every call).
  static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (sha256 == nullptr ||
      EVP_Digest(der_.data(), der_.size(), digest, &digest_length, sha256, nullptr) != 1) {
    return fail(Error::crypto("SHA-256 of the certificate failed: " + openssl::last_error_text()));
  }
  sha256_.assign(reinterpret_cast<const char*>(digest), digest_length);

  const long raw_version = X509_get_version(x509_);
  version_ = static_cast<int>(raw_version) + 1;
  if (raw_version < 0 || raw_version > 2)
    defects_.push_back(CertificateDefect::unsupported_version);

  // Serial number: OpenSSL keeps the magnitude and a negative flag.
  const ASN1_INTEGER* serial = X509_get0_serialNumber(x509_);
  serial_ = string_bytes(serial);
  const auto first_nonzero = serial_.find_first_not_of('\0');
  serial_ = first_nonzero == std::string::npos ? std::string() : serial_.substr(first_nonzero);
  if (ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER)
    defects_.push_back(CertificateDefect::serial_number_negative);
  if (serial_.empty()) defects_.push_back(CertificateDefect::serial_number_zero);
  const bool needs_sign_octet =
      !serial_.empty() && (static_cast<unsigned char>(serial_[0]) & 0x80) != 0;
  if (serial_.size() + (needs_sign_octet ? 1 : 0) > 20)
    defects_.push_back(CertificateDefect::serial_number_too_long);

  subject_ = distinguished_name_from_openssl(X509_get_subject_name(x509_));
  issuer_ = distinguished_name_from_openssl(X509_get_issuer_name(x509_));

  const ASN1_TIME* not_before = X509_get0_notBefore(x509_);
  const ASN1_TIME* not_after = X509_get0_notAfter(x509_);
  if (!openssl::time_to_unix(not_before, not_before_) ||
      !openssl::time_to_unix(not_after, not_after_)) {
    ERR_clear_error();
    return fail(Error::parse("validity period cannot be read"));
  }
  if (!validity_encoding_is_strict(not_before) || !validity_encoding_is_strict(not_after)) {
    defects_.push_back(CertificateDefect::invalid_validity_encoding);
  }

  public_key_ = openssl::public_key_info(X509_get_X509_PUBKEY(x509_));
  unsigned char* spki = nullptr;
  const int spki_length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509_), &spki);
  if (spki_length <= 0) return fail(Error::parse("subjectPublicKeyInfo cannot be encoded"));
  spki_der_.assign(reinterpret_cast<const char*>(spki), static_cast<std::size_t>(spki_length));
  OPENSSL_free(spki);

  const X509_ALGOR* outer_algorithm = nullptr;
  X509_get0_signature(nullptr, &outer_algorithm, x509_);
  const X509_ALGOR* inner_algorithm = X509_get0_tbs_sigalg(x509_);
  if (outer_algorithm != nullptr) {
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, outer_algorithm);
    signature_algorithm_ = oid_text(oid);
  }
  if (outer_algorithm == nullptr || inner_algorithm == nullptr ||
      X509_ALGOR_cmp(outer_algorithm, inner_algorithm) != 0) {
    defects_.push_back(CertificateDefect::signature_algorithm_mismatch);
  }

  read_extensions();
  ERR_clear_error();
  return {};
}

}  // namespace parley::pki

namespace parley::pki {

void Certificate::read_extensions() {
  const int count = X509_get_ext_count(x509_);
  if (count > 0 && version_ < 3) defects_.push_back(CertificateDefect::extensions_in_v1_or_v2);
  std::set<std::string> seen;
  bool duplicate = false;

  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* extension = X509_get_ext(x509_, i);
    ExtensionInfo info{oid_text(X509_EXTENSION_get_object(extension)),
                       X509_EXTENSION_get_critical(extension) != 0};
    if (!seen.insert(info.oid).second) duplicate = true;
    extensions_.push_back(info);
    const std::string& oid = info.oid;

    if (oid == kOidBasicConstraints) {
      Decoded<BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free> value(
          static_cast<BASIC_CONSTRAINTS*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_basic_constraints);
        continue;
      }
      BasicConstraints constraints;
      constraints.is_ca = value->ca != 0;
      if (value->pathlen != nullptr) {
        std::int64_t length = 0;
        if (ASN1_INTEGER_get_int64(&length, value->pathlen) != 1 || length < 0) {
          defects_.push_back(CertificateDefect::malformed_basic_constraints);
          continue;
        }
        constraints.path_length = length;
      }
      basic_constraints_ = constraints;
    } else if (oid == kOidKeyUsage) {
      Decoded<ASN1_BIT_STRING, ASN1_BIT_STRING_free> value(
          static_cast<ASN1_BIT_STRING*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_key_usage);
        continue;
      }
      std::uint16_t bits = 0;
      for (int bit = 0; bit < 9; ++bit) {
        if (ASN1_BIT_STRING_get_bit(value.get(), bit) != 0)
          bits = static_cast<std::uint16_t>(bits | (1u << bit));
      }
      if (bits == 0) defects_.push_back(CertificateDefect::empty_key_usage);
      key_usage_ = bits;
    } else if (oid == kOidExtendedKeyUsage) {
      Decoded<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free> value(
          static_cast<EXTENDED_KEY_USAGE*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_extended_key_usage);
        continue;
      }
      std::vector<std::string> purposes;
      for (int j = 0; j < sk_ASN1_OBJECT_num(value.get()); ++j) {
        purposes.push_back(oid_text(sk_ASN1_OBJECT_value(value.get(), j)));
      }
      if (purposes.empty()) defects_.push_back(CertificateDefect::empty_extended_key_usage);
      eku_ = std::move(purposes);
    } else if (oid == kOidSubjectAltName) {
      Decoded<GENERAL_NAMES, GENERAL_NAMES_free> value(
          static_cast<GENERAL_NAMES*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_subject_alt_name);
        continue;
      }
      san_ = convert_general_names(value.get());
      if (san_->empty()) defects_.push_back(CertificateDefect::empty_subject_alt_name);
    } else if (oid == kOidNameConstraints) {
      Decoded<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free> value(
          static_cast<NAME_CONSTRAINTS*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_name_constraints);
        continue;
      }
      NameConstraintsExtension constraints;
      constraints.permitted_present = value->permittedSubtrees != nullptr;
      constraints.excluded_present = value->excludedSubtrees != nullptr;
      constraints.permitted =
          convert_subtrees(value->permittedSubtrees, constraints.has_minimum_or_maximum);
      constraints.excluded =
          convert_subtrees(value->excludedSubtrees, constraints.has_minimum_or_maximum);
      name_constraints_ = std::move(constraints);
    } else if (oid == kOidSubjectKeyIdentifier) {
      Decoded<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> value(
          static_cast<ASN1_OCTET_STRING*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_subject_key_identifier);
        continue;
      }
      ski_ = string_bytes(value.get());
    } else if (oid == kOidAuthorityKeyIdentifier) {
      Decoded<AUTHORITY_KEYID, AUTHORITY_KEYID_free> value(
          static_cast<AUTHORITY_KEYID*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_authority_key_identifier);
        continue;
      }
      AuthorityKeyIdentifier aki;
      if (value->keyid != nullptr) aki.key_identifier = string_bytes(value->keyid);
      aki.has_authority_cert_issuer = value->issuer != nullptr;
      aki.has_authority_cert_serial = value->serial != nullptr;
      aki_ = std::move(aki);
    } else if (oid == kOidCrlDistributionPoints) {
      Decoded<CRL_DIST_POINTS, CRL_DIST_POINTS_free> value(
          static_cast<CRL_DIST_POINTS*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_crl_distribution_points);
        continue;
      }
      for (int j = 0; j < sk_DIST_POINT_num(value.get()); ++j) {
        const DIST_POINT* point = sk_DIST_POINT_value(value.get(), j);
        if (point->distpoint == nullptr || point->distpoint->type != 0) continue;
        for (const auto& name : convert_general_names(point->distpoint->name.fullname)) {
          if (name.kind == GeneralNameKind::uri) crl_urls_.push_back(name.value);
        }
      }
    } else if (oid == kOidAuthorityInfoAccess) {
      Decoded<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free> value(
          static_cast<AUTHORITY_INFO_ACCESS*>(decode_extension(extension)));
      if (!value) {
        defects_.push_back(CertificateDefect::malformed_authority_info_access);
        continue;
      }
      for (int j = 0; j < sk_ACCESS_DESCRIPTION_num(value.get()); ++j) {
        const ACCESS_DESCRIPTION* description = sk_ACCESS_DESCRIPTION_value(value.get(), j);
        const GeneralName location = general_name_from_openssl(description->location);
        if (location.kind != GeneralNameKind::uri) continue;
        const int method = OBJ_obj2nid(description->method);
        if (method == NID_ad_OCSP)
          ocsp_urls_.push_back(location.value);
        else if (method == NID_ad_ca_issuers)
          ca_issuer_urls_.push_back(location.value);
      }
    } else if (oid == kOidCertificatePolicies || oid == kOidPolicyConstraints ||
               oid == kOidPolicyMappings || oid == kOidInhibitAnyPolicy) {
      // Parsed only to reject malformed encodings; policy processing is not implemented (see
      // verify_path.hpp for what that means).
      void* value = decode_extension(extension);
      if (value == nullptr) {
        defects_.push_back(CertificateDefect::malformed_policy_extension);
        continue;
      }
      const X509V3_EXT_METHOD* method = X509V3_EXT_get(extension);
      if (method != nullptr && method->it != nullptr) {
        ASN1_item_free(static_cast<ASN1_VALUE*>(value), ASN1_ITEM_ptr(method->it));
      }
    }
  }
  if (duplicate) defects_.push_back(CertificateDefect::duplicate_extension);
}

}  // namespace parley::pki
