#include "store/write_checks.hpp"

#include <set>

namespace parley::store {

using xmpp::sasl::ScramCredentials;
using xmpp::sasl::ScramHash;

std::optional<std::string> name_problem(std::string_view what, std::string_view value,
                                        std::size_t max_octets) {
  if (value.empty()) return std::string(what) + " is empty";
  if (value.size() > max_octets) {
    return std::string(what) + " is longer than " + std::to_string(max_octets) + " octets";
  }
  return std::nullopt;
}

std::optional<std::string> credentials_problem(const ScramCredentials& credentials,
                                               ScramHash slot) {
  const std::string what = std::string("the ") + hash_display(slot) + " credentials ";
  if (credentials.hash != slot) return what + "are marked as another hash";
  if (credentials.iterations < xmpp::sasl::kMinimumIterations ||
      credentials.iterations > xmpp::sasl::kMaximumIterations) {
    return what + "have an iteration count outside " +
           std::to_string(xmpp::sasl::kMinimumIterations) + ".." +
           std::to_string(xmpp::sasl::kMaximumIterations);
  }
  if (credentials.salt.empty() || credentials.salt.size() > kMaxSaltOctets) {
    return what + "have no salt or one longer than " + std::to_string(kMaxSaltOctets) + " octets";
  }
  if (credentials.stored_key.size() != digest_octets(slot) ||
      credentials.server_key.size() != digest_octets(slot)) {
    return what + "have keys that are not " + std::to_string(digest_octets(slot)) + " octets";
  }
  return std::nullopt;
}

std::optional<std::string> groups_problem(const std::vector<std::string>& groups) {
  std::set<std::string_view> seen;
  for (const auto& group : groups) {
    if (group.empty()) return "an empty group name (RFC 6121 2.1.2.2)";
    if (!seen.insert(group).second) {
      return "group " + shown_name(group) + " is given twice (RFC 6121 2.3.3)";
    }
  }
  return std::nullopt;
}

bool is_storable_text(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const auto continuation = [&](std::size_t i) {
    return i < text.size() && (byte(i) & 0xC0) == 0x80;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char lead = byte(i);
    if (lead == 0) return false;
    if (lead < 0x80) {
      ++i;
      continue;
    }
    // RFC 3629 section 4: the second octet's range depends on the first.
    std::size_t length = 0;
    unsigned char second_min = 0x80, second_max = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead == 0xE0) {
      length = 3, second_min = 0xA0;
    } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
      length = 3;
    } else if (lead == 0xED) {
      length = 3, second_max = 0x9F;  // no UTF-16 surrogates
    } else if (lead == 0xF0) {
      length = 4, second_min = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      length = 4;
    } else if (lead == 0xF4) {
      length = 4, second_max = 0x8F;  // nothing above U+10FFFF
    } else {
      return false;  // a continuation octet, C0, C1 or F5..FF
    }
    if (i + 1 >= text.size() || byte(i + 1) < second_min || byte(i + 1) > second_max) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if (!continuation(i + k)) return false;
    }
    i += length;
  }
  return true;
}

std::string shown_name(std::string_view value) {
  constexpr std::size_t kShown = 64;
  if (value.size() <= kShown) return "'" + std::string(value) + "'";
  return "'" + std::string(value.substr(0, kShown)) + "...' (" + std::to_string(value.size()) +
         " octets)";
}

const char* hash_display(ScramHash hash) {
  return hash == ScramHash::sha1 ? "SCRAM-SHA-1" : "SCRAM-SHA-256";
}

std::size_t digest_octets(ScramHash hash) {
  return hash == ScramHash::sha1 ? 20 : 32;
}

}  // namespace parley::store
