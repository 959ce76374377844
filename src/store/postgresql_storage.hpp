#pragma once
// The PostgreSQL backend of storage.hpp, for deployments that already run PostgreSQL (backups,
// replication and monitoring they have) or that want the database on another host. The same
// stores, rules and error messages as the SQLite backend; where they differ, it says so here.
//
// URL: postgresql://user:password@host:port/database?sslmode=verify-full (or postgres://), read
// by libpq; postgresql_url.hpp says what parleyd adds (sslmode=verify-full for a remote host when
// the URL names no sslmode, a connect timeout) and how the password is kept out of messages. The
// database must use the UTF8 encoding and PostgreSQL 12 or later; the role must be allowed to
// create tables in its schema the first time (docs/deployment.md).
//
// Why libpq and not libpqxx: Parley's store returns std::expected and never throws on a network
// path (STYLE.md, habit 7), while libpqxx reports every failure as an exception; libpq is the
// PostgreSQL project's own client library, released with the server, with a C ABI that does not
// depend on the C++ standard the caller is built with (libpqxx's ABI does: Debian's 7.7 is built
// as C++17, Parley is C++23). The few RAII handles this needs are in postgresql_connection.hpp.
//
// Durability: a store call that returned success outside a transaction, or the commit of a
// transaction or group, has had PostgreSQL's COMMIT answered, which with the server's default
// synchronous_commit=on means the commit record is flushed to the server's disk: it survives
// parleyd being killed and the database server crashing. (A server set to synchronous_commit=off
// can lose its last commits in a server crash; that is the database administrator's choice.)
// Group commit works as with SQLite: one COMMIT, one disk flush on the server, for every write of
// an event-loop turn.
//
// Where PostgreSQL differs and what is done about it:
//  - A failed statement aborts the whole transaction in PostgreSQL. Each statement inside a
//    transaction runs under its own savepoint (postgresql_connection.hpp), so a failure is
//    confined to its statement, as in SQLite, at no extra round trip.
//  - Text must be UTF-8 without NUL characters (PostgreSQL refuses anything else): writes of
//    other text are refused (invalid_argument) before anything is sent, and reads of a name that
//    could not have been stored answer "absent" without asking the server.
//  - Transactions are READ COMMITTED. The per-owner bounds (max_roster_items,
//    max_offline_messages) are checked in the statement that writes; two processes writing to one
//    owner at the same instant could each pass the check (one parleyd serves a domain, so this
//    does not happen in one deployment).
//  - B-tree index entries are limited to about 2700 bytes: a roster item or archived message
//    whose owner and JID together are longer is refused (ErrorKind::limit) by the server. Bare
//    JIDs of real users are far shorter.
//  - Roster versions come from a sequence, so they increase across the whole database and a
//    failed change can skip a number (never repeat one).
//
// Connection: one per Storage, blocking, used from one thread (storage.hpp). When the server
// closes it (a restart), the next call outside a transaction reconnects; a transaction open at
// that moment is lost and reported as an io error, and was not committed.
//
// Archive ids are the identity column's value in the SQLite backend's form (archive_id_from_row,
// sqlite_storage.hpp), so they look and sort the same whichever backend made them.

#include <memory>
#include <string_view>

#include "core/error.hpp"
#include "store/storage.hpp"

namespace parley::store {

// Connects, checks the server (version, encoding), creates or upgrades the schema and prepares
// every statement. Errors name the database as "postgresql://user@host:port/database" and never
// contain the password.
Result<std::unique_ptr<Storage>> open_postgresql_storage(std::string_view url,
                                                         const StorageLimits& limits);

}  // namespace parley::store
