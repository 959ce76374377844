#include "pki/ocsp.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ocsp.h>

#include <algorithm>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "pki/openssl_types.hpp"

namespace parley::pki {

namespace {

using openssl::Deleter;
using OcspResponsePtr = std::unique_ptr<OCSP_RESPONSE, Deleter<OCSP_RESPONSE_free>>;
using OcspBasicResponsePtr = std::unique_ptr<OCSP_BASICRESP, Deleter<OCSP_BASICRESP_free>>;
using OcspRequestPtr = std::unique_ptr<OCSP_REQUEST, Deleter<OCSP_REQUEST_free>>;
using OcspCertIdPtr = std::unique_ptr<OCSP_CERTID, Deleter<OCSP_CERTID_free>>;

void free_openssl_memory(void* p) {
  OPENSSL_free(p);
}
using OpensslBytes = std::unique_ptr<unsigned char, Deleter<free_openssl_memory>>;

// Bounds on what a responder may send (STYLE.md, habit 6). Real responses carry one
// SingleResponse and at most a short chain; anything beyond these is refused, not truncated.
constexpr std::size_t kMaxResponseBytes = 1024 * 1024;
constexpr int kMaxResponseCertificates = 8;
constexpr int kMaxSingleResponses = 64;
constexpr int kMaxExtensions = 16;
constexpr int kNonceLength = 16;  // RFC 8954 2.1: at least 1, at most 32 octets; 16 is usual

constexpr std::string_view kOidOcspNonce = "1.3.6.1.5.5.7.48.1.2";

std::string der_of_x509(X509* certificate) {
  unsigned char* der = nullptr;
  const int length = i2d_X509(certificate, &der);
  if (length <= 0) return {};
  const OpensslBytes owned(der);
  return std::string(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
}

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

OcspResult invalid(std::string detail) {
  OcspResult result;
  result.status = OcspStatus::invalid;
  result.detail = std::move(detail);
  return result;
}

// responderID (RFC 6960 4.2.1): byName is the signer's subject, byKey the SHA-1 hash of its
// subjectPublicKey BIT STRING contents.
bool responder_id_matches(const OCSP_BASICRESP* response, X509* candidate) {
  const ASN1_OCTET_STRING* key_hash = nullptr;
  const X509_NAME* name = nullptr;
  if (OCSP_resp_get0_id(response, &key_hash, &name) != 1) return false;
  if (name != nullptr) return X509_NAME_cmp(name, X509_get_subject_name(candidate)) == 0;
  if (key_hash == nullptr) return false;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_length = 0;
  if (X509_pubkey_digest(candidate, EVP_sha1(), digest, &digest_length) != 1) return false;
  return openssl::string_bytes(key_hash) ==
         std::string(reinterpret_cast<const char*>(digest), digest_length);
}

// Signature algorithms too weak to believe at all. SHA-1 is still accepted here: pre-signed
// responses from older enterprise CAs use it, and forging one needs a chosen-prefix collision
// against the responder's own to-be-signed data.
bool signature_algorithm_is_broken(const OCSP_BASICRESP* response) {
  const X509_ALGOR* algorithm = OCSP_resp_get0_tbs_sigalg(response);
  if (algorithm == nullptr) return true;
  const ASN1_OBJECT* oid = nullptr;
  X509_ALGOR_get0(&oid, nullptr, nullptr, algorithm);
  int digest_nid = NID_undef;
  if (OBJ_find_sigid_algs(OBJ_obj2nid(oid), &digest_nid, nullptr) != 1) return false;
  return digest_nid == NID_md5 || digest_nid == NID_md4 || digest_nid == NID_md2;
}

// The signature over tbsResponseData with `key`, as RFC 6960 3.2 item 2 asks.
bool response_signature_verifies(const OCSP_BASICRESP* response, EVP_PKEY* key) {
  const int verified =
      ASN1_item_verify(ASN1_ITEM_rptr(OCSP_RESPDATA), OCSP_resp_get0_tbs_sigalg(response),
                       OCSP_resp_get0_signature(response), OCSP_resp_get0_respdata(response), key);
  ERR_clear_error();
  return verified == 1;
}

// RFC 6960 4.2.2.2: may this certificate sign responses about certificates from `issuer`?
// Returns why not, or nothing when it may. Cheap checks run before the signature check.
std::optional<std::string> delegated_responder_problem(const Certificate& responder,
                                                       const Certificate& issuer, UnixTime now,
                                                       Budget& budget) {
  const std::string who = "responder certificate " + responder.subject().to_display_string();
  if (!responder.defects().empty()) {
    return who + " is malformed (" + to_string(responder.defects().front()) + ")";
  }
  if (!(responder.issuer() == issuer.subject())) {
    return who + " is not issued by the certificate's issuer " +
           issuer.subject().to_display_string();
  }
  const auto& eku = responder.extended_key_usage();
  if (!eku || std::find(eku->begin(), eku->end(), kOidEkuOcspSigning) == eku->end()) {
    return who + " lacks extendedKeyUsage id-kp-OCSPSigning";
  }
  if (!responder.has_key_usage(kDigitalSignature)) {
    return who + " keyUsage does not allow digitalSignature";
  }
  if (now < responder.not_before()) return who + " is not yet valid";
  if (now > responder.not_after()) return who + " has expired";
  EVP_PKEY* issuer_key = X509_get0_pubkey(issuer.openssl());
  if (issuer_key == nullptr) {
    ERR_clear_error();
    return std::string("issuer public key cannot be decoded");
  }
  if (!budget.spend_signature_check()) return std::string("signature check budget exhausted");
  const int verified = X509_verify(responder.openssl(), issuer_key);
  ERR_clear_error();
  if (verified != 1) return who + " is not signed by the issuer's key";
  return std::nullopt;
}

struct SignerCheck {
  bool verified = false;
  std::string signer;   // "issuer" or the responder's subject
  std::string problem;  // when not verified
};

// RFC 6960 3.2 items 2-3: find who signed, decide whether they may, check the signature.
SignerCheck check_signer(OCSP_BASICRESP* response, const Certificate& issuer, UnixTime now,
                         Budget& budget) {
  if (signature_algorithm_is_broken(response)) {
    return {false, {}, "response is signed with a broken digest (MD2/MD4/MD5)"};
  }
  std::vector<std::string> problems;

  // The issuer itself, which needs no authorisation.
  if (responder_id_matches(response, issuer.openssl())) {
    EVP_PKEY* key = X509_get0_pubkey(issuer.openssl());
    if (key != nullptr) {
      if (!budget.spend_signature_check()) return {false, {}, "signature check budget exhausted"};
      if (response_signature_verifies(response, key)) return {true, "issuer", {}};
      problems.push_back("signature does not verify with the issuer's key");
    }
    ERR_clear_error();
  }

  // Delegated responders, from the certificates the response carries.
  const STACK_OF(X509)* certificates = OCSP_resp_get0_certs(response);
  const int count = certificates == nullptr ? 0 : sk_X509_num(certificates);
  for (int i = 0; i < count; ++i) {  // bounded by kMaxResponseCertificates (checked earlier)
    X509* candidate = sk_X509_value(certificates, i);
    if (candidate == nullptr || !responder_id_matches(response, candidate)) continue;
    const std::string der = der_of_x509(candidate);
    if (der == issuer.der()) continue;  // the issuer again, already tried above
    auto parsed = Certificate::from_der(bytes_of(der));
    if (!parsed) {
      problems.push_back("responder certificate cannot be parsed: " + parsed.error().message);
      continue;
    }
    const Certificate& responder = **parsed;
    if (auto problem = delegated_responder_problem(responder, issuer, now, budget)) {
      problems.push_back(std::move(*problem));
      if (budget.exhausted()) break;
      continue;
    }
    EVP_PKEY* key = X509_get0_pubkey(responder.openssl());
    if (key == nullptr) {
      ERR_clear_error();
      problems.push_back("responder public key cannot be decoded");
      continue;
    }
    if (!budget.spend_signature_check()) {
      problems.push_back("signature check budget exhausted");
      break;
    }
    if (response_signature_verifies(response, key)) {
      return {true, responder.subject().to_display_string(), {}};
    }
    problems.push_back("signature does not verify with the key of responder " +
                       responder.subject().to_display_string());
  }

  if (problems.empty()) {
    return {false,
            {},
            "signer not found: the responderID names neither the issuer nor a "
            "certificate in the response"};
  }
  std::string joined = "response is not signed by the issuer or a responder it authorised: ";
  for (std::size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) joined += "; ";
    joined += problems[i];
  }
  return {false, {}, std::move(joined)};
}

// RFC 6960 4.4 lists the extensions; of the critical ones, only the nonce is ours to process.
std::optional<std::string> unknown_critical_extension(int count, X509_EXTENSION* (*get)(void*, int),
                                                      void* object) {
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* extension = get(object, i);
    if (extension == nullptr || X509_EXTENSION_get_critical(extension) == 0) continue;
    const std::string oid = openssl::oid_text(X509_EXTENSION_get_object(extension));
    if (oid != kOidOcspNonce) return oid;
  }
  return std::nullopt;
}

X509_EXTENSION* basic_response_extension(void* response, int index) {
  return OCSP_BASICRESP_get_ext(static_cast<OCSP_BASICRESP*>(response), index);
}
X509_EXTENSION* single_response_extension(void* single, int index) {
  return OCSP_SINGLERESP_get_ext(static_cast<OCSP_SINGLERESP*>(single), index);
}

// RFC 8954: the response must carry the nonce we sent, byte for byte.
std::optional<std::string> nonce_problem(OCSP_BASICRESP* response,
                                         const std::optional<std::string>& expected) {
  if (!expected || expected->empty()) return std::nullopt;
  const int index = OCSP_BASICRESP_get_ext_by_NID(response, NID_id_pkix_OCSP_Nonce, -1);
  if (index < 0) return "responder did not echo the request nonce";
  X509_EXTENSION* extension = OCSP_BASICRESP_get_ext(response, index);
  if (extension == nullptr ||
      openssl::string_bytes(X509_EXTENSION_get_data(extension)) != *expected) {
    return "response nonce differs from the request nonce (replayed or misdirected response)";
  }
  return std::nullopt;
}

// Digests a responder may use in a CertID; anything else is not a CertID we can recompute.
const EVP_MD* certid_digest(const ASN1_OBJECT* algorithm) {
  switch (OBJ_obj2nid(algorithm)) {
    case NID_sha1:
      return EVP_sha1();
    case NID_sha256:
      return EVP_sha256();
    case NID_sha384:
      return EVP_sha384();
    case NID_sha512:
      return EVP_sha512();
    default:
      return nullptr;
  }
}

struct SingleVerdict {
  OcspStatus status = OcspStatus::invalid;
  std::string problem;  // for invalid
  std::optional<UnixTime> revocation_time;
  std::optional<int> reason;
  UnixTime this_update = 0;
  std::optional<UnixTime> next_update;
};

// RFC 6960 3.2 items 4-6 for one SingleResponse that carries our CertID.
SingleVerdict judge_single_response(OCSP_SINGLERESP* single, const OcspVerifyOptions& options) {
  SingleVerdict verdict;
  if (auto oid = unknown_critical_extension(OCSP_SINGLERESP_get_ext_count(single),
                                            &single_response_extension, single)) {
    verdict.problem = "SingleResponse has an unsupported critical extension " + *oid;
    return verdict;
  }
  int reason = -1;
  ASN1_GENERALIZEDTIME* revocation_time = nullptr;
  ASN1_GENERALIZEDTIME* this_update = nullptr;
  ASN1_GENERALIZEDTIME* next_update = nullptr;
  const int status =
      OCSP_single_get0_status(single, &reason, &revocation_time, &this_update, &next_update);
  if (this_update == nullptr || !openssl::time_to_unix(this_update, verdict.this_update)) {
    ERR_clear_error();
    verdict.problem = "thisUpdate cannot be read";
    return verdict;
  }
  if (next_update != nullptr) {
    UnixTime next = 0;
    if (!openssl::time_to_unix(next_update, next)) {
      ERR_clear_error();
      verdict.problem = "nextUpdate cannot be read";
      return verdict;
    }
    verdict.next_update = next;
  }

  const UnixTime skew = options.allowed_clock_skew.count();
  if (verdict.this_update > options.now + skew) {
    verdict.problem = "thisUpdate is in the future (beyond the allowed clock skew of " +
                      std::to_string(skew) + " s)";
    return verdict;
  }
  if (verdict.next_update) {
    if (*verdict.next_update < verdict.this_update) {
      verdict.problem = "nextUpdate is before thisUpdate";
      return verdict;
    }
    if (*verdict.next_update < options.now - skew) {
      verdict.problem = "stale response: nextUpdate has passed";
      return verdict;
    }
  } else if (options.now - verdict.this_update > options.max_age_without_next_update.count()) {
    verdict.problem = "stale response: no nextUpdate and thisUpdate is older than " +
                      std::to_string(options.max_age_without_next_update.count()) + " s";
    return verdict;
  }

  switch (status) {
    case V_OCSP_CERTSTATUS_GOOD:
      verdict.status = OcspStatus::good;
      break;
    case V_OCSP_CERTSTATUS_REVOKED: {
      verdict.status = OcspStatus::revoked;
      UnixTime when = 0;
      if (revocation_time != nullptr && openssl::time_to_unix(revocation_time, when)) {
        verdict.revocation_time = when;
      }
      if (reason >= 0) verdict.reason = reason;
      break;
    }
    case V_OCSP_CERTSTATUS_UNKNOWN:
      verdict.status = OcspStatus::unknown;
      break;
    default:
      verdict.problem = "certStatus cannot be read";
      break;
  }
  ERR_clear_error();
  return verdict;
}

}  // namespace

const char* to_string(OcspStatus status) {
  switch (status) {
    case OcspStatus::good:
      return "good";
    case OcspStatus::revoked:
      return "revoked";
    case OcspStatus::unknown:
      return "unknown";
    case OcspStatus::invalid:
      return "invalid";
  }
  return "invalid";
}

const char* crl_reason_name(int reason) {
  switch (reason) {
    case 0:
      return "unspecified";
    case 1:
      return "keyCompromise";
    case 2:
      return "cACompromise";
    case 3:
      return "affiliationChanged";
    case 4:
      return "superseded";
    case 5:
      return "cessationOfOperation";
    case 6:
      return "certificateHold";
    case 8:
      return "removeFromCRL";
    case 9:
      return "privilegeWithdrawn";
    case 10:
      return "aACompromise";
    default:
      return "unspecified";
  }
}

Result<OcspRequest> build_ocsp_request(const Certificate& certificate, const Certificate& issuer,
                                       OcspNonceMode nonce_mode) {
  OcspRequestPtr request(OCSP_REQUEST_new());
  if (!request) {
    return fail(Error::crypto("cannot allocate an OCSP request: " + openssl::last_error_text()));
  }
  // SHA-1 CertIDs are what responders index by (RFC 5019 2.1.1); the hash only identifies the
  // certificate, it carries no security weight here.
  OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), certificate.openssl(), issuer.openssl()));
  if (!id) {
    return fail(Error::crypto("cannot compute the OCSP CertID: " + openssl::last_error_text()));
  }
  if (OCSP_request_add0_id(request.get(), id.get()) == nullptr) {
    return fail(
        Error::crypto("cannot add the CertID to the OCSP request: " + openssl::last_error_text()));
  }
  static_cast<void>(id.release());  // the request owns it now

  OcspRequest built;
  if (nonce_mode == OcspNonceMode::send_and_require_echo) {
    if (OCSP_request_add1_nonce(request.get(), nullptr, kNonceLength) != 1) {
      return fail(
          Error::crypto("cannot add a nonce to the OCSP request: " + openssl::last_error_text()));
    }
    const int index = OCSP_REQUEST_get_ext_by_NID(request.get(), NID_id_pkix_OCSP_Nonce, -1);
    X509_EXTENSION* extension = index < 0 ? nullptr : OCSP_REQUEST_get_ext(request.get(), index);
    if (extension == nullptr) {
      return fail(Error::crypto("the OCSP request nonce cannot be read back"));
    }
    // Compared byte for byte with the echo, so the encoding OpenSSL chose does not matter.
    built.nonce = openssl::string_bytes(X509_EXTENSION_get_data(extension));
  }

  unsigned char* der = nullptr;
  const int length = i2d_OCSP_REQUEST(request.get(), &der);
  if (length <= 0) {
    return fail(Error::crypto("cannot encode the OCSP request: " + openssl::last_error_text()));
  }
  const OpensslBytes owned(der);
  built.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  return built;
}

OcspResult verify_ocsp_response(std::span<const std::uint8_t> der, const Certificate& certificate,
                                const Certificate& issuer, const OcspVerifyOptions& options,
                                Budget& budget) {
  if (der.empty()) return invalid("empty OCSP response");
  if (der.size() > kMaxResponseBytes) {
    return invalid("OCSP response larger than " + std::to_string(kMaxResponseBytes) + " bytes");
  }
  const unsigned char* cursor = der.data();
  OcspResponsePtr response(d2i_OCSP_RESPONSE(nullptr, &cursor, static_cast<long>(der.size())));
  if (!response) return invalid("not a DER OCSPResponse: " + openssl::last_error_text());
  if (cursor != der.data() + der.size()) {
    return invalid("OCSP response is followed by " +
                   std::to_string(der.data() + der.size() - cursor) + " extra bytes");
  }

  // RFC 6960 4.2.1: only "successful" carries an answer; tryLater, unauthorized and the rest
  // are unsigned and say nothing about the certificate.
  const int response_status = OCSP_response_status(response.get());
  if (response_status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    return invalid(std::string("responder answered \"") +
                   OCSP_response_status_str(response_status) + "\"");
  }
  OcspBasicResponsePtr basic(OCSP_response_get1_basic(response.get()));
  if (!basic) {
    ERR_clear_error();
    return invalid("response is not a BasicOCSPResponse");
  }
  OCSP_BASICRESP* const bs = basic.get();

  const STACK_OF(X509)* certificates = OCSP_resp_get0_certs(bs);
  if (certificates != nullptr && sk_X509_num(certificates) > kMaxResponseCertificates) {
    return invalid("response carries more than " + std::to_string(kMaxResponseCertificates) +
                   " certificates");
  }
  const int single_count = OCSP_resp_count(bs);
  if (single_count > kMaxSingleResponses) {
    return invalid("response carries more than " + std::to_string(kMaxSingleResponses) +
                   " SingleResponses");
  }
  const int extension_count = OCSP_BASICRESP_get_ext_count(bs);
  if (extension_count > kMaxExtensions) {
    return invalid("response carries more than " + std::to_string(kMaxExtensions) + " extensions");
  }

  SignerCheck signer = check_signer(bs, issuer, options.now, budget);
  if (!signer.verified) return invalid(std::move(signer.problem));

  if (auto oid = unknown_critical_extension(extension_count, &basic_response_extension, bs)) {
    return invalid("response has an unsupported critical extension " + *oid);
  }
  if (auto problem = nonce_problem(bs, options.expected_nonce)) return invalid(*problem);

  // Find our CertID, recomputed with whichever digest each SingleResponse uses.
  std::vector<SingleVerdict> matches;
  std::vector<std::pair<int, OcspCertIdPtr>> our_ids;  // by digest NID
  for (int i = 0; i < single_count; ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(bs, i);
    if (single == nullptr) continue;
    auto* their_id = const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single));
    ASN1_OBJECT* digest_oid = nullptr;
    if (their_id == nullptr ||
        OCSP_id_get0_info(nullptr, &digest_oid, nullptr, nullptr, their_id) != 1) {
      continue;
    }
    const EVP_MD* digest = certid_digest(digest_oid);
    if (digest == nullptr) continue;
    const int nid = EVP_MD_get_type(digest);
    auto known = std::find_if(our_ids.begin(), our_ids.end(),
                              [nid](const auto& entry) { return entry.first == nid; });
    if (known == our_ids.end()) {
      OcspCertIdPtr ours(OCSP_cert_to_id(digest, certificate.openssl(), issuer.openssl()));
      if (!ours) {
        ERR_clear_error();
        continue;
      }
      our_ids.emplace_back(nid, std::move(ours));
      known = std::prev(our_ids.end());
    }
    if (OCSP_id_cmp(known->second.get(), their_id) != 0) continue;
    matches.push_back(judge_single_response(single, options));
  }
  ERR_clear_error();
  if (matches.empty()) {
    return invalid(
        "response has no SingleResponse for this certificate (serial number and "
        "issuer do not match)");
  }

  // Several answers about one certificate: a valid "revoked" wins, then "good", then "unknown".
  const SingleVerdict* chosen = nullptr;
  for (const OcspStatus wanted : {OcspStatus::revoked, OcspStatus::good, OcspStatus::unknown}) {
    for (const SingleVerdict& match : matches) {
      if (match.status == wanted) {
        chosen = &match;
        break;
      }
    }
    if (chosen != nullptr) break;
  }
  if (chosen == nullptr) return invalid(matches.front().problem);

  OcspResult result;
  result.status = chosen->status;
  result.revocation_time = chosen->revocation_time;
  result.revocation_reason = chosen->reason;
  result.this_update = chosen->this_update;
  result.next_update = chosen->next_update;
  result.signer = signer.signer;
  switch (chosen->status) {
    case OcspStatus::good:
      result.detail = "OCSP: good (signed by " + signer.signer + ")";
      break;
    case OcspStatus::revoked:
      result.detail = "OCSP: revoked";
      if (chosen->reason)
        result.detail += std::string(" (") + crl_reason_name(*chosen->reason) + ")";
      result.detail += " (signed by " + signer.signer + ")";
      break;
    default:
      result.detail =
          "OCSP: the responder does not know this certificate (signed by " + signer.signer + ")";
      break;
  }
  return result;
}

}  // namespace parley::pki
