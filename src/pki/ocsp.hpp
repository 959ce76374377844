#pragma once
// OCSP (RFC 6960): build a request for one certificate and verify a response to it, whether it
// was fetched from the AIA responder or stapled by the TLS peer. OpenSSL encodes, decodes and
// checks signatures; every decision about whether to believe a response is made here, in the
// order of RFC 6960 3.2:
//
//  1. responseStatus is successful and the response is a BasicOCSPResponse (4.2.1).
//  2. The signer (3.2 items 2-3, 4.2.2.2) is found by the responderID among the issuer and the
//     certificates in the response, and is either the issuer itself, or a delegated responder:
//     a certificate whose issuer name is the issuer's subject, whose signature verifies with the
//     issuer's key, which carries id-kp-OCSPSigning in extKeyUsage (anyExtendedKeyUsage does not
//     count), is within its validity at `now`, and allows digitalSignature if it has keyUsage.
//     The signature over tbsResponseData verifies with the signer's key. OCSP_basic_verify is
//     deliberately not used: its flags (OCSP_TRUSTOTHER, OCSP_NOCHECKS, ...) can skip exactly
//     the delegation check that matters.
//  3. A SingleResponse carries our CertID (compared with the hash algorithm the responder used;
//     requests use SHA-1, as responders expect).
//  4. thisUpdate is not after now + allowed skew; nextUpdate, when present, is not before
//     now - allowed skew; without nextUpdate the response must be younger than a maximum age.
//  5. The nonce, when one was sent, is echoed exactly (RFC 8954).
//  6. No unknown critical extension in responseExtensions or singleExtensions.
//
// What it does not do: check the revocation status of a delegated responder certificate (as if
// every one carried id-pkix-ocsp-nocheck, which the fixtures' responder does; RFC 6960 4.2.2.2.1
// leaves the choice to the CA), fetch anything (revocation.hpp does), or cache (RevocationCache).

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/error.hpp"
#include "pki/budget.hpp"
#include "pki/certificate.hpp"

namespace parley::pki {

inline constexpr const char* kOcspRequestContentType = "application/ocsp-request";
inline constexpr const char* kOcspResponseContentType = "application/ocsp-response";

enum class OcspNonceMode {
  send_and_require_echo,  // a fresh random nonce; a response without it is not believed
  omit,                   // for responders that serve pre-signed responses (RFC 5019)
};

struct OcspRequest {
  std::string der;    // an OCSPRequest, to POST as application/ocsp-request (RFC 6960 A.1)
  std::string nonce;  // the nonce extension's extnValue as sent; empty when none was sent
};

// One request for `certificate`, issued by `issuer`, with a SHA-1 CertID.
Result<OcspRequest> build_ocsp_request(const Certificate& certificate, const Certificate& issuer,
                                       OcspNonceMode nonce_mode);

enum class OcspStatus {
  good,     // a verified response says the certificate is not revoked
  revoked,  // a verified response says it is revoked
  unknown,  // a verified response says the responder does not know it (never "good")
  invalid,  // the response cannot be believed or does not answer; detail says why
};

const char* to_string(OcspStatus status);

struct OcspResult {
  OcspStatus status = OcspStatus::invalid;
  std::string detail;  // one line for logs and reports
  std::optional<UnixTime> revocation_time;
  std::optional<int> revocation_reason;  // CRLReason (RFC 5280 5.3.1) when the responder gave one
  UnixTime this_update = 0;
  std::optional<UnixTime> next_update;  // absent: the responder promises nothing; do not cache
  std::string signer;                   // "issuer" or the delegated responder's subject
};

struct OcspVerifyOptions {
  UnixTime now = 0;
  std::chrono::seconds allowed_clock_skew{300};
  // A response without nextUpdate says "newer information is always available" (RFC 6960
  // 2.4); it is believed only this long after its thisUpdate.
  std::chrono::seconds max_age_without_next_update{std::chrono::hours(1)};
  // The nonce of the request this response answers (OcspRequest::nonce). nullopt when none was
  // sent: stapled responses and responses from a responder asked without one.
  std::optional<std::string> expected_nonce;
};

// Verifies a DER OCSPResponse about `certificate` (issued by `issuer`). Each signature check
// spends from `budget`; running out makes the response invalid. Never throws.
OcspResult verify_ocsp_response(std::span<const std::uint8_t> der, const Certificate& certificate,
                                const Certificate& issuer, const OcspVerifyOptions& options,
                                Budget& budget);

// RFC 5280 5.3.1 reason names ("keyCompromise", ...), "unspecified" for unknown codes.
const char* crl_reason_name(int reason);

}  // namespace parley::pki
