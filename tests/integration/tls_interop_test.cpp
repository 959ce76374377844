// tls/ against OpenSSL's own programs on loopback: our client Session over a real TCP socket to
// `openssl s_server` (serving tests/fixtures/chains/p256 and stapling an OCSP response from
// tests/fixtures/revocation/ocsp/), so the memory-BIO session is exercised by a peer that is not
// Parley. Each test picks a free port at run time (bind port 0, read it back, close).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/file.hpp"
#include "peer_process.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace parley::tls {
namespace {

using namespace std::chrono_literals;
using integration::PeerProcess;

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

std::string log_path() {
  const auto* test = testing::UnitTest::GetInstance()->current_test_info();
  std::string name = test->name();  // parameterised names hold '/'
  for (char& ch : name) {
    if (ch == '/') ch = '_';
  }
  return testing::TempDir() + "parley-tls-interop-" + name + ".log";
}

// A socket that closes itself.
struct Socket {
  int fd = -1;
  explicit Socket(int f) : fd(f) {}
  ~Socket() {
    if (fd >= 0) ::close(fd);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// The kernel picks a free port; it is closed again before the peer binds it (a small race that a
// busy port would turn into a clear wait_until_listening failure, not a wrong result).
std::uint16_t free_port() {
  Socket s(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address = loopback(0);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return 0;
  socklen_t length = sizeof address;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) return 0;
  return ntohs(address.sin_port);
}

Result<std::unique_ptr<Socket>> connect_to(std::uint16_t port) {
  auto s = std::make_unique<Socket>(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address = loopback(port);
  if (::connect(s->fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    return fail(Error::io("connect to 127.0.0.1:" + std::to_string(port) + " failed"));
  }
  return s;
}

bool flush(Session& session, int fd) {
  std::array<std::uint8_t, 4096> chunk{};
  while (std::size_t n = session.take_ciphertext(chunk)) {
    std::size_t sent = 0;
    while (sent < n) {
      const ssize_t w = ::send(fd, chunk.data() + sent, n - sent, MSG_NOSIGNAL);
      if (w <= 0) return false;
      sent += static_cast<std::size_t>(w);
    }
  }
  return true;
}

// Reads what the socket has within `timeout` into the session; false on EOF, error or timeout.
bool receive(Session& session, int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return false;
  std::array<std::uint8_t, 16384> chunk{};
  const ssize_t r = ::recv(fd, chunk.data(), chunk.size(), 0);
  if (r <= 0) return false;
  return session.feed_ciphertext({chunk.data(), static_cast<std::size_t>(r)}).has_value();
}

Result<void> run_handshake(Session& session, int fd) {
  for (int round = 0; round < 50; ++round) {
    auto progress = session.handshake();
    flush(session, fd);  // alerts too
    if (!progress) return fail(progress.error());
    if (*progress == HandshakeProgress::complete) return {};
    if (!receive(session, fd, 5000ms))
      return fail(Error::io("the server closed or went silent during the handshake"));
  }
  return fail(Error::limit("handshake did not finish in 50 rounds"));
}

struct Server {
  std::uint16_t port = 0;
  std::unique_ptr<PeerProcess> process;
};

// `openssl s_server -www` on 127.0.0.1 with the p256 chain and a stapled OCSP response.
Server start_s_server(const std::vector<std::string>& extra) {
  Server server;
  server.port = free_port();
  EXPECT_NE(server.port, 0);
  std::vector<std::string> argv = {"openssl",
                                   "s_server",
                                   "-accept",
                                   "127.0.0.1:" + std::to_string(server.port),
                                   "-cert",
                                   fixture("chains/p256/leaf.crt"),
                                   "-key",
                                   fixture("chains/p256/leaf.key"),
                                   "-cert_chain",
                                   fixture("chains/p256/intermediate.crt"),
                                   "-status_file",
                                   fixture("revocation/ocsp/good.ca-signed.der"),
                                   "-www",
                                   "-naccept",
                                   "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto process = PeerProcess::start(argv, log_path());
  EXPECT_TRUE(process.has_value()) << (process ? "" : process.error().message);
  if (!process) return server;
  auto listening = (*process)->wait_until_listening(server.port, 10s);
  EXPECT_TRUE(listening.has_value()) << (listening ? "" : listening.error().message);
  server.process = std::move(*process);
  return server;
}

std::shared_ptr<ClientContext> client_context(TlsVersion max_version = TlsVersion::tls1_3) {
  ClientOptions options;
  options.policy.max_version = max_version;
  auto context = ClientContext::create(options);
  EXPECT_TRUE(context.has_value()) << context.error().message;
  return context ? *context : nullptr;
}

struct InteropCase {
  const char* name;
  std::vector<std::string> server_arguments;
  TlsVersion client_max;
  TlsVersion protocol;
  const char* cipher;  // OpenSSL's name
};

class SServerTable : public testing::TestWithParam<InteropCase> {};

TEST_P(SServerTable, ClientSessionNegotiatesRecordsAndTalks) {
  const auto& c = GetParam();
  Server server = start_s_server(c.server_arguments);
  ASSERT_TRUE(server.process);
  auto socket = connect_to(server.port);
  ASSERT_TRUE(socket.has_value()) << socket.error().message;
  auto session = Session::client(client_context(c.client_max), "example.test");
  ASSERT_TRUE(session.has_value());
  Session& tls = **session;

  auto handshake = run_handshake(tls, (*socket)->fd);
  ASSERT_TRUE(handshake.has_value()) << handshake.error().message << "\n"
                                     << server.process->log_tail();
  auto info = tls.connection_info();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->protocol, c.protocol);
  EXPECT_EQ(info->openssl_cipher, c.cipher);

  // The verify callback recorded what s_server sent, leaf first, and OpenSSL's (anchorless)
  // findings, without letting anything through.
  auto leaf = read_file(fixture("chains/p256/leaf.crt"));
  auto intermediate = read_file(fixture("chains/p256/intermediate.crt"));
  ASSERT_TRUE(leaf && intermediate);
  const auto& chain = tls.peer_chain();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0]->der(), (*pki::Certificate::from_pem(*leaf))[0]->der());
  EXPECT_EQ(chain[1]->der(), (*pki::Certificate::from_pem(*intermediate))[0]->der());
  EXPECT_FALSE(tls.openssl_findings().empty());
  auto staple = read_file(fixture("revocation/ocsp/good.ca-signed.der"));
  ASSERT_TRUE(staple.has_value());
  EXPECT_EQ(tls.stapled_ocsp(), *staple);

  const std::string request = "GET / HTTP/1.0\r\n\r\n";
  std::span<const std::uint8_t> request_bytes{reinterpret_cast<const std::uint8_t*>(request.data()),
                                              request.size()};
  EXPECT_FALSE(tls.write(request_bytes).has_value())
      << "application data before the trust decision";
  ASSERT_TRUE(tls.accept_peer(
      PeerAcceptance::from_trust_decision(*chain[0], AcceptanceBasis::accepted_by_user)));
  ASSERT_TRUE(tls.write(request_bytes).has_value());
  ASSERT_TRUE(flush(tls, (*socket)->fd));

  // s_server -www answers with a status page naming the cipher, then closes.
  std::string page;
  std::array<std::uint8_t, 4096> buffer{};
  for (int rounds = 0; rounds < 200 && page.size() < 256 * 1024; ++rounds) {
    auto outcome = tls.read(buffer);
    ASSERT_TRUE(outcome.has_value()) << outcome.error().message;
    if (outcome->status == ReadStatus::data) {
      page.append(reinterpret_cast<const char*>(buffer.data()), outcome->bytes);
      continue;
    }
    if (outcome->status == ReadStatus::closed_by_peer) break;
    if (!receive(tls, (*socket)->fd, 5000ms)) break;
  }
  EXPECT_NE(page.find("HTTP/1.0 200"), std::string::npos) << page.substr(0, 200);
  EXPECT_NE(page.find(c.cipher), std::string::npos) << page.substr(0, 2000);
}

INSTANTIATE_TEST_SUITE_P(Tls, SServerTable,
                         testing::Values(InteropCase{"tls13_default",
                                                     {},
                                                     TlsVersion::tls1_3,
                                                     TlsVersion::tls1_3,
                                                     "TLS_AES_256_GCM_SHA384"},
                                         InteropCase{"tls12_server",
                                                     {"-tls1_2"},
                                                     TlsVersion::tls1_3,
                                                     TlsVersion::tls1_2,
                                                     "ECDHE-ECDSA-AES256-GCM-SHA384"},
                                         InteropCase{"tls12_client",
                                                     {},
                                                     TlsVersion::tls1_2,
                                                     TlsVersion::tls1_2,
                                                     "ECDHE-ECDSA-AES256-GCM-SHA384"}),
                         [](const testing::TestParamInfo<InteropCase>& row) {
                           return std::string(row.param.name);
                         });

// A server that offers only what Parley's policy refuses gets no connection.
struct WeakServerCase {
  const char* name;
  std::vector<std::string> server_arguments;
};

class WeakSServerTable : public testing::TestWithParam<WeakServerCase> {};

TEST_P(WeakSServerTable, ClientRefuses) {
  const auto& c = GetParam();
  Server server = start_s_server(c.server_arguments);
  ASSERT_TRUE(server.process);
  auto socket = connect_to(server.port);
  ASSERT_TRUE(socket.has_value());
  auto session = Session::client(client_context(), "example.test");
  ASSERT_TRUE(session.has_value());
  auto handshake = run_handshake(**session, (*socket)->fd);
  ASSERT_FALSE(handshake.has_value()) << "connected to a server offering only " << c.name;
  EXPECT_NE((*session)->state(), SessionState::awaiting_trust_decision);
}

INSTANTIATE_TEST_SUITE_P(
    Tls, WeakSServerTable,
    testing::Values(WeakServerCase{"cbc",
                                   {"-tls1_2", "-cipher",
                                    "ECDHE-ECDSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA"}},
                    WeakServerCase{"tls11", {"-tls1_1", "-cipher", "ALL:@SECLEVEL=0"}}),
    [](const testing::TestParamInfo<WeakServerCase>& row) { return std::string(row.param.name); });

}  // namespace
}  // namespace parley::tls
