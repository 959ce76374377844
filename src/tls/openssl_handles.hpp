#pragma once
// Owning handles for libssl objects, beside pki/openssl_types.hpp's libcrypto ones. Only .cpp
// files in tls/ include this: public tls/ headers name OpenSSL types by forward declaration only.

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <memory>

#include "pki/openssl_types.hpp"

namespace parley::tls {

using pki::openssl::Deleter;

using SslCtxPtr = std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Deleter<SSL_free>>;
using LibCtxPtr = std::unique_ptr<OSSL_LIB_CTX, Deleter<OSSL_LIB_CTX_free>>;

// The client verify callback (session.cpp): records the chain and OpenSSL's findings into the
// Session attached to the SSL and returns 1; with no Session attached, or when recording fails, it
// returns 0. context.cpp installs it on the client SSL_CTX, so an SSL made from a client context
// without a Session behind it never completes a handshake: nobody would answer for the chain.
int recording_verify_callback(int preverify_ok, X509_STORE_CTX* store);

}  // namespace parley::tls
