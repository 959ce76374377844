#pragma once
// The terminal side of `parley chat`: ncursesw draws the ChatModel (client/chat_model.hpp) and
// turns keys into model changes and session commands. One thread: poll() waits on the terminal
// and on the session's wake pipe together, so typing never waits for the network and arriving
// messages never wait for a key.
//
//   +-- Conversations ---+-- bob@example.test --------------------------------+
//   | console            | 12:00:01 bob: hi                                   |
//   | # lobby@conf... [2]| 12:00:05 me: hello                                 |
//   | + bob@example.test |                                                    |
//   +--------------------+----------------------------------------------------+
//   | [locked] TLSv1.3  alice@example.test/parley  connected                  |
//   | > _                                                                      |
//
// The certificate question is a dialog over everything else, with the same lines as the text
// prompt (subject, issuer, validity, SHA-256 fingerprint, identities, each reason) and the keys
// o (accept once), a (accept always), d or Esc (decline). Nothing else is read while it is open.
//
// What this does not do: mouse, colours beyond a few attributes, or anything the model does not
// know (it draws only what ChatModel says).

#include "client/chat_model.hpp"
#include "client/chat_session.hpp"

namespace parley::app {

// Runs until the user quits (/quit, Ctrl-C) or SIGINT/SIGTERM; returns the exit code. The
// terminal is restored before it returns. `wake_fd`: the read end of the session's wake pipe.
int run_chat_screen(client::ChatModel& model, client::ChatSession& session, int wake_fd);

}  // namespace parley::app
