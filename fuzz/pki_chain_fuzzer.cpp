// Feeds arbitrary bytes to the certificate parser and the whole verifier (issue: "A libFuzzer
// target feeds arbitrary DER/PEM chains to the validator").
//
// Input layout, so that the fuzzer can build multi-certificate chains from DER pieces: the bytes
// are split on a 4-byte separator "\xF0\x0D\xCA\xFE" into blobs; each blob is parsed as PEM or DER
// (a PEM blob may hold several certificates). The first certificate is the leaf, the last is the
// trust anchor, the rest are intermediates. Any crash, leak, hang or sanitizer report is a bug.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/identity.hpp"
#include "pki/verify.hpp"

using namespace parley::pki;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view separator("\xF0\x0D\xCA\xFE", 4);

  std::vector<CertificatePtr> certificates;
  std::size_t start = 0;
  for (int blob = 0; blob < 64 && start <= input.size(); ++blob) {
    const std::size_t end = std::min(input.find(separator, start), input.size());
    const std::string_view piece = input.substr(start, end - start);
    if (auto parsed = Certificate::from_pem_or_der(piece)) {
      for (auto& c : *parsed) certificates.push_back(std::move(c));
    }
    (void)Crl::from_pem_or_der(piece);  // the CRL parser sees the same bytes
    start = end + separator.size();
  }
  if (certificates.empty()) return 0;

  TrustStore anchors;
  anchors.add(certificates.back());
  const std::vector<CertificatePtr> intermediates(certificates.begin() + 1, certificates.end());
  VerifyPolicy policy;
  policy.time = 1'700'000'000;
  policy.budget.signature_checks = 20;
  policy.budget.build_calls = 2'000;

  auto reference = ReferenceIdentity::dns("example.com");
  if (reference)
    (void)verify_server_certificate(certificates.front(), intermediates, anchors, *reference,
                                    policy);
  policy.profile = Profile::rfc5280;
  if (auto ip = ReferenceIdentity::ip("192.0.2.1")) {
    (void)verify_server_certificate(certificates.front(), intermediates, anchors, *ip, policy);
  }
  (void)verify_client_certificate(certificates.front(), intermediates, anchors, policy);
  return 0;
}
