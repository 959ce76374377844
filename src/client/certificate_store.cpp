#include "client/certificate_store.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <span>
#include <utility>

#include "core/atomic_file.hpp"
#include "pki/identity.hpp"

namespace parley::client {
namespace {

constexpr std::size_t kFieldCount = 6;
constexpr std::size_t kMaxJidBytes = 255;  // one path component on every file system we run on
constexpr std::size_t kFingerprintBytes = 32;
constexpr pki::UnixTime kLatestTime = 253402300799;  // 9999-12-31T23:59:59Z

std::string errno_text(int error) {
  return std::strerror(error);
}

// ---- encodings --------------------------------------------------------------------------------

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8) |
                            std::uint32_t{static_cast<unsigned char>(bytes[i + 2])};
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(kBase64Alphabet[(n >> 6) & 63]);
    out.push_back(kBase64Alphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    std::uint32_t n = std::uint32_t{static_cast<unsigned char>(bytes[i])} << 16;
    if (rest == 2) n |= std::uint32_t{static_cast<unsigned char>(bytes[i + 1])} << 8;
    out.push_back(kBase64Alphabet[(n >> 18) & 63]);
    out.push_back(kBase64Alphabet[(n >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict: only the canonical encoding of some byte string is accepted (padding present, no
// whitespace, unused bits zero), so one certificate has exactly one spelling in the file.
std::optional<std::string> base64_decode_canonical(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::size_t padding = 0;
  if (text.ends_with("=="))
    padding = 2;
  else if (text.ends_with("="))
    padding = 1;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    std::uint32_t n = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      int value = 0;
      if (c == '=') {
        if (!last || j < 4 - padding) return std::nullopt;
      } else {
        value = base64_value(c);
        if (value < 0) return std::nullopt;
      }
      n = (n << 6) | static_cast<std::uint32_t>(value);
    }
    out.push_back(static_cast<char>((n >> 16) & 0xff));
    if (!last || padding < 2) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (!last || padding < 1) out.push_back(static_cast<char>(n & 0xff));
  }
  if (base64_encode(out) != text) return std::nullopt;  // non-zero unused bits
  return out;
}

std::string colon_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : bytes) {
    if (!out.empty()) out.push_back(':');
    out.push_back(kDigits[static_cast<unsigned char>(c) >> 4]);
    out.push_back(kDigits[static_cast<unsigned char>(c) & 0xf]);
  }
  return out;
}

// "-" or 1..65535 written without leading zeros. (A plain struct rather than a nested optional:
// GCC 12 reports a false maybe-uninitialized on optional<optional<T>> at -O3.)
struct PortField {
  bool valid = false;
  bool present = false;
  std::uint16_t value = 0;
};

PortField parse_port_field(std::string_view text) {
  if (text == "-") return {true, false, 0};
  if (text.empty() || text.size() > 5 || text.front() == '0') return {};
  std::uint32_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return {};
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return {};
  return {true, true, static_cast<std::uint16_t>(value)};
}

std::string port_field(const std::optional<std::uint16_t>& port) {
  return port ? std::to_string(*port) : std::string("-");
}

// ---- the file ---------------------------------------------------------------------------------

std::string corrupt_message(const std::filesystem::path& file, std::size_t line,
                            std::string_view problem) {
  return file.string() + ":" + std::to_string(line) + ": " + std::string(problem) +
         " (the file was left unchanged; repair or delete it)";
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// One entry line -> StoredCertificate, or the problem as a sentence fragment.
Result<StoredCertificate> parse_entry(std::string_view line, const StoreLimits& limits) {
  const auto fields = split(line, '\t');
  if (fields.size() != kFieldCount) {
    return fail(Error::parse("expected " + std::to_string(kFieldCount) +
                             " tab-separated fields, found " + std::to_string(fields.size())));
  }
  const auto kind = pki::parse_service_kind(fields[0]);
  if (!kind) return fail(Error::parse("unknown service \"" + std::string(fields[0]) + "\""));
  const PortField port = parse_port_field(fields[2]);
  if (!port.valid) return fail(Error::parse("the port is not 1-65535 or \"-\""));
  auto service = ServiceIdentity::make(
      *kind, fields[1], port.present ? std::optional<std::uint16_t>(port.value) : std::nullopt);
  if (!service) return fail(Error::parse(service.error().message));
  if (service->host != fields[1]) {
    return fail(
        Error::parse("the host is not in canonical form (expected \"" + service->host + "\")"));
  }
  auto accepted_at = parse_utc_time(fields[3]);
  if (!accepted_at)
    return fail(Error::parse("the acceptance time: " + accepted_at.error().message));
  const std::string_view base64 = fields[5];
  if (base64.size() > (limits.max_certificate_bytes + 2) / 3 * 4) {
    return fail(Error::limit("the certificate is larger than the limit of " +
                             std::to_string(limits.max_certificate_bytes) + " bytes"));
  }
  const auto der = base64_decode_canonical(base64);
  if (!der) return fail(Error::parse("the certificate is not canonical base64"));
  auto certificate = pki::Certificate::from_der(
      std::span(reinterpret_cast<const std::uint8_t*>(der->data()), der->size()));
  if (!certificate) {
    return fail(Error::parse("the certificate does not parse: " + certificate.error().message));
  }
  const std::string fingerprint = fingerprint_text(**certificate);
  if (fields[4] != fingerprint) {
    // Either field was damaged; the DER is the record, the fingerprint its checksum.
    return fail(Error::parse("the fingerprint does not match the certificate (which has " +
                             fingerprint + ")"));
  }
  return StoredCertificate{std::move(*service), std::move(*certificate), fingerprint, *accepted_at};
}

Result<std::vector<StoredCertificate>> parse_store(std::string_view data,
                                                   const std::filesystem::path& file,
                                                   const StoreLimits& limits) {
  if (data.empty()) return fail(Error::parse(corrupt_message(file, 1, "empty file: no header")));
  if (!data.ends_with('\n')) {
    const auto lines = static_cast<std::size_t>(std::count(data.begin(), data.end(), '\n')) + 1;
    return fail(Error::parse(
        corrupt_message(file, lines, "the last line has no line end (the file looks truncated)")));
  }
  data.remove_suffix(1);
  const auto lines = split(data, '\n');
  if (lines.front() != CertificateStore::kHeader) {
    return fail(Error::parse(
        corrupt_message(file, 1,
                        lines.front().starts_with("parley-accepted-certificates\t")
                            ? "a format version this Parley does not read"
                            : "not a Parley certificate store (the header line is missing)")));
  }
  if (lines.size() - 1 > limits.max_entries) {
    return fail(Error::limit(
        corrupt_message(file, limits.max_entries + 2,
                        "more than " + std::to_string(limits.max_entries) + " entries")));
  }
  std::vector<StoredCertificate> entries;
  entries.reserve(lines.size() - 1);
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].find('\r') != std::string_view::npos) {
      return fail(Error::parse(corrupt_message(file, i + 1, "carriage return in the line")));
    }
    auto entry = parse_entry(lines[i], limits);
    if (!entry) {
      return fail(Error{entry.error().kind, corrupt_message(file, i + 1, entry.error().message)});
    }
    const bool duplicate = std::any_of(entries.begin(), entries.end(), [&](const auto& other) {
      return other.service == entry->service && other.fingerprint == entry->fingerprint;
    });
    if (duplicate) {
      return fail(Error::parse(corrupt_message(file, i + 1, "a duplicate of an earlier entry")));
    }
    entries.push_back(std::move(*entry));
  }
  return entries;
}

std::string serialise_store(const std::vector<StoredCertificate>& entries) {
  std::string out(CertificateStore::kHeader);
  out += '\n';
  for (const auto& entry : entries) {
    out += std::string(pki::to_string(entry.service.service)) + '\t' + entry.service.host + '\t' +
           port_field(entry.service.port) + '\t' + format_utc_time(entry.accepted_at) + '\t' +
           entry.fingerprint + '\t' + base64_encode(entry.certificate->der()) + '\n';
  }
  return out;
}

// Another user able to write the store (or the directory holding it) could plant entries that
// make Parley connect silently; such a store is not a record of this user's decisions.
std::optional<std::string> ownership_problem(const struct stat& st,
                                             const std::filesystem::path& p) {
  if (st.st_uid != ::geteuid()) {
    return p.string() + ": owned by another user (uid " + std::to_string(st.st_uid) +
           "); refusing to use it";
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return p.string() + ": writable by other users; refusing to use it (chmod go-w it)";
  }
  return std::nullopt;
}

// The directory's state before a read: absent is fine (empty store), anything unsafe is not.
enum class DirectoryState { absent, present };

Result<DirectoryState> check_directory(const std::filesystem::path& directory) {
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    if (errno == ENOENT) return DirectoryState::absent;
    return fail(Error::io(directory.string() + ": " + errno_text(errno)));
  }
  if (!S_ISDIR(st.st_mode)) return fail(Error::io(directory.string() + ": not a directory"));
  if (auto problem = ownership_problem(st, directory)) return fail(Error::io(*problem));
  return DirectoryState::present;
}

// Reads the store file: absent -> nullopt. Opened without following symlinks and checked on the
// open descriptor, so the checks and the read concern the same file.
Result<std::optional<std::string>> read_store_file(const std::filesystem::path& file,
                                                   const StoreLimits& limits) {
  // O_NONBLOCK: a FIFO in place of the file must fail the regular-file check below, not hang the
  // connection attempt waiting for a writer. It changes nothing for regular files.
  FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT) return std::optional<std::string>{};
    if (errno == ELOOP) {
      return fail(
          Error::io(file.string() + ": is a symbolic link; the store must be a regular file"));
    }
    return fail(Error::io(file.string() + ": cannot open: " + errno_text(errno)));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return fail(Error::io(file.string() + ": cannot stat: " + errno_text(errno)));
  }
  if (!S_ISREG(st.st_mode)) return fail(Error::io(file.string() + ": not a regular file"));
  if (auto problem = ownership_problem(st, file)) return fail(Error::io(*problem));
  if (static_cast<std::uint64_t>(st.st_size) > limits.max_file_bytes) {
    return fail(Error::limit(file.string() + ": larger than the limit of " +
                             std::to_string(limits.max_file_bytes) +
                             " bytes (the file was left unchanged; repair or delete it)"));
  }
  std::string data;
  std::array<char, 64 * 1024> buffer{};
  while (true) {
    const ssize_t got = ::read(fd.get(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(Error::io(file.string() + ": read failed: " + errno_text(errno)));
    }
    if (got == 0) break;
    // The file may grow between fstat and read; the bound holds on what is read.
    if (data.size() + static_cast<std::size_t>(got) > limits.max_file_bytes) {
      return fail(Error::limit(file.string() + ": larger than the limit of " +
                               std::to_string(limits.max_file_bytes) + " bytes"));
    }
    data.append(buffer.data(), static_cast<std::size_t>(got));
  }
  return std::optional<std::string>{std::move(data)};
}

Result<std::vector<StoredCertificate>> load_store(const std::filesystem::path& directory,
                                                  const StoreLimits& limits) {
  auto state = check_directory(directory);
  if (!state) return fail(state.error());
  if (*state == DirectoryState::absent) return std::vector<StoredCertificate>{};
  const auto file = directory / CertificateStore::kFileName;
  auto data = read_store_file(file, limits);
  if (!data) return fail(data.error());
  if (!*data) return std::vector<StoredCertificate>{};
  return parse_store(**data, file, limits);
}

// Creates every missing component with mode 0700 (the XDG spec's mode for the data home, and
// what a store of trust decisions and later of message history deserves), then makes sure the
// store directory itself is private and ours.
Result<void> ensure_directory(const std::filesystem::path& directory) {
  std::filesystem::path partial;
  for (const auto& component : directory) {
    partial /= component;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) {
      return fail(Error::io(partial.string() + ": cannot create directory: " + errno_text(errno)));
    }
  }
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    return fail(Error::io(directory.string() + ": " + errno_text(errno)));
  }
  if (!S_ISDIR(st.st_mode)) return fail(Error::io(directory.string() + ": not a directory"));
  if (st.st_uid != ::geteuid()) {
    return fail(Error::io(directory.string() + ": owned by another user; refusing to use it"));
  }
  // Parley's own directory: tightening it is safe and keeps who-the-user-talks-to private.
  if ((st.st_mode & 07777) != 0700 && ::chmod(directory.c_str(), 0700) != 0) {
    return fail(Error::io(directory.string() + ": cannot set mode 0700: " + errno_text(errno)));
  }
  return {};
}

// What a change did to the entries: only a change that needs writing touches the file.
enum class Write { needed, not_needed };
template <class T>
struct Change {
  T outcome;
  Write write = Write::needed;
};

// Runs load -> change -> write under an exclusive lock on the directory, so that two processes of
// one account cannot interleave and lose an accept. `change` edits the entries in place.
template <class T, class ChangeFunction>
Result<T> modify_store(const std::filesystem::path& directory, const StoreLimits& limits,
                       ChangeFunction change) {
  if (auto created = ensure_directory(directory); !created) return fail(created.error());
  FileDescriptor directory_fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!directory_fd.valid()) {
    return fail(Error::io(directory.string() + ": cannot open: " + errno_text(errno)));
  }
  while (::flock(directory_fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) {
      return fail(Error::io(directory.string() + ": cannot lock: " + errno_text(errno)));
    }
  }
  auto entries = load_store(directory, limits);
  if (!entries) return fail(entries.error());  // a corrupt file stays exactly as it is
  const Change<T> changed = change(*entries);
  if (changed.write == Write::not_needed) return changed.outcome;
  if (entries->size() > limits.max_entries) {
    return fail(Error::limit(directory.string() + ": the store would exceed " +
                             std::to_string(limits.max_entries) + " entries; remove some first"));
  }
  const std::string content = serialise_store(*entries);
  if (content.size() > limits.max_file_bytes) {
    return fail(Error::limit(directory.string() + ": the store would exceed " +
                             std::to_string(limits.max_file_bytes) + " bytes; remove some first"));
  }
  // Rewritten as a whole and renamed over the old file, so a crash leaves the old or the new one.
  const auto written = write_file_atomically(directory / CertificateStore::kFileName, content,
                                             {.existing = ExistingFile::replace, .mode = 0600});
  if (!written) {
    return fail(written.error());
  }
  return changed.outcome;
}

}  // namespace

// ---- ServiceIdentity --------------------------------------------------------------------------

Result<ServiceIdentity> ServiceIdentity::make(pki::ServiceKind service, std::string_view host,
                                              std::optional<std::uint16_t> port) {
  if (port && *port == 0) return fail(Error::invalid_argument("port 0 names no service"));
  auto reference = pki::ReferenceIdentity::parse(host, service);
  if (!reference) {
    return fail(Error::invalid_argument("the host is not a DNS name or IP address: " +
                                        reference.error().message));
  }
  ServiceIdentity identity;
  identity.service = service;
  identity.port = port;
  if (reference->kind == pki::IdentityKind::ip_address) {
    // inet_ntop's form is canonical (RFC 5952 for IPv6), so "::1" and "0:0::1" are one service.
    std::array<char, INET6_ADDRSTRLEN> text{};
    const int family = reference->value.size() == 4 ? AF_INET : AF_INET6;
    if (::inet_ntop(family, reference->value.data(), text.data(), text.size()) == nullptr) {
      return fail(Error::invalid_argument("the host address cannot be printed"));
    }
    identity.host = text.data();
  } else {
    identity.host = reference->value;
  }
  return identity;
}

Result<pki::ReferenceIdentity> ServiceIdentity::reference() const {
  return pki::ReferenceIdentity::parse(host, service);
}

std::string ServiceIdentity::to_display_string() const {
  std::string out = std::string(pki::to_string(service)) + " ";
  const bool ipv6 = host.find(':') != std::string::npos;
  if (port && ipv6) return out + "[" + host + "]:" + std::to_string(*port);
  out += host;
  if (port) out += ":" + std::to_string(*port);
  return out;
}

// ---- CertificateStore -------------------------------------------------------------------------

CertificateStore::CertificateStore(std::filesystem::path directory, StoreLimits limits)
    : directory_(std::move(directory)), limits_(limits) {}

Result<CertificateStore> CertificateStore::for_account(std::string_view bare_jid,
                                                       StoreLimits limits) {
  auto directory = account_data_directory(bare_jid);
  if (!directory) return fail(directory.error());
  return CertificateStore(std::move(*directory), limits);
}

Result<std::vector<StoredCertificate>> CertificateStore::list() const {
  return load_store(directory_, limits_);
}

Result<std::vector<StoredCertificate>> CertificateStore::lookup(
    const ServiceIdentity& service) const {
  auto entries = load_store(directory_, limits_);
  if (!entries) return fail(entries.error());
  std::erase_if(*entries, [&](const StoredCertificate& e) { return !(e.service == service); });
  return entries;
}

Result<AcceptOutcome> CertificateStore::accept(const ServiceIdentity& service,
                                               const pki::CertificatePtr& certificate,
                                               pki::UnixTime accepted_at, OnAccept on_accept) {
  if (!certificate) return fail(Error::invalid_argument("no certificate to accept"));
  // Only times the file format can spell back: anything else would write a file that the next
  // load reports as corrupt.
  if (accepted_at < 0 || accepted_at > kLatestTime) {
    return fail(Error::invalid_argument("the acceptance time is outside 1970-9999"));
  }
  if (certificate->der().size() > limits_.max_certificate_bytes) {
    return fail(Error::limit("the certificate is larger than the store's limit of " +
                             std::to_string(limits_.max_certificate_bytes) + " bytes"));
  }
  const std::string fingerprint = fingerprint_text(*certificate);
  return modify_store<AcceptOutcome>(
      directory_, limits_, [&](std::vector<StoredCertificate>& entries) {
        const auto same_service = [&](const StoredCertificate& e) { return e.service == service; };
        const bool present = std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
          return same_service(e) && e.fingerprint == fingerprint;
        });
        std::size_t replaced = 0;
        if (on_accept == OnAccept::replace_others_for_service) {
          replaced = std::erase_if(entries, [&](const StoredCertificate& e) {
            return same_service(e) && e.fingerprint != fingerprint;
          });
        }
        if (present) {
          // Accepting again keeps the first acceptance time: it records when trust began.
          return Change<AcceptOutcome>{AcceptOutcome::already_present,
                                       replaced > 0 ? Write::needed : Write::not_needed};
        }
        entries.push_back({service, certificate, fingerprint, accepted_at});
        return Change<AcceptOutcome>{AcceptOutcome::added, Write::needed};
      });
}

Result<std::size_t> CertificateStore::remove(const ServiceIdentity& service) {
  // Nothing to remove from a store that was never created; do not create it just to say so.
  auto state = check_directory(directory_);
  if (!state) return fail(state.error());
  if (*state == DirectoryState::absent) return std::size_t{0};
  return modify_store<std::size_t>(
      directory_, limits_, [&](std::vector<StoredCertificate>& entries) {
        const std::size_t removed = std::erase_if(
            entries, [&](const StoredCertificate& e) { return e.service == service; });
        return Change<std::size_t>{removed, removed > 0 ? Write::needed : Write::not_needed};
      });
}

Result<std::size_t> CertificateStore::remove_fingerprint(std::string_view fingerprint) {
  auto canonical = parse_fingerprint(fingerprint);
  if (!canonical) return fail(canonical.error());
  // Nothing to remove from a store that was never created; do not create it just to say so.
  auto state = check_directory(directory_);
  if (!state) return fail(state.error());
  if (*state == DirectoryState::absent) return std::size_t{0};
  return modify_store<std::size_t>(
      directory_, limits_, [&](std::vector<StoredCertificate>& entries) {
        const std::size_t removed = std::erase_if(
            entries, [&](const StoredCertificate& e) { return e.fingerprint == *canonical; });
        return Change<std::size_t>{removed, removed > 0 ? Write::needed : Write::not_needed};
      });
}

// ---- free functions ---------------------------------------------------------------------------

Result<std::filesystem::path> data_home_from(std::optional<std::string_view> xdg_data_home,
                                             std::optional<std::string_view> home) {
  // XDG Base Directory spec: "If an implementation encounters a relative path in any of these
  // variables it should consider the path invalid and ignore it."
  if (xdg_data_home && !xdg_data_home->empty() && xdg_data_home->front() == '/') {
    return std::filesystem::path(*xdg_data_home);
  }
  if (home && !home->empty() && home->front() == '/') {
    return std::filesystem::path(*home) / ".local" / "share";
  }
  return fail(
      Error::invalid_argument("neither XDG_DATA_HOME nor HOME is set to an absolute path; cannot "
                              "place the account's data"));
}

Result<std::filesystem::path> account_data_directory(std::string_view bare_jid) {
  if (bare_jid.empty() || bare_jid.size() > kMaxJidBytes) {
    return fail(Error::invalid_argument("the account JID must be 1-" +
                                        std::to_string(kMaxJidBytes) + " bytes"));
  }
  // The JID becomes one path component: nothing in it may climb out of or into other directories.
  const bool unsafe =
      bare_jid.front() == '.' || std::any_of(bare_jid.begin(), bare_jid.end(), [](char c) {
        return c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      });
  if (unsafe) {
    return fail(Error::invalid_argument(
        "the account must be a bare JID (no '/', control characters or leading '.')"));
  }
  const char* xdg = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  auto data_home = data_home_from(xdg ? std::optional<std::string_view>(xdg) : std::nullopt,
                                  home ? std::optional<std::string_view>(home) : std::nullopt);
  if (!data_home) return fail(data_home.error());
  return *data_home / "parley" / std::string(bare_jid);
}

std::string fingerprint_text(const pki::Certificate& certificate) {
  return colon_hex(certificate.sha256_fingerprint());
}

Result<std::string> parse_fingerprint(std::string_view text) {
  std::string bytes;
  int pending = -1;
  std::size_t colons = 0;
  for (const char c : text) {
    if (c == ':') {
      // Colons only between pairs, and either between every pair or nowhere.
      if (pending >= 0 || bytes.empty())
        return fail(Error::invalid_argument("misplaced ':' in the fingerprint"));
      ++colons;
      continue;
    }
    int value = -1;
    if (c >= '0' && c <= '9')
      value = c - '0';
    else if (c >= 'a' && c <= 'f')
      value = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      value = c - 'A' + 10;
    if (value < 0) return fail(Error::invalid_argument("the fingerprint is not hexadecimal"));
    if (pending < 0) {
      pending = value;
    } else {
      bytes.push_back(static_cast<char>(pending * 16 + value));
      pending = -1;
    }
    if (bytes.size() > kFingerprintBytes) break;
  }
  if (pending >= 0 || bytes.size() != kFingerprintBytes ||
      (colons != 0 && colons != kFingerprintBytes - 1)) {
    return fail(
        Error::invalid_argument("a SHA-256 fingerprint is 32 bytes of hex (64 digits, "
                                "optionally with ':' between pairs)"));
  }
  return colon_hex(bytes);
}

std::string format_utc_time(pki::UnixTime time) {
  using namespace std::chrono;
  const sys_seconds point{seconds{time}};
  const auto day = floor<days>(point);
  const year_month_day date{day};
  const hh_mm_ss clock{point - day};
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02d:%02d:%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(clock.hours().count()), static_cast<int>(clock.minutes().count()),
                static_cast<int>(clock.seconds().count()));
  return text;
}

Result<pki::UnixTime> parse_utc_time(std::string_view text) {
  // Exactly YYYY-MM-DDTHH:MM:SSZ: one spelling per instant.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  const auto bad = [] {
    return fail(Error::parse("not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ"));
  };
  if (text.size() != kShape.size()) return bad();
  for (std::size_t i = 0; i < kShape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return bad();
  }
  const auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  using namespace std::chrono;
  const year_month_day date{year{number(0, 4)}, month{static_cast<unsigned>(number(5, 2))},
                            day{static_cast<unsigned>(number(8, 2))}};
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (!date.ok() || date.year() < year{1970} || hour > 23 || minute > 59 || second > 59) {
    return bad();
  }
  const auto point = sys_days{date} + hours{hour} + minutes{minute} + seconds{second};
  return static_cast<pki::UnixTime>(point.time_since_epoch().count());
}

}  // namespace parley::client
