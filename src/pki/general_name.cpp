#include "pki/general_name.hpp"

#include "pki/openssl_types.hpp"

namespace parley::pki {

using openssl::oid_text;
using openssl::string_bytes;

const char* to_string(GeneralNameKind kind) {
  switch (kind) {
    case GeneralNameKind::other_name:
      return "otherName";
    case GeneralNameKind::rfc822_name:
      return "rfc822Name";
    case GeneralNameKind::dns_name:
      return "dNSName";
    case GeneralNameKind::x400_address:
      return "x400Address";
    case GeneralNameKind::directory_name:
      return "directoryName";
    case GeneralNameKind::edi_party_name:
      return "ediPartyName";
    case GeneralNameKind::uri:
      return "uniformResourceIdentifier";
    case GeneralNameKind::ip_address:
      return "iPAddress";
    case GeneralNameKind::registered_id:
      return "registeredID";
  }
  return "unknown";
}

GeneralName general_name_from_openssl(const GENERAL_NAME* name) {
  GeneralName out;
  switch (name->type) {
    case GEN_OTHERNAME: {
      out.kind = GeneralNameKind::other_name;
      out.other_name_type = oid_text(name->d.otherName->type_id);
      unsigned char* der = nullptr;
      const int length = i2d_ASN1_TYPE(name->d.otherName->value, &der);
      if (length > 0) {
        out.value.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
        OPENSSL_free(der);
      }
      break;
    }
    case GEN_EMAIL:
      out.kind = GeneralNameKind::rfc822_name;
      out.value = string_bytes(name->d.rfc822Name);
      break;
    case GEN_DNS:
      out.kind = GeneralNameKind::dns_name;
      out.value = string_bytes(name->d.dNSName);
      break;
    case GEN_URI:
      out.kind = GeneralNameKind::uri;
      out.value = string_bytes(name->d.uniformResourceIdentifier);
      break;
    case GEN_IPADD:
      out.kind = GeneralNameKind::ip_address;
      out.value = string_bytes(name->d.iPAddress);
      break;
    case GEN_DIRNAME:
      out.kind = GeneralNameKind::directory_name;
      out.directory = distinguished_name_from_openssl(name->d.directoryName);
      out.value = out.directory.der;
      break;
    case GEN_RID:
      out.kind = GeneralNameKind::registered_id;
      out.value = oid_text(name->d.registeredID);
      break;
    case GEN_X400:
      out.kind = GeneralNameKind::x400_address;
      out.value = string_bytes(name->d.x400Address);
      break;
    case GEN_EDIPARTY:
    default:
      out.kind = GeneralNameKind::edi_party_name;
      break;
  }
  return out;
}

}  // namespace parley::pki
