#include "server/server.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>

#include "core/file.hpp"
#include "server/c2s_session.hpp"
#include "server/certificate_check.hpp"
#include "server/muc_service.hpp"

namespace parley::server {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {
constexpr auto kStopGrace = 5s;
}  // namespace

Result<ServerTls> make_tls_context(const ServerConfig& config) {
  tls::ServerOptions options;
  // One instant for tls/'s validity check and the expiry warning below.
  const auto now = static_cast<pki::UnixTime>(std::time(nullptr));
  options.validity_time = now;
  options.chain_file = config.certificate_file;
  options.key_file = config.key_file;
  if (config.fips) {
    if (auto available = tls::fips_provider_available(); !available)
      return fail(Error::invalid_argument(fmt::format(
          "{}: [tls] fips = true: {}", config.source.string(), available.error().message)));
    options.policy = tls::TlsPolicy::fips_140();
  }
  if (config.ocsp_staple_file) {
    auto staple = read_file(*config.ocsp_staple_file, tls::kMaxOcspStapleBytes);
    if (!staple) return fail(staple.error());
    options.ocsp_staple = std::move(*staple);
  }
  auto context = tls::ServerContext::create(options);
  if (!context) return fail(context.error());
  const CertificateCheck check =
      check_served_certificate(*(*context)->chain().front(), config, now);
  if (check.refused()) return fail(Error::invalid_argument(check.refusal_text()));
  return ServerTls{std::move(*context), check.warnings()};
}

Result<std::unique_ptr<Server>> Server::create(asio::io_context& io, const ServerConfig& config,
                                               std::shared_ptr<spdlog::logger> log) {
  return create(io, config, std::move(log), nullptr);
}

Result<std::unique_ptr<Server>> Server::create(asio::io_context& io, const ServerConfig& config,
                                               std::shared_ptr<spdlog::logger> log,
                                               std::unique_ptr<store::Storage> storage) {
  std::unique_ptr<Server> server(new Server(io, config, log));
  auto tls = make_tls_context(server->config_);
  if (!tls) return fail(tls.error());
  server->tls_context_ = std::move(tls->context);
  for (const auto& warning : tls->warnings) server->log_->warn("{}", warning);

  if (!storage) {
    store::StorageLimits storage_limits;
    storage_limits.max_roster_items = config.limits.max_roster_items;
    storage_limits.max_offline_messages = config.limits.max_offline_messages;
    auto opened = store::Storage::open(config.storage_url, storage_limits);
    if (!opened) return fail(opened.error());
    storage = std::move(*opened);
  }
  server->storage_ = std::move(storage);
  server->services_ =
      std::make_unique<ServerServices>(server->config_, *server->storage_, std::move(log));
  server->services_->executor = io.get_executor();
  auto poller = net::EdgePoller::create(io.get_executor());
  if (!poller) return fail(poller.error());
  server->input_poller_ = std::move(*poller);
  server->services_->input_poller = server->input_poller_.get();
  if (!server->config_.muc.domain.empty()) {
    server->muc_ = std::make_unique<MucService>(*server->services_);
    server->services_->muc = server->muc_.get();
  }

  auto add_listener = [&](const ListenAddress& address, bool direct_tls) -> Result<void> {
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(address.host, ec);
    if (ec)
      return fail(
          Error::invalid_argument(fmt::format("{}: {}", address.to_string(), ec.message())));
    asio::ip::tcp::endpoint endpoint(ip, address.port);
    auto listener = std::make_unique<Listener>(
        Listener{asio::ip::tcp::acceptor(io), direct_tls, address.to_string()});
    auto& acceptor = listener->acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
      return fail(
          Error::io(fmt::format("cannot listen on {}: {}", address.to_string(), ec.message())));
    server->listeners_.push_back(std::move(listener));
    return {};
  };
  for (const auto& address : config.c2s_listen)
    if (auto r = add_listener(address, false); !r) return fail(r.error());
  for (const auto& address : config.direct_tls_listen)
    if (auto r = add_listener(address, true); !r) return fail(r.error());
  return server;
}

Server::~Server() {
  // Sessions hold a reference to services_; they must be gone before it is.
  if (services_) {
    auto detached = services_->detached_sessions;
    for (auto& [id, session] : detached) session->expire_detached();
  }
  for (auto& [raw, weak] : sessions_)
    if (auto session = weak.lock()) session->shut_down();
  if (services_) services_->commit_write_group();  // the io_context may stop before it runs
}

void Server::start() {
  for (auto& listener : listeners_) {
    log_->info("listening on {} ({})", listener->address,
               listener->direct_tls ? "direct TLS" : "STARTTLS required");
    asio::co_spawn(io_, accept_loop(*listener), asio::detached);
  }
}

asio::awaitable<void> Server::accept_loop(Listener& listener) {
  while (!stopping_) {
    auto [ec, socket] =
        co_await listener.acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    if (ec) {
      if (ec == asio::error::operation_aborted) break;
      // EMFILE and friends: log and keep serving; back off briefly so the loop does not spin.
      log_->warn("accept on {}: {}", listener.address, ec.message());
      asio::steady_timer pause(io_, 100ms);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    boost::system::error_code peer_error;
    auto remote = socket.remote_endpoint(peer_error);
    if (peer_error) continue;
    std::string address = remote.address().to_string();
    auto& services = *services_;
    if (sessions_.size() >= services.limits.max_connections ||
        !services.address_limits.try_open(address)) {
      ++services.statistics.connections_refused;
      log_->warn("{}: connection refused: over the connection limit", address);
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++services.statistics.connections_accepted;
    auto session = std::make_shared<C2sSession>(services, tls_context_, std::move(socket),
                                                std::move(address), listener.direct_tls);
    sessions_.emplace(session.get(), session);
    session->start([this](C2sSession& finished) {
      sessions_.erase(&finished);
      check_stopped();
    });
  }
}

void Server::stop(std::function<void()> done) {
  if (stopping_) return;
  stopping_ = true;
  on_stopped_ = std::move(done);
  for (auto& listener : listeners_) {
    boost::system::error_code ec;
    listener->acceptor.close(ec);
  }
  log_->info("stopping: closing {} connections", sessions_.size());
  std::vector<std::shared_ptr<C2sSession>> live;
  for (auto& [raw, weak] : sessions_)
    if (auto session = weak.lock()) live.push_back(std::move(session));
  // Detached sessions (XEP-0198) end now: unavailable, unacknowledged messages kept offline.
  for (auto& [id, session] : services_->detached_sessions) live.push_back(session);
  for (auto& session : live) session->shut_down();
  auto timer = std::make_shared<asio::steady_timer>(io_, kStopGrace);
  timer->async_wait([this, timer](const boost::system::error_code&) {
    if (!on_stopped_) return;
    log_->warn("stopping: {} connections did not close in time", sessions_.size());
    auto done_now = std::move(on_stopped_);
    on_stopped_ = nullptr;
    done_now();
  });
  check_stopped();
}

void Server::check_stopped() {
  if (!stopping_ || !sessions_.empty() || !on_stopped_) return;
  auto done = std::move(on_stopped_);
  on_stopped_ = nullptr;
  done();
}

}  // namespace parley::server
