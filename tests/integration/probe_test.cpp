// parley-cert probe against a real XMPP server: Prosody on loopback (the recipe in
// /work/shared/recipes/prosody.md) serving tests/fixtures/chains/p256 for example.test with
// STARTTLS required, and a tiny in-test server that leaves STARTTLS out. The probe runs as the
// built binary, as a user would run it, so exit codes and output are what is tested.
// Each test picks a free port at run time (bind port 0, read it back, close).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "peer_process.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;
using integration::PeerProcess;

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

struct ProbeOutcome {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs the built parley-cert with `arguments` (no shell metacharacters in them: test paths only).
ProbeOutcome run_parley_cert(const std::vector<std::string>& arguments) {
  ProbeOutcome outcome;
#ifdef PARLEY_CERT_BINARY
  std::string command = PARLEY_CERT_BINARY;
  for (const auto& argument : arguments) command += " '" + argument + "'";
  command += " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return outcome;
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  // Bounded: the probe prints a few KiB; more means something is badly wrong.
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0 &&
         outcome.output.size() < 1024 * 1024) {
    outcome.output.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  outcome.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
#else
  (void)arguments;
#endif
  return outcome;
}

bool have_parley_cert() {
#ifdef PARLEY_CERT_BINARY
  return true;
#else
  return false;
#endif
}

class ProsodyProbeTest : public testing::Test {
 protected:
  void SetUp() override {
    if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
    if (::access("/usr/bin/prosody", X_OK) != 0)
      GTEST_SKIP() << "prosody is not installed (scripts/install-deps)";
    port_ = free_port();
    ASSERT_NE(port_, 0);
    dir_ = std::filesystem::path(testing::TempDir()) /
           ("parley-probe-prosody-" + std::to_string(::getpid()) + "-" + std::to_string(port_));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_ / "data");
    std::filesystem::create_directories(dir_ / "pki");
    const std::string d = dir_.string();
    {
      // The chain file a server serves: leaf then intermediate, not the root.
      std::ofstream chain(d + "/pki/server.crt");
      for (const char* part : {"chains/p256/leaf.crt", "chains/p256/intermediate.crt"}) {
        std::ifstream in(fixture(part));
        chain << in.rdbuf();
      }
      std::filesystem::copy_file(fixture("chains/p256/leaf.key"), d + "/pki/server.key");
    }
    std::ofstream config(d + "/prosody.cfg.lua");
    config << "pidfile = \"" << d << "/prosody.pid\"\n"
           << "data_path = \"" << d << "/data\"\n"
           << "certificates = \"" << d << "/pki\"\n"
           << "run_as_root = true\n"
           // Loopback only, and no other listeners: nothing of the test is reachable from outside.
           << "interfaces = { \"127.0.0.1\" }; local_interfaces = { \"127.0.0.1\" }\n"
           << "c2s_ports = { " << port_ << " }; c2s_direct_tls_ports = { }\n"
           << "s2s_ports = { }; http_ports = { }; https_ports = { }; admin_interfaces = { }\n"
           << "modules_enabled = { \"roster\",\"saslauth\",\"tls\",\"disco\",\"ping\" }\n"
           << "modules_disabled = { \"s2s\" }\n"
           << "allow_registration = false\n"
           << "c2s_require_encryption = true\n"
           << "authentication = \"internal_hashed\"; storage = \"internal\"\n"
           << "log = { info = \"" << d << "/prosody.log\"; error = \"" << d << "/prosody.err\" }\n"
           << "ssl = { certificate = \"" << d << "/pki/server.crt\"; key = \"" << d
           << "/pki/server.key\"; protocol = \"tlsv1_2+\" }\n"
           << "VirtualHost \"example.test\"\n"
           // Served with the same certificate, so that probing it is an identity mismatch rather
           // than Prosody refusing the stream (host-unknown).
           << "VirtualHost \"other.test\"\n";
    config.close();
    auto prosody =
        PeerProcess::start({"prosody", "--config", d + "/prosody.cfg.lua", "-F"}, d + "/run.out");
    ASSERT_TRUE(prosody) << prosody.error().message;
    prosody_ = std::move(*prosody);
    auto listening = prosody_->wait_until_listening(port_, 10s);
    ASSERT_TRUE(listening) << listening.error().message;
  }

  void TearDown() override {
    prosody_.reset();
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }

  ProbeOutcome probe(const std::string& host, const std::string& ca) {
    return run_parley_cert({"probe", "--service", "xmpp-client", "--host", host, "--connect",
                            "127.0.0.1", "--port", std::to_string(port_), "--ca", ca,
                            "--revocation", "off", "--json"});
  }

  std::uint16_t port_ = 0;
  std::filesystem::path dir_;
  std::unique_ptr<PeerProcess> prosody_;
};

TEST_F(ProsodyProbeTest, TrustedServerIsValidOverTls13) {
  const auto outcome = probe("example.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 0) << outcome.output << prosody_->log_tail();
  EXPECT_NE(outcome.output.find("\"valid\":true"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("{\"stage\":\"starttls\",\"verdict\":\"pass\""), std::string::npos)
      << outcome.output;
  EXPECT_NE(outcome.output.find("{\"stage\":\"tls\",\"verdict\":\"pass\",\"detail\":\"TLSv1.3"),
            std::string::npos)
      << outcome.output;
}

TEST_F(ProsodyProbeTest, UntrustedRootFailsThePathStage) {
  const auto outcome = probe("example.test", fixture("chains/rsa2048/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("\"valid\":false"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find(
                "{\"stage\":\"path\",\"verdict\":\"fail\",\"detail\":\"no trusted issuer"),
            std::string::npos)
      << outcome.output;
  EXPECT_NE(outcome.output.find("{\"stage\":\"identity\",\"verdict\":\"pass\""), std::string::npos)
      << outcome.output;
}

TEST_F(ProsodyProbeTest, OtherHostIsAnIdentityMismatch) {
  const auto outcome = probe("other.test", fixture("chains/p256/root.crt"));
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("{\"stage\":\"path\",\"verdict\":\"pass\""), std::string::npos)
      << outcome.output;
  EXPECT_NE(
      outcome.output.find(
          "{\"stage\":\"identity\",\"verdict\":\"fail\",\"detail\":\"the certificate does not "
          "name other.test"),
      std::string::npos)
      << outcome.output;
}

// A server that answers the stream header with features lacking <starttls/>: what a downgrade
// by an active attacker looks like to the client. One connection, then it closes.
class NoStarttlsServer {
 public:
  NoStarttlsServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      return;
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~NoStarttlsServer() {
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
  }
  NoStarttlsServer(const NoStarttlsServer&) = delete;
  NoStarttlsServer& operator=(const NoStarttlsServer&) = delete;
  std::uint16_t port() const { return port_; }
  // Waits for the connection to end and returns what the client sent after the features.
  std::string finish() {
    if (thread_.joinable()) thread_.join();
    return after_features_;
  }

 private:
  // Every wait is bounded so a probe that never connects cannot hang the test's destructor.
  void serve() {
    pollfd listening{fd_, POLLIN, 0};
    if (::poll(&listening, 1, 10'000) <= 0) return;
    const int client = ::accept(fd_, nullptr, nullptr);
    if (client < 0) return;
    std::string received;
    std::array<char, 1024> buffer{};
    while (received.find("version='1.0'>") == std::string::npos && received.size() < 64 * 1024) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) break;
      const ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      received.append(buffer.data(), static_cast<std::size_t>(n));
    }
    const std::string answer =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' "
        "from='example.test' id='s1' version='1.0'><stream:features><mechanisms "
        "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></"
        "stream:features>";
    (void)::send(client, answer.data(), answer.size(), MSG_NOSIGNAL);
    // Wait for the probe to hang up (it must not send anything else, credentials least of all).
    for (;;) {
      pollfd p{client, POLLIN, 0};
      if (::poll(&p, 1, 10'000) <= 0) break;
      const ssize_t n = ::recv(client, buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      after_features_.append(buffer.data(), static_cast<std::size_t>(n));
    }
    ::close(client);
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::string after_features_;  // written by the thread; read by finish() after the join
};

TEST(ProbeWithoutStarttls, ReportsStarttlsNotOffered) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  NoStarttlsServer server;
  ASSERT_NE(server.port(), 0);
  const auto outcome =
      run_parley_cert({"probe", "--service", "xmpp-client", "--host", "example.test", "--connect",
                       "127.0.0.1", "--port", std::to_string(server.port()), "--ca",
                       fixture("chains/p256/root.crt"), "--revocation", "off"});
  // Nothing after the features: no <auth/>, no plaintext anything, once STARTTLS is missing.
  EXPECT_EQ(server.finish(), "");
  EXPECT_EQ(outcome.exit_code, 1) << outcome.output;
  EXPECT_NE(outcome.output.find("INVALID"), std::string::npos) << outcome.output;
  EXPECT_NE(outcome.output.find("starttls: fail - not offered"), std::string::npos)
      << outcome.output;
}

TEST(ProbeNetworkErrors, RefusedConnectionIsExitTwo) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  const std::uint16_t port = free_port();  // nobody listens there once free_port() closed it
  const auto outcome =
      run_parley_cert({"probe", "--host", "example.test", "--connect", "127.0.0.1", "--port",
                       std::to_string(port), "--ca", fixture("chains/p256/root.crt")});
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("connection refused by 127.0.0.1:" + std::to_string(port)),
            std::string::npos)
      << outcome.output;
}

TEST(ProbeNetworkErrors, SilentServerTimesOut) {
  if (!have_parley_cert()) GTEST_SKIP() << "PARLEY_CERT_BINARY is not defined for this build";
  const std::uint16_t port = free_port();
  auto silent = integration::SilentListener::open(port);
  ASSERT_TRUE(silent) << silent.error().message;
  const auto started = std::chrono::steady_clock::now();
  const auto outcome =
      run_parley_cert({"probe", "--host", "example.test", "--connect", "127.0.0.1", "--port",
                       std::to_string(port), "--ca", fixture("chains/p256/root.crt")});
  EXPECT_LT(std::chrono::steady_clock::now() - started, 15s);
  EXPECT_EQ(outcome.exit_code, 2) << outcome.output;
  EXPECT_NE(outcome.output.find("timed out waiting for stream features"), std::string::npos)
      << outcome.output;
}

}  // namespace
}  // namespace parley
