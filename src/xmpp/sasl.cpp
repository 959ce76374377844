#include "xmpp/sasl.hpp"

#include <array>
#include <utility>

namespace parley::xmpp::sasl {
namespace {

constexpr std::array<std::pair<Condition, const char*>, 11> kNames = {{
    {Condition::aborted, "aborted"},
    {Condition::account_disabled, "account-disabled"},
    {Condition::credentials_expired, "credentials-expired"},
    {Condition::encryption_required, "encryption-required"},
    {Condition::incorrect_encoding, "incorrect-encoding"},
    {Condition::invalid_authzid, "invalid-authzid"},
    {Condition::invalid_mechanism, "invalid-mechanism"},
    {Condition::malformed_request, "malformed-request"},
    {Condition::mechanism_too_weak, "mechanism-too-weak"},
    {Condition::not_authorized, "not-authorized"},
    {Condition::temporary_auth_failure, "temporary-auth-failure"},
}};

}  // namespace

const char* to_string(Condition condition) {
  for (const auto& [value, name] : kNames) {
    if (value == condition) return name;
  }
  return "not-authorized";  // unreachable for a valid enumerator; the safe answer otherwise
}

std::optional<Condition> parse_condition(std::string_view element_name) {
  for (const auto& [value, name] : kNames) {
    if (element_name == name) return value;
  }
  return std::nullopt;
}

}  // namespace parley::xmpp::sasl
