#include "client/admin_policy.hpp"

#include <algorithm>
#include <optional>

#include "core/file.hpp"
#include "core/utf8.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/stanza.hpp"

namespace parley::client {
namespace {

constexpr std::string_view kBom = "\xEF\xBB\xBF";
constexpr std::string_view kWhitespace = " \t\r\n";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

std::size_t line_at(std::string_view text, std::size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<std::size_t>(std::count(
                 text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

// The value of pseudo-attribute `name` in an XML declaration's text, if present.
std::optional<std::string> declaration_value(std::string_view declaration, std::string_view name) {
  std::size_t position = 0;
  while ((position = declaration.find(name, position)) != std::string_view::npos) {
    const bool starts_word =
        position == 0 || kWhitespace.find(declaration[position - 1]) != std::string_view::npos;
    std::size_t cursor = position + name.size();
    while (cursor < declaration.size() &&
           kWhitespace.find(declaration[cursor]) != std::string_view::npos)
      ++cursor;
    if (!starts_word || cursor >= declaration.size() || declaration[cursor] != '=') {
      position += name.size();
      continue;
    }
    ++cursor;
    while (cursor < declaration.size() &&
           kWhitespace.find(declaration[cursor]) != std::string_view::npos)
      ++cursor;
    if (cursor >= declaration.size() || (declaration[cursor] != '"' && declaration[cursor] != '\''))
      return std::nullopt;
    const char quote = declaration[cursor];
    const auto end = declaration.find(quote, cursor + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(declaration.substr(cursor + 1, end - cursor - 1));
  }
  return std::nullopt;
}

enum class Parameter { invalid_certificate_behavior, fips_mode, allow_plain_auth };

std::optional<Parameter> parameter_named(std::string_view name) {
  if (name == "InvalidCertificateBehavior") return Parameter::invalid_certificate_behavior;
  if (name == "FIPS_MODE") return Parameter::fips_mode;
  if (name == "AllowPlainAuth") return Parameter::allow_plain_auth;
  return std::nullopt;
}

Result<bool> parse_boolean(std::string_view value) {
  const std::string lower = lowercase(value);
  if (lower == "true") return true;
  if (lower == "false") return false;
  return fail(Error::parse("expected true or false, not \"" +
                           xmpp::escape_for_terminal(value.substr(0, 64)) + "\""));
}

}  // namespace

Result<AdminPolicy> parse_admin_policy(std::string_view text, std::string_view source) {
  const std::string where(source);
  if (text.size() > kMaxAdminPolicyBytes) {
    return fail(
        Error::limit(where + ": larger than " + std::to_string(kMaxAdminPolicyBytes) + " bytes"));
  }
  std::string_view rest = text;
  if (rest.starts_with(kBom)) rest.remove_prefix(kBom.size());
  if (!is_valid_utf8(rest)) return fail(Error::parse(where + ": not valid UTF-8"));

  // The XML declaration is not part of an element, so it is checked here and cut off.
  if (rest.starts_with("<?xml")) {
    const auto end = rest.find("?>");
    if (end == std::string_view::npos)
      return fail(Error::parse(where + ": line 1: the XML declaration is not closed"));
    const std::string_view declaration = rest.substr(5, end - 5);
    if (declaration.empty() || kWhitespace.find(declaration.front()) == std::string_view::npos)
      return fail(Error::parse(where + ": line 1: malformed XML declaration"));
    const auto version = declaration_value(declaration, "version");
    if (!version || *version != "1.0")
      return fail(Error::parse(where + ": line 1: the XML declaration must say version=\"1.0\""));
    if (const auto encoding = declaration_value(declaration, "encoding");
        encoding && lowercase(*encoding) != "utf-8") {
      return fail(Error::parse(where + ": line 1: encoding \"" +
                               xmpp::escape_for_terminal(encoding->substr(0, 32)) +
                               "\" is not supported; the file must be UTF-8"));
    }
    rest.remove_prefix(end + 2);
  }
  const std::size_t element_start = text.size() - rest.size();

  auto parsed = xml::parse_element(rest, "");
  if (!parsed) {
    const std::size_t offset = element_start + static_cast<std::size_t>(parsed.error().byte_offset);
    std::string detail = parsed.error().detail;
    if (parsed.error().condition == xml::StreamErrorCondition::restricted_xml) {
      detail += " (comments, DTDs, entities and processing instructions are not allowed)";
    }
    return fail(
        Error::parse(where + ": line " + std::to_string(line_at(text, offset)) + ": " + detail));
  }
  const xml::Element& root = *parsed;
  if (!root.name().namespace_uri.empty() || root.name().local_name != "config") {
    return fail(Error::parse(where + ": the root element must be <config>, not <" +
                             xmpp::escape_for_terminal(root.name().local_name) + ">"));
  }

  AdminPolicy policy;
  bool seen[3] = {false, false, false};
  for (const auto& group_child : root.children()) {
    if (!group_child.is_element()) continue;
    const xml::Element& group = group_child.element();
    for (const auto& child : group.children()) {
      if (!child.is_element()) continue;
      const xml::Element& element = child.element();
      if (!element.name().namespace_uri.empty()) continue;
      const auto parameter = parameter_named(element.name().local_name);
      if (!parameter) continue;
      const std::string name =
          "<" + group.name().local_name + "><" + element.name().local_name + ">";
      if (element.child_element_count() != 0)
        return fail(Error::parse(where + ": " + name + " must contain text only"));
      auto& already = seen[static_cast<std::size_t>(*parameter)];
      if (already)
        return fail(Error::parse(where + ": " + element.name().local_name + " is given twice"));
      already = true;
      const std::string text_value = element.text();
      const std::string_view value = trim(text_value);
      switch (*parameter) {
        case Parameter::invalid_certificate_behavior: {
          auto behavior = parse_invalid_certificate_behavior(value);
          if (!behavior)
            return fail(Error::parse(where + ": " + name + ": " + behavior.error().message));
          policy.on_invalid = *behavior;
          break;
        }
        case Parameter::fips_mode: {
          auto on = parse_boolean(value);
          if (!on) return fail(Error::parse(where + ": " + name + ": " + on.error().message));
          policy.fips = *on ? FipsMode::on : FipsMode::off;
          break;
        }
        case Parameter::allow_plain_auth: {
          auto allowed = parse_boolean(value);
          if (!allowed)
            return fail(Error::parse(where + ": " + name + ": " + allowed.error().message));
          policy.plain =
              *allowed ? xmpp::PlainAuth::allow_over_verified_tls : xmpp::PlainAuth::refuse;
          break;
        }
      }
    }
  }
  return policy;
}

Result<AdminPolicy> load_admin_policy(const std::filesystem::path& file) {
  auto text = read_file(file, kMaxAdminPolicyBytes);
  if (!text) return fail(text.error());
  return parse_admin_policy(*text, file.string());
}

}  // namespace parley::client
