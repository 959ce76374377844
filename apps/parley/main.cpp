// parley: the Parley client's scriptable commands (ARCHITECTURE.md, "Interfaces"):
//   parley [--account JID] [--server HOST:PORT] [--direct-tls] [--ca FILE]...
//          [--password-file F | --password-stdin] [--policy FILE]
//          [--on-untrusted reject|accept-once|accept-always] [--json] COMMAND
//   send JID TEXT | listen [--count N] [--timeout S] [--reconnect] | roster
//   | join ROOM[/NICK] [--say TEXT]... [--count N] [--timeout S] [--history N] [--reconnect]
//   | chat [--join ROOM]... | trust list | trust remove FP
// Exit codes: 0 ok, 1 refused or failed (reason on stderr), 2 usage. This file only parses
// arguments and dispatches; the commands are in commands.cpp, the work in libparley.

#include <CLI/CLI.hpp>
#include <iostream>

#include "commands.hpp"

using namespace parley::app;

int main(int argc, char** argv) {
  CLI::App app{"parley: the Parley XMPP client (scriptable commands)"};
  app.require_subcommand(1);
  app.fallthrough();

  GlobalOptions options;
  app.add_option("--account", options.account, "the account's JID (user@domain[/resource])")
      ->envname("PARLEY_ACCOUNT");
  app.add_option("--server", options.server,
                 "connect to HOST:PORT instead of the JID's domain (the certificate must still "
                 "name the JID's domain)");
  app.add_flag("--direct-tls", options.direct_tls,
               "TLS from the first byte (XEP-0368; default port 5223) instead of STARTTLS");
  app.add_option("--ca", options.ca_files,
                 "trusted CA certificates, PEM or DER (default: the system roots)");
  app.add_option("--password-file", options.password_file,
                 "read the password from the first line of FILE");
  app.add_flag("--password-stdin", options.password_stdin,
               "read the password from the first line of standard input");
  app.add_option("--policy", options.policy_file,
                 "admin policy (jabber-config.xml style; default /etc/parley/jabber-config.xml "
                 "if present)");
  app.add_option("--on-untrusted", options.on_untrusted,
                 "answer for an untrusted certificate when no one is asked: reject (default "
                 "without a terminal), accept-once or accept-always")
      ->check(CLI::IsMember({"reject", "accept-once", "accept-always"}));
  app.add_flag("--json", options.json, "machine-readable output (JSON lines on stdout)");

  SendArguments send_arguments;
  CLI::App* send = app.add_subcommand("send", "send a message; exit 0 once the server has it");
  send->add_option("JID", send_arguments.to, "recipient")->required();
  send->add_option("TEXT", send_arguments.text, "message text")->required();

  ListenArguments listen_arguments;
  CLI::App* listen =
      app.add_subcommand("listen", "print incoming messages (\"<time> FROM: BODY\" lines)");
  listen->add_option("--count", listen_arguments.count, "exit 0 after N messages");
  listen->add_option("--timeout", listen_arguments.timeout_seconds,
                     "stop after S seconds (exit 1 if --count messages did not all arrive)");
  const auto add_reconnect = [](CLI::App* command, ReconnectOptions& reconnect) {
    command->add_flag("--reconnect", reconnect.enabled,
                      "when the connection is lost (or cannot be made), try again with "
                      "exponential backoff; every attempt judges the certificate again");
    command
        ->add_option("--reconnect-attempts", reconnect.max_attempts,
                     "give up after N attempts in a row (default 10)")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));
  };
  add_reconnect(listen, listen_arguments.reconnect);

  JoinArguments join_arguments;
  CLI::App* join = app.add_subcommand(
      "join",
      "enter a group chat room (XEP-0045), print what is said, send --say texts and "
      "standard input lines, leave");
  join->add_option("ROOM", join_arguments.room, "room@service[/nick] (nick: the account's name)")
      ->required();
  join->add_option("--say", join_arguments.say, "send TEXT once in the room (repeatable)");
  join->add_option("--count", join_arguments.count, "leave after N messages from others");
  join->add_option("--timeout", join_arguments.timeout_seconds,
                   "leave after S seconds (exit 1 if --count messages did not all arrive)");
  join->add_option("--history", join_arguments.history,
                   "messages of the room's history to ask for (default 0)");
  add_reconnect(join, join_arguments.reconnect);

  ChatArguments chat_arguments;
  CLI::App* chat = app.add_subcommand(
      "chat", "the interactive terminal client (contacts, conversations, rooms; /help inside)");
  chat->add_option("--join", chat_arguments.rooms, "enter room@service[/nick] at start");
  chat->add_option("--reconnect-attempts", chat_arguments.reconnect_attempts,
                   "give up reconnecting after N attempts in a row (default 10)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1000}));

  CLI::App* roster = app.add_subcommand("roster", "list the roster");

  CLI::App* trust = app.add_subcommand("trust", "the local store of accepted certificates");
  trust->require_subcommand(1);
  CLI::App* trust_list = trust->add_subcommand("list", "list accepted certificates");
  std::string fingerprint;
  CLI::App* trust_remove =
      trust->add_subcommand("remove", "forget an accepted certificate by its SHA-256 fingerprint");
  trust_remove->add_option("FINGERPRINT", fingerprint, "SHA-256, colon hex or plain hex")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  try {
    if (send->parsed()) return run_send(options, send_arguments);
    if (listen->parsed()) return run_listen(options, listen_arguments);
    if (join->parsed()) return run_join(options, join_arguments);
    if (chat->parsed()) return run_chat(options, chat_arguments);
    if (roster->parsed()) return run_roster(options);
    if (trust_list->parsed()) return run_trust_list(options);
    if (trust_remove->parsed()) return run_trust_remove(options, fingerprint);
  } catch (const UsageError& e) {
    std::cerr << "parley: " << e.message << "\n";
    return kExitUsage;
  }
  return kExitUsage;
}
