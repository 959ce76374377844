#pragma once
// Helpers shared by unit tests only (libparley never includes this): a temporary directory per
// test, what a directory holds, a file's bytes and mode, and fixture certificates read from
// tests/fixtures/ (PARLEY_FIXTURES_DIR, defined for the test binaries).

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "core/file.hpp"
#include "pki/certificate.hpp"

namespace parley::test_support {

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "parley-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Every name in a directory, sorted, so a test can say exactly what an operation left behind.
inline std::vector<std::string> directory_entries(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ignored)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

inline std::string file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Permission bits of a path (not following a final symlink).
inline mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// One certificate from tests/fixtures/<relative>, or nullptr after recording a test failure.
inline pki::CertificatePtr fixture_certificate(const std::string& relative) {
  const auto text = read_file(std::string(PARLEY_FIXTURES_DIR) + "/" + relative);
  if (!text) {
    ADD_FAILURE() << relative << ": " << text.error().message;
    return nullptr;
  }
  auto parsed = pki::Certificate::from_pem(*text);
  if (!parsed || parsed->size() != 1) {
    ADD_FAILURE() << relative << ": "
                  << (parsed ? "not exactly one certificate" : parsed.error().message);
    return nullptr;
  }
  return parsed->front();
}

}  // namespace parley::test_support
