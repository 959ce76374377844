#include "server/muc_service.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>

#include "server/iq_handling.hpp"
#include "server/stanza.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kRsmNamespace = "http://jabber.org/protocol/rsm";
constexpr std::string_view kServiceName = "Chatrooms";
// Items in one disco#items answer; a client pages through more with XEP-0059.
constexpr std::size_t kMaxDiscoItems = 500;

std::int64_t system_unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const xml::Element* first_element_child(const xml::Element& element) {
  for (const auto& child : element.children())
    if (child.is_element()) return &child.element();
  return nullptr;
}

}  // namespace

MucService::MucService(ServerServices& services, std::function<std::int64_t()> clock)
    : context_{
          .services = services,
          .config = services.config.muc,
          .clock = clock ? std::move(clock) : std::function<std::int64_t()>(system_unix_seconds),
          .occupant_id_secret = random_id(32),
          .sessions = {}} {}

const MucRoom* MucService::find_room(std::string_view localpart) const {
  auto it = rooms_.find(localpart);
  return it == rooms_.end() ? nullptr : it->second.get();
}

void MucService::reply_error(BoundSession& session, const xml::Element& stanza, ErrorType type,
                             std::string_view condition, std::string_view text) {
  if (type_of(stanza) == "error") return;  // RFC 6120 8.3.1
  session.send_wire(
      to_wire(make_error_reply(stanza, context_.services.domain, type, condition, text)));
}

void MucService::handle(BoundSession& from, xml::Element stanza, const xmpp::Jid& to) {
  ++context_.services.statistics.stanzas_routed;
  const StanzaKind kind = kind_of(stanza);
  if (to.domainpart() != domain() || domain().empty() || kind == StanzaKind::other) {
    if (kind != StanzaKind::presence)
      reply_error(from, stanza, ErrorType::cancel, "service-unavailable");
    return;
  }
  if (!to.has_localpart()) {
    // The service itself: only IQs mean something to it.
    if (kind == StanzaKind::iq) return service_iq(from, stanza, to);
    if (kind == StanzaKind::message)
      reply_error(from, stanza, ErrorType::cancel, "service-unavailable");
    return;
  }
  auto it = rooms_.find(to.localpart());
  if (it == rooms_.end()) {
    const std::string type = type_of(stanza);
    switch (kind) {
      case StanzaKind::presence:
        if (!type.empty()) return;  // leaving a room that is gone, subscriptions: nothing to do
        if (to.is_bare())
          return reply_error(from, stanza, ErrorType::modify, "jid-malformed",
                             "a nickname is required: send presence to room@service/nickname");
        return create_room(from, std::move(stanza), to);
      case StanzaKind::message:
      case StanzaKind::iq:
        if (kind == StanzaKind::iq && type != "get" && type != "set") return;
        return reply_error(from, stanza, ErrorType::cancel, "item-not-found",
                           "there is no such room");
      case StanzaKind::other:
        return;
    }
    return;
  }
  const std::string localpart = to.localpart();
  MucRoom& room = *it->second;
  switch (kind) {
    case StanzaKind::presence:
      room.handle_presence(from, std::move(stanza), to);
      break;
    case StanzaKind::message:
      room.handle_message(from, std::move(stanza), to);
      break;
    case StanzaKind::iq:
      room.handle_iq(from, stanza, to);
      break;
    case StanzaKind::other:
      break;
  }
  erase_if_empty(localpart);
}

void MucService::create_room(BoundSession& from, xml::Element presence, const xmpp::Jid& to) {
  const MucConfig& config = context_.config;
  if (!config.allow_room_creation)
    return reply_error(from, presence, ErrorType::cancel, "not-allowed",
                       "rooms cannot be created on this service");
  if (rooms_.size() >= config.max_rooms)
    return reply_error(from, presence, ErrorType::wait, "resource-constraint",
                       "this service has reached its maximum number of rooms");
  const std::string localpart = to.localpart();
  auto room = std::make_unique<MucRoom>(context_, localpart, from.full_jid().bare());
  MucRoom& created = *rooms_.emplace(localpart, std::move(room)).first->second;
  created.handle_presence(from, std::move(presence), to);
  erase_if_empty(localpart);  // the creator's join was refused (a bad nickname)
}

void MucService::erase_if_empty(const std::string& localpart) {
  auto it = rooms_.find(localpart);
  if (it == rooms_.end() || !it->second->empty()) return;
  context_.services.log->debug("muc: {} is empty and ends", it->second->jid());
  rooms_.erase(it);
}

void MucService::session_ended(BoundSession& session) {
  for (const std::string& localpart : context_.sessions.rooms_of(session)) {
    auto it = rooms_.find(localpart);
    if (it == rooms_.end()) continue;
    it->second->session_ended(session);
    erase_if_empty(localpart);
  }
}

void MucService::session_unavailable(BoundSession& session) {
  for (const std::string& localpart : context_.sessions.rooms_of(session)) {
    auto it = rooms_.find(localpart);
    if (it == rooms_.end()) continue;
    xml::Element unavailable(kClientNamespace, "presence");
    unavailable.set_attribute("type", "unavailable");
    unavailable.set_attribute("from", session.full_jid().to_string());
    unavailable.set_attribute("to", it->second->jid());
    auto room_jid = xmpp::Jid::parse(it->second->jid());
    if (!room_jid) continue;  // cannot happen: the room's JID was made from a parsed one
    it->second->handle_presence(session, std::move(unavailable), *room_jid);
    erase_if_empty(localpart);
  }
}

void MucService::session_resumed(const BoundSession& old_session, BoundSession& new_session) {
  if (&old_session == &new_session) return;
  for (const std::string& localpart : context_.sessions.rooms_of(old_session)) {
    auto it = rooms_.find(localpart);
    if (it != rooms_.end()) it->second->session_replaced(old_session, new_session);
  }
}

void MucService::service_iq(BoundSession& from, const xml::Element& iq, const xmpp::Jid& to) {
  const std::string type = type_of(iq);
  if (type != "get" && type != "set") return;
  const xml::Element* query = first_element_child(iq);
  if (query == nullptr || iq.child_element_count() != 1)
    return reply_error(from, iq, ErrorType::modify, "bad-request");
  if (to.is_full()) return reply_error(from, iq, ErrorType::cancel, "service-unavailable");
  const bool is_get = type == "get";
  const auto& ns = query->name().namespace_uri;
  const auto& name = query->name().local_name;

  if (is_get && ns == kDiscoInfoNamespace && name == "query") {
    if (query->attribute("node") != nullptr)
      return reply_error(from, iq, ErrorType::cancel, "item-not-found");
    xml::Element result = make_iq_result(iq, domain());
    xml::Element& out = result.append_child(xml::Element(kDiscoInfoNamespace, "query"));
    xml::Element& identity = out.append_child(xml::Element(kDiscoInfoNamespace, "identity"));
    identity.set_attribute("category", "conference");
    identity.set_attribute("type", "text");
    identity.set_attribute("name", kServiceName);
    for (std::string_view feature :
         {kDiscoInfoNamespace, kDiscoItemsNamespace, kMucNamespace, kMucUniqueNamespace,
          kPingNamespace, kRsmNamespace, kOccupantIdNamespace})
      out.append_child(xml::Element(kDiscoInfoNamespace, "feature")).set_attribute("var", feature);
    return from.send_wire(to_wire(result));
  }
  if (is_get && ns == kDiscoItemsNamespace && name == "query") return disco_items(from, iq, *query);
  if (is_get && ns == kMucUniqueNamespace && name == "unique") {
    // 10.1.4: a name no room has; lowercase because room localparts are case-mapped.
    std::string unique;
    do {
      unique = random_id(20);
      std::transform(unique.begin(), unique.end(), unique.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    } while (rooms_.contains(unique));
    xml::Element result = make_iq_result(iq, domain());
    result.append_child(xml::Element(kMucUniqueNamespace, "unique")).append_text(unique);
    return from.send_wire(to_wire(result));
  }
  if (is_get && ns == kPingNamespace && name == "ping")
    return from.send_wire(to_wire(make_iq_result(iq, domain())));
  reply_error(from, iq, ErrorType::cancel, "service-unavailable");
}

void MucService::disco_items(BoundSession& from, const xml::Element& iq,
                             const xml::Element& query) {
  if (query.attribute("node") != nullptr)
    return reply_error(from, iq, ErrorType::cancel, "item-not-found");
  // XEP-0045 6.3 lists public rooms; XEP-0059 pages them by room localpart.
  std::size_t max = kMaxDiscoItems;
  std::string after;
  const xml::Element* set = query.first_child(kRsmNamespace, "set");
  if (set != nullptr) {
    if (const xml::Element* max_element = set->first_child(kRsmNamespace, "max")) {
      const std::string text = max_element->text();
      std::size_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size())
        return reply_error(from, iq, ErrorType::modify, "bad-request", "<max/> is a number");
      max = std::min(max, value);
    }
    if (const xml::Element* after_element = set->first_child(kRsmNamespace, "after"))
      after = after_element->text();
  }
  xml::Element result = make_iq_result(iq, domain());
  xml::Element& out = result.append_child(xml::Element(kDiscoItemsNamespace, "query"));
  std::size_t total = 0, listed = 0;
  std::string first, last;
  bool truncated = false;
  for (const auto& [localpart, room] : rooms_) {
    if (!room->settings().is_public) continue;
    ++total;
    if (!after.empty() && localpart <= after) continue;
    if (listed == max) {
      truncated = true;
      continue;
    }
    xml::Element& item = out.append_child(xml::Element(kDiscoItemsNamespace, "item"));
    item.set_attribute("jid", room->jid());
    item.set_attribute("name", room->display_name());
    if (first.empty()) first = localpart;
    last = localpart;
    ++listed;
  }
  if (set != nullptr || truncated) {
    xml::Element& out_set = out.append_child(xml::Element(kRsmNamespace, "set"));
    if (!first.empty()) {
      out_set.append_child(xml::Element(kRsmNamespace, "first")).append_text(first);
      out_set.append_child(xml::Element(kRsmNamespace, "last")).append_text(last);
    }
    out_set.append_child(xml::Element(kRsmNamespace, "count")).append_text(std::to_string(total));
  }
  from.send_wire(to_wire(result));
}

}  // namespace parley::server
