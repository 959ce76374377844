#pragma once
// Helpers shared by the client's *_test.cpp files only (libparley never includes this): a
// temporary directory per test, and fixture certificates read from tests/fixtures/.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "core/file.hpp"
#include "pki/certificate.hpp"

namespace parley::client::testing {

// A fresh directory under the system temp dir, removed with everything in it at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "parley-client-XXXXXX").string();
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

// Every name in a directory, sorted, so a test can say exactly what a store left behind.
inline std::vector<std::string> directory_entries(const std::filesystem::path& directory) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(directory, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace parley::client::testing
