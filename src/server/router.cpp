#include "server/router.hpp"

#include <algorithm>

namespace parley::server {

namespace {
const std::vector<BoundSession*> kNoSessions;
}  // namespace

const std::vector<BoundSession*>& BoundSession::account_sessions() const {
  return account_sessions_ != nullptr ? *account_sessions_ : kNoSessions;
}

void BoundSession::set_last_address(std::string_view text, const xmpp::Jid& jid) {
  if (last_address_) {
    last_address_->text.assign(text);
    last_address_->jid = jid;
  } else {
    last_address_ = std::make_unique<LastAddress>(LastAddress{std::string(text), jid});
  }
}

BoundSession* Router::add(BoundSession& session) {
  auto& list = by_bare_[session.full_jid().bare_string()];
  BoundSession* replaced = nullptr;
  for (BoundSession* existing : list)
    if (existing->full_jid() == session.full_jid()) replaced = existing;
  if (replaced != nullptr) remove(*replaced);  // may have erased `list`: look it up again
  auto& current = by_bare_[session.full_jid().bare_string()];
  current.push_back(&session);
  session.account_sessions_ = &current;
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
  session.account_sessions_ = nullptr;
  --session_count_;
  if (list.empty()) by_bare_.erase(it);
}

const std::vector<BoundSession*>& Router::sessions_of(std::string_view bare_jid) const {
  auto it = by_bare_.find(bare_jid);
  return it == by_bare_.end() ? kNoSessions : it->second;
}

const std::vector<BoundSession*>& Router::sessions_of(const xmpp::Jid& jid) const {
  bare_scratch_.clear();
  if (jid.has_localpart()) {
    bare_scratch_ += jid.localpart();
    bare_scratch_ += '@';
  }
  bare_scratch_ += jid.domainpart();
  return sessions_of(std::string_view(bare_scratch_));
}

BoundSession* Router::find(const xmpp::Jid& full_jid) const {
  for (BoundSession* session : sessions_of(full_jid))
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
