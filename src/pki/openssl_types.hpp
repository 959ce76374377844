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

#include "pki/certificate.hpp"

namespace parley::pki::openssl {

template <auto FreeFunction>
struct Deleter {
  template <class T>
  void operator()(T* p) const {
    FreeFunction(p);
  }
};

using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using X509CrlPtr = std::unique_ptr<X509_CRL, Deleter<X509_CRL_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using GeneralNamePtr = std::unique_ptr<GENERAL_NAME, Deleter<GENERAL_NAME_free>>;
using GeneralNamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES_free>>;
using Asn1StringPtr = std::unique_ptr<ASN1_STRING, Deleter<ASN1_STRING_free>>;
using Asn1TypePtr = std::unique_ptr<ASN1_TYPE, Deleter<ASN1_TYPE_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT_free>>;
using Asn1BitStringPtr = std::unique_ptr<ASN1_BIT_STRING, Deleter<ASN1_BIT_STRING_free>>;
using Asn1IntegerPtr = std::unique_ptr<ASN1_INTEGER, Deleter<ASN1_INTEGER_free>>;
using Asn1OctetStringPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING_free>>;
using BasicConstraintsPtr = std::unique_ptr<BASIC_CONSTRAINTS, Deleter<BASIC_CONSTRAINTS_free>>;
using ExtendedKeyUsagePtr = std::unique_ptr<EXTENDED_KEY_USAGE, Deleter<EXTENDED_KEY_USAGE_free>>;
using AuthorityKeyIdPtr = std::unique_ptr<AUTHORITY_KEYID, Deleter<AUTHORITY_KEYID_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

inline void free_extension_stack(STACK_OF(X509_EXTENSION) * stack) {
  sk_X509_EXTENSION_pop_free(stack, X509_EXTENSION_free);
}
using X509ExtensionStackPtr =
    std::unique_ptr<STACK_OF(X509_EXTENSION), Deleter<free_extension_stack>>;

inline void free_openssl_string(char* text) {
  OPENSSL_free(text);
}
using OpensslStringPtr = std::unique_ptr<char, Deleter<free_openssl_string>>;

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

// What Parley checks of a SubjectPublicKeyInfo (algorithm, size, named curve) for certificates and
// CSRs alike. The curve comes from the AlgorithmIdentifier parameters (RFC 5480 2.1.1): asking the
// key through OpenSSL 3's provider interface gives the same answer at several times the cost.
PublicKeyInfo public_key_info(X509_PUBKEY* public_key);

// Drains OpenSSL's error queue into one line (for messages), leaving the queue empty.
std::string last_error_text();

}  // namespace parley::pki::openssl
