#include "pki/distinguished_name.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "core/utf8.hpp"
#include "pki/openssl_types.hpp"

namespace parley::pki {
namespace {

bool is_directory_string_type(int type) {
  switch (type) {
    case V_ASN1_UTF8STRING:
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_VISIBLESTRING:
      return true;
    default:
      return false;
  }
}

// String types whose bytes already are UTF-8 when well formed (PrintableString, IA5String and
// VisibleString are ASCII subsets).
bool is_ascii_compatible_type(int type) {
  return type == V_ASN1_UTF8STRING || type == V_ASN1_PRINTABLESTRING || type == V_ASN1_IA5STRING ||
         type == V_ASN1_VISIBLESTRING;
}

// RFC 4518-lite: fold ASCII case, drop leading/trailing spaces, collapse inner runs of spaces.
std::string prepare_for_comparison(std::string_view utf8) {
  std::string out;
  out.reserve(utf8.size());
  bool pending_space = false;
  for (const char c : utf8) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) != 0 && u < 0x80) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(static_cast<char>(u < 0x80 ? std::tolower(u) : u));
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes) {
    out.push_back(digits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(digits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

// Length-prefixed so that no attribute value can imitate a separator.
void append_field(std::string& out, std::string_view field) {
  out += std::to_string(field.size());
  out += ':';
  out += field;
}

}  // namespace

DistinguishedName distinguished_name_from_openssl(const X509_NAME* name) {
  DistinguishedName result;
  if (name == nullptr) return result;

  unsigned char* der = nullptr;
  const int der_length = i2d_X509_NAME(name, &der);
  if (der_length > 0) {
    result.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_length));
    OPENSSL_free(der);
  }

  const int count = X509_NAME_entry_count(name);
  int current_set = -1;
  for (int i = 0; i < count; ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(name, i);
    // Entries of one multi-valued RDN share a set number.
    const int set = X509_NAME_ENTRY_set(entry);
    if (set != current_set || result.rdns.empty()) {
      result.rdns.emplace_back();
      current_set = set;
    }
    NameAttribute attribute;
    attribute.type_oid = openssl::oid_text(X509_NAME_ENTRY_get_object(entry));
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(entry);
    attribute.asn1_string_type = ASN1_STRING_type(value);
    if (is_ascii_compatible_type(attribute.asn1_string_type) &&
        is_valid_utf8(openssl::string_bytes(value))) {
      // Already UTF-8 (or its ASCII subset): no conversion needed.
      attribute.value_utf8 = openssl::string_bytes(value);
      attribute.canonical_value = prepare_for_comparison(attribute.value_utf8);
    } else if (is_directory_string_type(attribute.asn1_string_type)) {
      unsigned char* utf8 = nullptr;
      const int utf8_length = ASN1_STRING_to_UTF8(&utf8, value);
      if (utf8_length >= 0) {
        attribute.value_utf8.assign(reinterpret_cast<const char*>(utf8),
                                    static_cast<std::size_t>(utf8_length));
        OPENSSL_free(utf8);
        attribute.canonical_value = prepare_for_comparison(attribute.value_utf8);
      } else {
        // Not convertible (e.g. an odd-length BMPString): compare by bytes, never equal to text.
        attribute.canonical_value = '#';
        attribute.canonical_value += hex(openssl::string_bytes(value));
      }
    } else {
      attribute.canonical_value = '#';
      attribute.canonical_value += std::to_string(attribute.asn1_string_type);
      attribute.canonical_value += '#';
      attribute.canonical_value += hex(openssl::string_bytes(value));
    }
    result.rdns.back().push_back(std::move(attribute));
  }

  for (const auto& rdn : result.rdns) {
    // A multi-valued RDN is a SET: order does not matter for equality.
    std::vector<std::string> members;
    members.reserve(rdn.size());
    for (const auto& attribute : rdn) {
      std::string member;
      append_field(member, attribute.type_oid);
      append_field(member, attribute.canonical_value);
      members.push_back(std::move(member));
    }
    std::sort(members.begin(), members.end());
    result.canonical += '[';
    for (const auto& member : members) result.canonical += member;
    result.canonical += ']';
  }
  return result;
}

std::vector<std::string> DistinguishedName::values_of(const std::string& type_oid) const {
  std::vector<std::string> values;
  for (const auto& rdn : rdns) {
    for (const auto& attribute : rdn) {
      if (attribute.type_oid == type_oid) values.push_back(attribute.value_utf8);
    }
  }
  return values;
}

std::string DistinguishedName::to_display_string() const {
  static const std::pair<const char*, const char*> short_names[] = {
      {"2.5.4.3", "CN"},
      {"2.5.4.6", "C"},
      {"2.5.4.7", "L"},
      {"2.5.4.8", "ST"},
      {"2.5.4.10", "O"},
      {"2.5.4.11", "OU"},
      {"0.9.2342.19200300.100.1.25", "DC"},
      {"1.2.840.113549.1.9.1", "emailAddress"},
      {"2.5.4.5", "serialNumber"},
  };
  std::string out;
  for (auto rdn = rdns.rbegin(); rdn != rdns.rend(); ++rdn) {
    if (!out.empty()) out += ", ";
    bool first = true;
    for (const auto& attribute : *rdn) {
      if (!first) out += '+';
      first = false;
      const char* label = nullptr;
      for (const auto& [oid, name] : short_names) {
        if (attribute.type_oid == oid) label = name;
      }
      out += label != nullptr ? label : attribute.type_oid.c_str();
      out += '=';
      out += attribute.value_utf8.empty() ? attribute.canonical_value : attribute.value_utf8;
    }
  }
  return out;
}

}  // namespace parley::pki
