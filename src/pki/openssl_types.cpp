#include "pki/openssl_types.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <ctime>

namespace parley::pki::openssl {

namespace {

// Dotted forms of the OIDs that fill nearly every certificate (name attributes and the common
// extensions), so that parsing does not format them digit by digit each time.
const char* well_known_oid(int nid) {
  switch (nid) {
    case NID_commonName:
      return "2.5.4.3";
    case NID_surname:
      return "2.5.4.4";
    case NID_serialNumber:
      return "2.5.4.5";
    case NID_countryName:
      return "2.5.4.6";
    case NID_localityName:
      return "2.5.4.7";
    case NID_stateOrProvinceName:
      return "2.5.4.8";
    case NID_streetAddress:
      return "2.5.4.9";
    case NID_organizationName:
      return "2.5.4.10";
    case NID_organizationalUnitName:
      return "2.5.4.11";
    case NID_title:
      return "2.5.4.12";
    case NID_givenName:
      return "2.5.4.42";
    case NID_domainComponent:
      return "0.9.2342.19200300.100.1.25";
    case NID_pkcs9_emailAddress:
      return "1.2.840.113549.1.9.1";
    case NID_basic_constraints:
      return "2.5.29.19";
    case NID_key_usage:
      return "2.5.29.15";
    case NID_ext_key_usage:
      return "2.5.29.37";
    case NID_subject_alt_name:
      return "2.5.29.17";
    case NID_issuer_alt_name:
      return "2.5.29.18";
    case NID_name_constraints:
      return "2.5.29.30";
    case NID_subject_key_identifier:
      return "2.5.29.14";
    case NID_authority_key_identifier:
      return "2.5.29.35";
    case NID_certificate_policies:
      return "2.5.29.32";
    case NID_policy_mappings:
      return "2.5.29.33";
    case NID_policy_constraints:
      return "2.5.29.36";
    case NID_inhibit_any_policy:
      return "2.5.29.54";
    case NID_crl_distribution_points:
      return "2.5.29.31";
    case NID_info_access:
      return "1.3.6.1.5.5.7.1.1";
    case NID_server_auth:
      return "1.3.6.1.5.5.7.3.1";
    case NID_client_auth:
      return "1.3.6.1.5.5.7.3.2";
    case NID_OCSP_sign:
      return "1.3.6.1.5.5.7.3.9";
    case NID_anyExtendedKeyUsage:
      return "2.5.29.37.0";
    case NID_sha256WithRSAEncryption:
      return "1.2.840.113549.1.1.11";
    case NID_sha384WithRSAEncryption:
      return "1.2.840.113549.1.1.12";
    case NID_sha512WithRSAEncryption:
      return "1.2.840.113549.1.1.13";
    case NID_ecdsa_with_SHA256:
      return "1.2.840.10045.4.3.2";
    case NID_ecdsa_with_SHA384:
      return "1.2.840.10045.4.3.3";
    case NID_ecdsa_with_SHA512:
      return "1.2.840.10045.4.3.4";
    default:
      return nullptr;
  }
}

}  // namespace

std::string oid_text(const ASN1_OBJECT* object) {
  if (object == nullptr) return {};
  if (const char* known = well_known_oid(OBJ_obj2nid(object))) return known;
  char buffer[128];
  const int n = OBJ_obj2txt(buffer, sizeof buffer, object, /*no_name=*/1);
  if (n <= 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buffer)
    return std::string(buffer, static_cast<std::size_t>(n));
  // An absurdly long OID: ask again with room for it (bounded by OpenSSL's own encoding limits).
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, object, 1);
  big.resize(static_cast<std::size_t>(n));
  return big;
}

bool time_to_unix(const ASN1_TIME* time, std::int64_t& out) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return false;
  out = static_cast<std::int64_t>(timegm(&tm));
  return true;
}

PublicKeyInfo public_key_info(X509_PUBKEY* public_key) {
  PublicKeyInfo info;
  EVP_PKEY* key = public_key == nullptr ? nullptr : X509_PUBKEY_get0(public_key);
  if (key == nullptr) {
    info.decodable = false;
    ERR_clear_error();
    return info;
  }
  info.bits = EVP_PKEY_get_bits(key);
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      info.algorithm = KeyAlgorithm::rsa;
      break;
    case EVP_PKEY_EC: {
      info.algorithm = KeyAlgorithm::ec;
      // RFC 5480 2.1.1: the curve is the namedCurve OID in the algorithm parameters; explicit
      // parameters (a SEQUENCE) are forbidden and reported as such.
      X509_ALGOR* algorithm = nullptr;
      X509_PUBKEY_get0_param(nullptr, nullptr, nullptr, &algorithm, public_key);
      int parameter_type = V_ASN1_UNDEF;
      const void* parameter = nullptr;
      if (algorithm != nullptr) X509_ALGOR_get0(nullptr, &parameter_type, &parameter, algorithm);
      if (parameter_type == V_ASN1_OBJECT) {
        const auto* curve = static_cast<const ASN1_OBJECT*>(parameter);
        switch (OBJ_obj2nid(curve)) {
          case NID_X9_62_prime256v1:
            info.curve = "P-256";
            break;
          case NID_secp384r1:
            info.curve = "P-384";
            break;
          case NID_secp521r1:
            info.curve = "P-521";
            break;
          case NID_X9_62_prime192v1:
            info.curve = "P-192";
            break;
          case NID_secp224r1:
            info.curve = "P-224";
            break;
          default:
            info.curve = oid_text(curve);
        }
      } else {
        info.explicit_curve = parameter_type == V_ASN1_SEQUENCE;
      }
      break;
    }
    case EVP_PKEY_ED25519:
      info.algorithm = KeyAlgorithm::ed25519;
      break;
    case EVP_PKEY_ED448:
      info.algorithm = KeyAlgorithm::ed448;
      break;
    case EVP_PKEY_DSA:
      info.algorithm = KeyAlgorithm::dsa;
      break;
    default:
      info.algorithm = KeyAlgorithm::other;
  }
  ERR_clear_error();
  return info;
}

std::string last_error_text() {
  std::string text;
  for (int i = 0; i < 16; ++i) {  // the queue is short; the bound keeps a broken state from looping
    const unsigned long code = ERR_get_error();
    if (code == 0) break;
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace parley::pki::openssl
