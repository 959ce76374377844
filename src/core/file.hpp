#pragma once
// Bounded file reading: every file Parley reads from a user has a size limit, and a failure names
// the file and the reason.

#include <cstddef>
#include <filesystem>
#include <string>

#include "core/error.hpp"

namespace parley {

inline constexpr std::size_t kDefaultMaxFileBytes = 4 * 1024 * 1024;

// Reads the whole file into memory; fails with ErrorKind::limit if it is larger than max_bytes,
// ErrorKind::io if it cannot be opened or read.
Result<std::string> read_file(const std::filesystem::path& path,
                              std::size_t max_bytes = kDefaultMaxFileBytes);

}  // namespace parley
