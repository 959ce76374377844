#include "server/c2s_session.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <charconv>

#include "server/delivery.hpp"
#include "server/muc_service.hpp"
#include "server/presence_handling.hpp"
#include "server/stanza.hpp"
#include "server/stanza_dispatch.hpp"
#include "xml/stream_error.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kStreamsNamespace = "http://etherx.jabber.org/streams";
constexpr std::string_view kTlsNamespace = "urn:ietf:params:xml:ns:xmpp-tls";
constexpr std::string_view kSaslNamespace = "urn:ietf:params:xml:ns:xmpp-sasl";
constexpr std::string_view kBindNamespace = "urn:ietf:params:xml:ns:xmpp-bind";
constexpr std::string_view kChannelBindingNamespace = "urn:xmpp:sasl-cb:0";
constexpr std::string_view kSmNamespace = "urn:xmpp:sm:3";

// RFC 6120 6.4.5: the server should allow a configurable number of retries (2 to 5). Counted are
// rejected credentials only (xmpp::sasl::CredentialVerdict): a client that falls back from a
// mechanism or binding we refuse before any proof must still reach the one we accept.
constexpr int kMaxSaslFailuresPerStream = 3;
// Refusals that judged no credential (unknown mechanism, unsupported binding, downgrade flag,
// malformed message, abort): more than a client working down its mechanism list needs (four
// SCRAM variants, PLAIN), few enough that a loop of them ends the stream.
constexpr int kMaxSaslRefusalsPerStream = 10;
// After the closing </stream:stream>, how long the peer gets to read it and close.
constexpr auto kCloseGrace = 3s;
// Reads per wake-up before the reader yields to other sessions (and comes back after them).
constexpr int kReadsPerWake = 4;
// One TLS write per this many plaintext bytes (records are at most 16 KiB each).
constexpr std::size_t kEncryptChunk = 64 * 1024;

// Shared by every session of the thread: a session reads only when the socket is readable and
// consumes the bytes before its next await, so no idle connection needs a buffer of its own.
thread_local std::array<std::uint8_t, 64 * 1024> read_buffer;
thread_local std::array<std::uint8_t, 64 * 1024> plaintext_buffer;
thread_local std::array<std::uint8_t, 64 * 1024> ciphertext_buffer;

bool is(const xml::Element& element, std::string_view ns, std::string_view name) {
  return element.name().namespace_uri == ns && element.name().local_name == name;
}

std::string sasl_failure(xmpp::sasl::Condition condition) {
  return fmt::format("<failure xmlns='{}'><{}/></failure>", kSaslNamespace,
                     xmpp::sasl::to_string(condition));
}

}  // namespace

C2sSession::C2sSession(ServerServices& services,
                       std::shared_ptr<const tls::ServerContext> tls_context,
                       asio::ip::tcp::socket socket, std::string peer_address, bool direct_tls)
    : services_(services),
      tls_context_(std::move(tls_context)),
      socket_(std::move(socket)),
      writer_wake_(socket_.get_executor()),
      watchdog_timer_(socket_.get_executor()),
      throttle_timer_(socket_.get_executor()),
      resume_timer_(socket_.get_executor()),
      peer_address_(std::move(peer_address)),
      direct_tls_(direct_tls),
      parser_(*this, xml::StreamParserOptions{.limits = {.max_stanza_bytes =
                                                             services.limits.max_stanza_bytes},
                                              .content_namespace = std::string(kClientNamespace)}),
      tokens_(static_cast<double>(services.limits.stanza_burst)),
      tokens_at_(Clock::now()),
      accepted_at_(Clock::now()),
      last_activity_(accepted_at_) {}

C2sSession::~C2sSession() = default;

void C2sSession::start(std::function<void(C2sSession&)> on_finished) {
  on_finished_ = std::move(on_finished);
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  if (direct_tls_ && !begin_tls()) return;
  auto watch = services_.input_poller->watch_input(socket_.native_handle(), *this);
  if (!watch) {
    services_.log->error("{}: {}", peer_address_, watch.error().message);
    close_socket();
    return;
  }
  input_watch_ = std::move(*watch);
  auto self = shared_from_this();
  auto executor = socket_.get_executor();
  asio::co_spawn(
      executor, [self] { return self->write_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self] { return self->watchdog(); }, asio::detached);
  // What arrived before the socket was watched raised no event: read it now.
  asio::post(executor, [self] { self->read_input(); });
}

bool C2sSession::begin_tls() {
  auto session = tls::Session::server(tls_context_);
  if (!session) {
    services_.log->error("{}: TLS session: {}", peer_address_, session.error().message);
    close_socket();
    return false;
  }
  tls_ = std::move(*session);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Reading, writing and the watchdog

void C2sSession::on_input() {
  read_input();
}

void C2sSession::read_input() {
  // Throttled input waits in the socket (flood control); the throttle timer reads it later.
  // While closing, input is read and dropped until the peer closes too.
  if (socket_closed_ || reader_done_ || (throttled_ && !closing_)) return;
  bool ended = false;
  bool more = true;  // the socket may hold more than was read
  for (int i = 0; more && i < kReadsPerWake && !socket_closed_ && !(throttled_ && !closing_); ++i) {
    boost::system::error_code ec;
    const std::size_t n = socket_.read_some(asio::buffer(read_buffer), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      more = false;
      break;
    }
    if (ec || n == 0) {
      ended = true;
      break;
    }
    last_activity_ = Clock::now();
    // A short read emptied the socket: the poller calls again when more arrives (a further
    // read would only come back with EAGAIN).
    more = n == read_buffer.size();
    if (!closing_) on_ciphertext(std::span<const std::uint8_t>(read_buffer.data(), n));
  }
  encrypt_pending();
  if (ended) {
    reader_done_ = true;
    input_watch_.cancel();
    if (!closing_) connection_lost();
    maybe_finish();
    return;
  }
  if (socket_closed_) return;
  if (throttled_ && !closing_) return wait_for_stanza_tokens();
  if (more) {
    // Its share of this turn is read and more is waiting, which no new event will announce.
    asio::post(socket_.get_executor(), [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->read_input();
    });
  }
}

void C2sSession::wait_for_stanza_tokens() {
  // Flood control: a session that used up its stanza budget is not read (its unparsed input
  // waits in the parser and the TLS buffers) until the bucket has a token again.
  const auto wait = std::chrono::duration<double>(
      (1.0 - tokens_) / static_cast<double>(services_.limits.stanzas_per_second));
  throttle_timer_.expires_after(std::chrono::duration_cast<Clock::duration>(wait));
  throttle_timer_.async_wait([self = shared_from_this()](const boost::system::error_code&) {
    if (self->socket_closed_) return;
    if (!self->closing_) {
      self->refill_tokens();
      self->throttled_ = false;
      self->after_feed(self->parser_.resume());
      self->drain_tls_plaintext();
      self->encrypt_pending();
      if (self->throttled_ && !self->closing_) return self->wait_for_stanza_tokens();
    }
    // Input that arrived meanwhile raised events that were not acted on: read it now.
    self->read_input();
  });
}

asio::awaitable<void> C2sSession::write_loop() {
  auto self = shared_from_this();
  while (!socket_closed_) {
    if (out_.empty()) {
      // A close held for the group commit is not sent yet: the commit handler wakes us for it.
      if (closing_ && !output_held_) break;
      writer_wake_.expires_at(Clock::time_point::max());
      co_await writer_wake_.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    writing_.swap(out_);
    auto [ec, written] = co_await asio::async_write(socket_, asio::buffer(writing_),
                                                    asio::as_tuple(asio::use_awaitable));
    writing_.clear();
    if (ec) {
      connection_lost();
      close_socket();
      co_return;
    }
  }
  if (socket_closed_) co_return;
  // Everything, the closing </stream:stream> included, is sent: half-close so the peer sees the
  // end, and let the reader drain until the peer closes too (closing with unread input would
  // make the kernel send a reset that can destroy the stream error in flight).
  boost::system::error_code ec;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  writer_done_ = true;
  maybe_finish();
}

asio::awaitable<void> C2sSession::watchdog() {
  auto self = shared_from_this();
  while (!socket_closed_) {
    watchdog_timer_.expires_at(next_deadline());
    co_await watchdog_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (socket_closed_) break;
    const auto now = Clock::now();
    const auto& limits = services_.limits;
    if (closing_) {
      if (now >= close_deadline_) close_socket();
      continue;
    }
    if (!bound_ && now >= accepted_at_ + limits.negotiation_timeout) {
      terminate(xml::StreamErrorCondition::connection_timeout,
                "stream negotiation did not finish in time");
    } else if (stanza_started_ && now >= *stanza_started_ + limits.stanza_timeout) {
      terminate(xml::StreamErrorCondition::connection_timeout, "a stanza took too long to arrive");
    } else if (now >= last_activity_ + limits.idle_timeout) {
      terminate(xml::StreamErrorCondition::connection_timeout, "idle for too long");
    }
  }
}

C2sSession::Clock::time_point C2sSession::next_deadline() const {
  if (closing_) return close_deadline_;
  const auto& limits = services_.limits;
  auto deadline = last_activity_ + limits.idle_timeout;
  if (!bound_) deadline = std::min(deadline, accepted_at_ + limits.negotiation_timeout);
  if (stanza_started_) deadline = std::min(deadline, *stanza_started_ + limits.stanza_timeout);
  return deadline;
}

void C2sSession::poke_watchdog() {
  watchdog_timer_.cancel();
}

// ---------------------------------------------------------------------------------------------
// Input

void C2sSession::on_ciphertext(std::span<const std::uint8_t> bytes) {
  if (!tls_) {
    on_plaintext(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return;
  }
  if (auto fed = tls_->feed_ciphertext(bytes); !fed) {
    services_.log->info("{}: {}", peer_address_, fed.error().message);
    close_socket();
    return;
  }
  if (!tls_established_) {
    auto progress = tls_->handshake();
    // Whatever the handshake produced (including an alert on failure) goes to the peer.
    while (std::size_t n = tls_->take_ciphertext(ciphertext_buffer))
      out_.append(reinterpret_cast<const char*>(ciphertext_buffer.data()), n);
    wake_writer();
    if (!progress) {
      services_.log->info("{}: TLS handshake failed: {}", peer_address_, progress.error().message);
      closing_ = true;  // nothing more to say in XMPP: the alert is the answer
      close_deadline_ = Clock::now() + kCloseGrace;
      reader_done_ = true;
      poke_watchdog();
      return;
    }
    if (*progress == tls::HandshakeProgress::needs_more_ciphertext) return;
    after_tls_handshake();
  }
  drain_tls_plaintext();
}

void C2sSession::drain_tls_plaintext() {
  while (!closing_ && !throttled_ && tls_ && tls_established_) {
    auto read = tls_->read(plaintext_buffer);
    if (!read) {
      services_.log->debug("{}: TLS: {}", peer_address_, read.error().message);
      close_socket();
      return;
    }
    if (read->status == tls::ReadStatus::needs_more_ciphertext) break;
    if (read->status == tls::ReadStatus::closed_by_peer) {
      begin_close(std::nullopt, {});
      break;
    }
    on_plaintext(
        std::string_view(reinterpret_cast<const char*>(plaintext_buffer.data()), read->bytes));
  }
}

void C2sSession::after_tls_handshake() {
  tls_established_ = true;
  if (auto info = tls_->connection_info())
    services_.log->debug("{}: {} {} {}", peer_address_, tls::to_string(info->protocol),
                         info->cipher, info->group);
  // RFC 6120 5.4.3.3: after STARTTLS the stream restarts; with direct TLS the client speaks
  // first too. Either way a fresh parser waits for the client's stream header.
  parser_.reset();
  header_sent_ = false;
}

void C2sSession::on_plaintext(std::string_view bytes) {
  if (closing_) return;
  after_feed(parser_.feed(bytes));
}

void C2sSession::after_feed(xml::StreamResult<xml::FeedStatus> status) {
  while (status && *status == xml::FeedStatus::paused) {
    if (closing_ || socket_closed_) return;
    const PauseReason reason = pause_reason_;
    pause_reason_ = PauseReason::none;
    if (reason == PauseReason::starttls) {
      // RFC 6120 5.4.3.3 / the STARTTLS command-injection class: nothing may follow <starttls/>
      // in plaintext. Bytes that did are an attack or a broken client; either way, no TLS.
      // Whitespace (some clients end every element with a newline) is harmless.
      if (parser_.unparsed_after_pause().find_first_not_of(" \t\r\n") != std::string_view::npos) {
        services_.log->warn("{}: plaintext pipelined after <starttls/>; closing", peer_address_);
        close_socket();
        return;
      }
      encrypt_pending();  // <proceed/> goes out in plaintext, before TLS starts
      begin_tls();
      return;  // the next bytes are the ClientHello
    }
    if (reason == PauseReason::throttled) {
      // The rest waits in the parser until the reader's throttle timer resumes it.
      throttled_ = true;
      return;
    }
    if (reason == PauseReason::sasl_success) {
      // RFC 6120 6.4.6: a new stream; the client may already have sent its header.
      // Whitespace that ended the old stream's last element is not part of the new document
      // (an XML declaration must come first in it).
      std::string_view held = parser_.unparsed_after_pause();
      auto start = held.find_first_not_of(" \t\r\n");
      std::string rest(start == std::string_view::npos ? std::string_view() : held.substr(start));
      parser_.reset();
      header_sent_ = false;
      status = parser_.feed(rest);
      continue;
    }
    status = parser_.resume();
  }
  if (!status) {
    services_.log->info("{}: {} ({})", peer_address_, xml::to_string(status.error().condition),
                        status.error().detail);
    begin_close(status.error().condition, status.error().detail);
    return;
  }
  if (*status == xml::FeedStatus::stream_closed) {
    begin_close(std::nullopt, {});
    return;
  }
  // Slowloris: a stanza that has started must finish within stanza_timeout.
  if (parser_.buffered_stanza_bytes() > 0) {
    if (!stanza_started_) {
      stanza_started_ = Clock::now();
      poke_watchdog();
    }
  } else {
    stanza_started_.reset();
  }
}

// ---------------------------------------------------------------------------------------------
// Stream

void C2sSession::send_stream_header() {
  if (header_sent_) return;
  header_sent_ = true;
  stream_id_ = random_id(12);
  queue(fmt::format(
      "<?xml version='1.0'?><stream:stream xmlns='{}' xmlns:stream='{}' id='{}' from='{}' "
      "version='1.0' xml:lang='en'>",
      kClientNamespace, kStreamsNamespace, stream_id_, services_.domain));
}

std::string C2sSession::features() const {
  std::string out = "<stream:features>";
  if (!tls_established_) {
    out += fmt::format("<starttls xmlns='{}'><required/></starttls>", kTlsNamespace);
  } else if (!authenticated_) {
    const bool tls13 = [&] {
      auto info = tls_->connection_info();
      return info && info->protocol == tls::TlsVersion::tls1_3;
    }();
    out += fmt::format("<mechanisms xmlns='{}'>", kSaslNamespace);
    for (const char* mechanism :
         {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1"}) {
      if (services_.config.fips && std::string_view(mechanism).starts_with("SCRAM-SHA-1"))
        continue;  // FIPS: no SHA-1 based authentication
      out += fmt::format("<mechanism>{}</mechanism>", mechanism);
    }
    if (services_.config.insecure_allow_plain) out += "<mechanism>PLAIN</mechanism>";
    out += "</mechanisms>";
    // XEP-0440: which channel bindings this connection supports.
    out += fmt::format("<sasl-channel-binding xmlns='{}'>", kChannelBindingNamespace);
    if (tls13) out += "<channel-binding type='tls-exporter'/>";
    out += "<channel-binding type='tls-server-end-point'/></sasl-channel-binding>";
  } else {
    out += fmt::format(
        "<bind xmlns='{}'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/>"
        "</session><ver xmlns='urn:xmpp:features:rosterver'/><sm xmlns='{}'/>",
        kBindNamespace, kSmNamespace);
  }
  out += "</stream:features>";
  return out;
}

xml::AfterEvent C2sSession::on_stream_open(const xml::StreamHeader& header) {
  send_stream_header();
  // RFC 6120 4.9.3.6: the stream must be addressed to a domain this server serves.
  std::optional<std::string> to;
  if (header.to) {
    auto prepared = xmpp::prepare_domainpart(*header.to);
    if (prepared) to = *prepared;
  }
  if (!to || *to != services_.domain) {
    begin_close(xml::StreamErrorCondition::host_unknown,
                header.to ? "this server does not serve that domain" : "the stream has no 'to'");
    return xml::AfterEvent::pause;
  }
  queue(features());
  return xml::AfterEvent::continue_parsing;
}

void C2sSession::on_stream_close() {
  begin_close(std::nullopt, {});
}

xml::AfterEvent C2sSession::on_stanza(xml::Element stanza) {
  if (closing_) return xml::AfterEvent::pause;
  stanza_started_.reset();
  // Group commit (services.hpp). Handlers of iq and presence, and the negotiation after TLS,
  // may write to the store: the group is opened for them, and this session joins it before they
  // queue a reply. Message routing opens the group itself where it stores (delivery.cpp), so a
  // turn of plain message traffic runs no transaction at all; nor do stream management's
  // elements (<r/>, <a/>, <enable/> write nothing), nor anything before TLS.
  const std::uint64_t requests_before = services_.write_group_requests();
  const std::size_t output_before = pending_plain_.size();
  if (tls_established_ &&
      (!bound_ || kind_of(stanza) == StanzaKind::iq || kind_of(stanza) == StanzaKind::presence)) {
    services_.open_write_group();
    join_write_group(output_before);
  }
  const xml::AfterEvent after = handle_stanza(std::move(stanza));
  // A message that was stored (offline, archive) joins after the fact: routing queues nothing
  // for its sender that acknowledges the write, and a later <a/> comes after the mark.
  if (services_.write_group_requests() != requests_before) join_write_group(output_before);
  return after;
}

void C2sSession::join_write_group(std::size_t held_from) {
  // Closing already: its output went out with the close (nothing of it was held), and the
  // stream cannot carry another error.
  if (output_held_ || closing_ || !services_.write_group_open()) return;
  output_held_ = true;
  held_from_ = held_from;
  services_.write_group_sessions.push_back(weak_from_this());
}

xml::AfterEvent C2sSession::handle_stanza(xml::Element stanza) {
  if (!tls_established_) return before_tls(stanza);
  if (!authenticated_) return before_auth(stanza);
  if (!bound_) return before_bind(stanza);
  bound_stanza(std::move(stanza));
  if (closing_) return xml::AfterEvent::pause;
  if (tokens_ < 0) {
    pause_reason_ = PauseReason::throttled;
    return xml::AfterEvent::pause;
  }
  return xml::AfterEvent::continue_parsing;
}

xml::AfterEvent C2sSession::before_tls(const xml::Element& element) {
  if (is(element, kTlsNamespace, "starttls")) {
    queue(fmt::format("<proceed xmlns='{}'/>", kTlsNamespace));
    pause_reason_ = PauseReason::starttls;
    return xml::AfterEvent::pause;
  }
  if (is(element, kSaslNamespace, "auth")) {
    // RFC 6120 6.4.1 / 5.3.1: credentials never cross in plaintext; the client must STARTTLS.
    queue(sasl_failure(xmpp::sasl::Condition::encryption_required));
    return xml::AfterEvent::continue_parsing;
  }
  begin_close(xml::StreamErrorCondition::not_authorized, "STARTTLS is required");
  return xml::AfterEvent::pause;
}

xml::AfterEvent C2sSession::before_auth(const xml::Element& element) {
  if (is(element, kSaslNamespace, "auth")) return handle_auth(element);
  if (is(element, kSaslNamespace, "response")) return handle_sasl_response(element);
  if (is(element, kSaslNamespace, "abort")) {
    // Counted like any refusal that judged no credential: <auth/> then <abort/> in a loop would
    // otherwise cost a credential lookup each time, for ever.
    return sasl_failed({xmpp::sasl::Condition::aborted, "the client aborted the exchange",
                        xmpp::sasl::CredentialVerdict::none_checked});
  }
  begin_close(xml::StreamErrorCondition::not_authorized, "authenticate first");
  return xml::AfterEvent::pause;
}

xml::AfterEvent C2sSession::before_bind(const xml::Element& element) {
  if (is(element, kSmNamespace, "resume")) {
    handle_resume(element);
    return xml::AfterEvent::continue_parsing;
  }
  if (kind_of(element) == StanzaKind::iq && type_of(element) == "set" &&
      element.first_child(kBindNamespace, "bind") != nullptr) {
    handle_bind(element);
    return xml::AfterEvent::continue_parsing;
  }
  if (kind_of(element) == StanzaKind::iq) {
    // RFC 6120 7.1: no stanzas before a resource is bound, but answering keeps clients sane.
    queue(to_wire(make_error_reply(element, services_.domain, ErrorType::auth, "not-authorized")));
    return xml::AfterEvent::continue_parsing;
  }
  begin_close(xml::StreamErrorCondition::not_authorized, "bind a resource first");
  return xml::AfterEvent::pause;
}

// ---------------------------------------------------------------------------------------------
// SASL

xml::AfterEvent C2sSession::handle_auth(const xml::Element& auth) {
  scram_.reset();
  const auto now = Clock::now();
  if (!services_.address_limits.may_authenticate(peer_address_, now))
    return sasl_failed({xmpp::sasl::Condition::temporary_auth_failure,
                        "too many failed logins from this address",
                        xmpp::sasl::CredentialVerdict::none_checked});
  const std::string* mechanism_name = auth.attribute("mechanism");
  const std::string text = auth.text();
  auto decoded = (text.empty() || text == "=")
                     ? Result<std::string>(std::string())
                     : xmpp::base64_decode_strict(text, xmpp::sasl::kMaxScramMessageOctets);
  if (!decoded)
    return sasl_failed({xmpp::sasl::Condition::incorrect_encoding, decoded.error().message,
                        xmpp::sasl::CredentialVerdict::none_checked});
  if (mechanism_name == nullptr)
    return sasl_failed({xmpp::sasl::Condition::invalid_mechanism, "no mechanism",
                        xmpp::sasl::CredentialVerdict::none_checked});

  if (*mechanism_name == "PLAIN") {
    if (!services_.config.insecure_allow_plain)
      return sasl_failed({xmpp::sasl::Condition::invalid_mechanism, "PLAIN is not enabled",
                          xmpp::sasl::CredentialVerdict::none_checked});
    return handle_plain(*decoded);
  }
  auto mechanism = xmpp::sasl::ScramMechanism::parse(*mechanism_name);
  if (!mechanism || (services_.config.fips && mechanism->hash == xmpp::sasl::ScramHash::sha1))
    return sasl_failed({xmpp::sasl::Condition::invalid_mechanism, "mechanism not offered",
                        xmpp::sasl::CredentialVerdict::none_checked});

  xmpp::sasl::ScramServerOptions options;
  options.mechanism = *mechanism;
  options.plus_advertised = true;
  if (auto exporter = tls_->channel_binding(tls::ChannelBinding::tls_exporter))
    options.tls_exporter = *exporter;
  if (auto end_point = tls_->channel_binding(tls::ChannelBinding::tls_server_end_point))
    options.tls_server_end_point = *end_point;
  options.unknown_user_secret = services_.unknown_user_secret;
  auto& storage = services_.storage;
  auto server = xmpp::sasl::ScramServer::create(
      std::move(options), [&storage](std::string_view username, xmpp::sasl::ScramHash hash) {
        xmpp::sasl::CredentialLookup lookup;
        auto prepared = xmpp::prepare_localpart(username);
        if (!prepared) return lookup;  // unknown_user
        auto credentials = storage.accounts().credentials(*prepared, hash);
        if (!credentials) {
          lookup.status = xmpp::sasl::LookupStatus::unavailable;
          return lookup;
        }
        if (*credentials) {
          lookup.status = xmpp::sasl::LookupStatus::found;
          lookup.credentials = **credentials;
        }
        return lookup;
      });
  if (!server)
    return sasl_failed({xmpp::sasl::Condition::temporary_auth_failure, server.error().message,
                        xmpp::sasl::CredentialVerdict::none_checked});
  scram_.emplace(std::move(*server));
  scram_mechanism_ = *mechanism_name;
  if (decoded->empty()) {
    // No initial response: an empty challenge asks for it (RFC 6120 6.4.2).
    queue(fmt::format("<challenge xmlns='{}'/>", kSaslNamespace));
    return xml::AfterEvent::continue_parsing;
  }
  auto challenge = scram_->receive_client_first(*decoded);
  if (!challenge) return sasl_failed(challenge.error());
  queue(fmt::format("<challenge xmlns='{}'>{}</challenge>", kSaslNamespace,
                    xmpp::base64_encode(*challenge)));
  return xml::AfterEvent::continue_parsing;
}

xml::AfterEvent C2sSession::handle_sasl_response(const xml::Element& response) {
  if (!scram_)
    return sasl_failed({xmpp::sasl::Condition::malformed_request, "no exchange in progress",
                        xmpp::sasl::CredentialVerdict::none_checked});
  const std::string text = response.text();
  auto decoded = (text.empty() || text == "=")
                     ? Result<std::string>(std::string())
                     : xmpp::base64_decode_strict(text, xmpp::sasl::kMaxScramMessageOctets);
  if (!decoded)
    return sasl_failed({xmpp::sasl::Condition::incorrect_encoding, decoded.error().message,
                        xmpp::sasl::CredentialVerdict::none_checked});
  if (!scram_->username().empty() || scram_->succeeded()) {
    auto final_message = scram_->receive_client_final(*decoded);
    if (!final_message) return sasl_failed(final_message.error());
    auto prepared = xmpp::prepare_localpart(scram_->username());
    if (!prepared)
      return sasl_failed({xmpp::sasl::Condition::not_authorized, "bad username",
                          xmpp::sasl::CredentialVerdict::rejected});
    return sasl_succeeded(*prepared, *final_message);
  }
  // The client-first message arrives as a response to the empty challenge.
  auto challenge = scram_->receive_client_first(*decoded);
  if (!challenge) return sasl_failed(challenge.error());
  queue(fmt::format("<challenge xmlns='{}'>{}</challenge>", kSaslNamespace,
                    xmpp::base64_encode(*challenge)));
  return xml::AfterEvent::continue_parsing;
}

xml::AfterEvent C2sSession::handle_plain(std::string_view message) {
  // RFC 4616: [authzid] NUL authcid NUL passwd
  auto first = message.find('\0');
  auto second = first == std::string_view::npos ? first : message.find('\0', first + 1);
  if (second == std::string_view::npos)
    return sasl_failed({xmpp::sasl::Condition::malformed_request, "PLAIN message malformed",
                        xmpp::sasl::CredentialVerdict::none_checked});
  std::string_view authzid = message.substr(0, first);
  std::string_view authcid = message.substr(first + 1, second - first - 1);
  std::string_view password = message.substr(second + 1);
  auto prepared = xmpp::prepare_localpart(authcid);
  // A user name that cannot be an account is an unknown user: a rejected credential.
  if (!prepared)
    return sasl_failed({xmpp::sasl::Condition::not_authorized, "bad username",
                        xmpp::sasl::CredentialVerdict::rejected});
  // Checked before the password, so it tells a guesser nothing about it.
  if (!authzid.empty() && authzid != *prepared + "@" + services_.domain)
    return sasl_failed({xmpp::sasl::Condition::invalid_authzid, "authzid is not the account",
                        xmpp::sasl::CredentialVerdict::none_checked});
  auto stored = services_.storage.accounts().credentials(*prepared, xmpp::sasl::ScramHash::sha256);
  if (!stored)
    return sasl_failed({xmpp::sasl::Condition::temporary_auth_failure, stored.error().message,
                        xmpp::sasl::CredentialVerdict::none_checked});
  if (!*stored)
    return sasl_failed({xmpp::sasl::Condition::not_authorized, "unknown user",
                        xmpp::sasl::CredentialVerdict::rejected});
  auto derived = xmpp::sasl::derive_scram_credentials(
      password, (*stored)->salt, (*stored)->iterations, xmpp::sasl::ScramHash::sha256);
  if (!derived || derived->stored_key.size() != (*stored)->stored_key.size() ||
      CRYPTO_memcmp(derived->stored_key.data(), (*stored)->stored_key.data(),
                    derived->stored_key.size()) != 0)
    return sasl_failed({xmpp::sasl::Condition::not_authorized, "wrong password",
                        xmpp::sasl::CredentialVerdict::rejected});
  scram_mechanism_ = "PLAIN";
  return sasl_succeeded(*prepared, {});
}

xml::AfterEvent C2sSession::sasl_succeeded(std::string_view username,
                                           std::string_view server_final) {
  if (scram_ && scram_->authzid() &&
      *scram_->authzid() != std::string(username) + "@" + services_.domain)
    // The proof was right; the client asked to act as someone else, which guesses nothing.
    return sasl_failed({xmpp::sasl::Condition::invalid_authzid, "authzid is not the account",
                        xmpp::sasl::CredentialVerdict::none_checked});
  scram_.reset();
  authenticated_ = true;
  username_ = std::string(username);
  ++services_.statistics.authentications;
  services_.log->info("{}: {}@{} authenticated with {}", peer_address_, username_, services_.domain,
                      scram_mechanism_);
  if (server_final.empty())
    queue(fmt::format("<success xmlns='{}'/>", kSaslNamespace));
  else
    queue(fmt::format("<success xmlns='{}'>{}</success>", kSaslNamespace,
                      xmpp::base64_encode(server_final)));
  pause_reason_ = PauseReason::sasl_success;
  return xml::AfterEvent::pause;
}

xml::AfterEvent C2sSession::sasl_failed(const xmpp::sasl::Failure& failure) {
  scram_.reset();
  ++services_.statistics.authentication_failures;
  const bool rejected = failure.credentials == xmpp::sasl::CredentialVerdict::rejected;
  if (rejected) {
    ++sasl_failures_;
    // Only wrong credentials feed the per-address limit on guessing: refusals of a mechanism or
    // binding would otherwise lock out an address whose clients merely fall back.
    services_.address_limits.record_auth_failure(peer_address_, Clock::now());
  } else {
    ++sasl_refusals_;
  }
  services_.log->info("{}: authentication failed: {} ({}){}", peer_address_,
                      xmpp::sasl::to_string(failure.condition), failure.detail,
                      rejected ? "" : ", no credential checked");
  queue(sasl_failure(failure.condition));
  if (sasl_failures_ >= kMaxSaslFailuresPerStream) {
    begin_close(xml::StreamErrorCondition::policy_violation, "too many failed authentications");
    return xml::AfterEvent::pause;
  }
  if (sasl_refusals_ >= kMaxSaslRefusalsPerStream) {
    begin_close(xml::StreamErrorCondition::policy_violation, "too many refused authentications");
    return xml::AfterEvent::pause;
  }
  return xml::AfterEvent::continue_parsing;
}

// ---------------------------------------------------------------------------------------------
// Binding and bound stanzas

void C2sSession::handle_bind(const xml::Element& iq) {
  const xml::Element* bind = iq.first_child(kBindNamespace, "bind");
  std::string resource;
  if (const xml::Element* requested = bind->first_child(kBindNamespace, "resource")) {
    std::string text = requested->text();
    if (!text.empty()) {
      auto prepared = xmpp::prepare_resourcepart(text);
      if (!prepared) {
        queue(to_wire(make_error_reply(iq, services_.domain, ErrorType::modify, "bad-request",
                                       prepared.error().message)));
        return;
      }
      resource = *prepared;
    }
  }
  if (resource.empty()) resource = "parley-" + random_id(8);
  auto jid = xmpp::Jid::from_parts(username_, services_.domain, resource);
  if (!jid) {
    queue(to_wire(make_error_reply(iq, services_.domain, ErrorType::modify, "bad-request")));
    return;
  }
  const auto& existing = services_.router.sessions_of(jid->bare_string());
  const bool replaces = services_.router.find(*jid) != nullptr;
  if (!replaces && existing.size() >= services_.limits.max_sessions_per_user) {
    queue(to_wire(make_error_reply(iq, services_.domain, ErrorType::cancel, "resource-constraint",
                                   "too many sessions for this account")));
    return;
  }
  full_jid_ = *jid;
  BoundSession* replaced = services_.router.add(*this);
  in_router_ = true;
  bound_ = true;
  if (replaced != nullptr)
    replaced->terminate(xml::StreamErrorCondition::conflict, "replaced by a new session");
  xml::Element result(kClientNamespace, "iq");
  result.set_attribute("type", "result");
  if (const std::string* id = iq.attribute("id")) result.set_attribute("id", *id);
  xml::Element& out = result.append_child(xml::Element(kBindNamespace, "bind"));
  out.append_child(xml::Element(kBindNamespace, "jid")).append_text(full_jid_.to_string());
  queue(to_wire(result));
  poke_watchdog();  // the negotiation deadline no longer applies
}

void C2sSession::bound_stanza(xml::Element stanza) {
  const StanzaKind kind = kind_of(stanza);
  if (kind == StanzaKind::other) {
    if (handle_stream_management(stanza)) return;
    // CSI and other non-stanza elements are not offered.
    begin_close(xml::StreamErrorCondition::unsupported_stanza_type,
                "only message, presence, iq and stream management are accepted");
    return;
  }
  if (sm_enabled_) ++handled_in_;
  // Flood control: one token per stanza, refilled at stanzas_per_second up to stanza_burst.
  refill_tokens();
  tokens_ -= 1;
  if (auto failure = dispatch_stanza(services_, *this, std::move(stanza)))
    begin_close(failure->condition, failure->text);
}

void C2sSession::refill_tokens() {
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
  tokens_at_ = now;
  tokens_ = std::min(static_cast<double>(services_.limits.stanza_burst),
                     tokens_ + elapsed * static_cast<double>(services_.limits.stanzas_per_second));
}

// ---------------------------------------------------------------------------------------------
// Stream management (XEP-0198)

bool C2sSession::handle_stream_management(const xml::Element& element) {
  if (element.name().namespace_uri != kSmNamespace) return false;
  const auto& name = element.name().local_name;
  if (name == "enable") {
    if (sm_enabled_) {
      queue(
          fmt::format("<failed xmlns='{}'><unexpected-request "
                      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
                      kSmNamespace));
      return true;
    }
    sm_enabled_ = true;
    handled_in_ = 0;
    sent_count_ = 0;
    const std::string* resume = element.attribute("resume");
    sm_resumable_ = resume != nullptr && (*resume == "true" || *resume == "1");
    if (sm_resumable_) {
      sm_id_ = random_id(18);
      queue(fmt::format("<enabled xmlns='{}' id='{}' resume='true' max='{}'/>", kSmNamespace,
                        sm_id_, services_.limits.resumption_timeout.count()));
    } else {
      queue(fmt::format("<enabled xmlns='{}'/>", kSmNamespace));
    }
    return true;
  }
  if (!sm_enabled_) {
    queue(
        fmt::format("<failed xmlns='{}'><unexpected-request "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
                    kSmNamespace));
    return true;
  }
  if (name == "r") {
    queue(fmt::format("<a xmlns='{}' h='{}'/>", kSmNamespace, handled_in_));
    return true;
  }
  if (name == "a") {
    const std::string* h = element.attribute("h");
    std::uint32_t value = 0;
    if (h == nullptr ||
        std::from_chars(h->data(), h->data() + h->size(), value).ec != std::errc() ||
        !acknowledge(value)) {
      begin_close(xml::StreamErrorCondition::undefined_condition,
                  "the acknowledged count is not one this server sent");
      return true;
    }
    ack_requested_ = false;
    return true;
  }
  return false;
}

bool C2sSession::acknowledge(std::uint32_t client_handled) {
  // Counts wrap at 2^32 (XEP-0198 4); the difference is what the client newly acknowledges.
  const std::uint32_t acknowledged_before =
      sent_count_ - static_cast<std::uint32_t>(unacked_.size());
  const std::uint32_t newly = client_handled - acknowledged_before;
  if (newly > unacked_.size()) return false;
  unacked_.erase(unacked_.begin(), unacked_.begin() + newly);
  return true;
}

void C2sSession::handle_resume(const xml::Element& resume) {
  const std::string* previd = resume.attribute("previd");
  const std::string* h = resume.attribute("h");
  std::uint32_t client_handled = 0;
  auto not_found = [&] {
    queue(
        fmt::format("<failed xmlns='{}'><item-not-found "
                    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>",
                    kSmNamespace));
  };
  if (previd == nullptr || h == nullptr ||
      std::from_chars(h->data(), h->data() + h->size(), client_handled).ec != std::errc())
    return not_found();
  auto found = services_.detached_sessions.find(*previd);
  if (found == services_.detached_sessions.end() || found->second->username_ != username_)
    return not_found();  // never reveal another account's session
  std::shared_ptr<C2sSession> old = found->second;
  services_.detached_sessions.erase(found);
  if (!old->acknowledge(client_handled)) {
    old->expire_detached();
    return not_found();
  }
  resume_from(*old, client_handled);
}

void C2sSession::resume_from(C2sSession& old, std::uint32_t client_handled) {
  old.resume_timer_.cancel();
  old.detached_ = false;
  full_jid_ = old.full_jid_;
  std::optional<xml::Element> presence;
  if (old.last_presence() != nullptr) presence = *old.last_presence();
  set_presence(std::move(presence), old.priority());
  if (old.interested_in_roster()) set_interested_in_roster();
  set_carbons(old.carbons_enabled());
  directed_presence_to() = old.directed_presence_to();
  // The new connection takes the old one's place without any presence change.
  services_.router.remove(old);
  old.in_router_ = false;
  services_.router.add(*this);
  if (services_.muc != nullptr) services_.muc->session_resumed(old, *this);
  in_router_ = true;
  bound_ = true;
  sm_enabled_ = true;
  sm_resumable_ = true;
  sm_id_ = old.sm_id_;
  handled_in_ = old.handled_in_;
  sent_count_ = old.sent_count_ - static_cast<std::uint32_t>(old.unacked_.size());
  std::deque<std::string> retransmit = std::move(old.unacked_);
  old.unacked_.clear();
  services_.log->info("{}: {} resumed its session ({} stanzas to resend)", peer_address_,
                      full_jid_.to_string(), retransmit.size());
  queue(fmt::format("<resumed xmlns='{}' previd='{}' h='{}'/>", kSmNamespace, sm_id_, handled_in_));
  (void)client_handled;
  for (const auto& wire : retransmit) send_wire(wire);
  poke_watchdog();
}

void C2sSession::connection_lost() {
  if (sm_resumable_ && in_router_ && !closing_) {
    detach();
    return;
  }
  if (!closing_) begin_close(std::nullopt, {});
}

void C2sSession::detach() {
  detached_ = true;
  closing_ = true;
  pending_plain_.clear();
  services_.detached_sessions[sm_id_] = shared_from_this();
  services_.log->info("{}: {} lost its connection; resumable for {} s", peer_address_,
                      full_jid_.to_string(), services_.limits.resumption_timeout.count());
  resume_timer_.expires_after(services_.limits.resumption_timeout);
  resume_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->expire_detached();
  });
  close_socket();
}

void C2sSession::expire_detached() {
  if (!detached_) return;
  detached_ = false;
  resume_timer_.cancel();
  auto self = shared_from_this();  // the map may hold the last reference
  services_.detached_sessions.erase(sm_id_);
  leave_router();
}

void C2sSession::spill_unacknowledged() {
  // XEP-0198 4: stanzas the client never acknowledged are not lost: messages go to the offline
  // store (or the account's other resources), the rest is dropped.
  std::deque<std::string> pending = std::move(unacked_);
  unacked_.clear();
  for (const auto& wire : pending) {
    auto element = xml::parse_element(wire, kClientNamespace);
    if (!element || kind_of(*element) != StanzaKind::message) continue;
    const std::string type = type_of(*element);
    if (type == "error" || type == "groupchat" || type == "headline") continue;
    if (element->first_child(kClientNamespace, "body") == nullptr) continue;
    element->set_attribute("to", full_jid_.bare_string());
    deliver_to_available_or_store(services_, full_jid_.bare(), *element);
  }
}

void C2sSession::shut_down() {
  if (detached_) return expire_detached();
  terminate(xml::StreamErrorCondition::system_shutdown, "the server is stopping");
}

// ---------------------------------------------------------------------------------------------
// Output

void C2sSession::send_wire(std::string_view wire) {
  if (sm_enabled_) {
    unacked_.emplace_back(wire);
    ++sent_count_;
    if (unacked_.size() > services_.limits.max_unacknowledged_stanzas) {
      if (detached_) return expire_detached();
      if (!closing_)
        terminate(xml::StreamErrorCondition::policy_violation, "too many unacknowledged stanzas");
      return;
    }
  }
  if (closing_) return;
  pending_plain_.append(wire);
  request_flush();
}

void C2sSession::request_flush() {
  if (!output_listed_) {
    output_listed_ = true;
    services_.sessions_with_output.push_back(weak_from_this());
  }
  if (services_.output_flush_posted) return;
  services_.output_flush_posted = true;
  asio::post(socket_.get_executor(), [&services = services_] { flush_listed_output(services); });
}

void C2sSession::flush_listed_output(ServerServices& services) {
  services.output_flush_posted = false;
  // A session that is flushed may queue output for others (a failed write ends it, and its
  // unavailable presence goes out): those are listed afresh, for the next flush.
  std::vector<std::weak_ptr<C2sSession>> batch;
  batch.swap(services.sessions_with_output);
  for (const auto& listed : batch) {
    auto session = listed.lock();
    if (!session) continue;  // ended since it was listed
    session->output_listed_ = false;
    session->encrypt_pending();
  }
  if (services.sessions_with_output.empty()) {
    batch.clear();
    batch.swap(services.sessions_with_output);  // keeps the capacity for the next turn
  }
}

void C2sSession::queue(std::string_view plaintext) {
  if (closing_) return;
  pending_plain_.append(plaintext);
}

void C2sSession::encrypt_pending() {
  // Held output waits for the group commit (services.hpp), which encrypts it or discards it.
  if (socket_closed_ || pending_plain_.empty() || output_held_) return;
  if (sm_enabled_ && !ack_requested_ && !unacked_.empty() && !closing_) {
    // One ack request per batch of stanzas, so the unacknowledged queue stays short.
    pending_plain_.append("<r xmlns='urn:xmpp:sm:3'/>");
    ack_requested_ = true;
  }
  if (tls_ && tls_established_) {
    std::string_view rest = pending_plain_;
    while (!rest.empty()) {
      auto chunk = rest.substr(0, kEncryptChunk);
      rest.remove_prefix(chunk.size());
      auto written = tls_->write(std::span<const std::uint8_t>(
          reinterpret_cast<const std::uint8_t*>(chunk.data()), chunk.size()));
      if (!written) {
        services_.log->debug("{}: TLS write: {}", peer_address_, written.error().message);
        pending_plain_.clear();
        close_socket();
        return;
      }
      while (std::size_t n = tls_->take_ciphertext(ciphertext_buffer))
        out_.append(reinterpret_cast<const char*>(ciphertext_buffer.data()), n);
    }
  } else {
    out_.append(pending_plain_);
  }
  pending_plain_.clear();
  if (out_.size() + writing_.size() > services_.limits.max_outgoing_bytes) {
    // A client that does not read its stanzas cannot make the server buffer without bound.
    services_.log->warn("{}: {} bytes waiting for a client that does not read; disconnecting",
                        peer_address_, out_.size() + writing_.size());
    close_socket();
    return;
  }
  send_ciphertext();
}

void C2sSession::send_ciphertext() {
  // The writer coroutine is the slow path: it takes over while a write is in flight, when the
  // socket does not take everything at once, for the orderly close, and when a write group is
  // open (its wake-up is a handler queued behind the commit, so nothing is sent before what it
  // acknowledges is durable). Otherwise the bytes go out now, without waking anything.
  if (out_.empty() || !writing_.empty() || closing_ || services_.write_group_open())
    return wake_writer();
  boost::system::error_code ec;
  const std::size_t sent = socket_.write_some(asio::buffer(out_), ec);
  // On an error the writer's own write meets it again and ends the connection from there.
  if (!ec) out_.erase(0, sent);
  if (!out_.empty()) wake_writer();
}

void C2sSession::wake_writer() {
  writer_wake_.cancel();
}

// ---------------------------------------------------------------------------------------------
// Ending

void C2sSession::terminate(xml::StreamErrorCondition condition, std::string_view text) {
  begin_close(condition, text);
  encrypt_pending();
}

void C2sSession::leave_router() {
  if (!in_router_ || detached_) return;
  in_router_ = false;
  session_ended(services_, *this);  // unavailable to contacts, as if the client had sent it
  if (services_.muc != nullptr) services_.muc->session_ended(*this);
  services_.router.remove(*this);
  spill_unacknowledged();
}

void C2sSession::begin_close(std::optional<xml::StreamErrorCondition> error,
                             std::string_view text) {
  if (closing_ || socket_closed_) return;
  leave_router();
  // A stream error needs a stream: if the client's header never arrived, open ours first
  // (RFC 6120 4.9.1.2).
  if (tls_ && !tls_established_) {
    // Mid-handshake there is no XMPP to speak; just go.
  } else {
    if (!header_sent_) send_stream_header();
    std::string tail;
    if (error)
      tail += xml::build_stream_error(*error, xml::StreamErrorText{.text = text, .lang = {}});
    tail += "</stream:stream>";
    queue(tail);
    // Held output and the close behind it wait for the group commit's outcome (services.hpp).
    if (!output_held_) seal_output();
  }
  closing_ = true;
  close_deadline_ = Clock::now() + kCloseGrace;
  wake_writer();
  poke_watchdog();
}

void C2sSession::seal_output() {
  if (socket_closed_) return;
  encrypt_pending();
  if (tls_ && tls_established_ && tls_->close()) {
    while (std::size_t n = tls_->take_ciphertext(ciphertext_buffer))
      out_.append(reinterpret_cast<const char*>(ciphertext_buffer.data()), n);
  }
  wake_writer();  // it sends the rest and half-closes
}

void C2sSession::write_group_committed() {
  if (!output_held_) return;
  output_held_ = false;
  // A session that closed its stream while held still owes the close after its output.
  if (closing_)
    seal_output();
  else
    encrypt_pending();
}

bool C2sSession::write_group_failed() {
  if (!output_held_) return false;
  output_held_ = false;
  if (detached_) {
    // Resuming would resend the replies (kept for retransmission) of writes that were lost;
    // ended instead, the client binds anew and sends again what it sent since its last <a/>.
    expire_detached();
    return true;
  }
  if (socket_closed_) return false;
  // Everything queued since the session joined may acknowledge what was lost: withdrawn. What
  // others routed to it meanwhile goes too; with stream management it is spilled to the offline
  // store as the stream ends, like any stanza the client never acknowledged.
  pending_plain_.resize(std::min(held_from_, pending_plain_.size()));
  services_.log->info("{}: {} closed: the store lost what its last stanzas wrote", peer_address_,
                      bound_           ? full_jid_.to_string()
                      : authenticated_ ? username_ + "@" + services_.domain
                                       : std::string("(not authenticated)"));
  constexpr std::string_view kText =
      "the server could not store your last stanzas; send them again";
  if (closing_) {
    // Its own close was held with the rest (begin_close): this one says why instead.
    pending_plain_ += xml::build_stream_error(xml::StreamErrorCondition::internal_server_error,
                                              xml::StreamErrorText{.text = kText, .lang = {}});
    pending_plain_ += "</stream:stream>";
    seal_output();
    return true;
  }
  begin_close(xml::StreamErrorCondition::internal_server_error, kText);
  return true;
}

void C2sSession::maybe_finish() {
  if (reader_done_ &&
      (writer_done_ || (closing_ && !output_held_ && out_.empty() && writing_.empty())))
    close_socket();
}

void C2sSession::close_socket() {
  if (socket_closed_) return;
  leave_router();
  closing_ = true;
  socket_closed_ = true;
  input_watch_.cancel();  // before the descriptor is closed (its number may be reused at once)
  boost::system::error_code ec;
  socket_.close(ec);
  writer_wake_.cancel();
  watchdog_timer_.cancel();
  throttle_timer_.cancel();
  services_.address_limits.close(peer_address_);
  if (on_finished_) {
    auto finished = std::move(on_finished_);
    finished(*this);
  }
}

}  // namespace parley::server
