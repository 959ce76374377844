#include "server/delivery.hpp"

#include <algorithm>
#include <boost/container/small_vector.hpp>
#include <chrono>
#include <ctime>

#include "core/utc_time.hpp"
#include "server/message_archive.hpp"
#include "server/stanza.hpp"
#include "xml/stream_parser.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kDelayNamespace = "urn:xmpp:delay";

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_content(const xml::Element& message) {
  return message.first_child(kClientNamespace, "body") != nullptr ||
         message.first_child(kClientNamespace, "subject") != nullptr;
}

bool account_exists(ServerServices& services, const xmpp::Jid& jid) {
  if (!jid.has_localpart()) return false;
  auto exists = services.storage.accounts().exists(jid.localpart());
  if (!exists) {
    services.log->error("account lookup for {}: {}", jid.bare_string(), exists.error().message);
    return false;
  }
  return *exists;
}

bool store_offline(ServerServices& services, const xmpp::Jid& to, const xml::Element& stanza) {
  services.open_write_group();  // message routing opens no group unless it writes
  auto stored = services.storage.offline().push(to.localpart(), to_wire(stanza), unix_now());
  if (!stored) {
    services.log->error("offline store for {}: {}", to.bare_string(), stored.error().message);
    return false;
  }
  if (*stored) ++services.statistics.offline_stored;
  return *stored;
}

void bounce(ServerServices& services, BoundSession& sender, const xml::Element& stanza,
            ErrorType type, std::string_view condition, std::string_view text = {}) {
  if (type_of(stanza) == "error") return;  // never answer an error with an error (8.3.1)
  sender.send_wire(to_wire(make_error_reply(stanza, services.domain, type, condition, text)));
}

}  // namespace

bool deliver_to_available_or_store(ServerServices& services, const xmpp::Jid& to,
                                   const xml::Element& stanza) {
  std::string wire;
  bool delivered = false;
  // A copy: sending can end a session, which takes it out of the router's list.
  const std::vector<BoundSession*> sessions = services.router.sessions_of(to);
  for (BoundSession* session : sessions) {
    if (!session->available() || session->priority() < 0) continue;
    if (wire.empty()) wire = to_wire(stanza);
    session->send_wire(wire);
    delivered = true;
  }
  return delivered || store_offline(services, to, stanza);
}

namespace {

constexpr std::string_view kCarbonsNamespace = "urn:xmpp:carbons:2";
constexpr std::string_view kForwardNamespace = "urn:xmpp:forward:0";
constexpr std::string_view kStanzaIdNamespace = "urn:xmpp:sid:0";
constexpr std::string_view kHintsNamespace = "urn:xmpp:hints";

// XEP-0280 6: chat messages with content are copied; private and no-copy ones are not.
bool carbon_eligible(const xml::Element& message) {
  if (type_of(message) != "chat") return false;
  if (message.first_child(kCarbonsNamespace, "private") != nullptr ||
      message.first_child(kHintsNamespace, "no-copy") != nullptr)
    return false;
  return message.first_child(kClientNamespace, "body") != nullptr;
}

// <message from=bare to=full><sent|received><forwarded>original</forwarded></...></message>
std::string carbon_copy(const xml::Element& message, std::string_view direction,
                        const std::string& account_bare, const xmpp::Jid& to) {
  xml::Element wrapper(kClientNamespace, "message");
  wrapper.set_attribute("from", account_bare);
  wrapper.set_attribute("to", to.to_string());
  wrapper.set_attribute("type", "chat");
  xml::Element& carbon = wrapper.append_child(xml::Element(kCarbonsNamespace, direction));
  carbon.append_child(xml::Element(kForwardNamespace, "forwarded")).append_child(message);
  return to_wire(wrapper);
}

// A stanza-id claimed by the sender for the recipient's archive is a forgery (XEP-0359 3.1).
void strip_stanza_ids(xml::Element& message, const xmpp::Jid& recipient) {
  auto& children = message.mutable_children();
  std::string by;  // the recipient's bare JID, built only if a stanza-id is there
  std::erase_if(children, [&](const xml::Element::Child& child) {
    if (!child.is_element()) return false;
    const auto& element = child.element();
    if (element.name().namespace_uri != kStanzaIdNamespace ||
        element.name().local_name != "stanza-id")
      return false;
    const std::string* claimed = element.attribute("by");
    if (claimed == nullptr) return false;
    if (by.empty()) by = recipient.bare_string();
    return *claimed == by;
  });
}

bool can_receive(const BoundSession& session) {
  return session.available() && session.priority() >= 0;
}

// The router's list of an account's sessions, copied: sending to a session can end it (stream
// management's limit of unacknowledged stanzas), which takes it out of that list. Accounts
// rarely have more sessions than fit without an allocation.
using SessionSnapshot = boost::container::small_vector<BoundSession*, 4>;
SessionSnapshot snapshot(const std::vector<BoundSession*>& sessions) {
  return SessionSnapshot(sessions.begin(), sessions.end());
}

}  // namespace

void route_message(ServerServices& services, BoundSession& sender, xml::Element message,
                   const xmpp::Jid& to) {
  ++services.statistics.stanzas_routed;
  const std::string type = type_of(message);
  if (to.domainpart() != services.domain)
    return bounce(services, sender, message, ErrorType::cancel, "remote-server-not-found",
                  "this server does not federate");
  if (!to.has_localpart()) return;  // messages to the server itself: nothing to do (8.5.1)

  const SessionSnapshot sessions = snapshot(services.router.sessions_of(to));
  BoundSession* exact = nullptr;
  if (to.is_full()) {
    for (BoundSession* session : sessions)
      if (session->full_jid() == to) exact = session;
    // 8.5.3.2: the resource is gone.
    if (exact == nullptr && (type == "groupchat" || type == "headline" || type == "error")) {
      if (type == "groupchat")
        bounce(services, sender, message, ErrorType::cancel, "service-unavailable");
      return;
    }
  }
  if (exact == nullptr) {
    // Errors to a bare JID are dropped (8.5.2.1.1); groupchat needs a room, not an account.
    if (type == "error") return;
    if (type == "groupchat")
      return bounce(services, sender, message, ErrorType::cancel, "service-unavailable");
  }
  // The recipients: the exact resource, or every available one of non-negative priority.
  const bool any_recipient = exact != nullptr || std::any_of(sessions.begin(), sessions.end(),
                                                             [](const BoundSession* session) {
                                                               return can_receive(*session);
                                                             });
  if (sessions.empty() && !account_exists(services, to))
    return bounce(services, sender, message, ErrorType::cancel, "service-unavailable");

  strip_stanza_ids(message, to);
  if (services.config.archive_enabled && is_archivable(message)) {
    const std::string to_bare = to.bare_string();
    services.open_write_group();
    archive_message(services, sender.full_jid().localpart(), to_bare, message);
    if (auto id =
            archive_message(services, to.localpart(), sender.full_jid().bare_string(), message)) {
      xml::Element& stanza_id = message.append_child(xml::Element(kStanzaIdNamespace, "stanza-id"));
      stanza_id.set_attribute("by", to_bare);
      stanza_id.set_attribute("id", *id);
    }
  }

  const bool carbons = carbon_eligible(message);
  if (carbons) {
    // The sender's other resources see what it sent (XEP-0280 7).
    for (BoundSession* own : snapshot(sender.account_sessions()))
      if (own != &sender && own->carbons_enabled())
        own->send_wire(
            carbon_copy(message, "sent", sender.full_jid().bare_string(), own->full_jid()));
  }
  if (any_recipient) {
    const std::string wire = to_wire(message);
    if (exact != nullptr) {
      exact->send_wire(wire);
    } else {
      for (BoundSession* session : sessions)
        if (can_receive(*session)) session->send_wire(wire);
    }
    if (carbons && exact != nullptr) {
      // Addressed to one resource: the recipient's other resources get a copy (XEP-0280 6).
      for (BoundSession* other : sessions)
        if (other != exact && other->carbons_enabled() && other->available())
          other->send_wire(carbon_copy(message, "received", to.bare_string(), other->full_jid()));
    }
    return;
  }
  if (type == "headline" || !has_content(message)) return;  // nothing worth keeping
  if (!store_offline(services, to, message))
    bounce(services, sender, message, ErrorType::wait, "resource-constraint",
           "the recipient's offline storage is full");
}

void deliver_offline_messages(ServerServices& services, BoundSession& session) {
  const std::string owner = session.full_jid().localpart();
  auto messages = services.storage.offline().peek(owner);
  if (!messages) {
    services.log->error("offline queue of {}: {}", owner, messages.error().message);
    return;
  }
  if (messages->empty()) return;
  for (const auto& stored : *messages) {
    auto element = xml::parse_element(stored.stanza_xml, kClientNamespace);
    if (!element) {
      services.log->error("offline message {} of {} does not parse; skipped", stored.id, owner);
      continue;
    }
    element->set_attribute("to", session.full_jid().to_string());
    if (kind_of(*element) == StanzaKind::message) {
      // XEP-0203: when it was stored, by whom.
      xml::Element& delay = element->append_child(xml::Element(kDelayNamespace, "delay"));
      delay.set_attribute("from", services.domain);
      delay.set_attribute("stamp", utc_timestamp(stored.stored_at_unix));
      delay.append_text("Offline storage");
    }
    session.send_wire(to_wire(*element));
  }
  // Removed once handed to the connection. A crash between here and the client reading them
  // loses them; stream management (XEP-0198) acknowledgements are what closes that gap.
  if (auto removed = services.storage.offline().remove_up_to(owner, messages->back().id); !removed)
    services.log->error("offline queue of {}: {}", owner, removed.error().message);
}

}  // namespace parley::server
