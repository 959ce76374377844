#pragma once
// GeneralName (RFC 5280 4.2.1.6) as Parley sees it after OpenSSL has decoded the DER.
//
// This is a plain value: no OpenSSL types leak out of certificate.cpp. Names are kept as the bytes
// the certificate carries (no normalisation here); matching rules live in name_constraints.hpp and
// identity.hpp, which say which comparison each kind gets.

#include <string>
#include <vector>

#include "pki/distinguished_name.hpp"

typedef struct GENERAL_NAME_st GENERAL_NAME;  // NOLINT: OpenSSL's own forward declaration

namespace parley::pki {

enum class GeneralNameKind {
  other_name,      // [0] type-id + value; XmppAddr and SRVName live here
  rfc822_name,     // [1] email address
  dns_name,        // [2]
  x400_address,    // [3] not interpreted
  directory_name,  // [4]
  edi_party_name,  // [5] not interpreted
  uri,             // [6]
  ip_address,      // [7] 4 or 16 bytes in a SAN; address + mask (8 or 32 bytes) in a constraint
  registered_id,   // [8]
};

const char* to_string(GeneralNameKind kind);

struct GeneralName {
  GeneralNameKind kind = GeneralNameKind::dns_name;
  // dns_name, rfc822_name, uri: the IA5String bytes exactly as encoded.
  // ip_address: raw octets. registered_id: dotted OID. other_name: DER of the value ([0] EXPLICIT
  // contents). x400/edi: DER of the whole thing (never matched, only recognised).
  std::string value;
  std::string other_name_type;  // dotted OID, for other_name only
  DistinguishedName directory;  // for directory_name only

  bool operator==(const GeneralName&) const = default;
};

using GeneralNames = std::vector<GeneralName>;

// Reads an OpenSSL GENERAL_NAME into Parley's form. The one place that does, for certificates,
// CSRs and constraints alike.
GeneralName general_name_from_openssl(const GENERAL_NAME* name);

}  // namespace parley::pki
