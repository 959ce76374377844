#pragma once
// parleyd as a test peer, with the same options and interface as the Prosody and ejabberd peers
// (xmpp_peers.hpp), so a test written for them runs against Parley's own server too:
//
//   auto parleyd = ParleydPeer::start(options);   // accounts added with `parleyd user add`
//
// It writes a parleyd.toml in its own temporary directory (SQLite store there), adds the accounts
// through the real command line (password on stdin), starts `parleyd --config` and waits until it
// listens. `extra_configuration` is appended to the TOML (tables such as [limits]); set
// `insecure_allow_plain` for clients that only speak PLAIN (go-sendxmpp 0.5.6). `storage_url`, when
// not empty, replaces the SQLite store (a postgresql:// URL; postgres_peer.hpp makes databases).
//
// Ports: parleyd_test uses 19000-19001, parleyd_operations_test 19330-19331 (xmpp_peers.hpp).
#include <csignal>
#include <memory>
#include <optional>
#include <string>

#include "xmpp_peers.hpp"

namespace parley::integration {

class ParleydPeer final : public XmppPeer {
 public:
  static std::optional<std::string> unavailable_reason();
  static Result<std::unique_ptr<ParleydPeer>> start(XmppPeerOptions options,
                                                    bool insecure_allow_plain = false,
                                                    const std::string& storage_url = {});
  ~ParleydPeer() override;

  std::string_view product() const override { return "parleyd"; }
  std::string log_tail(std::size_t max_bytes = 4000) const override;

  std::string config_file() const { return (directory() / "parleyd.toml").string(); }
  // Sends a signal to the server process (SIGTERM to test the shutdown). Remembered, so that a
  // fixture can tell an exit the test caused from a crash.
  void signal(int signal_number);
  bool signalled_by_test() const { return signalled_by_test_; }
  bool running() const { return process_ && process_->running(); }
  // Waits for the process to exit; its exit code, or nullopt on timeout / a signal.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);
  // Starts parleyd again on the same configuration and store once it has exited, and waits
  // until it listens (the first process's log is kept; log_tail() reads parleyd-restart.log from
  // then on).
  Result<void> restart();

 private:
  using XmppPeer::XmppPeer;
  std::unique_ptr<PeerProcess> process_;
  bool signalled_by_test_ = false;
  std::string log_name_ = "parleyd.log";  // the current process's, for log_tail()
};

}  // namespace parley::integration
