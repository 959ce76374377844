#include "client/group_chat.hpp"

#include <charconv>

#include "client/certificate_store.hpp"
#include "client/connection.hpp"

namespace parley::client {
namespace {

// XEP-0045 15.6.2 status codes this file acts on.
constexpr int kStatusSelf = 110;
constexpr int kStatusCreated = 201;
constexpr int kStatusNickAssigned = 210;
constexpr int kStatusBanned = 301;
constexpr int kStatusNewNick = 303;
constexpr int kStatusKicked = 307;
constexpr int kStatusRemovedAffiliation = 321;
constexpr int kStatusRemovedMembersOnly = 322;
constexpr int kStatusRemovedShutdown = 332;

std::string attribute_or_empty(const xml::Element* element, std::string_view name) {
  if (element == nullptr) return {};
  const std::string* value = element->attribute(name);
  return value ? *value : std::string();
}

// The <x xmlns='...muc#user'/> of a presence or message, with its status codes.
struct MucUserData {
  const xml::Element* x = nullptr;
  const xml::Element* item = nullptr;
  std::set<int> statuses;

  bool has(int code) const { return statuses.contains(code); }
};

MucUserData read_muc_user(const xml::Element& stanza) {
  MucUserData data;
  data.x = stanza.first_child(kMucUserNamespace, "x");
  if (data.x == nullptr) return data;
  data.item = data.x->first_child(kMucUserNamespace, "item");
  // The children are bounded by the stream parser's limits on the stanza.
  for (const auto& child : data.x->children()) {
    if (!child.is_element()) continue;
    const xml::Element& status = child.element();
    if (status.name().namespace_uri != kMucUserNamespace || status.name().local_name != "status")
      continue;
    const std::string* code = status.attribute("code");
    if (code == nullptr) continue;
    int value = 0;
    const auto [end, error] = std::from_chars(code->data(), code->data() + code->size(), value);
    if (error == std::errc() && end == code->data() + code->size()) data.statuses.insert(value);
  }
  return data;
}

std::optional<std::int64_t> delay_of(const xml::Element& stanza) {
  const xml::Element* delay = stanza.first_child(xmpp::kDelayNamespace, "delay");
  if (delay == nullptr) return std::nullopt;
  const std::string* stamp = delay->attribute("stamp");
  if (stamp == nullptr) return std::nullopt;
  auto when = xmpp::parse_xmpp_datetime(*stamp);
  if (!when) return std::nullopt;
  return *when;
}

xmpp::StanzaError error_of(const xml::Element& stanza) {
  auto error = xmpp::read_stanza_error(stanza);
  if (error) return *error;
  return xmpp::StanzaError{"", "undefined-condition", ""};
}

}  // namespace

xmpp::Jid RoomAddress::occupant() const {
  auto jid = xmpp::Jid::from_parts(room.localpart(), room.domainpart(), nick);
  return jid ? *jid : room;  // nick was prepared by parse_room_address
}

Result<RoomAddress> parse_room_address(std::string_view text, std::string_view default_nick) {
  auto jid = xmpp::Jid::parse(text);
  if (!jid) return fail(Error::invalid_argument("the room " + jid.error().message));
  if (!jid->has_localpart()) {
    return fail(Error::invalid_argument("\"" + xmpp::escape_for_terminal(text) +
                                        "\" is not a room address: write room@service[/nick]"));
  }
  RoomAddress address{jid->bare(), jid->resourcepart()};
  if (address.nick.empty()) {
    auto nick = xmpp::Jid::from_parts(jid->localpart(), jid->domainpart(), default_nick);
    if (!nick || default_nick.empty())
      return fail(Error::invalid_argument("no usable nickname: write room@service/nick"));
    address.nick = nick->resourcepart();
  }
  return address;
}

xml::Element make_join_presence(const RoomAddress& address, const HistoryRequest& history) {
  xml::Element presence(xmpp::kClientNamespace, "presence");
  presence.set_attribute("to", address.occupant().to_string());
  xml::Element x(kMucNamespace, "x");
  if (history.max_stanzas || history.since) {
    xml::Element limits(kMucNamespace, "history");
    if (history.max_stanzas)
      limits.set_attribute("maxstanzas", std::to_string(*history.max_stanzas));
    if (history.since) limits.set_attribute("since", format_utc_time(*history.since));
    x.append_child(std::move(limits));
  }
  presence.append_child(std::move(x));
  return presence;
}

xml::Element make_leave_presence(const xmpp::Jid& occupant) {
  xml::Element presence(xmpp::kClientNamespace, "presence");
  presence.set_attribute("to", occupant.to_string());
  presence.set_attribute("type", "unavailable");
  return presence;
}

xml::Element make_groupchat_message(const xmpp::Jid& room, std::string_view body,
                                    std::string_view id) {
  xml::Element message(xmpp::kClientNamespace, "message");
  message.set_attribute("type", "groupchat");
  message.set_attribute("to", room.bare_string());
  message.set_attribute("id", id);
  xml::Element text(xmpp::kClientNamespace, "body");
  text.append_text(body);
  message.append_child(std::move(text));
  return message;
}

xml::Element make_instant_room_request(const xmpp::Jid& room, std::string_view id) {
  xml::Element query(kMucOwnerNamespace, "query");
  xml::Element form(kDataFormsNamespace, "x");
  form.set_attribute("type", "submit");
  query.append_child(std::move(form));
  return xmpp::make_iq(xmpp::IqType::set, id, room.bare_string(), std::move(query));
}

const char* to_string(RoomExit exit) {
  switch (exit) {
    case RoomExit::left:
      return "left";
    case RoomExit::kicked:
      return "kicked";
    case RoomExit::banned:
      return "banned";
    case RoomExit::room_destroyed:
      return "room-destroyed";
    case RoomExit::refused:
      return "refused";
    case RoomExit::removed:
      return "removed";
  }
  return "left";
}

const char* to_string(OccupantChange change) {
  switch (change) {
    case OccupantChange::present:
      return "present";
    case OccupantChange::joined:
      return "joined";
    case OccupantChange::left:
      return "left";
    case OccupantChange::renamed:
      return "renamed";
    case OccupantChange::kicked:
      return "kicked";
    case OccupantChange::banned:
      return "banned";
    case OccupantChange::updated:
      return "updated";
  }
  return "updated";
}

xmpp::Jid Room::occupant_jid() const {
  return RoomAddress{address_.room, nick_}.occupant();
}

xml::Element Room::join(const HistoryRequest& history) {
  state_ = RoomState::joining;
  occupants_.clear();
  return make_join_presence(RoomAddress{address_.room, nick_}, history);
}

xml::Element Room::message(std::string_view body) {
  const std::string id = xmpp::new_stanza_id("groupchat");
  // Bounded by what the caller sends before the room answers; a room that never reflects keeps
  // these until the connection ends.
  if (unconfirmed_.size() < 10'000) unconfirmed_.insert(id);
  return make_groupchat_message(address_.room, body, id);
}

void Room::connection_lost() {
  state_ = RoomState::not_joined;
  occupants_.clear();
}

bool Room::concerns(const xml::Element& stanza) const {
  const std::string* from = stanza.attribute("from");
  if (from == nullptr) return false;
  auto jid = xmpp::Jid::parse(*from);
  return jid && jid->bare() == address_.room;
}

std::vector<RoomEvent> Room::apply(const xml::Element& stanza) {
  const std::string* from = stanza.attribute("from");
  if (from == nullptr) return {};
  auto jid = xmpp::Jid::parse(*from);
  if (!jid || jid->bare() != address_.room) return {};
  if (xmpp::is_stanza(stanza, "presence")) return apply_presence(stanza, jid->resourcepart());
  if (xmpp::is_stanza(stanza, "message")) return apply_message(stanza, jid->resourcepart());
  return {};
}

std::vector<RoomEvent> Room::apply_presence(const xml::Element& presence, const std::string& nick) {
  const std::string type = attribute_or_empty(&presence, "type");
  if (type == "error") {
    RoomError error{error_of(presence), state_ == RoomState::joining};
    if (!error.while_joining) return {std::move(error)};
    state_ = RoomState::not_joined;
    occupants_.clear();
    RoomLeft left{RoomExit::refused, xmpp::escape_for_terminal(error.error.condition)};
    return {std::move(error), std::move(left)};
  }
  if (!type.empty() && type != "unavailable") return {};  // subscription requests and the like
  if (nick.empty()) return {};                            // presence of the room itself

  const MucUserData muc = read_muc_user(presence);
  const bool self = muc.has(kStatusSelf) || nick == nick_;
  Occupant occupant{attribute_or_empty(muc.item, "role"),
                    attribute_or_empty(muc.item, "affiliation"),
                    attribute_or_empty(muc.item, "jid")};

  if (type == "unavailable") {
    const std::string new_nick = attribute_or_empty(muc.item, "nick");
    if (muc.has(kStatusNewNick) && !new_nick.empty()) {
      // 7.6: the old name leaves, the same occupant comes back under the new one (its available
      // presence follows and updates the entry).
      occupants_.erase(nick);
      if (self) nick_ = new_nick;
      return {OccupantEvent{nick, OccupantChange::renamed, new_nick, occupant.role,
                            occupant.affiliation, occupant.real_jid}};
    }
    if (self) {
      RoomLeft left{RoomExit::left, {}};
      if (muc.has(kStatusKicked)) left.reason = RoomExit::kicked;
      if (muc.has(kStatusBanned)) left.reason = RoomExit::banned;
      if (muc.has(kStatusRemovedAffiliation) || muc.has(kStatusRemovedMembersOnly) ||
          muc.has(kStatusRemovedShutdown)) {
        left.reason = RoomExit::removed;
      }
      if (muc.x != nullptr) {
        if (const xml::Element* destroy = muc.x->first_child(kMucUserNamespace, "destroy")) {
          left.reason = RoomExit::room_destroyed;
          if (const xml::Element* reason = destroy->first_child(kMucUserNamespace, "reason"))
            left.detail = xmpp::escape_for_terminal(reason->text().substr(0, 512));
        }
      }
      state_ = RoomState::not_joined;
      occupants_.clear();
      return {std::move(left)};
    }
    occupants_.erase(nick);
    OccupantChange change = OccupantChange::left;
    if (muc.has(kStatusKicked)) change = OccupantChange::kicked;
    if (muc.has(kStatusBanned)) change = OccupantChange::banned;
    return {
        OccupantEvent{nick, change, {}, occupant.role, occupant.affiliation, occupant.real_jid}};
  }

  // Available presence.
  const bool known = occupants_.contains(nick);
  if (!known && occupants_.size() >= max_occupants_) {
    return {RoomError{xmpp::StanzaError{"cancel", "resource-constraint",
                                        "the room has more than " + std::to_string(max_occupants_) +
                                            " occupants; the list shown is incomplete"},
                      false}};
  }
  occupants_[nick] = occupant;
  if (self && state_ == RoomState::joining) {
    // 7.2.3: our own presence comes last of the occupants; 210 says the service chose the name.
    if (muc.has(kStatusNickAssigned) || nick != nick_) nick_ = nick;
    state_ = RoomState::joined;
    return {RoomJoined{nick, muc.has(kStatusCreated), occupant.role, occupant.affiliation}};
  }
  OccupantChange change = OccupantChange::updated;
  if (!known)
    change = state_ == RoomState::joining ? OccupantChange::present : OccupantChange::joined;
  OccupantEvent event{nick, change, {}, occupant.role, occupant.affiliation, occupant.real_jid};
  return {std::move(event)};
}

std::vector<RoomEvent> Room::apply_message(const xml::Element& message, const std::string& nick) {
  const std::string type = attribute_or_empty(&message, "type");
  const std::string id = attribute_or_empty(&message, "id");
  if (type == "error") {
    const bool ours = unconfirmed_.erase(id) > 0;
    return {RoomError{error_of(message), false, ours}};
  }
  if (type != "groupchat") return {};  // private messages are chat messages for the caller

  const xml::Element* body = message.first_child(xmpp::kClientNamespace, "body");
  const xml::Element* subject = message.first_child(xmpp::kClientNamespace, "subject");
  if (body == nullptr && subject != nullptr) return {RoomSubject{nick, subject->text()}};
  if (body == nullptr) return {};  // chat states, room status notices without text
  RoomMessage event;
  event.nick = nick;
  event.body = body->text();
  event.id = id;
  event.delayed_since = delay_of(message);
  event.own = !nick.empty() && nick == nick_;
  if (!id.empty()) {
    // The reflection of one of ours confirms it, whatever name it comes under now.
    if (unconfirmed_.erase(id) > 0) event.own = true;
  }
  return {std::move(event)};
}

Result<void> configure_instant_room(Connection& connection, const Room& room,
                                    net::Deadline deadline) {
  const std::string id = xmpp::new_stanza_id("instant-room");
  auto reply = connection.query(make_instant_room_request(room.jid(), id), deadline,
                                "the room's answer to its configuration");
  if (!reply) return fail(reply.error());
  if (const std::string* type = reply->attribute("type"); type && *type == "error") {
    const auto error = xmpp::read_stanza_error(*reply);
    return fail(Error::io("the room " + room.jid().bare_string() +
                          " refused the instant configuration: " +
                          (error ? xmpp::describe(*error) : std::string("no reason given"))));
  }
  return {};
}

}  // namespace parley::client
