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

std::string format_certificate_prompt(const PromptDetails& details) {
  std::string out;
  out += "The certificate of " + details.service.to_display_string() + " is not trusted.\n";
  if (details.change == CertificateChange::changed) {
    out += "\n  *** The certificate CHANGED: it is not the one you accepted before. ***\n";
    for (const auto& previous : details.previously_accepted) {
      out += "  Previously accepted: SHA-256 " + previous.fingerprint + " on " +
             format_utc_time(previous.accepted_at) + "\n";
    }
    out +=
        "  A changed certificate can mean the server was re-keyed, or that someone is\n"
        "  intercepting the connection. Ask your administrator if you are not sure.\n";
  }
  out += "\n";
  out += "  Subject:     " + details.subject + "\n";
  out += "  Issuer:      " + details.issuer +
         (details.self_signed == SelfSigned::yes ? "  (self-signed)" : "") + "\n";
  out += "  Valid:       " + format_utc_time(details.not_before) + " to " +
         format_utc_time(details.not_after) + "\n";
  out += "  SHA-256:     " + details.fingerprint + "\n";
  if (details.identities.empty()) {
    out += "  Identities:  (none)\n";
  } else {
    for (std::size_t i = 0; i < details.identities.size(); ++i) {
      out += (i == 0 ? "  Identities:  " : "               ") + details.identities[i] + "\n";
    }
  }
  out += "  Why it is not trusted:\n";
  for (const auto& reason : details.reasons) out += "    - " + reason + "\n";
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
