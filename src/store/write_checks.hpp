#pragma once
// What a store backend refuses before it writes anything, in words that are the same whichever
// backend refuses it (storage.hpp: "Writes refuse an empty name or one longer than RFC 7622
// allows"). Each check returns the problem as a sentence fragment ("owner is empty"), or nothing;
// the backend puts its database and operation in front ("<database>: <operation>: <problem>").
//
// Both backends (sqlite_storage.cpp, postgresql_storage.cpp) use these.
//
// What this does not do: prepare names (precis) or check JID syntax; the XMPP layer did.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xmpp/sasl_scram.hpp"

namespace parley::store {

// RFC 7622 3.3.1: a localpart is at most 1023 octets; a bare JID at most three such parts.
inline constexpr std::size_t kMaxUsernameOctets = 1023;
inline constexpr std::size_t kMaxJidOctets = 3 * 1023 + 2;
inline constexpr std::size_t kMaxSaltOctets = 1024;

// "<what> is empty" or "<what> is longer than N octets".
std::optional<std::string> name_problem(std::string_view what, std::string_view value,
                                        std::size_t max_octets);

// Credentials in the `slot` of their hash: marked as that hash, iterations within the SCRAM
// bounds, a salt of 1..kMaxSaltOctets octets, keys of the hash's digest length.
std::optional<std::string> credentials_problem(const xmpp::sasl::ScramCredentials& credentials,
                                               xmpp::sasl::ScramHash slot);

// RFC 6121 2.1.2.2 / 2.3.3: no empty group name, none given twice.
std::optional<std::string> groups_problem(const std::vector<std::string>& groups);

// True when `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
// above U+10FFFF) without a NUL: what a PostgreSQL text column can hold.
bool is_storable_text(std::string_view text);

// A name from a caller, quoted for a message; long ones are cut (a message is not a data dump).
std::string shown_name(std::string_view value);

const char* hash_display(xmpp::sasl::ScramHash hash);   // "SCRAM-SHA-1", "SCRAM-SHA-256"
std::size_t digest_octets(xmpp::sasl::ScramHash hash);  // 20, 32

}  // namespace parley::store
