#pragma once
// The user's local certificate store (spec: "The Certificate Validation Process"): the
// certificates a user accepted at a prompt, each bound to the service identity it was accepted
// for, kept per account under $XDG_DATA_HOME/parley/<jid>/ (ARCHITECTURE.md, "Data on disk").
//
// An entry means "this exact certificate is what I expect from this service": the binding is
// the certificate's SHA-256 fingerprint plus the service kind, host and port it was accepted for.
// The same certificate presented by another host or for another service does not match, so
// accepting a self-signed chat server never lets the same certificate vouch for anything else.
//
// File format (<dir>/accepted-certificates, UTF-8 text, LF line ends, every line LF-terminated):
//
//   parley-accepted-certificates<TAB>1
//   <service><TAB><host><TAB><port><TAB><accepted-at><TAB><sha256><TAB><der-base64>
//   ...
//
//   service      xmpp-client, xmpp-server or https (pki::ServiceKind's spellings)
//   host         lowercase DNS name without a trailing dot (A-labels), or an IP address in
//                canonical text (inet_ntop form)
//   port         1-65535 without leading zeros, or "-" when no port is part of the binding
//   accepted-at  UTC as YYYY-MM-DDTHH:MM:SSZ
//   sha256       fingerprint of the DER as 32 uppercase hex pairs joined by ':' (the form
//                `openssl x509 -fingerprint -sha256` prints); checked against the DER on load
//   der-base64   the certificate's DER in RFC 4648 base64 with padding, no line breaks
//
// The header line carries the format version; a file of another version is refused, never
// rewritten. Parsing is strict: a field out of its form, a fingerprint that does not match the
// DER, a duplicate entry, a missing final LF (a truncated write) or any limit exceeded makes the
// whole file corrupt. A corrupt file is reported as "<file>:<line>: <problem>" and left exactly
// as it is: every later operation, including accept and remove, fails with the same report until
// the user repairs or deletes the file. Nothing here ever truncates or replaces a file it could
// not read, because the file is the user's record of trust decisions.
//
// Writes are atomic: the new content goes to a temporary file in the same directory (mode 0600),
// is fsync'ed, renamed over the store file, and the directory is fsync'ed, so that a crash
// leaves either the old or the new file. Writers hold an exclusive flock on the directory so two
// Parley processes of the same account cannot lose each other's accepts. The directory is created
// with mode 0700. A store file or directory that another user could write to (group/other write
// bits, or another owner) is refused: its entries could have been planted.
//
// What this does not do: decide whether to trust a certificate (trust_decision.hpp does), check
// validity dates (an accepted certificate is accepted as it was shown), or cache across calls
// (every operation reads the file, so concurrent processes see each other's changes).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "pki/certificate.hpp"
#include "pki/identity.hpp"

namespace parley::client {

// The service a certificate was accepted for. Built only through make(), which canonicalises the
// host so that equal services compare equal (== is exact field equality).
struct ServiceIdentity {
  pki::ServiceKind service = pki::ServiceKind::https;
  std::string host;  // canonical, see the file format above
  // nullopt: no port in the binding. Comparison is exact (a binding without a port does not match
  // a lookup with one), so a caller must build the identity the same way on every connection.
  std::optional<std::uint16_t> port;

  // Fails (invalid_argument) on a host that is neither a DNS name nor an IP literal (wildcards,
  // ports, brackets and paths are refused; U-labels become A-labels where IDNA is available), or
  // on port 0.
  static Result<ServiceIdentity> make(pki::ServiceKind service, std::string_view host,
                                      std::optional<std::uint16_t> port = std::nullopt);

  // The reference identity the verifier checks the certificate against.
  Result<pki::ReferenceIdentity> reference() const;
  std::string to_display_string() const;  // "xmpp-client example.test:5222"
  bool operator==(const ServiceIdentity&) const = default;
};

struct StoredCertificate {
  ServiceIdentity service;
  pki::CertificatePtr certificate;
  std::string fingerprint;  // SHA-256 colon hex, as in the file
  pki::UnixTime accepted_at = 0;
};

// Bounds on what a store file may hold; exceeding one on load is corruption, on accept an error.
struct StoreLimits {
  std::size_t max_file_bytes = 4 * 1024 * 1024;
  std::size_t max_entries = 1000;
  std::size_t max_certificate_bytes = 64 * 1024;  // DER; base64 makes lines about 4/3 of this
};

// What accept() does with other certificates already accepted for the same service identity.
enum class OnAccept {
  // The new certificate becomes the only one: a certificate the server replaced (perhaps because
  // its key leaked) should stop being accepted silently. The trust decision uses this.
  replace_others_for_service,
  // Keep them: for services that legitimately rotate between several certificates.
  keep_others,
};

enum class AcceptOutcome { added, already_present };

class CertificateStore {
 public:
  static constexpr std::string_view kFileName = "accepted-certificates";
  static constexpr std::string_view kHeader = "parley-accepted-certificates\t1";

  // The store of one account: $XDG_DATA_HOME/parley/<bare_jid>/ (see account_data_directory).
  static Result<CertificateStore> for_account(std::string_view bare_jid, StoreLimits limits = {});

  // The store in `directory` (which need not exist yet; accept() creates it).
  explicit CertificateStore(std::filesystem::path directory, StoreLimits limits = {});

  const std::filesystem::path& directory() const { return directory_; }
  std::filesystem::path file() const { return directory_ / kFileName; }

  // Every entry, in file order. A missing file is an empty store.
  Result<std::vector<StoredCertificate>> list() const;
  // The entries bound to exactly this service identity.
  Result<std::vector<StoredCertificate>> lookup(const ServiceIdentity& service) const;

  // Binds `certificate` to `service`, recording `accepted_at` (the caller's clock: tests pass a
  // time from the certificates).
  Result<AcceptOutcome> accept(const ServiceIdentity& service,
                               const pki::CertificatePtr& certificate, pki::UnixTime accepted_at,
                               OnAccept on_accept);

  // Remove entries; each returns how many went (0 is not an error), and writes only when > 0.
  Result<std::size_t> remove(const ServiceIdentity& service);
  // `fingerprint` as colon hex or plain hex, any case; removes the certificate for every service.
  Result<std::size_t> remove_fingerprint(std::string_view fingerprint);

 private:
  std::filesystem::path directory_;
  StoreLimits limits_;
};

// Where an account's client data lives: <data home>/parley/<bare_jid>. The data home is
// $XDG_DATA_HOME when it is set to an absolute path (the XDG Base Directory spec says to ignore a
// relative one), else $HOME/.local/share. bare_jid must be a bare JID usable as one path
// component: non-empty, at most 255 bytes, no '/', NUL or control bytes, not starting with '.'.
Result<std::filesystem::path> account_data_directory(std::string_view bare_jid);
// The same rule with the environment passed in, for tests.
Result<std::filesystem::path> data_home_from(std::optional<std::string_view> xdg_data_home,
                                             std::optional<std::string_view> home);

// SHA-256 fingerprint as uppercase hex pairs joined by ':'.
std::string fingerprint_text(const pki::Certificate& certificate);
// Accepts colon hex or plain hex in any case; returns the colon uppercase form.
Result<std::string> parse_fingerprint(std::string_view text);

// UTC as YYYY-MM-DDTHH:MM:SSZ, and the strict inverse (years 1970-9999).
std::string format_utc_time(pki::UnixTime time);
Result<pki::UnixTime> parse_utc_time(std::string_view text);

}  // namespace parley::client
