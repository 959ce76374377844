#include "net/http_fetch.hpp"

#include <curl/curl.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string_view>

namespace parley::net {

namespace {

// URLs come from certificates; a CA could put anything there. The bound keeps messages and logs
// readable, and control characters are refused so a URL cannot forge log lines.
constexpr std::size_t kMaxUrlLength = 2048;
constexpr int kMaxRedirectsCeiling = 10;
constexpr const char* kUserAgent = "parley/0.1 (revocation)";

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;

struct CurlHeaderListDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using CurlHeaderList = std::unique_ptr<curl_slist, CurlHeaderListDeleter>;

// curl_global_init is not safe to race with itself or with handles being created; once per
// process is what libcurl asks for. Its result is remembered so every caller sees a failure.
CURLcode global_init_once() {
  static std::once_flag once;
  static CURLcode result = CURLE_OK;
  std::call_once(once, [] { result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return result;
}

// The body collects at most `limit` bytes; the first byte beyond aborts the transfer (libcurl
// treats a short count from the write callback as an error), so a hostile server cannot make us
// buffer more than the limit whatever Content-Length it claims or omits.
struct BodySink {
  std::string body;
  std::size_t limit = 0;
  bool overflowed = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<BodySink*>(user);
  const std::size_t bytes = size * count;
  if (bytes > sink->limit - sink->body.size()) {
    sink->overflowed = true;
    return 0;
  }
  sink->body.append(data, bytes);
  return bytes;
}

Error internal_error(std::string message) {
  return Error{ErrorKind::internal, std::move(message)};
}

char ascii_lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string describe_method(HttpMethod method) {
  return method == HttpMethod::post ? "POST" : "GET";
}

long milliseconds_since(std::chrono::steady_clock::time_point start) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
}

Result<void> check_request(const HttpRequest& request, const HttpFetchLimits& limits) {
  if (request.url.size() > kMaxUrlLength) {
    return fail(Error::invalid_argument("URL longer than " + std::to_string(kMaxUrlLength) +
                                        " characters: " + request.url.substr(0, 64) + "..."));
  }
  for (const char c : request.url) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return fail(Error::invalid_argument("URL contains a space, control or non-ASCII character"));
    }
  }
  if (!is_http_url(request.url)) {
    return fail(Error::invalid_argument(
        request.url +
        ": only http:// URLs are fetched for revocation data (a TLS fetch would "
        "itself need revocation checking)"));
  }
  // A zero timeout means "wait forever" to libcurl; never let a configuration reach that.
  if (limits.connect_timeout.count() <= 0 || limits.total_timeout.count() <= 0) {
    return fail(Error::invalid_argument("HTTP fetch timeouts must be positive"));
  }
  if (limits.max_response_bytes == 0) {
    return fail(Error::invalid_argument("HTTP fetch response size limit must be positive"));
  }
  if (limits.max_redirects < 0 || limits.max_redirects > kMaxRedirectsCeiling) {
    return fail(Error::invalid_argument("HTTP fetch redirect limit must be 0.." +
                                        std::to_string(kMaxRedirectsCeiling)));
  }
  return {};
}

// Turns a failed transfer into an error that names the URL and says what went wrong in words a
// log reader understands.
Error describe_failure(const HttpRequest& request, const HttpFetchLimits& limits, CURL* handle,
                       CURLcode code, const BodySink& sink, const char* curl_message,
                       long elapsed) {
  const std::string prefix = describe_method(request.method) + " " + request.url + ": ";
  const std::string detail = curl_message[0] != '\0' ? curl_message : curl_easy_strerror(code);
  switch (code) {
    case CURLE_COULDNT_CONNECT: {
      long os_error = 0;
      curl_easy_getinfo(handle, CURLINFO_OS_ERRNO, &os_error);
      if (os_error == ECONNREFUSED) return Error::io(prefix + "connection refused");
      return Error::io(prefix + "cannot connect (" + detail + ")");
    }
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return Error::io(prefix + "cannot resolve host (" + detail + ")");
    case CURLE_OPERATION_TIMEDOUT:
      return Error::io(prefix + "timed out after " + std::to_string(elapsed) +
                       " ms (limits: connect " + std::to_string(limits.connect_timeout.count()) +
                       " ms, total " + std::to_string(limits.total_timeout.count()) + " ms)");
    case CURLE_FILESIZE_EXCEEDED:
      return Error::limit(prefix + "response larger than " +
                          std::to_string(limits.max_response_bytes) + " bytes");
    case CURLE_WRITE_ERROR:
      if (sink.overflowed) {
        return Error::limit(prefix + "response larger than " +
                            std::to_string(limits.max_response_bytes) + " bytes");
      }
      return Error::io(prefix + detail);
    case CURLE_TOO_MANY_REDIRECTS:
      return Error::limit(prefix + "more than " + std::to_string(limits.max_redirects) +
                          " redirects");
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error::invalid_argument(prefix + "redirected to a URL that is not http:// (" + detail +
                                     ")");
    default:
      return Error::io(prefix + detail);
  }
}

}  // namespace

bool is_http_url(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size()) return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (ascii_lower(url[i]) != kScheme[i]) return false;
  }
  return true;
}

Result<HttpResponse> http_fetch(const HttpRequest& request, const HttpFetchLimits& limits) {
  if (auto checked = check_request(request, limits); !checked) return fail(checked.error());
  if (const CURLcode init = global_init_once(); init != CURLE_OK) {
    return fail(
        internal_error("libcurl initialisation failed: " + std::string(curl_easy_strerror(init))));
  }

  CurlEasy handle(curl_easy_init());
  if (!handle) return fail(internal_error("libcurl cannot allocate a transfer handle"));
  CURL* const curl = handle.get();

  BodySink sink;
  sink.limit = limits.max_response_bytes;
  char curl_message[CURL_ERROR_SIZE] = {};

  CurlHeaderList headers;
  auto add_header = [&headers](const std::string& line) -> bool {
    curl_slist* extended = curl_slist_append(headers.get(), line.c_str());
    if (extended == nullptr) return false;
    static_cast<void>(headers.release());  // now owned through `extended`
    headers.reset(extended);
    return true;
  };
  bool headers_ok = true;
  if (!request.accept.empty()) headers_ok &= add_header("Accept: " + request.accept);
  if (request.method == HttpMethod::post) {
    if (!request.content_type.empty())
      headers_ok &= add_header("Content-Type: " + request.content_type);
    // libcurl would otherwise wait up to a second for "100 Continue" on larger bodies.
    headers_ok &= add_header("Expect:");
  }
  if (!headers_ok) return fail(internal_error("cannot allocate HTTP headers"));

  bool options_ok = true;
  auto set = [&options_ok](CURLcode code) { options_ok &= code == CURLE_OK; };
  set(curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str()));
  set(curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http"));
  set(curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http"));
  set(curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, limits.max_redirects > 0 ? 1L : 0L));
  set(curl_easy_setopt(curl, CURLOPT_MAXREDIRS, static_cast<long>(limits.max_redirects)));
  set(curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                       static_cast<long>(limits.connect_timeout.count())));
  set(curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(limits.total_timeout.count())));
  // Signals are process-wide; without this libcurl uses SIGALRM for DNS timeouts, which is
  // unsafe in a threaded program.
  set(curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L));
  // Refuse a body whose declared length is already too big before reading any of it.
  set(curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(limits.max_response_bytes)));
  set(curl_easy_setopt(curl, CURLOPT_HTTP09_ALLOWED, 0L));
  // An empty proxy string turns off the http_proxy/no_proxy environment variables.
  set(curl_easy_setopt(curl, CURLOPT_PROXY, limits.proxy ? limits.proxy->c_str() : ""));
  set(curl_easy_setopt(curl, CURLOPT_USERAGENT, kUserAgent));
  set(curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message));
  set(curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &write_body));
  set(curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink));
  if (headers) set(curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get()));
  if (request.method == HttpMethod::post) {
    set(curl_easy_setopt(curl, CURLOPT_POST, 1L));
    set(curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data()));
    set(curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size())));
  } else {
    set(curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L));
  }
  if (!options_ok) {
    return fail(internal_error("libcurl refused a transfer option (libcurl " +
                               std::string(curl_version()) + ")"));
  }

  const auto start = std::chrono::steady_clock::now();
  const CURLcode performed = curl_easy_perform(curl);
  const long elapsed = milliseconds_since(start);
  if (performed != CURLE_OK) {
    return fail(describe_failure(request, limits, curl, performed, sink, curl_message, elapsed));
  }

  HttpResponse response;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  const char* content_type = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK &&
      content_type != nullptr) {
    response.content_type = content_type;
  }
  const char* final_url = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_EFFECTIVE_URL, &final_url) == CURLE_OK &&
      final_url != nullptr) {
    response.final_url = final_url;
  }
  if (response.status < 200 || response.status > 299) {
    return fail(Error::io(describe_method(request.method) + " " + request.url + ": HTTP status " +
                          std::to_string(response.status)));
  }
  response.body = std::move(sink.body);
  return response;
}

}  // namespace parley::net
