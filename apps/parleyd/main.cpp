// parleyd: the Parley XMPP server.
//
//   parleyd --config FILE                      run in the foreground, log to stderr
//   parleyd check-config --config FILE         load and check everything, then exit
//   parleyd user add|passwd JID --config FILE  password on stdin (one line)
//   parleyd user del JID --config FILE
//   parleyd user list --config FILE
//
// Exit codes: 0 ok, 1 the operation failed (a bad config, a missing account, a port in use),
// 2 usage.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <iostream>

#include "server/config.hpp"
#include "server/server.hpp"
#include "store/storage.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/sasl_scram.hpp"

namespace {

using namespace parley;

constexpr std::size_t kMaxPasswordBytes = 1024;

std::shared_ptr<spdlog::logger> make_logger(const std::string& level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto log = std::make_shared<spdlog::logger>("parleyd", sink);
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  log->set_level(spdlog::level::from_str(level));
  return log;
}

int report(const Error& error) {
  std::cerr << "parleyd: " << error.message << "\n";
  return 1;
}

Result<server::ServerConfig> load(const std::string& path) {
  return server::load_config(path);
}

int run(const std::string& config_path) {
  auto config = load(config_path);
  if (!config) return report(config.error());
  auto log = make_logger(config->log_level);
  boost::asio::io_context io(1);
  auto server = server::Server::create(io, *config, log);
  if (!server) return report(server.error());
  (*server)->start();
  log->info("parleyd serving {} (storage {})", config->domain,
            store::storage_url_for_display(config->storage_url));

  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    log->info("signal {}: shutting down", signal);
    (*server)->stop([&io] { io.stop(); });
  });
  ::signal(SIGPIPE, SIG_IGN);
  io.run();
  log->info("stopped");
  return 0;
}

int check_config(const std::string& config_path) {
  auto config = load(config_path);
  if (!config) return report(config.error());
  auto tls = server::make_tls_context(*config);
  if (!tls) return report(tls.error());
  auto storage = store::Storage::open(config->storage_url);
  if (!storage) return report(storage.error());
  std::cout << config_path << ": ok\n"
            << "  domain        " << config->domain << "\n"
            << "  certificate   " << config->certificate_file.string() << " ("
            << tls->context->chain().size() << " certificates)\n"
            << "  storage       " << store::storage_url_for_display(config->storage_url) << "\n";
  for (const auto& a : config->c2s_listen)
    std::cout << "  c2s           " << a.to_string() << " (STARTTLS required)\n";
  for (const auto& a : config->direct_tls_listen)
    std::cout << "  direct TLS    " << a.to_string() << "\n";
  if (config->insecure_allow_plain)
    std::cout << "  warning: insecure_allow_plain = true (SASL PLAIN over TLS is offered)\n";
  for (const auto& warning : tls->warnings) std::cout << "  warning: " << warning << "\n";
  return 0;
}

// The account name of `jid_text`, which must be a bare JID on the configured domain.
Result<std::string> account_of(const std::string& jid_text, const server::ServerConfig& config) {
  auto jid = xmpp::Jid::parse(jid_text);
  if (!jid) return fail(Error::invalid_argument(jid_text + ": " + jid.error().message));
  if (!jid->has_localpart() || jid->is_full())
    return fail(
        Error::invalid_argument(jid_text + ": an account is a bare JID, user@" + config.domain));
  if (jid->domainpart() != config.domain)
    return fail(Error::invalid_argument(jid_text + ": this server serves " + config.domain));
  return jid->localpart();
}

Result<std::string> read_password() {
  if (::isatty(STDIN_FILENO)) std::cerr << "password: " << std::flush;
  std::string password;
  if (!std::getline(std::cin, password) && password.empty())
    return fail(Error::invalid_argument("no password on stdin"));
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail(Error::invalid_argument("the password is empty"));
  if (password.size() > kMaxPasswordBytes)
    return fail(Error::limit("the password is longer than 1024 bytes"));
  return password;
}

int user_command(const std::string& action, const std::string& jid_text,
                 const std::string& config_path) {
  auto config = load(config_path);
  if (!config) return report(config.error());
  auto storage = store::Storage::open(config->storage_url);
  if (!storage) return report(storage.error());
  auto& accounts = (*storage)->accounts();
  if (action == "list") {
    auto names = accounts.list();
    if (!names) return report(names.error());
    for (const auto& name : *names) std::cout << name << "@" << config->domain << "\n";
    return 0;
  }
  auto account = account_of(jid_text, *config);
  if (!account) return report(account.error());
  if (action == "del") {
    auto removed = accounts.remove(*account);
    if (!removed) return report(removed.error());
    if (!*removed) return report(Error::invalid_argument(jid_text + ": no such account"));
    std::cout << "deleted " << jid_text << "\n";
    return 0;
  }
  auto password = read_password();
  if (!password) return report(password.error());
  auto sha1 = xmpp::sasl::derive_scram_credentials(*password, xmpp::sasl::ScramHash::sha1);
  auto sha256 = xmpp::sasl::derive_scram_credentials(*password, xmpp::sasl::ScramHash::sha256);
  if (!sha1) return report(sha1.error());
  if (!sha256) return report(sha256.error());
  auto stored = action == "add" ? accounts.create(*account, *sha1, *sha256)
                                : accounts.set_credentials(*account, *sha1, *sha256);
  if (!stored) return report(stored.error());
  std::cout << (action == "add" ? "added " : "changed the password of ") << jid_text << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"parleyd: the Parley XMPP server (TLS only)"};
  std::string config_path;
  app.add_option("--config", config_path, "configuration file (TOML)")->required();
  app.require_subcommand(0, 1);

  auto* check =
      app.add_subcommand("check-config", "load the configuration, certificates and store");
  auto* user = app.add_subcommand("user", "manage accounts (passwords are read from stdin)");
  user->require_subcommand(1);
  std::string action, jid;
  for (const char* name : {"add", "passwd", "del"}) {
    auto* sub = user->add_subcommand(name, std::string(name) + " an account");
    sub->add_option("jid", jid, "the account, user@domain")->required();
    sub->callback([&action, name] { action = name; });
  }
  user->add_subcommand("list", "list accounts")->callback([&action] { action = "list"; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    int code = app.exit(error);
    return code == 0 ? 0 : 2;
  }
  if (check->parsed()) return check_config(config_path);
  if (user->parsed()) return user_command(action, jid, config_path);
  return run(config_path);
}
