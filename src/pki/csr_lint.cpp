#include "pki/csr_lint.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "pki/openssl_types.hpp"
#include "pki/verify_path.hpp"

namespace parley::pki {
namespace {

using openssl::GeneralNamesPtr;
using openssl::oid_text;
using openssl::string_bytes;
using openssl::X509ExtensionStackPtr;
using openssl::X509ReqPtr;

constexpr const char* kOidCountryName = "2.5.4.6";
constexpr const char* kOidLocalityName = "2.5.4.7";
constexpr const char* kOidStateOrProvinceName = "2.5.4.8";
constexpr const char* kOidOrganizationName = "2.5.4.10";
constexpr const char* kOidOrganizationalUnitName = "2.5.4.11";

// PEM labels under which tools write a PKCS #10 request: RFC 7468 5 names the first; Microsoft's
// certreq and older Netscape tools still write the second, and CAs accept both.
constexpr std::string_view kRequestLabels[] = {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"};

// A value from the file shown in a message: ASCII control bytes as \xNN and at most 128
// characters, so that a hostile CSR cannot garble a terminal or flood a report.
std::string shown(std::string_view value) {
  constexpr std::size_t kMaxShown = 128;
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (i == kMaxShown) {
      out += "...";
      break;
    }
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      static constexpr char digits[] = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string lowercase_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The form names compare in: DNS names are case-insensitive and one trailing dot means the same.
std::string comparable_dns_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  return lowercase_ascii(name);
}

std::string attribute_short_name(const std::string& oid) {
  static const std::pair<const char*, const char*> names[] = {
      {"2.5.4.3", "CN"},
      {"2.5.4.6", "C"},
      {"2.5.4.7", "L"},
      {"2.5.4.8", "ST"},
      {"2.5.4.9", "street"},
      {"2.5.4.10", "O"},
      {"2.5.4.11", "OU"},
      {"2.5.4.5", "serialNumber"},
      {"2.5.4.17", "postalCode"},
      {"0.9.2342.19200300.100.1.25", "DC"},
      {"1.2.840.113549.1.9.1", "emailAddress"},
      {"2.5.4.12", "title"},
      {"2.5.4.4", "SN"},
      {"2.5.4.42", "GN"},
  };
  for (const auto& [known, name] : names) {
    if (oid == known) return name;
  }
  return oid;
}

// RFC 5280 Appendix A upper bounds (ub-*), which CAs enforce because the certificate they issue
// must fit them.
std::size_t attribute_upper_bound(const std::string& oid) {
  if (oid == kOidCommonName || oid == kOidOrganizationName || oid == kOidOrganizationalUnitName)
    return 64;
  if (oid == kOidLocalityName || oid == kOidStateOrProvinceName) return 128;
  if (oid == kOidCountryName) return 2;
  return 0;  // no bound checked
}

// Length in characters, not bytes, because the bounds count characters.
std::size_t utf8_length(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

LintSeverity by_profile(CaProfile profile, LintSeverity public_ca, LintSeverity private_ca) {
  return profile == CaProfile::public_ca ? public_ca : private_ca;
}

struct Reporter {
  std::vector<LintFinding>& findings;
  const std::string& file;
  LintStage stage;

  void operator()(LintSeverity severity, std::string rule, std::string field, std::string message,
                  std::string fix) const {
    findings.push_back({severity, stage, std::move(rule), file, std::move(field),
                        std::move(message), std::move(fix)});
  }
};

// ---- Decoding -------------------------------------------------------------------------------

bool is_base64_character(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// Strict Base64 (RFC 4648 4): whitespace between characters is dropped (PEM wraps lines), padding
// only at the end. nullopt when anything else is in the text.
std::optional<std::string> decode_base64(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (const char c : text) {
    if (!is_space(c)) compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  while (padding < 2 && compact[compact.size() - 1 - padding] == '=') ++padding;
  for (std::size_t i = 0; i < compact.size() - padding; ++i) {
    if (!is_base64_character(compact[i])) return std::nullopt;
  }
  if (compact.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()))
    return std::nullopt;
  std::string decoded(compact.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(decoded.data()),
                                     reinterpret_cast<const unsigned char*>(compact.data()),
                                     static_cast<int>(compact.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock writes the padding as zero bytes.
  decoded.resize(static_cast<std::size_t>(length) - padding);
  return decoded;
}

// The label of the first "-----BEGIN <label>-----" line, for telling the user what the file is.
std::optional<std::string> first_pem_label(std::string_view text) {
  constexpr std::string_view begin = "-----BEGIN ";
  const std::size_t start = text.find(begin);
  if (start == std::string_view::npos) return std::nullopt;
  const std::size_t label_start = start + begin.size();
  const std::size_t stop = text.find("-----", label_start);
  if (stop == std::string_view::npos || stop - label_start > 64) return std::nullopt;
  return std::string(text.substr(label_start, stop - label_start));
}

bool is_mostly_text(std::string_view data) {
  const std::size_t sample = std::min<std::size_t>(data.size(), 4096);
  std::size_t binary = 0;
  for (std::size_t i = 0; i < sample; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 && !is_space(static_cast<char>(c))) ++binary;
  }
  return binary == 0;
}

bool looks_like_bare_base64(std::string_view data) {
  std::size_t characters = 0;
  for (const char c : data) {
    if (is_space(c)) continue;
    if (!is_base64_character(c) && c != '=') return false;
    ++characters;
  }
  return characters >= 16;
}

// ---- Request rules --------------------------------------------------------------------------

void lint_signature(const ParsedCsr& csr, const Reporter& report) {
  if (csr.version != 0) {
    report(LintSeverity::error, "csr-version", "version",
           "the request has version " + std::to_string(csr.version) +
               "; PKCS #10 (RFC 2986) defines only 0 (v1)",
           "regenerate the request with openssl req or parley-cert csr");
  }
  if (!csr.signature_valid) {
    report(LintSeverity::error, "signature-invalid", "signature",
           "the request's self-signature does not verify with the key it carries: the file was "
           "altered or "
           "damaged after it was signed, and every CA rejects it",
           "copy the CSR again from the server that made it (as text, unchanged), or generate a "
           "new one");
  }
  static constexpr std::pair<std::string_view, std::string_view> weak[] = {
      {"1.2.840.113549.1.1.5", "sha1WithRSAEncryption"},
      {"1.2.840.113549.1.1.4", "md5WithRSAEncryption"},
      {"1.2.840.113549.1.1.2", "md2WithRSAEncryption"},
      {"1.2.840.113549.1.1.3", "md4WithRSAEncryption"},
      {"1.2.840.10045.4.1", "ecdsa-with-SHA1"},
      {"1.2.840.10040.4.3", "dsa-with-SHA1"},
      {"1.3.14.3.2.29", "sha1WithRSA (OIW)"},
  };
  for (const auto& [oid, name] : weak) {
    if (csr.signature_algorithm == oid) {
      report(LintSeverity::error, "signature-algorithm-weak", "signatureAlgorithm",
             "the request is signed with " + std::string(name) +
                 ": collisions in this hash are practical, and CAs refuse such requests",
             "generate the request again with SHA-256 (openssl req -sha256, the default of "
             "parley-cert csr)");
      return;
    }
  }
  if (!signature_algorithm_is_acceptable(csr.signature_algorithm)) {
    report(LintSeverity::error, "signature-algorithm-unsupported", "signatureAlgorithm",
           "the request is signed with algorithm " + csr.signature_algorithm +
               ", which neither CAs nor Parley accept",
           "generate the request with an RSA or ECDSA key and SHA-256");
  }
}

void lint_key(const ParsedCsr& csr, CaProfile profile, const Reporter& report) {
  const PublicKeyInfo& key = csr.public_key;
  if (!key.decodable) {
    report(LintSeverity::error, "key-undecodable", "publicKey",
           "the public key in the request cannot be decoded", "generate a new key and request");
    return;
  }
  const std::string new_key_fix =
      "generate a new key and request: parley-cert csr --key rsa:2048 (or ec:P-256)";
  switch (key.algorithm) {
    case KeyAlgorithm::rsa:
      // NIST SP 800-131A and CA/B Forum BR 6.1.5: at least 2048 bits, a multiple of 8.
      if (key.bits < 2048) {
        report(LintSeverity::error, "key-too-small", "publicKey",
               "RSA key of " + std::to_string(key.bits) +
                   " bits; CAs and Parley clients require at least 2048",
               new_key_fix);
      } else if (key.bits % 8 != 0) {
        report(LintSeverity::error, "key-rsa-modulus-size", "publicKey",
               "RSA modulus of " + std::to_string(key.bits) +
                   " bits is not a multiple of 8, which CAs refuse as a sign of a broken key "
                   "generator",
               new_key_fix);
      } else if (key.bits > 4096) {
        report(LintSeverity::info, "key-rsa-large", "publicKey",
               "RSA key of " + std::to_string(key.bits) +
                   " bits; some CAs accept at most 4096, and every TLS handshake pays for the size",
               "rsa:3072 or ec:P-256 give the same security margin at a lower cost");
      }
      return;
    case KeyAlgorithm::ec:
      if (key.explicit_curve) {
        report(LintSeverity::error, "key-type-unsupported", "publicKey",
               "EC key with explicit curve parameters; RFC 5480 requires a named curve",
               "generate the key with a named curve: ec:P-256");
      } else if (key.curve == "P-256" || key.curve == "P-384") {
        // The two curves every public CA and client accepts.
      } else if (key.curve == "P-521") {
        report(by_profile(profile, LintSeverity::error, LintSeverity::warning),
               "key-type-unsupported", "publicKey",
               "EC key on P-521; many public CAs and some clients accept only P-256 and P-384",
               "generate the key on P-256 or P-384");
      } else {
        report(LintSeverity::error, "key-type-unsupported", "publicKey",
               "EC key on curve " + (key.curve.empty() ? std::string("(unknown)") : key.curve) +
                   "; only P-256 and P-384 are accepted",
               "generate the key on P-256 or P-384");
      }
      return;
    case KeyAlgorithm::ed25519:
    case KeyAlgorithm::ed448:
      report(by_profile(profile, LintSeverity::error, LintSeverity::warning),
             "key-type-unsupported", "publicKey",
             std::string(key.algorithm == KeyAlgorithm::ed25519 ? "Ed25519" : "Ed448") +
                 " key; public CAs issue TLS certificates for RSA and ECDSA keys only, and many "
                 "clients "
                 "cannot use EdDSA certificates",
             new_key_fix);
      return;
    case KeyAlgorithm::dsa:
    case KeyAlgorithm::other:
      report(
          LintSeverity::error, "key-type-unsupported", "publicKey",
          std::string(key.algorithm == KeyAlgorithm::dsa ? "DSA" : "unrecognised") +
              " key; CAs and TLS clients accept RSA (2048 bits or more) and ECDSA (P-256, P-384)",
          new_key_fix);
      return;
  }
}

void lint_subject(const ParsedCsr& csr, CaProfile profile, const Reporter& report) {
  std::set<std::string> reported_forbidden;
  for (const auto& rdn : csr.subject.rdns) {
    for (const NameAttribute& attribute : rdn) {
      const std::string name = attribute_short_name(attribute.type_oid);
      const std::string field = "subject." + name;
      const std::string& value = attribute.value_utf8;

      if (attribute.type_oid == kOidEmailAddress) {
        report(by_profile(profile, LintSeverity::warning, LintSeverity::info),
               "subject-email-address", field,
               "the subject holds an emailAddress " + shown(value) +
                   "; CA/B Forum rules leave it out of TLS server certificates, so a public CA "
                   "drops it or "
                   "refuses the request",
               "leave the email address out of the subject; give it to the CA in its order form "
               "instead");
        continue;
      }
      if (const std::size_t bound = attribute_upper_bound(attribute.type_oid);
          bound != 0 && attribute.type_oid != kOidCountryName && utf8_length(value) > bound) {
        report(
            by_profile(profile, LintSeverity::error, LintSeverity::warning),
            "subject-field-too-long", field,
            name + " " + shown(value) + " is " + std::to_string(utf8_length(value)) +
                " characters; RFC 5280 allows at most " + std::to_string(bound),
            attribute.type_oid == kOidCommonName
                ? "put a shorter name in the CN (the long FQDN belongs in the subjectAltName only)"
                : "shorten the value");
      }
      if (attribute.type_oid == kOidCountryName) {
        const bool two_capitals = value.size() == 2 && value[0] >= 'A' && value[0] <= 'Z' &&
                                  value[1] >= 'A' && value[1] <= 'Z';
        if (!two_capitals) {
          report(by_profile(profile, LintSeverity::error, LintSeverity::warning),
                 "subject-country-code", field,
                 "C " + shown(value) + " is not an ISO 3166-1 alpha-2 country code in capitals",
                 "use the two-letter code in capitals, for example C=US or C=DE");
        }
        continue;
      }
      // The CN is a host name; the identity rules below judge it.
      if (attribute.type_oid == kOidCommonName) continue;

      const std::string forbidden = forbidden_subject_characters(value);
      if (!forbidden.empty() && reported_forbidden.insert(field).second) {
        std::string listed;
        for (const char c : forbidden) {
          if (!listed.empty()) listed += " ";
          listed += shown(std::string_view(&c, 1));
        }
        report(by_profile(profile, LintSeverity::error, LintSeverity::warning),
               "subject-forbidden-characters", field,
               name + " " + shown(value) + " contains " + listed +
                   "; public CAs refuse characters such as @ & ! in subject fields",
               "spell them out or leave them out (\"Example and Sons\" for \"Example & Sons!\"), "
               "using only "
               "letters, digits, spaces and ' ( ) + , - . / : = ?");
      }
      const bool non_ascii = std::any_of(
          value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
      if (non_ascii) {
        report(by_profile(profile, LintSeverity::warning, LintSeverity::info), "subject-non-ascii",
               field,
               name + " " + shown(value) +
                   " contains non-ASCII characters; some CAs refuse them or transliterate them "
                   "differently "
                   "from one request to the next",
               "write the value in ASCII (\"Zurich\" for \"Z\xC3\xBCrich\") unless the CA "
               "documents UTF-8 support");
      }
    }
  }
}

enum class NameSource { subject_alt_name, common_name };

// The identity rules for one name that clients may match (a dNSName, or the CN).
void lint_host_name(const std::string& name, NameSource source, CaProfile profile,
                    const Reporter& report) {
  const std::string field =
      source == NameSource::common_name ? "subject.CN" : "subjectAltName.dNSName";
  const std::string_view body = !name.empty() && name.back() == '.'
                                    ? std::string_view(name).substr(0, name.size() - 1)
                                    : std::string_view(name);

  if (parse_ipv4(body) || parse_ipv6(body)) {
    report(by_profile(profile, LintSeverity::error, LintSeverity::warning), "identity-ip-address",
           field,
           shown(name) +
               " is an IP address; public CAs require an FQDN, and clients that connect by FQDN do "
               "not match "
               "an address",
           "name the server by its FQDN; configure clients and service profiles with that FQDN");
    return;
  }
  if (!body.empty() && body.find('.') == std::string_view::npos && body != "*") {
    report(LintSeverity::error, "identity-short-hostname", field,
           shown(name) +
               " is a single-label host name; public CAs will not sign it, and clients that "
               "connect by "
               "FQDN will see an identity mismatch",
           "use the fully qualified name, for example " + std::string(body) + ".example.com");
    return;
  }
  if (const auto problem = dns_name_problem(name, WildcardSyntax::allowed_as_leftmost)) {
    report(LintSeverity::error, "identity-invalid-dns-name", field,
           shown(name) + " is not a valid host name: it " + *problem,
           "use letters, digits and hyphens only, in labels separated by dots (no underscores, no "
           "spaces); a wildcard only as the whole leftmost label");
    return;
  }
  if (body.starts_with("*.")) {
    if (is_public_suffix(comparable_dns_name(body.substr(2)))) {
      report(
          LintSeverity::error, "identity-wildcard-public-suffix", field,
          shown(name) + " is a wildcard over a public suffix; no CA signs it and clients ignore it",
          "request a wildcard only under your own registered domain");
      return;
    }
    report(
        LintSeverity::warning, "identity-wildcard", field,
        shown(name) + " is a wildcard: it names exactly one label (not " +
            std::string(body.substr(2)) +
            " itself, nor deeper names), many public CAs validate and price it differently, and a "
            "leaked key exposes every host under the domain",
        "prefer a SAN per node (a multi-server SAN certificate); if you keep the wildcard, also "
        "list the "
        "bare domain when clients connect to it");
  }
}

void lint_identities(const ParsedCsr& csr, CaProfile profile, const Reporter& report) {
  const std::vector<std::string> common_names = csr.subject.values_of(kOidCommonName);
  if (common_names.size() > 1) {
    report(LintSeverity::error, "cn-multiple", "subject.CN",
           "the subject holds " + std::to_string(common_names.size()) +
               " commonNames; CAs allow one, and clients ignore the CN when there is more than one",
           "keep one CN, the primary FQDN, and list every name in the subjectAltName");
  } else if (common_names.empty()) {
    report(
        by_profile(profile, LintSeverity::warning, LintSeverity::info), "cn-missing", "subject.CN",
        "the subject has no commonName; some public CAs' order forms still require one, and older "
        "clients show it as the server's name",
        "set CN to the primary FQDN, also listed in the subjectAltName");
  }

  if (!csr.has_subject_alt_name_extension) {
    report(
        LintSeverity::error, "san-missing", "subjectAltName",
        "the request has no subjectAltName; public CAs require one, and current clients (RFC 9525, "
        "browsers, Parley in strict mode) match only SANs, never the CN",
        "add a dNSName for each FQDN: openssl req -addext \"subjectAltName=DNS:host.example.com\" "
        "or "
        "parley-cert csr --fqdn");
  } else if (csr.subject_alt_name_malformed) {
    report(LintSeverity::error, "san-malformed", "subjectAltName",
           "the subjectAltName extension in the request does not decode (or is empty)",
           "generate the request again with a tool that writes the extension correctly "
           "(parley-cert csr)");
  }

  if (csr.subject_alt_names.size() > kMaxSubjectAltNamesPerCsr) {
    report(LintSeverity::error, "san-too-many", "subjectAltName",
           "the request has " + std::to_string(csr.subject_alt_names.size()) +
               " subjectAltName entries, more than the " +
               std::to_string(kMaxSubjectAltNamesPerCsr) +
               " this linter examines; no CA signs that many",
           "split the names over several requests");
    return;
  }
  if (csr.subject_alt_names.size() > kPublicCaSubjectAltNameCap &&
      profile == CaProfile::public_ca) {
    report(LintSeverity::warning, "san-too-many", "subjectAltName",
           "the request has " + std::to_string(csr.subject_alt_names.size()) +
               " subjectAltName entries; many public CAs sign at most " +
               std::to_string(kPublicCaSubjectAltNameCap),
           "split the names over several requests");
  }

  std::set<std::string> dns_names;  // comparable forms, to match the CN and skip repeats
  std::set<std::string> addresses;  // raw octets
  bool reported_xmpp_other_name = false;
  for (const GeneralName& name : csr.subject_alt_names) {
    switch (name.kind) {
      case GeneralNameKind::dns_name:
        if (dns_names.insert(comparable_dns_name(name.value)).second) {
          lint_host_name(name.value, NameSource::subject_alt_name, profile, report);
        }
        break;
      case GeneralNameKind::ip_address:
        if (addresses.insert(name.value).second) {
          report(by_profile(profile, LintSeverity::error, LintSeverity::warning),
                 "identity-ip-address", "subjectAltName.iPAddress",
                 "the request names an IP address; public CAs require FQDNs (and sign addresses "
                 "only after "
                 "separate validation), and clients that connect by FQDN never match it",
                 "remove the address and name the server by its FQDN everywhere clients are "
                 "configured");
        }
        break;
      case GeneralNameKind::other_name:
        if (name.other_name_type == kOidXmppAddr || name.other_name_type == kOidSrvName) {
          if (profile == CaProfile::public_ca && !reported_xmpp_other_name) {
            reported_xmpp_other_name = true;
            report(LintSeverity::error, "san-xmpp-othername", "subjectAltName.otherName",
                   "the request carries XmppAddr or SRVName otherNames; public CAs reject requests "
                   "with "
                   "them (XMPP clients match the dNSName instead)",
                   "for a public CA, request dNSNames only (parley-cert csr --profile public-ca); "
                   "keep "
                   "XmppAddr and SRVName for a private CA");
          }
          break;
        }
        [[fallthrough]];
      default:
        report(by_profile(profile, LintSeverity::error, LintSeverity::info), "san-unsupported-type",
               std::string("subjectAltName.") + to_string(name.kind),
               std::string("the request carries a ") + to_string(name.kind) +
                   (name.kind == GeneralNameKind::other_name ? " (" + name.other_name_type + ")"
                                                             : std::string()) +
                   " in its subjectAltName; public CAs sign only dNSNames (and vetted IP "
                   "addresses) in "
                   "server certificates, and Parley clients never consult it",
               "remove it from the request");
    }
  }

  if (common_names.size() == 1) {
    const std::string& cn = common_names.front();
    const std::string comparable = comparable_dns_name(cn);
    bool in_san = dns_names.contains(comparable);
    if (!in_san) {
      const std::optional<std::string> octets = parse_ipv4(cn) ? parse_ipv4(cn) : parse_ipv6(cn);
      in_san = octets && addresses.contains(*octets);
    }
    // The CN's own syntax matters only where a client may still read it: with no name in the SAN.
    if (!in_san) lint_host_name(cn, NameSource::common_name, profile, report);
    if (!in_san && csr.has_subject_alt_name_extension && !csr.subject_alt_name_malformed) {
      report(by_profile(profile, LintSeverity::error, LintSeverity::warning), "cn-not-in-san",
             "subject.CN",
             "CN " + shown(cn) +
                 " is not one of the subjectAltName entries; CA/B Forum rules require the CN to "
                 "repeat a SAN, "
                 "and clients that see SANs ignore the CN",
             "add " + shown(cn) + " to the subjectAltName, or set the CN to one of the SANs");
    }
  }
}

std::vector<std::string> requested_host_names(const ParsedCsr& csr) {
  std::set<std::string> names;
  for (const GeneralName& name : csr.subject_alt_names) {
    if (name.kind == GeneralNameKind::dns_name) names.insert(comparable_dns_name(name.value));
  }
  const std::vector<std::string> common_names = csr.subject.values_of(kOidCommonName);
  if (common_names.size() == 1 &&
      is_valid_dns_name(common_names.front(), WildcardSyntax::allowed_as_leftmost)) {
    names.insert(comparable_dns_name(common_names.front()));
  }
  return {names.begin(), names.end()};
}

std::string joined_values(const ParsedCsr& csr, const char* oid) {
  const std::vector<std::string> values = csr.subject.values_of(oid);
  if (values.empty()) return "(absent)";
  std::string out;
  for (const auto& value : values) {
    if (!out.empty()) out += " + ";
    out += shown(value);
  }
  return out;
}

struct DecodedEntry {
  const std::string* file;
  const ParsedCsr* csr;
};

void lint_set(std::span<const DecodedEntry> entries, CaProfile profile,
              std::vector<LintFinding>& findings) {
  if (entries.size() < 2) return;
  const DecodedEntry& first = entries.front();

  // Spec: "If you submit CSRs from multiple nodes, public CAs might require that the information
  // is consistent in all CSRs." Each CSR is compared with the first, so a report names two files.
  static constexpr std::pair<const char*, const char*> fields[] = {
      {kOidOrganizationName, "O"}, {kOidOrganizationalUnitName, "OU"},
      {kOidLocalityName, "L"},     {kOidStateOrProvinceName, "ST"},
      {kOidCountryName, "C"},
  };
  for (std::size_t i = 1; i < entries.size(); ++i) {
    const Reporter report{findings, *entries[i].file, LintStage::set};
    for (const auto& [oid, name] : fields) {
      const std::string mine = joined_values(*entries[i].csr, oid);
      const std::string theirs = joined_values(*first.csr, oid);
      if (mine == theirs) continue;
      report(
          by_profile(profile, LintSeverity::warning, LintSeverity::info), "subject-inconsistent",
          std::string("subject.") + name,
          std::string(name) + " is " + mine + " here but " + theirs + " in " + *first.file +
              "; public CAs may require the same organisation details in every CSR of a submission",
          "use the same subject fields (O, OU, L, ST, C) on every node, for example with "
          "parley-cert csr "
          "--subject");
    }
  }

  // Spec: "One Certificate Per FQDN - Some public CAs sign only one certificate per FQDN."
  std::map<std::string, std::size_t> first_request_naming;  // host name -> entry index
  for (std::size_t i = 0; i < entries.size(); ++i) {
    std::map<std::size_t, std::vector<std::string>> shared_with;  // earlier entry -> names
    for (const std::string& name : requested_host_names(*entries[i].csr)) {
      const auto [position, inserted] = first_request_naming.emplace(name, i);
      if (!inserted) shared_with[position->second].push_back(name);
    }
    const Reporter report{findings, *entries[i].file, LintStage::set};
    for (const auto& [earlier, names] : shared_with) {
      constexpr std::size_t kMaxListed = 5;
      std::string listed;
      for (std::size_t k = 0; k < names.size() && k < kMaxListed; ++k) {
        if (!listed.empty()) listed += ", ";
        listed += names[k];
      }
      if (names.size() > kMaxListed)
        listed += " and " + std::to_string(names.size() - kMaxListed) + " more";
      report(by_profile(profile, LintSeverity::warning, LintSeverity::info), "fqdn-duplicate",
             "subjectAltName",
             "this request and " + *entries[earlier].file + " both name " + listed +
                 ". Some public CAs sign only one certificate per FQDN",
             "submit each of these requests to a different public CA, or have a private CA sign "
             "them (it signs "
             "both)");
    }
  }

  // One key per request: a key shared by two services is compromised, revoked and rotated with
  // both, and some CAs refuse a key they have already certified.
  std::map<std::string, std::size_t> first_request_with_key;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].csr->subject_public_key_info.empty()) continue;
    const auto [position, inserted] =
        first_request_with_key.emplace(entries[i].csr->subject_public_key_info, i);
    if (inserted) continue;
    const Reporter report{findings, *entries[i].file, LintStage::set};
    report(LintSeverity::warning, "key-reused", "publicKey",
           "this request uses the same key as " + *entries[position->second].file,
           "generate a new key for each request (parley-cert csr always does)");
  }
}

}  // namespace

const char* to_string(CaProfile profile) {
  return profile == CaProfile::public_ca ? "public-ca" : "private-ca";
}

std::optional<CaProfile> parse_ca_profile(std::string_view text) {
  if (text == "public-ca") return CaProfile::public_ca;
  if (text == "private-ca") return CaProfile::private_ca;
  return std::nullopt;
}

const char* to_string(LintSeverity severity) {
  switch (severity) {
    case LintSeverity::error:
      return "error";
    case LintSeverity::warning:
      return "warning";
    case LintSeverity::info:
      return "info";
  }
  return "error";
}

Result<ParsedCsr> ParsedCsr::from_der(std::string_view der) {
  if (der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return fail(Error::limit("request too large"));
  }
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  const auto* const end = cursor + der.size();
  X509ReqPtr request(d2i_X509_REQ(nullptr, &cursor, static_cast<long>(der.size())));
  if (!request) {
    return fail(
        Error::parse("does not decode as a PKCS #10 request (" + openssl::last_error_text() + ")"));
  }
  if (cursor != end) {
    return fail(Error::parse(std::to_string(end - cursor) + " bytes follow the request"));
  }

  ParsedCsr csr;
  csr.der = std::string(der);
  csr.version = static_cast<int>(X509_REQ_get_version(request.get()));
  csr.subject = distinguished_name_from_openssl(X509_REQ_get_subject_name(request.get()));

  X509_PUBKEY* public_key = X509_REQ_get_X509_PUBKEY(request.get());
  csr.public_key = openssl::public_key_info(public_key);
  if (public_key != nullptr) {
    unsigned char* spki = nullptr;
    const int length = i2d_X509_PUBKEY(public_key, &spki);
    if (length > 0) {
      csr.subject_public_key_info.assign(reinterpret_cast<const char*>(spki),
                                         static_cast<std::size_t>(length));
      OPENSSL_free(spki);
    }
  }

  const X509_ALGOR* algorithm = nullptr;
  X509_REQ_get0_signature(request.get(), nullptr, &algorithm);
  if (algorithm != nullptr) {
    const ASN1_OBJECT* object = nullptr;
    X509_ALGOR_get0(&object, nullptr, nullptr, algorithm);
    csr.signature_algorithm = oid_text(object);
  }

  EVP_PKEY* key = X509_REQ_get0_pubkey(request.get());
  csr.signature_valid = key != nullptr && X509_REQ_verify(request.get(), key) == 1;

  // The requested extensions live in the PKCS #9 extensionRequest attribute.
  X509ExtensionStackPtr extensions(X509_REQ_get_extensions(request.get()));
  const int count = extensions ? sk_X509_EXTENSION_num(extensions.get()) : 0;
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* extension = sk_X509_EXTENSION_value(extensions.get(), i);
    const std::string oid = oid_text(X509_EXTENSION_get_object(extension));
    csr.requested_extension_oids.push_back(oid);
    if (oid != kOidSubjectAltName) continue;
    if (csr.has_subject_alt_name_extension) {
      // Two subjectAltName extensions: which one a CA uses is anyone's guess.
      csr.subject_alt_name_malformed = true;
      continue;
    }
    csr.has_subject_alt_name_extension = true;
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(extension)));
    if (!names || sk_GENERAL_NAME_num(names.get()) <= 0) {
      csr.subject_alt_name_malformed = true;
      continue;
    }
    const int name_count = sk_GENERAL_NAME_num(names.get());
    // Keep one more than the bound so that the rule sees it was exceeded.
    const int kept = std::min<int>(name_count, static_cast<int>(kMaxSubjectAltNamesPerCsr) + 1);
    for (int k = 0; k < kept; ++k)
      csr.subject_alt_names.push_back(
          general_name_from_openssl(sk_GENERAL_NAME_value(names.get(), k)));
  }
  ERR_clear_error();
  return csr;
}

PresentedIdentities ParsedCsr::presented() const {
  PresentedIdentities presented;
  presented.has_subject_alt_name_extension = has_subject_alt_name_extension;
  presented.subject_alt_names = subject_alt_names;
  presented.subject = &subject;
  return presented;
}

std::string forbidden_subject_characters(std::string_view value) {
  // ASN.1 PrintableString (X.680 41.4): what every CA's form accepts.
  auto is_printable_string_character = [](char c) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
    return std::string_view(" '()+,-./:=?").find(c) != std::string_view::npos;
  };
  std::string found;
  for (const char c : value) {
    if (static_cast<unsigned char>(c) >= 0x80) continue;  // non-ASCII: its own rule
    if (is_printable_string_character(c)) continue;
    if (found.find(c) == std::string::npos) found.push_back(c);
  }
  return found;
}

DecodedCsrFile decode_csr_file(std::string file, std::string_view contents) {
  DecodedCsrFile decoded;
  decoded.file = std::move(file);
  const Reporter report{decoded.findings, decoded.file, LintStage::input};
  const std::string pem_fix =
      "submit the Base64 PEM text that begins with -----BEGIN CERTIFICATE REQUEST-----, as the "
      "server or "
      "parley-cert csr wrote it";

  if (contents.empty()) {
    report(LintSeverity::error, "csr-not-a-request", "file", "the file is empty", pem_fix);
    return decoded;
  }

  // Find the first request block under either label.
  std::size_t begin_at = std::string_view::npos;
  std::string_view label;
  for (const std::string_view candidate : kRequestLabels) {
    const std::string begin_line = "-----BEGIN " + std::string(candidate) + "-----";
    const std::size_t at = contents.find(begin_line);
    if (at != std::string_view::npos && at < begin_at) {
      begin_at = at;
      label = candidate;
    }
  }

  if (begin_at != std::string_view::npos) {
    decoded.encoding = CsrEncoding::pem;
    const std::string begin_line = "-----BEGIN " + std::string(label) + "-----";
    const std::string end_line = "-----END " + std::string(label) + "-----";
    const std::size_t body = begin_at + begin_line.size();
    const std::size_t stop = contents.find(end_line, body);
    if (stop == std::string_view::npos) {
      report(LintSeverity::error, "csr-pem-truncated", "file",
             "the PEM request has no \"" + end_line + "\" line: the file is cut off",
             "copy the whole request, from the BEGIN line to the END line");
      return decoded;
    }
    const std::optional<std::string> der = decode_base64(contents.substr(body, stop - body));
    if (!der) {
      report(LintSeverity::error, "csr-pem-invalid-base64", "file",
             "the text between the BEGIN and END lines is not valid Base64 (lines lost, or "
             "characters added "
             "while copying)",
             "copy the request again as plain text, without changing any line");
      return decoded;
    }
    // More requests after the first: a CA form takes one.
    if (contents.find("-----BEGIN ", stop) != std::string_view::npos) {
      report(LintSeverity::warning, "csr-multiple-requests", "file",
             "the file holds more than one PEM block; a CA takes one request per submission, and "
             "only the "
             "first is linted",
             "put each request in its own file");
    }
    auto csr = ParsedCsr::from_der(*der);
    if (!csr) {
      report(LintSeverity::error, "csr-der-invalid", "file",
             "the PEM block decodes, but its contents " + csr.error().message,
             "generate the request again; if it was copied, copy it again unchanged");
      return decoded;
    }
    decoded.csr = std::move(*csr);
    return decoded;
  }

  if (const std::optional<std::string> other_label = first_pem_label(contents)) {
    report(LintSeverity::error, "csr-not-a-request", "file",
           "the file holds a PEM block labelled " + shown(*other_label) +
               ", not a CERTIFICATE REQUEST" +
               (other_label->find("PRIVATE KEY") != std::string::npos
                    ? " (a private key: never send it to a CA, and keep the file secret)"
                    : ""),
           pem_fix);
    return decoded;
  }

  auto csr = ParsedCsr::from_der(contents);
  if (csr) {
    decoded.encoding = CsrEncoding::der;
    report(LintSeverity::error, "csr-not-pem", "file",
           "the request is binary DER; CAs expect it Base64-encoded (PEM), as the spec requires",
           "convert it: openssl req -inform DER -in FILE -outform PEM -out FILE.pem");
    decoded.csr = std::move(*csr);
    return decoded;
  }
  if (static_cast<unsigned char>(contents.front()) == 0x30) {
    report(LintSeverity::error, "csr-not-a-request", "file",
           "the file is binary DER but " + csr.error().message, pem_fix);
  } else if (looks_like_bare_base64(contents)) {
    report(
        LintSeverity::error, "csr-not-a-request", "file",
        "the file looks like Base64 without the -----BEGIN CERTIFICATE REQUEST----- and -----END "
        "CERTIFICATE REQUEST----- lines",
        "add the BEGIN and END lines around the text, or copy the request again in full");
  } else if (is_mostly_text(contents)) {
    report(LintSeverity::error, "csr-not-a-request", "file",
           "the file is text without a PEM block: not a certificate signing request", pem_fix);
  } else {
    report(LintSeverity::error, "csr-not-a-request", "file",
           "the file is binary data that is neither PEM nor a DER request", pem_fix);
  }
  return decoded;
}

std::vector<LintFinding> lint_csr(const std::string& file, const ParsedCsr& csr,
                                  CaProfile profile) {
  std::vector<LintFinding> findings;
  const Reporter report{findings, file, LintStage::request};
  lint_signature(csr, report);
  lint_key(csr, profile, report);
  lint_subject(csr, profile, report);
  lint_identities(csr, profile, report);
  return findings;
}

std::vector<LintFinding> lint_csrs(std::span<const LintInput> inputs, const LintOptions& options) {
  std::vector<LintFinding> findings;
  if (inputs.size() > kMaxCsrsPerLint) {
    findings.push_back(
        {LintSeverity::error, LintStage::set, "too-many-csrs", inputs[kMaxCsrsPerLint].file, "file",
         std::to_string(inputs.size()) + " files given; one lint examines at most " +
             std::to_string(kMaxCsrsPerLint) + " CSRs",
         "lint the requests in smaller sets (each set that goes to one CA together)"});
    return findings;
  }
  std::vector<DecodedCsrFile> decoded;
  decoded.reserve(inputs.size());
  for (const LintInput& input : inputs) {
    decoded.push_back(decode_csr_file(input.file, input.contents));
    DecodedCsrFile& entry = decoded.back();
    findings.insert(findings.end(), entry.findings.begin(), entry.findings.end());
    if (entry.csr) {
      std::vector<LintFinding> request = lint_csr(entry.file, *entry.csr, options.profile);
      findings.insert(findings.end(), std::make_move_iterator(request.begin()),
                      std::make_move_iterator(request.end()));
    }
  }
  std::vector<DecodedEntry> entries;
  for (const DecodedCsrFile& entry : decoded) {
    if (entry.csr) entries.push_back({&entry.file, &*entry.csr});
  }
  lint_set(entries, options.profile, findings);
  return findings;
}

bool has_errors(std::span<const LintFinding> findings) {
  return std::any_of(findings.begin(), findings.end(),
                     [](const LintFinding& f) { return f.severity == LintSeverity::error; });
}

bool has_input_problems(std::span<const LintFinding> findings) {
  return std::any_of(findings.begin(), findings.end(), [](const LintFinding& f) {
    return f.stage == LintStage::input && f.severity == LintSeverity::error;
  });
}

}  // namespace parley::pki
