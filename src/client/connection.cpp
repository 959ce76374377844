#include "client/connection.hpp"

#include <charconv>
#include <ctime>
#include <span>

#include "pki/verify_policy.hpp"
#include "tls/context.hpp"
#include "tls/policy.hpp"

namespace parley::client {
namespace {

// Stream management elements the server may send in a row without a stanza between them; far
// more than a conforming server needs (one <a/> per <r/>), so reaching it means a flood.
constexpr std::size_t kMaxStreamManagementElementsInARow = 10'000;

Result<std::uint16_t> parse_port(std::string_view text, std::string_view whole) {
  unsigned value = 0;
  const auto* end = text.data() + text.size();
  const auto [next, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || next != end || value == 0 || value > 65535) {
    return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(whole) +
                                        "\": the port must be a number from 1 to 65535"));
  }
  return static_cast<std::uint16_t>(value);
}

// The domain as ServiceIdentity wants it: an IPv6 JID domain comes in brackets.
std::string service_host(const xmpp::Jid& account) {
  const std::string& domain = account.domainpart();
  if (domain.size() >= 2 && domain.front() == '[' && domain.back() == ']')
    return domain.substr(1, domain.size() - 2);
  return domain;
}

std::optional<RevocationBlock> revocation_block(const pki::RevocationResult& result) {
  if (result.allows_connection()) return std::nullopt;
  RevocationBlock block;
  block.kind = result.verdict == pki::RevocationVerdict::revoked
                   ? RevocationBlockKind::revoked
                   : RevocationBlockKind::status_unavailable;
  block.reason = result.message;
  return block;
}

}  // namespace

Result<ServerAddress> parse_server_address(std::string_view text, std::uint16_t default_port) {
  ServerAddress address;
  address.port = default_port;
  if (text.empty()) return fail(Error::invalid_argument("the server address is empty"));
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close == 1) {
      return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) +
                                          "\": an IPv6 address in brackets is not closed"));
    }
    address.host = std::string(text.substr(1, close - 1));
    const std::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) +
                                            "\": expected :PORT after the address"));
      }
      auto port = parse_port(after.substr(1), text);
      if (!port) return fail(port.error());
      address.port = *port;
    }
    return address;
  }
  const auto colon = text.rfind(':');
  if (colon != std::string_view::npos && text.find(':') != colon) {
    return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) +
                                        "\": write an IPv6 address in brackets: [ADDRESS]:PORT"));
  }
  address.host = std::string(text.substr(0, colon));
  if (address.host.empty())
    return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) + "\": no host"));
  for (const char c : address.host) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f || c == '/' || c == '@') {
      return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) +
                                          "\": not a host name or address"));
    }
  }
  if (colon != std::string_view::npos) {
    auto port = parse_port(text.substr(colon + 1), text);
    if (!port) return fail(port.error());
    address.port = *port;
  }
  return address;
}

Result<ServiceIdentity> xmpp_service_identity(const xmpp::Jid& account) {
  return ServiceIdentity::make(pki::ServiceKind::xmpp_client, service_host(account));
}

std::expected<std::unique_ptr<Connection>, ConnectionFailure> Connection::open(
    const ConnectionOptions& options, const pki::TrustStore& anchors, CertificateStore& store,
    CertificatePrompt* prompt, std::string_view password, SessionResumption* resume) {
  using xmpp::NegotiationStage;
  auto refused = [](NegotiationStage stage, Error error) {
    return std::unexpected(ConnectionFailure{stage, std::move(error), std::nullopt});
  };

  auto service = xmpp_service_identity(options.account);
  if (!service) return refused(NegotiationStage::connect, service.error());

  tls::ClientOptions tls_options;
  tls_options.policy =
      options.policy.fips == FipsMode::on ? tls::TlsPolicy::fips_140() : tls::TlsPolicy::standard();
  if (options.tls_mode == xmpp::TlsMode::direct_tls) tls_options.alpn = {"xmpp-client"};
  auto context = tls::ClientContext::create(tls_options);
  if (!context) {
    Error error = context.error();
    if (options.policy.fips == FipsMode::on) error.message = "FIPS_MODE is on but " + error.message;
    return refused(NegotiationStage::tls, std::move(error));
  }

  xmpp::ClientStreamOptions stream_options(options.account.bare());
  stream_options.tls_mode = options.tls_mode;
  stream_options.tls_context = *context;
  stream_options.plain = options.policy.plain;
  stream_options.resource = options.resource;
  stream_options.limits = options.limits;
  const std::uint16_t default_port =
      options.tls_mode == xmpp::TlsMode::direct_tls ? kDefaultDirectTlsPort : kDefaultStarttlsPort;
  if (resume != nullptr && !resume->refused &&
      options.stream_management != StreamManagementUse::off) {
    stream_options.resume = resume->request;
  }
  if (options.server) {
    stream_options.connect_host = options.server->host;
    stream_options.port = options.server->port;
  } else {
    stream_options.connect_host = service_host(options.account);
    stream_options.port = default_port;
  }

  std::optional<TrustDecision> decision;
  pki::CertificatePtr server_certificate;
  pki::RevocationCache revocation_cache;
  const xmpp::CertificateJudge judge =
      [&](const tls::Session& session) -> Result<tls::PeerAcceptance> {
    const auto& chain = session.peer_chain();
    if (chain.empty()) return fail(Error::io("the server presented no certificate"));
    PresentedChain presented{chain.front(), {chain.begin() + 1, chain.end()}};
    server_certificate = chain.front();

    pki::VerifyPolicy verify_policy;
    verify_policy.purpose = pki::KeyPurpose::server_auth;
    verify_policy.time = static_cast<pki::UnixTime>(std::time(nullptr));

    RevocationCheck revocation = revocation_off();
    if (options.revocation != pki::RevocationMode::off) {
      revocation = [&](const pki::VerifiedPath& path) {
        pki::RevocationPolicy revocation_policy;
        revocation_policy.mode = options.revocation;
        revocation_policy.now = verify_policy.time;
        const std::string staple = session.stapled_ocsp().value_or(std::string());
        const std::span<const std::uint8_t> stapled(
            reinterpret_cast<const std::uint8_t*>(staple.data()), staple.size());
        return revocation_block(
            pki::check_revocation(path, revocation_policy, revocation_cache, stapled));
      };
    }
    decision = decide_server_trust(presented, anchors, *service, verify_policy,
                                   options.policy.trust_policy(), revocation, store, prompt);
    switch (decision->verdict) {
      case Verdict::trusted:
        if (!decision->path) return fail(Error{ErrorKind::internal, "trusted without a path"});
        return tls::PeerAcceptance::from_verified_path(*decision->path);
      case Verdict::accepted_previously:
        return tls::PeerAcceptance::from_trust_decision(*presented.leaf,
                                                        tls::AcceptanceBasis::previously_accepted);
      case Verdict::accepted_by_user:
        return tls::PeerAcceptance::from_trust_decision(*presented.leaf,
                                                        tls::AcceptanceBasis::accepted_by_user);
      case Verdict::rejected:
        break;
    }
    return fail(Error::io(decision->notice));
  };

  auto stream = xmpp::ClientStream::open(stream_options, judge, password);
  if (!stream) {
    return std::unexpected(
        ConnectionFailure{stream.error().stage, stream.error().error, std::move(decision)});
  }
  if (!decision) {
    return refused(NegotiationStage::certificate,
                   Error{ErrorKind::internal, "connected without a trust decision"});
  }
  std::unique_ptr<Connection> connection(new Connection(std::move(*stream), std::move(*decision),
                                                        std::move(server_certificate),
                                                        options.max_buffered_messages));
  if (stream_options.resume) {
    if (const auto handled = connection->stream_->resumed_with()) {
      // XEP-0198 6: the session goes on; what the server had not handled is sent again (and
      // counted again, from where the counts were).
      connection->stream_management_ = std::move(resume->management);
      auto again = connection->stream_management_.resumed(*handled);
      if (!again) return refused(NegotiationStage::bind, again.error());
      for (const auto& stanza : *again) {
        if (auto sent = connection->send(stanza); !sent)
          return refused(NegotiationStage::bind, sent.error());
      }
      connection->resumed_ = true;
      return connection;
    }
    resume->refused = true;
  }
  if (options.stream_management != StreamManagementUse::off &&
      offers_stream_management(connection->stream_->features_after_authentication())) {
    const Resumption resumption =
        options.stream_management == StreamManagementUse::when_offered_with_resumption
            ? Resumption::requested
            : Resumption::not_requested;
    // Not waited for: <enabled/> or <failed/> arrives in order with everything else.
    if (auto sent =
            connection->stream_->send(connection->stream_management_.enable_request(resumption));
        !sent) {
      return refused(NegotiationStage::bind, sent.error());
    }
  }
  return connection;
}

std::optional<SessionResumption> Connection::take_resumption() {
  const auto& id = stream_management_.resumption_id();
  if (!id || stream_management_.state() != StreamManagementState::enabled) return std::nullopt;
  const auto handled =
      static_cast<std::uint32_t>(stream_management_.stanzas_received() % (std::uint64_t{1} << 32));
  SessionResumption resumption{xmpp::StreamResumption{*id, handled, jid()},
                               std::move(stream_management_), false};
  stream_management_ = StreamManagement();
  return resumption;
}

std::string Connection::security_summary() const {
  const auto& security = stream_->security();
  std::string out = std::string(tls::to_string(security.tls.protocol)) + " " + security.tls.cipher;
  if (!security.tls.group.empty()) out += " " + security.tls.group;
  out += " (" + std::string(xmpp::to_string(security.tls_mode)) + " to " + security.peer + ")";
  switch (security.certificate) {
    case tls::AcceptanceBasis::verified_chain:
      out += ", certificate verified";
      if (trust_.path)
        out += " (issued under " +
               escape_for_display(trust_.path->anchor().subject().to_display_string()) + ")";
      break;
    case tls::AcceptanceBasis::previously_accepted:
      out += ", certificate NOT verified: accepted by you earlier";
      break;
    case tls::AcceptanceBasis::accepted_by_user:
      out += ", certificate NOT verified: accepted by you now";
      break;
  }
  out += ", " + security.sasl_mechanism;
  if (security.channel_binding)
    out += " with " + std::string(xmpp::sasl::to_string(*security.channel_binding));
  return out;
}

SecurityDetails Connection::security_details() const {
  const auto& security = stream_->security();
  SecurityDetails details;
  details.protocol = tls::to_string(security.tls.protocol);
  details.cipher = security.tls.cipher;
  details.group = security.tls.group;
  details.tls_mode = xmpp::to_string(security.tls_mode);
  details.peer = security.peer;
  details.verdict = trust_.verdict;
  if (server_certificate_) {
    details.subject = escape_for_display(server_certificate_->subject().to_display_string());
    details.issuer = escape_for_display(server_certificate_->issuer().to_display_string());
    details.fingerprint = fingerprint_text(*server_certificate_);
    details.not_before = server_certificate_->not_before();
    details.not_after = server_certificate_->not_after();
  }
  if (trust_.path)
    details.trust_anchor = escape_for_display(trust_.path->anchor().subject().to_display_string());
  details.sasl_mechanism = security.sasl_mechanism;
  if (security.channel_binding)
    details.channel_binding = xmpp::sasl::to_string(*security.channel_binding);
  details.stream_management = to_string(stream_management_.state());
  details.notes = security.notes;
  return details;
}

Result<void> Connection::dispatch(xml::Element stanza) {
  if (xmpp::is_stanza(stanza, "iq")) {
    const std::string* type = stanza.attribute("type");
    const std::string* id = stanza.attribute("id");
    if (type == nullptr || id == nullptr) return {};
    if (*type != "get" && *type != "set") return {};  // a late or unknown reply
    const std::string* from = stanza.attribute("from");
    const bool from_own_account = from == nullptr || *from == jid().bare_string();
    if (stanza.first_child(xmpp::kPingNamespace, "ping") != nullptr && *type == "get")
      return send(xmpp::make_iq_result(stanza));
    // RFC 6121 2.1.6: roster pushes come from the account itself (anyone else's are refused);
    // acknowledged, not applied (nothing here keeps a roster between commands).
    if (stanza.first_child(xmpp::kRosterNamespace, "query") != nullptr && *type == "set" &&
        from_own_account) {
      return send(xmpp::make_iq_result(stanza));
    }
    return send(xmpp::make_iq_error(stanza, "cancel", "service-unavailable"));
  }
  if (xmpp::is_stanza(stanza, "message") || xmpp::is_stanza(stanza, "presence")) {
    if (inbox_.size() >= max_buffered_) {
      return fail(Error::limit("more than " + std::to_string(max_buffered_) +
                               " stanzas arrived that were not read"));
    }
    inbox_.push_back(std::move(stanza));
  }
  return {};
}

Result<void> Connection::send(const xml::Element& stanza) {
  if (auto sent = stream_->send(stanza); !sent) return sent;
  stream_management_.on_stanza_sent(stanza);
  return {};
}

Result<std::optional<xml::Element>> Connection::receive(net::Deadline deadline) {
  for (std::size_t nonzas = 0; nonzas < kMaxStreamManagementElementsInARow; ++nonzas) {
    auto received = stream_->receive(deadline);
    if (!received || !*received) return received;
    xml::Element& element = **received;
    if (!is_stream_management_element(element)) {
      stream_management_.on_stanza_received();
      return received;
    }
    auto reply = stream_management_.handle(element);
    if (!reply) return fail(Error::parse(jid().domainpart() + ": " + reply.error().message));
    if (*reply) {
      if (auto sent = stream_->send(**reply); !sent) return fail(sent.error());
    }
  }
  return fail(Error::limit(jid().domainpart() + " sent more than " +
                           std::to_string(kMaxStreamManagementElementsInARow) +
                           " stream management elements in a row"));
}

Result<xml::Element> Connection::request(const xml::Element& iq, const std::string& id,
                                         net::Deadline deadline, std::string_view waiting_for,
                                         const std::string& watched_message_id) {
  if (auto sent = send(iq); !sent) return fail(sent.error());
  for (;;) {
    auto received = receive(deadline);
    if (!received) return fail(received.error());
    if (!*received) {
      return fail(Error::io("timed out waiting for " + std::string(waiting_for) + " from " +
                            jid().domainpart()));
    }
    xml::Element& stanza = **received;
    if (xmpp::is_stanza(stanza, "iq")) {
      const std::string* type = stanza.attribute("type");
      const std::string* stanza_id = stanza.attribute("id");
      if (type && stanza_id && *stanza_id == id && (*type == "result" || *type == "error"))
        return std::move(stanza);
    }
    if (!watched_message_id.empty() && xmpp::is_stanza(stanza, "message")) {
      const std::string* type = stanza.attribute("type");
      const std::string* stanza_id = stanza.attribute("id");
      if (type && *type == "error" && stanza_id && *stanza_id == watched_message_id) {
        const auto error = xmpp::read_stanza_error(stanza);
        return fail(Error::io("the server refused the message: " +
                              (error ? xmpp::describe(*error) : std::string("no reason given"))));
      }
    }
    if (auto handled = dispatch(std::move(stanza)); !handled) return fail(handled.error());
  }
}

Result<void> Connection::send_message(const xmpp::Jid& to, std::string_view body,
                                      net::Deadline deadline) {
  const std::string message_id = xmpp::new_stanza_id("msg");
  if (auto sent = send(xmpp::make_chat_message(to, body, message_id)); !sent) return sent;
  const std::string ping_id = xmpp::new_stanza_id("ping");
  auto reply = request(xmpp::make_ping(ping_id, jid().domainpart()), ping_id, deadline,
                       "the server's confirmation (ping reply)", message_id);
  if (!reply) return fail(reply.error());
  // Any answer to the ping, even an error from a server without XEP-0199, proves it got this far
  // in the stream; only the message's own error (handled in request) means it was refused.
  return {};
}

Result<std::vector<xmpp::RosterItem>> Connection::roster(net::Deadline deadline) {
  const std::string id = xmpp::new_stanza_id("roster");
  auto reply = request(xmpp::make_roster_get(id), id, deadline, "the roster");
  if (!reply) return fail(reply.error());
  if (const std::string* type = reply->attribute("type"); type && *type == "error") {
    const auto error = xmpp::read_stanza_error(*reply);
    return fail(Error::io("the server refused the roster request: " +
                          (error ? xmpp::describe(*error) : std::string("no reason given"))));
  }
  return xmpp::read_roster(*reply);
}

Result<void> Connection::announce_presence() {
  return send(xmpp::make_initial_presence());
}

Result<std::optional<xmpp::ChatMessage>> Connection::next_message(net::Deadline deadline) {
  for (;;) {
    auto stanza = next_stanza(deadline);
    if (!stanza) return fail(stanza.error());
    if (!*stanza) return std::optional<xmpp::ChatMessage>();
    if (auto message = xmpp::read_chat_message(**stanza))
      return std::optional<xmpp::ChatMessage>(std::move(*message));
  }
}

Result<std::optional<xml::Element>> Connection::next_stanza(net::Deadline deadline) {
  for (;;) {
    if (!inbox_.empty()) {
      xml::Element stanza = std::move(inbox_.front());
      inbox_.pop_front();
      return std::optional<xml::Element>(std::move(stanza));
    }
    auto received = receive(deadline);
    if (!received) return fail(received.error());
    if (!*received) return std::optional<xml::Element>();
    if (auto handled = dispatch(std::move(**received)); !handled) return fail(handled.error());
  }
}

Result<void> Connection::send_stanza(const xml::Element& stanza) {
  return send(stanza);
}

Result<xml::Element> Connection::query(const xml::Element& iq, net::Deadline deadline,
                                       std::string_view waiting_for) {
  const std::string* id = iq.attribute("id");
  if (id == nullptr) return fail(Error::invalid_argument("an iq request needs an id"));
  return request(iq, *id, deadline, waiting_for);
}

Result<void> Connection::request_acknowledgement() {
  if (stream_management_.state() != StreamManagementState::enabled) return {};
  return stream_->send(StreamManagement::acknowledgement_request());
}

Result<void> Connection::close(net::Deadline deadline) {
  // XEP-0198 4: acknowledging before the end tells the server that nothing it sent needs to be
  // delivered again (or stored offline).
  if (stream_management_.state() == StreamManagementState::enabled && stream_->is_open())
    (void)stream_->send(stream_management_.acknowledgement());
  return stream_->close(deadline);
}

}  // namespace parley::client
