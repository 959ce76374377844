#include "server/iq_handling.hpp"

#include "server/message_archive.hpp"
#include "server/muc_service.hpp"
#include "server/roster_handling.hpp"
#include "server/stanza.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kServerName = "parleyd";
constexpr std::string_view kServerVersion = "0.1.0";

// The features a client can discover on the server (XEP-0030 3.1).
const std::vector<std::string_view>& server_features() {
  static const std::vector<std::string_view> features = {
      kDiscoInfoNamespace, kDiscoItemsNamespace,          kPingNamespace, kVersionNamespace,
      kRosterNamespace,    "urn:xmpp:features:rosterver", "msgoffline",   kCarbonsNamespace,
  };
  return features;
}

const xml::Element* payload(const xml::Element& iq) {
  for (const auto& child : iq.children())
    if (child.is_element()) return &child.element();
  return nullptr;
}

void reply(BoundSession& session, const xml::Element& result) {
  session.send_wire(to_wire(result));
}

void reply_error(ServerServices& services, BoundSession& session, const xml::Element& iq,
                 ErrorType type, std::string_view condition) {
  reply(session, make_error_reply(iq, services.domain, type, condition));
}

xml::Element result_for(const xml::Element& iq, std::string_view from) {
  return make_iq_result(iq, from);
}

// Answers what the server itself offers (to='domain').
void server_iq(ServerServices& services, BoundSession& session, const xml::Element& iq,
               const xml::Element& query, bool is_get) {
  const auto& ns = query.name().namespace_uri;
  const auto& name = query.name().local_name;
  if (is_get && ns == kDiscoInfoNamespace && name == "query") {
    if (query.attribute("node") != nullptr)
      return reply_error(services, session, iq, ErrorType::cancel, "item-not-found");
    xml::Element result = result_for(iq, services.domain);
    xml::Element& out = result.append_child(xml::Element(kDiscoInfoNamespace, "query"));
    xml::Element& identity = out.append_child(xml::Element(kDiscoInfoNamespace, "identity"));
    identity.set_attribute("category", "server");
    identity.set_attribute("type", "im");
    identity.set_attribute("name", kServerName);
    for (auto feature : server_features())
      out.append_child(xml::Element(kDiscoInfoNamespace, "feature")).set_attribute("var", feature);
    return reply(session, result);
  }
  if (is_get && ns == kDiscoItemsNamespace && name == "query") {
    xml::Element result = result_for(iq, services.domain);
    xml::Element& items = result.append_child(xml::Element(kDiscoItemsNamespace, "query"));
    if (services.muc != nullptr) {
      xml::Element& item = items.append_child(xml::Element(kDiscoItemsNamespace, "item"));
      item.set_attribute("jid", services.muc->domain());
      item.set_attribute("name", "Chatrooms");
    }
    return reply(session, result);
  }
  if (is_get && ns == kPingNamespace && name == "ping")
    return reply(session, result_for(iq, services.domain));
  if (is_get && ns == kVersionNamespace && name == "query") {
    xml::Element result = result_for(iq, services.domain);
    xml::Element& out = result.append_child(xml::Element(kVersionNamespace, "query"));
    out.append_child(xml::Element(kVersionNamespace, "name")).append_text(kServerName);
    out.append_child(xml::Element(kVersionNamespace, "version")).append_text(kServerVersion);
    return reply(session, result);
  }
  reply_error(services, session, iq, ErrorType::cancel, "service-unavailable");
}

// What the server answers for the account itself (no 'to', or its own bare JID).
void account_iq(ServerServices& services, BoundSession& session, const xml::Element& iq,
                const xml::Element& query, bool is_get) {
  const auto& ns = query.name().namespace_uri;
  const std::string own = session.full_jid().bare_string();
  if (ns == kRosterNamespace) return handle_roster_iq(services, session, iq);
  if (!is_get && ns == kSessionNamespace) return reply(session, result_for(iq, services.domain));
  if (!is_get && ns == kCarbonsNamespace &&
      (query.name().local_name == "enable" || query.name().local_name == "disable")) {
    session.set_carbons(query.name().local_name == "enable");
    return reply(session, result_for(iq, own));
  }
  if (is_get && ns == kPingNamespace) return reply(session, result_for(iq, own));
  if (ns == kMamNamespace && query.name().local_name == "query" && services.config.archive_enabled)
    return handle_archive_query(services, session, iq, query);
  if (is_get && ns == kDiscoInfoNamespace && query.name().local_name == "query") {
    // XEP-0030 / RFC 6121: an account is a "registered" account identity.
    xml::Element result = result_for(iq, own);
    xml::Element& out = result.append_child(xml::Element(kDiscoInfoNamespace, "query"));
    xml::Element& identity = out.append_child(xml::Element(kDiscoInfoNamespace, "identity"));
    identity.set_attribute("category", "account");
    identity.set_attribute("type", "registered");
    if (services.config.archive_enabled)
      out.append_child(xml::Element(kDiscoInfoNamespace, "feature"))
          .set_attribute("var", kMamNamespace);
    return reply(session, result);
  }
  if (is_get && ns == kDiscoItemsNamespace && query.name().local_name == "query") {
    xml::Element result = result_for(iq, own);
    result.append_child(xml::Element(kDiscoItemsNamespace, "query"));
    return reply(session, result);
  }
  reply_error(services, session, iq, ErrorType::cancel, "service-unavailable");
}

}  // namespace

void handle_iq(ServerServices& services, BoundSession& session, const xml::Element& iq) {
  ++services.statistics.stanzas_routed;
  const std::string type = type_of(iq);
  const bool is_request = type == "get" || type == "set";
  const std::string* to_text = iq.attribute("to");
  std::optional<xmpp::Jid> to;
  if (to_text != nullptr) {
    auto parsed = xmpp::Jid::parse(*to_text);
    if (!parsed) {
      if (is_request) reply_error(services, session, iq, ErrorType::modify, "jid-malformed");
      return;
    }
    to = std::move(*parsed);
  }
  if (is_request) {
    // 8.2.3: exactly one payload child.
    const xml::Element* query = payload(iq);
    if (query == nullptr || iq.attribute("id") == nullptr || iq.child_element_count() != 1)
      return reply_error(services, session, iq, ErrorType::modify, "bad-request");
    const bool is_get = type == "get";
    if (!to || (to->is_bare() && to->bare() == session.full_jid().bare()))
      return account_iq(services, session, iq, *query, is_get);
    // Someone else's roster (a forged roster push, a peek): refused by the roster handler.
    if (query->name().namespace_uri == kRosterNamespace)
      return handle_roster_iq(services, session, iq);
    if (to->domainpart() != services.domain)
      return reply_error(services, session, iq, ErrorType::cancel, "remote-server-not-found");
    if (!to->has_localpart() && to->is_bare())
      return server_iq(services, session, iq, *query, is_get);
  } else if (type != "result" && type != "error") {
    return;  // not an iq type at all; the stream layer checked well-formedness only
  }
  if (!to || to->domainpart() != services.domain) return;
  // Addressed to a resource: route it (requests and responses alike).
  if (to->is_full()) {
    for (BoundSession* target : services.router.sessions_of(to->bare_string())) {
      if (target->full_jid() == *to) {
        target->send_wire(to_wire(iq));
        return;
      }
    }
  }
  if (is_request) reply_error(services, session, iq, ErrorType::cancel, "service-unavailable");
}

}  // namespace parley::server
