#include "client/admin_policy.hpp"

#include <gtest/gtest.h>

#include "core/test_support.hpp"

namespace parley::client {
namespace {

using Behavior = InvalidCertificateBehavior;

struct Case {
  const char* name;
  std::string text;
  // Expected policy, or an error containing `error` when it is not empty.
  Behavior behavior = Behavior::prompt_per_session;
  FipsMode fips = FipsMode::off;
  xmpp::PlainAuth plain = xmpp::PlainAuth::refuse;
  const char* error = "";
};

const Case kCases[] = {
    {"empty_config_is_the_defaults", "<config/>"},
    {"all_three",
     "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<config version=\"1.0\">\n"
     "  <Policies>\n"
     "    <InvalidCertificateBehavior>RejectAndNotify</InvalidCertificateBehavior>\n"
     "    <FIPS_MODE>true</FIPS_MODE>\n"
     "    <AllowPlainAuth>true</AllowPlainAuth>\n"
     "  </Policies>\n</config>\n",
     Behavior::reject_and_notify, FipsMode::on, xmpp::PlainAuth::allow_over_verified_tls},
    {"jabber_groups_and_unknown_parameters",
     "<config version='1.0'><Client><InvalidCertificateBehavior> PromptPerSession\n"
     "</InvalidCertificateBehavior></Client><Options><Set_Status_Away_On_Inactive>true"
     "</Set_Status_Away_On_Inactive></Options><Policies><Screen_Capture_Enabled>false"
     "</Screen_Capture_Enabled></Policies></config>",
     Behavior::prompt_per_session},
    {"booleans_in_any_case", "<config><Policies><FIPS_MODE>TRUE</FIPS_MODE></Policies></config>",
     Behavior::prompt_per_session, FipsMode::on},
    {"explicit_false",
     "<config><Policies><FIPS_MODE>false</FIPS_MODE><AllowPlainAuth>False</AllowPlainAuth>"
     "</Policies></config>"},
    {"declaration_without_encoding", "<?xml version='1.0'?><config/>"},
    {"bad_boolean", "<config><Policies><FIPS_MODE>yes</FIPS_MODE></Policies></config>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse,
     "policy.xml: <Policies><FIPS_MODE>: expected true or false, not \"yes\""},
    {"behavior_spelled_wrong",
     "<config><Client><InvalidCertificateBehavior>rejectandnotify</InvalidCertificateBehavior>"
     "</Client></config>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse,
     "must be RejectAndNotify or PromptPerSession"},
    {"given_twice",
     "<config><Client><FIPS_MODE>true</FIPS_MODE></Client><Policies><FIPS_MODE>false</FIPS_MODE>"
     "</Policies></config>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse,
     "FIPS_MODE is given twice"},
    {"comment_is_refused_with_its_line",
     "<config>\n<Policies>\n<!-- no -->\n</Policies>\n</config>", Behavior::prompt_per_session,
     FipsMode::off, xmpp::PlainAuth::refuse, "policy.xml: line 3: "},
    {"doctype_is_refused", "<?xml version='1.0'?>\n<!DOCTYPE config [<!ENTITY x 'y'>]><config/>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse, "policy.xml: line 2: "},
    {"other_encoding", "<?xml version='1.0' encoding='ISO-8859-1'?><config/>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse,
     "encoding \"ISO-8859-1\" is not supported"},
    {"other_version", "<?xml version='1.1'?><config/>", Behavior::prompt_per_session, FipsMode::off,
     xmpp::PlainAuth::refuse, "version=\"1.0\""},
    {"unclosed_declaration", "<?xml version='1.0'<config/>", Behavior::prompt_per_session,
     FipsMode::off, xmpp::PlainAuth::refuse, "not closed"},
    {"wrong_root", "<jabber/>", Behavior::prompt_per_session, FipsMode::off,
     xmpp::PlainAuth::refuse, "the root element must be <config>, not <jabber>"},
    {"not_xml", "FIPS_MODE=true\n", Behavior::prompt_per_session, FipsMode::off,
     xmpp::PlainAuth::refuse, "policy.xml: line 1: "},
    {"truncated", "<config><Policies>", Behavior::prompt_per_session, FipsMode::off,
     xmpp::PlainAuth::refuse, "policy.xml: "},
    {"element_inside_value",
     "<config><Policies><FIPS_MODE><b>true</b></FIPS_MODE></Policies></config>",
     Behavior::prompt_per_session, FipsMode::off, xmpp::PlainAuth::refuse, "text only"},
    {"invalid_utf8", "<config>\xff</config>", Behavior::prompt_per_session, FipsMode::off,
     xmpp::PlainAuth::refuse, "not valid UTF-8"},
};

TEST(AdminPolicy, Table) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const auto policy = parse_admin_policy(c.text, "policy.xml");
    if (std::string_view(c.error).empty()) {
      ASSERT_TRUE(policy) << policy.error().message;
      EXPECT_EQ(policy->on_invalid, c.behavior);
      EXPECT_EQ(policy->fips, c.fips);
      EXPECT_EQ(policy->plain, c.plain);
    } else {
      ASSERT_FALSE(policy);
      EXPECT_NE(policy.error().message.find(c.error), std::string::npos) << policy.error().message;
    }
  }
}

TEST(AdminPolicy, TrustPolicyCarriesBehaviorAndFips) {
  const auto policy = parse_admin_policy(
      "<config><Policies><InvalidCertificateBehavior>RejectAndNotify</InvalidCertificateBehavior>"
      "<FIPS_MODE>true</FIPS_MODE></Policies></config>",
      "p");
  ASSERT_TRUE(policy);
  EXPECT_EQ(policy->trust_policy().on_invalid, Behavior::reject_and_notify);
  EXPECT_EQ(policy->trust_policy().fips, FipsMode::on);
}

TEST(AdminPolicy, OversizeFileIsRefusedUnread) {
  const std::string huge(kMaxAdminPolicyBytes + 1, ' ');
  const auto policy = parse_admin_policy(huge, "big.xml");
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().kind, ErrorKind::limit);
}

TEST(AdminPolicy, LoadNamesAMissingFile) {
  test_support::TempDir dir;
  const auto missing = dir.path() / "jabber-config.xml";
  const auto policy = load_admin_policy(missing);
  ASSERT_FALSE(policy);
  EXPECT_NE(policy.error().message.find(missing.string()), std::string::npos)
      << policy.error().message;
}

}  // namespace
}  // namespace parley::client
