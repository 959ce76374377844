#include "program.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace parley::integration {

namespace {

using namespace std::chrono_literals;

// A temporary file that removes itself; mkstemp makes the name unique among concurrent tests.
class TemporaryFile {
 public:
  static Result<TemporaryFile> create(const std::string& purpose) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / ("parley-program-" + purpose + "-XXXXXX"))
            .string();
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) {
      return fail(
          Error::io("cannot create a temporary file " + pattern + ": " + std::strerror(errno)));
    }
    ::close(fd);
    return TemporaryFile(std::move(pattern));
  }
  TemporaryFile(TemporaryFile&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  TemporaryFile& operator=(TemporaryFile&&) = delete;
  TemporaryFile(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

 private:
  explicit TemporaryFile(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

struct SpawnFileActions {
  posix_spawn_file_actions_t actions;
  bool ready = false;
  SpawnFileActions() { ready = posix_spawn_file_actions_init(&actions) == 0; }
  ~SpawnFileActions() {
    if (ready) posix_spawn_file_actions_destroy(&actions);
  }
  SpawnFileActions(const SpawnFileActions&) = delete;
  SpawnFileActions& operator=(const SpawnFileActions&) = delete;
};

std::string read_bounded(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text(kMaxProgramOutput, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// The test's environment with `overrides` replacing or adding variables.
std::vector<std::string> environment_with(
    const std::vector<std::pair<std::string, std::string>>& overrides) {
  std::vector<std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const std::string_view name = text.substr(0, text.find('='));
    bool overridden = false;
    for (const auto& [key, value] : overrides) overridden = overridden || key == name;
    if (!overridden) result.emplace_back(text);
  }
  for (const auto& [key, value] : overrides) result.push_back(key + "=" + value);
  return result;
}

}  // namespace

Result<ProgramOutcome> run_program(std::vector<std::string> argv, const ProgramOptions& options) {
  if (argv.empty()) return fail(Error::invalid_argument("no program to run"));
  std::string description;
  for (const std::string& word : argv) description += (description.empty() ? "" : " ") + word;

  auto input = TemporaryFile::create("stdin");
  if (!input) return fail(input.error());
  auto output = TemporaryFile::create("output");
  if (!output) return fail(output.error());
  {
    std::ofstream in(input->path(), std::ios::binary);
    in << options.standard_input;
    if (!in) return fail(Error::io("cannot write the standard input of " + description));
  }

  SpawnFileActions files;
  if (!files.ready ||
      posix_spawn_file_actions_addopen(&files.actions, STDIN_FILENO, input->path().c_str(),
                                       O_RDONLY, 0) != 0 ||
      posix_spawn_file_actions_addopen(&files.actions, STDOUT_FILENO, output->path().c_str(),
                                       O_WRONLY | O_TRUNC, 0) != 0 ||
      posix_spawn_file_actions_adddup2(&files.actions, STDOUT_FILENO, STDERR_FILENO) != 0) {
    return fail(Error::io("cannot prepare to run " + description));
  }
  std::vector<char*> arguments;
  for (std::string& word : argv) arguments.push_back(word.data());
  arguments.push_back(nullptr);
  std::vector<std::string> environment = environment_with(options.environment);
  std::vector<char*> environment_pointers;
  for (std::string& entry : environment) environment_pointers.push_back(entry.data());
  environment_pointers.push_back(nullptr);

  pid_t pid = -1;
  const int spawned = posix_spawnp(&pid, arguments[0], &files.actions, nullptr, arguments.data(),
                                   environment_pointers.data());
  if (spawned != 0) {
    return fail(Error::io("cannot run " + description + ": " + std::strerror(spawned)));
  }

  const auto give_up = std::chrono::steady_clock::now() + options.timeout;
  int status = 0;
  for (;;) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno != EINTR) {
      return fail(Error::io("cannot wait for " + description + ": " + std::strerror(errno)));
    }
    if (std::chrono::steady_clock::now() >= give_up) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return fail(Error::io(description + " did not finish within " +
                            std::to_string(options.timeout.count()) + " ms; its output:\n" +
                            read_bounded(output->path())));
    }
    std::this_thread::sleep_for(10ms);
  }
  ProgramOutcome outcome;
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  outcome.output = read_bounded(output->path());
  return outcome;
}

std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return ::access(name.c_str(), X_OK) == 0 ? name : "";
  std::string directories = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  directories += ":/usr/sbin:/sbin";
  std::istringstream list(directories);
  std::string directory;
  while (std::getline(list, directory, ':')) {
    if (directory.empty()) continue;
    const std::string candidate = directory + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace parley::integration
