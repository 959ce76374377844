#pragma once
// The certificate prompt as text (spec: "The Certificate Validation Process": the user is asked
// to accept or decline an untrusted certificate): what `parley` shows on a terminal, and what the
// terminal UI will reuse. Everything shown comes from PromptDetails, whose certificate-supplied
// text trust_decision.cpp has already escaped.
//
// The answer is read one line at a time: "once", "always" or "decline" (or their first letters,
// any case). An empty line, end of input, or three unrecognised answers in a row decline: a
// prompt nobody answers must not connect.
//
// What this does not do: open the terminal itself or turn echo off (the caller passes streams),
// or time out (a person may take as long as they like; the connection's budget excludes it).

#include <iosfwd>
#include <string>
#include <vector>

#include "client/trust_decision.hpp"

namespace parley::client {

// The question without its answers, one line per entry: whose certificate, CHANGED and what was
// accepted before, subject, issuer, validity, SHA-256 fingerprint, identities, and each reason it
// is not trusted. The terminal UI's dialog shows the same lines.
std::vector<std::string> certificate_prompt_lines(const PromptDetails& details);
// The full text of the question, ending with the answer line "Accept? [once/always/decline] ".
std::string format_certificate_prompt(const PromptDetails& details);

class TextCertificatePrompt final : public CertificatePrompt {
 public:
  TextCertificatePrompt(std::istream& in, std::ostream& out) : in_(in), out_(out) {}
  PromptAnswer ask(const PromptDetails& details) override;

 private:
  std::istream& in_;
  std::ostream& out_;
};

}  // namespace parley::client
