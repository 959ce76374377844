#include "store/storage.hpp"

#include <string>

#include "store/postgresql_storage.hpp"
#include "store/postgresql_url.hpp"
#include "store/sqlite_storage.hpp"

namespace parley::store {

const char* to_string(Subscription subscription) {
  switch (subscription) {
    case Subscription::none:
      return "none";
    case Subscription::to:
      return "to";
    case Subscription::from:
      return "from";
    case Subscription::both:
      return "both";
  }
  return "none";
}

std::optional<Subscription> parse_subscription(std::string_view text) {
  for (const auto candidate :
       {Subscription::none, Subscription::to, Subscription::from, Subscription::both}) {
    if (text == to_string(candidate)) return candidate;
  }
  return std::nullopt;
}

Result<std::unique_ptr<Storage>> Storage::open(std::string_view url, StorageLimits limits) {
  // Only the scheme is ever repeated back: a database URL can carry a password.
  const auto colon = url.find(':');
  const std::string_view scheme = colon == std::string_view::npos ? url : url.substr(0, colon);
  if (scheme == "sqlite") {
    auto options = parse_sqlite_url(url);
    if (!options) return fail(std::move(options.error()));
    options->limits = limits;
    return open_sqlite_storage(*options);
  }
  if (scheme == "postgresql" || scheme == "postgres") return open_postgresql_storage(url, limits);
  if (colon == std::string_view::npos) {
    return fail(Error::invalid_argument(
        "storage URL: no scheme; expected sqlite:///absolute/path/parley.db, sqlite::memory: or "
        "postgresql://user:password@host/database"));
  }
  return fail(Error::invalid_argument("storage URL: unknown scheme '" + std::string(scheme) +
                                      "'; expected sqlite:///absolute/path/parley.db or "
                                      "postgresql://user:password@host/database"));
}

std::string storage_url_for_display(std::string_view url) {
  const auto colon = url.find(':');
  const std::string_view scheme = colon == std::string_view::npos ? url : url.substr(0, colon);
  if (scheme == "sqlite") return std::string(url);
  if (scheme == "postgresql" || scheme == "postgres") {
    auto target = parse_postgresql_url(url);
    return target ? target->display : "postgresql://(a URL libpq cannot read)";
  }
  return std::string(scheme) + ":...";
}

}  // namespace parley::store
