#include "pki/crl.hpp"

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>

#include "pki/openssl_types.hpp"

namespace parley::pki {

namespace {

using openssl::oid_text;
using openssl::string_bytes;

// Bounds on attacker-controlled structure (STYLE.md, habit 6). Real CRLs from large public CAs
// reach a few hundred thousand entries; a million leaves room and still caps memory and time.
// Hitting a bound is a parse error, never a silently shortened list of revoked serials.
constexpr std::size_t kMaxRevokedEntries = 1'000'000;
constexpr int kMaxCrlExtensions = 32;
constexpr int kMaxEntryExtensions = 16;
constexpr std::size_t kMaxPemBlocks = 1024;
// How many rejected CRLs check_crl names in its detail before summarising the rest.
constexpr std::size_t kMaxReasonsInDetail = 4;

// CRL extensions (RFC 5280 5.2) that Parley either uses or may safely ignore when critical.
// deltaCRLIndicator (2.5.29.27) is deliberately absent: a delta CRL is not a complete list, so
// treating it as one would report revoked certificates as good.
constexpr std::array<std::string_view, 6> kKnownCrlExtensions = {
    "2.5.29.35",          // authorityKeyIdentifier (5.2.1)
    "2.5.29.18",          // issuerAltName (5.2.2)
    "2.5.29.20",          // cRLNumber (5.2.3), criticality judged separately
    "2.5.29.28",          // issuingDistributionPoint (5.2.5): limits how the CRL is used, below
    "2.5.29.46",          // freshestCRL (5.2.6): points at delta CRLs, which we do not fetch
    "1.3.6.1.5.5.7.1.1",  // authorityInfoAccess (5.2.7)
};

// CRL entry extensions (RFC 5280 5.3). certificateIssuer (2.5.29.29) is deliberately absent: it
// reassigns the following entries to another issuer (indirect CRLs), and ignoring it would
// attribute them to the wrong CA.
constexpr std::array<std::string_view, 3> kKnownEntryExtensions = {
    "2.5.29.21",  // reasonCode (5.3.1)
    "2.5.29.23",  // holdInstructionCode (historic, RFC 5280 left it out; still seen)
    "2.5.29.24",  // invalidityDate (5.3.2)
};

constexpr std::string_view kOidIssuingDistributionPoint = "2.5.29.28";

// OPENSSL_free is a macro; unique_ptr needs a function to call.
void free_openssl_memory(void* p) {
  OPENSSL_free(p);
}
template <class T>
using OpensslMemory = std::unique_ptr<T, openssl::Deleter<free_openssl_memory>>;

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view oid) {
  return std::find(list.begin(), list.end(), oid) != list.end();
}

// Serial numbers and cRLNumbers compare as big-endian magnitudes without leading zero octets,
// the form Certificate::serial() uses, so that 00 8f and 8f are the same number.
std::string minimal_magnitude(std::string bytes) {
  const auto first_nonzero = bytes.find_first_not_of('\0');
  if (first_nonzero == std::string::npos) return {};
  bytes.erase(0, first_nonzero);
  return bytes;
}

// Reads one DER length at data[pos]; advances pos past it. Only definite lengths up to 4 octets
// (DER forbids indefinite ones; anything longer cannot be a CRL we accepted the size of).
bool read_der_length(std::span<const std::uint8_t> data, std::size_t& pos, std::size_t& length) {
  if (pos >= data.size()) return false;
  const std::uint8_t first = data[pos++];
  if ((first & 0x80) == 0) {
    length = first;
    return true;
  }
  const std::size_t octets = first & 0x7f;
  if (octets == 0 || octets > 4 || data.size() - pos < octets) return false;
  length = 0;
  for (std::size_t i = 0; i < octets; ++i) length = (length << 8) | data[pos++];
  return true;
}

// The encoded AlgorithmIdentifier inside tbsCertList (its "signature" field). OpenSSL 3.0 has no
// getter for it, and RFC 5280 5.1.1.2 requires it to equal the outer signatureAlgorithm; a
// mismatch is the classic algorithm-substitution trick, so we find it in the DER ourselves.
// The input already decoded as a CRL, so only the outer headers need reading.
std::optional<std::span<const std::uint8_t>> tbs_signature_algorithm(
    std::span<const std::uint8_t> der) {
  constexpr std::uint8_t kSequence = 0x30;
  constexpr std::uint8_t kInteger = 0x02;
  std::size_t pos = 0;
  std::size_t length = 0;
  // CertificateList ::= SEQUENCE { tbsCertList, ... }; tbsCertList ::= SEQUENCE { version?, ...
  for (int level = 0; level < 2; ++level) {
    if (pos >= der.size() || der[pos++] != kSequence) return std::nullopt;
    if (!read_der_length(der, pos, length)) return std::nullopt;
  }
  if (pos < der.size() && der[pos] == kInteger) {  // the optional version
    ++pos;
    if (!read_der_length(der, pos, length) || der.size() - pos < length) return std::nullopt;
    pos += length;
  }
  const std::size_t start = pos;
  if (pos >= der.size() || der[pos++] != kSequence) return std::nullopt;
  if (!read_der_length(der, pos, length) || der.size() - pos < length) return std::nullopt;
  return der.subspan(start, pos + length - start);
}

bool same_signature_algorithms(const X509_CRL* crl, std::span<const std::uint8_t> der) {
  const X509_ALGOR* outer = nullptr;
  X509_CRL_get0_signature(crl, nullptr, &outer);
  const auto inner = tbs_signature_algorithm(der);
  if (outer == nullptr || !inner) return false;
  unsigned char* outer_der = nullptr;
  const int outer_length = i2d_X509_ALGOR(outer, &outer_der);
  if (outer_length <= 0) return false;
  const OpensslMemory<unsigned char> owned(outer_der);
  return static_cast<std::size_t>(outer_length) == inner->size() &&
         std::equal(inner->begin(), inner->end(), outer_der);
}

// Appends the reason a CRL is unusable; the first one found is the one reported.
void note_defect(std::string& defect, std::string text) {
  if (defect.empty()) defect = std::move(text);
}

// Reads the CRL and entry extensions: which are critical and unknown, whether extensions repeat
// (RFC 5280 4.2, applied to CRLs by 5.2: at most one instance of each), and whether a
// issuingDistributionPoint is present. Returns an error only when a bound is exceeded.
Result<void> read_crl_extensions(const X509_CRL* crl, int version, bool& unknown_critical,
                                 std::string& unknown_critical_oid, bool& has_idp,
                                 std::string& defect) {
  const int count = X509_CRL_get_ext_count(crl);
  if (count > kMaxCrlExtensions) {
    return fail(Error::limit("CRL has " + std::to_string(count) + " extensions, more than " +
                             std::to_string(kMaxCrlExtensions)));
  }
  if (count > 0 && version < 2) note_defect(defect, "version 1 CRL carries extensions");
  std::vector<std::string> seen;
  for (int i = 0; i < count; ++i) {
    X509_EXTENSION* extension = X509_CRL_get_ext(crl, i);
    if (extension == nullptr) continue;
    std::string oid = oid_text(X509_EXTENSION_get_object(extension));
    if (std::find(seen.begin(), seen.end(), oid) != seen.end()) {
      note_defect(defect, "extension " + oid + " appears more than once");
    }
    if (oid == kOidIssuingDistributionPoint) has_idp = true;
    if (X509_EXTENSION_get_critical(extension) != 0 && !contains(kKnownCrlExtensions, oid) &&
        !unknown_critical) {
      unknown_critical = true;
      unknown_critical_oid = oid;
    }
    seen.push_back(std::move(oid));
  }
  return {};
}

}  // namespace

Crl::~Crl() {
  X509_CRL_free(crl_);
}

Result<CrlPtr> Crl::from_der(std::span<const std::uint8_t> der) {
  if (der.empty()) return fail(Error::parse("CRL is empty"));
  if (der.size() > static_cast<std::size_t>(LONG_MAX))
    return fail(Error::limit("CRL is too large"));

  const unsigned char* cursor = der.data();
  openssl::X509CrlPtr parsed(d2i_X509_CRL(nullptr, &cursor, static_cast<long>(der.size())));
  if (!parsed) {
    return fail(Error::parse("CRL is not valid DER: " + openssl::last_error_text()));
  }
  // Bytes after the CRL would be ignored by OpenSSL; a CRL is one object, so they are an error.
  if (cursor != der.data() + der.size()) {
    ERR_clear_error();
    return fail(Error::parse("CRL is followed by " +
                             std::to_string(der.data() + der.size() - cursor) + " extra bytes"));
  }

  std::shared_ptr<Crl> crl(new Crl());
  crl->crl_ = parsed.release();
  X509_CRL* const x = crl->crl_;

  crl->issuer_ = distinguished_name_from_openssl(X509_CRL_get_issuer(x));
  // RFC 5280 5.1.2.3: the issuer MUST be a non-empty name; an empty one can match nothing safely.
  if (crl->issuer_.empty()) note_defect(crl->defect_, "CRL issuer name is empty");

  // The encoded value is one less than the version (0 = v1, 1 = v2). Other values stay visible
  // (clamped to fit an int) so that check_crl can name and refuse them.
  const long raw_version = X509_CRL_get_version(x);
  crl->version_ = static_cast<int>(std::clamp(raw_version, -1L, 8L)) + 1;

  if (!openssl::time_to_unix(X509_CRL_get0_lastUpdate(x), crl->this_update_)) {
    ERR_clear_error();
    return fail(Error::parse("CRL thisUpdate cannot be read"));
  }
  if (const ASN1_TIME* next = X509_CRL_get0_nextUpdate(x); next != nullptr) {
    UnixTime next_update = 0;
    if (!openssl::time_to_unix(next, next_update)) {
      ERR_clear_error();
      return fail(Error::parse("CRL nextUpdate cannot be read"));
    }
    crl->next_update_ = next_update;
  }

  if (!same_signature_algorithms(x, der)) {
    note_defect(crl->defect_, "tbsCertList.signature differs from signatureAlgorithm");
  }

  if (auto read = read_crl_extensions(x, crl->version_, crl->unknown_critical_,
                                      crl->unknown_critical_oid_, crl->has_idp_, crl->defect_);
      !read) {
    return fail(read.error());
  }

  // cRLNumber (RFC 5280 5.2.3): a non-negative INTEGER of at most 20 octets. OpenSSL already
  // refuses to decode a CRL whose cRLNumber is malformed or repeated; the range is ours to check.
  int critical = -1;
  auto* number =
      static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(x, NID_crl_number, &critical, nullptr));
  if (number != nullptr) {
    const std::unique_ptr<ASN1_INTEGER, openssl::Deleter<ASN1_INTEGER_free>> owned(number);
    std::string magnitude = minimal_magnitude(string_bytes(number));
    if (ASN1_STRING_type(number) == V_ASN1_NEG_INTEGER && !magnitude.empty()) {
      note_defect(crl->defect_, "cRLNumber is negative");
    }
    if (magnitude.size() > 20) note_defect(crl->defect_, "cRLNumber is longer than 20 octets");
    crl->crl_number_ = std::move(magnitude);
    crl->crl_number_critical_ = critical == 1;
  } else if (critical != -1) {
    note_defect(crl->defect_, "cRLNumber cannot be decoded");
  }

  // Revoked certificates, with their entry extensions (RFC 5280 5.3: a critical entry extension
  // we cannot process means the whole CRL must not be used).
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(x);
  const int entries = revoked == nullptr ? 0 : sk_X509_REVOKED_num(revoked);
  if (entries < 0 || static_cast<std::size_t>(entries) > kMaxRevokedEntries) {
    return fail(Error::limit("CRL lists " + std::to_string(entries) + " certificates, more than " +
                             std::to_string(kMaxRevokedEntries)));
  }
  crl->revoked_serials_.reserve(static_cast<std::size_t>(entries));
  for (int i = 0; i < entries; ++i) {
    const X509_REVOKED* entry = sk_X509_REVOKED_value(revoked, i);
    if (entry == nullptr) continue;
    // A negative serial compares by its magnitude, as Certificate::serial() does; the only effect
    // of that leniency is to revoke more, never less.
    crl->revoked_serials_.push_back(
        minimal_magnitude(string_bytes(X509_REVOKED_get0_serialNumber(entry))));
    const int extension_count = X509_REVOKED_get_ext_count(entry);
    if (extension_count > kMaxEntryExtensions) {
      return fail(Error::limit("CRL entry " + std::to_string(i + 1) + " has " +
                               std::to_string(extension_count) + " extensions, more than " +
                               std::to_string(kMaxEntryExtensions)));
    }
    if (extension_count > 0 && crl->version_ < 2) {
      note_defect(crl->defect_, "version 1 CRL carries entry extensions");
    }
    for (int j = 0; j < extension_count; ++j) {
      X509_EXTENSION* extension = X509_REVOKED_get_ext(entry, j);
      if (extension == nullptr || X509_EXTENSION_get_critical(extension) == 0) continue;
      std::string oid = oid_text(X509_EXTENSION_get_object(extension));
      if (!contains(kKnownEntryExtensions, oid) && !crl->unknown_critical_) {
        crl->unknown_critical_ = true;
        crl->unknown_critical_oid_ = "entry " + oid;
      }
    }
  }
  std::sort(crl->revoked_serials_.begin(), crl->revoked_serials_.end());
  ERR_clear_error();  // lookups of absent extensions leave nothing useful on the queue
  return CrlPtr(std::move(crl));
}

Result<std::vector<CrlPtr>> Crl::from_pem(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX))
    return fail(Error::limit("PEM text is too large"));
  openssl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio)
    return fail(Error::crypto("cannot allocate a memory BIO: " + openssl::last_error_text()));

  std::vector<CrlPtr> crls;
  std::size_t blocks = 0;
  // Each PEM block of any label counts towards the bound, so a text of many small non-CRL blocks
  // cannot keep us reading either.
  while (true) {
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    ERR_clear_error();
    const int read = PEM_read_bio(bio.get(), &name, &header, &data, &length);
    const OpensslMemory<char> owned_name(name);
    const OpensslMemory<char> owned_header(header);
    const OpensslMemory<unsigned char> owned_data(data);
    if (read != 1) {
      const unsigned long error = ERR_peek_last_error();
      // Running out of BEGIN lines is how PEM_read_bio says "no more blocks".
      if (ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE) {
        ERR_clear_error();
        break;
      }
      return fail(Error::parse("PEM block " + std::to_string(blocks + 1) +
                               " cannot be read: " + openssl::last_error_text()));
    }
    if (++blocks > kMaxPemBlocks) {
      return fail(
          Error::limit("PEM text has more than " + std::to_string(kMaxPemBlocks) + " blocks"));
    }
    if (std::string_view(name) != PEM_STRING_X509_CRL) continue;  // certificates beside CRLs
    auto crl = from_der(std::span<const std::uint8_t>(data, static_cast<std::size_t>(length)));
    if (!crl) {
      return fail(Error{crl.error().kind,
                        "CRL " + std::to_string(crls.size() + 1) + ": " + crl.error().message});
    }
    crls.push_back(std::move(*crl));
  }
  if (crls.empty()) return fail(Error::parse("no X509 CRL block in the PEM text"));
  return crls;
}

Result<std::vector<CrlPtr>> Crl::from_pem_or_der(std::string_view data) {
  if (data.find("-----BEGIN ") != std::string_view::npos) return from_pem(data);
  auto crl = from_der(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  if (!crl) return fail(crl.error());
  return std::vector<CrlPtr>{std::move(*crl)};
}

bool Crl::lists_serial(std::string_view serial) const {
  return std::binary_search(revoked_serials_.begin(), revoked_serials_.end(),
                            minimal_magnitude(std::string(serial)));
}

const char* to_string(CrlVerdict verdict) {
  switch (verdict) {
    case CrlVerdict::good:
      return "good";
    case CrlVerdict::revoked:
      return "revoked";
    case CrlVerdict::unknown:
      return "unknown";
    case CrlVerdict::invalid:
      return "invalid";
  }
  return "unknown";
}

namespace {

// RFC 5280 6.3.3, the steps that apply to a complete CRL from the certificate's own issuer:
// (a) currency (thisUpdate/nextUpdate), (f) the issuer may sign CRLs, (g) the signature verifies
// with the issuer's key; plus the profile rules of section 5 that make a CRL trustworthy at all.
// Returns why the CRL cannot be used, or nothing when it can. Cheap checks come first so that a CRL
// that fails them does not spend a signature check from the budget.
std::optional<std::string> validate_crl(const Crl& crl, const Certificate& issuer, UnixTime now,
                                        Budget& budget) {
  if (!crl.defect().empty()) return "malformed: " + crl.defect();
  if (crl.version() != 2) {
    return "version " + std::to_string(crl.version()) +
           " CRL (RFC 5280 5.2.3 needs v2 with cRLNumber)";
  }
  if (!crl.crl_number()) return "no cRLNumber extension (RFC 5280 5.2.3: MUST be included)";
  if (crl.crl_number_critical()) return "cRLNumber marked critical (RFC 5280 5.2.3: MUST NOT be)";
  if (crl.has_unknown_critical_extension()) {
    return "unsupported critical extension " + crl.unknown_critical_extension();
  }
  // 6.3.3 (f): "If a key usage extension is present in the CRL issuer's certificate, verify that
  // the cRLSign bit is set." Absent keyUsage places no limit.
  if (!issuer.has_key_usage(kCrlSign)) return "issuer certificate's keyUsage lacks cRLSign";
  if (now < crl.this_update()) return "thisUpdate is in the future";
  // 6.3.3 (a)(2): a CRL past its nextUpdate is stale; exactly at nextUpdate it is still current.
  if (crl.next_update() && now > *crl.next_update()) return "nextUpdate has passed";

  EVP_PKEY* key = X509_get0_pubkey(issuer.openssl());
  if (key == nullptr) {
    ERR_clear_error();
    return "issuer public key cannot be decoded";
  }
  if (!budget.spend_signature_check()) return "signature check budget exhausted";
  const int verified = X509_CRL_verify(crl.openssl(), key);
  ERR_clear_error();
  if (verified != 1) return "signature does not verify with the issuer's key";
  return std::nullopt;
}

}  // namespace

CrlCheckResult check_crl(const Certificate& certificate, const Certificate& issuer,
                         std::span<const CrlPtr> crls, UnixTime now, Budget& budget) {
  bool covered = false;         // a usable complete-scope CRL does not list the certificate
  bool scoped_only = false;     // usable CRLs exist but every one has an issuingDistributionPoint
  bool budget_ran_out = false;  // in this call: a later CRL might have listed the certificate
  std::vector<std::string> rejections;

  for (std::size_t i = 0; i < crls.size(); ++i) {  // bounded by the caller's list and the budget
    const Crl* crl = crls[i].get();
    if (crl == nullptr) continue;
    // 6.3.3 (b)(1), direct CRLs only: a CRL about another issuer says nothing about this
    // certificate, even if the same serial number appears on it.
    if (!(crl->issuer() == certificate.issuer())) continue;

    if (auto problem = validate_crl(*crl, issuer, now, budget)) {
      rejections.push_back("CRL " + std::to_string(i + 1) + ": " + *problem);
      // An exhausted budget fails the whole verification; stop spending and say so.
      if (budget.exhausted()) {
        budget_ran_out = true;
        break;
      }
      continue;
    }
    // 6.3.3 (i): listed on a usable CRL is revoked, whatever the other CRLs say. Any reason code
    // counts, certificateHold included; removeFromCRL only has meaning in delta CRLs, which we
    // do not accept.
    if (crl->lists_serial(certificate.serial())) {
      return {CrlVerdict::revoked, "serial number listed on CRL " + std::to_string(i + 1) +
                                       " from " + crl->issuer().to_display_string()};
    }
    // A CRL whose issuingDistributionPoint narrows its scope (only some reasons, only CA or user
    // certificates, one distribution point) may not cover this certificate; without checking
    // that scope (see crl.hpp) its silence is not evidence of good standing.
    if (crl->has_issuing_distribution_point()) {
      scoped_only = true;
      continue;
    }
    covered = true;
  }

  if (budget_ran_out) {
    return {CrlVerdict::invalid, "signature check budget exhausted while checking CRLs"};
  }
  if (covered) return {CrlVerdict::good, "not listed on a valid CRL from its issuer"};
  if (!rejections.empty()) {
    std::string detail = "no usable CRL from " + certificate.issuer().to_display_string() + ": ";
    const std::size_t shown = std::min(rejections.size(), kMaxReasonsInDetail);
    for (std::size_t i = 0; i < shown; ++i) {
      if (i > 0) detail += "; ";
      detail += rejections[i];
    }
    if (rejections.size() > shown) {
      detail += "; and " + std::to_string(rejections.size() - shown) + " more";
    }
    return {CrlVerdict::invalid, std::move(detail)};
  }
  if (scoped_only) {
    return {CrlVerdict::unknown,
            "only CRLs with an issuingDistributionPoint were supplied, and none lists it"};
  }
  return {CrlVerdict::unknown, "no CRL from " + certificate.issuer().to_display_string()};
}

}  // namespace parley::pki
