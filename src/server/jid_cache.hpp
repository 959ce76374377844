#pragma once
// Prepared JIDs by the text they were parsed from, for the addresses of routed stanzas.
//
// Preparing a JID (RFC 7622: PRECIS for the localpart, IDNA and the DNS name rules for the
// domainpart, xmpp/jid.hpp) costs more than routing a message to an online contact, and a
// stanza's 'to' is nearly always one of the few addresses its sender talks to. Parsing is a pure
// function of the text, so a cached Jid is exactly what parsing again would give.
//
// Bounds: texts longer than kMaxCachedTextOctets are parsed and not kept; at most kMaxEntries
// are kept, and when that many are held the cache starts over (someone who addresses many
// different JIDs only gets them parsed, as without a cache). Failures are not kept: their error
// text is built afresh. One per server, used from its single thread.
#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

class JidCache {
 public:
  static constexpr std::size_t kMaxEntries = 4096;
  static constexpr std::size_t kMaxCachedTextOctets = 256;

  // xmpp::Jid::parse(text), from the cache when the same text was parsed before.
  Result<xmpp::Jid> parse(std::string_view text);
  std::size_t size() const { return parsed_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, xmpp::Jid, Hash, std::equal_to<>> parsed_;
};

}  // namespace parley::server
