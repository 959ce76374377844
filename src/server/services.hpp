#pragma once
// What every client session and IM handler of one running server shares: the configuration, the
// store, the registry of bound sessions and the per-address limits. One instance per server,
// used from the server's single io_context thread.
#include <spdlog/logger.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "net/edge_poller.hpp"
#include "server/address_limits.hpp"
#include "server/config.hpp"
#include "server/jid_cache.hpp"
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
  // Group commits the store refused (every write of that turn lost), and the sessions whose
  // input had written in them, closed with <internal-server-error/> (services.cpp).
  std::uint64_t store_commit_failures = 0;
  std::uint64_t sessions_closed_by_commit_failures = 0;
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
  // The addresses of routed stanzas, prepared once per distinct text.
  JidCache jids;
  AddressLimits address_limits;
  std::shared_ptr<spdlog::logger> log;
  ServerStatistics statistics;
  // Group chat (XEP-0045) when [muc] domain is set; owned by the Server.
  MucService* muc = nullptr;
  // Sessions whose connection dropped with stream management resumption enabled (XEP-0198),
  // by resumption id, kept until they are resumed or their resumption window closes.
  std::unordered_map<std::string, std::shared_ptr<C2sSession>> detached_sessions;
  // Where the group commit and the batched output flush are posted (the server's io_context).
  // Without one (the fuzz target, unit tests) writes are not grouped: each commits on its own.
  boost::asio::any_io_executor executor;
  // Input readiness of the client connections (owned by the Server).
  net::EdgePoller* input_poller = nullptr;

  // Group commit (store::Storage::begin_group): the first write of an event-loop turn opens a
  // write group and posts its commit behind the handlers already queued; replies of that turn
  // are written by handlers queued after the commit, so nothing is acknowledged before it is
  // durable, and one commit serves every write of the turn. Opened lazily, just before a
  // handler may write (every iq and presence and the stanzas before binding, a message only
  // where delivery stores it), so a turn that only routes messages pays for no transaction.
  //
  // A session whose input asked for the group (C2sSession::on_stanza) joins it: what it queues
  // from then on is held, not encrypted, until commit_write_group() knows the outcome. If the
  // commit fails, every write of the group is lost, so the joined sessions' held output (which
  // may acknowledge those writes: a roster result, a stream management <a/>, the silence that
  // means "stored offline") is discarded and their streams end with <internal-server-error/>:
  // their clients reconnect and send again what was never acknowledged (XEP-0198). Sessions that
  // only received stanzas routed in that turn keep their streams.
  void open_write_group() {
    ++write_group_requests_;
    if (write_group_open_ || !executor) return;
    // No retry when begin fails. The PostgreSQL backend already reconnects inside begin_group()
    // when its connection was lost, and after a failed reconnect refuses at once until its
    // backoff passes (postgresql_connection.hpp); retrying here would only block the event
    // loop for another connect_timeout, or fail the same way. Nothing is lost by going on
    // without a group: each write then runs as its own transaction, committed before the
    // handler replies (or failing, and the handler replies with the error), and the next
    // handler that writes asks for a group again.
    if (auto begun = storage.begin_group(); !begun) {
      log->error("store: {}", begun.error().message);
      return;
    }
    write_group_open_ = true;
    boost::asio::post(executor, [this] { commit_write_group(); });
  }
  // Commits the open group and tells the sessions that joined it the outcome (services.cpp).
  void commit_write_group();
  // Output queued now may depend on writes not yet committed: it must wait for the commit.
  bool write_group_open() const { return write_group_open_; }
  // Counts the calls to open_write_group(): a session compares it before and after handling a
  // stanza to learn whether a handler asked for the group on its behalf (message routing does
  // only where it stores).
  std::uint64_t write_group_requests() const { return write_group_requests_; }
  // The sessions that joined the open group (at most once each; see C2sSession::on_stanza).
  std::vector<std::weak_ptr<C2sSession>> write_group_sessions;

  // Output batching: sessions that queued output since the last flush. One posted handler per
  // turn flushes them all (c2s_session.cpp), after the handlers that were already queued, so
  // what several senders' input produced for one recipient goes out as one TLS write.
  std::vector<std::weak_ptr<C2sSession>> sessions_with_output;
  bool output_flush_posted = false;

  // Derives the fake SCRAM salt and iteration count for unknown users, so that a login attempt
  // cannot tell a missing account from a wrong password (sasl_scram.hpp). Per process.
  const std::string unknown_user_secret;

 private:
  bool write_group_open_ = false;
  std::uint64_t write_group_requests_ = 0;
};

}  // namespace parley::server
