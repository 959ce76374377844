#pragma once
// A small DOM for one XMPP stanza (a top-level child of the stream) and its serializer.
//
// Names are kept resolved: an element or attribute is (namespace URI, local name); the prefix the
// peer happened to use is not kept, because a stanza is routed onward into another stream whose
// prefixes are not the peer's. The serializer therefore invents the prefixes it needs: elements
// always use the default namespace (xmlns='...' where it changes), namespaced attributes get
// generated prefixes (ns1, ns2, ...) declared where first needed, and the XML namespace keeps its
// reserved `xml` prefix (xml:lang).
//
// Deliberately not done: XPath-like queries, schema validation (RFC 6120 11.4 leaves that to the
// application), and mapping jabber:client <-> jabber:server for s2s routing (the xmpp layer does
// that by rewriting names before serializing).

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace parley::xml {

inline constexpr std::string_view kXmlNamespace = "http://www.w3.org/XML/1998/namespace";

struct QualifiedName {
  std::string namespace_uri;  // empty: the name is in no namespace
  std::string local_name;

  friend bool operator==(const QualifiedName&, const QualifiedName&) = default;
};

struct Attribute {
  QualifiedName name;
  std::string value;  // as the application sees it: entities resolved, whitespace normalized

  friend bool operator==(const Attribute&, const Attribute&) = default;
};

class Element {
 public:
  struct Child;

  // Defined below Child: the children vector needs Child complete (clang insists).
  Element();
  explicit Element(QualifiedName name);
  Element(std::string_view namespace_uri, std::string_view local_name);

  const QualifiedName& name() const { return name_; }
  const std::vector<Attribute>& attributes() const { return attributes_; }
  const std::vector<Child>& children() const { return children_; }

  // The value of the attribute with this expanded name, or nullptr. Attributes in no namespace
  // (to, from, id, type: everything XMPP core defines) pass an empty namespace.
  const std::string* attribute(std::string_view local_name,
                               std::string_view namespace_uri = {}) const;
  // The first child element with this expanded name, or nullptr.
  const Element* first_child(std::string_view namespace_uri, std::string_view local_name) const;
  // All direct character data, concatenated (what <body/> means by its text).
  std::string text() const;
  std::size_t child_element_count() const;

  // For rewriting a routed stanza (jabber:client <-> jabber:server, RFC 6120 4.8.3).
  void set_name(QualifiedName name) { name_ = std::move(name); }
  std::vector<Child>& mutable_children() { return children_; }
  // Replaces an attribute of the same expanded name, so that an element never holds two.
  void set_attribute(QualifiedName name, std::string value);
  void set_attribute(std::string_view local_name, std::string_view value);
  Element& append_child(Element child);
  // Merges with a directly preceding text child, so that the tree stays in the one shape the
  // parser produces (no two adjacent text nodes); empty text adds nothing.
  void append_text(std::string_view text);

  friend bool operator==(const Element& a, const Element& b);

 private:
  QualifiedName name_;
  std::vector<Attribute> attributes_;
  std::vector<Child> children_;
};

// One child of an element: a nested element or a run of character data. Mixed content keeps its
// order so that serializing reproduces the document (XHTML-IM bodies, for one, depend on it).
struct Element::Child {
  std::variant<Element, std::string> value;

  bool is_element() const { return std::holds_alternative<Element>(value); }
  bool is_text() const { return std::holds_alternative<std::string>(value); }
  const Element& element() const { return std::get<Element>(value); }
  const std::string& text() const { return std::get<std::string>(value); }

  friend bool operator==(const Child&, const Child&) = default;
};

inline Element::Element() = default;
inline Element::Element(QualifiedName name) : name_(std::move(name)) {}
inline Element::Element(std::string_view namespace_uri, std::string_view local_name)
    : name_{std::string(namespace_uri), std::string(local_name)} {}

// Where the serialized element will be placed: the default namespace in scope there. A stanza
// written into a c2s stream passes "jabber:client", so <message/> needs no xmlns of its own.
struct SerializeContext {
  std::string_view default_namespace;
};

// Well-formed, namespace-well-formed XML for `element`, reparsing to an equal Element. Text and
// attribute values are escaped (& < > " ' always; tab, CR and LF in attribute values and CR in
// text as character references, so parsing does not normalize them away). Characters XML 1.0
// cannot carry and invalid UTF-8 become U+FFFD: a tree built by code from outside data must not
// be able to break the stream it is written to. Names are the caller's to get right; a parsed tree
// always has valid ones.
std::string serialize(const Element& element, const SerializeContext& context = {});

// Escaping on its own, for code that writes XML by hand (stream headers, stream errors).
void append_escaped_text(std::string& out, std::string_view text);
void append_escaped_attribute_value(std::string& out, std::string_view value);

}  // namespace parley::xml
