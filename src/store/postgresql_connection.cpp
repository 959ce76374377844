#include "store/postgresql_connection.hpp"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace parley::store::postgresql {
namespace {

// libpq's messages end with a newline and put hints on indented lines: one line for our errors.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (const char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

ErrorKind kind_of(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return ErrorKind::io;  // no SQLSTATE: the connection failed
  const std::string_view error_class = sqlstate.substr(0, 2);
  if (error_class == "22" || error_class == "23") return ErrorKind::invalid_argument;
  if (error_class == "54") return ErrorKind::limit;
  if (sqlstate == "42501") return ErrorKind::io;  // insufficient privilege: the deployment
  if (error_class == "42" || error_class == "0A" || error_class == "26" || error_class == "34") {
    return ErrorKind::internal;
  }
  return ErrorKind::io;
}

bool succeeded(const PGresult* result) {
  if (result == nullptr) return false;
  const auto status = PQresultStatus(result);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

// What the people who run the database need to hear about the errors they can fix.
std::string hint_for(std::string_view sqlstate) {
  if (sqlstate == "42501") {
    return " (the role in the storage URL needs to own the database, or at least to be allowed "
           "to create tables in its schema: see docs/deployment.md)";
  }
  return {};
}

void ignore_notice(void*, const char*) {}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parameters and rows

Parameters& Parameters::add(const char* data, std::size_t size) {
  if (count_ == kMax || size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    overflowed_ = true;
    return *this;
  }
  // A zero-length value with a null pointer would be SQL NULL: give it a valid address.
  values_[count_] = size == 0 ? "" : data;
  lengths_[count_] = static_cast<int>(size);
  formats_[count_] = 1;
  ++count_;
  return *this;
}

Parameters& Parameters::integer(std::int64_t value) {
  if (count_ == kMax) {
    overflowed_ = true;
    return *this;
  }
  auto& bytes = scalars_[count_];
  auto bits = static_cast<std::uint64_t>(value);
  for (int i = 7; i >= 0; --i) {  // network byte order
    bytes[static_cast<std::size_t>(i)] = static_cast<char>(bits & 0xff);
    bits >>= 8;
  }
  return add(bytes.data(), 8);
}

Parameters& Parameters::boolean(bool value) {
  if (count_ == kMax) {
    overflowed_ = true;
    return *this;
  }
  auto& bytes = scalars_[count_];
  bytes[0] = value ? 1 : 0;
  return add(bytes.data(), 1);
}

std::string Rows::text(int row, int column) const {
  const char* bytes = PQgetvalue(result_.get(), row, column);
  const int size = PQgetlength(result_.get(), row, column);
  if (bytes == nullptr || size <= 0) return {};
  return std::string(bytes, static_cast<std::size_t>(size));
}

std::int64_t Rows::integer(int row, int column) const {
  const auto* bytes =
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column));
  const int size = PQgetlength(result_.get(), row, column);
  if (bytes == nullptr || (size != 2 && size != 4 && size != 8)) return 0;
  std::uint64_t value = (bytes[0] & 0x80) != 0 ? ~std::uint64_t{0} : 0;  // sign extension
  for (int i = 0; i < size; ++i) value = (value << 8) | bytes[i];
  return static_cast<std::int64_t>(value);
}

bool Rows::boolean(int row, int column) const {
  const char* bytes = PQgetvalue(result_.get(), row, column);
  return PQgetlength(result_.get(), row, column) == 1 && bytes != nullptr && bytes[0] != 0;
}

std::int64_t Rows::affected() const {
  const char* tuples = PQcmdTuples(result_.get());
  std::int64_t count = 0;
  if (tuples == nullptr) return 0;
  std::from_chars(tuples, tuples + std::strlen(tuples), count);
  return count;
}

// ---------------------------------------------------------------------------------------------
// The connection

Connection::Connection(PGconn* connection, std::string name, std::vector<std::string> passwords)
    : connection_(connection), name_(std::move(name)), passwords_(std::move(passwords)) {}

Connection::~Connection() {
  PQfinish(connection_);
}

Result<std::unique_ptr<Connection>> Connection::open(const PostgresqlTarget& target) {
  std::vector<const char*> keywords, values;
  for (const auto& [keyword, value] : target.parameters) {
    keywords.push_back(keyword.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  PGconn* raw = PQconnectdbParams(keywords.data(), values.data(), 0);
  if (raw == nullptr) {
    return fail(Error{ErrorKind::internal, target.display + ": connect: out of memory"});
  }
  // libpq prints notices (NOTICE, WARNING) to stderr by default; the store has nothing to say
  // about them and parleyd's stderr is its log.
  PQsetNoticeProcessor(raw, ignore_notice, nullptr);
  std::unique_ptr<Connection> connection(new Connection(raw, target.display, target.passwords));
  if (PQstatus(raw) != CONNECTION_OK) return fail(connection->connection_error("connect"));
  return connection;
}

Error Connection::refuse(ErrorKind kind, std::string_view operation,
                         std::string_view detail) const {
  return Error{kind, name_ + ": " + std::string(operation) + ": " + std::string(detail)};
}

Error Connection::connection_error(std::string_view operation) const {
  std::string detail = one_line(PQerrorMessage(connection_));
  if (detail.empty()) detail = "the connection to the database failed";
  return Error{ErrorKind::io, name_ + ": " + std::string(operation) + ": " +
                                  without_passwords(passwords_, std::move(detail))};
}

Error Connection::error(std::string_view operation, const PGresult* result) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (state == nullptr || primary == nullptr) return connection_error(operation);
  const std::string_view sqlstate = state;
  std::string detail = one_line(primary) + hint_for(sqlstate);
  return Error{kind_of(sqlstate), name_ + ": " + std::string(operation) + ": " +
                                      without_passwords(passwords_, std::move(detail))};
}

Result<void> Connection::prepare_on_server(const Prepared& prepared) {
  ResultPtr result(PQprepare(connection_, prepared.name.c_str(), prepared.sql.c_str(),
                             static_cast<int>(prepared.parameter_types.size()),
                             prepared.parameter_types.data()));
  if (!succeeded(result.get())) {
    constexpr std::size_t kShown = 60;
    const std::string shown =
        prepared.sql.size() <= kShown ? prepared.sql : prepared.sql.substr(0, kShown) + "...";
    return fail(error("prepare \"" + shown + "\"", result.get()));
  }
  return {};
}

Result<Statement> Connection::prepare(std::string sql, std::vector<Oid> parameter_types) {
  const Statement statement{statements_.size()};
  statements_.push_back(Prepared{"parley_" + std::to_string(statement.index), std::move(sql),
                                 std::move(parameter_types)});
  if (auto prepared = prepare_on_server(statements_.back()); !prepared) {
    statements_.pop_back();
    return fail(std::move(prepared.error()));
  }
  return statement;
}

Result<void> Connection::ensure_connected() {
  if (PQstatus(connection_) == CONNECTION_OK) {
    // An idle connection has nothing to read; something readable is the server's goodbye (an
    // error message, then end of file). Reading it is what makes libpq notice; a few rounds at
    // most, each consumes what arrived.
    for (int round = 0; round < 4; ++round) {
      pollfd socket{PQsocket(connection_), POLLIN, 0};
      if (socket.fd < 0 || ::poll(&socket, 1, 0) <= 0) break;
      if (PQconsumeInput(connection_) == 0) break;
    }
    if (PQstatus(connection_) == CONNECTION_OK && PQsocket(connection_) >= 0) return {};
  }
  const auto now = std::chrono::steady_clock::now();
  if (now < next_reconnect_) {
    return fail(Error{ErrorKind::io, last_reconnect_error_ + " (not tried again yet)"});
  }
  const auto failed = [&](Error error) -> Result<void> {
    next_reconnect_ = std::chrono::steady_clock::now() + reconnect_backoff_;
    reconnect_backoff_ = std::min(reconnect_backoff_ * 2, std::chrono::seconds(30));
    last_reconnect_error_ = error.message;
    return fail(std::move(error));
  };
  PQreset(connection_);
  if (PQstatus(connection_) != CONNECTION_OK) return failed(connection_error("reconnect"));
  if (PQpipelineStatus(connection_) != PQ_PIPELINE_OFF) (void)PQexitPipelineMode(connection_);
  for (const auto& prepared : statements_) {
    if (auto again = prepare_on_server(prepared); !again) return failed(std::move(again.error()));
  }
  reconnect_backoff_ = std::chrono::seconds(1);
  return {};
}

Result<ResultPtr> Connection::execute(std::string_view operation, const Prepared& prepared,
                                      const Parameters& parameters) {
  if (parameters.overflowed()) {
    return fail(refuse(ErrorKind::internal, operation, "too many or too long parameters"));
  }
  ResultPtr result(PQexecPrepared(connection_, prepared.name.c_str(), parameters.count(),
                                  parameters.values(), parameters.lengths(), parameters.formats(),
                                  1));
  if (!succeeded(result.get())) return fail(error(operation, result.get()));
  return result;
}

Result<ResultPtr> Connection::execute_under_savepoint(std::string_view operation,
                                                      const Prepared& prepared,
                                                      const Parameters& parameters) {
  if (parameters.overflowed()) {
    return fail(refuse(ErrorKind::internal, operation, "too many or too long parameters"));
  }
  if (PQenterPipelineMode(connection_) != 1) return fail(connection_error(operation));
  const auto send = [&](const Prepared& what, const Parameters& values) {
    return PQsendQueryPrepared(connection_, what.name.c_str(), values.count(), values.values(),
                               values.lengths(), values.formats(), 1) == 1;
  };
  const Parameters none;
  const bool sent =
      send(statements_[statement_savepoint_.index], none) && send(prepared, parameters) &&
      send(statements_[statement_release_.index], none) && PQpipelineSync(connection_) == 1;
  // Each query's results end with a null; the pipeline ends with PGRES_PIPELINE_SYNC. A query
  // after a failed one comes back as PGRES_PIPELINE_ABORTED.
  std::array<ResultPtr, 3> results;
  std::size_t query = 0;
  for (int guard = 0; sent && guard < 16; ++guard) {
    ResultPtr result(PQgetResult(connection_));
    if (result == nullptr) {
      if (PQstatus(connection_) != CONNECTION_OK) break;
      ++query;
      continue;
    }
    if (PQresultStatus(result.get()) == PGRES_PIPELINE_SYNC) break;
    if (query < results.size() && results[query] == nullptr) results[query] = std::move(result);
  }
  (void)PQexitPipelineMode(connection_);
  if (!sent || PQstatus(connection_) != CONNECTION_OK) return fail(connection_error(operation));
  if (!succeeded(results[0].get())) return fail(error(operation, results[0].get()));
  if (succeeded(results[1].get())) {
    if (!succeeded(results[2].get())) return fail(error(operation, results[2].get()));
    return std::move(results[1]);
  }
  Error failed = error(operation, results[1].get());
  // Undo the statement alone; the transaction goes on as if it had not been run.
  (void)control("roll back the failed statement", statement_rollback_to_);
  (void)control("roll back the failed statement", statement_release_);
  return fail(std::move(failed));
}

Result<Rows> Connection::run(std::string_view operation, Statement statement,
                             const Parameters& parameters) {
  if (depth_ == 0) {
    if (auto connected = ensure_connected(); !connected) return fail(std::move(connected.error()));
  }
  const Prepared& prepared = statements_[statement.index];
  auto result = depth_ == 0 ? execute(operation, prepared, parameters)
                            : execute_under_savepoint(operation, prepared, parameters);
  if (!result) return fail(std::move(result.error()));
  return Rows(std::move(*result));
}

Result<Rows> Connection::run_once(std::string_view operation, const std::string& sql) {
  ResultPtr result(
      PQexecParams(connection_, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 1));
  if (!succeeded(result.get())) return fail(error(operation, result.get()));
  return Rows(std::move(result));
}

Result<void> Connection::run_script(std::string_view operation, const std::string& sql) {
  ResultPtr result(PQexec(connection_, sql.c_str()));
  if (!succeeded(result.get())) return fail(error(operation, result.get()));
  return {};
}

Result<void> Connection::control(std::string_view operation, Statement statement) {
  auto result = execute(operation, statements_[statement.index], Parameters{});
  if (!result) return fail(std::move(result.error()));
  // COMMIT of a transaction that failed "succeeds" with the tag ROLLBACK.
  if (statement.index == commit_.index &&
      std::string_view(PQcmdStatus(result->get())) == "ROLLBACK") {
    return fail(
        refuse(ErrorKind::io, operation, "the transaction was rolled back by an earlier error"));
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Transactions

Result<void> Connection::prepare_transaction_statements() {
  const std::pair<Statement*, const char*> statements[] = {
      {&begin_, "BEGIN"},
      {&commit_, "COMMIT"},
      {&rollback_, "ROLLBACK"},
      {&savepoint_, "SAVEPOINT parley_nested"},
      {&release_, "RELEASE SAVEPOINT parley_nested"},
      {&rollback_to_, "ROLLBACK TO SAVEPOINT parley_nested"},
      {&statement_savepoint_, "SAVEPOINT parley_statement"},
      {&statement_release_, "RELEASE SAVEPOINT parley_statement"},
      {&statement_rollback_to_, "ROLLBACK TO SAVEPOINT parley_statement"},
  };
  for (const auto& [slot, sql] : statements) {
    auto prepared = prepare(sql, {});
    if (!prepared) return fail(std::move(prepared.error()));
    *slot = *prepared;
  }
  return {};
}

Result<void> Connection::in_transaction(const std::function<Result<void>()>& work) {
  const bool outermost = depth_ == 0;
  if (outermost) {
    if (auto connected = ensure_connected(); !connected) return connected;
  }
  // A nested call is a savepoint: joining the outer transaction, yet undone alone on failure.
  if (auto begun = control(outermost ? "begin transaction" : "begin nested transaction",
                           outermost ? begin_ : savepoint_);
      !begun) {
    return begun;
  }
  ++depth_;
  // Undoes the transaction if work throws (start-up misuse, std::bad_alloc).
  struct Unwind {
    Connection& connection;
    bool outermost;
    bool armed = true;
    ~Unwind() {
      if (!armed) return;
      --connection.depth_;
      connection.abandon(outermost);
    }
  } unwind{*this, outermost};
  Result<void> outcome = work();
  unwind.armed = false;
  --depth_;

  if (!outcome) {
    abandon(outermost);
    return outcome;
  }
  if (const auto status = PQtransactionStatus(connection_); status != PQTRANS_INTRANS) {
    abandon(outermost);
    return fail(refuse(ErrorKind::io, "commit",
                       status == PQTRANS_INERROR
                           ? "the transaction was aborted by an earlier error"
                           : "the connection to the database was lost; nothing of the "
                             "transaction was committed"));
  }
  if (!outermost) {
    if (auto released = control("end nested transaction", release_); !released) {
      abandon(false);
      return released;
    }
    return {};
  }
  if (auto committed = control("commit", commit_); !committed) {
    abandon(true);
    return committed;
  }
  return {};
}

Result<void> Connection::begin_group() {
  if (depth_ != 0) return fail(refuse(ErrorKind::internal, "begin group", "a transaction is open"));
  if (auto connected = ensure_connected(); !connected) return connected;
  if (auto begun = control("begin transaction", begin_); !begun) return begun;
  depth_ = 1;
  return {};
}

Result<void> Connection::commit_group() {
  if (depth_ != 1) return fail(refuse(ErrorKind::internal, "commit group", "no group is open"));
  depth_ = 0;
  if (const auto status = PQtransactionStatus(connection_); status != PQTRANS_INTRANS) {
    abandon(true);
    return fail(refuse(ErrorKind::io, "commit",
                       status == PQTRANS_INERROR
                           ? "the transaction was aborted by an earlier error"
                           : "the connection to the database was lost; nothing of the "
                             "transaction was committed"));
  }
  if (auto committed = control("commit", commit_); !committed) {
    abandon(true);
    return committed;
  }
  return {};
}

// Best effort: the error that led here is what the caller gets.
void Connection::abandon(bool outermost) {
  const auto status = PQtransactionStatus(connection_);
  if (status != PQTRANS_INTRANS && status != PQTRANS_INERROR) return;  // nothing to undo
  if (outermost) {
    (void)control("rollback", rollback_);
  } else {
    (void)control("rollback nested transaction", rollback_to_);
    (void)control("end nested transaction", release_);
  }
}

}  // namespace parley::store::postgresql
