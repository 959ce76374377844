#include "server/muc_room.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <optional>
#include <utility>

#include "core/utc_time.hpp"
#include "server/delivery.hpp"
#include "server/iq_handling.hpp"
#include "server/muc_nickname.hpp"
#include "server/stanza.hpp"
#include "xmpp/base64.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kDelayNamespace = "urn:xmpp:delay";
constexpr std::string_view kStanzaIdNamespace = "urn:xmpp:sid:0";
constexpr std::string_view kHintsNamespace = "urn:xmpp:hints";
// XEP-0410: the service answers self-pings itself instead of forwarding them.
constexpr std::string_view kSelfPingOptimization =
    "http://jabber.org/protocol/muc#self-ping-optimization";
// XEP-0045 7.12 (discovering a reserved room nickname): the node a client asks.
constexpr std::string_view kRoomUserItemNode = "x-roomuser-item";

// Status codes of XEP-0045's registry that this room sends.
constexpr int kStatusNonAnonymous = 100;
constexpr int kStatusConfigurationChanged = 104;
constexpr int kStatusSelf = 110;
constexpr int kStatusNowNonAnonymous = 172;
constexpr int kStatusNowSemiAnonymous = 173;
constexpr int kStatusCreated = 201;
constexpr int kStatusNickModified = 210;
constexpr int kStatusBanned = 301;
constexpr int kStatusNewNick = 303;
constexpr int kStatusKicked = 307;
constexpr int kStatusAffiliationChange = 321;
constexpr int kStatusMembersOnly = 322;

std::optional<Affiliation> parse_affiliation(std::string_view text) {
  if (text == "owner") return Affiliation::owner;
  if (text == "admin") return Affiliation::admin;
  if (text == "member") return Affiliation::member;
  if (text == "none") return Affiliation::none;
  if (text == "outcast") return Affiliation::outcast;
  return std::nullopt;
}

std::optional<Role> parse_role(std::string_view text) {
  if (text == "moderator") return Role::moderator;
  if (text == "participant") return Role::participant;
  if (text == "visitor") return Role::visitor;
  if (text == "none") return Role::none;
  return std::nullopt;
}

// XEP-0082 DateTime: CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm), as Unix seconds.
std::optional<std::int64_t> parse_datetime(std::string_view text) {
  auto number = [&](std::size_t at, std::size_t count) -> std::optional<int> {
    if (at + count > text.size()) return std::nullopt;
    int value = 0;
    for (std::size_t i = at; i < at + count; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  auto is = [&](std::size_t at, char c) { return at < text.size() && text[at] == c; };
  const auto year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const auto hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || !is(4, '-') || !is(7, '-') ||
      !is(10, 'T') || !is(13, ':') || !is(16, ':'))
    return std::nullopt;
  if (*hour > 23 || *minute > 59 || *second > 60) return std::nullopt;
  std::size_t at = 19;
  if (is(at, '.')) {
    const std::size_t start = ++at;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') ++at;
    if (at == start || at - start > 9) return std::nullopt;
  }
  std::int64_t offset = 0;
  if (is(at, 'Z')) {
    ++at;
  } else if (is(at, '+') || is(at, '-')) {
    const auto offset_hours = number(at + 1, 2), offset_minutes = number(at + 4, 2);
    if (!offset_hours || !offset_minutes || !is(at + 3, ':') || *offset_hours > 23 ||
        *offset_minutes > 59)
      return std::nullopt;
    offset = (text[at] == '-' ? -1 : 1) * (*offset_hours * 3600 + *offset_minutes * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != text.size()) return std::nullopt;
  const std::chrono::year_month_day date{std::chrono::year{*year},
                                         std::chrono::month{static_cast<unsigned>(*month)},
                                         std::chrono::day{static_cast<unsigned>(*day)}};
  if (!date.ok()) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days{date}.time_since_epoch().count();
  return days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
}

std::optional<std::int64_t> parse_count(const std::string* text) {
  if (text == nullptr) return std::nullopt;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 0) return std::nullopt;
  return value;
}

// `wire` is a stanza named `element_name` serialized without 'to'; the same stanza addressed to
// `to`. One serialization serves a whole room this way; only the address differs per recipient.
std::string addressed(std::string_view wire, std::string_view element_name, std::string_view to) {
  const std::size_t head = 1 + element_name.size();
  std::string out;
  out.reserve(wire.size() + to.size() + 8);
  out.append(wire.substr(0, head));
  out.append(" to='");
  xml::append_escaped_attribute_value(out, to);
  out.push_back('\'');
  out.append(wire.substr(head));
  return out;
}

void send_addressed(BoundSession& session, std::string_view wire, std::string_view element_name) {
  session.send_wire(addressed(wire, element_name, session.full_jid().to_string()));
}

// Children the room writes itself and a sender must not be able to forge (XEP-0045 MUC payloads,
// XEP-0421 occupant ids, XEP-0359 stanza ids in the room's name), and stanza errors.
bool is_reserved_child(const xml::Element& child, std::string_view room_jid) {
  const auto& ns = child.name().namespace_uri;
  if (ns == kMucNamespace || ns == kMucUserNamespace || ns == kOccupantIdNamespace) return true;
  if (ns == kStanzaIdNamespace && child.name().local_name == "stanza-id") {
    const std::string* by = child.attribute("by");
    return by != nullptr && *by == room_jid;
  }
  return ns == kClientNamespace && child.name().local_name == "error";
}

// A copy of `stanza` as the room passes it on: 'to' and 'from' dropped (the room sets them),
// everything else kept except reserved children.
xml::Element reflected(const xml::Element& stanza, std::string_view room_jid) {
  xml::Element out(stanza.name());
  for (const auto& attribute : stanza.attributes()) {
    const auto& local = attribute.name.local_name;
    if (attribute.name.namespace_uri.empty() && (local == "to" || local == "from")) continue;
    out.set_attribute(attribute.name, attribute.value);
  }
  for (const auto& child : stanza.children()) {
    if (child.is_element() && !is_reserved_child(child.element(), room_jid))
      out.append_child(child.element());
  }
  return out;
}

// What is kept of an occupant's presence: its children (show, status, caps, avatar hash...).
xml::Element kept_presence(const xml::Element& presence, std::string_view room_jid) {
  xml::Element out(kClientNamespace, "presence");
  for (const auto& child : presence.children()) {
    if (child.is_element() && !is_reserved_child(child.element(), room_jid))
      out.append_child(child.element());
  }
  return out;
}

// XEP-0421: stable for one account in one room, unlinkable across rooms and services.
std::string make_occupant_id(std::string_view secret, std::string_view room_jid,
                             std::string_view real_bare_jid) {
  std::string data;
  data.reserve(room_jid.size() + real_bare_jid.size() + 1);
  data.append(room_jid);
  data.push_back('\n');  // no JID contains a line feed, so the pair is unambiguous
  data.append(real_bare_jid);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
           &length) == nullptr)
    return random_id(16);  // unstable but still unlinkable; OpenSSL failing here is exceptional
  return xmpp::base64_encode(std::string_view(reinterpret_cast<const char*>(mac), length));
}

// The nickname as the client spelled it differs from the prepared resourcepart (status 210).
bool nickname_modified(const xml::Element& stanza, const xmpp::Jid& to) {
  const std::string* raw = stanza.attribute("to");
  if (raw == nullptr) return false;
  const std::size_t slash = raw->find('/');
  return slash != std::string::npos &&
         std::string_view(*raw).substr(slash + 1) != to.resourcepart();
}

// The bare JID of an account named in attribute `name` ("to" of an invite or decline).
std::optional<xmpp::Jid> account_attribute(const xml::Element& element, std::string_view name) {
  const std::string* text = element.attribute(name);
  if (text == nullptr) return std::nullopt;
  auto jid = xmpp::Jid::parse(*text);
  if (!jid || !jid->has_localpart()) return std::nullopt;
  return jid->bare();
}

xml::Element& add_child(xml::Element& parent, std::string_view local_name) {
  return parent.append_child(xml::Element(parent.name().namespace_uri, local_name));
}

void add_status(xml::Element& x, int code) {
  add_child(x, "status").set_attribute("code", std::to_string(code));
}

const xml::Element* first_element_child(const xml::Element& element) {
  for (const auto& child : element.children())
    if (child.is_element()) return &child.element();
  return nullptr;
}

// XEP-0004 submitted form, bounded.
struct SubmittedForm {
  std::string type;
  std::map<std::string, std::vector<std::string>, std::less<>> fields;

  // The first value of a field that is present; nullopt when the field is absent.
  std::optional<std::string> single(std::string_view var) const {
    auto it = fields.find(var);
    if (it == fields.end()) return std::nullopt;
    return it->second.empty() ? std::string() : it->second.front();
  }
};

std::optional<SubmittedForm> read_form(const xml::Element& x) {
  SubmittedForm form;
  if (const std::string* type = x.attribute("type")) form.type = *type;
  std::size_t fields = 0;
  for (const auto& child : x.children()) {
    if (!child.is_element()) continue;
    const xml::Element& field = child.element();
    if (field.name() != xml::QualifiedName{std::string(kDataFormsNamespace), "field"}) continue;
    if (++fields > kMaxFormFields) return std::nullopt;
    const std::string* var = field.attribute("var");
    if (var == nullptr) continue;
    std::vector<std::string>& values = form.fields[*var];
    for (const auto& value : field.children()) {
      if (!value.is_element() || value.element().name().local_name != "value") continue;
      if (values.size() >= kMaxFormFields) return std::nullopt;
      values.push_back(value.element().text());
    }
  }
  return form;
}

// XEP-0004 3.3 boolean.
std::optional<bool> parse_boolean(std::string_view text) {
  if (text == "1" || text == "true") return true;
  if (text == "0" || text == "false") return false;
  return std::nullopt;
}

void add_field(xml::Element& form, std::string_view type, std::string_view var,
               std::string_view label, std::string_view value) {
  xml::Element& field = add_child(form, "field");
  field.set_attribute("type", type);
  field.set_attribute("var", var);
  if (!label.empty()) field.set_attribute("label", label);
  add_child(field, "value").append_text(value);
}

std::string_view boolean_value(bool value) {
  return value ? "1" : "0";
}

}  // namespace

std::string_view to_string(Affiliation affiliation) {
  switch (affiliation) {
    case Affiliation::outcast:
      return "outcast";
    case Affiliation::none:
      return "none";
    case Affiliation::member:
      return "member";
    case Affiliation::admin:
      return "admin";
    case Affiliation::owner:
      return "owner";
  }
  return "none";
}

std::string_view to_string(Role role) {
  switch (role) {
    case Role::none:
      return "none";
    case Role::visitor:
      return "visitor";
    case Role::participant:
      return "participant";
    case Role::moderator:
      return "moderator";
  }
  return "none";
}

// ---------------------------------------------------------------------------------------------
// MucSessionIndex

void MucSessionIndex::add(const BoundSession& session, const std::string& room) {
  auto& rooms = rooms_[&session];
  if (std::find(rooms.begin(), rooms.end(), room) == rooms.end()) rooms.push_back(room);
}

void MucSessionIndex::remove(const BoundSession& session, const std::string& room) {
  auto it = rooms_.find(&session);
  if (it == rooms_.end()) return;
  std::erase(it->second, room);
  if (it->second.empty()) rooms_.erase(it);
}

std::vector<std::string> MucSessionIndex::rooms_of(const BoundSession& session) const {
  auto it = rooms_.find(&session);
  return it == rooms_.end() ? std::vector<std::string>() : it->second;
}

std::size_t MucSessionIndex::room_count_of(const BoundSession& session) const {
  auto it = rooms_.find(&session);
  return it == rooms_.end() ? 0 : it->second.size();
}

// ---------------------------------------------------------------------------------------------
// The room

MucRoom::MucRoom(MucContext& context, std::string localpart, const xmpp::Jid& creator)
    : context_(context),
      localpart_(std::move(localpart)),
      jid_(localpart_ + "@" + context.config.domain) {
  settings_.max_occupants = context_.config.max_occupants_per_room;
  affiliations_[creator.bare_string()] = Affiliation::owner;
}

const std::string& MucRoom::display_name() const {
  return settings_.name.empty() ? localpart_ : settings_.name;
}

MucRoom::Occupant* MucRoom::occupant_of(const BoundSession& session) {
  auto it = key_of_session_.find(&session);
  return it == key_of_session_.end() ? nullptr : occupant_by_key(it->second);
}

MucRoom::Occupant* MucRoom::occupant_by_key(const std::string& nick_key) {
  auto it = occupants_.find(nick_key);
  return it == occupants_.end() ? nullptr : &it->second;
}

MucRoom::Occupant* MucRoom::occupant_by_real_jid(const std::string& bare_jid) {
  for (auto& [key, occupant] : occupants_)
    if (occupant.real_jid.bare_string() == bare_jid) return &occupant;
  return nullptr;
}

Affiliation MucRoom::affiliation_of(const std::string& bare_jid) const {
  auto it = affiliations_.find(bare_jid);
  return it == affiliations_.end() ? Affiliation::none : it->second;
}

Affiliation MucRoom::affiliation_of(const BoundSession& session) const {
  return affiliation_of(session.full_jid().bare_string());
}

Role MucRoom::default_role(Affiliation affiliation) const {
  switch (affiliation) {
    case Affiliation::owner:
    case Affiliation::admin:
      return Role::moderator;  // 5.1: recommended, and what users expect
    case Affiliation::member:
    case Affiliation::none:
      return Role::participant;  // no moderated rooms yet
    case Affiliation::outcast:
      return Role::none;
  }
  return Role::none;
}

bool MucRoom::sees_real_jids(const Occupant& viewer) const {
  return settings_.non_anonymous || viewer.role == Role::moderator;
}

std::string MucRoom::address_of(const Occupant& occupant) const {
  return jid_ + "/" + occupant.nick;
}

std::size_t MucRoom::owner_count() const {
  return static_cast<std::size_t>(
      std::count_if(affiliations_.begin(), affiliations_.end(),
                    [](const auto& entry) { return entry.second == Affiliation::owner; }));
}

void MucRoom::reply_error(BoundSession& session, const xml::Element& stanza, ErrorType type,
                          std::string_view condition, std::string_view text) {
  if (type_of(stanza) == "error") return;  // RFC 6120 8.3.1: never answer an error
  session.send_wire(
      to_wire(make_error_reply(stanza, context_.services.domain, type, condition, text)));
}

// ---------------------------------------------------------------------------------------------
// Presence

xml::Element MucRoom::presence_element(const Occupant& subject, const PresenceNotice& notice,
                                       Audience audience) const {
  xml::Element presence(kClientNamespace, "presence");
  presence.set_attribute("from", address_of(subject));
  if (notice.unavailable) presence.set_attribute("type", "unavailable");
  for (const auto& child : subject.presence.children())
    if (child.is_element()) presence.append_child(child.element());

  xml::Element& x = presence.append_child(xml::Element(kMucUserNamespace, "x"));
  xml::Element& item = add_child(x, "item");
  const Affiliation affiliation = notice.destroy != nullptr
                                      ? Affiliation::none
                                      : affiliation_of(subject.real_jid.bare_string());
  item.set_attribute("affiliation", to_string(affiliation));
  item.set_attribute("role", to_string(notice.unavailable ? Role::none : subject.role));
  if (audience != Audience::anonymous && !subject.sessions.empty())
    item.set_attribute("jid", subject.sessions.front()->full_jid().to_string());
  if (!notice.new_nick.empty()) item.set_attribute("nick", notice.new_nick);
  if (!notice.actor_nick.empty()) add_child(item, "actor").set_attribute("nick", notice.actor_nick);
  if (!notice.reason.empty()) add_child(item, "reason").append_text(notice.reason);
  if (notice.destroy != nullptr) x.append_child(*notice.destroy);

  std::vector<int> statuses = notice.statuses;
  if (audience == Audience::self) {
    statuses.insert(statuses.end(), notice.self_statuses.begin(), notice.self_statuses.end());
    statuses.push_back(kStatusSelf);
  }
  std::sort(statuses.begin(), statuses.end());
  statuses.erase(std::unique(statuses.begin(), statuses.end()), statuses.end());
  for (int code : statuses) add_status(x, code);

  presence.append_child(xml::Element(kOccupantIdNamespace, "occupant-id"))
      .set_attribute("id", subject.occupant_id);
  return presence;
}

std::string MucRoom::presence_wire(const Occupant& subject, const PresenceNotice& notice,
                                   Audience audience) const {
  return to_wire(presence_element(subject, notice, audience));
}

void MucRoom::broadcast_presence(const Occupant& subject, const PresenceNotice& notice,
                                 const BoundSession* skip) {
  std::string self, with_real_jid, anonymous;
  for (BoundSession* session : subject.sessions) {
    if (session == skip) continue;
    if (self.empty()) self = presence_wire(subject, notice, Audience::self);
    send_addressed(*session, self, "presence");
  }
  for (const auto& [key, viewer] : occupants_) {
    if (&viewer == &subject) continue;
    std::string& wire = sees_real_jids(viewer) ? with_real_jid : anonymous;
    if (wire.empty())
      wire = presence_wire(subject, notice,
                           sees_real_jids(viewer) ? Audience::with_real_jid : Audience::anonymous);
    for (BoundSession* session : viewer.sessions) {
      if (session != skip) send_addressed(*session, wire, "presence");
    }
  }
}

void MucRoom::broadcast_wire(const std::string& wire, std::string_view element_name) {
  for (const auto& [key, occupant] : occupants_)
    for (BoundSession* session : occupant.sessions) send_addressed(*session, wire, element_name);
}

void MucRoom::handle_presence(BoundSession& from, xml::Element presence, const xmpp::Jid& to) {
  const std::string type = type_of(presence);
  Occupant* occupant = occupant_of(from);
  if (type == "unavailable") {
    if (occupant != nullptr) leave(from, &presence, /*tell_leaver=*/true);
    return;
  }
  // A presence error from an occupant's session means its client is gone or confused; keeping
  // it would leave a ghost in the room (XEP-0045's business rules suggest removing it).
  if (type == "error") {
    if (occupant != nullptr) leave(from, nullptr, /*tell_leaver=*/true);
    return;
  }
  if (!type.empty()) return;  // subscriptions and probes: a room has no roster
  if (occupant == nullptr) {
    if (to.is_bare())
      return reply_error(from, presence, ErrorType::modify, "jid-malformed",
                         "a nickname is required: send presence to room@service/nickname");
    return join(from, std::move(presence), to);
  }
  if (to.is_bare() || to.resourcepart() == occupant->nick) {
    // 7.7: a presence update (show, status) from an occupant; everyone sees it.
    occupant->presence = kept_presence(presence, jid_);
    return broadcast_presence(*occupant, {});
  }
  change_nick(from, *occupant, std::move(presence), to);
}

void MucRoom::join(BoundSession& session, xml::Element presence, const xmpp::Jid& to) {
  auto key = nickname_comparison_key(to.resourcepart());
  if (!key)
    return reply_error(session, presence, ErrorType::modify, "jid-malformed", key.error().message);
  const std::string bare = session.full_jid().bare_string();
  const Affiliation affiliation = affiliation_of(bare);
  // 7.2: banned, nickname conflict, members-only, full, password, in that order.
  if (affiliation == Affiliation::outcast)
    return reply_error(session, presence, ErrorType::auth, "forbidden",
                       "you are banned from this room");
  Occupant* existing = occupant_by_key(*key);
  if (existing != nullptr && existing->real_jid.bare_string() != bare)
    return reply_error(session, presence, ErrorType::cancel, "conflict",
                       "that nickname is in use in this room");
  const xml::Element* muc = presence.first_child(kMucNamespace, "x");
  if (existing == nullptr) {
    if (settings_.members_only && affiliation < Affiliation::member)
      return reply_error(session, presence, ErrorType::auth, "registration-required",
                         "this room is members-only");
    if (occupants_.size() >= context_.config.max_occupants_per_room ||
        (occupants_.size() >= settings_.max_occupants && affiliation < Affiliation::admin))
      return reply_error(session, presence, ErrorType::wait, "service-unavailable",
                         "the room is full");
    if (!settings_.password.empty() && affiliation < Affiliation::admin) {
      const xml::Element* password =
          muc == nullptr ? nullptr : muc->first_child(kMucNamespace, "password");
      const std::string given = password == nullptr ? std::string() : password->text();
      if (given.size() != settings_.password.size() ||
          CRYPTO_memcmp(given.data(), settings_.password.data(), given.size()) != 0)
        return reply_error(session, presence, ErrorType::auth, "not-authorized",
                           "this room needs a password");
    }
  }
  if (context_.sessions.room_count_of(session) >= kMaxRoomsPerSession)
    return reply_error(session, presence, ErrorType::wait, "resource-constraint",
                       "this session is in too many rooms");

  std::optional<xml::Element> history_request;
  if (muc != nullptr)
    if (const xml::Element* history = muc->first_child(kMucNamespace, "history"))
      history_request = *history;
  const bool created = std::exchange(awaiting_creator_, false);

  Occupant* occupant = existing;
  if (occupant == nullptr) {
    Occupant fresh{
        .nick = to.resourcepart(),
        .nick_key = *key,
        .real_jid = session.full_jid().bare(),
        .occupant_id = make_occupant_id(context_.occupant_id_secret, jid_, bare),
        .sessions = {},
        .role = default_role(affiliation),
        .presence = kept_presence(presence, jid_),
    };
    occupant = &occupants_.emplace(*key, std::move(fresh)).first->second;
  } else {
    occupant->presence = kept_presence(presence, jid_);
  }
  occupant->sessions.push_back(&session);
  key_of_session_[&session] = *key;
  context_.sessions.add(session, localpart_);

  // 7.2 (presence broadcast): everyone already there, to the newcomer.
  const Audience view = sees_real_jids(*occupant) ? Audience::with_real_jid : Audience::anonymous;
  for (const auto& [other_key, other] : occupants_) {
    if (&other == occupant) continue;
    send_addressed(session, presence_wire(other, {}, view), "presence");
  }
  // The newcomer to everyone else (its own other sessions get the self form).
  broadcast_presence(*occupant, {}, &session);
  // Self-presence last, with what the newcomer must know about the room and its nickname.
  PresenceNotice self;
  if (settings_.non_anonymous) self.self_statuses.push_back(kStatusNonAnonymous);
  if (created) self.self_statuses.push_back(kStatusCreated);
  if (nickname_modified(presence, to) || occupant->nick != to.resourcepart())
    self.self_statuses.push_back(kStatusNickModified);  // also: joined its other session's nick
  xml::Element self_presence = presence_element(*occupant, self, Audience::self);
  if (const std::string* id = presence.attribute("id")) self_presence.set_attribute("id", *id);
  send_addressed(session, to_wire(self_presence), "presence");

  send_history(session, history_request ? &*history_request : nullptr);
  send_subject(session);
  if (created)
    context_.services.log->info("muc: {} created by {}", jid_, session.full_jid().to_string());
}

void MucRoom::change_nick(BoundSession& session, Occupant& occupant, xml::Element presence,
                          const xmpp::Jid& to) {
  auto key = nickname_comparison_key(to.resourcepart());
  if (!key)
    return reply_error(session, presence, ErrorType::modify, "jid-malformed", key.error().message);
  Occupant* other = occupant_by_key(*key);
  if (other != nullptr && other != &occupant)
    return reply_error(session, presence, ErrorType::cancel, "conflict",
                       "that nickname is in use in this room");
  // 7.6: unavailable under the old nickname, with status 303 and the new one.
  broadcast_presence(occupant, PresenceNotice{.unavailable = true,
                                              .statuses = {kStatusNewNick},
                                              .new_nick = to.resourcepart()});
  auto node = occupants_.extract(occupant.nick_key);
  node.key() = *key;
  node.mapped().nick = to.resourcepart();
  node.mapped().nick_key = *key;
  node.mapped().presence = kept_presence(presence, jid_);
  Occupant& renamed = occupants_.insert(std::move(node)).position->second;
  for (BoundSession* each : renamed.sessions) key_of_session_[each] = *key;
  PresenceNotice back;
  if (nickname_modified(presence, to)) back.self_statuses.push_back(kStatusNickModified);
  broadcast_presence(renamed, back);
}

void MucRoom::leave(BoundSession& session, const xml::Element* presence, bool tell_leaver) {
  Occupant* occupant = occupant_of(session);
  if (occupant == nullptr) return;
  xml::Element last = presence != nullptr ? kept_presence(*presence, jid_)
                                          : xml::Element(kClientNamespace, "presence");
  if (occupant->sessions.size() > 1) {
    // One of several sessions of the occupant leaves: it alone hears that it left (7.14, 110).
    if (tell_leaver) {
      Occupant leaving = *occupant;
      leaving.presence = std::move(last);
      leaving.sessions = {&session};
      send_addressed(session, presence_wire(leaving, {.unavailable = true}, Audience::self),
                     "presence");
    }
    std::erase(occupant->sessions, &session);
    key_of_session_.erase(&session);
    context_.sessions.remove(session, localpart_);
    return;
  }
  occupant->presence = std::move(last);
  remove_occupant(*occupant, {.unavailable = true}, tell_leaver ? nullptr : &session);
}

void MucRoom::remove_occupant(Occupant& occupant, PresenceNotice notice, const BoundSession* skip) {
  notice.unavailable = true;
  broadcast_presence(occupant, notice, skip);
  for (BoundSession* session : occupant.sessions) {
    key_of_session_.erase(session);
    context_.sessions.remove(*session, localpart_);
  }
  const std::string key = occupant.nick_key;  // `occupant` dies with the erase
  occupants_.erase(key);
}

void MucRoom::session_ended(BoundSession& session) {
  leave(session, nullptr, /*tell_leaver=*/false);
}

void MucRoom::session_replaced(const BoundSession& old_session, BoundSession& new_session) {
  auto it = key_of_session_.find(&old_session);
  if (it == key_of_session_.end()) return;
  const std::string key = it->second;
  key_of_session_.erase(it);
  context_.sessions.remove(old_session, localpart_);
  Occupant* occupant = occupant_by_key(key);
  if (occupant == nullptr) return;
  std::replace_if(
      occupant->sessions.begin(), occupant->sessions.end(),
      [&](const BoundSession* each) { return each == &old_session; }, &new_session);
  key_of_session_[&new_session] = key;
  context_.sessions.add(new_session, localpart_);
}

// ---------------------------------------------------------------------------------------------
// History and subject

void MucRoom::add_history(const xml::Element& message) {
  if (context_.config.history_messages == 0) return;
  if (message.first_child(kHintsNamespace, "no-store") != nullptr) return;  // XEP-0334
  const std::int64_t now = context_.clock();
  xml::Element entry = message;
  xml::Element& delay = entry.append_child(xml::Element(kDelayNamespace, "delay"));
  delay.set_attribute("from", jid_);
  delay.set_attribute("stamp", utc_timestamp(now));
  std::string wire = to_wire(entry);
  if (wire.size() > kMaxHistoryBytesPerRoom) return;
  history_bytes_ += wire.size();
  history_.push_back({std::move(wire), now});
  while (history_.size() > context_.config.history_messages ||
         history_bytes_ > kMaxHistoryBytesPerRoom) {
    history_bytes_ -= history_.front().wire.size();
    history_.pop_front();
  }
}

void MucRoom::send_history(BoundSession& session, const xml::Element* request) {
  if (history_.empty()) return;
  // 7.2 "Managing Discussion History": the limits combine; each one only shortens the list.
  std::size_t max_stanzas = history_.size();
  std::optional<std::size_t> max_chars;
  std::optional<std::int64_t> since;
  if (request != nullptr) {
    if (auto value = parse_count(request->attribute("maxstanzas")))
      max_stanzas = std::min(max_stanzas, static_cast<std::size_t>(*value));
    if (auto value = parse_count(request->attribute("maxchars")))
      max_chars = static_cast<std::size_t>(*value);
    if (auto value = parse_count(request->attribute("seconds")))
      since = context_.clock() - std::min<std::int64_t>(*value, std::int64_t{1} << 40);
    if (const std::string* text = request->attribute("since"))
      if (auto value = parse_datetime(*text)) since = std::max(since.value_or(*value), *value);
  }
  std::size_t count = 0, chars = 0;
  for (auto it = history_.rbegin(); it != history_.rend() && count < max_stanzas; ++it) {
    if (since && it->stamp < *since) break;
    if (max_chars && chars + it->wire.size() > *max_chars) break;
    chars += it->wire.size();
    ++count;
  }
  for (auto it = history_.end() - static_cast<std::ptrdiff_t>(count); it != history_.end(); ++it)
    send_addressed(session, it->wire, "message");
}

void MucRoom::send_subject(BoundSession& session) {
  // 7.2: always sent, empty when there is none; it tells the client the join is complete.
  xml::Element message(kClientNamespace, "message");
  message.set_attribute("type", "groupchat");
  message.set_attribute("from", subject_.nick.empty() ? jid_ : jid_ + "/" + subject_.nick);
  message.set_attribute("id", random_id());
  add_child(message, "subject").append_text(subject_.text);
  if (!subject_.nick.empty()) {
    xml::Element& delay = message.append_child(xml::Element(kDelayNamespace, "delay"));
    delay.set_attribute("from", jid_);
    delay.set_attribute("stamp", utc_timestamp(subject_.stamp));
  }
  send_addressed(session, to_wire(message), "message");
}

void MucRoom::announce_statuses(const std::vector<int>& statuses) {
  xml::Element message(kClientNamespace, "message");
  message.set_attribute("type", "groupchat");
  message.set_attribute("from", jid_);
  message.set_attribute("id", random_id());
  xml::Element& x = message.append_child(xml::Element(kMucUserNamespace, "x"));
  for (int code : statuses) add_status(x, code);
  broadcast_wire(to_wire(message), "message");
}

// ---------------------------------------------------------------------------------------------
// Messages

void MucRoom::handle_message(BoundSession& from, xml::Element message, const xmpp::Jid& to) {
  const std::string type = type_of(message);
  if (type == "error" || type == "headline") return;
  if (to.is_full()) return private_message(from, std::move(message), to);
  if (type == "groupchat") return groupchat(from, std::move(message));
  if (const xml::Element* x = message.first_child(kMucUserNamespace, "x")) {
    if (x->first_child(kMucUserNamespace, "invite") != nullptr)
      return invitations(from, message, *x);
    if (x->first_child(kMucUserNamespace, "decline") != nullptr) return decline(from, message, *x);
  }
  reply_error(from, message, ErrorType::modify, "bad-request",
              "messages to the room are of type groupchat");
}

void MucRoom::groupchat(BoundSession& session, xml::Element message) {
  Occupant* occupant = occupant_of(session);
  if (occupant == nullptr)
    return reply_error(session, message, ErrorType::modify, "not-acceptable",
                       "only occupants may send messages to the room");
  if (message.first_child(kClientNamespace, "subject") != nullptr &&
      message.first_child(kClientNamespace, "body") == nullptr)
    return change_subject(session, *occupant, message);
  if (occupant->role == Role::visitor)
    return reply_error(session, message, ErrorType::auth, "forbidden",
                       "visitors may not speak in this room");
  xml::Element out = reflected(message, jid_);
  out.set_attribute("from", address_of(*occupant));
  out.append_child(xml::Element(kOccupantIdNamespace, "occupant-id"))
      .set_attribute("id", occupant->occupant_id);
  broadcast_wire(to_wire(out), "message");
  if (out.first_child(kClientNamespace, "body") != nullptr) add_history(out);
}

void MucRoom::change_subject(BoundSession& session, Occupant& occupant,
                             const xml::Element& message) {
  if (occupant.role == Role::visitor ||
      (occupant.role != Role::moderator && !settings_.participants_change_subject))
    return reply_error(session, message, ErrorType::auth, "forbidden",
                       "you may not change the subject of this room");
  subject_.text = message.first_child(kClientNamespace, "subject")->text();
  subject_.nick = occupant.nick;
  subject_.stamp = context_.clock();
  xml::Element out = reflected(message, jid_);
  out.set_attribute("from", address_of(occupant));
  out.append_child(xml::Element(kOccupantIdNamespace, "occupant-id"))
      .set_attribute("id", occupant.occupant_id);
  broadcast_wire(to_wire(out), "message");
}

void MucRoom::private_message(BoundSession& session, xml::Element message, const xmpp::Jid& to) {
  Occupant* sender = occupant_of(session);
  if (sender == nullptr)
    return reply_error(session, message, ErrorType::modify, "not-acceptable",
                       "only occupants may send private messages in the room");
  if (type_of(message) == "groupchat")
    return reply_error(session, message, ErrorType::modify, "bad-request",
                       "groupchat messages go to the room, not to an occupant");
  auto key = nickname_comparison_key(to.resourcepart());
  Occupant* target = key ? occupant_by_key(*key) : nullptr;
  if (target == nullptr)
    return reply_error(session, message, ErrorType::cancel, "item-not-found",
                       "no occupant has that nickname");
  xml::Element out = reflected(message, jid_);
  out.set_attribute("from", address_of(*sender));
  out.append_child(xml::Element(kMucUserNamespace, "x"));  // 7.5: marks it as a MUC PM
  out.append_child(xml::Element(kOccupantIdNamespace, "occupant-id"))
      .set_attribute("id", sender->occupant_id);
  const std::string wire = to_wire(out);
  for (BoundSession* each : target->sessions) send_addressed(*each, wire, "message");
}

void MucRoom::invitations(BoundSession& session, const xml::Element& message,
                          const xml::Element& x) {
  ServerServices& services = context_.services;
  const Affiliation affiliation = affiliation_of(session);
  if (occupant_of(session) == nullptr && affiliation < Affiliation::admin)
    return reply_error(session, message, ErrorType::modify, "not-acceptable",
                       "only occupants may invite others to the room");
  const bool may_add_members = affiliation >= Affiliation::admin || settings_.participants_invite;
  if (settings_.members_only && !may_add_members)
    return reply_error(session, message, ErrorType::auth, "forbidden",
                       "only admins may invite to this members-only room");
  std::vector<std::pair<xmpp::Jid, std::string>> invitees;  // with the reason
  for (const auto& child : x.children()) {
    if (!child.is_element() || child.element().name().local_name != "invite") continue;
    if (invitees.size() >= kMaxInvitesPerMessage)
      return reply_error(session, message, ErrorType::modify, "policy-violation",
                         "too many invitations in one message");
    auto invitee = account_attribute(child.element(), "to");
    if (!invitee)
      return reply_error(session, message, ErrorType::modify, "jid-malformed",
                         "an invitation needs the invitee's JID in 'to'");
    if (invitee->domainpart() != services.domain)
      return reply_error(session, message, ErrorType::cancel, "remote-server-not-found",
                         "this server does not federate");
    const xml::Element* reason = child.element().first_child(kMucUserNamespace, "reason");
    invitees.emplace_back(*invitee, reason == nullptr ? std::string() : reason->text());
  }
  const std::string inviter = session.full_jid().bare_string();
  for (const auto& [invitee, reason] : invitees) {
    auto exists = services.storage.accounts().exists(invitee.localpart());
    if (!exists) {
      services.log->error("muc: account lookup for {}: {}", invitee.bare_string(),
                          exists.error().message);
      continue;
    }
    if (!*exists) {
      reply_error(session, message, ErrorType::cancel, "service-unavailable");
      continue;
    }
    // 7.8.2: in a members-only room the invitee becomes a member, or it could not come in.
    if (settings_.members_only && affiliation_of(invitee.bare_string()) < Affiliation::member &&
        affiliation_of(invitee.bare_string()) != Affiliation::outcast &&
        affiliations_.size() < kMaxAffiliationsPerRoom)
      affiliations_[invitee.bare_string()] = Affiliation::member;
    xml::Element out(kClientNamespace, "message");
    out.set_attribute("from", jid_);
    out.set_attribute("to", invitee.bare_string());
    out.set_attribute("id", random_id());
    xml::Element& out_x = out.append_child(xml::Element(kMucUserNamespace, "x"));
    xml::Element& invite = add_child(out_x, "invite");
    invite.set_attribute("from", inviter);
    if (!reason.empty()) add_child(invite, "reason").append_text(reason);
    if (!settings_.password.empty()) add_child(out_x, "password").append_text(settings_.password);
    std::string body = inviter + " invites you to the room " + jid_;
    if (!reason.empty()) body += ": " + reason;
    add_child(out, "body").append_text(body);
    deliver_to_available_or_store(services, invitee, out);
  }
}

void MucRoom::decline(BoundSession& session, const xml::Element& message, const xml::Element& x) {
  ServerServices& services = context_.services;
  const xml::Element* declined = x.first_child(kMucUserNamespace, "decline");
  auto inviter = account_attribute(*declined, "to");
  if (!inviter)
    return reply_error(session, message, ErrorType::modify, "jid-malformed",
                       "a decline needs the inviter's JID in 'to'");
  if (inviter->domainpart() != services.domain)
    return reply_error(session, message, ErrorType::cancel, "remote-server-not-found",
                       "this server does not federate");
  auto exists = services.storage.accounts().exists(inviter->localpart());
  if (!exists || !*exists) return;  // nobody to tell
  xml::Element out(kClientNamespace, "message");
  out.set_attribute("from", jid_);
  out.set_attribute("to", inviter->bare_string());
  out.set_attribute("id", random_id());
  xml::Element& out_decline =
      add_child(out.append_child(xml::Element(kMucUserNamespace, "x")), "decline");
  out_decline.set_attribute("from", session.full_jid().bare_string());
  if (const xml::Element* reason = declined->first_child(kMucUserNamespace, "reason"))
    add_child(out_decline, "reason").append_text(reason->text());
  deliver_to_available_or_store(services, *inviter, out);
}

// ---------------------------------------------------------------------------------------------
// IQ

void MucRoom::handle_iq(BoundSession& from, const xml::Element& iq, const xmpp::Jid& to) {
  const std::string type = type_of(iq);
  if (type != "get" && type != "set") return;  // results and errors: the room asked nothing
  const xml::Element* query = first_element_child(iq);
  if (query == nullptr || iq.child_element_count() != 1)
    return reply_error(from, iq, ErrorType::modify, "bad-request");
  const bool is_get = type == "get";
  const auto& ns = query->name().namespace_uri;
  const auto& name = query->name().local_name;

  if (to.is_full()) {
    // XEP-0410: a client pings its own occupant address to learn whether it is still joined.
    Occupant* sender = occupant_of(from);
    if (sender == nullptr)
      return reply_error(from, iq, ErrorType::modify, "not-acceptable",
                         "you are not an occupant of this room");
    auto key = nickname_comparison_key(to.resourcepart());
    Occupant* target = key ? occupant_by_key(*key) : nullptr;
    if (target == nullptr)
      return reply_error(from, iq, ErrorType::cancel, "item-not-found",
                         "no occupant has that nickname");
    if (target == sender && is_get && ns == kPingNamespace && name == "ping")
      return from.send_wire(to_wire(make_iq_result(iq, to.to_string())));
    return reply_error(from, iq, ErrorType::cancel, "service-unavailable",
                       "requests are not forwarded to occupants");
  }
  if (is_get && ns == kDiscoInfoNamespace && name == "query") return disco_info(from, iq);
  if (is_get && ns == kDiscoItemsNamespace && name == "query") {
    if (query->attribute("node") != nullptr)
      return reply_error(from, iq, ErrorType::cancel, "item-not-found");
    xml::Element result = make_iq_result(iq, jid_);
    result.append_child(xml::Element(kDiscoItemsNamespace, "query"));
    return from.send_wire(to_wire(result));
  }
  if (is_get && ns == kPingNamespace && name == "ping")
    return from.send_wire(to_wire(make_iq_result(iq, jid_)));
  if (ns == kMucOwnerNamespace && name == "query")
    return is_get ? owner_get(from, iq) : owner_set(from, iq, *query);
  if (ns == kMucAdminNamespace && name == "query")
    return is_get ? admin_get(from, iq, *query) : admin_set(from, iq, *query);
  reply_error(from, iq, ErrorType::cancel, "service-unavailable");
}

void MucRoom::disco_info(BoundSession& session, const xml::Element& iq) {
  const xml::Element* request = first_element_child(iq);
  xml::Element result = make_iq_result(iq, jid_);
  xml::Element& query = result.append_child(xml::Element(kDiscoInfoNamespace, "query"));
  if (const std::string* node = request->attribute("node")) {
    // Reserved nicknames are not kept: the answer to "what is my nickname here" is empty.
    if (*node != kRoomUserItemNode)
      return reply_error(session, iq, ErrorType::cancel, "item-not-found");
    query.set_attribute("node", *node);
    return session.send_wire(to_wire(result));
  }
  xml::Element& identity = add_child(query, "identity");
  identity.set_attribute("category", "conference");
  identity.set_attribute("type", "text");
  identity.set_attribute("name", display_name());
  const std::string_view features[] = {
      kDiscoInfoNamespace,
      kMucNamespace,
      settings_.is_public ? "muc_public" : "muc_hidden",
      settings_.members_only ? "muc_membersonly" : "muc_open",
      "muc_temporary",
      settings_.non_anonymous ? "muc_nonanonymous" : "muc_semianonymous",
      "muc_unmoderated",
      settings_.password.empty() ? "muc_unsecured" : "muc_passwordprotected",
      kOccupantIdNamespace,
      kPingNamespace,
      kSelfPingOptimization,
  };
  for (std::string_view feature : features)
    add_child(query, "feature").set_attribute("var", feature);
  // XEP-0045 6.4 extended room information (XEP-0128); the subject only for those who may
  // enter.
  xml::Element& form = query.append_child(xml::Element(kDataFormsNamespace, "x"));
  form.set_attribute("type", "result");
  add_field(form, "hidden", "FORM_TYPE", {}, kMucRoomInfoFormType);
  add_field(form, "text-single", "muc#roomconfig_roomname", "Name", display_name());
  add_field(form, "text-single", "muc#roominfo_description", "Description", settings_.description);
  add_field(form, "text-single", "muc#roominfo_occupants", "Number of occupants",
            std::to_string(occupants_.size()));
  add_field(form, "boolean", "muc#roominfo_changesubject", "Occupants may change the subject",
            boolean_value(settings_.participants_change_subject));
  if (!settings_.members_only || affiliation_of(session) >= Affiliation::member)
    add_field(form, "text-single", "muc#roominfo_subject", "Subject", subject_.text);
  session.send_wire(to_wire(result));
}

void MucRoom::owner_get(BoundSession& session, const xml::Element& iq) {
  if (affiliation_of(session) != Affiliation::owner)
    return reply_error(session, iq, ErrorType::auth, "forbidden", "only owners configure the room");
  xml::Element result = make_iq_result(iq, jid_);
  xml::Element& query = result.append_child(xml::Element(kMucOwnerNamespace, "query"));
  xml::Element& form = query.append_child(xml::Element(kDataFormsNamespace, "x"));
  form.set_attribute("type", "form");
  add_child(form, "title").append_text("Configuration of " + jid_);
  add_field(form, "hidden", "FORM_TYPE", {}, kMucRoomConfigFormType);
  add_field(form, "text-single", "muc#roomconfig_roomname", "Name", settings_.name);
  add_field(form, "text-single", "muc#roomconfig_roomdesc", "Description", settings_.description);
  add_field(form, "boolean", "muc#roomconfig_publicroom", "List the room in the directory",
            boolean_value(settings_.is_public));
  add_field(form, "boolean", "muc#roomconfig_membersonly", "Only members may enter",
            boolean_value(settings_.members_only));
  add_field(form, "boolean", "muc#roomconfig_allowinvites",
            "Participants may invite others (members-only room)",
            boolean_value(settings_.participants_invite));
  add_field(form, "boolean", "muc#roomconfig_changesubject", "Participants may change the subject",
            boolean_value(settings_.participants_change_subject));
  {
    xml::Element& whois = add_child(form, "field");
    whois.set_attribute("type", "list-single");
    whois.set_attribute("var", "muc#roomconfig_whois");
    whois.set_attribute("label", "Who may see occupants' real addresses");
    add_child(whois, "value").append_text(settings_.non_anonymous ? "anyone" : "moderators");
    for (std::string_view option : {"moderators", "anyone"}) {
      xml::Element& element = add_child(whois, "option");
      element.set_attribute("label", option);
      add_child(element, "value").append_text(option);
    }
  }
  add_field(form, "boolean", "muc#roomconfig_passwordprotectedroom", "Password protected",
            boolean_value(!settings_.password.empty()));
  add_field(form, "text-private", "muc#roomconfig_roomsecret", "Password", settings_.password);
  {
    xml::Element& max = add_child(form, "field");
    max.set_attribute("type", "list-single");
    max.set_attribute("var", "muc#roomconfig_maxusers");
    max.set_attribute("label", "Maximum number of occupants");
    add_child(max, "value").append_text(std::to_string(settings_.max_occupants));
    std::vector<std::size_t> options = {10, 20, 50, 100, 200, 500, 1000};
    options.push_back(context_.config.max_occupants_per_room);
    options.push_back(settings_.max_occupants);
    std::sort(options.begin(), options.end());
    options.erase(std::unique(options.begin(), options.end()), options.end());
    for (std::size_t option : options) {
      if (option == 0 || option > context_.config.max_occupants_per_room) continue;
      xml::Element& element = add_child(max, "option");
      element.set_attribute("label", std::to_string(option));
      add_child(element, "value").append_text(std::to_string(option));
    }
  }
  session.send_wire(to_wire(result));
}

void MucRoom::owner_set(BoundSession& session, const xml::Element& iq, const xml::Element& query) {
  if (affiliation_of(session) != Affiliation::owner)
    return reply_error(session, iq, ErrorType::auth, "forbidden", "only owners configure the room");
  if (const xml::Element* request = query.first_child(kMucOwnerNamespace, "destroy"))
    return destroy(session, iq, *request);
  const xml::Element* x = query.first_child(kDataFormsNamespace, "x");
  if (x == nullptr) return reply_error(session, iq, ErrorType::modify, "bad-request");
  auto form = read_form(*x);
  if (!form)
    return reply_error(session, iq, ErrorType::modify, "policy-violation", "the form is too large");
  if (form->type == "cancel") return session.send_wire(to_wire(make_iq_result(iq, jid_)));
  if (form->type != "submit")
    return reply_error(session, iq, ErrorType::modify, "bad-request", "expected a submitted form");

  // 10.2: a value the room cannot honour refuses the whole form with <not-acceptable/>.
  auto refuse = [&](std::string_view text) {
    reply_error(session, iq, ErrorType::modify, "not-acceptable", text);
  };
  RoomSettings next = settings_;
  auto text_field = [&](std::string_view var, std::string& out) -> bool {
    if (auto value = form->single(var)) {
      if (value->size() > kMaxRoomTextOctets) return false;
      out = *value;
    }
    return true;
  };
  auto boolean_field = [&](std::string_view var, bool& out) -> bool {
    if (auto value = form->single(var)) {
      auto parsed = parse_boolean(*value);
      if (!parsed) return false;
      out = *parsed;
    }
    return true;
  };
  if (!text_field("muc#roomconfig_roomname", next.name) ||
      !text_field("muc#roomconfig_roomdesc", next.description))
    return refuse("names and descriptions are limited to 1024 octets");
  bool persistent = false;
  if (!boolean_field("muc#roomconfig_publicroom", next.is_public) ||
      !boolean_field("muc#roomconfig_membersonly", next.members_only) ||
      !boolean_field("muc#roomconfig_allowinvites", next.participants_invite) ||
      !boolean_field("muc#roomconfig_changesubject", next.participants_change_subject) ||
      !boolean_field("muc#roomconfig_persistentroom", persistent))
    return refuse("a boolean field has a value other than 0, 1, false or true");
  if (persistent)
    return refuse("rooms on this service are temporary: they end when the last occupant leaves");
  if (auto whois = form->single("muc#roomconfig_whois")) {
    if (*whois == "anyone") {
      next.non_anonymous = true;
    } else if (*whois == "moderators") {
      next.non_anonymous = false;
    } else {
      return refuse("muc#roomconfig_whois is 'moderators' or 'anyone'");
    }
  }
  std::optional<bool> protect;
  if (auto value = form->single("muc#roomconfig_passwordprotectedroom")) {
    protect = parse_boolean(*value);
    if (!protect) return refuse("a boolean field has a value other than 0, 1, false or true");
  }
  std::string secret = next.password;
  if (!text_field("muc#roomconfig_roomsecret", secret))
    return refuse("the password is limited to 1024 octets");
  if (protect.has_value() && !*protect) {
    next.password.clear();
  } else {
    if (protect.value_or(false) && secret.empty())
      return refuse("a password-protected room needs a password");
    next.password = secret;
  }
  if (auto value = form->single("muc#roomconfig_maxusers")) {
    std::size_t max = 0;
    if (*value == "none" || value->empty()) {
      max = context_.config.max_occupants_per_room;
    } else {
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), max);
      if (ec != std::errc() || end != value->data() + value->size() || max == 0)
        return refuse("muc#roomconfig_maxusers is a positive number");
      max = std::min(max, context_.config.max_occupants_per_room);
    }
    next.max_occupants = max;
  }

  const RoomSettings previous = std::exchange(settings_, next);
  session.send_wire(to_wire(make_iq_result(iq, jid_)));
  // 10.2.1: occupants hear that the configuration changed, and how privacy changed.
  const bool changed =
      previous.name != next.name || previous.description != next.description ||
      previous.is_public != next.is_public || previous.members_only != next.members_only ||
      previous.participants_invite != next.participants_invite ||
      previous.participants_change_subject != next.participants_change_subject ||
      previous.non_anonymous != next.non_anonymous || previous.password != next.password ||
      previous.max_occupants != next.max_occupants;
  if (changed) {
    std::vector<int> statuses = {kStatusConfigurationChanged};
    if (previous.non_anonymous != next.non_anonymous)
      statuses.push_back(next.non_anonymous ? kStatusNowNonAnonymous : kStatusNowSemiAnonymous);
    announce_statuses(statuses);
  }
  if (next.members_only && !previous.members_only) {
    // Becoming members-only removes everyone who is not at least a member (status 322).
    std::vector<std::string> outsiders;
    for (const auto& [key, occupant] : occupants_)
      if (affiliation_of(occupant.real_jid.bare_string()) < Affiliation::member)
        outsiders.push_back(key);
    for (const auto& key : outsiders)
      if (Occupant* occupant = occupant_by_key(key))
        remove_occupant(*occupant, {.statuses = {kStatusMembersOnly}});
  }
}

void MucRoom::destroy(BoundSession& session, const xml::Element& iq, const xml::Element& request) {
  // 10.9: every occupant gets its own unavailable presence with the <destroy/> notice.
  xml::Element notice_element(kMucUserNamespace, "destroy");
  if (const std::string* alternate = request.attribute("jid"))
    notice_element.set_attribute("jid", *alternate);
  if (const xml::Element* reason = request.first_child(kMucOwnerNamespace, "reason"))
    add_child(notice_element, "reason").append_text(reason->text());
  PresenceNotice notice{.unavailable = true, .destroy = &notice_element};
  for (auto& [key, occupant] : occupants_) {
    occupant.presence = xml::Element(kClientNamespace, "presence");
    const std::string wire = presence_wire(occupant, notice, Audience::self);
    for (BoundSession* each : occupant.sessions) {
      send_addressed(*each, wire, "presence");
      context_.sessions.remove(*each, localpart_);
    }
  }
  occupants_.clear();
  key_of_session_.clear();
  affiliations_.clear();
  history_.clear();
  history_bytes_ = 0;
  session.send_wire(to_wire(make_iq_result(iq, jid_)));
  context_.services.log->info("muc: {} destroyed by {}", jid_, session.full_jid().to_string());
}

void MucRoom::admin_get(BoundSession& session, const xml::Element& iq, const xml::Element& query) {
  const xml::Element* item = query.first_child(kMucAdminNamespace, "item");
  if (item == nullptr) return reply_error(session, iq, ErrorType::modify, "bad-request");
  xml::Element result = make_iq_result(iq, jid_);
  xml::Element& out = result.append_child(xml::Element(kMucAdminNamespace, "query"));
  if (const std::string* text = item->attribute("affiliation")) {
    auto affiliation = parse_affiliation(*text);
    if (!affiliation || *affiliation == Affiliation::none)
      return reply_error(session, iq, ErrorType::modify, "bad-request",
                         "lists are of owners, admins, members or outcasts");
    if (affiliation_of(session) < Affiliation::admin)
      return reply_error(session, iq, ErrorType::auth, "forbidden",
                         "only admins and owners see affiliation lists");
    for (const auto& [bare, value] : affiliations_) {
      if (value != *affiliation) continue;
      xml::Element& entry = add_child(out, "item");
      entry.set_attribute("affiliation", to_string(value));
      entry.set_attribute("jid", bare);
      if (const Occupant* occupant = occupant_by_real_jid(bare))
        entry.set_attribute("nick", occupant->nick);
    }
    return session.send_wire(to_wire(result));
  }
  if (const std::string* text = item->attribute("role")) {
    auto role = parse_role(*text);
    if (!role || *role == Role::none)
      return reply_error(session, iq, ErrorType::modify, "bad-request",
                         "lists are of moderators, participants or visitors");
    const Occupant* requester = occupant_of(session);
    if (requester == nullptr || requester->role != Role::moderator)
      return reply_error(session, iq, ErrorType::auth, "forbidden",
                         "only moderators see role lists");
    for (const auto& [key, occupant] : occupants_) {
      if (occupant.role != *role) continue;
      xml::Element& entry = add_child(out, "item");
      entry.set_attribute("role", to_string(occupant.role));
      entry.set_attribute("affiliation",
                          to_string(affiliation_of(occupant.real_jid.bare_string())));
      entry.set_attribute("nick", occupant.nick);
      entry.set_attribute("jid", occupant.sessions.front()->full_jid().to_string());
    }
    return session.send_wire(to_wire(result));
  }
  reply_error(session, iq, ErrorType::modify, "bad-request");
}

void MucRoom::admin_set(BoundSession& session, const xml::Element& iq, const xml::Element& query) {
  const Occupant* actor = occupant_of(session);
  const Affiliation actor_affiliation = affiliation_of(session);
  const bool actor_moderates = actor != nullptr && actor->role == Role::moderator;
  const std::string actor_nick = actor != nullptr ? actor->nick : std::string();

  struct RoleChange {
    std::string nick_key;
    Role role;
    std::string reason;
  };
  struct AffiliationChange {
    std::string bare_jid;
    std::string reason;
  };
  std::vector<RoleChange> role_changes;
  std::vector<AffiliationChange> affiliation_changes;
  auto planned = affiliations_;  // checked as a whole before anything changes
  std::size_t items = 0;
  for (const auto& child : query.children()) {
    if (!child.is_element() || child.element().name().local_name != "item") continue;
    const xml::Element& item = child.element();
    if (++items > kMaxItemsPerAdminRequest)
      return reply_error(session, iq, ErrorType::modify, "policy-violation", "too many items");
    const xml::Element* reason_element = item.first_child(kMucAdminNamespace, "reason");
    std::string reason = reason_element == nullptr ? std::string() : reason_element->text();
    const std::string* nick = item.attribute("nick");
    Occupant* target = nullptr;
    if (nick != nullptr) {
      auto key = nickname_comparison_key(*nick);
      target = key ? occupant_by_key(*key) : nullptr;
    }

    if (const std::string* role_text = item.attribute("role")) {
      // 8.2-8.6: role changes are by nickname, made by moderators.
      auto role = parse_role(*role_text);
      if (!role || nick == nullptr)
        return reply_error(session, iq, ErrorType::modify, "bad-request");
      if (target == nullptr)
        return reply_error(session, iq, ErrorType::cancel, "item-not-found",
                           "no occupant has that nickname");
      if (!actor_moderates)
        return reply_error(session, iq, ErrorType::auth, "forbidden",
                           "only moderators change roles");
      const Affiliation target_affiliation = affiliation_of(target->real_jid.bare_string());
      const bool touches_moderator = *role == Role::moderator || target->role == Role::moderator;
      if (touches_moderator && actor_affiliation < Affiliation::admin)
        return reply_error(session, iq, ErrorType::auth, "forbidden",
                           "only admins and owners grant or revoke moderation");
      if (*role != Role::moderator && target_affiliation >= Affiliation::admin)
        return reply_error(session, iq, ErrorType::cancel, "not-allowed",
                           "admins and owners keep their moderator role");
      if (target_affiliation > actor_affiliation)
        return reply_error(session, iq, ErrorType::cancel, "not-allowed",
                           "that occupant's affiliation is higher than yours");
      role_changes.push_back({target->nick_key, *role, std::move(reason)});
      continue;
    }

    if (const std::string* affiliation_text = item.attribute("affiliation")) {
      // 9.1-10.8: affiliation changes are by bare JID (or an occupant's nickname).
      auto affiliation = parse_affiliation(*affiliation_text);
      if (!affiliation) return reply_error(session, iq, ErrorType::modify, "bad-request");
      std::string bare;
      if (const std::string* jid_text = item.attribute("jid")) {
        auto jid = xmpp::Jid::parse(*jid_text);
        if (!jid) return reply_error(session, iq, ErrorType::modify, "jid-malformed");
        bare = jid->bare_string();
      } else if (target != nullptr) {
        bare = target->real_jid.bare_string();
      } else {
        return reply_error(session, iq, ErrorType::modify, "bad-request",
                           "an affiliation change needs a 'jid' or an occupant's 'nick'");
      }
      if (actor_affiliation < Affiliation::admin)
        return reply_error(session, iq, ErrorType::auth, "forbidden",
                           "only admins and owners change affiliations");
      const Affiliation current = affiliation_of(bare);
      const bool touches_owners_or_admins =
          *affiliation >= Affiliation::admin || current >= Affiliation::admin;
      if (touches_owners_or_admins && actor_affiliation != Affiliation::owner)
        return reply_error(session, iq, ErrorType::cancel, "not-allowed",
                           "only owners grant or revoke admin and owner status");
      if (*affiliation == Affiliation::none) {
        planned.erase(bare);
      } else {
        planned[bare] = *affiliation;
      }
      affiliation_changes.push_back({std::move(bare), std::move(reason)});
      continue;
    }
    return reply_error(session, iq, ErrorType::modify, "bad-request",
                       "an item changes a 'role' or an 'affiliation'");
  }
  if (items == 0) return reply_error(session, iq, ErrorType::modify, "bad-request");
  if (!affiliation_changes.empty()) {
    // 10.5, 10.8: a room always keeps an owner.
    if (std::none_of(planned.begin(), planned.end(),
                     [](const auto& entry) { return entry.second == Affiliation::owner; }))
      return reply_error(session, iq, ErrorType::cancel, "conflict",
                         "the room's last owner cannot be removed");
    if (planned.size() > kMaxAffiliationsPerRoom)
      return reply_error(session, iq, ErrorType::wait, "resource-constraint",
                         "the room's affiliation list is full");
  }

  affiliations_ = std::move(planned);
  for (const auto& change : affiliation_changes)
    apply_affiliation(change.bare_jid, actor_nick, change.reason);
  for (const auto& change : role_changes) {
    if (Occupant* occupant = occupant_by_key(change.nick_key))
      set_role(*occupant, change.role, actor_nick, change.reason);
  }
  session.send_wire(to_wire(make_iq_result(iq, jid_)));
}

void MucRoom::apply_affiliation(const std::string& bare_jid, const std::string& actor_nick,
                                const std::string& reason) {
  // One account may be in the room under several nicknames (from different resources).
  std::vector<std::string> keys;
  for (const auto& [key, occupant] : occupants_)
    if (occupant.real_jid.bare_string() == bare_jid) keys.push_back(key);
  const Affiliation affiliation = affiliation_of(bare_jid);
  for (const auto& key : keys) {
    Occupant* occupant = occupant_by_key(key);
    if (occupant == nullptr) continue;
    if (affiliation == Affiliation::outcast) {
      remove_occupant(*occupant,
                      {.statuses = {kStatusBanned}, .actor_nick = actor_nick, .reason = reason});
    } else if (settings_.members_only && affiliation < Affiliation::member) {
      remove_occupant(
          *occupant,
          {.statuses = {kStatusAffiliationChange}, .actor_nick = actor_nick, .reason = reason});
    } else {
      const Role implied = default_role(affiliation);
      Role role = occupant->role;
      if (implied == Role::moderator) role = Role::moderator;
      if (implied != Role::moderator && role == Role::moderator) role = implied;
      set_role(*occupant, role, actor_nick, reason);
    }
  }
}

void MucRoom::set_role(Occupant& occupant, Role role, const std::string& actor_nick,
                       const std::string& reason) {
  if (role == Role::none) {
    // 8.2: a kick.
    return remove_occupant(
        occupant, {.statuses = {kStatusKicked}, .actor_nick = actor_nick, .reason = reason});
  }
  const bool now_sees_jids = !sees_real_jids(occupant) && role == Role::moderator;
  occupant.role = role;
  broadcast_presence(occupant, {.actor_nick = actor_nick, .reason = reason});
  if (now_sees_jids) {
    // A new moderator of a semi-anonymous room learns the real JIDs it may now see.
    for (const auto& [key, other] : occupants_) {
      if (&other == &occupant) continue;
      const std::string wire = presence_wire(other, {}, Audience::with_real_jid);
      for (BoundSession* each : occupant.sessions) send_addressed(*each, wire, "presence");
    }
  }
}

}  // namespace parley::server
