// parleyd operations end to end: the limits an operator configures (failed logins per address,
// idle timeout, stanza rate), the account commands (`parleyd user passwd|del`), what the server
// says about itself (XEP-0030), SIGTERM with bound sessions (RFC 6120 4.9.3.22, XEP-0198 4), and
// PLAIN enabled but still refused before TLS. One real parleyd per test on 127.0.0.1:19330
// (STARTTLS) and 19331 (direct TLS), driven by the byte-exact client of parleyd_raw_client.hpp.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/test_support.hpp"
#include "parleyd_peer.hpp"
#include "parleyd_raw_client.hpp"
#include "program.hpp"
#include "xmpp/base64.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kC2sPort = 19330;
constexpr std::uint16_t kDirectTlsPort = 19331;

class ParleydOperationsTest : public ParleydServerTest {
 protected:
  ParleydOperationsTest() : ParleydServerTest(kC2sPort, kDirectTlsPort) {}

  void restart_with(const std::string& extra_configuration, bool allow_plain = false) {
    server_.reset();
    start_server(extra_configuration, allow_plain);
  }

  // `parleyd --config FILE user ACTION JID` with `input` on stdin.
  ProgramOutcome user_command(const std::string& action, const std::string& jid,
                              std::string input = {}) {
    auto outcome = run_program(
        {PARLEYD_BINARY, "--config", server_->config_file(), "user", action, jid},
        ProgramOptions{.standard_input = std::move(input), .environment = {}, .timeout = 30s});
    EXPECT_TRUE(outcome) << outcome.error().message;
    return outcome ? *outcome : ProgramOutcome{};
  }

  // The answer to a SCRAM-SHA-256-PLUS login on a new connection: "success" or the failure.
  std::string login(const std::string& user, const std::string& password,
                    const std::string& source_address = {}) {
    auto client = tls_client(source_address);
    if (!client) return "no connection";
    return scram_login(*client, user, password, "SCRAM-SHA-256-PLUS");
  }
};

// The top-level stanzas in `text` (no stanza these tests receive nests another).
std::size_t stanzas_in(std::string_view text) {
  std::size_t count = 0;
  for (std::string_view open : {"<message ", "<presence", "<iq "}) {
    for (auto at = text.find(open); at != std::string_view::npos; at = text.find(open, at + 1))
      ++count;
  }
  return count;
}

// ----- per-address limit on failed logins --------------------------------------------------------

TEST_F(ParleydOperationsTest, FailedLoginsHitTheAddressLimitButNotAnotherAddress) {
  restart_with("[limits]\nauth_failures_per_minute = 4\n");
  // Four wrong passwords from 127.0.0.1 over two connections: a new connection does not reset the
  // count (the limit is per address, not per stream).
  {
    auto first = tls_client();
    ASSERT_TRUE(first);
    for (int i = 0; i < 3; ++i) {
      auto answer = scram_login(*first, "alice", "wrong", "SCRAM-SHA-256");
      EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
    }
    EXPECT_TRUE(first->read_until_closed(5s)) << "three failures in one stream close it";
  }
  auto second = tls_client();
  ASSERT_TRUE(second);
  auto answer = scram_login(*second, "alice", "wrong", "SCRAM-SHA-256");
  EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  second.reset();
  // The limit reached, the right password from 127.0.0.1 is refused without a proof check.
  answer = login("alice", "alice-password");
  EXPECT_NE(answer.find("<temporary-auth-failure/>"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("success"), std::string::npos) << answer;
  // Another client address is not punished for 127.0.0.1's guessing.
  EXPECT_EQ(login("alice", "alice-password", "127.0.0.2"), "success") << server_->log_tail();
  EXPECT_EQ(login("bob", "bob-password", "127.0.0.2"), "success");
  // ...and a wrong password from there still counts as a plain failure, not a lockout.
  EXPECT_NE(login("bob", "wrong", "127.0.0.2").find("<not-authorized/>"), std::string::npos);
}

// ----- idle timeout
// -------------------------------------------------------------------------------

TEST_F(ParleydOperationsTest, IdleSessionTimesOutWhileKeepalivesAndPingsKeepTheirs) {
  restart_with("[limits]\nidle_timeout_seconds = 2\n");
  auto idle = bound_client("alice", "idle");
  auto whitespace = bound_client("alice", "whitespace");
  auto pinging = bound_client("bob", "pinging");
  ASSERT_TRUE(idle && whitespace && pinging);
  // Three idle timeouts of wall time; the two live sessions speak every 400 ms meanwhile (a
  // fifth of the timeout, so a slow machine has room), the idle one says nothing.
  const auto until = Clock::now() + 6s;
  int pings = 0;
  while (Clock::now() < until) {
    ASSERT_TRUE(whitespace->send(" "));
    ASSERT_TRUE(ping(*pinging, "keep" + std::to_string(++pings))) << pinging->received();
    std::this_thread::sleep_for(400ms);  // pacing only: the assertions are on what arrived
  }
  EXPECT_TRUE(idle->read_until("<connection-timeout", 5s)) << idle->received();
  EXPECT_TRUE(idle->read_until_closed(5s)) << "the idle session is closed after its stream error";
  for (auto* live : {whitespace.get(), pinging.get()}) {
    EXPECT_EQ(live->received().find("<connection-timeout"), std::string::npos) << live->received();
    EXPECT_FALSE(live->closed());
    EXPECT_TRUE(ping(*live, "still-there")) << live->received();
  }
}

// ----- account commands
// ---------------------------------------------------------------------------

TEST_F(ParleydOperationsTest, UserPasswdReplacesThePassword) {
  auto changed = user_command("passwd", "alice@example.test", "a-new-password\n");
  EXPECT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("changed the password of alice@example.test"), std::string::npos)
      << changed.output;
  const std::string old_answer = login("alice", "alice-password");
  EXPECT_NE(old_answer.find("<not-authorized/>"), std::string::npos) << old_answer;
  EXPECT_EQ(login("alice", "a-new-password"), "success") << server_->log_tail();
  auto client = tls_client();
  ASSERT_TRUE(client);
  EXPECT_EQ(scram_login(*client, "alice", "a-new-password", "SCRAM-SHA-1"), "success")
      << "both SCRAM hashes were replaced";
  EXPECT_EQ(login("bob", "bob-password"), "success") << "the other account is untouched";

  // Passwords are kept only as SCRAM salted keys: neither the old nor the new one is anywhere in
  // the server's files (the database, its WAL, the configuration, the log).
  std::size_t files_read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(server_->directory())) {
    if (!entry.is_regular_file()) continue;
    ++files_read;
    const std::string bytes = test_support::file_bytes(entry.path());
    for (const char* password : {"alice-password", "a-new-password"})
      EXPECT_EQ(bytes.find(password), std::string::npos) << password << " is in " << entry.path();
  }
  EXPECT_GE(files_read, 3u) << "the database, the configuration and the log were read";
}

TEST_F(ParleydOperationsTest, UserDelRemovesTheAccountItsRosterAndItsOfflineMessages) {
  {
    // bob keeps alice in his roster, and a message waits for him offline.
    auto bob = bound_client("bob", "b");
    ASSERT_TRUE(bob);
    auto mark = bob->mark();
    bob->send(
        "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'>"
        "<item jid='alice@example.test' name='Alice'/></query></iq>");
    ASSERT_TRUE(bob->read_until("<iq type='result' id='r1'", 5s, mark)) << bob->received();
  }
  {
    auto alice = bound_client("alice", "a");
    ASSERT_TRUE(alice);
    alice->send("<message to='bob@example.test' type='chat'><body>kept for bob</body></message>");
    ASSERT_TRUE(ping(*alice, "stored"));  // the message was handled (stored) before this
  }
  auto deleted = user_command("del", "bob@example.test");
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  const std::string answer = login("bob", "bob-password");
  EXPECT_NE(answer.find("<not-authorized/>"), std::string::npos) << answer;
  // The same name made again is a new account: nothing of the old one comes back (the store
  // promises roster and offline messages go with the account).
  auto added = user_command("add", "bob@example.test", "bob-password\n");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(bob);
  auto mark = bob->mark();
  bob->send("<iq type='get' id='r2'><query xmlns='jabber:iq:roster'/></iq>");
  ASSERT_TRUE(bob->read_until("</iq>", 5s, mark)) << bob->received();
  EXPECT_EQ(bob->received().find("alice@example.test", mark), std::string::npos)
      << bob->received().substr(mark);
  mark = bob->mark();
  bob->send("<presence/>");
  ASSERT_TRUE(ping(*bob, "after-presence"));  // offline messages would have come before this
  EXPECT_EQ(bob->received().find("kept for bob", mark), std::string::npos)
      << bob->received().substr(mark);
}

TEST_F(ParleydOperationsTest, UserCommandsFailClearlyOnMissingInputOrAccount) {
  auto no_password = user_command("passwd", "alice@example.test", "");
  EXPECT_NE(no_password.exit_code, 0) << no_password.output;
  EXPECT_NE(no_password.output.find("no password on stdin"), std::string::npos)
      << no_password.output;
  auto empty_line = user_command("passwd", "alice@example.test", "\n");
  EXPECT_NE(empty_line.exit_code, 0) << empty_line.output;
  EXPECT_NE(empty_line.output.find("the password is empty"), std::string::npos)
      << empty_line.output;
  auto missing = user_command("passwd", "nobody@example.test", "some-password\n");
  EXPECT_NE(missing.exit_code, 0) << missing.output;
  EXPECT_NE(missing.output.find("nobody"), std::string::npos) << missing.output;
  auto missing_del = user_command("del", "nobody@example.test");
  EXPECT_NE(missing_del.exit_code, 0) << missing_del.output;
  EXPECT_NE(missing_del.output.find("no such account"), std::string::npos) << missing_del.output;
  auto foreign = user_command("del", "alice@other.test");
  EXPECT_NE(foreign.exit_code, 0) << foreign.output;
  // None of the refusals touched the account that exists.
  EXPECT_EQ(login("alice", "alice-password"), "success");
  EXPECT_NE(login("nobody", "some-password").find("<not-authorized/>"), std::string::npos)
      << "a failed passwd made no account";
}

// ----- presence flood
// -----------------------------------------------------------------------------

TEST_F(ParleydOperationsTest, PresenceFloodIsThrottledAndOthersStayResponsive) {
  restart_with("[limits]\nstanzas_per_second = 100\nstanza_burst = 20\n");
  auto flooder = bound_client("alice", "flood");
  auto bystander = bound_client("bob", "b");
  ASSERT_TRUE(flooder && bystander);
  std::string burst;
  for (int i = 0; i < 300; ++i)
    burst += "<presence><status>p" + std::to_string(i) + "</status></presence>";
  burst += "<iq type='get' id='after-flood'><ping xmlns='urn:xmpp:ping'/></iq>";
  const auto started = Clock::now();
  ASSERT_TRUE(flooder->send(burst));
  // The bystander's own budget is untouched: its ping comes back while the flood is still
  // being worked through (300 stanzas at 100/s take ~2.8 s).
  EXPECT_TRUE(ping(*bystander, "bystander", 5s)) << bystander->received();
  EXPECT_EQ(flooder->received().find("id='after-flood'"), std::string::npos)
      << "the flood was not slowed down at all";
  EXPECT_TRUE(flooder->read_until("<iq type='result' id='after-flood'", 20s))
      << "the flooder is slowed down, not cut off: " << flooder->received() << server_->log_tail();
  EXPECT_GE(Clock::now() - started, 2s) << "(300 + 1 - 20 burst) stanzas at 100/s take ~2.8 s";
  EXPECT_EQ(flooder->received().find("<stream:error"), std::string::npos) << flooder->received();
  flooder.reset();
  expect_fresh_session_works("after the presence flood");
}

// ----- service discovery
// --------------------------------------------------------------------------

TEST_F(ParleydOperationsTest, ServerDiscoInfoNamesTheServerAndWhatItImplements) {
  auto alice = bound_client("alice", "a");
  ASSERT_TRUE(alice);
  auto mark = alice->mark();
  alice->send(
      "<iq type='get' id='d1' to='example.test'>"
      "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 5s, mark)) << alice->received();
  const std::string info = alice->received().substr(mark);
  EXPECT_NE(info.find("<iq type='result' id='d1' from='example.test'"), std::string::npos) << info;
  EXPECT_NE(info.find("<identity category='server' type='im'"), std::string::npos) << info;
  for (std::string_view feature :
       {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
        "urn:xmpp:ping", "urn:xmpp:carbons:2", "jabber:iq:roster", "jabber:iq:version",
        "msgoffline"}) {
    EXPECT_NE(info.find("<feature var='" + std::string(feature) + "'/>"), std::string::npos)
        << feature << " in " << info;
  }
  // Nothing it does not do: no in-band registration, no vCards.
  EXPECT_EQ(info.find("jabber:iq:register"), std::string::npos) << info;
  EXPECT_EQ(info.find("vcard-temp"), std::string::npos) << info;
  // XEP-0313 7: the archive is advertised where it lives, on the account's bare JID.
  mark = alice->mark();
  alice->send(
      "<iq type='get' id='d2' to='alice@example.test'>"
      "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 5s, mark)) << alice->received();
  const std::string account = alice->received().substr(mark);
  EXPECT_NE(account.find("<iq type='result' id='d2'"), std::string::npos) << account;
  EXPECT_NE(account.find("<identity category='account' type='registered'"), std::string::npos)
      << account;
  EXPECT_NE(account.find("<feature var='urn:xmpp:mam:2'/>"), std::string::npos) << account;
  // What is advertised answers: ping (a result, not an error) and software version.
  EXPECT_TRUE(ping(*alice, "advertised-ping")) << alice->received();
  mark = alice->mark();
  alice->send("<iq type='get' id='v1' to='example.test'><query xmlns='jabber:iq:version'/></iq>");
  ASSERT_TRUE(alice->read_until("</iq>", 5s, mark)) << alice->received();
  EXPECT_NE(alice->received().find("<iq type='result' id='v1'", mark), std::string::npos)
      << alice->received().substr(mark);
  EXPECT_NE(alice->received().find("<name>parleyd</name>", mark), std::string::npos)
      << alice->received().substr(mark);
}

// ----- SIGTERM with bound sessions
// ----------------------------------------------------------------

TEST_F(ParleydOperationsTest, SigtermEndsBoundTlsSessionsAndKeepsUnacknowledgedMessages) {
  auto alice = bound_client("alice", "a");
  auto bob = bound_client("bob", "b");
  ASSERT_TRUE(alice && bob);
  auto mark = alice->mark();
  alice->send("<enable xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(alice->read_until("<enabled xmlns='urn:xmpp:sm:3'/>", 5s, mark))
      << alice->received().substr(mark);
  const std::size_t enabled_at = alice->mark();
  alice->send("<presence/>");
  bob->send("<message to='alice@example.test/a' type='chat'><body>acknowledged</body></message>");
  ASSERT_TRUE(alice->read_until("acknowledged</body>", 5s, enabled_at));
  // Wait for the server's ack request, then acknowledge everything received so far.
  ASSERT_TRUE(alice->read_until("<r xmlns='urn:xmpp:sm:3'/>", 5s, enabled_at));
  const std::size_t handled = stanzas_in(std::string_view(alice->received()).substr(enabled_at));
  mark = alice->mark();
  alice->send("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(handled) +
              "'/><r xmlns='urn:xmpp:sm:3'/>");
  ASSERT_TRUE(alice->read_until("<a xmlns='urn:xmpp:sm:3' h=", 5s, mark));
  ASSERT_EQ(alice->received().find("<stream:error", mark), std::string::npos)
      << "h=" << handled << " was not what the server sent: " << alice->received().substr(mark);
  bob->send(
      "<message to='alice@example.test/a' type='chat'><body>never acknowledged</body></message>");
  ASSERT_TRUE(alice->read_until("never acknowledged", 5s, mark));

  mark = alice->mark();
  const auto bob_mark = bob->mark();
  server_->signal(SIGTERM);
  // Over TLS, both bound sessions hear why, then the stream ends and the connection closes.
  EXPECT_TRUE(alice->read_until("<system-shutdown", 10s, mark)) << alice->received().substr(mark);
  EXPECT_TRUE(alice->read_until("</stream:stream>", 10s, mark)) << alice->received().substr(mark);
  EXPECT_TRUE(alice->read_until_closed(10s));
  EXPECT_TRUE(bob->read_until("<system-shutdown", 10s, bob_mark)) << bob->received();
  EXPECT_EQ(server_->wait_for_exit(20s), std::optional<int>(0)) << server_->log_tail();

  // XEP-0198 4 / RFC 6120 10.5.1: the stanza alice never acknowledged is handled as undelivered
  // (kept offline for her); the acknowledged one is not delivered twice.
  auto restarted = server_->restart();
  ASSERT_TRUE(restarted) << restarted.error().message;
  alice = bound_client("alice", "a");
  ASSERT_TRUE(alice);
  mark = alice->mark();
  alice->send("<presence/>");
  EXPECT_TRUE(alice->read_until("never acknowledged", 10s, mark))
      << alice->received().substr(mark) << server_->log_tail();
  ASSERT_TRUE(ping(*alice, "after-offline"));
  EXPECT_EQ(alice->received().find(">acknowledged<", mark), std::string::npos)
      << "an acknowledged stanza was stored again: " << alice->received().substr(mark);
}

// ----- PLAIN, when enabled, is still TLS-only
// ------------------------------------------------------

TEST_F(ParleydOperationsTest, EnabledPlainIsNeitherOfferedNorAcceptedBeforeTls) {
  restart_with({}, true);
  auto client = RawClient::connect(kC2sPort);
  ASSERT_TRUE(client);
  client->send(kHeader);
  ASSERT_TRUE(client->read_until("</stream:features>"));
  EXPECT_EQ(client->received().find("<mechanisms"), std::string::npos) << client->received();
  EXPECT_EQ(client->received().find("PLAIN"), std::string::npos) << client->received();
  const auto mark = client->mark();
  client->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
               xmpp::base64_encode(std::string("\0alice\0alice-password", 21)) + "</auth>");
  EXPECT_TRUE(client->read_until("<encryption-required/>", 5s, mark)) << client->received();
  EXPECT_EQ(client->received().find("<success", mark), std::string::npos) << client->received();
  // A SASL failure leaves the stream open (RFC 6120 6.4.5) but unauthenticated: a stanza now is
  // refused and ends it.
  client->send("<message to='bob@example.test'><body>not logged in</body></message>");
  EXPECT_TRUE(client->read_until("<not-authorized", 5s, mark)) << client->received();
  EXPECT_TRUE(client->read_until_closed(5s));
  // The same server offers and accepts PLAIN once TLS is up: the refusal above is TLS's doing.
  auto secured = tls_client();
  ASSERT_TRUE(secured);
  EXPECT_NE(secured->received().find("<mechanism>PLAIN</mechanism>"), std::string::npos)
      << secured->received();
  const auto secured_mark = secured->mark();
  secured->send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
                xmpp::base64_encode(std::string("\0alice\0alice-password", 21)) + "</auth>");
  EXPECT_TRUE(secured->read_until("<success", 5s, secured_mark)) << secured->received();
}

}  // namespace
}  // namespace parley::integration
