#include "store/sqlite_checkpointer.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "core/test_support.hpp"
#include "store/sqlite_handles.hpp"

namespace parley::store {
namespace {

namespace fs = std::filesystem;
using test_support::TempDir;

void exec(sqlite3* connection, const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(connection, sql.c_str(), nullptr, nullptr, &message);
  const std::string text = message ? message : "";
  sqlite3_free(message);
  ASSERT_EQ(rc, SQLITE_OK) << sql << ": " << text;
}

sqlite::ConnectionPtr open_wal_database(const fs::path& path) {
  sqlite3* raw = nullptr;
  sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  sqlite::ConnectionPtr connection(raw);
  exec(raw, "PRAGMA journal_mode = WAL");
  exec(raw, "PRAGMA synchronous = NORMAL");
  exec(raw, "CREATE TABLE IF NOT EXISTS rows (id INTEGER PRIMARY KEY, payload BLOB)");
  return connection;
}

// Many small transactions, like a server's group commits: one 1 KiB row each.
void insert_rows(sqlite3* connection, int count) {
  for (int i = 0; i < count; ++i)
    exec(connection, "INSERT INTO rows (payload) VALUES (zeroblob(1024))");
}

std::uintmax_t wal_size(const fs::path& database) {
  std::error_code ignored;
  const auto size = fs::file_size(database.string() + "-wal", ignored);
  return ignored ? 0 : size;
}

TEST(SqliteCheckpointer, CheckpointsOnItsOwnThreadAndKeepsTheWalSmall) {
  TempDir directory;
  const fs::path path = directory.path() / "db.sqlite";
  auto writer = open_wal_database(path);
  constexpr int kPagesPerCheckpoint = 8;
  auto checkpointer = SqliteCheckpointer::start(writer.get(), path.string(), kPagesPerCheckpoint);
  ASSERT_TRUE(checkpointer) << checkpointer.error().message;

  insert_rows(writer.get(), 3000);  // about 3 MiB of pages, 12 times the backstop's threshold
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((*checkpointer)->background_checkpoints() == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GT((*checkpointer)->background_checkpoints(), 0u);
  // Without checkpoints the WAL would hold every row (over 3 MiB). With them it is reset once
  // a checkpoint has copied it all, so it stays near the backstop's bound (16 x 8 pages of
  // 4 KiB) plus what was committed while a checkpoint ran.
  EXPECT_LT(wal_size(path), 1024u * 1024u);

  // Every row is in the database after the checkpointer is gone and the file is reopened.
  checkpointer->reset();
  writer.reset();
  auto reader = open_wal_database(path);
  sqlite3_stmt* raw = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(reader.get(), "SELECT count(*) FROM rows", -1, &raw, nullptr),
            SQLITE_OK);
  sqlite::StatementPtr count(raw);
  ASSERT_EQ(sqlite3_step(count.get()), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(count.get(), 0), 3000);
}

TEST(SqliteCheckpointer, AfterItStopsTheWriterCheckpointsByItselfAgain) {
  TempDir directory;
  const fs::path path = directory.path() / "db.sqlite";
  auto writer = open_wal_database(path);
  {
    auto checkpointer = SqliteCheckpointer::start(writer.get(), path.string(), 8);
    ASSERT_TRUE(checkpointer) << checkpointer.error().message;
    insert_rows(writer.get(), 50);
  }
  // SQLite's own automatic checkpoint (every 1,000 pages) is back: 6,000 more 1 KiB rows
  // (about 1,500 pages) would make a WAL of over 6 MiB without it.
  insert_rows(writer.get(), 6000);
  EXPECT_LT(wal_size(path), 5u * 1024u * 1024u);
}

TEST(SqliteCheckpointer, AMissingFileIsAClearError) {
  TempDir directory;
  const fs::path path = directory.path() / "db.sqlite";
  auto writer = open_wal_database(path);
  const std::string missing = (directory.path() / "nowhere" / "db.sqlite").string();
  auto checkpointer = SqliteCheckpointer::start(writer.get(), missing);
  ASSERT_FALSE(checkpointer);
  EXPECT_NE(checkpointer.error().message.find(missing), std::string::npos)
      << checkpointer.error().message;
}

}  // namespace
}  // namespace parley::store
