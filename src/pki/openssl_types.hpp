#pragma once
// Owning handles for OpenSSL objects, so that every early return frees what it allocated.
// Only .cpp files in pki/ and tls/ include this: OpenSSL types stay out of public headers.

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace parley::pki::openssl {

template <auto FreeFunction>
struct Deleter {
  template <class T>
  void operator()(T* p) const { FreeFunction(p); }
};

using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

// Dotted-decimal text of an OID ("2.5.29.19"), never the short name, so comparisons are exact.
std::string oid_text(const ASN1_OBJECT* object);

// The bytes of an ASN1_STRING (IA5String, OCTET STRING, ...).
inline std::string string_bytes(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

// An ASN1_TIME as seconds since the epoch; false when OpenSSL cannot read it.
bool time_to_unix(const ASN1_TIME* time, std::int64_t& out);

// Drains OpenSSL's error queue into one line (for messages), leaving the queue empty.
std::string last_error_text();

}  // namespace parley::pki::openssl
