#include "server/stanza_dispatch.hpp"

#include "server/delivery.hpp"
#include "server/iq_handling.hpp"
#include "server/muc_service.hpp"
#include "server/presence_handling.hpp"
#include "server/stanza.hpp"

namespace parley::server {

std::optional<StreamFailure> dispatch_stanza(ServerServices& services, BoundSession& session,
                                             xml::Element stanza) {
  const xmpp::Jid& self = session.full_jid();
  // RFC 6120 8.1.2.1: the server stamps 'from'; a client may only claim its own addresses.
  if (const std::string* from = stanza.attribute("from")) {
    auto claimed = services.jids.parse(*from);
    if (!claimed || (*claimed != self && *claimed != self.bare()))
      return StreamFailure{xml::StreamErrorCondition::invalid_from,
                           "'from' is not this session's address"};
  }
  stanza.set_attribute("from", self.to_string());

  // 'to', prepared once for whoever needs it below (the other handlers read it themselves).
  const StanzaKind kind = kind_of(stanza);
  std::optional<Result<xmpp::Jid>> target;
  if (const std::string* to = stanza.attribute("to");
      to != nullptr && (services.muc != nullptr || kind == StanzaKind::message)) {
    if (const xmpp::Jid* last = session.last_address(*to)) {
      target = *last;
    } else {
      target = services.jids.parse(*to);
      if (*target) session.set_last_address(*to, **target);
    }
  }

  // Group chat lives on its own domain; everything addressed there is the MUC service's.
  if (services.muc != nullptr && target && *target &&
      (**target).domainpart() == services.muc->domain()) {
    services.muc->handle(session, std::move(stanza), **target);
    return std::nullopt;
  }

  switch (kind) {
    case StanzaKind::message: {
      if (!target) {
        // RFC 6120 10.3.1: no 'to' means the account's own bare JID.
        route_message(services, session, std::move(stanza), self.bare());
      } else if (!*target) {
        session.send_wire(
            to_wire(make_error_reply(stanza, services.domain, ErrorType::modify, "jid-malformed")));
      } else {
        route_message(services, session, std::move(stanza), **target);
      }
      return std::nullopt;
    }
    case StanzaKind::presence:
      handle_presence(services, session, std::move(stanza));
      return std::nullopt;
    case StanzaKind::iq:
      handle_iq(services, session, stanza);
      return std::nullopt;
    case StanzaKind::other:
      break;
  }
  return StreamFailure{xml::StreamErrorCondition::unsupported_stanza_type,
                       "only message, presence, iq and stream management are accepted"};
}

}  // namespace parley::server
