// Whole-suite speed: every x509-limbo case verified by Parley and by OpenSSL's X509_verify_cert,
// in the same process, on the same parsed JSON. Each side starts from the PEM text of the case
// (parsing is part of the work, as in a real TLS handshake) and the JSON is read once, outside
// both timings. OpenSSL is configured like x509-limbo's own OpenSSL harness: the case's time,
// host or IP, max depth and the SSL server/client purpose.
//
// usage: limbo_speed LIMBO_JSON [ROUNDS]
// Prints each side's total, per-case mean, and openssl/parley (above 1: Parley is faster).

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "pki/identity.hpp"
#include "pki/verify.hpp"

namespace json = boost::json;
using namespace parley;
using namespace parley::pki;

namespace {

struct Case {
  std::vector<std::string> trusted, intermediates;
  std::string leaf;
  std::string peer_name;
  bool peer_is_ip = false;
  bool client = false;
  std::optional<int> max_depth;
  UnixTime time = 0;
};

UnixTime parse_time(const json::value& v) {
  if (!v.is_string()) return static_cast<UnixTime>(std::time(nullptr));
  std::tm tm{};
  std::sscanf(std::string(v.as_string()).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year,
              &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<UnixTime>(timegm(&tm));
}

std::vector<Case> load(const char* path) {
  auto text = read_file(path, 512u * 1024 * 1024);
  if (!text) {
    std::fprintf(stderr, "limbo_speed: %s\n", text.error().message.c_str());
    std::exit(2);
  }
  std::vector<Case> cases;
  const json::value limbo = json::parse(*text);
  for (const auto& v : limbo.at("testcases").as_array()) {
    const auto& t = v.as_object();
    Case c;
    for (const auto& p : t.at("trusted_certs").as_array()) c.trusted.emplace_back(p.as_string());
    for (const auto& p : t.at("untrusted_intermediates").as_array())
      c.intermediates.emplace_back(p.as_string());
    c.leaf = std::string(t.at("peer_certificate").as_string());
    c.client = t.at("validation_kind").as_string() == "CLIENT";
    if (const auto& peer = t.at("expected_peer_name"); peer.is_object()) {
      c.peer_name = std::string(peer.as_object().at("value").as_string());
      c.peer_is_ip = peer.as_object().at("kind").as_string() == "IP";
    }
    if (t.at("max_chain_depth").is_int64())
      c.max_depth = static_cast<int>(t.at("max_chain_depth").as_int64());
    c.time = parse_time(t.at("validation_time"));
    cases.push_back(std::move(c));
  }
  return cases;
}

bool parley_case(const Case& c) {
  TrustStore anchors;
  for (const auto& pem : c.trusted) {
    if (auto parsed = Certificate::from_pem(pem)) anchors.add(parsed->front());
  }
  std::vector<CertificatePtr> intermediates;
  for (const auto& pem : c.intermediates) {
    if (auto parsed = Certificate::from_pem(pem)) intermediates.push_back(parsed->front());
  }
  auto leaf = Certificate::from_pem(c.leaf);
  if (!leaf) return false;
  VerifyPolicy policy;
  policy.profile = Profile::rfc5280;
  policy.time = c.time;
  policy.cn_fallback = CnFallback::never;
  policy.purpose = c.client ? KeyPurpose::client_auth : KeyPurpose::server_auth;
  if (c.max_depth) policy.max_intermediates = static_cast<std::size_t>(*c.max_depth);
  if (c.client || c.peer_name.empty()) {
    return verify_client_certificate(leaf->front(), intermediates, anchors, policy).has_value();
  }
  auto reference =
      c.peer_is_ip ? ReferenceIdentity::ip(c.peer_name) : ReferenceIdentity::dns(c.peer_name);
  if (!reference) return false;
  return verify_server_certificate(leaf->front(), intermediates, anchors, *reference, policy)
      .has_value();
}

X509* openssl_parse(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return x;
}

bool openssl_case(const Case& c) {
  X509_STORE* store = X509_STORE_new();
  for (const auto& pem : c.trusted) {
    if (X509* x = openssl_parse(pem)) {
      X509_STORE_add_cert(store, x);
      X509_free(x);
    }
  }
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (const auto& pem : c.intermediates) {
    if (X509* x = openssl_parse(pem)) sk_X509_push(untrusted, x);
  }
  X509* leaf = openssl_parse(c.leaf);
  bool ok = false;
  if (leaf != nullptr) {
    X509_STORE_CTX* ctx = X509_STORE_CTX_new();
    X509_STORE_CTX_init(ctx, store, leaf, untrusted);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(c.time));
    X509_VERIFY_PARAM_set_purpose(param,
                                  c.client ? X509_PURPOSE_SSL_CLIENT : X509_PURPOSE_SSL_SERVER);
    if (c.max_depth) X509_VERIFY_PARAM_set_depth(param, *c.max_depth);
    if (!c.client && !c.peer_name.empty()) {
      if (c.peer_is_ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, c.peer_name.c_str());
      else
        X509_VERIFY_PARAM_set1_host(param, c.peer_name.c_str(), 0);
    }
    ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_free(leaf);
  }
  sk_X509_pop_free(untrusted, X509_free);
  X509_STORE_free(store);
  return ok;
}

struct Totals {
  double parley_seconds = 0, openssl_seconds = 0;
  std::size_t parley_accepted = 0, openssl_accepted = 0;
};

// Interleaved case by case (and the order swapped every case), so that a noisy neighbour or a
// frequency change on this shared machine slows both sides alike instead of one whole run.
Totals time_interleaved(const std::vector<Case>& cases, int rounds) {
  Totals t;
  std::size_t turn = 0;
  for (int r = 0; r < rounds; ++r) {
    for (const auto& c : cases) {
      for (int side = 0; side < 2; ++side) {
        const bool parley_side = ((turn + side) % 2) == 0;
        const auto start = std::chrono::steady_clock::now();
        const bool ok = parley_side ? parley_case(c) : openssl_case(c);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        (parley_side ? t.parley_seconds : t.openssl_seconds) += seconds;
        (parley_side ? t.parley_accepted : t.openssl_accepted) += ok ? 1 : 0;
      }
      ++turn;
    }
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: limbo_speed LIMBO_JSON [ROUNDS]\n");
    return 2;
  }
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 1;
  const auto cases = load(argv[1]);
  const Totals t = time_interleaved(cases, rounds);
  const double n = static_cast<double>(cases.size()) * rounds;
  const auto per_round = [&](std::size_t accepted) {
    return accepted / static_cast<std::size_t>(rounds);
  };
  std::printf("cases %zu x %d rounds\n", cases.size(), rounds);
  std::printf("parley   %.3f s total, %.1f us/case, %zu accepted per round\n", t.parley_seconds,
              t.parley_seconds / n * 1e6, per_round(t.parley_accepted));
  std::printf("openssl  %.3f s total, %.1f us/case, %zu accepted per round\n", t.openssl_seconds,
              t.openssl_seconds / n * 1e6, per_round(t.openssl_accepted));
  std::printf("ratio openssl/parley = %.2f\n", t.openssl_seconds / t.parley_seconds);
  return 0;
}
