// Tables for client/certificate_store: service identities, the binding of an accepted certificate
// to exactly one service identity, the file format and its strict parser, corrupt files left
// byte-identical, atomic writes that leave no temporary files, permission bits and limits. Every
// store lives in its own mkdtemp directory; times come from the certificates.

#include "client/certificate_store.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/test_support.hpp"

namespace parley::client {
namespace {

using test_support::directory_entries;
using test_support::file_bytes;
using test_support::fixture_certificate;
using test_support::mode_of;
using test_support::TempDir;

constexpr pki::UnixTime kDay = 24 * 60 * 60;

ServiceIdentity service(pki::ServiceKind kind, std::string_view host,
                        std::optional<std::uint16_t> port = std::nullopt) {
  auto made = ServiceIdentity::make(kind, host, port);
  EXPECT_TRUE(made.has_value()) << host << ": " << (made ? "" : made.error().message);
  return made ? *made : ServiceIdentity{};
}

void write_bytes(const std::filesystem::path& path, std::string_view bytes, mode_t mode = 0600) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

// ---- ServiceIdentity
// ------------------------------------------------------------------------------

struct ServiceRow {
  std::string_view host;
  std::optional<std::uint16_t> port;
  std::optional<std::string_view> canonical_host;  // nullopt: refused
};

TEST(StoreServiceIdentity, MakeCanonicalisesOrRefuses) {
  const std::vector<ServiceRow> rows = {
      {"example.test", 5222, "example.test"},
      {"Example.TEST.", 5222, "example.test"},  // case and one trailing dot are not identity
      {"xmpp.example.test", std::nullopt, "xmpp.example.test"},
      {"192.0.2.1", 5222, "192.0.2.1"},
      {"::1", std::nullopt, "::1"},
      {"0:0:0::1", std::nullopt, "::1"},  // one address, one spelling
      {"2001:DB8::A", 443, "2001:db8::a"},
      {"", 5222, std::nullopt},
      {"*.example.test", 5222, std::nullopt},  // a binding names one host
      {"example.test:5222", std::nullopt, std::nullopt},
      {"[::1]", std::nullopt, std::nullopt},
      {"../etc", std::nullopt, std::nullopt},
      {"example.test/x", std::nullopt, std::nullopt},
      {"example.test\tfoo", std::nullopt, std::nullopt},  // would break the file's fields
      {"example.test\nfoo", std::nullopt, std::nullopt},
      {"example.test", 0, std::nullopt},
  };
  for (const auto& row : rows) {
    auto made = ServiceIdentity::make(pki::ServiceKind::xmpp_client, row.host, row.port);
    if (!row.canonical_host) {
      EXPECT_FALSE(made.has_value()) << row.host;
      continue;
    }
    ASSERT_TRUE(made.has_value()) << row.host << ": " << made.error().message;
    EXPECT_EQ(made->host, *row.canonical_host) << row.host;
    EXPECT_EQ(made->port, row.port) << row.host;
  }
}

TEST(StoreServiceIdentity, DisplayString) {
  EXPECT_EQ(service(pki::ServiceKind::xmpp_client, "example.test", 5222).to_display_string(),
            "xmpp-client example.test:5222");
  EXPECT_EQ(service(pki::ServiceKind::https, "example.test").to_display_string(),
            "https example.test");
  EXPECT_EQ(service(pki::ServiceKind::xmpp_server, "::1", 5269).to_display_string(),
            "xmpp-server [::1]:5269");
}

// ---- accept, lookup, remove ---------------------------------------------------------------------

class StoreFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    self_signed_ = fixture_certificate("selfsigned/example.test.crt");
    regenerated_ = fixture_certificate("selfsigned/example.test-regenerated.crt");
    ca_signed_ = fixture_certificate("chains/p256/leaf.crt");
    ASSERT_TRUE(self_signed_ && regenerated_ && ca_signed_);
    when_ = self_signed_->not_before() + kDay;
  }
  std::filesystem::path directory() const { return temp_.path() / "parley" / "alice@example.test"; }
  std::filesystem::path file() const { return directory() / CertificateStore::kFileName; }

  TempDir temp_;
  pki::CertificatePtr self_signed_, regenerated_, ca_signed_;
  pki::UnixTime when_ = 0;
  const ServiceIdentity xmpp_ = service(pki::ServiceKind::xmpp_client, "example.test", 5222);
};

TEST_F(StoreFiles, MissingStoreIsEmptyAndReadingCreatesNothing) {
  CertificateStore store(directory());
  auto listed = store.list();
  ASSERT_TRUE(listed.has_value()) << listed.error().message;
  EXPECT_TRUE(listed->empty());
  auto removed = store.remove(xmpp_);
  ASSERT_TRUE(removed.has_value()) << removed.error().message;
  EXPECT_EQ(*removed, 0u);
  EXPECT_FALSE(std::filesystem::exists(temp_.path() / "parley"));
}

struct BindingRow {
  const char* name;
  pki::ServiceKind kind;
  std::string_view host;
  std::optional<std::uint16_t> port;
  bool found;
};

TEST_F(StoreFiles, AcceptedCertificateIsBoundToExactlyItsServiceIdentity) {
  CertificateStore store(directory());
  auto accepted = store.accept(xmpp_, self_signed_, when_, OnAccept::replace_others_for_service);
  ASSERT_TRUE(accepted.has_value()) << accepted.error().message;
  EXPECT_EQ(*accepted, AcceptOutcome::added);

  const std::vector<BindingRow> rows = {
      {"same service", pki::ServiceKind::xmpp_client, "example.test", 5222, true},
      {"same, spelled differently", pki::ServiceKind::xmpp_client, "EXAMPLE.test.", 5222, true},
      {"other host", pki::ServiceKind::xmpp_client, "xmpp.example.test", 5222, false},
      {"other service", pki::ServiceKind::https, "example.test", 5222, false},
      {"server-to-server", pki::ServiceKind::xmpp_server, "example.test", 5222, false},
      {"other port", pki::ServiceKind::xmpp_client, "example.test", 5223, false},
      {"any port", pki::ServiceKind::xmpp_client, "example.test", std::nullopt, false},
      {"by address", pki::ServiceKind::xmpp_client, "192.0.2.1", 5222, false},
  };
  // A fresh store object reads the file: the binding persisted, it is not in memory only.
  CertificateStore reopened(directory());
  for (const auto& row : rows) {
    auto found = reopened.lookup(service(row.kind, row.host, row.port));
    ASSERT_TRUE(found.has_value()) << row.name << ": " << found.error().message;
    ASSERT_EQ(found->size(), row.found ? 1u : 0u) << row.name;
    if (row.found) {
      EXPECT_EQ(found->front().fingerprint, fingerprint_text(*self_signed_));
      EXPECT_EQ(found->front().certificate->der(), self_signed_->der());
      EXPECT_EQ(found->front().accepted_at, when_);
      EXPECT_EQ(found->front().service, xmpp_);
    }
  }
}

TEST_F(StoreFiles, AcceptingAgainChangesNothing) {
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::replace_others_for_service));
  const std::string before = file_bytes(file());
  auto again =
      store.accept(xmpp_, self_signed_, when_ + kDay, OnAccept::replace_others_for_service);
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, AcceptOutcome::already_present);
  EXPECT_EQ(file_bytes(file()), before);  // the first acceptance time stays
}

TEST_F(StoreFiles, ReplaceOthersOrKeepThem) {
  CertificateStore store(directory());
  const ServiceIdentity https = service(pki::ServiceKind::https, "example.test");
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::replace_others_for_service));
  ASSERT_TRUE(store.accept(https, self_signed_, when_, OnAccept::replace_others_for_service));

  ASSERT_TRUE(store.accept(xmpp_, regenerated_, when_, OnAccept::keep_others));
  EXPECT_EQ(store.lookup(xmpp_)->size(), 2u);

  ASSERT_TRUE(store.accept(xmpp_, ca_signed_, when_, OnAccept::replace_others_for_service));
  auto now = store.lookup(xmpp_);
  ASSERT_TRUE(now.has_value());
  ASSERT_EQ(now->size(), 1u);
  EXPECT_EQ(now->front().fingerprint, fingerprint_text(*ca_signed_));
  EXPECT_EQ(store.lookup(https)->size(), 1u) << "another service's binding is not touched";
}

TEST_F(StoreFiles, RemoveByServiceAndByFingerprint) {
  CertificateStore store(directory());
  const ServiceIdentity https = service(pki::ServiceKind::https, "example.test");
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  ASSERT_TRUE(store.accept(https, self_signed_, when_, OnAccept::keep_others));
  ASSERT_TRUE(store.accept(https, ca_signed_, when_, OnAccept::keep_others));

  EXPECT_EQ(*store.remove(service(pki::ServiceKind::xmpp_server, "example.test")), 0u);
  EXPECT_EQ(*store.remove(xmpp_), 1u);
  EXPECT_EQ(store.list()->size(), 2u);

  // Plain lowercase hex works as well as the colon form; the certificate goes for every service.
  std::string plain;
  for (const char c : fingerprint_text(*self_signed_)) {
    if (c != ':') plain.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  EXPECT_EQ(*store.remove_fingerprint(plain), 1u);
  EXPECT_EQ(*store.remove_fingerprint(fingerprint_text(*self_signed_)), 0u);
  auto rest = store.list();
  ASSERT_TRUE(rest.has_value());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ(rest->front().fingerprint, fingerprint_text(*ca_signed_));
  EXPECT_FALSE(store.remove_fingerprint("not-a-fingerprint").has_value());
}

TEST_F(StoreFiles, FileFormatIsTheDocumentedOne) {
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  ASSERT_TRUE(store.accept(service(pki::ServiceKind::https, "192.0.2.1"), ca_signed_, when_,
                           OnAccept::keep_others));
  const std::string text = file_bytes(file());
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "parley-accepted-certificates\t1");
  const std::string when_text = format_utc_time(when_);
  EXPECT_EQ(
      lines[1].substr(0, lines[1].rfind('\t')),
      "xmpp-client\texample.test\t5222\t" + when_text + "\t" + fingerprint_text(*self_signed_));
  EXPECT_EQ(lines[2].substr(0, lines[2].rfind('\t')),
            "https\t192.0.2.1\t-\t" + when_text + "\t" + fingerprint_text(*ca_signed_));
  EXPECT_EQ(fingerprint_text(*self_signed_).size(), 32u * 3 - 1);
  EXPECT_TRUE(text.ends_with('\n'));
}

// ---- atomic writes and permissions --------------------------------------------------------------

TEST_F(StoreFiles, WritesLeaveOnlyTheStoreFileWithPrivateModes) {
  const mode_t old_umask = ::umask(0);  // the store must not depend on a careful umask
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  ASSERT_TRUE(store.accept(service(pki::ServiceKind::https, "example.test"), ca_signed_, when_,
                           OnAccept::keep_others));
  ASSERT_TRUE(store.remove(xmpp_));
  ::umask(old_umask);

  EXPECT_EQ(directory_entries(directory()), std::vector<std::string>{"accepted-certificates"});
  EXPECT_EQ(mode_of(file()), 0600u);
  EXPECT_EQ(mode_of(directory()), 0700u);
  EXPECT_EQ(mode_of(temp_.path() / "parley"), 0700u);
}

TEST_F(StoreFiles, LoosePermissionsOnTheStoreDirectoryAreTightenedOnWrite) {
  std::filesystem::create_directories(directory());
  ASSERT_EQ(::chmod(directory().c_str(), 0755), 0);
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  EXPECT_EQ(mode_of(directory()), 0700u);
}

TEST_F(StoreFiles, AStoreOthersCanWriteIsRefusedAndLeftAlone) {
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  const std::string before = file_bytes(file());

  ASSERT_EQ(::chmod(file().c_str(), 0622), 0);
  auto listed = store.list();
  ASSERT_FALSE(listed.has_value());
  EXPECT_NE(listed.error().message.find("writable by other users"), std::string::npos);
  EXPECT_FALSE(store.accept(xmpp_, regenerated_, when_, OnAccept::keep_others).has_value());
  EXPECT_EQ(file_bytes(file()), before);
  ASSERT_EQ(::chmod(file().c_str(), 0600), 0);

  ASSERT_EQ(::chmod(directory().c_str(), 0770), 0);
  EXPECT_FALSE(store.lookup(xmpp_).has_value());
  ASSERT_EQ(::chmod(directory().c_str(), 0700), 0);
  EXPECT_TRUE(store.lookup(xmpp_).has_value());
}

TEST_F(StoreFiles, ASymlinkedStoreFileIsRefused) {
  CertificateStore store(directory());
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  std::filesystem::rename(file(), temp_.path() / "elsewhere");
  std::filesystem::create_symlink(temp_.path() / "elsewhere", file());
  auto listed = store.list();
  ASSERT_FALSE(listed.has_value());
  EXPECT_NE(listed.error().message.find("symbolic link"), std::string::npos);
}

TEST_F(StoreFiles, AFifoInPlaceOfTheStoreFileFailsInsteadOfHanging) {
  std::filesystem::create_directories(directory());
  ASSERT_EQ(::chmod(directory().c_str(), 0700), 0);
  ASSERT_EQ(::mkfifo(file().c_str(), 0600), 0);
  CertificateStore store(directory());
  auto listed = store.list();
  ASSERT_FALSE(listed.has_value());
  EXPECT_NE(listed.error().message.find("not a regular file"), std::string::npos);
}

TEST_F(StoreFiles, AcceptanceTimesTheFormatCannotSpellAreRefused) {
  CertificateStore store(directory());
  EXPECT_FALSE(store.accept(xmpp_, self_signed_, -1, OnAccept::keep_others).has_value());
  EXPECT_FALSE(store.accept(xmpp_, self_signed_, 253402300800, OnAccept::keep_others).has_value());
  EXPECT_TRUE(store.accept(xmpp_, self_signed_, 253402300799, OnAccept::keep_others).has_value());
  EXPECT_EQ(store.list()->front().accepted_at, 253402300799);
}

// ---- corrupt files ------------------------------------------------------------------------------

// Changes one tab-separated field of one line (0-based) of a store file.
std::string with_field(const std::string& text, std::size_t line, std::size_t field,
                       std::string_view value) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::vector<std::string> fields;
  std::istringstream fin(lines.at(line));
  for (std::string f; std::getline(fin, f, '\t');) fields.push_back(f);
  fields.at(field) = std::string(value);
  std::string joined;
  for (std::size_t i = 0; i < fields.size(); ++i) joined += (i ? "\t" : "") + fields[i];
  lines.at(line) = joined;
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

std::string line_of(const std::string& text, std::size_t line) {
  std::istringstream in(text);
  std::string l;
  for (std::size_t i = 0; i <= line; ++i) std::getline(in, l);
  return l;
}

struct CorruptRow {
  const char* name;
  std::string (*damage)(const std::string& valid);  // valid: header + 2 entries
  int line;                                         // where the report must point
  std::string_view problem;                         // a phrase the report must contain
};

const CorruptRow kCorrupt[] = {
    {"empty", [](const std::string&) { return std::string(); }, 1, "empty file"},
    {"not_a_store", [](const std::string&) { return std::string("hello\n"); }, 1, "header"},
    {"future_version",
     [](const std::string& v) {
       return "parley-accepted-certificates\t2\n" + v.substr(v.find('\n') + 1);
     },
     1, "format version"},
    {"truncated_final_newline", [](const std::string& v) { return v.substr(0, v.size() - 1); }, 3,
     "truncated"},
    {"truncated_mid_line", [](const std::string& v) { return v.substr(0, v.size() - 100); }, 3,
     "truncated"},
    {"missing_field",
     [](const std::string& v) {
       std::string l = line_of(v, 1);
       std::string damaged = v;
       damaged.replace(damaged.find(l), l.size(), l.substr(l.find('\t') + 1));
       return damaged;
     },
     2, "6 tab-separated fields"},
    {"fingerprint_damaged",
     [](const std::string& v) {
       std::string f = line_of(v, 1);
       f = f.substr(0, f.rfind('\t'));
       f = f.substr(f.rfind('\t') + 1);
       f[0] = f[0] == 'A' ? 'B' : 'A';
       return with_field(v, 1, 4, f);
     },
     2, "fingerprint does not match"},
    {"base64_damaged",
     [](const std::string& v) {
       std::string b = line_of(v, 1).substr(line_of(v, 1).rfind('\t') + 1);
       b[10] = '*';
       return with_field(v, 1, 5, b);
     },
     2, "base64"},
    {"certificate_bytes_damaged",
     [](const std::string& v) {
       std::string b = line_of(v, 1).substr(line_of(v, 1).rfind('\t') + 1);
       b[200] = b[200] == 'A' ? 'B' : 'A';  // still base64, no longer the same certificate
       return with_field(v, 1, 5, b);
     },
     2, ""},
    {"unknown_service", [](const std::string& v) { return with_field(v, 1, 0, "ftp"); }, 2,
     "unknown service"},
    {"port_leading_zero", [](const std::string& v) { return with_field(v, 1, 2, "05222"); }, 2,
     "port"},
    {"port_out_of_range", [](const std::string& v) { return with_field(v, 1, 2, "70000"); }, 2,
     "port"},
    {"port_empty", [](const std::string& v) { return with_field(v, 1, 2, ""); }, 2, "port"},
    {"time_not_utc",
     [](const std::string& v) { return with_field(v, 2, 3, "2030-01-01T00:00:00+01:00"); }, 3,
     "acceptance time"},
    {"time_impossible",
     [](const std::string& v) { return with_field(v, 2, 3, "2030-02-30T00:00:00Z"); }, 3,
     "acceptance time"},
    {"host_not_canonical", [](const std::string& v) { return with_field(v, 1, 1, "EXAMPLE.test"); },
     2, "canonical"},
    {"host_invalid", [](const std::string& v) { return with_field(v, 1, 1, "exa mple.test"); }, 2,
     "host"},
    {"duplicate_entry", [](const std::string& v) { return v + line_of(v, 1) + "\n"; }, 4,
     "duplicate"},
    {"blank_line", [](const std::string& v) { return v + "\n"; }, 4, "found 1"},
    {"carriage_return",
     [](const std::string& v) {
       std::string damaged = v;
       damaged.insert(damaged.find('\n', damaged.find('\n') + 1), "\r");
       return damaged;
     },
     2, "carriage return"},
};

class CorruptStore : public StoreFiles, public ::testing::WithParamInterface<CorruptRow> {};

TEST_P(CorruptStore, IsReportedWithFileAndLineAndNeverRewritten) {
  const CorruptRow& row = GetParam();
  std::string valid;
  {
    TempDir scratch;
    CertificateStore maker(scratch.path() / "store");
    ASSERT_TRUE(maker.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
    ASSERT_TRUE(maker.accept(service(pki::ServiceKind::https, "example.test"), ca_signed_, when_,
                             OnAccept::keep_others));
    valid = file_bytes(scratch.path() / "store" / CertificateStore::kFileName);
  }
  const std::string damaged = row.damage(valid);
  ASSERT_NE(damaged, valid);
  std::filesystem::create_directories(directory());
  ASSERT_EQ(::chmod(directory().c_str(), 0700), 0);
  write_bytes(file(), damaged);

  CertificateStore store(directory());
  auto listed = store.list();
  ASSERT_FALSE(listed.has_value()) << "a damaged store must not load";
  const std::string& message = listed.error().message;
  EXPECT_NE(message.find(file().string() + ":" + std::to_string(row.line) + ": "),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(row.problem), std::string::npos) << message;
  EXPECT_NE(message.find("left unchanged"), std::string::npos) << message;

  // Every operation refuses, and none of them touches the file.
  EXPECT_FALSE(store.lookup(xmpp_).has_value());
  auto accepted = store.accept(service(pki::ServiceKind::https, "other.test"), regenerated_, when_,
                               OnAccept::replace_others_for_service);
  ASSERT_FALSE(accepted.has_value());
  EXPECT_EQ(accepted.error().message, message);
  EXPECT_FALSE(store.remove(xmpp_).has_value());
  EXPECT_FALSE(store.remove_fingerprint(fingerprint_text(*self_signed_)).has_value());
  EXPECT_EQ(file_bytes(file()), damaged);
  EXPECT_EQ(directory_entries(directory()), std::vector<std::string>{"accepted-certificates"});
  EXPECT_EQ(mode_of(file()), 0600u);

  // Once the user deletes it, the store works again.
  std::filesystem::remove(file());
  EXPECT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others).has_value());
}

std::string corrupt_row_name(const ::testing::TestParamInfo<CorruptRow>& row) {
  return row.param.name;
}
INSTANTIATE_TEST_SUITE_P(Table, CorruptStore, ::testing::ValuesIn(kCorrupt), corrupt_row_name);

// ---- limits -------------------------------------------------------------------------------------

TEST_F(StoreFiles, EntryLimitRefusesTheAcceptThatWouldExceedIt) {
  CertificateStore store(directory(), StoreLimits{.max_entries = 1});
  ASSERT_TRUE(store.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  const std::string before = file_bytes(file());
  auto second = store.accept(service(pki::ServiceKind::https, "example.test"), ca_signed_, when_,
                             OnAccept::keep_others);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().kind, ErrorKind::limit);
  EXPECT_EQ(file_bytes(file()), before);
  // Replacing within the limit still works.
  EXPECT_TRUE(store.accept(xmpp_, regenerated_, when_, OnAccept::replace_others_for_service));
}

TEST_F(StoreFiles, LimitsOnLoad) {
  CertificateStore writer(directory());
  ASSERT_TRUE(writer.accept(xmpp_, self_signed_, when_, OnAccept::keep_others));
  ASSERT_TRUE(writer.accept(service(pki::ServiceKind::https, "example.test"), ca_signed_, when_,
                            OnAccept::keep_others));
  const std::string before = file_bytes(file());

  auto too_many = CertificateStore(directory(), StoreLimits{.max_entries = 1}).list();
  ASSERT_FALSE(too_many.has_value());
  EXPECT_EQ(too_many.error().kind, ErrorKind::limit);
  EXPECT_NE(too_many.error().message.find(":3: more than 1 entries"), std::string::npos)
      << too_many.error().message;

  auto too_big = CertificateStore(directory(), StoreLimits{.max_file_bytes = 100}).list();
  ASSERT_FALSE(too_big.has_value());
  EXPECT_EQ(too_big.error().kind, ErrorKind::limit);

  auto cert_too_big =
      CertificateStore(directory(), StoreLimits{.max_certificate_bytes = 100}).list();
  ASSERT_FALSE(cert_too_big.has_value());
  EXPECT_NE(cert_too_big.error().message.find(":2: "), std::string::npos);
  EXPECT_EQ(file_bytes(file()), before);
}

// ---- where the store lives ----------------------------------------------------------------------

struct DataHomeRow {
  std::optional<std::string_view> xdg;
  std::optional<std::string_view> home;
  std::optional<std::string_view> expected;
};

TEST(StoreDataHome, XdgRules) {
  const std::vector<DataHomeRow> rows = {
      {"/x/data", "/home/a", "/x/data"},
      {std::nullopt, "/home/a", "/home/a/.local/share"},
      {"", "/home/a", "/home/a/.local/share"},
      {"relative/data", "/home/a", "/home/a/.local/share"},  // XDG: relative paths are invalid
      {std::nullopt, std::nullopt, std::nullopt},
      {std::nullopt, "relative", std::nullopt},
  };
  for (const auto& row : rows) {
    auto home = data_home_from(row.xdg, row.home);
    if (!row.expected) {
      EXPECT_FALSE(home.has_value())
          << row.xdg.value_or("(unset)") << " " << row.home.value_or("(unset)");
      continue;
    }
    ASSERT_TRUE(home.has_value());
    EXPECT_EQ(home->string(), *row.expected);
  }
}

TEST(StoreDataHome, AccountDirectoryFromTheEnvironment) {
  TempDir temp;
  const char* saved = std::getenv("XDG_DATA_HOME");
  const std::optional<std::string> restore =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  ASSERT_EQ(::setenv("XDG_DATA_HOME", temp.path().c_str(), 1), 0);

  auto directory = account_data_directory("alice@example.test");
  ASSERT_TRUE(directory.has_value()) << directory.error().message;
  EXPECT_EQ(*directory, temp.path() / "parley" / "alice@example.test");
  auto store = CertificateStore::for_account("alice@example.test");
  ASSERT_TRUE(store.has_value());
  EXPECT_EQ(store->file(), temp.path() / "parley" / "alice@example.test" / "accepted-certificates");

  const std::vector<std::string_view> bad_jids = {"",
                                                  ".",
                                                  "..",
                                                  "../bob@example.test",
                                                  "alice@example.test/phone",
                                                  ".hidden@example.test",
                                                  std::string_view("a\0b", 3),
                                                  "a\nb"};
  for (const std::string_view bad : bad_jids) {
    EXPECT_FALSE(account_data_directory(bad).has_value()) << bad;
  }
  EXPECT_FALSE(account_data_directory(std::string(256, 'a')).has_value());

  if (restore)
    ::setenv("XDG_DATA_HOME", restore->c_str(), 1);
  else
    ::unsetenv("XDG_DATA_HOME");
}

// ---- small formats ------------------------------------------------------------------------------

TEST(StoreUtcTime, FormatsAndParsesStrictly) {
  const std::vector<std::pair<pki::UnixTime, std::string_view>> round_trips = {
      {0, "1970-01-01T00:00:00Z"},
      {951782400, "2000-02-29T00:00:00Z"},
      {1704067199, "2023-12-31T23:59:59Z"},
      {2524608000, "2050-01-01T00:00:00Z"},
  };
  for (const auto& [time, text] : round_trips) {
    EXPECT_EQ(format_utc_time(time), text);
    auto parsed = parse_utc_time(text);
    ASSERT_TRUE(parsed.has_value()) << text;
    EXPECT_EQ(*parsed, time);
  }
  for (const std::string_view bad :
       {"", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z", "2024-1-01T00:00:00Z",
        "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z", "2024-01-01T00:00:60Z", "1969-12-31T23:59:59Z",
        "2024-01-01T00:00:00z", "+024-01-01T00:00:00Z"}) {
    EXPECT_FALSE(parse_utc_time(bad).has_value()) << bad;
  }
}

TEST(StoreFingerprint, ParsesColonOrPlainHex) {
  const std::string canonical =
      "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:"
      "EE:FF";
  std::string plain;
  for (const char c : canonical) {
    if (c != ':') plain.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  EXPECT_EQ(*parse_fingerprint(canonical), canonical);
  EXPECT_EQ(*parse_fingerprint(plain), canonical);
  for (const std::string_view bad :
       {std::string_view(""), std::string_view("00:11"), std::string_view(plain).substr(1),
        std::string_view(canonical).substr(0, canonical.size() - 3), std::string_view(":00"),
        std::string_view("0:011:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:"
                         "88:99:aa:bb:cc:dd:ee:ff"),
        std::string_view("zz11223344556677889900aabbccddeeff00112233445566778899aabbccddeeff")}) {
    EXPECT_FALSE(parse_fingerprint(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_fingerprint(plain + "00").has_value());
  EXPECT_FALSE(parse_fingerprint("00:" + plain.substr(2)).has_value())
      << "colons everywhere or nowhere";
}

}  // namespace
}  // namespace parley::client
