#pragma once
// What a certificate (or a CSR) means to a Parley client, as a structured report for admins
// (spec: "Identifier Fields", "Revocation Servers", "Signed Certificates").
//
//  - identities: exactly what the client compares with the server's FQDN for the chosen service
//    (presented_identities with CnFallback::allow_when_no_identifier_san, the client's default),
//    and whether the subject CN is ignored because SANs of the consulted kinds exist;
//  - revocation: each CDP and AIA URL and whether the client can use it. The client fetches CRLs
//    and OCSP over plain HTTP only; an ldap:// or https:// URL, or none at all, means it cannot
//    check revocation for this certificate (and, per the spec, says nothing to the user);
//  - key, signature algorithm, validity at `now`, SHA-256 and SHA-1 fingerprints, self-signed or
//    CA-signed (self-signed: users are always prompted), CA or leaf, wildcards, EKUs.
//
// For a CSR only the subject, identities, key and signature are known.
//
// What this does not do: build or verify a chain (verify.hpp), fetch anything from the URLs
// (whether a server answers there is for `parley-cert verify`), or judge a CSR against CA rules
// (csr_lint.hpp).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/csr_lint.hpp"
#include "pki/identity.hpp"

namespace parley::pki {

struct InspectOptions {
  ServiceKind service = ServiceKind::xmpp_client;
  UnixTime now = 0;  // for the validity verdict
};

enum class InspectedKind { certificate, request };

enum class RevocationUrlSource { crl_distribution_point, ocsp, ca_issuers };
const char* to_string(RevocationUrlSource source);  // "CDP", "AIA OCSP", "AIA caIssuers"

struct InspectedUrl {
  RevocationUrlSource source = RevocationUrlSource::crl_distribution_point;
  std::string url;                // shown form (control bytes escaped)
  bool client_can_fetch = false;  // an http:// URL with a host
  std::string note;               // why not, when not
};

// http:// with a non-empty host (case-insensitive scheme). The reason when it is not.
bool is_fetchable_revocation_url(std::string_view url, std::string* why_not = nullptr);

enum class ValidityState { valid, expired, not_yet_valid };
const char* to_string(ValidityState state);  // "valid", "expired", "not yet valid"

enum class Signer {
  ca_signed,    // issued by another certificate (issuer name differs, or own key does not verify)
  self_signed,  // issuer == subject and the signature verifies with its own key
};

struct InspectReport {
  InspectedKind kind = InspectedKind::certificate;
  ServiceKind service = ServiceKind::xmpp_client;
  std::string subject;  // one-line display forms
  std::string issuer;   // certificates only

  std::vector<PresentedIdentity> identities;  // in the order the client tries them
  std::vector<std::string> common_names;      // as in the subject
  bool common_name_ignored = false;           // the subject has a CN the client does not consult
  std::string common_name_note;               // why, or a warning when the CN is the only identity
  std::vector<std::string> wildcard_identities;  // consulted identities with a leftmost "*"

  PublicKeyInfo key;
  std::string key_description;  // "RSA 2048 bits", "EC P-256", ...
  bool key_acceptable = false;
  std::string key_problem;
  std::string signature_algorithm;  // a name where known, else the dotted OID
  bool signature_algorithm_acceptable = false;

  // Certificates only.
  UnixTime not_before = 0;
  UnixTime not_after = 0;
  ValidityState validity = ValidityState::valid;
  std::string sha256_fingerprint;  // raw bytes
  std::string sha1_fingerprint;    // raw bytes
  Signer signer = Signer::ca_signed;
  bool is_ca = false;
  std::optional<std::int64_t> path_length;
  std::optional<std::vector<std::string>> extended_key_usage;  // names where known; nullopt: absent
  std::vector<InspectedUrl> revocation_urls;
  bool revocation_checkable = false;  // at least one CDP or AIA OCSP URL the client can fetch
  std::string revocation_note;

  // Requests only: the self-signature verifies.
  bool request_signature_valid = false;
};

InspectReport inspect_certificate(const Certificate& certificate, const InspectOptions& options);
InspectReport inspect_request(const ParsedCsr& request, const InspectOptions& options);

// A file's bytes: a CSR (PEM "CERTIFICATE REQUEST" or DER) or the first certificate of a PEM or
// DER file. Fails with a message naming the problem when it is neither.
Result<InspectReport> inspect_bytes(std::string_view contents, const InspectOptions& options);

// Human names for the OIDs shown in reports ("serverAuth", "sha256WithRSAEncryption"); the dotted
// OID itself when unknown.
std::string extended_key_usage_name(std::string_view oid);
std::string signature_algorithm_name(std::string_view oid);

}  // namespace parley::pki
