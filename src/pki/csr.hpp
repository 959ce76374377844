#pragma once
// Certificate signing requests for a Parley deployment (spec: "Certificates": "Certificate Signing
// Request Formats and Requirements", "Server Identity in Certificates", "Identifier Fields",
// "Certificates for Multiserver SANs"; issue 6).
//
// One request per service, with a new key every time:
//  - xmpp: dNSName for the XMPP domain and for each node; under CaProfile::private_ca also the
//    XmppAddr (RFC 6120 13.7.1.4) of the domain and the SRVNames (RFC 4985) _xmpp-client.<domain>
//    and _xmpp-server.<domain>, which are what an XMPP client and server match first
//    (identity.hpp). Public CAs refuse otherName entries, so public_ca leaves them out and the
//    clients fall back to the dNSName of the domain. The commonName is the domain.
//  - https, sip: one dNSName per node; the commonName is the first node.
//  - Several nodes make one multi-server SAN request, so that one certificate is uploaded once
//    per cluster instead of once per node (spec: "Certificates for Multiserver SANs").
//
// Identities are fully qualified domain names only: an IP address or a single-label host name is
// refused, because public CAs do not certify them and a client that reaches a server by one of
// them cannot match a certificate that names the server's FQDN (spec: "Prevent Identity
// Mismatch"). Subject fields are checked for what a public CA rejects (spec: "Do not contain
// certain characters, such as @ & !"): under public_ca a value must consist of the X.680
// PrintableString characters (letters, digits, space and ' ( ) + , - . / : = ?), which every CA's
// parser accepts; everything else, the spec's @ & ! included, is refused with the character named
// (the same set parley-cert lint reports: csr_lint.hpp's forbidden_subject_characters).
// Under private_ca any UTF-8 text without control characters is allowed.
//
// The request is a PKCS#10 v1 request signed with SHA-256 (SHA-384 for a P-384 key), subject
// C, ST, L, O, OU, CN in that order (most general first, as CAs print them), one non-critical
// subjectAltName extension in the extensionRequest attribute and nothing else: key usage and
// extended key usage are the CA's decision (lab_ca.hpp makes it for the lab CA). The key is
// written as unencrypted PKCS#8 PEM, because servers (Parley, Prosody, ejabberd) load it
// unattended; the file mode (0600) is what protects it.
//
// What this does not do: check a request someone else made (parley-cert lint does), submit it to a
// CA, or reuse an existing key (a new request always gets a new key; an existing key file is never
// overwritten).

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/csr_lint.hpp"
#include "pki/identity.hpp"

namespace parley::pki {

// The Parley service a request is for (spec: "Required Certificates for On-Premises Servers").
enum class CsrService { xmpp, https, sip };
const char* to_string(CsrService service);                           // "xmpp", "https", "sip"
std::optional<CsrService> parse_csr_service(std::string_view text);  // the to_string spellings

// Keys a request may get; nothing weaker than RSA 2048 or P-256 (spec: PKI certificate key
// lengths; CA/Browser Forum BR 6.1.5).
enum class KeyType { rsa_2048, rsa_3072, rsa_4096, ec_p256, ec_p384 };
const char* to_string(KeyType key);  // "rsa:2048", ..., "ec:P-256", "ec:P-384"
// The to_string spellings (the curve name case-insensitively); anything else fails with a message
// that says why (a key that is too short, an unknown curve) and lists the choices.
Result<KeyType> parse_key_type(std::string_view text);

// CaProfile (public_ca, private_ca) is csr_lint.hpp's: one notion of "which CA" for making and for
// linting requests. It decides the otherName SANs and the subject characters here.

// The subject fields an administrator supplies; the commonName always comes from the identities.
enum class SubjectField { country, state_or_province, locality, organization, organizational_unit };
const char* to_string(SubjectField field);  // "C", "ST", "L", "O", "OU"

struct SubjectAttribute {
  SubjectField field = SubjectField::organization;
  std::string value;  // UTF-8
  bool operator==(const SubjectAttribute&) const = default;
};

inline constexpr std::size_t kMaxSubjectTextBytes = 1024;

// Parses "O=Example Corp,OU=IT,L=Berlin,ST=Berlin,C=DE": fields O, OU, L, ST and C (upper or
// lower case), each at most once, separated by ','; spaces around fields are ignored; "\," and
// "\\" stand for a comma and a backslash inside a value. Every value is then checked with
// subject_value_problem. CN is refused: it comes from the identities. An empty text is an empty
// subject (only the CN). The result is in the order C, ST, L, O, OU whatever the input order.
Result<std::vector<SubjectAttribute>> parse_subject(std::string_view text, CaProfile profile);

// The first thing wrong with a subject value, or nullopt: empty, longer than RFC 5280's upper
// bound (C exactly two letters, O and OU 64 characters, L and ST 128), not UTF-8, control
// characters, and under public_ca any character outside PrintableString (see the top).
std::optional<std::string> subject_value_problem(SubjectField field, std::string_view value,
                                                 CaProfile profile);

// The first thing wrong with `name` as a server identity to be certified, or nullopt: an IP
// address, a name that is not a valid DNS name (identity.hpp's syntax), a wildcard unless
// `wildcard` allows it, or a single-label (short) host name.
std::optional<std::string> server_identity_problem(std::string_view name, WildcardSyntax wildcard);

inline constexpr std::size_t kMaxCsrNodes = 100;  // public CAs cap SANs at 100-250 per certificate

struct CsrRequest {
  CsrService service = CsrService::https;
  std::vector<std::string> nodes;  // FQDNs; the first names the files and (https, sip) the CN
  std::string domain;              // the XMPP domain: required for xmpp, refused otherwise
  std::vector<SubjectAttribute> subject;  // without CN; any order (see parse_subject)
  KeyType key = KeyType::rsa_2048;
  CaProfile profile = CaProfile::public_ca;
};

// One subjectAltName entry a request asks for.
enum class RequestedNameKind {
  dns_name,   // dNSName
  xmpp_addr,  // otherName id-on-xmppAddr (1.3.6.1.5.5.7.8.5), UTF8String
  srv_name,   // otherName id-on-dnsSRV (1.3.6.1.5.5.7.8.7), IA5String
};
const char* to_string(RequestedNameKind kind);  // "dNSName", "XmppAddr", "SRVName"

struct RequestedName {
  RequestedNameKind kind = RequestedNameKind::dns_name;
  std::string value;  // "chat.example.com", "example.com", "_xmpp-client.example.com"
  bool operator==(const RequestedName&) const = default;
};

// What a request will contain, decided from a CsrRequest without any cryptography, with every
// name validated and normalised (lowercase, no trailing dot) and duplicates refused. A commonName
// longer than 64 characters (RFC 5280 ub-common-name) is refused rather than left out, because the
// spec's CAs and clients still expect one.
struct CsrContents {
  CsrService service = CsrService::https;
  KeyType key = KeyType::rsa_2048;
  CaProfile profile = CaProfile::public_ca;
  std::string common_name;
  std::vector<SubjectAttribute> subject;  // without CN, in the order C, ST, L, O, OU
  std::vector<RequestedName> subject_alt_names;
  std::string file_stem;  // "<service>-<first node>": safe as a file name (LDH and dots only)
};

Result<CsrContents> plan_csr(const CsrRequest& request);

// The subject as one line, "CN=chat.example.com, O=Example Corp, C=DE" (display only).
std::string subject_display_string(const CsrContents& contents);

struct GeneratedCsr {
  CsrContents contents;
  std::string key_pem;  // "PRIVATE KEY" (PKCS#8), unencrypted: see the top
  std::string csr_pem;  // "CERTIFICATE REQUEST"
};

// plan_csr, then a new key and the signed request (checked against its own key before returning).
Result<GeneratedCsr> generate_csr(const CsrRequest& request);

// A new private key of the given type as unencrypted PKCS#8 PEM (also the lab CA's key).
Result<std::string> generate_private_key_pem(KeyType key);

struct CsrFiles {
  std::filesystem::path key;  // <directory>/<file_stem>.key
  std::filesystem::path csr;  // <directory>/<file_stem>.csr
};
CsrFiles csr_file_paths(const std::filesystem::path& directory, const CsrContents& contents);

// Writes the key (mode 0600) and the request (mode 0644) with core/atomic_file.hpp, never
// replacing an existing file. Creates `directory` (one level, mode 0700) when it is missing.
// Either both files are written or neither is left behind: when the request cannot be written,
// the key just written is removed again.
Result<CsrFiles> save_csr(const std::filesystem::path& directory, const GeneratedCsr& generated);

}  // namespace parley::pki
