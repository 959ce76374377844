#include "xmpp/stanza.hpp"

#include <gtest/gtest.h>

#include "xml/stream_parser.hpp"

namespace parley::xmpp {
namespace {

xml::Element parse(std::string_view text) {
  auto element = xml::parse_element(text, kClientNamespace);
  EXPECT_TRUE(element) << element.error().detail;
  return element ? *element : xml::Element();
}

std::string wire(const xml::Element& element) {
  return xml::serialize(element, {kClientNamespace});
}

TEST(Stanza, BuildersProduceTheWireForm) {
  auto bob = Jid::parse("bob@example.test");
  ASSERT_TRUE(bob);
  EXPECT_EQ(wire(make_chat_message(*bob, "a < b & c", "m1")),
            "<message type='chat' to='bob@example.test' id='m1'><body>a &lt; b &amp; c</body>"
            "</message>");
  EXPECT_EQ(wire(make_ping("p1", "example.test")),
            "<iq type='get' id='p1' to='example.test'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_EQ(wire(make_roster_get("r1")),
            "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>");
  EXPECT_EQ(wire(make_bind_request("b1", "")),
            "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>");
  EXPECT_EQ(wire(make_bind_request("b1", "phone")),
            "<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>"
            "phone</resource></bind></iq>");
  EXPECT_EQ(wire(make_initial_presence()), "<presence/>");
}

TEST(Stanza, IqRepliesGoBackToTheSender) {
  const auto request =
      parse("<iq type='get' id='x1' from='example.test'><ping xmlns='urn:xmpp:ping'/></iq>");
  EXPECT_EQ(wire(make_iq_result(request)), "<iq type='result' id='x1' to='example.test'/>");
  EXPECT_EQ(wire(make_iq_error(request, "cancel", "service-unavailable")),
            "<iq type='error' id='x1' to='example.test'><error type='cancel'>"
            "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
  // From the account's own server: no 'from', so no 'to'.
  EXPECT_EQ(wire(make_iq_result(parse("<iq type='set' id='push'/>"))),
            "<iq type='result' id='push'/>");
}

TEST(Stanza, NewIdsAreDistinctAndNamed) {
  const std::string a = new_stanza_id("ping");
  const std::string b = new_stanza_id("ping");
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.starts_with("ping-"));
  EXPECT_EQ(a.size(), 5u + 16u);
}

struct MessageCase {
  const char* name;
  const char* xml;
  bool is_chat;
  const char* body;
  const char* from;
  MessageType type;
  std::optional<std::int64_t> delayed;
};

const MessageCase kMessages[] = {
    {"chat", "<message type='chat' from='a@x/r' to='b@x' id='1'><body>hi</body></message>", true,
     "hi", "a@x/r", MessageType::chat, std::nullopt},
    {"no_type_is_normal", "<message from='a@x'><body>hi</body></message>", true, "hi", "a@x",
     MessageType::normal, std::nullopt},
    {"headline", "<message type='headline'><body>news</body></message>", true, "news", "",
     MessageType::headline, std::nullopt},
    {"error_is_not_chat", "<message type='error'><body>hi</body></message>", false, "", "",
     MessageType::error, std::nullopt},
    {"groupchat_is_not_chat", "<message type='groupchat'><body>hi</body></message>", false, "", "",
     MessageType::groupchat, std::nullopt},
    {"no_body",
     "<message type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
     false, "", "", MessageType::chat, std::nullopt},
    {"empty_body", "<message type='chat'><body/></message>", false, "", "", MessageType::chat,
     std::nullopt},
    {"untagged_body_preferred",
     "<message><body xml:lang='de'>hallo</body><body>hello</body></message>", true, "hello", "",
     MessageType::normal, std::nullopt},
    {"delayed",
     "<message type='chat'><body>old</body><delay xmlns='urn:xmpp:delay' from='x' "
     "stamp='2026-11-28T08:00:00Z'/></message>",
     true, "old", "", MessageType::chat, 1795852800},
    {"bad_delay_ignored",
     "<message type='chat'><body>old</body><delay xmlns='urn:xmpp:delay' stamp='yesterday'/>"
     "</message>",
     true, "old", "", MessageType::chat, std::nullopt},
    {"presence_is_not_a_message", "<presence/>", false, "", "", MessageType::normal, std::nullopt},
};

TEST(Stanza, ReadChatMessage) {
  for (const auto& c : kMessages) {
    SCOPED_TRACE(c.name);
    const auto message = read_chat_message(parse(c.xml));
    ASSERT_EQ(message.has_value(), c.is_chat);
    if (!message) continue;
    EXPECT_EQ(message->body, c.body);
    if (*c.from) {
      EXPECT_EQ(message->from, c.from);
    }
    EXPECT_EQ(message->type, c.type);
    EXPECT_EQ(message->delayed_since, c.delayed);
  }
}

TEST(Stanza, ReadStanzaError) {
  const auto error = read_stanza_error(
      parse("<message type='error' id='m'><error type='cancel'><item-not-found "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
            "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>no\nsuch user</text></error>"
            "</message>"));
  ASSERT_TRUE(error);
  EXPECT_EQ(error->condition, "item-not-found");
  EXPECT_EQ(error->type, "cancel");
  EXPECT_EQ(describe(*error), "item-not-found (cancel): no\\nsuch user");
  EXPECT_FALSE(read_stanza_error(parse("<message type='error'/>")));
}

TEST(Stanza, ReadRoster) {
  const auto items = read_roster(
      parse("<iq type='result' id='r'><query xmlns='jabber:iq:roster' ver='1'>"
            "<item jid='bob@example.test' name='Bob' subscription='both'><group>Friends</group>"
            "<group>Work</group></item>"
            "<item jid='carol@example.test' ask='subscribe'/></query></iq>"));
  ASSERT_TRUE(items) << items.error().message;
  ASSERT_EQ(items->size(), 2u);
  EXPECT_EQ((*items)[0].jid.to_string(), "bob@example.test");
  EXPECT_EQ((*items)[0].name, "Bob");
  EXPECT_EQ((*items)[0].subscription, "both");
  EXPECT_EQ((*items)[0].groups, (std::vector<std::string>{"Friends", "Work"}));
  EXPECT_EQ((*items)[1].subscription, "none");
  EXPECT_TRUE((*items)[1].subscription_pending);

  const auto empty = read_roster(parse("<iq type='result' id='r'/>"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());

  const auto bad = read_roster(
      parse("<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a b@x'/></query></iq>"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("roster item \"a b@x\""), std::string::npos)
      << bad.error().message;

  RosterLimits limits;
  limits.max_items = 1;
  const auto too_many =
      read_roster(parse("<iq type='result'><query xmlns='jabber:iq:roster'><item jid='a@x'/><item "
                        "jid='b@x'/></query></iq>"),
                  limits);
  ASSERT_FALSE(too_many);
  EXPECT_EQ(too_many.error().kind, ErrorKind::limit);
}

struct TimeCase {
  const char* text;
  std::optional<std::int64_t> seconds;
};

const TimeCase kTimes[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"2026-11-28T08:00:00Z", 1795852800},
    {"2026-11-28T08:00:00.123Z", 1795852800},
    {"2026-11-28T10:00:00+02:00", 1795852800},
    {"2026-11-28T03:30:00-04:30", 1795852800},
    {"2024-02-29T00:00:00Z", 1709164800},
    {"2023-02-29T00:00:00Z", std::nullopt},
    {"2026-13-01T00:00:00Z", std::nullopt},
    {"2026-11-28 08:00:00Z", std::nullopt},
    {"2026-11-28T08:00:00", std::nullopt},
    {"2026-11-28T08:00:00+0200", std::nullopt},
    {"1969-12-31T23:59:59Z", std::nullopt},
    {"2026-11-28T08:00:00.Z", std::nullopt},
    {"", std::nullopt},
};

TEST(Stanza, ParseXmppDateTime) {
  for (const auto& c : kTimes) {
    SCOPED_TRACE(c.text);
    const auto parsed = parse_xmpp_datetime(c.text);
    ASSERT_EQ(parsed.has_value(), c.seconds.has_value())
        << (parsed ? std::to_string(*parsed) : parsed.error().message);
    if (parsed) {
      EXPECT_EQ(*parsed, *c.seconds);
    }
  }
}

struct EscapeCase {
  std::string_view in;
  std::string_view out;
};

const EscapeCase kEscapes[] = {
    {"plain text", "plain text"},
    {"äöü ✓ 😀", "äöü ✓ 😀"},
    {"two\nlines", "two\\nlines"},
    {"tab\there\r", "tab\\there\\r"},
    {"back\\slash", "back\\\\slash"},
    {"\x1b[2Jclear", "\\x1b[2Jclear"},
    {"del\x7f", "del\\x7f"},
    {"c1 \xc2\x9b", "c1 \\x9b"},  // U+009B CSI
    {"bidi \xe2\x80\xae"
     "evil",
     "bidi \\u202eevil"},
    {"isolate \xe2\x81\xa6x", "isolate \\u2066x"},
    {"bad \xff utf8", "bad \\xff utf8"},
};

TEST(Stanza, EscapeForTerminal) {
  for (const auto& c : kEscapes) {
    EXPECT_EQ(escape_for_terminal(c.in), c.out) << c.in;
  }
}

}  // namespace
}  // namespace parley::xmpp
