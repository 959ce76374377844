#include "core/file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>

namespace parley {

Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail(Error::io(path.string() + ": is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail(Error::io(path.string() + ": cannot open: " + std::strerror(errno)));
  }
  std::string data;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof buffer);
    const auto got = static_cast<std::size_t>(in.gcount());
    if (data.size() + got > max_bytes) {
      return fail(Error::limit(path.string() + ": larger than the limit of " +
                               std::to_string(max_bytes) + " bytes"));
    }
    data.append(buffer, got);
  }
  if (in.bad()) return fail(Error::io(path.string() + ": read failed"));
  return data;
}

}  // namespace parley
