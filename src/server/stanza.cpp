#include "server/stanza.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace parley::server {

StanzaKind kind_of(const xml::Element& stanza) {
  const auto& name = stanza.name();
  if (name.namespace_uri != kClientNamespace) return StanzaKind::other;
  if (name.local_name == "message") return StanzaKind::message;
  if (name.local_name == "presence") return StanzaKind::presence;
  if (name.local_name == "iq") return StanzaKind::iq;
  return StanzaKind::other;
}

std::string type_of(const xml::Element& stanza) {
  const std::string* type = stanza.attribute("type");
  return type == nullptr ? std::string() : *type;
}

namespace {
const char* error_type_name(ErrorType type) {
  switch (type) {
    case ErrorType::auth:
      return "auth";
    case ErrorType::cancel:
      return "cancel";
    case ErrorType::continue_:
      return "continue";
    case ErrorType::modify:
      return "modify";
    case ErrorType::wait:
      return "wait";
  }
  return "cancel";
}
}  // namespace

xml::Element make_error_reply(const xml::Element& stanza, const std::string& server_domain,
                              ErrorType type, std::string_view condition, std::string_view text) {
  xml::Element reply(stanza.name());
  for (const auto& attribute : stanza.attributes()) {
    const auto& local = attribute.name.local_name;
    if (attribute.name.namespace_uri.empty() &&
        (local == "to" || local == "from" || local == "type"))
      continue;
    reply.set_attribute(attribute.name, attribute.value);
  }
  const std::string* to = stanza.attribute("to");
  const std::string* from = stanza.attribute("from");
  reply.set_attribute("from", to != nullptr ? *to : server_domain);
  if (from != nullptr) reply.set_attribute("to", *from);
  reply.set_attribute("type", "error");
  // RFC 6120 8.3.1: the original payload may be included; for iq only the first child matters,
  // for messages the body lets the sender see which message failed.
  for (const auto& child : stanza.children())
    if (child.is_element() && child.element().name().local_name != "error")
      reply.append_child(child.element());
  xml::Element& error = reply.append_child(xml::Element(kClientNamespace, "error"));
  error.set_attribute("type", error_type_name(type));
  error.append_child(xml::Element(kStanzaErrorNamespace, condition));
  if (!text.empty()) {
    xml::Element& text_element = error.append_child(xml::Element(kStanzaErrorNamespace, "text"));
    text_element.append_text(text);
  }
  return reply;
}

xml::Element make_iq_result(const xml::Element& iq, std::string_view from) {
  xml::Element result(kClientNamespace, "iq");
  result.set_attribute("type", "result");
  if (const std::string* id = iq.attribute("id")) result.set_attribute("id", *id);
  result.set_attribute("from", from);
  if (const std::string* to = iq.attribute("from")) result.set_attribute("to", *to);
  return result;
}

Addressing addressing_of(const xml::Element& stanza) {
  Addressing out;
  const std::string* to = stanza.attribute("to");
  if (to == nullptr) return out;
  auto jid = xmpp::Jid::parse(*to);
  if (!jid) {
    out.invalid_to = true;
    return out;
  }
  out.to = std::move(*jid);
  return out;
}

std::string to_wire(const xml::Element& stanza) {
  return xml::serialize(stanza, xml::SerializeContext{kClientNamespace});
}

std::string random_id(std::size_t bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
    throw std::runtime_error("OpenSSL's random generator failed");  // unrecoverable
  std::string out;
  out.reserve(bytes * 2);
  // One character per random byte: its low 6 bits pick one of 64 symbols uniformly (256 is a
  // multiple of 64), so `bytes` characters carry 6 * bytes bits of entropy.
  for (unsigned char c : raw) out.push_back(kAlphabet[c & 0x3f]);
  return out;
}

}  // namespace parley::server
