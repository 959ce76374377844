#pragma once
// parley's commands; each returns the exit code and throws UsageError for bad input before any
// network traffic.

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"

namespace parley::app {

struct SendArguments {
  std::string to;
  std::string text;
};

struct ListenArguments {
  std::optional<std::size_t> count;       // exit 0 after this many messages
  std::optional<double> timeout_seconds;  // exit 1 when fewer than `count` arrived by then
  ReconnectOptions reconnect;
};

struct JoinArguments {
  std::string room;                       // room@service[/nick]
  std::vector<std::string> say;           // sent once in the room, in order
  std::optional<std::size_t> count;       // leave after this many messages from others
  std::optional<double> timeout_seconds;  // leave then (exit 1 if `count` was not reached)
  std::optional<std::size_t> history;     // messages of history to ask for (default 0)
  ReconnectOptions reconnect;
};

struct ChatArguments {
  std::vector<std::string> rooms;  // joined at start
  std::size_t reconnect_attempts = 10;
};

int run_send(const GlobalOptions& options, const SendArguments& arguments);
int run_listen(const GlobalOptions& options, const ListenArguments& arguments);
int run_join(const GlobalOptions& options, const JoinArguments& arguments);
int run_chat(const GlobalOptions& options, const ChatArguments& arguments);
int run_roster(const GlobalOptions& options);
int run_trust_list(const GlobalOptions& options);
int run_trust_remove(const GlobalOptions& options, const std::string& fingerprint);

}  // namespace parley::app
