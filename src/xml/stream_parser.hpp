#pragma once
// Restricted streaming XML for XMPP (RFC 6120 section 4 streams, section 11 XML usage), on expat.
//
// Bytes are fed as they arrive (TLS records cut anywhere: mid-tag, mid-UTF-8 sequence); the
// parser reports three events: the stream header was opened, a top-level child (a stanza, or
// <stream:features/>, <stream:error/>, ...) is complete, and </stream:stream> arrived. Feeding the
// same bytes in any pieces gives the same events.
//
// Restrictions (RFC 6120 11.1), each a StreamParseError whose condition is the stream error to
// send:
//   DOCTYPE / any DTD, entity declarations, entity references beyond the predefined five,
//   comments, processing instructions                                 -> restricted-xml
//   malformed or not namespace-well-formed XML, invalid UTF-8           -> not-well-formed
//   an encoding declaration other than UTF-8 (11.6)                     -> unsupported-encoding
//   a ParserLimits bound exceeded                                       -> policy-violation
//   a root element other than {http://etherx.jabber.org/streams}stream,
//   or a content namespace other than the expected one (4.8)            -> invalid-namespace
//   a stream version whose major number is not 1, or none (4.7.5)     -> unsupported-version
//   non-whitespace character data between stanzas                      -> bad-format
// Limits are checked inside expat's callbacks and between bounded slices of input, and the parser
// is stopped at the first violation, so memory never follows the attacker: at most one stanza's
// worth of bytes (max_stanza_bytes plus one slice) is ever held. With no DTD accepted at all,
// entity expansion (billion laughs) cannot happen; expat's own amplification guard is also set.
//
// Stream restarts (RFC 6120 5.3.7.1 after STARTTLS, 6.4.6 after SASL): reset() discards the old
// parser and expects a new stream header. A peer may pipeline the new header behind the stanza
// that triggered the restart, so an event handler can return AfterEvent::pause: feed() stops
// right after that event and keeps the bytes that followed (unparsed_after_pause()). The caller
// then either resume()s, or reset()s and feeds those bytes again (SASL success), or treats them
// as an attack and closes (after STARTTLS <proceed/>, plaintext behind <starttls/> must never
// reach the TLS layer: the STARTTLS command-injection class of bugs).
//
// What the caller must still do: send the stream error (stream_error.hpp) and close the stream
// on any error; time out slow peers (a peer sending one byte a second is bounded in memory here,
// not in time); check stanza semantics (RFC 6120 8, schemas per 11.4); never call into the parser
// from inside an event handler (return AfterEvent::pause instead).
//
// Deliberately not done: xml:lang validation (11.1 leaves it to the application), rejecting
// unescaped '>' or quotes in character data (no known parser enforces it and the data model is
// unaffected), CDATA sections are accepted and become ordinary text (RFC 6120 does not forbid
// them).

#include <cstddef>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "xml/element.hpp"
#include "xml/stream_error.hpp"

namespace parley::xml {

// Bounds on what one peer can make the parser hold. Exceeding any of them is policy-violation.
struct ParserLimits {
  // Raw input bytes of one stanza, from its '<' to the end of its end tag. The same bound applies
  // to anything not yet turned into an event (the stream header, a run of whitespace).
  std::size_t max_stanza_bytes = 256 * 1024;
  // Element nesting inside a stanza; the stanza element itself is depth 1.
  std::size_t max_depth = 32;
  // Attributes plus namespace declarations on one element (the stream header included).
  std::size_t max_attributes_per_element = 64;
  // Elements in one stanza, the stanza element included.
  std::size_t max_elements_per_stanza = 4096;
  // One run of character data (one text node), after entities are resolved.
  std::size_t max_text_bytes = 64 * 1024;
  std::size_t max_attribute_value_bytes = 16 * 1024;
  // One namespace URI or one local name.
  std::size_t max_name_bytes = 1024;
  // Strings the stanza's tree stores (names, namespace URIs, values, text). This can exceed the
  // raw size, because every element stores its namespace URI in full where the input inherited
  // it, so it is bounded on its own.
  std::size_t max_stanza_memory_bytes = 1024 * 1024;
};

struct StreamParserOptions {
  ParserLimits limits;
  // The default namespace the stream header must declare (RFC 6120 4.8.2): "jabber:client" for
  // c2s, "jabber:server" for s2s. Empty accepts any, or none.
  std::string content_namespace = "jabber:client";
};

// RFC 6120 4.7.5: "<major>.<minor>", each an integer with leading zeros ignored.
struct StreamVersion {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  friend bool operator==(const StreamVersion&, const StreamVersion&) = default;
};

struct NamespaceDeclaration {
  std::string prefix;  // empty: the default namespace (xmlns='...')
  std::string namespace_uri;
  friend bool operator==(const NamespaceDeclaration&, const NamespaceDeclaration&) = default;
};

// The opening <stream:stream> tag (RFC 6120 4.7). Absent attributes are nullopt, which RFC 6120
// distinguishes from empty ones (e.g. 4.7.1: no 'from' vs an empty one).
struct StreamHeader {
  std::optional<std::string> to;
  std::optional<std::string> from;
  std::optional<std::string> id;
  std::optional<std::string> lang;  // xml:lang
  StreamVersion version;
  std::string content_namespace;  // the default namespace declared on the header
  std::vector<NamespaceDeclaration> namespace_declarations;  // in document order
  std::vector<Attribute> attributes;  // every attribute as received, for extensions
  friend bool operator==(const StreamHeader&, const StreamHeader&) = default;
};

struct StreamParseError {
  StreamErrorCondition condition = StreamErrorCondition::undefined_condition;
  // For logs. Built only from Parley's and expat's own words, never from peer bytes, so it may
  // also be sent as the stream error's <text/>.
  std::string detail;
  std::uint64_t byte_offset = 0;  // where in the current stream (since the last reset)
};

// The same failure as a core Error, for code that only logs: policy violations are `limit`, the
// rest `parse`.
Error to_error(const StreamParseError& error);

enum class AfterEvent {
  continue_parsing,
  pause,  // stop right after this event; see unparsed_after_pause()
};

// Receives the events. Handlers must not call into the parser that is calling them.
class StreamEvents {
 public:
  virtual ~StreamEvents() = default;
  virtual AfterEvent on_stream_open(const StreamHeader& header) = 0;
  // A complete top-level child of the stream, owned by the handler from here on.
  virtual AfterEvent on_stanza(Element stanza) = 0;
  // </stream:stream>; nothing after it is parsed (RFC 6120 4.4: the stream is over).
  virtual void on_stream_close() = 0;
};

enum class FeedStatus {
  need_more_input,  // everything was parsed; feed the next bytes when they arrive
  paused,           // a handler asked to pause; see unparsed_after_pause()
  stream_closed,    // </stream:stream> was seen; later bytes are ignored
};

template <class T>
using StreamResult = std::expected<T, StreamParseError>;

class StreamParser {
 public:
  explicit StreamParser(StreamEvents& events, StreamParserOptions options = {});
  ~StreamParser();
  StreamParser(StreamParser&&) noexcept;
  StreamParser& operator=(StreamParser&&) noexcept;
  StreamParser(const StreamParser&) = delete;
  StreamParser& operator=(const StreamParser&) = delete;

  // Parses the bytes, calling the handlers. After an error every later call returns that same
  // error until reset(). Feeding while paused is a misuse and fails with internal-server-error.
  StreamResult<FeedStatus> feed(std::string_view bytes);

  // Continues after a pause with the bytes that were held back.
  StreamResult<FeedStatus> resume();

  // The input that followed the event a handler paused on; empty when not paused.
  std::string_view unparsed_after_pause() const;

  // Starts a new stream: discards the old parser, any partial stanza and any held bytes, and
  // expects a new stream header (RFC 6120 4.3.3: a restart is a new XML document).
  void reset();

  // The connection ended. Success only if </stream:stream> was seen; otherwise not-well-formed
  // (an unclosed stream or a partial stanza is an incomplete document).
  StreamResult<void> finish();

  // Raw bytes the parser is holding for the unfinished stanza or token (expat's buffer or the
  // tree being built). Stays within max_stanza_bytes plus one input slice (kInputSliceBytes).
  std::size_t buffered_stanza_bytes() const;
  // String bytes stored in the tree of the stanza being built (see max_stanza_memory_bytes).
  std::size_t stanza_memory_bytes() const;

  // Input is handed to expat in slices of at most this many bytes, and limits are re-checked
  // between slices, so that one huge feed() cannot make expat buffer a huge unfinished token.
  static constexpr std::size_t kInputSliceBytes = 4096;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses one element given as text (a stanza from a database, a test, or a serialized stanza
// being checked), as if it were the only stanza in a stream whose default namespace is
// `content_namespace`. The same restrictions and limits apply.
StreamResult<Element> parse_element(std::string_view xml, std::string_view content_namespace,
                                    const ParserLimits& limits = {});

}  // namespace parley::xml
