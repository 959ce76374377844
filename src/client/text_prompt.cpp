#include "client/text_prompt.hpp"

#include <istream>
#include <optional>
#include <ostream>
#include <string_view>

namespace parley::client {
namespace {

constexpr int kMaxAttempts = 3;
// A line longer than this is not an answer; reading stops there so input cannot grow memory.
constexpr std::size_t kMaxAnswerLength = 64;

std::string lowercase_trimmed(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == ' ' || c == '\t' || c == '\r') continue;
    out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  return out;
}

std::optional<PromptAnswer> parse_answer(std::string_view line) {
  const std::string answer = lowercase_trimmed(line);
  if (answer == "once" || answer == "o") return PromptAnswer::accept_once;
  if (answer == "always" || answer == "a") return PromptAnswer::accept_always;
  if (answer == "decline" || answer == "d" || answer == "no" || answer == "n" ||
      answer == "reject") {
    return PromptAnswer::decline;
  }
  return std::nullopt;
}

// One line of at most kMaxAnswerLength characters; nullopt at end of input.
std::optional<std::string> read_line(std::istream& in) {
  std::string line;
  char c = 0;
  bool any = false;
  while (in.get(c)) {
    any = true;
    if (c == '\n') return line;
    if (line.size() < kMaxAnswerLength) line.push_back(c);
  }
  if (!any) return std::nullopt;
  return line;
}

}  // namespace

std::vector<std::string> certificate_prompt_lines(const PromptDetails& details) {
  std::vector<std::string> out;
  out.push_back("The certificate of " + details.service.to_display_string() + " is not trusted.");
  if (details.change == CertificateChange::changed) {
    out.push_back("");
    out.push_back("  *** The certificate CHANGED: it is not the one you accepted before. ***");
    for (const auto& previous : details.previously_accepted) {
      out.push_back("  Previously accepted: SHA-256 " + previous.fingerprint + " on " +
                    format_utc_time(previous.accepted_at));
    }
    out.push_back("  A changed certificate can mean the server was re-keyed, or that someone is");
    out.push_back("  intercepting the connection. Ask your administrator if you are not sure.");
  }
  out.push_back("");
  out.push_back("  Subject:     " + details.subject);
  out.push_back("  Issuer:      " + details.issuer +
                (details.self_signed == SelfSigned::yes ? "  (self-signed)" : ""));
  out.push_back("  Valid:       " + format_utc_time(details.not_before) + " to " +
                format_utc_time(details.not_after));
  out.push_back("  SHA-256:     " + details.fingerprint);
  if (details.identities.empty()) {
    out.push_back("  Identities:  (none)");
  } else {
    for (std::size_t i = 0; i < details.identities.size(); ++i) {
      out.push_back((i == 0 ? "  Identities:  " : "               ") + details.identities[i]);
    }
  }
  out.push_back("  Why it is not trusted:");
  for (const auto& reason : details.reasons) out.push_back("    - " + reason);
  return out;
}

std::string format_certificate_prompt(const PromptDetails& details) {
  std::string out;
  for (const auto& line : certificate_prompt_lines(details)) out += line + "\n";
  out += "\n";
  out += "  once     connect this time only; you will be asked again\n";
  out += "  always   connect and remember this certificate for this service\n";
  out += "  decline  do not connect (nothing is stored)\n";
  out += "Accept? [once/always/decline] ";
  return out;
}

PromptAnswer TextCertificatePrompt::ask(const PromptDetails& details) {
  out_ << format_certificate_prompt(details) << std::flush;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const auto line = read_line(in_);
    if (!line) {
      out_ << "\n(no answer: declined)\n" << std::flush;
      return PromptAnswer::decline;
    }
    if (lowercase_trimmed(*line).empty()) {
      out_ << "(declined)\n" << std::flush;
      return PromptAnswer::decline;
    }
    if (const auto answer = parse_answer(*line)) return *answer;
    out_ << "Please answer once, always or decline: " << std::flush;
  }
  out_ << "(declined)\n" << std::flush;
  return PromptAnswer::decline;
}

}  // namespace parley::client
