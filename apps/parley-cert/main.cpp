// parley-cert: certificate administration for a Parley deployment (ARCHITECTURE.md, interfaces).
// Exit codes: 0 valid/clean, 1 invalid/findings, 2 usage or I/O error; --json everywhere.
//
// This file only parses arguments and dispatches; each command is a <name>_command.cpp that
// registers itself (cli.hpp), and the work is in libparley.

#include <iostream>

#include "cli.hpp"

using namespace parley::cert_cli;

int main(int argc, char** argv) {
  CLI::App app{"parley-cert: certificate administration for Parley"};
  app.require_subcommand(1);
  std::vector<Command> commands;
  for (const auto& factory : registered_commands()) commands.push_back(factory(app));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  try {
    for (const auto& command : commands) {
      if (command.subcommand->parsed()) return command.run();
    }
  } catch (const UsageError& e) {
    std::cerr << "parley-cert: " << e.message << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
