#pragma once
// The administrator's client policy, read from a jabber-config.xml-style file (the spec's
// InvalidCertificateBehavior and FIPS_MODE; Cisco Jabber keeps its parameters in such a file,
// one element per parameter inside group elements):
//
//   <?xml version="1.0" encoding="utf-8"?>
//   <config version="1.0">
//     <Policies>
//       <InvalidCertificateBehavior>RejectAndNotify</InvalidCertificateBehavior>
//       <FIPS_MODE>true</FIPS_MODE>
//       <AllowPlainAuth>false</AllowPlainAuth>
//     </Policies>
//   </config>
//
// Parameters (each a child of any group element under <config>; Jabber's groups are Client,
// Options, Policies, ...):
//   InvalidCertificateBehavior  RejectAndNotify | PromptPerSession, spelled exactly so
//                               (default PromptPerSession, Jabber's default: the user is asked,
//                               and `parley` without a terminal answers "reject" unless told
//                               otherwise, so scripts stay safe)
//   FIPS_MODE                   true | false (default false)
//   AllowPlainAuth              true | false (default false); Parley's own parameter: whether
//                               SASL PLAIN may be used when a server offers nothing better, and
//                               then only over TLS with a verified certificate
// Other parameters are ignored (the file may carry Jabber's many others); one of ours given twice
// is an error. Booleans are "true" or "false" in any case. Surrounding whitespace is ignored.
//
// The XML is read with the restricted parser (xml::parse_element): no DTD, no entities beyond
// the predefined five, no comments, no processing instructions (an XML declaration is allowed and
// must say version 1.0 and, if it names one, encoding UTF-8). A file that breaks any rule is
// refused as a whole; an admin's policy that is half-read is worse than one refused.
//
// What this does not do: fetch the file from a server (Jabber downloads it from TFTP/HTTP), or
// merge several files.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

#include "client/trust_decision.hpp"
#include "core/error.hpp"
#include "xmpp/sasl_choice.hpp"

namespace parley::client {

inline constexpr std::string_view kDefaultAdminPolicyFile = "/etc/parley/jabber-config.xml";
inline constexpr std::size_t kMaxAdminPolicyBytes = 1024 * 1024;

struct AdminPolicy {
  InvalidCertificateBehavior on_invalid = InvalidCertificateBehavior::prompt_per_session;
  FipsMode fips = FipsMode::off;
  xmpp::PlainAuth plain = xmpp::PlainAuth::refuse;

  TrustPolicy trust_policy() const { return TrustPolicy{on_invalid, fips}; }
};

// `source` names the file in messages: "FILE: line 3: ..." for XML errors, "FILE: <FIPS_MODE>:
// ..." for values. Errors are ErrorKind::parse (or limit for an oversize file).
Result<AdminPolicy> parse_admin_policy(std::string_view text, std::string_view source);
// Reads and parses the file; a missing or unreadable file is an io error naming it.
Result<AdminPolicy> load_admin_policy(const std::filesystem::path& file);

}  // namespace parley::client
