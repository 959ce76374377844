#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

namespace parley {
namespace {

std::string errno_text(int error) {
  return std::strerror(error);
}

// Gives the temporary file its final name without replacing anything already there.
// renameat2(RENAME_NOREPLACE) does it in one step; file systems that do not know the flag
// (EINVAL) or kernels without the call (ENOSYS) get link + unlink, which is just as exclusive:
// link fails with EEXIST and never replaces. Returns 0 or an errno value.
int move_without_replacing(const std::string& temp_name, const std::filesystem::path& file) {
  if (::renameat2(AT_FDCWD, temp_name.c_str(), AT_FDCWD, file.c_str(), RENAME_NOREPLACE) == 0) {
    return 0;
  }
  if (errno != EINVAL && errno != ENOSYS) return errno;
  if (::link(temp_name.c_str(), file.c_str()) != 0) return errno;
  ::unlink(temp_name.c_str());  // the content now lives under the final name as well
  return 0;
}

}  // namespace

int FileDescriptor::close_checked() {
  const int result = ::close(fd_);
  fd_ = -1;
  return result;
}

void FileDescriptor::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<void> write_all(int fd, std::string_view data,
                       const std::filesystem::path& path_for_messages) {
  while (!data.empty()) {
    const ssize_t written = ::write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail(Error::io(path_for_messages.string() + ": write failed: " + errno_text(errno)));
    }
    data.remove_prefix(static_cast<std::size_t>(written));
  }
  return {};
}

Result<void> write_file_atomically(const std::filesystem::path& file, std::string_view content,
                                   AtomicWriteOptions options) {
  if (!file.has_filename())
    return fail(Error::invalid_argument(file.string() + ": not a file name"));
  const std::filesystem::path directory =
      file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  FileDescriptor directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory_fd.valid()) {
    return fail(Error::io(directory.string() + ": cannot open directory: " + errno_text(errno)));
  }

  // A leading dot keeps the temporary file out of `ls` and globs while it exists.
  std::string temp_name = (directory / ("." + file.filename().string() + ".tmp-XXXXXX")).string();
  FileDescriptor fd(::mkostemp(temp_name.data(), O_CLOEXEC));  // created with mode 0600
  if (!fd.valid()) {
    return fail(Error::io(directory.string() + ": cannot create a file: " + errno_text(errno)));
  }
  auto remove_temp_and_fail = [&](Error error) -> Result<void> {
    ::unlink(temp_name.c_str());
    return fail(std::move(error));
  };
  // Before any content: a key must never be readable by others, not even for a moment.
  if (::fchmod(fd.get(), options.mode) != 0) {
    return remove_temp_and_fail(
        Error::io(temp_name + ": cannot set its mode: " + errno_text(errno)));
  }
  if (auto written = write_all(fd.get(), content, temp_name); !written) {
    return remove_temp_and_fail(written.error());
  }
  if (::fsync(fd.get()) != 0) {
    return remove_temp_and_fail(Error::io(temp_name + ": fsync failed: " + errno_text(errno)));
  }
  if (fd.close_checked() != 0) {
    return remove_temp_and_fail(Error::io(temp_name + ": close failed: " + errno_text(errno)));
  }

  if (options.existing == ExistingFile::replace) {
    if (::rename(temp_name.c_str(), file.c_str()) != 0) {
      return remove_temp_and_fail(
          Error::io(file.string() + ": cannot replace: " + errno_text(errno)));
    }
  } else if (const int error = move_without_replacing(temp_name, file); error != 0) {
    if (error == EEXIST) {
      return remove_temp_and_fail(Error::io(
          file.string() + ": already exists; refusing to overwrite it (move it away first)"));
    }
    return remove_temp_and_fail(Error::io(file.string() + ": cannot create: " + errno_text(error)));
  }

  if (::fsync(directory_fd.get()) != 0) {
    return fail(Error::io(directory.string() + ": fsync failed: " + errno_text(errno)));
  }
  return {};
}

Result<void> create_directory_if_missing(const std::filesystem::path& directory, mode_t mode) {
  struct stat st {};
  if (::stat(directory.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return fail(Error::io(directory.string() + ": not a directory"));
    return {};
  }
  if (errno != ENOENT) return fail(Error::io(directory.string() + ": " + errno_text(errno)));
  if (::mkdir(directory.c_str(), mode) != 0) {
    return fail(Error::io(directory.string() + ": cannot create directory: " + errno_text(errno)));
  }
  // mkdir applies the umask; the caller asked for exactly `mode`.
  if (::chmod(directory.c_str(), mode) != 0) {
    return fail(Error::io(directory.string() + ": cannot set its mode: " + errno_text(errno)));
  }
  return {};
}

}  // namespace parley
