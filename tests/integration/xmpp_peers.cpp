#include "xmpp_peers.hpp"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "program.hpp"

namespace parley::integration {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// How long an admin command (prosodyctl register, ejabberdctl register/stop) may take. Each
// ejabberdctl call boots an Erlang VM: about a second, several on a busy machine.
constexpr auto kAdminCommandTimeout = 60s;
ProgramOptions admin_command() {
  ProgramOptions options;
  options.timeout = kAdminCommandTimeout;
  return options;
}
// After `ejabberdctl stop` (or SIGTERM), how long the server has to exit by itself.
constexpr auto kGracefulStopTimeout = 15s;
// Bounds on reading /proc: entries looked at and bytes of one command line.
constexpr std::size_t kMaxProcEntries = 100'000;
constexpr std::size_t kMaxCommandLine = 64 * 1024;

// ---- checking the options -----------------------------------------------------------------------

// Text that goes inside a quoted string of a generated configuration (Lua or YAML) or names a
// file: nothing that could end the quote or the line.
Result<void> check_quotable(std::string_view what, const std::string& value) {
  if (value.find_first_of("\"'\\\n\r") != std::string::npos) {
    return fail(Error::invalid_argument(std::string(what) + " \"" + value +
                                        "\" holds a quote, backslash or line break"));
  }
  return {};
}

bool is_dns_name(const std::string& name) {
  return !name.empty() && name.size() <= 253 && name.front() != '.' && name.front() != '-' &&
         std::all_of(name.begin(), name.end(), [](char ch) {
           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
         });
}

bool is_simple_localpart(const std::string& localpart) {
  return !localpart.empty() && localpart.size() <= 64 &&
         std::all_of(localpart.begin(), localpart.end(), [](char ch) {
           return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' ||
                  ch == '_';
         });
}

std::vector<std::uint16_t> ports_of(const XmppPeerOptions& options) {
  std::vector<std::uint16_t> ports{options.c2s_port};
  if (options.direct_tls_port != 0) ports.push_back(options.direct_tls_port);
  if (options.erlang_distribution_port != 0) ports.push_back(options.erlang_distribution_port);
  return ports;
}

Result<void> check_options(const XmppPeerOptions& options, std::string_view product) {
  const std::string who(product);
  if (!is_dns_name(options.domain)) {
    return fail(Error::invalid_argument(who + ": domain \"" + options.domain +
                                        "\" is not a lower-case DNS name"));
  }
  for (const auto& domain : options.additional_domains) {
    if (!is_dns_name(domain) || domain == options.domain) {
      return fail(Error::invalid_argument(who + ": additional domain \"" + domain +
                                          "\" is not a distinct lower-case DNS name"));
    }
  }
  if (options.c2s_port == 0) return fail(Error::invalid_argument(who + ": c2s_port is required"));
  auto ports = ports_of(options);
  std::sort(ports.begin(), ports.end());
  if (std::adjacent_find(ports.begin(), ports.end()) != ports.end()) {
    return fail(Error::invalid_argument(who + ": the ports must differ from each other"));
  }
  for (const auto& [what, file] : {std::pair<const char*, const std::string&>{
                                       "certificate_chain_file", options.certificate_chain_file},
                                   {"private_key_file", options.private_key_file},
                                   {"ca_file", options.ca_file}}) {
    if (file.empty() && std::string_view(what) == "ca_file") continue;
    if (auto quotable = check_quotable(who + ": " + what, file); !quotable) return quotable;
    if (::access(file.c_str(), R_OK) != 0) {
      return fail(
          Error::invalid_argument(who + ": " + what + " \"" + file + "\" is not a readable file"));
    }
  }
  for (const auto& account : options.accounts) {
    if (!is_simple_localpart(account.localpart) || account.password.empty()) {
      return fail(
          Error::invalid_argument(who + ": account \"" + account.localpart +
                                  "\" needs a localpart of [a-z0-9._-] and a non-empty password"));
    }
  }
  for (const std::uint16_t port : ports_of(options)) {
    if (port_is_listening(port)) {
      return fail(Error::io(who + ": 127.0.0.1:" + std::to_string(port) +
                            " is already in use (a server left over from an earlier run? `ss "
                            "-ltnp 'sport = :" +
                            std::to_string(port) + "'` names it)"));
    }
  }
  return {};
}

// ---- files --------------------------------------------------------------------------------------

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) return fail(Error::io("cannot read " + path));
  return text.str();
}

Result<void> write_file(const fs::path& path, std::string_view text, fs::perms permissions) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return fail(Error::io("cannot write " + path.string()));
  }
  std::error_code error;
  fs::permissions(path, permissions, error);
  if (error) return fail(Error::io("cannot set the mode of " + path.string()));
  return {};
}

// PEM files end with a line break, but a hand-made one may not; concatenating without one would
// glue two "-----" lines together.
std::string with_final_newline(std::string text) {
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

Result<fs::path> make_peer_directory(std::string_view product, std::uint16_t c2s_port) {
  std::string name = "parley-" + std::string(product) + "-" + std::to_string(::getpid()) + "-" +
                     std::to_string(c2s_port);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  std::error_code error;
  const fs::path directory = fs::temp_directory_path(error) / name;
  if (error) return fail(Error::io("no temporary directory: " + error.message()));
  if (auto quotable = check_quotable("the peer's directory", directory.string()); !quotable) {
    return fail(quotable.error());
  }
  fs::remove_all(directory, error);
  if (!fs::create_directories(directory, error) || error) {
    return fail(Error::io("cannot create " + directory.string() + ": " + error.message()));
  }
  fs::permissions(directory, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec,
                  error);
  return directory;
}

std::string file_tail(const fs::path& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  in.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

// The end of each non-empty file, under its name; `max_bytes` shared between them.
std::string labelled_tails(const std::vector<fs::path>& files, std::size_t max_bytes) {
  std::string all;
  const std::size_t each = files.empty() ? max_bytes : max_bytes / files.size();
  for (const auto& file : files) {
    const std::string tail = file_tail(file, each);
    if (tail.empty()) continue;
    all += "--- " + file.filename().string() + " ---\n" + with_final_newline(tail);
  }
  return all.empty() ? "(no log output)\n" : all;
}

// PeerProcess errors end with "; its output:\n<tail of the console log>"; the peers quote their
// logs themselves, so only the sentence before it is kept.
std::string first_sentence(const std::string& message) {
  const auto end = message.find("; its output:");
  return end == std::string::npos ? message : message.substr(0, end);
}

// ---- processes ----------------------------------------------------------------------------------

std::optional<pid_t> parent_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return std::nullopt;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses; it ends at the last ')'.
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 1));
  std::string state;
  pid_t parent = 0;
  if (!(fields >> state >> parent)) return std::nullopt;
  return parent;
}

std::vector<pid_t> all_processes() {
  std::vector<pid_t> pids;
  std::error_code error;
  std::size_t seen = 0;
  for (fs::directory_iterator entry("/proc", error), end; !error && entry != end;
       entry.increment(error)) {
    if (++seen > kMaxProcEntries) break;
    const std::string name = entry->path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    pids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return pids;
}

// `roots` and every process below them.
std::vector<pid_t> with_descendants(const std::vector<pid_t>& roots) {
  std::map<pid_t, std::vector<pid_t>> children;
  for (const pid_t pid : all_processes()) {
    if (auto parent = parent_of(pid)) children[*parent].push_back(pid);
  }
  std::set<pid_t> found;
  std::vector<pid_t> queue = roots;
  while (!queue.empty() && found.size() < kMaxProcEntries) {
    const pid_t pid = queue.back();
    queue.pop_back();
    if (!found.insert(pid).second) continue;
    for (const pid_t child : children[pid]) queue.push_back(child);
  }
  return {found.begin(), found.end()};
}

// Waits until no process names `text`, then kills (by PID) whatever still does, with its
// descendants, and waits for them to go.
void sweep_processes_mentioning(const std::string& text, std::chrono::milliseconds grace) {
  const auto give_up = std::chrono::steady_clock::now() + grace;
  while (!processes_mentioning(text).empty() && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(50ms);
  }
  const auto leftovers = processes_mentioning(text);
  if (leftovers.empty()) return;
  for (const pid_t pid : with_descendants(leftovers)) ::kill(pid, SIGKILL);
  const auto killed_by = std::chrono::steady_clock::now() + 5s;
  while (!processes_mentioning(text).empty() && std::chrono::steady_clock::now() < killed_by) {
    std::this_thread::sleep_for(20ms);
  }
}

// ---- Prosody ------------------------------------------------------------------------------------

std::string prosody_configuration(const XmppPeerOptions& options, const fs::path& directory) {
  const std::string d = directory.string();
  std::ostringstream lua;
  lua << "-- Written by tests/integration/xmpp_peers.cpp\n"
      << "pidfile = \"" << d << "/prosody.pid\"\n"
      << "data_path = \"" << d << "/data\"\n"
      << "certificates = \"" << d << "/pki\"\n"
      << "run_as_root = true\n"
      // Loopback only, and no listeners beyond c2s: nothing of a test is reachable from outside.
      << "interfaces = { \"127.0.0.1\" }; local_interfaces = { \"127.0.0.1\" }\n"
      << "c2s_ports = { " << options.c2s_port << " }\n"
      << "c2s_direct_tls_ports = { "
      << (options.direct_tls_port != 0 ? std::to_string(options.direct_tls_port) : "") << " }\n"
      << "s2s_ports = { }; http_ports = { }; https_ports = { }; admin_interfaces = { }\n"
      << "modules_enabled = { \"roster\", \"saslauth\", \"tls\", \"disco\", \"ping\", "
         "\"carbons\", \"mam\", \"csi_simple\", \"smacks\", \"pep\" }\n"
      << "modules_disabled = { \"s2s\" }\n"
      << "allow_registration = false\n"
      << "c2s_require_encryption = true\n"
      << "authentication = \"internal_hashed\"; storage = \"internal\"\n"
      << "log = { info = \"" << d << "/prosody.log\"; error = \"" << d << "/prosody.err\" }\n"
      << "ssl = { certificate = \"" << d << "/pki/server.crt\"; key = \"" << d
      << "/pki/server.key\"; protocol = \""
      << (options.tls_versions == ServerTlsVersions::tls1_2_only ? "tlsv1_2" : "tlsv1_2+") << "\";"
      << (options.ca_file.empty() ? "" : " cafile = \"" + d + "/pki/ca.crt\";") << " }\n";
  // Global settings end at the first VirtualHost line, so the caller's go before it.
  if (!options.extra_configuration.empty()) {
    lua << with_final_newline(options.extra_configuration);
  }
  lua << "VirtualHost \"" << options.domain << "\"\n";
  for (const auto& domain : options.additional_domains) lua << "VirtualHost \"" << domain << "\"\n";
  if (!options.muc_domain.empty()) lua << "Component \"" << options.muc_domain << "\" \"muc\"\n";
  return lua.str();
}

// ---- ejabberd -----------------------------------------------------------------------------------

std::string ejabberd_configuration(const XmppPeerOptions& options, const fs::path& directory) {
  const std::string d = directory.string();
  std::ostringstream yaml;
  yaml << "# Written by tests/integration/xmpp_peers.cpp\n"
       << "hosts: [\"" << options.domain << "\"";
  for (const auto& domain : options.additional_domains) yaml << ", \"" << domain << "\"";
  yaml << "]\n"
       << "loglevel: info\n"
       << "certfiles: [\"" << d << "/server.pem\"]\n";
  if (!options.ca_file.empty()) yaml << "ca_file: \"" << d << "/ca.crt\"\n";
  yaml << "auth_method: internal\n"
       // SCRAM storage, or ejabberd offers DIGEST-MD5 and some clients pick it and fail.
       << "auth_password_format: scram\n"
       << "disable_sasl_mechanisms: [digest-md5, x-oauth2]\n"
       << "default_db: mnesia\n"
       << "c2s_protocol_options: [no_sslv2, no_sslv3, no_tlsv1, no_tlsv1_1, "
       << (options.tls_versions == ServerTlsVersions::tls1_2_only ? "no_tlsv1_3, " : "")
       << "cipher_server_preference]\n"
       << "c2s_ciphers: [HIGH, \"!aNULL\", \"!eNULL\", \"!3DES\", \"@STRENGTH\"]\n"
       << "listen:\n"
       << "  - {port: " << options.c2s_port
       << ", ip: \"127.0.0.1\", module: ejabberd_c2s, max_stanza_size: 262144, access: c2s, "
          "starttls_required: true}\n";
  if (options.direct_tls_port != 0) {
    yaml << "  - {port: " << options.direct_tls_port
         << ", ip: \"127.0.0.1\", module: ejabberd_c2s, max_stanza_size: 262144, access: c2s, "
            "tls: true}\n";
  }
  yaml << "acl: {local: {user_regexp: \"\"}}\n"
       << "access_rules: {local: {allow: local}, c2s: {allow: all}, register: {deny: all}}\n"
       << "shaper_rules: {max_user_sessions: 10, max_user_offline_messages: {100: all}}\n"
       << "modules:\n"
       << "  mod_caps: {}\n"
       << "  mod_carboncopy: {}\n"
       << "  mod_disco: {}\n"
       << "  mod_mam: {assume_mam_usage: true, default: always}\n"
       << "  mod_offline: {access_max_user_messages: max_user_offline_messages}\n"
       << "  mod_ping: {}\n"
       << "  mod_private: {}\n"
       << "  mod_roster: {versioning: true}\n"
       << "  mod_stream_mgmt: {}\n"
       << "  mod_vcard: {}\n";
  if (!options.muc_domain.empty()) {
    yaml << "  mod_muc: {hosts: [\"" << options.muc_domain
         << "\"], access: all, access_create: all, history_size: 20}\n";
  }
  if (!options.extra_configuration.empty()) {
    yaml << with_final_newline(options.extra_configuration);
  }
  return yaml.str();
}

// Read by ejabberdctl's shell script. The distribution port replaces epmd; the interface is given
// as an Erlang term directly because INET_DIST_INTERFACE makes every ejabberdctl call boot one
// more Erlang VM just to parse it.
std::string ejabberdctl_configuration(const XmppPeerOptions& options) {
  std::ostringstream cfg;
  cfg << "ERLANG_NODE=parley-" << options.erlang_distribution_port << "@localhost\n"
      << "ERL_EPMD_ADDRESS=127.0.0.1\n"
      << "ERL_DIST_PORT=" << options.erlang_distribution_port << "\n"
      << "ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0 -kernel inet_dist_use_interface "
         "{127,0,0,1}\"\n";
  return cfg.str();
}

// ejabberd runs as the `ejabberd` user and must reach its directory: every directory above it
// needs the search bit for others (root-only temporary directories do not work).
Result<void> check_reachable_by_others(const fs::path& directory) {
  for (fs::path above = directory.parent_path(); !above.empty() && above != above.root_path();
       above = above.parent_path()) {
    struct stat status {};
    if (::stat(above.c_str(), &status) != 0 || (status.st_mode & S_IXOTH) == 0) {
      return fail(Error::io("the ejabberd user cannot reach " + directory.string() + ": " +
                            above.string() +
                            " is not searchable by others; point TMPDIR at a directory it can "
                            "reach"));
    }
  }
  return {};
}

Result<void> give_to_user(const fs::path& directory, const char* user) {
  const passwd* account = ::getpwnam(user);
  if (account == nullptr) return fail(Error::io(std::string("no user ") + user));
  auto give = [&](const fs::path& path) -> Result<void> {
    if (::lchown(path.c_str(), account->pw_uid, account->pw_gid) != 0) {
      return fail(Error::io("cannot give " + path.string() + " to " + user));
    }
    return {};
  };
  if (auto given = give(directory); !given) return given;
  std::error_code error;
  for (fs::recursive_directory_iterator entry(directory, error), end; !error && entry != end;
       entry.increment(error)) {
    if (auto given = give(entry->path()); !given) return given;
  }
  if (error) return fail(Error::io("cannot list " + directory.string() + ": " + error.message()));
  return {};
}

}  // namespace

// ---- shared -------------------------------------------------------------------------------------

std::vector<pid_t> processes_mentioning(const std::string& text) {
  std::vector<pid_t> found;
  if (text.empty()) return found;
  const pid_t self = ::getpid();
  for (const pid_t pid : all_processes()) {
    if (pid == self) continue;
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
    std::string command_line(kMaxCommandLine, '\0');
    in.read(command_line.data(), static_cast<std::streamsize>(command_line.size()));
    command_line.resize(static_cast<std::size_t>(in.gcount()));
    std::replace(command_line.begin(), command_line.end(), '\0', ' ');
    if (command_line.find(text) != std::string::npos) found.push_back(pid);
  }
  return found;
}

void XmppPeer::remove_directory() const {
  if (directory_.empty() || std::getenv("PARLEY_KEEP_PEER_DIRECTORIES") != nullptr) return;
  std::error_code ignored;
  fs::remove_all(directory_, ignored);
}

// ---- ProsodyPeer --------------------------------------------------------------------------------

std::optional<std::string> ProsodyPeer::unavailable_reason() {
  for (const char* program : {"prosody", "prosodyctl"}) {
    if (find_program(program).empty()) {
      return std::string(program) + " is not installed (scripts/install-deps installs prosody)";
    }
  }
  return std::nullopt;
}

Result<std::unique_ptr<ProsodyPeer>> ProsodyPeer::start(XmppPeerOptions options) {
  if (auto reason = unavailable_reason()) return fail(Error::io("Prosody: " + *reason));
  options.erlang_distribution_port = 0;  // ejabberd's; Prosody has nothing listening there
  if (auto checked = check_options(options, "Prosody"); !checked) return fail(checked.error());
  auto directory = make_peer_directory("prosody", options.c2s_port);
  if (!directory) return fail(directory.error());
  // From here on the destructor cleans up whatever exists.
  std::unique_ptr<ProsodyPeer> peer(new ProsodyPeer(std::move(options), *directory));
  const XmppPeerOptions& o = peer->options();
  const fs::path& d = peer->directory();

  std::error_code error;
  fs::create_directories(d / "data", error);
  fs::create_directories(d / "pki", error);
  auto chain = read_file(o.certificate_chain_file);
  if (!chain) return fail(chain.error());
  auto key = read_file(o.private_key_file);
  if (!key) return fail(key.error());
  const auto readable = fs::perms::owner_read | fs::perms::owner_write;
  for (auto written : {write_file(d / "pki/server.crt", *chain, readable),
                       write_file(d / "pki/server.key", *key, readable)}) {
    if (!written) return fail(written.error());
  }
  if (!o.ca_file.empty()) {
    auto anchors = read_file(o.ca_file);
    if (!anchors) return fail(anchors.error());
    if (auto written = write_file(d / "pki/ca.crt", *anchors, readable); !written) {
      return fail(written.error());
    }
  }
  const std::string config = (d / "prosody.cfg.lua").string();
  if (auto written = write_file(config, prosody_configuration(o, d), readable); !written) {
    return fail(written.error());
  }

  // Offline registration: prosodyctl writes the accounts into data_path before the server runs.
  const std::string prosodyctl = find_program("prosodyctl");
  for (const auto& account : o.accounts) {
    auto registered = run_program(
        {prosodyctl, "--config", config, "register", account.localpart, o.domain, account.password},
        admin_command());
    if (!registered) return fail(registered.error());
    if (registered->exit_code != 0) {
      return fail(Error::io("Prosody: prosodyctl register " + account.localpart + " " + o.domain +
                            " failed (exit " + std::to_string(registered->exit_code) + "):\n" +
                            registered->output));
    }
  }

  auto process = PeerProcess::start({find_program("prosody"), "--config", config, "-F"},
                                    (d / "run.out").string());
  if (!process) return fail(process.error());
  peer->process_ = std::move(*process);
  const auto deadline = std::chrono::steady_clock::now() + o.startup_timeout;
  for (const std::uint16_t port : ports_of(o)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto listening = peer->process_->wait_until_listening(port, std::max(left, 1ms));
    if (!listening) {
      return fail(Error::io("Prosody did not start: " + first_sentence(listening.error().message) +
                            "\n" + peer->log_tail()));
    }
  }
  return peer;
}

ProsodyPeer::~ProsodyPeer() {
  process_.reset();  // SIGTERM: Prosody stops cleanly; SIGKILL after two seconds
  sweep_processes_mentioning(directory().string() + "/", 0ms);
  remove_directory();
}

std::string ProsodyPeer::log_tail(std::size_t max_bytes) const {
  return labelled_tails(
      {directory() / "prosody.err", directory() / "prosody.log", directory() / "run.out"},
      max_bytes);
}

// ---- EjabberdPeer -------------------------------------------------------------------------------

std::optional<std::string> EjabberdPeer::unavailable_reason() {
  if (find_program("ejabberdctl").empty()) {
    return "ejabberdctl is not installed (scripts/install-deps installs ejabberd)";
  }
  if (::geteuid() != 0) {
    return "ejabberd must be started as root here: ejabberdctl switches to the ejabberd user";
  }
  if (::getpwnam("ejabberd") == nullptr) return "there is no ejabberd user to run ejabberd as";
  return std::nullopt;
}

Result<std::unique_ptr<EjabberdPeer>> EjabberdPeer::start(XmppPeerOptions options) {
  if (auto reason = unavailable_reason()) return fail(Error::io("ejabberd: " + *reason));
  if (options.erlang_distribution_port == 0) {
    return fail(Error::invalid_argument("ejabberd: erlang_distribution_port is required"));
  }
  if (auto checked = check_options(options, "ejabberd"); !checked) return fail(checked.error());
  auto directory = make_peer_directory("ejabberd", options.c2s_port);
  if (!directory) return fail(directory.error());
  std::unique_ptr<EjabberdPeer> peer(new EjabberdPeer(std::move(options), *directory));
  peer->ejabberdctl_ = find_program("ejabberdctl");
  const XmppPeerOptions& o = peer->options();
  const fs::path& d = peer->directory();
  if (auto reachable = check_reachable_by_others(d); !reachable) {
    return fail(reachable.error());
  }

  std::error_code error;
  fs::create_directories(d / "spool", error);
  fs::create_directories(d / "logs", error);
  auto chain = read_file(o.certificate_chain_file);
  if (!chain) return fail(chain.error());
  auto key = read_file(o.private_key_file);
  if (!key) return fail(key.error());
  const auto private_file = fs::perms::owner_read | fs::perms::owner_write;
  // ejabberd takes the chain and its key from one file.
  if (auto written = write_file(d / "server.pem", with_final_newline(*chain) + *key, private_file);
      !written) {
    return fail(written.error());
  }
  if (!o.ca_file.empty()) {
    auto anchors = read_file(o.ca_file);
    if (!anchors) return fail(anchors.error());
    if (auto written = write_file(d / "ca.crt", *anchors, private_file); !written) {
      return fail(written.error());
    }
  }
  if (fs::exists("/etc/ejabberd/inetrc")) {
    fs::copy_file("/etc/ejabberd/inetrc", d / "inetrc", fs::copy_options::overwrite_existing,
                  error);
  }
  for (auto written :
       {write_file(d / "ejabberd.yml", ejabberd_configuration(o, d), private_file),
        write_file(d / "ejabberdctl.cfg", ejabberdctl_configuration(o), private_file)}) {
    if (!written) return fail(written.error());
  }
  // The console log is opened by this process (as root) and inherited, so it need not be given.
  if (auto given = give_to_user(d, "ejabberd"); !given) return fail(given.error());

  auto process =
      PeerProcess::start({peer->ejabberdctl_, "--config-dir", d.string(), "--logs",
                          (d / "logs").string(), "--spool", (d / "spool").string(), "foreground"},
                         (d / "run.out").string());
  if (!process) return fail(process.error());
  peer->process_ = std::move(*process);
  // Poll the ports, not `ejabberdctl started`: that blocks for a minute when start-up fails.
  const auto deadline = std::chrono::steady_clock::now() + o.startup_timeout;
  for (const std::uint16_t port : ports_of(o)) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto listening = peer->process_->wait_until_listening(port, std::max(left, 1ms));
    if (!listening) {
      return fail(Error::io("ejabberd did not start: " + first_sentence(listening.error().message) +
                            "\n" + peer->log_tail()));
    }
  }

  for (const auto& account : o.accounts) {
    auto registered = peer->control({"register", account.localpart, o.domain, account.password});
    if (!registered) return fail(registered.error());
  }
  return peer;
}

Result<std::string> EjabberdPeer::control(std::vector<std::string> command) const {
  std::string description = "ejabberdctl";
  for (const auto& word : command) description += " " + word;
  std::vector<std::string> argv{ejabberdctl_,
                                "--config-dir",
                                directory().string(),
                                "--logs",
                                (directory() / "logs").string(),
                                "--spool",
                                (directory() / "spool").string()};
  argv.insert(argv.end(), command.begin(), command.end());
  auto outcome = run_program(std::move(argv), admin_command());
  if (!outcome) return fail(outcome.error());
  if (outcome->exit_code != 0) {
    return fail(Error::io(description + " failed (exit " + std::to_string(outcome->exit_code) +
                          "):\n" + outcome->output));
  }
  return outcome->output;
}

void EjabberdPeer::stop() {
  if (process_) {
    // Graceful first: the node stops its listeners, closes mnesia and exits, and so does
    // `ejabberdctl foreground` above it. Whatever is still there afterwards is killed.
    (void)control({"stop"});
  }
  sweep_processes_mentioning(directory().string() + "/",
                             process_ ? std::chrono::milliseconds(kGracefulStopTimeout) : 0ms);
  process_.reset();  // reaps `ejabberdctl foreground` (su), which has exited by now
}

EjabberdPeer::~EjabberdPeer() {
  stop();
  remove_directory();
}

std::string EjabberdPeer::log_tail(std::size_t max_bytes) const {
  return labelled_tails(
      {directory() / "logs/error.log", directory() / "logs/ejabberd.log", directory() / "run.out"},
      max_bytes);
}

}  // namespace parley::integration
