#include "client/chat_model.hpp"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

xmpp::Jid jid(std::string_view text) {
  auto parsed = xmpp::Jid::parse(text);
  EXPECT_TRUE(parsed) << text;
  return *parsed;  // the texts here are all valid
}

LinkStatus connected(Verdict verdict) {
  LinkStatus status;
  status.state = LinkState::connected;
  status.jid = "alice@example.test/parley";
  SecurityDetails details;
  details.protocol = "TLSv1.3";
  details.cipher = "TLS_AES_256_GCM_SHA384";
  details.verdict = verdict;
  details.subject = "CN=example.test";
  details.issuer = "CN=Parley Test Intermediate";
  details.fingerprint = "AA:BB";
  details.sasl_mechanism = "SCRAM-SHA-256-PLUS";
  details.channel_binding = "tls-exporter";
  details.stream_management = "enabled";
  status.security = details;
  return status;
}

TEST(ChatModel, LockIndicatorOnlyForAVerifiedChain) {
  struct Case {
    LinkStatus status;
    const char* indicator;
  };
  LinkStatus connecting;
  connecting.state = LinkState::connecting;
  LinkStatus offline;
  offline.state = LinkState::offline;
  LinkStatus waiting;
  waiting.state = LinkState::waiting_to_reconnect;
  const Case cases[] = {
      {connected(Verdict::trusted), "[locked] TLSv1.3"},
      {connected(Verdict::accepted_previously),
       "[UNVERIFIED certificate, accepted earlier] TLSv1.3"},
      {connected(Verdict::accepted_by_user), "[UNVERIFIED certificate, accepted now] TLSv1.3"},
      {connecting, "[connecting]"},
      {offline, "[offline]"},
      {waiting, "[not connected]"},
  };
  for (const auto& c : cases) EXPECT_EQ(lock_indicator(c.status), c.indicator);

  const auto lines = security_lines(connected(Verdict::accepted_by_user));
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  EXPECT_NE(all.find("NOT locked"), std::string::npos) << all;
  EXPECT_NE(all.find("SHA-256:        AA:BB"), std::string::npos) << all;
  EXPECT_NE(all.find("SCRAM-SHA-256-PLUS with tls-exporter"), std::string::npos) << all;
}

TEST(ChatModel, IncomingMessagesCountAsUnreadUntilShown) {
  ChatModel model(jid("alice@example.test"));
  model.apply(connected(Verdict::trusted));
  model.apply(RosterArrived{{xmpp::RosterItem{jid("bob@example.test"), "Bob", "both", false, {}}}});
  model.apply(ContactPresence{"bob@example.test", "phone", true, "away", "lunch"});
  xmpp::ChatMessage message;
  message.from = "bob@example.test/phone";
  message.body = "hi\nsecond line \x1b[2J";
  message.type = xmpp::MessageType::chat;
  model.apply(IncomingChat{message});

  auto entries = model.pane_entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].label, "console");
  EXPECT_EQ(entries[1].label, "~ Bob (away)");
  EXPECT_EQ(entries[1].unread, 1u);

  model.select_next();
  EXPECT_EQ(model.current().key, "bob@example.test");
  EXPECT_EQ(model.pane_entries()[1].unread, 0u);
  ASSERT_EQ(model.current().lines.size(), 1u);
  // Escaped: the terminal never receives the escape sequence.
  EXPECT_EQ(model.current().lines[0].text, "hi\nsecond line \\x1b[2J");
  EXPECT_EQ(model.current().lines[0].who, "Bob");

  model.apply(ContactPresence{"bob@example.test", "phone", false, "", ""});
  EXPECT_EQ(model.pane_entries()[1].label, "- Bob");
  // Presence of someone not on the roster is not shown.
  model.apply(ContactPresence{"mallory@example.test", "x", true, "", ""});
  EXPECT_EQ(model.pane_entries().size(), 2u);
}

TEST(ChatModel, InputBecomesCommands) {
  ChatModel model(jid("alice@example.test"));
  // On the console, text is not a message.
  EXPECT_FALSE(model.submit("hello", 0).command);

  auto outcome = model.submit("/msg bob@example.test hello there", 100);
  ASSERT_TRUE(outcome.command);
  const auto* send = std::get_if<SendChat>(&*outcome.command);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->to.to_string(), "bob@example.test");
  EXPECT_EQ(send->body, "hello there");
  EXPECT_EQ(model.current().key, "bob@example.test");
  EXPECT_EQ(model.current().lines.back().kind, LineKind::outgoing);

  outcome = model.submit("//not a command", 101);
  ASSERT_TRUE(outcome.command);
  EXPECT_EQ(std::get<SendChat>(*outcome.command).body, "/not a command");

  outcome = model.submit("/join lobby@conference.example.test", 102);
  ASSERT_TRUE(outcome.command);
  const auto* join = std::get_if<JoinRoom>(&*outcome.command);
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->address.nick, "alice");
  EXPECT_EQ(model.current().kind, ConversationKind::room);

  outcome = model.submit("hello room", 103);
  ASSERT_TRUE(outcome.command);
  EXPECT_EQ(std::get<SendToRoom>(*outcome.command).room.to_string(),
            "lobby@conference.example.test");

  outcome = model.submit("/part", 104);
  ASSERT_TRUE(outcome.command);
  EXPECT_TRUE(std::holds_alternative<LeaveRoom>(*outcome.command));

  EXPECT_TRUE(std::holds_alternative<ConnectAgain>(*model.submit("/reconnect", 0).command));
  EXPECT_FALSE(model.submit("/security", 0).command);
  EXPECT_TRUE(model.info());
  model.close_info();
  EXPECT_FALSE(model.submit("/help", 0).command);
  EXPECT_TRUE(model.info());
  EXPECT_FALSE(model.submit("/nonsense", 0).command);
  EXPECT_FALSE(model.submit("/msg @example.test hi", 0).command);
  EXPECT_FALSE(model.submit("/msg", 0).command);
  EXPECT_FALSE(model.submit("/join not-a-room", 0).command);
  EXPECT_FALSE(model.quit_requested());
  model.submit("/quit", 0);
  EXPECT_TRUE(model.quit_requested());
}

TEST(ChatModel, RoomEventsAndOwnEcho) {
  ChatModel model(jid("alice@example.test"));
  (void)model.submit("/join lobby@conference.example.test", 0);
  const std::string room = "lobby@conference.example.test";
  model.apply(RoomUpdate{room, OccupantEvent{"bob", OccupantChange::present, {}, {}, {}, {}}});
  model.apply(RoomUpdate{room, RoomJoined{"alice", true, "moderator", "owner"}});
  model.apply(RoomUpdate{room, RoomMessage{"alice", "mine", "id1", std::nullopt, true}});
  model.apply(RoomUpdate{room, RoomMessage{"bob", "theirs", "id2", std::nullopt, false}});
  const Conversation& shown = model.current();
  EXPECT_TRUE(shown.joined);
  EXPECT_EQ(shown.occupants, 2u);
  ASSERT_GE(shown.lines.size(), 3u);
  EXPECT_EQ(shown.lines[shown.lines.size() - 2].kind, LineKind::outgoing);
  EXPECT_EQ(shown.lines.back().who, "bob");
  EXPECT_EQ(model.pane_entries()[1].label, "# lobby@conference.example.test");

  model.apply(RoomUpdate{room, RoomLeft{RoomExit::kicked, "spam"}});
  EXPECT_FALSE(model.current().joined);
  EXPECT_EQ(model.current().lines.back().kind, LineKind::problem);
  EXPECT_EQ(model.pane_entries()[1].label, "x lobby@conference.example.test");
}

TEST(ChatModel, CertificateQuestionIsAnsweredOnce) {
  ChatModel model(jid("alice@example.test"));
  auto reply = std::make_shared<PromptReply>();
  model.apply(CertificateQuestion{PromptDetails{}, reply});
  ASSERT_TRUE(model.question());
  model.answer_question(PromptAnswer::accept_always);
  EXPECT_FALSE(model.question());
  std::atomic<bool> stopping{false};
  EXPECT_EQ(reply->wait(stopping), PromptAnswer::accept_always);
  reply->answer(PromptAnswer::decline);  // a second answer changes nothing
  EXPECT_EQ(reply->wait(stopping), PromptAnswer::accept_always);

  auto unanswered = std::make_shared<PromptReply>();
  std::atomic<bool> stopped{true};
  EXPECT_FALSE(unanswered->wait(stopped)) << "a stopped session declines";
}

TEST(ChatModel, BoundedConversationsAndLines) {
  ModelLimits limits;
  limits.max_lines_per_conversation = 3;
  limits.max_conversations = 2;  // the console and one more
  ChatModel model(jid("alice@example.test"), limits);
  for (int i = 0; i < 5; ++i) {
    xmpp::ChatMessage message;
    message.from = "bob@example.test";
    message.body = "m" + std::to_string(i);
    model.apply(IncomingChat{message});
  }
  const Conversation* bob = model.find(ConversationKind::chat, "bob@example.test");
  ASSERT_NE(bob, nullptr);
  ASSERT_EQ(bob->lines.size(), 3u);
  EXPECT_EQ(bob->lines.front().text, "m2");
  xmpp::ChatMessage stranger;
  stranger.from = "carol@example.test";
  stranger.body = "over the limit";
  model.apply(IncomingChat{stranger});
  EXPECT_EQ(model.find(ConversationKind::chat, "carol@example.test"), nullptr);
}

struct WrapCase {
  const char* text;
  std::size_t columns;
  std::vector<std::string> lines;
};

TEST(ChatModel, TextFitsTheColumns) {
  const WrapCase cases[] = {
      {"hello world", 20, {"hello world"}},
      {"hello world", 5, {"hello", "world"}},
      {"abcdefgh", 3, {"abc", "def", "gh"}},
      {"one\ntwo", 10, {"one", "two"}},
      {"a b c d e f", 3, {"a b", "c d", "e f"}},
      {"word   spaced", 6, {"word", "spaced"}},
      {"", 10, {""}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(wrap_to_width(c.text, c.columns), c.lines);
  }
  EXPECT_EQ(fit_to_width("abcdef", 4), "abcd");
  EXPECT_EQ(fit_to_width("caf\xc3\xa9!", 4), "caf\xc3\xa9");  // never cut inside a character
  EXPECT_EQ(display_width("caf\xc3\xa9"), 4u);
}

}  // namespace
}  // namespace parley::client
