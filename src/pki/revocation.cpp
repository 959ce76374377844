#include "pki/revocation.hpp"

#include <algorithm>
#include <ctime>
#include <utility>

#include "core/utc_time.hpp"

namespace parley::pki {

namespace {

using SteadyClock = std::chrono::steady_clock;

// How many failed attempts a message quotes before summarising; the result keeps them all.
constexpr std::size_t kMaxAttemptsInMessage = 4;

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string describe_time(UnixTime time) {
  return utc_timestamp(time);
}

std::string describe_certificate(const Certificate& certificate) {
  return certificate.subject().to_display_string();
}

// The shared time allowance of one check: every fetch gets at most what is left of it.
class Deadline {
 public:
  explicit Deadline(std::chrono::milliseconds allowance)
      : allowance_(allowance), end_(SteadyClock::now() + allowance) {}

  std::chrono::milliseconds remaining() const {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end_ - SteadyClock::now());
    return std::max(left, std::chrono::milliseconds(0));
  }
  std::chrono::milliseconds allowance() const { return allowance_; }

  // The limits for one fetch: the configured ones, shortened to the time left.
  std::optional<net::HttpFetchLimits> limit(net::HttpFetchLimits limits) const {
    const auto left = remaining();
    if (left.count() <= 0) return std::nullopt;
    limits.connect_timeout = std::min(limits.connect_timeout, left);
    limits.total_timeout = std::min(limits.total_timeout, left);
    return limits;
  }

 private:
  std::chrono::milliseconds allowance_;
  SteadyClock::time_point end_;
};

struct Sources {
  std::vector<std::string> ocsp_urls;
  std::vector<std::string> crl_urls;
  std::vector<RevocationAttempt> skipped;  // non-http URLs and those beyond the bound
};

// The http:// URLs a certificate names, up to the policy's bound per kind.
Sources sources_of(const Certificate& certificate, const RevocationPolicy& policy) {
  Sources sources;
  auto take = [&](const std::vector<std::string>& urls, RevocationSource kind,
                  std::vector<std::string>& into) {
    for (const std::string& url : urls) {
      if (!net::is_http_url(url)) {
        sources.skipped.push_back(
            {kind, url, false, false, "not fetched: only http:// URLs are used for revocation"});
      } else if (into.size() >= policy.max_urls_per_certificate) {
        sources.skipped.push_back({kind, url, false, false,
                                   "not fetched: more than " +
                                       std::to_string(policy.max_urls_per_certificate) +
                                       " URLs of this kind"});
      } else {
        into.push_back(url);
      }
    }
  };
  take(certificate.ocsp_urls(), RevocationSource::ocsp, sources.ocsp_urls);
  take(certificate.crl_distribution_urls(), RevocationSource::crl, sources.crl_urls);
  return sources;
}

std::string describe_ocsp_outcome(const OcspResult& result) {
  switch (result.status) {
    case OcspStatus::good:
      return "good (signed by " + result.signer + ")";
    case OcspStatus::revoked: {
      std::string text = "revoked";
      if (result.revocation_reason) {
        text += std::string(" (") + crl_reason_name(*result.revocation_reason) + ")";
      }
      if (result.revocation_time) text += " since " + describe_time(*result.revocation_time);
      return text;
    }
    case OcspStatus::unknown:
      return "the responder does not know this certificate";
    case OcspStatus::invalid:
      return "unusable response: " + result.detail;
  }
  return result.detail;
}

// Checks one certificate against its issuer. Stops at the first verified answer.
class CertificateCheck {
 public:
  CertificateCheck(const Certificate& certificate, const Certificate& issuer,
                   const RevocationPolicy& policy, RevocationCache& cache,
                   const RevocationFetcher& fetch, const Deadline& deadline, Budget& budget,
                   CertificateRevocation& out)
      : certificate_(certificate),
        issuer_(issuer),
        policy_(policy),
        cache_(cache),
        fetch_(fetch),
        deadline_(deadline),
        budget_(budget),
        out_(out) {}

  void run(std::span<const std::uint8_t> stapled) {
    const Sources sources = sources_of(certificate_, policy_);
    const bool has_sources =
        !stapled.empty() || !sources.ocsp_urls.empty() || !sources.crl_urls.empty();

    if (!stapled.empty() && try_stapled(stapled)) return;
    if (!sources.ocsp_urls.empty() && try_ocsp_cache()) return;
    for (const std::string& url : sources.ocsp_urls) {
      if (try_ocsp(url)) return;
    }
    for (const std::string& url : sources.crl_urls) {
      if (try_crl(url)) return;
    }
    for (const RevocationAttempt& skipped : sources.skipped) out_.attempts.push_back(skipped);

    if (!has_sources) {
      out_.status = CertificateRevocationStatus::no_revocation_information;
      out_.detail = sources.skipped.empty()
                        ? "no revocation information (no OCSP URL in AIA, no CDP)"
                        : "no usable revocation information (no http:// OCSP or CDP URL)";
      return;
    }
    out_.status = CertificateRevocationStatus::unavailable;
    out_.detail = "revocation status unavailable: " + failed_attempts_text();
  }

 private:
  bool try_stapled(std::span<const std::uint8_t> stapled) {
    // A stapled response never answers our nonce; freshness and signer are checked as usual.
    const OcspResult result =
        verify_ocsp_response(stapled, certificate_, issuer_, ocsp_options(std::nullopt), budget_);
    return conclude_ocsp(RevocationSource::stapled_ocsp, "", result, false);
  }

  bool try_ocsp_cache() {
    const auto cached =
        cache_.find_ocsp(RevocationCache::ocsp_key(certificate_, issuer_), policy_.now);
    if (!cached) return false;
    return conclude_ocsp(RevocationSource::ocsp, "", *cached, true);
  }

  bool try_ocsp(const std::string& url) {
    const auto limits = deadline_.limit(policy_.ocsp_fetch);
    if (!limits) return record_out_of_time(RevocationSource::ocsp, url);
    auto request = build_ocsp_request(certificate_, issuer_, policy_.ocsp_nonce);
    if (!request) {
      out_.attempts.push_back({RevocationSource::ocsp, url, false, false,
                               "cannot build the OCSP request: " + request.error().message});
      return false;
    }
    net::HttpRequest http;
    http.method = net::HttpMethod::post;  // RFC 6960 A.1
    http.url = url;
    http.content_type = kOcspRequestContentType;
    http.accept = kOcspResponseContentType;
    http.body = request->der;
    auto response = fetch_(http, *limits);
    if (!response) {
      out_.attempts.push_back(
          {RevocationSource::ocsp, url, false, false, "OCSP " + response.error().message});
      return false;
    }
    std::optional<std::string> nonce;
    if (!request->nonce.empty()) nonce = request->nonce;
    const OcspResult result = verify_ocsp_response(bytes_of(response->body), certificate_, issuer_,
                                                   ocsp_options(nonce), budget_);
    if (result.status == OcspStatus::good || result.status == OcspStatus::revoked) {
      cache_.store_ocsp(RevocationCache::ocsp_key(certificate_, issuer_), result);
    }
    return conclude_ocsp(RevocationSource::ocsp, url, result, false);
  }

  bool try_crl(const std::string& url) {
    if (auto cached = cache_.find_crls(url, policy_.now)) {
      return conclude_crl(url, *cached, true);
    }
    const auto limits = deadline_.limit(policy_.crl_fetch);
    if (!limits) return record_out_of_time(RevocationSource::crl, url);
    net::HttpRequest http;
    http.method = net::HttpMethod::get;
    http.url = url;
    auto response = fetch_(http, *limits);
    if (!response) {
      out_.attempts.push_back(
          {RevocationSource::crl, url, false, false, "CRL " + response.error().message});
      return false;
    }
    auto crls = Crl::from_pem_or_der(response->body);
    if (!crls) {
      out_.attempts.push_back({RevocationSource::crl, url, false, false,
                               "CRL from " + url + " cannot be parsed: " + crls.error().message});
      return false;
    }
    const bool concluded = conclude_crl(url, *crls, false);
    // Only CRLs that answered (so passed every check) are worth keeping, and only until the
    // earliest nextUpdate among them; a CRL without nextUpdate is not kept at all.
    if (concluded) {
      std::optional<UnixTime> expires;
      for (const CrlPtr& crl : *crls) {
        if (!crl->next_update()) {
          expires.reset();
          break;
        }
        expires = expires ? std::min(*expires, *crl->next_update()) : *crl->next_update();
      }
      if (expires) cache_.store_crls(url, std::move(*crls), response->body.size(), *expires);
    }
    return concluded;
  }

  bool conclude_ocsp(RevocationSource source, const std::string& url, const OcspResult& result,
                     bool from_cache) {
    const std::string where = url.empty() ? std::string() : url + ": ";
    RevocationAttempt attempt{source, url, from_cache, false, describe_ocsp_outcome(result)};
    if (result.status == OcspStatus::good || result.status == OcspStatus::revoked) {
      attempt.conclusive = true;
      out_.attempts.push_back(attempt);
      const std::string by =
          std::string(source == RevocationSource::stapled_ocsp ? "stapled OCSP response" : "OCSP") +
          (url.empty() ? "" : " " + url) + (from_cache ? " (cached)" : "");
      if (result.status == OcspStatus::good) {
        out_.status = CertificateRevocationStatus::good;
        out_.detail = "not revoked according to " + by;
      } else {
        out_.status = CertificateRevocationStatus::revoked;
        out_.revocation_time = result.revocation_time;
        out_.revocation_reason = result.revocation_reason;
        out_.detail = describe_ocsp_outcome(result) + " according to " + by;
      }
      return true;
    }
    attempt.outcome =
        (source == RevocationSource::stapled_ocsp ? "stapled OCSP response: " : "OCSP " + where) +
        attempt.outcome;
    out_.attempts.push_back(std::move(attempt));
    return false;
  }

  bool conclude_crl(const std::string& url, std::span<const CrlPtr> crls, bool from_cache) {
    const CrlCheckResult checked = check_crl(certificate_, issuer_, crls, policy_.now, budget_);
    RevocationAttempt attempt{RevocationSource::crl, url, from_cache, false, {}};
    const std::string by = "CRL " + url + (from_cache ? " (cached)" : "");
    switch (checked.verdict) {
      case CrlVerdict::good:
        attempt.conclusive = true;
        attempt.outcome = "good: " + checked.detail;
        out_.attempts.push_back(std::move(attempt));
        out_.status = CertificateRevocationStatus::good;
        out_.detail = "not revoked according to " + by;
        return true;
      case CrlVerdict::revoked:
        attempt.conclusive = true;
        attempt.outcome = "revoked: " + checked.detail;
        out_.attempts.push_back(std::move(attempt));
        out_.status = CertificateRevocationStatus::revoked;
        out_.detail = "revoked according to " + by;
        return true;
      case CrlVerdict::unknown:
      case CrlVerdict::invalid:
        attempt.outcome = by + ": " + checked.detail;
        out_.attempts.push_back(std::move(attempt));
        return false;
    }
    return false;
  }

  bool record_out_of_time(RevocationSource source, const std::string& url) {
    out_.attempts.push_back({source, url, false, false,
                             std::string(to_string(source)) + " " + url +
                                 ": not fetched: revocation checking used " +
                                 "up its overall time limit of " +
                                 std::to_string(deadline_.allowance().count()) + " ms"});
    return false;
  }

  OcspVerifyOptions ocsp_options(std::optional<std::string> nonce) const {
    OcspVerifyOptions options;
    options.now = policy_.now;
    options.allowed_clock_skew = policy_.allowed_clock_skew;
    options.max_age_without_next_update = policy_.ocsp_max_age_without_next_update;
    options.expected_nonce = std::move(nonce);
    return options;
  }

  std::string failed_attempts_text() const {
    std::string text;
    std::size_t shown = 0;
    for (const RevocationAttempt& attempt : out_.attempts) {
      if (attempt.conclusive) continue;
      if (shown == kMaxAttemptsInMessage) {
        text += "; and more";
        break;
      }
      if (shown > 0) text += "; ";
      text += attempt.outcome;
      ++shown;
    }
    return text;
  }

  const Certificate& certificate_;
  const Certificate& issuer_;
  const RevocationPolicy& policy_;
  RevocationCache& cache_;
  const RevocationFetcher& fetch_;
  const Deadline& deadline_;
  Budget& budget_;
  CertificateRevocation& out_;
};

// Banded like Botan's status codes: the worst finding decides the overall verdict and message.
RevocationResult summarise(std::vector<CertificateRevocation> certificates, RevocationMode mode) {
  RevocationResult result;
  result.certificates = std::move(certificates);
  const CertificateRevocation* revoked = nullptr;
  const CertificateRevocation* unavailable = nullptr;
  std::size_t without_information = 0;
  for (const CertificateRevocation& entry : result.certificates) {
    if (entry.status == CertificateRevocationStatus::revoked && revoked == nullptr) {
      revoked = &entry;
    }
    if (entry.status == CertificateRevocationStatus::unavailable && unavailable == nullptr) {
      unavailable = &entry;
    }
    if (entry.status == CertificateRevocationStatus::no_revocation_information) {
      ++without_information;
    }
  }
  if (revoked != nullptr) {
    result.verdict = RevocationVerdict::revoked;
    result.message =
        "certificate " + describe_certificate(*revoked->certificate) + " is " + revoked->detail;
    return result;
  }
  if (unavailable != nullptr) {
    result.verdict = mode == RevocationMode::soft ? RevocationVerdict::unavailable_accepted
                                                  : RevocationVerdict::unavailable;
    result.message = "cannot check revocation of " +
                     describe_certificate(*unavailable->certificate) + ": " + unavailable->detail +
                     (mode == RevocationMode::soft ? " (accepted: revocation = soft)" : "");
    return result;
  }
  result.verdict = RevocationVerdict::good;
  result.message = without_information == 0
                       ? "no certificate is revoked"
                       : "no certificate is revoked; " + std::to_string(without_information) +
                             " carry no revocation information";
  return result;
}

}  // namespace

const char* to_string(RevocationMode mode) {
  switch (mode) {
    case RevocationMode::hard:
      return "hard";
    case RevocationMode::soft:
      return "soft";
    case RevocationMode::off:
      return "off";
  }
  return "hard";
}

Result<RevocationMode> parse_revocation_mode(std::string_view text) {
  if (text == "hard") return RevocationMode::hard;
  if (text == "soft") return RevocationMode::soft;
  if (text == "off") return RevocationMode::off;
  return fail(Error::invalid_argument("revocation mode must be hard, soft or off, not \"" +
                                      std::string(text.substr(0, 32)) + "\""));
}

const char* to_string(RevocationSource source) {
  switch (source) {
    case RevocationSource::stapled_ocsp:
      return "stapled OCSP";
    case RevocationSource::ocsp:
      return "OCSP";
    case RevocationSource::crl:
      return "CRL";
  }
  return "OCSP";
}

const char* to_string(CertificateRevocationStatus status) {
  switch (status) {
    case CertificateRevocationStatus::good:
      return "good";
    case CertificateRevocationStatus::revoked:
      return "revoked";
    case CertificateRevocationStatus::no_revocation_information:
      return "no revocation information";
    case CertificateRevocationStatus::unavailable:
      return "unavailable";
    case CertificateRevocationStatus::not_checked:
      return "not checked";
  }
  return "unavailable";
}

const char* to_string(RevocationVerdict verdict) {
  switch (verdict) {
    case RevocationVerdict::good:
      return "good";
    case RevocationVerdict::revoked:
      return "revoked";
    case RevocationVerdict::unavailable:
      return "unavailable";
    case RevocationVerdict::unavailable_accepted:
      return "unavailable (accepted)";
    case RevocationVerdict::not_checked:
      return "not checked";
  }
  return "unavailable";
}

// --- RevocationCache ----------------------------------------------------------------------------

std::string RevocationCache::ocsp_key(const Certificate& certificate, const Certificate& issuer) {
  return issuer.sha256_fingerprint() + '/' + certificate.serial();
}

std::optional<OcspResult> RevocationCache::find_ocsp(const std::string& key, UnixTime now) {
  const std::lock_guard lock(mutex_);
  const auto found = ocsp_.find(key);
  if (found == ocsp_.end()) return std::nullopt;
  if (now > found->second.expires || now < found->second.result.this_update) {
    // Past nextUpdate, or a clock that went backwards: either way, ask again.
    ocsp_.erase(found);
    return std::nullopt;
  }
  return found->second.result;
}

void RevocationCache::store_ocsp(const std::string& key, const OcspResult& result) {
  if (result.status != OcspStatus::good && result.status != OcspStatus::revoked) return;
  if (!result.next_update || limits_.max_ocsp_entries == 0) return;
  const std::lock_guard lock(mutex_);
  if (!ocsp_.contains(key) && ocsp_.size() >= limits_.max_ocsp_entries) {
    // The entry that expires first is the least valuable; bounded scan (max_ocsp_entries).
    auto soonest = std::min_element(ocsp_.begin(), ocsp_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    ocsp_.erase(soonest);
  }
  ocsp_[key] = OcspEntry{result, *result.next_update};
}

std::optional<std::vector<CrlPtr>> RevocationCache::find_crls(const std::string& url,
                                                              UnixTime now) {
  const std::lock_guard lock(mutex_);
  const auto found = crls_.find(url);
  if (found == crls_.end()) return std::nullopt;
  if (now > found->second.expires) {
    crl_bytes_ -= found->second.encoded_bytes;
    crls_.erase(found);
    return std::nullopt;
  }
  return found->second.crls;
}

void RevocationCache::store_crls(const std::string& url, std::vector<CrlPtr> crls,
                                 std::size_t encoded_bytes, UnixTime expires) {
  if (limits_.max_crl_urls == 0 || encoded_bytes > limits_.max_crl_bytes) return;
  const std::lock_guard lock(mutex_);
  if (const auto existing = crls_.find(url); existing != crls_.end()) {
    crl_bytes_ -= existing->second.encoded_bytes;
    crls_.erase(existing);
  }
  // Make room by dropping the entries that expire first (bounded by max_crl_urls).
  while (!crls_.empty() && (crls_.size() >= limits_.max_crl_urls ||
                            crl_bytes_ + encoded_bytes > limits_.max_crl_bytes)) {
    auto soonest = std::min_element(crls_.begin(), crls_.end(), [](const auto& a, const auto& b) {
      return a.second.expires < b.second.expires;
    });
    crl_bytes_ -= soonest->second.encoded_bytes;
    crls_.erase(soonest);
  }
  crl_bytes_ += encoded_bytes;
  crls_[url] = CrlEntry{std::move(crls), encoded_bytes, expires};
}

std::size_t RevocationCache::ocsp_entries() const {
  const std::lock_guard lock(mutex_);
  return ocsp_.size();
}

std::size_t RevocationCache::crl_entries() const {
  const std::lock_guard lock(mutex_);
  return crls_.size();
}

void RevocationCache::clear() {
  const std::lock_guard lock(mutex_);
  ocsp_.clear();
  crls_.clear();
  crl_bytes_ = 0;
}

// --- check_revocation ---------------------------------------------------------------------------

RevocationResult check_revocation(const VerifiedPath& path, const RevocationPolicy& policy,
                                  RevocationCache& cache,
                                  std::span<const std::uint8_t> stapled_ocsp_response) {
  return check_revocation(path, policy, cache, stapled_ocsp_response,
                          RevocationFetcher(&net::http_fetch));
}

RevocationResult check_revocation(const VerifiedPath& path, const RevocationPolicy& policy,
                                  RevocationCache& cache,
                                  std::span<const std::uint8_t> stapled_ocsp_response,
                                  const RevocationFetcher& fetch) {
  const auto& chain = path.certificates();
  std::vector<CertificateRevocation> checked;
  // The anchor is trusted by configuration, not by a CA that could revoke it.
  const std::size_t below_anchor = chain.empty() ? 0 : chain.size() - 1;

  if (policy.mode == RevocationMode::off) {
    for (std::size_t i = 0; i < below_anchor; ++i) {
      checked.push_back({chain[i],
                         i,
                         CertificateRevocationStatus::not_checked,
                         "revocation checking is off",
                         std::nullopt,
                         std::nullopt,
                         {}});
    }
    RevocationResult result;
    result.verdict = RevocationVerdict::not_checked;
    result.message = "revocation not checked (revocation = off)";
    result.certificates = std::move(checked);
    return result;
  }

  const Deadline deadline(policy.overall_deadline);
  Budget budget(policy.budget);
  for (std::size_t i = 0; i < below_anchor; ++i) {  // bounded by kMaxPathCertificates
    CertificateRevocation entry;
    entry.certificate = chain[i];
    entry.position = i;
    CertificateCheck check(*chain[i], *chain[i + 1], policy, cache, fetch, deadline, budget, entry);
    check.run(i == 0 ? stapled_ocsp_response : std::span<const std::uint8_t>());
    const bool revoked = entry.status == CertificateRevocationStatus::revoked;
    checked.push_back(std::move(entry));
    // Revoked is final; asking about the rest of the chain cannot change the verdict.
    if (revoked) break;
  }
  return summarise(std::move(checked), policy.mode);
}

}  // namespace parley::pki
