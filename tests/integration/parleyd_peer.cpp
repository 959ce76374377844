#include "parleyd_peer.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "program.hpp"

namespace parley::integration {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

#ifdef PARLEYD_BINARY
constexpr const char* kParleyd = PARLEYD_BINARY;
#else
constexpr const char* kParleyd = "";
#endif

std::string configuration(const XmppPeerOptions& options, const fs::path& directory,
                          bool insecure_allow_plain, const std::string& storage_url) {
  std::string out;
  out += "[server]\ndomain = \"" + options.domain + "\"\n";
  out += "[tls]\ncertificate = \"" + options.certificate_chain_file + "\"\n";
  out += "key = \"" + options.private_key_file + "\"\n";
  if (!options.ocsp_staple_file.empty())
    out += "ocsp_staple = \"" + options.ocsp_staple_file + "\"\n";
  if (options.insecure_allow_certificate_name_mismatch)
    out += "insecure_allow_certificate_name_mismatch = true\n";
  out += "[c2s]\nlisten = [\"127.0.0.1:" + std::to_string(options.c2s_port) + "\"]\n";
  if (options.direct_tls_port != 0)
    out += "direct_tls_listen = [\"127.0.0.1:" + std::to_string(options.direct_tls_port) + "\"]\n";
  if (insecure_allow_plain) out += "insecure_allow_plain = true\n";
  out += "[storage]\nurl = \"" +
         (storage_url.empty() ? "sqlite://" + (directory / "parley.db").string() : storage_url) +
         "\"\n";
  out += "[log]\nlevel = \"debug\"\n";
  if (!options.muc_domain.empty()) out += "[muc]\ndomain = \"" + options.muc_domain + "\"\n";
  out += options.extra_configuration;
  return out;
}

std::string tail_of(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

}  // namespace

std::optional<std::string> ParleydPeer::unavailable_reason() {
  if (std::string(kParleyd).empty()) return "PARLEYD_BINARY is not defined for this build";
  if (::access(kParleyd, X_OK) != 0) return std::string(kParleyd) + " is not built";
  return std::nullopt;
}

Result<std::unique_ptr<ParleydPeer>> ParleydPeer::start(XmppPeerOptions options,
                                                        bool insecure_allow_plain,
                                                        const std::string& storage_url) {
  if (auto reason = unavailable_reason()) return fail(Error::invalid_argument(*reason));
  for (auto port : {options.c2s_port, options.direct_tls_port})
    if (port != 0 && port_is_listening(port))
      return fail(Error::io("something already listens on 127.0.0.1:" + std::to_string(port)));
  std::error_code error;
  const fs::path directory =
      fs::temp_directory_path() /
      ("parley-parleyd-" + std::to_string(::getpid()) + "-" + std::to_string(options.c2s_port));
  fs::remove_all(directory, error);
  fs::create_directories(directory, error);
  if (error) return fail(Error::io("cannot create " + directory.string() + ": " + error.message()));
  {
    std::ofstream config(directory / "parleyd.toml");
    config << configuration(options, directory, insecure_allow_plain, storage_url);
    if (!config) return fail(Error::io("cannot write the parleyd configuration"));
  }
  std::unique_ptr<ParleydPeer> peer(new ParleydPeer(options, directory));
  const std::string config_file = peer->config_file();
  for (const auto& account : options.accounts) {
    auto added = run_program(
        {kParleyd, "--config", config_file, "user", "add",
         account.localpart + "@" + options.domain},
        ProgramOptions{
            .standard_input = account.password + "\n", .environment = {}, .timeout = 30s});
    if (!added) return fail(added.error());
    if (added->exit_code != 0)
      return fail(Error::io("parleyd user add " + account.localpart + " failed: " + added->output));
  }
  auto process =
      PeerProcess::start({kParleyd, "--config", config_file}, (directory / "parleyd.log").string());
  if (!process) return fail(process.error());
  peer->process_ = std::move(*process);
  for (auto port : {options.c2s_port, options.direct_tls_port}) {
    if (port == 0) continue;
    if (auto listening = peer->process_->wait_until_listening(port, options.startup_timeout);
        !listening)
      return fail(listening.error());
  }
  return peer;
}

ParleydPeer::~ParleydPeer() {
  process_.reset();
  if (std::getenv("PARLEY_KEEP_PEER_DIRECTORIES") == nullptr) remove_directory();
}

std::string ParleydPeer::log_tail(std::size_t max_bytes) const {
  return tail_of(directory() / log_name_, max_bytes);
}

void ParleydPeer::signal(int signal_number) {
  if (!process_) return;
  signalled_by_test_ = true;
  ::kill(process_->pid(), signal_number);
}

Result<void> ParleydPeer::restart() {
  if (process_ && process_->running())
    return fail(Error::invalid_argument("parleyd is still running; stop it before a restart"));
  auto process = PeerProcess::start({kParleyd, "--config", config_file()},
                                    (directory() / "parleyd-restart.log").string());
  if (!process) return fail(process.error());
  process_ = std::move(*process);
  log_name_ = "parleyd-restart.log";
  signalled_by_test_ = false;
  for (auto port : {options().c2s_port, options().direct_tls_port}) {
    if (port == 0) continue;
    if (auto listening = process_->wait_until_listening(port, options().startup_timeout);
        !listening)
      return fail(listening.error());
  }
  return {};
}

std::optional<int> ParleydPeer::wait_for_exit(std::chrono::milliseconds timeout) {
  return process_ ? process_->wait_for_exit(timeout) : std::nullopt;
}

}  // namespace parley::integration
