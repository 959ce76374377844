#include "revocation_peers.hpp"

namespace parley::integration {

namespace {

constexpr std::chrono::seconds kStartTimeout{10};

Result<std::unique_ptr<PeerProcess>> start_listening(std::vector<std::string> argv,
                                                     std::uint16_t port,
                                                     const std::string& log_file) {
  if (port_is_listening(port))
    return std::unexpected(Error::io(revocation_port_busy_message(port)));
  auto peer = PeerProcess::start(std::move(argv), log_file);
  if (!peer) return std::unexpected(peer.error());
  if (auto up = (*peer)->wait_until_listening(port, kStartTimeout); !up)
    return std::unexpected(up.error());
  return std::move(*peer);
}

}  // namespace

std::string revocation_fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/revocation/" + name;
}

std::string revocation_port_busy_message(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port) +
         " is already in use; the revocation fixture certificates name this port "
         "(scripts/fixtures/revocation.sh), so the test needs it free";
}

Result<std::unique_ptr<PeerProcess>> start_fixture_ocsp_responder(
    const std::string& signer, const std::string& log_file, const std::string& validity_option,
    const std::string& validity) {
  // `openssl ocsp -port` listens on all interfaces; the tests only ever connect to 127.0.0.1.
  return start_listening({"openssl", "ocsp", "-index", revocation_fixture("index.txt"), "-port",
                          std::to_string(kFixtureOcspPort), "-CA", revocation_fixture("ca.crt"),
                          "-rsigner", revocation_fixture(signer + ".crt"), "-rkey",
                          revocation_fixture(signer + ".key"), validity_option, validity},
                         kFixtureOcspPort, log_file);
}

Result<std::unique_ptr<PeerProcess>> start_fixture_crl_server(const std::string& directory,
                                                              const std::string& log_file) {
  return start_listening(
      {"/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1",
       std::to_string(kFixtureCrlPort), "--directory", revocation_fixture(directory)},
      kFixtureCrlPort, log_file);
}

}  // namespace parley::integration
