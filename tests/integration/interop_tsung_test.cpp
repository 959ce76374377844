// parleyd under tsung 1.7 (Debian's tsung, the Erlang XMPP load generator) on 127.0.0.1:19254, in
// two arrival phases:
//   1. kOnlineUsers users ("online" session) each open a stream, upgrade it with STARTTLS, log in,
//      bind, send initial presence, get their roster, add an online user to it and subscribe to
//      its presence (tsung answers subscription requests with "subscribed" by itself), broadcast
//      a status, join a room on parleyd's MUC service, send one chat message to the first user
//      (tsung's destination="unique"; the first user writes to itself) and kChatsPerUser to users
//      who are online, kOfflineChatsPerUser to users who have never logged in (tsung's
//      destination="offline") and kGroupchatsPerUser messages to the room, then leave and close.
//   2. once every phase-1 session has ended, the kLateUsers users those offline messages went to
//      ("late" session) log in, send initial presence and stay a moment.
//
// What is asserted comes from what the receivers saw: tsung's dumptraffic writes every read each
// client made from its socket (after TLS) to tsung.dump, so the test rebuilds each user's incoming
// stream and checks it stanza by stanza: a roster result (not an error) for each roster get; the
// contact's available presence, with its broadcast status, at each subscriber; every one-to-one
// message at its addressee, counted per direction (sender -> receiver); every offline message at
// the late user it was sent to, marked with a delay from offline storage; every groupchat message
// at every occupant; and no error stanza anywhere. parleyd's log says who logged in and that the
// room was created once. tsung's own counters only say that the scenario ran to its end.
//
// tsung 1.7 authenticates with SASL PLAIN only (ts_jabber_common.erl knows PLAIN, ANONYMOUS and
// EXTERNAL), so this parleyd runs with insecure_allow_plain (PLAIN over TLS only, which parleyd
// enforces). tsung's TLS upgrade (Erlang ssl on OTP 25) does not verify the server's
// certificate: it is a load generator here, and certificate checking is what the slixmpp,
// profanity and go-sendxmpp suites test.
//
// tsung picks users deterministically enough for exact counts: ts_user_server hands out ids in
// order (user1..userN to phase 1, the rest to phase 2), and chooses "online" and "offline"
// destinations round robin among the users that are online / have never connected; everyone
// writing to the first user, who writes to others, makes messages in both directions certain
// (round robin alone can give every pair one direction only). Phase-1
// sessions end their stream with a raw </stream:stream> rather than tsung's "close", which would
// hand their ids out again and give phase 2 user1..userM instead of the offline users. The phases'
// arrival rates are far above their user counts so that every user starts (tsung's arrivals are
// random and a phase otherwise ends before all its users started), and the think times leave
// every user of a phase logged in and in the room before anyone writes.
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
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "interop_support.hpp"
#include "program.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::uint16_t kC2sPort = 19254;
constexpr int kOnlineUsers = 8;
constexpr int kLateUsers = 4;
constexpr int kUsers = kOnlineUsers + kLateUsers;
constexpr int kChatsPerUser = 8;
constexpr int kOfflineChatsPerUser = 2;
constexpr int kGroupchatsPerUser = 3;
constexpr std::string_view kRoom = "lobby";
constexpr std::string_view kBroadcastStatus = "tsung broadcast";

// The steps every session starts with: STARTTLS, PLAIN, bind, session, initial presence.
std::string log_in_steps(const fs::path& ca_file) {
  std::ostringstream xml;
  xml << R"(      <request><jabber type="connect" ack="local"/></request>
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
)";
  return xml.str();
}

std::string scenario(const fs::path& ca_file) {
  std::ostringstream xml;
  xml << R"(<?xml version="1.0"?>
<!DOCTYPE tsung SYSTEM "/usr/share/tsung/tsung-1.0.dtd">
<tsung loglevel="notice" dumptraffic="true" version="1.0">
  <clients><client host="localhost" use_controller_vm="true" maxusers="1000"/></clients>
  <servers><server host="127.0.0.1" port=")"
      << kC2sPort << R"(" type="tcp"/></servers>
  <load>
    <arrivalphase phase="1" duration="2" unit="second" wait_all_sessions_end="true">
      <users maxnumber=")"
      << kOnlineUsers << R"(" arrivalrate=")" << 10 * kOnlineUsers << R"(" unit="second"/>
      <session_setup name="online" probability="100"/>
    </arrivalphase>
    <arrivalphase phase="2" duration="2" unit="second">
      <users maxnumber=")"
      << kLateUsers << R"(" arrivalrate=")" << 10 * kLateUsers << R"(" unit="second"/>
      <session_setup name="late" probability="100"/>
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
    <option type="ts_jabber" name="muc_service" value=")"
      << kInteropMucDomain << R"("/>
  </options>
  <sessions>
    <session probability="0" name="online" type="ts_jabber" bidi="true">
)" << log_in_steps(ca_file)
      << R"(      <transaction name="roster">
        <request><jabber type="iq:roster:get" ack="local"/></request>
      </transaction>
      <thinktime value="2" random="false"/>
      <request><jabber type="iq:roster:add" ack="no_ack" destination="online" group="tsung"/></request>
      <request><jabber type="presence:subscribe" ack="no_ack"/></request>
      <thinktime value="2" random="false"/>
      <request><jabber type="presence:broadcast" ack="no_ack" show="chat" status=")"
      << kBroadcastStatus << R"("/></request>
      <request subst="true"><jabber type="muc:join" ack="no_ack" room=")"
      << kRoom << R"(" nick="tsung%%_tsung_userid%%"/></request>
      <thinktime value="3" random="false"/>
      <transaction name="chat">
        <request><jabber type="chat" ack="no_ack" size="24" destination="unique" stamped="true"/></request>
      </transaction>
      <thinktime value="0.1"/>
      <for from="1" to=")"
      << kChatsPerUser << R"(" incr="1" var="i">
        <transaction name="chat">
          <request><jabber type="chat" ack="no_ack" size="24" destination="online" stamped="true"/></request>
        </transaction>
        <thinktime value="0.1"/>
      </for>
      <for from="1" to=")"
      << kOfflineChatsPerUser << R"(" incr="1" var="i">
        <transaction name="offline_chat">
          <request><jabber type="chat" ack="no_ack" size="24" destination="offline"/></request>
        </transaction>
        <thinktime value="0.1"/>
      </for>
      <for from="1" to=")"
      << kGroupchatsPerUser << R"(" incr="1" var="i">
        <transaction name="groupchat">
          <request subst="true"><jabber type="muc:chat" ack="no_ack" size="24" room=")"
      << kRoom << R"(" stamped="true"/></request>
        </transaction>
        <thinktime value="0.1"/>
      </for>
      <thinktime value="3" random="false"/>
      <request subst="true"><jabber type="muc:exit" ack="no_ack" room=")"
      << kRoom << R"(" nick="tsung%%_tsung_userid%%"/></request>
      <transaction name="close">
        <request><jabber type="raw" ack="no_ack" data="&lt;/stream:stream&gt;"/></request>
      </transaction>
    </session>
    <session probability="0" name="late" type="ts_jabber" bidi="true">
)" << log_in_steps(ca_file)
      << R"(      <thinktime value="3" random="false"/>
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

// What one tsung client sent and read, in order, as tsung.dump recorded it.
struct ClientTraffic {
  std::string sent;
  std::string received;
};

// tsung.dump (dumptraffic="true"): "Send:TIME:PID:DATA" and "Recv:TIME:PID:DATA" per socket
// write / read, one client per Erlang PID ("<0.185.0>", no colon), between NewClient/EndClient/
// load lines. DATA may hold a newline: a line that starts with none of those continues the last.
std::map<std::string, ClientTraffic> traffic_by_client(const std::string& dump) {
  std::map<std::string, ClientTraffic> clients;
  std::string* last = nullptr;
  std::istringstream lines(dump);
  std::string line;
  while (std::getline(lines, line)) {
    const bool send = line.starts_with("Send:");
    if (send || line.starts_with("Recv:")) {
      const auto time_end = line.find(':', 5);
      const auto pid_end = time_end == std::string::npos ? time_end : line.find(':', time_end + 1);
      if (pid_end == std::string::npos) {
        last = nullptr;
        continue;
      }
      ClientTraffic& client = clients[line.substr(time_end + 1, pid_end - time_end - 1)];
      last = send ? &client.sent : &client.received;
      last->append(line, pid_end + 1);
    } else if (line.starts_with("NewClient:") || line.starts_with("EndClient:") ||
               line.starts_with("load:")) {
      last = nullptr;
    } else if (last != nullptr) {
      last->append("\n").append(line);
    }
  }
  return clients;
}

// The top-level <NAME ...> elements of an XMPP stream, each as written (start tag to end tag).
// Good enough for the stanzas parleyd and tsung write here: no stanza of one of these names nests
// inside another (no carbons or forwarded messages in this scenario).
std::vector<std::string> elements_named(const std::string& stream, std::string_view name) {
  std::vector<std::string> found;
  const std::string open = "<" + std::string(name);
  const std::string close = "</" + std::string(name) + ">";
  std::size_t at = 0;
  while ((at = stream.find(open, at)) != std::string::npos) {
    const std::size_t after_name = at + open.size();
    if (after_name >= stream.size() ||
        (stream[after_name] != ' ' && stream[after_name] != '>' && stream[after_name] != '/')) {
      at = after_name;
      continue;
    }
    const std::size_t tag_end = stream.find('>', after_name);
    if (tag_end == std::string::npos) break;
    std::size_t end = tag_end + 1;
    if (stream[tag_end - 1] != '/') {
      const std::size_t close_at = stream.find(close, tag_end);
      if (close_at == std::string::npos) break;
      end = close_at + close.size();
    }
    found.push_back(stream.substr(at, end - at));
    at = end;
  }
  return found;
}

// The value of attribute NAME on the element's start tag ("" when absent), either quote.
std::string attribute(std::string_view element, std::string_view name) {
  const std::string_view start_tag = element.substr(0, element.find('>'));
  for (std::size_t at = start_tag.find(name); at != std::string_view::npos;
       at = start_tag.find(name, at + 1)) {
    if (at == 0 || start_tag[at - 1] != ' ') continue;
    std::size_t equals = at + name.size();
    while (equals < start_tag.size() && start_tag[equals] == ' ') ++equals;
    if (equals + 1 >= start_tag.size() || start_tag[equals] != '=') continue;
    std::size_t quote = equals + 1;
    while (quote < start_tag.size() && start_tag[quote] == ' ') ++quote;
    if (quote >= start_tag.size() || (start_tag[quote] != '\'' && start_tag[quote] != '"'))
      continue;
    const std::size_t value_end = start_tag.find(start_tag[quote], quote + 1);
    if (value_end == std::string_view::npos) return {};
    return std::string(start_tag.substr(quote + 1, value_end - quote - 1));
  }
  return {};
}

// The text of the first <NAME>...</NAME> child ("" when absent).
std::string child_text(std::string_view element, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  const auto start = element.find(open);
  if (start == std::string_view::npos) return {};
  const auto end = element.find(close, start);
  if (end == std::string_view::npos) return {};
  return std::string(element.substr(start + open.size(), end - start - open.size()));
}

// "user7@example.test/tsung" -> "user7".
std::string localpart(std::string_view jid) {
  return std::string(jid.substr(0, jid.find('@')));
}

bool is_late_user(const std::string& user) {
  return user.starts_with("user") && std::stoi(user.substr(4)) > kOnlineUsers;
}

// One tsung client's view: who it was and the stanzas it sent and read.
struct Client {
  std::string user;  // from its bind result: "user3"
  std::vector<std::string> sent_iqs, sent_presences, sent_messages;
  std::vector<std::string> received_iqs, received_presences, received_messages;
};

std::vector<Client> clients_from(const std::map<std::string, ClientTraffic>& traffic) {
  std::vector<Client> clients;
  for (const auto& [pid, data] : traffic) {
    Client client;
    client.user = localpart(child_text(data.received, "jid"));
    client.sent_iqs = elements_named(data.sent, "iq");
    client.sent_presences = elements_named(data.sent, "presence");
    client.sent_messages = elements_named(data.sent, "message");
    client.received_iqs = elements_named(data.received, "iq");
    client.received_presences = elements_named(data.received, "presence");
    client.received_messages = elements_named(data.received, "message");
    clients.push_back(std::move(client));
  }
  return clients;
}

// The sum of a map's counts.
template <typename Counts>
int sum(const Counts& counts) {
  int n = 0;
  for (const auto& entry : counts) n += entry.second;
  return n;
}

using PairCounts = std::map<std::pair<std::string, std::string>, int>;  // (from, to) -> count

std::string show(const PairCounts& counts) {
  std::ostringstream out;
  for (const auto& [pair, count] : counts)
    out << pair.first << "->" << pair.second << ":" << count << ' ';
  return out.str();
}

std::size_t occurrences(const std::string& text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

TEST(ParleydWithTsung, LoginRosterPresenceChatBothWaysOfflineDeliveryAndGroupChat) {
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
  std::string dump;
  for (const auto& entry : fs::directory_iterator(home / "log"))
    if (fs::exists(entry.path() / "tsung.log")) {
      tsung_log = file_contents(entry.path() / "tsung.log");
      dump = file_contents(entry.path() / "tsung.dump");
    }
  ASSERT_FALSE(tsung_log.empty()) << run->output;
  ASSERT_FALSE(dump.empty()) << "no tsung.dump: " << run->output;
  const auto statistics = latest_statistics(tsung_log);
  std::ostringstream shown;
  for (const auto& [name, values] : statistics) {
    shown << name;
    for (double value : values) shown << ' ' << value;
    shown << '\n';
  }
  const std::string parleyd_log = (*server)->log_tail(10'000'000);
  SCOPED_TRACE("tsung's last statistics:\n" + shown.str() + "parleyd's log (end):\n" +
               (*server)->log_tail(3000) + "\ntsung's traffic: " + (home / "log").string());

  // The scenario ran to its end (tsung's own view).
  EXPECT_EQ(total(statistics, "users_count"), kUsers) << "users started";
  EXPECT_EQ(total(statistics, "finish_users_count"), kUsers) << "users that ended their session";
  for (const auto& [name, values] : statistics)
    EXPECT_FALSE(name.starts_with("error") || name == "timeout") << name << " in tsung's stats";

  // Logins, from parleyd's side: ack='local' completes on any answer, a SASL failure too.
  EXPECT_EQ(occurrences(parleyd_log, "authenticated with PLAIN"), std::size_t(kUsers));
  EXPECT_EQ(occurrences(parleyd_log, " error "), 0u);

  const auto clients = clients_from(traffic_by_client(dump));
  std::set<std::string> users;
  for (const auto& client : clients) users.insert(client.user);
  ASSERT_EQ(clients.size(), std::size_t(kUsers)) << "tsung clients in tsung.dump";
  ASSERT_EQ(users.size(), std::size_t(kUsers)) << "distinct users bound";
  for (int id = 1; id <= kUsers; ++id)
    EXPECT_TRUE(users.contains("user" + std::to_string(id))) << "user" << id << " never bound";

  // No error stanza reached any client.
  for (const auto& client : clients)
    for (const auto* stanzas :
         {&client.received_iqs, &client.received_presences, &client.received_messages})
      for (const auto& stanza : *stanzas)
        EXPECT_NE(attribute(stanza, "type"), "error") << client.user << " received " << stanza;

  // Roster: each online user's roster get is answered with a result carrying a roster.
  int roster_results = 0;
  for (const auto& client : clients) {
    if (is_late_user(client.user)) continue;
    for (const auto& iq : client.sent_iqs) {
      if (attribute(iq, "type") != "get" || iq.find("jabber:iq:roster") == std::string::npos)
        continue;
      const std::string id = attribute(iq, "id");
      const auto answer = std::find_if(
          client.received_iqs.begin(), client.received_iqs.end(),
          [&](const std::string& received) { return attribute(received, "id") == id; });
      ASSERT_NE(answer, client.received_iqs.end()) << client.user << ": no answer to " << iq;
      EXPECT_EQ(attribute(*answer, "type"), "result") << client.user << ": " << *answer;
      EXPECT_NE(answer->find("jabber:iq:roster"), std::string::npos) << *answer;
      ++roster_results;
    }
  }
  EXPECT_EQ(roster_results, kOnlineUsers) << "roster gets answered with a result";

  // Presence: each online user subscribed to another online user, whose tsung approved; parleyd
  // then sends the contact's presence to the subscriber, and its later broadcast too. Whichever
  // order those happened in, the last presence the subscriber has from the contact is available
  // (no type) and carries the broadcast status.
  int subscriptions = 0;
  for (const auto& client : clients) {
    for (const auto& presence : client.sent_presences) {
      if (attribute(presence, "type") != "subscribe") continue;
      ++subscriptions;
      const std::string contact = localpart(attribute(presence, "to"));
      std::vector<std::string> from_contact;
      for (const auto& received : client.received_presences)
        if (attribute(received, "from").starts_with(contact + "@example.test/"))
          from_contact.push_back(received);
      ASSERT_FALSE(from_contact.empty())
          << client.user << " subscribed to " << contact << " but never saw its presence";
      // A contact whose session ended first was also seen going offline: the last *available*
      // presence is the one to look at.
      const auto available =
          std::find_if(from_contact.rbegin(), from_contact.rend(),
                       [](const std::string& seen) { return attribute(seen, "type").empty(); });
      ASSERT_NE(available, from_contact.rend())
          << client.user << " never saw " << contact << " available: " << from_contact.back();
      EXPECT_EQ(child_text(*available, "status"), kBroadcastStatus)
          << client.user << " did not get " << contact << "'s broadcast: " << *available;
    }
  }
  EXPECT_EQ(subscriptions, kOnlineUsers) << "presence subscriptions sent";

  // One-to-one messages: what each sender addressed to each receiver, against what each receiver
  // got from each sender (per direction). Offline ones are those to the late users.
  PairCounts sent_online, received_online, sent_offline, received_offline;
  for (const auto& client : clients) {
    for (const auto& message : client.sent_messages) {
      if (attribute(message, "type") != "chat") continue;
      const std::string to = localpart(attribute(message, "to"));
      (is_late_user(to) ? sent_offline : sent_online)[{client.user, to}]++;
    }
    for (const auto& message : client.received_messages) {
      if (attribute(message, "type") != "chat" || child_text(message, "body").empty()) continue;
      const std::string from = localpart(attribute(message, "from"));
      const bool delayed = message.find("urn:xmpp:delay") != std::string::npos;
      if (is_late_user(client.user)) {
        EXPECT_TRUE(delayed) << client.user << " got without a delay stamp: " << message;
        received_offline[{from, client.user}]++;
      } else {
        EXPECT_FALSE(delayed) << client.user << " was online but got: " << message;
        received_online[{from, client.user}]++;
      }
    }
  }
  EXPECT_EQ(sum(sent_online), kOnlineUsers * (1 + kChatsPerUser)) << show(sent_online);
  EXPECT_EQ(received_online, sent_online)
      << "delivered: " << show(received_online) << "\nsent: " << show(sent_online);
  int both_ways = 0;
  std::set<std::string> senders, receivers;
  for (const auto& [pair, count] : received_online) {
    senders.insert(pair.first);
    receivers.insert(pair.second);
    if (pair.first < pair.second && received_online.contains({pair.second, pair.first}))
      ++both_ways;
  }
  EXPECT_EQ(senders.size(), std::size_t(kOnlineUsers)) << "users whose messages arrived";
  EXPECT_EQ(receivers.size(), std::size_t(kOnlineUsers)) << "users who received messages";
  EXPECT_GT(both_ways, 0) << "pairs with messages delivered in both directions: "
                          << show(received_online);

  // Offline delivery: sent while the late users had never logged in (their phase starts when
  // every phase-1 session has ended), stored, and delivered with a delay when they came online.
  EXPECT_EQ(sum(sent_offline), kOnlineUsers * kOfflineChatsPerUser) << show(sent_offline);
  EXPECT_EQ(received_offline, sent_offline)
      << "delivered: " << show(received_offline) << "\nsent: " << show(sent_offline);
  std::set<std::string> late_receivers;
  for (const auto& entry : received_offline) late_receivers.insert(entry.first.second);
  EXPECT_EQ(late_receivers.size(), std::size_t(kLateUsers)) << show(received_offline);

  // Group chat: every occupant gets every groupchat message (its own echoed back too), once.
  const std::string room_jid = std::string(kRoom) + "@" + std::string(kInteropMucDomain);
  std::map<std::string, int> groupchat_sent;
  for (const auto& client : clients)
    for (const auto& message : client.sent_messages)
      if (attribute(message, "type") == "groupchat") groupchat_sent[child_text(message, "body")]++;
  EXPECT_EQ(sum(groupchat_sent), kOnlineUsers * kGroupchatsPerUser);
  for (const auto& client : clients) {
    if (is_late_user(client.user)) continue;
    std::map<std::string, int> groupchat_received;
    for (const auto& message : client.received_messages) {
      if (attribute(message, "type") != "groupchat" || child_text(message, "body").empty())
        continue;
      EXPECT_TRUE(attribute(message, "from").starts_with(room_jid + "/")) << message;
      EXPECT_EQ(message.find("urn:xmpp:delay"), std::string::npos) << "history? " << message;
      groupchat_received[child_text(message, "body")]++;
    }
    EXPECT_EQ(groupchat_received, groupchat_sent)
        << client.user << " got " << sum(groupchat_received) << " groupchat messages of "
        << sum(groupchat_sent);
  }
  EXPECT_EQ(occurrences(parleyd_log, "muc: " + room_jid + " created by"), 1u);

  std::cout << "[ tsung    ] " << kUsers << " users in " << seconds
            << " s: " << sum(received_online) << " chat messages delivered online (" << both_ways
            << " pairs both ways), " << sum(received_offline) << " offline, "
            << kOnlineUsers * sum(groupchat_sent) << " groupchat deliveries; means: "
            << "STARTTLS " << overall_mean(statistics, "xmpp_starttls") << " ms, authenticate+bind "
            << overall_mean(statistics, "tr_authenticate") << " ms, roster "
            << overall_mean(statistics, "tr_roster") << " ms, delivery "
            << overall_mean(statistics, "xmpp_msg_latency") << " ms\n";
}

}  // namespace
}  // namespace parley::integration
