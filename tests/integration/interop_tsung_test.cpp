// parleyd under tsung 1.7 (Debian's tsung, the Erlang XMPP load generator): a small scenario on
// 127.0.0.1:19254 in which kUsers users each open a stream, upgrade it with STARTTLS, log in,
// bind, send initial presence, get their roster and send kMessagesPerUser chat messages to users
// who are online, then close. The test reads tsung's statistics (the last dump of tsung.log) and
// parleyd's log.
//
// tsung 1.7 authenticates with SASL PLAIN only (ts_jabber_common.erl knows PLAIN, ANONYMOUS and
// EXTERNAL), so this parleyd runs with insecure_allow_plain (PLAIN over TLS only, which parleyd
// enforces). tsung's TLS upgrade (Erlang ssl on OTP 25) does not verify the server's
// certificate: it is a load generator here, and certificate checking is what the slixmpp,
// profanity and go-sendxmpp suites test.
//
// Counting deliveries: tsung counts a received message when it finds the stamp it sent in a
// read from the socket, one per read, so two messages arriving together count once. The test
// therefore requires deliveries to be seen but not all of them; exact delivery counts are the
// slixmpp suite's job.
//
// tsung's Erlang starts an epmd daemon (bound to 127.0.0.1 here); the test stops the epmd that
// was not running before it, by PID.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "interop_support.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint16_t kC2sPort = 19254;
constexpr int kUsers = 10;
constexpr int kMessagesPerUser = 10;

std::string scenario(const fs::path& ca_file) {
  std::ostringstream xml;
  xml << R"(<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" dumptraffic="false" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="1000"/></clients>
  <servers><server host="127.0.0.1" port=")"
      << kC2sPort << R"(" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="2" unit="second">
      <users maxnumber=")"
      << kUsers << R"(" arrivalrate=")" << kUsers << R"(" unit="second"/>
    </arrivalphase>
  </load>
  <options>
    <option type="ts_jabber" name="global_number" value=")"
      << kUsers << R"("/>
    <option type="ts_jabber" name="userid_max" value=")"
      << kUsers << R"("/>
    <option type="ts_jabber" name="domain" value="example.test"/>
    <option type="ts_jabber" name="username" value="user"/>
    <option type="ts_jabber" name="passwd" value="pass"/>
  </options>
  <sessions>
    <session probability="100" name="chat" type="ts_jabber" bidi="true">
      <request><jabber type="connect" ack="local"/></request>
      <request><jabber type="starttls" ack="bidi_ack" cacertfile=")"
      << ca_file.string() << R"("/></request>
      <request><jabber type="connect" ack="local"/></request>
      <transaction name="authenticate">
        <request><jabber type="auth_sasl" ack="local"/></request>
        <request><jabber type="connect" ack="local"/></request>
        <request><jabber type="auth_sasl_bind" ack="local"/></request>
        <request><jabber type="auth_sasl_session" ack="local"/></request>
      </transaction>
      <request><jabber type="presence:initial" ack="no_ack"/></request>
      <transaction name="roster">
        <request><jabber type="iq:roster:get" ack="local"/></request>
      </transaction>
      <thinktime value="4" random="false"/>
      <for from="1" to=")"
      << kMessagesPerUser << R"(" incr="1" var="i">
        <transaction name="chat">
          <request><jabber type="chat" ack="no_ack" size="16" destination="online" stamped="true"/></request>
        </transaction>
        <thinktime value="0.1"/>
      </for>
      <thinktime value="4" random="false"/>
      <transaction name="close"><request><jabber type="close" ack="no_ack"/></request></transaction>
    </session>
  </sessions>
</tsung>
)";
  return xml.str();
}

// The latest statistics line of each name in tsung.log (dumped every 10 s and at the end): name ->
// its fields. Counters are "name COUNT_SINCE_LAST_DUMP TOTAL"; samples are "name COUNT MEAN
// STDDEV MAX MIN EARLIER_MEAN EARLIER_COUNT", where COUNT and MEAN cover the last interval and
// EARLIER_* everything before it.
std::map<std::string, std::vector<double>> latest_statistics(const std::string& log) {
  std::map<std::string, std::vector<double>> statistics;
  std::istringstream lines(log);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.starts_with("stats: ")) continue;
    std::istringstream fields(line.substr(7));
    std::string name;
    fields >> name;
    std::vector<double> values;
    double value = 0;
    while (fields >> value) values.push_back(value);
    statistics[name] = values;
  }
  return statistics;
}

using Statistics = std::map<std::string, std::vector<double>>;

// How many since the start (-1: never reported).
double total(const Statistics& statistics, const std::string& name) {
  auto found = statistics.find(name);
  if (found == statistics.end()) return -1;
  const auto& v = found->second;
  if (v.size() == 7) return v[0] + v[6];
  return v.size() == 2 ? v[1] : -1;
}

// The mean of a sample over the whole run, in milliseconds (-1: not a sample).
double overall_mean(const Statistics& statistics, const std::string& name) {
  auto found = statistics.find(name);
  if (found == statistics.end() || found->second.size() != 7) return -1;
  const auto& v = found->second;
  return v[0] + v[6] == 0 ? 0 : (v[0] * v[1] + v[6] * v[5]) / (v[0] + v[6]);
}

std::size_t occurrences(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

TEST(ParleydWithTsung, UsersLogInGetRostersSendPresenceAndChat) {
  if (auto reason = ParleydPeer::unavailable_reason()) GTEST_SKIP() << *reason;
  if (find_program("tsung").empty()) GTEST_SKIP() << "tsung is not installed";
  InteropServerOptions options;
  options.c2s_port = kC2sPort;
  options.accounts = {};
  options.insecure_allow_plain = true;
  for (int id = 1; id <= kUsers; ++id)
    options.accounts_with_passwords.push_back(
        {"user" + std::to_string(id), "pass" + std::to_string(id)});
  auto server = start_interop_parleyd(options);
  ASSERT_TRUE(server) << server.error().message;

  const fs::path home = (*server)->directory() / "tsung";
  fs::create_directories(home / "log");
  {
    std::ofstream out(home / "chat.xml");
    out << scenario(kInteropCa);
  }
  const auto epmd_before = pids_of_program("epmd");
  const auto started = std::chrono::steady_clock::now();
  auto run = run_program(
      {"tsung", "-n", "-I", "127.0.0.1", "-f", (home / "chat.xml").string(), "-l",
       (home / "log").string(), "start"},
      ProgramOptions{.standard_input = {},
                     .environment = {{"HOME", home.string()},
                                     {"ERL_EPMD_ADDRESS", "127.0.0.1"},
                                     {"ERL_FLAGS", "-kernel inet_dist_use_interface {127,0,0,1}"}},
                     .timeout = 150s});
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (pid_t pid : pids_of_program("epmd"))
    if (std::find(epmd_before.begin(), epmd_before.end(), pid) == epmd_before.end())
      ::kill(pid, SIGTERM);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->exit_code, 0) << run->output;

  // tsung writes its logs into a directory named after the start time.
  std::string tsung_log;
  for (const auto& entry : fs::directory_iterator(home / "log"))
    if (fs::exists(entry.path() / "tsung.log"))
      tsung_log = file_contents(entry.path() / "tsung.log");
  ASSERT_FALSE(tsung_log.empty()) << run->output;
  const auto statistics = latest_statistics(tsung_log);
  std::ostringstream shown;
  for (const auto& [name, values] : statistics) {
    shown << name;
    for (double value : values) shown << ' ' << value;
    shown << '\n';
  }
  const std::string parleyd_log = (*server)->log_tail(10'000'000);
  SCOPED_TRACE("tsung's last statistics:\n" + shown.str() + "parleyd's log (end):\n" +
               (*server)->log_tail(3000));

  EXPECT_EQ(total(statistics, "users_count"), kUsers) << "users started";
  EXPECT_EQ(total(statistics, "finish_users_count"), kUsers) << "users that ended their session";
  EXPECT_EQ(total(statistics, "xmpp_starttls"), kUsers) << "TLS upgrades";
  EXPECT_EQ(total(statistics, "tr_authenticate"), kUsers);
  EXPECT_EQ(total(statistics, "tr_roster"), kUsers);
  EXPECT_EQ(total(statistics, "tr_chat"), kUsers * kMessagesPerUser) << "messages sent";
  EXPECT_GT(total(statistics, "xmpp_msg_latency"), 0) << "messages seen by receivers";
  for (const auto& [name, values] : statistics)
    EXPECT_FALSE(name.starts_with("error") || name == "timeout") << name << " in tsung's stats";
  // ack='local' completes on any answer, a SASL failure too: parleyd's log says who got in.
  EXPECT_EQ(occurrences(parleyd_log, "authenticated with PLAIN"), std::size_t(kUsers));
  EXPECT_EQ(occurrences(parleyd_log, " error "), 0u);
  std::cout << "[ tsung    ] " << kUsers << " users, " << kUsers * kMessagesPerUser
            << " messages in " << seconds << " s; means: connect "
            << overall_mean(statistics, "connect") << " ms, STARTTLS "
            << overall_mean(statistics, "xmpp_starttls") << " ms, authenticate+bind "
            << overall_mean(statistics, "tr_authenticate") << " ms, roster "
            << overall_mean(statistics, "tr_roster") << " ms, delivery "
            << overall_mean(statistics, "xmpp_msg_latency") << " ms ("
            << total(statistics, "xmpp_msg_latency") << " deliveries counted)\n";
}

}  // namespace
}  // namespace parley::integration
