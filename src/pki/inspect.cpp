#include "pki/inspect.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>

#include "pki/openssl_types.hpp"
#include "pki/verify_path.hpp"

namespace parley::pki {
namespace {

// The client consults the CN exactly as the verifier does by default (verify_command.cpp, the
// client's trust flow): RFC 6125's rule, not the stricter RFC 9525 one.
constexpr CnFallback kClientCnFallback = CnFallback::allow_when_no_identifier_san;

std::string shown_url(std::string_view url) {
  constexpr std::size_t kMaxShown = 256;
  std::string out;
  for (std::size_t i = 0; i < url.size() && i < kMaxShown; ++i) {
    const auto c = static_cast<unsigned char>(url[i]);
    if (c < 0x20 || c >= 0x7f) {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (url.size() > kMaxShown) out += "...";
  return out;
}

std::string describe_key(const PublicKeyInfo& key) {
  switch (key.algorithm) {
    case KeyAlgorithm::rsa:
      return "RSA " + std::to_string(key.bits) + " bits";
    case KeyAlgorithm::ec:
      if (key.explicit_curve)
        return "EC (explicit curve parameters, " + std::to_string(key.bits) + " bits)";
      return "EC " + (key.curve.empty() ? std::string("(unknown curve)") : key.curve);
    case KeyAlgorithm::ed25519:
      return "Ed25519";
    case KeyAlgorithm::ed448:
      return "Ed448";
    case KeyAlgorithm::dsa:
      return "DSA " + std::to_string(key.bits) + " bits";
    case KeyAlgorithm::other:
      break;
  }
  return key.decodable ? "unrecognised key type" : "undecodable key";
}

bool starts_with_wildcard(std::string_view name) {
  return name.starts_with("*.");
}

// Identities, the CN verdict and wildcards: the part shared by certificates and requests.
void describe_identities(const PresentedIdentities& presented, const DistinguishedName& subject,
                         ServiceKind service, InspectReport& report) {
  report.service = service;
  report.identities = presented_identities(presented, service, kClientCnFallback);
  report.common_names = subject.values_of(kOidCommonName);

  const bool common_name_consulted = std::any_of(
      report.identities.begin(), report.identities.end(),
      [](const PresentedIdentity& i) { return i.kind == PresentedIdentityKind::common_name; });
  if (!report.common_names.empty() && !common_name_consulted) {
    report.common_name_ignored = true;
    if (report.common_names.size() > 1) {
      report.common_name_note = "the CN is ignored: the subject holds " +
                                std::to_string(report.common_names.size()) +
                                " commonNames, and the client never guesses which one is meant";
    } else if (presented.has_subject_alt_name_extension && presented.subject_alt_names.empty()) {
      report.common_name_note =
          "the CN is ignored: a subjectAltName extension is present (though it decodes to "
          "nothing), and "
          "its presence alone turns the CN fallback off";
    } else {
      report.common_name_note =
          "the CN is ignored because the certificate has subjectAltName identifiers (dNSName, "
          "SRVName or "
          "XmppAddr); clients match those only (RFC 6125 6.4.4)";
    }
  } else if (common_name_consulted) {
    report.common_name_note =
        "the CN is the only DNS identity; clients in strict mode (RFC 9525, FIPS) and "
        "browsers ignore it, so request a subjectAltName dNSName for it";
  }

  for (const PresentedIdentity& identity : report.identities) {
    if ((identity.kind == PresentedIdentityKind::dns_name ||
         identity.kind == PresentedIdentityKind::common_name) &&
        starts_with_wildcard(identity.text)) {
      report.wildcard_identities.push_back(identity.text);
    }
  }
}

std::string digest(const std::string& der, const EVP_MD* algorithm) {
  unsigned char output[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (algorithm == nullptr ||
      EVP_Digest(der.data(), der.size(), output, &length, algorithm, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(output), length);
}

// Spec "Signed Certificates": self-signed means signed by the service presenting it. The name test
// alone would call a CA's re-keyed or cross certificate self-signed, so the signature must also
// verify with the certificate's own key.
Signer classify_signer(const Certificate& certificate) {
  if (!certificate.is_self_issued()) return Signer::ca_signed;
  EVP_PKEY* own_key = X509_get0_pubkey(certificate.openssl());
  const bool verifies = own_key != nullptr && X509_verify(certificate.openssl(), own_key) == 1;
  ERR_clear_error();
  return verifies ? Signer::self_signed : Signer::ca_signed;
}

void describe_key_and_signature(const PublicKeyInfo& key, const std::string& signature_oid,
                                InspectReport& report) {
  report.key = key;
  report.key_description = describe_key(key);
  report.key_acceptable = key_is_acceptable(key, report.key_problem);
  report.signature_algorithm = signature_algorithm_name(signature_oid);
  report.signature_algorithm_acceptable = signature_algorithm_is_acceptable(signature_oid);
}

}  // namespace

const char* to_string(RevocationUrlSource source) {
  switch (source) {
    case RevocationUrlSource::crl_distribution_point:
      return "CDP";
    case RevocationUrlSource::ocsp:
      return "AIA OCSP";
    case RevocationUrlSource::ca_issuers:
      return "AIA caIssuers";
  }
  return "CDP";
}

const char* to_string(ValidityState state) {
  switch (state) {
    case ValidityState::valid:
      return "valid";
    case ValidityState::expired:
      return "expired";
    case ValidityState::not_yet_valid:
      return "not yet valid";
  }
  return "valid";
}

bool is_fetchable_revocation_url(std::string_view url, std::string* why_not) {
  auto reject = [&](std::string reason) {
    if (why_not != nullptr) *why_not = std::move(reason);
    return false;
  };
  const std::size_t colon = url.find("://");
  if (colon == std::string_view::npos) {
    return reject(
        "not a URL with a scheme; the client fetches revocation data from http:// URLs only");
  }
  std::string scheme(url.substr(0, colon));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  if (scheme == "ldap" || scheme == "ldaps") {
    return reject(
        "an LDAP URL (as Active Directory Certificate Services writes by default); the client "
        "fetches revocation data over HTTP only");
  }
  if (scheme == "https") {
    return reject(
        "an HTTPS URL; fetching revocation data over TLS would itself need a revocation check, "
        "so the client (like every PKIX client) uses http:// only");
  }
  if (scheme != "http")
    return reject("a " + scheme +
                  ": URL; the client fetches revocation data from http:// URLs only");
  const std::string_view rest = url.substr(colon + 3);
  const std::size_t host_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, host_end);
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host =
        host.substr(0, host.find(']') == std::string_view::npos ? host.size() : host.find(']') + 1);
  } else if (const std::size_t port = host.find(':'); port != std::string_view::npos) {
    host = host.substr(0, port);
  }
  if (host.empty() || host == "[]") return reject("an http URL without a host");
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return reject("the URL contains spaces, control characters or non-ASCII bytes");
    }
  }
  return true;
}

std::string extended_key_usage_name(std::string_view oid) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"1.3.6.1.5.5.7.3.1", "serverAuth"},
      {"1.3.6.1.5.5.7.3.2", "clientAuth"},
      {"1.3.6.1.5.5.7.3.3", "codeSigning"},
      {"1.3.6.1.5.5.7.3.4", "emailProtection"},
      {"1.3.6.1.5.5.7.3.8", "timeStamping"},
      {"1.3.6.1.5.5.7.3.9", "OCSPSigning"},
      {"1.3.6.1.5.5.7.3.17", "ipsecIKE"},
      {"2.5.29.37.0", "anyExtendedKeyUsage"},
      {"1.3.6.1.4.1.311.20.2.2", "msSmartcardLogin"},
  };
  for (const auto& [known, name] : names) {
    if (oid == known) return std::string(name);
  }
  return std::string(oid);
}

std::string signature_algorithm_name(std::string_view oid) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"1.2.840.113549.1.1.11", "sha256WithRSAEncryption"},
      {"1.2.840.113549.1.1.12", "sha384WithRSAEncryption"},
      {"1.2.840.113549.1.1.13", "sha512WithRSAEncryption"},
      {"1.2.840.113549.1.1.10", "RSASSA-PSS"},
      {"1.2.840.113549.1.1.5", "sha1WithRSAEncryption"},
      {"1.2.840.113549.1.1.4", "md5WithRSAEncryption"},
      {"1.2.840.10045.4.3.2", "ecdsa-with-SHA256"},
      {"1.2.840.10045.4.3.3", "ecdsa-with-SHA384"},
      {"1.2.840.10045.4.3.4", "ecdsa-with-SHA512"},
      {"1.2.840.10045.4.1", "ecdsa-with-SHA1"},
      {"1.3.101.112", "Ed25519"},
      {"1.3.101.113", "Ed448"},
  };
  for (const auto& [known, name] : names) {
    if (oid == known) return std::string(name);
  }
  return std::string(oid);
}

InspectReport inspect_certificate(const Certificate& certificate, const InspectOptions& options) {
  InspectReport report;
  report.kind = InspectedKind::certificate;
  report.subject = certificate.subject().to_display_string();
  report.issuer = certificate.issuer().to_display_string();
  describe_identities(PresentedIdentities::of(certificate), certificate.subject(), options.service,
                      report);
  describe_key_and_signature(certificate.public_key(), certificate.signature_algorithm(), report);

  report.not_before = certificate.not_before();
  report.not_after = certificate.not_after();
  if (options.now < report.not_before) {
    report.validity = ValidityState::not_yet_valid;
  } else if (options.now > report.not_after) {
    report.validity = ValidityState::expired;
  } else {
    report.validity = ValidityState::valid;
  }
  report.sha256_fingerprint = certificate.sha256_fingerprint();
  report.sha1_fingerprint = digest(certificate.der(), EVP_sha1());
  report.signer = classify_signer(certificate);
  if (const auto& constraints = certificate.basic_constraints()) {
    report.is_ca = constraints->is_ca;
    report.path_length = constraints->path_length;
  }
  if (const auto& usages = certificate.extended_key_usage()) {
    std::vector<std::string> names;
    names.reserve(usages->size());
    for (const auto& oid : *usages) names.push_back(extended_key_usage_name(oid));
    report.extended_key_usage = std::move(names);
  }

  auto add_urls = [&](const std::vector<std::string>& urls, RevocationUrlSource source) {
    for (const auto& url : urls) {
      InspectedUrl entry;
      entry.source = source;
      entry.url = shown_url(url);
      entry.client_can_fetch = is_fetchable_revocation_url(url, &entry.note);
      if (entry.client_can_fetch && source != RevocationUrlSource::ca_issuers)
        report.revocation_checkable = true;
      report.revocation_urls.push_back(std::move(entry));
    }
  };
  add_urls(certificate.crl_distribution_urls(), RevocationUrlSource::crl_distribution_point);
  add_urls(certificate.ocsp_urls(), RevocationUrlSource::ocsp);
  add_urls(certificate.ca_issuer_urls(), RevocationUrlSource::ca_issuers);

  if (report.revocation_checkable) {
    report.revocation_note =
        "the client can check revocation (it needs the server at that URL to answer)";
  } else if (report.revocation_urls.empty()) {
    report.revocation_note =
        "no CDP or AIA OCSP URL: the client cannot check revocation for this certificate, and "
        "users are not "
        "told (spec: Revocation Servers); ask the CA for an http:// CDP or OCSP URL";
  } else {
    report.revocation_note =
        "no http:// CDP or AIA OCSP URL: the client cannot check revocation for this certificate, "
        "and users "
        "are not told (spec: Revocation Servers); ask the CA to publish CRLs or OCSP over http://";
  }
  if (report.signer == Signer::self_signed) {
    // Revocation of a self-signed certificate is moot: nobody but its own key could revoke it.
    report.revocation_note +=
        ". Self-signed: no issuer can revoke it, and users are always prompted to "
        "accept or decline it";
  }
  return report;
}

InspectReport inspect_request(const ParsedCsr& request, const InspectOptions& options) {
  InspectReport report;
  report.kind = InspectedKind::request;
  report.subject = request.subject.to_display_string();
  describe_identities(request.presented(), request.subject, options.service, report);
  describe_key_and_signature(request.public_key, request.signature_algorithm, report);
  report.request_signature_valid = request.signature_valid;
  return report;
}

Result<InspectReport> inspect_bytes(std::string_view contents, const InspectOptions& options) {
  const bool pem_request =
      contents.find("-----BEGIN CERTIFICATE REQUEST-----") != std::string_view::npos ||
      contents.find("-----BEGIN NEW CERTIFICATE REQUEST-----") != std::string_view::npos;
  if (pem_request) {
    DecodedCsrFile decoded = decode_csr_file("", contents);
    if (!decoded.csr) {
      return fail(Error::parse(decoded.findings.empty()
                                   ? std::string("not a certificate signing request")
                                   : decoded.findings.front().message));
    }
    return inspect_request(*decoded.csr, options);
  }
  auto certificates = Certificate::from_pem_or_der(contents);
  if (certificates) return inspect_certificate(*certificates->front(), options);
  // Not a certificate: a DER request is the one other thing this command reads.
  const bool pem = contents.find("-----BEGIN ") != std::string_view::npos;
  if (!pem) {
    if (auto request = ParsedCsr::from_der(contents)) return inspect_request(*request, options);
  }
  return fail(Error::parse("neither a certificate nor a certificate signing request: " +
                           certificates.error().message));
}

}  // namespace parley::pki
