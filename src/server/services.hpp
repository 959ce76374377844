#pragma once
// What every client session and IM handler of one running server shares: the configuration, the
// store, the registry of bound sessions and the per-address limits. One instance per server,
// used from the server's single io_context thread.
#include <spdlog/logger.h>

#include <boost/asio/post.hpp>
#include <memory>
#include <string>
#include <unordered_map>

#include "server/address_limits.hpp"
#include "server/config.hpp"
#include "server/router.hpp"
#include "server/stanza.hpp"
#include "store/storage.hpp"

namespace parley::server {

class C2sSession;
class MucService;

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
  // Group chat (XEP-0045) when [muc] domain is set; owned by the Server.
  MucService* muc = nullptr;
  // Sessions whose connection dropped with stream management resumption enabled (XEP-0198),
  // by resumption id, kept until they are resumed or their resumption window closes.
  std::unordered_map<std::string, std::shared_ptr<C2sSession>> detached_sessions;
  // Group commit (store::Storage::begin_group): the first input of an event-loop turn opens a
  // write group and posts its commit behind the handlers already queued; replies of that turn
  // are written by handlers queued after the commit, so nothing is acknowledged before it is
  // durable, and one commit serves every message of the turn.
  template <class Executor>
  void open_write_group(const Executor& executor) {
    if (write_group_open_) return;
    if (auto begun = storage.begin_group(); !begun) {
      log->error("store: {}", begun.error().message);
      return;
    }
    write_group_open_ = true;
    boost::asio::post(executor, [this] { commit_write_group(); });
  }
  void commit_write_group() {
    if (!write_group_open_) return;
    write_group_open_ = false;
    if (auto committed = storage.commit_group(); !committed)
      log->error("store: {}", committed.error().message);
  }

  // Derives the fake SCRAM salt and iteration count for unknown users, so that a login attempt
  // cannot tell a missing account from a wrong password (sasl_scram.hpp). Per process.
  const std::string unknown_user_secret;

 private:
  bool write_group_open_ = false;
};

}  // namespace parley::server
