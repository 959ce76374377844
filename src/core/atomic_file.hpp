#pragma once
// Writing a file so that a crash or a failure never leaves a half-written one: the content goes to
// a temporary file in the same directory (rename and link are atomic only within one file system),
// is fsync'ed, then takes the final name in one step, and the directory is fsync'ed so that the
// new name itself survives a crash. On any failure the temporary file is removed and the final
// name is untouched.
//
// Two ways to take the final name, chosen by the caller (ExistingFile):
//  - replace: rename(2) over whatever is there (a store that is rewritten as a whole).
//  - refuse:  renameat2(RENAME_NOREPLACE), or link(2) + unlink(2) where the file system does not
//             support that flag; both fail with EEXIST instead of clobbering, with no window in
//             which another process's file could be lost (unlike "check, then rename").
//             Private keys are written this way: a key that exists may be the only copy of one a
//             certificate was already issued for.
//
// What this does not do: create directories (except create_directory_if_missing), lock against
// other writers (callers that rewrite a shared file hold their own lock), or follow the umask (the
// mode given is the mode set).

#include <sys/types.h>

#include <filesystem>
#include <string_view>

#include "core/error.hpp"

namespace parley {

// Closes a descriptor on every path out of a function.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd = -1) : fd_(fd) {}
  ~FileDescriptor() { reset(); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Closes now and reports the result: close() can report a failed write-back on some file
  // systems (NFS), so a writer must look at it.
  int close_checked();

 private:
  void reset();
  int fd_;
};

// Writes every byte, retrying short writes and EINTR; the error names `path_for_messages`.
Result<void> write_all(int fd, std::string_view data,
                       const std::filesystem::path& path_for_messages);

enum class ExistingFile {
  replace,  // an existing file at the final name is replaced atomically
  refuse,   // an existing file (or anything else at that name) fails the write, untouched
};

struct AtomicWriteOptions {
  ExistingFile existing = ExistingFile::refuse;
  mode_t mode = 0600;  // set on the temporary file before any content is written
};

// Writes `content` to `file` as described at the top. With ExistingFile::refuse an existing name
// fails with ErrorKind::io and a message "<file>: already exists; ...". A failure of the final
// directory fsync is reported even though the file is then in place (only its durability is in
// doubt).
Result<void> write_file_atomically(const std::filesystem::path& file, std::string_view content,
                                   AtomicWriteOptions options = {});

// Makes `directory` when it is missing (one level only: a missing parent is more likely a typo
// than a wish), with `mode`; an existing directory is left as it is. Fails when something other
// than a directory has that name, or the parent does not exist or cannot be written.
Result<void> create_directory_if_missing(const std::filesystem::path& directory, mode_t mode);

}  // namespace parley
