#include "server/message_archive.hpp"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <ctime>

#include "server/stanza.hpp"
#include "xml/stream_parser.hpp"

namespace parley::server {
namespace {

constexpr std::string_view kHintsNamespace = "urn:xmpp:hints";
constexpr std::string_view kDataFormsNamespace = "jabber:x:data";
constexpr std::string_view kRsmNamespace = "http://jabber.org/protocol/rsm";
constexpr std::string_view kForwardNamespace = "urn:xmpp:forward:0";
constexpr std::string_view kDelayNamespace = "urn:xmpp:delay";

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool parse_digits(std::string_view text, std::size_t at, std::size_t count, int& out) {
  if (at + count > text.size()) return false;
  auto [end, ec] = std::from_chars(text.data() + at, text.data() + at + count, out);
  return ec == std::errc() && end == text.data() + at + count;
}

void reply_error(ServerServices& services, BoundSession& session, const xml::Element& iq,
                 ErrorType type, std::string_view condition, std::string_view text = {}) {
  session.send_wire(to_wire(make_error_reply(iq, services.domain, type, condition, text)));
}

// The value of <field var='name'><value>...</value></field> in a submitted data form.
std::optional<std::string> form_field(const xml::Element& form, std::string_view name) {
  for (const auto& child : form.children()) {
    if (!child.is_element()) continue;
    const auto& field = child.element();
    const std::string* var = field.attribute("var");
    if (field.name().local_name != "field" || var == nullptr || *var != name) continue;
    const xml::Element* value = field.first_child(kDataFormsNamespace, "value");
    return value != nullptr ? value->text() : std::string();
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::int64_t> parse_datetime_us(std::string_view text) {
  // CCYY-MM-DDThh:mm:ss[.sss]TZD
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':')
    return std::nullopt;
  if (!parse_digits(text, 0, 4, year) || !parse_digits(text, 5, 2, month) ||
      !parse_digits(text, 8, 2, day) || !parse_digits(text, 11, 2, hour) ||
      !parse_digits(text, 14, 2, minute) || !parse_digits(text, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  std::size_t at = 19;
  std::int64_t micros = 0;
  if (at < text.size() && text[at] == '.') {
    ++at;
    int digits = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[at] - '0');
      ++digits;
      ++at;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_seconds = 0;
  std::string_view zone = text.substr(at);
  if (zone == "Z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    int oh = 0, om = 0;
    if (!parse_digits(zone, 1, 2, oh) || !parse_digits(zone, 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_seconds = (oh * 3600 + om * 60) * (zone[0] == '+' ? 1 : -1);
  } else {
    return std::nullopt;
  }
  std::chrono::year_month_day date{std::chrono::year(year),
                                   std::chrono::month(static_cast<unsigned>(month)),
                                   std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  const std::int64_t days = std::chrono::sys_days(date).time_since_epoch().count();
  const std::int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * 1'000'000 + micros;
}

std::string format_datetime_us(std::int64_t unix_us) {
  std::time_t seconds = static_cast<std::time_t>(unix_us / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, unix_us % 1'000'000);
}

bool is_archivable(const xml::Element& message) {
  const std::string type = type_of(message);
  if (!(type.empty() || type == "normal" || type == "chat")) return false;
  if (message.first_child(kClientNamespace, "body") == nullptr) return false;
  return message.first_child(kHintsNamespace, "no-store") == nullptr &&
         message.first_child(kHintsNamespace, "no-permanent-store") == nullptr;
}

std::optional<std::string> archive_message(ServerServices& services, const std::string& owner,
                                           const std::string& with_bare,
                                           const xml::Element& message) {
  auto id = services.storage.archive().append(owner, with_bare, to_wire(message), now_us());
  if (!id) {
    services.log->error("archive of {}: {}", owner, id.error().message);
    return std::nullopt;
  }
  return *id;
}

void handle_archive_query(ServerServices& services, BoundSession& session, const xml::Element& iq,
                          const xml::Element& query) {
  if (type_of(iq) != "set")
    return reply_error(services, session, iq, ErrorType::cancel, "feature-not-implemented",
                       "form discovery is not offered; submit a query");
  store::ArchiveQuery filter;
  if (const xml::Element* form = query.first_child(kDataFormsNamespace, "x")) {
    if (auto with = form_field(*form, "with")) {
      auto jid = xmpp::Jid::parse(*with);
      if (!jid) return reply_error(services, session, iq, ErrorType::modify, "jid-malformed");
      filter.with_jid = jid->bare_string();
    }
    for (const char* bound : {"start", "end"}) {
      auto text = form_field(*form, bound);
      if (!text) continue;
      auto value = parse_datetime_us(*text);
      if (!value)
        return reply_error(services, session, iq, ErrorType::modify, "bad-request",
                           fmt::format("'{}' is not an XEP-0082 date-time", bound));
      (std::string_view(bound) == "start" ? filter.start_us : filter.end_us) = *value;
    }
  }
  if (const xml::Element* set = query.first_child(kRsmNamespace, "set")) {
    if (const xml::Element* max = set->first_child(kRsmNamespace, "max")) {
      std::string text = max->text();
      std::size_t value = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
      if (ec != std::errc() || end != text.data() + text.size())
        return reply_error(services, session, iq, ErrorType::modify, "bad-request", "bad <max/>");
      filter.max = std::clamp<std::size_t>(value, 1, store::kMaxArchivePage);
    }
    if (const xml::Element* after = set->first_child(kRsmNamespace, "after"))
      filter.after_id = after->text();
    if (const xml::Element* before = set->first_child(kRsmNamespace, "before"))
      filter.before_id = before->text();
  }
  auto page = services.storage.archive().query(session.full_jid().localpart(), filter);
  if (!page) {
    if (page.error().kind == ErrorKind::invalid_argument)
      return reply_error(services, session, iq, ErrorType::cancel, "item-not-found");
    services.log->error("archive query: {}", page.error().message);
    return reply_error(services, session, iq, ErrorType::wait, "internal-server-error");
  }
  const std::string* queryid = query.attribute("queryid");
  const std::string own = session.full_jid().bare_string();
  for (const auto& stored : page->messages) {
    auto original = xml::parse_element(stored.stanza_xml, kClientNamespace);
    if (!original) continue;
    xml::Element result_message(kClientNamespace, "message");
    result_message.set_attribute("from", own);
    result_message.set_attribute("to", session.full_jid().to_string());
    xml::Element& result = result_message.append_child(xml::Element(kMamNamespace, "result"));
    if (queryid != nullptr) result.set_attribute("queryid", *queryid);
    result.set_attribute("id", stored.id);
    xml::Element& forwarded = result.append_child(xml::Element(kForwardNamespace, "forwarded"));
    forwarded.append_child(xml::Element(kDelayNamespace, "delay"))
        .set_attribute("stamp", format_datetime_us(stored.timestamp_us));
    forwarded.append_child(std::move(*original));
    session.send_wire(to_wire(result_message));
  }
  xml::Element done = make_iq_result(iq, own);
  done.set_attribute("to", session.full_jid().to_string());
  xml::Element& fin = done.append_child(xml::Element(kMamNamespace, "fin"));
  if (page->complete) fin.set_attribute("complete", "true");
  xml::Element& set = fin.append_child(xml::Element(kRsmNamespace, "set"));
  if (page->first_id) {
    set.append_child(xml::Element(kRsmNamespace, "first")).append_text(*page->first_id);
    set.append_child(xml::Element(kRsmNamespace, "last")).append_text(*page->last_id);
  }
  set.append_child(xml::Element(kRsmNamespace, "count")).append_text(std::to_string(page->count));
  session.send_wire(to_wire(done));
}

}  // namespace parley::server
