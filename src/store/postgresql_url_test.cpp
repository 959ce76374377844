// Tables for the PostgreSQL storage URL (postgresql_url.hpp): what libpq reads from it, the name
// messages use (never the password), the defaults parleyd adds (sslmode=verify-full for a remote
// host, a connect timeout), and which hosts count as local. No connection is made here.

#include "store/postgresql_url.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

namespace parley::store {
namespace {

std::optional<std::string> parameter(const PostgresqlTarget& target, std::string_view keyword) {
  const auto found = std::find_if(target.parameters.begin(), target.parameters.end(),
                                  [&](const auto& pair) { return pair.first == keyword; });
  if (found == target.parameters.end()) return std::nullopt;
  return found->second;
}

TEST(PostgresqlUrl, NamesTheDatabaseWithoutThePasswordAndAddsSafeDefaults) {
  struct Row {
    std::string_view url;
    std::string_view display;
    std::optional<std::string_view> sslmode;  // what parleyd will ask libpq for
    bool local;
  };
  const std::vector<Row> rows = {
      {"postgresql://parley:s3cret@db.example.org:5433/chat",
       "postgresql://parley@db.example.org:5433/chat", "verify-full", false},
      {"postgres://parley:s3cret@db.example.org/chat?sslmode=require",
       "postgresql://parley@db.example.org/chat", "require", false},
      {"postgresql://parley:s3cret@127.0.0.1:19200/chat",
       "postgresql://parley@127.0.0.1:19200/chat", std::nullopt, true},
      {"postgresql://parley@localhost/chat", "postgresql://parley@localhost/chat", std::nullopt,
       true},
      {"postgresql://parley@[::1]/chat", "postgresql://parley@::1/chat", std::nullopt, true},
      {"postgresql://parley@%2Fvar%2Frun%2Fpostgresql/chat",
       "postgresql://parley@/var/run/postgresql/chat", std::nullopt, true},
      {"postgresql:///chat", "postgresql://localhost/chat", std::nullopt, true},
      {"postgresql://parley@127.0.0.1,db.example.org/chat",
       "postgresql://parley@127.0.0.1,db.example.org/chat", "verify-full", false},
      {"postgresql://parley@db.example.org/chat?hostaddr=127.0.0.1",
       "postgresql://parley@db.example.org/chat", std::nullopt, true},
      {"postgresql://db.example.org/chat?user=parley&password=s3cret&sslmode=verify-ca",
       "postgresql://parley@db.example.org/chat", "verify-ca", false},
      {"postgresql://parley:p%40ss@db.example.org/chat", "postgresql://parley@db.example.org/chat",
       "verify-full", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.url);
    const auto target = parse_postgresql_url(row.url);
    ASSERT_TRUE(target.has_value()) << target.error().message;
    EXPECT_EQ(target->display, row.display);
    EXPECT_EQ(target->all_hosts_local, row.local);
    EXPECT_EQ(parameter(*target, "sslmode"), row.sslmode);
    EXPECT_EQ(parameter(*target, "client_encoding"), "UTF8");
    EXPECT_EQ(parameter(*target, "application_name"), "parleyd");
    EXPECT_EQ(target->display.find("s3cret"), std::string::npos);
  }
}

TEST(PostgresqlUrl, TheUrlsOwnSettingsWin) {
  const auto target = parse_postgresql_url(
      "postgresql://parley@db.example.org/chat?connect_timeout=3&application_name=chat&"
      "client_encoding=LATIN1");
  ASSERT_TRUE(target.has_value()) << target.error().message;
  EXPECT_EQ(parameter(*target, "connect_timeout"), "3");
  EXPECT_EQ(parameter(*target, "application_name"), "chat");
  EXPECT_EQ(parameter(*target, "client_encoding"), "UTF8") << "the store speaks UTF-8 only";
  EXPECT_EQ(std::count_if(target->parameters.begin(), target->parameters.end(),
                          [](const auto& pair) { return pair.first == "client_encoding"; }),
            1);
  const auto defaults = parse_postgresql_url("postgresql://parley@db.example.org/chat");
  ASSERT_TRUE(defaults.has_value());
  EXPECT_EQ(parameter(*defaults, "connect_timeout"), "10");
}

TEST(PostgresqlUrl, RefusesWhatLibpqCannotReadWithoutQuotingThePassword) {
  struct Row {
    std::string_view url;
    std::string_view message_part;
  };
  const std::vector<Row> rows = {
      {"postgresql://parley:s3cret@db.example.org/chat?no_such=1", "invalid URI query parameter"},
      {"postgresql://parley:s3%zzcret@db.example.org/chat", "percent-encoded"},
      {"postgresql://parley:s3cret@db.example.org/chat?password=%zzs3cret", "percent-encoded"},
      {"sqlite:///var/lib/parley.db", "expected postgresql://"},
      {"postgresql:/chat", "expected postgresql://"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.url);
    const auto target = parse_postgresql_url(row.url);
    ASSERT_FALSE(target.has_value());
    EXPECT_EQ(target.error().kind, ErrorKind::invalid_argument);
    EXPECT_NE(target.error().message.find(row.message_part), std::string::npos)
        << target.error().message;
    EXPECT_EQ(target.error().message.find("cret"), std::string::npos) << target.error().message;
  }
}

TEST(PostgresqlUrl, LocalHosts) {
  struct Row {
    std::string_view host;
    bool local;
  };
  const std::vector<Row> rows = {
      {"", true},
      {"/var/run/postgresql", true},
      {"@abstract", true},
      {"localhost", true},
      {"127.0.0.1", true},
      {"127.1.2.3", true},
      {"::1", true},
      {"[::1]", true},
      {"127.0.0.1.example.org", false},
      {"127.0.0", false},
      {"10.0.0.1", false},
      {"db.example.org", false},
      {"::2", false},
      {"localhost.example", false},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.host);
    EXPECT_EQ(is_local_postgresql_host(row.host), row.local);
  }
}

TEST(PostgresqlUrl, RedactsEverySpellingOfThePassword) {
  const std::string url = "postgresql://parley:p%40ss@db.example.org/chat?password=other";
  EXPECT_EQ(redact_password(url, "a p%40ss b p@ss c other d"),
            "a ******** b ******** c ******** d");
  EXPECT_EQ(redact_password("postgresql://parley@db.example.org/chat", "nothing to hide"),
            "nothing to hide");
}

}  // namespace
}  // namespace parley::store
