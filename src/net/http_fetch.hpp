#pragma once
// A small blocking HTTP client for revocation data (CRLs from CRL distribution points, OCSP
// responses from AIA responders), over libcurl.
//
// Only http:// URLs. RFC 5280 4.2.1.13 and RFC 6960 A.1 publish revocation data over plain HTTP
// because the data is signed; fetching it over TLS would need certificate validation, which would
// need revocation checking again (recursion, and a way for one broken CA to stall every
// connection). The spec asks for HTTP URLs in CDP and AIA. Any other scheme, including https, is
// refused before a connection is made, and redirects may not leave http either.
//
// Every fetch is bounded: a connect timeout, a total timeout, a maximum response size (the
// transfer is aborted as soon as it is exceeded; nothing is buffered beyond it), and a small
// number of redirects. Errors name the URL and the failure ("connection refused", "timed out
// after 1500 ms", "HTTP status 404", "response larger than 65536 bytes").
//
// What this does not do: TLS, authentication, cookies, content decoding (no Accept-Encoding is
// sent, so a small compressed body cannot expand past the size limit), keep-alive across calls,
// or proxies other than one given explicitly (environment proxy variables are ignored, so that a
// process environment cannot silently reroute revocation checks). Safe to call from several
// threads at once; each call uses its own connection.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "core/error.hpp"

namespace parley::net {

enum class HttpMethod { get, post };

struct HttpRequest {
  HttpMethod method = HttpMethod::get;
  std::string url;           // must start with http:// (case-insensitive scheme)
  std::string content_type;  // for POST, e.g. "application/ocsp-request"
  std::string body;          // for POST
  std::string accept;        // optional Accept header value, e.g. "application/ocsp-response"
};

struct HttpFetchLimits {
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds total_timeout{5000};  // whole transfer, connect and redirects included
  std::size_t max_response_bytes = 1024 * 1024;
  int max_redirects = 2;
  std::optional<std::string> proxy;  // "http://host:port"; none: connect directly
};

struct HttpResponse {
  long status = 0;           // always 2xx: other statuses are errors
  std::string content_type;  // as sent by the server, may be empty
  std::string body;
  std::string final_url;  // after redirects
};

// Performs the request. Fails (ErrorKind::invalid_argument) for a non-http URL; (io) for
// connection failures, timeouts and non-2xx statuses; (limit) when the response is too large or
// there are too many redirects. The message always names the URL.
Result<HttpResponse> http_fetch(const HttpRequest& request, const HttpFetchLimits& limits);

// True when the URL's scheme is http (case-insensitive), the only one http_fetch accepts.
bool is_http_url(std::string_view url);

}  // namespace parley::net
