#pragma once
// Revocation checking for a verified path (ARCHITECTURE.md: the stage after identity), as the
// spec's "Revocation Servers" section asks:
//
//  - For every certificate below the trust anchor (leaf first), sources are tried in order until
//    one gives a verified answer: the stapled OCSP response (leaf only), OCSP from each http://
//    AIA responder URL, then the CRL from each http:// CDP URL (fetched, parsed, judged by
//    check_crl). A verified "revoked" from any source ends the check: that is final.
//  - revoked: the result is RevocationVerdict::revoked, a verdict of its own that no prompt and
//    no policy may turn into a connection.
//  - sources exist but none answers usably (unreachable, timeout, HTTP error, garbage, stale,
//    wrong signer, "unknown"): under `hard` (the default) the connection is refused with a
//    message naming each URL and its failure; under `soft` it is accepted and the result says
//    so, for the log; under `off` nothing is fetched.
//  - no revocation information (no http:// OCSP URL, no http:// CDP URL, nothing stapled): the
//    certificate proceeds silently and the result records it. URLs with other schemes (ldap://,
//    https://) are not fetched (see net/http_fetch.hpp) and count as no information; they are
//    listed in the attempts so the log shows why.
//  - verified answers with a nextUpdate are cached in the RevocationCache the caller passes, until
//    that nextUpdate. Every fetch has a connect and total timeout and a size limit, and all fetches
//    of one check share an overall deadline, so a slow responder cannot hang a connection attempt.
//
// What it does not do: check the revocation of delegated OCSP responders (ocsp.hpp), use delta
// CRLs or indirect CRLs (crl.hpp), or decide about prompts (client::TrustDecision combines this
// result with the others; it must never offer a prompt for `revoked`).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "net/http_fetch.hpp"
#include "pki/budget.hpp"
#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/ocsp.hpp"
#include "pki/verify.hpp"

namespace parley::pki {

enum class RevocationMode {
  hard,  // status unavailable -> refuse (the spec's behaviour; the default)
  soft,  // status unavailable -> accept, recorded for the log; revoked is still refused
  off,   // nothing is checked or fetched
};

const char* to_string(RevocationMode mode);
// "hard" | "soft" | "off", for configuration files and --revocation.
Result<RevocationMode> parse_revocation_mode(std::string_view text);

struct RevocationPolicy {
  RevocationMode mode = RevocationMode::hard;
  UnixTime now = 0;  // the moment to judge freshness at; the caller chooses (now, or --at)
  net::HttpFetchLimits ocsp_fetch{std::chrono::milliseconds(3000), std::chrono::milliseconds(5000),
                                  64 * 1024, 2, std::nullopt};
  net::HttpFetchLimits crl_fetch{std::chrono::milliseconds(3000), std::chrono::milliseconds(10000),
                                 16 * 1024 * 1024, 2, std::nullopt};
  // All fetches of one check_revocation call together; each fetch's timeouts are cut to what is
  // left of it.
  std::chrono::milliseconds overall_deadline{15000};
  OcspNonceMode ocsp_nonce = OcspNonceMode::send_and_require_echo;
  std::chrono::seconds allowed_clock_skew{300};
  std::chrono::seconds ocsp_max_age_without_next_update{std::chrono::hours(1)};
  // URLs tried per certificate and per kind (AIA OCSP, CDP); certificates may list more.
  std::size_t max_urls_per_certificate = 4;
  BudgetLimits budget;
};

enum class RevocationSource { stapled_ocsp, ocsp, crl };
const char* to_string(RevocationSource source);

// One source consulted for one certificate, for logs and reports.
struct RevocationAttempt {
  RevocationSource source = RevocationSource::ocsp;
  std::string url;          // empty for a stapled response and a cached OCSP answer
  bool from_cache = false;  // answered from the RevocationCache, nothing fetched
  bool conclusive = false;  // gave a verified good or revoked
  std::string outcome;      // "good", "revoked (keyCompromise)", or the failure naming the URL
};

enum class CertificateRevocationStatus {
  good,                       // a verified OCSP response or CRL says it is not revoked
  revoked,                    // a verified OCSP response or CRL says it is revoked
  no_revocation_information,  // nothing to ask: proceed silently, logged
  unavailable,                // sources exist, none gave a usable answer
  not_checked,                // RevocationMode::off
};

const char* to_string(CertificateRevocationStatus status);

struct CertificateRevocation {
  CertificatePtr certificate;
  std::size_t position = 0;  // in the verified path, 0 = leaf
  CertificateRevocationStatus status = CertificateRevocationStatus::unavailable;
  std::string detail;  // one line
  std::optional<UnixTime> revocation_time;
  std::optional<int> revocation_reason;  // CRLReason, from OCSP only (CRL reasons not consulted)
  std::vector<RevocationAttempt> attempts;
};

enum class RevocationVerdict {
  good,                  // every certificate good or without revocation information
  revoked,               // a certificate is revoked: refuse, never prompt
  unavailable,           // hard mode, status unknown for a certificate: refuse
  unavailable_accepted,  // soft mode, status unknown for a certificate: accepted, logged
  not_checked,           // off
};

const char* to_string(RevocationVerdict verdict);

struct RevocationResult {
  RevocationVerdict verdict = RevocationVerdict::unavailable;
  std::string message;                              // the most specific finding, one line
  std::vector<CertificateRevocation> certificates;  // leaf first, anchor excluded

  bool allows_connection() const {
    return verdict == RevocationVerdict::good ||
           verdict == RevocationVerdict::unavailable_accepted ||
           verdict == RevocationVerdict::not_checked;
  }
};

struct RevocationCacheLimits {
  std::size_t max_ocsp_entries = 1024;
  std::size_t max_crl_urls = 32;
  std::size_t max_crl_bytes = 64 * 1024 * 1024;  // DER/PEM size of all cached CRLs together
};

// Verified OCSP answers and fetched CRLs, in memory, until their nextUpdate. Bounded: when full,
// expired entries go first, then those expiring soonest. Safe to share between threads.
class RevocationCache {
 public:
  explicit RevocationCache(RevocationCacheLimits limits = {}) : limits_(limits) {}

  // Key: the issuer certificate and the serial number, i.e. what an OCSP CertID names.
  static std::string ocsp_key(const Certificate& certificate, const Certificate& issuer);

  std::optional<OcspResult> find_ocsp(const std::string& key, UnixTime now);
  // Keeps only good/revoked answers that have a nextUpdate.
  void store_ocsp(const std::string& key, const OcspResult& result);

  std::optional<std::vector<CrlPtr>> find_crls(const std::string& url, UnixTime now);
  // Keeps the CRLs fetched from `url` until `expires` (their earliest nextUpdate).
  void store_crls(const std::string& url, std::vector<CrlPtr> crls, std::size_t encoded_bytes,
                  UnixTime expires);

  std::size_t ocsp_entries() const;
  std::size_t crl_entries() const;
  void clear();

 private:
  struct OcspEntry {
    OcspResult result;
    UnixTime expires = 0;
  };
  struct CrlEntry {
    std::vector<CrlPtr> crls;
    std::size_t encoded_bytes = 0;
    UnixTime expires = 0;
  };

  RevocationCacheLimits limits_;
  mutable std::mutex mutex_;
  std::map<std::string, OcspEntry> ocsp_;
  std::map<std::string, CrlEntry> crls_;
  std::size_t crl_bytes_ = 0;
};

// Fetches one URL; net::http_fetch in production, a table of canned answers in unit tests.
using RevocationFetcher =
    std::function<Result<net::HttpResponse>(const net::HttpRequest&, const net::HttpFetchLimits&)>;

// Checks every certificate of `path` below the anchor. `stapled_ocsp_response` is the DER OCSP
// response the TLS peer stapled for the leaf (empty when none). Never throws.
RevocationResult check_revocation(const VerifiedPath& path, const RevocationPolicy& policy,
                                  RevocationCache& cache,
                                  std::span<const std::uint8_t> stapled_ocsp_response = {});
RevocationResult check_revocation(const VerifiedPath& path, const RevocationPolicy& policy,
                                  RevocationCache& cache,
                                  std::span<const std::uint8_t> stapled_ocsp_response,
                                  const RevocationFetcher& fetch);

}  // namespace parley::pki
