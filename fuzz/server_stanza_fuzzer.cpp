// libFuzzer target: parleyd's stanza handling (delivery, presence, roster, iq, archive, carbons,
// group chat) behind the stream parser. The input is the inside of
// a client stream, split at 0x00 bytes into turns; turn i is sent by session i % 3 (alice/a,
// alice/b, bob/c, all bound and available), through the same parser limits and the same
// dispatch_stanza() the server runs. Everything is in memory (SQLite ":memory:") and made fresh
// per input, so a run cannot leak state into the next. What it looks for: crashes, sanitizer
// reports, and runaway output (every session's queued bytes are bounded here).
#include <spdlog/sinks/null_sink.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "server/muc_service.hpp"
#include "server/presence_handling.hpp"
#include "server/services.hpp"
#include "server/stanza.hpp"
#include "server/stanza_dispatch.hpp"
#include "store/storage.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/sasl_scram.hpp"

namespace {

using namespace parley;

constexpr std::size_t kMaxOutputPerSession = 64 * 1024 * 1024;

class FuzzSession final : public server::BoundSession {
 public:
  explicit FuzzSession(const std::string& jid) { full_jid_ = *xmpp::Jid::parse(jid); }
  void send_wire(std::string_view wire) override {
    output_bytes += wire.size();
    if (output_bytes > kMaxOutputPerSession) std::abort();  // unbounded amplification
  }
  void terminate(xml::StreamErrorCondition, std::string_view) override { terminated = true; }
  std::size_t output_bytes = 0;
  bool terminated = false;
};

class Collector final : public xml::StreamEvents {
 public:
  xml::AfterEvent on_stream_open(const xml::StreamHeader&) override {
    return xml::AfterEvent::continue_parsing;
  }
  xml::AfterEvent on_stanza(xml::Element stanza) override {
    stanzas.push_back(std::move(stanza));
    return xml::AfterEvent::continue_parsing;
  }
  void on_stream_close() override {}
  std::vector<xml::Element> stanzas;
};

const xmpp::sasl::ScramCredentials& credentials(xmpp::sasl::ScramHash hash) {
  // Derived once: PBKDF2 per input would dominate the run time.
  static const auto sha1 = *xmpp::sasl::derive_scram_credentials("password", "fuzz-salt-fuzz-salt",
                                                                 4096, xmpp::sasl::ScramHash::sha1);
  static const auto sha256 = *xmpp::sasl::derive_scram_credentials(
      "password", "fuzz-salt-fuzz-salt", 4096, xmpp::sasl::ScramHash::sha256);
  return hash == xmpp::sasl::ScramHash::sha1 ? sha1 : sha256;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  server::ServerConfig config;
  config.domain = "example.test";
  config.muc.domain = "conference.example.test";
  store::StorageLimits limits;
  limits.max_offline_messages = 50;
  limits.max_roster_items = 50;
  auto storage = store::Storage::open("sqlite::memory:", limits);
  if (!storage) std::abort();
  for (const char* user : {"alice", "bob"})
    if (!(*storage)->accounts().create(user, credentials(xmpp::sasl::ScramHash::sha1),
                                       credentials(xmpp::sasl::ScramHash::sha256)))
      std::abort();
  auto log =
      std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>());
  server::ServerServices services(config, **storage, log);
  server::MucService muc(services);
  services.muc = &muc;

  FuzzSession sessions[] = {FuzzSession("alice@example.test/a"),
                            FuzzSession("alice@example.test/b"), FuzzSession("bob@example.test/c")};
  for (auto& session : sessions) {
    services.router.add(session);
    xml::Element presence(server::kClientNamespace, "presence");
    presence.set_attribute("from", session.full_jid().to_string());
    session.set_presence(presence, 0);
  }

  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t turn = 0;
  while (!input.empty()) {
    auto cut = input.find('\0');
    std::string_view piece = input.substr(0, cut);
    input = cut == std::string_view::npos ? std::string_view() : input.substr(cut + 1);
    FuzzSession& sender = sessions[turn++ % 3];
    if (sender.terminated) continue;
    Collector collector;
    xml::StreamParser parser(
        collector, xml::StreamParserOptions{.limits = {}, .content_namespace = "jabber:client"});
    std::string stream =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
        "to='example.test' version='1.0'>";
    stream.append(piece);
    (void)parser.feed(stream);
    for (auto& stanza : collector.stanzas) {
      if (server::kind_of(stanza) == server::StanzaKind::other) continue;
      if (server::dispatch_stanza(services, sender, std::move(stanza))) sender.terminated = true;
    }
  }
  for (auto& session : sessions) {
    server::session_ended(services, session);
    muc.session_ended(session);
    services.router.remove(session);
  }
  return 0;
}
