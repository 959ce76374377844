#pragma once
// SCRAM (RFC 5802) with SHA-1 and SHA-256 (RFC 7677), with and without channel binding
// (the -PLUS mechanisms; binding types tls-exporter, RFC 9266, and tls-server-end-point,
// RFC 5929; XEP-0440 for how XMPP advertises them), for both roles.
//
// The two roles are small state machines fed with the *decoded* SASL messages (the octets inside
// the XMPP-level base64 of <auth/>, <challenge/>, <response/>, <success/>). They do no I/O.
//
//   client                                   server
//   ScramClient::create -> client_first() -----> ScramServer::receive_client_first
//                   receive_server_first <----- server-first
//   client-final ------------------------------> ScramServer::receive_client_final
//                   verify_server_final <------- server-final ("v=...") in <success/>
//
// Security properties this file is responsible for:
//  - The server never sees or stores a password: it is given StoredKey and ServerKey (RFC 5802 3)
//    by a lookup function, and derive_scram_credentials() makes them for the user store.
//  - Proofs are compared in constant time (CRYPTO_memcmp).
//  - An unknown user is indistinguishable from a wrong password: the server answers with a salt
//    derived from a server secret and the user name (the same one every time, as for a real
//    user), the configured iteration count, and fails the proof with not-authorized after the
//    same work.
//  - Downgrade detection (RFC 5802 6): a client that sends "y" (it can bind, it thinks the server
//    cannot) is failed when the server did advertise a -PLUS mechanism.
//  - Channel binding: the client-final "c=" must be exactly the GS2 header of the client-first
//    followed by the binding data of this TLS session (for "p=").
//  - Mutual authentication: the client fails unless the server proves knowledge of ServerKey.
//  - The client refuses iteration counts below a minimum (a server, or anyone able to pose as one,
//    could otherwise ask for i=1 and make the proof cheap to brute-force offline) and above a
//    maximum (a CPU exhaustion of the client).
//  - Strict syntax (RFC 5802 7): attribute order fixed, canonical base64 only, user names with
//    '=' escapes only as "=2C" and "=3D", no "m=" (a mandatory extension: always refused), a
//    client-final nonce that is exactly the server's combined nonce, bounded message sizes.
//    Other extension attributes (RFC 5802 7 "extensions") are accepted only where the grammar
//    puts them, only when well-formed ("x=value", not a known attribute repeated), and ignored:
//    RFC 5802 5.1 lets peers ignore unknown ones, XEP-0474 servers send one in server-first, and
//    AuthMessage covers them, so they cannot be altered unnoticed.
//
// Which SASL condition each failure maps to (RFC 6120 6.5):
//   syntax, escaping, bad base64 inside SCRAM attributes, "m=", malformed extensions,
//   a "p=" flag with a non-PLUS mechanism or "n"/"y" with a PLUS one,
//   messages out of order or over the size limit                     -> malformed-request
//   wrong proof, unknown user, nonce mismatch, channel binding data mismatch,
//   unsupported binding type, "y" when PLUS was advertised            -> not-authorized
//   the credential store could not answer                             -> temporary-auth-failure
// Which failures rejected a credential (Failure::credentials, sasl.hpp), which the caller's limits
// on password guessing count: a client-final whose nonce, channel binding data or proof is wrong
// (an unknown user fails there too, indistinguishably). Everything refused in the client-first
// (unsupported binding type, "y" downgrade, syntax), a malformed client-final and a store or
// crypto failure judged no credential (none_checked): they are what a client meets while it
// falls back to its next mechanism.
// and on the client side (the caller then sends <abort/>): a server nonce that does not extend
// ours, a bad ServerSignature or an "e=" -> not-authorized; an iteration count outside the
// client's bounds -> mechanism-too-weak; syntax -> malformed-request.
// (incorrect-encoding is for the XMPP-level base64 around these messages, which the stream layer
// decodes with base64_decode_strict.)
//
// What the caller must still do:
//  - Choose the mechanism: offer -PLUS only over TLS when binding data is available; the client
//    picks the strongest offered (SCRAM-SHA-256-PLUS > SCRAM-SHA-1-PLUS > SCRAM-SHA-256 >
//    SCRAM-SHA-1) and tells the server options whether any -PLUS was advertised.
//  - Prepare the user name (the XMPP localpart: precis::enforce_username_case_mapped) before the
//    lookup. The server hands the lookup the name exactly as decoded from the message.
//  - Check the authorization identity (authzid(), a JID when present) and answer
//    invalid-authzid; check that the account is enabled (account-disabled) after success.
//  - Rate-limit attempts, and use one ScramServer per attempt.
//
// Deliberately not done: the SCRAM "e=" server-error attribute (XMPP reports failures with
// <failure/>), SCRAM-SHA-512 and SCRAM-SHA3 (no interoperable XMPP peers here yet), XEP-0474
// downgrade protection of the mechanism list, and the "tls-unique" binding type (RFC 9266 retires
// it; it is undefined for TLS 1.3).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "xmpp/sasl.hpp"

namespace parley::xmpp::sasl {

enum class ScramHash { sha1, sha256 };
enum class ChannelBindingUse { none, plus };  // the mechanism with or without "-PLUS"

struct ScramMechanism {
  ScramHash hash = ScramHash::sha256;
  ChannelBindingUse binding = ChannelBindingUse::none;

  std::string name() const;  // "SCRAM-SHA-256-PLUS"
  static std::optional<ScramMechanism> parse(std::string_view name);
  bool operator==(const ScramMechanism&) const = default;
};

enum class ChannelBindingType { tls_exporter, tls_server_end_point };
const char* to_string(ChannelBindingType type);  // "tls-exporter", "tls-server-end-point"
std::optional<ChannelBindingType> parse_channel_binding_type(std::string_view name);

// Channel binding data of one TLS connection (tls/ computes it: RFC 9266 exporter with the label
// "EXPORTER-Channel-Binding" and no context, 32 octets; RFC 5929 4.1 hash of the server
// certificate).
struct ChannelBinding {
  ChannelBindingType type = ChannelBindingType::tls_exporter;
  std::string data;
};

// Iteration counts. RFC 7677 4 and RFC 5802 5.1 ask for at least 4096; SHA-256 gets more because
// it is the mechanism every current client picks and the cost is paid once per login.
inline constexpr std::uint32_t kMinimumIterations = 4096;
inline constexpr std::uint32_t kDefaultIterationsSha1 = 4096;
inline constexpr std::uint32_t kDefaultIterationsSha256 = 10000;
// Past this a login costs seconds of CPU: a client refuses it, a server never stores it.
inline constexpr std::uint32_t kMaximumIterations = 1'000'000;
inline constexpr std::size_t kSaltOctets = 16;

// Longest SCRAM message either role accepts (decoded octets). The longest honest message is a
// client-first with a 1023-octet user name escaped to three times its length plus an authzid of
// a full JID (3071 octets), far below this.
inline constexpr std::size_t kMaxScramMessageOctets = 16 * 1024;

std::uint32_t default_iterations(ScramHash hash);

// What the user store keeps per user and hash (RFC 5802 3): never the password.
struct ScramCredentials {
  ScramHash hash = ScramHash::sha256;
  std::string salt;  // raw octets
  std::uint32_t iterations = 0;
  std::string stored_key;  // H(ClientKey), raw octets
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw octets
};

// Prepares the password with the PRECIS OpaqueString profile (RFC 8265 4.2; without ICU,
// non-ASCII passwords are refused, see precis.hpp), then SaltedPassword = PBKDF2-HMAC(password,
// salt, iterations). Errors: an empty or unpreparable password, an empty salt, iterations outside
// [kMinimumIterations, kMaximumIterations].
Result<ScramCredentials> derive_scram_credentials(std::string_view password, std::string_view salt,
                                                  std::uint32_t iterations, ScramHash hash);
// The same with a fresh random salt of kSaltOctets and default_iterations(hash).
Result<ScramCredentials> derive_scram_credentials(std::string_view password, ScramHash hash);

// ---------------------------------------------------------------------------------------------
// Server

enum class LookupStatus { found, unknown_user, unavailable };
struct CredentialLookup {
  LookupStatus status = LookupStatus::unknown_user;
  ScramCredentials credentials;  // when found; its hash must be the mechanism's
};
// Called once per attempt with the user name as sent (unescaped, UTF-8, unprepared) and the
// mechanism's hash.
using CredentialLookupFunction = std::function<CredentialLookup(std::string_view, ScramHash)>;

struct ScramServerOptions {
  ScramMechanism mechanism;
  // Binding data this TLS session can provide; a type left empty is refused if the client asks.
  std::optional<std::string> tls_exporter;
  std::optional<std::string> tls_server_end_point;
  // True when the stream features offered any -PLUS mechanism (RFC 5802 6, the "y" flag).
  bool plus_advertised = false;
  // Server-wide secret (at least 16 octets, stable across restarts) from which the salt of an
  // unknown user is derived, so that asking twice gives the same salt, as for a real user.
  std::string unknown_user_secret;
  // Iteration count shown for unknown users: make it the one real users of this hash have.
  std::optional<std::uint32_t> unknown_user_iterations;  // default_iterations(hash) when unset
  // Test seam: the server's nonce part instead of 18 random octets. Never set in production.
  std::optional<std::string> insecure_fixed_nonce_for_tests;
};

class ScramServer {
 public:
  // Error when the options are unusable (short secret, PLUS without any binding data, a fixed
  // nonce that is not printable).
  static Result<ScramServer> create(ScramServerOptions options, CredentialLookupFunction lookup);

  // RFC 5802 5.1: client-first-message in, server-first-message out.
  Outcome<std::string> receive_client_first(std::string_view message);
  // RFC 5802 5.1: client-final-message in, server-final-message ("v=...") out, which the caller
  // sends as additional data of <success/>.
  Outcome<std::string> receive_client_final(std::string_view message);

  bool succeeded() const { return state_ == State::succeeded; }
  const std::string& username() const { return username_; }  // as sent, unescaped
  const std::optional<std::string>& authzid() const { return authzid_; }

 private:
  enum class State { expect_client_first, expect_client_final, succeeded, failed };
  ScramServer() = default;
  Outcome<std::string> fail_with(Condition condition, std::string detail);    // rejected
  Outcome<std::string> refuse_with(Condition condition, std::string detail);  // none_checked

  ScramServerOptions options_;
  CredentialLookupFunction lookup_;
  State state_ = State::expect_client_first;
  std::string username_;
  std::optional<std::string> authzid_;
  std::string gs2_header_;        // "p=tls-exporter,a=...," as received
  std::string expected_binding_;  // gs2 header + binding data: what "c=" must decode to
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;             // client nonce + server nonce
  ScramCredentials credentials_;  // real, or simulated for an unknown user
  bool simulated_ = false;        // credentials_ are made up: the proof must fail
};

// ---------------------------------------------------------------------------------------------
// Client

struct ScramClientOptions {
  ScramMechanism mechanism;
  std::string username;  // the prepared localpart (precis::enforce_username_case_mapped)
  std::string password;  // prepared here with OpaqueString
  std::optional<std::string> authzid;  // a JID, when authorizing as someone else
  // The binding this client can do on this connection. With a -PLUS mechanism it is required and
  // used ("p="); with a plain one its presence makes the client send "y" (RFC 5802 6: "I can
  // bind, but you did not offer it"), its absence "n".
  std::optional<ChannelBinding> binding;
  std::uint32_t min_iterations = kMinimumIterations;
  std::uint32_t max_iterations = kMaximumIterations;
  // Test seam: the client nonce instead of 18 random octets. Never set in production.
  std::optional<std::string> insecure_fixed_nonce_for_tests;
};

class ScramClient {
 public:
  static Result<ScramClient> create(ScramClientOptions options);

  // The client-first-message (the initial response of <auth/>).
  const std::string& client_first() const { return client_first_; }
  // RFC 5802 5.1: server-first-message in, client-final-message out.
  Outcome<std::string> receive_server_first(std::string_view message);
  // RFC 5802 5.1: the server-final-message; success only when ServerSignature verifies.
  Outcome<void> verify_server_final(std::string_view message);

  bool succeeded() const { return state_ == State::succeeded; }

 private:
  enum class State { expect_server_first, expect_server_final, succeeded, failed };
  ScramClient() = default;
  std::unexpected<Failure> fail_with(Condition condition, std::string detail);

  ScramClientOptions options_;
  State state_ = State::expect_server_first;
  std::string prepared_password_;
  std::string gs2_header_;
  std::string client_first_;
  std::string client_first_bare_;
  std::string client_nonce_;
  std::string expected_server_signature_;
};

// The RFC 5802 "saslname" escaping of a user name or authzid: ',' -> "=2C", '=' -> "=3D".
std::string escape_saslname(std::string_view name);
// The reverse; nullopt for any other '=' sequence (RFC 5802 5.1: the server MUST fail).
std::optional<std::string> unescape_saslname(std::string_view escaped);

}  // namespace parley::xmpp::sasl
