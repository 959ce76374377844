#include "xml/element.hpp"

#include <array>
#include <cstdint>
#include <utility>

namespace parley::xml {
namespace {

constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the UTF-8 sequence starting at text[at] if it encodes a character XML 1.0 allows
// (production [2] Char), else 0. Overlong forms, surrogates, values above U+10FFFF, U+FFFE/U+FFFF
// and C0 controls other than tab, LF and CR are all refused, because a peer's parser refuses them.
std::size_t valid_xml_character_length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(text[at + i]); };
  const std::uint8_t lead = byte(0);
  if (lead < 0x80) {
    return (lead >= 0x20 || lead == '\t' || lead == '\n' || lead == '\r') ? 1 : 0;
  }
  std::size_t length = 0;
  std::uint32_t code_point = 0;
  std::uint32_t smallest = 0;  // below this the sequence is overlong
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1Fu, smallest = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0Fu, smallest = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07u, smallest = 0x10000;
  } else {
    return 0;
  }
  if (text.size() - at < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    code_point = (code_point << 6) | (byte(i) & 0x3Fu);
  }
  if (code_point < smallest || code_point > 0x10FFFF) return 0;
  if (code_point >= 0xD800 && code_point <= 0xDFFF) return 0;
  if (code_point == 0xFFFE || code_point == 0xFFFF) return 0;
  return length;
}

enum class EscapeContext { text, attribute_value };

// Printable ASCII that stands for itself in text and in attribute values alike, as a table: this
// runs for every byte of every routed stanza.
constexpr std::array<bool, 256> kNeedsNoEscape = [] {
  std::array<bool, 256> table{};
  for (int c = 0x20; c < 0x7F; ++c) table[static_cast<std::size_t>(c)] = true;
  for (char c : {'&', '<', '>', '"', '\''}) table[static_cast<unsigned char>(c)] = false;
  return table;
}();
bool needs_no_escape(char c) {
  return kNeedsNoEscape[static_cast<unsigned char>(c)];
}

void append_escaped(std::string& out, std::string_view input, EscapeContext context) {
  out.reserve(out.size() + input.size());
  std::size_t at = 0;
  while (at < input.size()) {  // advances by at least one byte per iteration
    // Most of what is serialized is plain ASCII: copied a run at a time (this is on the path of
    // every routed stanza); everything else one character at a time below.
    std::size_t plain_end = at;
    while (plain_end < input.size() && needs_no_escape(input[plain_end])) ++plain_end;
    if (plain_end != at) {
      out.append(input.substr(at, plain_end - at));
      at = plain_end;
      continue;
    }
    const std::size_t length = valid_xml_character_length(input, at);
    if (length == 0) {
      out += kReplacementCharacter;
      ++at;
      continue;
    }
    if (length > 1) {
      out.append(input.substr(at, length));
      at += length;
      continue;
    }
    const char c = input[at++];
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      // '>' only needs escaping in "]]>", but always escaping it costs little and leaves no case.
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      // A literal CR is turned into LF by every parser (XML 1.0 2.11); only a reference survives.
      case '\r':
        out += "&#xD;";
        break;
      // Attribute-value normalization (XML 1.0 3.3.3) turns literal tab and LF into spaces.
      case '\t':
        context == EscapeContext::attribute_value ? out += "&#x9;" : out += c;
        break;
      case '\n':
        context == EscapeContext::attribute_value ? out += "&#xA;" : out += c;
        break;
      default:
        out += c;
        break;
    }
  }
}

struct PrefixBinding {
  std::string_view namespace_uri;
  std::string prefix;
};

// Writes elements without recursion, so that a deep tree built by code cannot exhaust the stack.
class Serializer {
 public:
  explicit Serializer(std::string& out) : out_(out) {}

  void run(const Element& root, std::string_view inherited_default_namespace) {
    open(root, inherited_default_namespace);
    // Each iteration either writes one child or closes one element: 2 x (number of nodes) in all.
    while (!open_elements_.empty()) {
      OpenElement& top = open_elements_.back();
      const auto& children = top.element->children();
      if (top.next_child == children.size()) {
        out_ += "</";
        if (top.in_xml_namespace) out_ += "xml:";
        out_ += top.element->name().local_name;
        out_ += '>';
        bindings_.resize(top.bindings_mark);
        open_elements_.pop_back();
        continue;
      }
      const Element::Child& child = children[top.next_child++];
      if (child.is_text()) {
        append_escaped(out_, child.text(), EscapeContext::text);
      } else {
        open(child.element(), top.default_namespace);  // may invalidate `top`
      }
    }
  }

 private:
  struct OpenElement {
    const Element* element;
    std::size_t next_child;
    std::size_t bindings_mark;
    std::string_view default_namespace;
    bool in_xml_namespace;
  };

  void open(const Element& element, std::string_view inherited_default_namespace) {
    const std::size_t bindings_mark = bindings_.size();
    const std::string_view element_namespace = element.name().namespace_uri;
    // The XML namespace may not be the default namespace (Namespaces in XML 1.0, 3), so an element
    // in it keeps the reserved prefix and leaves the default namespace as it was.
    const bool in_xml_namespace = element_namespace == kXmlNamespace;
    const std::string_view default_namespace =
        in_xml_namespace ? inherited_default_namespace : element_namespace;
    out_ += '<';
    if (in_xml_namespace) out_ += "xml:";
    out_ += element.name().local_name;
    // Other elements never get a prefix: the default namespace is (re)declared where it changes,
    // which includes xmlns='' for an element in no namespace under a namespaced parent.
    if (default_namespace != inherited_default_namespace) {
      out_ += " xmlns='";
      append_escaped(out_, element_namespace, EscapeContext::attribute_value);
      out_ += '\'';
    }
    for (const Attribute& attribute : element.attributes()) {
      out_ += ' ';
      const std::string_view attribute_namespace = attribute.name.namespace_uri;
      if (attribute_namespace == kXmlNamespace) {
        out_ += "xml:";
      } else if (!attribute_namespace.empty()) {
        out_ += prefix_for(attribute_namespace);
        out_ += ':';
      }
      out_ += attribute.name.local_name;
      out_ += "='";
      append_escaped(out_, attribute.value, EscapeContext::attribute_value);
      out_ += '\'';
    }
    if (element.children().empty()) {
      out_ += "/>";
      bindings_.resize(bindings_mark);
      return;
    }
    out_ += '>';
    open_elements_.push_back({&element, 0, bindings_mark, default_namespace, in_xml_namespace});
  }

  // A prefix bound to `namespace_uri` in scope, or a new one declared on the element being opened.
  // Generated prefixes are numbered across the whole output, so one never shadows another.
  const std::string& prefix_for(std::string_view namespace_uri) {
    for (std::size_t i = bindings_.size(); i > 0; --i) {
      if (bindings_[i - 1].namespace_uri == namespace_uri) return bindings_[i - 1].prefix;
    }
    PrefixBinding binding{namespace_uri, "ns" + std::to_string(++prefixes_generated_)};
    // The declaration goes before the attribute that needs it; attribute order carries no meaning.
    out_ += "xmlns:";
    out_ += binding.prefix;
    out_ += "='";
    append_escaped(out_, namespace_uri, EscapeContext::attribute_value);
    out_ += "' ";
    bindings_.push_back(std::move(binding));
    return bindings_.back().prefix;
  }

  std::string& out_;
  std::vector<OpenElement> open_elements_;
  std::vector<PrefixBinding> bindings_;
  std::size_t prefixes_generated_ = 0;
};

}  // namespace

const std::string* Element::attribute(std::string_view local_name,
                                      std::string_view namespace_uri) const {
  for (const Attribute& a : attributes_) {
    if (a.name.local_name == local_name && a.name.namespace_uri == namespace_uri) return &a.value;
  }
  return nullptr;
}

const Element* Element::first_child(std::string_view namespace_uri,
                                    std::string_view local_name) const {
  for (const Child& child : children_) {
    if (!child.is_element()) continue;
    const QualifiedName& n = child.element().name();
    if (n.local_name == local_name && n.namespace_uri == namespace_uri) return &child.element();
  }
  return nullptr;
}

std::string Element::text() const {
  std::string out;
  for (const Child& child : children_) {
    if (child.is_text()) out += child.text();
  }
  return out;
}

std::size_t Element::child_element_count() const {
  std::size_t count = 0;
  for (const Child& child : children_) count += child.is_element() ? 1 : 0;
  return count;
}

void Element::set_attribute(QualifiedName name, std::string value) {
  for (Attribute& a : attributes_) {
    if (a.name == name) {
      a.value = std::move(value);
      return;
    }
  }
  attributes_.push_back({std::move(name), std::move(value)});
}

void Element::set_attribute(std::string_view local_name, std::string_view value) {
  set_attribute(QualifiedName{{}, std::string(local_name)}, std::string(value));
}

Element& Element::append_child(Element child) {
  children_.push_back(Child{std::move(child)});
  return std::get<Element>(children_.back().value);
}

void Element::append_text(std::string_view text) {
  if (text.empty()) return;
  if (!children_.empty() && children_.back().is_text()) {
    std::get<std::string>(children_.back().value).append(text);
    return;
  }
  children_.push_back(Child{std::string(text)});
}

bool operator==(const Element& a, const Element& b) {
  return a.name_ == b.name_ && a.attributes_ == b.attributes_ && a.children_ == b.children_;
}

std::string serialize(const Element& element, const SerializeContext& context) {
  std::string out;
  Serializer(out).run(element, context.default_namespace);
  return out;
}

void append_escaped_text(std::string& out, std::string_view text) {
  append_escaped(out, text, EscapeContext::text);
}

void append_escaped_attribute_value(std::string& out, std::string_view value) {
  append_escaped(out, value, EscapeContext::attribute_value);
}

}  // namespace parley::xml
