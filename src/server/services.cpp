#include "server/services.hpp"

#include "server/c2s_session.hpp"

namespace parley::server {

void ServerServices::commit_write_group() {
  if (!write_group_open_) return;
  write_group_open_ = false;
  // Taken out first: a session closed below may write again (its unacknowledged messages go to
  // the offline store), which opens a new group that others may join.
  std::vector<std::weak_ptr<C2sSession>> joined;
  joined.swap(write_group_sessions);
  if (auto committed = storage.commit_group(); committed) {
    for (const auto& listed : joined)
      if (auto session = listed.lock()) session->write_group_committed();
  } else {
    // Once per failure, with the store's own message; each closed session adds a line of its
    // own (at info level) naming the client.
    ++statistics.store_commit_failures;
    log->error(
        "store: the group commit failed, every write of that turn is lost; closing the {} "
        "sessions whose input wrote with internal-server-error: {}",
        joined.size(), committed.error().message);
    for (const auto& listed : joined) {
      auto session = listed.lock();
      if (session && session->write_group_failed()) ++statistics.sessions_closed_by_commit_failures;
    }
  }
  joined.clear();
  // Keeps the capacity for the next group (unless the failures above started a list already).
  if (write_group_sessions.empty()) write_group_sessions.swap(joined);
}

}  // namespace parley::server
