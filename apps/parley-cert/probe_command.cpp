// parley-cert probe: connect to a live server the way a Parley client does and report what the
// client would decide about it, with the same stages as `verify` plus how the connection went:
//   starttls   - (xmpp-client) the server offered STARTTLS and said <proceed/>; a server that does
//                not offer it fails here, because a client must not continue in plaintext.
//                With --direct-tls (XEP-0368) there is no plaintext phase and no such stage: TLS
//                starts with the first byte, offering the ALPN protocol "xmpp-client".
//   tls        - the handshake completed; protocol, cipher suite and key exchange group
//   path, identity, revocation - as in verify, on the chain the server presented, with the OCSP
//                response it stapled tried first
// The probe has no credentials and sends none: it stops after the handshake, before any SASL.
// Exit 0 when every stage passes, 1 when one fails, 2 on usage or network errors (refused,
// timed out, malformed stream), so scripts can tell "the server is wrong" from "could not ask".

#include <array>
#include <chrono>
#include <ctime>
#include <iostream>
#include <optional>

#include "cli.hpp"
#include "net/blocking_socket.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xml/stream_error.hpp"
#include "xml/stream_parser.hpp"

namespace parley::cert_cli {
namespace {

using namespace parley::pki;
using namespace std::chrono_literals;

// The whole probe (connect, stream, handshake) must finish within this, so a silent or slow
// server cannot hang it; revocation fetches have their own bounds (RevocationPolicy).
constexpr auto kProbeBudget = 10s;
// Plaintext a server may send before <proceed/>: a stream header and features are a few KiB.
constexpr std::size_t kMaxPlaintextBytes = 64 * 1024;
// Ciphertext a server may send during the handshake: certificate chains are bounded by the TLS
// policy too, this keeps a misbehaving server from streaming forever within the time budget.
constexpr std::size_t kMaxHandshakeBytes = 1024 * 1024;
constexpr std::string_view kTlsNamespace = "urn:ietf:params:xml:ns:xmpp-tls";

struct ProbeArguments {
  std::string service = "xmpp-client";
  std::string host;
  std::uint16_t port = 0;
  std::string connect;
  std::vector<std::string> ca_files;
  std::string revocation = "hard";
  bool direct_tls = false;  // xmpp-client only: XEP-0368, TLS from the first byte
  bool json_output = false;
};

// Collects the top-level elements of the plaintext stream; pauses on each so the caller sees
// exactly what arrived before deciding what to send next.
class PreTlsEvents : public xml::StreamEvents {
 public:
  xml::AfterEvent on_stream_open(const xml::StreamHeader&) override {
    opened = true;
    return xml::AfterEvent::continue_parsing;
  }
  xml::AfterEvent on_stanza(xml::Element stanza) override {
    received = std::move(stanza);
    return xml::AfterEvent::pause;
  }
  void on_stream_close() override { closed = true; }

  bool opened = false;
  bool closed = false;
  bool paused = false;  // the parser stopped after `received` and must be resumed before feeding
  std::optional<xml::Element> received;
};

// Reads from the plaintext stream until the next top-level element. `waiting_for` names it in
// the timeout message ("stream features").
Result<xml::Element> next_element(net::BlockingSocket& socket, xml::StreamParser& parser,
                                  PreTlsEvents& events, std::size_t& plaintext_bytes,
                                  net::Deadline deadline, std::string_view waiting_for) {
  events.received.reset();
  // The previous element paused the parser; bytes it held back belong to this element.
  if (events.paused) {
    events.paused = false;
    auto status = parser.resume();
    if (!status)
      return fail(
          Error::parse("malformed stream from " + socket.peer() + ": " + status.error().detail));
    if (*status == xml::FeedStatus::paused) events.paused = true;
    if (events.received) return std::move(*events.received);
  }
  std::array<std::uint8_t, 4096> buffer{};
  while (!events.closed) {
    auto n = socket.receive_some(buffer, deadline);
    if (!n) {
      if (n.error().message.starts_with("timed out")) {
        return fail(Error::io("timed out waiting for " + std::string(waiting_for) + " from " +
                              socket.peer()));
      }
      return fail(n.error());
    }
    if (*n == 0) {
      return fail(Error::io(socket.peer() + " closed the connection while we waited for " +
                            std::string(waiting_for)));
    }
    plaintext_bytes += *n;
    if (plaintext_bytes > kMaxPlaintextBytes) {
      return fail(Error::limit(socket.peer() + " sent more than " +
                               std::to_string(kMaxPlaintextBytes) + " bytes before TLS"));
    }
    auto status = parser.feed(std::string_view(reinterpret_cast<const char*>(buffer.data()), *n));
    if (!status)
      return fail(
          Error::parse("malformed stream from " + socket.peer() + ": " + status.error().detail));
    if (*status == xml::FeedStatus::paused) events.paused = true;
    if (events.received) return std::move(*events.received);
  }
  return fail(Error::io(socket.peer() + " closed the stream while we waited for " +
                        std::string(waiting_for)));
}

bool is(const xml::Element& element, std::string_view namespace_uri, std::string_view local_name) {
  return element.name().namespace_uri == namespace_uri && element.name().local_name == local_name;
}

// RFC 6120 5.4.2: stream header, features with <starttls/>, <starttls/>, <proceed/>. Returns the
// failed "starttls" stage when the server does not let a client upgrade (a verdict, exit 1);
// network and protocol breakage is an error (exit 2).
Result<std::optional<Stage>> negotiate_starttls(net::BlockingSocket& socket,
                                                const std::string& host, net::Deadline deadline) {
  const std::string header =
      "<?xml version='1.0'?><stream:stream to='" + host +
      "' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
      "version='1.0'>";
  if (auto sent = socket.send_all(header, deadline); !sent) return fail(sent.error());

  PreTlsEvents events;
  xml::StreamParser parser(events);
  std::size_t plaintext_bytes = 0;
  auto features =
      next_element(socket, parser, events, plaintext_bytes, deadline, "stream features");
  if (!features) return fail(features.error());
  if (is(*features, xml::kStreamsNamespace, "error")) {
    // The condition is the first child element (RFC 6120 4.9.3); its name is all we quote.
    std::string condition = "no condition";
    for (const auto& child : features->children()) {
      if (child.is_element()) {
        condition = child.element().name().local_name;
        break;
      }
    }
    return fail(Error::io(socket.peer() + " answered the stream header with a stream error (" +
                          condition + ")"));
  }
  if (!is(*features, xml::kStreamsNamespace, "features")) {
    return fail(Error::parse(socket.peer() + " sent <" + features->name().local_name +
                             "/> where stream features were expected"));
  }
  if (features->first_child(kTlsNamespace, "starttls") == nullptr) {
    return std::optional<Stage>(
        Stage{"starttls", "fail", "not offered — a client must not continue"});
  }

  if (auto sent = socket.send_all(
          std::string_view("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"), deadline);
      !sent) {
    return fail(sent.error());
  }
  auto answer = next_element(socket, parser, events, plaintext_bytes, deadline, "<proceed/>");
  if (!answer) return fail(answer.error());
  if (is(*answer, kTlsNamespace, "failure")) {
    return std::optional<Stage>(
        Stage{"starttls", "fail", "the server answered <starttls/> with <failure/>"});
  }
  if (!is(*answer, kTlsNamespace, "proceed")) {
    return fail(Error::parse(socket.peer() + " sent <" + answer->name().local_name +
                             "/> where <proceed/> was expected"));
  }
  // Plaintext behind <proceed/> would be taken for TLS by a careless client (the STARTTLS
  // injection class of bugs); a server that sends any is broken or attacked.
  if (events.paused && !parser.unparsed_after_pause().empty()) {
    return fail(Error::parse(socket.peer() + " sent plaintext after <proceed/>"));
  }
  return std::optional<Stage>(Stage{"starttls", "pass", "offered and accepted"});
}

// Runs the client handshake over the socket. Errors from the peer's side of TLS become a failed
// "tls" stage (a client would refuse such a server); socket errors are returned.
Result<std::optional<Stage>> handshake(net::BlockingSocket& socket, tls::Session& session,
                                       net::Deadline deadline) {
  std::array<std::uint8_t, 16 * 1024> buffer{};
  std::size_t received = 0;
  auto flush = [&]() -> Result<void> {
    while (session.pending_ciphertext() > 0) {
      const std::size_t n = session.take_ciphertext(buffer);
      if (auto sent = socket.send_all(std::span<const std::uint8_t>(buffer.data(), n), deadline);
          !sent) {
        return fail(sent.error());
      }
    }
    return {};
  };
  for (;;) {
    auto progress = session.handshake();
    // Send what the session produced even on failure: that is how the alert reaches the server.
    auto flushed = flush();
    if (!progress)
      return std::optional<Stage>(
          Stage{"tls", "fail", "handshake failed: " + progress.error().message});
    if (!flushed) return fail(flushed.error());
    if (*progress == tls::HandshakeProgress::complete) return std::optional<Stage>();
    auto n = socket.receive_some(buffer, deadline);
    if (!n) {
      if (n.error().message.starts_with("timed out")) {
        return fail(Error::io("timed out during the TLS handshake with " + socket.peer()));
      }
      return fail(n.error());
    }
    if (*n == 0) {
      return std::optional<Stage>(
          Stage{"tls", "fail", socket.peer() + " closed the connection during the handshake"});
    }
    received += *n;
    if (received > kMaxHandshakeBytes) {
      return fail(Error::limit(socket.peer() + " sent more than " +
                               std::to_string(kMaxHandshakeBytes) + " bytes of handshake"));
    }
    if (auto fed = session.feed_ciphertext(std::span<const std::uint8_t>(buffer.data(), *n));
        !fed) {
      return fail(fed.error());
    }
  }
}

int run(const ProbeArguments& args) {
  const auto service = parse_service_kind(args.service);
  if (!service || *service == ServiceKind::xmpp_server) {
    throw UsageError{"--service " + args.service + ": expected xmpp-client or https"};
  }
  auto reference = ReferenceIdentity::parse(args.host, *service);
  if (!reference) throw UsageError{"--host " + args.host + ": " + reference.error().message};
  auto mode = parse_revocation_mode(args.revocation);
  if (!mode) throw UsageError{"--revocation " + args.revocation + ": " + mode.error().message};
  // Load the anchors before touching the network: a bad --ca file is a usage error either way.
  const TrustStore anchors = load_anchors(args.ca_files);

  const bool xmpp = *service == ServiceKind::xmpp_client;
  if (args.direct_tls && !xmpp) throw UsageError{"--direct-tls: only for --service xmpp-client"};
  const std::uint16_t default_port = !xmpp ? 443 : args.direct_tls ? 5223 : 5222;
  const std::uint16_t port = args.port != 0 ? args.port : default_port;
  const std::string address = args.connect.empty() ? args.host : args.connect;
  const net::Deadline deadline = std::chrono::steady_clock::now() + kProbeBudget;

  auto network_error = [](const Error& error) {
    std::cerr << "parley-cert probe: " << error.message << "\n";
    return kExitUsage;
  };

  auto socket = net::BlockingSocket::connect(address, port, deadline);
  if (!socket) return network_error(socket.error());
  ReportHeading heading{"server", socket->peer(), args.service, args.host};

  std::vector<Stage> stages;
  if (xmpp && !args.direct_tls) {
    auto starttls = negotiate_starttls(*socket, args.host, deadline);
    if (!starttls) return network_error(starttls.error());
    stages.push_back(**starttls);
    if (stages.back().verdict != "pass")
      return print_report(heading, stages, nullptr, args.json_output);
  }

  tls::ClientOptions client_options;
  // XEP-0368 3: a direct TLS client offers ALPN "xmpp-client" (servers sharing 443 route by it).
  if (args.direct_tls) client_options.alpn = {"xmpp-client"};
  auto context = tls::ClientContext::create(client_options);
  if (!context) return network_error(context.error());
  auto session = tls::Session::client(*context, args.host);
  if (!session) return network_error(session.error());
  auto handshake_failure = handshake(*socket, **session, deadline);
  if (!handshake_failure) return network_error(handshake_failure.error());
  if (*handshake_failure) {
    stages.push_back(**handshake_failure);
    return print_report(heading, stages, nullptr, args.json_output);
  }

  const auto& chain = (*session)->peer_chain();
  if (chain.empty()) {
    stages.push_back({"tls", "fail", "the server presented no certificate"});
    return print_report(heading, stages, nullptr, args.json_output);
  }
  auto info = (*session)->connection_info();
  if (!info) return network_error(info.error());
  stages.push_back({"tls", "pass",
                    std::string(tls::to_string(info->protocol)) + " " + info->cipher +
                        (info->group.empty() ? "" : " " + info->group)});

  VerifyPolicy policy;
  policy.purpose = KeyPurpose::server_auth;
  policy.time = static_cast<UnixTime>(std::time(nullptr));
  const std::vector<CertificatePtr> intermediates(chain.begin() + 1, chain.end());
  const std::string staple = (*session)->stapled_ocsp().value_or(std::string());
  const ChainReport report = check_chain(chain.front(), intermediates, anchors, policy, *service,
                                         *reference, *mode, staple);
  for (const auto& stage : report.stages) stages.push_back(stage);

  // Say goodbye properly; the verdict is already made, so a failure here changes nothing.
  if ((*session)->close()) {
    std::array<std::uint8_t, 1024> buffer{};
    while ((*session)->pending_ciphertext() > 0) {
      const std::size_t n = (*session)->take_ciphertext(buffer);
      if (!socket->send_all(std::span<const std::uint8_t>(buffer.data(), n), deadline)) break;
    }
  }
  return print_report(heading, stages, &report, args.json_output);
}

const bool registered = register_command([](CLI::App& root) {
  auto args = std::make_shared<ProbeArguments>();
  CLI::App* command = root.add_subcommand("probe",
                                          "connect to a server as a client does (STARTTLS or "
                                          "direct TLS for XMPP) and report its certificate "
                                          "verdict");
  command->add_option("--service", args->service, "xmpp-client (default) or https")
      ->check(CLI::IsMember({"xmpp-client", "https"}));
  command->add_option("--host", args->host, "the service's FQDN: SNI and the identity to check")
      ->required();
  command
      ->add_option("--port", args->port,
                   "TCP port (default 5222 for xmpp-client, 5223 with --direct-tls, 443 for "
                   "https)")
      ->check(CLI::Range(1, 65535));
  command->add_option("--connect", args->connect,
                      "address or name to connect to instead of --host");
  command->add_option("--ca", args->ca_files,
                      "trusted CA certificates (default: the system roots)");
  command
      ->add_option("--revocation", args->revocation,
                   "hard (default: unreachable = invalid), soft or off")
      ->check(CLI::IsMember({"hard", "soft", "off"}));
  command->add_flag("--direct-tls", args->direct_tls,
                    "xmpp-client: TLS from the first byte (XEP-0368) instead of STARTTLS");
  command->add_flag("--json", args->json_output, "machine-readable output");
  return Command{command, [args] { return run(*args); }};
});

}  // namespace
}  // namespace parley::cert_cli
