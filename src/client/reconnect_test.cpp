#include "client/reconnect.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace parley::client {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsCapsAndGivesUp) {
  BackoffPolicy policy;
  policy.first_delay = milliseconds(100);
  policy.max_delay = milliseconds(1000);
  policy.multiplier = 2;
  policy.jitter = 0;
  policy.max_attempts = 6;
  Backoff backoff(policy);
  const std::vector<std::int64_t> expected = {100, 200, 400, 800, 1000, 1000};
  for (const auto want : expected) {
    const auto delay = backoff.next_delay();
    ASSERT_TRUE(delay);
    EXPECT_EQ(delay->count(), want);
  }
  EXPECT_FALSE(backoff.next_delay());
  EXPECT_EQ(backoff.attempts(), 6u);
  backoff.reset();
  EXPECT_EQ(backoff.next_delay()->count(), 100);
}

TEST(Backoff, JitterOnlyShortensWithinItsFraction) {
  BackoffPolicy policy;
  policy.first_delay = milliseconds(1000);
  policy.jitter = 0.5;
  struct Case {
    double draw;
    std::int64_t delay;
  };
  for (const Case c : {Case{0.0, 1000}, Case{0.5, 750}, Case{0.999, 500}, Case{7.0, 500}}) {
    Backoff backoff(policy, [&] { return c.draw; });
    EXPECT_EQ(backoff.next_delay()->count(), c.delay) << c.draw;
  }
}

TEST(Backoff, HugeExponentsStayCapped) {
  BackoffPolicy policy;
  policy.first_delay = milliseconds(1000);
  policy.max_delay = milliseconds(30'000);
  policy.multiplier = 10;
  policy.jitter = 0;
  policy.max_attempts = 1000;
  Backoff backoff(policy);
  std::optional<milliseconds> last;
  for (int i = 0; i < 1000; ++i) last = backoff.next_delay();
  ASSERT_TRUE(last);
  EXPECT_EQ(last->count(), 30'000);
}

ConnectionFailure failure_at(xmpp::NegotiationStage stage) {
  return ConnectionFailure{stage, Error::io("x"), std::nullopt};
}

TEST(Reconnect, FailuresAreClassified) {
  using xmpp::NegotiationStage;
  EXPECT_EQ(classify(failure_at(NegotiationStage::connect)), FailureClass::transient);
  EXPECT_EQ(classify(failure_at(NegotiationStage::stream)), FailureClass::transient);
  EXPECT_EQ(classify(failure_at(NegotiationStage::tls)), FailureClass::transient);
  EXPECT_EQ(classify(failure_at(NegotiationStage::bind)), FailureClass::transient);
  EXPECT_EQ(classify(failure_at(NegotiationStage::starttls)), FailureClass::permanent);
  EXPECT_EQ(classify(failure_at(NegotiationStage::certificate)), FailureClass::permanent);
  EXPECT_EQ(classify(failure_at(NegotiationStage::authentication)), FailureClass::permanent);
  ConnectionFailure refused = failure_at(NegotiationStage::tls);
  refused.trust = TrustDecision{};  // verdict rejected
  EXPECT_EQ(classify(refused), FailureClass::permanent);
}

// A fake open() that fails at the given stages in turn, then (if the list ends) succeeds with a
// null connection, which reconnect() passes through as a success.
struct ScriptedOpen {
  std::vector<xmpp::NegotiationStage> failures;
  std::size_t calls = 0;

  std::expected<std::unique_ptr<Connection>, ConnectionFailure> operator()() {
    const std::size_t call = calls++;
    if (call < failures.size()) return std::unexpected(failure_at(failures[call]));
    return std::unique_ptr<Connection>();
  }
};

BackoffPolicy quick(std::size_t attempts) {
  BackoffPolicy policy;
  policy.first_delay = milliseconds(10);
  policy.max_delay = milliseconds(40);
  policy.jitter = 0;
  policy.max_attempts = attempts;
  return policy;
}

TEST(Reconnect, RetriesTransientFailuresWithGrowingWaits) {
  using xmpp::NegotiationStage;
  ScriptedOpen script{
      {NegotiationStage::connect, NegotiationStage::connect, NegotiationStage::tls}};
  Backoff backoff(quick(5));
  std::vector<std::int64_t> waits;
  std::size_t failures_seen = 0;
  auto result = reconnect(
      [&] { return script(); }, backoff,
      [&](milliseconds delay) {
        waits.push_back(delay.count());
        return true;
      },
      ReconnectObserver{
          nullptr, [&](const ReconnectAttempt&, const ConnectionFailure&) { ++failures_seen; }});
  ASSERT_TRUE(result);
  EXPECT_EQ(script.calls, 4u);
  EXPECT_EQ(failures_seen, 3u);
  EXPECT_EQ(waits, (std::vector<std::int64_t>{10, 20, 40, 40}));
  EXPECT_EQ(backoff.attempts(), 0u) << "reset after success";
}

TEST(Reconnect, StopsAtAPermanentFailure) {
  using xmpp::NegotiationStage;
  ScriptedOpen script{{NegotiationStage::connect, NegotiationStage::certificate}};
  Backoff backoff(quick(5));
  auto result = reconnect([&] { return script(); }, backoff, [](milliseconds) { return true; });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().end, ReconnectEnd::permanent_failure);
  ASSERT_TRUE(result.error().last);
  EXPECT_EQ(result.error().last->stage, NegotiationStage::certificate);
  EXPECT_EQ(script.calls, 2u);
}

TEST(Reconnect, GivesUpAfterTheAttemptsAndStopsWhenAsked) {
  using xmpp::NegotiationStage;
  ScriptedOpen script{std::vector<NegotiationStage>(10, NegotiationStage::connect)};
  Backoff backoff(quick(3));
  auto result = reconnect([&] { return script(); }, backoff, [](milliseconds) { return true; });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().end, ReconnectEnd::attempts_exhausted);
  EXPECT_EQ(result.error().attempts, 3u);
  EXPECT_EQ(script.calls, 3u);

  ScriptedOpen never{std::vector<NegotiationStage>(10, NegotiationStage::connect)};
  Backoff fresh(quick(3));
  auto stopped = reconnect([&] { return never(); }, fresh, [](milliseconds) { return false; });
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().end, ReconnectEnd::stopped);
  EXPECT_EQ(never.calls, 0u);
}

}  // namespace
}  // namespace parley::client
