#pragma once
// What the interoperability suites (interop_*_test.cpp) share: a parleyd started the way they all
// need it, and the scripted slixmpp peer (peers/slixmpp_peer.py, run with /usr/bin/python3) as a
// process the test owns.
//
//   auto parleyd = start_interop_parleyd(19250, 19251);  // STARTTLS, direct TLS
//   auto bob = SlixmppPeer::start(slixmpp_as("bob", 19250, {"presence", "wait", "body=hi"}),
//                                 (*parleyd)->directory() / "bob.log");
//   ASSERT_TRUE((*bob)->wait_for_line("connected tls=TLSv1.3", 20s)) << (*bob)->output();
//   EXPECT_EQ((*bob)->wait_for_exit(30s), 0) << (*bob)->output();
//
// Accounts are "<name>" with password "<name>-password" on example.test; the MUC service is
// conference.example.test. Every client here verifies parleyd's certificate against the test
// CA (tests/fixtures/chains/p256/root.crt) and the name example.test: nothing disables
// verification.
//
// Loopback ports 19250-19299 belong to these suites (xmpp_peers.hpp has the table):
//   19250-19251  interop_slixmpp_test    (STARTTLS, direct TLS)
//   19252-19253  interop_profanity_test
//   19254-19255  interop_tsung_test
//   19256-19257  interop_sendxmpp_test
//   19310-19311  interop_slixmpp_test    (PLAIN enabled, slixmpp's default mechanisms)
//
// What this does not do: install the clients (scripts/install-deps does), or stop what a client
// started in the background itself (the profanity and tsung suites clean up their own tmux server
// and epmd).
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
#include "parleyd_peer.hpp"
#include "peer_process.hpp"

namespace parley::integration {

inline const std::string kInteropFixtures = PARLEY_FIXTURES_DIR;
// The root of the chain parleyd serves: the CA every client is told to trust.
inline const std::string kInteropCa = kInteropFixtures + "/chains/p256/root.crt";
// A CA that did not sign parleyd's certificate: clients given it must refuse the server.
inline const std::string kUntrustedCa = kInteropFixtures + "/tls/ca.crt";
inline constexpr std::string_view kInteropDomain = "example.test";
inline constexpr std::string_view kInteropMucDomain = "conference.example.test";

struct InteropServerOptions {
  std::uint16_t c2s_port = 0;
  std::uint16_t direct_tls_port = 0;
  // Localparts; each gets the password "<localpart>-password".
  std::vector<std::string> accounts = {"alice", "bob"};
  // Accounts whose password a client fixes (tsung's userN / passN).
  std::vector<XmppAccount> accounts_with_passwords;
  // SASL PLAIN over TLS, for clients that know nothing else (tsung 1.7, go-sendxmpp 0.5.6).
  bool insecure_allow_plain = false;
  std::string extra_configuration;  // appended to parleyd.toml
};

// parleyd with the accounts and the MUC service; fails with parleyd's log on error.
Result<std::unique_ptr<ParleydPeer>> start_interop_parleyd(const InteropServerOptions& options);
// The same with the defaults (alice and bob, SCRAM only).
Result<std::unique_ptr<ParleydPeer>> start_interop_parleyd(std::uint16_t c2s_port,
                                                           std::uint16_t direct_tls_port);

std::string password_of(std::string_view localpart);
std::string file_contents(const std::filesystem::path& path);

// PIDs of the running processes whose name (/proc/PID/comm) is `name`: to find the epmd that
// tsung's Erlang starts and leaves behind, and stop only that one.
std::vector<pid_t> pids_of_program(std::string_view name);

struct SlixmppOptions {
  std::string user;      // localpart; the JID is user@example.test/slixmpp
  std::string password;  // empty: password_of(user)
  std::uint16_t port = 0;
  bool direct_tls = false;
  std::string ca_file = kInteropCa;
  // Verbs and their arguments, flattened (see peers/slixmpp_peer.py for the list).
  std::vector<std::string> steps;
  std::chrono::seconds step_timeout{15};
  // slixmpp's own mechanism order and channel binding choice, falling back after each refusal
  // (what poezio does); false: SCRAM without channel binding only ('n').
  bool default_mechanisms = false;
};

// `user` running `steps` over STARTTLS on `port`, trusting the test CA.
SlixmppOptions slixmpp_as(std::string user, std::uint16_t port, std::vector<std::string> steps);

class SlixmppPeer {
 public:
  // Why the peer cannot run here (/usr/bin/python3 or its slixmpp module missing), or nullopt.
  static std::optional<std::string> unavailable_reason();
  // Starts the peer in the background; its output goes to `log`.
  static Result<std::unique_ptr<SlixmppPeer>> start(const SlixmppOptions& options,
                                                    std::filesystem::path log);

  // True once a line containing `text` was printed (polls the log).
  bool wait_for_line(std::string_view text, std::chrono::milliseconds timeout) const;
  // The exit code (0: every step passed, 1: a step failed, 2: no session), or nullopt when it
  // is still running after `timeout` or a signal ended it.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  std::string output() const { return file_contents(log_); }

 private:
  SlixmppPeer(std::unique_ptr<PeerProcess> process, std::filesystem::path log)
      : process_(std::move(process)), log_(std::move(log)) {}
  std::unique_ptr<PeerProcess> process_;
  std::filesystem::path log_;
};

// Starts the peer and waits for it to finish; its exit code and output. For steps that need no
// other party at the same time.
struct SlixmppRun {
  std::optional<int> exit_code;
  std::string output;
};
SlixmppRun run_slixmpp(const SlixmppOptions& options, const std::filesystem::path& log,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace parley::integration
