#pragma once
// Runs the WAL checkpoints of one SQLite database file on a thread of its own, so that the
// server's event loop never waits for them.
//
// Why: in WAL mode SQLite copies the -wal file back into the database ("checkpoint") by default
// inside the commit that makes the WAL pass 1,000 pages, on the committing thread, and a
// checkpoint fsyncs the WAL and then the database. With the message archive on, parleyd commits
// many small groups a second; measured at 8,000 msg/s (docs/benchmarks.md), those checkpoints
// took about 13 ms each, dozens of times a second, all on the event loop: every stanza of the
// server waited behind them (p50 latency of hundreds of milliseconds).
//
// How: the writer connection's own automatic checkpoints are replaced (sqlite3_wal_hook) by a
// request to this thread once the WAL holds `pages_per_checkpoint` pages; the thread runs a
// PASSIVE checkpoint on a second connection to the same file, which never blocks the writer and
// never waits for a lock (it copies what no reader still needs and leaves the rest for the next
// one). Durability is unchanged: a commit is in the WAL (page cache, or on disk with
// synchronous=FULL) before the store call returns, whichever thread checkpoints it later.
//
// Backstop: should the thread fall behind (a slow disk), the WAL would grow without bound; past
// kCatchUpFactor times the threshold the writer checkpoints itself again, on its own thread, as
// SQLite would have done.
//
// Not thread-safe to use from more than the writer's thread (the hook runs on it); the checkpoint
// thread touches only its own connection. Destruction removes the hook, then stops and joins the
// thread; the writer connection must outlive this object.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.hpp"

struct sqlite3;

namespace parley::store {

class SqliteCheckpointer {
 public:
  static constexpr int kCatchUpFactor = 16;

  // `writer` is the connection that commits (WAL mode already on), `path` its database file.
  static Result<std::unique_ptr<SqliteCheckpointer>> start(sqlite3* writer, const std::string& path,
                                                           int pages_per_checkpoint = 1000);
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // Checkpoints run by the thread, and by the writer's backstop (for tests and statistics).
  std::uint64_t background_checkpoints() const;
  std::uint64_t writer_checkpoints() const { return writer_checkpoints_; }

 private:
  SqliteCheckpointer(sqlite3* writer, sqlite3* reader_writer, int pages_per_checkpoint);
  static int on_commit(void* self, sqlite3* connection, const char* database, int wal_pages);
  void request();
  void run();

  sqlite3* writer_;
  sqlite3* checkpoint_connection_;  // owned; used only by thread_
  int pages_per_checkpoint_;
  std::uint64_t writer_checkpoints_ = 0;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool requested_ = false;
  bool stopping_ = false;
  std::uint64_t background_checkpoints_ = 0;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace parley::store
