#include "xmpp/sasl_choice.hpp"

#include <algorithm>

#include "xmpp/stanza.hpp"

namespace parley::xmpp {
namespace {

bool offered(const SaslOffer& offer, std::string_view name) {
  return std::find(offer.mechanisms.begin(), offer.mechanisms.end(), name) !=
         offer.mechanisms.end();
}

std::string offered_list(const SaslOffer& offer) {
  if (offer.mechanisms.empty()) return "nothing";
  std::string out;
  for (const auto& name : offer.mechanisms) {
    if (!out.empty()) out += ", ";
    out += escape_for_terminal(name.substr(0, 32));
  }
  return out;
}

// The binding types this connection can provide, best first.
std::vector<sasl::ChannelBindingType> available_types(const SaslConnection& connection) {
  std::vector<sasl::ChannelBindingType> types;
  if (connection.tls_version == tls::TlsVersion::tls1_3)
    types.push_back(sasl::ChannelBindingType::tls_exporter);
  if (connection.tls_server_end_point_available)
    types.push_back(sasl::ChannelBindingType::tls_server_end_point);
  return types;
}

struct BindingPick {
  std::optional<sasl::ChannelBindingType> type;
  std::string why_not;  // when there is none
};

BindingPick pick_binding(const SaslOffer& offer, const SaslConnection& connection) {
  const auto ours = available_types(connection);
  if (offer.channel_binding_types) {
    for (const auto type : ours) {
      const auto& listed = *offer.channel_binding_types;
      if (std::find(listed.begin(), listed.end(), sasl::to_string(type)) != listed.end())
        return {type, {}};
    }
    std::string theirs;
    for (const auto& name : *offer.channel_binding_types) {
      if (!theirs.empty()) theirs += ", ";
      theirs += escape_for_terminal(name.substr(0, 32));
    }
    return {std::nullopt, "the server supports only " + (theirs.empty() ? "no type" : theirs) +
                              " and Parley can use tls-exporter (TLS 1.3) or "
                              "tls-server-end-point"};
  }
  // RFC 9266 makes tls-exporter the default over TLS 1.3, but servers disagree (ejabberd 23.01
  // binds with tls-unique even over TLS 1.3 and refuses tls-exporter), and a refused -PLUS
  // attempt costs a failed login. Without the server's list, binding is not attempted.
  return {std::nullopt,
          "the server does not say which binding types it supports (XEP-0440), and servers "
          "disagree on the default"};
}

}  // namespace

std::string SaslChoice::mechanism_name() const {
  return kind == SaslMechanismKind::plain ? std::string("PLAIN") : scram.name();
}

Result<SaslChoice> choose_sasl_mechanism(const SaslOffer& offer, const SaslConnection& connection) {
  using sasl::ChannelBindingUse;
  using sasl::ScramHash;
  std::vector<ScramHash> hashes = {ScramHash::sha256};
  if (connection.fips == tls::FipsMode::off) hashes.push_back(ScramHash::sha1);

  SaslChoice choice;
  const bool any_plus =
      std::any_of(offer.mechanisms.begin(), offer.mechanisms.end(),
                  [](const std::string& name) { return name.ends_with("-PLUS"); });
  const BindingPick binding = pick_binding(offer, connection);

  if (binding.type) {
    for (const ScramHash hash : hashes) {
      const sasl::ScramMechanism mechanism{hash, ChannelBindingUse::plus};
      if (offered(offer, mechanism.name())) {
        choice.scram = mechanism;
        choice.binding = binding.type;
        return choice;
      }
    }
  }

  for (const ScramHash hash : hashes) {
    const sasl::ScramMechanism mechanism{hash, ChannelBindingUse::none};
    if (!offered(offer, mechanism.name())) continue;
    choice.scram = mechanism;
    if (any_plus) {
      choice.notes.push_back(
          "channel binding not used: the server offered SCRAM with channel binding (-PLUS) but " +
          (binding.type ? std::string("not with a hash Parley supports") : binding.why_not));
    } else {
      // Nothing was weakened that the server could have offered; the "y" flag lets a server
      // that does support binding detect that someone removed -PLUS from its offer.
      const auto ours = available_types(connection);
      if (!ours.empty()) choice.binding = ours.front();
    }
    return choice;
  }

  if (offered(offer, "PLAIN")) {
    if (connection.plain != PlainAuth::allow_over_verified_tls) {
      return fail(Error::invalid_argument(
          "the server offers only " + offered_list(offer) +
          "; PLAIN would send the password itself and the admin policy does not allow it "
          "(AllowPlainAuth)"));
    }
    if (connection.certificate != CertificateBasis::verified_chain) {
      return fail(Error::invalid_argument(
          "the server offers only " + offered_list(offer) +
          "; PLAIN is allowed only when the server's certificate was verified by a trusted "
          "authority, and this one was accepted without that"));
    }
    choice.kind = SaslMechanismKind::plain;
    choice.notes.push_back(
        "authenticated with PLAIN (the password itself, protected by TLS only), as the admin "
        "policy allows");
    return choice;
  }
  return fail(Error::invalid_argument("the server offers no SASL mechanism Parley supports (" +
                                      offered_list(offer) + ")"));
}

}  // namespace parley::xmpp
