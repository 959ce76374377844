#pragma once
// What happens to a stanza a bound client sends (after the connection layer has counted it for
// stream management and flood control): the 'from' check and stamp (RFC 6120 8.1.2.1), then the
// handler for its kind and destination. One function, so the connection and the fuzz target
// (fuzz/server_stanza_fuzzer.cpp) run exactly the same code.
#include <optional>
#include <string>

#include "server/services.hpp"
#include "xml/element.hpp"
#include "xml/stream_error.hpp"

namespace parley::server {

struct StreamFailure {
  xml::StreamErrorCondition condition;
  std::string text;
};

// `stanza` is a message, presence or iq in jabber:client (kind_of(stanza) != other). Returns the
// stream error to close the stream with, or nullopt when the stanza was handled.
std::optional<StreamFailure> dispatch_stanza(ServerServices& services, BoundSession& session,
                                             xml::Element stanza);

}  // namespace parley::server
