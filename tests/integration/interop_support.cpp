#include "interop_support.hpp"

#include <fstream>
#include <iterator>
#include <thread>

#include "program.hpp"

namespace parley::integration {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string kPython = "/usr/bin/python3";  // Debian's, where python3-slixmpp installs
const std::string kSlixmppScript =
    std::string(PARLEY_SOURCE_DIR) + "/tests/integration/peers/slixmpp_peer.py";

}  // namespace

std::string password_of(std::string_view localpart) {
  return std::string(localpart) + "-password";
}

std::string file_contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<pid_t> pids_of_program(std::string_view name) {
  std::vector<pid_t> pids;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    const std::string pid_text = entry.path().filename().string();
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm = file_contents(entry.path() / "comm");
    if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    if (comm == name) pids.push_back(static_cast<pid_t>(std::stol(pid_text)));
  }
  return pids;
}

Result<std::unique_ptr<ParleydPeer>> start_interop_parleyd(const InteropServerOptions& options) {
  XmppPeerOptions peer;
  peer.domain = std::string(kInteropDomain);
  peer.c2s_port = options.c2s_port;
  peer.direct_tls_port = options.direct_tls_port;
  peer.certificate_chain_file = kInteropFixtures + "/chains/p256/chain.pem";
  peer.private_key_file = kInteropFixtures + "/chains/p256/leaf.key";
  for (const auto& localpart : options.accounts)
    peer.accounts.push_back({localpart, password_of(localpart)});
  for (const auto& account : options.accounts_with_passwords) peer.accounts.push_back(account);
  peer.extra_configuration =
      "[muc]\ndomain = \"" + std::string(kInteropMucDomain) + "\"\n" + options.extra_configuration;
  return ParleydPeer::start(std::move(peer), options.insecure_allow_plain);
}

Result<std::unique_ptr<ParleydPeer>> start_interop_parleyd(std::uint16_t c2s_port,
                                                           std::uint16_t direct_tls_port) {
  InteropServerOptions options;
  options.c2s_port = c2s_port;
  options.direct_tls_port = direct_tls_port;
  return start_interop_parleyd(options);
}

SlixmppOptions slixmpp_as(std::string user, std::uint16_t port, std::vector<std::string> steps) {
  SlixmppOptions options;
  options.user = std::move(user);
  options.port = port;
  options.steps = std::move(steps);
  return options;
}

std::optional<std::string> SlixmppPeer::unavailable_reason() {
  // Asked once: importing slixmpp takes a moment and the answer does not change during a run.
  static const std::optional<std::string> reason = []() -> std::optional<std::string> {
    if (find_program(kPython).empty()) return kPython + " is not installed";
    auto probe =
        run_program({kPython, "-c", "import slixmpp"},
                    ProgramOptions{.standard_input = {}, .environment = {}, .timeout = 30s});
    if (!probe) return probe.error().message;
    if (probe->exit_code != 0)
      return "python3-slixmpp is not installed (scripts/install-deps): " + probe->output;
    return std::nullopt;
  }();
  return reason;
}

Result<std::unique_ptr<SlixmppPeer>> SlixmppPeer::start(const SlixmppOptions& options,
                                                        fs::path log) {
  std::vector<std::string> argv = {
      kPython,          kSlixmppScript,
      "--jid",          options.user + "@" + std::string(kInteropDomain),
      "--password",     options.password.empty() ? password_of(options.user) : options.password,
      "--port",         std::to_string(options.port),
      "--ca",           options.ca_file,
      "--step-timeout", std::to_string(options.step_timeout.count())};
  if (options.direct_tls) argv.push_back("--direct-tls");
  if (options.default_mechanisms) argv.push_back("--default-mechanisms");
  argv.insert(argv.end(), options.steps.begin(), options.steps.end());
  auto process = PeerProcess::start(std::move(argv), log.string());
  if (!process) return fail(process.error());
  return std::unique_ptr<SlixmppPeer>(new SlixmppPeer(std::move(*process), std::move(log)));
}

bool SlixmppPeer::wait_for_line(std::string_view text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (output().find(text) != std::string::npos) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

std::optional<int> SlixmppPeer::wait_for_exit(std::chrono::milliseconds timeout) {
  return process_->wait_for_exit(timeout);
}

SlixmppRun run_slixmpp(const SlixmppOptions& options, const fs::path& log,
                       std::chrono::milliseconds timeout) {
  auto peer = SlixmppPeer::start(options, log);
  if (!peer) return SlixmppRun{std::nullopt, peer.error().message};
  SlixmppRun run;
  run.exit_code = (*peer)->wait_for_exit(timeout);
  run.output = (*peer)->output();
  return run;
}

}  // namespace parley::integration
