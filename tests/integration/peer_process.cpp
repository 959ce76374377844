#include "peer_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace parley::integration {

namespace {

using namespace std::chrono_literals;

struct SpawnFileActions {
  posix_spawn_file_actions_t actions;
  bool ready = false;
  SpawnFileActions() { ready = posix_spawn_file_actions_init(&actions) == 0; }
  ~SpawnFileActions() {
    if (ready) posix_spawn_file_actions_destroy(&actions);
  }
};

// One of /proc/net/tcp{,6}: "sl local_address rem_address st ...", addresses as hex
// "ADDRESS:PORT", state 0A = LISTEN.
bool listed_as_listening(const char* table, std::uint16_t port) {
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // header
  int lines = 0;
  while (std::getline(in, line) && ++lines < 100000) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    if (!(fields >> slot >> local >> remote >> state) || state != "0A") continue;
    const auto colon = local.rfind(':');
    if (colon == std::string::npos) continue;
    const std::string address = local.substr(0, colon);
    if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
    // Wildcard, IPv4 loopback (little-endian hex 0100007F) or IPv6 loopback / mapped loopback.
    const bool covers_loopback = address.find_first_not_of('0') == std::string::npos ||
                                 address == "0100007F" ||
                                 address == "00000000000000000000000001000000" ||
                                 address == "0000000000000000FFFF00000100007F";
    if (covers_loopback) return true;
  }
  return false;
}

}  // namespace

Result<std::unique_ptr<PeerProcess>> PeerProcess::start(std::vector<std::string> argv,
                                                        std::string log_path) {
  if (argv.empty()) return fail(Error::invalid_argument("no program to start"));
  std::string description;
  for (const std::string& word : argv) description += (description.empty() ? "" : " ") + word;

  SpawnFileActions files;
  if (!files.ready ||
      posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0) !=
          0 ||
      posix_spawn_file_actions_addopen(&files.actions, STDOUT_FILENO, log_path.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644) != 0 ||
      posix_spawn_file_actions_adddup2(&files.actions, STDOUT_FILENO, STDERR_FILENO) != 0) {
    return fail(Error::io("cannot prepare to start " + description));
  }
  std::vector<char*> arguments;
  arguments.reserve(argv.size() + 1);
  for (std::string& word : argv) arguments.push_back(word.data());
  arguments.push_back(nullptr);

  pid_t pid = -1;
  const int spawned =
      posix_spawnp(&pid, arguments[0], &files.actions, nullptr, arguments.data(), environ);
  if (spawned != 0) {
    return fail(Error::io("cannot start " + description + ": " + std::strerror(spawned)));
  }
  return std::unique_ptr<PeerProcess>(
      new PeerProcess(pid, std::move(description), std::move(log_path)));
}

PeerProcess::~PeerProcess() {
  if (pid_ <= 0 || reaped_) return;
  ::kill(pid_, SIGTERM);
  const auto give_up = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < give_up) {
    if (has_exited()) return;
    std::this_thread::sleep_for(20ms);
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  reaped_ = true;
}

bool PeerProcess::has_exited() {
  if (reaped_) return true;
  int status = 0;
  const pid_t waited = ::waitpid(pid_, &status, WNOHANG);
  if (waited == pid_ && WIFEXITED(status)) exit_code_ = WEXITSTATUS(status);
  if (waited == pid_ || (waited < 0 && errno == ECHILD)) reaped_ = true;
  return reaped_;
}

std::optional<int> PeerProcess::wait_for_exit(std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (!has_exited() && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(20ms);
  return exit_code_;
}

Result<void> PeerProcess::wait_until_listening(std::uint16_t port,
                                               std::chrono::milliseconds timeout) {
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < give_up) {
    if (has_exited()) {
      return fail(Error::io(description_ + " exited before listening on 127.0.0.1:" +
                            std::to_string(port) + "; its output:\n" + log_tail()));
    }
    if (port_is_listening(port)) return {};
    std::this_thread::sleep_for(25ms);
  }
  return fail(Error::io(description_ + " did not listen on 127.0.0.1:" + std::to_string(port) +
                        " within " + std::to_string(timeout.count()) + " ms; its output:\n" +
                        log_tail()));
}

std::string PeerProcess::log_tail(std::size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  if (all.size() > max_bytes) all.erase(0, all.size() - max_bytes);
  return all;
}

bool port_is_listening(std::uint16_t port) {
  return listed_as_listening("/proc/net/tcp", port) || listed_as_listening("/proc/net/tcp6", port);
}

Result<std::unique_ptr<SilentListener>> SilentListener::open(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(Error::io(std::string("socket: ") + std::strerror(errno)));
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(fd, 16) != 0) {
    const int error = errno;
    ::close(fd);
    return fail(Error::io("cannot listen on 127.0.0.1:" + std::to_string(port) + ": " +
                          std::strerror(error)));
  }
  return std::unique_ptr<SilentListener>(new SilentListener(fd));
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace parley::integration
