#include "store/sqlite_checkpointer.hpp"

#include <sqlite3.h>

namespace parley::store {

Result<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::start(sqlite3* writer,
                                                                      const std::string& path,
                                                                      int pages_per_checkpoint) {
  // A build without mutexes cannot have a second thread touch the library at all.
  if (sqlite3_threadsafe() == 0) {
    return fail(Error::invalid_argument(path + ": SQLite is built without thread support"));
  }
  sqlite3* connection = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &connection,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = path + ": open the checkpoint connection: " +
                          (connection ? sqlite3_errmsg(connection) : sqlite3_errstr(rc));
    sqlite3_close_v2(connection);
    return fail(Error::io(std::move(message)));
  }
  // This connection only checkpoints; it must not checkpoint on its own schedule either.
  sqlite3_wal_autocheckpoint(connection, 0);
  std::unique_ptr<SqliteCheckpointer> checkpointer(
      new SqliteCheckpointer(writer, connection, pages_per_checkpoint));
  // Replaces the writer's automatic checkpoints (sqlite3_wal_hook documents that it does).
  sqlite3_wal_hook(writer, &SqliteCheckpointer::on_commit, checkpointer.get());
  return checkpointer;
}

SqliteCheckpointer::SqliteCheckpointer(sqlite3* writer, sqlite3* checkpoint_connection,
                                       int pages_per_checkpoint)
    : writer_(writer),
      checkpoint_connection_(checkpoint_connection),
      pages_per_checkpoint_(pages_per_checkpoint > 0 ? pages_per_checkpoint : 1),
      thread_([this] { run(); }) {}

SqliteCheckpointer::~SqliteCheckpointer() {
  sqlite3_wal_hook(writer_, nullptr, nullptr);
  // Back to SQLite's default, so that a writer that goes on committing is checkpointed again.
  sqlite3_wal_autocheckpoint(writer_, 1000);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  sqlite3_close_v2(checkpoint_connection_);
}

std::uint64_t SqliteCheckpointer::background_checkpoints() const {
  std::lock_guard lock(mutex_);
  return background_checkpoints_;
}

int SqliteCheckpointer::on_commit(void* self, sqlite3* connection, const char* database,
                                  int wal_pages) {
  auto& checkpointer = *static_cast<SqliteCheckpointer*>(self);
  if (wal_pages >= checkpointer.pages_per_checkpoint_ * kCatchUpFactor) {
    // The thread is far behind: do what SQLite's own hook would have done, here.
    sqlite3_wal_checkpoint_v2(connection, database, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    ++checkpointer.writer_checkpoints_;
  } else if (wal_pages >= checkpointer.pages_per_checkpoint_) {
    checkpointer.request();
  }
  return SQLITE_OK;  // the commit itself has succeeded whatever happens here
}

void SqliteCheckpointer::request() {
  {
    std::lock_guard lock(mutex_);
    if (requested_) return;  // one is already pending: it will take these pages too
    requested_ = true;
  }
  wake_.notify_one();
}

void SqliteCheckpointer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return requested_ || stopping_; });
    if (stopping_) return;
    requested_ = false;
    lock.unlock();
    // PASSIVE: copies what it can without waiting for anyone. A failure (SQLITE_BUSY while
    // another process checkpoints, an I/O error) loses nothing: the pages stay in the WAL and
    // the next request tries again; the writer's backstop bounds the WAL meanwhile.
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_connection_, "main",
                                             SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    lock.lock();
    if (rc == SQLITE_OK) ++background_checkpoints_;
  }
}

}  // namespace parley::store
