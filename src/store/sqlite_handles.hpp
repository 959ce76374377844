#pragma once
// Owning handles for the SQLite C API, so that every early return closes or finalizes what it
// opened, and StatementRun, the one way store/ executes a prepared statement. Only .cpp files in
// store/ include this: sqlite3.h stays out of the public headers.
//
// A prepared statement is cached for the life of the connection and reused on every call (no SQL
// text is parsed on the hot path). StatementRun borrows it for one execution and, whatever way the
// caller leaves, resets it and clears its bindings: a statement left mid-step would keep a read
// transaction open (and stop WAL checkpoints), and a binding left behind would point at a string
// the caller no longer owns. That clearing is what makes binding text with SQLITE_STATIC (no copy)
// safe: the bound bytes only have to live as long as the StatementRun.

#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>

namespace parley::store::sqlite {

struct ConnectionCloser {
  void operator()(sqlite3* connection) const { sqlite3_close_v2(connection); }
};
using ConnectionPtr = std::unique_ptr<sqlite3, ConnectionCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using StatementPtr = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// One execution of a cached statement. Bind with 1-based parameter indexes, then step(). A failed
// bind is remembered and returned by the next step() instead of running the statement, so call
// sites check one result code.
class StatementRun {
 public:
  explicit StatementRun(sqlite3_stmt* statement) : statement_(statement) {}
  ~StatementRun() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  StatementRun(const StatementRun&) = delete;
  StatementRun& operator=(const StatementRun&) = delete;

  // Text must be UTF-8 (SQLite does not check); the bytes must outlive this StatementRun.
  void bind_text(int index, std::string_view text) {
    if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      remember(SQLITE_TOOBIG);
      return;
    }
    remember(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                               SQLITE_STATIC));
  }
  // Raw octets (salts, keys); the bytes must outlive this StatementRun.
  void bind_blob(int index, std::string_view octets) {
    if (octets.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
      remember(SQLITE_TOOBIG);
      return;
    }
    // A zero-length blob with a null pointer would bind NULL: give it a valid address.
    const char* data = octets.empty() ? "" : octets.data();
    remember(
        sqlite3_bind_blob(statement_, index, data, static_cast<int>(octets.size()), SQLITE_STATIC));
  }
  void bind_int(int index, std::int64_t value) {
    remember(sqlite3_bind_int64(statement_, index, value));
  }
  void bind_null(int index) { remember(sqlite3_bind_null(statement_, index)); }

  // SQLITE_ROW, SQLITE_DONE or an error code (a remembered bind error first).
  int step() {
    if (bind_error_ != SQLITE_OK) return bind_error_;
    return sqlite3_step(statement_);
  }

  // Columns of the current row, 0-based.
  bool is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  std::int64_t integer(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string text(int column) const {
    // sqlite3_column_text before sqlite3_column_bytes: the length is that of the text form.
    const unsigned char* bytes = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (bytes == nullptr || size <= 0) return {};
    return std::string(reinterpret_cast<const char*>(bytes), static_cast<std::size_t>(size));
  }
  std::string blob(int column) const {
    const void* bytes = sqlite3_column_blob(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (bytes == nullptr || size <= 0) return {};
    return std::string(static_cast<const char*>(bytes), static_cast<std::size_t>(size));
  }

 private:
  void remember(int rc) {
    if (bind_error_ == SQLITE_OK) bind_error_ = rc;
  }

  sqlite3_stmt* statement_;
  int bind_error_ = SQLITE_OK;
};

}  // namespace parley::store::sqlite
