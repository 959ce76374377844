#pragma once
// Certificate revocation lists (RFC 5280 5 and 6.3), for CRLs the caller already has: given on the
// command line, fetched from a CRL distribution point by the revocation layer, or in a test case.
//
// check_crl answers one question for one certificate: do the CRLs at hand say it is revoked? It
// verifies each candidate CRL before believing it: issuer name equals the certificate's issuer,
// signature by the issuer's key, the issuer may sign CRLs (keyUsage cRLSign when keyUsage is
// present), version 2 with a cRLNumber (RFC 5280 5.2.3: conforming issuers MUST include it; it is
// never critical), no unknown critical CRL or entry extensions, no encoding defect (see defect()),
// thisUpdate <= now <= nextUpdate (if any). CRLs about other issuers are ignored, whatever they
// list. Revocation on any usable CRL wins over every other CRL; otherwise one usable CRL that does
// not list the certificate makes it good; otherwise CRLs from its issuer that all failed make it
// invalid, which the caller must treat as a failure (never as "no information").
//
// What it does not do: fetch (net/), delta CRLs (rejected: deltaCRLIndicator is an unsupported
// critical extension), indirect CRLs (an entry's certificateIssuer is likewise rejected), or
// partitioned CRLs by issuingDistributionPoint scope: a CRL with any issuingDistributionPoint is
// not used to declare a certificate good (it may still prove revocation). Reason codes and
// revocation dates are not consulted: listed is revoked, certificateHold included. Each call
// verifies CRL signatures afresh (one Budget signature check per CRL that passes the cheap checks).

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/budget.hpp"
#include "pki/certificate.hpp"

typedef struct X509_crl_st X509_CRL;  // NOLINT: OpenSSL's own forward declaration

namespace parley::pki {

class Crl;
using CrlPtr = std::shared_ptr<const Crl>;

class Crl {
 public:
  static Result<CrlPtr> from_der(std::span<const std::uint8_t> der);
  static Result<std::vector<CrlPtr>> from_pem(std::string_view pem);  // "X509 CRL" blocks
  static Result<std::vector<CrlPtr>> from_pem_or_der(std::string_view data);

  ~Crl();
  Crl(const Crl&) = delete;
  Crl& operator=(const Crl&) = delete;

  X509_CRL* openssl() const { return crl_; }
  const DistinguishedName& issuer() const { return issuer_; }
  UnixTime this_update() const { return this_update_; }
  std::optional<UnixTime> next_update() const { return next_update_; }
  int version() const { return version_; }  // 1 or 2; anything else is unsupported
  const std::optional<std::string>& crl_number() const { return crl_number_; }  // big-endian bytes
  bool crl_number_critical() const { return crl_number_critical_; }
  bool has_unknown_critical_extension() const { return unknown_critical_; }
  // The first critical CRL or entry extension Parley cannot process (RFC 5280 5.2, 5.3), e.g.
  // "2.5.29.27" (deltaCRLIndicator) or "entry 2.5.29.29" (certificateIssuer); empty if none.
  const std::string& unknown_critical_extension() const { return unknown_critical_oid_; }
  // Why the CRL must not be used although OpenSSL decoded it (a duplicate extension, a negative
  // or over-long cRLNumber, tbsCertList.signature != signatureAlgorithm, ...); empty if nothing.
  const std::string& defect() const { return defect_; }
  bool has_issuing_distribution_point() const { return has_idp_; }
  // True when an entry with exactly this serial (big-endian magnitude, as Certificate::serial)
  // is listed.
  bool lists_serial(std::string_view serial) const;

 private:
  Crl() = default;
  X509_CRL* crl_ = nullptr;
  DistinguishedName issuer_;
  UnixTime this_update_ = 0;
  std::optional<UnixTime> next_update_;
  int version_ = 1;
  std::optional<std::string> crl_number_;
  bool crl_number_critical_ = false;
  bool unknown_critical_ = false;
  std::string unknown_critical_oid_;
  std::string defect_;
  bool has_idp_ = false;
  std::vector<std::string> revoked_serials_;  // sorted, for binary search
};

enum class CrlVerdict {
  good,     // a valid CRL from this issuer covers the certificate and does not list it
  revoked,  // a valid CRL from this issuer lists it
  unknown,  // no valid CRL for this issuer was supplied
  invalid,  // CRLs from this issuer were supplied but none could be trusted (the details say why)
};

const char* to_string(CrlVerdict verdict);

struct CrlCheckResult {
  CrlVerdict verdict = CrlVerdict::unknown;
  std::string detail;
};

CrlCheckResult check_crl(const Certificate& certificate, const Certificate& issuer,
                         std::span<const CrlPtr> crls, UnixTime now, Budget& budget);

}  // namespace parley::pki
