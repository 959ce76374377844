#include "xmpp/client_stream.hpp"

#include <array>
#include <charconv>
#include <utility>

#include "xml/stream_error.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/stanza.hpp"

namespace parley::xmpp {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kReadBufferBytes = 16 * 1024;
constexpr std::string_view kStreamManagementNamespace = "urn:xmpp:sm:3";  // XEP-0198
// RFC 4422 3.1: a mechanism name is 1-20 characters of A-Z, 0-9, '-' and '_'.
constexpr std::size_t kMaxMechanismNameLength = 20;
constexpr std::size_t kMaxChannelBindingTypes = 16;

bool is_named(const xml::Element& element, std::string_view namespace_uri,
              std::string_view local_name) {
  return element.name().namespace_uri == namespace_uri && element.name().local_name == local_name;
}

bool valid_mechanism_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMechanismNameLength) return false;
  for (const char c : name) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// The first child element's name: the condition of a <failure/> or <stream:error/>.
std::string first_child_name(const xml::Element& element) {
  for (const auto& child : element.children()) {
    if (child.is_element() && child.element().name().local_name != "text")
      return child.element().name().local_name;
  }
  return "no condition";
}

std::string child_text(const xml::Element& element, std::string_view namespace_uri) {
  const xml::Element* text = element.first_child(namespace_uri, "text");
  return text == nullptr ? std::string() : escape_for_terminal(text->text().substr(0, 512));
}

// RFC 6120 6.4.2: "=" is an empty payload; anything else must be strict base64.
Result<std::string> decode_sasl_payload(const xml::Element& element) {
  const std::string text = element.text();
  if (text.empty() || text == "=") return std::string();
  return base64_decode_strict(text, sasl::kMaxScramMessageOctets);
}

std::string sasl_element(std::string_view local_name, std::string_view payload,
                         std::string_view mechanism = {}) {
  std::string out = "<" + std::string(local_name) + " xmlns='" + std::string(kSaslNamespace) + "'";
  if (!mechanism.empty()) out += " mechanism='" + std::string(mechanism) + "'";
  if (payload.empty()) {
    // RFC 6120 6.4.2: an empty initial response is "=", an empty response element is empty.
    if (local_name == "auth") return out + ">=</auth>";
    return out + "/>";
  }
  return out + ">" + base64_encode(payload) + "</" + std::string(local_name) + ">";
}

class Events final : public xml::StreamEvents {
 public:
  xml::AfterEvent on_stream_open(const xml::StreamHeader& stream_header) override {
    header = stream_header;
    return xml::AfterEvent::continue_parsing;
  }
  // Pause after every element so that the caller sees exactly what arrived before deciding what
  // to send next (and what, if anything, followed it in the same read).
  xml::AfterEvent on_stanza(xml::Element stanza) override {
    element = std::move(stanza);
    return xml::AfterEvent::pause;
  }
  void on_stream_close() override { closed = true; }

  void clear() {
    header.reset();
    element.reset();
    closed = false;
  }

  std::optional<xml::StreamHeader> header;
  std::optional<xml::Element> element;
  bool closed = false;
};

enum class ReadOutcome { fed, timed_out, connection_closed };

}  // namespace

const char* to_string(TlsMode mode) {
  return mode == TlsMode::direct_tls ? "direct TLS" : "STARTTLS";
}

const char* to_string(NegotiationStage stage) {
  switch (stage) {
    case NegotiationStage::connect:
      return "connect";
    case NegotiationStage::stream:
      return "stream";
    case NegotiationStage::starttls:
      return "starttls";
    case NegotiationStage::tls:
      return "tls";
    case NegotiationStage::certificate:
      return "certificate";
    case NegotiationStage::authentication:
      return "authentication";
    case NegotiationStage::bind:
      return "bind";
  }
  return "unknown";
}

class ClientStream::Impl {
 public:
  Impl(net::BlockingSocket connected, const ClientStreamOptions& stream_options)
      : socket(std::move(connected)),
        options(stream_options),
        parser(events, xml::StreamParserOptions{stream_options.limits.parser,
                                                std::string(kClientNamespace)}) {}

  net::BlockingSocket socket;
  ClientStreamOptions options;
  Events events;
  xml::StreamParser parser;
  std::unique_ptr<tls::Session> tls;
  bool parser_paused = false;
  bool finished = false;    // the stream is over (error, close, or the peer left)
  bool close_sent = false;  // our </stream:stream> went out
  std::size_t bytes_before_tls = 0;
  net::Deadline negotiation_deadline{};
  std::optional<Jid> bound;
  StreamSecurity security;
  xml::Element features_after_authentication;
  std::optional<std::uint32_t> resumed_with;

  const std::string& peer() const { return socket.peer(); }
  const std::string& domain() const { return options.account.domainpart(); }

  NegotiationFailure failure(NegotiationStage stage, Error error) {
    finished = true;
    return NegotiationFailure{stage, std::move(error)};
  }
  std::unexpected<NegotiationFailure> failed(NegotiationStage stage, Error error) {
    return std::unexpected(failure(stage, std::move(error)));
  }

  // ---- bytes ------------------------------------------------------------------------------------

  Result<void> flush_tls(net::Deadline deadline) {
    std::array<std::uint8_t, kReadBufferBytes> buffer{};
    while (tls && tls->pending_ciphertext() > 0) {
      const std::size_t n = tls->take_ciphertext(buffer);
      if (auto sent = socket.send_all(std::span<const std::uint8_t>(buffer.data(), n), deadline);
          !sent) {
        return sent;
      }
    }
    return {};
  }

  Result<void> send_bytes(std::string_view bytes, net::Deadline deadline) {
    if (!tls) return socket.send_all(bytes, deadline);
    auto written = tls->write(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    if (!written) return written;
    return flush_tls(deadline);
  }

  Result<void> feed_parser(std::string_view bytes) {
    auto status = parser.feed(bytes);
    if (!status) {
      finished = true;
      return fail(Error::parse("malformed stream from " + peer() + ": " + status.error().detail +
                               " (" + std::string(xml::to_string(status.error().condition)) + ")"));
    }
    if (*status == xml::FeedStatus::paused) parser_paused = true;
    return {};
  }

  // Reads whatever arrives next (decrypting it when TLS is up) and feeds it to the parser.
  Result<ReadOutcome> read_more(net::Deadline deadline) {
    std::array<std::uint8_t, kReadBufferBytes> buffer{};
    for (;;) {
      if (tls) {
        std::array<std::uint8_t, kReadBufferBytes> plaintext{};
        auto read = tls->read(plaintext);
        // TLS 1.3 may need to answer (key update); whatever it produced goes out now.
        if (auto flushed = flush_tls(deadline); !flushed) return fail(flushed.error());
        if (!read) return fail(read.error());
        if (read->status == tls::ReadStatus::data) {
          if (auto fed = feed_parser(
                  std::string_view(reinterpret_cast<const char*>(plaintext.data()), read->bytes));
              !fed) {
            return fail(fed.error());
          }
          return ReadOutcome::fed;
        }
        if (read->status == tls::ReadStatus::closed_by_peer) return ReadOutcome::connection_closed;
      }
      auto n = socket.receive_some(buffer, deadline);
      if (!n) {
        // BlockingSocket reports a timeout as an error; the deadline tells which it was.
        if (Clock::now() >= deadline) return ReadOutcome::timed_out;
        return fail(n.error());
      }
      if (*n == 0) return ReadOutcome::connection_closed;
      if (tls) {
        if (auto fed = tls->feed_ciphertext(std::span<const std::uint8_t>(buffer.data(), *n));
            !fed) {
          return fail(fed.error());
        }
        continue;
      }
      bytes_before_tls += *n;
      if (bytes_before_tls > options.limits.max_bytes_before_tls) {
        return fail(Error::limit(peer() + " sent more than " +
                                 std::to_string(options.limits.max_bytes_before_tls) +
                                 " bytes before TLS"));
      }
      if (auto fed =
              feed_parser(std::string_view(reinterpret_cast<const char*>(buffer.data()), *n));
          !fed) {
        return fail(fed.error());
      }
      return ReadOutcome::fed;
    }
  }

  // The next top-level element; nullopt on timeout. Stream errors and the end of the stream are
  // errors (and end the stream).
  Result<std::optional<xml::Element>> next_element(net::Deadline deadline) {
    if (finished) return fail(Error::io("the stream with " + peer() + " is closed"));
    for (;;) {
      if (events.element) {
        xml::Element element = std::move(*events.element);
        events.element.reset();
        if (is_named(element, xml::kStreamsNamespace, "error")) {
          finished = true;
          std::string text = child_text(element, xml::kStreamErrorNamespace);
          return fail(Error::io(peer() + " ended the stream with a stream error: " +
                                escape_for_terminal(first_child_name(element)) +
                                (text.empty() ? "" : " (" + text + ")")));
        }
        return std::optional<xml::Element>(std::move(element));
      }
      if (parser_paused) {
        parser_paused = false;
        auto status = parser.resume();
        if (!status) {
          finished = true;
          return fail(
              Error::parse("malformed stream from " + peer() + ": " + status.error().detail));
        }
        if (*status == xml::FeedStatus::paused) parser_paused = true;
        continue;
      }
      if (events.closed) {
        finished = true;
        return fail(Error::io(peer() + " closed the XMPP stream"));
      }
      auto outcome = read_more(deadline);
      if (!outcome) {
        finished = true;
        return fail(outcome.error());
      }
      if (*outcome == ReadOutcome::timed_out) return std::optional<xml::Element>();
      if (*outcome == ReadOutcome::connection_closed) {
        finished = true;
        return fail(Error::io(peer() + " closed the connection"));
      }
    }
  }

  // During negotiation: the next element or an error naming what was awaited.
  Result<xml::Element> expect(std::string_view waiting_for) {
    auto element = next_element(negotiation_deadline);
    if (!element) return fail(element.error());
    if (!*element) {
      finished = true;
      return fail(
          Error::io("timed out waiting for " + std::string(waiting_for) + " from " + peer()));
    }
    return std::move(**element);
  }

  // ---- negotiation steps ------------------------------------------------------------------------

  // RFC 6120 4.2/4.3: send our header, receive the server's and its features. `held`: bytes the
  // server already sent for the new stream (see restart_after_sasl), fed after our header.
  Negotiated<xml::Element> open_stream(std::string_view held = {}) {
    parser.reset();
    events.clear();
    parser_paused = false;
    std::string header = "<?xml version='1.0'?><stream:stream to='";
    xml::append_escaped_attribute_value(header, domain());
    header += "'";
    if (tls) {
      // RFC 6120 4.7.1: the bare JID as 'from', once TLS keeps it from onlookers.
      header += " from='";
      xml::append_escaped_attribute_value(header, options.account.bare_string());
      header += "'";
    }
    header +=
        " version='1.0' xml:lang='en' xmlns='jabber:client' "
        "xmlns:stream='http://etherx.jabber.org/streams'>";
    if (auto sent = send_bytes(header, negotiation_deadline); !sent)
      return failed(NegotiationStage::stream, sent.error());
    if (!held.empty()) {
      if (auto fed = feed_parser(held); !fed) return failed(NegotiationStage::stream, fed.error());
    }
    auto features = expect("stream features");
    if (!features) return failed(NegotiationStage::stream, features.error());
    if (!is_named(*features, xml::kStreamsNamespace, "features")) {
      return failed(
          NegotiationStage::stream,
          Error::parse(peer() + " sent <" + escape_for_terminal(features->name().local_name) +
                       "/> where stream features were expected"));
    }
    return std::move(*features);
  }

  // RFC 6120 5.4.2. The only outcomes: TLS is being set up, or we stop having sent nothing more.
  Negotiated<void> starttls(const xml::Element& features) {
    if (features.first_child(kTlsNamespace, "starttls") == nullptr) {
      return failed(NegotiationStage::starttls,
                    Error::io(domain() + " (" + peer() +
                              ") does not offer STARTTLS; Parley never continues without TLS, "
                              "so nothing was sent (no user name, no password)"));
    }
    if (auto sent =
            send_bytes("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", negotiation_deadline);
        !sent) {
      return failed(NegotiationStage::starttls, sent.error());
    }
    auto answer = expect("<proceed/>");
    if (!answer) return failed(NegotiationStage::starttls, answer.error());
    if (is_named(*answer, kTlsNamespace, "failure")) {
      return failed(NegotiationStage::starttls,
                    Error::io(domain() + " (" + peer() +
                              ") answered <starttls/> with <failure/>; nothing else was sent"));
    }
    if (!is_named(*answer, kTlsNamespace, "proceed")) {
      return failed(
          NegotiationStage::starttls,
          Error::parse(peer() + " sent <" + escape_for_terminal(answer->name().local_name) +
                       "/> where <proceed/> was expected"));
    }
    // Plaintext behind <proceed/> would be read as if it came through TLS by a careless client.
    if (parser_paused && !parser.unparsed_after_pause().empty()) {
      return failed(NegotiationStage::starttls,
                    Error::parse(peer() + " sent plaintext after <proceed/> (STARTTLS injection); "
                                          "connection closed"));
    }
    return {};
  }

  // The TLS handshake, then the judge, then tls::Session::accept_peer().
  Negotiated<void> secure(const CertificateJudge& judge) {
    auto session = tls::Session::client(options.tls_context, domain());
    if (!session) return failed(NegotiationStage::tls, session.error());
    tls = std::move(*session);
    std::array<std::uint8_t, kReadBufferBytes> buffer{};
    std::size_t received = 0;
    for (;;) {
      auto progress = tls->handshake();
      // Flush even on failure: that is how our alert reaches the server.
      auto flushed = flush_tls(negotiation_deadline);
      if (!progress) {
        return failed(NegotiationStage::tls, Error::io("TLS handshake with " + peer() +
                                                       " failed: " + progress.error().message));
      }
      if (!flushed) return failed(NegotiationStage::tls, flushed.error());
      if (*progress == tls::HandshakeProgress::complete) break;
      auto n = socket.receive_some(buffer, negotiation_deadline);
      if (!n) {
        if (Clock::now() >= negotiation_deadline) {
          return failed(NegotiationStage::tls,
                        Error::io("timed out during the TLS handshake with " + peer()));
        }
        return failed(NegotiationStage::tls, n.error());
      }
      if (*n == 0) {
        return failed(NegotiationStage::tls,
                      Error::io(peer() + " closed the connection during the TLS handshake"));
      }
      received += *n;
      if (received > options.limits.max_handshake_bytes) {
        return failed(NegotiationStage::tls,
                      Error::limit(peer() + " sent more than " +
                                   std::to_string(options.limits.max_handshake_bytes) +
                                   " bytes of TLS handshake"));
      }
      if (auto fed = tls->feed_ciphertext(std::span<const std::uint8_t>(buffer.data(), *n)); !fed) {
        return failed(NegotiationStage::tls, fed.error());
      }
    }

    if (!judge) {
      return failed(NegotiationStage::certificate,
                    Error::invalid_argument("no certificate judge was given; refusing"));
    }
    const auto judging_started = Clock::now();
    auto acceptance = judge(*tls);
    // A person may have taken minutes at a prompt; the network budget starts again from here.
    negotiation_deadline += Clock::now() - judging_started;
    if (!acceptance) {
      // close_notify is not application data; it tells the server we are leaving.
      if (tls->close()) (void)flush_tls(Clock::now() + std::chrono::seconds(1));
      return failed(NegotiationStage::certificate, acceptance.error());
    }
    if (auto accepted = tls->accept_peer(*acceptance); !accepted)
      return failed(NegotiationStage::certificate, accepted.error());
    security.certificate = acceptance->basis();
    auto info = tls->connection_info();
    if (!info) return failed(NegotiationStage::tls, info.error());
    security.tls = *info;
    return {};
  }

  Negotiated<void> authenticate(const xml::Element& features, std::string_view password) {
    const auto stage = NegotiationStage::authentication;
    const xml::Element* mechanisms = features.first_child(kSaslNamespace, "mechanisms");
    if (mechanisms == nullptr) {
      return failed(stage, Error::io(domain() + " offers no SASL authentication after TLS"));
    }
    SaslOffer offer;
    for (const auto& child : mechanisms->children()) {
      if (!child.is_element() || !is_named(child.element(), kSaslNamespace, "mechanism")) continue;
      if (offer.mechanisms.size() >= options.limits.max_sasl_mechanisms) {
        return failed(stage, Error::limit(peer() + " offers more than " +
                                          std::to_string(options.limits.max_sasl_mechanisms) +
                                          " SASL mechanisms"));
      }
      const std::string name = child.element().text();
      // Names outside RFC 4422's syntax cannot be chosen; keep them out of messages too.
      if (valid_mechanism_name(name)) offer.mechanisms.push_back(name);
    }
    if (const xml::Element* bindings =
            features.first_child(kChannelBindingNamespace, "sasl-channel-binding")) {
      offer.channel_binding_types.emplace();
      for (const auto& child : bindings->children()) {
        if (!child.is_element() ||
            !is_named(child.element(), kChannelBindingNamespace, "channel-binding"))
          continue;
        if (offer.channel_binding_types->size() >= kMaxChannelBindingTypes) break;
        if (const std::string* type = child.element().attribute("type"))
          offer.channel_binding_types->push_back(*type);
      }
    }

    SaslConnection connection;
    connection.tls_version = security.tls.protocol;
    connection.tls_server_end_point_available =
        tls->channel_binding(tls::ChannelBinding::tls_server_end_point).has_value();
    connection.certificate = security.certificate == tls::AcceptanceBasis::verified_chain
                                 ? CertificateBasis::verified_chain
                                 : CertificateBasis::accepted_without_chain;
    connection.plain = options.plain;
    connection.fips = options.tls_context->policy().fips;
    auto choice = choose_sasl_mechanism(offer, connection);
    if (!choice) {
      return failed(
          stage, Error::io("cannot authenticate to " + domain() + ": " + choice.error().message));
    }
    security.sasl_mechanism = choice->mechanism_name();
    for (auto& note : choice->notes) security.notes.push_back(std::move(note));

    if (choice->kind == SaslMechanismKind::plain) return authenticate_plain(password);
    return authenticate_scram(*choice, password);
  }

  Negotiated<void> authenticate_plain(std::string_view password) {
    // RFC 4616 2: [authzid] NUL authcid NUL passwd.
    std::string message;
    message.push_back('\0');
    message += options.account.localpart();
    message.push_back('\0');
    message += password;
    if (auto sent = send_bytes(sasl_element("auth", message, "PLAIN"), negotiation_deadline);
        !sent) {
      return failed(NegotiationStage::authentication, sent.error());
    }
    auto answer = expect("the SASL outcome");
    if (!answer) return failed(NegotiationStage::authentication, answer.error());
    if (is_named(*answer, kSaslNamespace, "success")) return {};
    return failed(NegotiationStage::authentication, sasl_refusal(*answer));
  }

  Error sasl_refusal(const xml::Element& answer) {
    if (is_named(answer, kSaslNamespace, "failure")) {
      const std::string text = child_text(answer, kSaslNamespace);
      return Error::io("authentication failed: " + domain() + " answered " +
                       escape_for_terminal(first_child_name(answer)) +
                       (text.empty() ? "" : " (" + text + ")"));
    }
    return Error::parse(peer() + " sent <" + escape_for_terminal(answer.name().local_name) +
                        "/> during SASL authentication");
  }

  // Tells the server we give up (RFC 6120 6.4.4) and reports why.
  std::unexpected<NegotiationFailure> abort_sasl(const std::string& why) {
    (void)send_bytes(sasl_element("abort", {}), negotiation_deadline);
    return failed(NegotiationStage::authentication, Error::io(why));
  }

  Negotiated<void> authenticate_scram(const SaslChoice& choice, std::string_view password) {
    const auto stage = NegotiationStage::authentication;
    sasl::ScramClientOptions scram;
    scram.mechanism = choice.scram;
    scram.username = options.account.localpart();
    scram.password = std::string(password);
    if (choice.binding) {
      const tls::ChannelBinding type = *choice.binding == sasl::ChannelBindingType::tls_exporter
                                           ? tls::ChannelBinding::tls_exporter
                                           : tls::ChannelBinding::tls_server_end_point;
      auto data = tls->channel_binding(type);
      if (!data) return failed(stage, data.error());
      scram.binding = sasl::ChannelBinding{*choice.binding, std::move(*data)};
    }
    auto client = sasl::ScramClient::create(std::move(scram));
    if (!client) return failed(stage, client.error());
    if (choice.scram.binding == sasl::ChannelBindingUse::plus)
      security.channel_binding = choice.binding;

    if (auto sent = send_bytes(sasl_element("auth", client->client_first(), choice.scram.name()),
                               negotiation_deadline);
        !sent) {
      return failed(stage, sent.error());
    }
    bool server_first_seen = false;
    for (std::size_t round = 0; round < options.limits.max_sasl_round_trips; ++round) {
      auto answer = expect("the server's SASL answer");
      if (!answer) return failed(stage, answer.error());
      if (is_named(*answer, kSaslNamespace, "failure")) return failed(stage, sasl_refusal(*answer));
      const bool success = is_named(*answer, kSaslNamespace, "success");
      if (!success && !is_named(*answer, kSaslNamespace, "challenge"))
        return failed(stage, sasl_refusal(*answer));
      auto payload = decode_sasl_payload(*answer);
      if (!payload) {
        return abort_sasl("the server's SASL " + std::string(success ? "success" : "challenge") +
                          " is not valid base64: " + payload.error().message);
      }
      if (!server_first_seen) {
        if (success) {
          return failed(stage, Error::io(domain() + " declared success before SCRAM finished; "
                                                    "mutual authentication failed"));
        }
        server_first_seen = true;
        auto final_message = client->receive_server_first(*payload);
        if (!final_message) {
          return abort_sasl("SCRAM with " + domain() + " failed (" +
                            sasl::to_string(final_message.error().condition) +
                            "): " + final_message.error().detail);
        }
        if (auto sent = send_bytes(sasl_element("response", *final_message), negotiation_deadline);
            !sent) {
          return failed(stage, sent.error());
        }
        continue;
      }
      if (!client->succeeded()) {
        // RFC 6120 6.3.10: the server-final message comes in <success/> or, from older servers,
        // in one more <challenge/> answered with an empty <response/>.
        auto verified = client->verify_server_final(*payload);
        if (!verified) {
          return abort_sasl("the server did not prove that it knows the password (" +
                            std::string(sasl::to_string(verified.error().condition)) +
                            "): " + verified.error().detail);
        }
        if (!success) {
          if (auto sent = send_bytes(sasl_element("response", {}), negotiation_deadline); !sent)
            return failed(stage, sent.error());
          continue;
        }
        return {};
      }
      if (success && payload->empty()) return {};
      return failed(stage, Error::parse(peer() + " sent more SASL data after its proof"));
    }
    return abort_sasl("SASL with " + domain() + " took more than " +
                      std::to_string(options.limits.max_sasl_round_trips) + " round trips");
  }

  // RFC 6120 7: resource binding, then RFC 3921 3 session establishment when required.
  Negotiated<void> bind(const xml::Element& features) {
    const auto stage = NegotiationStage::bind;
    if (features.first_child(kBindNamespace, "bind") == nullptr)
      return failed(stage, Error::io(domain() + " does not offer resource binding"));
    const std::string bind_id = new_stanza_id("bind");
    if (auto sent = send_stanza(make_bind_request(bind_id, options.resource), negotiation_deadline);
        !sent) {
      return failed(stage, sent.error());
    }
    auto reply = await_iq(bind_id, "the bind result");
    if (!reply) return failed(stage, reply.error());
    if (const std::string* type = reply->attribute("type"); type && *type == "error") {
      const auto error = read_stanza_error(*reply);
      return failed(stage, Error::io(domain() + " refused to bind a resource: " +
                                     (error ? describe(*error) : "no reason given")));
    }
    const xml::Element* bind = reply->first_child(kBindNamespace, "bind");
    const xml::Element* jid_element = bind ? bind->first_child(kBindNamespace, "jid") : nullptr;
    if (jid_element == nullptr)
      return failed(stage, Error::parse(peer() + " sent a bind result without a JID"));
    auto jid = Jid::parse(jid_element->text());
    if (!jid) return failed(stage, Error::parse("the bound JID: " + jid.error().message));
    if (!jid->is_full() || jid->bare() != options.account.bare()) {
      return failed(stage,
                    Error::parse(peer() + " bound " + escape_for_terminal(jid->to_string()) +
                                 ", which is not a resource of " + options.account.bare_string()));
    }
    bound = *jid;

    const xml::Element* session = features.first_child(kSessionNamespace, "session");
    if (session != nullptr && session->first_child(kSessionNamespace, "optional") == nullptr) {
      const std::string session_id = new_stanza_id("session");
      if (auto sent = send_stanza(make_session_request(session_id), negotiation_deadline); !sent)
        return failed(stage, sent.error());
      auto established = await_iq(session_id, "the session result");
      if (!established) return failed(stage, established.error());
      if (const std::string* type = established->attribute("type"); !type || *type != "result") {
        const auto error = read_stanza_error(*established);
        return failed(stage, Error::io(domain() + " refused the session: " +
                                       (error ? describe(*error) : "no reason given")));
      }
    }
    return {};
  }

  // XEP-0198 6: <resume previd h/> in place of binding. True when the server answered
  // <resumed/> (the earlier session's JID is this stream's), false for <failed/>.
  Negotiated<bool> resume(const StreamResumption& resumption) {
    const auto stage = NegotiationStage::bind;
    xml::Element request(kStreamManagementNamespace, "resume");
    request.set_attribute("previd", resumption.previous_id);
    request.set_attribute("h", std::to_string(resumption.handled));
    if (auto sent = send_stanza(request, negotiation_deadline); !sent)
      return failed(stage, sent.error());
    auto answer = expect("the answer to <resume/>");
    if (!answer) return failed(stage, answer.error());
    if (is_named(*answer, kStreamManagementNamespace, "failed")) return false;
    if (!is_named(*answer, kStreamManagementNamespace, "resumed")) {
      return failed(stage, Error::parse(peer() + " answered <resume/> with <" +
                                        escape_for_terminal(answer->name().local_name) + "/>"));
    }
    const std::string* h = answer->attribute("h");
    std::uint32_t handled = 0;
    if (h == nullptr ||
        std::from_chars(h->data(), h->data() + h->size(), handled).ptr != h->data() + h->size() ||
        h->empty()) {
      return failed(stage, Error::parse(peer() + " sent <resumed/> without a valid h"));
    }
    bound = resumption.full_jid;
    resumed_with = handled;
    return true;
  }

  // Waits for the iq result/error with this id during negotiation, skipping (a bounded number
  // of) anything else.
  Result<xml::Element> await_iq(const std::string& id, std::string_view waiting_for) {
    for (std::size_t skipped = 0; skipped <= options.limits.max_unexpected_negotiation_elements;
         ++skipped) {
      auto element = expect(waiting_for);
      if (!element) return element;
      if (!is_stanza(*element, "iq")) continue;
      const std::string* element_id = element->attribute("id");
      const std::string* type = element->attribute("type");
      if (element_id && *element_id == id && type && (*type == "result" || *type == "error"))
        return element;
    }
    finished = true;
    return fail(Error::limit(peer() + " sent too many other stanzas while we waited for " +
                             std::string(waiting_for)));
  }

  Result<void> send_stanza(const xml::Element& stanza, net::Deadline deadline) {
    const std::string bytes = xml::serialize(stanza, {kClientNamespace});
    if (bytes.size() > options.limits.max_outgoing_stanza_bytes) {
      return fail(Error::limit("stanza of " + std::to_string(bytes.size()) +
                               " bytes is larger than the limit of " +
                               std::to_string(options.limits.max_outgoing_stanza_bytes)));
    }
    return send_bytes(bytes, deadline);
  }

  // After SASL success (RFC 6120 6.4.6): a new stream. Bytes the server sent after <success/>
  // (its new stream header, if it was quick) belong to the new stream; TLS vouches for them.
  Negotiated<xml::Element> restart_after_sasl() {
    std::string held;
    if (parser_paused) held = std::string(parser.unparsed_after_pause());
    return open_stream(held);
  }
};

ClientStream::ClientStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientStream::~ClientStream() = default;

Negotiated<std::unique_ptr<ClientStream>> ClientStream::open(const ClientStreamOptions& options,
                                                             const CertificateJudge& judge,
                                                             std::string_view password) {
  if (!options.tls_context) {
    return std::unexpected(NegotiationFailure{
        NegotiationStage::tls, Error::invalid_argument("no TLS client context was given")});
  }
  if (!options.account.has_localpart()) {
    return std::unexpected(
        NegotiationFailure{NegotiationStage::connect,
                           Error::invalid_argument("the account " + options.account.to_string() +
                                                   " has no localpart (user name)")});
  }
  const std::string host =
      options.connect_host.empty() ? options.account.domainpart() : options.connect_host;
  const auto started = Clock::now();
  auto socket =
      net::BlockingSocket::connect(host, options.port, started + options.limits.connect_timeout);
  if (!socket)
    return std::unexpected(NegotiationFailure{NegotiationStage::connect, socket.error()});

  auto impl = std::make_unique<Impl>(std::move(*socket), options);
  impl->negotiation_deadline = started + options.limits.negotiation_timeout;
  impl->security.tls_mode = options.tls_mode;
  impl->security.peer = impl->peer();

  if (options.tls_mode == TlsMode::starttls) {
    auto features = impl->open_stream();
    if (!features) return std::unexpected(features.error());
    if (auto upgraded = impl->starttls(*features); !upgraded)
      return std::unexpected(upgraded.error());
  }
  if (auto secured = impl->secure(judge); !secured) return std::unexpected(secured.error());

  auto features = impl->open_stream();
  if (!features) return std::unexpected(features.error());
  if (auto authenticated = impl->authenticate(*features, password); !authenticated)
    return std::unexpected(authenticated.error());

  auto bound_features = impl->restart_after_sasl();
  if (!bound_features) return std::unexpected(bound_features.error());
  if (options.resume && bound_features->first_child(kStreamManagementNamespace, "sm") != nullptr) {
    auto resumed = impl->resume(*options.resume);
    if (!resumed) return std::unexpected(resumed.error());
    if (*resumed) {
      impl->features_after_authentication = std::move(*bound_features);
      return std::unique_ptr<ClientStream>(new ClientStream(std::move(impl)));
    }
  }
  if (auto bound = impl->bind(*bound_features); !bound) return std::unexpected(bound.error());
  impl->features_after_authentication = std::move(*bound_features);
  return std::unique_ptr<ClientStream>(new ClientStream(std::move(impl)));
}

const Jid& ClientStream::jid() const {
  return *impl_->bound;
}

const StreamSecurity& ClientStream::security() const {
  return impl_->security;
}

const xml::Element& ClientStream::features_after_authentication() const {
  return impl_->features_after_authentication;
}

std::optional<std::uint32_t> ClientStream::resumed_with() const {
  return impl_->resumed_with;
}

bool ClientStream::is_open() const {
  return !impl_->finished && !impl_->close_sent;
}

Result<void> ClientStream::send(const xml::Element& stanza) {
  if (!is_open()) return fail(Error::io("the stream with " + impl_->peer() + " is closed"));
  return impl_->send_stanza(stanza, Clock::now() + impl_->options.limits.negotiation_timeout);
}

Result<std::optional<xml::Element>> ClientStream::receive(net::Deadline deadline) {
  return impl_->next_element(deadline);
}

Result<void> ClientStream::close(net::Deadline deadline) {
  Impl& impl = *impl_;
  Result<void> outcome;
  if (!impl.finished && !impl.close_sent) {
    impl.close_sent = true;
    if (auto sent = impl.send_bytes("</stream:stream>", deadline); !sent) {
      outcome = fail(sent.error());
      impl.finished = true;
    }
  }
  // Read until the server's </stream:stream>: stanzas still in flight are discarded.
  std::size_t discarded = 0;
  while (!impl.finished && !impl.events.closed) {
    auto element = impl.next_element(deadline);
    if (!element) {
      // "closed the XMPP stream" is the expected end; anything else is reported.
      if (!impl.events.closed) outcome = fail(element.error());
      break;
    }
    if (!*element) {
      outcome = fail(Error::io(impl.peer() + " did not close the stream in time"));
      break;
    }
    if (++discarded > impl.options.limits.max_stanzas_while_closing) {
      outcome = fail(Error::limit(impl.peer() + " kept sending after we closed the stream"));
      break;
    }
  }
  impl.finished = true;
  if (impl.tls && impl.tls->state() != tls::SessionState::failed) {
    if (impl.tls->close()) (void)impl.flush_tls(deadline);
  }
  return outcome;
}

}  // namespace parley::xmpp
