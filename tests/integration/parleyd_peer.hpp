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
// Ports: parleyd suites use 19000-19049 (see parleyd_test.cpp for the blocks).
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
  // Sends a signal to the server process (SIGTERM to test the shutdown).
  void signal(int signal_number) const;
  // Waits for the process to exit; its exit code, or nullopt on timeout / a signal.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

 private:
  using XmppPeer::XmppPeer;
  std::unique_ptr<PeerProcess> process_;
};

}  // namespace parley::integration
