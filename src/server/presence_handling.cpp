#include "server/presence_handling.hpp"

#include <algorithm>
#include <charconv>

#include "server/delivery.hpp"
#include "server/muc_service.hpp"
#include "server/roster_handling.hpp"
#include "server/stanza.hpp"

namespace parley::server {
namespace {

// Directed presence recipients remembered per session (RFC 6121 4.6.3); more are not tracked.
constexpr std::size_t kMaxDirectedPresence = 256;

int priority_of(const xml::Element& presence) {
  const xml::Element* element = presence.first_child(kClientNamespace, "priority");
  if (element == nullptr) return 0;
  std::string text = element->text();
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < -128 || value > 127)
    return 0;  // 4.7.2.3: an integer from -128 to +127
  return value;
}

// Subscribers (from/both) and, separately, publishers (to/both) of an account, and the
// subscription requests it has not answered.
struct Contacts {
  std::vector<xmpp::Jid> subscribers;
  std::vector<xmpp::Jid> publishers;
  std::vector<xml::Element> pending_requests;
};

Contacts contacts_of(ServerServices& services, const BoundSession& session) {
  Contacts out;
  auto items = services.storage.roster().items(session.full_jid().localpart());
  if (!items) {
    services.log->error("roster of {}: {}", session.full_jid().bare_string(),
                        items.error().message);
    return out;
  }
  for (const auto& item : *items) {
    auto jid = xmpp::Jid::parse(item.jid);
    if (!jid) continue;
    if (item.subscription == store::Subscription::from ||
        item.subscription == store::Subscription::both)
      out.subscribers.push_back(*jid);
    if (item.subscription == store::Subscription::to ||
        item.subscription == store::Subscription::both)
      out.publishers.push_back(*jid);
  }
  out.pending_requests = pending_requests_to(*items, session.full_jid().bare_string());
  return out;
}

// `presence` (no 'to') to every available resource of `to` (a local bare JID).
void send_to_available(ServerServices& services, const xmpp::Jid& to, xml::Element presence) {
  const auto& sessions = services.router.sessions_of(to.bare_string());
  if (sessions.empty()) return;
  presence.set_attribute("to", to.bare_string());
  std::string wire = to_wire(presence);
  for (BoundSession* session : sessions)
    if (session->available()) session->send_wire(wire);
}

void broadcast(ServerServices& services, BoundSession& session, const xml::Element& presence,
               const Contacts& contacts) {
  for (const auto& subscriber : contacts.subscribers) {
    if (subscriber.domainpart() != services.domain) continue;  // no federation yet
    send_to_available(services, subscriber, presence);
  }
  // The account's own other resources (4.2.2).
  for (BoundSession* other : services.router.sessions_of(session.full_jid().bare_string())) {
    if (other == &session || !other->available()) continue;
    xml::Element copy = presence;
    copy.set_attribute("to", other->full_jid().to_string());
    other->send_wire(to_wire(copy));
  }
}

// The current presence of every contact the account may see, to this session (4.3).
void answer_probes(ServerServices& services, BoundSession& session, const Contacts& contacts) {
  auto send_presence_of = [&](const std::string& bare) {
    for (BoundSession* source : services.router.sessions_of(bare)) {
      if (source == &session || !source->available()) continue;
      xml::Element copy = *source->last_presence();
      copy.set_attribute("to", session.full_jid().to_string());
      session.send_wire(to_wire(copy));
    }
  };
  for (const auto& publisher : contacts.publishers) send_presence_of(publisher.bare_string());
  send_presence_of(session.full_jid().bare_string());  // its own other resources
}

void directed(ServerServices& services, BoundSession& session, xml::Element presence,
              const xmpp::Jid& to) {
  presence.set_attribute("to", to.to_string());
  if (to.domainpart() != services.domain) {
    if (type_of(presence) != "error")
      session.send_wire(to_wire(make_error_reply(presence, services.domain, ErrorType::cancel,
                                                 "remote-server-not-found")));
    return;
  }
  if (!to.has_localpart()) return;  // presence to the server itself
  const std::string type = type_of(presence);
  if (type.empty() || type == "unavailable") {
    auto& list = session.directed_presence_to();
    const std::string target = to.to_string();
    if (type.empty() && list.size() < kMaxDirectedPresence &&
        std::find(list.begin(), list.end(), target) == list.end())
      list.push_back(target);
  }
  std::string wire = to_wire(presence);
  for (BoundSession* target : services.router.sessions_of(to.bare_string())) {
    if (to.is_full() && target->full_jid() != to) continue;
    if (target->available()) target->send_wire(wire);
  }
}

}  // namespace

void handle_presence(ServerServices& services, BoundSession& session, xml::Element presence) {
  ++services.statistics.stanzas_routed;
  const std::string type = type_of(presence);
  const std::string* to_text = presence.attribute("to");
  if (type == "subscribe" || type == "subscribed" || type == "unsubscribe" ||
      type == "unsubscribed") {
    if (to_text == nullptr) return;
    auto to = xmpp::Jid::parse(*to_text);
    if (!to) return;
    return handle_subscription(services, session, type, *to);
  }
  if (type == "probe") return;  // a client may not probe (4.3: probes are server-generated)
  if (type == "error") return;
  if (to_text != nullptr) {
    auto to = xmpp::Jid::parse(*to_text);
    if (!to) return;
    if (to->bare() != session.full_jid().bare()) return directed(services, session, presence, *to);
  }
  if (!type.empty() && type != "unavailable") return;  // unknown type: ignored (4.7.1)

  const bool initial = !session.available() && type.empty();
  Contacts contacts = contacts_of(services, session);
  presence.set_attribute("from", session.full_jid().to_string());
  if (type == "unavailable") {
    if (!session.available()) return;
    if (services.muc != nullptr) services.muc->session_unavailable(session);
    session.set_presence(std::nullopt, 0);
    broadcast(services, session, presence, contacts);
    for (const auto& target_text : session.directed_presence_to()) {
      auto target = xmpp::Jid::parse(target_text);
      if (target) directed(services, session, presence, *target);
    }
    session.directed_presence_to().clear();
    return;
  }
  const int priority = priority_of(presence);
  session.set_presence(presence, priority);
  broadcast(services, session, presence, contacts);
  if (initial) {
    answer_probes(services, session, contacts);
    // RFC 6121 3.1.3: requests that arrived while the account was away, again at every login
    // until it answers them.
    for (const xml::Element& request : contacts.pending_requests)
      session.send_wire(to_wire(request));
    if (priority >= 0) deliver_offline_messages(services, session);
  }
}

void session_ended(ServerServices& services, BoundSession& session) {
  if (!session.available()) return;
  xml::Element unavailable(kClientNamespace, "presence");
  unavailable.set_attribute("type", "unavailable");
  handle_presence(services, session, std::move(unavailable));
}

}  // namespace parley::server
