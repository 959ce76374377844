#pragma once
// One libpq connection of the PostgreSQL backend, and the one way store/ runs SQL on it. Only
// .cpp files in store/ include this: libpq-fe.h stays out of the public headers.
//
// Statements are prepared once per connection (PQprepare) and run with every value bound, in
// binary: nothing from a caller is ever formatted into SQL, and no text is parsed on the hot path.
//
// Transactions differ from SQLite's in one way that matters: in PostgreSQL any failed statement
// aborts the whole transaction, while in SQLite it fails alone. A group commit (storage.hpp) holds
// the writes of many sessions in one transaction, so one session's failed statement (a statement
// timeout, an oversized index entry) would silently undo writes that other sessions were already
// told had succeeded. So every statement that runs inside a transaction runs under a savepoint of
// its own, sent in one pipeline with it (SAVEPOINT, the statement, RELEASE, one round trip): a
// failure rolls back to the savepoint and leaves the transaction as it was, as in SQLite.
//
// Reconnecting: when the server closed the connection (a restart, an administrator), the next
// call made outside a transaction notices (a poll of the socket, no round trip), reconnects
// with the same parameters and prepares the statements again. A transaction that was open when
// the connection broke is lost: its calls and its commit fail with ErrorKind::io, nothing of it
// was committed, and the call after it reconnects. A failed reconnect is not tried again for a
// while (1 s, doubling up to 30 s, back to 1 s after a success); calls meanwhile fail at once with
// the last attempt's error. That bounds how often a blocking attempt (up to connect_timeout for a
// host that does not answer) can stall the thread that uses the store.
//
// Errors: "<display name>: <operation>: <PostgreSQL's message>", the display name without the
// password (postgresql_url.hpp). Kinds by SQLSTATE class: 22 and 23 (data, integrity)
// invalid_argument, 54 (program limit) limit, 42 (except 42501) and 0A/26/34 internal, the rest
// (connection, resources, operator intervention, privileges) io.
//
// Thread-safety: none, like the Storage it serves.

#include <libpq-fe.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/postgresql_url.hpp"

namespace parley::store::postgresql {

// Type OIDs of the parameters and columns the store uses (catalog/pg_type.dat; stable across
// PostgreSQL releases, but not exported by libpq-fe.h).
inline constexpr Oid kBoolean = 16;
inline constexpr Oid kBytea = 17;
inline constexpr Oid kInt8 = 20;
inline constexpr Oid kInt4 = 23;
inline constexpr Oid kText = 25;

struct ResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

// A statement prepared on the connection (and again after every reconnect).
struct Statement {
  std::size_t index = 0;
};

// Values for one execution, in binary format. Text and octets are not copied: the bytes must
// outlive the call. Text must be storable (write_checks.hpp is_storable_text); the caller checks.
class Parameters {
 public:
  Parameters() = default;
  Parameters(const Parameters&) = delete;  // values_ points into scalars_
  Parameters& operator=(const Parameters&) = delete;

  Parameters& text(std::string_view value) { return add(value.data(), value.size()); }
  Parameters& octets(std::string_view value) { return add(value.data(), value.size()); }
  Parameters& integer(std::int64_t value);
  Parameters& boolean(bool value);

  int count() const { return count_; }
  bool overflowed() const { return overflowed_; }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  static constexpr int kMax = 12;
  Parameters& add(const char* data, std::size_t size);

  std::array<const char*, kMax> values_{};
  std::array<int, kMax> lengths_{};
  std::array<int, kMax> formats_{};
  std::array<std::array<char, 8>, kMax> scalars_{};
  int count_ = 0;
  bool overflowed_ = false;
};

// The rows of a statement, columns in binary format. Accessors take 0-based row and column.
class Rows {
 public:
  explicit Rows(ResultPtr result) : result_(std::move(result)) {}
  int count() const { return PQntuples(result_.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
  std::string text(int row, int column) const;      // also bytea: the raw octets
  std::int64_t integer(int row, int column) const;  // int2, int4 or int8
  bool boolean(int row, int column) const;
  // For INSERT, UPDATE and DELETE: how many rows they touched.
  std::int64_t affected() const;

 private:
  ResultPtr result_;
};

class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const PostgresqlTarget& target);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& name() const { return name_; }
  PGconn* handle() const { return connection_; }

  Error refuse(ErrorKind kind, std::string_view operation, std::string_view detail) const;

  // BEGIN, COMMIT and the savepoints; once, right after open.
  Result<void> prepare_transaction_statements();

  // Prepares now and after every reconnect. Types are the parameters' OIDs ($1, $2, ...).
  Result<Statement> prepare(std::string sql, std::vector<Oid> parameter_types);

  // Runs a prepared statement; inside a transaction under its own savepoint (see the header).
  Result<Rows> run(std::string_view operation, Statement statement,
                   const Parameters& parameters = {});
  // One statement without parameters that is not worth preparing (at open only).
  Result<Rows> run_once(std::string_view operation, const std::string& sql);
  // Several statements without parameters (schema scripts), as one simple query.
  Result<void> run_script(std::string_view operation, const std::string& sql);

  // storage.hpp's transaction contract, on this connection.
  Result<void> in_transaction(const std::function<Result<void>()>& work);
  Result<void> begin_group();
  Result<void> commit_group();
  bool in_group() const { return depth_ > 0; }

 private:
  struct Prepared {
    std::string name;
    std::string sql;
    std::vector<Oid> parameter_types;
  };

  Connection(PGconn* connection, std::string name, std::vector<std::string> passwords);
  Error error(std::string_view operation, const PGresult* result) const;
  Error connection_error(std::string_view operation) const;
  Result<void> prepare_on_server(const Prepared& prepared);
  // Outside a transaction: notices a connection the server closed and reconnects.
  Result<void> ensure_connected();
  Result<ResultPtr> execute(std::string_view operation, const Prepared& prepared,
                            const Parameters& parameters);
  Result<ResultPtr> execute_under_savepoint(std::string_view operation, const Prepared& prepared,
                                            const Parameters& parameters);
  Result<void> control(std::string_view operation, Statement statement);
  void abandon(bool outermost);

  PGconn* connection_;
  std::string name_;
  std::vector<std::string> passwords_;  // only to keep them out of libpq's messages
  std::deque<Prepared> statements_;
  int depth_ = 0;
  // After a failed reconnect: when to try again, how long to wait after the next failure, and the
  // failure itself (what calls meanwhile report).
  std::chrono::steady_clock::time_point next_reconnect_{};
  std::chrono::seconds reconnect_backoff_{1};
  std::string last_reconnect_error_;
  Statement begin_{}, commit_{}, rollback_{}, savepoint_{}, release_{}, rollback_to_{},
      statement_savepoint_{}, statement_release_{}, statement_rollback_to_{};
};

}  // namespace parley::store::postgresql
