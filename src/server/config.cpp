#include "server/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <charconv>
#include <map>
#include <set>

#include "core/file.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {
namespace {

constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// Every table and key the file may hold; anything else is reported as unknown.
const std::map<std::string, std::set<std::string, std::less<>>, std::less<>>& known_keys() {
  static const std::map<std::string, std::set<std::string, std::less<>>, std::less<>> keys = {
      {"server", {"domain"}},
      {"tls",
       {"certificate", "key", "ocsp_staple", "fips", "insecure_allow_certificate_name_mismatch"}},
      {"c2s", {"listen", "direct_tls_listen", "insecure_allow_plain"}},
      {"storage", {"url"}},
      {"limits",
       {"max_stanza_bytes", "max_connections_per_ip", "max_connections", "max_sessions_per_user",
        "auth_failures_per_minute", "stanzas_per_second", "stanza_burst",
        "negotiation_timeout_seconds", "idle_timeout_seconds", "stanza_timeout_seconds",
        "max_outgoing_bytes", "max_offline_messages", "max_roster_items",
        "resumption_timeout_seconds", "max_unacknowledged_stanzas"}},
      {"muc",
       {"domain", "max_rooms", "max_occupants_per_room", "history_messages",
        "allow_room_creation"}},
      {"archive", {"enabled"}},
      {"log", {"level"}},
  };
  return keys;
}

class Reader {
 public:
  Reader(const toml::table& root, std::filesystem::path file)
      : root_(root), file_(std::move(file)) {}

  std::string where(const toml::node* node, std::string_view key) const {
    if (node != nullptr && node->source().begin.line > 0)
      return fmt::format("{}:{}: {}", file_.string(), node->source().begin.line, key);
    return fmt::format("{}: {}", file_.string(), key);
  }

  const toml::node* find(std::string_view table, std::string_view key) const {
    const auto* t = root_.get_as<toml::table>(table);
    return t == nullptr ? nullptr : t->get(key);
  }

  Result<std::optional<std::string>> string(std::string_view table, std::string_view key) const {
    const auto* node = find(table, key);
    if (node == nullptr) return std::optional<std::string>{};
    const auto* value = node->as_string();
    if (value == nullptr)
      return fail(Error::invalid_argument(
          where(node, fmt::format("[{}] {} must be a string", table, key))));
    return std::optional<std::string>{value->get()};
  }

  Result<std::string> required_string(std::string_view table, std::string_view key) const {
    auto value = string(table, key);
    if (!value) return fail(value.error());
    if (!*value || (*value)->empty())
      return fail(Error::invalid_argument(
          fmt::format("{}: [{}] {} is required", file_.string(), table, key)));
    return **value;
  }

  Result<void> boolean(std::string_view table, std::string_view key, bool& out) const {
    const auto* node = find(table, key);
    if (node == nullptr) return {};
    const auto* value = node->as_boolean();
    if (value == nullptr)
      return fail(Error::invalid_argument(
          where(node, fmt::format("[{}] {} must be true or false", table, key))));
    out = value->get();
    return {};
  }

  // A positive integer no larger than `max`.
  template <class T>
  Result<void> count(std::string_view table, std::string_view key, T& out, std::int64_t max) const {
    const auto* node = find(table, key);
    if (node == nullptr) return {};
    const auto* value = node->as_integer();
    if (value == nullptr || value->get() < 1 || value->get() > max)
      return fail(Error::invalid_argument(
          where(node, fmt::format("[{}] {} must be an integer from 1 to {}", table, key, max))));
    out = static_cast<T>(value->get());
    return {};
  }

  Result<void> seconds(std::string_view table, std::string_view key, std::chrono::seconds& out,
                       std::int64_t max) const {
    std::int64_t value = out.count();
    if (auto r = count(table, key, value, max); !r) return r;
    out = std::chrono::seconds(value);
    return {};
  }

  Result<std::vector<ListenAddress>> addresses(std::string_view table, std::string_view key) const {
    std::vector<ListenAddress> out;
    const auto* node = find(table, key);
    if (node == nullptr) return out;
    const auto* array = node->as_array();
    if (array == nullptr)
      return fail(Error::invalid_argument(where(
          node, fmt::format("[{}] {} must be a list such as [\"127.0.0.1:5222\"]", table, key))));
    for (const auto& element : *array) {
      const auto* text = element.as_string();
      if (text == nullptr)
        return fail(Error::invalid_argument(
            where(&element, fmt::format("[{}] {}: each address must be a string", table, key))));
      auto address = parse_listen_address(text->get());
      if (!address)
        return fail(Error::invalid_argument(
            where(&element, fmt::format("[{}] {}: {}", table, key, address.error().message))));
      out.push_back(*address);
    }
    return out;
  }

  std::filesystem::path resolve(const std::string& path) const {
    std::filesystem::path p(path);
    if (p.is_relative()) p = file_.parent_path() / p;
    return p.lexically_normal();
  }

 private:
  const toml::table& root_;
  std::filesystem::path file_;
};

Result<void> check_unknown_keys(const toml::table& root, const std::filesystem::path& file) {
  for (const auto& [table_name, table_node] : root) {
    auto known = known_keys().find(table_name.str());
    std::string line = table_node.source().begin.line > 0
                           ? fmt::format(":{}", table_node.source().begin.line)
                           : std::string();
    if (known == known_keys().end() || !table_node.is_table())
      return fail(
          Error::invalid_argument(fmt::format("{}{}: unknown setting [{}] (known tables: server, "
                                              "tls, c2s, storage, limits, archive, muc, log)",
                                              file.string(), line, table_name.str())));
    for (const auto& [key, node] : *table_node.as_table()) {
      if (!known->second.contains(key.str())) {
        std::string key_line =
            node.source().begin.line > 0 ? fmt::format(":{}", node.source().begin.line) : line;
        return fail(
            Error::invalid_argument(fmt::format("{}{}: unknown setting [{}] {}", file.string(),
                                                key_line, table_name.str(), key.str())));
      }
    }
  }
  return {};
}

}  // namespace

std::string ListenAddress::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return fail(Error::invalid_argument(fmt::format("\"{}\" is not [IPv6]:port", text)));
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    in6_addr v6{};
    if (::inet_pton(AF_INET6, out.host.c_str(), &v6) != 1)
      return fail(Error::invalid_argument(fmt::format("\"{}\" is not an IPv6 address", out.host)));
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      return fail(Error::invalid_argument(
          fmt::format("\"{}\" has no port (write it as 127.0.0.1:5222)", text)));
    out.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    in_addr v4{};
    if (::inet_pton(AF_INET, out.host.c_str(), &v4) != 1)
      return fail(Error::invalid_argument(fmt::format(
          "\"{}\" is not an IPv4 address (parleyd listens on addresses, not host names)",
          out.host)));
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
    return fail(Error::invalid_argument(fmt::format("\"{}\" is not a port number", port_text)));
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

Result<ServerConfig> load_config(const std::filesystem::path& file) {
  auto text = read_file(file, kMaxConfigBytes);
  if (!text) return fail(text.error());
  toml::table root;
  try {
    root = toml::parse(*text, file.string());
  } catch (const toml::parse_error& error) {
    return fail(Error::parse(fmt::format("{}:{}:{}: {}", file.string(), error.source().begin.line,
                                         error.source().begin.column, error.description())));
  }
  if (auto known = check_unknown_keys(root, file); !known) return fail(known.error());

  Reader reader(root, file);
  ServerConfig config;
  config.source = file;

  auto domain = reader.required_string("server", "domain");
  if (!domain) return fail(domain.error());
  auto prepared = xmpp::prepare_domainpart(*domain);
  if (!prepared)
    return fail(Error::invalid_argument(
        fmt::format("{}: [server] domain: {}", file.string(), prepared.error().message)));
  config.domain = *prepared;

  auto certificate = reader.required_string("tls", "certificate");
  if (!certificate) return fail(certificate.error());
  config.certificate_file = reader.resolve(*certificate);
  auto key = reader.required_string("tls", "key");
  if (!key) return fail(key.error());
  config.key_file = reader.resolve(*key);
  auto staple = reader.string("tls", "ocsp_staple");
  if (!staple) return fail(staple.error());
  if (*staple) config.ocsp_staple_file = reader.resolve(**staple);
  if (auto r = reader.boolean("tls", "fips", config.fips); !r) return fail(r.error());
  if (auto r = reader.boolean("tls", "insecure_allow_certificate_name_mismatch",
                              config.insecure_allow_certificate_name_mismatch);
      !r)
    return fail(r.error());

  auto listen = reader.addresses("c2s", "listen");
  if (!listen) return fail(listen.error());
  config.c2s_listen = *listen;
  auto direct = reader.addresses("c2s", "direct_tls_listen");
  if (!direct) return fail(direct.error());
  config.direct_tls_listen = *direct;
  if (config.c2s_listen.empty() && config.direct_tls_listen.empty())
    return fail(Error::invalid_argument(fmt::format(
        "{}: [c2s] needs at least one address in listen or direct_tls_listen", file.string())));
  if (auto r = reader.boolean("c2s", "insecure_allow_plain", config.insecure_allow_plain); !r)
    return fail(r.error());

  auto url = reader.required_string("storage", "url");
  if (!url) return fail(url.error());
  config.storage_url = *url;
  // A relative SQLite path follows the config file like the certificates do.
  constexpr std::string_view kSqlite = "sqlite://";
  if (config.storage_url.starts_with(kSqlite) && config.storage_url.size() > kSqlite.size() &&
      config.storage_url[kSqlite.size()] != '/' && config.storage_url != "sqlite::memory:")
    config.storage_url =
        std::string(kSqlite) + reader.resolve(config.storage_url.substr(kSqlite.size())).string();

  auto& limits = config.limits;
  const std::int64_t big = 1LL << 40;
  Result<void> checks[] = {
      reader.count("limits", "max_stanza_bytes", limits.max_stanza_bytes, 16 * 1024 * 1024),
      reader.count("limits", "max_connections_per_ip", limits.max_connections_per_ip, 1'000'000),
      reader.count("limits", "max_connections", limits.max_connections, 10'000'000),
      reader.count("limits", "max_sessions_per_user", limits.max_sessions_per_user, 1000),
      reader.count("limits", "auth_failures_per_minute", limits.auth_failures_per_minute, 100000),
      reader.count("limits", "stanzas_per_second", limits.stanzas_per_second, 1'000'000),
      reader.count("limits", "stanza_burst", limits.stanza_burst, 10'000'000),
      reader.seconds("limits", "negotiation_timeout_seconds", limits.negotiation_timeout, 3600),
      reader.seconds("limits", "idle_timeout_seconds", limits.idle_timeout, 86400 * 7),
      reader.seconds("limits", "stanza_timeout_seconds", limits.stanza_timeout, 3600),
      reader.count("limits", "max_outgoing_bytes", limits.max_outgoing_bytes, big),
      reader.count("limits", "max_offline_messages", limits.max_offline_messages, 1'000'000),
      reader.count("limits", "max_roster_items", limits.max_roster_items, 1'000'000),
      reader.seconds("limits", "resumption_timeout_seconds", limits.resumption_timeout, 86400),
      reader.count("limits", "max_unacknowledged_stanzas", limits.max_unacknowledged_stanzas,
                   1'000'000),
  };
  for (auto& check : checks)
    if (!check) return fail(check.error());

  if (auto r = reader.boolean("archive", "enabled", config.archive_enabled); !r)
    return fail(r.error());

  auto muc_domain = reader.string("muc", "domain");
  if (!muc_domain) return fail(muc_domain.error());
  if (*muc_domain) {
    auto prepared_muc = xmpp::prepare_domainpart(**muc_domain);
    if (!prepared_muc || *prepared_muc == config.domain)
      return fail(Error::invalid_argument(
          fmt::format("{}: [muc] domain must be a domain of its own, such as conference.{}",
                      file.string(), config.domain)));
    config.muc.domain = *prepared_muc;
  }
  Result<void> muc_checks[] = {
      reader.count("muc", "max_rooms", config.muc.max_rooms, 10'000'000),
      reader.count("muc", "max_occupants_per_room", config.muc.max_occupants_per_room, 1'000'000),
      reader.count("muc", "history_messages", config.muc.history_messages, 1000),
      reader.boolean("muc", "allow_room_creation", config.muc.allow_room_creation),
  };
  for (auto& check : muc_checks)
    if (!check) return fail(check.error());

  auto level = reader.string("log", "level");
  if (!level) return fail(level.error());
  if (*level) {
    static const std::set<std::string, std::less<>> levels = {"trace", "debug",    "info", "warn",
                                                              "error", "critical", "off"};
    if (!levels.contains(**level))
      return fail(Error::invalid_argument(
          fmt::format("{}: [log] level \"{}\" is not one of trace, debug, info, warn, error, "
                      "critical, off",
                      file.string(), **level)));
    config.log_level = **level;
  }
  return config;
}

}  // namespace parley::server
