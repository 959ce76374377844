#pragma once
// The PostgreSQL backend's tables, and bringing a database up to date at open.
//
// The tables live in the connection's current schema (the first of its search_path that exists,
// "public" in a new database). A schema_version table with one row says which version made them.
// At open, in one transaction that holds an advisory lock (so two parleyd processes opening a new
// database at once do not both create it):
//  - a schema with no tables at all gets kPostgresqlSchemaVersion;
//  - an older version is upgraded, one migration after the other;
//  - a newer version is refused without a change (an old parleyd must not write what a newer one
//    has changed), and so is a schema that has tables but no schema_version (not Parley's).
//
// The same tables as the SQLite backend, in PostgreSQL's types: text for names and stanzas
// (names and JIDs COLLATE "C", so that they compare and sort as octets like SQLite's), bytea for
// salts and keys, bigint for times and ids; archive and offline ids from identity columns, and
// roster versions from a sequence, none of which ever hands a number out twice.
//
// What this does not do: manage roles, grants or the database itself (docs/deployment.md shows
// the two statements an administrator runs once), or downgrade.

#include "core/error.hpp"
#include "store/postgresql_connection.hpp"

namespace parley::store {

inline constexpr int kPostgresqlSchemaVersion = 1;

// Creates or upgrades the schema (see above); the connection must not be in a transaction.
Result<void> migrate_postgresql_schema(postgresql::Connection& connection);

}  // namespace parley::store
