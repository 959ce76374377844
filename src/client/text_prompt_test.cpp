#include "client/text_prompt.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace parley::client {
namespace {

PromptDetails details(CertificateChange change) {
  PromptDetails d;
  auto service = ServiceIdentity::make(pki::ServiceKind::xmpp_client, "example.test");
  EXPECT_TRUE(service);
  d.service = *service;
  d.subject = "CN=example.test, O=Parley Test";
  d.issuer = "CN=example.test, O=Parley Test";
  d.not_before = 1795854749;  // 2026-11-28T08:32:29Z
  d.not_after = 2111214749;
  d.fingerprint = "AA:BB";
  d.identities = {"dNSName: example.test", "XmppAddr: example.test"};
  d.reasons = {"self-signed: the certificate vouches for itself"};
  d.self_signed = SelfSigned::yes;
  d.change = change;
  if (change == CertificateChange::changed) d.previously_accepted = {{"CC:DD", 1795852800}};
  return d;
}

TEST(TextPrompt, ShowsWhatThePersonNeedsToDecide) {
  const std::string text = format_certificate_prompt(details(CertificateChange::not_seen_before));
  for (const char* expected :
       {"The certificate of xmpp-client example.test is not trusted.",
        "  Subject:     CN=example.test, O=Parley Test\n",
        "  Issuer:      CN=example.test, O=Parley Test  (self-signed)\n",
        "  Valid:       2026-11-28T08:32:29Z to ", "  SHA-256:     AA:BB\n",
        "  Identities:  dNSName: example.test\n               XmppAddr: example.test\n",
        "    - self-signed: the certificate vouches for itself\n",
        "Accept? [once/always/decline] "}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
  EXPECT_EQ(text.find("CHANGED"), std::string::npos);
  EXPECT_TRUE(text.ends_with("Accept? [once/always/decline] "));
}

TEST(TextPrompt, SaysWhenTheCertificateChanged) {
  const std::string text = format_certificate_prompt(details(CertificateChange::changed));
  EXPECT_NE(text.find("*** The certificate CHANGED"), std::string::npos) << text;
  EXPECT_NE(text.find("Previously accepted: SHA-256 CC:DD on 2026-11-28T08:00:00Z"),
            std::string::npos)
      << text;
}

struct AnswerCase {
  const char* typed;
  PromptAnswer answer;
};

const AnswerCase kAnswers[] = {
    {"once\n", PromptAnswer::accept_once},
    {"o\n", PromptAnswer::accept_once},
    {"ALWAYS\n", PromptAnswer::accept_always},
    {" a \r\n", PromptAnswer::accept_always},
    {"decline\n", PromptAnswer::decline},
    {"n\n", PromptAnswer::decline},
    {"\n", PromptAnswer::decline},                   // no answer is no
    {"", PromptAnswer::decline},                     // end of input
    {"yes\nalways\n", PromptAnswer::accept_always},  // asked again
    {"x\ny\nz\nalways\n", PromptAnswer::decline},    // three wrong answers
    {"alwaysalwaysalwaysalwaysalwaysalwaysalwaysalwaysalwaysalwaysalwaysalways\n",
     PromptAnswer::decline},
};

TEST(TextPrompt, ReadsOneAnswer) {
  for (const auto& c : kAnswers) {
    SCOPED_TRACE(c.typed);
    std::istringstream in(c.typed);
    std::ostringstream out;
    TextCertificatePrompt prompt(in, out);
    EXPECT_EQ(prompt.ask(details(CertificateChange::not_seen_before)), c.answer);
  }
}

}  // namespace
}  // namespace parley::client
