#include "xmpp/jid.hpp"

#include <algorithm>
#include <cstdio>

#include "pki/identity.hpp"
#include "xmpp/precis.hpp"

namespace parley::xmpp {
namespace {

// Enough of the offending text to recognise it, without control characters or unbounded length.
std::string quoted(std::string_view text) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x20 || byte == 0x7f || byte == '"' || byte == '\\') {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\x%02X", static_cast<unsigned>(byte));
      out += buffer;
    } else {
      out += static_cast<char>(byte);
    }
  }
  if (text.size() > kShown) out += "...";
  return out + "\"";
}

Result<std::string> too_long(std::string_view part, std::string_view text) {
  return fail(Error::invalid_argument(std::string(part) + " " + quoted(text) + " is longer than " +
                                      std::to_string(kMaxJidPartOctets) +
                                      " octets after preparation"));
}

bool all_digits(std::string_view label) {
  if (label.empty()) return false;
  for (const char c : label) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

Result<std::string> prepare_localpart(std::string_view localpart) {
  Result<std::string> prepared = precis::enforce_username_case_mapped(localpart);
  if (!prepared) {
    return fail(Error{prepared.error().kind,
                      "localpart " + quoted(localpart) + " " + prepared.error().message});
  }
  // RFC 7622 3.3.1: characters IdentifierClass allows that would confuse other address formats.
  for (const char c : *prepared) {
    if (std::string_view("\"&'/:<>@").find(c) != std::string_view::npos) {
      return fail(Error::invalid_argument("localpart " + quoted(localpart) + " contains '" +
                                          std::string(1, c) +
                                          "', which RFC 7622 3.3.1 forbids in localparts"));
    }
  }
  if (prepared->size() > kMaxJidPartOctets) return too_long("localpart", localpart);
  return prepared;
}

Result<std::string> prepare_domainpart(std::string_view domainpart) {
  // RFC 7622 3.2: a final dot goes before anything else is done.
  std::string_view body = domainpart;
  if (!body.empty() && body.back() == '.') body.remove_suffix(1);
  if (body.empty()) {
    return fail(Error::invalid_argument("domainpart " + quoted(domainpart) + " is empty"));
  }
  if (!body.empty() && body.back() == '.') {
    return fail(Error::invalid_argument("domainpart " + quoted(domainpart) +
                                        " has an empty label (two dots at its end)"));
  }
  if (body.size() > precis::kMaxInputOctets) {
    return fail(Error::limit("domainpart is longer than " +
                             std::to_string(precis::kMaxInputOctets) + " octets"));
  }
  // RFC 7622 3.2.1 / RFC 3986 IP-literal: IPv6 only inside brackets.
  if (body.front() == '[') {
    if (body.back() != ']' || !pki::parse_ipv6(body.substr(1, body.size() - 2))) {
      return fail(Error::invalid_argument("domainpart " + quoted(domainpart) +
                                          " is not an IPv6 address in brackets ('[::1]')"));
    }
    std::string out(body);
    for (char& c : out) {
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
  }
  if (pki::parse_ipv4(body)) return std::string(body);
  const std::size_t last_dot = body.rfind('.');
  const std::string_view last_label =
      last_dot == std::string_view::npos ? body : body.substr(last_dot + 1);
  if (all_digits(last_label)) {
    return fail(Error::invalid_argument("domainpart " + quoted(domainpart) +
                                        " ends in an all-numeric label but is not a strict IPv4 "
                                        "dotted quad"));
  }
  if (body.find(':') != std::string_view::npos) {
    return fail(Error::invalid_argument("domainpart " + quoted(domainpart) +
                                        " contains ':' (an IPv6 address needs brackets; a port "
                                        "does not belong in a JID)"));
  }
  // The certificate identity code's conversion and syntax rules: IDNA2008 to A-labels,
  // lowercase, LDH, at most 253 octets.
  const bool ascii = std::all_of(body.begin(), body.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x80; });
  if (ascii) {
    if (std::optional<std::string> problem =
            pki::dns_name_problem(body, pki::WildcardSyntax::forbidden)) {
      return fail(Error::invalid_argument("domainpart " + quoted(domainpart) + " " + *problem));
    }
  }
  Result<pki::ReferenceIdentity> name = pki::ReferenceIdentity::dns(body);
  if (!name) {
    return fail(Error::invalid_argument("domainpart " + quoted(domainpart) +
                                        " is not a valid domain name (" + name.error().message +
                                        ")"));
  }
  if (name->value.size() > kMaxJidPartOctets) return too_long("domainpart", domainpart);
  return std::move(name->value);
}

Result<std::string> prepare_resourcepart(std::string_view resourcepart) {
  Result<std::string> prepared = precis::enforce_opaque_string(resourcepart);
  if (!prepared) {
    return fail(Error{prepared.error().kind,
                      "resourcepart " + quoted(resourcepart) + " " + prepared.error().message});
  }
  if (prepared->size() > kMaxJidPartOctets) return too_long("resourcepart", resourcepart);
  return prepared;
}

Result<Jid> Jid::parse(std::string_view text) {
  if (text.empty()) return fail(Error::invalid_argument("JID is empty"));
  if (text.size() > kMaxJidInputOctets) {
    return fail(
        Error::limit("JID is longer than " + std::to_string(kMaxJidInputOctets) + " octets"));
  }
  // RFC 7622 3.1: the resourcepart is everything after the first '/', whatever it holds ('@'
  // and '/' included); the localpart is what precedes the first '@' before that.
  std::string_view rest = text;
  std::string_view resource;
  bool has_resource = false;
  if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
    resource = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    has_resource = true;
  }
  std::string_view local;
  bool has_local = false;
  if (const std::size_t at = rest.find('@'); at != std::string_view::npos) {
    local = rest.substr(0, at);
    rest = rest.substr(at + 1);
    has_local = true;
  }
  if (has_local && local.empty()) {
    return fail(Error::invalid_argument("JID " + quoted(text) + " has an empty localpart"));
  }
  if (has_resource && resource.empty()) {
    return fail(Error::invalid_argument("JID " + quoted(text) + " has an empty resourcepart"));
  }
  if (rest.empty()) {
    return fail(Error::invalid_argument("JID " + quoted(text) + " has an empty domainpart"));
  }
  return from_parts(local, rest, resource);
}

Result<Jid> Jid::from_parts(std::string_view localpart, std::string_view domainpart,
                            std::string_view resourcepart) {
  Jid jid;
  if (!localpart.empty()) {
    Result<std::string> prepared = prepare_localpart(localpart);
    if (!prepared) return fail(prepared.error());
    jid.localpart_ = std::move(*prepared);
  }
  Result<std::string> domain = prepare_domainpart(domainpart);
  if (!domain) return fail(domain.error());
  jid.domainpart_ = std::move(*domain);
  if (!resourcepart.empty()) {
    Result<std::string> prepared = prepare_resourcepart(resourcepart);
    if (!prepared) return fail(prepared.error());
    jid.resourcepart_ = std::move(*prepared);
  }
  return jid;
}

Jid Jid::bare() const {
  Jid out = *this;
  out.resourcepart_.clear();
  return out;
}

std::string Jid::to_string() const {
  std::string out;
  out.reserve(localpart_.size() + domainpart_.size() + resourcepart_.size() + 2);
  if (!localpart_.empty()) out += localpart_ + "@";
  out += domainpart_;
  if (!resourcepart_.empty()) out += "/" + resourcepart_;
  return out;
}

std::string Jid::bare_string() const {
  return bare().to_string();
}

}  // namespace parley::xmpp
