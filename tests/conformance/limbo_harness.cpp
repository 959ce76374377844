// x509-limbo harness for Parley's verifier (contract: ../shared/conformance/x509-limbo/README.md).
//
// usage: limbo_harness LIMBO_JSON RESULTS_JSON
// Reads every test case, verifies it with pki::verify_server_certificate (SERVER cases) or
// pki::verify_client_certificate (CLIENT cases) and writes the results file that score.py reads.
//
// Profile choice: cases under "webpki::" are run with Profile::web_pki (the CA/Browser Forum
// rules they test); every other case with Profile::rfc5280. The suite deliberately holds pairs
// of cases that contradict each other across the two rulebooks (a CA certificate as leaf, a leaf
// without extKeyUsage, a non-critical nameConstraints), so no single profile can pass all of them.

#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "pki/crl.hpp"
#include "pki/identity.hpp"
#include "pki/verify.hpp"

namespace json = boost::json;
using namespace parley;
using namespace parley::pki;

namespace {

// ISO 8601 as limbo writes it: "2024-03-01T00:00:00.999+00:00" or "...Z". Fractions are floored
// (RFC 5280 validity has whole seconds; see rfc5280::validity::*-fractional).
std::optional<UnixTime> parse_time(std::string_view text) {
  std::tm tm{};
  int offset_hours = 0, offset_minutes = 0;
  if (std::sscanf(std::string(text).c_str(), "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::size_t zone = text.find_first_of("Z+-", 19);
  int sign = 0;
  if (zone != std::string_view::npos && text[zone] != 'Z') {
    sign = text[zone] == '+' ? 1 : -1;
    if (std::sscanf(std::string(text.substr(zone + 1)).c_str(), "%2d:%2d", &offset_hours,
                    &offset_minutes) != 2) {
      return std::nullopt;
    }
  }
  return static_cast<UnixTime>(timegm(&tm)) - sign * (offset_hours * 3600 + offset_minutes * 60);
}

Result<std::vector<CertificatePtr>> certificates(const json::array& pems) {
  std::vector<CertificatePtr> out;
  for (const auto& pem : pems) {
    auto parsed = Certificate::from_pem(std::string_view(pem.as_string()));
    if (!parsed) return fail(parsed.error());
    for (auto& c : *parsed) out.push_back(std::move(c));
  }
  return out;
}

struct Outcome {
  bool success = false;
  std::string context;
};

Outcome run_case(const json::object& test) {
  const std::string id(test.at("id").as_string());
  VerifyPolicy policy;
  policy.profile = id.starts_with("webpki::") ? Profile::web_pki : Profile::rfc5280;

  const bool client = test.at("validation_kind").as_string() == "CLIENT";
  for (const auto& eku : test.at("extended_key_usage").as_array()) {
    if (eku.as_string() == "serverAuth") policy.purpose = KeyPurpose::server_auth;
    if (eku.as_string() == "clientAuth") policy.purpose = KeyPurpose::client_auth;
  }
  // No demand in the case means the purpose of its validation kind (a TLS server or client).
  if (policy.purpose == KeyPurpose::none)
    policy.purpose = client ? KeyPurpose::client_auth : KeyPurpose::server_auth;
  // x509-limbo follows RFC 9525 throughout: a subject CN is never a reference identity (a leaf
  // with CN=test.localhost and no SAN must not verify for test.localhost, bettertls tc736).
  // Parley's own default keeps RFC 6125's CN-ID fallback for XMPP (the spec lists Subject CN);
  // strict mode is this same setting.
  policy.cn_fallback = CnFallback::never;
  for (const auto& usage : test.at("key_usage").as_array()) {
    if (usage.as_string() == "digitalSignature") {
      policy.required_leaf_key_usage = static_cast<std::uint16_t>(
          policy.required_leaf_key_usage.value_or(0) | kDigitalSignature);
    }
  }
  if (const auto& depth = test.at("max_chain_depth"); depth.is_int64()) {
    policy.max_intermediates = static_cast<std::size_t>(depth.as_int64());
  }
  if (const auto& when = test.at("validation_time"); when.is_string()) {
    const auto time = parse_time(std::string_view(when.as_string()));
    if (!time) return {false, "bad validation_time"};
    policy.time = *time;
  } else {
    policy.time = static_cast<UnixTime>(std::time(nullptr));
  }
  if (const auto* crls = test.if_contains("crls"); crls != nullptr && crls->is_array()) {
    for (const auto& pem : crls->as_array()) {
      auto parsed = Crl::from_pem(std::string_view(pem.as_string()));
      if (!parsed) return {false, "CRL: " + parsed.error().message};
      for (auto& crl : *parsed) policy.crls.push_back(std::move(crl));
    }
  }

  auto trusted = certificates(test.at("trusted_certs").as_array());
  if (!trusted) return {false, "trusted certificate: " + trusted.error().message};
  auto intermediates = certificates(test.at("untrusted_intermediates").as_array());
  if (!intermediates) return {false, "intermediate: " + intermediates.error().message};
  auto leaf = Certificate::from_pem(std::string_view(test.at("peer_certificate").as_string()));
  if (!leaf) return {false, "peer certificate: " + leaf.error().message};

  TrustStore anchors;
  for (const auto& c : *trusted) anchors.add(c);

  VerifyResult result = [&]() -> VerifyResult {
    const auto& peer = test.at("expected_peer_name");
    if (client || peer.is_null()) {
      return verify_client_certificate(leaf->front(), *intermediates, anchors, policy);
    }
    const auto& name = peer.as_object();
    const std::string value(name.at("value").as_string());
    auto reference = name.at("kind").as_string() == "IP" ? ReferenceIdentity::ip(value)
                                                         : ReferenceIdentity::dns(value);
    if (!reference) {
      VerifyFailure f;
      f.error = VerifyError::name_mismatch;
      f.message = "reference identity: " + reference.error().message;
      return std::unexpected(f);
    }
    return verify_server_certificate(leaf->front(), *intermediates, anchors, *reference, policy);
  }();
  if (result) return {true, {}};
  return {false, result.error().message};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: limbo_harness LIMBO_JSON RESULTS_JSON\n";
    return 2;
  }
  auto text = read_file(argv[1], 512u * 1024 * 1024);
  if (!text) {
    std::cerr << "limbo_harness: " << text.error().message << "\n";
    return 2;
  }
  json::value limbo;
  try {
    limbo = json::parse(*text);
  } catch (const std::exception& e) {
    std::cerr << "limbo_harness: " << argv[1] << ": not JSON: " << e.what() << "\n";
    return 2;
  }

  const auto started = std::chrono::steady_clock::now();
  json::array results;
  std::size_t succeeded = 0;
  for (const auto& test_value : limbo.at("testcases").as_array()) {
    const auto& test = test_value.as_object();
    Outcome outcome;
    try {
      outcome = run_case(test);
    } catch (const std::exception& e) {  // malformed case JSON: report, keep going
      outcome = {false, std::string("harness: ") + e.what()};
    }
    succeeded += outcome.success ? 1 : 0;
    json::object row;
    row["id"] = test.at("id");
    row["actual_result"] = outcome.success ? "SUCCESS" : "FAILURE";
    row["context"] = outcome.context.empty() ? json::value(nullptr) : json::value(outcome.context);
    results.push_back(std::move(row));
  }
  const auto elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  json::object out;
  out["version"] = 1;
  out["harness"] = "parley";
  out["results"] = std::move(results);
  std::ofstream file(argv[2], std::ios::trunc);
  file << json::serialize(out);
  if (!file) {
    std::cerr << "limbo_harness: cannot write " << argv[2] << "\n";
    return 2;
  }
  std::cerr << "limbo_harness: " << limbo.at("testcases").as_array().size() << " cases, "
            << succeeded << " verified, in " << elapsed << " s\n";
  return 0;
}
