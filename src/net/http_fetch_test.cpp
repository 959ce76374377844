// Tables for net/http_fetch: URL and limit checks without a network, then the bounds (size,
// redirects, timeout) against a canned one-thread HTTP server on 127.0.0.1 with an ephemeral
// port, so nothing here depends on fixed ports or outside programs.

#include "net/http_fetch.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace parley::net {
namespace {

using namespace std::chrono_literals;

// A socket bound to 127.0.0.1 on a port the kernel picks.
int bound_loopback_socket(std::uint16_t& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  port = ntohs(address.sin_port);
  return fd;
}

// Serves one canned answer to every connection, one at a time; `{port}` in the answer becomes
// its own port (for redirects to itself). With an empty answer it accepts and never answers.
class CannedHttpServer {
 public:
  explicit CannedHttpServer(std::string answer) : answer_(std::move(answer)) {
    listener_ = bound_loopback_socket(port_);
    if (listener_ < 0 || ::listen(listener_, 8) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    const std::string marker = "{port}";
    if (const auto at = answer_.find(marker); at != std::string::npos) {
      answer_.replace(at, marker.size(), std::to_string(port_));
    }
    thread_ = std::thread([this] { serve(); });
  }
  ~CannedHttpServer() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (listener_ >= 0) ::close(listener_);
  }
  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::string last_request() const {
    const std::lock_guard lock(mutex_);
    return last_request_;
  }

 private:
  void serve() {
    std::vector<int> held;  // connections kept open without an answer
    while (!stop_) {
      pollfd waiting{listener_, POLLIN, 0};
      if (::poll(&waiting, 1, 50) <= 0) continue;
      const int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) continue;
      if (answer_.empty()) {
        held.push_back(connection);
        continue;
      }
      read_request(connection);
      std::size_t sent = 0;
      while (sent < answer_.size()) {
        const ssize_t n =
            ::send(connection, answer_.data() + sent, answer_.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      ::close(connection);
    }
    for (const int fd : held) ::close(fd);
  }

  // Reads the head and a Content-Length body, within a second and 64 KiB.
  void read_request(int connection) {
    std::string request;
    const auto give_up = std::chrono::steady_clock::now() + 1s;
    std::size_t wanted = std::string::npos;
    while (request.size() < 65536 && std::chrono::steady_clock::now() < give_up) {
      pollfd readable{connection, POLLIN, 0};
      if (::poll(&readable, 1, 50) <= 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
      if (n <= 0) break;
      request.append(buffer, static_cast<std::size_t>(n));
      const auto head_end = request.find("\r\n\r\n");
      if (head_end == std::string::npos) continue;
      if (wanted == std::string::npos) {
        std::size_t body_length = 0;
        const auto header = request.find("Content-Length: ");
        if (header != std::string::npos && header < head_end) {
          body_length = std::stoul(request.substr(header + 16));
        }
        wanted = head_end + 4 + body_length;
      }
      if (request.size() >= wanted) break;
    }
    const std::lock_guard lock(mutex_);
    last_request_ = std::move(request);
  }

  std::string answer_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::string last_request_;
};

HttpFetchLimits short_limits() {
  HttpFetchLimits limits;
  limits.connect_timeout = 1000ms;
  limits.total_timeout = 2000ms;
  limits.max_response_bytes = 1000;
  limits.max_redirects = 2;
  return limits;
}

HttpRequest get(const std::string& url) {
  HttpRequest request;
  request.url = url;
  return request;
}

struct UrlCase {
  const char* url;
  bool is_http;
};

class HttpUrlTable : public testing::TestWithParam<UrlCase> {};

TEST_P(HttpUrlTable, OnlyHttpIsFetched) {
  const UrlCase& c = GetParam();
  EXPECT_EQ(is_http_url(c.url), c.is_http) << c.url;
  if (!c.is_http) {
    auto fetched = http_fetch(get(c.url), short_limits());
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().kind, ErrorKind::invalid_argument) << fetched.error().message;
  }
}

INSTANTIATE_TEST_SUITE_P(Schemes, HttpUrlTable,
                         testing::Values(UrlCase{"http://127.0.0.1:18888", true},
                                         UrlCase{"HTTP://ca.example.test/ca.crl", true},
                                         UrlCase{"https://ca.example.test/ca.crl", false},
                                         UrlCase{"ldap://ca.example.test/cn=CA", false},
                                         UrlCase{"file:///etc/passwd", false},
                                         UrlCase{"ftp://ca.example.test/ca.crl", false},
                                         UrlCase{"http://", false}, UrlCase{"", false}));

TEST(HttpFetch, RefusesHttpsWithAnExplanation) {
  auto fetched = http_fetch(get("https://127.0.0.1:1/ca.crl"), short_limits());
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message.find("only http://"), std::string::npos);
  EXPECT_NE(fetched.error().message.find("https://127.0.0.1:1/ca.crl"), std::string::npos);
}

TEST(HttpFetch, RefusesControlCharactersInUrls) {
  auto fetched = http_fetch(get("http://127.0.0.1:1/a\r\nInjected: yes"), short_limits());
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::invalid_argument);
}

TEST(HttpFetch, RefusesUnboundedLimits) {
  for (auto change : {+[](HttpFetchLimits& l) { l.total_timeout = 0ms; },
                      +[](HttpFetchLimits& l) { l.connect_timeout = 0ms; },
                      +[](HttpFetchLimits& l) { l.max_response_bytes = 0; },
                      +[](HttpFetchLimits& l) { l.max_redirects = 1000; }}) {
    HttpFetchLimits limits = short_limits();
    change(limits);
    auto fetched = http_fetch(get("http://127.0.0.1:1/"), limits);
    ASSERT_FALSE(fetched);
    EXPECT_EQ(fetched.error().kind, ErrorKind::invalid_argument) << fetched.error().message;
  }
}

TEST(HttpFetch, GetReturnsBodyAndContentType) {
  CannedHttpServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: 5\r\n"
      "Connection: close\r\n\r\nhello");
  auto fetched = http_fetch(get(server.url("/ca.crl")), short_limits());
  ASSERT_TRUE(fetched) << fetched.error().message;
  EXPECT_EQ(fetched->status, 200);
  EXPECT_EQ(fetched->body, "hello");
  EXPECT_EQ(fetched->content_type, "application/pkix-crl");
  EXPECT_NE(server.last_request().find("GET /ca.crl HTTP/1.1"), std::string::npos);
  // No Accept-Encoding: a compressed body could expand past the size limit after the check.
  EXPECT_EQ(server.last_request().find("Accept-Encoding"), std::string::npos);
}

TEST(HttpFetch, PostSendsBodyAndContentType) {
  CannedHttpServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  HttpRequest request;
  request.method = HttpMethod::post;
  request.url = server.url();
  request.content_type = "application/ocsp-request";
  request.body = std::string("\x30\x03\x02\x01\x00", 5);
  auto fetched = http_fetch(request, short_limits());
  ASSERT_TRUE(fetched) << fetched.error().message;
  const std::string seen = server.last_request();
  EXPECT_NE(seen.find("POST / HTTP/1.1"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Content-Type: application/ocsp-request"), std::string::npos) << seen;
  EXPECT_NE(seen.find(request.body), std::string::npos);
}

struct FailureCase {
  const char* name;
  const char* answer;
  ErrorKind kind;
  const char* message_contains;
};

class HttpFailureTable : public testing::TestWithParam<FailureCase> {};

TEST_P(HttpFailureTable, FailsWithUrlAndReason) {
  const FailureCase& c = GetParam();
  CannedHttpServer server(c.answer);
  auto fetched = http_fetch(get(server.url("/x")), short_limits());
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, c.kind) << fetched.error().message;
  EXPECT_NE(fetched.error().message.find(c.message_contains), std::string::npos)
      << fetched.error().message;
  EXPECT_NE(fetched.error().message.find(server.url("/x")), std::string::npos)
      << fetched.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Bounds, HttpFailureTable,
    testing::Values(
        FailureCase{"NotFound", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
                    ErrorKind::io, "HTTP status 404"},
        FailureCase{"DeclaredTooLarge",
                    "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n",
                    ErrorKind::limit, "larger than 1000 bytes"},
        // No Content-Length: the body is cut off as it arrives.
        FailureCase{"StreamedTooLarge",
                    "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789"
                    "0123456789012345678901234567890123456789012345678901234567890123456789",
                    ErrorKind::limit, "larger than 1000 bytes"},
        FailureCase{"RedirectToHttps",
                    "HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:1/ca.crl\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n",
                    ErrorKind::invalid_argument, "not http://"},
        FailureCase{"RedirectLoop",
                    "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/again\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n",
                    ErrorKind::limit, "more than 2 redirects"}),
    [](const testing::TestParamInfo<FailureCase>& test_case) {
      return std::string(test_case.param.name);
    });

TEST(HttpFetch, ConnectionRefusedNamesUrl) {
  std::uint16_t port = 0;
  const int bound = bound_loopback_socket(port);  // bound, not listening: connections refused
  ASSERT_GE(bound, 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/ca.crl";
  auto fetched = http_fetch(get(url), short_limits());
  ::close(bound);
  ASSERT_FALSE(fetched);
  EXPECT_EQ(fetched.error().kind, ErrorKind::io);
  EXPECT_NE(fetched.error().message.find("connection refused"), std::string::npos)
      << fetched.error().message;
  EXPECT_NE(fetched.error().message.find(url), std::string::npos) << fetched.error().message;
}

TEST(HttpFetch, SilentServerTimesOutWithinTheLimit) {
  CannedHttpServer server("");  // accepts, never answers
  HttpFetchLimits limits = short_limits();
  limits.total_timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  auto fetched = http_fetch(get(server.url()), limits);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message.find("timed out after"), std::string::npos)
      << fetched.error().message;
  // Generous margin: the point is "bounded", not a precise clock.
  EXPECT_LT(elapsed, 300ms + 2s);
}

}  // namespace
}  // namespace parley::net
