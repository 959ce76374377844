#pragma once
// One client-to-server connection (RFC 6120): the stream, STARTTLS (required on the c2s port) or
// direct TLS (XEP-0368), SASL (SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS, SCRAM-SHA-256, SCRAM-SHA-1,
// and PLAIN only when configured), resource binding, and then the stanzas of a bound session,
// handed to the IM handlers (delivery, presence, roster, iq).
//
// Input is read when the server's edge-triggered poller (net/edge_poller.hpp) says it arrived,
// into one buffer shared by all sessions of the thread (consumed before the next read, so an
// idle connection holds no read buffer), until a short read empties the socket. Two coroutines
// per connection on the server's io_context: the writer (sends what the session could not send
// at once, and closes) and the watchdog (negotiation, idle and slow-stanza deadlines). All of it
// shares the session through shared_ptr and never runs at the same time (one thread).
//
// Output is batched: stanzas queued for a session while other sessions' input is processed are
// encrypted together in one TLS write by one handler posted per turn for all such sessions
// (fewer records, fewer syscalls), and sent straight from there when the socket takes them.
//
// Bad input: every parser error becomes its stream error (xml/stream_parser.hpp) and the stream
// is closed; stanzas before authentication -> <not-authorized/>; SASL before TLS ->
// <encryption-required/>; plaintext pipelined behind <starttls/> -> closed (STARTTLS injection);
// a 'from' that is not the session's JID -> <invalid-from/>; more than max_outgoing_bytes queued
// for a client that does not read -> connection dropped; a stanza that takes longer than
// stanza_timeout (slowloris) or a negotiation longer than negotiation_timeout ->
// <connection-timeout/>.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "net/edge_poller.hpp"
#include "server/router.hpp"
#include "server/services.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::server {

class C2sSession final : public BoundSession,
                         public xml::StreamEvents,
                         public net::InputListener,
                         public std::enable_shared_from_this<C2sSession> {
 public:
  using Clock = std::chrono::steady_clock;

  // `peer_address` was already counted in services.address_limits; the session releases it.
  C2sSession(ServerServices& services, std::shared_ptr<const tls::ServerContext> tls_context,
             boost::asio::ip::tcp::socket socket, std::string peer_address, bool direct_tls);
  ~C2sSession() override;

  // Starts the coroutines. `on_finished` runs once, when the socket is closed.
  void start(std::function<void(C2sSession&)> on_finished);

  // BoundSession
  void send_wire(std::string_view wire) override;
  void terminate(xml::StreamErrorCondition condition, std::string_view text) override;

  // The server is stopping: <system-shutdown/>, flush, close; a detached session is ended now.
  void shut_down();
  // A detached session's resumption window closed (or the server stops): it goes unavailable
  // and its unacknowledged messages go to the offline store.
  void expire_detached();
  bool is_bound() const { return bound_; }

  // The outcome of a write group this session joined (services.hpp), from the commit handler.
  // Committed: the output held since it joined goes out. Failed: that output is discarded and
  // the stream ends with <internal-server-error/> (a detached session is not resumable any
  // more); true when this ended a session.
  void write_group_committed();
  bool write_group_failed();

 private:
  enum class PauseReason { none, starttls, sasl_success, throttled };

  // Input: the poller (services.input_poller) calls on_input() when input arrives.
  void on_input() override;
  void read_input();
  void wait_for_stanza_tokens();

  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> watchdog();

  // Input processing (synchronous; runs between two awaits of the reader).
  void on_ciphertext(std::span<const std::uint8_t> bytes);
  void on_plaintext(std::string_view bytes);
  void after_feed(xml::StreamResult<xml::FeedStatus> status);
  void drain_tls_plaintext();
  void refill_tokens();
  bool begin_tls();  // a server TLS session on this connection; false (and closed) on failure
  void after_tls_handshake();

  // xml::StreamEvents
  xml::AfterEvent on_stream_open(const xml::StreamHeader& header) override;
  xml::AfterEvent on_stanza(xml::Element stanza) override;
  void on_stream_close() override;
  xml::AfterEvent handle_stanza(xml::Element stanza);
  void join_write_group(std::size_t held_from);

  // Negotiation steps.
  xml::AfterEvent before_tls(const xml::Element& element);
  xml::AfterEvent before_auth(const xml::Element& element);
  xml::AfterEvent before_bind(const xml::Element& element);
  void bound_stanza(xml::Element stanza);
  xml::AfterEvent handle_auth(const xml::Element& auth);
  xml::AfterEvent handle_sasl_response(const xml::Element& response);
  xml::AfterEvent sasl_succeeded(std::string_view username, std::string_view server_final);
  xml::AfterEvent sasl_failed(const xmpp::sasl::Failure& failure);
  xml::AfterEvent handle_plain(std::string_view message);
  void handle_bind(const xml::Element& iq);

  // Stream management (XEP-0198).
  bool handle_stream_management(const xml::Element& element);
  void handle_resume(const xml::Element& resume);
  void resume_from(C2sSession& old, std::uint32_t client_handled);
  bool acknowledge(std::uint32_t client_handled);
  void connection_lost();
  void detach();
  void spill_unacknowledged();

  void send_stream_header();
  std::string features() const;

  // Output.
  void queue(std::string_view plaintext);
  void request_flush();  // lists the session for this turn's flush (services.hpp)
  static void flush_listed_output(ServerServices& services);
  void encrypt_pending();
  void seal_output();  // encrypt_pending, then TLS close_notify: the last bytes of the stream
  void send_ciphertext();
  void wake_writer();

  // Ending.
  void begin_close(std::optional<xml::StreamErrorCondition> error, std::string_view text);
  void leave_router();
  void maybe_finish();
  void close_socket();
  void poke_watchdog();
  Clock::time_point next_deadline() const;

  ServerServices& services_;
  std::shared_ptr<const tls::ServerContext> tls_context_;
  boost::asio::ip::tcp::socket socket_;
  net::EdgePoller::Watch input_watch_;  // after socket_: cancelled before the socket closes
  boost::asio::steady_timer writer_wake_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer throttle_timer_;
  boost::asio::steady_timer resume_timer_;  // a detached session's resumption window
  std::string peer_address_;
  std::string stream_id_;
  std::function<void(C2sSession&)> on_finished_;

  std::unique_ptr<tls::Session> tls_;
  bool direct_tls_ = false;
  bool tls_established_ = false;
  xml::StreamParser parser_;
  PauseReason pause_reason_ = PauseReason::none;
  bool header_sent_ = false;

  std::optional<xmpp::sasl::ScramServer> scram_;
  std::string scram_mechanism_;
  int sasl_failures_ = 0;  // rejected credentials (the RFC 6120 6.4.5 retries)
  int sasl_refusals_ = 0;  // failures that judged no credential
  bool authenticated_ = false;
  std::string username_;  // prepared localpart once authenticated
  bool bound_ = false;
  bool in_router_ = false;

  std::string pending_plain_;   // queued stanzas, not yet encrypted
  std::string out_;             // ciphertext (or plaintext before TLS) ready for the socket
  std::string writing_;         // the buffer the writer is sending now
  bool output_listed_ = false;  // in services_.sessions_with_output
  // Joined to the open write group: pending_plain_ from held_from_ on may acknowledge writes that
  // the commit can still lose, so it is not encrypted until the commit's outcome is known (what
  // comes before held_from_ was queued earlier and may go out either way).
  bool output_held_ = false;
  std::size_t held_from_ = 0;

  // Flood control: a token bucket of stanzas.
  double tokens_ = 0;
  bool throttled_ = false;  // out of tokens: the parser is paused and the socket is not read
  Clock::time_point tokens_at_;

  // Stream management (XEP-0198).
  bool sm_enabled_ = false;
  bool sm_resumable_ = false;
  bool detached_ = false;
  bool ack_requested_ = false;
  std::string sm_id_;
  std::uint32_t handled_in_ = 0;  // stanzas received and handled ('h' we report)
  std::uint32_t sent_count_ = 0;  // stanzas sent since enable (acknowledged + unacked)
  std::deque<std::string> unacked_;

  Clock::time_point accepted_at_;
  Clock::time_point last_activity_;
  std::optional<Clock::time_point> stanza_started_;
  bool closing_ = false;
  Clock::time_point close_deadline_;
  bool reader_done_ = false;
  bool writer_done_ = false;
  bool socket_closed_ = false;
};

}  // namespace parley::server
