#include "postgres_peer.hpp"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <vector>

#include "peer_process.hpp"
#include "program.hpp"

namespace parley::integration {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Debian keeps each major version's programs here; initdb and pg_ctl are not on PATH.
const fs::path kBin = "/usr/lib/postgresql/15/bin";

bool running_as_root() {
  return ::geteuid() == 0;
}

// argv run as the cluster's owner: `postgres` when the test runs as root, else the test's user.
std::vector<std::string> as_owner(std::vector<std::string> argv) {
  if (!running_as_root()) return argv;
  std::vector<std::string> wrapped = {find_program("runuser"), "-u", "postgres", "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

Result<void> run_checked(std::vector<std::string> argv, const std::string& what,
                         std::chrono::milliseconds timeout = 120s) {
  auto outcome = run_program(
      std::move(argv), ProgramOptions{.standard_input = {}, .environment = {}, .timeout = timeout});
  if (!outcome) return fail(outcome.error());
  if (outcome->exit_code != 0) {
    return fail(Error::io(what + " failed (exit " + std::to_string(outcome->exit_code) +
                          "): " + outcome->output));
  }
  return {};
}

std::string quoted_literal(const std::string& text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string percent_encoded(const std::string& text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') ||
        (byte >= '0' && byte <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

Result<void> give_to_owner(const fs::path& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) return fail(Error::io("cannot chmod " + path.string()));
  if (!running_as_root()) return {};
  const passwd* owner = ::getpwnam("postgres");
  if (owner == nullptr) return fail(Error::io("no user 'postgres'"));
  if (::chown(path.c_str(), owner->pw_uid, owner->pw_gid) != 0) {
    return fail(Error::io("cannot give " + path.string() + " to the postgres user"));
  }
  return {};
}

}  // namespace

std::optional<std::string> PostgresPeer::unavailable_reason() {
  for (const char* program : {"initdb", "pg_ctl", "psql"}) {
    if (::access((kBin / program).c_str(), X_OK) != 0) {
      return (kBin / program).string() +
             " is not installed (the Debian package postgresql-15; scripts/install-deps)";
    }
  }
  if (running_as_root()) {
    if (::getpwnam("postgres") == nullptr) {
      return std::string(
          "PostgreSQL refuses to run as root and there is no 'postgres' user to "
          "own the cluster (the postgresql package creates it)");
    }
    if (find_program("runuser").empty()) return std::string("runuser is not installed");
  }
  return std::nullopt;
}

Result<std::unique_ptr<PostgresPeer>> PostgresPeer::start(PostgresOptions options) {
  if (auto reason = unavailable_reason()) return fail(Error::invalid_argument(*reason));
  if (port_is_listening(options.port)) {
    return fail(
        Error::io("something already listens on 127.0.0.1:" + std::to_string(options.port)));
  }
  std::string pattern =
      (fs::temp_directory_path() / ("parley-postgres-" + std::to_string(options.port) + "-XXXXXX"))
          .string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return fail(Error::io("cannot create a directory like " + pattern));
  }
  std::unique_ptr<PostgresPeer> peer(new PostgresPeer(options, fs::path(pattern)));
  if (auto given = give_to_owner(peer->directory_, 0700); !given) return fail(given.error());

  if (options.tls) {
    // The server reads its key only if no one else can (and as its owner).
    for (const auto& [from, to] : {std::pair{options.certificate_chain_file, "server.crt"},
                                   std::pair{options.private_key_file, "server.key"}}) {
      std::error_code error;
      fs::copy_file(from, peer->directory_ / to, fs::copy_options::overwrite_existing, error);
      if (error) return fail(Error::io("cannot copy " + from + ": " + error.message()));
      if (auto given = give_to_owner(peer->directory_ / to, 0600); !given) {
        return fail(given.error());
      }
    }
  }

  if (auto made = run_checked(
          as_owner({(kBin / "initdb").string(), "-D", (peer->directory_ / "data").string(), "-U",
                    "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                    "--no-locale", "--no-sync"}),
          "initdb");
      !made) {
    return fail(made.error());
  }
  if (auto started = peer->start_server(); !started) return fail(started.error());
  return peer;
}

Result<void> PostgresPeer::start_server() {
  const std::string socket_directory = directory_.string();
  // syncfs: after a crash (an immediate stop) the server makes its data directory durable with
  // one syncfs() instead of an fsync() per file, which takes tens of seconds once a test has made
  // a few dozen databases; the guarantee is the same.
  std::string server_options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(options_.port) +
                               " -k " + socket_directory + " -c recovery_init_sync_method=syncfs";
  if (options_.tls) {
    server_options += " -c ssl=on -c ssl_cert_file=" + (directory_ / "server.crt").string() +
                      " -c ssl_key_file=" + (directory_ / "server.key").string();
  }
  auto started =
      run_checked(as_owner({(kBin / "pg_ctl").string(), "-D", (directory_ / "data").string(), "-l",
                            (directory_ / "postgres.log").string(), "-w", "-t", "60", "-o",
                            server_options, "start"}),
                  "pg_ctl start");
  if (!started) return fail(Error::io(started.error().message + "\nserver log:\n" + log_tail()));
  running_ = true;
  return {};
}

Result<void> PostgresPeer::stop(PostgresShutdown how) {
  auto stopped = run_checked(
      as_owner({(kBin / "pg_ctl").string(), "-D", (directory_ / "data").string(), "-m",
                how == PostgresShutdown::fast ? "fast" : "immediate", "-w", "-t", "60", "stop"}),
      "pg_ctl stop");
  if (!stopped) return stopped;
  running_ = false;
  return {};
}

Result<void> PostgresPeer::start_again() {
  if (running_) return fail(Error::invalid_argument("the server is running"));
  return start_server();
}

std::optional<long> PostgresPeer::postmaster_pid() const {
  std::ifstream in(directory_ / "data" / "postmaster.pid");
  long pid = 0;
  if (!(in >> pid) || pid <= 1) return std::nullopt;
  return pid;
}

PostgresPeer::~PostgresPeer() {
  if (running_ && !stop(PostgresShutdown::fast)) {
    if (auto pid = postmaster_pid()) ::kill(static_cast<pid_t>(*pid), SIGKILL);
  }
  if (std::getenv("PARLEY_KEEP_PEER_DIRECTORIES") == nullptr) {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
}

Result<std::string> PostgresPeer::sql(const std::string& statement,
                                      const std::string& database) const {
  auto outcome =
      run_program({(kBin / "psql").string(), "-X", "-h", directory_.string(), "-p",
                   std::to_string(options_.port), "-U", "postgres", "-d", database, "-v",
                   "ON_ERROR_STOP=1", "-At", "-c", statement},
                  ProgramOptions{.standard_input = {}, .environment = {}, .timeout = 60s});
  if (!outcome) return fail(outcome.error());
  if (outcome->exit_code != 0) {
    return fail(Error::io("psql -c \"" + statement + "\" failed: " + outcome->output));
  }
  std::string output = outcome->output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output;
}

Result<std::string> PostgresPeer::create_database(const std::string& name, const std::string& role,
                                                  const std::string& password) const {
  auto made_role =
      sql("DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + quoted_literal(role) +
          ") THEN CREATE ROLE \"" + role + "\" LOGIN PASSWORD " + quoted_literal(password) +
          "; END IF; END$$");
  if (!made_role) return fail(made_role.error());
  auto made = sql("CREATE DATABASE \"" + name + "\" OWNER \"" + role +
                  "\" ENCODING 'UTF8' TEMPLATE template0");
  if (!made) return fail(made.error());
  return url(name, role, password);
}

std::string PostgresPeer::url(const std::string& database, const std::string& role,
                              const std::string& password) const {
  return "postgresql://" + percent_encoded(role) + ":" + percent_encoded(password) +
         "@127.0.0.1:" + std::to_string(options_.port) + "/" + percent_encoded(database);
}

std::string PostgresPeer::log_tail(std::size_t max_bytes) const {
  std::ifstream in(directory_ / "postgres.log", std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text.size() > max_bytes ? text.substr(text.size() - max_bytes) : text;
}

}  // namespace parley::integration
