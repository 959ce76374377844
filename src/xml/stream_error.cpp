#include "xml/stream_error.hpp"

#include "xml/element.hpp"

namespace parley::xml {

std::string_view to_string(StreamErrorCondition condition) {
  switch (condition) {
    case StreamErrorCondition::bad_format:
      return "bad-format";
    case StreamErrorCondition::bad_namespace_prefix:
      return "bad-namespace-prefix";
    case StreamErrorCondition::conflict:
      return "conflict";
    case StreamErrorCondition::connection_timeout:
      return "connection-timeout";
    case StreamErrorCondition::host_gone:
      return "host-gone";
    case StreamErrorCondition::host_unknown:
      return "host-unknown";
    case StreamErrorCondition::improper_addressing:
      return "improper-addressing";
    case StreamErrorCondition::internal_server_error:
      return "internal-server-error";
    case StreamErrorCondition::invalid_from:
      return "invalid-from";
    case StreamErrorCondition::invalid_namespace:
      return "invalid-namespace";
    case StreamErrorCondition::invalid_xml:
      return "invalid-xml";
    case StreamErrorCondition::not_authorized:
      return "not-authorized";
    case StreamErrorCondition::not_well_formed:
      return "not-well-formed";
    case StreamErrorCondition::policy_violation:
      return "policy-violation";
    case StreamErrorCondition::remote_connection_failed:
      return "remote-connection-failed";
    case StreamErrorCondition::reset:
      return "reset";
    case StreamErrorCondition::resource_constraint:
      return "resource-constraint";
    case StreamErrorCondition::restricted_xml:
      return "restricted-xml";
    case StreamErrorCondition::see_other_host:
      return "see-other-host";
    case StreamErrorCondition::system_shutdown:
      return "system-shutdown";
    case StreamErrorCondition::undefined_condition:
      return "undefined-condition";
    case StreamErrorCondition::unsupported_encoding:
      return "unsupported-encoding";
    case StreamErrorCondition::unsupported_feature:
      return "unsupported-feature";
    case StreamErrorCondition::unsupported_stanza_type:
      return "unsupported-stanza-type";
    case StreamErrorCondition::unsupported_version:
      return "unsupported-version";
  }
  // Unreachable for a valid enumerator; an out-of-range value still yields a defined condition
  // (RFC 6120 4.9.3.21: the condition to use when no other applies).
  return "undefined-condition";
}

std::optional<StreamErrorCondition> stream_error_condition_from_string(std::string_view name) {
  for (const StreamErrorCondition condition : kAllStreamErrorConditions) {
    if (to_string(condition) == name) return condition;
  }
  return std::nullopt;
}

std::string build_stream_error(StreamErrorCondition condition, const StreamErrorText& text,
                               std::string_view condition_data) {
  std::string out = "<stream:error><";
  out += to_string(condition);
  out += " xmlns='";
  out += kStreamErrorNamespace;
  out += '\'';
  if (condition_data.empty()) {
    out += "/>";
  } else {
    out += '>';
    append_escaped_text(out, condition_data);
    out += "</";
    out += to_string(condition);
    out += '>';
  }
  if (!text.text.empty()) {
    // RFC 6120 4.9.2: <text/> is qualified by the same namespace as the condition.
    out += "<text xmlns='";
    out += kStreamErrorNamespace;
    out += '\'';
    if (!text.lang.empty()) {
      out += " xml:lang='";
      append_escaped_attribute_value(out, text.lang);
      out += '\'';
    }
    out += '>';
    append_escaped_text(out, text.text);
    out += "</text>";
  }
  out += "</stream:error>";
  return out;
}

}  // namespace parley::xml
