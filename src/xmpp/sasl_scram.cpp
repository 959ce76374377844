#include "xmpp/sasl_scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <utility>

#include "core/utf8.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/precis.hpp"

namespace parley::xmpp::sasl {
namespace {

// 18 random octets are 24 base64 characters: the "at least 18 octets" of common practice, and a
// multiple of three so that no padding appears in the nonce.
constexpr std::size_t kNonceOctets = 18;
constexpr std::size_t kMinimumSecretOctets = 16;
// No honest salt or proof is near this; it only bounds what base64 decoding may allocate.
constexpr std::size_t kMaxAttributeOctets = 1024;

// ---------------------------------------------------------------------------------------------
// RFC 5802 2.2 primitives

const EVP_MD* digest_of(ScramHash hash) {
  return hash == ScramHash::sha1 ? EVP_sha1() : EVP_sha256();
}

std::size_t hash_octets(ScramHash hash) {
  return hash == ScramHash::sha1 ? 20 : 32;
}

// HMAC(key, str)
Result<std::string> hmac(ScramHash hash, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(digest_of(hash), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &length) == nullptr) {
    return fail(Error::crypto("HMAC failed"));
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

// H(str)
Result<std::string> digest(ScramHash hash, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), out, &length, digest_of(hash), nullptr) != 1) {
    return fail(Error::crypto("digest failed"));
  }
  return std::string(reinterpret_cast<const char*>(out), length);
}

// Hi(str, salt, i) is PBKDF2 with HMAC as the PRF and the hash length as the output length.
Result<std::string> salted_password(ScramHash hash, std::string_view prepared_password,
                                    std::string_view salt, std::uint32_t iterations) {
  std::string out(hash_octets(hash), '\0');
  if (PKCS5_PBKDF2_HMAC(prepared_password.data(), static_cast<int>(prepared_password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), static_cast<int>(iterations),
                        digest_of(hash), static_cast<int>(out.size()),
                        reinterpret_cast<unsigned char*>(out.data())) != 1) {
    return fail(Error::crypto("PBKDF2 failed"));
  }
  return out;
}

std::string xor_octets(std::string_view a, std::string_view b) {
  std::string out(a);
  for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) {
    out[i] = static_cast<char>(out[i] ^ b[i]);
  }
  return out;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
  // Lengths are public (they follow from the hash); only the contents must not leak.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Result<std::string> random_octets(std::size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    return fail(Error::crypto("the random number generator failed"));
  }
  return out;
}

Result<std::string> fresh_nonce() {
  Result<std::string> octets = random_octets(kNonceOctets);
  if (!octets) return fail(octets.error());
  return base64_encode(*octets);
}

// ---------------------------------------------------------------------------------------------
// RFC 5802 7 syntax

// printable = %x21-2B / %x2D-7E  ;; Printable ASCII except ","
bool is_printable_nonce(std::string_view nonce) {
  if (nonce.empty()) return false;
  for (const char c : nonce) {
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  }
  return true;
}

// A cursor over "a=value,b=value,...": each attribute is taken by name in the order the grammar
// fixes, so an attribute out of place is an error at the place it appears.
class AttributeReader {
 public:
  explicit AttributeReader(std::string_view text) : text_(text) {}

  // The value of the next attribute, which must be `name`; empty values are refused because no
  // SCRAM attribute may be empty.
  std::optional<std::string_view> take(char name) {
    if (!at(name)) return std::nullopt;
    const std::size_t comma = text_.find(',', position_);
    const std::size_t end = comma == std::string_view::npos ? text_.size() : comma;
    const std::string_view value = text_.substr(position_ + 2, end - position_ - 2);
    if (value.empty()) return std::nullopt;
    position_ = comma == std::string_view::npos ? text_.size() : comma + 1;
    last_was_final_ = comma == std::string_view::npos;
    return value;
  }

  bool at(char name) const {
    return position_ + 2 <= text_.size() && text_[position_] == name && text_[position_ + 1] == '=';
  }
  bool at_end() const { return position_ == text_.size() && (position_ == 0 || last_was_final_); }
  std::size_t position() const { return position_; }

  // ext-param = attr-val: skips extension attributes until the one named `stop` (or the end when
  // stop is 0). An extension must look like one (a letter, '=', a non-empty value) and must not
  // be "m" (RFC 5802 5.1: a mandatory extension nobody here understands) or a known attribute.
  std::optional<std::string> skip_extensions(char stop) {
    while (position_ < text_.size() && !(stop != 0 && at(stop))) {
      const char name = text_[position_];
      const bool letter = (name >= 'a' && name <= 'z') || (name >= 'A' && name <= 'Z');
      if (!letter || position_ + 1 >= text_.size() || text_[position_ + 1] != '=') {
        return std::string("has text that is not an attribute at offset ") +
               std::to_string(position_);
      }
      if (name == 'm')
        return std::string("asks for a mandatory extension ('m='), which is not supported");
      if (std::string_view("nrcpsiv").find(name) != std::string_view::npos) {
        return std::string("has the attribute '") + name + "=' out of its place";
      }
      if (!take(name)) return std::string("has an empty extension attribute");
    }
    // A trailing ',' leaves the cursor at the end without a final attribute.
    if (stop == 0 && !at_end()) return std::string("ends with ','");
    return std::nullopt;
  }

 private:
  std::string_view text_;
  std::size_t position_ = 0;
  bool last_was_final_ = false;
};

// posit-number = %x31-39 *DIGIT
std::optional<std::uint64_t> parse_positive_number(std::string_view text) {
  if (text.empty() || text.size() > 10 || text.front() < '1' || text.front() > '9') {
    return std::nullopt;
  }
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<ChannelBindingType> binding_type_from_name(std::string_view name) {
  return parse_channel_binding_type(name);
}

// cb-name = 1*(ALPHA / DIGIT / "." / "-")
bool is_cb_name(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

struct ParsedGs2Header {
  char flag = 'n';           // 'n', 'y' or 'p'
  std::string binding_name;  // for 'p'
  std::optional<std::string> authzid;
  std::size_t length = 0;  // of the header, both commas included
};

// gs2-header = gs2-cbind-flag "," [ authzid ] ","
std::optional<ParsedGs2Header> parse_gs2_header(std::string_view message, std::string& problem) {
  ParsedGs2Header header;
  const std::size_t first_comma = message.find(',');
  if (first_comma == std::string_view::npos) {
    problem = "has no GS2 header";
    return std::nullopt;
  }
  const std::string_view flag = message.substr(0, first_comma);
  if (flag == "n" || flag == "y") {
    header.flag = flag.front();
  } else if (flag.starts_with("p=") && is_cb_name(flag.substr(2))) {
    header.flag = 'p';
    header.binding_name = std::string(flag.substr(2));
  } else {
    problem = "has a GS2 channel binding flag that is not 'n', 'y' or 'p=<type>'";
    return std::nullopt;
  }
  const std::size_t second_comma = message.find(',', first_comma + 1);
  if (second_comma == std::string_view::npos) {
    problem = "has an unterminated GS2 header";
    return std::nullopt;
  }
  const std::string_view authzid = message.substr(first_comma + 1, second_comma - first_comma - 1);
  if (!authzid.empty()) {
    if (!authzid.starts_with("a=") || authzid.size() == 2) {
      problem = "has a GS2 header whose second field is not 'a=<authzid>'";
      return std::nullopt;
    }
    std::optional<std::string> decoded = unescape_saslname(authzid.substr(2));
    if (!decoded || !is_valid_utf8(*decoded)) {
      problem = "has an authzid with a bad '=' escape or that is not UTF-8";
      return std::nullopt;
    }
    header.authzid = std::move(*decoded);
  }
  header.length = second_comma + 1;
  return header;
}

std::string_view hash_label(ScramHash hash) {
  return hash == ScramHash::sha1 ? "SHA-1" : "SHA-256";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Names

std::string ScramMechanism::name() const {
  std::string out = "SCRAM-";
  out += hash_label(hash);
  if (binding == ChannelBindingUse::plus) out += "-PLUS";
  return out;
}

std::optional<ScramMechanism> ScramMechanism::parse(std::string_view name) {
  for (const ScramHash hash : {ScramHash::sha1, ScramHash::sha256}) {
    for (const ChannelBindingUse binding : {ChannelBindingUse::none, ChannelBindingUse::plus}) {
      const ScramMechanism mechanism{hash, binding};
      // SASL mechanism names are upper case (RFC 4422 3.1); compare exactly.
      if (mechanism.name() == name) return mechanism;
    }
  }
  return std::nullopt;
}

const char* to_string(ChannelBindingType type) {
  return type == ChannelBindingType::tls_exporter ? "tls-exporter" : "tls-server-end-point";
}

std::optional<ChannelBindingType> parse_channel_binding_type(std::string_view name) {
  if (name == "tls-exporter") return ChannelBindingType::tls_exporter;
  if (name == "tls-server-end-point") return ChannelBindingType::tls_server_end_point;
  return std::nullopt;
}

std::uint32_t default_iterations(ScramHash hash) {
  return hash == ScramHash::sha1 ? kDefaultIterationsSha1 : kDefaultIterationsSha256;
}

std::string escape_saslname(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (const char c : name) {
    if (c == ',') {
      out += "=2C";
    } else if (c == '=') {
      out += "=3D";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape_saslname(std::string_view escaped) {
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    const char c = escaped[i];
    if (c == ',' || c == '\0') return std::nullopt;
    if (c != '=') {
      out += c;
      continue;
    }
    const std::string_view code = escaped.substr(i + 1, 2);
    if (code == "2C") {
      out += ',';
    } else if (code == "3D") {
      out += '=';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Credentials (RFC 5802 3)

Result<ScramCredentials> derive_scram_credentials(std::string_view password, std::string_view salt,
                                                  std::uint32_t iterations, ScramHash hash) {
  if (salt.empty()) return fail(Error::invalid_argument("SCRAM salt is empty"));
  if (iterations < kMinimumIterations || iterations > kMaximumIterations) {
    return fail(Error::invalid_argument("SCRAM iteration count " + std::to_string(iterations) +
                                        " is outside [" + std::to_string(kMinimumIterations) +
                                        ", " + std::to_string(kMaximumIterations) + "]"));
  }
  Result<std::string> prepared = precis::enforce_opaque_string(password);
  if (!prepared) {
    return fail(Error{prepared.error().kind, "password " + prepared.error().message});
  }
  Result<std::string> salted = salted_password(hash, *prepared, salt, iterations);
  if (!salted) return fail(salted.error());
  Result<std::string> client_key = hmac(hash, *salted, "Client Key");
  if (!client_key) return fail(client_key.error());
  Result<std::string> stored_key = digest(hash, *client_key);
  if (!stored_key) return fail(stored_key.error());
  Result<std::string> server_key = hmac(hash, *salted, "Server Key");
  if (!server_key) return fail(server_key.error());
  OPENSSL_cleanse(salted->data(), salted->size());
  OPENSSL_cleanse(client_key->data(), client_key->size());
  return ScramCredentials{hash, std::string(salt), iterations, std::move(*stored_key),
                          std::move(*server_key)};
}

Result<ScramCredentials> derive_scram_credentials(std::string_view password, ScramHash hash) {
  Result<std::string> salt = random_octets(kSaltOctets);
  if (!salt) return fail(salt.error());
  return derive_scram_credentials(password, *salt, default_iterations(hash), hash);
}

// ---------------------------------------------------------------------------------------------
// Server

Result<ScramServer> ScramServer::create(ScramServerOptions options,
                                        CredentialLookupFunction lookup) {
  if (!lookup) return fail(Error::invalid_argument("SCRAM server needs a credential lookup"));
  if (options.unknown_user_secret.size() < kMinimumSecretOctets) {
    return fail(
        Error::invalid_argument("SCRAM server's unknown-user secret must be at least 16 octets"));
  }
  if (options.mechanism.binding == ChannelBindingUse::plus && !options.tls_exporter &&
      !options.tls_server_end_point) {
    return fail(Error::invalid_argument(options.mechanism.name() +
                                        " needs channel binding data of the TLS session"));
  }
  if (options.insecure_fixed_nonce_for_tests &&
      !is_printable_nonce(*options.insecure_fixed_nonce_for_tests)) {
    return fail(Error::invalid_argument("fixed SCRAM nonce is not printable ASCII without ','"));
  }
  const std::uint32_t fake_iterations =
      options.unknown_user_iterations.value_or(default_iterations(options.mechanism.hash));
  if (fake_iterations < kMinimumIterations || fake_iterations > kMaximumIterations) {
    return fail(Error::invalid_argument("SCRAM unknown-user iteration count is out of range"));
  }
  ScramServer server;
  server.options_ = std::move(options);
  server.lookup_ = std::move(lookup);
  return server;
}

Outcome<std::string> ScramServer::fail_with(Condition condition, std::string detail) {
  state_ = State::failed;
  return failure(condition, std::move(detail));
}

Outcome<std::string> ScramServer::refuse_with(Condition condition, std::string detail) {
  state_ = State::failed;
  return refusal(condition, std::move(detail));
}

Outcome<std::string> ScramServer::receive_client_first(std::string_view message) {
  if (state_ != State::expect_client_first) {
    return refuse_with(Condition::malformed_request, "client-first-message out of order");
  }
  if (message.size() > kMaxScramMessageOctets) {
    return refuse_with(Condition::malformed_request, "client-first-message is too long");
  }
  // gs2-header
  std::string problem;
  std::optional<ParsedGs2Header> header = parse_gs2_header(message, problem);
  if (!header) return refuse_with(Condition::malformed_request, "client-first-message " + problem);
  const bool plus = options_.mechanism.binding == ChannelBindingUse::plus;
  std::string binding_data;
  switch (header->flag) {
    case 'n':
      if (plus) {
        return refuse_with(Condition::malformed_request,
                           options_.mechanism.name() + " chosen without channel binding ('n')");
      }
      break;
    case 'y':
      if (plus) {
        return refuse_with(Condition::malformed_request,
                           options_.mechanism.name() + " chosen with the 'y' flag");
      }
      // RFC 5802 6: the client can bind and believes we cannot. We offered -PLUS, so someone
      // removed it from the mechanism list on the way.
      if (options_.plus_advertised) {
        return refuse_with(Condition::not_authorized,
                           "channel binding downgrade: client sent 'y' although -PLUS was offered");
      }
      break;
    default: {  // 'p'
      if (!plus) {
        return refuse_with(Condition::malformed_request,
                           "channel binding requested ('p=') with " + options_.mechanism.name());
      }
      const std::optional<ChannelBindingType> type = binding_type_from_name(header->binding_name);
      const std::optional<std::string>* data = nullptr;
      if (type == ChannelBindingType::tls_exporter) data = &options_.tls_exporter;
      if (type == ChannelBindingType::tls_server_end_point) data = &options_.tls_server_end_point;
      if (data == nullptr || !data->has_value()) {
        return refuse_with(Condition::not_authorized,
                           "unsupported channel binding type '" + header->binding_name + "'");
      }
      binding_data = **data;
    }
  }
  gs2_header_ = std::string(message.substr(0, header->length));
  expected_binding_ = gs2_header_ + binding_data;
  authzid_ = header->authzid;

  // client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
  client_first_bare_ = std::string(message.substr(header->length));
  AttributeReader reader(client_first_bare_);
  if (reader.at('m')) {
    return refuse_with(Condition::malformed_request,
                       "client-first-message asks for a mandatory extension ('m=')");
  }
  const std::optional<std::string_view> escaped_name = reader.take('n');
  if (!escaped_name) {
    return refuse_with(Condition::malformed_request, "client-first-message has no user name");
  }
  std::optional<std::string> name = unescape_saslname(*escaped_name);
  if (!name || !is_valid_utf8(*name)) {
    return refuse_with(Condition::malformed_request,
                       "user name has a '=' not followed by '2C' or '3D', or is not UTF-8");
  }
  const std::optional<std::string_view> client_nonce = reader.take('r');
  if (!client_nonce || !is_printable_nonce(*client_nonce)) {
    return refuse_with(Condition::malformed_request,
                       "client-first-message has no nonce, or one with characters outside "
                       "printable ASCII");
  }
  if (std::optional<std::string> extension_problem = reader.skip_extensions(0)) {
    return refuse_with(Condition::malformed_request, "client-first-message " + *extension_problem);
  }
  username_ = std::move(*name);

  // The credentials, or a simulation for an unknown user that nobody outside can tell apart.
  const CredentialLookup found = lookup_(username_, options_.mechanism.hash);
  if (found.status == LookupStatus::unavailable) {
    return refuse_with(Condition::temporary_auth_failure, "credential store unavailable");
  }
  const std::size_t key_octets = hash_octets(options_.mechanism.hash);
  if (found.status == LookupStatus::found) {
    const ScramCredentials& c = found.credentials;
    if (c.hash != options_.mechanism.hash || c.salt.empty() || c.stored_key.size() != key_octets ||
        c.server_key.size() != key_octets || c.iterations < 1) {
      return refuse_with(Condition::temporary_auth_failure,
                         "stored SCRAM credentials for this user are unusable");
    }
    credentials_ = c;
  } else {
    // A salt that depends on the user name and the secret only: asking twice answers the same
    // salt, as for a real user. The stored key is random, so no proof can ever match it.
    const std::string label = "parley scram unknown-user salt " + options_.mechanism.name() +
                              std::string(1, '\0') + username_;
    Result<std::string> salt = hmac(ScramHash::sha256, options_.unknown_user_secret, label);
    Result<std::string> stored_key = random_octets(key_octets);
    Result<std::string> server_key = random_octets(key_octets);
    if (!salt || !stored_key || !server_key) {
      return refuse_with(Condition::temporary_auth_failure, "could not simulate credentials");
    }
    credentials_.hash = options_.mechanism.hash;
    credentials_.salt = salt->substr(0, kSaltOctets);
    credentials_.iterations =
        options_.unknown_user_iterations.value_or(default_iterations(options_.mechanism.hash));
    credentials_.stored_key = std::move(*stored_key);
    credentials_.server_key = std::move(*server_key);
    simulated_ = true;
  }

  std::string server_nonce;
  if (options_.insecure_fixed_nonce_for_tests) {
    server_nonce = *options_.insecure_fixed_nonce_for_tests;
  } else {
    Result<std::string> fresh = fresh_nonce();
    if (!fresh) return refuse_with(Condition::temporary_auth_failure, fresh.error().message);
    server_nonce = std::move(*fresh);
  }
  nonce_ = std::string(*client_nonce) + server_nonce;
  server_first_ = "r=" + nonce_ + ",s=" + base64_encode(credentials_.salt) +
                  ",i=" + std::to_string(credentials_.iterations);
  state_ = State::expect_client_final;
  return server_first_;
}

Outcome<std::string> ScramServer::receive_client_final(std::string_view message) {
  if (state_ != State::expect_client_final) {
    return refuse_with(Condition::malformed_request, "client-final-message out of order");
  }
  if (message.size() > kMaxScramMessageOctets) {
    return refuse_with(Condition::malformed_request, "client-final-message is too long");
  }
  // client-final-message = channel-binding "," nonce ["," extensions] "," proof
  AttributeReader reader(message);
  const std::optional<std::string_view> binding_text = reader.take('c');
  if (!binding_text) {
    return refuse_with(Condition::malformed_request, "client-final-message has no 'c=' first");
  }
  Result<std::string> binding = base64_decode_strict(*binding_text, kMaxScramMessageOctets);
  if (!binding) {
    return refuse_with(Condition::malformed_request,
                       "client-final-message 'c=': " + binding.error().message);
  }
  const std::optional<std::string_view> nonce = reader.take('r');
  if (!nonce) {
    return refuse_with(Condition::malformed_request, "client-final-message has no 'r=' second");
  }
  if (std::optional<std::string> extension_problem = reader.skip_extensions('p')) {
    return refuse_with(Condition::malformed_request, "client-final-message " + *extension_problem);
  }
  const std::size_t proof_start = reader.position();
  const std::optional<std::string_view> proof_text = reader.take('p');
  if (!proof_text || !reader.at_end()) {
    return refuse_with(Condition::malformed_request,
                       "client-final-message does not end with the proof ('p=')");
  }
  Result<std::string> proof = base64_decode_strict(*proof_text, kMaxAttributeOctets);
  if (!proof) {
    return refuse_with(Condition::malformed_request,
                       "client-final-message 'p=': " + proof.error().message);
  }
  const std::size_t key_octets = hash_octets(options_.mechanism.hash);
  if (proof->size() != key_octets) {
    return refuse_with(Condition::malformed_request, "client proof has the wrong length");
  }
  // RFC 5802 5.1: the nonce must be the one this server made for this exchange, all of it. A
  // nonce from another exchange (a replay) or a truncated one fails here.
  if (*nonce != nonce_) {
    return fail_with(Condition::not_authorized, "client-final nonce is not this exchange's nonce");
  }
  if (!equal_constant_time(*binding, expected_binding_)) {
    return fail_with(Condition::not_authorized,
                     "channel binding data differs from this TLS session's (or the GS2 header "
                     "changed between messages)");
  }

  const std::string_view without_proof = message.substr(0, proof_start - 1);
  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const ScramHash hash = options_.mechanism.hash;
  Result<std::string> client_signature = hmac(hash, credentials_.stored_key, auth_message);
  if (!client_signature) return refuse_with(Condition::temporary_auth_failure, "HMAC failed");
  std::string client_key = xor_octets(*proof, *client_signature);
  Result<std::string> stored_key = digest(hash, client_key);
  OPENSSL_cleanse(client_key.data(), client_key.size());
  if (!stored_key) return refuse_with(Condition::temporary_auth_failure, "digest failed");
  const bool proof_matches = equal_constant_time(*stored_key, credentials_.stored_key);
  // The same work for a simulated user; only then the verdict, with the same condition.
  Result<std::string> server_signature = hmac(hash, credentials_.server_key, auth_message);
  if (!server_signature) return refuse_with(Condition::temporary_auth_failure, "HMAC failed");
  if (!proof_matches || simulated_) {
    return fail_with(Condition::not_authorized, "client proof does not verify");
  }
  state_ = State::succeeded;
  return "v=" + base64_encode(*server_signature);
}

// ---------------------------------------------------------------------------------------------
// Client

Result<ScramClient> ScramClient::create(ScramClientOptions options) {
  if (options.username.empty()) return fail(Error::invalid_argument("SCRAM user name is empty"));
  if (options.username.find('\0') != std::string::npos || !is_valid_utf8(options.username)) {
    return fail(Error::invalid_argument("SCRAM user name is not UTF-8 text without NUL"));
  }
  if (options.authzid && (options.authzid->empty() || !is_valid_utf8(*options.authzid) ||
                          options.authzid->find('\0') != std::string::npos)) {
    return fail(Error::invalid_argument("SCRAM authzid is empty or not UTF-8 text"));
  }
  if (options.min_iterations < 1 || options.min_iterations > options.max_iterations) {
    return fail(Error::invalid_argument("SCRAM client iteration bounds are inconsistent"));
  }
  const bool plus = options.mechanism.binding == ChannelBindingUse::plus;
  if (plus && (!options.binding || options.binding->data.empty())) {
    return fail(Error::invalid_argument(options.mechanism.name() +
                                        " needs channel binding data of the TLS session"));
  }
  Result<std::string> prepared = precis::enforce_opaque_string(options.password);
  if (!prepared) {
    return fail(Error{prepared.error().kind, "password " + prepared.error().message});
  }
  ScramClient client;
  client.prepared_password_ = std::move(*prepared);
  if (options.insecure_fixed_nonce_for_tests) {
    if (!is_printable_nonce(*options.insecure_fixed_nonce_for_tests)) {
      return fail(Error::invalid_argument("fixed SCRAM nonce is not printable ASCII without ','"));
    }
    client.client_nonce_ = *options.insecure_fixed_nonce_for_tests;
  } else {
    Result<std::string> nonce = fresh_nonce();
    if (!nonce) return fail(nonce.error());
    client.client_nonce_ = std::move(*nonce);
  }
  // gs2-header (RFC 5802 7): "p=<type>" when binding, "y" when we could bind but the server did
  // not offer -PLUS, "n" when we cannot bind at all.
  if (plus) {
    client.gs2_header_ = std::string("p=") + to_string(options.binding->type);
  } else {
    client.gs2_header_ = options.binding ? "y" : "n";
  }
  client.gs2_header_ += ",";
  if (options.authzid) client.gs2_header_ += "a=" + escape_saslname(*options.authzid);
  client.gs2_header_ += ",";
  client.client_first_bare_ =
      "n=" + escape_saslname(options.username) + ",r=" + client.client_nonce_;
  client.client_first_ = client.gs2_header_ + client.client_first_bare_;
  OPENSSL_cleanse(options.password.data(), options.password.size());
  options.password.clear();
  client.options_ = std::move(options);
  return client;
}

std::unexpected<Failure> ScramClient::fail_with(Condition condition, std::string detail) {
  state_ = State::failed;
  OPENSSL_cleanse(prepared_password_.data(), prepared_password_.size());
  return failure(condition, std::move(detail));
}

Outcome<std::string> ScramClient::receive_server_first(std::string_view message) {
  if (state_ != State::expect_server_first) {
    return fail_with(Condition::malformed_request, "server-first-message out of order");
  }
  if (message.size() > kMaxScramMessageOctets) {
    return fail_with(Condition::malformed_request, "server-first-message is too long");
  }
  // server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count ["," extensions]
  AttributeReader reader(message);
  if (reader.at('m')) {
    return fail_with(Condition::malformed_request,
                     "server-first-message asks for a mandatory extension ('m=')");
  }
  const std::optional<std::string_view> nonce = reader.take('r');
  if (!nonce || !is_printable_nonce(*nonce) || !nonce->starts_with(client_nonce_) ||
      nonce->size() == client_nonce_.size()) {
    return fail_with(Condition::not_authorized, "server nonce does not extend this client's nonce");
  }
  const std::optional<std::string_view> salt_text = reader.take('s');
  if (!salt_text) return fail_with(Condition::malformed_request, "server-first has no salt");
  Result<std::string> salt = base64_decode_strict(*salt_text, kMaxAttributeOctets);
  if (!salt || salt->empty()) {
    return fail_with(Condition::malformed_request, "server-first salt is not canonical base64");
  }
  const std::optional<std::string_view> iterations_text = reader.take('i');
  const std::optional<std::uint64_t> iterations =
      iterations_text ? parse_positive_number(*iterations_text) : std::nullopt;
  if (!iterations) {
    return fail_with(Condition::malformed_request, "server-first has no valid iteration count");
  }
  if (*iterations < options_.min_iterations || *iterations > options_.max_iterations) {
    return fail_with(Condition::mechanism_too_weak,
                     "server asks for " + std::to_string(*iterations) +
                         " iterations, outside this client's [" +
                         std::to_string(options_.min_iterations) + ", " +
                         std::to_string(options_.max_iterations) + "]");
  }
  if (std::optional<std::string> extension_problem = reader.skip_extensions(0)) {
    return fail_with(Condition::malformed_request, "server-first-message " + *extension_problem);
  }

  const ScramHash hash = options_.mechanism.hash;
  Result<std::string> salted =
      salted_password(hash, prepared_password_, *salt, static_cast<std::uint32_t>(*iterations));
  OPENSSL_cleanse(prepared_password_.data(), prepared_password_.size());
  if (!salted) return fail_with(Condition::temporary_auth_failure, "PBKDF2 failed");
  Result<std::string> client_key = hmac(hash, *salted, "Client Key");
  Result<std::string> server_key = hmac(hash, *salted, "Server Key");
  OPENSSL_cleanse(salted->data(), salted->size());
  if (!client_key || !server_key)
    return fail_with(Condition::temporary_auth_failure, "HMAC failed");
  Result<std::string> stored_key = digest(hash, *client_key);
  if (!stored_key) return fail_with(Condition::temporary_auth_failure, "digest failed");

  std::string binding_input = gs2_header_;
  if (options_.mechanism.binding == ChannelBindingUse::plus)
    binding_input += options_.binding->data;
  const std::string without_proof =
      "c=" + base64_encode(binding_input) + ",r=" + std::string(*nonce);
  const std::string auth_message =
      client_first_bare_ + "," + std::string(message) + "," + without_proof;
  Result<std::string> client_signature = hmac(hash, *stored_key, auth_message);
  Result<std::string> server_signature = hmac(hash, *server_key, auth_message);
  if (!client_signature || !server_signature) {
    return fail_with(Condition::temporary_auth_failure, "HMAC failed");
  }
  const std::string proof = xor_octets(*client_key, *client_signature);
  OPENSSL_cleanse(client_key->data(), client_key->size());
  OPENSSL_cleanse(server_key->data(), server_key->size());
  expected_server_signature_ = std::move(*server_signature);
  state_ = State::expect_server_final;
  return without_proof + ",p=" + base64_encode(proof);
}

Outcome<void> ScramClient::verify_server_final(std::string_view message) {
  if (state_ != State::expect_server_final) {
    return fail_with(Condition::malformed_request, "server-final-message out of order");
  }
  if (message.size() > kMaxScramMessageOctets) {
    return fail_with(Condition::malformed_request, "server-final-message is too long");
  }
  // server-final-message = (server-error / verifier) ["," extensions]
  AttributeReader reader(message);
  if (const std::optional<std::string_view> error = reader.take('e')) {
    return fail_with(Condition::not_authorized, "server reports '" + std::string(*error) + "'");
  }
  const std::optional<std::string_view> verifier = reader.take('v');
  if (!verifier) return fail_with(Condition::malformed_request, "server-final has no 'v='");
  if (std::optional<std::string> extension_problem = reader.skip_extensions(0)) {
    return fail_with(Condition::malformed_request, "server-final-message " + *extension_problem);
  }
  Result<std::string> signature = base64_decode_strict(*verifier, kMaxAttributeOctets);
  if (!signature) {
    return fail_with(Condition::malformed_request,
                     "server-final 'v=': " + signature.error().message);
  }
  // Mutual authentication: only a server that holds ServerKey for this user can make this.
  if (!equal_constant_time(*signature, expected_server_signature_)) {
    return fail_with(Condition::not_authorized,
                     "server signature does not verify: the server does not know this user's "
                     "credentials, or the exchange was altered");
  }
  state_ = State::succeeded;
  return {};
}

}  // namespace parley::xmpp::sasl
