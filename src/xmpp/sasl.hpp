#pragma once
// SASL failure conditions of XMPP (RFC 6120 6.5) and the failure type every SASL mechanism
// returns. The condition is what goes on the wire in <failure/>; the detail is for logs only and
// must never be sent to the peer (it may say why a proof failed, which a peer must not learn).

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp::sasl {

// Every condition of RFC 6120 6.5, in the RFC's order (6.5.1 ... 6.5.11).
enum class Condition {
  aborted,                 // 6.5.1  the initiating entity sent <abort/>
  account_disabled,        // 6.5.2
  credentials_expired,     // 6.5.3
  encryption_required,     // 6.5.4  the mechanism (PLAIN) may only be used over TLS
  incorrect_encoding,      // 6.5.5  the XMPP-level base64 of <auth/> or <response/> is bad
  invalid_authzid,         // 6.5.6
  invalid_mechanism,       // 6.5.7  not offered or not known
  malformed_request,       // 6.5.8  the mechanism's own syntax is broken
  mechanism_too_weak,      // 6.5.9
  not_authorized,          // 6.5.10 wrong credentials, unknown user, failed channel binding
  temporary_auth_failure,  // 6.5.11 the credential store did not answer
};

// The element name of RFC 6120 6.5 ("not-authorized").
const char* to_string(Condition condition);
std::optional<Condition> parse_condition(std::string_view element_name);

// Whether a failure rejected a credential the peer presented (a proof, a password, a user name)
// or ended the exchange without rejecting one: a mechanism or channel binding type the server
// does not do, the downgrade flag, a malformed message, an abort, a store that did not answer,
// an authorization identity refused after correct credentials. Limits on password guessing
// (RFC 6120 6.4.5 retries per stream, failures per address) count only the first kind: the
// second is what an honest client meets while it falls back to its next mechanism, and it tells
// a guesser nothing. The condition on the wire is the same either way (RFC 6120 6.5).
enum class CredentialVerdict {
  rejected,      // a presented credential was checked and is wrong (or names nobody)
  none_checked,  // refused before (or apart from) judging any credential
};

struct Failure {
  Condition condition = Condition::not_authorized;
  std::string detail;  // for logs; never sent to the peer
  // Fails closed: a failure nobody classified counts toward the guessing limits.
  CredentialVerdict credentials = CredentialVerdict::rejected;
};

template <class T>
using Outcome = std::expected<T, Failure>;

inline std::unexpected<Failure> failure(Condition condition, std::string detail) {
  return std::unexpected<Failure>(Failure{condition, std::move(detail)});
}
// A failure that judged no credential (see CredentialVerdict).
inline std::unexpected<Failure> refusal(Condition condition, std::string detail) {
  return std::unexpected<Failure>(
      Failure{condition, std::move(detail), CredentialVerdict::none_checked});
}

}  // namespace parley::xmpp::sasl
