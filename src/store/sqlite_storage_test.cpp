// Tables for store/ with the SQLite backend: storage URLs (and how a PostgreSQL URL is refused or
// shown without its password), archive ids, the database file itself (mode, missing directory,
// schema versions, reopening, and a writer killed with SIGKILL right after a call returned), and
// the behaviour every backend shares (storage_behaviour_tests.hpp: accounts, roster, offline
// queue, archive paging, transactions, group commit), run here on SQLite files.

#include "store/sqlite_storage.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/test_support.hpp"
#include "store/storage.hpp"
#include "store/storage_behaviour_tests.hpp"

namespace parley::store {
namespace {

using namespace parley::test_support;
using namespace parley::store::behaviour;
using xmpp::sasl::ScramCredentials;
using xmpp::sasl::ScramHash;

std::string file_url(const std::filesystem::path& path) {
  return "sqlite://" + path.string();  // path is absolute: "sqlite:///tmp/..."
}

// Runs SQL on the file directly, as another program would.
void raw_sql(const std::filesystem::path& file, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);
}

// ---------------------------------------------------------------------------------------------
// URLs

struct UrlRow {
  std::string_view url;
  bool ok;
  bool in_memory;
  std::string_view path;
  SqliteSynchronous synchronous;
  std::string_view message_part;  // for errors
};

TEST(SqliteStorageUrl, ParsesTheFormsAndExplainsTheRest) {
  using enum SqliteSynchronous;
  const std::vector<UrlRow> rows = {
      {"sqlite:///var/lib/parley/parley.db", true, false, "/var/lib/parley/parley.db", normal, ""},
      {"sqlite:///tmp/a%20b.db?synchronous=full", true, false, "/tmp/a b.db", full, ""},
      {"sqlite:///tmp/x.db?synchronous=normal", true, false, "/tmp/x.db", normal, ""},
      {"sqlite::memory:", true, true, "", normal, ""},
      {"sqlite::memory:?synchronous=full", true, true, "", full, ""},
      {"sqlite://relative/path.db", false, false, "", normal, "must be absolute"},
      {"sqlite:relative.db", false, false, "", normal, "expected sqlite:///"},
      {"sqlite:///", false, false, "", normal, "names a directory"},
      {"sqlite:///var/lib/parley/", false, false, "", normal, "names a directory"},
      {"sqlite:///tmp/x.db?synchronous=sometimes", false, false, "", normal, "normal or full"},
      {"sqlite:///tmp/x.db?cache=shared", false, false, "", normal, "unknown or repeated"},
      {"sqlite:///tmp/x.db?synchronous=full&synchronous=normal", false, false, "", normal,
       "unknown or repeated"},
      {"sqlite:///tmp/x.db?", false, false, "", normal, "unknown or repeated"},
      {"sqlite:///tmp/%zz.db", false, false, "", normal, "escape"},
      {"sqlite:///tmp/x.db%", false, false, "", normal, "escape"},
      {"sqlite:///tmp/%00.db", false, false, "", normal, "%00"},
      {"file:///tmp/x.db", false, false, "", normal, "not a sqlite URL"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.url);
    const auto parsed = parse_sqlite_url(row.url);
    if (!row.ok) {
      ASSERT_FALSE(parsed.has_value());
      EXPECT_EQ(parsed.error().kind, ErrorKind::invalid_argument);
      EXPECT_TRUE(contains(parsed.error().message, row.message_part)) << parsed.error().message;
      continue;
    }
    ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
    EXPECT_EQ(parsed->in_memory, row.in_memory);
    EXPECT_EQ(parsed->path, row.path);
    EXPECT_EQ(parsed->synchronous, row.synchronous);
  }
}

TEST(SqliteStorageUrl, OpenRefusesOtherBackendsWithoutEchoingSecrets) {
  struct Row {
    std::string_view url;
    std::string_view message_part;
  };
  // PostgreSQL URLs that libpq cannot read fail before any connection is tried (a unit test
  // never reaches a network); their password stays out of the message even when libpq quotes
  // the broken part.
  const std::vector<Row> rows = {
      {"postgresql://parley:secret@db.example/parley?no_such_parameter=1",
       "not a valid PostgreSQL URL"},
      {"postgres://parley:se%zzcret@db.example/parley", "not a valid PostgreSQL URL"},
      {"postgresql://parley@db.example/parley?password=secret&bogus=x",
       "not a valid PostgreSQL URL"},
      {"mysql://parley:secret@db.example/parley", "unknown scheme 'mysql'"},
      {"", "no scheme"},
      {"sqlite://relative/path.db", "must be absolute"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.url);
    const auto storage = Storage::open(row.url);
    ASSERT_FALSE(storage.has_value());
    EXPECT_EQ(storage.error().kind, ErrorKind::invalid_argument);
    EXPECT_TRUE(contains(storage.error().message, row.message_part)) << storage.error().message;
    EXPECT_FALSE(contains(storage.error().message, "secret")) << storage.error().message;
    EXPECT_FALSE(contains(storage.error().message, "cret")) << storage.error().message;
  }
}

TEST(SqliteStorageUrl, UrlsAreShownWithoutPasswords) {
  const std::vector<std::pair<std::string_view, std::string_view>> rows = {
      {"sqlite:///var/lib/parley/parley.db", "sqlite:///var/lib/parley/parley.db"},
      {"postgresql://parley:secret@db.example:5433/chat?sslmode=verify-full",
       "postgresql://parley@db.example:5433/chat"},
      {"postgres://parley:secret@db.example/chat", "postgresql://parley@db.example/chat"},
      {"postgresql://db.example/chat?user=parley&password=secret",
       "postgresql://parley@db.example/chat"},
      {"postgresql://parley:secret@db.example/chat?bogus=1",
       "postgresql://(a URL libpq cannot read)"},
      {"mysql://parley:secret@db.example/chat", "mysql:..."},
  };
  for (const auto& [url, shown] : rows) {
    SCOPED_TRACE(url);
    EXPECT_EQ(storage_url_for_display(url), shown);
  }
}

TEST(SqliteStorageArchiveId, RoundTripsAndRefusesWhatItDidNotMake) {
  for (const std::int64_t row : {std::int64_t{1}, std::int64_t{31}, std::int64_t{32},
                                 std::int64_t{1} << 40, std::numeric_limits<std::int64_t>::max()}) {
    SCOPED_TRACE(row);
    const std::string id = archive_id_from_row(row);
    EXPECT_EQ(id.size(), 13u);
    EXPECT_EQ(id.find_first_not_of("0123456789abcdefghjkmnpqrstvwxyz"), std::string::npos) << id;
    EXPECT_EQ(archive_row_from_id(id), row);
  }
  EXPECT_EQ(archive_id_from_row(1), "0000000000001");
  EXPECT_LT(archive_id_from_row(31), archive_id_from_row(32)) << "ids sort like row ids";
  EXPECT_LT(archive_id_from_row(999), archive_id_from_row(1000));
  for (const std::string_view bad : std::vector<std::string_view>{
           "", "0000000000000", "000000000001", "00000000000001", "000000000000A", "000000000000u",
           "8000000000000", "zzzzzzzzzzzzz", std::string_view("000000000000\0", 13)}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(archive_row_from_id(bad).has_value());
  }
}

// ---------------------------------------------------------------------------------------------
// The behaviour every backend shares, on SQLite files (WAL, as parleyd runs it)

StorageBackendUnderTest sqlite_backend() {
  return StorageBackendUnderTest{
      .label = "sqlite",
      .unavailable = [] { return std::optional<std::string>(); },
      .fresh_database = []() -> Result<std::string> {
        static TempDir directory;  // removed when the test program ends
        static int made = 0;
        return file_url(directory.path() / ("behaviour-" + std::to_string(++made) + ".db"));
      },
      .name_of = [](const std::string& url) { return url.substr(std::string("sqlite://").size()); },
  };
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StorageBehaviour, ::testing::Values(sqlite_backend()),
                         backend_label);
INSTANTIATE_TEST_SUITE_P(Sqlite, StorageArchiveBehaviour, ::testing::Values(sqlite_backend()),
                         backend_label);

// ---------------------------------------------------------------------------------------------
// The database file

TEST(SqliteStorageFile, CreatedWithMode0600AndDataSurvivesReopening) {
  TempDir temp;
  const auto file = temp.path() / "parley.db";
  const std::string url = file_url(file) + "?synchronous=full";
  {
    auto storage = open_or_fail(url);
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->accounts()
                    .create("alice", credentials_for(ScramHash::sha1, 'a'),
                            credentials_for(ScramHash::sha256, 'b'))
                    .has_value());
    ASSERT_TRUE(storage->roster()
                    .upsert("alice", RosterItem{.jid = "bob@example.test", .groups = {"G"}})
                    .has_value());
    ASSERT_EQ(storage->offline().push("alice", "<message/>", 7), true);
    ASSERT_TRUE(storage->archive().append("alice", "bob@example.test", "<m/>", 9).has_value());
    EXPECT_EQ(mode_of(file), 0600u);
    for (const char* suffix : {"-wal", "-shm"}) {
      const std::filesystem::path companion = file.string() + suffix;
      ASSERT_TRUE(std::filesystem::exists(companion)) << suffix << ": WAL mode is on";
      EXPECT_EQ(mode_of(companion), 0600u) << suffix;
    }
  }
  auto reopened = open_or_fail(file_url(file));
  ASSERT_NE(reopened, nullptr);
  expect_same_credentials(**reopened->accounts().credentials("alice", ScramHash::sha1),
                          credentials_for(ScramHash::sha1, 'a'));
  EXPECT_EQ((*reopened->roster().item("alice", "bob@example.test"))->groups,
            std::vector<std::string>{"G"});
  EXPECT_EQ(reopened->offline().peek("alice")->at(0).stored_at_unix, 7);
  EXPECT_EQ(reopened->archive().query("alice", {})->messages.at(0).timestamp_us, 9);
}

TEST(SqliteStorageFile, MissingDirectoryIsNamed) {
  TempDir temp;
  const auto file = temp.path() / "missing" / "parley.db";
  const auto storage = Storage::open(file_url(file));
  ASSERT_FALSE(storage.has_value());
  EXPECT_EQ(storage.error().kind, ErrorKind::io);
  EXPECT_TRUE(storage.error().message.starts_with(file.string() + ": ")) << storage.error().message;
  EXPECT_TRUE(contains(storage.error().message,
                       "directory " + (temp.path() / "missing").string() + " does not exist"))
      << storage.error().message;
  EXPECT_FALSE(std::filesystem::exists(temp.path() / "missing"));
}

TEST(SqliteStorageFile, RefusesNewerForeignAndNonDatabaseFilesWithoutChangingThem) {
  struct Row {
    std::string_view label;
    std::function<void(const std::filesystem::path&)> prepare;
    std::string_view message_part;
  };
  const std::vector<Row> rows = {
      {"newer schema",
       [](const std::filesystem::path& file) {
         { ASSERT_NE(open_or_fail(file_url(file)), nullptr); }
         raw_sql(file, "UPDATE schema_version SET version = 99; PRAGMA journal_mode = DELETE;");
       },
       "schema version 99 is newer than this parleyd supports (1)"},
      {"another program's database",
       [](const std::filesystem::path& file) {
         raw_sql(file, "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');");
       },
       "not a Parley database"},
      {"not a database",
       [](const std::filesystem::path& file) { std::ofstream(file) << std::string(4096, 'x'); },
       "not a database"},
      {"a directory",
       [](const std::filesystem::path& file) { std::filesystem::create_directory(file); },
       "not a regular file"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir temp;
    const auto file = temp.path() / "parley.db";
    row.prepare(file);
    const std::string before =
        std::filesystem::is_regular_file(file) ? file_bytes(file) : std::string();
    const auto storage = Storage::open(file_url(file));
    ASSERT_FALSE(storage.has_value());
    EXPECT_TRUE(storage.error().message.starts_with(file.string() + ": "))
        << storage.error().message;
    EXPECT_TRUE(contains(storage.error().message, row.message_part)) << storage.error().message;
    if (std::filesystem::is_regular_file(file)) {
      EXPECT_EQ(file_bytes(file), before) << "the file is left as it was";
    }
  }
}

TEST(SqliteStorageFile, ReadOnlyFileIsRefusedAtOpen) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes to any file";
  TempDir temp;
  const auto file = temp.path() / "parley.db";
  { ASSERT_NE(open_or_fail(file_url(file)), nullptr); }
  std::filesystem::permissions(file, std::filesystem::perms::owner_read);
  const auto storage = Storage::open(file_url(file));
  ASSERT_FALSE(storage.has_value());
  EXPECT_EQ(storage.error().message, file.string() +
                                         ": open database: the file is not writable by "
                                         "this user");
}

// A child process appends and pushes, then is killed with SIGKILL the moment the calls return:
// with synchronous=NORMAL in WAL mode the rows are already in the OS's hands.
TEST(SqliteStorageFile, WritesAcknowledgedBeforeSigkillSurvive) {
  TempDir temp;
  const auto file = temp.path() / "parley.db";
  { ASSERT_NE(open_or_fail(file_url(file)), nullptr); }  // schema made, connection closed

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child reports nothing through gtest; its exit status tells the parent what happened.
    auto storage = Storage::open(file_url(file));
    if (!storage) ::_exit(2);
    auto id =
        (*storage)->archive().append("alice", "bob@example.test", "<body>last words</body>", 123);
    if (!id) ::_exit(3);
    auto pushed = (*storage)->offline().push("alice", "<body>queued</body>", 456);
    if (!pushed || !*pushed) ::_exit(4);
    ::kill(::getpid(), SIGKILL);
    ::_exit(5);  // not reached
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  auto storage = open_or_fail(file_url(file));
  ASSERT_NE(storage, nullptr);
  const auto page = storage->archive().query("alice", {});
  ASSERT_TRUE(page.has_value()) << page.error().message;
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].stanza_xml, "<body>last words</body>");
  EXPECT_EQ(page->messages[0].timestamp_us, 123);
  const auto queued = storage->offline().peek("alice");
  ASSERT_TRUE(queued.has_value());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ(queued->at(0).stanza_xml, "<body>queued</body>");
}

// Not a check: prints what the hot-path calls cost on this machine, wall clock and CPU, each call
// committed on its own and with 100 calls per transaction (what the statement itself costs once
// the commit is shared). For the report and for noticing regressions by eye; never asserted.
TEST(SqliteStorageFile, HotPathCostIsPrinted) {
  TempDir temp;
  auto storage = open_or_fail(file_url(temp.path() / "parley.db"));
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
  // Runs `one(i)` `calls` times, in transactions of `per_transaction` calls when that is > 1.
  const auto measure = [&](const char* label, int calls, int per_transaction,
                           const std::function<void(int)>& one) {
    const auto wall_start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_us();
    if (per_transaction <= 1) {
      for (int i = 0; i < calls; ++i) one(i);
    } else {
      for (int first = 0; first < calls; first += per_transaction) {
        const auto done = storage->in_transaction([&]() -> Result<void> {
          for (int i = first; i < std::min(calls, first + per_transaction); ++i) one(i);
          return {};
        });
        ASSERT_TRUE(done.has_value()) << done.error().message;
      }
    }
    const double wall =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - wall_start)
            .count();
    std::printf("[store cost] %-58s %7.1f us wall %7.1f us cpu per call\n", label, wall / calls,
                (cpu_us() - cpu_start) / calls);
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

  measure("archive append, own transaction", 2000, 1, append);
  measure("archive append, 100 per transaction", 2000, 100, append);
  measure("offline push (queue < 50), own transaction", 2000, 1, push_and_drain);
  measure("offline push (queue < 50), 100 per transaction", 2000, 100, push_and_drain);
  measure("fill a queue to its bound of 1000", 1000, 100,
          [&](int i) { ASSERT_EQ(storage->offline().push("dave", stanza, i), true); });
  measure("offline push refused at the bound (1000 queued)", 1000, 1,
          [&](int i) { ASSERT_EQ(storage->offline().push("dave", stanza, i), false); });
  measure("archive query, last page of 50 of 4000, with count", 200, 1, [&](int) {
    ASSERT_TRUE(storage->archive().query("alice", {.before_id = "", .max = 50}).has_value());
  });
  measure("archive query, last page of 50 of 4000, without count", 200, 1, [&](int) {
    const ArchiveQuery query{.before_id = "", .max = 50, .include_count = false};
    ASSERT_TRUE(storage->archive().query("alice", query).has_value());
  });
}

}  // namespace
}  // namespace parley::store
