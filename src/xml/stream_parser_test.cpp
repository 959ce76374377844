// Tables for stream_parser.hpp: each row is a byte stream and the events and stream error
// RFC 6120 (sections 4 and 11) call for. Every row is run whole, one byte at a time, in 7-byte
// pieces and with a pause/resume after every stanza; all runs must report the same thing.

#include "xml/stream_parser.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::xml {
namespace {

constexpr std::string_view kClientHeader =
    "<stream:stream from='juliet@im.example.com' to='im.example.com' version='1.0' xml:lang='en' "
    "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
constexpr std::string_view kClose = "</stream:stream>";
// What the recorder prints for kClientHeader.
constexpr std::string_view kClientHeaderEvent =
    "open to=im.example.com from=juliet@im.example.com id=- lang=en version=1.0 ns=jabber:client "
    "decls=[=jabber:client stream=http://etherx.jabber.org/streams]";

std::string with_header(std::string_view body) {
  return std::string(kClientHeader) + std::string(body);
}
std::string whole_stream(std::string_view body) {
  return with_header(body) + std::string(kClose);
}

std::string describe(const StreamHeader& header) {
  const auto optional = [](const std::optional<std::string>& value) {
    return value ? *value : "-";
  };
  std::string out = "open to=" + optional(header.to) + " from=" + optional(header.from) +
                    " id=" + optional(header.id) + " lang=" + optional(header.lang) +
                    " version=" + std::to_string(header.version.major) + "." +
                    std::to_string(header.version.minor) + " ns=" + header.content_namespace +
                    " decls=[";
  for (std::size_t i = 0; i < header.namespace_declarations.size(); ++i) {
    if (i > 0) out += ' ';
    out += header.namespace_declarations[i].prefix + "=" +
           header.namespace_declarations[i].namespace_uri;
  }
  return out + "]";
}

// Records events as text; stanzas as they serialize into a jabber:client stream.
class Recorder final : public StreamEvents {
 public:
  AfterEvent on_stream_open(const StreamHeader& header) override {
    events.push_back(describe(header));
    return pause_after_every_event ? AfterEvent::pause : AfterEvent::continue_parsing;
  }
  AfterEvent on_stanza(Element stanza) override {
    events.push_back(serialize(stanza, {"jabber:client"}));
    const bool pause =
        pause_after_every_event || std::find(pause_after.begin(), pause_after.end(),
                                             stanza.name().local_name) != pause_after.end();
    stanzas.push_back(std::move(stanza));
    return pause ? AfterEvent::pause : AfterEvent::continue_parsing;
  }
  void on_stream_close() override { events.push_back("close"); }

  bool pause_after_every_event = false;
  std::vector<std::string> pause_after;  // local names of stanzas to pause after
  std::vector<std::string> events;
  std::vector<Element> stanzas;
};

struct Outcome {
  std::vector<std::string> events;
  std::optional<StreamErrorCondition> error;
};

enum class OnPause { resume, reset_and_refeed };

struct RunOptions {
  std::size_t chunk_size = 0;  // 0: everything in one feed()
  bool pause_after_every_event = false;
  std::vector<std::string> pause_after;
  OnPause on_pause = OnPause::resume;
  StreamParserOptions parser;
  // Called after each feed() with the parser, to watch its counters.
  std::function<void(const StreamParser&)> after_feed;
};

Outcome run(std::string_view input, const RunOptions& options = {}) {
  Recorder recorder;
  recorder.pause_after_every_event = options.pause_after_every_event;
  recorder.pause_after = options.pause_after;
  StreamParser parser(recorder, options.parser);
  Outcome outcome;
  const std::size_t chunk =
      options.chunk_size == 0 ? std::max<std::size_t>(input.size(), 1) : options.chunk_size;

  // A pause hands back bytes; they are parsed before the rest of the input.
  std::string pending(input);
  std::size_t position = 0;
  std::optional<StreamErrorCondition> error;
  for (std::size_t guard = 0; guard < 10 * input.size() + 10 && position < pending.size() && !error;
       ++guard) {
    const std::string_view piece = std::string_view(pending).substr(position, chunk);
    position += piece.size();
    auto status = parser.feed(piece);
    // Each pause is followed by resume() or by reset() and feeding the held bytes again.
    for (std::size_t pauses = 0; status && *status == FeedStatus::paused && pauses < 10'000;
         ++pauses) {
      if (options.on_pause == OnPause::resume) {
        status = parser.resume();
      } else {
        const std::string held(parser.unparsed_after_pause());
        parser.reset();
        pending = held + pending.substr(position);
        position = 0;
        status = FeedStatus::need_more_input;
      }
    }
    if (options.after_feed) options.after_feed(parser);
    if (!status) error = status.error().condition;
  }
  if (!error) {
    if (auto finished = parser.finish(); !finished) error = finished.error().condition;
  }
  outcome.events = std::move(recorder.events);
  outcome.error = error;
  return outcome;
}

std::string condition_name(const std::optional<StreamErrorCondition>& condition) {
  return condition ? std::string(to_string(*condition)) : "none";
}

struct StreamRow {
  std::string name;
  std::string input;
  std::vector<std::string> events;
  std::optional<StreamErrorCondition> error;
  StreamParserOptions options = {};
};

// Runs a row whole, byte by byte, in 7-byte pieces and with pauses, comparing all against it.
void check_row(const StreamRow& row) {
  SCOPED_TRACE(row.name);
  struct Mode {
    const char* name;
    std::size_t chunk_size;
    bool pause;
  };
  for (const Mode mode :
       {Mode{"whole", 0, false}, Mode{"1-byte", 1, false}, Mode{"7-byte", 7, false},
        Mode{"whole+pauses", 0, true}, Mode{"1-byte+pauses", 1, true}}) {
    SCOPED_TRACE(mode.name);
    RunOptions options;
    options.chunk_size = mode.chunk_size;
    options.pause_after_every_event = mode.pause;
    options.parser = row.options;
    const Outcome outcome = run(row.input, options);
    EXPECT_EQ(outcome.events, row.events);
    EXPECT_EQ(condition_name(outcome.error), condition_name(row.error));
  }
}

constexpr auto kRestricted = StreamErrorCondition::restricted_xml;
constexpr auto kNotWellFormed = StreamErrorCondition::not_well_formed;
constexpr auto kPolicy = StreamErrorCondition::policy_violation;
constexpr auto kInvalidNamespace = StreamErrorCondition::invalid_namespace;
constexpr auto kUnsupportedVersion = StreamErrorCondition::unsupported_version;

const std::string kBillionLaughs =
    "<?xml version='1.0'?>\n"
    "<!DOCTYPE lolz [\n"
    " <!ENTITY lol 'lol'>\n"
    " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
    " <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>\n"
    " <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
    " <!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>\n"
    " <!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>\n"
    " <!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>\n"
    " <!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>\n"
    " <!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>\n"
    " <!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>\n"
    "]>\n"
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "version='1.0'><message><body>&lol9;</body></message>";

TEST(StreamParser, Table) {
  const std::string header_event(kClientHeaderEvent);
  const std::vector<StreamRow> rows = {
      // RFC 6120 9.1: a client's stream with the XML declaration (11.5), whitespace keepalives
      // (11.7) and the three stanza kinds.
      {"client stream",
       "<?xml version='1.0' encoding='UTF-8'?>" +
           whole_stream("<message to='romeo@example.net' type='chat' id='a1'><body>Wherefore art "
                        "thou?</body>"
                        "</message>\n  <presence/>\n<iq type='get' id='p1'><ping "
                        "xmlns='urn:xmpp:ping'/></iq> "),
       {header_event,
        "<message to='romeo@example.net' type='chat' id='a1'><body>Wherefore art "
        "thou?</body></message>",
        "<presence/>", "<iq type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>", "close"},
       std::nullopt},
      {"server-to-client stream with id and any prefix for the streams namespace",
       "<s:stream xmlns:s='http://etherx.jabber.org/streams' xmlns='jabber:client' id='t7AM' "
       "version='1.0' from='im.example.com'><s:features><starttls "
       "xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
       "<required/></starttls></s:features></s:stream>",
       {"open to=- from=im.example.com id=t7AM lang=- version=1.0 ns=jabber:client "
        "decls=[s=http://etherx.jabber.org/streams =jabber:client]",
        "<features xmlns='http://etherx.jabber.org/streams'><starttls "
        "xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
        "<required/></starttls></features>",
        "close"},
       std::nullopt},
      {"multi-byte UTF-8 in text and attributes",
       whole_stream("<message id='\xC3\xA9\xE2\x9C\x93'><body>h\xC3\xA9llo \xE2\x9C\x93 "
                    "\xF0\x9D\x84\x9E</body></message>"),
       {header_event,
        "<message id='\xC3\xA9\xE2\x9C\x93'><body>h\xC3\xA9llo \xE2\x9C\x93 "
        "\xF0\x9D\x84\x9E</body></message>",
        "close"},
       std::nullopt},
      {"predefined entities and numeric character references",
       whole_stream("<message "
                    "id='&lt;&#34;&gt;'><body>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;&#x1F600;</"
                    "body></message>"),
       {header_event,
        "<message "
        "id='&lt;&quot;&gt;'><body>&lt;&gt;&amp;&apos;&quot;AB\xF0\x9F\x98\x80</body></message>",
        "close"},
       std::nullopt},
      {"CDATA section becomes text",
       whole_stream("<message><body><![CDATA[<b>&amp;]]></body></message>"),
       {header_event, "<message><body>&lt;b&gt;&amp;amp;</body></message>", "close"},
       std::nullopt},
      {"empty stream header opens and closes at once",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='1.0'/>",
       {"open to=- from=- id=- lang=- version=1.0 ns=jabber:client "
        "decls=[=jabber:client stream=http://etherx.jabber.org/streams]",
        "close"},
       std::nullopt},
      {"bytes after </stream:stream> are not parsed",
       whole_stream("<presence/>") + "<garbage",
       {header_event, "<presence/>", "close"},
       std::nullopt},

      // RFC 6120 11.1: restricted XML.
      {"DOCTYPE before the header",
       "<?xml version='1.0'?><!DOCTYPE stream:stream>" + whole_stream(""),
       {},
       kRestricted},
      {"DTD with an entity declaration",
       "<!DOCTYPE x [<!ENTITY e 'v'>]>" + whole_stream("<a>&e;</a>"),
       {},
       kRestricted},
      {"DTD with an external entity",
       "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>" + whole_stream("<a>&e;</a>"),
       {},
       kRestricted},
      {"billion laughs", kBillionLaughs, {}, kRestricted},
      {"undeclared entity in text",
       with_header("<message><body>&custom;</body></message>"),
       {header_event},
       kRestricted},
      {"undeclared entity in an attribute",
       with_header("<message id='&custom;'/>"),
       {header_event},
       kRestricted},
      {"comment in the prolog", "<!-- hi -->" + whole_stream(""), {}, kRestricted},
      {"comment between stanzas",
       with_header("<presence/><!-- hi -->"),
       {header_event, "<presence/>"},
       kRestricted},
      {"comment inside a stanza",
       with_header("<message><!-- hi --></message>"),
       {header_event},
       kRestricted},
      {"processing instruction after the header",
       with_header("<?xml-stylesheet href='a.xsl'?>"),
       {header_event},
       kRestricted},
      {"processing instruction in the prolog",
       "<?xml-stylesheet href='a.xsl'?>" + whole_stream(""),
       {},
       kRestricted},
      {"processing instruction inside a stanza",
       with_header("<message><?pi x?></message>"),
       {header_event},
       kRestricted},

      // RFC 6120 11.3, 11.6: not well-formed, not UTF-8.
      {"XML declaration after the header",
       with_header("<?xml version='1.0'?>"),
       {header_event},
       kNotWellFormed},
      {"encoding other than UTF-8 declared",
       "<?xml version='1.0' encoding='ISO-8859-1'?>" + whole_stream(""),
       {},
       StreamErrorCondition::unsupported_encoding},
      {"invalid UTF-8: bad continuation byte",
       with_header("<message><body>\xC3\x28</body></message>"),
       {header_event},
       kNotWellFormed},
      {"invalid UTF-8: overlong encoding of '/'",
       with_header("<message><body>\xC0\xAF</body></message>"),
       {header_event},
       kNotWellFormed},
      {"invalid UTF-8: surrogate",
       with_header("<message><body>\xED\xA0\x80</body></message>"),
       {header_event},
       kNotWellFormed},
      {"invalid UTF-8: lone continuation byte",
       with_header("<message id='\x80'/>"),
       {header_event},
       kNotWellFormed},
      {"invalid UTF-8: beyond U+10FFFF",
       with_header("<message><body>\xF4\x90\x80\x80</body></message>"),
       {header_event},
       kNotWellFormed},
      {"control character",
       with_header("<message><body>\x01</body></message>"),
       {header_event},
       kNotWellFormed},
      {"character reference to NUL",
       with_header("<message><body>&#0;</body></message>"),
       {header_event},
       kNotWellFormed},
      {"UTF-16 byte order mark", "\xFF\xFE<", {}, kNotWellFormed},
      {"mismatched end tag",
       with_header("<message><body></message>"),
       {header_event},
       kNotWellFormed},
      {"unbound prefix", with_header("<foo:bar/>"), {header_event}, kNotWellFormed},
      {"duplicate attribute",
       with_header("<message id='1' id='2'/>"),
       {header_event},
       kNotWellFormed},
      {"duplicate attribute through two prefixes",
       with_header("<message xmlns:a='urn:x' xmlns:b='urn:x' a:id='1' b:id='2'/>"),
       {header_event},
       kNotWellFormed},
      {"DOCTYPE inside the stream", with_header("<!DOCTYPE x>"), {header_event}, kNotWellFormed},
      {"unclosed tag at stream end",
       with_header("<message><body>hi"),
       {header_event},
       kNotWellFormed},
      {"stream never closed",
       with_header("<presence/>"),
       {header_event, "<presence/>"},
       kNotWellFormed},
      {"nothing at all", "", {}, kNotWellFormed},
      {"text between stanzas",
       with_header("<presence/>hello"),
       {header_event, "<presence/>"},
       StreamErrorCondition::bad_format},

      // RFC 6120 4.8, 4.7.5: the header.
      {"wrong stream namespace",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://example.com/streams' "
       "version='1.0'>",
       {},
       kInvalidNamespace},
      {"wrong root element name",
       "<stream:streams xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='1.0'>",
       {},
       kInvalidNamespace},
      {"a stanza instead of a stream header",
       "<message xmlns='jabber:client'/>",
       {},
       kInvalidNamespace},
      {"content namespace of another stream type",
       "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='1.0'>",
       {},
       kInvalidNamespace},
      {"no content namespace",
       "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>",
       {},
       kInvalidNamespace},
      {"content namespace not checked when none is expected",
       "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='1.0'/>",
       {"open to=- from=- id=- lang=- version=1.0 ns=jabber:server "
        "decls=[=jabber:server stream=http://etherx.jabber.org/streams]",
        "close"},
       std::nullopt,
       StreamParserOptions{ParserLimits{}, ""}},
      {"no version (0.9)",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>",
       {},
       kUnsupportedVersion},
      {"major version 2",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='2.0'>",
       {},
       kUnsupportedVersion},
      {"version not a number",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='1.x'>",
       {},
       kUnsupportedVersion},
      {"higher minor version, leading zeros ignored",
       "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
       "version='001.0011'/>",
       {"open to=- from=- id=- lang=- version=1.11 ns=jabber:client "
        "decls=[=jabber:client stream=http://etherx.jabber.org/streams]",
        "close"},
       std::nullopt},
  };
  for (const StreamRow& row : rows) check_row(row);
}

TEST(StreamParser, ReportsTheStanzaTree) {
  Recorder recorder;
  StreamParser parser(recorder);
  ASSERT_TRUE(
      parser.feed(whole_stream("<message xmlns:x='urn:x' to='romeo@example.net' x:flag='1'><body "
                               "xml:lang='en'>a<b>c</b>d</body></message>")));
  ASSERT_EQ(recorder.stanzas.size(), 1u);
  const Element& message = recorder.stanzas[0];
  EXPECT_EQ(message.name(), (QualifiedName{"jabber:client", "message"}));
  ASSERT_NE(message.attribute("to"), nullptr);
  EXPECT_EQ(*message.attribute("to"), "romeo@example.net");
  ASSERT_NE(message.attribute("flag", "urn:x"), nullptr);
  EXPECT_EQ(message.attribute("flag"), nullptr);
  const Element* body = message.first_child("jabber:client", "body");
  ASSERT_NE(body, nullptr);
  ASSERT_NE(body->attribute("lang", kXmlNamespace), nullptr);
  EXPECT_EQ(*body->attribute("lang", kXmlNamespace), "en");
  EXPECT_EQ(body->text(), "ad");
  ASSERT_EQ(body->children().size(), 3u);  // mixed content keeps its order
  EXPECT_EQ(body->children()[0].text(), "a");
  EXPECT_EQ(body->children()[1].element().text(), "c");
  EXPECT_EQ(body->children()[2].text(), "d");
}

TEST(StreamParser, SplitInsideAMultiByteCharacterAtEveryPosition) {
  const std::string input =
      whole_stream("<message><body>\xF0\x9D\x84\x9E\xE2\x9C\x93</body></message>");
  const std::size_t character_start = input.find('\xF0');
  for (std::size_t cut = character_start; cut <= character_start + 7; ++cut) {
    Recorder recorder;
    StreamParser parser(recorder);
    ASSERT_TRUE(parser.feed(std::string_view(input).substr(0, cut)));
    ASSERT_TRUE(parser.feed(std::string_view(input).substr(cut)));
    ASSERT_TRUE(parser.finish());
    ASSERT_EQ(recorder.stanzas.size(), 1u);
    EXPECT_EQ(recorder.stanzas[0].first_child("jabber:client", "body")->text(),
              "\xF0\x9D\x84\x9E\xE2\x9C\x93");
  }
}

// ---- limits: each one at its bound (accepted) and one past it (policy-violation) ----

struct LimitRow {
  std::string name;
  std::function<void(ParserLimits&)> set_limit;
  std::string stanza_at_limit;
  std::string stanza_past_limit;
};

TEST(StreamParser, EveryLimitIsEnforced) {
  const auto repeat = [](std::string_view s, std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) out += s;
    return out;
  };
  const std::vector<LimitRow> rows = {
      // The same bound covers the stream header, so it cannot go below the header's size here.
      {"stanza bytes", [](ParserLimits& l) { l.max_stanza_bytes = 200; },
       "<message><body>" + repeat("a", 168) + "</body></message>",  // exactly 200 bytes
       "<message><body>" + repeat("a", 169) + "</body></message>"},
      {"depth", [](ParserLimits& l) { l.max_depth = 3; }, "<a><b><c/></b></a>",
       "<a><b><c><d/></c></b></a>"},
      // The client header has four attributes and two declarations, so the rows use 6.
      {"attributes per element", [](ParserLimits& l) { l.max_attributes_per_element = 6; },
       "<a a='1' b='2' c='3' d='4' e='5' f='6'/>",
       "<a a='1' b='2' c='3' d='4' e='5' f='6' g='7'/>"},
      {"namespace declarations count as attributes",
       [](ParserLimits& l) { l.max_attributes_per_element = 6; },
       "<a xmlns:p='urn:p' a='1' b='2' c='3' d='4' p:e='5'/>",
       "<a xmlns:p='urn:p' xmlns:q='urn:q' a='1' b='2' c='3' d='4' p:e='5'/>"},
      {"elements per stanza", [](ParserLimits& l) { l.max_elements_per_stanza = 4; },
       "<a><b/><b/><b/></a>", "<a><b/><b/><b/><b/></a>"},
      {"text per node", [](ParserLimits& l) { l.max_text_bytes = 10; },
       "<a>" + repeat("x", 10) + "<b/>yy</a>", "<a>" + repeat("x", 11) + "</a>"},
      {"text per node counts resolved characters", [](ParserLimits& l) { l.max_text_bytes = 4; },
       "<a>&lt;&lt;&lt;&lt;</a>", "<a>&lt;&lt;&lt;&lt;&lt;</a>"},
      // The header's longest value is 21 bytes (juliet@im.example.com).
      {"attribute value", [](ParserLimits& l) { l.max_attribute_value_bytes = 24; },
       "<a x='" + repeat("v", 24) + "'/>", "<a x='" + repeat("v", 25) + "'/>"},
      {"attribute value counts resolved characters",
       [](ParserLimits& l) { l.max_attribute_value_bytes = 24; },
       "<a x='" + repeat("&amp;", 24) + "'/>", "<a x='" + repeat("&amp;", 25) + "'/>"},
      // The header needs 36 (the XML namespace of xml:lang), so the rows use 40.
      {"name length", [](ParserLimits& l) { l.max_name_bytes = 40; }, "<" + repeat("n", 40) + "/>",
       "<" + repeat("n", 41) + "/>"},
      {"namespace URI length", [](ParserLimits& l) { l.max_name_bytes = 40; },
       "<a xmlns='urn:" + repeat("u", 36) + "'/>", "<a xmlns='urn:" + repeat("u", 37) + "'/>"},
      {"attribute name length", [](ParserLimits& l) { l.max_name_bytes = 40; },
       "<a " + repeat("n", 40) + "='v'/>", "<a " + repeat("n", 41) + "='v'/>"},
      {"stanza memory", [](ParserLimits& l) { l.max_stanza_memory_bytes = 13 + 1 + (13 + 1) * 3; },
       "<a><a/><a/><a/></a>",  // every element stores "jabber:client" again
       "<a><a/><a/><a/><a/></a>"},
  };
  for (const LimitRow& row : rows) {
    StreamParserOptions options;
    row.set_limit(options.limits);
    const std::string header_event(kClientHeaderEvent);
    const Element accepted = *parse_element(row.stanza_at_limit, "jabber:client");
    check_row({row.name + " at the limit",
               whole_stream(row.stanza_at_limit),
               {header_event, serialize(accepted, {"jabber:client"}), "close"},
               std::nullopt,
               options});
    check_row({row.name + " past the limit",
               whole_stream(row.stanza_past_limit),
               {header_event},
               kPolicy,
               options});
  }
}

TEST(StreamParser, StreamHeaderIsBounded) {
  StreamParserOptions options;
  options.limits.max_stanza_bytes = 200;
  check_row({"header within the limit",
             whole_stream(""),
             {std::string(kClientHeaderEvent), "close"},
             std::nullopt,
             options});
  const std::string padded =
      "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
      "version='1.0' to='" +
      std::string(200, 'x') + "'>";
  check_row({"header past the limit", padded, {}, kPolicy, options});
  options.limits.max_attributes_per_element = 4;
  check_row({"header with too many attributes", std::string(kClientHeader), {}, kPolicy, options});
}

// A stanza far over the limit, arriving in pieces or all at once, is refused while the parser
// holds no more than the limit plus one input slice.
TEST(StreamParser, OversizeStanzaKeepsMemoryBounded) {
  const ParserLimits limits;  // the defaults: 256 KiB per stanza
  const std::size_t bound = limits.max_stanza_bytes + StreamParser::kInputSliceBytes;
  struct Case {
    const char* name;
    std::string stanza_start;  // followed by megabytes of 'a'
  };
  for (const Case& c :
       {Case{"long text", "<message><body>"}, Case{"one huge start tag", "<message to='"},
        Case{"huge element name", "<m"}, Case{"whitespace inside a tag", "<message "}}) {
    SCOPED_TRACE(c.name);
    const std::string filler(4 * 1024 * 1024,
                             c.name == std::string_view("whitespace inside a tag") ? ' ' : 'a');
    const std::string input = with_header(c.stanza_start) + filler;
    for (const std::size_t chunk : {std::size_t{1000}, std::size_t{65536}, input.size()}) {
      std::size_t peak_buffered = 0;
      std::size_t peak_memory = 0;
      RunOptions options;
      options.chunk_size = chunk;
      options.after_feed = [&](const StreamParser& parser) {
        peak_buffered = std::max(peak_buffered, parser.buffered_stanza_bytes());
        peak_memory = std::max(peak_memory, parser.stanza_memory_bytes());
      };
      const Outcome outcome = run(input, options);
      EXPECT_EQ(condition_name(outcome.error), "policy-violation");
      EXPECT_LE(peak_buffered, bound);
      EXPECT_LE(peak_memory, limits.max_stanza_memory_bytes);
    }
  }
}

// Found by the fuzzer: the stanza memory limit refused a stanza but the count kept the refused
// bytes, so a caller watching stanza_memory_bytes() saw more than the limit.
TEST(StreamParser, MemoryCountNeverPassesTheLimitWhenItRefuses) {
  StreamParserOptions options;
  options.limits.max_stanza_memory_bytes = 100;
  Recorder recorder;
  StreamParser parser(recorder, options);
  // Each element stores its 13-byte namespace: the eighth passes 100.
  const auto status = parser.feed(with_header("<a><a/><a/><a/><a/><a/><a/><a/><a/></a>"));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().condition, StreamErrorCondition::policy_violation);
  EXPECT_LE(parser.stanza_memory_bytes(), options.limits.max_stanza_memory_bytes);
  EXPECT_GT(parser.stanza_memory_bytes(), 0u);
}

TEST(StreamParser, ManyStanzasInOneFeedAreFine) {
  // 20,000 stanzas in one feed(): limits are per stanza, not per feed, and buffering stays flat.
  std::string body;
  for (int i = 0; i < 20'000; ++i) body += "<presence id='p" + std::to_string(i) + "'/>";
  Recorder recorder;
  StreamParser parser(recorder);
  ASSERT_TRUE(parser.feed(whole_stream(body)));
  EXPECT_EQ(recorder.stanzas.size(), 20'000u);
  EXPECT_EQ(parser.buffered_stanza_bytes(), 0u);
}

TEST(StreamParser, EntityHeavyStreamIsNotMistakenForAmplification) {
  // Expat counts "&lt;" as expansion; a long legitimate stream full of them must still pass.
  std::string text;
  for (int j = 0; j < 5000; ++j) text += "&lt;&amp;&#x41;";
  std::string body;
  for (int i = 0; i < 100; ++i) body += "<message><body>" + text + "</body></message>";
  const Outcome outcome = run(whole_stream(body));
  EXPECT_EQ(condition_name(outcome.error), "none");
  EXPECT_EQ(outcome.events.size(), 102u);
}

// ---- stream restarts and pauses ----

constexpr std::string_view kSaslAuth =
    "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
    "mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1vTXNUQUF3QUFBQU1BQUFBTlAwVEFBQUFBQUJQVTBBQQ==</"
    "auth>";
constexpr std::string_view kRestartedHeader =
    "<stream:stream to='im.example.com' version='1.0' xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams'>";

TEST(StreamParser, RestartAfterSaslWithPipelinedHeader) {
  // RFC 6120 6.4.6: after <success/> both sides restart the stream. A client that pipelines the
  // new header behind <auth/> (XEP-0305) must have it parsed by the new parser.
  const std::string input = with_header(kSaslAuth) + std::string(kRestartedHeader) +
                            "<iq type='set' id='b1'/>" + std::string(kClose);
  const std::vector<std::string> expected = {
      std::string(kClientHeaderEvent),
      serialize(*parse_element(kSaslAuth, "jabber:client"), {"jabber:client"}),
      "open to=im.example.com from=- id=- lang=- version=1.0 ns=jabber:client "
      "decls=[=jabber:client stream=http://etherx.jabber.org/streams]",
      "<iq type='set' id='b1'/>", "close"};
  for (const std::size_t chunk :
       {std::size_t{0}, std::size_t{1}, std::size_t{5}, std::size_t{100}}) {
    SCOPED_TRACE(chunk);
    RunOptions options;
    options.chunk_size = chunk;
    options.pause_after = {"auth"};
    options.on_pause = OnPause::reset_and_refeed;
    const Outcome outcome = run(input, options);
    EXPECT_EQ(outcome.events, expected);
    EXPECT_EQ(condition_name(outcome.error), "none");
  }
}

TEST(StreamParser, PauseAndResumeAcrossInputSlices) {
  // More input than one slice: a pause leaves bytes both inside expat and not yet handed to it,
  // and resume() must parse each exactly once.
  std::string body;
  for (int i = 0; i < 300; ++i)
    body += "<message id='m" + std::to_string(i) + "'><body>" + std::string(40, 'x') +
            "</body></message>";
  const std::string input = whole_stream(body);
  ASSERT_GT(input.size(), 3 * StreamParser::kInputSliceBytes);
  const Outcome plain = run(input);
  ASSERT_EQ(plain.events.size(), 302u);
  for (const std::size_t chunk : {std::size_t{0}, std::size_t{5000}, std::size_t{333}}) {
    RunOptions options;
    options.chunk_size = chunk;
    options.pause_after_every_event = true;
    const Outcome paused = run(input, options);
    EXPECT_EQ(paused.events, plain.events) << chunk;
    EXPECT_EQ(condition_name(paused.error), "none");
  }
}

TEST(StreamParser, WithoutResetTheOldStreamWouldSwallowTheNewHeader) {
  // The same bytes without a restart: the second header is just a child of the first stream,
  // which is why a restart needs the pause.
  const std::string input = with_header(kSaslAuth) + std::string(kRestartedHeader);
  const Outcome outcome = run(input);
  EXPECT_EQ(outcome.events.size(), 2u);
  EXPECT_EQ(condition_name(outcome.error), "not-well-formed");  // finish(): unclosed
}

TEST(StreamParser, PlaintextBehindStarttlsIsHandedBackNotParsed) {
  // After <starttls/> the server answers <proceed/> and starts TLS; bytes that arrived in the same
  // plaintext read are an injection attempt. The pause leaves them visible and unparsed.
  const std::string injected = "<iq type='set' id='evil'><query xmlns='jabber:iq:roster'/></iq>";
  Recorder recorder;
  recorder.pause_after = {"starttls"};
  StreamParser parser(recorder);
  auto status =
      parser.feed(with_header("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>") + injected);
  ASSERT_TRUE(status);
  EXPECT_EQ(*status, FeedStatus::paused);
  EXPECT_EQ(parser.unparsed_after_pause(), injected);
  EXPECT_EQ(recorder.stanzas.size(), 1u);
  // Feeding while paused is a misuse.
  auto misuse = parser.feed("<presence/>");
  ASSERT_FALSE(misuse);
  EXPECT_EQ(misuse.error().condition, StreamErrorCondition::internal_server_error);
  // After reset() the held bytes are gone and a new stream header is expected.
  parser.reset();
  EXPECT_EQ(parser.unparsed_after_pause(), "");
  ASSERT_TRUE(parser.feed(std::string(kRestartedHeader)));
  EXPECT_EQ(recorder.events.size(), 3u);
}

TEST(StreamParser, ResetClearsAnErrorAndAPartialStanza) {
  Recorder recorder;
  StreamParser parser(recorder);
  ASSERT_TRUE(parser.feed(with_header("<message><body>half")));
  EXPECT_GT(parser.buffered_stanza_bytes(), 0u);
  parser.reset();
  EXPECT_EQ(parser.buffered_stanza_bytes(), 0u);
  EXPECT_EQ(parser.stanza_memory_bytes(), 0u);
  ASSERT_FALSE(parser.feed("<!-- x -->"));
  EXPECT_FALSE(parser.feed(std::string(kClientHeader)));  // the error is latched
  parser.reset();
  ASSERT_TRUE(parser.feed(whole_stream("<presence/>")));
  EXPECT_TRUE(parser.finish());
}

TEST(StreamParser, ErrorsCarryThePosition) {
  Recorder recorder;
  StreamParser parser(recorder);
  const std::string input = with_header("<presence/><!-- x -->");
  auto status = parser.feed(input);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().byte_offset, input.find("<!--"));
  EXPECT_FALSE(status.error().detail.empty());
  const Error error = to_error(status.error());
  EXPECT_EQ(error.kind, ErrorKind::parse);
  EXPECT_NE(error.message.find("restricted-xml"), std::string::npos);
}

// ---- serializer round trip: parse -> serialize -> parse gives the same tree ----

struct RoundTripRow {
  std::string name;
  std::string input;       // one element, in a jabber:client stream
  std::string serialized;  // what serialize() writes for a jabber:client stream
};

TEST(Serializer, RoundTripTable) {
  const std::vector<RoundTripRow> rows = {
      {"escaping of < & > and quotes in text and attributes",
       "<message to='a@b' id='x&amp;y&lt;&gt;&quot;&apos;\"'><body>1 &lt; 2 &amp;&amp; 3 &gt; 2 "
       "\"q\" 'a' ]]&gt;</body></message>",
       "<message to='a@b' id='x&amp;y&lt;&gt;&quot;&apos;&quot;'><body>1 &lt; 2 &amp;&amp; 3 &gt; "
       "2 &quot;q&quot; "
       "&apos;a&apos; ]]&gt;</body></message>"},
      {"child in another namespace",
       "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
       "<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>"},
      {"prefixed elements become default-namespaced",
       "<x:query xmlns:x='jabber:iq:roster'><x:item jid='a@b'/><item/></x:query>",
       "<query xmlns='jabber:iq:roster'><item jid='a@b'/><item xmlns='jabber:client'/></query>"},
      {"namespaced attributes get declared prefixes, xml:lang keeps its own",
       "<message xmlns:foo='urn:foo' foo:bar='1' xml:lang='en'><body foo:baz='2'/></message>",
       "<message xmlns:ns1='urn:foo' ns1:bar='1' xml:lang='en'><body ns1:baz='2'/></message>"},
      {"one prefix name bound to two namespaces at two levels",
       "<a xmlns:p='urn:1' p:x='1'><b xmlns:p='urn:2' p:x='2'/></a>",
       "<a xmlns:ns1='urn:1' ns1:x='1'><b xmlns:ns2='urn:2' ns2:x='2'/></a>"},
      {"element in no namespace under a namespaced parent",
       "<message><x xmlns=''><y/></x></message>", "<message><x xmlns=''><y/></x></message>"},
      {"tab, newline and CR survive in attribute values", "<m a='&#9;&#10;&#13;' b='x y'/>",
       "<m a='&#x9;&#xA;&#xD;' b='x y'/>"},
      {"literal newlines in attribute values are normalized by the parser", "<m a='x\ny\tz'/>",
       "<m a='x y z'/>"},
      {"CR in text survives, CRLF is normalized", "<m>a&#13;b\r\nc</m>", "<m>a&#xD;b\nc</m>"},
      {"mixed content keeps its order",
       "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
       "xmlns='http://www.w3.org/1999/xhtml'>"
       "<p>Hi <em>there</em>!</p></body></html>",
       "<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
       "xmlns='http://www.w3.org/1999/xhtml'>"
       "<p>Hi <em>there</em>!</p></body></html>"},
      {"element in the XML namespace keeps the xml prefix", "<m><xml:x a='1'><y/></xml:x></m>",
       "<m><xml:x a='1'><y/></xml:x></m>"},
      {"namespace URIs are escaped", "<m xmlns='urn:a&amp;b'/>", "<m xmlns='urn:a&amp;b'/>"},
      {"whitespace-only text inside a stanza is kept", "<m>\n  <b/>\n</m>", "<m>\n  <b/>\n</m>"},
  };
  for (const RoundTripRow& row : rows) {
    SCOPED_TRACE(row.name);
    const auto parsed = parse_element(row.input, "jabber:client");
    ASSERT_TRUE(parsed) << parsed.error().detail;
    const std::string serialized = serialize(*parsed, {"jabber:client"});
    EXPECT_EQ(serialized, row.serialized);
    const auto reparsed = parse_element(serialized, "jabber:client");
    ASSERT_TRUE(reparsed) << reparsed.error().detail;
    EXPECT_EQ(*reparsed, *parsed);
    // Written into a stream of another default namespace, the element declares its own.
    const std::string elsewhere = serialize(*parsed, {"jabber:server"});
    const auto reparsed_elsewhere = parse_element(elsewhere, "jabber:server");
    ASSERT_TRUE(reparsed_elsewhere) << elsewhere;
    EXPECT_EQ(*reparsed_elsewhere, *parsed);
  }
}

TEST(Serializer, TreesBuiltByCodeStayWellFormed) {
  Element message("jabber:client", "message");
  message.set_attribute("to", "romeo@example.net");
  message.set_attribute("to", "juliet@example.com");  // replaces, never duplicates
  Element& body = message.append_child(Element("jabber:client", "body"));
  body.append_text("bad \x01 control, bad \xC3 UTF-8, ");
  body.append_text("and \xEF\xBF\xBE non-character");
  body.append_text("");
  ASSERT_EQ(body.children().size(), 1u);  // adjacent text merges
  EXPECT_EQ(serialize(message, {"jabber:client"}),
            "<message to='juliet@example.com'><body>bad \xEF\xBF\xBD control, bad \xEF\xBF\xBD "
            "UTF-8, and "
            "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD non-character</body></message>");
  EXPECT_TRUE(parse_element(serialize(message, {"jabber:client"}), "jabber:client"));
}

TEST(Serializer, DeepTreeBuiltByCode) {
  // Deeper than any parse limit allows; the serializer keeps its own stack, not the call stack.
  // (Destroying and comparing trees still recurses, which the parse limits keep shallow.)
  constexpr std::size_t kLevels = 3'000;
  Element root("urn:deep", "d");
  Element* leaf = &root;
  for (std::size_t i = 0; i < kLevels; ++i) leaf = &leaf->append_child(Element("urn:deep", "d"));
  const std::string out = serialize(root);
  EXPECT_EQ(out.size(), std::string_view("<d xmlns='urn:deep'>").size() +
                            (kLevels - 1) * std::string_view("<d></d>").size() +
                            std::string_view("<d/>").size() + std::string_view("</d>").size());
  ParserLimits deep_enough;
  deep_enough.max_depth = kLevels + 1;
  deep_enough.max_elements_per_stanza = kLevels + 1;
  const auto reparsed = parse_element(out, "", deep_enough);
  ASSERT_TRUE(reparsed);
  EXPECT_EQ(*reparsed, root);
}

TEST(ParseElement, RejectsWhatTheStreamRejects) {
  EXPECT_EQ(parse_element("<a><!-- x --></a>", "jabber:client").error().condition, kRestricted);
  EXPECT_EQ(parse_element("<a>", "jabber:client").error().condition, kNotWellFormed);
  EXPECT_EQ(parse_element("<a/><b/>", "jabber:client").error().condition,
            StreamErrorCondition::bad_format);
  EXPECT_EQ(parse_element("", "jabber:client").error().condition, StreamErrorCondition::bad_format);
  EXPECT_EQ(parse_element("<a/></stream:stream><!-- hidden -->", "jabber:client").error().condition,
            StreamErrorCondition::bad_format);
  const auto at = parse_element("<a>&bad;</a>", "jabber:client");
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error().byte_offset, 3u);
}

}  // namespace
}  // namespace parley::xml
