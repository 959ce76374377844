#include "client/message_body.hpp"

#include <gtest/gtest.h>

namespace parley::client {
namespace {

TEST(MessageBody, Table) {
  struct Case {
    std::string text;
    const char* problem;  // empty: acceptable
  };
  const Case cases[] = {
      {"hello", ""},
      {"tab\tnewline\ncr\r", ""},
      {"caf\xc3\xa9 \xe2\x82\xac", ""},
      {"", "empty"},
      {std::string(kMaxBodyBytes, 'x'), ""},
      {std::string(kMaxBodyBytes + 1, 'x'), "longer than"},
      {"bad \xc3", "not valid UTF-8"},
      {std::string("nul \0 inside", 12), "U+0000"},
      {"escape \x1b[2J", "U+001B"},
      {"\xef\xbf\xbe", "U+FFFE"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text.substr(0, 40));
    const auto problem = body_problem(c.text);
    if (*c.problem == '\0') {
      EXPECT_FALSE(problem) << *problem;
    } else {
      ASSERT_TRUE(problem);
      EXPECT_NE(problem->find(c.problem), std::string::npos) << *problem;
    }
  }
}

}  // namespace
}  // namespace parley::client
