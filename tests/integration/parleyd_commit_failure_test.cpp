// parleyd when the store refuses a group commit (services.hpp): nothing it acknowledged may be
// lost. A real SQLite file will not fail a commit on request, so the store is wrapped in a
// decorator that, when told to, refuses the commit and really loses the transaction (it closes
// the connection, which makes SQLite roll back, and opens the file again). parleyd runs in this
// process (server::Server on its own io_context thread) so that the test can hand it that store
// and read its statistics; the clients are libparley's real client stream over TLS and SCRAM.
// Port 19320 is this suite's (xmpp_peers.hpp).
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "server/server.hpp"
#include "store/storage.hpp"
#include "tls/context.hpp"
#include "xmpp/client_stream.hpp"
#include "xmpp/sasl_scram.hpp"
#include "xmpp/stanza.hpp"

namespace parley::integration {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kC2sPort = 19320;
const std::string kFixtures = PARLEY_FIXTURES_DIR;
constexpr std::string_view kInjected = "injected commit failure";
constexpr std::string_view kSmNamespace = "urn:xmpp:sm:3";

// A store whose group commits fail while fail_commits is set, as a disk error would make them:
// the transaction is lost, and the store works again for the next one.
class CommitFailingStorage final : public store::Storage {
 public:
  explicit CommitFailingStorage(std::string url)
      : url_(std::move(url)), inner_(open_or_die(url_)) {}

  store::AccountStore& accounts() override { return inner_->accounts(); }
  store::RosterStore& roster() override { return inner_->roster(); }
  store::OfflineStore& offline() override { return inner_->offline(); }
  store::ArchiveStore& archive() override { return inner_->archive(); }
  Result<void> in_transaction(const std::function<Result<void>()>& work) override {
    return inner_->in_transaction(work);
  }
  Result<void> begin_group() override { return inner_->begin_group(); }
  Result<void> commit_group() override {
    if (!fail_commits.load()) return inner_->commit_group();
    ++failed_commits;
    // Closing a SQLite connection rolls back the transaction it holds: the group's writes are
    // gone for real, as after a refused COMMIT.
    inner_.reset();
    inner_ = open_or_die(url_);
    return fail(Error::io(url_ + ": commit: " + std::string(kInjected)));
  }
  bool in_group() const override { return inner_->in_group(); }

  std::atomic<bool> fail_commits{false};
  std::atomic<int> failed_commits{0};

 private:
  static std::unique_ptr<store::Storage> open_or_die(const std::string& url) {
    auto opened = store::Storage::open(url);
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      std::abort();  // the server cannot go on without a store, nor can the test
    }
    return std::move(*opened);
  }

  std::string url_;
  std::unique_ptr<store::Storage> inner_;
};

class ParleydCommitFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("parleyd-commit-failure-" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    auto storage =
        std::make_unique<CommitFailingStorage>("sqlite://" + (directory_ / "parley.db").string());
    for (const char* name : {"alice", "bob", "carol", "frank"}) {
      const std::string password = std::string(name) + "-password";
      auto sha1 = xmpp::sasl::derive_scram_credentials(password, xmpp::sasl::ScramHash::sha1);
      auto sha256 = xmpp::sasl::derive_scram_credentials(password, xmpp::sasl::ScramHash::sha256);
      ASSERT_TRUE(sha1 && sha256);
      ASSERT_TRUE(storage->accounts().create(name, *sha1, *sha256));
    }
    storage_ = storage.get();

    config_.domain = "example.test";
    config_.certificate_file = kFixtures + "/chains/p256/chain.pem";
    config_.key_file = kFixtures + "/chains/p256/leaf.key";
    config_.c2s_listen = {server::ListenAddress{.host = "127.0.0.1", .port = kC2sPort}};
    log_ = std::make_shared<spdlog::logger>(
        "parleyd", std::make_shared<spdlog::sinks::ostream_sink_mt>(log_text_));
    auto server = server::Server::create(io_, config_, log_, std::move(storage));
    ASSERT_TRUE(server) << server.error().message;
    server_ = std::move(*server);
    server_->start();
    io_thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    stop_event_loop();
    server_.reset();
    std::filesystem::remove_all(directory_);
  }

  // Stops the server and its thread; the server object stays to be looked at.
  void stop_event_loop() {
    if (!io_thread_.joinable()) return;
    boost::asio::post(io_, [this] { server_->stop([this] { io_.stop(); }); });
    io_thread_.join();
  }

  // Holds the server's event loop until the returned promise is set, so that what several
  // clients send meanwhile is handled in one turn (and one write group).
  std::promise<void> hold_event_loop() {
    std::promise<void> release;
    std::promise<void> holding;
    auto held = holding.get_future();
    boost::asio::post(io_, [released = release.get_future().share(),
                            holding = std::make_shared<std::promise<void>>(std::move(holding))] {
      holding->set_value();
      released.wait();
    });
    held.wait();
    return release;
  }

  static std::unique_ptr<xmpp::ClientStream> log_in(const std::string& user,
                                                    const std::string& resource) {
    auto account = xmpp::Jid::parse(user + "@example.test");
    EXPECT_TRUE(account);
    if (!account) return nullptr;
    xmpp::ClientStreamOptions options(*account);
    options.connect_host = "127.0.0.1";
    options.port = kC2sPort;
    options.resource = resource;
    auto context = tls::ClientContext::create({});
    EXPECT_TRUE(context);
    if (!context) return nullptr;
    options.tls_context = *context;
    // The test started this server with a known chain: its leaf is accepted as it is.
    const xmpp::CertificateJudge judge = [](const tls::Session& session) {
      const auto& chain = session.peer_chain();
      if (chain.empty()) return Result<tls::PeerAcceptance>(fail(Error::io("no certificate")));
      return Result<tls::PeerAcceptance>(tls::PeerAcceptance::from_trust_decision(
          *chain.front(), tls::AcceptanceBasis::accepted_by_user));
    };
    auto stream = xmpp::ClientStream::open(options, judge, user + "-password");
    EXPECT_TRUE(stream) << user << ": " << xmpp::to_string(stream.error().stage) << ": "
                        << stream.error().error.message;
    if (!stream) return nullptr;
    return std::move(*stream);
  }

  // What arrives until an element `done` accepts (the last one kept), the stream ends (its
  // error is kept), or `timeout` passes.
  struct Received {
    std::vector<xml::Element> elements;
    std::optional<Error> stream_ended;
  };
  static Received receive_until(xmpp::ClientStream& stream,
                                const std::function<bool(const xml::Element&)>& done,
                                std::chrono::milliseconds timeout = 10s) {
    Received received;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      auto next = stream.receive(deadline);
      if (!next) {
        received.stream_ended = next.error();
        return received;
      }
      if (!*next) return received;  // timed out
      received.elements.push_back(std::move(**next));
      if (done(received.elements.back())) return received;
    }
  }
  static Received receive_until_id(xmpp::ClientStream& stream, std::string_view id) {
    return receive_until(stream, [id](const xml::Element& element) {
      const std::string* element_id = element.attribute("id");
      return element_id != nullptr && *element_id == id;
    });
  }
  static Received receive_until_end(xmpp::ClientStream& stream) {
    return receive_until(stream, [](const xml::Element&) { return false; });
  }

  static xml::Element roster_set(std::string_view id, std::string_view contact) {
    xml::Element item(xmpp::kRosterNamespace, "item");
    item.set_attribute("jid", std::string(contact));
    xml::Element query(xmpp::kRosterNamespace, "query");
    query.append_child(std::move(item));
    return xmpp::make_iq(xmpp::IqType::set, id, std::nullopt, std::move(query));
  }

  static xml::Element chat(std::string_view to, std::string_view body) {
    xml::Element message(xmpp::kClientNamespace, "message");
    message.set_attribute("to", std::string(to));
    message.set_attribute("type", "chat");
    message.append_child(xml::Element(xmpp::kClientNamespace, "body")).append_text(body);
    return message;
  }

  // The last element received is the iq result `id`.
  static bool ends_with_result(const Received& received, std::string_view id) {
    if (received.elements.empty()) return false;
    const xml::Element& last = received.elements.back();
    const std::string* element_id = last.attribute("id");
    const std::string* type = last.attribute("type");
    return element_id != nullptr && *element_id == id && type != nullptr && *type == "result";
  }
  static std::string describe(const Received& received) {
    std::string text;
    for (const auto& element : received.elements) text += xml::serialize(element) + "\n";
    if (received.stream_ended) text += "(stream ended: " + received.stream_ended->message + ")";
    return text;
  }

  std::filesystem::path directory_;
  boost::asio::io_context io_{1};
  server::ServerConfig config_;
  std::ostringstream log_text_;
  std::shared_ptr<spdlog::logger> log_;
  CommitFailingStorage* storage_ = nullptr;  // owned by the server
  std::unique_ptr<server::Server> server_;
  std::thread io_thread_;
};

TEST_F(ParleydCommitFailureTest, WritersOfAFailedCommitAreClosedAndOthersGoOn) {
  auto alice = log_in("alice", "desk");
  auto bob = log_in("bob", "phone");
  auto carol = log_in("carol", "laptop");
  ASSERT_TRUE(alice && bob && carol);

  // Before the failure: alice's roster gets dave, committed and acknowledged.
  ASSERT_TRUE(alice->send(roster_set("add-dave", "dave@example.test")));
  auto added = receive_until_id(*alice, "add-dave");
  ASSERT_TRUE(ends_with_result(added, "add-dave")) << describe(added);
  // bob is available to receive; carol asks for XEP-0198 acknowledgements.
  ASSERT_TRUE(bob->send(xml::Element(xmpp::kClientNamespace, "presence")));
  ASSERT_TRUE(bob->send(xmpp::make_ping("bob-ready", "example.test")));
  auto ready = receive_until_id(*bob, "bob-ready");
  ASSERT_TRUE(ends_with_result(ready, "bob-ready")) << describe(ready);
  ASSERT_TRUE(carol->send(xml::Element(kSmNamespace, "enable")));
  ASSERT_TRUE(carol->send(xmpp::make_ping("carol-ready", "example.test")));
  auto enabled = receive_until_id(*carol, "carol-ready");
  ASSERT_TRUE(ends_with_result(enabled, "carol-ready")) << describe(enabled);
  EXPECT_EQ(enabled.elements.front().name().local_name, "enabled") << describe(enabled);

  // The failing turn: alice adds erin to her roster and writes to bob; carol writes to frank,
  // who is offline (the server stores it and says nothing: that is its acceptance), and asks
  // for an acknowledgement.
  storage_->fail_commits = true;
  {
    auto release = hold_event_loop();
    ASSERT_TRUE(alice->send(roster_set("add-erin", "erin@example.test")));
    ASSERT_TRUE(alice->send(chat("bob@example.test/phone", "sent in the failing turn")));
    ASSERT_TRUE(carol->send(chat("frank@example.test", "kept offline, until the commit failed")));
    ASSERT_TRUE(carol->send(xml::Element(kSmNamespace, "r")));
    std::this_thread::sleep_for(300ms);  // all of it in the server's socket buffers
    release.set_value();
  }

  // alice: no result, no roster push, and the stream ends with internal-server-error.
  auto alice_saw = receive_until_id(*alice, "add-erin");
  ASSERT_TRUE(alice_saw.stream_ended) << describe(alice_saw);
  EXPECT_NE(alice_saw.stream_ended->message.find("internal-server-error"), std::string::npos)
      << describe(alice_saw);
  EXPECT_EQ(describe(alice_saw).find("erin@"), std::string::npos) << describe(alice_saw);
  // carol: no <a h='1'/> for a message the store lost, and the same end.
  auto carol_saw = receive_until_end(*carol);
  ASSERT_TRUE(carol_saw.stream_ended) << describe(carol_saw);
  EXPECT_NE(carol_saw.stream_ended->message.find("internal-server-error"), std::string::npos)
      << describe(carol_saw);
  for (const auto& element : carol_saw.elements)
    EXPECT_NE(element.name().local_name, "a") << describe(carol_saw);

  // bob only received in that turn: he gets alice's message and his stream goes on.
  auto bob_saw = receive_until(*bob, [](const xml::Element& element) {
    return xml::serialize(element).find("sent in the failing turn") != std::string::npos;
  });
  EXPECT_FALSE(bob_saw.stream_ended) << describe(bob_saw);
  EXPECT_NE(describe(bob_saw).find("sent in the failing turn"), std::string::npos)
      << describe(bob_saw);

  // The store works again: bob goes on, and alice logs in anew and finds what was committed
  // before (dave) and not what was lost (erin).
  storage_->fail_commits = false;
  ASSERT_TRUE(bob->send(xmpp::make_ping("bob-after", "example.test")));
  auto bob_after = receive_until_id(*bob, "bob-after");
  EXPECT_TRUE(ends_with_result(bob_after, "bob-after")) << describe(bob_after);

  auto alice_again = log_in("alice", "desk");
  ASSERT_TRUE(alice_again);
  ASSERT_TRUE(alice_again->send(xmpp::make_roster_get("roster")));
  auto roster = receive_until_id(*alice_again, "roster");
  ASSERT_TRUE(ends_with_result(roster, "roster")) << describe(roster);
  const std::string items = xml::serialize(roster.elements.back());
  EXPECT_NE(items.find("dave@example.test"), std::string::npos) << items;
  EXPECT_EQ(items.find("erin@example.test"), std::string::npos) << items;
  EXPECT_TRUE(alice_again->close(Clock::now() + 5s));
  EXPECT_TRUE(bob->close(Clock::now() + 5s));

  stop_event_loop();
  EXPECT_EQ(storage_->failed_commits.load(), 1) << "alice's and carol's input in one group";
  auto offline = storage_->offline().count("frank");
  ASSERT_TRUE(offline);
  EXPECT_EQ(*offline, 0u) << "the message to frank was lost with the commit";
  const auto& statistics = server_->services().statistics;
  EXPECT_EQ(statistics.store_commit_failures, 1u);
  EXPECT_EQ(statistics.sessions_closed_by_commit_failures, 2u);
  // The failure is logged once, with the store's message, not once per session.
  const std::string log = log_text_.str();
  std::size_t mentions = 0;
  for (auto at = log.find(kInjected); at != std::string::npos; at = log.find(kInjected, at + 1))
    ++mentions;
  EXPECT_EQ(mentions, 1u) << log;
}

}  // namespace
}  // namespace parley::integration
