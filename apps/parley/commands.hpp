#pragma once
// parley's commands; each returns the exit code and throws UsageError for bad input before any
// network traffic.

#include <cstddef>
#include <optional>
#include <string>

#include "common.hpp"

namespace parley::app {

struct SendArguments {
  std::string to;
  std::string text;
};

struct ListenArguments {
  std::optional<std::size_t> count;       // exit 0 after this many messages
  std::optional<double> timeout_seconds;  // exit 1 when fewer than `count` arrived by then
};

int run_send(const GlobalOptions& options, const SendArguments& arguments);
int run_listen(const GlobalOptions& options, const ListenArguments& arguments);
int run_roster(const GlobalOptions& options);
int run_trust_list(const GlobalOptions& options);
int run_trust_remove(const GlobalOptions& options, const std::string& fingerprint);

}  // namespace parley::app
