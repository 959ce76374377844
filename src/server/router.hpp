#pragma once
// Who is connected: the bound sessions of each local account, by bare JID, and the delivery rules
// of RFC 6121 8.5 for stanzas addressed to local accounts.
//
// Single-threaded: the server runs every session on one io_context thread, so the registry needs
// no locks and a delivery is a function call plus a buffer append on the receiving session (the
// bytes go out when that session's writer next runs).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xml/element.hpp"
#include "xml/stream_error.hpp"
#include "xmpp/jid.hpp"

namespace parley::server {

// A connected, bound client session as the IM logic sees it: its address, its presence state and
// a way to send it stanzas. The connection (c2s_session) derives from it.
class BoundSession {
 public:
  virtual ~BoundSession() = default;
  const xmpp::Jid& full_jid() const { return full_jid_; }
  // Sent initial presence and has not gone unavailable (RFC 6121 4.2: an "available resource").
  bool available() const { return presence_.has_value(); }
  int priority() const { return priority_; }
  // The last broadcast presence (from the client, 'from' stamped, no 'to'); null if unavailable.
  const xml::Element* last_presence() const { return presence_ ? &*presence_ : nullptr; }
  void set_presence(std::optional<xml::Element> presence, int priority) {
    presence_ = std::move(presence);
    priority_ = priority;
  }
  // Asked for the roster in this session (RFC 6121 2.1.6: an "interested resource").
  bool interested_in_roster() const { return interested_in_roster_; }
  void set_interested_in_roster() { interested_in_roster_ = true; }
  // Message carbons (XEP-0280).
  bool carbons_enabled() const { return carbons_; }
  void set_carbons(bool enabled) { carbons_ = enabled; }
  // Addresses this session sent directed presence to (RFC 6121 4.6.3), told when it goes
  // unavailable. Bounded by the caller.
  std::vector<std::string>& directed_presence_to() { return directed_presence_to_; }
  // All bound sessions of this session's account, this one included (the router's list, kept
  // up to date by it; empty while the session is not registered).
  const std::vector<BoundSession*>& account_sessions() const;
  // The address this session's last stanza was sent to, as written and as prepared: most
  // stanzas go where the one before went, and this spares preparing it again. Null when `text`
  // is not that address.
  const xmpp::Jid* last_address(std::string_view text) const {
    return last_address_ && last_address_->text == text ? &last_address_->jid : nullptr;
  }
  void set_last_address(std::string_view text, const xmpp::Jid& jid);

  // Queues a serialized stanza for this client.
  virtual void send_wire(std::string_view wire) = 0;
  // Ends the session with a stream error (a newer session took its resource, the account was
  // deleted, the server is shutting down).
  virtual void terminate(xml::StreamErrorCondition condition, std::string_view text) = 0;

 protected:
  xmpp::Jid full_jid_ = *xmpp::Jid::parse("unbound.invalid");

 private:
  std::optional<xml::Element> presence_;
  int priority_ = 0;
  bool interested_in_roster_ = false;
  bool carbons_ = false;
  std::vector<std::string> directed_presence_to_;
  friend class Router;
  const std::vector<BoundSession*>* account_sessions_ = nullptr;  // Router::add / remove
  struct LastAddress {
    std::string text;
    xmpp::Jid jid;
  };
  std::unique_ptr<LastAddress> last_address_;  // allocated by the first stanza with a 'to'
};

class Router {
 public:
  // Registers a newly bound session. When a session with the same full JID exists, it is
  // returned so that the caller can terminate it with <conflict/> (RFC 6120 7.7.2.2: the server
  // may disconnect the old session; Parley does, like ejabberd, so a reconnecting client gets its
  // resource back).
  BoundSession* add(BoundSession& session);
  void remove(BoundSession& session);

  // All bound sessions of an account (empty when none).
  const std::vector<BoundSession*>& sessions_of(std::string_view bare_jid) const;
  // The same for the account of `jid` (its resource ignored), without building its bare string.
  const std::vector<BoundSession*>& sessions_of(const xmpp::Jid& jid) const;
  BoundSession* find(const xmpp::Jid& full_jid) const;
  std::size_t session_count() const { return session_count_; }
  std::size_t account_count() const { return by_bare_.size(); }

  // Every session, for shutdown.
  void for_each(const std::function<void(BoundSession&)>& visit) const;

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Node-based: a list stays where it is while its account has sessions (account_sessions_).
  std::unordered_map<std::string, std::vector<BoundSession*>, Hash, std::equal_to<>> by_bare_;
  std::size_t session_count_ = 0;
  mutable std::string bare_scratch_;  // sessions_of(const Jid&): reused, so no allocation
};

}  // namespace parley::server
