#include "cli.hpp"

#include <cstdio>
#include <ctime>

#include "core/file.hpp"

namespace parley::cert_cli {

namespace {
std::vector<CommandFactory>& registry() {
  static std::vector<CommandFactory> commands;
  return commands;
}
}  // namespace

bool register_command(CommandFactory factory) {
  registry().push_back(std::move(factory));
  return true;
}

const std::vector<CommandFactory>& registered_commands() { return registry(); }

std::vector<pki::CertificatePtr> load_certificates(const std::string& path) {
  auto data = read_file(path);
  if (!data) throw UsageError{data.error().message};
  auto parsed = pki::Certificate::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

std::vector<pki::CrlPtr> load_crls(const std::string& path) {
  auto data = read_file(path, 64u * 1024 * 1024);
  if (!data) throw UsageError{data.error().message};
  auto parsed = pki::Crl::from_pem_or_der(*data);
  if (!parsed) throw UsageError{path + ": " + parsed.error().message};
  return std::move(*parsed);
}

std::optional<pki::UnixTime> parse_iso_time(const std::string& text) {
  std::tm tm{};
  char zone = 0;
  int consumed = 0;
  const int n = std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &zone, &consumed);
  if (n != 7 || zone != 'Z' || static_cast<std::size_t>(consumed) != text.size()) return std::nullopt;
  if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<pki::UnixTime>(timegm(&tm));
}

std::string iso_time(pki::UnixTime t) {
  const auto time = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&time, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string hex_colon(std::string_view bytes) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i != 0) out += ':';
    out += digits[static_cast<unsigned char>(bytes[i]) >> 4];
    out += digits[static_cast<unsigned char>(bytes[i]) & 0xf];
  }
  return out;
}

boost::json::object describe(const pki::Certificate& c) {
  boost::json::object o;
  o["subject"] = c.subject().to_display_string();
  o["issuer"] = c.issuer().to_display_string();
  o["not_before"] = iso_time(c.not_before());
  o["not_after"] = iso_time(c.not_after());
  o["sha256"] = hex_colon(c.sha256_fingerprint());
  return o;
}

}  // namespace parley::cert_cli
