#pragma once
// What every client session and IM handler of one running server shares: the configuration, the
// store, the registry of bound sessions and the per-address limits. One instance per server,
// used from the server's single io_context thread.
#include <memory>
#include <string>

#include <spdlog/logger.h>

#include "server/address_limits.hpp"
#include "server/config.hpp"
#include "server/router.hpp"
#include "server/stanza.hpp"
#include "store/storage.hpp"

namespace parley::server {

struct ServerStatistics {
  std::uint64_t connections_accepted = 0;
  std::uint64_t connections_refused = 0;
  std::uint64_t authentications = 0;
  std::uint64_t authentication_failures = 0;
  std::uint64_t stanzas_routed = 0;
  std::uint64_t offline_stored = 0;
};

struct ServerServices {
  ServerServices(const ServerConfig& server_config, store::Storage& store,
                 std::shared_ptr<spdlog::logger> logger)
      : config(server_config),
        domain(server_config.domain),
        limits(server_config.limits),
        storage(store),
        address_limits(server_config.limits.max_connections_per_ip,
                       server_config.limits.auth_failures_per_minute),
        log(std::move(logger)),
        unknown_user_secret(random_id(32)) {}

  const ServerConfig& config;
  const std::string domain;
  const ServerLimits limits;
  store::Storage& storage;
  Router router;
  AddressLimits address_limits;
  std::shared_ptr<spdlog::logger> log;
  ServerStatistics statistics;
  // Derives the fake SCRAM salt and iteration count for unknown users, so that a login attempt
  // cannot tell a missing account from a wrong password (sasl_scram.hpp). Per process.
  const std::string unknown_user_secret;
};

}  // namespace parley::server
