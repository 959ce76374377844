#pragma once
// A running parleyd: the TLS context, the store, the listeners and every live connection, on one
// io_context (run by the caller on one thread).
//
// Start-up checks everything before accepting anyone: the certificate chain and key (tls/
// refuses weak keys, a key that does not match, an expired leaf; certificate_check.hpp refuses a
// leaf that does not name [server] domain and warns of one about to expire), the store (schema
// version),
// every listen address (a port in use is an error naming it). Stopping (SIGTERM) closes the
// listeners, sends <system-shutdown/> to every stream, and gives the writers a moment to flush.
#include <spdlog/logger.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"
#include "server/config.hpp"
#include "server/muc_service.hpp"
#include "server/services.hpp"
#include "store/storage.hpp"
#include "tls/context.hpp"

namespace parley::server {

class C2sSession;

// The TLS server context a configuration describes (chain, key, staple, FIPS policy), refused
// when the certificate does not name the domain (certificate_check.hpp); the warnings of that
// check are for the caller to show.
struct ServerTls {
  std::shared_ptr<tls::ServerContext> context;
  std::vector<std::string> warnings;
};
Result<ServerTls> make_tls_context(const ServerConfig& config);

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io,
                                                const ServerConfig& config,
                                                std::shared_ptr<spdlog::logger> log);
  // The same on a store the caller opened (tests wrap one to make it fail on demand); nullptr
  // opens config.storage_url.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io,
                                                const ServerConfig& config,
                                                std::shared_ptr<spdlog::logger> log,
                                                std::unique_ptr<store::Storage> storage);
  ~Server();

  // Starts accepting on every listener.
  void start();
  // Stops accepting, ends every stream with <system-shutdown/>; `done` runs once every
  // connection is closed (or after a grace period).
  void stop(std::function<void()> done);

  ServerServices& services() { return *services_; }
  std::size_t connection_count() const { return sessions_.size(); }

 private:
  struct Listener {
    boost::asio::ip::tcp::acceptor acceptor;
    bool direct_tls;
    std::string address;
  };

  Server(boost::asio::io_context& io, ServerConfig config, std::shared_ptr<spdlog::logger> log)
      : io_(io), config_(std::move(config)), log_(std::move(log)) {}
  boost::asio::awaitable<void> accept_loop(Listener& listener);
  void check_stopped();

  boost::asio::io_context& io_;
  ServerConfig config_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<store::Storage> storage_;
  std::unique_ptr<net::EdgePoller> input_poller_;  // client connections' input readiness
  std::unique_ptr<ServerServices> services_;
  std::unique_ptr<MucService> muc_;  // destroyed before services_
  std::shared_ptr<tls::ServerContext> tls_context_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<C2sSession*, std::weak_ptr<C2sSession>> sessions_;
  bool stopping_ = false;
  std::function<void()> on_stopped_;
};

}  // namespace parley::server
