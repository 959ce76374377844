#pragma once
// XMPP addresses (RFC 7622): [ localpart "@" ] domainpart [ "/" resourcepart ].
//
// A Jid holds its three parts already prepared (RFC 7622 3.2-3.4 enforcement), so that comparing
// two Jids is comparing octets, and the only way to make one is through parse() or from_parts(),
// which prepare and check. Preparation per part:
//  - localpart: PRECIS UsernameCaseMapped (RFC 8265 3.3, precis.hpp), then none of
//    " & ' / : < > @ (RFC 7622 3.3.1); 1..1023 octets.
//  - domainpart: one trailing dot removed first (RFC 7622 3.2); then an IPv6 literal in brackets
//    ("[::1]", RFC 3986 IP-literal, kept lowercase in the brackets), a strict IPv4 dotted quad,
//    or a DNS name: U-labels converted to lowercase A-labels with IDNA2008 / UTS 46 (libidn2, via
//    pki::ReferenceIdentity, the same conversion the certificate identity check uses, so the
//    domain in a JID and the one looked for in a certificate can never disagree), LDH labels,
//    at most 253 octets. A name whose last label is all digits must be a strict IPv4 address.
//  - resourcepart: PRECIS OpaqueString (RFC 8265 4.2); 1..1023 octets.
// An empty part after its separator ("@example.com", "example.com/") is an error, never "absent".
//
// Deliberately not done:
//  - Non-ASCII localparts and resourceparts without ICU are refused (precis.hpp says why).
//  - IPv6 literals are not rewritten to RFC 5952 form: "[0::1]" and "[::1]" are two Jids. Servers
//    answer for names, not literals, in practice.
//  - Underscores and other non-LDH domain names are refused, though RFC 7622 leaves them to DNS.
//  - The localpart escaping of XEP-0106 ("\20") is not decoded: "\" is an ordinary character.

#include <compare>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace parley::xmpp {

// RFC 7622 3.1: each part at most 1023 octets after preparation.
inline constexpr std::size_t kMaxJidPartOctets = 1023;
// Input longer than this is refused before any preparation work.
inline constexpr std::size_t kMaxJidInputOctets = 3 * kMaxJidPartOctets + 2;

class Jid {
 public:
  // Error::invalid_argument (or Error::limit for oversize input) whose message names the part and
  // the problem: "localpart \"foo bar\" contains a space ...".
  static Result<Jid> parse(std::string_view text);
  // Parts as separate strings; an empty localpart or resourcepart means "none".
  static Result<Jid> from_parts(std::string_view localpart, std::string_view domainpart,
                                std::string_view resourcepart);

  const std::string& localpart() const { return localpart_; }  // empty: none
  const std::string& domainpart() const { return domainpart_; }
  const std::string& resourcepart() const { return resourcepart_; }  // empty: none

  bool has_localpart() const { return !localpart_.empty(); }
  bool is_full() const { return !resourcepart_.empty(); }  // has a resourcepart
  bool is_bare() const { return resourcepart_.empty(); }
  Jid bare() const;                 // the same without its resourcepart
  std::string to_string() const;    // the full form, as prepared
  std::string bare_string() const;  // bare().to_string()

  friend bool operator==(const Jid&, const Jid&) = default;
  friend std::strong_ordering operator<=>(const Jid&, const Jid&) = default;

 private:
  Jid() = default;
  std::string localpart_;
  std::string domainpart_;
  std::string resourcepart_;
};

// The part preparations on their own, for code that holds one part (a user name in the store,
// a resource asked for in <bind/>). Errors are prefixed with the part's name.
Result<std::string> prepare_localpart(std::string_view localpart);
Result<std::string> prepare_domainpart(std::string_view domainpart);
Result<std::string> prepare_resourcepart(std::string_view resourcepart);

}  // namespace parley::xmpp
