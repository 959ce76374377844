#include "client_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "client/certificate_store.hpp"
#include "core/file.hpp"
#include "pki/certificate.hpp"
#include "tls/context.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/sasl_scram.hpp"

namespace parley::integration::client_test {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(left);
}

}  // namespace

std::string fixture(const std::string& name) {
  return std::string(PARLEY_FIXTURES_DIR) + "/" + name;
}

bool have_parley_binary() {
#ifdef PARLEY_BINARY
  return true;
#else
  return false;
#endif
}

ParleyUser::ParleyUser(const std::string& name) {
  std::error_code error;
  root_ =
      fs::temp_directory_path(error) / ("parley-client-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(root_, error);
  data_home_ = root_ / "data";
  home_ = root_ / "home";
  fs::create_directories(data_home_, error);
  fs::create_directories(home_, error);
  // The certificate store refuses directories others could write to.
  fs::permissions(root_, fs::perms::owner_all, error);
}

ParleyUser::~ParleyUser() {
  std::error_code ignored;
  fs::remove_all(root_, ignored);
}

Result<ProgramOutcome> ParleyUser::run(const std::vector<std::string>& arguments,
                                       const std::string& standard_input,
                                       std::chrono::milliseconds timeout) const {
#ifdef PARLEY_BINARY
  std::vector<std::string> argv{PARLEY_BINARY};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  ProgramOptions options;
  options.standard_input = standard_input;
  options.environment = {{"XDG_DATA_HOME", data_home_.string()},
                         {"HOME", (root_ / "home").string()}};
  options.timeout = timeout;
  return run_program(std::move(argv), options);
#else
  (void)arguments;
  (void)standard_input;
  (void)timeout;
  return fail(Error::invalid_argument("PARLEY_BINARY is not defined for this build"));
#endif
}

fs::path ParleyUser::password_file(const std::string& password) const {
  const fs::path file = root_ / "password";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out << password << "\n";
  }
  std::error_code ignored;
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, ignored);
  return file;
}

std::vector<std::string> ParleyUser::command(const std::vector<std::string>& arguments) const {
#ifdef PARLEY_BINARY
  std::vector<std::string> argv{"env", "XDG_DATA_HOME=" + data_home_.string(),
                                "HOME=" + home_.string(), PARLEY_BINARY};
#else
  std::vector<std::string> argv{"false"};
#endif
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  return argv;
}

Result<std::unique_ptr<BackgroundParley>> BackgroundParley::start(
    const ParleyUser& user, const std::vector<std::string>& arguments, const std::string& name) {
  const fs::path log = user.home() / (name + ".log");
  auto process = PeerProcess::start(user.command(arguments), log.string());
  if (!process) return fail(process.error());
  return std::unique_ptr<BackgroundParley>(new BackgroundParley(std::move(*process), log));
}

std::string BackgroundParley::output() const {
  std::ifstream in(log_, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return text;
}

bool BackgroundParley::wait_for_output(const std::string& text,
                                       std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (output().find(text) != std::string::npos) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::optional<int> BackgroundParley::wait_for_exit(std::chrono::milliseconds timeout) {
  return process_->wait_for_exit(timeout);
}

fs::path ParleyUser::store_file(const std::string& bare_jid) const {
  return data_home_ / "parley" / bare_jid / "accepted-certificates";
}

std::vector<boost::json::object> json_lines(const std::string& output) {
  std::vector<boost::json::object> objects;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() != '{') continue;
    boost::system::error_code error;
    auto value = boost::json::parse(line, error);
    if (!error && value.is_object()) objects.push_back(value.as_object());
  }
  return objects;
}

std::string fixture_fingerprint(const std::string& name) {
  auto text = read_file(fixture(name));
  if (!text) return {};
  auto certificates = pki::Certificate::from_pem(*text);
  if (!certificates || certificates->empty()) return {};
  return client::fingerprint_text(*certificates->front());
}

// ---- FakeConnection -----------------------------------------------------------------------------

bool FakeConnection::send(const std::string& bytes) {
  if (tls_) {
    if (!tls_->write(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()))) {
      return false;
    }
    return flush_tls();
  }
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool FakeConnection::flush_tls() {
  std::array<std::uint8_t, 16 * 1024> buffer{};
  while (tls_->pending_ciphertext() > 0) {
    const std::size_t n = tls_->take_ciphertext(buffer);
    std::size_t sent = 0;
    while (sent < n) {
      const ssize_t written = ::send(fd_, buffer.data() + sent, n - sent, MSG_NOSIGNAL);
      if (written <= 0) return false;
      sent += static_cast<std::size_t>(written);
    }
  }
  return true;
}

bool FakeConnection::read_some(Clock::time_point deadline, std::string& out) {
  std::array<std::uint8_t, 16 * 1024> buffer{};
  for (;;) {
    if (tls_) {
      auto read = tls_->read(buffer);
      (void)flush_tls();
      if (!read) return false;
      if (read->status == tls::ReadStatus::data) {
        out.append(reinterpret_cast<const char*>(buffer.data()), read->bytes);
        return true;
      }
      if (read->status == tls::ReadStatus::closed_by_peer) return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) return false;
    if (tls_) {
      if (!tls_->feed_ciphertext(
              std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)))) {
        return false;
      }
      continue;
    }
    out.append(reinterpret_cast<const char*>(buffer.data()), static_cast<std::size_t>(n));
    return true;
  }
}

bool FakeConnection::read_until(const std::string& marker, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (const auto at = pending_.find(marker); at != std::string::npos) {
      last_read_ = pending_.substr(0, at + marker.size());
      pending_.erase(0, at + marker.size());
      return true;
    }
    std::string chunk;
    if (!read_some(deadline, chunk)) return false;
    received_ += chunk;
    if (!tls_) before_tls_ += chunk;
    pending_ += chunk;
  }
}

void FakeConnection::read_until_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string chunk;
  while (read_some(deadline, chunk)) {
    received_ += chunk;
    if (!tls_) before_tls_ += chunk;
    pending_ += chunk;
    chunk.clear();
  }
}

bool FakeConnection::start_tls(const std::string& chain_file, const std::string& key_file) {
  tls::ServerOptions options;
  options.chain_file = chain_file;
  options.key_file = key_file;
  auto context = tls::ServerContext::create(options);
  if (!context) return false;
  auto session = tls::Session::server(*context);
  if (!session) return false;
  tls_ = std::move(*session);
  pending_.clear();
  std::array<std::uint8_t, 16 * 1024> buffer{};
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto progress = tls_->handshake();
    const bool flushed = flush_tls();  // the alert too, on failure
    if (!progress || !flushed) return false;
    if (*progress == tls::HandshakeProgress::complete) break;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n <= 0) return false;
    if (!tls_->feed_ciphertext(
            std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)))) {
      return false;
    }
  }
  tls_established_ = true;
  return true;
}

Result<std::string> FakeConnection::channel_binding(tls::ChannelBinding type) const {
  if (!tls_) return fail(Error::invalid_argument("no TLS session"));
  return tls_->channel_binding(type);
}

// ---- FakeXmppServer -----------------------------------------------------------------------------

FakeXmppServer::FakeXmppServer(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 ||
      ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 1) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return;
  }
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 20'000) <= 0) return;
    const int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) return;
    connected_ = true;
    FakeConnection connection(client);
    script_(connection);
    received_ = connection.received();
    before_tls_ = connection.received_before_tls();
    tls_established_ = connection.tls_established();
    ::close(client);
  });
}

FakeXmppServer::~FakeXmppServer() {
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

std::string FakeXmppServer::finish() {
  if (thread_.joinable()) thread_.join();
  return received_;
}

bool fake_offer_starttls(FakeConnection& connection, const std::string& more_features) {
  if (!connection.read_until("streams'>")) return false;
  connection.send(fake_stream_header() + "<stream:features>" + kStarttlsFeature + more_features +
                  "</stream:features>");
  return connection.read_until("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
}

bool fake_starttls(FakeConnection& connection, const std::string& chain_file,
                   const std::string& key_file) {
  if (!fake_offer_starttls(connection)) return false;
  connection.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
  return connection.start_tls(chain_file, key_file);
}

FakeLoginOutcome fake_login(FakeConnection& connection, const FakeLogin& login) {
  FakeLoginOutcome outcome;
  auto stop = [&](std::string why) {
    outcome.failure = std::move(why);
    return outcome;
  };
  constexpr const char* kHeaderEnd = "streams'>";
  if (!fake_starttls(connection, fixture("chains/p256/chain.pem"), fixture("chains/p256/leaf.key")))
    return stop("no STARTTLS and TLS handshake");
  if (!connection.read_until(kHeaderEnd)) return stop("no stream header after TLS");
  std::string features = "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>";
  for (const auto& mechanism : login.mechanisms)
    features += "<mechanism>" + mechanism + "</mechanism>";
  features += "</mechanisms>";
  if (!login.channel_binding_types.empty()) {
    features += "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>";
    for (const auto& type : login.channel_binding_types)
      features += "<channel-binding type='" + type + "'/>";
    features += "</sasl-channel-binding>";
  }
  connection.send(fake_stream_header() + features + "</stream:features>");

  if (!connection.read_until("</auth>")) return stop("no <auth/>");
  auto auth = xml::parse_element(connection.last_read(), "");
  if (!auth) return stop("unparsable <auth/>: " + auth.error().detail);
  const std::string* mechanism_name = auth->attribute("mechanism");
  if (mechanism_name == nullptr) return stop("<auth/> without a mechanism");
  outcome.mechanism = *mechanism_name;
  const auto mechanism = xmpp::sasl::ScramMechanism::parse(*mechanism_name);
  if (!mechanism) return stop("not SCRAM: " + *mechanism_name);

  xmpp::sasl::ScramServerOptions options;
  options.mechanism = *mechanism;
  options.plus_advertised = std::any_of(login.mechanisms.begin(), login.mechanisms.end(),
                                        [](const std::string& m) { return m.ends_with("-PLUS"); });
  options.unknown_user_secret = "0123456789abcdef0123456789abcdef";
  if (auto exporter = connection.channel_binding(tls::ChannelBinding::tls_exporter))
    options.tls_exporter = *exporter;
  if (auto end_point = connection.channel_binding(tls::ChannelBinding::tls_server_end_point))
    options.tls_server_end_point = *end_point;
  const std::string password = login.password;
  auto server = xmpp::sasl::ScramServer::create(
      options, [password](std::string_view, xmpp::sasl::ScramHash hash) {
        xmpp::sasl::CredentialLookup lookup;
        auto credentials = xmpp::sasl::derive_scram_credentials(
            password, "fixed-salt-of-16", xmpp::sasl::kMinimumIterations, hash);
        if (credentials) {
          lookup.status = xmpp::sasl::LookupStatus::found;
          lookup.credentials = *credentials;
        } else {
          lookup.status = xmpp::sasl::LookupStatus::unavailable;
        }
        return lookup;
      });
  if (!server) return stop("ScramServer: " + server.error().message);
  auto sasl_failure = [&](const xmpp::sasl::Failure& failure) {
    connection.send(std::string("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><") +
                    xmpp::sasl::to_string(failure.condition) + "/></failure>");
    return stop("SASL failed: " + failure.detail);
  };
  auto client_first = xmpp::base64_decode_strict(auth->text(), 16 * 1024);
  if (!client_first) return stop("bad base64 in <auth/>");
  auto server_first = server->receive_client_first(*client_first);
  if (!server_first) return sasl_failure(server_first.error());
  connection.send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                  xmpp::base64_encode(*server_first) + "</challenge>");
  if (!connection.read_until("</response>")) return stop("no <response/>");
  auto response = xml::parse_element(connection.last_read(), "");
  if (!response) return stop("unparsable <response/>");
  auto client_final = xmpp::base64_decode_strict(response->text(), 16 * 1024);
  if (!client_final) return stop("bad base64 in <response/>");
  auto server_final = server->receive_client_final(*client_final);
  if (!server_final) return sasl_failure(server_final.error());
  std::string proof = *server_final;
  if (login.forge_server_signature) proof = "v=" + xmpp::base64_encode(std::string(32, 'x'));
  connection.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" +
                  xmpp::base64_encode(proof) + "</success>");

  if (!connection.read_until(kHeaderEnd)) return stop("no stream header after SASL");
  connection.send(fake_stream_header() +
                  "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
                  "</stream:features>");
  if (!connection.read_until("</iq>")) return stop("no bind request");
  auto bind = xml::parse_element(connection.last_read(), "jabber:client");
  if (!bind || bind->attribute("id") == nullptr) return stop("unparsable bind request");
  connection.send("<iq type='result' id='" + *bind->attribute("id") +
                  "'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>alice@example.test/fake"
                  "</jid></bind></iq>");
  outcome.bound = true;
  return outcome;
}

std::string fake_stream_header(const std::string& domain) {
  return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
         "xmlns:stream='http://etherx.jabber.org/streams' from='" +
         domain + "' id='fake-1' version='1.0' xml:lang='en'>";
}

}  // namespace parley::integration::client_test
