#include "store/postgresql_schema.hpp"

#include <iterator>
#include <string>

namespace parley::store {
namespace {

using postgresql::Connection;

// Each migration brings the schema from the version before it to `version`. Append new ones; never
// edit a released one (databases in the field were made by it).
struct Migration {
  int version;
  const char* sql;
};

constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE schema_version (
  version integer NOT NULL
);
INSERT INTO schema_version (version) VALUES (0);

-- domain: '' is the server's one domain (see storage.hpp).
CREATE TABLE accounts (
  domain text COLLATE "C" NOT NULL,
  username text COLLATE "C" NOT NULL,
  created_at bigint NOT NULL,
  PRIMARY KEY (domain, username)
);

-- RFC 5802 3: what a SCRAM server needs, never the password.
CREATE TABLE scram_credentials (
  domain text COLLATE "C" NOT NULL,
  username text COLLATE "C" NOT NULL,
  hash text NOT NULL CHECK (hash IN ('sha1', 'sha256')),
  salt bytea NOT NULL,
  iterations bigint NOT NULL,
  stored_key bytea NOT NULL,
  server_key bytea NOT NULL,
  PRIMARY KEY (domain, username, hash),
  FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
);

CREATE TABLE roster_items (
  owner text COLLATE "C" NOT NULL,
  jid text COLLATE "C" NOT NULL,
  name text NOT NULL,
  subscription text NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
  ask_subscribe boolean NOT NULL,
  pending_in boolean NOT NULL,
  pending_in_stanza text NOT NULL,
  PRIMARY KEY (owner, jid)
);

CREATE TABLE roster_groups (
  owner text COLLATE "C" NOT NULL,
  jid text COLLATE "C" NOT NULL,
  position integer NOT NULL,
  group_name text COLLATE "C" NOT NULL,
  PRIMARY KEY (owner, jid, position),
  UNIQUE (owner, jid, group_name),
  FOREIGN KEY (owner, jid) REFERENCES roster_items (owner, jid) ON DELETE CASCADE
);

CREATE TABLE roster_versions (
  owner text COLLATE "C" PRIMARY KEY,
  version bigint NOT NULL
);

-- Hands out every roster version, so that versions are never reused, even for an account removed
-- and made again. A sequence is not rolled back: a failed change leaves a gap, never a repeat.
CREATE SEQUENCE roster_version AS bigint;

-- Identity ids come from a sequence: never reused, so remove_up_to(id) after a peek can not reach
-- a message that arrived later.
CREATE TABLE offline_messages (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner text COLLATE "C" NOT NULL,
  stanza_xml text NOT NULL,
  stored_at bigint NOT NULL
);
CREATE INDEX offline_messages_by_owner ON offline_messages (owner, id);

-- The id is the archive id; both indexes end with it, so they give the archive order (timestamp,
-- then arrival) without sorting.
CREATE TABLE archive (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner text COLLATE "C" NOT NULL,
  with_jid text COLLATE "C" NOT NULL,
  timestamp_us bigint NOT NULL,
  stanza_xml text NOT NULL
);
CREATE INDEX archive_by_owner_time ON archive (owner, timestamp_us, id);
CREATE INDEX archive_by_owner_with_time ON archive (owner, with_jid, timestamp_us, id);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaVersion1},
};
static_assert(std::size(kMigrations) == kPostgresqlSchemaVersion, "one migration per version");

// Held for the migration transaction: another parleyd opening the same database waits here.
// Any constant works; this one spells "parley".
constexpr const char* kLockSchema = "SELECT pg_advisory_xact_lock(112568543421561)";

// 0 for a schema without tables; an error for a newer or foreign one.
Result<int> read_schema_version(Connection& connection) {
  constexpr std::string_view operation = "read schema version";
  auto found = connection.run_once(
      operation,
      "SELECT current_schema() IS NOT NULL, "
      "(SELECT count(*) FROM pg_catalog.pg_class AS c "
      " JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
      " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')), "
      "(SELECT count(*) FROM pg_catalog.pg_class AS c "
      " JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace "
      " WHERE n.nspname = current_schema() AND c.relname = 'schema_version' "
      " AND c.relkind = 'r')");
  if (!found) return fail(std::move(found.error()));
  if (found->count() != 1) {
    return fail(connection.refuse(ErrorKind::internal, operation, "no answer from the catalog"));
  }
  if (!found->boolean(0, 0)) {
    return fail(connection.refuse(ErrorKind::io, operation,
                                  "the role's search_path names no schema that exists, so there "
                                  "is nowhere to create the tables"));
  }
  if (found->integer(0, 1) == 0) return 0;
  if (found->integer(0, 2) != 1) {
    return fail(connection.refuse(ErrorKind::invalid_argument, operation,
                                  "not a Parley database (its schema has tables but no "
                                  "schema_version); refusing to change it"));
  }
  auto rows = connection.run_once(operation, "SELECT version::bigint FROM schema_version");
  if (!rows) return fail(std::move(rows.error()));
  if (rows->count() != 1) {
    return fail(connection.refuse(
        ErrorKind::parse, operation,
        rows->count() == 0 ? "schema_version has no row" : "schema_version has several rows"));
  }
  const std::int64_t version = rows->integer(0, 0);
  if (version < 0) {
    return fail(connection.refuse(ErrorKind::parse, operation,
                                  "schema version " + std::to_string(version) + " is not valid"));
  }
  if (version > kPostgresqlSchemaVersion) {
    return fail(connection.refuse(
        ErrorKind::invalid_argument, operation,
        "schema version " + std::to_string(version) + " is newer than this parleyd supports (" +
            std::to_string(kPostgresqlSchemaVersion) +
            "); it was written by a newer release: run that release, or restore a backup made "
            "before the upgrade"));
  }
  return static_cast<int>(version);
}

}  // namespace

Result<void> migrate_postgresql_schema(Connection& connection) {
  return connection.in_transaction([&]() -> Result<void> {
    if (auto locked = connection.run_script("lock the schema for migration", kLockSchema);
        !locked) {
      return locked;
    }
    // Read under the lock: another process may have migrated meanwhile.
    auto current = read_schema_version(connection);
    if (!current) return fail(std::move(current.error()));
    if (*current == kPostgresqlSchemaVersion) return {};
    for (const auto& migration : kMigrations) {
      if (migration.version <= *current) continue;
      if (auto applied = connection.run_script(
              "upgrade schema to version " + std::to_string(migration.version), migration.sql);
          !applied) {
        return applied;
      }
    }
    return connection.run_script(
        "record schema version",
        "UPDATE schema_version SET version = " + std::to_string(kPostgresqlSchemaVersion));
  });
}

}  // namespace parley::store
