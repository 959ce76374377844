#pragma once
// A certificate authority for labs, demos and tests, NOT FOR PRODUCTION (issue 6: "ca init|issue
// for labs and the demo, clearly labelled as not for production").
//
// Why it is not for production, and why every use says so: its key lies unencrypted in a file,
// it keeps no record of what it issued, and its certificates carry no CRL Distribution Point or
// OCSP URL, so nobody can ever revoke one (spec: "Revocation Servers"). The label is in the
// certificate itself (O=Parley Lab - NOT FOR PRODUCTION), so that anyone who inspects a chain sees
// it, and issue_certificate() refuses a CA that does not carry it, so that a real CA key pointed at
// by mistake is never used by this code.
//
// create_lab_ca: a self-signed root, v3, random 16-byte serial, subject CN=<name>, O=Parley Lab -
//   NOT FOR PRODUCTION; basicConstraints CA:TRUE pathLen:0 critical (it signs leaves only, so a
//   leaked key cannot mint intermediates that verifiers accept), keyUsage keyCertSign + cRLSign
//   critical, subjectKeyIdentifier (RFC 5280 4.2.1.2 method 1). No authorityKeyIdentifier: RFC 5280
//   4.2.1.1 lets a self-signed certificate omit it.
// issue_certificate: from a PKCS#10 request whose signature verifies (proof that the requester
//   holds the key) and whose subjectAltName entries are all server identities Parley clients match:
//   dNSName (an FQDN, or a wildcard as the whole leftmost label), XmppAddr (a bare domain) and
//   SRVName (_xmpp-client.<domain> or _xmpp-server.<domain>). Anything else (an IP address, a short
//   host name, email, URI, other otherNames) is refused, as is a request without subjectAltName:
//   clients match SANs. The certificate gets the request's subject and those SANs (re-encoded from
//   the checked values, nothing else the request asks for), basicConstraints CA:FALSE critical,
//   keyUsage digitalSignature critical (+ keyEncipherment for an RSA key, which TLS 1.2 RSA key
//   exchange needs), extendedKeyUsage serverAuth (+ clientAuth for xmpp: an XMPP server is a TLS
//   client on its server-to-server connections), subjectKeyIdentifier, authorityKeyIdentifier
//   (keyIdentifier only), a random positive 16-byte serial (CA/B Forum BR 7.1: at least 64 random
//   bits), and validity from one hour before `now` (clock skew between lab machines) to `now` plus
//   the days asked for: 1 to 825 (the old CA/B Forum maximum), and never past the CA's own expiry.
//
// What this does not do: revocation (no CRL, no OCSP), intermediates, name constraints, or
// keeping an index of issued serials.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/csr.hpp"

namespace parley::pki {

inline constexpr std::string_view kLabCaOrganization = "Parley Lab - NOT FOR PRODUCTION";
inline constexpr std::string_view kLabCaDefaultName = "Parley Lab CA";
// The one line every user-facing use prints (stderr), so that nobody mistakes the lab CA for a
// real one.
inline constexpr std::string_view kLabCaWarning =
    "WARNING: the Parley lab CA is for labs, demos and tests only, NOT FOR PRODUCTION: its key is "
    "unencrypted on disk and its certificates cannot be revoked";

inline constexpr int kLabCaValidityDays = 5 * 365;
inline constexpr int kDefaultIssuedValidityDays = 90;
inline constexpr int kMaxIssuedValidityDays = 825;
inline constexpr std::size_t kMaxCsrFileBytes = 64 * 1024;

struct LabCaRequest {
  std::string name{kLabCaDefaultName};  // the CA's commonName: 1-64 characters of UTF-8
  KeyType key = KeyType::ec_p256;       // P-256: fast, and every TLS stack Parley talks to takes it
  UnixTime now = 0;
  int validity_days = kLabCaValidityDays;
};

struct LabCa {
  std::string key_pem;          // PKCS#8, unencrypted
  std::string certificate_pem;  // the self-signed root
};

Result<LabCa> create_lab_ca(const LabCaRequest& request);

struct LabCaFiles {
  std::filesystem::path key;          // <directory>/ca.key, mode 0600
  std::filesystem::path certificate;  // <directory>/ca.crt, mode 0644
};
LabCaFiles lab_ca_files(const std::filesystem::path& directory);

// Writes both files with core/atomic_file.hpp, never replacing one; creates `directory` (one
// level, mode 0700) when missing. Both or neither: the key is removed again when the certificate
// cannot be written.
Result<LabCaFiles> save_lab_ca(const std::filesystem::path& directory, const LabCa& ca);

// Reads ca.key and ca.crt back (each at most 64 KiB) and checks that they belong together and
// that the certificate is a lab CA's (the label above).
Result<LabCa> load_lab_ca(const std::filesystem::path& directory);

struct IssueRequest {
  std::string csr;  // PEM ("CERTIFICATE REQUEST" or "NEW CERTIFICATE REQUEST") or DER
  // nullopt: xmpp when the request carries an XmppAddr or SRVName, https otherwise.
  std::optional<CsrService> service;
  int validity_days = kDefaultIssuedValidityDays;
  UnixTime now = 0;
};

struct IssuedCertificate {
  std::string certificate_pem;
  CsrService service = CsrService::https;  // the one the key usages were chosen for
  std::string subject;                     // display form
  std::vector<RequestedName> subject_alt_names;
  std::string serial_hex;  // uppercase, no separators
  UnixTime not_before = 0;
  UnixTime not_after = 0;
};

Result<IssuedCertificate> issue_certificate(const LabCa& ca, const IssueRequest& request);

}  // namespace parley::pki
