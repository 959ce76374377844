#pragma once
// The server's persistent data, one interface per kind: accounts (SCRAM credentials only, never a
// password), rosters (RFC 6121 items with their subscription state and a version per owner, for
// roster versioning, RFC 6121 2.6), offline messages (RFC 6121 8.5.2.2.1) and the message archive
// (XEP-0313, paged per XEP-0059). Storage::open picks the backend from a URL:
//
//   sqlite:///var/lib/parley/parley.db          the embedded default (sqlite_storage.hpp)
//   sqlite:///var/lib/parley/parley.db?synchronous=full
//   sqlite::memory:                              a private, empty database (tests)
//   postgresql://user:password@host:5432/db?sslmode=verify-full   (postgresql_storage.hpp)
//   postgres://...                               the same
//
// Names: an "owner" or "username" is the prepared localpart of the account (the caller runs
// precis::enforce_username_case_mapped first); every JID stored is a prepared bare JID. The store
// compares them as exact octet strings and prepares nothing itself. Writes refuse an empty name
// or one longer than RFC 7622 allows (invalid_argument); reads and removals take any name, and one
// that could never have been stored is simply absent (exists("") is false, not an error).
//
// Roster, offline and archive data belong to an owner name, not to an account row: a server with
// another authentication backend (LDAP later) keeps rosters for users that have no row here.
// AccountStore::remove deletes everything stored under the name.
//
// Every failure is an Error whose message names the database and the operation
// ("/var/lib/parley/parley.db: insert into offline_messages: disk I/O error"). Kinds: io for the
// database itself (I/O, locked past the busy timeout, corrupt, full disk), invalid_argument for
// what the caller asked (an account that exists or does not, an unknown archive id, malformed
// input), limit for a configured bound, parse for stored data that no longer makes sense.
//
// Thread-safety: none. A Storage and everything it hands out are used from one thread at a time
// (the server's I/O thread); another thread or process opens its own Storage on the same file.
//
// What this does not do: prepare or validate JIDs and stanzas (the XMPP layer did), expire
// archives or offline messages by age, encrypt data at rest, or keep several XMPP domains apart
// (accounts carry a domain column for that later; today every account is in the server's one
// domain).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::store {

// The storage URL as it may be shown in a log or on a terminal: a PostgreSQL URL becomes
// "postgresql://user@host:port/database" (no password, no parameters); a SQLite URL is shown as
// it is; anything else only by its scheme.
std::string storage_url_for_display(std::string_view url);

// RFC 6121 2.1.2.5.
enum class Subscription { none, to, from, both };
const char* to_string(Subscription subscription);  // "none", "to", "from", "both"
std::optional<Subscription> parse_subscription(std::string_view text);

struct RosterItem {
  std::string jid{};   // bare JID of the contact, prepared
  std::string name{};  // may be empty
  // Each non-empty and distinct (RFC 6121 2.3.3 has the server refuse duplicates); kept in the
  // order given.
  std::vector<std::string> groups{};
  Subscription subscription = Subscription::none;
  bool ask_subscribe = false;  // we sent subscribe, no answer yet (ask='subscribe')
  bool pending_in = false;     // contact asked to subscribe to us, we have not answered
  std::string
      pending_in_stanza{};  // the subscribe stanza to redeliver on next login (may be empty)

  bool operator==(const RosterItem&) const = default;
};

struct OfflineMessage {
  std::int64_t id = 0;  // increasing in arrival order, never reused
  std::string stanza_xml{};
  std::int64_t stored_at_unix = 0;
};

struct ArchivedMessage {
  std::string id{};        // stable archive id (opaque, URL-safe); sorts like the archive order
  std::string with_jid{};  // bare
  std::string stanza_xml{};
  std::int64_t timestamp_us = 0;
};

// XEP-0313 filters plus XEP-0059 paging. The archive order is by timestamp, then by arrival.
struct ArchiveQuery {
  std::optional<std::string> with_jid{};
  std::optional<std::int64_t> start_us{}, end_us{};  // inclusive bounds on timestamp_us
  // after_id: the page that follows this message. before_id: the page that precedes it; the empty
  // string means "the last page". With both, only messages strictly between them, taken from the
  // after_id side. An id unknown to this owner is ErrorKind::invalid_argument ("... no archived
  // message ...", XEP-0059's item-not-found).
  std::optional<std::string> after_id{}, before_id{};
  std::size_t max = 50;  // clamped to 1..kMaxArchivePage
  // Counting visits every matching message (a cost that grows with the archive); XEP-0059 makes
  // <count/> optional, so a server that does not send it can skip it. false: ArchivePage::count
  // is 0.
  bool include_count = true;
};
inline constexpr std::size_t kMaxArchivePage = 500;

struct ArchivePage {
  std::vector<ArchivedMessage> messages{};  // always in archive order, whatever the direction
  // No further message in the direction of paging (forward, or backward for before_id).
  bool complete = false;
  std::optional<std::string> first_id{}, last_id{};  // of messages; unset when it is empty
  std::size_t count = 0;  // total matching the filters (without paging); see include_count
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;
  // username: prepared localpart; the domain is implied (one domain per server for now).
  // Credentials: the hash each claims must be the slot's, iterations within the SCRAM bounds,
  // a non-empty salt and keys of the hash's length; otherwise invalid_argument.
  // Fails (invalid_argument, "account ... already exists") if present.
  virtual Result<void> create(std::string_view username, const xmpp::sasl::ScramCredentials& sha1,
                              const xmpp::sasl::ScramCredentials& sha256) = 0;
  // Fails (invalid_argument, "no account ...") if absent.
  virtual Result<void> set_credentials(std::string_view username,
                                       const xmpp::sasl::ScramCredentials& sha1,
                                       const xmpp::sasl::ScramCredentials& sha256) = 0;
  // Removes the account AND its roster, offline messages and archive, in one transaction; false
  // if there was no account (whatever was stored under the name is removed anyway).
  virtual Result<bool> remove(std::string_view username) = 0;
  virtual Result<std::optional<xmpp::sasl::ScramCredentials>> credentials(
      std::string_view username, xmpp::sasl::ScramHash hash) = 0;
  virtual Result<bool> exists(std::string_view username) = 0;
  virtual Result<std::vector<std::string>> list() = 0;  // sorted
};

class RosterStore {
 public:
  virtual ~RosterStore() = default;
  virtual Result<std::vector<RosterItem>> items(std::string_view owner) = 0;  // sorted by jid
  virtual Result<std::optional<RosterItem>> item(std::string_view owner, std::string_view jid) = 0;
  // Adds or replaces the item (all fields). Returns the new roster version. Adding beyond
  // StorageLimits::max_roster_items is ErrorKind::limit (replacing an item is always allowed).
  virtual Result<std::uint64_t> upsert(std::string_view owner, const RosterItem& item) = 0;
  // Returns the new version; when there was no such item nothing changes and the version stays.
  virtual Result<std::uint64_t> remove(std::string_view owner, std::string_view jid) = 0;
  // 0 for an owner who never had a roster. Versions increase with every change and are never
  // handed out twice in one database, not even after the account is removed and made again, so a
  // client's cached version can never match a different roster.
  virtual Result<std::uint64_t> version(std::string_view owner) = 0;
};

class OfflineStore {
 public:
  virtual ~OfflineStore() = default;
  // False (nothing stored) when the owner already has StorageLimits::max_offline_messages.
  virtual Result<bool> push(std::string_view owner, std::string_view stanza_xml,
                            std::int64_t now_unix) = 0;
  virtual Result<std::vector<OfflineMessage>> peek(std::string_view owner) = 0;  // oldest first
  // After successful delivery: removes the owner's messages with id <= last_id. Messages that
  // arrived after the peek have larger ids and stay.
  virtual Result<void> remove_up_to(std::string_view owner, std::int64_t last_id) = 0;
  virtual Result<std::size_t> count(std::string_view owner) = 0;
};

class ArchiveStore {
 public:
  virtual ~ArchiveStore() = default;
  // Returns the archive id.
  virtual Result<std::string> append(std::string_view owner, std::string_view with_jid,
                                     std::string_view stanza_xml, std::int64_t timestamp_us) = 0;
  virtual Result<ArchivePage> query(std::string_view owner, const ArchiveQuery& query) = 0;
};

struct StorageLimits {
  std::size_t max_roster_items = 1000;      // per owner
  std::size_t max_offline_messages = 1000;  // per owner
};

class Storage {
 public:
  virtual ~Storage() = default;

  // url: "sqlite:///absolute/path/parley.db" (optionally "?synchronous=full"; see
  // sqlite_storage.hpp), "sqlite::memory:" for tests. "sqlite://relative/path.db" is an error (a
  // relative path would move with the working directory); "postgresql://..." or "postgres://..."
  // for PostgreSQL (postgresql_storage.hpp). A new database file is created with mode 0600 (its
  // directory must exist) and gets the current schema, as does an empty PostgreSQL database; an
  // existing one of an older schema version is upgraded, one of a newer version refused.
  static Result<std::unique_ptr<Storage>> open(std::string_view url, StorageLimits limits = {});

  virtual AccountStore& accounts() = 0;
  virtual RosterStore& roster() = 0;
  virtual OfflineStore& offline() = 0;
  virtual ArchiveStore& archive() = 0;

  // Runs work as one transaction (e.g. a roster change on both sides): committed when it returns
  // success, rolled back when it returns an error or throws. A nested call joins the outer
  // transaction; its own writes are undone when it fails, and nothing is durable before the
  // outermost one commits. Returns work's error, or the commit's.
  virtual Result<void> in_transaction(const std::function<Result<void>()>& work) = 0;

  // Group commit: every write between begin_group() and commit_group() shares one transaction,
  // so one commit (the expensive part: ~40 us of CPU in WAL mode) serves many messages. The
  // server opens a group when a turn of its event loop first writes and commits it before any
  // reply of that turn is sent, so what a client sees acknowledged is already durable.
  // Nested in_transaction() calls inside a group are savepoints.
  virtual Result<void> begin_group() = 0;
  virtual Result<void> commit_group() = 0;
  virtual bool in_group() const = 0;
};

}  // namespace parley::store
