#pragma once
// A parsed X.509 certificate: OpenSSL decodes the DER (and later checks signatures), Parley reads
// every field it decides on into plain values once, at parse time, so that path building and
// validation never call back into OpenSSL's lazy extension cache.
//
// What this does not do: decide anything. A certificate with a malformed extension still parses
// (the defect is recorded in `defects`) so that the verifier can report which certificate was bad
// and so that an unrelated malformed certificate offered as a candidate issuer cannot fail a chain
// that does not use it. Only DER that OpenSSL cannot decode at all fails to parse.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/distinguished_name.hpp"
#include "pki/general_name.hpp"

typedef struct x509_st X509;  // NOLINT: OpenSSL's own forward declaration

namespace parley::pki {

// Seconds since the Unix epoch, UTC. Certificates carry whole seconds (RFC 5280 4.1.2.5).
using UnixTime = std::int64_t;

enum class KeyAlgorithm { rsa, ec, ed25519, ed448, dsa, other };

struct PublicKeyInfo {
  KeyAlgorithm algorithm = KeyAlgorithm::other;
  int bits = 0;       // modulus size for RSA, field size for EC
  std::string curve;  // "P-256", "P-384", "P-521", "P-192", ... for named curves
  bool explicit_curve =
      false;              // EC parameters spelled out instead of named (forbidden by RFC 5480)
  bool decodable = true;  // OpenSSL could turn the SubjectPublicKeyInfo into a key
};

// RFC 5280 4.2.1.3 bits, in the order of the ASN.1 BIT STRING.
enum KeyUsageBit : std::uint16_t {
  kDigitalSignature = 1 << 0,
  kNonRepudiation = 1 << 1,
  kKeyEncipherment = 1 << 2,
  kDataEncipherment = 1 << 3,
  kKeyAgreement = 1 << 4,
  kKeyCertSign = 1 << 5,
  kCrlSign = 1 << 6,
  kEncipherOnly = 1 << 7,
  kDecipherOnly = 1 << 8,
};

struct BasicConstraints {
  bool is_ca = false;
  std::optional<std::int64_t> path_length;  // pathLenConstraint when present
};

struct AuthorityKeyIdentifier {
  std::optional<std::string> key_identifier;
  bool has_authority_cert_issuer = false;
  bool has_authority_cert_serial = false;
};

struct NameConstraintsExtension {
  GeneralNames permitted;
  GeneralNames excluded;
  bool permitted_present = false;  // the [0] field is present (possibly empty: malformed)
  bool excluded_present = false;
  bool has_minimum_or_maximum = false;  // RFC 5280 says minimum MUST be 0 and maximum absent
};

// Extensions Parley understands; anything else marked critical makes a certificate unusable.
inline constexpr const char* kOidBasicConstraints = "2.5.29.19";
inline constexpr const char* kOidKeyUsage = "2.5.29.15";
inline constexpr const char* kOidExtendedKeyUsage = "2.5.29.37";
inline constexpr const char* kOidSubjectAltName = "2.5.29.17";
inline constexpr const char* kOidIssuerAltName = "2.5.29.18";
inline constexpr const char* kOidNameConstraints = "2.5.29.30";
inline constexpr const char* kOidSubjectKeyIdentifier = "2.5.29.14";
inline constexpr const char* kOidAuthorityKeyIdentifier = "2.5.29.35";
inline constexpr const char* kOidCertificatePolicies = "2.5.29.32";
inline constexpr const char* kOidPolicyMappings = "2.5.29.33";
inline constexpr const char* kOidPolicyConstraints = "2.5.29.36";
inline constexpr const char* kOidInhibitAnyPolicy = "2.5.29.54";
inline constexpr const char* kOidCrlDistributionPoints = "2.5.29.31";
inline constexpr const char* kOidAuthorityInfoAccess = "1.3.6.1.5.5.7.1.1";

inline constexpr const char* kOidEkuServerAuth = "1.3.6.1.5.5.7.3.1";
inline constexpr const char* kOidEkuClientAuth = "1.3.6.1.5.5.7.3.2";
inline constexpr const char* kOidEkuOcspSigning = "1.3.6.1.5.5.7.3.9";
inline constexpr const char* kOidAnyExtendedKeyUsage = "2.5.29.37.0";

inline constexpr const char* kOidXmppAddr = "1.3.6.1.5.5.7.8.5";
inline constexpr const char* kOidSrvName = "1.3.6.1.5.5.7.8.7";

struct ExtensionInfo {
  std::string oid;
  bool critical = false;
};

// Something wrong with the encoding of the certificate that does not stop OpenSSL from decoding it.
enum class CertificateDefect {
  duplicate_extension,
  malformed_basic_constraints,
  malformed_key_usage,
  empty_key_usage,
  malformed_extended_key_usage,
  empty_extended_key_usage,
  malformed_subject_alt_name,
  empty_subject_alt_name,
  malformed_name_constraints,
  malformed_authority_key_identifier,
  malformed_subject_key_identifier,
  malformed_authority_info_access,
  malformed_crl_distribution_points,
  malformed_policy_extension,
  serial_number_negative,
  serial_number_zero,
  serial_number_too_long,        // more than 20 octets (RFC 5280 4.1.2.2)
  signature_algorithm_mismatch,  // tbsCertificate.signature != signatureAlgorithm
  unsupported_version,
  extensions_in_v1_or_v2,
  invalid_validity_encoding,  // UTCTime/GeneralizedTime outside RFC 5280 4.1.2.5 rules
};

const char* to_string(CertificateDefect defect);

class Certificate;
using CertificatePtr = std::shared_ptr<const Certificate>;

class Certificate {
 public:
  // Parses one DER certificate. Fails only when OpenSSL cannot decode it or bytes trail it.
  static Result<CertificatePtr> from_der(std::span<const std::uint8_t> der);
  // Parses every "CERTIFICATE" block of a PEM text; fails on the first bad block (naming it) or
  // when there is none.
  static Result<std::vector<CertificatePtr>> from_pem(std::string_view pem);
  // PEM when the text looks like PEM, otherwise a single DER certificate.
  static Result<std::vector<CertificatePtr>> from_pem_or_der(std::string_view data);

  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  X509* openssl() const { return x509_; }  // for signature checks and TLS; never modified
  const std::string& der() const { return der_; }
  const std::string& sha256_fingerprint() const { return sha256_; }  // raw 32 bytes

  int version() const { return version_; }               // 1, 2 or 3
  const std::string& serial() const { return serial_; }  // big-endian magnitude, minimal
  const DistinguishedName& subject() const { return subject_; }
  const DistinguishedName& issuer() const { return issuer_; }
  UnixTime not_before() const { return not_before_; }
  UnixTime not_after() const { return not_after_; }
  const PublicKeyInfo& public_key() const { return public_key_; }
  // The SubjectPublicKeyInfo as encoded: byte equality is key equality for path building (OpenSSL's
  // EVP_PKEY comparison is far slower, and a differently encoded copy of a key is a different key
  // for RFC 4158's loop detection anyway).
  const std::string& subject_public_key_info() const { return spki_der_; }
  const std::string& signature_algorithm() const { return signature_algorithm_; }  // OID

  const std::vector<ExtensionInfo>& extensions() const { return extensions_; }
  const ExtensionInfo* find_extension(std::string_view oid) const;
  const std::vector<CertificateDefect>& defects() const { return defects_; }

  const std::optional<BasicConstraints>& basic_constraints() const { return basic_constraints_; }
  const std::optional<std::uint16_t>& key_usage() const { return key_usage_; }
  const std::optional<std::vector<std::string>>& extended_key_usage() const { return eku_; }
  const std::optional<GeneralNames>& subject_alt_names() const { return san_; }
  const std::optional<NameConstraintsExtension>& name_constraints() const {
    return name_constraints_;
  }
  const std::optional<std::string>& subject_key_identifier() const { return ski_; }
  const std::optional<AuthorityKeyIdentifier>& authority_key_identifier() const { return aki_; }
  const std::vector<std::string>& crl_distribution_urls() const { return crl_urls_; }
  const std::vector<std::string>& ocsp_urls() const { return ocsp_urls_; }
  const std::vector<std::string>& ca_issuer_urls() const { return ca_issuer_urls_; }

  bool is_self_issued() const { return subject_ == issuer_; }  // RFC 5280 6.1: same name
  bool has_key_usage(std::uint16_t bits) const {
    return !key_usage_ || (*key_usage_ & bits) == bits;
  }

 private:
  Certificate() = default;
  Result<void> load(X509* owned, std::string der);
  void read_extensions();

  X509* x509_ = nullptr;
  std::string der_;
  std::string sha256_;
  int version_ = 0;
  std::string serial_;
  DistinguishedName subject_;
  DistinguishedName issuer_;
  UnixTime not_before_ = 0;
  UnixTime not_after_ = 0;
  PublicKeyInfo public_key_;
  std::string spki_der_;
  std::string signature_algorithm_;
  std::vector<ExtensionInfo> extensions_;
  std::vector<CertificateDefect> defects_;
  std::optional<BasicConstraints> basic_constraints_;
  std::optional<std::uint16_t> key_usage_;
  std::optional<std::vector<std::string>> eku_;
  std::optional<GeneralNames> san_;
  std::optional<NameConstraintsExtension> name_constraints_;
  std::optional<std::string> ski_;
  std::optional<AuthorityKeyIdentifier> aki_;
  std::vector<std::string> crl_urls_;
  std::vector<std::string> ocsp_urls_;
  std::vector<std::string> ca_issuer_urls_;
};

}  // namespace parley::pki
