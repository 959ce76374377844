#include "pki/openssl_types.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>

#include <ctime>

namespace parley::pki::openssl {

std::string oid_text(const ASN1_OBJECT* object) {
  if (object == nullptr) return {};
  char buffer[128];
  const int n = OBJ_obj2txt(buffer, sizeof buffer, object, /*no_name=*/1);
  if (n <= 0) return {};
  if (static_cast<std::size_t>(n) < sizeof buffer) return std::string(buffer, static_cast<std::size_t>(n));
  // An absurdly long OID: ask again with room for it (bounded by OpenSSL's own encoding limits).
  std::string big(static_cast<std::size_t>(n) + 1, '\0');
  OBJ_obj2txt(big.data(), n + 1, object, 1);
  big.resize(static_cast<std::size_t>(n));
  return big;
}

bool time_to_unix(const ASN1_TIME* time, std::int64_t& out) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return false;
  out = static_cast<std::int64_t>(timegm(&tm));
  return true;
}

std::string last_error_text() {
  std::string text;
  for (int i = 0; i < 16; ++i) {  // the queue is short; the bound keeps a broken state from looping
    const unsigned long code = ERR_get_error();
    if (code == 0) break;
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

}  // namespace parley::pki::openssl
