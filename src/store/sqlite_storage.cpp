#include "store/sqlite_storage.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "store/sqlite_checkpointer.hpp"
#include "store/sqlite_handles.hpp"
#include "store/write_checks.hpp"

namespace parley::store {
namespace {

using sqlite::ConnectionPtr;
using sqlite::StatementPtr;
using sqlite::StatementRun;
using xmpp::sasl::ScramCredentials;
using xmpp::sasl::ScramHash;

// Every account is in the server's one domain for now (storage.hpp); the column exists so that a
// second domain is a data migration, not a schema rewrite.
constexpr std::string_view kSingleDomain = "";

constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// Each migration brings the schema from the version before it to `version`. Append new ones; never
// edit a released one (databases in the field were made by it).
struct Migration {
  int version;
  const char* sql;
};

constexpr const char* kSchemaVersion1 = R"sql(
CREATE TABLE schema_version (
  version INTEGER NOT NULL
) STRICT;
INSERT INTO schema_version (version) VALUES (0);

-- domain: '' is the server's one domain (see storage.hpp).
CREATE TABLE accounts (
  domain TEXT NOT NULL,
  username TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (domain, username)
) STRICT, WITHOUT ROWID;

-- RFC 5802 3: what a SCRAM server needs, never the password.
CREATE TABLE scram_credentials (
  domain TEXT NOT NULL,
  username TEXT NOT NULL,
  hash TEXT NOT NULL CHECK (hash IN ('sha1', 'sha256')),
  salt BLOB NOT NULL,
  iterations INTEGER NOT NULL,
  stored_key BLOB NOT NULL,
  server_key BLOB NOT NULL,
  PRIMARY KEY (domain, username, hash),
  FOREIGN KEY (domain, username) REFERENCES accounts (domain, username) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE roster_items (
  owner TEXT NOT NULL,
  jid TEXT NOT NULL,
  name TEXT NOT NULL,
  subscription TEXT NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
  ask_subscribe INTEGER NOT NULL CHECK (ask_subscribe IN (0, 1)),
  pending_in INTEGER NOT NULL CHECK (pending_in IN (0, 1)),
  pending_in_stanza TEXT NOT NULL,
  PRIMARY KEY (owner, jid)
) STRICT, WITHOUT ROWID;

CREATE TABLE roster_groups (
  owner TEXT NOT NULL,
  jid TEXT NOT NULL,
  position INTEGER NOT NULL,
  group_name TEXT NOT NULL,
  PRIMARY KEY (owner, jid, position),
  UNIQUE (owner, jid, group_name),
  FOREIGN KEY (owner, jid) REFERENCES roster_items (owner, jid) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE roster_versions (
  owner TEXT PRIMARY KEY,
  version INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Database-wide sequences. roster_version hands out every roster version, so that versions are
-- never reused, even for an account removed and made again.
CREATE TABLE counters (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO counters (name, value) VALUES ('roster_version', 0);

-- AUTOINCREMENT: ids are never reused, so remove_up_to(id) after a peek can not reach a message
-- that arrived later and happened to get a freed id.
CREATE TABLE offline_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  stanza_xml TEXT NOT NULL,
  stored_at INTEGER NOT NULL
) STRICT;
CREATE INDEX offline_messages_by_owner ON offline_messages (owner);

-- The row id is the archive id; an index entry ends with the row id, so both indexes give the
-- archive order (timestamp, then arrival) without sorting.
CREATE TABLE archive (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  owner TEXT NOT NULL,
  with_jid TEXT NOT NULL,
  timestamp_us INTEGER NOT NULL,
  stanza_xml TEXT NOT NULL
) STRICT;
CREATE INDEX archive_by_owner_time ON archive (owner, timestamp_us);
CREATE INDEX archive_by_owner_with_time ON archive (owner, with_jid, timestamp_us);
)sql";

constexpr Migration kMigrations[] = {
    {1, kSchemaVersion1},
};
static_assert(std::size(kMigrations) == kSqliteSchemaVersion, "one migration per version");

// Which ErrorKind a SQLite result code is.
ErrorKind kind_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
      return ErrorKind::invalid_argument;
    case SQLITE_TOOBIG:
      return ErrorKind::limit;
    case SQLITE_INTERNAL:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_NOMEM:
      return ErrorKind::internal;
    default:  // I/O, full, locked, busy, corrupt, not a database, read-only, ...
      return ErrorKind::io;
  }
}

const char* hash_column(ScramHash hash) {
  return hash == ScramHash::sha1 ? "sha1" : "sha256";
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t clamp_to_int64(std::size_t value) {
  return value > static_cast<std::size_t>(kInt64Max) ? kInt64Max : static_cast<std::int64_t>(value);
}

// ---------------------------------------------------------------------------------------------
// The connection: errors that name the database, cached statements, transactions.

class Database {
 public:
  Database(ConnectionPtr connection, std::string name)
      : connection_(std::move(connection)), name_(std::move(name)) {}

  sqlite3* handle() const { return connection_.get(); }
  const std::string& name() const { return name_; }

  // "<database>: <operation>: <SQLite's message>".
  Error error(std::string_view operation, int rc) const {
    // sqlite3_errmsg describes the last call on the connection; when that was not the one that
    // failed with rc (a bind refused before reaching SQLite), describe rc itself.
    const char* detail = (sqlite3_errcode(handle()) & 0xff) == (rc & 0xff)
                             ? sqlite3_errmsg(handle())
                             : sqlite3_errstr(rc);
    return Error{kind_of(rc), name_ + ": " + std::string(operation) + ": " + detail};
  }
  // A refusal of what the caller asked, in the same form.
  Error refuse(ErrorKind kind, std::string_view operation, std::string_view detail) const {
    return Error{kind, name_ + ": " + std::string(operation) + ": " + std::string(detail)};
  }

  Result<StatementPtr> prepare(std::string_view sql) const {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(handle(), sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    StatementPtr statement(raw);
    if (rc != SQLITE_OK || statement == nullptr) {
      const int code = rc != SQLITE_OK ? rc : SQLITE_INTERNAL;
      constexpr std::size_t kShown = 60;
      const std::string shown =
          sql.size() <= kShown ? std::string(sql) : std::string(sql.substr(0, kShown)) + "...";
      return fail(error("prepare \"" + shown + "\"", code));
    }
    return statement;
  }

  // Prepares each (slot, sql) pair; the first failure is returned.
  Result<void> prepare_all(
      std::initializer_list<std::pair<StatementPtr*, std::string_view>> statements) const {
    for (const auto& [slot, sql] : statements) {
      auto prepared = prepare(sql);
      if (!prepared) return fail(std::move(prepared.error()));
      *slot = std::move(*prepared);
    }
    return {};
  }

  // A statement that returns no rows (or whose rows do not matter).
  Result<void> run(std::string_view operation, sqlite3_stmt* statement) const {
    StatementRun running(statement);
    int rc = running.step();
    while (rc == SQLITE_ROW) rc = running.step();
    if (rc != SQLITE_DONE) return fail(error(operation, rc));
    return {};
  }

  // Several statements without parameters (schema scripts, pragmas), at open only.
  Result<void> run_script(std::string_view operation, const char* sql) const {
    const int rc = sqlite3_exec(handle(), sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(error(operation, rc));
    return {};
  }

  std::int64_t changes() const { return sqlite3_changes64(handle()); }

  Result<void> prepare_transaction_statements() {
    // IMMEDIATE takes the write lock at BEGIN: a transaction that started as a reader and later
    // writes could find another process's write in between and fail with SQLITE_BUSY half-way.
    return prepare_all({{&begin_, "BEGIN IMMEDIATE"},
                        {&commit_, "COMMIT"},
                        {&rollback_, "ROLLBACK"},
                        {&savepoint_, "SAVEPOINT parley_nested"},
                        {&release_, "RELEASE parley_nested"},
                        {&rollback_to_, "ROLLBACK TO parley_nested"}});
  }

  Result<void> in_transaction(const std::function<Result<void>()>& work) {
    const bool outermost = depth_ == 0;
    // A nested call is a savepoint: joining the outer transaction, yet undone alone on failure,
    // so an outer caller that carries on after an inner failure commits none of its writes.
    if (auto begun = run(outermost ? "begin transaction" : "begin nested transaction",
                         outermost ? begin_.get() : savepoint_.get());
        !begun) {
      return begun;
    }
    ++depth_;
    // Undoes the transaction if work throws (start-up misuse, std::bad_alloc).
    struct Unwind {
      Database& database;
      bool outermost;
      bool armed = true;
      ~Unwind() {
        if (!armed) return;
        --database.depth_;
        database.abandon(outermost);
      }
    } unwind{*this, outermost};
    Result<void> outcome = work();
    unwind.armed = false;
    --depth_;

    if (!outcome) {
      abandon(outermost);
      return outcome;
    }
    if (sqlite3_get_autocommit(handle()) != 0) {
      // SQLite itself rolled back (some I/O and full-disk errors do) and work ignored the error.
      return fail(
          refuse(ErrorKind::io, "commit", "the transaction was rolled back by an earlier error"));
    }
    if (!outermost) {
      if (auto released = run("end nested transaction", release_.get()); !released) {
        abandon(false);
        return released;
      }
      return {};
    }
    if (auto committed = run("commit", commit_.get()); !committed) {
      abandon(true);
      return committed;
    }
    return {};
  }

  // Group commit: one outer transaction that the caller closes with commit_group(); every
  // in_transaction() meanwhile is a savepoint inside it.
  Result<void> begin_group() {
    if (depth_ != 0)
      return fail(refuse(ErrorKind::internal, "begin group", "a transaction is open"));
    if (auto begun = run("begin transaction", begin_.get()); !begun) return begun;
    depth_ = 1;
    return {};
  }
  Result<void> commit_group() {
    if (depth_ != 1) return fail(refuse(ErrorKind::internal, "commit group", "no group is open"));
    depth_ = 0;
    if (sqlite3_get_autocommit(handle()) != 0)
      return fail(
          refuse(ErrorKind::io, "commit", "the transaction was rolled back by an earlier error"));
    if (auto committed = run("commit", commit_.get()); !committed) {
      abandon(true);
      return committed;
    }
    return {};
  }
  bool in_group() const { return depth_ > 0; }

 private:
  // Best effort: the error that led here is what the caller gets.
  void abandon(bool outermost) {
    if (sqlite3_get_autocommit(handle()) != 0) return;  // nothing left to undo
    if (outermost) {
      (void)run("rollback", rollback_.get());
    } else {
      (void)run("rollback nested transaction", rollback_to_.get());
      (void)run("end nested transaction", release_.get());
    }
  }

  ConnectionPtr connection_;
  std::string name_;
  int depth_ = 0;
  StatementPtr begin_, commit_, rollback_, savepoint_, release_, rollback_to_;
};

Result<void> check_name(const Database& database, std::string_view operation, std::string_view what,
                        std::string_view value, std::size_t max_octets) {
  if (auto problem = name_problem(what, value, max_octets))
    return fail(database.refuse(ErrorKind::invalid_argument, operation, *problem));
  return {};
}

Result<void> check_owner(const Database& database, std::string_view operation,
                         std::string_view owner) {
  return check_name(database, operation, "owner", owner, kMaxUsernameOctets);
}

// ---------------------------------------------------------------------------------------------
// Schema

// 0 for an empty database; an error for a newer or foreign one.
Result<int> read_schema_version(const Database& database) {
  constexpr std::string_view operation = "read schema version";
  auto statement = database.prepare(
      "SELECT (SELECT count(*) FROM sqlite_schema), "
      "(SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version')");
  // Preparing reads the schema: this is where a file that is no database fails.
  if (!statement) return fail(database.error(operation, sqlite3_errcode(database.handle())));
  std::int64_t objects = 0;
  bool has_version_table = false;
  {
    StatementRun running(statement->get());
    const int rc = running.step();
    if (rc != SQLITE_ROW) return fail(database.error(operation, rc));
    objects = running.integer(0);
    has_version_table = running.integer(1) == 1;
  }
  if (objects == 0) return 0;
  if (!has_version_table) {
    return fail(database.refuse(ErrorKind::invalid_argument, operation,
                                "not a Parley database (it has tables but no schema_version); "
                                "refusing to change it"));
  }
  auto select = database.prepare("SELECT version FROM schema_version");
  if (!select) return fail(std::move(select.error()));
  StatementRun running(select->get());
  int rc = running.step();
  if (rc != SQLITE_ROW) {
    if (rc == SQLITE_DONE) {
      return fail(database.refuse(ErrorKind::parse, operation, "schema_version has no row"));
    }
    return fail(database.error(operation, rc));
  }
  const std::int64_t version = running.integer(0);
  rc = running.step();
  if (rc != SQLITE_DONE) {
    if (rc == SQLITE_ROW) {
      return fail(database.refuse(ErrorKind::parse, operation, "schema_version has several rows"));
    }
    return fail(database.error(operation, rc));
  }
  if (version < 0) {
    return fail(database.refuse(ErrorKind::parse, operation,
                                "schema version " + std::to_string(version) + " is not valid"));
  }
  if (version > kSqliteSchemaVersion) {
    return fail(database.refuse(
        ErrorKind::invalid_argument, operation,
        "schema version " + std::to_string(version) + " is newer than this parleyd supports (" +
            std::to_string(kSqliteSchemaVersion) +
            "); it was written by a newer release: run that release, or restore a backup made "
            "before the upgrade"));
  }
  return static_cast<int>(version);
}

Result<void> migrate(Database& database) {
  return database.in_transaction([&]() -> Result<void> {
    // Read again under the write lock: another process may have migrated meanwhile.
    auto current = read_schema_version(database);
    if (!current) return fail(std::move(current.error()));
    if (*current == kSqliteSchemaVersion) return {};
    for (const auto& migration : kMigrations) {
      if (migration.version <= *current) continue;
      if (auto applied = database.run_script(
              "upgrade schema to version " + std::to_string(migration.version), migration.sql);
          !applied) {
        return applied;
      }
    }
    auto update = database.prepare("UPDATE schema_version SET version = ?1");
    if (!update) return fail(std::move(update.error()));
    StatementRun running(update->get());
    running.bind_int(1, kSqliteSchemaVersion);
    if (const int rc = running.step(); rc != SQLITE_DONE) {
      return fail(database.error("record schema version", rc));
    }
    return {};
  });
}

// The file is made here rather than by SQLite so that it never exists with wider permissions
// than 0600 (SQLite would use 0644). SQLite gives the -wal and -shm files the database's mode.
Result<void> create_database_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      return fail(Error::io(path + ": open database: not a regular file"));
    }
    return {};
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    const int saved = errno;
    if (saved == EEXIST) return {};  // made by someone else meanwhile: open it
    if (saved == ENOENT) {
      return fail(Error::io(path + ": create database file: directory " +
                            std::filesystem::path(path).parent_path().string() +
                            " does not exist (parleyd creates the file, not its directory)"));
    }
    return fail(Error::io(path + ": create database file: " + std::strerror(saved)));
  }
  ::close(fd);
  return {};
}

// ---------------------------------------------------------------------------------------------
// Accounts

Result<void> check_credentials(const Database& database, std::string_view operation,
                               const ScramCredentials& credentials, ScramHash slot) {
  if (auto problem = credentials_problem(credentials, slot))
    return fail(database.refuse(ErrorKind::invalid_argument, operation, *problem));
  return {};
}

class SqliteAccounts final : public AccountStore {
 public:
  explicit SqliteAccounts(Database& database) : database_(database) {}

  Result<void> prepare() {
    return database_.prepare_all({
        {&insert_account_,
         "INSERT INTO accounts (domain, username, created_at) VALUES (?1, ?2, ?3) "
         "ON CONFLICT DO NOTHING"},
        {&upsert_credentials_,
         "INSERT INTO scram_credentials "
         "(domain, username, hash, salt, iterations, stored_key, server_key) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
         "ON CONFLICT (domain, username, hash) DO UPDATE SET salt = excluded.salt, "
         "iterations = excluded.iterations, stored_key = excluded.stored_key, "
         "server_key = excluded.server_key"},
        {&select_exists_, "SELECT 1 FROM accounts WHERE domain = ?1 AND username = ?2"},
        {&select_credentials_,
         "SELECT salt, iterations, stored_key, server_key FROM scram_credentials "
         "WHERE domain = ?1 AND username = ?2 AND hash = ?3"},
        {&select_list_, "SELECT username FROM accounts WHERE domain = ?1 ORDER BY username"},
        {&delete_account_, "DELETE FROM accounts WHERE domain = ?1 AND username = ?2"},
        // Everything else stored under the name (roster groups follow their items).
        {&delete_roster_items_, "DELETE FROM roster_items WHERE owner = ?1"},
        {&delete_roster_version_, "DELETE FROM roster_versions WHERE owner = ?1"},
        {&delete_offline_, "DELETE FROM offline_messages WHERE owner = ?1"},
        {&delete_archive_, "DELETE FROM archive WHERE owner = ?1"},
    });
  }

  Result<void> create(std::string_view username, const ScramCredentials& sha1,
                      const ScramCredentials& sha256) override {
    constexpr std::string_view operation = "create account";
    if (auto checked = check_input(operation, username, sha1, sha256); !checked) return checked;
    return database_.in_transaction([&]() -> Result<void> {
      {
        StatementRun running(insert_account_.get());
        running.bind_text(1, kSingleDomain);
        running.bind_text(2, username);
        running.bind_int(3, unix_now());
        if (const int rc = running.step(); rc != SQLITE_DONE) {
          return fail(database_.error("insert into accounts", rc));
        }
      }
      if (database_.changes() == 0) {
        return fail(database_.refuse(ErrorKind::invalid_argument, operation,
                                     "account " + shown_name(username) + " already exists"));
      }
      return write_credentials(username, sha1, sha256);
    });
  }

  Result<void> set_credentials(std::string_view username, const ScramCredentials& sha1,
                               const ScramCredentials& sha256) override {
    constexpr std::string_view operation = "set credentials";
    if (auto checked = check_input(operation, username, sha1, sha256); !checked) return checked;
    return database_.in_transaction([&]() -> Result<void> {
      auto present = exists(username);
      if (!present) return fail(std::move(present.error()));
      if (!*present) {
        return fail(database_.refuse(ErrorKind::invalid_argument, operation,
                                     "no account " + shown_name(username)));
      }
      return write_credentials(username, sha1, sha256);
    });
  }

  Result<bool> remove(std::string_view username) override {
    bool existed = false;
    auto removed = database_.in_transaction([&]() -> Result<void> {
      {
        StatementRun running(delete_account_.get());
        running.bind_text(1, kSingleDomain);
        running.bind_text(2, username);
        if (const int rc = running.step(); rc != SQLITE_DONE) {
          return fail(database_.error("delete from accounts", rc));
        }
        existed = database_.changes() > 0;
      }
      const std::pair<std::string_view, sqlite3_stmt*> owned[] = {
          {"delete from roster_items", delete_roster_items_.get()},
          {"delete from roster_versions", delete_roster_version_.get()},
          {"delete from offline_messages", delete_offline_.get()},
          {"delete from archive", delete_archive_.get()},
      };
      for (const auto& [operation, statement] : owned) {
        StatementRun running(statement);
        running.bind_text(1, username);
        if (const int rc = running.step(); rc != SQLITE_DONE) {
          return fail(database_.error(operation, rc));
        }
      }
      return {};
    });
    if (!removed) return fail(std::move(removed.error()));
    return existed;
  }

  Result<std::optional<ScramCredentials>> credentials(std::string_view username,
                                                      ScramHash hash) override {
    constexpr std::string_view operation = "select from scram_credentials";
    StatementRun running(select_credentials_.get());
    running.bind_text(1, kSingleDomain);
    running.bind_text(2, username);
    running.bind_text(3, hash_column(hash));
    const int rc = running.step();
    if (rc == SQLITE_DONE) return std::optional<ScramCredentials>();
    if (rc != SQLITE_ROW) return fail(database_.error(operation, rc));
    ScramCredentials found;
    found.hash = hash;
    found.salt = running.blob(0);
    const std::int64_t iterations = running.integer(1);
    found.stored_key = running.blob(2);
    found.server_key = running.blob(3);
    // Checked again on the way out: a damaged row must fail the login, not weaken it.
    if (iterations < xmpp::sasl::kMinimumIterations ||
        iterations > xmpp::sasl::kMaximumIterations) {
      return fail(database_.refuse(ErrorKind::parse, operation,
                                   std::string("stored ") + hash_display(hash) +
                                       " credentials of " + shown_name(username) +
                                       " have an iteration count out of bounds"));
    }
    found.iterations = static_cast<std::uint32_t>(iterations);
    if (auto valid = check_credentials(database_, operation, found, hash); !valid) {
      return fail(database_.refuse(ErrorKind::parse, operation,
                                   std::string("stored ") + hash_display(hash) +
                                       " credentials of " + shown_name(username) +
                                       " are malformed"));
    }
    return std::optional<ScramCredentials>(std::move(found));
  }

  Result<bool> exists(std::string_view username) override {
    constexpr std::string_view operation = "select from accounts";
    StatementRun running(select_exists_.get());
    running.bind_text(1, kSingleDomain);
    running.bind_text(2, username);
    const int rc = running.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(database_.error(operation, rc));
  }

  Result<std::vector<std::string>> list() override {
    StatementRun running(select_list_.get());
    running.bind_text(1, kSingleDomain);
    std::vector<std::string> names;
    for (;;) {
      const int rc = running.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(database_.error("select from accounts", rc));
      names.push_back(running.text(0));
    }
    return names;
  }

 private:
  Result<void> check_input(std::string_view operation, std::string_view username,
                           const ScramCredentials& sha1, const ScramCredentials& sha256) const {
    if (auto checked = check_name(database_, operation, "username", username, kMaxUsernameOctets);
        !checked) {
      return checked;
    }
    if (auto checked = check_credentials(database_, operation, sha1, ScramHash::sha1); !checked) {
      return checked;
    }
    return check_credentials(database_, operation, sha256, ScramHash::sha256);
  }

  Result<void> write_credentials(std::string_view username, const ScramCredentials& sha1,
                                 const ScramCredentials& sha256) {
    for (const ScramCredentials* credentials : {&sha1, &sha256}) {
      StatementRun running(upsert_credentials_.get());
      running.bind_text(1, kSingleDomain);
      running.bind_text(2, username);
      running.bind_text(3, hash_column(credentials->hash));
      running.bind_blob(4, credentials->salt);
      running.bind_int(5, credentials->iterations);
      running.bind_blob(6, credentials->stored_key);
      running.bind_blob(7, credentials->server_key);
      if (const int rc = running.step(); rc != SQLITE_DONE) {
        return fail(database_.error("insert into scram_credentials", rc));
      }
    }
    return {};
  }

  Database& database_;
  StatementPtr insert_account_, upsert_credentials_, select_exists_, select_credentials_,
      select_list_, delete_account_, delete_roster_items_, delete_roster_version_, delete_offline_,
      delete_archive_;
};

// ---------------------------------------------------------------------------------------------
// Roster

class SqliteRoster final : public RosterStore {
 public:
  SqliteRoster(Database& database, std::size_t max_items)
      : database_(database), max_items_(max_items) {}

  Result<void> prepare() {
    constexpr std::string_view kSelectItems =
        "SELECT i.jid, i.name, i.subscription, i.ask_subscribe, i.pending_in, "
        "i.pending_in_stanza, g.group_name "
        "FROM roster_items AS i "
        "LEFT JOIN roster_groups AS g ON g.owner = i.owner AND g.jid = i.jid "
        "WHERE i.owner = ?1 ORDER BY i.jid, g.position";
    constexpr std::string_view kSelectItem =
        "SELECT i.jid, i.name, i.subscription, i.ask_subscribe, i.pending_in, "
        "i.pending_in_stanza, g.group_name "
        "FROM roster_items AS i "
        "LEFT JOIN roster_groups AS g ON g.owner = i.owner AND g.jid = i.jid "
        "WHERE i.owner = ?1 AND i.jid = ?2 ORDER BY g.position";
    return database_.prepare_all({
        {&select_items_, kSelectItems},
        {&select_item_, kSelectItem},
        {&select_item_exists_, "SELECT 1 FROM roster_items WHERE owner = ?1 AND jid = ?2"},
        {&count_items_, "SELECT count(*) FROM roster_items WHERE owner = ?1"},
        {&upsert_item_,
         "INSERT INTO roster_items "
         "(owner, jid, name, subscription, ask_subscribe, pending_in, pending_in_stanza) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
         "ON CONFLICT (owner, jid) DO UPDATE SET name = excluded.name, "
         "subscription = excluded.subscription, ask_subscribe = excluded.ask_subscribe, "
         "pending_in = excluded.pending_in, pending_in_stanza = excluded.pending_in_stanza"},
        {&delete_groups_, "DELETE FROM roster_groups WHERE owner = ?1 AND jid = ?2"},
        {&insert_group_,
         "INSERT INTO roster_groups (owner, jid, position, group_name) VALUES (?1, ?2, ?3, ?4)"},
        {&delete_item_, "DELETE FROM roster_items WHERE owner = ?1 AND jid = ?2"},
        {&next_version_,
         "UPDATE counters SET value = value + 1 WHERE name = 'roster_version' RETURNING value"},
        {&set_version_,
         "INSERT INTO roster_versions (owner, version) VALUES (?1, ?2) "
         "ON CONFLICT (owner) DO UPDATE SET version = excluded.version"},
        {&select_version_, "SELECT version FROM roster_versions WHERE owner = ?1"},
    });
  }

  Result<std::vector<RosterItem>> items(std::string_view owner) override {
    StatementRun running(select_items_.get());
    running.bind_text(1, owner);
    return read_items(running);
  }

  Result<std::optional<RosterItem>> item(std::string_view owner, std::string_view jid) override {
    StatementRun running(select_item_.get());
    running.bind_text(1, owner);
    running.bind_text(2, jid);
    auto found = read_items(running);
    if (!found) return fail(std::move(found.error()));
    if (found->empty()) return std::optional<RosterItem>();
    return std::optional<RosterItem>(std::move(found->front()));
  }

  Result<std::uint64_t> upsert(std::string_view owner, const RosterItem& item) override {
    constexpr std::string_view operation = "upsert roster item";
    if (auto checked = check_item(operation, owner, item); !checked) {
      return fail(std::move(checked.error()));
    }
    std::uint64_t version = 0;
    auto written = database_.in_transaction([&]() -> Result<void> {
      auto present = item_exists(owner, item.jid);
      if (!present) return fail(std::move(present.error()));
      if (!*present) {
        auto count = count_items(owner);
        if (!count) return fail(std::move(count.error()));
        if (*count >= max_items_) {
          return fail(database_.refuse(ErrorKind::limit, operation,
                                       "the roster of " + shown_name(owner) + " already has " +
                                           std::to_string(*count) + " items (the limit is " +
                                           std::to_string(max_items_) + ")"));
        }
      }
      if (auto stored = write_item(owner, item); !stored) return stored;
      auto bumped = bump_version(owner);
      if (!bumped) return fail(std::move(bumped.error()));
      version = *bumped;
      return {};
    });
    if (!written) return fail(std::move(written.error()));
    return version;
  }

  Result<std::uint64_t> remove(std::string_view owner, std::string_view jid) override {
    std::uint64_t version = 0;
    auto removed = database_.in_transaction([&]() -> Result<void> {
      {
        StatementRun running(delete_item_.get());
        running.bind_text(1, owner);
        running.bind_text(2, jid);
        if (const int rc = running.step(); rc != SQLITE_DONE) {
          return fail(database_.error("delete from roster_items", rc));
        }
      }
      auto changed = database_.changes() > 0 ? bump_version(owner) : version_of(owner);
      if (!changed) return fail(std::move(changed.error()));
      version = *changed;
      return {};
    });
    if (!removed) return fail(std::move(removed.error()));
    return version;
  }

  Result<std::uint64_t> version(std::string_view owner) override { return version_of(owner); }

 private:
  Result<void> check_item(std::string_view operation, std::string_view owner,
                          const RosterItem& item) const {
    if (auto checked = check_owner(database_, operation, owner); !checked) return checked;
    if (auto checked = check_name(database_, operation, "jid", item.jid, kMaxJidOctets); !checked) {
      return checked;
    }
    if (auto problem = groups_problem(item.groups))
      return fail(database_.refuse(ErrorKind::invalid_argument, operation, *problem));
    return {};
  }

  // Rows of the item query: one per (item, group), items in jid order, groups in their order.
  Result<std::vector<RosterItem>> read_items(StatementRun& running) const {
    constexpr std::string_view operation = "select from roster_items";
    std::vector<RosterItem> items;
    for (;;) {
      const int rc = running.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(database_.error(operation, rc));
      std::string jid = running.text(0);
      if (items.empty() || items.back().jid != jid) {
        RosterItem item;
        item.jid = std::move(jid);
        item.name = running.text(1);
        const auto subscription = parse_subscription(running.text(2));
        if (!subscription) {
          return fail(database_.refuse(ErrorKind::parse, operation,
                                       "item " + shown_name(item.jid) + " has a bad subscription"));
        }
        item.subscription = *subscription;
        item.ask_subscribe = running.integer(3) != 0;
        item.pending_in = running.integer(4) != 0;
        item.pending_in_stanza = running.text(5);
        items.push_back(std::move(item));
      }
      if (!running.is_null(6)) items.back().groups.push_back(running.text(6));
    }
    return items;
  }

  Result<bool> item_exists(std::string_view owner, std::string_view jid) {
    StatementRun running(select_item_exists_.get());
    running.bind_text(1, owner);
    running.bind_text(2, jid);
    const int rc = running.step();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(database_.error("select from roster_items", rc));
  }

  Result<std::size_t> count_items(std::string_view owner) {
    StatementRun running(count_items_.get());
    running.bind_text(1, owner);
    const int rc = running.step();
    if (rc != SQLITE_ROW) return fail(database_.error("count roster_items", rc));
    return static_cast<std::size_t>(running.integer(0));
  }

  Result<void> write_item(std::string_view owner, const RosterItem& item) {
    {
      StatementRun running(upsert_item_.get());
      running.bind_text(1, owner);
      running.bind_text(2, item.jid);
      running.bind_text(3, item.name);
      running.bind_text(4, to_string(item.subscription));
      running.bind_int(5, item.ask_subscribe ? 1 : 0);
      running.bind_int(6, item.pending_in ? 1 : 0);
      running.bind_text(7, item.pending_in_stanza);
      if (const int rc = running.step(); rc != SQLITE_DONE) {
        return fail(database_.error("insert into roster_items", rc));
      }
    }
    {
      StatementRun running(delete_groups_.get());
      running.bind_text(1, owner);
      running.bind_text(2, item.jid);
      if (const int rc = running.step(); rc != SQLITE_DONE) {
        return fail(database_.error("delete from roster_groups", rc));
      }
    }
    std::int64_t position = 0;
    for (const auto& group : item.groups) {
      StatementRun running(insert_group_.get());
      running.bind_text(1, owner);
      running.bind_text(2, item.jid);
      running.bind_int(3, position++);
      running.bind_text(4, group);
      if (const int rc = running.step(); rc != SQLITE_DONE) {
        return fail(database_.error("insert into roster_groups", rc));
      }
    }
    return {};
  }

  // Takes the next database-wide version and records it as the owner's.
  Result<std::uint64_t> bump_version(std::string_view owner) {
    std::int64_t version = 0;
    {
      StatementRun running(next_version_.get());
      int rc = running.step();
      if (rc != SQLITE_ROW) return fail(database_.error("update counters", rc));
      version = running.integer(0);
      rc = running.step();
      if (rc != SQLITE_DONE) return fail(database_.error("update counters", rc));
    }
    StatementRun running(set_version_.get());
    running.bind_text(1, owner);
    running.bind_int(2, version);
    if (const int rc = running.step(); rc != SQLITE_DONE) {
      return fail(database_.error("insert into roster_versions", rc));
    }
    return static_cast<std::uint64_t>(version);
  }

  Result<std::uint64_t> version_of(std::string_view owner) {
    StatementRun running(select_version_.get());
    running.bind_text(1, owner);
    const int rc = running.step();
    if (rc == SQLITE_DONE) return std::uint64_t{0};
    if (rc != SQLITE_ROW) return fail(database_.error("select from roster_versions", rc));
    return static_cast<std::uint64_t>(running.integer(0));
  }

  Database& database_;
  std::size_t max_items_;
  StatementPtr select_items_, select_item_, select_item_exists_, count_items_, upsert_item_,
      delete_groups_, insert_group_, delete_item_, next_version_, set_version_, select_version_;
};

// ---------------------------------------------------------------------------------------------
// Offline messages

class SqliteOffline final : public OfflineStore {
 public:
  SqliteOffline(Database& database, std::size_t max_messages)
      : database_(database), max_messages_(clamp_to_int64(max_messages)) {}

  Result<void> prepare() {
    return database_.prepare_all({
        // One statement, so the bound and the insert are one atomic step without a transaction.
        {&push_,
         "INSERT INTO offline_messages (owner, stanza_xml, stored_at) SELECT ?1, ?2, ?3 "
         "WHERE (SELECT count(*) FROM offline_messages WHERE owner = ?1) < ?4"},
        {&peek_,
         "SELECT id, stanza_xml, stored_at FROM offline_messages WHERE owner = ?1 ORDER BY id"},
        {&remove_up_to_, "DELETE FROM offline_messages WHERE owner = ?1 AND id <= ?2"},
        {&count_, "SELECT count(*) FROM offline_messages WHERE owner = ?1"},
    });
  }

  Result<bool> push(std::string_view owner, std::string_view stanza_xml,
                    std::int64_t now_unix) override {
    constexpr std::string_view operation = "insert into offline_messages";
    if (auto checked = check_owner(database_, operation, owner); !checked) {
      return fail(std::move(checked.error()));
    }
    StatementRun running(push_.get());
    running.bind_text(1, owner);
    running.bind_text(2, stanza_xml);
    running.bind_int(3, now_unix);
    running.bind_int(4, max_messages_);
    if (const int rc = running.step(); rc != SQLITE_DONE) {
      return fail(database_.error(operation, rc));
    }
    return database_.changes() > 0;
  }

  Result<std::vector<OfflineMessage>> peek(std::string_view owner) override {
    constexpr std::string_view operation = "select from offline_messages";
    StatementRun running(peek_.get());
    running.bind_text(1, owner);
    std::vector<OfflineMessage> messages;
    for (;;) {
      const int rc = running.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(database_.error(operation, rc));
      messages.push_back(OfflineMessage{running.integer(0), running.text(1), running.integer(2)});
    }
    return messages;
  }

  Result<void> remove_up_to(std::string_view owner, std::int64_t last_id) override {
    constexpr std::string_view operation = "delete from offline_messages";
    StatementRun running(remove_up_to_.get());
    running.bind_text(1, owner);
    running.bind_int(2, last_id);
    if (const int rc = running.step(); rc != SQLITE_DONE) {
      return fail(database_.error(operation, rc));
    }
    return {};
  }

  Result<std::size_t> count(std::string_view owner) override {
    constexpr std::string_view operation = "count offline_messages";
    StatementRun running(count_.get());
    running.bind_text(1, owner);
    const int rc = running.step();
    if (rc != SQLITE_ROW) return fail(database_.error(operation, rc));
    return static_cast<std::size_t>(running.integer(0));
  }

 private:
  Database& database_;
  std::int64_t max_messages_;
  StatementPtr push_, peek_, remove_up_to_, count_;
};

// ---------------------------------------------------------------------------------------------
// Archive

// Where a message sits in the archive order.
struct ArchivePosition {
  std::int64_t timestamp_us;
  std::int64_t row_id;
};

class SqliteArchive final : public ArchiveStore {
 public:
  explicit SqliteArchive(Database& database) : database_(database) {}

  Result<void> prepare() {
    // Variants are spelled out once here so that each has its own plan: with_jid = ?9 can use
    // the (owner, with_jid, timestamp_us) index, "?9 IS NULL OR ..." could not.
    for (const bool with_filter : {false, true}) {
      for (const bool backward : {false, true}) {
        page_sql_[index(with_filter, backward)] = page_sql(with_filter, backward);
      }
    }
    return database_.prepare_all({
        {&append_,
         "INSERT INTO archive (owner, with_jid, timestamp_us, stanza_xml) "
         "VALUES (?1, ?2, ?3, ?4)"},
        {&select_position_, "SELECT timestamp_us FROM archive WHERE id = ?1 AND owner = ?2"},
        {&count_,
         "SELECT count(*) FROM archive WHERE owner = ?1 AND timestamp_us BETWEEN ?2 AND ?3"},
        {&count_with_,
         "SELECT count(*) FROM archive "
         "WHERE owner = ?1 AND with_jid = ?4 AND timestamp_us BETWEEN ?2 AND ?3"},
        {&page_[0], page_sql_[0]},
        {&page_[1], page_sql_[1]},
        {&page_[2], page_sql_[2]},
        {&page_[3], page_sql_[3]},
    });
  }

  Result<std::string> append(std::string_view owner, std::string_view with_jid,
                             std::string_view stanza_xml, std::int64_t timestamp_us) override {
    constexpr std::string_view operation = "insert into archive";
    if (auto checked = check_owner(database_, operation, owner); !checked) {
      return fail(std::move(checked.error()));
    }
    if (auto checked = check_name(database_, operation, "with_jid", with_jid, kMaxJidOctets);
        !checked) {
      return fail(std::move(checked.error()));
    }
    StatementRun running(append_.get());
    running.bind_text(1, owner);
    running.bind_text(2, with_jid);
    running.bind_int(3, timestamp_us);
    running.bind_text(4, stanza_xml);
    if (const int rc = running.step(); rc != SQLITE_DONE) {
      return fail(database_.error(operation, rc));
    }
    return archive_id_from_row(sqlite3_last_insert_rowid(database_.handle()));
  }

  Result<ArchivePage> query(std::string_view owner, const ArchiveQuery& query) override {
    const bool with_filter = query.with_jid.has_value();
    const std::int64_t start = query.start_us.value_or(kInt64Min);
    const std::int64_t end = query.end_us.value_or(kInt64Max);
    const auto limit =
        static_cast<std::int64_t>(std::clamp<std::size_t>(query.max, 1, kMaxArchivePage));

    std::optional<ArchivePosition> after, before;
    if (query.after_id) {
      auto found = position_of(owner, *query.after_id, "after_id");
      if (!found) return fail(std::move(found.error()));
      after = *found;
    }
    if (query.before_id && !query.before_id->empty()) {
      auto found = position_of(owner, *query.before_id, "before_id");
      if (!found) return fail(std::move(found.error()));
      before = *found;
    }
    const bool backward = query.before_id.has_value() && !query.after_id.has_value();

    ArchivePage page;
    if (query.include_count) {
      StatementRun running(with_filter ? count_with_.get() : count_.get());
      running.bind_text(1, owner);
      running.bind_int(2, start);
      running.bind_int(3, end);
      if (with_filter) running.bind_text(4, *query.with_jid);
      const int rc = running.step();
      if (rc != SQLITE_ROW) return fail(database_.error("count archive", rc));
      page.count = static_cast<std::size_t>(running.integer(0));
    }

    StatementRun running(page_[index(with_filter, backward)].get());
    running.bind_text(1, owner);
    // The cursors narrow the timestamp range (the index does the work) and, at their own
    // timestamp, exclude themselves and what precedes (follows) them by row id.
    running.bind_int(2, after ? std::max(start, after->timestamp_us) : start);
    running.bind_int(3, before ? std::min(end, before->timestamp_us) : end);
    if (after) {
      running.bind_int(4, after->timestamp_us);
      running.bind_int(5, after->row_id);
    } else {
      running.bind_null(4);
      running.bind_null(5);
    }
    if (before) {
      running.bind_int(6, before->timestamp_us);
      running.bind_int(7, before->row_id);
    } else {
      running.bind_null(6);
      running.bind_null(7);
    }
    running.bind_int(8, limit + 1);  // one more than asked: is there anything beyond the page?
    if (with_filter) running.bind_text(9, *query.with_jid);
    for (;;) {
      const int rc = running.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return fail(database_.error("select from archive", rc));
      page.messages.push_back(ArchivedMessage{archive_id_from_row(running.integer(0)),
                                              running.text(1), running.text(2),
                                              running.integer(3)});
    }
    page.complete = page.messages.size() <= static_cast<std::size_t>(limit);
    if (!page.complete) page.messages.pop_back();
    if (backward) std::reverse(page.messages.begin(), page.messages.end());
    if (!page.messages.empty()) {
      page.first_id = page.messages.front().id;
      page.last_id = page.messages.back().id;
    }
    return page;
  }

 private:
  static std::size_t index(bool with_filter, bool backward) {
    return (with_filter ? 2 : 0) + (backward ? 1 : 0);
  }

  static std::string page_sql(bool with_filter, bool backward) {
    std::string sql =
        "SELECT id, with_jid, stanza_xml, timestamp_us FROM archive "
        "WHERE owner = ?1 AND timestamp_us BETWEEN ?2 AND ?3 ";
    if (with_filter) sql += "AND with_jid = ?9 ";
    sql +=
        "AND (?4 IS NULL OR timestamp_us > ?4 OR id > ?5) "
        "AND (?6 IS NULL OR timestamp_us < ?6 OR id < ?7) ";
    sql += backward ? "ORDER BY timestamp_us DESC, id DESC " : "ORDER BY timestamp_us, id ";
    sql += "LIMIT ?8";
    return sql;
  }

  // An id the caller sent back: only ids of this owner's messages are positions.
  Result<ArchivePosition> position_of(std::string_view owner, std::string_view id,
                                      std::string_view which) {
    const auto not_found = [&] {
      return fail(database_.refuse(ErrorKind::invalid_argument, "query archive",
                                   std::string(which) + ": no archived message of " +
                                       shown_name(owner) + " has the id " + shown_name(id)));
    };
    const auto row_id = archive_row_from_id(id);
    if (!row_id) return not_found();
    StatementRun running(select_position_.get());
    running.bind_int(1, *row_id);
    running.bind_text(2, owner);
    const int rc = running.step();
    if (rc == SQLITE_DONE) return not_found();
    if (rc != SQLITE_ROW) return fail(database_.error("select from archive", rc));
    return ArchivePosition{running.integer(0), *row_id};
  }

  Database& database_;
  std::string page_sql_[4];
  StatementPtr append_, select_position_, count_, count_with_;
  StatementPtr page_[4];  // [with_filter * 2 + backward]
};

// ---------------------------------------------------------------------------------------------

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(std::unique_ptr<Database> database, const StorageLimits& limits)
      : database_(std::move(database)),
        accounts_(*database_),
        roster_(*database_, limits.max_roster_items),
        offline_(*database_, limits.max_offline_messages),
        archive_(*database_) {}

  Result<void> prepare() {
    if (auto done = accounts_.prepare(); !done) return done;
    if (auto done = roster_.prepare(); !done) return done;
    if (auto done = offline_.prepare(); !done) return done;
    return archive_.prepare();
  }

  AccountStore& accounts() override { return accounts_; }
  RosterStore& roster() override { return roster_; }
  OfflineStore& offline() override { return offline_; }
  ArchiveStore& archive() override { return archive_; }

  Result<void> begin_group() override { return database_->begin_group(); }
  Result<void> commit_group() override { return database_->commit_group(); }
  bool in_group() const override { return database_->in_group(); }
  Result<void> in_transaction(const std::function<Result<void>()>& work) override {
    return database_->in_transaction(work);
  }

  // WAL checkpoints off the caller's thread (sqlite_checkpointer.hpp); file databases only.
  Result<void> checkpoint_in_background(const std::string& path) {
    auto started = SqliteCheckpointer::start(database_->handle(), path);
    if (!started) return fail(std::move(started.error()));
    checkpointer_ = std::move(*started);
    return {};
  }

 private:
  // Declared first so it is destroyed last, after the stores' statements.
  std::unique_ptr<Database> database_;
  // Stopped before the connection it hooks into closes (the close runs the last checkpoint).
  std::unique_ptr<SqliteCheckpointer> checkpointer_;
  SqliteAccounts accounts_;
  SqliteRoster roster_;
  SqliteOffline offline_;
  SqliteArchive archive_;
};

Result<void> check_pragma(const Database& database, std::string_view operation, const char* sql,
                          std::string_view expected) {
  auto statement = database.prepare(sql);
  if (!statement) return fail(std::move(statement.error()));
  StatementRun running(statement->get());
  const int rc = running.step();
  if (rc != SQLITE_ROW) return fail(database.error(operation, rc));
  const std::string answer = running.text(0);
  if (answer != expected) {
    return fail(database.refuse(
        ErrorKind::io, operation,
        "SQLite answered '" + answer + "' instead of '" + std::string(expected) + "'"));
  }
  return {};
}

constexpr char kCrockfordDigits[] = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t kArchiveIdDigits = 13;  // 13 * 5 = 65 bits >= 64

Result<std::string> percent_decode(std::string_view url, std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    const int high = i + 2 < text.size() ? hex(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      return fail(Error::invalid_argument(std::string(url) +
                                          ": a '%' in the path must start an escape like %20"));
    }
    const char decoded = static_cast<char>(high * 16 + low);
    if (decoded == '\0') {
      return fail(Error::invalid_argument(std::string(url) + ": the path contains %00"));
    }
    out.push_back(decoded);
    i += 2;
  }
  return out;
}

}  // namespace

std::string archive_id_from_row(std::int64_t row_id) {
  std::string id(kArchiveIdDigits, '0');
  auto value = static_cast<std::uint64_t>(row_id);
  for (std::size_t i = kArchiveIdDigits; i-- > 0;) {
    id[i] = kCrockfordDigits[value & 31];
    value >>= 5;
  }
  return id;
}

std::optional<std::int64_t> archive_row_from_id(std::string_view id) {
  if (id.size() != kArchiveIdDigits) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const char* digit = std::strchr(kCrockfordDigits, id[i]);
    if (id[i] == '\0' || digit == nullptr) return std::nullopt;
    const auto digit_value = static_cast<std::uint64_t>(digit - kCrockfordDigits);
    // The first digit carries the top 4 bits of 64 (13 * 5 = 65); row ids are positive int64,
    // so it is at most 7.
    if (i == 0 && digit_value > 7) return std::nullopt;
    value = (value << 5) | digit_value;
  }
  if (value == 0) return std::nullopt;
  return static_cast<std::int64_t>(value);
}

Result<SqliteOptions> parse_sqlite_url(std::string_view url) {
  constexpr std::string_view kScheme = "sqlite:";
  constexpr std::string_view kMemory = "sqlite::memory:";
  constexpr std::string_view kExpected =
      "expected sqlite:///absolute/path/parley.db or sqlite::memory:";
  const std::string shown(url);
  SqliteOptions options;
  std::string_view rest;
  if (url.starts_with(kMemory)) {
    options.in_memory = true;
    rest = url.substr(kMemory.size());
  } else if (url.starts_with("sqlite:///")) {
    rest = url.substr(kScheme.size() + 2);  // keep the path's leading '/'
    const std::string_view path = rest.substr(0, rest.find('?'));
    rest = rest.substr(path.size());
    auto decoded = percent_decode(url, path);
    if (!decoded) return fail(std::move(decoded.error()));
    if (*decoded == "/" || decoded->ends_with('/')) {
      return fail(Error::invalid_argument(shown + ": the path names a directory, not a file; " +
                                          std::string(kExpected)));
    }
    options.path = std::move(*decoded);
  } else if (url.starts_with("sqlite://")) {
    return fail(Error::invalid_argument(
        shown +
        ": the database path must be absolute: write three slashes, as in "
        "sqlite:///var/lib/parley/parley.db (with two, the text after them would be a host "
        "name, and a relative path would depend on the directory parleyd was started from)"));
  } else if (url.starts_with(kScheme)) {
    return fail(Error::invalid_argument(shown + ": " + std::string(kExpected)));
  } else {
    return fail(Error::invalid_argument(shown + ": not a sqlite URL; " + std::string(kExpected)));
  }

  if (rest.empty()) return options;
  if (rest.front() != '?') {
    return fail(Error::invalid_argument(shown + ": " + std::string(kExpected)));
  }
  rest.remove_prefix(1);
  constexpr std::string_view kSynchronous = "synchronous=";
  bool synchronous_seen = false;
  for (;;) {
    const std::size_t ampersand = rest.find('&');
    const std::string_view parameter = rest.substr(0, ampersand);
    if (!parameter.starts_with(kSynchronous) || synchronous_seen) {
      return fail(Error::invalid_argument(shown + ": unknown or repeated parameter '" +
                                          std::string(parameter.substr(0, 40)) +
                                          "' (the only one is synchronous=normal|full)"));
    }
    const std::string_view value = parameter.substr(kSynchronous.size());
    if (value == "normal") {
      options.synchronous = SqliteSynchronous::normal;
    } else if (value == "full") {
      options.synchronous = SqliteSynchronous::full;
    } else {
      return fail(Error::invalid_argument(shown + ": synchronous must be normal or full"));
    }
    synchronous_seen = true;
    if (ampersand == std::string_view::npos) break;
    rest.remove_prefix(ampersand + 1);
  }
  return options;
}

Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options) {
  const std::string name = options.in_memory ? std::string(":memory:") : options.path;
  if (!options.in_memory) {
    if (!options.path.starts_with('/')) {
      return fail(Error::invalid_argument(name + ": open database: the path must be absolute"));
    }
    if (auto created = create_database_file(options.path); !created) {
      return fail(std::move(created.error()));
    }
  }

  // NOMUTEX: see the header. No SQLITE_OPEN_URI: the path is a plain file name, whatever it reads
  // like. No SQLITE_OPEN_CREATE for files: create_database_file made it with the right mode.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (options.in_memory) flags |= SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY;
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(options.in_memory ? ":memory:" : options.path.c_str(), &raw, flags, nullptr);
  ConnectionPtr connection(raw);
  if (connection == nullptr) {
    return fail(Error{ErrorKind::internal, name + ": open database: out of memory"});
  }
  auto database = std::make_unique<Database>(std::move(connection), name);
  if (rc != SQLITE_OK) return fail(database->error("open database", rc));
  // SQLite quietly opens a file it may not write read-only; say so now rather than at the first
  // message that cannot be stored.
  if (sqlite3_db_readonly(database->handle(), "main") == 1) {
    return fail(
        database->refuse(ErrorKind::io, "open database", "the file is not writable by this user"));
  }

  const auto busy_ms =
      std::clamp<std::int64_t>(options.busy_timeout.count(), 0, std::numeric_limits<int>::max());
  sqlite3_busy_timeout(database->handle(), static_cast<int>(busy_ms));

  // Refuse a newer or foreign database before anything below writes to the file (switching to
  // WAL rewrites its header).
  if (auto version = read_schema_version(*database); !version) {
    return fail(std::move(version.error()));
  }
  if (!options.in_memory) {
    if (auto wal = check_pragma(*database, "set journal mode", "PRAGMA journal_mode = WAL", "wal");
        !wal) {
      return fail(std::move(wal.error()));
    }
  }
  // See the header for why NORMAL keeps every acknowledged write through a crash of the process.
  const char* synchronous = options.synchronous == SqliteSynchronous::full
                                ? "PRAGMA synchronous = FULL"
                                : "PRAGMA synchronous = NORMAL";
  if (auto set = database->run_script("set synchronous", synchronous); !set) {
    return fail(std::move(set.error()));
  }
  if (auto set = database->run_script("enable foreign keys", "PRAGMA foreign_keys = ON"); !set) {
    return fail(std::move(set.error()));
  }
  // PRAGMA foreign_keys is silently ignored by builds without them: check it took.
  if (auto on = check_pragma(*database, "enable foreign keys", "PRAGMA foreign_keys", "1"); !on) {
    return fail(std::move(on.error()));
  }
  if (auto set = database->run_script("limit journal size", "PRAGMA journal_size_limit = 67108864");
      !set) {
    return fail(std::move(set.error()));
  }
  if (auto prepared = database->prepare_transaction_statements(); !prepared) {
    return fail(std::move(prepared.error()));
  }
  if (auto migrated = migrate(*database); !migrated) return fail(std::move(migrated.error()));

  auto storage = std::make_unique<SqliteStorage>(std::move(database), options.limits);
  if (auto prepared = storage->prepare(); !prepared) return fail(std::move(prepared.error()));
  if (!options.in_memory) {
    if (auto started = storage->checkpoint_in_background(options.path); !started)
      return fail(std::move(started.error()));
  }
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace parley::store
