#include "server/router.hpp"

#include <algorithm>

namespace parley::server {

BoundSession* Router::add(BoundSession& session) {
  auto& list = by_bare_[session.full_jid().bare_string()];
  BoundSession* replaced = nullptr;
  for (BoundSession* existing : list)
    if (existing->full_jid() == session.full_jid()) replaced = existing;
  if (replaced != nullptr) remove(*replaced);
  by_bare_[session.full_jid().bare_string()].push_back(&session);
  ++session_count_;
  return replaced;
}

void Router::remove(BoundSession& session) {
  auto it = by_bare_.find(session.full_jid().bare_string());
  if (it == by_bare_.end()) return;
  auto& list = it->second;
  auto found = std::find(list.begin(), list.end(), &session);
  if (found == list.end()) return;
  list.erase(found);
  --session_count_;
  if (list.empty()) by_bare_.erase(it);
}

const std::vector<BoundSession*>& Router::sessions_of(std::string_view bare_jid) const {
  static const std::vector<BoundSession*> none;
  auto it = by_bare_.find(bare_jid);
  return it == by_bare_.end() ? none : it->second;
}

BoundSession* Router::find(const xmpp::Jid& full_jid) const {
  for (BoundSession* session : sessions_of(full_jid.bare_string()))
    if (session->full_jid() == full_jid) return session;
  return nullptr;
}

void Router::for_each(const std::function<void(BoundSession&)>& visit) const {
  // Copy first: a visit may terminate a session, which removes it from the registry.
  std::vector<BoundSession*> all;
  all.reserve(session_count_);
  for (const auto& [bare, list] : by_bare_) all.insert(all.end(), list.begin(), list.end());
  for (BoundSession* session : all) visit(*session);
}

}  // namespace parley::server
