#pragma once
// The SQLite backend of storage.hpp: one database file holds every store (the embedded default,
// ARCHITECTURE.md "Data on disk").
//
// Durability. The connection runs in WAL journal mode with synchronous=NORMAL by default. A commit
// appends the transaction's pages to the -wal file with write(2) before sqlite3_step returns, so
// once a store call has returned its data is in the operating system's page cache and survives
// the process dying in any way, kill -9 included: the kernel writes it out later regardless of
// the process. NORMAL leaves out only the fsync of the WAL at each commit (checkpoints still sync),
// so what it can lose is the last transactions before a power failure or kernel crash, never the
// consistency of the file. "?synchronous=full" in the URL fsyncs the WAL at every commit, for
// hosts where even that window matters, at the cost of a disk flush per message.
// Checkpoints (copying the WAL back into the file, with its fsyncs) run on a thread of their own
// with a second connection (sqlite_checkpointer.hpp), not inside the caller's commits.
//
// Connection: opened with SQLITE_OPEN_NOMUTEX (SQLite's "multi-thread" mode, no mutex taken per
// call). The storage object is not thread-safe on its own anyway (cached statements, transaction
// depth), so a serializing mutex inside SQLite would cost on every call and protect nothing: one
// thread at a time uses a Storage, as storage.hpp says. Other processes (parleyd user add while
// the server runs) open their own connection; WAL lets readers run beside the writer, writers
// wait for each other up to busy_timeout, and transactions start with BEGIN IMMEDIATE so they
// never fail half-way on a lock upgrade.
//
// Also set: foreign_keys=ON (credentials and roster groups cascade with their parent rows),
// journal_size_limit (the -wal file shrinks back after a burst). SQL is prepared once per
// connection; every value is bound, nothing from a caller is ever formatted into SQL.
//
// Schema: a schema_version table with one row. A new file gets kSqliteSchemaVersion; an older
// version is upgraded in one transaction at open; a newer one is refused without touching the file
// (an old parleyd must not write a database a newer one has changed). A file with tables but no
// schema_version is refused as not a Parley database.
//
// Archive ids are the row id as 13 lowercase Crockford base32 digits ("0000000000001"): URL-safe,
// fixed width, so they sort in arrival order as strings. They are unique in the database and never
// reused (AUTOINCREMENT), but they are not secret: they reveal how many messages the whole server
// archived before. Offline message ids are never reused either, so a late remove_up_to() can not
// remove a message that arrived after its peek().

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "store/storage.hpp"

namespace parley::store {

inline constexpr int kSqliteSchemaVersion = 1;

enum class SqliteSynchronous { normal, full };

struct SqliteOptions {
  bool in_memory = false;  // "sqlite::memory:": a private database that ends with the Storage
  std::string path;        // absolute path of the database file, when not in_memory
  SqliteSynchronous synchronous = SqliteSynchronous::normal;
  std::chrono::milliseconds busy_timeout{5000};  // how long a write waits for another process
  StorageLimits limits;
};

// "sqlite:///absolute/path.db[?synchronous=normal|full]" (the path percent-decoded) or
// "sqlite::memory:". Errors (invalid_argument) say what is wrong and what to write instead.
Result<SqliteOptions> parse_sqlite_url(std::string_view url);

// Opens (creating when absent, mode 0600) and brings the schema up to date.
Result<std::unique_ptr<Storage>> open_sqlite_storage(const SqliteOptions& options);

// The archive id of a row id and back; nullopt for anything that is not an id this made.
std::string archive_id_from_row(std::int64_t row_id);
std::optional<std::int64_t> archive_row_from_id(std::string_view id);

}  // namespace parley::store
