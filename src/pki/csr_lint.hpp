#pragma once
// Linting certificate signing requests (PKCS #10, RFC 2986) before they go to a CA (spec:
// "Certificate Signing Request Formats and Requirements", "One Certificate Per FQDN", "Server
// Identity in Certificates", "Prevent Identity Mismatch").
//
// A public CA turns a CSR down, or signs something clients then reject, for reasons an admin can
// see in the CSR: the file is not Base64 PEM, a subject field holds "&" or "@", the key is short,
// the identity is an IP address or a short host name, there is no subjectAltName, two CSRs of one
// submission disagree on the organisation or name the same FQDN. lint_csrs() reports each as a
// LintFinding with a stable rule id, a severity that depends on the CA profile, the field, and a
// fix. Every rule is documented in docs/certificates.md ("Lint rules").
//
// Stages, each with its own rules:
//  - input:   is the file a Base64 PEM CERTIFICATE REQUEST at all (LintStage::input). A file that
//             cannot be decoded stops here; DER input is reported and then linted like PEM.
//  - request: rules about one CSR (its signature, key, subject and identities).
//  - set:     rules about the CSRs given together (consistent subject fields, one CSR per FQDN,
//             one key per CSR).
//
// What this does not do: ask a CA anything (rules are what public CAs commonly enforce; a given CA
// may be stricter), check that the requester controls the names, or validate the extensions a CA
// replaces anyway (keyUsage, extendedKeyUsage, basicConstraints in the request are not linted).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/distinguished_name.hpp"
#include "pki/general_name.hpp"
#include "pki/identity.hpp"

namespace parley::pki {

// Which CA the CSRs are meant for. Public CAs follow the CA/Browser Forum Baseline Requirements and
// their own format rules; a private (enterprise or lab) CA signs what its admin allows, so format
// rules become warnings there, while rules about what clients accept stay errors.
enum class CaProfile { public_ca, private_ca };
const char* to_string(CaProfile profile);                          // "public-ca", "private-ca"
std::optional<CaProfile> parse_ca_profile(std::string_view text);  // the to_string spellings

enum class LintSeverity { error, warning, info };
const char* to_string(LintSeverity severity);  // "error", "warning", "info"

enum class LintStage { input, request, set };

struct LintFinding {
  LintSeverity severity = LintSeverity::error;
  LintStage stage = LintStage::request;
  std::string rule;     // kebab-case, stable: scripts and docs/certificates.md refer to it
  std::string file;     // as the caller named it
  std::string field;    // "subject.O", "subjectAltName", "publicKey", "signature", "file", ...
  std::string message;  // what is wrong, naming the value
  std::string fix;      // what to do about it
};

// A decoded PKCS #10 request, as plain values (OpenSSL types stay in the .cpp).
struct ParsedCsr {
  std::string der;
  int version = 0;  // the encoded INTEGER; RFC 2986 allows only 0 (v1)
  DistinguishedName subject;
  PublicKeyInfo public_key;
  std::string subject_public_key_info;  // DER, to spot one key reused by several CSRs
  std::string signature_algorithm;      // dotted OID
  // X509_REQ_verify: the request is signed by the key it carries (proof of possession, and proof
  // that nothing changed the request after it was made).
  bool signature_valid = false;
  // From the extensionRequest attribute (PKCS #9). has_subject_alt_name_extension is true even
  // when the extension did not decode (subject_alt_name_malformed), like PresentedIdentities.
  bool has_subject_alt_name_extension = false;
  bool subject_alt_name_malformed = false;
  GeneralNames subject_alt_names;
  std::vector<std::string> requested_extension_oids;

  // One DER request; fails when OpenSSL cannot decode it or bytes follow it.
  static Result<ParsedCsr> from_der(std::string_view der);

  // The view identity.hpp's functions take; valid while this object lives.
  PresentedIdentities presented() const;
};

// How the bytes of a file were encoded, as far as the input stage could tell.
enum class CsrEncoding { pem, der, unrecognised };

// The input stage on its own: decodes a file's bytes (PEM or, reported, DER) and returns the
// request with the input findings; `csr` is empty when the file holds no usable request. The input
// rules are the same for every CA profile: they decide whether linting can start at all.
struct DecodedCsrFile {
  std::string file;
  CsrEncoding encoding = CsrEncoding::unrecognised;
  std::optional<ParsedCsr> csr;
  std::vector<LintFinding> findings;
};
DecodedCsrFile decode_csr_file(std::string file, std::string_view contents);

struct LintInput {
  std::string file;      // a name for messages (the path the user gave)
  std::string contents;  // the file's bytes, already size-bounded by the caller (core/file.hpp)
};

struct LintOptions {
  CaProfile profile = CaProfile::public_ca;
};

// Bounds on what one call looks at (STYLE.md habit 6): beyond them the set is refused with a
// finding instead of linted partially.
inline constexpr std::size_t kMaxCsrsPerLint = 1000;
inline constexpr std::size_t kMaxSubjectAltNamesPerCsr = 1000;
// Many public CAs cap a certificate at 100 SANs; above that the request is likely refused.
inline constexpr std::size_t kPublicCaSubjectAltNameCap = 100;

// Lints every input and then the set. Findings come in input order, then set findings; within a
// file in rule order. Never fails: every problem, including undecodable input, is a finding.
std::vector<LintFinding> lint_csrs(std::span<const LintInput> inputs, const LintOptions& options);

// The request-stage rules for one decoded CSR (exposed for the unit tables).
std::vector<LintFinding> lint_csr(const std::string& file, const ParsedCsr& csr, CaProfile profile);

// Characters a public CA's form refuses in a subject field: anything outside ASN.1
// PrintableString (letters, digits, space and ' ( ) + , - . / : = ?), ASCII control characters
// included. Non-ASCII text is reported by its own rule. Returns the offending characters, each
// once, in order of appearance.
std::string forbidden_subject_characters(std::string_view value);

// True when the request's findings include an error (the CLI's exit code 1) or an input-stage
// finding (exit code 2: the file is not a usable CSR as given).
bool has_errors(std::span<const LintFinding> findings);
bool has_input_problems(std::span<const LintFinding> findings);

}  // namespace parley::pki
