#pragma once
// parleyd's configuration: one TOML file (docs/configuration.md is the reference).
//
//   [server]  domain = "example.test"
//   [tls]     certificate = "/etc/parley/server.crt"   (PEM chain, leaf first)
//             key = "/etc/parley/server.key"
//             ocsp_staple = "/var/lib/parley/ocsp.der" (optional, DER OCSP response)
//             fips = false
//             insecure_allow_certificate_name_mismatch = false  (tests of clients only)
//   [c2s]     listen = ["127.0.0.1:5222"]             (STARTTLS, required)
//             direct_tls_listen = ["127.0.0.1:5223"]  (XEP-0368)
//             insecure_allow_plain = false            (SASL PLAIN, over TLS only)
//   [storage] url = "sqlite:///var/lib/parley/parley.db"
//   [limits]  see ServerLimits
//   [archive] enabled = true                         (XEP-0313 message archive)
//   [muc]     domain = "conference.example.test"   (optional: XEP-0045 group chat)
//   [log]     level = "info"
//
// Loading is strict: an unknown table or key is an error (a typo such as `lisen` would otherwise
// silently leave the default in force), and every error names the file, the line and the key.
// Relative paths are resolved against the directory of the configuration file, so a config and
// its certificates can move together.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace parley::server {

struct ListenAddress {
  std::string host;  // an IP literal: "127.0.0.1", "::1", "0.0.0.0"
  std::uint16_t port = 0;
  std::string to_string() const;  // "127.0.0.1:5222", "[::1]:5222"
};

// "127.0.0.1:5222" or "[::1]:5222"; the host must be an IP address (parleyd binds, it does not
// resolve names at start-up).
Result<ListenAddress> parse_listen_address(std::string_view text);

// Bounds on what clients can make the server do. Defaults are safe for a public-facing server.
struct ServerLimits {
  std::size_t max_stanza_bytes = 256 * 1024;
  std::size_t max_connections_per_ip = 64;
  std::size_t max_connections = 100'000;
  std::size_t max_sessions_per_user = 16;
  // Failed SASL attempts from one address in a sliding minute; beyond it, auth is refused with
  // <temporary-auth-failure/> without checking the proof (credential guessing gets no answers).
  std::size_t auth_failures_per_minute = 10;
  // Stanzas per second one session may send (token bucket); beyond it the server stops reading
  // from that session until the bucket refills, so a flood slows the flooder and no one else.
  std::size_t stanzas_per_second = 200;
  std::size_t stanza_burst = 1000;
  // From TCP accept to a bound resource.
  std::chrono::seconds negotiation_timeout{30};
  // Nothing received at all (whitespace keepalives count).
  std::chrono::seconds idle_timeout{600};
  // A stanza that has started must finish within this (slowloris: one byte a second).
  std::chrono::seconds stanza_timeout{30};
  // Bytes waiting to be written to one client; a client that does not read is disconnected
  // when it falls this far behind.
  std::size_t max_outgoing_bytes = 4 * 1024 * 1024;
  std::size_t max_offline_messages = 1000;
  // How long a dropped session with stream management can be resumed (XEP-0198 'max').
  std::chrono::seconds resumption_timeout{300};
  // Stanzas sent to a client and not yet acknowledged; a client that never acks is disconnected.
  std::size_t max_unacknowledged_stanzas = 10'000;
  std::size_t max_roster_items = 1000;
};

// Multi-user chat (XEP-0045) on its own domain; off when `domain` is empty.
struct MucConfig {
  std::string domain;  // "conference.example.test"
  std::size_t max_rooms = 10'000;
  std::size_t max_occupants_per_room = 1000;
  std::size_t history_messages = 20;  // sent to a joining occupant (XEP-0045 7.2.15)
  // Who may create rooms: any local account (true) or nobody but existing rooms (false).
  bool allow_room_creation = true;
};

struct ServerConfig {
  std::filesystem::path source;  // the file this was loaded from
  std::string domain;
  std::filesystem::path certificate_file;
  std::filesystem::path key_file;
  std::optional<std::filesystem::path> ocsp_staple_file;
  bool fips = false;
  // Serve a certificate that does not name `domain` (certificate_check.hpp), with a warning. For
  // one thing only: a test server showing that clients refuse such a certificate.
  bool insecure_allow_certificate_name_mismatch = false;
  std::vector<ListenAddress> c2s_listen;
  std::vector<ListenAddress> direct_tls_listen;
  bool insecure_allow_plain = false;
  std::string storage_url;
  ServerLimits limits;
  MucConfig muc;
  // One-to-one messages are archived for both parties (XEP-0313).
  bool archive_enabled = true;
  std::string log_level = "info";
};

// Reads and checks the file. Does not open certificates or the store (check_config does).
Result<ServerConfig> load_config(const std::filesystem::path& file);

}  // namespace parley::server
