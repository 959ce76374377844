#pragma once
// The behaviour every storage backend must show (storage.hpp), written once as value-parameterized
// tests and run on each backend: accounts (credentials round trip, the cascade of remove, names
// that cannot be stored), roster versions and bounds, the offline queue's order and bound, archive
// paging per XEP-0059 in both directions with filters, transactions, group commit, and what a
// second connection to the same database sees.
//
// A test binary includes this once and instantiates the suites with its backend:
//
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StorageBehaviour, ::testing::Values(sqlite_backend()),
//                            backend_label);
//   INSTANTIATE_TEST_SUITE_P(Sqlite, StorageArchiveBehaviour, ...);
//
// The SQLite instantiation is in sqlite_storage_test.cpp (unit tests); the PostgreSQL one in
// tests/integration/postgresql_storage_test.cpp, because it needs a server process. What only one
// backend does (files and modes, URLs, reconnecting, TLS) is tested beside that backend.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "store/storage.hpp"

namespace parley::store::behaviour {

using xmpp::sasl::ScramCredentials;
using xmpp::sasl::ScramHash;

// A backend under test.
struct StorageBackendUnderTest {
  std::string label;  // "sqlite", "postgresql": the suffix of the test names
  // Why the backend cannot run here (the tests skip with it), or nothing.
  std::function<std::optional<std::string>()> unavailable;
  // Makes a new, empty database and returns its URL (once per test).
  std::function<Result<std::string>()> fresh_database;
  // How error messages name the database at `url` ("<name>: <operation>: ...").
  std::function<std::string(const std::string& url)> name_of;
};

inline std::string backend_label(const ::testing::TestParamInfo<StorageBackendUnderTest>& info) {
  return info.param.label;
}

// How gtest (and so ctest's test list) shows the parameter: its label, not its bytes.
inline void PrintTo(const StorageBackendUnderTest& backend, std::ostream* out) {
  *out << backend.label;
}

inline constexpr std::int64_t kInt64MaxForTests = std::numeric_limits<std::int64_t>::max();

inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

inline std::unique_ptr<Storage> open_or_fail(const std::string& url, StorageLimits limits = {}) {
  auto storage = Storage::open(url, limits);
  if (!storage) {
    ADD_FAILURE() << storage_url_for_display(url) << ": " << storage.error().message;
    return nullptr;
  }
  return std::move(*storage);
}

// Credentials of the right shape; `seed` makes the keys differ between calls.
inline ScramCredentials credentials_for(ScramHash hash, char seed,
                                        std::uint32_t iterations = 4096) {
  const std::size_t size = hash == ScramHash::sha1 ? 20 : 32;
  return ScramCredentials{hash, std::string("salt-") + seed, iterations, std::string(size, seed),
                          std::string(size, static_cast<char>(seed + 1))};
}

inline void expect_same_credentials(const ScramCredentials& got, const ScramCredentials& want) {
  EXPECT_EQ(got.hash, want.hash);
  EXPECT_EQ(got.salt, want.salt);
  EXPECT_EQ(got.iterations, want.iterations);
  EXPECT_EQ(got.stored_key, want.stored_key);
  EXPECT_EQ(got.server_key, want.server_key);
}

// Each test gets a fresh database of the backend; open() connects to it (again, for a second
// connection).
class StorageBehaviour : public ::testing::TestWithParam<StorageBackendUnderTest> {
 protected:
  void SetUp() override {
    if (auto reason = GetParam().unavailable()) GTEST_SKIP() << *reason;
    auto url = GetParam().fresh_database();
    ASSERT_TRUE(url.has_value()) << url.error().message;
    url_ = *url;
  }

  std::unique_ptr<Storage> open(StorageLimits limits = {}) const {
    return open_or_fail(url_, limits);
  }
  std::string name() const { return GetParam().name_of(url_); }
  const std::string& url() const { return url_; }

 private:
  std::string url_;
};

// ---------------------------------------------------------------------------------------------
// Accounts

TEST_P(StorageBehaviour, AccountsCreateDuplicateListAndCredentialsRoundTrip) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  auto& accounts = storage->accounts();
  const auto sha1 = credentials_for(ScramHash::sha1, 'a');
  const auto sha256 = credentials_for(ScramHash::sha256, 'b', 10000);

  EXPECT_EQ(accounts.exists("alice"), false);
  ASSERT_TRUE(accounts.create("alice", sha1, sha256).has_value());
  EXPECT_EQ(accounts.exists("alice"), true);

  const auto duplicate = accounts.create("alice", sha1, sha256);
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(contains(duplicate.error().message, "account 'alice' already exists"))
      << duplicate.error().message;
  EXPECT_TRUE(duplicate.error().message.starts_with(name() + ": create account: "))
      << duplicate.error().message;

  ASSERT_TRUE(accounts.create("carol", sha1, sha256).has_value());
  ASSERT_TRUE(accounts.create("bob", sha1, sha256).has_value());
  EXPECT_EQ(accounts.list(), (std::vector<std::string>{"alice", "bob", "carol"}));

  auto got1 = accounts.credentials("alice", ScramHash::sha1);
  ASSERT_TRUE(got1.has_value() && got1->has_value());
  expect_same_credentials(**got1, sha1);
  auto got256 = accounts.credentials("alice", ScramHash::sha256);
  ASSERT_TRUE(got256.has_value() && got256->has_value());
  expect_same_credentials(**got256, sha256);
  EXPECT_EQ(accounts.credentials("nobody", ScramHash::sha256), std::nullopt);

  const auto new1 = credentials_for(ScramHash::sha1, 'x');
  const auto new256 = credentials_for(ScramHash::sha256, 'y', 20000);
  ASSERT_TRUE(accounts.set_credentials("alice", new1, new256).has_value());
  expect_same_credentials(**accounts.credentials("alice", ScramHash::sha1), new1);
  expect_same_credentials(**accounts.credentials("alice", ScramHash::sha256), new256);
  expect_same_credentials(**accounts.credentials("bob", ScramHash::sha256), sha256);

  const auto absent = accounts.set_credentials("nobody", new1, new256);
  ASSERT_FALSE(absent.has_value());
  EXPECT_EQ(absent.error().kind, ErrorKind::invalid_argument);
  EXPECT_TRUE(contains(absent.error().message, "no account 'nobody'")) << absent.error().message;
  EXPECT_EQ(accounts.exists("nobody"), false) << "set_credentials made no account";
}

TEST_P(StorageBehaviour, AccountsRefusesCredentialsOfTheWrongShape) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  const auto good1 = credentials_for(ScramHash::sha1, 'a');
  const auto good256 = credentials_for(ScramHash::sha256, 'b');
  struct Row {
    std::string_view label;
    std::string_view username;
    ScramCredentials sha1;
    ScramCredentials sha256;
    std::string_view message_part;
  };
  auto swapped_hash = good1;
  swapped_hash.hash = ScramHash::sha256;
  auto few_iterations = good256;
  few_iterations.iterations = 1;
  auto too_many_iterations = good256;
  too_many_iterations.iterations = xmpp::sasl::kMaximumIterations + 1;
  auto no_salt = good1;
  no_salt.salt.clear();
  auto short_key = good256;
  short_key.stored_key.resize(20);
  const std::vector<Row> rows = {
      {"empty username", "", good1, good256, "username is empty"},
      {"long username", std::string(1024, 'u'), good1, good256, "longer than 1023"},
      {"sha1 slot marked sha256", "u", swapped_hash, good256, "marked as another hash"},
      {"iterations below the minimum", "u", good1, few_iterations, "iteration count"},
      {"iterations above the maximum", "u", good1, too_many_iterations, "iteration count"},
      {"no salt", "u", no_salt, good256, "no salt"},
      {"short key", "u", good1, short_key, "not 32 octets"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto created = storage->accounts().create(row.username, row.sha1, row.sha256);
    ASSERT_FALSE(created.has_value());
    EXPECT_EQ(created.error().kind, ErrorKind::invalid_argument);
    EXPECT_TRUE(contains(created.error().message, row.message_part)) << created.error().message;
  }
  EXPECT_EQ(storage->accounts().list(), std::vector<std::string>{});
}

TEST_P(StorageBehaviour, AccountsRemoveTakesRosterOfflineAndArchiveAndNothingElse) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  const auto sha1 = credentials_for(ScramHash::sha1, 'a');
  const auto sha256 = credentials_for(ScramHash::sha256, 'b');
  for (const char* user : {"alice", "bob"}) {
    ASSERT_TRUE(storage->accounts().create(user, sha1, sha256).has_value());
    ASSERT_TRUE(storage->roster()
                    .upsert(user, RosterItem{.jid = "carol@example.test", .groups = {"Friends"}})
                    .has_value());
    ASSERT_EQ(storage->offline().push(user, "<message/>", 100), true);
    ASSERT_TRUE(storage->archive().append(user, "carol@example.test", "<message/>", 1).has_value());
  }
  const auto alice_version = *storage->roster().version("alice");

  EXPECT_EQ(storage->accounts().remove("alice"), true);
  EXPECT_EQ(storage->accounts().exists("alice"), false);
  EXPECT_EQ(storage->accounts().credentials("alice", ScramHash::sha256), std::nullopt);
  EXPECT_TRUE(storage->roster().items("alice")->empty());
  EXPECT_EQ(storage->roster().version("alice"), 0u);
  EXPECT_EQ(storage->offline().count("alice"), 0u);
  EXPECT_EQ(storage->archive().query("alice", {})->count, 0u);

  EXPECT_EQ(storage->accounts().exists("bob"), true);
  EXPECT_EQ(storage->roster().items("bob")->size(), 1u);
  EXPECT_EQ(storage->roster().items("bob")->front().groups, std::vector<std::string>{"Friends"});
  EXPECT_EQ(storage->offline().count("bob"), 1u);
  EXPECT_EQ(storage->archive().query("bob", {})->count, 1u);

  EXPECT_EQ(storage->accounts().remove("alice"), false) << "already gone";

  // Made again, the account starts empty and its roster versions continue above the old ones, so
  // a client's cached version of the old roster can not match.
  ASSERT_TRUE(storage->accounts().create("alice", sha1, sha256).has_value());
  EXPECT_TRUE(storage->roster().items("alice")->empty());
  const auto version = storage->roster().upsert("alice", RosterItem{.jid = "dave@example.test"});
  ASSERT_TRUE(version.has_value());
  EXPECT_GT(*version, alice_version);
}

TEST_P(StorageBehaviour, AccountsNamesThatCannotBeStoredAreAbsentOnReadAndRefusedOnWrite) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  for (const std::string& name : {std::string(), std::string(2000, 'n')}) {
    SCOPED_TRACE(name.size());
    EXPECT_EQ(storage->accounts().exists(name), false);
    EXPECT_EQ(storage->accounts().credentials(name, ScramHash::sha256), std::nullopt);
    EXPECT_EQ(storage->accounts().remove(name), false);
    EXPECT_EQ(storage->roster().items(name), std::vector<RosterItem>{});
    EXPECT_EQ(storage->roster().item(name, "bob@example.test"), std::nullopt);
    EXPECT_EQ(storage->roster().version(name), 0u);
    EXPECT_EQ(storage->roster().remove(name, "bob@example.test"), 0u);
    EXPECT_EQ(storage->offline().count(name), 0u);
    EXPECT_TRUE(storage->offline().peek(name)->empty());
    EXPECT_TRUE(storage->offline().remove_up_to(name, 10).has_value());
    EXPECT_EQ(storage->archive().query(name, {})->count, 0u);

    const std::vector<Error> refused = {
        storage->roster().upsert(name, RosterItem{.jid = "bob@example.test"}).error(),
        storage->offline().push(name, "<m/>", 1).error(),
        storage->archive().append(name, "bob@example.test", "<m/>", 1).error(),
    };
    for (const auto& error : refused) {
      EXPECT_EQ(error.kind, ErrorKind::invalid_argument);
      EXPECT_TRUE(contains(error.message, "owner is")) << error.message;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Roster

TEST_P(StorageBehaviour, RosterUpsertReadBackAndMonotonicVersions) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  auto& roster = storage->roster();
  EXPECT_EQ(roster.version("alice"), 0u);

  const RosterItem carol{.jid = "carol@example.test",
                         .name = "Carol",
                         .groups = {"Work", "Friends", "Ümlaut group"},
                         .subscription = Subscription::to,
                         .ask_subscribe = false,
                         .pending_in = true,
                         .pending_in_stanza = "<presence type='subscribe'/>"};
  const RosterItem bob{.jid = "bob@example.test", .subscription = Subscription::both};

  std::uint64_t last = 0;
  const auto expect_newer = [&](const Result<std::uint64_t>& version) {
    ASSERT_TRUE(version.has_value()) << version.error().message;
    EXPECT_GT(*version, last);
    last = *version;
    EXPECT_EQ(roster.version("alice"), last);
  };
  expect_newer(roster.upsert("alice", carol));
  expect_newer(roster.upsert("alice", bob));
  EXPECT_EQ(roster.item("alice", "carol@example.test"), carol) << "every field, groups in order";
  EXPECT_EQ(roster.item("alice", "nobody@example.test"), std::nullopt);
  EXPECT_EQ(roster.item("bob", "carol@example.test"), std::nullopt) << "rosters are per owner";
  EXPECT_EQ(roster.items("alice"), (std::vector<RosterItem>{bob, carol})) << "sorted by jid";

  RosterItem changed = carol;
  changed.groups = {"Friends"};
  changed.subscription = Subscription::both;
  changed.pending_in = false;
  changed.pending_in_stanza.clear();
  changed.ask_subscribe = true;
  expect_newer(roster.upsert("alice", changed));
  EXPECT_EQ(roster.item("alice", "carol@example.test"), changed);

  expect_newer(roster.remove("alice", "bob@example.test"));
  EXPECT_EQ(roster.items("alice"), std::vector<RosterItem>{changed});
  const auto unchanged = roster.remove("alice", "bob@example.test");
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_EQ(*unchanged, last) << "removing nothing changes nothing";

  // Another owner's changes never move alice's version backwards.
  ASSERT_TRUE(roster.upsert("bob", carol).has_value());
  expect_newer(roster.upsert("alice", bob));
}

TEST_P(StorageBehaviour, RosterBoundedPerOwnerAndRefusesBadGroups) {
  auto storage = open({.max_roster_items = 3});
  ASSERT_NE(storage, nullptr);
  auto& roster = storage->roster();
  for (const char* jid : {"a@example.test", "b@example.test", "c@example.test"}) {
    ASSERT_TRUE(roster.upsert("alice", RosterItem{.jid = jid}).has_value());
  }
  const auto version = *roster.version("alice");
  const auto over = roster.upsert("alice", RosterItem{.jid = "d@example.test"});
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().kind, ErrorKind::limit);
  EXPECT_TRUE(contains(over.error().message, "the limit is 3")) << over.error().message;
  EXPECT_EQ(roster.version("alice"), version) << "a refused change is no change";
  EXPECT_EQ(roster.items("alice")->size(), 3u);

  EXPECT_TRUE(roster.upsert("alice", RosterItem{.jid = "a@example.test", .name = "A"}).has_value())
      << "replacing an item at the limit is allowed";
  EXPECT_TRUE(roster.upsert("bob", RosterItem{.jid = "d@example.test"}).has_value())
      << "the limit is per owner";

  struct Row {
    std::string_view label;
    RosterItem item;
    std::string_view message_part;
  };
  const std::vector<Row> rows = {
      {"empty jid", RosterItem{}, "jid is empty"},
      {"empty group", RosterItem{.jid = "a@example.test", .groups = {"x", ""}}, "empty group"},
      {"duplicate group", RosterItem{.jid = "a@example.test", .groups = {"x", "y", "x"}},
       "group 'x' is given twice"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto refused = roster.upsert("alice", row.item);
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().kind, ErrorKind::invalid_argument);
    EXPECT_TRUE(contains(refused.error().message, row.message_part)) << refused.error().message;
  }
  EXPECT_EQ((*roster.item("alice", "a@example.test"))->name, "A");
}

// ---------------------------------------------------------------------------------------------
// Offline messages

TEST_P(StorageBehaviour, OfflineQueueOrderBoundAndRemoveUpTo) {
  auto storage = open({.max_offline_messages = 3});
  ASSERT_NE(storage, nullptr);
  auto& offline = storage->offline();
  EXPECT_EQ(offline.count("alice"), 0u);
  EXPECT_TRUE(offline.peek("alice")->empty());

  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(offline.push("alice", "<message id='" + std::to_string(i) + "'/>", 1000 + i), true);
  }
  EXPECT_EQ(offline.push("alice", "<message id='4'/>", 1004), false) << "queue full";
  EXPECT_EQ(offline.push("bob", "<message id='b'/>", 1005), true) << "the bound is per owner";
  EXPECT_EQ(offline.count("alice"), 3u);

  const auto queued = offline.peek("alice");
  ASSERT_TRUE(queued.has_value());
  ASSERT_EQ(queued->size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*queued)[i].stanza_xml, "<message id='" + std::to_string(i + 1) + "'/>");
    EXPECT_EQ((*queued)[i].stored_at_unix, static_cast<std::int64_t>(1001 + i));
    if (i > 0) {
      EXPECT_GT((*queued)[i].id, (*queued)[i - 1].id);
    }
  }

  ASSERT_TRUE(offline.remove_up_to("alice", (*queued)[1].id).has_value());
  EXPECT_EQ(offline.count("alice"), 1u);
  EXPECT_EQ(offline.peek("alice")->front().stanza_xml, "<message id='3'/>");
  EXPECT_EQ(offline.count("bob"), 1u) << "another owner's queue is untouched";

  EXPECT_EQ(offline.push("alice", "<message id='5'/>", 1006), true) << "room again";
  ASSERT_TRUE(offline.remove_up_to("alice", (*queued)[2].id).has_value());
  const auto rest = offline.peek("alice");
  ASSERT_EQ(rest->size(), 1u) << "a message that came after the peek stays";
  EXPECT_EQ(rest->front().stanza_xml, "<message id='5'/>");

  // Ids are never handed out again, even when the newest rows were removed.
  const auto newest = rest->front().id;
  ASSERT_TRUE(offline.remove_up_to("alice", newest).has_value());
  ASSERT_TRUE(offline.remove_up_to("bob", std::numeric_limits<std::int64_t>::max()).has_value());
  ASSERT_EQ(offline.push("alice", "<message id='6'/>", 1007), true);
  EXPECT_GT(offline.peek("alice")->front().id, newest);
}

// ---------------------------------------------------------------------------------------------
// Archive

class StorageArchiveBehaviour : public StorageBehaviour {
 protected:
  void SetUp() override {
    StorageBehaviour::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    storage_ = open();
    ASSERT_NE(storage_, nullptr);
    // Ten messages of alice, 1000 us apart, with bob and carol in turn; bob's own archive
    // interleaved so that row ids of one owner are not contiguous.
    for (int i = 0; i < 10; ++i) {
      const std::string with = i % 2 == 0 ? "bob@example.test" : "carol@example.test";
      auto id = storage_->archive().append(
          "alice", with, "<message n='" + std::to_string(i) + "'/>", (i + 1) * 1000);
      ASSERT_TRUE(id.has_value()) << id.error().message;
      ids_.push_back(*id);
      ASSERT_TRUE(storage_->archive().append("bob", "alice@example.test", "<x/>", i).has_value());
    }
  }

  // The indexes (into ids_) of a page's messages, in order.
  std::vector<int> positions(const ArchivePage& page) const {
    std::vector<int> out;
    for (const auto& message : page.messages) {
      out.push_back(
          static_cast<int>(std::find(ids_.begin(), ids_.end(), message.id) - ids_.begin()));
    }
    return out;
  }

  std::unique_ptr<Storage> storage_;
  std::vector<std::string> ids_;
};

TEST_P(StorageArchiveBehaviour, IdsAreUniqueAndSortInArrivalOrder) {
  EXPECT_TRUE(std::is_sorted(ids_.begin(), ids_.end()));
  EXPECT_EQ(std::adjacent_find(ids_.begin(), ids_.end()), ids_.end());
  const auto page = storage_->archive().query("alice", {.max = 1});
  ASSERT_TRUE(page.has_value());
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].id, ids_[0]);
  EXPECT_EQ(page->messages[0].with_jid, "bob@example.test");
  EXPECT_EQ(page->messages[0].stanza_xml, "<message n='0'/>");
  EXPECT_EQ(page->messages[0].timestamp_us, 1000);
}

TEST_P(StorageArchiveBehaviour, PagesPerXep0059) {
  struct Row {
    std::string_view label;
    ArchiveQuery query;
    std::vector<int> expected;  // positions in ids_
    bool complete;
    std::size_t count;
  };
  const auto id = [&](int position) { return ids_[static_cast<std::size_t>(position)]; };
  const std::vector<Row> rows = {
      {"first page", {.max = 3}, {0, 1, 2}, false, 10},
      {"next page", {.after_id = id(2), .max = 3}, {3, 4, 5}, false, 10},
      {"last forward page", {.after_id = id(5), .max = 4}, {6, 7, 8, 9}, true, 10},
      {"after the last", {.after_id = id(9), .max = 3}, {}, true, 10},
      {"everything fits", {}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, true, 10},
      {"last page (before empty)", {.before_id = "", .max = 3}, {7, 8, 9}, false, 10},
      {"previous page", {.before_id = id(7), .max = 3}, {4, 5, 6}, false, 10},
      {"first backward page", {.before_id = id(3), .max = 3}, {0, 1, 2}, true, 10},
      {"before the first", {.before_id = id(0), .max = 3}, {}, true, 10},
      {"with bob", {.with_jid = "bob@example.test", .max = 2}, {0, 2}, false, 5},
      {"with bob, next",
       {.with_jid = "bob@example.test", .after_id = id(2), .max = 2},
       {4, 6},
       false,
       5},
      {"with bob, last page",
       {.with_jid = "bob@example.test", .before_id = "", .max = 2},
       {6, 8},
       false,
       5},
      {"with bob, cursor from carol",
       {.with_jid = "bob@example.test", .after_id = id(5)},
       {6, 8},
       true,
       5},
      {"with nobody", {.with_jid = "nobody@example.test"}, {}, true, 0},
      {"start and end inclusive", {.start_us = 3000, .end_us = 6000}, {2, 3, 4, 5}, true, 4},
      {"start only, paged", {.start_us = 8000, .max = 2}, {7, 8}, false, 3},
      {"end only, last page", {.end_us = 4000, .before_id = "", .max = 2}, {2, 3}, false, 4},
      {"start after end", {.start_us = 5000, .end_us = 4000}, {}, true, 0},
      {"filters and cursor",
       {.with_jid = "carol@example.test", .start_us = 2000, .end_us = 8000, .after_id = id(3)},
       {5, 7},
       true,
       4},
      {"between two ids", {.after_id = id(2), .before_id = id(7)}, {3, 4, 5, 6}, true, 10},
      {"between two ids, paged",
       {.after_id = id(2), .before_id = id(7), .max = 2},
       {3, 4},
       false,
       10},
      {"max 0 is 1", {.max = 0}, {0}, false, 10},
      {"without count", {.before_id = "", .max = 3, .include_count = false}, {7, 8, 9}, false, 0},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    const auto page = storage_->archive().query("alice", row.query);
    ASSERT_TRUE(page.has_value()) << page.error().message;
    EXPECT_EQ(positions(*page), row.expected);
    EXPECT_EQ(page->complete, row.complete);
    EXPECT_EQ(page->count, row.count);
    if (row.expected.empty()) {
      EXPECT_EQ(page->first_id, std::nullopt);
      EXPECT_EQ(page->last_id, std::nullopt);
    } else {
      EXPECT_EQ(page->first_id, id(row.expected.front()));
      EXPECT_EQ(page->last_id, id(row.expected.back()));
    }
  }
}

TEST_P(StorageArchiveBehaviour, WalkingEitherWayVisitsEveryMessageOnce) {
  for (const std::size_t max : {1u, 3u, 4u, 10u}) {
    SCOPED_TRACE(max);
    std::vector<std::string> forward;
    ArchiveQuery query{.max = max};
    for (int guard = 0; guard < 20; ++guard) {
      const auto page = storage_->archive().query("alice", query);
      ASSERT_TRUE(page.has_value()) << page.error().message;
      for (const auto& message : page->messages) forward.push_back(message.id);
      if (page->complete) break;
      query.after_id = page->last_id;
    }
    EXPECT_EQ(forward, ids_);

    std::vector<std::string> backward;
    query = ArchiveQuery{.before_id = "", .max = max};
    for (int guard = 0; guard < 20; ++guard) {
      const auto page = storage_->archive().query("alice", query);
      ASSERT_TRUE(page.has_value()) << page.error().message;
      backward.insert(backward.begin(), page->messages.size(), std::string());
      std::transform(page->messages.begin(), page->messages.end(), backward.begin(),
                     [](const ArchivedMessage& message) { return message.id; });
      if (page->complete) break;
      query.before_id = page->first_id;
    }
    EXPECT_EQ(backward, ids_);
  }
}

TEST_P(StorageArchiveBehaviour, EqualTimestampsKeepArrivalOrderAcrossPages) {
  std::vector<std::string> same;
  for (int i = 0; i < 5; ++i) {
    same.push_back(*storage_->archive().append("dave", "erin@example.test", "<m/>", 42));
  }
  ASSERT_TRUE(storage_->archive().append("dave", "erin@example.test", "<m/>", 41).has_value());
  // The message stamped 41 arrived last but comes first: the archive order is by time.
  const auto first = storage_->archive().query("dave", {.max = 3});
  ASSERT_TRUE(first.has_value());
  ASSERT_EQ(first->messages.size(), 3u);
  EXPECT_EQ(first->messages[0].timestamp_us, 41);
  EXPECT_EQ(first->messages[1].id, same[0]);
  EXPECT_EQ(first->messages[2].id, same[1]);
  const auto second = storage_->archive().query("dave", {.after_id = same[1], .max = 3});
  ASSERT_TRUE(second.has_value());
  ASSERT_EQ(second->messages.size(), 3u);
  EXPECT_EQ(second->messages[0].id, same[2]);
  EXPECT_EQ(second->messages[2].id, same[4]);
  EXPECT_TRUE(second->complete);
  const auto back = storage_->archive().query("dave", {.before_id = same[3], .max = 2});
  ASSERT_TRUE(back.has_value());
  ASSERT_EQ(back->messages.size(), 2u);
  EXPECT_EQ(back->messages[0].id, same[1]);
  EXPECT_EQ(back->messages[1].id, same[2]);
}

TEST_P(StorageArchiveBehaviour, UnknownForeignOrMalformedCursorsAreRefused) {
  const std::string bobs = storage_->archive().query("bob", {.max = 1})->messages.at(0).id;
  for (const std::string& cursor :
       {bobs, std::string("0000000000zzz"), std::string("not-an-id"), std::string(5000, 'x')}) {
    for (const bool after : {true, false}) {
      SCOPED_TRACE(cursor.substr(0, 20) + (after ? " after" : " before"));
      ArchiveQuery query;
      (after ? query.after_id : query.before_id) = cursor;
      const auto page = storage_->archive().query("alice", query);
      ASSERT_FALSE(page.has_value());
      EXPECT_EQ(page.error().kind, ErrorKind::invalid_argument);
      EXPECT_TRUE(contains(page.error().message, "no archived message of 'alice'"))
          << page.error().message;
      EXPECT_LT(page.error().message.size(), 300u) << "a long cursor is not echoed whole";
    }
  }
}

TEST_P(StorageArchiveBehaviour, PageSizeIsClamped) {
  for (int i = 0; i < 600; ++i) {
    ASSERT_TRUE(storage_->archive().append("frank", "g@example.test", "<m/>", i).has_value());
  }
  const auto page = storage_->archive().query("frank", {.max = 100000});
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->messages.size(), kMaxArchivePage);
  EXPECT_FALSE(page->complete);
  EXPECT_EQ(page->count, 600u);
}

// ---------------------------------------------------------------------------------------------
// Transactions

TEST_P(StorageBehaviour, TransactionsCommitRollbackNestingAndExceptions) {
  auto storage = open();
  ASSERT_NE(storage, nullptr);
  auto& offline = storage->offline();
  const auto push = [&](const char* text) -> Result<void> {
    auto pushed = offline.push("alice", text, 1);
    if (!pushed) return fail(std::move(pushed.error()));
    return {};
  };
  const auto stanzas = [&] {
    std::vector<std::string> out;
    const auto queued = offline.peek("alice");
    EXPECT_TRUE(queued.has_value());
    for (const auto& message : queued.value_or(std::vector<OfflineMessage>{})) {
      out.push_back(message.stanza_xml);
    }
    return out;
  };

  ASSERT_TRUE(storage->in_transaction([&] { return push("committed"); }).has_value());

  const auto failed = storage->in_transaction([&]() -> Result<void> {
    if (auto done = push("rolled back"); !done) return done;
    return fail(Error::invalid_argument("the other side refused"));
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().message, "the other side refused") << "work's own error comes back";

  // A failed inner call is undone alone; the outer one commits the rest.
  const auto outer = storage->in_transaction([&]() -> Result<void> {
    if (auto done = push("outer before"); !done) return done;
    const auto inner = storage->in_transaction([&]() -> Result<void> {
      if (auto done = push("inner, undone"); !done) return done;
      return fail(Error::invalid_argument("inner fails"));
    });
    EXPECT_FALSE(inner.has_value());
    if (auto done = storage->in_transaction([&] { return push("inner, kept"); }); !done) {
      return done;
    }
    return push("outer after");
  });
  ASSERT_TRUE(outer.has_value()) << outer.error().message;

  EXPECT_THROW(storage->in_transaction([&]() -> Result<void> {
    (void)push("thrown away");
    throw std::runtime_error("misuse");
  }),
               std::runtime_error);

  EXPECT_EQ(stanzas(),
            (std::vector<std::string>{"committed", "outer before", "inner, kept", "outer after"}));
  // And the connection is usable after all of that.
  ASSERT_TRUE(storage->in_transaction([&] { return push("last"); }).has_value());
  EXPECT_EQ(stanzas().back(), "last");
}

TEST_P(StorageBehaviour, TransactionsNothingIsVisibleToAnotherConnectionBeforeTheOuterCommit) {
  auto writer = open();
  auto reader = open();
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  const auto done = writer->in_transaction([&]() -> Result<void> {
    auto version = writer->roster().upsert("alice", RosterItem{.jid = "bob@example.test"});
    if (!version) return fail(std::move(version.error()));
    // The upsert's own (nested) transaction has ended, yet nothing is committed.
    EXPECT_EQ(reader->roster().version("alice"), 0u);
    EXPECT_TRUE(reader->roster().items("alice")->empty());
    return {};
  });
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(reader->roster().items("alice")->size(), 1u);
}

// ---------------------------------------------------------------------------------------------
// Group commit and connections

TEST_P(StorageBehaviour, GroupCommitHoldsEveryWriteUntilItsOneCommit) {
  auto server = open({.max_roster_items = 1});
  auto admin = open();
  ASSERT_NE(server, nullptr);
  ASSERT_NE(admin, nullptr);
  EXPECT_FALSE(server->in_group());
  ASSERT_TRUE(server->begin_group().has_value());
  EXPECT_TRUE(server->in_group());
  const auto again = server->begin_group();
  ASSERT_FALSE(again.has_value()) << "groups do not nest";
  EXPECT_EQ(again.error().kind, ErrorKind::internal);

  ASSERT_EQ(server->offline().push("alice", "<m n='1'/>", 1), true);
  ASSERT_TRUE(server->roster().upsert("alice", RosterItem{.jid = "bob@example.test"}).has_value());
  // A refused write in the middle of the group (over the roster bound) is refused alone...
  const auto refused = server->roster().upsert("alice", RosterItem{.jid = "carol@example.test"});
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().kind, ErrorKind::limit);
  // ...and a failed transaction inside the group is undone alone.
  const auto failed = server->in_transaction([&]() -> Result<void> {
    if (auto pushed = server->offline().push("alice", "<m n='undone'/>", 2); !pushed) {
      return fail(std::move(pushed.error()));
    }
    return fail(Error::invalid_argument("changed my mind"));
  });
  ASSERT_FALSE(failed.has_value());
  ASSERT_TRUE(server->archive().append("alice", "bob@example.test", "<m/>", 3).has_value());
  ASSERT_EQ(server->offline().push("alice", "<m n='2'/>", 4), true);
  EXPECT_EQ(server->offline().count("alice"), 2u) << "the group sees its own writes";

  EXPECT_EQ(admin->offline().count("alice"), 0u) << "nothing is visible before the commit";
  EXPECT_TRUE(admin->roster().items("alice")->empty());
  EXPECT_EQ(admin->archive().query("alice", {})->count, 0u);

  ASSERT_TRUE(server->commit_group().has_value());
  EXPECT_FALSE(server->in_group());
  const auto queued = admin->offline().peek("alice");
  ASSERT_TRUE(queued.has_value());
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ(queued->at(0).stanza_xml, "<m n='1'/>");
  EXPECT_EQ(queued->at(1).stanza_xml, "<m n='2'/>");
  EXPECT_EQ(admin->roster().items("alice")->size(), 1u);
  EXPECT_EQ(admin->archive().query("alice", {})->count, 1u);

  const auto none = server->commit_group();
  ASSERT_FALSE(none.has_value()) << "no group is open";
  EXPECT_EQ(none.error().kind, ErrorKind::internal);
}

TEST_P(StorageBehaviour, DataSurvivesReopening) {
  {
    auto storage = open();
    ASSERT_NE(storage, nullptr);
    ASSERT_TRUE(storage->accounts()
                    .create("alice", credentials_for(ScramHash::sha1, 'a'),
                            credentials_for(ScramHash::sha256, 'b'))
                    .has_value());
    ASSERT_TRUE(storage->roster()
                    .upsert("alice", RosterItem{.jid = "bob@example.test", .groups = {"G"}})
                    .has_value());
    ASSERT_EQ(storage->offline().push("alice", "<message/>", 7), true);
    ASSERT_TRUE(storage->archive().append("alice", "bob@example.test", "<m/>", 9).has_value());
  }
  auto reopened = open();
  ASSERT_NE(reopened, nullptr);
  expect_same_credentials(**reopened->accounts().credentials("alice", ScramHash::sha1),
                          credentials_for(ScramHash::sha1, 'a'));
  EXPECT_EQ((*reopened->roster().item("alice", "bob@example.test"))->groups,
            std::vector<std::string>{"G"});
  EXPECT_EQ(reopened->offline().peek("alice")->at(0).stored_at_unix, 7);
  EXPECT_EQ(reopened->archive().query("alice", {})->messages.at(0).timestamp_us, 9);
}

TEST_P(StorageBehaviour, AnotherConnectionSeesCommittedWrites) {
  auto server = open();
  auto admin = open();  // "parleyd user add" while the server runs
  ASSERT_NE(server, nullptr);
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->accounts()
                  .create("alice", credentials_for(ScramHash::sha1, 'a'),
                          credentials_for(ScramHash::sha256, 'b'))
                  .has_value());
  EXPECT_EQ(server->accounts().exists("alice"), true);
}

}  // namespace parley::store::behaviour
