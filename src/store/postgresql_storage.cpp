#include "store/postgresql_storage.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/postgresql_connection.hpp"
#include "store/postgresql_schema.hpp"
#include "store/postgresql_url.hpp"
#include "store/sqlite_storage.hpp"  // archive_id_from_row: one id form for both backends
#include "store/write_checks.hpp"

namespace parley::store {
namespace {

using postgresql::Connection;
using postgresql::kBoolean;
using postgresql::kBytea;
using postgresql::kInt8;
using postgresql::kText;
using postgresql::Parameters;
using postgresql::Rows;
using postgresql::Statement;
using xmpp::sasl::ScramCredentials;
using xmpp::sasl::ScramHash;

// Every account is in the server's one domain for now (storage.hpp).
constexpr std::string_view kSingleDomain = "";

constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

// PostgreSQL 12: generated columns and the catalog this code reads are older; 12 is the oldest
// release its project still supported when this was written, and the oldest one tested against.
constexpr int kMinimumServerVersion = 120000;

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

struct StatementDefinition {
  Statement* slot;
  std::string sql;
  std::vector<Oid> parameter_types;
};

Result<void> prepare_all(Connection& connection, std::vector<StatementDefinition> definitions) {
  for (auto& definition : definitions) {
    auto prepared =
        connection.prepare(std::move(definition.sql), std::move(definition.parameter_types));
    if (!prepared) return fail(std::move(prepared.error()));
    *definition.slot = *prepared;
  }
  return {};
}

// Whether a read of `name` could find anything: a name that could not have been written is
// absent, and asking PostgreSQL about text it cannot hold would be an error, not an answer.
bool could_be_stored(std::string_view name, std::size_t max_octets) {
  return !name.empty() && name.size() <= max_octets && is_storable_text(name);
}

Result<void> refuse_problem(const Connection& connection, std::string_view operation,
                            std::optional<std::string> problem) {
  if (!problem) return {};
  return fail(connection.refuse(ErrorKind::invalid_argument, operation, *problem));
}

Result<void> check_text(const Connection& connection, std::string_view operation,
                        std::string_view what, std::string_view value) {
  if (is_storable_text(value)) return {};
  return fail(connection.refuse(
      ErrorKind::invalid_argument, operation,
      std::string(what) +
          " is not UTF-8 text without NUL characters (PostgreSQL stores no other)"));
}

Result<void> check_name(const Connection& connection, std::string_view operation,
                        std::string_view what, std::string_view value, std::size_t max_octets) {
  if (auto checked = refuse_problem(connection, operation, name_problem(what, value, max_octets));
      !checked) {
    return checked;
  }
  return check_text(connection, operation, what, value);
}

Result<void> check_owner(const Connection& connection, std::string_view operation,
                         std::string_view owner) {
  return check_name(connection, operation, "owner", owner, kMaxUsernameOctets);
}

// ---------------------------------------------------------------------------------------------
// Accounts

class PostgresqlAccounts final : public AccountStore {
 public:
  explicit PostgresqlAccounts(Connection& connection) : connection_(connection) {}

  Result<void> prepare() {
    return prepare_all(
        connection_,
        {
            {&insert_account_,
             "INSERT INTO accounts (domain, username, created_at) VALUES ($1, $2, $3) "
             "ON CONFLICT DO NOTHING",
             {kText, kText, kInt8}},
            {&upsert_credentials_,
             "INSERT INTO scram_credentials "
             "(domain, username, hash, salt, iterations, stored_key, server_key) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7) "
             "ON CONFLICT (domain, username, hash) DO UPDATE SET salt = excluded.salt, "
             "iterations = excluded.iterations, stored_key = excluded.stored_key, "
             "server_key = excluded.server_key",
             {kText, kText, kText, kBytea, kInt8, kBytea, kBytea}},
            {&select_exists_,
             "SELECT 1 FROM accounts WHERE domain = $1 AND username = $2",
             {kText, kText}},
            {&select_credentials_,
             "SELECT salt, iterations, stored_key, server_key FROM scram_credentials "
             "WHERE domain = $1 AND username = $2 AND hash = $3",
             {kText, kText, kText}},
            {&select_list_,
             "SELECT username FROM accounts WHERE domain = $1 ORDER BY username",
             {kText}},
            // The account and everything stored under its name, in one statement (so one
            // savepoint, one round trip); credentials and roster groups follow by cascade.
            {&remove_,
             "WITH account AS (DELETE FROM accounts WHERE domain = $1 AND username = $2 "
             "RETURNING 1), "
             "roster AS (DELETE FROM roster_items WHERE owner = $2), "
             "versions AS (DELETE FROM roster_versions WHERE owner = $2), "
             "offline AS (DELETE FROM offline_messages WHERE owner = $2), "
             "archived AS (DELETE FROM archive WHERE owner = $2) "
             "SELECT count(*) FROM account",
             {kText, kText}},
        });
  }

  Result<void> create(std::string_view username, const ScramCredentials& sha1,
                      const ScramCredentials& sha256) override {
    constexpr std::string_view operation = "create account";
    if (auto checked = check_input(operation, username, sha1, sha256); !checked) return checked;
    return connection_.in_transaction([&]() -> Result<void> {
      Parameters values;
      values.text(kSingleDomain).text(username).integer(unix_now());
      auto inserted = connection_.run("insert into accounts", insert_account_, values);
      if (!inserted) return fail(std::move(inserted.error()));
      if (inserted->affected() == 0) {
        return fail(connection_.refuse(ErrorKind::invalid_argument, operation,
                                       "account " + shown_name(username) + " already exists"));
      }
      return write_credentials(username, sha1, sha256);
    });
  }

  Result<void> set_credentials(std::string_view username, const ScramCredentials& sha1,
                               const ScramCredentials& sha256) override {
    constexpr std::string_view operation = "set credentials";
    if (auto checked = check_input(operation, username, sha1, sha256); !checked) return checked;
    return connection_.in_transaction([&]() -> Result<void> {
      auto present = exists(username);
      if (!present) return fail(std::move(present.error()));
      if (!*present) {
        return fail(connection_.refuse(ErrorKind::invalid_argument, operation,
                                       "no account " + shown_name(username)));
      }
      return write_credentials(username, sha1, sha256);
    });
  }

  Result<bool> remove(std::string_view username) override {
    if (!could_be_stored(username, kMaxUsernameOctets)) return false;
    Parameters values;
    values.text(kSingleDomain).text(username);
    auto removed = connection_.run("delete account", remove_, values);
    if (!removed) return fail(std::move(removed.error()));
    return removed->count() == 1 && removed->integer(0, 0) > 0;
  }

  Result<std::optional<ScramCredentials>> credentials(std::string_view username,
                                                      ScramHash hash) override {
    constexpr std::string_view operation = "select from scram_credentials";
    if (!could_be_stored(username, kMaxUsernameOctets)) return std::optional<ScramCredentials>();
    Parameters values;
    values.text(kSingleDomain).text(username).text(hash_column(hash));
    auto rows = connection_.run(operation, select_credentials_, values);
    if (!rows) return fail(std::move(rows.error()));
    if (rows->count() == 0) return std::optional<ScramCredentials>();
    ScramCredentials found;
    found.hash = hash;
    found.salt = rows->text(0, 0);
    const std::int64_t iterations = rows->integer(0, 1);
    found.stored_key = rows->text(0, 2);
    found.server_key = rows->text(0, 3);
    // Checked again on the way out: a damaged row must fail the login, not weaken it.
    if (iterations < xmpp::sasl::kMinimumIterations ||
        iterations > xmpp::sasl::kMaximumIterations) {
      return fail(connection_.refuse(ErrorKind::parse, operation,
                                     std::string("stored ") + hash_display(hash) +
                                         " credentials of " + shown_name(username) +
                                         " have an iteration count out of bounds"));
    }
    found.iterations = static_cast<std::uint32_t>(iterations);
    if (credentials_problem(found, hash)) {
      return fail(connection_.refuse(ErrorKind::parse, operation,
                                     std::string("stored ") + hash_display(hash) +
                                         " credentials of " + shown_name(username) +
                                         " are malformed"));
    }
    return std::optional<ScramCredentials>(std::move(found));
  }

  Result<bool> exists(std::string_view username) override {
    if (!could_be_stored(username, kMaxUsernameOctets)) return false;
    Parameters values;
    values.text(kSingleDomain).text(username);
    auto rows = connection_.run("select from accounts", select_exists_, values);
    if (!rows) return fail(std::move(rows.error()));
    return rows->count() > 0;
  }

  Result<std::vector<std::string>> list() override {
    Parameters values;
    values.text(kSingleDomain);
    auto rows = connection_.run("select from accounts", select_list_, values);
    if (!rows) return fail(std::move(rows.error()));
    std::vector<std::string> names;
    names.reserve(static_cast<std::size_t>(rows->count()));
    for (int row = 0; row < rows->count(); ++row) names.push_back(rows->text(row, 0));
    return names;
  }

 private:
  Result<void> check_input(std::string_view operation, std::string_view username,
                           const ScramCredentials& sha1, const ScramCredentials& sha256) const {
    if (auto checked = check_name(connection_, operation, "username", username, kMaxUsernameOctets);
        !checked) {
      return checked;
    }
    if (auto checked =
            refuse_problem(connection_, operation, credentials_problem(sha1, ScramHash::sha1));
        !checked) {
      return checked;
    }
    return refuse_problem(connection_, operation, credentials_problem(sha256, ScramHash::sha256));
  }

  Result<void> write_credentials(std::string_view username, const ScramCredentials& sha1,
                                 const ScramCredentials& sha256) {
    for (const ScramCredentials* credentials : {&sha1, &sha256}) {
      Parameters values;
      values.text(kSingleDomain)
          .text(username)
          .text(hash_column(credentials->hash))
          .octets(credentials->salt)
          .integer(credentials->iterations)
          .octets(credentials->stored_key)
          .octets(credentials->server_key);
      if (auto written =
              connection_.run("insert into scram_credentials", upsert_credentials_, values);
          !written) {
        return fail(std::move(written.error()));
      }
    }
    return {};
  }

  Connection& connection_;
  Statement insert_account_, upsert_credentials_, select_exists_, select_credentials_, select_list_,
      remove_;
};

// ---------------------------------------------------------------------------------------------
// Roster

class PostgresqlRoster final : public RosterStore {
 public:
  PostgresqlRoster(Connection& connection, std::size_t max_items)
      : connection_(connection), max_items_(max_items) {}

  Result<void> prepare() {
    constexpr std::string_view kSelectItems =
        "SELECT i.jid, i.name, i.subscription, i.ask_subscribe, i.pending_in, "
        "i.pending_in_stanza, g.group_name "
        "FROM roster_items AS i "
        "LEFT JOIN roster_groups AS g ON g.owner = i.owner AND g.jid = i.jid ";
    return prepare_all(
        connection_,
        {
            {&select_items_,
             std::string(kSelectItems) + "WHERE i.owner = $1 ORDER BY i.jid, g.position",
             {kText}},
            {&select_item_,
             std::string(kSelectItems) + "WHERE i.owner = $1 AND i.jid = $2 ORDER BY g.position",
             {kText, kText}},
            {&select_state_,
             "SELECT EXISTS (SELECT 1 FROM roster_items WHERE owner = $1 AND jid = $2), "
             "(SELECT count(*) FROM roster_items WHERE owner = $1)",
             {kText, kText}},
            {&upsert_item_,
             "INSERT INTO roster_items "
             "(owner, jid, name, subscription, ask_subscribe, pending_in, pending_in_stanza) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7) "
             "ON CONFLICT (owner, jid) DO UPDATE SET name = excluded.name, "
             "subscription = excluded.subscription, ask_subscribe = excluded.ask_subscribe, "
             "pending_in = excluded.pending_in, pending_in_stanza = excluded.pending_in_stanza",
             {kText, kText, kText, kText, kBoolean, kBoolean, kText}},
            {&delete_groups_,
             "DELETE FROM roster_groups WHERE owner = $1 AND jid = $2",
             {kText, kText}},
            {&insert_group_,
             "INSERT INTO roster_groups (owner, jid, position, group_name) "
             "VALUES ($1, $2, $3, $4)",
             {kText, kText, kInt8, kText}},
            {&delete_item_,
             "DELETE FROM roster_items WHERE owner = $1 AND jid = $2",
             {kText, kText}},
            // Takes the next database-wide version and records it as the owner's.
            {&bump_version_,
             "INSERT INTO roster_versions (owner, version) VALUES ($1, nextval('roster_version')) "
             "ON CONFLICT (owner) DO UPDATE SET version = excluded.version RETURNING version",
             {kText}},
            {&select_version_, "SELECT version FROM roster_versions WHERE owner = $1", {kText}},
        });
  }

  Result<std::vector<RosterItem>> items(std::string_view owner) override {
    if (!could_be_stored(owner, kMaxUsernameOctets)) return std::vector<RosterItem>();
    Parameters values;
    values.text(owner);
    auto rows = connection_.run("select from roster_items", select_items_, values);
    if (!rows) return fail(std::move(rows.error()));
    return read_items(*rows);
  }

  Result<std::optional<RosterItem>> item(std::string_view owner, std::string_view jid) override {
    if (!could_be_stored(owner, kMaxUsernameOctets) || !could_be_stored(jid, kMaxJidOctets)) {
      return std::optional<RosterItem>();
    }
    Parameters values;
    values.text(owner).text(jid);
    auto rows = connection_.run("select from roster_items", select_item_, values);
    if (!rows) return fail(std::move(rows.error()));
    auto found = read_items(*rows);
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
    auto written = connection_.in_transaction([&]() -> Result<void> {
      Parameters state_values;
      state_values.text(owner).text(item.jid);
      auto state = connection_.run("select from roster_items", select_state_, state_values);
      if (!state) return fail(std::move(state.error()));
      const bool present = state->boolean(0, 0);
      const auto count = static_cast<std::size_t>(state->integer(0, 1));
      if (!present && count >= max_items_) {
        return fail(connection_.refuse(ErrorKind::limit, operation,
                                       "the roster of " + shown_name(owner) + " already has " +
                                           std::to_string(count) + " items (the limit is " +
                                           std::to_string(max_items_) + ")"));
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
    if (!could_be_stored(owner, kMaxUsernameOctets)) return std::uint64_t{0};
    if (!could_be_stored(jid, kMaxJidOctets)) return version_of(owner);
    std::uint64_t version = 0;
    auto removed = connection_.in_transaction([&]() -> Result<void> {
      Parameters values;
      values.text(owner).text(jid);
      auto deleted = connection_.run("delete from roster_items", delete_item_, values);
      if (!deleted) return fail(std::move(deleted.error()));
      auto changed = deleted->affected() > 0 ? bump_version(owner) : version_of(owner);
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
    if (auto checked = check_owner(connection_, operation, owner); !checked) return checked;
    if (auto checked = check_name(connection_, operation, "jid", item.jid, kMaxJidOctets);
        !checked) {
      return checked;
    }
    if (auto checked = refuse_problem(connection_, operation, groups_problem(item.groups));
        !checked) {
      return checked;
    }
    for (const auto& [what, value] :
         {std::pair<std::string_view, std::string_view>{"name", item.name},
          {"pending_in_stanza", item.pending_in_stanza}}) {
      if (auto checked = check_text(connection_, operation, what, value); !checked) return checked;
    }
    for (const auto& group : item.groups) {
      if (auto checked = check_text(connection_, operation, "a group name", group); !checked) {
        return checked;
      }
    }
    return {};
  }

  // Rows of the item query: one per (item, group), items in jid order, groups in their order.
  Result<std::vector<RosterItem>> read_items(const Rows& rows) const {
    constexpr std::string_view operation = "select from roster_items";
    std::vector<RosterItem> items;
    for (int row = 0; row < rows.count(); ++row) {
      std::string jid = rows.text(row, 0);
      if (items.empty() || items.back().jid != jid) {
        RosterItem item;
        item.jid = std::move(jid);
        item.name = rows.text(row, 1);
        const auto subscription = parse_subscription(rows.text(row, 2));
        if (!subscription) {
          return fail(
              connection_.refuse(ErrorKind::parse, operation,
                                 "item " + shown_name(item.jid) + " has a bad subscription"));
        }
        item.subscription = *subscription;
        item.ask_subscribe = rows.boolean(row, 3);
        item.pending_in = rows.boolean(row, 4);
        item.pending_in_stanza = rows.text(row, 5);
        items.push_back(std::move(item));
      }
      if (!rows.is_null(row, 6)) items.back().groups.push_back(rows.text(row, 6));
    }
    return items;
  }

  Result<void> write_item(std::string_view owner, const RosterItem& item) {
    {
      Parameters values;
      values.text(owner)
          .text(item.jid)
          .text(item.name)
          .text(to_string(item.subscription))
          .boolean(item.ask_subscribe)
          .boolean(item.pending_in)
          .text(item.pending_in_stanza);
      if (auto done = connection_.run("insert into roster_items", upsert_item_, values); !done) {
        return fail(std::move(done.error()));
      }
    }
    {
      Parameters values;
      values.text(owner).text(item.jid);
      if (auto done = connection_.run("delete from roster_groups", delete_groups_, values); !done) {
        return fail(std::move(done.error()));
      }
    }
    std::int64_t position = 0;
    for (const auto& group : item.groups) {
      Parameters values;
      values.text(owner).text(item.jid).integer(position++).text(group);
      if (auto done = connection_.run("insert into roster_groups", insert_group_, values); !done) {
        return fail(std::move(done.error()));
      }
    }
    return {};
  }

  Result<std::uint64_t> bump_version(std::string_view owner) {
    Parameters values;
    values.text(owner);
    auto rows = connection_.run("insert into roster_versions", bump_version_, values);
    if (!rows) return fail(std::move(rows.error()));
    if (rows->count() != 1) {
      return fail(connection_.refuse(ErrorKind::internal, "insert into roster_versions",
                                     "no version came back"));
    }
    return static_cast<std::uint64_t>(rows->integer(0, 0));
  }

  Result<std::uint64_t> version_of(std::string_view owner) {
    if (!could_be_stored(owner, kMaxUsernameOctets)) return std::uint64_t{0};
    Parameters values;
    values.text(owner);
    auto rows = connection_.run("select from roster_versions", select_version_, values);
    if (!rows) return fail(std::move(rows.error()));
    if (rows->count() == 0) return std::uint64_t{0};
    return static_cast<std::uint64_t>(rows->integer(0, 0));
  }

  Connection& connection_;
  std::size_t max_items_;
  Statement select_items_, select_item_, select_state_, upsert_item_, delete_groups_, insert_group_,
      delete_item_, bump_version_, select_version_;
};

// ---------------------------------------------------------------------------------------------
// Offline messages

class PostgresqlOffline final : public OfflineStore {
 public:
  PostgresqlOffline(Connection& connection, std::size_t max_messages)
      : connection_(connection), max_messages_(clamp_to_int64(max_messages)) {}

  Result<void> prepare() {
    return prepare_all(
        connection_,
        {
            // One statement, so the bound and the insert are one step.
            {&push_,
             "INSERT INTO offline_messages (owner, stanza_xml, stored_at) SELECT $1, $2, $3 "
             "WHERE (SELECT count(*) FROM offline_messages WHERE owner = $1) < $4",
             {kText, kText, kInt8, kInt8}},
            {&peek_,
             "SELECT id, stanza_xml, stored_at FROM offline_messages WHERE owner = $1 "
             "ORDER BY id",
             {kText}},
            {&remove_up_to_,
             "DELETE FROM offline_messages WHERE owner = $1 AND id <= $2",
             {kText, kInt8}},
            {&count_, "SELECT count(*) FROM offline_messages WHERE owner = $1", {kText}},
        });
  }

  Result<bool> push(std::string_view owner, std::string_view stanza_xml,
                    std::int64_t now_unix) override {
    constexpr std::string_view operation = "insert into offline_messages";
    if (auto checked = check_owner(connection_, operation, owner); !checked) {
      return fail(std::move(checked.error()));
    }
    if (auto checked = check_text(connection_, operation, "the stanza", stanza_xml); !checked) {
      return fail(std::move(checked.error()));
    }
    Parameters values;
    values.text(owner).text(stanza_xml).integer(now_unix).integer(max_messages_);
    auto inserted = connection_.run(operation, push_, values);
    if (!inserted) return fail(std::move(inserted.error()));
    return inserted->affected() > 0;
  }

  Result<std::vector<OfflineMessage>> peek(std::string_view owner) override {
    if (!could_be_stored(owner, kMaxUsernameOctets)) return std::vector<OfflineMessage>();
    Parameters values;
    values.text(owner);
    auto rows = connection_.run("select from offline_messages", peek_, values);
    if (!rows) return fail(std::move(rows.error()));
    std::vector<OfflineMessage> messages;
    messages.reserve(static_cast<std::size_t>(rows->count()));
    for (int row = 0; row < rows->count(); ++row) {
      messages.push_back(
          OfflineMessage{rows->integer(row, 0), rows->text(row, 1), rows->integer(row, 2)});
    }
    return messages;
  }

  Result<void> remove_up_to(std::string_view owner, std::int64_t last_id) override {
    if (!could_be_stored(owner, kMaxUsernameOctets)) return {};
    Parameters values;
    values.text(owner).integer(last_id);
    auto deleted = connection_.run("delete from offline_messages", remove_up_to_, values);
    if (!deleted) return fail(std::move(deleted.error()));
    return {};
  }

  Result<std::size_t> count(std::string_view owner) override {
    if (!could_be_stored(owner, kMaxUsernameOctets)) return std::size_t{0};
    Parameters values;
    values.text(owner);
    auto rows = connection_.run("count offline_messages", count_, values);
    if (!rows) return fail(std::move(rows.error()));
    return static_cast<std::size_t>(rows->integer(0, 0));
  }

 private:
  Connection& connection_;
  std::int64_t max_messages_;
  Statement push_, peek_, remove_up_to_, count_;
};

// ---------------------------------------------------------------------------------------------
// Archive

// Where a message sits in the archive order.
struct ArchivePosition {
  std::int64_t timestamp_us;
  std::int64_t row_id;
};

class PostgresqlArchive final : public ArchiveStore {
 public:
  explicit PostgresqlArchive(Connection& connection) : connection_(connection) {}

  Result<void> prepare() {
    std::vector<StatementDefinition> definitions = {
        {&append_,
         "INSERT INTO archive (owner, with_jid, timestamp_us, stanza_xml) "
         "VALUES ($1, $2, $3, $4) RETURNING id",
         {kText, kText, kInt8, kText}},
        {&select_position_,
         "SELECT timestamp_us FROM archive WHERE id = $1 AND owner = $2",
         {kInt8, kText}},
        {&count_,
         "SELECT count(*) FROM archive WHERE owner = $1 AND timestamp_us BETWEEN $2 AND $3",
         {kText, kInt8, kInt8}},
        {&count_with_,
         "SELECT count(*) FROM archive "
         "WHERE owner = $1 AND with_jid = $4 AND timestamp_us BETWEEN $2 AND $3",
         {kText, kInt8, kInt8, kText}},
    };
    // Variants are spelled out so that each has its own plan: with_jid = $9 uses the
    // (owner, with_jid, timestamp_us, id) index.
    for (const bool with_filter : {false, true}) {
      for (const bool backward : {false, true}) {
        std::vector<Oid> types = {kText, kInt8, kInt8, kInt8, kInt8, kInt8, kInt8, kInt8};
        if (with_filter) types.push_back(kText);
        definitions.push_back(StatementDefinition{&page_[index(with_filter, backward)],
                                                  page_sql(with_filter, backward),
                                                  std::move(types)});
      }
    }
    return prepare_all(connection_, std::move(definitions));
  }

  Result<std::string> append(std::string_view owner, std::string_view with_jid,
                             std::string_view stanza_xml, std::int64_t timestamp_us) override {
    constexpr std::string_view operation = "insert into archive";
    if (auto checked = check_owner(connection_, operation, owner); !checked) {
      return fail(std::move(checked.error()));
    }
    if (auto checked = check_name(connection_, operation, "with_jid", with_jid, kMaxJidOctets);
        !checked) {
      return fail(std::move(checked.error()));
    }
    if (auto checked = check_text(connection_, operation, "the stanza", stanza_xml); !checked) {
      return fail(std::move(checked.error()));
    }
    Parameters values;
    values.text(owner).text(with_jid).integer(timestamp_us).text(stanza_xml);
    auto rows = connection_.run(operation, append_, values);
    if (!rows) return fail(std::move(rows.error()));
    if (rows->count() != 1) {
      return fail(connection_.refuse(ErrorKind::internal, operation, "no id came back"));
    }
    return archive_id_from_row(rows->integer(0, 0));
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
    // Nothing can match a name that could not have been stored (and PostgreSQL could not even
    // compare it).
    if (!could_be_stored(owner, kMaxUsernameOctets) ||
        (with_filter && !could_be_stored(*query.with_jid, kMaxJidOctets))) {
      page.complete = true;
      return page;
    }
    if (query.include_count) {
      Parameters values;
      values.text(owner).integer(start).integer(end);
      if (with_filter) values.text(*query.with_jid);
      auto rows = connection_.run("count archive", with_filter ? count_with_ : count_, values);
      if (!rows) return fail(std::move(rows.error()));
      page.count = static_cast<std::size_t>(rows->integer(0, 0));
    }

    // The cursors are row comparisons on (timestamp_us, id), which the index answers directly;
    // without a cursor, (start, 0) and (end, max) bound nothing that BETWEEN does not.
    Parameters values;
    values.text(owner)
        .integer(start)
        .integer(end)
        .integer(after ? after->timestamp_us : start)
        .integer(after ? after->row_id : 0)
        .integer(before ? before->timestamp_us : end)
        .integer(before ? before->row_id : kInt64Max)
        .integer(limit + 1);  // one more than asked: is there anything beyond the page?
    if (with_filter) values.text(*query.with_jid);
    auto rows = connection_.run("select from archive", page_[index(with_filter, backward)], values);
    if (!rows) return fail(std::move(rows.error()));
    page.messages.reserve(static_cast<std::size_t>(rows->count()));
    for (int row = 0; row < rows->count(); ++row) {
      page.messages.push_back(ArchivedMessage{archive_id_from_row(rows->integer(row, 0)),
                                              rows->text(row, 1), rows->text(row, 2),
                                              rows->integer(row, 3)});
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
        "WHERE owner = $1 ";
    if (with_filter) sql += "AND with_jid = $9 ";
    sql +=
        "AND timestamp_us BETWEEN $2 AND $3 "
        "AND (timestamp_us, id) > ($4, $5) AND (timestamp_us, id) < ($6, $7) ";
    sql += backward ? "ORDER BY timestamp_us DESC, id DESC " : "ORDER BY timestamp_us, id ";
    sql += "LIMIT $8";
    return sql;
  }

  // An id the caller sent back: only ids of this owner's messages are positions.
  Result<ArchivePosition> position_of(std::string_view owner, std::string_view id,
                                      std::string_view which) {
    const auto not_found = [&] {
      return fail(connection_.refuse(ErrorKind::invalid_argument, "query archive",
                                     std::string(which) + ": no archived message of " +
                                         shown_name(owner) + " has the id " + shown_name(id)));
    };
    const auto row_id = archive_row_from_id(id);
    if (!row_id || !could_be_stored(owner, kMaxUsernameOctets)) return not_found();
    Parameters values;
    values.integer(*row_id).text(owner);
    auto rows = connection_.run("select from archive", select_position_, values);
    if (!rows) return fail(std::move(rows.error()));
    if (rows->count() == 0) return not_found();
    return ArchivePosition{rows->integer(0, 0), *row_id};
  }

  Connection& connection_;
  Statement append_, select_position_, count_, count_with_;
  Statement page_[4];  // [with_filter * 2 + backward]
};

// ---------------------------------------------------------------------------------------------

class PostgresqlStorage final : public Storage {
 public:
  PostgresqlStorage(std::unique_ptr<Connection> connection, const StorageLimits& limits)
      : connection_(std::move(connection)),
        accounts_(*connection_),
        roster_(*connection_, limits.max_roster_items),
        offline_(*connection_, limits.max_offline_messages),
        archive_(*connection_) {}

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

  Result<void> begin_group() override { return connection_->begin_group(); }
  Result<void> commit_group() override { return connection_->commit_group(); }
  bool in_group() const override { return connection_->in_group(); }
  Result<void> in_transaction(const std::function<Result<void>()>& work) override {
    return connection_->in_transaction(work);
  }

 private:
  // Declared first so it is destroyed last.
  std::unique_ptr<Connection> connection_;
  PostgresqlAccounts accounts_;
  PostgresqlRoster roster_;
  PostgresqlOffline offline_;
  PostgresqlArchive archive_;
};

Result<void> check_server(const Connection& connection) {
  constexpr std::string_view operation = "check the server";
  const int version = PQserverVersion(connection.handle());
  if (version < kMinimumServerVersion) {
    return fail(connection.refuse(ErrorKind::io, operation,
                                  "PostgreSQL " + std::to_string(version / 10000) +
                                      " is too old; Parley needs PostgreSQL 12 or later"));
  }
  const char* encoding = PQparameterStatus(connection.handle(), "server_encoding");
  if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
    return fail(connection.refuse(
        ErrorKind::io, operation,
        std::string("the database's encoding is ") + (encoding != nullptr ? encoding : "unknown") +
            ", not UTF8; create it with ENCODING 'UTF8' (docs/deployment.md)"));
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Storage>> open_postgresql_storage(std::string_view url,
                                                         const StorageLimits& limits) {
  auto target = parse_postgresql_url(url);
  if (!target) return fail(std::move(target.error()));
  auto connection = Connection::open(*target);
  if (!connection) return fail(std::move(connection.error()));
  if (auto checked = check_server(**connection); !checked) return fail(std::move(checked.error()));
  if (auto prepared = (*connection)->prepare_transaction_statements(); !prepared) {
    return fail(std::move(prepared.error()));
  }
  if (auto migrated = migrate_postgresql_schema(**connection); !migrated) {
    return fail(std::move(migrated.error()));
  }
  auto storage = std::make_unique<PostgresqlStorage>(std::move(*connection), limits);
  if (auto prepared = storage->prepare(); !prepared) return fail(std::move(prepared.error()));
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace parley::store
