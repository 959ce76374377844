#include "client/group_chat.hpp"

#include <gtest/gtest.h>

#include "xml/stream_parser.hpp"

namespace parley::client {
namespace {

xml::Element stanza(std::string_view text) {
  auto element = xml::parse_element(text, xmpp::kClientNamespace);
  EXPECT_TRUE(element) << text;
  return element ? *element : xml::Element();
}

Room joined_room(std::string nick = "alice") {
  auto address = parse_room_address("lobby@conference.example.test/" + nick, "x");
  EXPECT_TRUE(address);
  Room room(*address, 3);
  (void)room.join({});
  (void)room.apply(stanza("<presence from='lobby@conference.example.test/" + nick +
                          "'><x xmlns='http://jabber.org/protocol/muc#user'><item role='moderator' "
                          "affiliation='owner'/><status code='110'/></x></presence>"));
  EXPECT_EQ(room.state(), RoomState::joined);
  return room;
}

struct AddressCase {
  const char* text;
  const char* room;  // empty: an error containing `error`
  const char* nick = "";
  const char* error = "";
};

TEST(GroupChat, RoomAddresses) {
  const AddressCase cases[] = {
      {"lobby@conference.example.test", "lobby@conference.example.test", "alice"},
      {"lobby@conference.example.test/Ali", "lobby@conference.example.test", "Ali"},
      {"Lobby@Conference.Example.Test/Ali Baba", "lobby@conference.example.test", "Ali Baba"},
      {"conference.example.test", "", "", "not a room address"},
      {"@conference.example.test", "", "", "room"},
      {"", "", "", "room"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto address = parse_room_address(c.text, "alice");
    if (*c.room == '\0') {
      ASSERT_FALSE(address);
      EXPECT_NE(address.error().message.find(c.error), std::string::npos)
          << address.error().message;
      continue;
    }
    ASSERT_TRUE(address) << address.error().message;
    EXPECT_EQ(address->room.to_string(), c.room);
    EXPECT_EQ(address->nick, c.nick);
  }
}

TEST(GroupChat, JoinPresenceAsksForHistory) {
  auto address = parse_room_address("lobby@conference.example.test/alice", "x");
  ASSERT_TRUE(address);
  const xml::Element none = make_join_presence(*address, {});
  EXPECT_EQ(*none.attribute("to"), "lobby@conference.example.test/alice");
  const xml::Element* x = none.first_child(kMucNamespace, "x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->first_child(kMucNamespace, "history"), nullptr);

  const xml::Element limited = make_join_presence(*address, {5, 86400});
  const xml::Element* history =
      limited.first_child(kMucNamespace, "x")->first_child(kMucNamespace, "history");
  ASSERT_NE(history, nullptr);
  EXPECT_EQ(*history->attribute("maxstanzas"), "5");
  EXPECT_EQ(*history->attribute("since"), "1970-01-02T00:00:00Z");
}

TEST(GroupChat, EnteringListsOccupantsThenSelf) {
  auto address = parse_room_address("lobby@conference.example.test/alice", "x");
  ASSERT_TRUE(address);
  Room room(*address);
  (void)room.join({2, std::nullopt});
  EXPECT_EQ(room.state(), RoomState::joining);
  auto events =
      room.apply(stanza("<presence from='lobby@conference.example.test/bob'><x "
                        "xmlns='http://jabber.org/protocol/muc#user'><item role='participant' "
                        "affiliation='none'/></x></presence>"));
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<OccupantEvent>(events[0]));
  EXPECT_EQ(std::get<OccupantEvent>(events[0]).nick, "bob");
  EXPECT_EQ(std::get<OccupantEvent>(events[0]).change, OccupantChange::present);

  // The service renamed us (210) and the room is new (201).
  events =
      room.apply(stanza("<presence from='lobby@conference.example.test/alice2'><x "
                        "xmlns='http://jabber.org/protocol/muc#user'><item role='moderator' "
                        "affiliation='owner'/><status code='110'/><status code='201'/><status "
                        "code='210'/></x></presence>"));
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<RoomJoined>(events[0]));
  EXPECT_TRUE(std::get<RoomJoined>(events[0]).created);
  EXPECT_EQ(std::get<RoomJoined>(events[0]).nick, "alice2");
  EXPECT_EQ(room.nick(), "alice2");
  EXPECT_EQ(room.state(), RoomState::joined);
  EXPECT_EQ(room.occupants().size(), 2u);
}

TEST(GroupChat, RefusedEntryNamesTheCondition) {
  for (const char* condition : {"conflict", "registration-required", "forbidden", "item-not-found",
                                "not-allowed", "service-unavailable"}) {
    SCOPED_TRACE(condition);
    auto address = parse_room_address("lobby@conference.example.test/alice", "x");
    ASSERT_TRUE(address);
    Room room(*address);
    (void)room.join({});
    auto events = room.apply(
        stanza(std::string("<presence type='error' from='lobby@conference.example.test/alice'><x "
                           "xmlns='http://jabber.org/protocol/muc'/><error type='cancel'><") +
               condition + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>"));
    ASSERT_EQ(events.size(), 2u);
    ASSERT_TRUE(std::holds_alternative<RoomError>(events[0]));
    EXPECT_EQ(std::get<RoomError>(events[0]).error.condition, condition);
    EXPECT_TRUE(std::get<RoomError>(events[0]).while_joining);
    ASSERT_TRUE(std::holds_alternative<RoomLeft>(events[1]));
    EXPECT_EQ(std::get<RoomLeft>(events[1]).reason, RoomExit::refused);
    EXPECT_EQ(room.state(), RoomState::not_joined);
  }
}

TEST(GroupChat, MessagesHistoryOwnEchoAndSubject) {
  Room room = joined_room();
  const xml::Element sent = room.message("hello");
  const std::string id = *sent.attribute("id");
  EXPECT_EQ(*sent.attribute("type"), "groupchat");
  EXPECT_EQ(*sent.attribute("to"), "lobby@conference.example.test");
  EXPECT_EQ(room.unconfirmed().size(), 1u);

  auto events = room.apply(
      stanza("<message type='groupchat' id='" + id +
             "' from='lobby@conference.example.test/alice'><body>hello</body></message>"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(std::get<RoomMessage>(events[0]).own);
  EXPECT_TRUE(room.unconfirmed().empty());

  events = room.apply(
      stanza("<message type='groupchat' from='lobby@conference.example.test/bob'><body>old</body>"
             "<delay xmlns='urn:xmpp:delay' stamp='2024-01-02T03:04:05Z'/></message>"));
  ASSERT_EQ(events.size(), 1u);
  const auto& history = std::get<RoomMessage>(events[0]);
  EXPECT_FALSE(history.own);
  EXPECT_EQ(history.nick, "bob");
  ASSERT_TRUE(history.delayed_since);
  EXPECT_EQ(*history.delayed_since, 1704164645);

  events = room.apply(
      stanza("<message type='groupchat' from='lobby@conference.example.test/bob'><subject>Topic"
             "</subject></message>"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<RoomSubject>(events[0]).subject, "Topic");

  // Another room's message, a private message and a chat state: nothing for this room.
  EXPECT_TRUE(room.apply(stanza("<message type='groupchat' from='other@conference.example.test/"
                                "bob'><body>x</body></message>"))
                  .empty());
  EXPECT_TRUE(room.apply(stanza("<message type='chat' from='lobby@conference.example.test/"
                                "bob'><body>psst</body></message>"))
                  .empty());
  EXPECT_TRUE(room.apply(stanza("<message type='groupchat' from='lobby@conference.example.test/"
                                "bob'><active xmlns='http://jabber.org/protocol/chatstates'/>"
                                "</message>"))
                  .empty());

  events = room.apply(
      stanza("<message type='error' from='lobby@conference.example.test'><error type='modify'>"
             "<not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<RoomError>(events[0]).error.condition, "not-acceptable");
  EXPECT_FALSE(std::get<RoomError>(events[0]).while_joining);
}

TEST(GroupChat, OccupantsComeRenameAndGo) {
  Room room = joined_room();
  const std::string x = "<x xmlns='http://jabber.org/protocol/muc#user'>";
  auto events = room.apply(stanza("<presence from='lobby@conference.example.test/bob'>" + x +
                                  "<item role='participant' affiliation='none'/></x></presence>"));
  EXPECT_EQ(std::get<OccupantEvent>(events.at(0)).change, OccupantChange::joined);
  events =
      room.apply(stanza("<presence type='unavailable' from='lobby@conference.example.test/"
                        "bob'>" +
                        x + "<item nick='robert'/><status code='303'/></x></presence>"));
  EXPECT_EQ(std::get<OccupantEvent>(events.at(0)).change, OccupantChange::renamed);
  EXPECT_EQ(std::get<OccupantEvent>(events.at(0)).new_nick, "robert");
  events = room.apply(stanza("<presence from='lobby@conference.example.test/robert'>" + x +
                             "<item role='participant' affiliation='none'/></x></presence>"));
  EXPECT_EQ(std::get<OccupantEvent>(events.at(0)).change, OccupantChange::joined);
  events =
      room.apply(stanza("<presence type='unavailable' from='lobby@conference.example.test/"
                        "robert'>" +
                        x + "<status code='307'/></x></presence>"));
  EXPECT_EQ(std::get<OccupantEvent>(events.at(0)).change, OccupantChange::kicked);
  EXPECT_EQ(room.occupants().size(), 1u);

  // The limit (3 here) is an event, not a silent truncation.
  for (const char* nick : {"c", "d"}) {
    events = room.apply(
        stanza(std::string("<presence from='lobby@conference.example.test/") + nick + "'/>"));
    EXPECT_TRUE(std::holds_alternative<OccupantEvent>(events.at(0)));
  }
  events = room.apply(stanza("<presence from='lobby@conference.example.test/e'/>"));
  ASSERT_TRUE(std::holds_alternative<RoomError>(events.at(0)));
  EXPECT_NE(std::get<RoomError>(events.at(0)).error.text.find("incomplete"), std::string::npos);

  // Our own exit, destroyed with a reason.
  events = room.apply(stanza(
      "<presence type='unavailable' from='lobby@conference.example.test/alice'>" + x +
      "<item role='none'/><destroy><reason>closing</reason></destroy><status code='110'/></x>"
      "</presence>"));
  ASSERT_TRUE(std::holds_alternative<RoomLeft>(events.at(0)));
  EXPECT_EQ(std::get<RoomLeft>(events.at(0)).reason, RoomExit::room_destroyed);
  EXPECT_EQ(std::get<RoomLeft>(events.at(0)).detail, "closing");
  EXPECT_EQ(room.state(), RoomState::not_joined);
}

TEST(GroupChat, InstantRoomRequest) {
  auto room = xmpp::Jid::parse("lobby@conference.example.test");
  ASSERT_TRUE(room);
  const xml::Element iq = make_instant_room_request(*room, "cfg1");
  EXPECT_EQ(*iq.attribute("type"), "set");
  EXPECT_EQ(*iq.attribute("to"), "lobby@conference.example.test");
  const xml::Element* query = iq.first_child(kMucOwnerNamespace, "query");
  ASSERT_NE(query, nullptr);
  const xml::Element* form = query->first_child(kDataFormsNamespace, "x");
  ASSERT_NE(form, nullptr);
  EXPECT_EQ(*form->attribute("type"), "submit");
}

}  // namespace
}  // namespace parley::client
