#include "xmpp/stanza.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <ctime>

#include "core/utf8.hpp"

namespace parley::xmpp {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

xml::Element client_element(std::string_view local_name) {
  return xml::Element(kClientNamespace, local_name);
}

xml::Element text_element(std::string_view namespace_uri, std::string_view local_name,
                          std::string_view text) {
  xml::Element element(namespace_uri, local_name);
  element.append_text(text);
  return element;
}

// Fixed-width decimal digits at `text[position..position+width)`.
std::optional<int> digits(std::string_view text, std::size_t position, std::size_t width) {
  if (position + width > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = position; i < position + width; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[static_cast<std::size_t>(month - 1)];
}

// Days since 1970-01-01 of a proleptic Gregorian date (the civil-from-days inverse).
std::int64_t days_from_civil(int year, int month, int day) {
  const int y = month <= 2 ? year - 1 : year;
  const int era = y / 400;
  const int year_of_era = y - era * 400;
  const int shifted_month = month > 2 ? month - 3 : month + 9;
  const int day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return static_cast<std::int64_t>(era) * 146097 + day_of_era - 719468;
}

const xml::Element* first_body(const xml::Element& message) {
  const xml::Element* first = nullptr;
  for (const auto& child : message.children()) {
    if (!child.is_element()) continue;
    const xml::Element& element = child.element();
    if (element.name().namespace_uri != kClientNamespace || element.name().local_name != "body")
      continue;
    if (element.attribute("lang", xml::kXmlNamespace) == nullptr) return &element;
    if (first == nullptr) first = &element;
  }
  return first;
}

}  // namespace

std::string new_stanza_id(std::string_view prefix) {
  std::array<unsigned char, 8> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    // The id only has to be unpredictable enough not to collide with a forged reply; a failed
    // RNG is still no reason to send a predictable one, so mix in the clock and the address.
    const auto now = static_cast<std::uint64_t>(std::time(nullptr));
    const auto address = reinterpret_cast<std::uintptr_t>(&random);
    for (std::size_t i = 0; i < random.size(); ++i) {
      random[i] = static_cast<unsigned char>((now >> (8 * i)) ^ (address >> (8 * i)));
    }
  }
  std::string id(prefix);
  id.push_back('-');
  for (const unsigned char byte : random) {
    id.push_back(kHexDigits[byte >> 4]);
    id.push_back(kHexDigits[byte & 0xf]);
  }
  return id;
}

bool is_stanza(const xml::Element& element, std::string_view local_name) {
  return element.name().namespace_uri == kClientNamespace &&
         element.name().local_name == local_name;
}

// ---- iq -----------------------------------------------------------------------------------------

const char* to_string(IqType type) {
  switch (type) {
    case IqType::get:
      return "get";
    case IqType::set:
      return "set";
    case IqType::result:
      return "result";
    case IqType::error:
      return "error";
  }
  return "error";
}

std::optional<IqType> parse_iq_type(std::string_view text) {
  if (text == "get") return IqType::get;
  if (text == "set") return IqType::set;
  if (text == "result") return IqType::result;
  if (text == "error") return IqType::error;
  return std::nullopt;
}

xml::Element make_iq(IqType type, std::string_view id, std::optional<std::string_view> to,
                     std::optional<xml::Element> payload) {
  xml::Element iq = client_element("iq");
  iq.set_attribute("type", to_string(type));
  iq.set_attribute("id", id);
  if (to) iq.set_attribute("to", *to);
  if (payload) iq.append_child(std::move(*payload));
  return iq;
}

xml::Element make_bind_request(std::string_view id, std::string_view resource) {
  xml::Element bind(kBindNamespace, "bind");
  if (!resource.empty()) bind.append_child(text_element(kBindNamespace, "resource", resource));
  return make_iq(IqType::set, id, std::nullopt, std::move(bind));
}

xml::Element make_session_request(std::string_view id) {
  return make_iq(IqType::set, id, std::nullopt, xml::Element(kSessionNamespace, "session"));
}

xml::Element make_roster_get(std::string_view id) {
  return make_iq(IqType::get, id, std::nullopt, xml::Element(kRosterNamespace, "query"));
}

xml::Element make_ping(std::string_view id, std::string_view server_domain) {
  return make_iq(IqType::get, id, server_domain, xml::Element(kPingNamespace, "ping"));
}

xml::Element make_iq_result(const xml::Element& request) {
  xml::Element reply = client_element("iq");
  reply.set_attribute("type", "result");
  if (const std::string* id = request.attribute("id")) reply.set_attribute("id", *id);
  if (const std::string* from = request.attribute("from")) reply.set_attribute("to", *from);
  return reply;
}

xml::Element make_iq_error(const xml::Element& request, std::string_view error_type,
                           std::string_view condition) {
  xml::Element reply = make_iq_result(request);
  reply.set_attribute("type", "error");
  xml::Element error = client_element("error");
  error.set_attribute("type", error_type);
  error.append_child(xml::Element(kStanzaErrorNamespace, condition));
  reply.append_child(std::move(error));
  return reply;
}

// ---- presence and message -----------------------------------------------------------------------

xml::Element make_initial_presence() {
  return client_element("presence");
}

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::normal:
      return "normal";
    case MessageType::chat:
      return "chat";
    case MessageType::groupchat:
      return "groupchat";
    case MessageType::headline:
      return "headline";
    case MessageType::error:
      return "error";
  }
  return "normal";
}

MessageType parse_message_type(const std::string* type_attribute) {
  if (type_attribute == nullptr) return MessageType::normal;
  const std::string_view type = *type_attribute;
  if (type == "chat") return MessageType::chat;
  if (type == "groupchat") return MessageType::groupchat;
  if (type == "headline") return MessageType::headline;
  if (type == "error") return MessageType::error;
  return MessageType::normal;
}

xml::Element make_chat_message(const Jid& to, std::string_view body, std::string_view id) {
  xml::Element message = client_element("message");
  message.set_attribute("type", "chat");
  message.set_attribute("to", to.to_string());
  message.set_attribute("id", id);
  message.append_child(text_element(kClientNamespace, "body", body));
  return message;
}

std::optional<ChatMessage> read_chat_message(const xml::Element& stanza) {
  if (!is_stanza(stanza, "message")) return std::nullopt;
  ChatMessage message;
  message.type = parse_message_type(stanza.attribute("type"));
  if (message.type == MessageType::error || message.type == MessageType::groupchat)
    return std::nullopt;
  const xml::Element* body = first_body(stanza);
  if (body == nullptr) return std::nullopt;
  message.body = body->text();
  if (message.body.empty()) return std::nullopt;
  if (const std::string* from = stanza.attribute("from")) message.from = *from;
  if (const std::string* to = stanza.attribute("to")) message.to = *to;
  if (const std::string* id = stanza.attribute("id")) message.id = *id;
  if (const xml::Element* delay = stanza.first_child(kDelayNamespace, "delay")) {
    if (const std::string* stamp = delay->attribute("stamp")) {
      if (auto when = parse_xmpp_datetime(*stamp)) message.delayed_since = *when;
    }
  }
  return message;
}

// ---- errors -------------------------------------------------------------------------------------

std::optional<StanzaError> read_stanza_error(const xml::Element& stanza) {
  const xml::Element* error = stanza.first_child(kClientNamespace, "error");
  if (error == nullptr) return std::nullopt;
  StanzaError result;
  if (const std::string* type = error->attribute("type")) result.type = *type;
  result.condition = "undefined-condition";
  for (const auto& child : error->children()) {
    if (!child.is_element()) continue;
    const xml::Element& element = child.element();
    if (element.name().namespace_uri != kStanzaErrorNamespace) continue;
    if (element.name().local_name == "text") {
      result.text = element.text();
    } else if (result.condition == "undefined-condition") {
      result.condition = element.name().local_name;
    }
  }
  return result;
}

std::string describe(const StanzaError& error) {
  std::string out = escape_for_terminal(error.condition);
  if (!error.type.empty()) out += " (" + escape_for_terminal(error.type) + ")";
  if (!error.text.empty()) out += ": " + escape_for_terminal(error.text.substr(0, 512));
  return out;
}

// ---- roster -------------------------------------------------------------------------------------

Result<std::vector<RosterItem>> read_roster(const xml::Element& result,
                                            const RosterLimits& limits) {
  const xml::Element* query = result.first_child(kRosterNamespace, "query");
  if (query == nullptr) {
    // RFC 6121 2.1.3: an empty roster may come as a result without a query child.
    return std::vector<RosterItem>{};
  }
  std::vector<RosterItem> items;
  for (const auto& child : query->children()) {
    if (!child.is_element()) continue;
    const xml::Element& element = child.element();
    if (element.name().namespace_uri != kRosterNamespace || element.name().local_name != "item")
      continue;
    if (items.size() >= limits.max_items) {
      return fail(
          Error::limit("the roster has more than " + std::to_string(limits.max_items) + " items"));
    }
    const std::string* jid_text = element.attribute("jid");
    if (jid_text == nullptr) return fail(Error::parse("a roster item has no 'jid' attribute"));
    auto jid = Jid::parse(*jid_text);
    if (!jid) {
      return fail(Error::parse("roster item \"" + escape_for_terminal(jid_text->substr(0, 256)) +
                               "\": " + jid.error().message));
    }
    RosterItem item{*jid, {}, "none", false, {}};
    if (const std::string* name = element.attribute("name")) item.name = *name;
    if (const std::string* subscription = element.attribute("subscription"))
      item.subscription = *subscription;
    if (const std::string* ask = element.attribute("ask"))
      item.subscription_pending = *ask == "subscribe";
    for (const auto& group_child : element.children()) {
      if (!group_child.is_element()) continue;
      const xml::Element& group = group_child.element();
      if (group.name().namespace_uri != kRosterNamespace || group.name().local_name != "group")
        continue;
      if (item.groups.size() >= limits.max_groups_per_item) {
        return fail(Error::limit("roster item " + item.jid.to_string() + " is in more than " +
                                 std::to_string(limits.max_groups_per_item) + " groups"));
      }
      item.groups.push_back(group.text());
    }
    items.push_back(std::move(item));
  }
  return items;
}

// ---- time ---------------------------------------------------------------------------------------

Result<std::int64_t> parse_xmpp_datetime(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Error::parse("XMPP date-time \"" + escape_for_terminal(text.substr(0, 64)) +
                             "\": " + std::string(why)));
  };
  // CCYY-MM-DDThh:mm:ss
  if (text.size() < 20) return bad("too short");
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second || text[4] != '-' || text[7] != '-' ||
      text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return bad("not CCYY-MM-DDThh:mm:ss");
  }
  if (*year < 1970 || *month < 1 || *month > 12 || *day < 1 ||
      *day > days_in_month(*year, *month) || *hour > 23 || *minute > 59 || *second > 60) {
    return bad("a field is out of range");
  }
  std::size_t position = 19;
  if (text[position] == '.') {
    ++position;
    const std::size_t start = position;
    while (position < text.size() && text[position] >= '0' && text[position] <= '9') ++position;
    if (position == start || position - start > 9) return bad("bad fraction of a second");
  }
  std::int64_t offset_seconds = 0;
  const std::string_view zone = text.substr(position);
  if (zone == "Z") {
    offset_seconds = 0;
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const auto zone_hours = digits(zone, 1, 2);
    const auto zone_minutes = digits(zone, 4, 2);
    if (!zone_hours || !zone_minutes || *zone_hours > 23 || *zone_minutes > 59)
      return bad("bad time zone offset");
    offset_seconds = (*zone_hours * 3600 + *zone_minutes * 60) * (zone[0] == '+' ? 1 : -1);
  } else {
    return bad("the time zone must be Z or +hh:mm / -hh:mm");
  }
  const std::int64_t seconds = days_from_civil(*year, *month, *day) * 86400 + *hour * 3600 +
                               *minute * 60 + std::min(*second, 59);
  return seconds - offset_seconds;
}

std::string escape_for_terminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t position = 0;
  while (position < text.size()) {
    std::uint32_t code_point = 0;
    const std::size_t length = utf8_sequence_at(text, position, code_point);
    if (length == 0) {
      const auto byte = static_cast<unsigned char>(text[position]);
      out += "\\x";
      out.push_back(kHexDigits[byte >> 4]);
      out.push_back(kHexDigits[byte & 0xf]);
      ++position;
      continue;
    }
    if (code_point == '\\') {
      out += "\\\\";
    } else if (code_point == '\n') {
      out += "\\n";
    } else if (code_point == '\t') {
      out += "\\t";
    } else if (code_point == '\r') {
      out += "\\r";
    } else if (code_point < 0x20 || code_point == 0x7f ||
               (code_point >= 0x80 && code_point < 0xa0)) {
      out += "\\x";
      // C1 controls are two UTF-8 bytes; show the code point, which is what a reader looks up.
      const auto value = static_cast<unsigned char>(code_point);
      out.push_back(kHexDigits[value >> 4]);
      out.push_back(kHexDigits[value & 0xf]);
    } else if ((code_point >= 0x202a && code_point <= 0x202e) ||
               (code_point >= 0x2066 && code_point <= 0x2069)) {
      // Bidirectional overrides and isolates would let a sender reorder what the line shows.
      out += "\\u";
      for (int shift = 12; shift >= 0; shift -= 4)
        out.push_back(kHexDigits[(code_point >> shift) & 0xf]);
    } else {
      out.append(text.substr(position, length));
    }
    position += length;
  }
  return out;
}

}  // namespace parley::xmpp
