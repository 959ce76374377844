#pragma once
// Runs a program to completion for an integration test: a command-line tool under test
// (parley-cert), a server's admin command (prosodyctl register, ejabberdctl stop) or a third-party
// client (go-sendxmpp). No shell is involved, so arguments need no quoting; stdin is given as
// text, stdout and stderr come back together, and a program that does not finish within the
// timeout is killed (SIGKILL, then reaped) and reported as an error that quotes its output.
//
// What it does not do: separate stdout from stderr, stream output while the program runs, or
// stop the program's own children when it is killed (the peers' destructors sweep those).

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace parley::integration {

struct ProgramOptions {
  std::string standard_input;  // written to the program's stdin, then end of file
  // Set in the program's environment on top of (or instead of) the test's own variables.
  std::vector<std::pair<std::string, std::string>> environment;
  std::chrono::milliseconds timeout{60'000};
};

struct ProgramOutcome {
  int exit_code = -1;  // -1 when a signal ended it
  std::string output;  // stdout and stderr interleaved, at most kMaxProgramOutput bytes
};

inline constexpr std::size_t kMaxProgramOutput = 1024 * 1024;

// argv[0] is looked up in PATH when it has no slash. Fails when the program cannot be started
// or does not finish in time; a non-zero exit is an outcome, not an error.
Result<ProgramOutcome> run_program(std::vector<std::string> argv,
                                   const ProgramOptions& options = {});

// The absolute path of `name` found in PATH, then in /usr/sbin and /sbin (root's tools such as
// ejabberdctl live there and PATH may lack them); empty when it is nowhere executable.
std::string find_program(const std::string& name);

}  // namespace parley::integration
