#include "server/muc_service.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "server/iq_handling.hpp"
#include "server/muc_nickname.hpp"
#include "server/stanza.hpp"
#include "store/storage.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/precis.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kRoom = "room@conference.example.test";
constexpr std::int64_t kStartTime = 1'700'000'000;  // 2023-11-14T22:13:20Z

// A bound session that keeps what the server sends it, parsed back into stanzas.
class FakeSession : public BoundSession {
 public:
  explicit FakeSession(std::string_view jid) { full_jid_ = *xmpp::Jid::parse(jid); }
  void send_wire(std::string_view wire) override { wires_.emplace_back(wire); }
  void terminate(xml::StreamErrorCondition, std::string_view) override { terminated_ = true; }

  // Everything received since the last call, in order.
  std::vector<xml::Element> take() {
    std::vector<xml::Element> out;
    for (const auto& wire : wires_) {
      auto element = xml::parse_element(wire, kClientNamespace);
      EXPECT_TRUE(element.has_value()) << "not well-formed: " << wire;
      if (element) out.push_back(std::move(*element));
    }
    wires_.clear();
    return out;
  }
  std::size_t pending() const { return wires_.size(); }
  bool terminated() const { return terminated_; }

 private:
  std::vector<std::string> wires_;
  bool terminated_ = false;
};

std::string attribute(const xml::Element& element, std::string_view name) {
  const std::string* value = element.attribute(name);
  return value == nullptr ? std::string() : *value;
}

const xml::Element* muc_user_x(const xml::Element& stanza) {
  return stanza.first_child(kMucUserNamespace, "x");
}

const xml::Element* item_of(const xml::Element& presence) {
  const xml::Element* x = muc_user_x(presence);
  return x == nullptr ? nullptr : x->first_child(kMucUserNamespace, "item");
}

std::vector<int> statuses_of(const xml::Element& stanza) {
  std::vector<int> out;
  const xml::Element* x = muc_user_x(stanza);
  if (x == nullptr) return out;
  for (const auto& child : x->children())
    if (child.is_element() && child.element().name().local_name == "status")
      out.push_back(std::stoi(attribute(child.element(), "code")));
  return out;
}

bool has_status(const xml::Element& stanza, int code) {
  auto statuses = statuses_of(stanza);
  return std::find(statuses.begin(), statuses.end(), code) != statuses.end();
}

// "cancel/conflict" for a stanza error, "" when the stanza is not an error.
std::string error_of(const xml::Element& stanza) {
  if (type_of(stanza) != "error") return {};
  const xml::Element* error = stanza.first_child(kClientNamespace, "error");
  if (error == nullptr) return "error without <error/>";
  for (const auto& child : error->children())
    if (child.is_element() && child.element().name().namespace_uri == kStanzaErrorNamespace &&
        child.element().name().local_name != "text")
      return attribute(*error, "type") + "/" + child.element().name().local_name;
  return "error without condition";
}

std::string text_of(const xml::Element& stanza, std::string_view child) {
  const xml::Element* element = stanza.first_child(kClientNamespace, child);
  return element == nullptr ? std::string("<absent>") : element->text();
}

std::vector<const xml::Element*> of_kind(const std::vector<xml::Element>& stanzas,
                                         std::string_view name) {
  std::vector<const xml::Element*> out;
  for (const auto& stanza : stanzas)
    if (stanza.name().local_name == name) out.push_back(&stanza);
  return out;
}

std::shared_ptr<spdlog::logger> null_logger() {
  return std::make_shared<spdlog::logger>("muc-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

ServerConfig test_config() {
  ServerConfig config;
  config.domain = "example.test";
  config.muc.domain = "conference.example.test";
  config.muc.history_messages = 3;
  return config;
}

class MucTest : public ::testing::Test {
 protected:
  MucTest()
      : config_(test_config()),
        storage_(std::move(*store::Storage::open("sqlite::memory:"))),
        services_(config_, *storage_, null_logger()),
        muc_(services_, [this] { return now_; }) {}

  // A stanza as the c2s session hands it over: 'from' stamped, 'to' parsed.
  void send(FakeSession& session, const std::string& stanza_xml) {
    auto element = xml::parse_element(stanza_xml, kClientNamespace);
    ASSERT_TRUE(element.has_value()) << stanza_xml;
    element->set_attribute("from", session.full_jid().to_string());
    auto to = xmpp::Jid::parse(attribute(*element, "to"));
    ASSERT_TRUE(to.has_value()) << stanza_xml;
    muc_.handle(session, std::move(*element), *to);
  }

  void join(FakeSession& session, std::string_view nick, std::string_view muc_payload = {}) {
    send(session, "<presence to='" + std::string(kRoom) + "/" + std::string(nick) +
                      "'><x xmlns='http://jabber.org/protocol/muc'>" + std::string(muc_payload) +
                      "</x></presence>");
  }

  void say(FakeSession& session, std::string_view body, std::string_view id = "m1") {
    send(session, "<message type='groupchat' id='" + std::string(id) + "' to='" +
                      std::string(kRoom) + "'><body>" + std::string(body) + "</body></message>");
  }

  void configure(FakeSession& owner, std::string_view fields) {
    send(owner, "<iq type='set' id='cfg' to='" + std::string(kRoom) +
                    "'><query xmlns='http://jabber.org/protocol/muc#owner'>"
                    "<x xmlns='jabber:x:data' type='submit'>" +
                    std::string(fields) + "</x></query></iq>");
  }

  static std::string field(std::string_view var, std::string_view value) {
    return "<field var='" + std::string(var) + "'><value>" + std::string(value) +
           "</value></field>";
  }

  // Alice creates the room (owner, moderator), Bob joins (participant); inboxes emptied.
  void alice_and_bob() {
    join(alice_, "Alice");
    join(bob_, "Bob");
    alice_.take();
    bob_.take();
  }

  void create_account(std::string_view name) {
    using xmpp::sasl::ScramCredentials;
    using xmpp::sasl::ScramHash;
    ScramCredentials sha1{ScramHash::sha1, "salt", 4096, std::string(20, 'a'),
                          std::string(20, 'b')};
    ScramCredentials sha256{ScramHash::sha256, "salt", 4096, std::string(32, 'a'),
                            std::string(32, 'b')};
    ASSERT_TRUE(storage_->accounts().create(name, sha1, sha256).has_value());
  }

  std::int64_t now_ = kStartTime;
  ServerConfig config_;
  std::unique_ptr<store::Storage> storage_;
  ServerServices services_;
  MucService muc_;
  FakeSession alice_{"alice@example.test/laptop"};
  FakeSession bob_{"bob@example.test/phone"};
  FakeSession carol_{"carol@example.test/desk"};
};

// ---------------------------------------------------------------------------------------------

TEST(MucNickname, ComparisonKeys) {
  struct Case {
    std::string_view nickname;
    std::string_view key;  // "" means refused
  };
  const Case cases[] = {
      {"Alice", "alice"}, {"alice", "alice"}, {"  Bob   Smith ", "bob smith"},
      {"R2-D2", "r2-d2"}, {"   ", ""},        {"", ""},
  };
  for (const auto& c : cases) {
    auto key = nickname_comparison_key(c.nickname);
    if (c.key.empty()) {
      EXPECT_FALSE(key.has_value()) << c.nickname;
    } else {
      ASSERT_TRUE(key.has_value()) << c.nickname << ": " << key.error().message;
      EXPECT_EQ(*key, c.key) << c.nickname;
    }
  }
}

TEST(MucNickname, UnicodeFormsCompareEqual) {
  if (!xmpp::precis::unicode_available()) GTEST_SKIP() << "built without ICU";
  // Fullwidth letters (NFKC), a no-break space (Zs -> U+0020), capital sigma.
  EXPECT_EQ(nickname_comparison_key("\xEF\xBC\xA1lice").value(), "alice");
  EXPECT_EQ(nickname_comparison_key("Bob\xC2\xA0Smith").value(), "bob smith");
  EXPECT_EQ(nickname_comparison_key("\xCE\xA3").value(),
            nickname_comparison_key("\xCF\x83").value());
}

// ---------------------------------------------------------------------------------------------
// Creating and entering

TEST_F(MucTest, FirstJoinCreatesAnInstantRoomOwnedByTheCreator) {
  send(alice_,
       "<presence id='j1' to='room@conference.example.test/Alice'>"
       "<x xmlns='http://jabber.org/protocol/muc'/></presence>");
  EXPECT_EQ(muc_.room_count(), 1u);
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 2u);  // self-presence, then the (empty) subject
  const xml::Element& self = got[0];
  EXPECT_EQ(self.name().local_name, "presence");
  EXPECT_EQ(attribute(self, "from"), "room@conference.example.test/Alice");
  EXPECT_EQ(attribute(self, "to"), "alice@example.test/laptop");
  EXPECT_EQ(attribute(self, "id"), "j1");  // reflected, so the client can match it
  EXPECT_TRUE(has_status(self, 110));
  EXPECT_TRUE(has_status(self, 201));
  ASSERT_NE(item_of(self), nullptr);
  EXPECT_EQ(attribute(*item_of(self), "affiliation"), "owner");
  EXPECT_EQ(attribute(*item_of(self), "role"), "moderator");
  EXPECT_NE(self.first_child(kOccupantIdNamespace, "occupant-id"), nullptr);

  const xml::Element& subject = got[1];
  EXPECT_EQ(subject.name().local_name, "message");
  EXPECT_EQ(attribute(subject, "type"), "groupchat");
  EXPECT_EQ(attribute(subject, "from"), kRoom);
  EXPECT_EQ(text_of(subject, "subject"), "");
  EXPECT_EQ(text_of(subject, "body"), "<absent>");

  // Many clients submit the instant-room form at once (10.1.2).
  configure(alice_, "");
  got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "result");
  EXPECT_EQ(attribute(got[0], "id"), "cfg");
}

TEST_F(MucTest, JoinWithoutMucExtensionIsAccepted) {
  send(alice_, "<presence to='room@conference.example.test/Alice'/>");
  auto got = alice_.take();
  ASSERT_FALSE(got.empty());
  EXPECT_TRUE(has_status(got[0], 110));
  EXPECT_EQ(muc_.room_count(), 1u);
}

TEST_F(MucTest, SecondOccupantSeesTheFirstThenItselfThenTheSubject) {
  join(alice_, "Alice");
  alice_.take();
  join(bob_, "Bob");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Alice");
  EXPECT_FALSE(has_status(got[0], 110));
  ASSERT_NE(item_of(got[0]), nullptr);
  EXPECT_EQ(attribute(*item_of(got[0]), "affiliation"), "owner");
  // Semi-anonymous: a participant does not see real JIDs.
  EXPECT_EQ(item_of(got[0])->attribute("jid"), nullptr);

  EXPECT_EQ(attribute(got[1], "from"), "room@conference.example.test/Bob");
  EXPECT_TRUE(has_status(got[1], 110));
  EXPECT_FALSE(has_status(got[1], 201));
  EXPECT_FALSE(has_status(got[1], 100));
  EXPECT_EQ(attribute(*item_of(got[1]), "role"), "participant");
  EXPECT_EQ(attribute(*item_of(got[1]), "affiliation"), "none");
  EXPECT_NE(got[2].first_child(kClientNamespace, "subject"), nullptr);

  // The moderator sees Bob arrive, with his real JID.
  auto alice_got = alice_.take();
  ASSERT_EQ(alice_got.size(), 1u);
  EXPECT_EQ(attribute(alice_got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_EQ(attribute(*item_of(alice_got[0]), "jid"), "bob@example.test/phone");
  EXPECT_FALSE(has_status(alice_got[0], 110));
}

TEST_F(MucTest, JoinErrors) {
  config_.muc.max_occupants_per_room = 2;
  alice_and_bob();
  struct Case {
    std::string nick;
    std::string expected;
  };
  const Case cases[] = {
      {"Alice", "cancel/conflict"},           // taken
      {"aLiCe", "cancel/conflict"},           // taken, in another case
      {"Carol", "wait/service-unavailable"},  // room full
  };
  for (const auto& c : cases) {
    join(carol_, c.nick);
    auto got = carol_.take();
    ASSERT_EQ(got.size(), 1u) << c.nick;
    EXPECT_EQ(error_of(got[0]), c.expected) << c.nick;
    EXPECT_EQ(attribute(got[0], "from"), std::string(kRoom) + "/" + c.nick);
    // The original payload comes back (clients match the error to their join).
    EXPECT_NE(got[0].first_child(kMucNamespace, "x"), nullptr);
  }
  // A nickname of spaces only.
  join(carol_, "  ");
  auto got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "modify/jid-malformed");
  // No nickname at all.
  send(carol_, "<presence to='room@conference.example.test'/>");
  got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "modify/jid-malformed");
  // Nobody else heard anything.
  EXPECT_EQ(alice_.pending(), 0u);
  EXPECT_EQ(bob_.pending(), 0u);
}

TEST_F(MucTest, RoomCreationLimits) {
  config_.muc.max_rooms = 1;
  join(alice_, "Alice");
  send(bob_, "<presence to='other@conference.example.test/Bob'/>");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "wait/resource-constraint");
  EXPECT_EQ(muc_.room_count(), 1u);

  config_.muc.max_rooms = 10;
  config_.muc.allow_room_creation = false;
  send(bob_, "<presence to='other@conference.example.test/Bob'/>");
  got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "cancel/not-allowed");
  // Existing rooms can still be entered.
  join(bob_, "Bob");
  EXPECT_TRUE(has_status(bob_.take().at(1), 110));
}

TEST_F(MucTest, BadNicknameDoesNotLeaveAnEmptyRoomBehind) {
  join(alice_, "   ");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "modify/jid-malformed");
  EXPECT_EQ(muc_.room_count(), 0u);
}

TEST_F(MucTest, SameAccountMayJoinFromAnotherResourceUnderItsNickname) {
  alice_and_bob();
  FakeSession alice_phone("alice@example.test/phone");
  join(alice_phone, "Alice");
  auto got = alice_phone.take();
  ASSERT_EQ(got.size(), 3u);  // Bob, itself, subject
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_TRUE(has_status(got[1], 110));
  EXPECT_EQ(muc_.find_room("room")->occupant_count(), 2u);

  // Messages reach both of Alice's sessions.
  bob_.take();
  alice_.take();
  say(bob_, "hi both");
  EXPECT_EQ(of_kind(alice_.take(), "message").size(), 1u);
  EXPECT_EQ(of_kind(alice_phone.take(), "message").size(), 1u);

  // One session leaving is not Alice leaving.
  bob_.take();
  send(alice_phone, "<presence type='unavailable' to='room@conference.example.test/Alice'/>");
  got = alice_phone.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_TRUE(has_status(got[0], 110));
  EXPECT_EQ(bob_.pending(), 0u);
  EXPECT_EQ(alice_.pending(), 0u);
  muc_.session_ended(alice_phone);  // no longer in the room: nothing happens
  EXPECT_EQ(bob_.pending(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Messages

TEST_F(MucTest, GroupchatIsReflectedToEveryoneFromTheSendersNickname) {
  alice_and_bob();
  say(bob_, "hello room", "msg-7");
  for (FakeSession* session : {&alice_, &bob_}) {
    auto got = session->take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
    EXPECT_EQ(attribute(got[0], "to"), session->full_jid().to_string());
    EXPECT_EQ(attribute(got[0], "type"), "groupchat");
    EXPECT_EQ(attribute(got[0], "id"), "msg-7");
    EXPECT_EQ(text_of(got[0], "body"), "hello room");
    EXPECT_NE(got[0].first_child(kOccupantIdNamespace, "occupant-id"), nullptr);
  }
}

TEST_F(MucTest, ForgedOccupantIdAndStanzaIdAreRemoved) {
  alice_and_bob();
  send(bob_,
       "<message type='groupchat' to='room@conference.example.test'><body>x</body>"
       "<occupant-id xmlns='urn:xmpp:occupant-id:0' id='forged'/>"
       "<stanza-id xmlns='urn:xmpp:sid:0' by='room@conference.example.test' id='forged'/>"
       "</message>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  const xml::Element* occupant_id = got[0].first_child(kOccupantIdNamespace, "occupant-id");
  ASSERT_NE(occupant_id, nullptr);
  EXPECT_NE(attribute(*occupant_id, "id"), "forged");
  EXPECT_EQ(got[0].first_child("urn:xmpp:sid:0", "stanza-id"), nullptr);
  EXPECT_EQ(got[0].child_element_count(), 2u);  // body and the room's occupant-id
}

TEST_F(MucTest, OccupantIdIsStablePerAccountAndDiffersBetweenAccounts) {
  alice_and_bob();
  say(bob_, "one");
  say(alice_, "two");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 2u);
  const std::string bob_id =
      attribute(*got[0].first_child(kOccupantIdNamespace, "occupant-id"), "id");
  const std::string alice_id =
      attribute(*got[1].first_child(kOccupantIdNamespace, "occupant-id"), "id");
  EXPECT_FALSE(bob_id.empty());
  EXPECT_NE(bob_id, alice_id);
  say(bob_, "three");
  got = bob_.take();
  EXPECT_EQ(attribute(*got[0].first_child(kOccupantIdNamespace, "occupant-id"), "id"), bob_id);
}

TEST_F(MucTest, NonOccupantCannotSendToTheRoom) {
  alice_and_bob();
  say(carol_, "let me in");
  auto got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "modify/not-acceptable");
  EXPECT_EQ(attribute(got[0], "from"), kRoom);
  EXPECT_EQ(alice_.pending(), 0u);
  EXPECT_EQ(bob_.pending(), 0u);

  // A message to a room that does not exist.
  send(carol_,
       "<message type='groupchat' to='nowhere@conference.example.test'><body>x</body>"
       "</message>");
  got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "cancel/item-not-found");
}

TEST_F(MucTest, PrivateMessagesGoToTheOccupantFromTheSendersRoomAddress) {
  alice_and_bob();
  send(bob_,
       "<message type='chat' id='pm1' to='room@conference.example.test/alice'>"
       "<body>psst</body></message>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_EQ(attribute(got[0], "to"), "alice@example.test/laptop");
  EXPECT_EQ(attribute(got[0], "type"), "chat");
  EXPECT_EQ(text_of(got[0], "body"), "psst");
  EXPECT_NE(muc_user_x(got[0]), nullptr);
  EXPECT_EQ(bob_.pending(), 0u);

  struct Case {
    FakeSession* sender;
    std::string stanza;
    std::string expected;
  };
  const Case cases[] = {
      {&bob_,
       "<message type='chat' to='room@conference.example.test/Nobody'><body>x</body></message>",
       "cancel/item-not-found"},
      {&bob_,
       "<message type='groupchat' to='room@conference.example.test/Alice'><body>x</body></message>",
       "modify/bad-request"},
      {&carol_,
       "<message type='chat' to='room@conference.example.test/Alice'><body>x</body></message>",
       "modify/not-acceptable"},
  };
  for (const auto& c : cases) {
    send(*c.sender, c.stanza);
    auto errors = c.sender->take();
    ASSERT_EQ(errors.size(), 1u) << c.stanza;
    EXPECT_EQ(error_of(errors[0]), c.expected) << c.stanza;
  }
  EXPECT_EQ(alice_.pending(), 0u);
}

// ---------------------------------------------------------------------------------------------
// History and subject

TEST_F(MucTest, HistoryIsSentOnJoinWithDelayBeforeTheSubject) {
  alice_and_bob();
  say(alice_, "first", "h1");
  now_ += 60;
  say(bob_, "second", "h2");
  send(bob_,
       "<message type='groupchat' to='room@conference.example.test'>"
       "<composing xmlns='http://jabber.org/protocol/chatstates'/></message>");  // not kept
  join(carol_, "Carol");
  auto got = carol_.take();
  // Alice, Bob, self, two history messages, subject.
  ASSERT_EQ(got.size(), 6u);
  EXPECT_TRUE(has_status(got[2], 110));
  EXPECT_EQ(text_of(got[3], "body"), "first");
  EXPECT_EQ(attribute(got[3], "from"), "room@conference.example.test/Alice");
  EXPECT_EQ(attribute(got[3], "to"), "carol@example.test/desk");
  const xml::Element* delay = got[3].first_child("urn:xmpp:delay", "delay");
  ASSERT_NE(delay, nullptr);
  EXPECT_EQ(attribute(*delay, "from"), kRoom);
  EXPECT_EQ(attribute(*delay, "stamp"), "2023-11-14T22:13:20Z");
  EXPECT_EQ(text_of(got[4], "body"), "second");
  EXPECT_EQ(attribute(*got[4].first_child("urn:xmpp:delay", "delay"), "stamp"),
            "2023-11-14T22:14:20Z");
  EXPECT_NE(got[5].first_child(kClientNamespace, "subject"), nullptr);
}

TEST_F(MucTest, HistoryIsBoundedAndHonoursTheJoinersLimits) {
  alice_and_bob();
  for (int i = 1; i <= 5; ++i) {
    say(alice_, "message " + std::to_string(i));
    now_ += 10;
  }
  struct Case {
    std::string history;  // the <history/> element sent with the join
    std::vector<std::string> bodies;
  };
  const Case cases[] = {
      {"", {"message 3", "message 4", "message 5"}},  // history_messages = 3
      {"<history maxstanzas='1'/>", {"message 5"}},
      {"<history maxstanzas='0'/>", {}},
      {"<history maxchars='0'/>", {}},
      {"<history seconds='15'/>", {"message 5"}},  // sent 10 s ago; message 4, 20 s ago
      {"<history since='2023-11-14T22:13:55Z'/>", {"message 5"}},
      {"<history since='2023-11-14T23:13:45+01:00'/>", {"message 4", "message 5"}},
      {"<history maxstanzas='bogus'/>", {"message 3", "message 4", "message 5"}},
  };
  for (const auto& c : cases) {
    FakeSession joiner("dave@example.test/x");
    join(joiner, "Dave", c.history);
    std::vector<std::string> bodies;
    for (const auto& stanza : joiner.take())
      if (stanza.first_child(kClientNamespace, "body") != nullptr)
        bodies.push_back(text_of(stanza, "body"));
    EXPECT_EQ(bodies, c.bodies) << c.history;
    send(joiner, "<presence type='unavailable' to='room@conference.example.test/Dave'/>");
  }
}

TEST_F(MucTest, SubjectChangesAreBroadcastAndSentOnJoin) {
  alice_and_bob();
  // Participants may set the subject in a new room.
  send(bob_,
       "<message type='groupchat' to='room@conference.example.test'>"
       "<subject>Plans for Friday</subject></message>");
  for (FakeSession* session : {&alice_, &bob_}) {
    auto got = session->take();
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(text_of(got[0], "subject"), "Plans for Friday");
    EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  }
  join(carol_, "Carol");
  auto got = carol_.take();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(text_of(got.back(), "subject"), "Plans for Friday");
  EXPECT_EQ(attribute(got.back(), "from"), "room@conference.example.test/Bob");
  EXPECT_NE(got.back().first_child("urn:xmpp:delay", "delay"), nullptr);
  alice_.take();  // Carol's arrival
  bob_.take();

  // The owner restricts it to moderators.
  configure(alice_, field("muc#roomconfig_changesubject", "0"));
  auto alice_got = alice_.take();
  ASSERT_FALSE(alice_got.empty());
  EXPECT_EQ(attribute(alice_got[0], "type"), "result");
  // Occupants are told the configuration changed (104).
  auto bob_got = bob_.take();
  ASSERT_EQ(bob_got.size(), 1u);
  EXPECT_TRUE(has_status(bob_got[0], 104));
  send(bob_,
       "<message type='groupchat' to='room@conference.example.test'>"
       "<subject>mine now</subject></message>");
  bob_got = bob_.take();
  ASSERT_EQ(bob_got.size(), 1u);
  EXPECT_EQ(error_of(bob_got[0]), "auth/forbidden");
}

// ---------------------------------------------------------------------------------------------
// Leaving

TEST_F(MucTest, LeavingTellsTheOthersAndTheLeaver) {
  alice_and_bob();
  send(bob_,
       "<presence type='unavailable' to='room@conference.example.test/Bob'>"
       "<status>gone fishing</status></presence>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_EQ(attribute(*item_of(got[0]), "role"), "none");
  EXPECT_EQ(text_of(got[0], "status"), "gone fishing");
  EXPECT_FALSE(has_status(got[0], 110));
  got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_TRUE(has_status(got[0], 110));
  EXPECT_EQ(muc_.find_room("room")->occupant_count(), 1u);

  // Bob is no longer an occupant.
  say(bob_, "still here?");
  EXPECT_EQ(error_of(bob_.take().at(0)), "modify/not-acceptable");
}

TEST_F(MucTest, SessionEndedLeavesEveryRoomAndEmptyRoomsEnd) {
  alice_and_bob();
  send(bob_, "<presence to='second@conference.example.test/Bob'/>");
  bob_.take();
  EXPECT_EQ(muc_.room_count(), 2u);

  muc_.session_ended(bob_);
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_EQ(bob_.pending(), 0u);     // a gone session is not written to... by its own rooms
  EXPECT_EQ(muc_.room_count(), 1u);  // "second" had only Bob
  EXPECT_EQ(muc_.find_room("second"), nullptr);

  muc_.session_ended(alice_);
  EXPECT_EQ(muc_.room_count(), 0u);
  // The room is new again: the next join creates it.
  join(carol_, "Carol");
  EXPECT_TRUE(has_status(carol_.take().at(0), 201));
}

TEST_F(MucTest, UnavailableBroadcastPresenceLeavesEveryRoom) {
  alice_and_bob();
  send(bob_, "<presence to='second@conference.example.test/Bob'/>");
  bob_.take();
  muc_.session_unavailable(bob_);
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 2u);  // its own unavailable (110) from each room
  for (const auto& stanza : got) {
    EXPECT_EQ(attribute(stanza, "type"), "unavailable");
    EXPECT_TRUE(has_status(stanza, 110));
  }
  EXPECT_EQ(attribute(alice_.take().at(0), "type"), "unavailable");
  EXPECT_EQ(muc_.room_count(), 1u);
  EXPECT_EQ(muc_.find_room("room")->occupant_count(), 1u);
}

TEST_F(MucTest, ResumedSessionTakesTheOldOnesPlace) {
  alice_and_bob();
  FakeSession resumed("bob@example.test/phone");
  muc_.session_resumed(bob_, resumed);
  EXPECT_EQ(alice_.pending(), 0u);  // nobody notices
  say(alice_, "still there?");
  EXPECT_EQ(bob_.pending(), 0u);
  EXPECT_EQ(of_kind(resumed.take(), "message").size(), 1u);
  muc_.session_ended(bob_);  // the old connection object goes: it is in no room any more
  alice_.take();
  EXPECT_EQ(alice_.pending(), 0u);
  say(resumed, "yes");
  EXPECT_EQ(attribute(alice_.take().at(0), "from"), "room@conference.example.test/Bob");
  muc_.session_ended(resumed);
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
}

TEST_F(MucTest, PresenceErrorFromAnOccupantRemovesIt) {
  alice_and_bob();
  send(bob_,
       "<presence type='error' to='room@conference.example.test/Bob'>"
       "<error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
       "</presence>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_EQ(muc_.find_room("room")->occupant_count(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Presence updates and nickname changes

TEST_F(MucTest, PresenceUpdatesAreBroadcast) {
  alice_and_bob();
  send(bob_, "<presence to='room@conference.example.test/Bob'><show>away</show></presence>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(text_of(got[0], "show"), "away");
  EXPECT_TRUE(has_status(bob_.take().at(0), 110));
  // A newcomer sees the current presence.
  join(carol_, "Carol");
  EXPECT_EQ(text_of(carol_.take().at(1), "show"), "away");  // Alice, then Bob (sorted by nick)
}

TEST_F(MucTest, NicknameChange) {
  alice_and_bob();
  send(bob_, "<presence to='room@conference.example.test/Robert'/>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  EXPECT_TRUE(has_status(got[0], 303));
  EXPECT_EQ(attribute(*item_of(got[0]), "nick"), "Robert");
  EXPECT_EQ(attribute(got[1], "from"), "room@conference.example.test/Robert");
  EXPECT_EQ(attribute(got[1], "type"), "");
  got = bob_.take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(has_status(got[0], 303));
  EXPECT_TRUE(has_status(got[0], 110));
  EXPECT_TRUE(has_status(got[1], 110));

  say(bob_, "new name");
  EXPECT_EQ(attribute(alice_.take().at(0), "from"), "room@conference.example.test/Robert");
  bob_.take();
  // Taking Alice's nickname: conflict, nothing changes.
  send(bob_, "<presence to='room@conference.example.test/ALICE'/>");
  got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "cancel/conflict");
  EXPECT_EQ(alice_.pending(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Moderation and configuration

TEST_F(MucTest, ModeratorKicksAndParticipantCannot) {
  alice_and_bob();
  join(carol_, "Carol");
  alice_.take();
  bob_.take();
  carol_.take();
  // A participant may not kick.
  send(bob_,
       "<iq type='set' id='k0' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item nick='Carol' role='none'/></query></iq>");
  EXPECT_EQ(error_of(bob_.take().at(0)), "auth/forbidden");
  // Nobody kicks the owner.
  send(alice_,
       "<iq type='set' id='k1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item nick='Alice' role='none'/></query></iq>");
  EXPECT_EQ(error_of(alice_.take().at(0)), "cancel/not-allowed");

  send(alice_,
       "<iq type='set' id='k2' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item nick='Carol' role='none'><reason>spam</reason></item></query></iq>");
  auto carol_got = carol_.take();
  ASSERT_EQ(carol_got.size(), 1u);
  EXPECT_EQ(attribute(carol_got[0], "type"), "unavailable");
  EXPECT_TRUE(has_status(carol_got[0], 307));
  EXPECT_TRUE(has_status(carol_got[0], 110));
  const xml::Element* item = item_of(carol_got[0]);
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->first_child(kMucUserNamespace, "reason")->text(), "spam");
  EXPECT_EQ(attribute(*item->first_child(kMucUserNamespace, "actor"), "nick"), "Alice");
  auto bob_got = bob_.take();
  ASSERT_EQ(bob_got.size(), 1u);
  EXPECT_TRUE(has_status(bob_got[0], 307));
  EXPECT_FALSE(has_status(bob_got[0], 110));
  auto alice_got = alice_.take();
  ASSERT_EQ(alice_got.size(), 2u);  // Carol's removal, then the iq result
  EXPECT_EQ(attribute(alice_got[1], "type"), "result");
  EXPECT_EQ(muc_.find_room("room")->occupant_count(), 2u);
}

TEST_F(MucTest, BanRemovesAndKeepsOut) {
  alice_and_bob();
  send(alice_,
       "<iq type='set' id='b1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item jid='bob@example.test' affiliation='outcast'/></query></iq>");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(has_status(got[0], 301));
  EXPECT_EQ(attribute(*item_of(got[0]), "affiliation"), "outcast");
  join(bob_, "Bobby");
  got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(error_of(got[0]), "auth/forbidden");

  // The ban list shows him; a non-admin may not read it.
  alice_.take();
  send(alice_,
       "<iq type='get' id='l1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item affiliation='outcast'/></query></iq>");
  got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  const xml::Element* query = got[0].first_child(kMucAdminNamespace, "query");
  ASSERT_NE(query, nullptr);
  ASSERT_NE(query->first_child(kMucAdminNamespace, "item"), nullptr);
  EXPECT_EQ(attribute(*query->first_child(kMucAdminNamespace, "item"), "jid"), "bob@example.test");

  // The last owner cannot step down.
  send(alice_,
       "<iq type='set' id='o1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#admin'>"
       "<item jid='alice@example.test' affiliation='member'/></query></iq>");
  EXPECT_EQ(error_of(alice_.take().at(0)), "cancel/conflict");
}

TEST_F(MucTest, PasswordProtectedRoom) {
  join(alice_, "Alice");
  alice_.take();
  configure(alice_, field("muc#roomconfig_passwordprotectedroom", "1") +
                        field("muc#roomconfig_roomsecret", "s3cret"));
  EXPECT_EQ(attribute(alice_.take().at(0), "type"), "result");
  join(bob_, "Bob");
  EXPECT_EQ(error_of(bob_.take().at(0)), "auth/not-authorized");
  join(bob_, "Bob", "<password>wrong</password>");
  EXPECT_EQ(error_of(bob_.take().at(0)), "auth/not-authorized");
  join(bob_, "Bob", "<password>s3cret</password>");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(has_status(got[1], 110));
}

TEST_F(MucTest, MembersOnlyRoomAdmitsInvitees) {
  create_account("carol");
  services_.router.add(carol_);
  carol_.set_presence(xml::Element(kClientNamespace, "presence"), 0);
  alice_and_bob();
  configure(alice_, field("muc#roomconfig_membersonly", "1"));
  // Bob is not a member: he is removed (322).
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 2u);  // 104 notice, then the removal
  EXPECT_TRUE(has_status(got[1], 322));
  alice_.take();

  join(carol_, "Carol");
  EXPECT_EQ(error_of(carol_.take().at(0)), "auth/registration-required");
  send(alice_,
       "<message to='room@conference.example.test'>"
       "<x xmlns='http://jabber.org/protocol/muc#user'>"
       "<invite to='carol@example.test'><reason>join us</reason></invite></x></message>");
  got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "from"), kRoom);
  const xml::Element* invite = muc_user_x(got[0])->first_child(kMucUserNamespace, "invite");
  ASSERT_NE(invite, nullptr);
  EXPECT_EQ(attribute(*invite, "from"), "alice@example.test");
  EXPECT_EQ(invite->first_child(kMucUserNamespace, "reason")->text(), "join us");
  join(carol_, "Carol");
  got = carol_.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(attribute(*item_of(got[1]), "affiliation"), "member");

  // A participant of a members-only room may not invite.
  send(carol_,
       "<message to='room@conference.example.test'>"
       "<x xmlns='http://jabber.org/protocol/muc#user'>"
       "<invite to='bob@example.test'/></x></message>");
  EXPECT_EQ(error_of(carol_.take().at(0)), "auth/forbidden");
  services_.router.remove(carol_);
}

TEST_F(MucTest, NonAnonymousRoomShowsRealJidsToEveryone) {
  join(alice_, "Alice");
  configure(alice_, field("muc#roomconfig_whois", "anyone"));
  alice_.take();
  join(bob_, "Bob");
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(attribute(*item_of(got[0]), "jid"), "alice@example.test/laptop");
  EXPECT_TRUE(has_status(got[1], 100));
  configure(alice_, field("muc#roomconfig_whois", "nobody"));
  EXPECT_EQ(error_of(alice_.take().back()), "modify/not-acceptable");
  configure(alice_, field("muc#roomconfig_persistentroom", "1"));
  EXPECT_EQ(error_of(alice_.take().back()), "modify/not-acceptable");
}

TEST_F(MucTest, OnlyOwnersConfigureAndDestroy) {
  alice_and_bob();
  send(bob_,
       "<iq type='get' id='c1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#owner'/></iq>");
  EXPECT_EQ(error_of(bob_.take().at(0)), "auth/forbidden");
  send(alice_,
       "<iq type='get' id='c2' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#owner'/></iq>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  const xml::Element* form =
      got[0].first_child(kMucOwnerNamespace, "query")->first_child(kDataFormsNamespace, "x");
  ASSERT_NE(form, nullptr);
  EXPECT_EQ(attribute(*form, "type"), "form");

  send(alice_,
       "<iq type='set' id='d1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#owner'>"
       "<destroy jid='new@conference.example.test'><reason>moved</reason></destroy>"
       "</query></iq>");
  got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "unavailable");
  const xml::Element* destroy = muc_user_x(got[0])->first_child(kMucUserNamespace, "destroy");
  ASSERT_NE(destroy, nullptr);
  EXPECT_EQ(attribute(*destroy, "jid"), "new@conference.example.test");
  EXPECT_EQ(destroy->first_child(kMucUserNamespace, "reason")->text(), "moved");
  got = alice_.take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(attribute(got[1], "type"), "result");
  EXPECT_EQ(muc_.room_count(), 0u);
  muc_.session_ended(bob_);  // nothing left to leave
  EXPECT_EQ(bob_.pending(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Discovery and pings

TEST_F(MucTest, ServiceDisco) {
  send(alice_,
       "<iq type='get' id='d1' to='conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "result");
  EXPECT_EQ(attribute(got[0], "from"), "conference.example.test");
  const xml::Element* query = got[0].first_child(kDiscoInfoNamespace, "query");
  ASSERT_NE(query, nullptr);
  const xml::Element* identity = query->first_child(kDiscoInfoNamespace, "identity");
  ASSERT_NE(identity, nullptr);
  EXPECT_EQ(attribute(*identity, "category"), "conference");
  EXPECT_EQ(attribute(*identity, "type"), "text");
  bool has_muc = false;
  for (const auto& child : query->children())
    if (child.is_element() && attribute(child.element(), "var") == kMucNamespace) has_muc = true;
  EXPECT_TRUE(has_muc);

  // Public rooms are listed; hidden ones are not.
  join(alice_, "Alice");
  send(bob_, "<presence to='secret@conference.example.test/Bob'/>");
  send(bob_,
       "<iq type='set' id='h' to='secret@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/muc#owner'>"
       "<x xmlns='jabber:x:data' type='submit'>" +
           field("muc#roomconfig_publicroom", "0") + "</x></query></iq>");
  alice_.take();
  send(alice_,
       "<iq type='get' id='d2' to='conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#items'/></iq>");
  got = alice_.take();
  ASSERT_EQ(got.size(), 1u);
  query = got[0].first_child(kDiscoItemsNamespace, "query");
  ASSERT_NE(query, nullptr);
  std::vector<std::string> listed;
  for (const auto& child : query->children())
    if (child.is_element()) listed.push_back(attribute(child.element(), "jid"));
  EXPECT_EQ(listed, std::vector<std::string>{std::string(kRoom)});
}

TEST_F(MucTest, DiscoItemsPagesWithRsm) {
  for (std::string name : {"a", "b", "c"})
    send(alice_, "<presence to='" + name + "@conference.example.test/Alice'/>");
  alice_.take();
  send(alice_,
       "<iq type='get' id='p1' to='conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#items'>"
       "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set></query></iq>");
  auto got = alice_.take();
  const xml::Element* query = got.at(0).first_child(kDiscoItemsNamespace, "query");
  ASSERT_NE(query, nullptr);
  const xml::Element* set = query->first_child("http://jabber.org/protocol/rsm", "set");
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->first_child("http://jabber.org/protocol/rsm", "count")->text(), "3");
  EXPECT_EQ(set->first_child("http://jabber.org/protocol/rsm", "last")->text(), "b");
  send(alice_,
       "<iq type='get' id='p2' to='conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#items'>"
       "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>b</after></set>"
       "</query></iq>");
  got = alice_.take();
  query = got.at(0).first_child(kDiscoItemsNamespace, "query");
  const xml::Element* item = query->first_child(kDiscoItemsNamespace, "item");
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(attribute(*item, "jid"), "c@conference.example.test");
}

TEST_F(MucTest, RoomDisco) {
  alice_and_bob();
  send(carol_,
       "<iq type='get' id='r1' to='room@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  auto got = carol_.take();
  ASSERT_EQ(got.size(), 1u);
  const xml::Element* query = got[0].first_child(kDiscoInfoNamespace, "query");
  ASSERT_NE(query, nullptr);
  std::vector<std::string> features;
  for (const auto& child : query->children())
    if (child.is_element() && child.element().name().local_name == "feature")
      features.push_back(attribute(child.element(), "var"));
  for (std::string_view expected :
       {"http://jabber.org/protocol/muc", "muc_public", "muc_open", "muc_temporary",
        "muc_semianonymous", "muc_unmoderated", "muc_unsecured"})
    EXPECT_NE(std::find(features.begin(), features.end(), expected), features.end()) << expected;
  EXPECT_EQ(attribute(*query->first_child(kDiscoInfoNamespace, "identity"), "category"),
            "conference");

  send(carol_,
       "<iq type='get' id='r2' to='nowhere@conference.example.test'>"
       "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>");
  EXPECT_EQ(error_of(carol_.take().at(0)), "cancel/item-not-found");
}

TEST_F(MucTest, SelfPingTellsWhetherStillJoined) {
  alice_and_bob();
  const std::string ping =
      "<iq type='get' id='sp' to='room@conference.example.test/Bob'>"
      "<ping xmlns='urn:xmpp:ping'/></iq>";
  send(bob_, ping);
  auto got = bob_.take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(attribute(got[0], "type"), "result");
  EXPECT_EQ(attribute(got[0], "from"), "room@conference.example.test/Bob");
  send(carol_, ping);
  EXPECT_EQ(error_of(carol_.take().at(0)), "modify/not-acceptable");
}

}  // namespace
}  // namespace parley::server
