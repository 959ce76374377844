#include "xml/stream_parser.hpp"

// The billion-laughs controls are declared only when XML_DTD is defined, which expat.h leaves to
// expat_config.h. Debian's libexpat is built with DTD support (it exports the functions); the
// calls below only add a guard for entity expansion that the DTD rejection already prevents.
#ifndef XML_DTD
#define XML_DTD 1
#endif
#include <expat.h>

#include <algorithm>
#include <utility>

namespace parley::xml {
namespace {

// Separates namespace URI and local name in the names expat reports. U+0001 is not an XML
// character, not even as a character reference, so no URI or name can contain it.
constexpr char kNamespaceSeparator = '\x01';

QualifiedName split_expanded_name(const XML_Char* expanded) {
  const std::string_view name(expanded);
  const std::size_t separator = name.find(kNamespaceSeparator);
  if (separator == std::string_view::npos) return {{}, std::string(name)};
  return {std::string(name.substr(0, separator)), std::string(name.substr(separator + 1))};
}

bool is_xml_whitespace(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
}

bool equals_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// One part of a version number: digits only, leading zeros ignored (RFC 6120 4.7.5), at most
// nine significant digits so that the value fits without overflow checks.
std::optional<std::uint32_t> parse_version_part(std::string_view digits) {
  if (digits.empty()) return std::nullopt;
  const std::size_t first_significant = std::min(digits.find_first_not_of('0'), digits.size());
  if (digits.size() - first_significant > 9) return std::nullopt;
  std::uint32_t value = 0;
  for (const char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  return value;
}

std::optional<StreamVersion> parse_stream_version(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  const auto major = parse_version_part(text.substr(0, dot));
  const auto minor = parse_version_part(text.substr(dot + 1));
  if (!major || !minor) return std::nullopt;
  return StreamVersion{*major, *minor};
}

StreamErrorCondition condition_for_expat_error(XML_Error code) {
  switch (code) {
    // Entity references that are not one of the five predefined ones, and everything that only
    // a DTD could have made legal (RFC 6120 11.1).
    case XML_ERROR_UNDEFINED_ENTITY:
    case XML_ERROR_RECURSIVE_ENTITY_REF:
    case XML_ERROR_BINARY_ENTITY_REF:
    case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
    case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
    case XML_ERROR_PARAM_ENTITY_REF:
    case XML_ERROR_ENTITY_DECLARED_IN_PE:
    case XML_ERROR_NOT_STANDALONE:
    case XML_ERROR_AMPLIFICATION_LIMIT_BREACH:
      return StreamErrorCondition::restricted_xml;
    case XML_ERROR_UNKNOWN_ENCODING:
    case XML_ERROR_INCORRECT_ENCODING:
      return StreamErrorCondition::unsupported_encoding;
    case XML_ERROR_NO_MEMORY:
      return StreamErrorCondition::resource_constraint;
    default:
      return StreamErrorCondition::not_well_formed;
  }
}

}  // namespace

class StreamParser::Impl {
 public:
  Impl(StreamEvents& events, StreamParserOptions options)
      : events_(events), options_(std::move(options)) {
    start_new_document();
  }
  ~Impl() { free_expat(); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  StreamResult<FeedStatus> feed(std::string_view bytes) {
    if (error_) return std::unexpected(*error_);
    if (phase_ == Phase::closed) return FeedStatus::stream_closed;
    if (paused_) {
      return std::unexpected(StreamParseError{StreamErrorCondition::internal_server_error,
                                              "feed() while paused: call resume() or reset() first",
                                              fed_end_});
    }
    return run(bytes, fed_end_);
  }

  StreamResult<FeedStatus> resume() {
    if (error_) return std::unexpected(*error_);
    if (phase_ == Phase::closed) return FeedStatus::stream_closed;
    if (!paused_) return FeedStatus::need_more_input;
    paused_ = false;
    // The held bytes start at the end of the paused event; expat already holds those up to
    // fed_end_ and resumes on them, the rest it has not seen yet.
    const std::string source = std::move(held_);
    held_.clear();
    const std::uint64_t source_base = held_base_;
    const XML_Status status = XML_ResumeParser(parser_);
    if (auto outcome = after_expat_call(status, source, source_base)) return *outcome;
    const std::size_t seen_by_expat = static_cast<std::size_t>(fed_end_ - source_base);
    return run(std::string_view(source).substr(seen_by_expat), fed_end_);
  }

  std::string_view unparsed_after_pause() const {
    return paused_ ? std::string_view(held_) : std::string_view();
  }

  void reset() {
    free_expat();
    start_new_document();
  }

  StreamResult<void> finish() {
    if (error_) return std::unexpected(*error_);
    if (phase_ == Phase::closed) return {};
    const char* where = phase_ == Phase::before_header ? "the input ended before the stream header"
                        : in_stanza_                   ? "the input ended inside a stanza"
                                                       : "the input ended before </stream:stream>";
    return std::unexpected(fail_with(StreamErrorCondition::not_well_formed, where, fed_end_));
  }

  std::size_t buffered_stanza_bytes() const {
    if (error_ || phase_ == Phase::closed) return 0;
    return static_cast<std::size_t>(fed_end_ - anchor_);
  }
  std::size_t stanza_memory_bytes() const { return stanza_memory_; }

 private:
  enum class Phase { before_header, in_stream, closed };

  // ---- driving expat ----

  // Hands `input` to expat slice by slice. `input_base` is the stream offset of input[0].
  StreamResult<FeedStatus> run(std::string_view input, std::uint64_t input_base) {
    std::size_t offset = 0;
    // Each iteration hands at least one byte to expat or returns.
    while (offset < input.size()) {
      const std::string_view slice = input.substr(offset, kInputSliceBytes);
      offset += slice.size();
      fed_end_ += slice.size();
      const XML_Status status =
          XML_Parse(parser_, slice.data(), static_cast<int>(slice.size()), XML_FALSE);
      if (auto outcome = after_expat_call(status, input, input_base)) return *outcome;
    }
    return FeedStatus::need_more_input;
  }

  // Interprets one XML_Parse/XML_ResumeParser return; nullopt means "keep going".
  std::optional<StreamResult<FeedStatus>> after_expat_call(XML_Status status,
                                                           std::string_view input,
                                                           std::uint64_t input_base) {
    if (error_) {
      free_expat();
      return std::unexpected(*error_);
    }
    if (phase_ == Phase::closed) {
      free_expat();
      return FeedStatus::stream_closed;
    }
    if (status == XML_STATUS_ERROR) {
      const XML_Error code = XML_GetErrorCode(parser_);
      const auto at =
          static_cast<std::uint64_t>(std::max<XML_Index>(XML_GetCurrentByteIndex(parser_), 0));
      fail_with(condition_for_expat_error(code), XML_ErrorString(code), at);
      free_expat();
      return std::unexpected(*error_);
    }
    if (status == XML_STATUS_SUSPENDED) {
      held_ = std::string(input.substr(static_cast<std::size_t>(held_base_ - input_base)));
      return FeedStatus::paused;
    }
    // Whatever expat still buffers is an unfinished token or stanza: bound it here, because no
    // callback fires while a single start tag or character run keeps growing.
    if (fed_end_ - anchor_ > options_.limits.max_stanza_bytes) {
      fail_with(
          StreamErrorCondition::policy_violation,
          in_stanza_ ? "stanza exceeds the size limit" : "unfinished markup exceeds the size limit",
          anchor_);
      free_expat();
      return std::unexpected(*error_);
    }
    return std::nullopt;
  }

  void start_new_document() {
    phase_ = Phase::before_header;
    error_.reset();
    paused_ = false;
    held_.clear();
    held_base_ = 0;
    fed_end_ = 0;
    anchor_ = 0;
    in_stanza_ = false;
    open_elements_.clear();
    stanza_elements_ = 0;
    stanza_memory_ = 0;
    pending_declaration_count_ = 0;
    header_declarations_.clear();

    parser_ = XML_ParserCreateNS("UTF-8", kNamespaceSeparator);
    if (parser_ == nullptr) {
      fail_with(StreamErrorCondition::resource_constraint, "cannot allocate an XML parser", 0);
      return;
    }
    XML_SetUserData(parser_, this);
    XML_SetXmlDeclHandler(parser_, &Impl::on_xml_declaration);
    XML_SetElementHandler(parser_, &Impl::on_start_element, &Impl::on_end_element);
    XML_SetCharacterDataHandler(parser_, &Impl::on_character_data);
    XML_SetStartNamespaceDeclHandler(parser_, &Impl::on_start_namespace_declaration);
    // RFC 6120 11.1: none of these may appear. Each handler stops the parser at once, so a DTD is
    // refused at "<!DOCTYPE name" before a single declaration inside it is read.
    XML_SetStartDoctypeDeclHandler(parser_, &Impl::on_doctype);
    XML_SetEntityDeclHandler(parser_, &Impl::on_entity_declaration);
    XML_SetUnparsedEntityDeclHandler(parser_, &Impl::on_unparsed_entity_declaration);
    XML_SetNotationDeclHandler(parser_, &Impl::on_notation_declaration);
    XML_SetElementDeclHandler(parser_, &Impl::on_element_declaration);
    XML_SetAttlistDeclHandler(parser_, &Impl::on_attribute_list_declaration);
    XML_SetCommentHandler(parser_, &Impl::on_comment);
    XML_SetProcessingInstructionHandler(parser_, &Impl::on_processing_instruction);
    XML_SetSkippedEntityHandler(parser_, &Impl::on_skipped_entity);
    XML_SetExternalEntityRefHandler(parser_, &Impl::on_external_entity_reference);
    XML_SetParamEntityParsing(parser_, XML_PARAM_ENTITY_PARSING_NEVER);
    // Defence in depth only: with the DTD refused no entity can be declared, let alone expanded.
    // Expat counts the predefined entities as expansion too ("&lt;": 4 bytes in, 1 out), so a
    // legitimate stream stays below 1.25; 2.0 leaves room and still stops any real amplification.
    // The threshold is lifetime bytes of this stream before the ratio is enforced.
    XML_SetBillionLaughsAttackProtectionMaximumAmplification(parser_, 2.0f);
    XML_SetBillionLaughsAttackProtectionActivationThreshold(parser_, 1024 * 1024);
  }

  void free_expat() {
    if (parser_ != nullptr) XML_ParserFree(parser_);
    parser_ = nullptr;
    // A failed or closed stream keeps nothing of the peer's data.
    open_elements_.clear();
    open_elements_.shrink_to_fit();
    held_.clear();
  }

  // ---- positions and failures ----

  std::uint64_t event_start() const {
    return static_cast<std::uint64_t>(std::max<XML_Index>(XML_GetCurrentByteIndex(parser_), 0));
  }
  std::uint64_t event_end() const {
    return event_start() +
           static_cast<std::uint64_t>(std::max(XML_GetCurrentByteCount(parser_), 0));
  }

  StreamParseError fail_with(StreamErrorCondition condition, std::string detail, std::uint64_t at) {
    if (!error_) error_ = StreamParseError{condition, std::move(detail), at};
    return *error_;
  }

  // From inside a callback: record the first failure and stop expat for good.
  void fail_in_callback(StreamErrorCondition condition, std::string detail) {
    fail_with(condition, std::move(detail), event_start());
    XML_StopParser(parser_, XML_FALSE);
  }

  void restricted(const char* what) {
    fail_in_callback(StreamErrorCondition::restricted_xml, what);
  }
  void policy(const char* what) { fail_in_callback(StreamErrorCondition::policy_violation, what); }

  // Callbacks can still arrive after XML_StopParser (expat finishes the current token).
  bool stopped() const { return error_.has_value() || phase_ == Phase::closed; }

  void apply(AfterEvent after, std::uint64_t event_end_offset) {
    if (after != AfterEvent::pause || stopped()) return;
    paused_ = true;
    held_base_ = event_end_offset;
    XML_StopParser(parser_, XML_TRUE);
  }

  // ---- limits ----

  bool within_name_limit(const QualifiedName& name) {
    if (name.namespace_uri.size() > options_.limits.max_name_bytes ||
        name.local_name.size() > options_.limits.max_name_bytes) {
      policy("a name or namespace exceeds the length limit");
      return false;
    }
    return true;
  }

  // Refuses before counting: bytes that are refused are never stored, so the count (which
  // callers watch as "memory held for this stanza") never passes the limit.
  bool charge_stanza_memory(std::size_t bytes) {
    if (bytes > options_.limits.max_stanza_memory_bytes - stanza_memory_) {
      policy("stanza exceeds the memory limit");
      return false;
    }
    stanza_memory_ += bytes;
    return true;
  }

  // Counts the attributes of a start tag without walking past the limit.
  std::size_t count_attributes(const XML_Char** attributes) const {
    const std::size_t cap = options_.limits.max_attributes_per_element + 1;
    std::size_t count = 0;
    while (count < cap && attributes[2 * count] != nullptr) ++count;
    return count;
  }

  // ---- expat callbacks ----

  static Impl& self(void* user_data) { return *static_cast<Impl*>(user_data); }

  static void on_xml_declaration(void* user_data, const XML_Char* /*version*/,
                                 const XML_Char* encoding, int /*standalone*/) {
    Impl& impl = self(user_data);
    if (impl.stopped()) return;
    // The parser decodes UTF-8 whatever the declaration says; a peer declaring anything else is
    // sending what it thinks is another encoding (RFC 6120 11.6).
    if (encoding != nullptr && !equals_ignoring_ascii_case(encoding, "UTF-8")) {
      impl.fail_in_callback(StreamErrorCondition::unsupported_encoding,
                            "encoding other than UTF-8 declared");
    }
  }

  static void on_start_namespace_declaration(void* user_data, const XML_Char* prefix,
                                             const XML_Char* uri) {
    Impl& impl = self(user_data);
    if (impl.stopped()) return;
    // Expat reports declarations before their element's start callback; count them with its
    // attributes, and stop a tag with thousands of declarations before it is stored.
    if (++impl.pending_declaration_count_ > impl.options_.limits.max_attributes_per_element) {
      impl.policy("too many attributes on one element");
      return;
    }
    NamespaceDeclaration declaration{prefix ? prefix : "", uri ? uri : ""};
    if (declaration.namespace_uri.size() > impl.options_.limits.max_name_bytes) {
      impl.policy("a name or namespace exceeds the length limit");
      return;
    }
    // Only the stream header's declarations are reported; inside stanzas names are resolved.
    if (impl.phase_ == Phase::before_header)
      impl.header_declarations_.push_back(std::move(declaration));
  }

  static void on_start_element(void* user_data, const XML_Char* name, const XML_Char** attributes) {
    Impl& impl = self(user_data);
    if (impl.stopped()) return;
    const std::size_t declarations = std::exchange(impl.pending_declaration_count_, 0);
    const std::size_t attribute_count = impl.count_attributes(attributes);
    if (attribute_count + declarations > impl.options_.limits.max_attributes_per_element) {
      impl.policy("too many attributes on one element");
      return;
    }
    if (impl.phase_ == Phase::before_header) {
      impl.open_stream(name, attributes, attribute_count);
      return;
    }
    if (!impl.in_stanza_) {
      impl.in_stanza_ = true;
      impl.anchor_ = impl.event_start();
      impl.stanza_elements_ = 0;
      impl.stanza_memory_ = 0;
    }
    impl.open_element(name, attributes, attribute_count);
  }

  void open_stream(const XML_Char* expanded_name, const XML_Char** attributes,
                   std::size_t attribute_count) {
    if (event_end() - anchor_ > options_.limits.max_stanza_bytes) {
      policy("stream header exceeds the size limit");
      return;
    }
    // RFC 6120 4.8.1: the root is "stream" qualified by the streams namespace, whatever prefix.
    const QualifiedName name = split_expanded_name(expanded_name);
    if (name.namespace_uri != kStreamsNamespace || name.local_name != "stream") {
      fail_in_callback(StreamErrorCondition::invalid_namespace,
                       "the root element is not {http://etherx.jabber.org/streams}stream");
      return;
    }
    StreamHeader header;
    header.namespace_declarations = std::move(header_declarations_);
    header_declarations_.clear();
    for (const NamespaceDeclaration& declaration : header.namespace_declarations) {
      if (declaration.prefix.empty()) header.content_namespace = declaration.namespace_uri;
    }
    // RFC 6120 4.8.2: the content namespace is the default namespace of the stream.
    if (!options_.content_namespace.empty() &&
        header.content_namespace != options_.content_namespace) {
      fail_in_callback(StreamErrorCondition::invalid_namespace, "unexpected content namespace");
      return;
    }
    std::optional<std::string> version_text;
    for (std::size_t i = 0; i < attribute_count; ++i) {
      Attribute attribute{split_expanded_name(attributes[2 * i]), attributes[2 * i + 1]};
      if (!within_name_limit(attribute.name)) return;
      if (attribute.value.size() > options_.limits.max_attribute_value_bytes) {
        policy("an attribute value exceeds the length limit");
        return;
      }
      const QualifiedName& n = attribute.name;
      if (n.namespace_uri.empty()) {
        if (n.local_name == "to") header.to = attribute.value;
        if (n.local_name == "from") header.from = attribute.value;
        if (n.local_name == "id") header.id = attribute.value;
        if (n.local_name == "version") version_text = attribute.value;
      } else if (n.namespace_uri == kXmlNamespace && n.local_name == "lang") {
        header.lang = attribute.value;
      }
      header.attributes.push_back(std::move(attribute));
    }
    // RFC 6120 4.7.5: no version means 0.9 (pre-RFC), which Parley does not speak; a higher minor
    // version is fine (the response carries 1.0), a different major version is not.
    const auto version = version_text ? parse_stream_version(*version_text) : std::nullopt;
    if (!version || version->major != 1) {
      fail_in_callback(StreamErrorCondition::unsupported_version, "stream version is not 1.x");
      return;
    }
    header.version = *version;
    phase_ = Phase::in_stream;
    const std::uint64_t end = event_end();
    anchor_ = end;
    apply(events_.on_stream_open(header), end);
  }

  void open_element(const XML_Char* expanded_name, const XML_Char** attributes,
                    std::size_t attribute_count) {
    const ParserLimits& limits = options_.limits;
    // A start tag is one token: expat holds it whole before this callback, so bound it here too.
    if (event_end() - anchor_ > limits.max_stanza_bytes) {
      policy("stanza exceeds the size limit");
      return;
    }
    if (open_elements_.size() + 1 > limits.max_depth) {
      policy("elements nested deeper than the limit");
      return;
    }
    if (++stanza_elements_ > limits.max_elements_per_stanza) {
      policy("too many elements in one stanza");
      return;
    }
    Element element(split_expanded_name(expanded_name));
    if (!within_name_limit(element.name())) return;
    if (!charge_stanza_memory(element.name().namespace_uri.size() +
                              element.name().local_name.size()))
      return;
    for (std::size_t i = 0; i < attribute_count; ++i) {
      QualifiedName attribute_name = split_expanded_name(attributes[2 * i]);
      if (!within_name_limit(attribute_name)) return;
      const std::string_view value = attributes[2 * i + 1];
      if (value.size() > limits.max_attribute_value_bytes) {
        policy("an attribute value exceeds the length limit");
        return;
      }
      if (!charge_stanza_memory(attribute_name.namespace_uri.size() +
                                attribute_name.local_name.size() + value.size())) {
        return;
      }
      element.set_attribute(std::move(attribute_name), std::string(value));
    }
    open_elements_.push_back(std::move(element));
  }

  static void on_end_element(void* user_data, const XML_Char* /*name*/) {
    Impl& impl = self(user_data);
    if (impl.stopped()) return;
    const std::uint64_t end = impl.event_end();
    if (impl.open_elements_.empty()) {
      // Only the root can close with no stanza open: RFC 6120 4.4, the stream is over. Its end
      // tag was held whole too (whitespace may pad it), so it gets the same bound.
      if (end - impl.anchor_ > impl.options_.limits.max_stanza_bytes) {
        impl.policy("unfinished markup exceeds the size limit");
        return;
      }
      impl.phase_ = Phase::closed;
      impl.anchor_ = end;
      impl.events_.on_stream_close();
      XML_StopParser(impl.parser_, XML_FALSE);
      return;
    }
    Element element = std::move(impl.open_elements_.back());
    impl.open_elements_.pop_back();
    if (!impl.open_elements_.empty()) {
      impl.open_elements_.back().append_child(std::move(element));
      return;
    }
    if (end - impl.anchor_ > impl.options_.limits.max_stanza_bytes) {
      impl.policy("stanza exceeds the size limit");
      return;
    }
    impl.in_stanza_ = false;
    impl.anchor_ = end;
    impl.stanza_memory_ = 0;
    impl.apply(impl.events_.on_stanza(std::move(element)), end);
  }

  static void on_character_data(void* user_data, const XML_Char* data, int length) {
    Impl& impl = self(user_data);
    if (impl.stopped() || length <= 0) return;
    const std::string_view text(data, static_cast<std::size_t>(length));
    if (!impl.in_stanza_) {
      // Between stanzas only whitespace (keepalives, RFC 6120 11.7) has a meaning.
      if (!is_xml_whitespace(text)) {
        impl.fail_in_callback(StreamErrorCondition::bad_format, "character data between stanzas");
        return;
      }
      impl.anchor_ = impl.event_end();
      return;
    }
    const ParserLimits& limits = impl.options_.limits;
    if (impl.event_end() - impl.anchor_ > limits.max_stanza_bytes) {
      impl.policy("stanza exceeds the size limit");
      return;
    }
    Element& parent = impl.open_elements_.back();
    const auto& siblings = parent.children();
    const std::size_t run_so_far =
        (!siblings.empty() && siblings.back().is_text()) ? siblings.back().text().size() : 0;
    if (run_so_far + text.size() > limits.max_text_bytes) {
      impl.policy("character data exceeds the length limit");
      return;
    }
    if (!impl.charge_stanza_memory(text.size())) return;
    parent.append_text(text);
  }

  static void on_doctype(void* user_data, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    self(user_data).restricted("document type declaration");
  }
  static void on_entity_declaration(void* user_data, const XML_Char*, int, const XML_Char*, int,
                                    const XML_Char*, const XML_Char*, const XML_Char*,
                                    const XML_Char*) {
    self(user_data).restricted("entity declaration");
  }
  static void on_unparsed_entity_declaration(void* user_data, const XML_Char*, const XML_Char*,
                                             const XML_Char*, const XML_Char*, const XML_Char*) {
    self(user_data).restricted("entity declaration");
  }
  static void on_notation_declaration(void* user_data, const XML_Char*, const XML_Char*,
                                      const XML_Char*, const XML_Char*) {
    self(user_data).restricted("notation declaration");
  }
  static void on_element_declaration(void* user_data, const XML_Char*, XML_Content* model) {
    Impl& impl = self(user_data);
    // Expat hands ownership of the content model to this handler.
    XML_FreeContentModel(impl.parser_, model);
    impl.restricted("element type declaration");
  }
  static void on_attribute_list_declaration(void* user_data, const XML_Char*, const XML_Char*,
                                            const XML_Char*, const XML_Char*, int) {
    self(user_data).restricted("attribute list declaration");
  }
  static void on_comment(void* user_data, const XML_Char*) {
    self(user_data).restricted("comment");
  }
  static void on_processing_instruction(void* user_data, const XML_Char*, const XML_Char*) {
    self(user_data).restricted("processing instruction");
  }
  static void on_skipped_entity(void* user_data, const XML_Char*, int) {
    self(user_data).restricted("entity reference");
  }
  static int XMLCALL on_external_entity_reference(XML_Parser parser, const XML_Char*,
                                                  const XML_Char*, const XML_Char*,
                                                  const XML_Char*) {
    // This handler receives the parser, not the user data.
    self(XML_GetUserData(parser)).restricted("external entity reference");
    return XML_STATUS_ERROR;
  }

  StreamEvents& events_;
  StreamParserOptions options_;
  XML_Parser parser_ = nullptr;
  Phase phase_ = Phase::before_header;
  std::optional<StreamParseError> error_;

  // Offsets count bytes of the current stream (since the last reset).
  std::uint64_t fed_end_ = 0;  // end of the bytes handed to expat
  // Start of what is not yet an event: the current stanza's '<', else the end of the last event.
  std::uint64_t anchor_ = 0;

  bool paused_ = false;
  std::string held_;             // input after the paused event
  std::uint64_t held_base_ = 0;  // stream offset of held_[0] (the paused event's end)

  bool in_stanza_ = false;
  std::vector<Element> open_elements_;  // the stanza's open elements, outermost first
  std::size_t stanza_elements_ = 0;
  std::size_t stanza_memory_ = 0;

  std::size_t pending_declaration_count_ = 0;
  std::vector<NamespaceDeclaration> header_declarations_;
};

StreamParser::StreamParser(StreamEvents& events, StreamParserOptions options)
    : impl_(std::make_unique<Impl>(events, std::move(options))) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

StreamResult<FeedStatus> StreamParser::feed(std::string_view bytes) {
  return impl_->feed(bytes);
}
StreamResult<FeedStatus> StreamParser::resume() {
  return impl_->resume();
}
std::string_view StreamParser::unparsed_after_pause() const {
  return impl_->unparsed_after_pause();
}
void StreamParser::reset() {
  impl_->reset();
}
StreamResult<void> StreamParser::finish() {
  return impl_->finish();
}
std::size_t StreamParser::buffered_stanza_bytes() const {
  return impl_->buffered_stanza_bytes();
}
std::size_t StreamParser::stanza_memory_bytes() const {
  return impl_->stanza_memory_bytes();
}

Error to_error(const StreamParseError& error) {
  std::string message = "XML stream: ";
  message += to_string(error.condition);
  message += ": ";
  message += error.detail;
  message += " (at byte ";
  message += std::to_string(error.byte_offset);
  message += ')';
  return error.condition == StreamErrorCondition::policy_violation
             ? Error::limit(std::move(message))
             : Error::parse(std::move(message));
}

namespace {

// Collects exactly one top-level element from a synthetic stream.
class SingleElementCollector final : public StreamEvents {
 public:
  AfterEvent on_stream_open(const StreamHeader&) override { return AfterEvent::continue_parsing; }
  AfterEvent on_stanza(Element stanza) override {
    ++count;
    if (count == 1) element = std::move(stanza);
    return AfterEvent::continue_parsing;
  }
  void on_stream_close() override {}

  std::size_t count = 0;
  Element element;
};

}  // namespace

StreamResult<Element> parse_element(std::string_view xml, std::string_view content_namespace,
                                    const ParserLimits& limits) {
  SingleElementCollector collector;
  StreamParser parser(collector, StreamParserOptions{limits, std::string(content_namespace)});
  std::string header =
      "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' version='1.0'";
  if (!content_namespace.empty()) {
    header += " xmlns='";
    append_escaped_attribute_value(header, content_namespace);
    header += '\'';
  }
  header += '>';
  // Errors report offsets into `xml`, not into the synthetic stream around it.
  const auto relative = [&](StreamParseError error) {
    error.byte_offset -= std::min<std::uint64_t>(error.byte_offset, header.size());
    return std::unexpected(std::move(error));
  };
  if (auto fed = parser.feed(header); !fed) return relative(fed.error());
  auto fed = parser.feed(xml);
  if (!fed) return relative(fed.error());
  // A "</stream:stream>" inside `xml` would end the synthetic stream early and hide what follows.
  if (*fed != FeedStatus::need_more_input) {
    return std::unexpected(
        StreamParseError{StreamErrorCondition::bad_format, "expected exactly one element", 0});
  }
  if (auto closed = parser.feed("</stream:stream>"); !closed) return relative(closed.error());
  if (auto finished = parser.finish(); !finished) return relative(finished.error());
  if (collector.count != 1) {
    return std::unexpected(
        StreamParseError{StreamErrorCondition::bad_format, "expected exactly one element", 0});
  }
  return std::move(collector.element);
}

}  // namespace parley::xml
