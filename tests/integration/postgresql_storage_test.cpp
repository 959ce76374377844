// The PostgreSQL store against a real PostgreSQL 15 on 127.0.0.1 (postgres_peer.hpp):
//  - the behaviour every backend shares (src/store/storage_behaviour_tests.hpp), each test on a
//    database of its own;
//  - what only this backend does: errors that name the database without the password
//    (unreachable server, wrong password, missing database, a role that may not create tables),
//    schema versions, text PostgreSQL cannot hold, a failed statement inside a group commit that
//    must not undo the others, reconnecting after the server restarts, durability through
//    SIGKILL of the writer and an immediate (crash) stop of the server, concurrent first opens,
//    sslmode honoured with a TLS-enabled server, and the hot path's cost, printed.
// Ports 19200-19202 and 19219 (postgres_peer.hpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "postgres_peer.hpp"
#include "store/storage.hpp"
#include "store/storage_behaviour_tests.hpp"

namespace parley::integration {
namespace {

using namespace parley::store;
using namespace parley::store::behaviour;
using namespace std::chrono_literals;

constexpr std::uint16_t kSharedPort = 19200;
constexpr std::uint16_t kTlsPort = 19201;
constexpr std::uint16_t kRestartPort = 19202;
constexpr std::uint16_t kNobodyListens = 19219;
const std::string kFixtures = PARLEY_FIXTURES_DIR;
constexpr const char* kRole = "parley";
constexpr const char* kPassword = "pg-Secret-Pass";

// One cluster for the whole test program, started at first use (ctest runs each test in a
// process of its own; a test that needs no database starts none).
struct SharedCluster {
  std::unique_ptr<PostgresPeer> peer;
  std::string start_error;
  int databases = 0;
};

SharedCluster& shared_cluster() {
  static SharedCluster cluster = [] {
    SharedCluster made;
    if (PostgresPeer::unavailable_reason()) return made;
    auto started = PostgresPeer::start(PostgresOptions::without_tls(kSharedPort));
    if (started) {
      made.peer = std::move(*started);
    } else {
      made.start_error = started.error().message;
    }
    return made;
  }();
  return cluster;
}

// A new database on the shared cluster, owned by kRole; its URL.
Result<std::string> fresh_database(const std::string& prefix = "behaviour") {
  auto& cluster = shared_cluster();
  if (cluster.peer == nullptr) {
    return fail(Error::io("the PostgreSQL cluster did not start: " + cluster.start_error));
  }
  return cluster.peer->create_database(prefix + "_" + std::to_string(++cluster.databases), kRole,
                                       kPassword);
}

StorageBackendUnderTest postgresql_backend() {
  return StorageBackendUnderTest{
      .label = "postgresql",
      .unavailable = [] { return PostgresPeer::unavailable_reason(); },
      .fresh_database = [] { return fresh_database(); },
      .name_of = [](const std::string& url) { return storage_url_for_display(url); },
  };
}

INSTANTIATE_TEST_SUITE_P(PostgreSQL, StorageBehaviour, ::testing::Values(postgresql_backend()),
                         backend_label);
INSTANTIATE_TEST_SUITE_P(PostgreSQL, StorageArchiveBehaviour,
                         ::testing::Values(postgresql_backend()), backend_label);

// ---------------------------------------------------------------------------------------------
// What only the PostgreSQL backend does

class PostgresqlStorage : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = PostgresPeer::unavailable_reason()) GTEST_SKIP() << *reason;
    auto url = fresh_database("own");
    ASSERT_TRUE(url.has_value()) << url.error().message;
    url_ = *url;
  }
  PostgresPeer& cluster() { return *shared_cluster().peer; }
  std::string database_name() const { return url_.substr(url_.rfind('/') + 1); }

  std::string url_;
};

TEST_F(PostgresqlStorage, ConnectionErrorsNameTheDatabaseAndNeverThePassword) {
  struct Row {
    std::string label;
    std::string url;
    std::string message_start;
    std::string message_part;
  };
  const std::string wrong_password = "Wrong-Pass-9";
  const std::vector<Row> rows = {
      {"nobody listens",
       "postgresql://parley:" + std::string(kPassword) +
           "@127.0.0.1:" + std::to_string(kNobodyListens) + "/chat",
       "postgresql://parley@127.0.0.1:19219/chat: connect: ", "Connection refused"},
      {"wrong password",
       "postgresql://parley:" + wrong_password + "@127.0.0.1:19200/" + database_name(),
       "postgresql://parley@127.0.0.1:19200/" + database_name() + ": connect: ",
       "password authentication failed for user \"parley\""},
      {"missing database",
       "postgresql://parley:" + std::string(kPassword) + "@127.0.0.1:19200/no_such_database",
       "postgresql://parley@127.0.0.1:19200/no_such_database: connect: ",
       "database \"no_such_database\" does not exist"},
      {"TLS required, server without it",
       "postgresql://parley:" + std::string(kPassword) + "@127.0.0.1:19200/" + database_name() +
           "?sslmode=require",
       "postgresql://parley@127.0.0.1:19200/" + database_name() + ": connect: ",
       "server does not support SSL"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto storage = Storage::open(row.url);
    ASSERT_FALSE(storage.has_value());
    EXPECT_EQ(storage.error().kind, ErrorKind::io);
    EXPECT_TRUE(storage.error().message.starts_with(row.message_start)) << storage.error().message;
    EXPECT_TRUE(contains(storage.error().message, row.message_part)) << storage.error().message;
    EXPECT_FALSE(contains(storage.error().message, kPassword)) << storage.error().message;
    EXPECT_FALSE(contains(storage.error().message, wrong_password)) << storage.error().message;
  }
}

TEST_F(PostgresqlStorage, ARoleThatMayNotCreateTablesIsToldWhatItNeeds) {
  // A database the superuser owns: since PostgreSQL 15 other roles may not create tables in its
  // public schema.
  ASSERT_TRUE(cluster().sql("CREATE DATABASE not_ours ENCODING 'UTF8' TEMPLATE template0"));
  const auto storage = Storage::open(cluster().url("not_ours", kRole, kPassword));
  ASSERT_FALSE(storage.has_value());
  EXPECT_EQ(storage.error().kind, ErrorKind::io);
  EXPECT_TRUE(contains(storage.error().message, "permission denied for schema public"))
      << storage.error().message;
  EXPECT_TRUE(contains(storage.error().message, "docs/deployment.md")) << storage.error().message;
}

TEST_F(PostgresqlStorage, RefusesNewerForeignAndNonUtf8DatabasesWithoutChangingThem) {
  {
    ASSERT_NE(open_or_fail(url_), nullptr);  // schema made
  }
  ASSERT_TRUE(cluster().sql("UPDATE schema_version SET version = 99", database_name()));
  auto newer = Storage::open(url_);
  ASSERT_FALSE(newer.has_value());
  EXPECT_EQ(newer.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(contains(newer.error().message,
                       "read schema version: schema version 99 is newer than this parleyd "
                       "supports (1)"))
      << newer.error().message;
  EXPECT_EQ(cluster().sql("SELECT version FROM schema_version", database_name()), "99");

  auto foreign_url = fresh_database("foreign");
  ASSERT_TRUE(foreign_url.has_value());
  const std::string foreign = foreign_url->substr(foreign_url->rfind('/') + 1);
  ASSERT_TRUE(
      cluster().sql("CREATE TABLE notes (text text); ALTER TABLE notes OWNER TO parley", foreign));
  auto refused = Storage::open(*foreign_url);
  ASSERT_FALSE(refused.has_value());
  EXPECT_TRUE(contains(refused.error().message, "not a Parley database"))
      << refused.error().message;
  EXPECT_EQ(cluster().sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", foreign),
            "1")
      << "nothing was created beside the foreign table";

  ASSERT_TRUE(cluster().sql(
      "CREATE DATABASE latin OWNER parley ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
      "TEMPLATE template0"));
  auto latin = Storage::open(cluster().url("latin", kRole, kPassword));
  ASSERT_FALSE(latin.has_value());
  EXPECT_TRUE(contains(latin.error().message, "encoding is LATIN1, not UTF8"))
      << latin.error().message;
}

TEST_F(PostgresqlStorage, SchemaIsMadeOnceEvenWhenTwoOpenAtOnce) {
  std::atomic<int> opened{0};
  std::vector<std::string> errors(4);
  std::vector<std::thread> openers;
  for (std::size_t i = 0; i < errors.size(); ++i) {
    openers.emplace_back([&, i] {
      auto storage = Storage::open(url_);
      if (storage) {
        ++opened;
      } else {
        errors[i] = storage.error().message;
      }
    });
  }
  for (auto& opener : openers) opener.join();
  EXPECT_EQ(opened.load(), 4) << errors[0] << errors[1] << errors[2] << errors[3];
  EXPECT_EQ(cluster().sql("SELECT version FROM schema_version", database_name()), "1");
  EXPECT_EQ(cluster().sql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                          "WHERE schemaname = 'public'",
                          database_name()),
            "accounts,archive,offline_messages,roster_groups,roster_items,roster_versions,"
            "schema_version,scram_credentials");
}

TEST_F(PostgresqlStorage, PasswordsAreStoredOnlyAsScramKeys) {
  auto storage = open_or_fail(url_);
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->accounts()
                  .create("alice", credentials_for(ScramHash::sha1, 'a'),
                          credentials_for(ScramHash::sha256, 'b'))
                  .has_value());
  EXPECT_EQ(cluster().sql("SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM "
                          "information_schema.columns WHERE table_name = 'scram_credentials'",
                          database_name()),
            "domain,username,hash,salt,iterations,stored_key,server_key");
  EXPECT_EQ(cluster().sql("SELECT hash || ':' || iterations || ':' || length(stored_key) FROM "
                          "scram_credentials ORDER BY hash",
                          database_name()),
            "sha1:4096:20\nsha256:4096:32");
}

TEST_F(PostgresqlStorage, TextPostgresqlCannotHoldIsRefusedBeforeItIsSent) {
  auto storage = open_or_fail(url_);
  ASSERT_NE(storage, nullptr);
  const std::string with_nul("<m>a\0b</m>", 10);
  const std::string not_utf8 = "<m>\xC3\x28</m>";
  for (const std::string& stanza : {with_nul, not_utf8}) {
    const auto pushed = storage->offline().push("alice", stanza, 1);
    ASSERT_FALSE(pushed.has_value());
    EXPECT_EQ(pushed.error().kind, ErrorKind::invalid_argument);
    EXPECT_TRUE(contains(pushed.error().message, "the stanza is not UTF-8 text without NUL"))
        << pushed.error().message;
    const auto appended = storage->archive().append("alice", "bob@example.test", stanza, 1);
    ASSERT_FALSE(appended.has_value());
    EXPECT_EQ(appended.error().kind, ErrorKind::invalid_argument);
  }
  // A name that could not have been stored is absent, inside a group too (where a server-side
  // error would have aborted the transaction).
  ASSERT_TRUE(storage->begin_group().has_value());
  ASSERT_EQ(storage->offline().push("alice", "<m>kept</m>", 1), true);
  EXPECT_EQ(storage->accounts().exists(not_utf8), false);
  EXPECT_EQ(storage->offline().count(with_nul), 0u);
  EXPECT_TRUE(storage->roster().items(not_utf8)->empty());
  EXPECT_EQ(storage->archive().query(not_utf8, {})->count, 0u);
  EXPECT_EQ(storage->archive().query("alice", {.with_jid = not_utf8})->count, 0u);
  ASSERT_TRUE(storage->commit_group().has_value());
  EXPECT_EQ(storage->offline().count("alice"), 1u);
}

// PostgreSQL aborts a whole transaction on any error; a group holds many sessions' writes, so one
// failed statement must be undone alone. Here the server itself refuses a statement (an index
// entry over B-tree's limit of about 2700 bytes), which no client-side check catches.
TEST_F(PostgresqlStorage, AStatementTheServerRefusesInsideAGroupUndoesNothingElse) {
  auto storage = open_or_fail(url_);
  auto reader = open_or_fail(url_);
  ASSERT_NE(storage, nullptr);
  ASSERT_NE(reader, nullptr);
  std::mt19937 random(42);
  std::string long_owner, long_jid;
  for (int i = 0; i < 1023; ++i) long_owner += static_cast<char>('a' + random() % 26);
  for (int i = 0; i < 3000; ++i) long_jid += static_cast<char>('a' + random() % 26);

  ASSERT_TRUE(storage->begin_group().has_value());
  ASSERT_EQ(storage->offline().push("alice", "<m>before</m>", 1), true);
  const auto refused = storage->archive().append(long_owner, long_jid, "<m/>", 1);
  ASSERT_FALSE(refused.has_value()) << "PostgreSQL's index limit is reached";
  EXPECT_EQ(refused.error().kind, ErrorKind::limit) << refused.error().message;
  EXPECT_TRUE(contains(refused.error().message, "insert into archive: index row size"))
      << refused.error().message;
  ASSERT_EQ(storage->offline().push("alice", "<m>after</m>", 2), true);
  ASSERT_TRUE(storage->commit_group().has_value());

  const auto queued = reader->offline().peek("alice");
  ASSERT_TRUE(queued.has_value()) << queued.error().message;
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ(queued->at(0).stanza_xml, "<m>before</m>");
  EXPECT_EQ(queued->at(1).stanza_xml, "<m>after</m>");
}

// The server restarts under an open Storage: the next call reconnects by itself; a group that was
// open at that moment is lost as a whole and says so.
TEST_F(PostgresqlStorage, ReconnectsAfterTheServerRestarts) {
  auto started = PostgresPeer::start(PostgresOptions::without_tls(kRestartPort));
  ASSERT_TRUE(started.has_value()) << started.error().message;
  auto& server = **started;
  auto url = server.create_database("restart", kRole, kPassword);
  ASSERT_TRUE(url.has_value()) << url.error().message;
  auto storage = open_or_fail(*url);
  ASSERT_NE(storage, nullptr);
  ASSERT_EQ(storage->offline().push("alice", "<m>1</m>", 1), true);

  for (const auto how : {PostgresShutdown::fast, PostgresShutdown::immediate}) {
    SCOPED_TRACE(how == PostgresShutdown::fast ? "fast" : "immediate");
    ASSERT_TRUE(server.stop(how).has_value());
    const auto while_down = storage->offline().count("alice");
    ASSERT_FALSE(while_down.has_value());
    EXPECT_EQ(while_down.error().kind, ErrorKind::io);
    EXPECT_TRUE(while_down.error().message.starts_with(
        "postgresql://parley@127.0.0.1:19202/restart: reconnect: "))
        << while_down.error().message;
    ASSERT_TRUE(server.start_again().has_value()) << server.log_tail();
    // A failed reconnect is not repeated for a second: the first calls may still fail at once.
    Result<std::size_t> counted = fail(Error::io("not asked yet"));
    for (int attempt = 0; attempt < 50 && !counted; ++attempt) {
      counted = storage->offline().count("alice");
      if (!counted) {
        EXPECT_TRUE(contains(counted.error().message, "reconnect: ")) << counted.error().message;
        std::this_thread::sleep_for(100ms);
      }
    }
    ASSERT_TRUE(counted.has_value()) << counted.error().message;
    EXPECT_EQ(*counted, 1u) << "reconnected, statements prepared again";
  }

  // A group open across a restart: its writes are gone, its commit fails, the next call works.
  ASSERT_TRUE(storage->begin_group().has_value());
  ASSERT_EQ(storage->offline().push("alice", "<m>lost</m>", 2), true);
  ASSERT_TRUE(server.stop(PostgresShutdown::fast).has_value());
  ASSERT_TRUE(server.start_again().has_value());
  const auto committed = storage->commit_group();
  ASSERT_FALSE(committed.has_value());
  EXPECT_EQ(committed.error().kind, ErrorKind::io);
  EXPECT_FALSE(storage->in_group());
  ASSERT_EQ(storage->offline().push("alice", "<m>2</m>", 3), true);
  const auto queued = storage->offline().peek("alice");
  ASSERT_TRUE(queued.has_value()) << queued.error().message;
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ(queued->at(1).stanza_xml, "<m>2</m>");
}

// A child process writes, then is killed with SIGKILL the moment the calls return; then the server
// itself is stopped like a crash (no checkpoint). What was acknowledged is there afterwards.
TEST_F(PostgresqlStorage, AcknowledgedWritesSurviveSigkillOfTheWriterAndACrashOfTheServer) {
  { ASSERT_NE(open_or_fail(url_), nullptr); }  // schema made
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child reports nothing through gtest; its exit status tells the parent what happened.
    auto storage = Storage::open(url_);
    if (!storage) ::_exit(2);
    auto id =
        (*storage)->archive().append("alice", "bob@example.test", "<body>last words</body>", 123);
    if (!id) ::_exit(3);
    if (!(*storage)->begin_group()) ::_exit(4);
    auto pushed = (*storage)->offline().push("alice", "<body>queued</body>", 456);
    if (!pushed || !*pushed || !(*storage)->commit_group()) ::_exit(5);
    ::kill(::getpid(), SIGKILL);
    ::_exit(6);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  ASSERT_TRUE(cluster().stop(PostgresShutdown::immediate).has_value());
  ASSERT_TRUE(cluster().start_again().has_value()) << cluster().log_tail();

  auto storage = open_or_fail(url_);
  ASSERT_NE(storage, nullptr);
  const auto page = storage->archive().query("alice", {});
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].stanza_xml, "<body>last words</body>");
  const auto queued = storage->offline().peek("alice");
  ASSERT_TRUE(queued.has_value());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->at(0).stanza_xml, "<body>queued</body>");
}

// sslmode from the URL is what libpq does: verify-full checks the chain against sslrootcert and
// the host name against the certificate (example.test, reached at hostaddr 127.0.0.1).
TEST_F(PostgresqlStorage, SslmodeIsHonouredAgainstATlsServer) {
  auto started = PostgresPeer::start(
      PostgresOptions{.port = kTlsPort,
                      .tls = true,
                      .certificate_chain_file = kFixtures + "/chains/p256/chain.pem",
                      .private_key_file = kFixtures + "/chains/p256/leaf.key"});
  ASSERT_TRUE(started.has_value()) << started.error().message;
  auto& server = **started;
  auto made = server.create_database("secure", kRole, kPassword);
  ASSERT_TRUE(made.has_value()) << made.error().message;
  const std::string base = "postgresql://parley:" + std::string(kPassword) + "@";
  const std::string root = kFixtures + "/chains/p256/root.crt";
  const std::string other_root = kFixtures + "/chains/rsa2048/root.crt";
  struct Row {
    std::string label;
    std::string url;
    bool ok;
    std::string message_part;
  };
  const std::vector<Row> rows = {
      {"verify-full, right name and root",
       base +
           "example.test:19201/secure?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=" + root,
       true, ""},
      {"verify-full, wrong name",
       base + "other.test:19201/secure?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=" + root,
       false, "does not match host name"},
      {"verify-full, another root",
       base + "example.test:19201/secure?hostaddr=127.0.0.1&sslmode=verify-full&sslrootcert=" +
           other_root,
       false, "certificate verify failed"},
      {"verify-ca, any name",
       base + "other.test:19201/secure?hostaddr=127.0.0.1&sslmode=verify-ca&sslrootcert=" + root,
       true, ""},
      {"require", base + "127.0.0.1:19201/secure?sslmode=require", true, ""},
  };
  std::vector<std::unique_ptr<Storage>> connected;  // open while the server is asked below
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    auto storage = Storage::open(row.url);
    if (!row.ok) {
      ASSERT_FALSE(storage.has_value());
      EXPECT_EQ(storage.error().kind, ErrorKind::io);
      EXPECT_TRUE(contains(storage.error().message, row.message_part)) << storage.error().message;
      EXPECT_FALSE(contains(storage.error().message, kPassword)) << storage.error().message;
      continue;
    }
    ASSERT_TRUE(storage.has_value()) << storage.error().message;
    ASSERT_TRUE((*storage)->offline().push("alice", "<m/>", 1).has_value());
    connected.push_back(std::move(*storage));
  }
  // The server sees TLS on each of those connections (and on none other but psql's socket).
  EXPECT_EQ(server.sql("SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) "
                       "WHERE ssl AND usename = 'parley'"),
            std::to_string(connected.size()));
}

// Not a check: prints what the hot-path calls cost against PostgreSQL on loopback (fsync on), each
// call committed on its own, with 100 per transaction, and inside a group as the server runs them
// (each statement under its own savepoint). For the report; never asserted.
TEST_F(PostgresqlStorage, HotPathCostIsPrinted) {
  auto storage = open_or_fail(url_);
  ASSERT_NE(storage, nullptr);
  const std::string stanza =
      "<message xmlns='jabber:client' from='bob@example.test/phone' to='alice@example.test' "
      "type='chat' id='a1b2c3'><body>Hello there, this is an ordinary chat message.</body>"
      "</message>";
  const auto cpu_us = [] {
    timespec now{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
    return static_cast<double>(now.tv_sec) * 1e6 + static_cast<double>(now.tv_nsec) / 1e3;
  };
  enum class Batching { own_transaction, transaction_of_100, group_of_100 };
  const auto measure = [&](const char* label, int calls, Batching batching,
                           const std::function<void(int)>& one) {
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_us();
    if (batching == Batching::own_transaction) {
      for (int i = 0; i < calls; ++i) one(i);
    } else {
      for (int first = 0; first < calls; first += 100) {
        const int last = std::min(calls, first + 100);
        if (batching == Batching::group_of_100) {
          ASSERT_TRUE(storage->begin_group().has_value());
          for (int i = first; i < last; ++i) one(i);
          ASSERT_TRUE(storage->commit_group().has_value());
        } else {
          const auto done = storage->in_transaction([&]() -> Result<void> {
            for (int i = first; i < last; ++i) one(i);
            return {};
          });
          ASSERT_TRUE(done.has_value()) << done.error().message;
        }
      }
    }
    const double wall =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_start)
            .count();
    std::printf("[store cost postgresql] %-52s %7.1f us wall %7.1f us client cpu per call\n", label,
                wall / calls, (cpu_us() - cpu_start) / calls);
  };
  const auto append = [&](int i) {
    ASSERT_TRUE(storage->archive().append("alice", "bob@example.test", stanza, i).has_value());
  };
  const auto push_and_drain = [&](int i) {
    ASSERT_EQ(storage->offline().push("carol", stanza, i), true);
    if (i % 50 == 49) {
      ASSERT_TRUE(storage->offline().remove_up_to("carol", kInt64MaxForTests).has_value());
    }
  };
  measure("archive append, own transaction", 1000, Batching::own_transaction, append);
  measure("archive append, 100 per transaction", 1000, Batching::transaction_of_100, append);
  measure("archive append, 100 per group (savepoint each)", 1000, Batching::group_of_100, append);
  measure("offline push (queue < 50), own transaction", 1000, Batching::own_transaction,
          push_and_drain);
  measure("offline push (queue < 50), 100 per group", 1000, Batching::group_of_100, push_and_drain);
  measure("credentials lookup (login)", 500, Batching::own_transaction, [&](int) {
    ASSERT_TRUE(storage->accounts().credentials("alice", ScramHash::sha256).has_value());
  });
  measure(
      "archive query, last page of 50 of 3000, with count", 200, Batching::own_transaction,
      [&](int) {
        ASSERT_TRUE(storage->archive().query("alice", {.before_id = "", .max = 50}).has_value());
      });
  measure("archive query, last page of 50 of 3000, without count", 200, Batching::own_transaction,
          [&](int) {
            const ArchiveQuery query{.before_id = "", .max = 50, .include_count = false};
            ASSERT_TRUE(storage->archive().query("alice", query).has_value());
          });
}

}  // namespace
}  // namespace parley::integration
