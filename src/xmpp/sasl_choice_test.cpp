#include "xmpp/sasl_choice.hpp"

#include <gtest/gtest.h>

namespace parley::xmpp {
namespace {

using sasl::ChannelBindingType;
using tls::TlsVersion;
using Types = std::optional<std::vector<std::string>>;

struct Case {
  const char* name;
  std::vector<std::string> mechanisms = {};
  Types binding_types = std::nullopt;  // XEP-0440; nullopt: not listed
  TlsVersion version = TlsVersion::tls1_3;
  bool server_end_point = true;
  CertificateBasis certificate = CertificateBasis::verified_chain;
  PlainAuth plain = PlainAuth::refuse;
  tls::FipsMode fips = tls::FipsMode::off;
  // Expected: the mechanism, or empty for an error containing `error`.
  const char* mechanism = "";
  std::optional<ChannelBindingType> binding = std::nullopt;
  const char* note = "";  // a note containing this, or no note when empty
  const char* error = "";
};

const std::vector<std::string> kScramAll = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
                                            "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"};
const Types kExporter = std::vector<std::string>{"tls-exporter"};

// clang-format off
const Case kCases[] = {
    // Prosody 0.12 over TLS 1.3: no -PLUS; the "y" flag (binding present) says we could bind.
    {.name = "prosody_tls13", .mechanisms = {"PLAIN", "SCRAM-SHA-1"},
     .mechanism = "SCRAM-SHA-1", .binding = ChannelBindingType::tls_exporter},
    // Prosody 0.12 over TLS 1.2: -PLUS with tls-unique only (unlisted): "n" and a note.
    {.name = "prosody_tls12", .mechanisms = {"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-1-PLUS"},
     .version = TlsVersion::tls1_2, .mechanism = "SCRAM-SHA-1", .note = "XEP-0440"},
    // ejabberd 23.01 over TLS 1.3: -PLUS offered, no list, and it binds with tls-unique.
    {.name = "ejabberd_tls13", .mechanisms = {"PLAIN", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
     .mechanism = "SCRAM-SHA-1", .note = "XEP-0440"},
    {.name = "best_tls13", .mechanisms = kScramAll, .binding_types = kExporter,
     .mechanism = "SCRAM-SHA-256-PLUS", .binding = ChannelBindingType::tls_exporter},
    {.name = "listed_end_point_tls13", .mechanisms = kScramAll,
     .binding_types = std::vector<std::string>{"tls-server-end-point"},
     .mechanism = "SCRAM-SHA-256-PLUS", .binding = ChannelBindingType::tls_server_end_point},
    {.name = "listed_both_prefers_exporter", .mechanisms = kScramAll,
     .binding_types = std::vector<std::string>{"tls-server-end-point", "tls-exporter"},
     .mechanism = "SCRAM-SHA-256-PLUS", .binding = ChannelBindingType::tls_exporter},
    {.name = "listed_unique_only", .mechanisms = kScramAll,
     .binding_types = std::vector<std::string>{"tls-unique"}, .mechanism = "SCRAM-SHA-256",
     .note = "supports only tls-unique"},
    {.name = "exporter_not_on_tls12", .mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"},
     .binding_types = kExporter, .version = TlsVersion::tls1_2, .mechanism = "SCRAM-SHA-256",
     .note = "supports only tls-exporter"},
    {.name = "listed_end_point_tls12", .mechanisms = {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
     .binding_types = std::vector<std::string>{"tls-server-end-point"},
     .version = TlsVersion::tls1_2, .mechanism = "SCRAM-SHA-1-PLUS",
     .binding = ChannelBindingType::tls_server_end_point},
    // TLS 1.2 with an Ed25519 server certificate: no binding Parley can compute.
    {.name = "no_binding_possible", .mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"},
     .binding_types = std::vector<std::string>{"tls-server-end-point"},
     .version = TlsVersion::tls1_2, .server_end_point = false, .mechanism = "SCRAM-SHA-256",
     .note = "channel binding not used"},
    {.name = "plus_with_unsupported_hash", .mechanisms = {"SCRAM-SHA-512-PLUS", "SCRAM-SHA-1"},
     .binding_types = kExporter, .mechanism = "SCRAM-SHA-1",
     .note = "not with a hash Parley supports"},
    {.name = "tls12_no_plus_says_y", .mechanisms = {"SCRAM-SHA-1", "PLAIN"},
     .version = TlsVersion::tls1_2, .mechanism = "SCRAM-SHA-1",
     .binding = ChannelBindingType::tls_server_end_point},
    {.name = "tls12_cannot_bind_says_n", .mechanisms = {"SCRAM-SHA-1", "PLAIN"},
     .version = TlsVersion::tls1_2, .server_end_point = false, .mechanism = "SCRAM-SHA-1"},
    {.name = "scram_preferred_over_allowed_plain", .mechanisms = {"PLAIN", "SCRAM-SHA-256"},
     .plain = PlainAuth::allow_over_verified_tls, .mechanism = "SCRAM-SHA-256",
     .binding = ChannelBindingType::tls_exporter},
    {.name = "plain_only_refused_by_policy", .mechanisms = {"PLAIN"}, .error = "AllowPlainAuth"},
    {.name = "plain_only_allowed_verified", .mechanisms = {"PLAIN"},
     .plain = PlainAuth::allow_over_verified_tls, .mechanism = "PLAIN", .note = "PLAIN"},
    {.name = "plain_only_allowed_but_not_verified", .mechanisms = {"PLAIN"},
     .certificate = CertificateBasis::accepted_without_chain,
     .plain = PlainAuth::allow_over_verified_tls, .error = "verified by a trusted authority"},
    {.name = "nothing_supported", .mechanisms = {"DIGEST-MD5", "X-OAUTH2"},
     .error = "no SASL mechanism Parley supports (DIGEST-MD5, X-OAUTH2)"},
    {.name = "nothing_offered", .mechanisms = {}, .error = "(nothing)"},
    // FIPS mode: SCRAM-SHA-256 only.
    {.name = "fips_prefers_sha256", .mechanisms = kScramAll, .binding_types = kExporter,
     .fips = tls::FipsMode::on, .mechanism = "SCRAM-SHA-256-PLUS",
     .binding = ChannelBindingType::tls_exporter},
    {.name = "fips_no_sha1", .mechanisms = {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
     .binding_types = kExporter, .fips = tls::FipsMode::on,
     .error = "no SASL mechanism Parley supports"},
};
// clang-format on

TEST(SaslChoice, Table) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const SaslOffer offer{c.mechanisms, c.binding_types};
    const SaslConnection connection{c.version, c.server_end_point, c.certificate, c.plain, c.fips};
    const auto choice = choose_sasl_mechanism(offer, connection);
    if (std::string_view(c.mechanism).empty()) {
      ASSERT_FALSE(choice) << "chose " << choice->mechanism_name();
      EXPECT_NE(choice.error().message.find(c.error), std::string::npos) << choice.error().message;
      continue;
    }
    ASSERT_TRUE(choice) << choice.error().message;
    EXPECT_EQ(choice->mechanism_name(), c.mechanism);
    EXPECT_EQ(choice->binding, c.binding);
    if (std::string_view(c.note).empty()) {
      EXPECT_TRUE(choice->notes.empty()) << choice->notes.front();
    } else {
      ASSERT_EQ(choice->notes.size(), 1u);
      EXPECT_NE(choice->notes.front().find(c.note), std::string::npos) << choice->notes.front();
    }
  }
}

}  // namespace
}  // namespace parley::xmpp
