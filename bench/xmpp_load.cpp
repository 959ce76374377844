// xmpp_load: a load generator for XMPP client-to-server ports, used by bench/compare-servers to
// put parleyd, Prosody and ejabberd under the same load.
//
// Every session does what a real client does (RFC 6120): TCP, stream header, STARTTLS, a full TLS
// handshake whose certificate is verified against the benchmark CA (pki::verify_server_certificate,
// then tls::Session::accept_peer), SASL with one fixed SCRAM mechanism (SCRAM-SHA-1 by default,
// the one all three servers offer), resource binding, the session request when a server still
// requires it, and initial presence. Logins run with bounded concurrency so that SCRAM and TLS
// handshakes do not arrive all at once.
//
// Modes:
//   load   N users exchange one-to-one chat messages at a fixed offered rate: user i sends to
//          user (i + N/2) mod N, senders taken round-robin, paced by a timer tick (every 5 ms
//          the number of messages the rate owes so far). Each body carries a phase number and
//          the CLOCK_MONOTONIC nanoseconds at sending; the receiver (the same process, so the
//          same clock) computes the latency. Before measuring, every user sends one probe and
//          all probes must arrive. Then a warm-up, the measured window (the server's CPU time
//          from /proc/PID/stat is sampled at its start and end, RSS at its end), and a drain:
//          messages of the window still missing after it are lost.
//   max    the same, stepping the offered rate up (by 25% a step unless told otherwise) until
//          fewer than 95% of the offered messages are delivered within the step, the p99
//          latency passes 1 s, or messages are lost; the highest delivered rate of a passing
//          step is the maximum sustained rate. A step the generator itself cannot send at ends
//          the search too, and says so.
//   idle   K sessions (users 1..K) log in, send initial presence and stay idle; the server's RSS
//          is sampled with one session open and again with all K, after a settling pause.
//   prosody-accounts  writes Prosody 0.12 internal_hashed account files (SCRAM-SHA-1 keys made
//          with libparley's derive_scram_credentials) into a data directory: registering
//          thousands of users with prosodyctl costs most of a second each.
//
// Results: one `result ...` line of key=value pairs per measured phase on stdout (the script
// reads these), progress and a readable summary on stderr. Exit status 0 on success, 1 when the
// run failed (a login, the probe, a broken connection), 2 on a usage error.
//
// Lightness: one thread; per message the sender overwrites digits in a pre-built stanza, encrypts
// it (one TLS record) and queues the ciphertext in a buffer that is reused; connections read into
// one shared buffer once readable, so idle sessions hold no read buffer. The generator's own CPU
// time per message is reported beside the server's, because on a small machine the two share
// the cores.
//
// What this does not do: roster traffic, presence churn, stream management, other mechanisms
// than the one named (no -PLUS channel binding: the anchors differ in what they offer), or
// reconnection (a broken session fails the run).

#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <bit>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "pki/identity.hpp"
#include "pki/trust_store.hpp"
#include "pki/verify.hpp"
#include "pki/verify_policy.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/sasl_scram.hpp"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using asio::ip::tcp;
using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using namespace parley;

constexpr std::string_view kStreamsNamespace = "http://etherx.jabber.org/streams";
constexpr std::string_view kTlsNamespace = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kSaslNamespace = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNamespace = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kSessionNamespace = "urn:ietf:params:xml:ns:xmpp-session";
constexpr std::string_view kPingNamespace = "urn:xmpp:ping";

// Phases are two decimal digits in the body, so a step of the max mode never mixes its messages
// with a straggler of the step before.
constexpr int kPhases = 100;
constexpr int kProbePhase = 0;
// Bounds.
constexpr std::size_t kReadBufferBytes = 64 * 1024;
constexpr std::size_t kMaxQueuedBytesPerConnection = 16 * 1024 * 1024;
constexpr std::size_t kMaxNegotiationElements = 64;
constexpr auto kLoginTimeout = 120s;
constexpr auto kProbeTimeout = 60s;

std::uint64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec);
}

double seconds_since(std::uint64_t start_ns) {
  return static_cast<double>(monotonic_ns() - start_ns) / 1e9;
}

// ---- latency histogram --------------------------------------------------------------------------

// Log-linear buckets over nanoseconds: exact below 64, then 32 buckets per power of two (at most
// about 3% between a value and its bucket's middle). Fixed size, no allocation per sample.
class Histogram {
 public:
  void record(std::uint64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    max_ = std::max(max_, value);
  }
  void clear() {
    counts_.fill(0);
    count_ = 0;
    max_ = 0;
  }
  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  // The value below which a fraction q of the samples lie (bucket middle); 0 when empty.
  std::uint64_t percentile(double q) const {
    if (count_ == 0) return 0;
    const auto wanted = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
    std::uint64_t seen = 0;
    for (std::size_t index = 0; index < counts_.size(); ++index) {
      seen += counts_[index];
      if (seen >= std::max<std::uint64_t>(wanted, 1)) return std::min(middle_of(index), max_);
    }
    return max_;
  }

 private:
  static constexpr unsigned kSubBits = 5;
  static constexpr std::uint64_t kExact = 2u << kSubBits;  // 64
  static constexpr std::size_t kBuckets = kExact + (64 - kSubBits - 1) * (1u << kSubBits);

  static std::size_t index_of(std::uint64_t value) {
    if (value < kExact) return static_cast<std::size_t>(value);
    const unsigned top = static_cast<unsigned>(std::bit_width(value)) - 1;  // >= kSubBits + 1
    const unsigned shift = top - kSubBits;
    const std::uint64_t sub = (value >> shift) - (1u << kSubBits);  // 0..31
    return static_cast<std::size_t>(kExact + (top - kSubBits - 1) * (1u << kSubBits) + sub);
  }
  static std::uint64_t middle_of(std::size_t index) {
    if (index < kExact) return index;
    const std::size_t above = index - kExact;
    const unsigned top = static_cast<unsigned>(above >> kSubBits) + kSubBits + 1;
    const unsigned shift = top - kSubBits;
    const std::uint64_t low = ((1u << kSubBits) + (above & ((1u << kSubBits) - 1))) << shift;
    return low + (std::uint64_t{1} << shift) / 2;
  }

  std::array<std::uint64_t, kBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

// ---- /proc --------------------------------------------------------------------------------------

struct ProcessSample {
  bool valid = false;
  double cpu_seconds = 0;  // utime + stime
  long rss_kb = 0;         // VmRSS
  long peak_rss_kb = 0;    // VmHWM
};

ProcessSample sample_process(pid_t pid) {
  ProcessSample sample;
  if (pid <= 0) return sample;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return sample;
  // "pid (comm) state ppid ...": comm may hold spaces; the fields restart after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return sample;
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  unsigned long utime = 0;
  unsigned long stime = 0;
  // After comm: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt
  // utime(14) stime(15).
  for (int number = 3; number <= 15 && fields >> field; ++number) {
    unsigned long* target = number == 14 ? &utime : number == 15 ? &stime : nullptr;
    if (target != nullptr &&
        std::from_chars(field.data(), field.data() + field.size(), *target).ec != std::errc{}) {
      return sample;
    }
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  sample.cpu_seconds = static_cast<double>(utime + stime) / ticks;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) sample.rss_kb = std::atol(line.c_str() + 6);
    if (line.starts_with("VmHWM:")) sample.peak_rss_kb = std::atol(line.c_str() + 6);
  }
  sample.valid = true;
  return sample;
}

double own_cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// ---- configuration ------------------------------------------------------------------------------

struct Config {
  std::string mode;
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string domain = "example.test";
  std::string ca_file;
  std::string user_prefix = "user";
  std::string password_prefix = "pass";
  int users = 200;
  int sessions = 1000;  // idle mode
  double rate = 8000;
  double warmup_seconds = 5;
  double duration_seconds = 20;
  double drain_seconds = 5;
  int login_concurrency = 20;
  int tick_ms = 5;
  std::string mechanism = "SCRAM-SHA-1";
  int body_bytes = 64;  // filler text in each body, beside the phase and timestamp
  pid_t server_pid = 0;
  std::string label;  // printed in the result lines (the server's name)
  // max mode
  double start_rate = 2000;
  double rate_factor = 1.25;  // each step offers the last one's rate times this, plus rate_step
  double rate_step = 0;
  double step_seconds = 10;
  double step_warmup_seconds = 2;
  int max_steps = 30;
  double max_p99_ms = 1000;
  double min_delivered_fraction = 0.95;
  // idle mode
  double settle_seconds = 5;
  double hold_seconds = 0;
  // prosody-accounts
  std::string data_directory;
  std::uint32_t iterations = 4096;
};

// ---- state shared by all connections
// --------------------------------------------------------------

struct Counters {
  std::array<std::uint64_t, kPhases> sent{};
  std::array<std::uint64_t, kPhases> received{};
  bool window_open = false;
  std::uint64_t window_received = 0;
  Histogram window_latency;
  std::uint64_t error_stanzas = 0;
  std::uint64_t foreign_messages = 0;  // a <message/> whose body is not ours
};

class Connection;

struct Shared {
  explicit Shared(asio::io_context& context, const Config& configuration)
      : io(context), config(configuration) {}
  asio::io_context& io;
  const Config& config;
  std::shared_ptr<const tls::ClientContext> tls_context;
  pki::TrustStore anchors;
  // The acceptance of the first leaf that verified; later sessions present it again and
  // accept_peer() checks that it is exactly that leaf (a different one is verified afresh).
  std::optional<tls::PeerAcceptance> acceptance;
  std::string tls_description;  // "TLSv1.3 TLS_AES_256_GCM_SHA384 X25519"
  std::string server_mechanisms;
  Counters counters;
  std::size_t broken_connections = 0;
  std::string first_break;
  // Buffers of the one thread: filled and consumed between two awaits, never held across one.
  std::array<std::uint8_t, kReadBufferBytes> read_buffer{};
  std::array<std::uint8_t, kReadBufferBytes> plaintext_buffer{};
  std::array<std::uint8_t, 16 * 1024> ciphertext_chunk{};
};

Result<tls::PeerAcceptance> verify_server(const Shared& shared, const tls::Session& session) {
  const auto& chain = session.peer_chain();
  if (chain.empty()) return fail(Error::invalid_argument("the server presented no certificate"));
  auto reference = pki::ReferenceIdentity::dns(shared.config.domain, pki::ServiceKind::xmpp_client);
  if (!reference) return fail(reference.error());
  pki::VerifyPolicy policy;
  policy.time = static_cast<pki::UnixTime>(std::time(nullptr));
  auto verified = pki::verify_server_certificate(chain.front(), {chain.begin() + 1, chain.end()},
                                                 shared.anchors, *reference, policy);
  if (!verified) {
    return fail(Error::invalid_argument("the server's certificate did not verify: " +
                                        verified.error().message));
  }
  return tls::PeerAcceptance::from_verified_path(*verified);
}

// ---- one client session -------------------------------------------------------------------------

class Connection final : public xml::StreamEvents {
 public:
  Connection(Shared& shared, int index, std::string username, std::string password,
             std::string resource)
      : shared_(shared),
        index_(index),
        username_(std::move(username)),
        password_(std::move(password)),
        resource_(std::move(resource)),
        socket_(shared.io),
        parser_(*this, xml::StreamParserOptions{}) {}

  // Prepares the message this session sends to `partner` (a bare JID):
  //   <message to='PARTNER' type='chat'><body>PP TTTTTTTTTTTTTTTTTTTT FILLER</body></message>
  void set_partner(const std::string& partner, int body_bytes) {
    std::string stanza = "<message to='";
    xml::append_escaped_attribute_value(stanza, partner);
    stanza += "' type='chat'><body>";
    phase_offset_ = stanza.size();
    stanza += "00 ";
    time_offset_ = stanza.size();
    stanza += std::string(kTimeDigits, '0');
    stanza += ' ';
    static constexpr std::string_view kFiller = "Load test message, the same length every time. ";
    for (int i = 0; i < body_bytes; ++i) {
      stanza += kFiller[static_cast<std::size_t>(i) % kFiller.size()];
    }
    stanza += "</body></message>";
    message_ = std::move(stanza);
  }

  // Connects and negotiates up to a bound resource with initial presence sent, then keeps reading
  // in the background.
  asio::awaitable<Result<void>> login() {
    auto address = asio::ip::make_address(shared_.config.host);
    auto [connect_error] = co_await socket_.async_connect(
        tcp::endpoint(address, shared_.config.port), asio::as_tuple(asio::use_awaitable));
    if (connect_error) co_return fail(Error::io("connect: " + connect_error.message()));
    boost::system::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.non_blocking(true, ignored);

    // RFC 6120 5.4.2: stream, features, <starttls/>, <proceed/>.
    send_plaintext(stream_header());
    auto features = co_await next_element();
    if (!features) co_return fail(features.error());
    if (!is(*features, kStreamsNamespace, "features") ||
        features->first_child(kTlsNamespace, "starttls") == nullptr) {
      co_return fail(Error::parse("the server did not offer STARTTLS"));
    }
    send_plaintext("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    auto proceed = co_await next_element();
    if (!proceed) co_return fail(proceed.error());
    if (!is(*proceed, kTlsNamespace, "proceed")) {
      co_return fail(Error::parse("STARTTLS was refused"));
    }
    if (!held_back_.empty()) {
      co_return fail(Error::parse("plaintext followed <proceed/> (STARTTLS injection)"));
    }
    restart_stream();

    if (auto secured = co_await handshake(); !secured) co_return secured;
    send_secure(stream_header());
    auto secured_features = co_await next_element();
    if (!secured_features) co_return fail(secured_features.error());
    if (auto authenticated = co_await authenticate(*secured_features); !authenticated) {
      co_return authenticated;
    }

    send_secure(stream_header());
    auto bind_features = co_await next_element();
    if (!bind_features) co_return fail(bind_features.error());
    if (auto bound = co_await bind(*bind_features); !bound) co_return bound;

    send_secure("<presence/>");
    logged_in_ = true;
    asio::co_spawn(shared_.io, read_loop(), asio::detached);
    co_return Result<void>{};
  }

  // One message of `phase` to the partner, stamped now.
  void send_message(int phase) {
    message_[phase_offset_] = static_cast<char>('0' + phase / 10);
    message_[phase_offset_ + 1] = static_cast<char>('0' + phase % 10);
    std::uint64_t now = monotonic_ns();
    for (std::size_t digit = kTimeDigits; digit-- > 0;) {
      message_[time_offset_ + digit] = static_cast<char>('0' + now % 10);
      now /= 10;
    }
    send_secure(message_);
  }

  bool broken() const { return broken_; }
  bool logged_in() const { return logged_in_; }
  std::size_t queued_bytes() const { return pending_.size() + in_flight_.size(); }
  const std::string& username() const { return username_; }
  int index() const { return index_; }

 private:
  static constexpr std::size_t kTimeDigits = 20;

  static bool is(const xml::Element& element, std::string_view ns, std::string_view name) {
    return element.name().namespace_uri == ns && element.name().local_name == name;
  }

  std::string stream_header() const {
    std::string header =
        "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='";
    xml::append_escaped_attribute_value(header, shared_.config.domain);
    header += "'>";
    return header;
  }

  // ---- negotiation steps ----

  asio::awaitable<Result<void>> handshake() {
    auto session = tls::Session::client(shared_.tls_context, shared_.config.domain);
    if (!session) co_return fail(session.error());
    tls_ = std::move(*session);
    for (;;) {
      auto progress = tls_->handshake();
      collect_ciphertext();
      if (!progress) co_return fail(Error::io("TLS handshake: " + progress.error().message));
      if (*progress == tls::HandshakeProgress::complete) break;
      auto received = co_await read_some();
      if (!received) co_return fail(received.error());
      auto fed = tls_->feed_ciphertext(std::span(shared_.read_buffer.data(), *received));
      if (!fed) co_return fail(fed.error());
    }
    if (!shared_.acceptance) {
      auto verified = verify_server(shared_, *tls_);
      if (!verified) co_return fail(verified.error());
      shared_.acceptance = *verified;
      if (auto info = tls_->connection_info()) {
        shared_.tls_description =
            std::string(tls::to_string(info->protocol)) + " " + info->cipher + " " + info->group;
      }
    }
    if (!tls_->accept_peer(*shared_.acceptance)) {
      // Not the leaf the first session verified: judge this one on its own.
      auto verified = verify_server(shared_, *tls_);
      if (!verified) co_return fail(verified.error());
      if (auto accepted = tls_->accept_peer(*verified); !accepted) co_return fail(accepted.error());
    }
    encrypted_ = true;
    // Application data may have come with the last handshake flight.
    if (auto drained = drain_tls(); !drained) co_return fail(drained.error());
    co_return Result<void>{};
  }

  // RFC 6120 6.4: one SCRAM exchange with the configured mechanism.
  asio::awaitable<Result<void>> authenticate(const xml::Element& features) {
    const xml::Element* mechanisms = features.first_child(kSaslNamespace, "mechanisms");
    if (!is(features, kStreamsNamespace, "features") || mechanisms == nullptr) {
      co_return fail(Error::parse("no SASL mechanisms offered after TLS"));
    }
    bool offered = false;
    std::string names;
    for (const auto& child : mechanisms->children()) {
      if (!child.is_element() || child.element().name().local_name != "mechanism") continue;
      const std::string name = child.element().text();
      names += (names.empty() ? "" : " ") + name;
      offered = offered || name == shared_.config.mechanism;
    }
    if (shared_.server_mechanisms.empty()) shared_.server_mechanisms = names;
    if (!offered) {
      co_return fail(Error::invalid_argument(
          "the server does not offer " + shared_.config.mechanism + " (it offers " + names + ")"));
    }
    auto mechanism = xmpp::sasl::ScramMechanism::parse(shared_.config.mechanism);
    if (!mechanism || mechanism->binding != xmpp::sasl::ChannelBindingUse::none) {
      co_return fail(Error::invalid_argument(shared_.config.mechanism +
                                             " is not a SCRAM mechanism without channel binding"));
    }
    xmpp::sasl::ScramClientOptions options;
    options.mechanism = *mechanism;
    options.username = username_;
    options.password = password_;
    auto client = xmpp::sasl::ScramClient::create(std::move(options));
    if (!client) co_return fail(client.error());
    send_secure("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" +
                shared_.config.mechanism + "'>" + xmpp::base64_encode(client->client_first()) +
                "</auth>");
    for (int round = 0; round < 4; ++round) {
      auto answer = co_await next_element();
      if (!answer) co_return fail(answer.error());
      const std::string text = answer->text();
      auto decoded =
          xmpp::base64_decode_strict(text == "=" ? "" : text, xmpp::sasl::kMaxScramMessageOctets);
      if (is(*answer, kSaslNamespace, "challenge")) {
        if (!decoded) co_return fail(decoded.error());
        if (!client->succeeded() && round == 0) {
          auto final_message = client->receive_server_first(*decoded);
          if (!final_message)
            co_return fail(Error::parse("SCRAM: " + final_message.error().detail));
          send_secure("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                      xmpp::base64_encode(*final_message) + "</response>");
        } else {
          // Some servers send the server-final message as a challenge, then an empty success.
          auto verified = client->verify_server_final(*decoded);
          if (!verified) co_return fail(Error::parse("SCRAM: " + verified.error().detail));
          send_secure("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
        }
        continue;
      }
      if (is(*answer, kSaslNamespace, "success")) {
        if (!client->succeeded()) {
          if (!decoded) co_return fail(decoded.error());
          auto verified = client->verify_server_final(*decoded);
          if (!verified) co_return fail(Error::parse("SCRAM: " + verified.error().detail));
        }
        // RFC 6120 6.4.6: a new stream; what followed <success/> belongs to it.
        std::string after = std::move(held_back_);
        restart_stream();
        if (!after.empty()) {
          if (auto fed = feed_plaintext(after); !fed) co_return fail(fed.error());
        }
        co_return Result<void>{};
      }
      co_return fail(Error::invalid_argument("authentication of " + username_ + " failed: <" +
                                             answer->name().local_name + "/> " +
                                             describe(*answer)));
    }
    co_return fail(Error::parse("SASL took too many round trips"));
  }

  // RFC 6120 7, and RFC 3921 3 when the server does not mark the session optional.
  asio::awaitable<Result<void>> bind(const xml::Element& features) {
    if (!is(features, kStreamsNamespace, "features") ||
        features.first_child(kBindNamespace, "bind") == nullptr) {
      co_return fail(Error::parse("no resource binding offered after authentication"));
    }
    std::string request =
        "<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>";
    xml::append_escaped_text(request, resource_);
    request += "</resource></bind></iq>";
    send_secure(request);
    if (auto answered = co_await await_result("bind"); !answered) co_return answered;
    const xml::Element* session = features.first_child(kSessionNamespace, "session");
    if (session != nullptr && session->first_child(kSessionNamespace, "optional") == nullptr) {
      send_secure(
          "<iq type='set' id='session'><session "
          "xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>");
      if (auto answered = co_await await_result("session"); !answered) co_return answered;
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> await_result(std::string_view id) {
    for (std::size_t skipped = 0; skipped < kMaxNegotiationElements; ++skipped) {
      auto answer = co_await next_element();
      if (!answer) co_return fail(answer.error());
      const std::string* answer_id = answer->attribute("id");
      if (answer->name().local_name != "iq" || answer_id == nullptr || *answer_id != id) continue;
      const std::string* type = answer->attribute("type");
      if (type != nullptr && *type == "result") co_return Result<void>{};
      co_return fail(Error::invalid_argument(std::string(id) + " failed: " + describe(*answer)));
    }
    co_return fail(Error::parse("no answer to " + std::string(id)));
  }

  static std::string describe(const xml::Element& element) {
    std::string text = xml::serialize(element);
    if (text.size() > 300) text.resize(300);
    return text;
  }

  // The next top-level element of the stream during negotiation.
  asio::awaitable<Result<xml::Element>> next_element() {
    while (elements_.empty()) {
      if (stream_closed_) co_return fail(Error::io("the server closed the stream"));
      auto received = co_await read_some();
      if (!received) co_return fail(received.error());
      auto taken = take_input(std::span(shared_.read_buffer.data(), *received));
      if (!taken) co_return fail(taken.error());
    }
    xml::Element element = std::move(elements_.front());
    elements_.pop_front();
    if (is(element, kStreamsNamespace, "error")) {
      co_return fail(Error::io("stream error from the server: " + describe(element)));
    }
    co_return element;
  }

  // ---- input ----

  // Reads what the socket holds into the shared buffer, waiting until it is readable first
  // unless the last read filled the buffer. (Asio re-arms epoll for every wait, so data that came
  // after a short read still wakes the wait: no read that can only say EAGAIN is needed.)
  asio::awaitable<Result<std::size_t>> read_some() {
    for (;;) {
      if (!may_have_more_) {
        auto [wait_error] = co_await socket_.async_wait(tcp::socket::wait_read,
                                                        asio::as_tuple(asio::use_awaitable));
        if (wait_error) co_return fail(Error::io("wait: " + wait_error.message()));
      }
      boost::system::error_code error;
      const std::size_t count =
          socket_.read_some(asio::buffer(shared_.read_buffer.data(), kReadBufferBytes), error);
      if (!error) {
        may_have_more_ = count == kReadBufferBytes;
        co_return count;
      }
      may_have_more_ = false;
      if (error != asio::error::would_block && error != asio::error::try_again) {
        co_return fail(Error::io(error == asio::error::eof
                                     ? std::string("the server closed the connection")
                                     : "read: " + error.message()));
      }
    }
  }

  Result<void> take_input(std::span<const std::uint8_t> bytes) {
    if (!encrypted_) {
      return feed_plaintext(
          std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }
    if (auto fed = tls_->feed_ciphertext(bytes); !fed) return fed;
    return drain_tls();
  }

  Result<void> drain_tls() {
    for (;;) {
      auto read = tls_->read(shared_.plaintext_buffer);
      if (!read) return fail(read.error());
      if (read->status == tls::ReadStatus::closed_by_peer) {
        stream_closed_ = true;
        break;
      }
      if (read->status != tls::ReadStatus::data) break;
      auto fed = feed_plaintext(std::string_view(
          reinterpret_cast<const char*>(shared_.plaintext_buffer.data()), read->bytes));
      if (!fed) return fed;
    }
    collect_ciphertext();  // anything TLS itself wants to send (a key update answer)
    return {};
  }

  Result<void> feed_plaintext(std::string_view bytes) {
    if (paused_) {  // waiting for the negotiation to restart the stream: keep it for then
      held_back_.append(bytes);
      return {};
    }
    auto status = parser_.feed(bytes);
    if (!status) return fail(xml::to_error(status.error()));
    if (*status == xml::FeedStatus::paused) {
      paused_ = true;
      held_back_.assign(parser_.unparsed_after_pause());
    }
    return {};
  }

  void restart_stream() {
    parser_.reset();
    paused_ = false;
    held_back_.clear();
  }

  // xml::StreamEvents
  xml::AfterEvent on_stream_open(const xml::StreamHeader&) override {
    return xml::AfterEvent::continue_parsing;
  }

  xml::AfterEvent on_stanza(xml::Element stanza) override {
    if (logged_in_) {
      on_bound_stanza(stanza);
      return xml::AfterEvent::continue_parsing;
    }
    // Negotiation: <proceed/> and <success/> end this stream; hold back what follows.
    const bool restart =
        is(stanza, kTlsNamespace, "proceed") || is(stanza, kSaslNamespace, "success");
    if (elements_.size() < kMaxNegotiationElements) elements_.push_back(std::move(stanza));
    return restart ? xml::AfterEvent::pause : xml::AfterEvent::continue_parsing;
  }

  void on_stream_close() override { stream_closed_ = true; }

  void on_bound_stanza(const xml::Element& stanza) {
    const std::string& name = stanza.name().local_name;
    const std::string* type = stanza.attribute("type");
    if (name == "message") {
      if (type != nullptr && *type == "error") {
        ++shared_.counters.error_stanzas;
        return;
      }
      if (const xml::Element* body = stanza.first_child("jabber:client", "body")) {
        record(body->text());
      }
      return;
    }
    if (name == "iq" && type != nullptr && *type == "get" &&
        stanza.first_child(kPingNamespace, "ping") != nullptr) {
      std::string pong = "<iq type='result' id='";
      if (const std::string* id = stanza.attribute("id"))
        xml::append_escaped_attribute_value(pong, *id);
      pong += "'";
      if (const std::string* from = stanza.attribute("from")) {
        pong += " to='";
        xml::append_escaped_attribute_value(pong, *from);
        pong += "'";
      }
      pong += "/>";
      send_secure(pong);
      return;
    }
    if (is(stanza, kStreamsNamespace, "error")) {
      mark_broken("stream error: " + describe(stanza));
    }
  }

  void record(std::string_view body) {
    const auto now = monotonic_ns();
    auto& counters = shared_.counters;
    if (body.size() < 3 + kTimeDigits || body[0] < '0' || body[0] > '9' || body[1] < '0' ||
        body[1] > '9') {
      ++counters.foreign_messages;
      return;
    }
    const int phase = (body[0] - '0') * 10 + (body[1] - '0');
    std::uint64_t sent_at = 0;
    const char* begin = body.data() + 3;
    if (std::from_chars(begin, begin + kTimeDigits, sent_at).ec != std::errc{}) {
      ++counters.foreign_messages;
      return;
    }
    ++counters.received[static_cast<std::size_t>(phase)];
    if (counters.window_open) {
      ++counters.window_received;
      counters.window_latency.record(now >= sent_at ? now - sent_at : 0);
    }
  }

  asio::awaitable<void> read_loop() {
    while (!broken_) {
      auto received = co_await read_some();
      if (!received) {
        mark_broken(received.error().message);
        break;
      }
      auto taken = take_input(std::span(shared_.read_buffer.data(), *received));
      if (!taken) {
        mark_broken(taken.error().message);
        break;
      }
      if (stream_closed_) {
        mark_broken("the server closed the stream");
        break;
      }
    }
  }

  void mark_broken(const std::string& why) {
    if (broken_) return;
    broken_ = true;
    ++shared_.broken_connections;
    if (shared_.first_break.empty()) shared_.first_break = username_ + ": " + why;
  }

  // ---- output ----

  void send_plaintext(std::string_view text) {
    pending_.insert(pending_.end(), text.begin(), text.end());
    flush();
  }

  void send_secure(std::string_view text) {
    auto written =
        tls_->write(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
    if (!written) {
      mark_broken("TLS write: " + written.error().message);
      return;
    }
    collect_ciphertext();
  }

  void collect_ciphertext() {
    while (tls_ && tls_->pending_ciphertext() > 0) {
      const std::size_t count = tls_->take_ciphertext(shared_.ciphertext_chunk);
      if (count == 0) break;
      pending_.insert(pending_.end(), shared_.ciphertext_chunk.begin(),
                      shared_.ciphertext_chunk.begin() + static_cast<std::ptrdiff_t>(count));
    }
    if (queued_bytes() > kMaxQueuedBytesPerConnection) {
      mark_broken("the server stopped reading (" + std::to_string(queued_bytes()) +
                  " bytes queued)");
      pending_.clear();
      return;
    }
    flush();
  }

  // One write in flight per connection; what is queued meanwhile goes out in the next one.
  void flush() {
    if (writing_ || pending_.empty()) return;
    writing_ = true;
    in_flight_.swap(pending_);
    asio::async_write(socket_, asio::buffer(in_flight_),
                      [this](const boost::system::error_code& error, std::size_t) {
                        writing_ = false;
                        in_flight_.clear();
                        if (error) {
                          mark_broken("write: " + error.message());
                          return;
                        }
                        flush();
                      });
  }

  Shared& shared_;
  int index_;
  std::string username_;
  std::string password_;
  std::string resource_;
  tcp::socket socket_;
  std::unique_ptr<tls::Session> tls_;
  xml::StreamParser parser_;
  std::deque<xml::Element> elements_;  // negotiation answers not yet taken
  std::string held_back_;              // input after a pause (proceed, success)
  bool paused_ = false;
  bool encrypted_ = false;
  bool logged_in_ = false;
  bool stream_closed_ = false;
  bool broken_ = false;
  bool may_have_more_ = false;  // the last read filled the buffer
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> in_flight_;
  bool writing_ = false;
  std::string message_;
  std::size_t phase_offset_ = 0;
  std::size_t time_offset_ = 0;
};

// ---- the runs -----------------------------------------------------------------------------------

struct Run {
  Shared& shared;
  std::vector<std::unique_ptr<Connection>> connections;
  int exit_code = 0;
};

asio::awaitable<void> sleep_for(std::chrono::nanoseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

std::chrono::nanoseconds seconds(double value) {
  return std::chrono::nanoseconds(static_cast<std::int64_t>(value * 1e9));
}

// Logs in connections [first, last) with at most `concurrency` negotiations at a time.
asio::awaitable<Result<void>> login_all(Run& run, std::size_t first, std::size_t last) {
  const auto executor = co_await asio::this_coro::executor;
  const std::size_t total = last - first;
  std::size_t next = first;
  std::size_t done = 0;
  std::size_t running = 0;
  std::optional<Error> failure;
  const auto started = monotonic_ns();
  auto worker = [&]() -> asio::awaitable<void> {
    while (next < last && !failure) {
      Connection& connection = *run.connections[next++];
      asio::steady_timer deadline(executor);
      deadline.expires_after(kLoginTimeout);
      auto outcome =
          co_await (connection.login() || deadline.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (outcome.index() == 1) {
        failure = Error::io(connection.username() + ": login timed out");
      } else if (auto& result = std::get<0>(outcome); !result) {
        failure = Error{result.error().kind, connection.username() + ": " + result.error().message};
      }
      ++done;
      if (total >= 2000 && done % 1000 == 0) {
        std::fprintf(stderr, "xmpp_load: %zu of %zu sessions logged in (%.1f s)\n", done, total,
                     seconds_since(started));
      }
    }
    --running;
  };
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(run.shared.config.login_concurrency), total);
  for (std::size_t i = 0; i < workers; ++i) {
    ++running;
    asio::co_spawn(executor, worker(), asio::detached);
  }
  while (running > 0) co_await sleep_for(10ms);
  if (failure) co_return fail(*failure);
  co_return Result<void>{};
}

std::size_t broken_count(const Run& run) {
  return run.shared.broken_connections;
}

// Sends at `rate` messages per second for `duration`, tagged `phase`, spreading them round-robin
// over the senders. Returns the seconds it actually took.
asio::awaitable<double> send_at_rate(Run& run, int phase, double rate, double duration) {
  const auto executor = co_await asio::this_coro::executor;
  asio::steady_timer tick(executor);
  const auto step = std::chrono::milliseconds(run.shared.config.tick_ms);
  const auto started = monotonic_ns();
  const auto start_point = std::chrono::steady_clock::now();
  auto& sent = run.shared.counters.sent[static_cast<std::size_t>(phase)];
  const std::uint64_t sent_before = sent;
  std::size_t cursor = 0;
  const std::size_t senders = run.connections.size();
  for (std::uint64_t ticks = 1;; ++ticks) {
    tick.expires_at(start_point + step * ticks);
    co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    const double elapsed = std::min(seconds_since(started), duration);
    const auto owed = static_cast<std::uint64_t>(rate * elapsed);
    // A broken session ends the run (its partner would wait for nothing), so the loop stops.
    while (sent - sent_before < owed && broken_count(run) == 0) {
      Connection& sender = *run.connections[cursor];
      cursor = (cursor + 1) % senders;
      sender.send_message(phase);
      ++sent;
    }
    if (elapsed >= duration || broken_count(run) > 0) break;
  }
  co_return seconds_since(started);
}

// Waits until every message of the two phases arrived or `limit` passed.
asio::awaitable<void> drain(Run& run, std::array<int, 2> phases, double limit) {
  const auto started = monotonic_ns();
  auto all_in = [&] {
    for (int phase : phases) {
      const auto p = static_cast<std::size_t>(phase);
      if (run.shared.counters.received[p] < run.shared.counters.sent[p]) return false;
    }
    return true;
  };
  while (!all_in() && seconds_since(started) < limit && broken_count(run) == 0) {
    co_await sleep_for(20ms);
  }
}

struct WindowResult {
  double offered_rate = 0;  // the target
  double sent_rate = 0;     // what the generator managed
  double delivered_rate = 0;
  std::uint64_t sent = 0;
  std::uint64_t delivered_in_window = 0;
  std::uint64_t lost = 0;
  double seconds = 0;
  double server_cpu_seconds = 0;
  double generator_cpu_seconds = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  long server_rss_kb = 0;
  long server_peak_rss_kb = 0;
  bool server_sampled = false;
};

// Warm-up, then the measured window at the same rate, then the drain.
asio::awaitable<WindowResult> measure(Run& run, int warmup_phase, int phase, double rate,
                                      double warmup, double duration, double drain_limit) {
  auto& counters = run.shared.counters;
  if (warmup > 0) co_await send_at_rate(run, warmup_phase, rate, warmup);
  const ProcessSample before = sample_process(run.shared.config.server_pid);
  const double own_before = own_cpu_seconds();
  counters.window_latency.clear();
  counters.window_received = 0;
  counters.window_open = true;
  const double seconds_taken = co_await send_at_rate(run, phase, rate, duration);
  counters.window_open = false;
  const ProcessSample after = sample_process(run.shared.config.server_pid);
  const double own_after = own_cpu_seconds();
  co_await drain(run, std::array<int, 2>{warmup_phase, phase}, drain_limit);

  WindowResult result;
  const auto p = static_cast<std::size_t>(phase);
  result.offered_rate = rate;
  result.seconds = seconds_taken;
  result.sent = counters.sent[p];
  result.sent_rate = static_cast<double>(counters.sent[p]) / seconds_taken;
  result.delivered_in_window = counters.window_received;
  result.delivered_rate = static_cast<double>(counters.window_received) / seconds_taken;
  result.lost =
      counters.sent[p] > counters.received[p] ? counters.sent[p] - counters.received[p] : 0;
  result.p50_ms = static_cast<double>(counters.window_latency.percentile(0.50)) / 1e6;
  result.p99_ms = static_cast<double>(counters.window_latency.percentile(0.99)) / 1e6;
  result.max_ms = static_cast<double>(counters.window_latency.max()) / 1e6;
  result.generator_cpu_seconds = own_after - own_before;
  if (before.valid && after.valid) {
    result.server_sampled = true;
    result.server_cpu_seconds = after.cpu_seconds - before.cpu_seconds;
    result.server_rss_kb = after.rss_kb;
    result.server_peak_rss_kb = after.peak_rss_kb;
  }
  co_return result;
}

void print_window(const Run& run, const char* mode, int step, const WindowResult& w) {
  const auto& config = run.shared.config;
  const double delivered = static_cast<double>(std::max<std::uint64_t>(w.delivered_in_window, 1));
  const double server_us = w.server_cpu_seconds * 1e6 / delivered;
  const double generator_us = w.generator_cpu_seconds * 1e6 / delivered;
  std::printf(
      "result label=%s mode=%s step=%d users=%d offered_rate=%.0f sent_rate=%.1f "
      "delivered_rate=%.1f seconds=%.2f sent=%llu delivered=%llu lost=%llu "
      "server_cpu_s=%.3f server_cpu_us_per_msg=%.2f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f "
      "server_rss_kb=%ld server_peak_rss_kb=%ld generator_cpu_us_per_msg=%.2f "
      "error_stanzas=%llu foreign_messages=%llu server_sampled=%d\n",
      config.label.empty() ? "-" : config.label.c_str(), mode, step, config.users, w.offered_rate,
      w.sent_rate, w.delivered_rate, w.seconds, static_cast<unsigned long long>(w.sent),
      static_cast<unsigned long long>(w.delivered_in_window),
      static_cast<unsigned long long>(w.lost), w.server_cpu_seconds, server_us, w.p50_ms, w.p99_ms,
      w.max_ms, w.server_rss_kb, w.server_peak_rss_kb, generator_us,
      static_cast<unsigned long long>(run.shared.counters.error_stanzas),
      static_cast<unsigned long long>(run.shared.counters.foreign_messages),
      w.server_sampled ? 1 : 0);
  std::fflush(stdout);
  std::fprintf(stderr,
               "xmpp_load: %s step %d: offered %.0f/s, sent %.0f/s, delivered %.0f/s, server CPU "
               "%.1f us/msg, p50 %.2f ms, p99 %.2f ms, RSS %ld KB, lost %llu, generator %.1f "
               "us/msg\n",
               mode, step, w.offered_rate, w.sent_rate, w.delivered_rate, server_us, w.p50_ms,
               w.p99_ms, w.server_rss_kb, static_cast<unsigned long long>(w.lost), generator_us);
}

// Every user sends one message to its partner and every one must arrive: the servers route to
// the resources (initial presence was processed) before anything is measured.
asio::awaitable<Result<void>> probe(Run& run) {
  auto& counters = run.shared.counters;
  for (auto& connection : run.connections) {
    connection->send_message(kProbePhase);
    ++counters.sent[kProbePhase];
  }
  const auto started = monotonic_ns();
  while (counters.received[kProbePhase] < counters.sent[kProbePhase]) {
    if (broken_count(run) > 0) co_return fail(Error::io(run.shared.first_break));
    if (seconds_since(started) > std::chrono::duration<double>(kProbeTimeout).count()) {
      co_return fail(Error::io("probe: " + std::to_string(counters.received[kProbePhase]) + " of " +
                               std::to_string(counters.sent[kProbePhase]) +
                               " messages arrived within " + std::to_string(kProbeTimeout.count()) +
                               " s (errors returned: " + std::to_string(counters.error_stanzas) +
                               ")"));
    }
    co_await sleep_for(10ms);
  }
  co_return Result<void>{};
}

void report_session_setup(const Run& run, double login_seconds, const ProcessSample& before,
                          const ProcessSample& after) {
  std::fprintf(stderr, "xmpp_load: %zu sessions logged in in %.1f s (%s; server offers %s)\n",
               run.connections.size(), login_seconds, run.shared.tls_description.c_str(),
               run.shared.server_mechanisms.c_str());
  if (before.valid && after.valid) {
    std::fprintf(stderr, "xmpp_load: server CPU for the logins: %.2f ms per session\n",
                 (after.cpu_seconds - before.cpu_seconds) * 1e3 /
                     static_cast<double>(std::max<std::size_t>(run.connections.size(), 1)));
  }
}

asio::awaitable<void> run_load(Run& run) {
  const Config& config = run.shared.config;
  const auto started = monotonic_ns();
  const ProcessSample before_login = sample_process(config.server_pid);
  if (auto logged_in = co_await login_all(run, 0, run.connections.size()); !logged_in) {
    std::fprintf(stderr, "xmpp_load: login failed: %s\n", logged_in.error().message.c_str());
    run.exit_code = 1;
    co_return;
  }
  report_session_setup(run, seconds_since(started), before_login,
                       sample_process(config.server_pid));
  std::printf("tls label=%s description=\"%s\" mechanism=%s\n",
              config.label.empty() ? "-" : config.label.c_str(), run.shared.tls_description.c_str(),
              config.mechanism.c_str());
  if (auto probed = co_await probe(run); !probed) {
    std::fprintf(stderr, "xmpp_load: %s\n", probed.error().message.c_str());
    run.exit_code = 1;
    co_return;
  }

  if (config.mode == "load") {
    const WindowResult window = co_await measure(run, 1, 2, config.rate, config.warmup_seconds,
                                                 config.duration_seconds, config.drain_seconds);
    print_window(run, "load", 1, window);
  } else {
    double best = 0;
    double best_offered = 0;
    std::string stopped_because = "the step limit was reached";
    for (int step = 0; step < config.max_steps && 2 * step + 2 < kPhases; ++step) {
      const double rate =
          config.start_rate * std::pow(config.rate_factor, step) + config.rate_step * step;
      const WindowResult window =
          co_await measure(run, 2 * step + 1, 2 * step + 2, rate, config.step_warmup_seconds,
                           config.step_seconds, config.drain_seconds);
      print_window(run, "max", step + 1, window);
      if (broken_count(run) > 0) {
        stopped_because = "a connection broke: " + run.shared.first_break;
        break;
      }
      if (window.sent_rate < config.min_delivered_fraction * rate) {
        stopped_because = "the generator could not send at the offered rate (generator-bound)";
        break;
      }
      const bool passed = window.delivered_rate >= config.min_delivered_fraction * rate &&
                          window.p99_ms <= config.max_p99_ms && window.lost == 0;
      if (!passed) {
        stopped_because = window.lost > 0 ? "messages were lost"
                          : window.p99_ms > config.max_p99_ms
                              ? "p99 latency passed the limit"
                              : "delivered fell below the offered rate";
        break;
      }
      if (window.delivered_rate > best) {
        best = window.delivered_rate;
        best_offered = rate;
      }
    }
    std::printf("max label=%s max_sustained_delivered_rate=%.0f at_offered=%.0f stopped=\"%s\"\n",
                config.label.empty() ? "-" : config.label.c_str(), best, best_offered,
                stopped_because.c_str());
    std::fprintf(stderr, "xmpp_load: maximum sustained delivered rate %.0f msg/s (stopped: %s)\n",
                 best, stopped_because.c_str());
  }
  if (broken_count(run) > 0) {
    std::fprintf(stderr, "xmpp_load: %zu connections broke; first: %s\n", broken_count(run),
                 run.shared.first_break.c_str());
    run.exit_code = 1;
  }
}

asio::awaitable<void> run_idle(Run& run) {
  const Config& config = run.shared.config;
  // One session first, so that the baseline includes whatever the first login initializes.
  if (auto first = co_await login_all(run, 0, 1); !first) {
    std::fprintf(stderr, "xmpp_load: login failed: %s\n", first.error().message.c_str());
    run.exit_code = 1;
    co_return;
  }
  co_await sleep_for(seconds(config.settle_seconds));
  const ProcessSample baseline = sample_process(config.server_pid);
  const auto started = monotonic_ns();
  if (auto rest = co_await login_all(run, 1, run.connections.size()); !rest) {
    std::fprintf(stderr, "xmpp_load: login failed: %s\n", rest.error().message.c_str());
    run.exit_code = 1;
    co_return;
  }
  const double login_seconds = seconds_since(started);
  const ProcessSample logged_in = sample_process(config.server_pid);
  co_await sleep_for(seconds(config.settle_seconds));
  const ProcessSample settled = sample_process(config.server_pid);
  if (config.hold_seconds > 0) co_await sleep_for(seconds(config.hold_seconds));
  const ProcessSample held = sample_process(config.server_pid);
  if (broken_count(run) > 0) {
    std::fprintf(stderr, "xmpp_load: %zu idle sessions broke; first: %s\n", broken_count(run),
                 run.shared.first_break.c_str());
    run.exit_code = 1;
  }
  const double added = static_cast<double>(run.connections.size() - 1);
  const double per_session_kb =
      added > 0 ? static_cast<double>(held.rss_kb - baseline.rss_kb) / added : 0;
  const double login_cpu_ms =
      added > 0 ? (logged_in.cpu_seconds - baseline.cpu_seconds) * 1e3 / added : 0;
  std::printf(
      "idle label=%s sessions=%zu rss_baseline_kb=%ld rss_kb=%ld rss_per_session_kb=%.2f "
      "server_login_cpu_ms=%.3f login_seconds=%.2f broken=%zu tls=\"%s\"\n",
      config.label.empty() ? "-" : config.label.c_str(), run.connections.size(), baseline.rss_kb,
      held.rss_kb, per_session_kb, login_cpu_ms, login_seconds, broken_count(run),
      run.shared.tls_description.c_str());
  std::fprintf(stderr,
               "xmpp_load: %zu idle sessions: RSS %ld KB -> %ld KB (%.1f KB per session; %ld KB "
               "right after the logins), server CPU per login %.2f ms, logins took %.1f s\n",
               run.connections.size(), baseline.rss_kb, held.rss_kb, per_session_kb, settled.rss_kb,
               login_cpu_ms, login_seconds);
}

// ---- Prosody accounts ---------------------------------------------------------------------------

// Prosody's datamanager names files and directories with every byte outside [A-Za-z0-9] written
// as %xx (lower-case hex).
std::string prosody_encode(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : name) {
    const auto byte = static_cast<unsigned char>(ch);
    if (std::isalnum(byte) != 0) {
      out += ch;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

std::string hex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : bytes) {
    const auto byte = static_cast<unsigned char>(ch);
    out += kHex[byte >> 4];
    out += kHex[byte & 15];
  }
  return out;
}

// The file mod_auth_internal_hashed (Prosody 0.12) reads: SCRAM-SHA-1 StoredKey and ServerKey in
// hex, the salt as a string used as is, and the iteration count.
int write_prosody_accounts(const Config& config) {
  const fs::path directory =
      fs::path(config.data_directory) / prosody_encode(config.domain) / "accounts";
  std::error_code error;
  fs::create_directories(directory, error);
  if (error) {
    std::fprintf(stderr, "xmpp_load: cannot create %s: %s\n", directory.c_str(),
                 error.message().c_str());
    return 1;
  }
  for (int user = 1; user <= config.users; ++user) {
    const std::string name = config.user_prefix + std::to_string(user);
    const std::string password = config.password_prefix + std::to_string(user);
    // A printable salt (Prosody's own are UUID strings); unique per account.
    const std::string salt = "parley-bench-salt-" + name;
    auto credentials = xmpp::sasl::derive_scram_credentials(password, salt, config.iterations,
                                                            xmpp::sasl::ScramHash::sha1);
    if (!credentials) {
      std::fprintf(stderr, "xmpp_load: %s: %s\n", name.c_str(),
                   credentials.error().message.c_str());
      return 1;
    }
    std::ofstream out(directory / (prosody_encode(name) + ".dat"), std::ios::trunc);
    out << "return {\n"
        << "\t[\"iteration_count\"] = " << credentials->iterations << ";\n"
        << "\t[\"salt\"] = \"" << salt << "\";\n"
        << "\t[\"server_key\"] = \"" << hex(credentials->server_key) << "\";\n"
        << "\t[\"stored_key\"] = \"" << hex(credentials->stored_key) << "\";\n"
        << "};\n";
    if (!out) {
      std::fprintf(stderr, "xmpp_load: cannot write the account of %s\n", name.c_str());
      return 1;
    }
  }
  return 0;
}

// ---- main ---------------------------------------------------------------------------------------

int run_sessions(const Config& config) {
  asio::io_context io(1);
  Shared shared(io, config);
  auto context = tls::ClientContext::create({});
  if (!context) {
    std::fprintf(stderr, "xmpp_load: %s\n", context.error().message.c_str());
    return 1;
  }
  shared.tls_context = *context;
  auto anchors_pem = read_file(config.ca_file, 1024 * 1024);
  if (!anchors_pem) {
    std::fprintf(stderr, "xmpp_load: %s\n", anchors_pem.error().message.c_str());
    return 2;
  }
  auto anchors = pki::Certificate::from_pem(*anchors_pem);
  if (!anchors || anchors->empty()) {
    std::fprintf(stderr, "xmpp_load: no CA certificate in %s\n", config.ca_file.c_str());
    return 2;
  }
  for (auto& anchor : *anchors) shared.anchors.add(anchor);

  Run run{shared, {}, 0};
  const int count = config.mode == "idle" ? config.sessions : config.users;
  run.connections.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    // Users are numbered from 1; in idle mode more sessions than users share the accounts, each
    // on its own resource.
    const int user = i % config.users + 1;
    run.connections.push_back(std::make_unique<Connection>(
        shared, i, config.user_prefix + std::to_string(user),
        config.password_prefix + std::to_string(user), "load-" + std::to_string(i / config.users)));
  }
  if (config.mode != "idle") {
    for (int i = 0; i < count; ++i) {
      const int partner = (i + count / 2) % count + 1;
      run.connections[static_cast<std::size_t>(i)]->set_partner(
          config.user_prefix + std::to_string(partner) + "@" + config.domain, config.body_bytes);
    }
  }
  asio::co_spawn(
      io,
      [&run]() -> asio::awaitable<void> {
        if (run.shared.config.mode == "idle") {
          co_await run_idle(run);
        } else {
          co_await run_load(run);
        }
        run.shared.io.stop();
      },
      asio::detached);
  io.run();
  std::fflush(stdout);
  std::fflush(stderr);
  // The sessions are not torn down one by one (thousands of TLS sessions and coroutine frames):
  // the process ends here and the kernel closes the sockets.
  std::_Exit(run.exit_code);
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  CLI::App app{"xmpp_load: XMPP c2s load generator (bench/compare-servers drives it)"};
  app.require_subcommand(1);
  auto add_connection_options = [&config](CLI::App* sub) {
    sub->add_option("--host", config.host, "server address (an IP literal)");
    sub->add_option("--port", config.port, "c2s port (STARTTLS)")->required();
    sub->add_option("--domain", config.domain, "the XMPP domain, also the certificate's name");
    sub->add_option("--ca", config.ca_file, "PEM file with the CA that issued the server's chain")
        ->required();
    sub->add_option("--user-prefix", config.user_prefix, "accounts are PREFIX1..PREFIXN");
    sub->add_option("--password-prefix", config.password_prefix, "passwords are PREFIX1..PREFIXN");
    sub->add_option("--mechanism", config.mechanism, "SASL mechanism, the same for every server");
    sub->add_option("--login-concurrency", config.login_concurrency,
                    "negotiations in progress at once")
        ->check(CLI::Range(1, 10000));
    sub->add_option("--server-pid", config.server_pid,
                    "the server process whose CPU and RSS are sampled (/proc)");
    sub->add_option("--label", config.label, "a name for the result lines");
  };
  auto add_message_options = [&config](CLI::App* sub) {
    sub->add_option("--users", config.users, "sessions, one per user")
        ->check(CLI::Range(2, 200000));
    sub->add_option("--warmup", config.warmup_seconds, "seconds at the rate before measuring");
    sub->add_option("--drain", config.drain_seconds, "seconds to wait for late messages");
    sub->add_option("--tick-ms", config.tick_ms, "pacing interval")->check(CLI::Range(1, 1000));
    sub->add_option("--body-bytes", config.body_bytes, "filler characters in each body")
        ->check(CLI::Range(0, 100000));
  };
  auto* load = app.add_subcommand("load", "fixed offered rate");
  add_connection_options(load);
  add_message_options(load);
  load->add_option("--rate", config.rate, "messages per second offered");
  load->add_option("--duration", config.duration_seconds, "seconds measured");
  auto* max = app.add_subcommand("max", "step the offered rate up to the highest sustained one");
  add_connection_options(max);
  add_message_options(max);
  max->add_option("--start-rate", config.start_rate, "first offered rate");
  max->add_option("--rate-factor", config.rate_factor,
                  "each step's rate is the last one's times this")
      ->check(CLI::Range(1.0, 10.0));
  max->add_option("--rate-step", config.rate_step, "added per step, besides the factor");
  max->add_option("--step-duration", config.step_seconds, "seconds measured per step");
  max->add_option("--step-warmup", config.step_warmup_seconds, "seconds before each step");
  max->add_option("--max-steps", config.max_steps, "steps at most")->check(CLI::Range(1, 49));
  max->add_option("--max-p99-ms", config.max_p99_ms, "a step with a higher p99 fails");
  auto* idle =
      app.add_subcommand("idle", "authenticated sessions held idle; server RSS per session");
  add_connection_options(idle);
  idle->add_option("--sessions", config.sessions, "sessions to hold")->check(CLI::Range(2, 200000));
  idle->add_option("--users", config.users, "accounts (sessions beyond it reuse them)");
  idle->add_option("--settle", config.settle_seconds, "seconds before sampling RSS");
  idle->add_option("--hold", config.hold_seconds, "extra seconds to hold before the last sample");
  auto* accounts =
      app.add_subcommand("prosody-accounts", "write Prosody 0.12 internal_hashed account files");
  accounts->add_option("--data", config.data_directory, "Prosody's data_path")->required();
  accounts->add_option("--domain", config.domain, "the virtual host");
  accounts->add_option("--users", config.users, "accounts PREFIX1..PREFIXN")->required();
  accounts->add_option("--user-prefix", config.user_prefix, "");
  accounts->add_option("--password-prefix", config.password_prefix, "");
  accounts->add_option("--iterations", config.iterations, "PBKDF2 iterations")
      ->check(CLI::Range(4096, 1000000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : 2;
  }
  if (accounts->parsed()) return write_prosody_accounts(config);
  config.mode = load->parsed() ? "load" : max->parsed() ? "max" : "idle";
  if (config.mode == "idle" && idle->count("--users") == 0) config.users = config.sessions;
  return run_sessions(config);
}
