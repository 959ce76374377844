#include "server/roster_handling.hpp"

#include <fmt/format.h>

#include <set>

#include "server/delivery.hpp"
#include "server/stanza.hpp"

namespace parley::server {
namespace {

using store::RosterItem;
using store::Subscription;

// RFC 6121 2.1.2.4 leaves the length to the server; 1023 matches a JID part.
constexpr std::size_t kMaxNameBytes = 1023;
constexpr std::size_t kMaxGroups = 64;

xml::Element item_element(const RosterItem& item, bool removed) {
  xml::Element element(kRosterNamespace, "item");
  element.set_attribute("jid", item.jid);
  if (!item.name.empty()) element.set_attribute("name", item.name);
  element.set_attribute("subscription", removed ? "remove" : store::to_string(item.subscription));
  if (item.ask_subscribe && !removed) element.set_attribute("ask", "subscribe");
  if (!removed)
    for (const auto& group : item.groups)
      element.append_child(xml::Element(kRosterNamespace, "group")).append_text(group);
  return element;
}

bool has_to(Subscription s) {
  return s == Subscription::to || s == Subscription::both;
}
bool has_from(Subscription s) {
  return s == Subscription::from || s == Subscription::both;
}
Subscription with(bool to, bool from) {
  if (to && from) return Subscription::both;
  if (to) return Subscription::to;
  if (from) return Subscription::from;
  return Subscription::none;
}

// An item that exists only because someone not on the roster asked to subscribe (the "None +
// Pending In" state, RFC 6121 Appendix A): not part of the roster the account sees.
bool is_request_only(const RosterItem& item) {
  return item.subscription == Subscription::none && !item.ask_subscribe && item.pending_in &&
         !item.pending_in_stanza.empty();
}

// The account part of a local bare JID ("alice" of "alice@example.test").
std::string owner_of(const xmpp::Jid& jid) {
  return jid.localpart();
}

bool is_local_account(ServerServices& services, const xmpp::Jid& jid) {
  if (jid.domainpart() != services.domain || !jid.has_localpart()) return false;
  auto exists = services.storage.accounts().exists(jid.localpart());
  return exists && *exists;
}

// A roster request without 'to' is addressed to the account (RFC 6120 10.3.3), so its error comes
// from the account's bare JID, like its result: clients match answers by id and sender.
void reply_error(BoundSession& session, const xml::Element& iq, ErrorType type,
                 std::string_view condition, std::string_view text = {}) {
  session.send_wire(
      to_wire(make_error_reply(iq, session.full_jid().bare_string(), type, condition, text)));
}

void send_roster(ServerServices& services, BoundSession& session, const xml::Element& iq,
                 const xml::Element& query) {
  const std::string owner = owner_of(session.full_jid());
  auto version = services.storage.roster().version(owner);
  if (!version) {
    services.log->error("roster of {}: {}", owner, version.error().message);
    return reply_error(session, iq, ErrorType::wait, "internal-server-error");
  }
  session.set_interested_in_roster();
  const std::string current = std::to_string(*version);
  xml::Element result = make_iq_result(iq, session.full_jid().bare_string());
  result.set_attribute("to", session.full_jid().to_string());
  // RFC 6121 2.6.3: the client's version is current: an empty result, pushes bring changes.
  if (const std::string* ver = query.attribute("ver"); ver != nullptr && *ver == current)
    return session.send_wire(to_wire(result));
  auto items = services.storage.roster().items(owner);
  if (!items) {
    services.log->error("roster of {}: {}", owner, items.error().message);
    return reply_error(session, iq, ErrorType::wait, "internal-server-error");
  }
  xml::Element& out = result.append_child(xml::Element(kRosterNamespace, "query"));
  out.set_attribute("ver", current);
  for (const auto& item : *items)
    if (!is_request_only(item)) out.append_child(item_element(item, false));
  session.send_wire(to_wire(result));
}

xml::Element subscription_stanza(std::string_view from, std::string_view to,
                                 std::string_view type) {
  xml::Element presence(kClientNamespace, "presence");
  presence.set_attribute("from", from);
  presence.set_attribute("to", to);
  presence.set_attribute("type", type);
  return presence;
}

// Sends a presence stanza of `type` from `from` (a bare JID) to every available resource of the
// local account `to`, or keeps it for the next login when none is available.
void deliver_subscription_stanza(ServerServices& services, const std::string& from,
                                 const xmpp::Jid& to, std::string_view type) {
  deliver_to_available_or_store(services, to, subscription_stanza(from, to.bare_string(), type));
}

// A subscription request goes to the contact's available resources only: while it is pending,
// the roster item brings it back at each initial presence (pending_requests_to), so a copy in
// the offline queue would only deliver it twice.
void deliver_request_to_available(ServerServices& services, const xmpp::Jid& from,
                                  const xmpp::Jid& contact) {
  const std::string wire =
      to_wire(subscription_stanza(from.bare_string(), contact.bare_string(), "subscribe"));
  for (BoundSession* session : services.router.sessions_of(contact.bare_string()))
    if (session->available()) session->send_wire(wire);
}

// The current presence of every available resource of `from` to every available resource of
// `to` (after a subscription is approved, RFC 6121 3.1.5), or unavailable when `unavailable`.
void send_current_presence(ServerServices& services, const xmpp::Jid& from, const xmpp::Jid& to,
                           bool unavailable) {
  for (BoundSession* source : services.router.sessions_of(from.bare_string())) {
    if (!source->available()) continue;
    xml::Element presence =
        unavailable ? xml::Element(kClientNamespace, "presence") : *source->last_presence();
    if (unavailable) presence.set_attribute("type", "unavailable");
    presence.set_attribute("from", source->full_jid().to_string());
    presence.set_attribute("to", to.bare_string());
    std::string wire = to_wire(presence);
    for (BoundSession* target : services.router.sessions_of(to.bare_string()))
      if (target->available()) target->send_wire(wire);
  }
}

Result<std::pair<RosterItem, bool>> item_or_new(ServerServices& services, const std::string& owner,
                                                const xmpp::Jid& contact) {
  auto existing = services.storage.roster().item(owner, contact.bare_string());
  if (!existing) return fail(existing.error());
  if (*existing) return std::pair{**existing, true};
  RosterItem item;
  item.jid = contact.bare_string();
  return std::pair{item, false};
}

Result<void> save_and_push(ServerServices& services, const xmpp::Jid& owner_jid,
                           const RosterItem& item) {
  auto version = services.storage.roster().upsert(owner_of(owner_jid), item);
  if (!version) return fail(version.error());
  push_roster_item(services, owner_jid.bare_string(), item, *version);
  return {};
}

void roster_set(ServerServices& services, BoundSession& session, const xml::Element& iq,
                const xml::Element& query) {
  // 2.3.3: exactly one item.
  std::vector<const xml::Element*> items;
  for (const auto& child : query.children())
    if (child.is_element() &&
        child.element().name() == xml::QualifiedName{std::string(kRosterNamespace), "item"})
      items.push_back(&child.element());
  if (items.size() != 1)
    return reply_error(session, iq, ErrorType::modify, "bad-request",
                       "a roster set carries exactly one item");
  const xml::Element& element = *items.front();
  const std::string* jid_text = element.attribute("jid");
  if (jid_text == nullptr)
    return reply_error(session, iq, ErrorType::modify, "bad-request", "item without jid");
  auto contact = xmpp::Jid::parse(*jid_text);
  if (!contact || contact->is_full())
    return reply_error(session, iq, ErrorType::modify, "jid-malformed");
  const std::string owner = owner_of(session.full_jid());
  const xmpp::Jid owner_jid = session.full_jid().bare();
  const std::string* subscription = element.attribute("subscription");

  if (subscription != nullptr && *subscription == "remove") {
    auto existing = services.storage.roster().item(owner, contact->bare_string());
    if (!existing) return reply_error(session, iq, ErrorType::wait, "internal-server-error");
    if (!*existing || is_request_only(**existing))
      return reply_error(session, iq, ErrorType::cancel, "item-not-found");
    // 2.5.2: cancel both directions before the item goes.
    const RosterItem old = **existing;
    if (has_to(old.subscription) || old.ask_subscribe)
      handle_subscription(services, session, "unsubscribe", *contact);
    // Removing also declines a request still pending (2.5.2).
    if (has_from(old.subscription) || old.pending_in)
      handle_subscription(services, session, "unsubscribed", *contact);
    auto version = services.storage.roster().remove(owner, contact->bare_string());
    if (!version) return reply_error(session, iq, ErrorType::wait, "internal-server-error");
    session.send_wire(to_wire(make_iq_result(iq, owner_jid.bare_string())));
    push_roster_item(services, owner_jid.bare_string(), old, *version, true);
    return;
  }
  // 2.1.2.5: any other 'subscription' in a set is ignored, like 'ask' (2.1.2.2): only the
  // server changes them, through presence subscriptions.
  const std::string* name = element.attribute("name");
  if (name != nullptr && name->size() > kMaxNameBytes)
    return reply_error(session, iq, ErrorType::modify, "not-acceptable", "name too long");
  std::vector<std::string> groups;
  std::set<std::string> seen;
  for (const auto& child : element.children()) {
    if (!child.is_element() || child.element().name().local_name != "group") continue;
    std::string group = child.element().text();
    // 2.3.3: empty or duplicate groups are refused.
    if (group.empty() || group.size() > kMaxNameBytes || !seen.insert(group).second)
      return reply_error(session, iq, ErrorType::modify, "not-acceptable",
                         "groups must be non-empty and distinct");
    groups.push_back(std::move(group));
  }
  if (groups.size() > kMaxGroups)
    return reply_error(session, iq, ErrorType::modify, "not-acceptable", "too many groups");

  auto current = item_or_new(services, owner, *contact);
  if (!current) return reply_error(session, iq, ErrorType::wait, "internal-server-error");
  RosterItem item = current->first;
  item.name = name != nullptr ? *name : std::string();
  item.groups = std::move(groups);
  // The account adds someone whose request is pending: an ordinary item from now on, still
  // pending in until answered.
  item.pending_in_stanza.clear();
  auto version = services.storage.roster().upsert(owner, item);
  if (!version) {
    if (version.error().kind == ErrorKind::limit)
      return reply_error(session, iq, ErrorType::wait, "resource-constraint", "the roster is full");
    services.log->error("roster set for {}: {}", owner, version.error().message);
    return reply_error(session, iq, ErrorType::wait, "internal-server-error");
  }
  session.send_wire(to_wire(make_iq_result(iq, owner_jid.bare_string())));
  push_roster_item(services, owner_jid.bare_string(), item, *version);
}

}  // namespace

void push_roster_item(ServerServices& services, std::string_view owner_bare, const RosterItem& item,
                      std::uint64_t version, bool removed) {
  if (is_request_only(item)) return;  // not in the roster the account sees
  xml::Element push(kClientNamespace, "iq");
  push.set_attribute("type", "set");
  push.set_attribute("id", "push-" + random_id(6));
  xml::Element& query = push.append_child(xml::Element(kRosterNamespace, "query"));
  query.set_attribute("ver", std::to_string(version));
  query.append_child(item_element(item, removed));
  for (BoundSession* session : services.router.sessions_of(owner_bare)) {
    if (!session->interested_in_roster()) continue;
    push.set_attribute("to", session->full_jid().to_string());
    session->send_wire(to_wire(push));
  }
}

void handle_roster_iq(ServerServices& services, BoundSession& session, const xml::Element& iq) {
  const xml::Element* query = iq.first_child(kRosterNamespace, "query");
  if (query == nullptr) return reply_error(session, iq, ErrorType::modify, "bad-request");
  // 2.1.5: only the account itself (no 'to', or its own bare JID) manages its roster.
  if (const std::string* to = iq.attribute("to")) {
    auto target = xmpp::Jid::parse(*to);
    if (!target || target->bare() != session.full_jid().bare())
      return reply_error(session, iq, ErrorType::auth, "forbidden");
  }
  std::string type = type_of(iq);
  if (type == "get") return send_roster(services, session, iq, *query);
  if (type == "set") return roster_set(services, session, iq, *query);
  reply_error(session, iq, ErrorType::modify, "bad-request");
}

void handle_subscription(ServerServices& services, BoundSession& session, std::string_view type,
                         const xmpp::Jid& contact_full) {
  const xmpp::Jid user = session.full_jid().bare();
  const xmpp::Jid contact = contact_full.bare();
  if (contact == user) return;  // subscribing to oneself is implicit (RFC 6121 4.2.2)
  const std::string owner = owner_of(user);
  const bool contact_is_local = is_local_account(services, contact);

  auto result = services.storage.in_transaction([&]() -> Result<void> {
    auto mine = item_or_new(services, owner, contact);
    if (!mine) return fail(mine.error());
    RosterItem user_item = mine->first;
    std::optional<RosterItem> contact_item;
    bool contact_item_existed = false;
    if (contact_is_local) {
      auto theirs = item_or_new(services, owner_of(contact), user);
      if (!theirs) return fail(theirs.error());
      contact_item = theirs->first;
      contact_item_existed = theirs->second;
    }

    if (type == "subscribe") {
      // 3.1.2: the user asks for the contact's presence.
      if (!has_to(user_item.subscription) && !user_item.ask_subscribe) {
        user_item.ask_subscribe = true;
        user_item.pending_in_stanza.clear();  // the user's own item now, whatever comes back
        if (auto r = save_and_push(services, user, user_item); !r) return r;
      }
      if (!contact_is_local) return {};
      if (has_from(contact_item->subscription)) {
        // Already approved (3.1.3): the contact's server answers for it.
        deliver_subscription_stanza(services, contact.to_string(), user, "subscribed");
        send_current_presence(services, contact, user, false);
        user_item.ask_subscribe = false;
        user_item.subscription = with(true, has_from(user_item.subscription));
        return save_and_push(services, user, user_item);
      }
      // 3.1.3: remembered until the contact answers. Not pushed: the contact's roster does not
      // change until it approves (a new item stays out of its roster until then).
      if (!contact_item->pending_in) {
        contact_item->pending_in = true;
        if (!contact_item_existed)
          contact_item->pending_in_stanza =
              to_wire(subscription_stanza(user.bare_string(), contact.bare_string(), "subscribe"));
        auto version = services.storage.roster().upsert(owner_of(contact), *contact_item);
        // A full roster cannot remember the request: it is delivered to whoever is online now.
        if (!version && version.error().kind != ErrorKind::limit) return fail(version.error());
      }
      deliver_request_to_available(services, user, contact);
      return {};
    }
    if (type == "subscribed") {
      // 3.1.5: the user approves the contact's request.
      if (has_from(user_item.subscription)) return {};
      user_item.subscription = with(has_to(user_item.subscription), true);
      user_item.pending_in = false;
      user_item.pending_in_stanza.clear();  // an approved request-only item joins the roster
      if (auto r = save_and_push(services, user, user_item); !r) return r;
      if (!contact_is_local) return {};
      if (contact_item->ask_subscribe || !has_to(contact_item->subscription)) {
        contact_item->ask_subscribe = false;
        contact_item->subscription = with(true, has_from(contact_item->subscription));
        if (auto r = save_and_push(services, contact, *contact_item); !r) return r;
      }
      deliver_subscription_stanza(services, user.to_string(), contact, "subscribed");
      send_current_presence(services, user, contact, false);
      return {};
    }
    if (type == "unsubscribe") {
      // 3.3: the user no longer wants the contact's presence.
      if (!has_to(user_item.subscription) && !user_item.ask_subscribe) return {};
      user_item.subscription = with(false, has_from(user_item.subscription));
      user_item.ask_subscribe = false;
      if (mine->second)
        if (auto r = save_and_push(services, user, user_item); !r) return r;
      if (!contact_is_local || !contact_item_existed) return {};
      if (is_request_only(*contact_item)) {
        // 3.3.3: the request is withdrawn; the contact never had this item in its roster.
        auto removed = services.storage.roster().remove(owner_of(contact), contact_item->jid);
        if (!removed) return fail(removed.error());
      } else {
        contact_item->subscription = with(has_to(contact_item->subscription), false);
        contact_item->pending_in = false;
        if (auto r = save_and_push(services, contact, *contact_item); !r) return r;
      }
      deliver_subscription_stanza(services, user.to_string(), contact, "unsubscribe");
      send_current_presence(services, contact, user, true);
      return {};
    }
    if (type == "unsubscribed") {
      // 3.2: the user denies or cancels the contact's subscription.
      const bool had_from = has_from(user_item.subscription) || user_item.pending_in;
      if (!had_from && !(contact_is_local && contact_item->ask_subscribe)) return {};
      const bool was_request_only = is_request_only(user_item);
      user_item.subscription = with(has_to(user_item.subscription), false);
      user_item.pending_in = false;
      if (was_request_only) {
        // 3.2.1: a denied request leaves nothing behind in a roster that never showed it.
        auto removed = services.storage.roster().remove(owner, user_item.jid);
        if (!removed) return fail(removed.error());
      } else if (mine->second) {
        if (auto r = save_and_push(services, user, user_item); !r) return r;
      }
      if (!contact_is_local) return {};
      if (contact_item_existed) {
        contact_item->subscription = with(false, has_from(contact_item->subscription));
        contact_item->ask_subscribe = false;
        if (auto r = save_and_push(services, contact, *contact_item); !r) return r;
      }
      deliver_subscription_stanza(services, user.to_string(), contact, "unsubscribed");
      send_current_presence(services, user, contact, true);
      return {};
    }
    return {};
  });
  if (!result)
    services.log->error("subscription {} from {} to {}: {}", type, user.to_string(),
                        contact.to_string(), result.error().message);
}

std::vector<xml::Element> pending_requests_to(const std::vector<RosterItem>& roster,
                                              std::string_view owner_bare) {
  std::vector<xml::Element> requests;
  for (const auto& item : roster) {
    if (!item.pending_in || has_from(item.subscription)) continue;
    requests.push_back(subscription_stanza(item.jid, owner_bare, "subscribe"));
  }
  return requests;
}

}  // namespace parley::server
