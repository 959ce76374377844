#pragma once
// Real XMPP servers for integration tests: Prosody 0.12 and ejabberd 23.01 on 127.0.0.1, each in a
// directory of its own under the test's temporary directory, configured from one set of options
// (the recipes in /work/shared/recipes/prosody.md and ejabberd.md), so a test can be written
// once and run against both:
//
//   XmppPeerOptions options;                     // domain example.test unless set
//   options.c2s_port = 18915;
//   options.direct_tls_port = 18916;
//   options.certificate_chain_file = fixture("chains/p256/chain.pem");
//   options.private_key_file = fixture("chains/p256/leaf.key");
//   options.accounts = {{"alice", "alice-password"}};
//   auto prosody = ProsodyPeer::start(options);  // or EjabberdPeer::start, same options
//   ASSERT_TRUE(prosody) << prosody.error().message;  // quotes the server's log on failure
//   connect to 127.0.0.1:(*prosody)->c2s_port() ...
//
// Both servers: STARTTLS required on c2s_port before authentication, direct TLS (XEP-0368) on
// direct_tls_port, the same certificate chain for every hosted domain, accounts stored as SCRAM
// hashes (both offer PLAIN and SCRAM-SHA-1 after TLS, ejabberd also SCRAM-SHA-1-PLUS, neither
// DIGEST-MD5), no in-band registration, no s2s, no HTTP. ejabberd additionally sends a TLS
// CertificateRequest (client certificate optional) to every client, as it does in production.
//
// Loopback ports 18900-18949 belong to the suites that use these peers. Each suite owns a block
// so that a leftover server from one suite can never answer another suite's test; start() fails
// with a message naming the port when something already listens there. Add new suites here:
//   18900-18902  probe_test       Prosody  (c2s, direct TLS)
//   18903-18905  probe_test       ejabberd (c2s, direct TLS, Erlang distribution)
//   18906-18908  probe_test       ejabberd limited to TLS 1.2
//   18909-18911  probe_test       Prosody limited to TLS 1.2
//   18912        probe_test       HTTPS (openssl s_server)
//   18915-18917  xmpp_peers_test  Prosody  (shared by the suite)
//   18918-18920  xmpp_peers_test  ejabberd (shared by the suite)
//   18921-18923  xmpp_peers_test  Prosody  (started and stopped by one test)
//   18924-18926  xmpp_peers_test  ejabberd (started and stopped by one test)
//   18927-18949  free
//   18950-18958  client_*_test (the parley client against Prosody and ejabberd)
//   19000-19001  parleyd_test (parleyd_peer.hpp; parleyd has no Erlang port)
//   19100-19149  bench/compare-servers (never run together with the tests)
//   19200-19219  postgresql_*_test (PostgreSQL clusters and parleyd on PostgreSQL; the blocks are
//                in postgres_peer.hpp)
//   19220-19249  client_join_test, client_reconnect_test, client_chat_tui_test (the parley
//                client's group chat, reconnection and terminal UI; blocks in each file)
//   19250-19299  interop_*_test (parleyd with slixmpp, profanity, tsung, go-sendxmpp; the
//                blocks are in interop_support.hpp)
//   19300-19301  parley_revocation_test (parleyd presenting the revocation fixtures' leaves)
//   19310-19311  interop_slixmpp_test with PLAIN enabled (block in interop_support.hpp)
//   19320        parleyd_commit_failure_test (parleyd in the test process, on a store that
//                fails commits on demand)
//   19312        parleyd_test certificate checks (named in configs, never bound)
//   19330-19331  parleyd_operations_test (limits, timeouts, user commands, shutdown; the
//                fixture is shared with parleyd_test in parleyd_raw_client.hpp)
//   19360        scripts/testssl (parleyd for testssl.sh; run by hand, never with the tests)
// A block is (c2s, direct TLS, Erlang distribution); Prosody leaves the third unused.
// (Other integration tests use 18888-18891 for OCSP/CRL responders named in fixtures.)
//
// Stopping is the destructor's job and leaves nothing behind: Prosody gets SIGTERM; ejabberd gets
// `ejabberdctl stop`, and then any process whose command line still names the peer's directory is
// killed with its descendants (by PID; the directory is unique to the peer). ejabberd's Erlang
// distribution listens on 127.0.0.1:erlang_distribution_port and epmd is never started.
//
// Requirements: the servers' packages (scripts/install-deps). ejabberd must be started as root:
// ejabberdctl switches to the `ejabberd` user, so the peer gives its directory to that user.
// unavailable_reason() says why a peer cannot run here; tests GTEST_SKIP with it.
//
// Group chat (XEP-0045) when muc_domain is set: Prosody's "muc" component, ejabberd's mod_muc,
// anyone local may create rooms.
//
// What this does not do: s2s, HTTP upload or any other component; change the configuration
// of a running server; or survive the test process being killed (a SIGKILLed test leaves its
// servers running: the next run then fails on the busy port and says so).

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "peer_process.hpp"

namespace parley::integration {

struct XmppAccount {
  std::string localpart;  // registered on the peer's primary domain
  std::string password;
};

// Which TLS versions the server accepts; both servers refuse anything below TLS 1.2.
enum class ServerTlsVersions { tls1_2_or_later, tls1_2_only };

struct XmppPeerOptions {
  std::string domain = "example.test";
  // Hosted as well, with the same certificate: a client that asks for one of them gets a stream
  // (not host-unknown) and the primary domain's certificate, i.e. an identity mismatch.
  std::vector<std::string> additional_domains;
  std::uint16_t c2s_port = 0;         // STARTTLS, required before authentication
  std::uint16_t direct_tls_port = 0;  // XEP-0368 direct TLS; 0 = none
  // ejabberd only: where ejabberdctl reaches the node (Erlang distribution without epmd).
  std::uint16_t erlang_distribution_port = 0;
  std::string certificate_chain_file;  // PEM: the leaf first, then intermediates (no root)
  std::string private_key_file;        // PEM, unencrypted
  // parleyd only: a DER OCSP response to staple ([tls] ocsp_staple). Empty: none.
  std::string ocsp_staple_file;
  // parleyd only: serve a certificate that does not name `domain` (parleyd refuses to start with
  // one otherwise), to show that clients refuse it.
  bool insecure_allow_certificate_name_mismatch = false;
  // PEM trust anchors the server uses for certificates that clients present (ejabberd's
  // ca_file, Prosody's ssl.cafile). Empty: the servers' defaults.
  std::string ca_file;
  std::vector<XmppAccount> accounts;
  ServerTlsVersions tls_versions = ServerTlsVersions::tls1_2_or_later;
  // A multi-user chat service (XEP-0045) on this domain, e.g. "conference.example.test". Empty:
  // none.
  std::string muc_domain;
  // Appended verbatim to the generated configuration (Lua for Prosody, YAML for ejabberd, where
  // it must not repeat a top-level key the peer writes). For what the options do not cover.
  std::string extra_configuration;
  std::chrono::milliseconds startup_timeout{30'000};
};

class XmppPeer {
 public:
  virtual ~XmppPeer() = default;
  XmppPeer(const XmppPeer&) = delete;
  XmppPeer& operator=(const XmppPeer&) = delete;

  virtual std::string_view product() const = 0;  // "Prosody", "ejabberd": for messages
  // The end of the server's logs and console output, for failure messages.
  virtual std::string log_tail(std::size_t max_bytes = 4000) const = 0;

  const XmppPeerOptions& options() const { return options_; }
  const std::string& domain() const { return options_.domain; }
  std::uint16_t c2s_port() const { return options_.c2s_port; }
  std::uint16_t direct_tls_port() const { return options_.direct_tls_port; }
  // The peer's own directory (configuration, data, logs); removed by the destructor unless the
  // environment variable PARLEY_KEEP_PEER_DIRECTORIES is set.
  const std::filesystem::path& directory() const { return directory_; }

 protected:
  XmppPeer(XmppPeerOptions options, std::filesystem::path directory)
      : options_(std::move(options)), directory_(std::move(directory)) {}
  void remove_directory() const;

 private:
  XmppPeerOptions options_;
  std::filesystem::path directory_;
};

class ProsodyPeer final : public XmppPeer {
 public:
  // Why Prosody cannot run on this machine (not installed), or nullopt.
  static std::optional<std::string> unavailable_reason();
  // Writes the configuration, registers the accounts (prosodyctl, offline), starts Prosody in
  // the foreground and waits until it listens on every configured port.
  static Result<std::unique_ptr<ProsodyPeer>> start(XmppPeerOptions options);
  ~ProsodyPeer() override;

  std::string_view product() const override { return "Prosody"; }
  std::string log_tail(std::size_t max_bytes = 4000) const override;

 private:
  using XmppPeer::XmppPeer;
  std::unique_ptr<PeerProcess> process_;
};

class EjabberdPeer final : public XmppPeer {
 public:
  // Why ejabberd cannot run on this machine (not installed, not root, no `ejabberd` user), or
  // nullopt.
  static std::optional<std::string> unavailable_reason();
  // Writes the configuration, starts `ejabberdctl foreground`, waits until it listens on every
  // configured port, then registers the accounts (ejabberdctl register).
  static Result<std::unique_ptr<EjabberdPeer>> start(XmppPeerOptions options);
  ~EjabberdPeer() override;

  std::string_view product() const override { return "ejabberd"; }
  std::string log_tail(std::size_t max_bytes = 4000) const override;

  // Runs `ejabberdctl COMMAND...` against this node (as its admin would).
  Result<std::string> control(std::vector<std::string> command) const;

 private:
  using XmppPeer::XmppPeer;
  void stop();
  std::unique_ptr<PeerProcess> process_;
  std::string ejabberdctl_;
};

// One peer shared by the tests of a suite: ejabberd takes seconds to start and to stop, so a
// suite starts it once in SetUpTestSuite (start), and each test's SetUp skips or fails with the
// reason it is missing (skip_reason, start_error) before using get().
template <class Peer>
class SuitePeer {
 public:
  void start(XmppPeerOptions options) {
    stop();
    skip_reason_ = Peer::unavailable_reason();
    if (skip_reason_) return;
    auto started = Peer::start(std::move(options));
    if (started) {
      peer_ = std::move(*started);
    } else {
      start_error_ = started.error().message;
    }
  }
  void stop() {
    peer_.reset();
    skip_reason_.reset();
    start_error_.clear();
  }
  Peer* get() const { return peer_.get(); }
  const std::optional<std::string>& skip_reason() const { return skip_reason_; }
  const std::string& start_error() const { return start_error_; }

 private:
  std::unique_ptr<Peer> peer_;
  std::optional<std::string> skip_reason_;
  std::string start_error_;
};

// PIDs of processes other than this one whose command line contains `text` (zombies have none).
// The peers use it with their unique directory followed by '/' (every process of theirs names a
// file in it; the slash keeps ".../parley-prosody-7-1890" from matching "...-18900/") to find what
// is left of them; tests use it to check that nothing is.
std::vector<pid_t> processes_mentioning(const std::string& text);

}  // namespace parley::integration
