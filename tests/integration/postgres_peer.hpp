#pragma once
// PostgreSQL 15 as a test peer (/work/shared/recipes/postgresql.md): a throw-away cluster made by
// initdb in a temporary directory, started with pg_ctl, listening on 127.0.0.1:<port> only (and on
// a Unix socket in its directory, which the test uses as the superuser):
//
//   auto postgres = PostgresPeer::start(19200);
//   ASSERT_TRUE(postgres) << postgres.error().message;  // quotes the server's log
//   auto url = (*postgres)->create_database("chat", "parley", "a-password");
//   // *url == "postgresql://parley:a-password@127.0.0.1:19200/chat"
//
// TCP connections authenticate with SCRAM-SHA-256 (a password is needed and checked), the socket
// trusts the local superuser `postgres` (for setting up and inspecting). With `tls`, the server
// also offers TLS with the given certificate chain (ssl=on); sslmode in the URL decides whether
// the client asks for it.
//
// PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster belongs
// to the `postgres` user that the Debian package creates, and initdb and pg_ctl run through
// runuser. The destructor stops the server (pg_ctl stop -m fast, then SIGKILL of the postmaster if
// it is still there) and removes the directory.
//
// Ports: the PostgreSQL suites own 19200-19219 (xmpp_peers.hpp):
//   19200        postgresql_storage_test  the behaviour suite and the backend's own tests
//   19201        postgresql_storage_test  a cluster with TLS
//   19202        postgresql_storage_test  stopped and restarted under a connection
//   19203        parleyd_postgresql_test  the database
//   19204-19205  parleyd_postgresql_test  parleyd (c2s, direct TLS)
//   19219        never listened on: the "unreachable database"
//
// What it does not do: replication, extensions, or tuning (fsync stays on, so commit costs
// measured against it are real ones).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace parley::integration {

struct PostgresOptions {
  std::uint16_t port = 0;
  bool tls = false;                    // ssl=on with the files below
  std::string certificate_chain_file;  // PEM, leaf first
  std::string private_key_file;        // PEM, unencrypted

  static PostgresOptions without_tls(std::uint16_t port) {
    return PostgresOptions{
        .port = port, .tls = false, .certificate_chain_file = {}, .private_key_file = {}};
  }
};

enum class PostgresShutdown {
  fast,       // clients are disconnected, the server shuts down cleanly
  immediate,  // like a crash: no checkpoint, recovery from the WAL at the next start
};

class PostgresPeer {
 public:
  // Why a cluster cannot run here (no PostgreSQL 15 binaries, or root without a postgres user).
  static std::optional<std::string> unavailable_reason();
  static Result<std::unique_ptr<PostgresPeer>> start(PostgresOptions options);
  ~PostgresPeer();
  PostgresPeer(const PostgresPeer&) = delete;
  PostgresPeer& operator=(const PostgresPeer&) = delete;

  std::uint16_t port() const { return options_.port; }
  const std::filesystem::path& directory() const { return directory_; }

  // Runs SQL as the superuser over the Unix socket (psql, stops at the first error); the output
  // of its queries, unaligned and without headers. A failure quotes psql's message.
  Result<std::string> sql(const std::string& statement,
                          const std::string& database = "postgres") const;

  // Creates `role` (LOGIN, with `password`) unless it exists, and a UTF8 database `name` that it
  // owns. Returns the URL to reach it as that role over TCP.
  Result<std::string> create_database(const std::string& name, const std::string& role,
                                      const std::string& password) const;
  std::string url(const std::string& database, const std::string& role,
                  const std::string& password) const;

  // Stops the server and starts it again on the same data and port.
  Result<void> stop(PostgresShutdown how);
  Result<void> start_again();
  bool running() const { return running_; }

  std::string log_tail(std::size_t max_bytes = 4000) const;

 private:
  PostgresPeer(PostgresOptions options, std::filesystem::path directory)
      : options_(std::move(options)), directory_(std::move(directory)) {}
  Result<void> start_server();
  std::optional<long> postmaster_pid() const;

  PostgresOptions options_;
  std::filesystem::path directory_;
  bool running_ = false;
};

}  // namespace parley::integration
