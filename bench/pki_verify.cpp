// Parley's verifier against OpenSSL's X509_verify_cert on the same three-certificate chains
// (root -> intermediate -> leaf; RSA-2048 and P-256; tests/fixtures/chains), in one run.
//
// Both sides do the same work per iteration: build the path from the leaf through the supplied
// intermediate to the trusted root, check two signatures (neither checks the root's
// self-signature), validity, basic constraints, key usage, EKU (server auth) and the host name.
// Certificates are parsed once, outside the loop, on both sides; the "parse_and_verify" pair adds
// DER parsing of all three certificates to each iteration.
//
// After the runs it prints, per chain, openssl_time / parley_time (above 1: Parley is faster).

#include <benchmark/benchmark.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <string>

#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "pki/verify.hpp"

using namespace parley;
using namespace parley::pki;

namespace {

struct Chain {
  std::string leaf_der, intermediate_der, root_der;
  CertificatePtr leaf, intermediate, root;
  X509* leaf_x509 = nullptr;
  X509* intermediate_x509 = nullptr;
  X509* root_x509 = nullptr;
};

CertificatePtr load(const std::string& path, std::string& der_out) {
  auto text = read_file(path);
  if (!text) {
    std::fprintf(stderr, "pki_verify: %s\n", text.error().message.c_str());
    std::exit(2);
  }
  auto parsed = Certificate::from_pem(*text);
  if (!parsed) {
    std::fprintf(stderr, "pki_verify: %s: %s\n", path.c_str(), parsed.error().message.c_str());
    std::exit(2);
  }
  der_out = parsed->front()->der();
  return parsed->front();
}

X509* parse_openssl(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  return d2i_X509(nullptr, &p, static_cast<long>(der.size()));
}

const Chain& chain(const std::string& kind) {
  static std::map<std::string, Chain> chains;
  auto [it, inserted] = chains.try_emplace(kind);
  if (inserted) {
    const std::string dir = std::string(PARLEY_FIXTURES_DIR) + "/chains/" + kind + "/";
    Chain& c = it->second;
    c.leaf = load(dir + "leaf.crt", c.leaf_der);
    c.intermediate = load(dir + "intermediate.crt", c.intermediate_der);
    c.root = load(dir + "root.crt", c.root_der);
    c.leaf_x509 = parse_openssl(c.leaf_der);
    c.intermediate_x509 = parse_openssl(c.intermediate_der);
    c.root_x509 = parse_openssl(c.root_der);
  }
  return it->second;
}

UnixTime validation_time(const Chain& c) {
  return c.leaf->not_before() + 86400;
}

bool parley_verify(const CertificatePtr& leaf, const CertificatePtr& intermediate,
                   const TrustStore& anchors, const ReferenceIdentity& reference, UnixTime time) {
  VerifyPolicy policy;
  policy.time = time;
  return verify_server_certificate(leaf, {intermediate}, anchors, reference, policy).has_value();
}

bool openssl_verify(X509_STORE* store, X509* leaf, STACK_OF(X509) * untrusted, UnixTime time) {
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, untrusted);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(time));
  X509_VERIFY_PARAM_set1_host(param, "example.test", 0);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  const bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  return ok;
}

void BM_parley_verify(benchmark::State& state, const std::string& kind) {
  const Chain& c = chain(kind);
  TrustStore anchors;
  anchors.add(c.root);
  const auto reference = ReferenceIdentity::dns("example.test").value();
  for (auto _ : state) {
    if (!parley_verify(c.leaf, c.intermediate, anchors, reference, validation_time(c))) {
      state.SkipWithError("Parley rejected the fixture chain");
      break;
    }
  }
}

void BM_openssl_verify(benchmark::State& state, const std::string& kind) {
  const Chain& c = chain(kind);
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, c.root_x509);
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, c.intermediate_x509);
  for (auto _ : state) {
    if (!openssl_verify(store, c.leaf_x509, untrusted, validation_time(c))) {
      state.SkipWithError("OpenSSL rejected the fixture chain");
      break;
    }
  }
  sk_X509_free(untrusted);
  X509_STORE_free(store);
}

void BM_parley_parse_and_verify(benchmark::State& state, const std::string& kind) {
  const Chain& c = chain(kind);
  const auto reference = ReferenceIdentity::dns("example.test").value();
  auto parse = [](const std::string& der) {
    return Certificate::from_der(
               std::span(reinterpret_cast<const std::uint8_t*>(der.data()), der.size()))
        .value();
  };
  for (auto _ : state) {
    TrustStore anchors;
    anchors.add(parse(c.root_der));
    if (!parley_verify(parse(c.leaf_der), parse(c.intermediate_der), anchors, reference,
                       validation_time(c))) {
      state.SkipWithError("Parley rejected the fixture chain");
      break;
    }
  }
}

void BM_openssl_parse_and_verify(benchmark::State& state, const std::string& kind) {
  const Chain& c = chain(kind);
  for (auto _ : state) {
    X509* root = parse_openssl(c.root_der);
    X509* intermediate = parse_openssl(c.intermediate_der);
    X509* leaf = parse_openssl(c.leaf_der);
    X509_STORE* store = X509_STORE_new();
    X509_STORE_add_cert(store, root);
    STACK_OF(X509)* untrusted = sk_X509_new_null();
    sk_X509_push(untrusted, intermediate);
    const bool ok = openssl_verify(store, leaf, untrusted, validation_time(c));
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    X509_free(root);
    X509_free(intermediate);
    X509_free(leaf);
    if (!ok) {
      state.SkipWithError("OpenSSL rejected the fixture chain");
      break;
    }
  }
}

// Collects per-benchmark times to print the ratios after the normal console table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // With --benchmark_repetitions the median of the repetitions is the figure; otherwise the
    // single run. Keyed by the base name, without the "_median" suffix.
    for (const auto& run : runs) {
      if (run.error_occurred) continue;
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      const std::string name = run.run_name.str();
      if (median) {
        times_[name] = run.GetAdjustedCPUTime();
        from_median_[name] = true;
      } else if (run.run_type == Run::RT_Iteration && !from_median_[name]) {
        times_[name] = run.GetAdjustedCPUTime();
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void print_ratios() const {
    for (const char* kind : {"rsa2048", "p256"}) {
      for (const char* what : {"verify", "parse_and_verify"}) {
        const auto parley = times_.find(std::string("parley_") + what + "/" + kind);
        const auto openssl = times_.find(std::string("openssl_") + what + "/" + kind);
        if (parley == times_.end() || openssl == times_.end()) continue;
        std::printf("ratio %-16s %-8s openssl/parley = %.2f  (parley %.1f us, openssl %.1f us)\n",
                    what, kind, openssl->second / parley->second, parley->second, openssl->second);
      }
    }
  }

 private:
  std::map<std::string, double> times_;
  std::map<std::string, bool> from_median_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const char* kind : {"rsa2048", "p256"}) {
    const std::string k = kind;
    benchmark::RegisterBenchmark(("parley_verify/" + k).c_str(), BM_parley_verify, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("openssl_verify/" + k).c_str(), BM_openssl_verify, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("parley_parse_and_verify/" + k).c_str(),
                                 BM_parley_parse_and_verify, k)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("openssl_parse_and_verify/" + k).c_str(),
                                 BM_openssl_parse_and_verify, k)
        ->Unit(benchmark::kMicrosecond);
  }
  benchmark::Initialize(&argc, argv);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_ratios();
  benchmark::Shutdown();
  return 0;
}
