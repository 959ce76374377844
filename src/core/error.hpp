#pragma once
// Result and error types shared by every layer.
//
// Parley does not throw on network, parsing or verification paths (STYLE.md, habit 7): functions
// return Result<T>, whose error says what failed and where. Exceptions are for programmer misuse at
// start-up only.

#include <expected>
#include <string>
#include <utility>

namespace parley {

// Broad classes of failure; callers branch on these, people read the message.
enum class ErrorKind {
  invalid_argument,  // the caller passed something unusable (usage error)
  io,                // a file or socket operation failed
  parse,             // input is not in the expected format
  limit,             // a configured bound (size, depth, budget) was hit
  crypto,            // the crypto library refused an operation
  internal,          // a bug: an invariant did not hold
};

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;  // complete sentence fragment naming the thing and the problem

  static Error invalid_argument(std::string m) {
    return {ErrorKind::invalid_argument, std::move(m)};
  }
  static Error io(std::string m) { return {ErrorKind::io, std::move(m)}; }
  static Error parse(std::string m) { return {ErrorKind::parse, std::move(m)}; }
  static Error limit(std::string m) { return {ErrorKind::limit, std::move(m)}; }
  static Error crypto(std::string m) { return {ErrorKind::crypto, std::move(m)}; }
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(Error e) {
  return std::unexpected<Error>(std::move(e));
}

}  // namespace parley
