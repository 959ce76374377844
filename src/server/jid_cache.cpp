#include "server/jid_cache.hpp"

namespace parley::server {

Result<xmpp::Jid> JidCache::parse(std::string_view text) {
  if (auto found = parsed_.find(text); found != parsed_.end()) return found->second;
  auto jid = xmpp::Jid::parse(text);
  if (!jid || text.size() > kMaxCachedTextOctets) return jid;
  if (parsed_.size() >= kMaxEntries) parsed_.clear();
  parsed_.emplace(std::string(text), *jid);
  return jid;
}

}  // namespace parley::server
