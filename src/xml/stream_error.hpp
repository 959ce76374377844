#pragma once
// XMPP stream error conditions (RFC 6120 4.9.3) and the bytes of a <stream:error/> element
// (RFC 6120 4.9.2).
//
// What the caller must still do (RFC 6120 4.9.1): if no stream header has been sent yet, send one
// first (4.9.1.3); after the error, send </stream:stream> and close the TCP connection (4.9.1.1).
// This file does not send anything and does not decide which condition applies; it only names
// the conditions and writes the element.
//
// Deliberately not done: application-specific condition elements (4.9.4) and the
// see-other-host redirect policy. The <see-other-host/> condition's new address can be passed as
// the condition's character data, which is all the RFC defines for it.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace parley::xml {

// Every defined condition of RFC 6120 4.9.3, in the RFC's order (4.9.3.1 ... 4.9.3.25).
enum class StreamErrorCondition {
  bad_format,                // 4.9.3.1  XML that cannot be processed
  bad_namespace_prefix,      // 4.9.3.2
  conflict,                  // 4.9.3.3  a new stream replaces this one
  connection_timeout,        // 4.9.3.4
  host_gone,                 // 4.9.3.5
  host_unknown,              // 4.9.3.6
  improper_addressing,       // 4.9.3.7
  internal_server_error,     // 4.9.3.8
  invalid_from,              // 4.9.3.9
  invalid_namespace,         // 4.9.3.10 wrong stream namespace, element name or content namespace
  invalid_xml,               // 4.9.3.11
  not_authorized,            // 4.9.3.12
  not_well_formed,           // 4.9.3.13 malformed XML, invalid UTF-8, not namespace-well-formed
  policy_violation,          // 4.9.3.14 a local limit (size, depth, count) was exceeded
  remote_connection_failed,  // 4.9.3.15
  reset,                     // 4.9.3.16
  resource_constraint,       // 4.9.3.17
  restricted_xml,            // 4.9.3.18 DTD, comment, PI, entity beyond the predefined five
  see_other_host,            // 4.9.3.19
  system_shutdown,           // 4.9.3.20
  undefined_condition,       // 4.9.3.21
  unsupported_encoding,      // 4.9.3.22 anything but UTF-8
  unsupported_feature,       // 4.9.3.23
  unsupported_stanza_type,   // 4.9.3.24
  unsupported_version,       // 4.9.3.25
};

inline constexpr std::array<StreamErrorCondition, 25> kAllStreamErrorConditions = {
    StreamErrorCondition::bad_format,
    StreamErrorCondition::bad_namespace_prefix,
    StreamErrorCondition::conflict,
    StreamErrorCondition::connection_timeout,
    StreamErrorCondition::host_gone,
    StreamErrorCondition::host_unknown,
    StreamErrorCondition::improper_addressing,
    StreamErrorCondition::internal_server_error,
    StreamErrorCondition::invalid_from,
    StreamErrorCondition::invalid_namespace,
    StreamErrorCondition::invalid_xml,
    StreamErrorCondition::not_authorized,
    StreamErrorCondition::not_well_formed,
    StreamErrorCondition::policy_violation,
    StreamErrorCondition::remote_connection_failed,
    StreamErrorCondition::reset,
    StreamErrorCondition::resource_constraint,
    StreamErrorCondition::restricted_xml,
    StreamErrorCondition::see_other_host,
    StreamErrorCondition::system_shutdown,
    StreamErrorCondition::undefined_condition,
    StreamErrorCondition::unsupported_encoding,
    StreamErrorCondition::unsupported_feature,
    StreamErrorCondition::unsupported_stanza_type,
    StreamErrorCondition::unsupported_version,
};

inline constexpr std::string_view kStreamsNamespace = "http://etherx.jabber.org/streams";
inline constexpr std::string_view kStreamErrorNamespace = "urn:ietf:params:xml:ns:xmpp-streams";

// The condition's element name as the RFC spells it ("not-well-formed").
std::string_view to_string(StreamErrorCondition condition);
// The inverse, for reading a peer's <stream:error/>; nullopt for names the RFC does not define.
std::optional<StreamErrorCondition> stream_error_condition_from_string(std::string_view name);

// Optional human-readable part of the error (RFC 6120 4.9.2: <text/>, with xml:lang).
struct StreamErrorText {
  std::string_view text;  // any UTF-8; escaped here, invalid sequences become U+FFFD
  std::string_view lang;  // xml:lang of the text; omitted when empty
};

// `<stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>[<text ...>...</text>]
// </stream:error>`. The `stream` prefix is the one the stream header bound (RFC 6120 4.8.5
// recommends exactly that prefix and Parley always sends it). `condition_data` is character data
// inside the condition element; RFC 6120 defines it only for <see-other-host/> (the new address).
std::string build_stream_error(StreamErrorCondition condition, const StreamErrorText& text = {},
                               std::string_view condition_data = {});

}  // namespace parley::xml
