#pragma once
// The revocation servers the fixture certificates of tests/fixtures/revocation/ name
// (scripts/fixtures/revocation.sh bakes the URLs in), started for real on loopback:
//   18888 a real `openssl ocsp` responder answering from the fixture CA's `openssl ca` index,
//   18889 the CRL directory served by `python3 -m http.server`,
//   18890 nothing (unreachable), 18891 a listener that accepts and never answers.
// Used by the verifier's revocation tests and by the client's end-to-end ones.
//
// Each start checks that its port is free first and fails with a message naming the port when it
// is not: the certificates name those ports, so a test cannot move elsewhere.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "peer_process.hpp"

namespace parley::integration {

inline constexpr std::uint16_t kFixtureOcspPort = 18888;
inline constexpr std::uint16_t kFixtureCrlPort = 18889;
inline constexpr std::uint16_t kFixtureClosedPort = 18890;
inline constexpr std::uint16_t kFixtureHangingPort = 18891;

// tests/fixtures/revocation/NAME
std::string revocation_fixture(const std::string& name);

// Why `port` cannot be used, for failure messages.
std::string revocation_port_busy_message(std::uint16_t port);

// `openssl ocsp` on kFixtureOcspPort signing with fixture `signer` (NAME.crt and NAME.key; "ca"
// for the CA itself), responses valid for `validity_option validity` (-ndays 1 by default; the
// stale-response test passes -nmin). Logs to `log_file`.
Result<std::unique_ptr<PeerProcess>> start_fixture_ocsp_responder(
    const std::string& signer, const std::string& log_file,
    const std::string& validity_option = "-ndays", const std::string& validity = "1");

// Serves fixture directory `directory` (one holding ca.crl: "crl", "crl-empty", "crl-stale") on
// kFixtureCrlPort.
Result<std::unique_ptr<PeerProcess>> start_fixture_crl_server(const std::string& directory,
                                                              const std::string& log_file);

}  // namespace parley::integration
