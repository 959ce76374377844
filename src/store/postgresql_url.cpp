#include "store/postgresql_url.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <memory>
#include <optional>

namespace parley::store {
namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* options) const { PQconninfoFree(options); }
};

// %XX escapes decoded; a malformed escape is kept as written (this is only for redaction).
std::string percent_decoded(std::string_view text) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex(text[i + 1]);
      const int low = hex(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

// The password as written in the URL: after ':' in the user info, and any password= parameter.
std::vector<std::string> passwords_in(std::string_view url) {
  std::vector<std::string> found;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return found;
  std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view user_info = authority.substr(0, at);
    if (const std::size_t colon = user_info.find(':'); colon != std::string_view::npos) {
      found.emplace_back(user_info.substr(colon + 1));
    }
  }
  if (const std::size_t question = rest.find('?'); question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    // Bounded by the URL's length: each turn consumes at least one character.
    while (!query.empty()) {
      const std::size_t ampersand = query.find('&');
      const std::string_view parameter = query.substr(0, ampersand);
      if (parameter.starts_with("password=")) found.emplace_back(parameter.substr(9));
      if (ampersand == std::string_view::npos) break;
      query.remove_prefix(ampersand + 1);
    }
  }
  return found;
}

void replace_all(std::string& text, std::string_view secret) {
  if (secret.empty()) return;
  constexpr std::string_view kMask = "********";
  std::size_t at = 0;
  while ((at = text.find(secret, at)) != std::string::npos) {
    text.replace(at, secret.size(), kMask);
    at += kMask.size();
  }
}

// Splits libpq's comma-separated host list.
std::vector<std::string_view> hosts_of(std::string_view list) {
  std::vector<std::string_view> hosts;
  for (;;) {
    const std::size_t comma = list.find(',');
    hosts.push_back(list.substr(0, comma));
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return hosts;
}

}  // namespace

bool is_local_postgresql_host(std::string_view host) {
  if (host.empty() || host.starts_with('/') || host.starts_with('@')) return true;
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8, written as a dotted quad.
  if (!host.starts_with("127.")) return false;
  int dots = 0;
  for (const char c : host) {
    if (c == '.') {
      ++dots;
    } else if (c < '0' || c > '9') {
      return false;
    }
  }
  return dots == 3;
}

std::string without_passwords(const std::vector<std::string>& passwords, std::string text) {
  for (const auto& password : passwords) replace_all(text, password);
  return text;
}

std::string redact_password(std::string_view url, std::string text) {
  for (const auto& password : passwords_in(url)) {
    replace_all(text, password);
    replace_all(text, percent_decoded(password));
  }
  return text;
}

Result<PostgresqlTarget> parse_postgresql_url(std::string_view url) {
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
    return fail(Error::invalid_argument(
        "storage URL: expected postgresql://user:password@host:port/database"));
  }
  const std::string text(url);
  if (text.find('\0') != std::string::npos) {
    return fail(Error::invalid_argument("storage URL: contains a NUL character"));
  }
  char* raw_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoFree> options(
      PQconninfoParse(text.c_str(), &raw_error));
  if (options == nullptr) {
    std::string detail = raw_error != nullptr ? raw_error : "out of memory";
    if (raw_error != nullptr) PQfreemem(raw_error);
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    return fail(Error::invalid_argument("storage URL: not a valid PostgreSQL URL: " +
                                        redact_password(url, std::move(detail))));
  }

  PostgresqlTarget target;
  std::optional<std::string> user, host, host_address, port, database;
  bool has_sslmode = false, has_connect_timeout = false, has_application_name = false;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    const std::string_view keyword = option->keyword;
    std::string value = option->val;
    if (keyword == "user") user = value;
    if (keyword == "host") host = value;
    if (keyword == "hostaddr") host_address = value;
    if (keyword == "port") port = value;
    if (keyword == "dbname") database = value;
    if (keyword == "password") target.passwords.push_back(value);
    has_sslmode = has_sslmode || keyword == "sslmode";
    has_connect_timeout = has_connect_timeout || keyword == "connect_timeout";
    has_application_name = has_application_name || keyword == "application_name";
    if (keyword == "client_encoding") continue;  // always UTF8, below
    target.parameters.emplace_back(keyword, std::move(value));
  }

  // hostaddr, when given, is where libpq actually connects.
  const std::string where = host_address.value_or(host.value_or(""));
  const auto listed = hosts_of(where);
  target.all_hosts_local = std::all_of(listed.begin(), listed.end(), is_local_postgresql_host);

  if (!has_sslmode && !target.all_hosts_local)
    target.parameters.emplace_back("sslmode", "verify-full");
  if (!has_connect_timeout) target.parameters.emplace_back("connect_timeout", "10");
  if (!has_application_name) target.parameters.emplace_back("application_name", "parleyd");
  target.parameters.emplace_back("client_encoding", "UTF8");

  target.display = "postgresql://";
  if (user) target.display += *user + "@";
  target.display += host.value_or(host_address.value_or("localhost"));
  // With several hosts libpq lists a port per host, possibly all empty (",").
  if (port && port->find_first_of("0123456789") != std::string::npos) {
    target.display += ":" + *port;
  }
  target.display += "/" + database.value_or(user.value_or(""));
  for (const auto& password : passwords_in(url)) {
    target.passwords.push_back(password);
    target.passwords.push_back(percent_decoded(password));
  }
  // Longest first, so that a password containing another is masked whole.
  std::sort(target.passwords.begin(), target.passwords.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  target.display = without_passwords(target.passwords, std::move(target.display));
  return target;
}

}  // namespace parley::store
