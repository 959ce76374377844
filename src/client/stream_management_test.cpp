#include "client/stream_management.hpp"

#include <gtest/gtest.h>

#include "xmpp/stanza.hpp"

namespace parley::client {
namespace {

xml::Element sm(std::string_view name, std::optional<std::string> h = std::nullopt) {
  xml::Element element(kStreamManagementNamespace, name);
  if (h) element.set_attribute("h", *h);
  return element;
}

xml::Element message(std::string_view body) {
  auto to = xmpp::Jid::parse("bob@example.test");
  return xmpp::make_chat_message(*to, body, xmpp::new_stanza_id("msg"));
}

TEST(StreamManagement, OfferedOnlyByTheVersion3Feature) {
  xml::Element features(xml::Element("http://etherx.jabber.org/streams", "features"));
  EXPECT_FALSE(offers_stream_management(features));
  features.append_child(xml::Element("urn:xmpp:sm:2", "sm"));
  EXPECT_FALSE(offers_stream_management(features));
  features.append_child(xml::Element(kStreamManagementNamespace, "sm"));
  EXPECT_TRUE(offers_stream_management(features));
}

TEST(StreamManagement, NothingIsCountedBeforeEnable) {
  StreamManagement management;
  management.on_stanza_sent(message("early"));
  management.on_stanza_received();
  EXPECT_EQ(management.stanzas_sent(), 0u);
  EXPECT_EQ(management.stanzas_received(), 0u);
  // An <r/> before enabling is not answered.
  auto reply = management.handle(sm("r"));
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->has_value());
}

TEST(StreamManagement, CountsSentFromEnableAndReceivedFromEnabled) {
  StreamManagement management;
  const xml::Element enable = management.enable_request();
  EXPECT_EQ(enable.name().local_name, "enable");
  EXPECT_EQ(management.state(), StreamManagementState::requested);
  management.on_stanza_sent(message("one"));
  management.on_stanza_received();  // before <enabled/>: the server does not count it either
  ASSERT_TRUE(management.handle(sm("enabled")));
  EXPECT_EQ(management.state(), StreamManagementState::enabled);
  management.on_stanza_received();
  management.on_stanza_received();
  EXPECT_EQ(management.stanzas_sent(), 1u);
  EXPECT_EQ(management.stanzas_received(), 2u);
  auto reply = management.handle(sm("r"));
  ASSERT_TRUE(reply && reply->has_value());
  EXPECT_EQ((*reply)->name().local_name, "a");
  ASSERT_NE((*reply)->attribute("h"), nullptr);
  EXPECT_EQ(*(*reply)->attribute("h"), "2");
}

TEST(StreamManagement, AcknowledgementsReleaseMessagesAndTooHighIsAnError) {
  StreamManagement management;
  (void)management.enable_request();
  ASSERT_TRUE(management.handle(sm("enabled")));
  management.on_stanza_sent(message("one"));
  management.on_stanza_sent(xmpp::make_initial_presence());
  management.on_stanza_sent(message("three"));
  EXPECT_EQ(management.unacknowledged_count(), 3u);
  ASSERT_TRUE(management.handle(sm("a", "1")));
  EXPECT_EQ(management.unacknowledged_count(), 2u);
  ASSERT_TRUE(management.handle(sm("a", "1")));  // repeated: no step
  EXPECT_EQ(management.stanzas_acknowledged(), 1u);
  EXPECT_FALSE(management.handle(sm("a", "4")));
  EXPECT_FALSE(management.handle(sm("a", "x")));
  EXPECT_FALSE(management.handle(sm("a")));
  auto left = management.take_unacknowledged_messages();
  ASSERT_EQ(left.size(), 1u);  // the presence is not kept
  EXPECT_EQ(left[0].first_child(xmpp::kClientNamespace, "body")->text(), "three");
  EXPECT_EQ(management.unacknowledged_count(), 0u);
}

TEST(StreamManagement, CountsWrapAt32Bits) {
  StreamManagement management(4);
  (void)management.enable_request();
  ASSERT_TRUE(management.handle(sm("enabled")));
  // Sent more than 2^32 stanzas cannot be simulated; the step arithmetic can: acknowledge in
  // steps, then one that wraps the 32-bit h.
  for (int i = 0; i < 10; ++i) management.on_stanza_sent(message("m"));
  EXPECT_EQ(management.unacknowledged_count(), 10u);  // counted, though only 4 are kept
  ASSERT_TRUE(management.handle(sm("a", "10")));
  EXPECT_EQ(management.stanzas_acknowledged(), 10u);
  EXPECT_TRUE(management.take_unacknowledged_messages().empty());
  // h = 4294967295 would be 2^32 - 10 steps ahead: more than was sent.
  EXPECT_FALSE(management.handle(sm("a", "4294967295")));
}

TEST(StreamManagement, ResumptionSendsAgainWhatTheServerDidNotHandle) {
  StreamManagement management;
  const xml::Element enable = management.enable_request(Resumption::requested);
  ASSERT_NE(enable.attribute("resume"), nullptr);
  EXPECT_EQ(*enable.attribute("resume"), "true");
  xml::Element enabled = sm("enabled");
  enabled.set_attribute("id", "session-1");
  enabled.set_attribute("resume", "true");
  ASSERT_TRUE(management.handle(enabled));
  ASSERT_TRUE(management.resumption_id());
  EXPECT_EQ(*management.resumption_id(), "session-1");

  management.on_stanza_sent(message("one"));
  management.on_stanza_sent(xmpp::make_initial_presence());
  management.on_stanza_sent(message("three"));
  management.on_stanza_received();
  ASSERT_TRUE(management.handle(sm("a", "1")));

  // Too high an h is refused before anything changes.
  EXPECT_FALSE(management.resumed(9));
  auto again = management.resumed(2);
  ASSERT_TRUE(again);
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].first_child(xmpp::kClientNamespace, "body")->text(), "three");
  EXPECT_EQ(management.unacknowledged_count(), 0u);
  EXPECT_EQ(management.state(), StreamManagementState::enabled);
  // The counts go on: the resent stanza is counted as sent again, received stays.
  management.on_stanza_sent((*again)[0]);
  EXPECT_EQ(management.stanzas_sent(), 4u);
  EXPECT_EQ(management.stanzas_received(), 1u);
  ASSERT_TRUE(management.handle(sm("a", "4")));
}

TEST(StreamManagement, NoResumptionIdWithoutResumeTrue) {
  StreamManagement management;
  (void)management.enable_request(Resumption::requested);
  xml::Element enabled = sm("enabled");
  enabled.set_attribute("id", "session-1");  // but no resume='true'
  ASSERT_TRUE(management.handle(enabled));
  EXPECT_FALSE(management.resumption_id());
}

TEST(StreamManagement, FailedStopsCounting) {
  StreamManagement management;
  (void)management.enable_request();
  ASSERT_TRUE(management.handle(sm("failed")));
  EXPECT_EQ(management.state(), StreamManagementState::failed);
  management.on_stanza_sent(message("after"));
  EXPECT_EQ(management.stanzas_sent(), 0u);
  auto reply = management.handle(sm("r"));
  ASSERT_TRUE(reply);
  EXPECT_FALSE(reply->has_value());
}

}  // namespace
}  // namespace parley::client
