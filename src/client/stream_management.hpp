#pragma once
// XEP-0198 Stream Management, the client's side of the counting: once the server offered <sm/>
// and the client sent <enable/>, both ends count the stanzas they handled, answer each other's
// <r/> with <a h='count'/>, and the client keeps what the server has not acknowledged yet.
//
//   client                              server
//   <enable/>          ->                        (client counts its stanzas sent from here)
//                      <- <enabled/>             (client counts stanzas received from here)
//   <message/>, <r/>   ->
//                      <- <a h='1'/>             (the message is the server's now)
//                      <- <r/>
//   <a h='N'/>         ->                        (N stanzas received since <enabled/>)
//
// Counts are 32-bit on the wire and wrap (XEP-0198 4); here they are 64-bit, and an <a/> is read
// as the smallest step forward that matches its h. An acknowledgement of more stanzas than were
// sent is a protocol violation (XEP-0198 4: undefined-condition "h attribute too high").
//
// Bounded: at most `max_unacknowledged` stanzas are kept for resending. When a server never
// acknowledges, the oldest are forgotten (their count is kept, so later <a/> still line up).
//
// Resumption (XEP-0198 5, 6): enabled with resume='true', the server keeps the session for a while
// after the connection is lost. This object then moves to the next connection, which sends
// <resume previd h/> instead of binding (xmpp::ClientStream); on <resumed h/>, resumed() says
// what to send again and the counts go on where they were. When the server cannot resume, a new
// session is bound and take_unacknowledged_messages() gives the messages worth sending again.
//
// What this does not do: send anything (Connection sends what this returns) or decide when to
// ask for acknowledgements (the caller does, after its messages).

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "xml/element.hpp"

namespace parley::client {

inline constexpr std::string_view kStreamManagementNamespace = "urn:xmpp:sm:3";

// Whether the stream features (after authentication) offer XEP-0198 version 3.
bool offers_stream_management(const xml::Element& features);
// True for <enabled/>, <failed/>, <r/>, <a/>, ... in urn:xmpp:sm:3 (nonzas, never counted).
bool is_stream_management_element(const xml::Element& element);

enum class Resumption { not_requested, requested };

enum class StreamManagementState {
  off,        // not offered, not wanted, or not enabled yet
  requested,  // <enable/> sent, no answer yet
  enabled,    // the server answered <enabled/>
  failed,     // the server answered <failed/>: the stream goes on without acknowledgements
};
const char* to_string(StreamManagementState state);

class StreamManagement {
 public:
  explicit StreamManagement(std::size_t max_unacknowledged = 1000)
      : max_unacknowledged_(max_unacknowledged) {}

  StreamManagementState state() const { return state_; }

  // <enable xmlns='urn:xmpp:sm:3'/> (resume='true' when requested); counting of sent stanzas
  // starts once it went out.
  xml::Element enable_request(Resumption resumption = Resumption::not_requested);
  // <r xmlns='urn:xmpp:sm:3'/>.
  static xml::Element acknowledgement_request();
  // <a xmlns='urn:xmpp:sm:3' h='...'/> with the stanzas received so far.
  xml::Element acknowledgement() const;

  // Call for every stanza (message, presence, iq) sent after enable_request().
  void on_stanza_sent(const xml::Element& stanza);
  // Call for every stanza received; counted only after <enabled/> arrived.
  void on_stanza_received();
  // A urn:xmpp:sm:3 element from the server: <enabled/>, <failed/>, <a/> are absorbed, <r/>
  // returns the <a/> to send. An impossible <a/> is an error (the caller ends the stream).
  Result<std::optional<xml::Element>> handle(const xml::Element& element);

  // The id to resume this session with: set when the server enabled it with resume='true'.
  const std::optional<std::string>& resumption_id() const { return resumption_id_; }
  // The server resumed the session and has handled `h` of our stanzas: the stanzas to send again
  // (all kinds, oldest first; each is counted again when sent). An h beyond what was sent is an
  // error.
  Result<std::vector<xml::Element>> resumed(std::uint32_t h);

  std::uint64_t stanzas_sent() const { return sent_; }
  std::uint64_t stanzas_acknowledged() const { return acknowledged_; }
  std::uint64_t stanzas_received() const { return received_; }
  std::size_t unacknowledged_count() const {
    return static_cast<std::size_t>(sent_ - acknowledged_);
  }
  // The messages sent but not acknowledged (presence and iq are not worth resending: a new
  // session sends its own), oldest first; they are forgotten here.
  std::vector<xml::Element> take_unacknowledged_messages();

 private:
  struct Sent {
    std::uint64_t sequence = 0;
    xml::Element stanza;
  };
  Result<void> acknowledge(std::uint32_t h);

  std::size_t max_unacknowledged_;
  StreamManagementState state_ = StreamManagementState::off;
  bool counting_sent_ = false;
  std::uint64_t sent_ = 0;
  std::uint64_t acknowledged_ = 0;
  std::uint64_t received_ = 0;
  std::deque<Sent> unacknowledged_;
  std::optional<std::string> resumption_id_;
};

}  // namespace parley::client
