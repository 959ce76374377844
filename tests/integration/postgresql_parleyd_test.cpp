// parleyd end to end with its store in PostgreSQL: a real PostgreSQL 15 (postgres_peer.hpp) and
// the real parleyd configured with a postgresql:// URL (parleyd_peer.hpp). Accounts are added with
// `parleyd user add`, two `parley` clients exchange a message, a message sent to an offline user
// survives a restart of parleyd, the password in the URL appears in no output or log, and
// `parleyd check-config` names an unreachable database clearly.
// Ports 19203-19205 and 19219 (postgres_peer.hpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "client_support.hpp"
#include "parleyd_peer.hpp"
#include "postgres_peer.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using namespace client_test;

constexpr std::uint16_t kDatabasePort = 19203;
constexpr std::uint16_t kC2sPort = 19204;
constexpr std::uint16_t kDirectTlsPort = 19205;
constexpr std::uint16_t kNobodyListens = 19219;
constexpr const char* kDatabasePassword = "Db-Pass-7q2";

#ifdef PARLEYD_BINARY
constexpr const char* kParleyd = PARLEYD_BINARY;
#else
constexpr const char* kParleyd = "";
#endif

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

std::vector<std::string> parley_arguments(const std::string& localpart,
                                          std::vector<std::string> rest) {
  std::vector<std::string> argv{"--account",
                                localpart + "@example.test",
                                "--server",
                                "127.0.0.1:" + std::to_string(kC2sPort),
                                "--password-stdin",
                                "--ca",
                                fixture("chains/p256/root.crt")};
  argv.insert(argv.end(), rest.begin(), rest.end());
  return argv;
}

XmppPeerOptions server_options(std::vector<XmppAccount> accounts) {
  XmppPeerOptions options;
  options.c2s_port = kC2sPort;
  options.direct_tls_port = kDirectTlsPort;
  options.certificate_chain_file = fixture("chains/p256/chain.pem");
  options.private_key_file = fixture("chains/p256/leaf.key");
  options.accounts = std::move(accounts);
  return options;
}

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The peer's configuration with another storage URL, written next to it.
std::string configuration_with_url(const ParleydPeer& server, const std::string& from_url,
                                   const std::string& to_url, const std::string& name) {
  std::string text = file_text(server.config_file());
  const auto at = text.find(from_url);
  if (at != std::string::npos) text.replace(at, from_url.size(), to_url);
  const auto path = server.directory() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(ParleydOnPostgresql, AccountsMessagesOfflineDeliveryAcrossARestartAndCheckConfig) {
  if (auto reason = PostgresPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  if (!have_parley_binary()) GTEST_SKIP() << "PARLEY_BINARY is not defined for this build";

  auto database = PostgresPeer::start(PostgresOptions::without_tls(kDatabasePort));
  ASSERT_TRUE(database.has_value()) << database.error().message;
  auto& postgres = **database;
  const auto url = postgres.create_database("parleyd", "parley", kDatabasePassword);
  ASSERT_TRUE(url.has_value()) << url.error().message;

  // `parleyd user add` writes the accounts into PostgreSQL (as SCRAM keys).
  auto started = ParleydPeer::start(
      server_options({{"alice", "alice-secret"}, {"bob", "bob-secret"}}), false, *url);
  ASSERT_TRUE(started.has_value()) << started.error().message;
  auto server = std::move(*started);
  EXPECT_EQ(
      postgres.sql("SELECT string_agg(username, ',' ORDER BY username) FROM accounts", "parleyd"),
      "alice,bob");
  EXPECT_EQ(postgres.sql("SELECT count(*) FROM scram_credentials", "parleyd"), "4");

  // Two clients exchange a message.
  {
    ParleyUser alice("alice-pg"), bob("bob-pg");
    std::optional<Result<ProgramOutcome>> listened;
    std::thread listener([&] {
      listened = bob.run(parley_arguments("bob", {"listen", "--count", "1", "--timeout", "30"}),
                         "bob-secret\n");
    });
    std::this_thread::sleep_for(1500ms);
    auto sent = alice.run(parley_arguments("alice", {"send", "bob@example.test", "hello over pg"}),
                          "alice-secret\n");
    listener.join();
    ASSERT_TRUE(sent.has_value()) << sent.error().message;
    EXPECT_EQ(sent->exit_code, 0) << sent->output << server->log_tail();
    ASSERT_TRUE(listened && listened->has_value());
    EXPECT_EQ((*listened)->exit_code, 0) << (*listened)->output;
    EXPECT_TRUE(contains((*listened)->output, "alice@example.test: hello over pg"))
        << (*listened)->output << server->log_tail();
  }

  // bob is offline: the message waits in PostgreSQL, through a restart of parleyd.
  {
    ParleyUser alice("alice-pg-offline");
    auto sent =
        alice.run(parley_arguments("alice", {"send", "bob@example.test", "kept in postgres"}),
                  "alice-secret\n");
    ASSERT_TRUE(sent.has_value()) << sent.error().message;
    ASSERT_EQ(sent->exit_code, 0) << sent->output << server->log_tail();
  }
  EXPECT_EQ(postgres.sql("SELECT count(*) FROM offline_messages WHERE owner = 'bob'", "parleyd"),
            "1");
  const std::string first_log = server->log_tail(1 << 20);
  EXPECT_TRUE(contains(first_log, "storage postgresql://parley@127.0.0.1:19203/parleyd"))
      << first_log;
  EXPECT_FALSE(contains(first_log, kDatabasePassword)) << "the log never shows the password";
  server.reset();  // SIGTERM, then the directory goes; the data is in PostgreSQL

  started = ParleydPeer::start(server_options({}), false, *url);
  ASSERT_TRUE(started.has_value()) << started.error().message;
  server = std::move(*started);
  {
    ParleyUser bob("bob-pg-offline");
    auto listened =
        bob.run(parley_arguments("bob", {"--json", "listen", "--count", "1", "--timeout", "20"}),
                "bob-secret\n");
    ASSERT_TRUE(listened.has_value()) << listened.error().message;
    EXPECT_EQ(listened->exit_code, 0) << listened->output << server->log_tail();
    const auto lines = json_lines(listened->output);
    ASSERT_EQ(lines.size(), 2u) << listened->output;  // "listening", then the message
    EXPECT_EQ(lines[1].at("body").as_string(), "kept in postgres");
    EXPECT_EQ(lines[1].at("delayed"), true) << listened->output;
  }
  // Delivered and acknowledged: the queue is empty now.
  for (int i = 0; i < 50; ++i) {
    if (postgres.sql("SELECT count(*) FROM offline_messages", "parleyd") == "0") break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(postgres.sql("SELECT count(*) FROM offline_messages", "parleyd"), "0");

  // check-config: the working database is shown without its password...
  auto checked =
      run_program({kParleyd, "--config", server->config_file(), "check-config"},
                  ProgramOptions{.standard_input = {}, .environment = {}, .timeout = 30s});
  ASSERT_TRUE(checked.has_value()) << checked.error().message;
  EXPECT_EQ(checked->exit_code, 0) << checked->output;
  EXPECT_TRUE(
      contains(checked->output, "storage       postgresql://parley@127.0.0.1:19203/parleyd"))
      << checked->output;
  EXPECT_FALSE(contains(checked->output, kDatabasePassword)) << checked->output;

  // ...and an unreachable one is named, with the reason, and without the password.
  const std::string unreachable = "postgresql://parley:" + std::string(kDatabasePassword) +
                                  "@127.0.0.1:" + std::to_string(kNobodyListens) + "/parleyd";
  const auto config = configuration_with_url(*server, *url, unreachable, "unreachable.toml");
  checked = run_program({kParleyd, "--config", config, "check-config"},
                        ProgramOptions{.standard_input = {}, .environment = {}, .timeout = 30s});
  ASSERT_TRUE(checked.has_value()) << checked.error().message;
  EXPECT_EQ(checked->exit_code, 1) << checked->output;
  EXPECT_TRUE(
      contains(checked->output, "parleyd: postgresql://parley@127.0.0.1:19219/parleyd: connect: "))
      << checked->output;
  EXPECT_TRUE(contains(checked->output, "Connection refused")) << checked->output;
  EXPECT_FALSE(contains(checked->output, kDatabasePassword)) << checked->output;

  const std::string final_log = server->log_tail(1 << 20);
  EXPECT_FALSE(contains(final_log, kDatabasePassword)) << final_log;
}

}  // namespace
}  // namespace parley::integration
