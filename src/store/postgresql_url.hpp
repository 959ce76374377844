#pragma once
// The storage URL of the PostgreSQL backend, read with libpq's own parser (PQconninfoParse), so
// that every form libpq documents works the same here as in psql:
//
//   postgresql://parley:secret@db.example.org:5432/parley?sslmode=verify-full&sslrootcert=/etc/ca.pem
//   postgres://parley@%2Fvar%2Frun%2Fpostgresql/parley        (a Unix socket directory as the host)
//   postgresql:///parley                                      (the default socket, the OS user's
//   role)
//
// What parleyd adds to what the URL says (each only when the URL does not set it):
//  - sslmode=verify-full when any host is not local (not a Unix socket, localhost, 127.0.0.0/8 or
//    ::1): libpq's own default, "prefer", would send everything in clear text to whoever answers
//    on that address, and encrypt without checking whom it talks to. A URL that says sslmode=...
//    is honoured as written.
//  - connect_timeout=10 (seconds): an unreachable host fails parleyd's start instead of hanging.
//  - application_name=parleyd, so the database administrator sees who is connected.
// And always client_encoding=UTF8 (the store passes UTF-8 text).
//
// The password (in the URL's user info or a password= parameter) is never part of a name made
// here: `display` is "postgresql://user@host:port/dbname" and every message that quotes the
// URL goes through redact_password first. libpq's environment variables (PGPASSWORD, PGSSLMODE,
// ...) and ~/.pgpass fill in what the URL leaves out, as for psql, except sslmode, which the URL
// or the rule above decides.
//
// What this does not do: connect (postgresql_connection.hpp does), check that the database
// exists, or resolve host names.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace parley::store {

struct PostgresqlTarget {
  // "postgresql://parley@db.example.org:5432/parley": names the database in messages and logs;
  // never carries the password.
  std::string display;
  // Every keyword libpq found in the URL plus parleyd's defaults, for PQconnectdbParams.
  std::vector<std::pair<std::string, std::string>> parameters;
  bool all_hosts_local = false;
  // The password as the URL spells it (and percent-decoded), to mask in messages.
  std::vector<std::string> passwords;
};

// "postgresql://..." or "postgres://..."; errors (invalid_argument) never contain the password.
Result<PostgresqlTarget> parse_postgresql_url(std::string_view url);

// `text` with the URL's password (if any) replaced by "********", for messages that might quote
// the URL or part of it.
std::string redact_password(std::string_view url, std::string text);
std::string without_passwords(const std::vector<std::string>& passwords, std::string text);

// True for a host libpq reaches without a network: empty (the default socket), a socket directory
// ("/..." or "@..." abstract), localhost, 127.0.0.0/8 and ::1.
bool is_local_postgresql_host(std::string_view host);

}  // namespace parley::store
