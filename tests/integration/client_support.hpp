#pragma once
// What the client's integration tests share: running the built `parley` binary with a data
// directory of its own (so each test starts with an empty local certificate store), reading its
// --json lines, and a scripted fake XMPP server for the hostile-server tests.
//
// What it does not do: start real servers (xmpp_peers.hpp does) or talk XMPP itself beyond the
// few fixed exchanges a fake server's script needs.

#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "peer_process.hpp"
#include "program.hpp"
#include "tls/session.hpp"

namespace parley::integration::client_test {

std::string fixture(const std::string& name);
bool have_parley_binary();

// One user of `parley`: its own $XDG_DATA_HOME (removed at the end) and $HOME.
class ParleyUser {
 public:
  explicit ParleyUser(const std::string& name);
  ~ParleyUser();
  ParleyUser(const ParleyUser&) = delete;
  ParleyUser& operator=(const ParleyUser&) = delete;

  // Runs parley with `arguments`; `standard_input` is typically the password for
  // --password-stdin. Fails only when parley could not be run or did not finish in time.
  Result<ProgramOutcome> run(const std::vector<std::string>& arguments,
                             const std::string& standard_input = {},
                             std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;

  const std::filesystem::path& data_home() const { return data_home_; }
  const std::filesystem::path& home() const { return home_; }
  // Writes `password` to a file only this user reads, for --password-file (programs started in
  // the background or in tmux have no standard input to give it on).
  std::filesystem::path password_file(const std::string& password) const;
  // The command line that runs parley as this user: env XDG_DATA_HOME=... HOME=... parley ARGS.
  std::vector<std::string> command(const std::vector<std::string>& arguments) const;
  // The account's certificate store file (accepted-certificates).
  std::filesystem::path store_file(const std::string& bare_jid) const;

 private:
  std::filesystem::path root_;
  std::filesystem::path data_home_;
  std::filesystem::path home_;
};

// parley running in the background (listen, join) with its output (stdout and stderr) in a
// file the test reads while it runs: to wait until it is in a room before speaking to it, or to
// kill its server under it. Standard input is /dev/null. The destructor sends SIGTERM (parley
// leaves its rooms and closes), then SIGKILL.
class BackgroundParley {
 public:
  static Result<std::unique_ptr<BackgroundParley>> start(const ParleyUser& user,
                                                         const std::vector<std::string>& arguments,
                                                         const std::string& name);
  // Polls the output until it contains `text`; false at the timeout.
  bool wait_for_output(const std::string& text,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // The exit code once it ends, nullopt at the timeout (or when a signal ended it).
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  std::string output() const;

 private:
  BackgroundParley(std::unique_ptr<PeerProcess> process, std::filesystem::path log)
      : process_(std::move(process)), log_(std::move(log)) {}
  std::unique_ptr<PeerProcess> process_;
  std::filesystem::path log_;
};

// The JSON objects among the output's lines (other lines, stderr's, are skipped).
std::vector<boost::json::object> json_lines(const std::string& output);

// SHA-256 fingerprint (colon hex) of the first certificate in a PEM fixture.
std::string fixture_fingerprint(const std::string& name);

// ---- a scripted fake server -----------------------------------------------------------------

// The server side of one accepted connection, for scripts: every wait is bounded (the test must
// end even when the client misbehaves), and everything the client sent is recorded, decrypted
// once TLS is up.
class FakeConnection {
 public:
  explicit FakeConnection(int fd) : fd_(fd) {}

  // Reads until `marker` has been received (since the last call), the client closes, or the
  // timeout passes; true when the marker arrived.
  bool read_until(const std::string& marker,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Reads until the client closes the connection or the timeout passes.
  void read_until_closed(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // What the last successful read_until() consumed: the bytes from where the previous one ended
  // up to and including its marker (one element, when the marker is its end tag).
  const std::string& last_read() const { return last_read_; }
  bool send(const std::string& bytes);

  // Plays the TLS server with the given chain and key (after <proceed/> or from the start).
  bool start_tls(const std::string& chain_file, const std::string& key_file);
  // Channel binding data of the TLS session (after start_tls).
  Result<std::string> channel_binding(tls::ChannelBinding type) const;

  // Everything the client sent (plaintext before TLS, decrypted application data after).
  const std::string& received() const { return received_; }
  // What the client sent before TLS, and after it.
  const std::string& received_before_tls() const { return before_tls_; }
  bool tls_established() const { return tls_established_; }

 private:
  // One read of application bytes (decrypting when TLS is up); false on close or timeout.
  bool read_some(std::chrono::steady_clock::time_point deadline, std::string& out);
  bool flush_tls();

  int fd_;
  std::unique_ptr<tls::Session> tls_;
  bool tls_established_ = false;
  std::string received_;
  std::string before_tls_;
  std::string pending_;  // received since the last read_until() matched
  std::string last_read_;
};

class FakeXmppServer {
 public:
  using Script = std::function<void(FakeConnection&)>;
  // Listens on 127.0.0.1 (a free port) and runs `script` on the first connection.
  explicit FakeXmppServer(Script script);
  ~FakeXmppServer();
  FakeXmppServer(const FakeXmppServer&) = delete;
  FakeXmppServer& operator=(const FakeXmppServer&) = delete;

  std::uint16_t port() const { return port_; }
  // Waits for the script to finish and returns everything the client sent.
  std::string finish();
  bool connected() const { return connected_; }
  bool tls_established() const { return tls_established_; }
  const std::string& received_before_tls() const { return before_tls_; }

 private:
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  Script script_;
  std::thread thread_;
  // Written by the thread, read after join().
  bool connected_ = false;
  bool tls_established_ = false;
  std::string received_;
  std::string before_tls_;
};

// The plaintext opening every fake plays: read the client's stream header, offer STARTTLS (plus
// `more_features`), read <starttls/>. Then the script answers it as it likes.
bool fake_offer_starttls(FakeConnection& connection, const std::string& more_features = {});
// fake_offer_starttls, <proceed/>, and the TLS handshake with this chain and key.
bool fake_starttls(FakeConnection& connection, const std::string& chain_file,
                   const std::string& key_file);

// A fake server that does what a real one does up to a bound resource: STARTTLS, TLS with the
// p256 chain, SCRAM with the real sasl::ScramServer (so the client's proof and channel binding
// are checked for real), then resource binding. Returns whether the client got that far; the
// script continues from there.
struct FakeLogin {
  std::string password;  // the account's
  // The mechanisms offered after TLS, and the XEP-0440 types (none: no <sasl-channel-binding/>).
  std::vector<std::string> mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  std::vector<std::string> channel_binding_types = {"tls-exporter"};
  // Make the server's proof wrong, as a server that does not know the password would.
  bool forge_server_signature = false;
};
struct FakeLoginOutcome {
  bool bound = false;
  std::string mechanism;  // what the client chose
  std::string failure;    // why the fake stopped, for messages
};
FakeLoginOutcome fake_login(FakeConnection& connection, const FakeLogin& login);

// The stream header a fake server answers with, and stream features.
std::string fake_stream_header(const std::string& domain = "example.test");
inline constexpr const char* kStarttlsFeature =
    "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>";
inline constexpr const char* kPlainOnlyMechanisms =
    "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
    "</mechanisms>";

}  // namespace parley::integration::client_test
