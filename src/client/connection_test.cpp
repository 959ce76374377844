// The parts of connection.hpp that need no server; the connection itself is tested against
// Prosody and fake servers in tests/integration/client_*_test.cpp.
#include "client/connection.hpp"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

struct AddressCase {
  const char* text;
  const char* host;  // empty: an error containing `error`
  std::uint16_t port = 0;
  const char* error = "";
};

const AddressCase kAddresses[] = {
    {"example.test", "example.test", 5222},
    {"example.test:5269", "example.test", 5269},
    {"127.0.0.1:18950", "127.0.0.1", 18950},
    {"[::1]:5223", "::1", 5223},
    {"[2001:db8::1]", "2001:db8::1", 5222},
    {"::1", "", 0, "write an IPv6 address in brackets"},
    {"example.test:0", "", 0, "from 1 to 65535"},
    {"example.test:65536", "", 0, "from 1 to 65535"},
    {"example.test:", "", 0, "from 1 to 65535"},
    {"example.test:52a", "", 0, "from 1 to 65535"},
    {":5222", "", 0, "no host"},
    {"[::1", "", 0, "not closed"},
    {"[::1]5222", "", 0, "expected :PORT"},
    {"user@example.test", "", 0, "not a host name"},
    {"exa mple.test", "", 0, "not a host name"},
    {"", "", 0, "empty"},
};

TEST(ServerAddress, Table) {
  for (const auto& c : kAddresses) {
    SCOPED_TRACE(c.text);
    const auto address = parse_server_address(c.text, 5222);
    if (*c.host == '\0') {
      ASSERT_FALSE(address) << address->host;
      EXPECT_NE(address.error().message.find(c.error), std::string::npos)
          << address.error().message;
      continue;
    }
    ASSERT_TRUE(address) << address.error().message;
    EXPECT_EQ(address->host, c.host);
    EXPECT_EQ(address->port, c.port);
  }
}

TEST(ServiceIdentityOfAccount, IsTheJidDomainWithoutPort) {
  for (const auto& [jid_text, host] :
       std::vector<std::pair<std::string, std::string>>{{"alice@Example.TEST", "example.test"},
                                                        {"alice@127.0.0.1", "127.0.0.1"},
                                                        {"alice@[::1]", "::1"}}) {
    auto jid = xmpp::Jid::parse(jid_text);
    ASSERT_TRUE(jid) << jid.error().message;
    auto service = xmpp_service_identity(*jid);
    ASSERT_TRUE(service) << jid_text << ": " << service.error().message;
    EXPECT_EQ(service->service, pki::ServiceKind::xmpp_client);
    EXPECT_EQ(service->host, host);
    EXPECT_FALSE(service->port.has_value());
  }
}

}  // namespace
}  // namespace parley::client
