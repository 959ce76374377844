// Tables for core/atomic_file: the mode asked for is the mode set, refuse never touches what is
// at the final name (a file, a dangling symlink, a directory), replace does, and no temporary
// file survives any outcome.

#include "core/atomic_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "core/test_support.hpp"

namespace parley {
namespace {

using namespace parley::test_support;

struct WriteRow {
  std::string_view label;
  std::function<void(const std::filesystem::path& file)> prepare;  // what is at the name before
  ExistingFile existing;
  bool expect_written;
  std::string_view message_part;
};

TEST(AtomicFile, RefuseLeavesWhateverIsThereAndReplaceReplacesFiles) {
  const auto nothing = [](const std::filesystem::path&) {};
  const auto old_file = [](const std::filesystem::path& file) { std::ofstream(file) << "old"; };
  const auto dangling_symlink = [](const std::filesystem::path& file) {
    std::filesystem::create_symlink(file.parent_path() / "nowhere", file);
  };
  const auto directory = [](const std::filesystem::path& file) {
    std::filesystem::create_directory(file);
  };
  const std::vector<WriteRow> rows = {
      {"new name, refuse", nothing, ExistingFile::refuse, true, ""},
      {"new name, replace", nothing, ExistingFile::replace, true, ""},
      {"existing file, refuse", old_file, ExistingFile::refuse, false, "already exists"},
      {"existing file, replace", old_file, ExistingFile::replace, true, ""},
      {"dangling symlink, refuse", dangling_symlink, ExistingFile::refuse, false, "already exists"},
      {"directory, refuse", directory, ExistingFile::refuse, false, "already exists"},
      {"directory, replace", directory, ExistingFile::replace, false, "cannot replace"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.label);
    TempDir temp;
    const auto file = temp.path() / "target";
    row.prepare(file);
    const std::vector<std::string> before = directory_entries(temp.path());
    const auto written =
        write_file_atomically(file, "new content", {.existing = row.existing, .mode = 0640});
    if (row.expect_written) {
      ASSERT_TRUE(written.has_value()) << written.error().message;
      EXPECT_EQ(file_bytes(file), "new content");
      EXPECT_EQ(mode_of(file), 0640u);
    } else {
      ASSERT_FALSE(written.has_value());
      EXPECT_EQ(written.error().kind, ErrorKind::io);
      EXPECT_NE(written.error().message.find(file.string()), std::string::npos)
          << written.error().message;
      EXPECT_NE(written.error().message.find(row.message_part), std::string::npos)
          << written.error().message;
      EXPECT_EQ(directory_entries(temp.path()), before) << "nothing added, nothing removed";
    }
    for (const auto& name : directory_entries(temp.path())) {
      EXPECT_EQ(name.find(".tmp-"), std::string::npos) << "temporary file left behind: " << name;
    }
  }
}

TEST(AtomicFile, ModeIsExactlyTheOneAskedForWhateverTheUmask) {
  TempDir temp;
  const mode_t previous = ::umask(0077);
  const auto written = write_file_atomically(temp.path() / "public", "x", {.mode = 0644});
  ::umask(previous);
  ASSERT_TRUE(written.has_value()) << written.error().message;
  EXPECT_EQ(mode_of(temp.path() / "public"), 0644u);
}

TEST(AtomicFile, MissingDirectoryIsNamed) {
  TempDir temp;
  const auto written = write_file_atomically(temp.path() / "missing" / "file", "x");
  ASSERT_FALSE(written.has_value());
  EXPECT_NE(written.error().message.find((temp.path() / "missing").string()), std::string::npos)
      << written.error().message;
}

TEST(AtomicFile, CreateDirectoryIfMissing) {
  TempDir temp;
  std::ofstream(temp.path() / "a-file") << "x";
  const auto previous = ::umask(0077);
  const auto created = create_directory_if_missing(temp.path() / "new", 0750);
  ::umask(previous);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  EXPECT_EQ(mode_of(temp.path() / "new"), 0750u);
  EXPECT_TRUE(create_directory_if_missing(temp.path() / "new", 0700).has_value())
      << "existing: left alone";
  EXPECT_EQ(mode_of(temp.path() / "new"), 0750u);

  const auto not_directory = create_directory_if_missing(temp.path() / "a-file", 0700);
  ASSERT_FALSE(not_directory.has_value());
  EXPECT_NE(not_directory.error().message.find("not a directory"), std::string::npos);
  const auto no_parent = create_directory_if_missing(temp.path() / "missing" / "new", 0700);
  ASSERT_FALSE(no_parent.has_value());
  EXPECT_NE(no_parent.error().message.find("cannot create directory"), std::string::npos);
}

}  // namespace
}  // namespace parley
