#pragma once
// X.501 Name as a sequence of RDNs, with the canonical form used for comparisons.
//
// RFC 5280 7.1 compares names after RFC 4518 string preparation; like OpenSSL and Chromium, Parley
// approximates that with: convert to UTF-8, fold ASCII case, trim and collapse internal whitespace,
// for DirectoryString attributes; other attribute values compare by their DER bytes.

#include <string>
#include <vector>

typedef struct X509_name_st X509_NAME;  // NOLINT: OpenSSL's own forward declaration

namespace parley::pki {

struct NameAttribute {
  std::string type_oid;         // dotted form, e.g. "2.5.4.3" for commonName
  std::string value_utf8;       // the value as UTF-8 text, when it is a string type
  std::string canonical_value;  // what comparisons use (see above)
  int asn1_string_type = 0;     // V_ASN1_* tag of the value (UTF8String, PrintableString, ...)

  bool operator==(const NameAttribute&) const = default;
};

using RelativeDistinguishedName = std::vector<NameAttribute>;

struct DistinguishedName {
  std::vector<RelativeDistinguishedName> rdns;
  std::string der;        // the Name exactly as encoded
  std::string canonical;  // equal canonical strings <=> equal names under RFC 5280 7.1

  bool empty() const { return rdns.empty(); }
  // Values of every attribute of the given type, in order (e.g. all commonNames).
  std::vector<std::string> values_of(const std::string& type_oid) const;
  // One line, RFC 4514 order (most specific first), for display only.
  std::string to_display_string() const;

  bool operator==(const DistinguishedName& other) const { return canonical == other.canonical; }
};

// Reads an OpenSSL name into Parley's form (computes der and canonical). The one place that does.
DistinguishedName distinguished_name_from_openssl(const X509_NAME* name);

inline constexpr const char* kOidCommonName = "2.5.4.3";
inline constexpr const char* kOidEmailAddress = "1.2.840.113549.1.9.1";

}  // namespace parley::pki
