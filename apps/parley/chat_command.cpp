// parley chat: the interactive client. The password is read first (file, stdin or the terminal,
// never argv), then the screen starts (chat_screen.hpp) and the session connects on its own
// thread (client/chat_session.hpp); an untrusted certificate is asked about in a dialog, unless
// --on-untrusted gives the answer. Reconnection is always on.

#include <fcntl.h>
#include <langinfo.h>
#include <unistd.h>

#include <clocale>
#include <cstring>
#include <iostream>

#include "chat_screen.hpp"
#include "client/chat_model.hpp"
#include "client/chat_session.hpp"
#include "commands.hpp"

namespace parley::app {
namespace {

// ncursesw draws and reads UTF-8 only when the locale says so. A terminal that has no UTF-8
// locale configured still gets one: everything Parley shows is UTF-8.
void choose_utf8_locale() {
  (void)std::setlocale(LC_ALL, "");
  const char* codeset = ::nl_langinfo(CODESET);
  if (codeset == nullptr || std::strcmp(codeset, "UTF-8") != 0)
    (void)std::setlocale(LC_CTYPE, "C.UTF-8");
}

// The pipe the session writes a byte into when events are waiting, so that the screen's poll()
// wakes up. Both ends non-blocking: a full pipe already means "wake up".
struct WakePipe {
  int read_end = -1;
  int write_end = -1;
  WakePipe() {
    int ends[2];
    if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) == 0) {
      read_end = ends[0];
      write_end = ends[1];
    }
  }
  ~WakePipe() {
    if (read_end >= 0) ::close(read_end);
    if (write_end >= 0) ::close(write_end);
  }
  WakePipe(const WakePipe&) = delete;
  WakePipe& operator=(const WakePipe&) = delete;
};

}  // namespace

int run_chat(const GlobalOptions& options, const ChatArguments& arguments) {
  if (::isatty(STDIN_FILENO) != 1 || ::isatty(STDOUT_FILENO) != 1) {
    throw UsageError{
        "chat needs a terminal; scripts use send, listen and join (with --json for machines)"};
  }
  if (options.json) throw UsageError{"chat: --json is for the scriptable commands"};
  const xmpp::Jid account = parse_account(options);
  // --join rooms are checked before anything else, like every usage error.
  std::vector<std::string> joins;
  for (const auto& room : arguments.rooms) {
    auto address = client::parse_room_address(room, account.localpart());
    if (!address) throw UsageError{"chat --join: " + address.error().message};
    joins.push_back("/join " + room);
  }
  auto session = prepare_session(options);

  client::ChatSessionSetup setup(session->options);
  setup.options.stream_management = client::StreamManagementUse::when_offered_with_resumption;
  setup.anchors = &session->anchors;
  setup.store = session->store.get();
  // --on-untrusted answers for the user; otherwise the dialog asks.
  if (!options.on_untrusted.empty()) setup.fixed_prompt = session->prompt.get();
  setup.password = session->password;
  setup.backoff.max_attempts = arguments.reconnect_attempts;

  WakePipe wake;
  if (wake.read_end < 0) {
    std::cerr << "parley: chat: cannot create a pipe: " << std::strerror(errno) << "\n";
    return kExitFailed;
  }
  client::ChatSession chat(std::move(setup), [fd = wake.write_end] {
    const char byte = 1;
    (void)!::write(fd, &byte, 1);
  });
  client::ChatModel model(account.bare());
  for (const auto& join : joins) {
    auto outcome = model.submit(join, 0);
    if (outcome.command) chat.post(std::move(*outcome.command));
  }
  install_stop_handlers();
  choose_utf8_locale();
  chat.start();
  return run_chat_screen(model, chat, wake.read_end);
}

}  // namespace parley::app
