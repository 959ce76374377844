// Tables for stream_error.hpp: the RFC 6120 4.9.3 condition names, and the bytes of the
// <stream:error/> element, which a real parser (ours) must read back as the same condition.

#include "xml/stream_error.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "xml/stream_parser.hpp"

namespace parley::xml {
namespace {

struct NameRow {
  StreamErrorCondition condition;
  std::string_view name;  // as RFC 6120 4.9.3.x spells it
};

TEST(StreamErrorCondition, NamesTable) {
  const std::vector<NameRow> rows = {
      {StreamErrorCondition::bad_format, "bad-format"},
      {StreamErrorCondition::bad_namespace_prefix, "bad-namespace-prefix"},
      {StreamErrorCondition::conflict, "conflict"},
      {StreamErrorCondition::connection_timeout, "connection-timeout"},
      {StreamErrorCondition::host_gone, "host-gone"},
      {StreamErrorCondition::host_unknown, "host-unknown"},
      {StreamErrorCondition::improper_addressing, "improper-addressing"},
      {StreamErrorCondition::internal_server_error, "internal-server-error"},
      {StreamErrorCondition::invalid_from, "invalid-from"},
      {StreamErrorCondition::invalid_namespace, "invalid-namespace"},
      {StreamErrorCondition::invalid_xml, "invalid-xml"},
      {StreamErrorCondition::not_authorized, "not-authorized"},
      {StreamErrorCondition::not_well_formed, "not-well-formed"},
      {StreamErrorCondition::policy_violation, "policy-violation"},
      {StreamErrorCondition::remote_connection_failed, "remote-connection-failed"},
      {StreamErrorCondition::reset, "reset"},
      {StreamErrorCondition::resource_constraint, "resource-constraint"},
      {StreamErrorCondition::restricted_xml, "restricted-xml"},
      {StreamErrorCondition::see_other_host, "see-other-host"},
      {StreamErrorCondition::system_shutdown, "system-shutdown"},
      {StreamErrorCondition::undefined_condition, "undefined-condition"},
      {StreamErrorCondition::unsupported_encoding, "unsupported-encoding"},
      {StreamErrorCondition::unsupported_feature, "unsupported-feature"},
      {StreamErrorCondition::unsupported_stanza_type, "unsupported-stanza-type"},
      {StreamErrorCondition::unsupported_version, "unsupported-version"},
  };
  ASSERT_EQ(rows.size(), kAllStreamErrorConditions.size());
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCOPED_TRACE(rows[i].name);
    EXPECT_EQ(kAllStreamErrorConditions[i], rows[i].condition);  // the RFC's order
    EXPECT_EQ(to_string(rows[i].condition), rows[i].name);
    EXPECT_EQ(stream_error_condition_from_string(rows[i].name), rows[i].condition);
    EXPECT_TRUE(seen.insert(rows[i].name).second);
  }
  for (const std::string_view unknown :
       {"", "Not-Well-Formed", "xml-not-well-formed", "not-well-formed "}) {
    EXPECT_EQ(stream_error_condition_from_string(unknown), std::nullopt) << unknown;
  }
}

struct BuildRow {
  std::string name;
  StreamErrorCondition condition;
  StreamErrorText text;
  std::string condition_data;
  std::string expected;
};

TEST(BuildStreamError, Table) {
  const std::vector<BuildRow> rows = {
      {"condition only",
       StreamErrorCondition::not_well_formed,
       {},
       "",
       "<stream:error><not-well-formed "
       "xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"},
      {"with text and language",
       StreamErrorCondition::policy_violation,
       {"stanza too large", "en"},
       "",
       "<stream:error><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
       "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>stanza too "
       "large</text></stream:error>"},
      {"text is escaped",
       StreamErrorCondition::restricted_xml,
       {"no <!-- comments --> & \"no\" 'PIs'", ""},
       "",
       "<stream:error><restricted-xml xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
       "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>no &lt;!-- comments --&gt; &amp; "
       "&quot;no&quot; "
       "&apos;PIs&apos;</text></stream:error>"},
      {"language is escaped",
       StreamErrorCondition::conflict,
       {"replaced", "en'x"},
       "",
       "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
       "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' "
       "xml:lang='en&apos;x'>replaced</text></stream:error>"},
      {"text that is not valid UTF-8 is repaired",
       StreamErrorCondition::bad_format,
       {"x\xFF\x01y", ""},
       "",
       "<stream:error><bad-format xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
       "<text "
       "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>x\xEF\xBF\xBD\xEF\xBF\xBDy</text></"
       "stream:error>"},
      {"see-other-host carries the new address",
       StreamErrorCondition::see_other_host,
       {},
       "[2001:db8::a]:5222",
       "<stream:error><see-other-host "
       "xmlns='urn:ietf:params:xml:ns:xmpp-streams'>[2001:db8::a]:5222"
       "</see-other-host></stream:error>"},
  };
  for (const BuildRow& row : rows) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(build_stream_error(row.condition, row.text, row.condition_data), row.expected);
  }
}

// What a peer receives: the error inside a stream, read back by a restricted parser.
class ErrorCatcher final : public StreamEvents {
 public:
  AfterEvent on_stream_open(const StreamHeader&) override { return AfterEvent::continue_parsing; }
  AfterEvent on_stanza(Element stanza) override {
    received = std::move(stanza);
    return AfterEvent::continue_parsing;
  }
  void on_stream_close() override { closed = true; }
  std::optional<Element> received;
  bool closed = false;
};

TEST(BuildStreamError, EveryConditionReadsBack) {
  for (const StreamErrorCondition condition : kAllStreamErrorConditions) {
    SCOPED_TRACE(std::string(to_string(condition)));
    ErrorCatcher catcher;
    StreamParser parser(catcher);
    const std::string stream =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "version='1.0'>" +
        build_stream_error(condition, {"because & why", "en"}) + "</stream:stream>";
    ASSERT_TRUE(parser.feed(stream));
    ASSERT_TRUE(parser.finish());
    ASSERT_TRUE(catcher.received);
    EXPECT_TRUE(catcher.closed);
    const Element& error = *catcher.received;
    EXPECT_EQ(error.name(), (QualifiedName{std::string(kStreamsNamespace), "error"}));
    ASSERT_EQ(error.children().size(), 2u);
    const Element& condition_element = error.children()[0].element();
    EXPECT_EQ(condition_element.name().namespace_uri, kStreamErrorNamespace);
    EXPECT_EQ(stream_error_condition_from_string(condition_element.name().local_name), condition);
    const Element* text = error.first_child(kStreamErrorNamespace, "text");
    ASSERT_NE(text, nullptr);
    EXPECT_EQ(text->text(), "because & why");
    EXPECT_EQ(*text->attribute("lang", kXmlNamespace), "en");
  }
}

}  // namespace
}  // namespace parley::xml
