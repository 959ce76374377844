#include "client/reconnect.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace parley::client {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> uniform)
    : policy_(policy), uniform_(std::move(uniform)) {
  policy_.max_attempts = std::max<std::size_t>(policy_.max_attempts, 1);
  policy_.jitter = std::clamp(policy_.jitter, 0.0, 1.0);
  policy_.multiplier = std::max(policy_.multiplier, 1.0);
  if (!uniform_) {
    uniform_ = [engine = std::mt19937_64(std::random_device{}())]() mutable {
      return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    };
  }
}

std::optional<std::chrono::milliseconds> Backoff::next_delay() {
  if (attempts_ >= policy_.max_attempts) return std::nullopt;
  // In double, capped before converting back: the exponent grows without bound otherwise.
  const double uncapped = static_cast<double>(policy_.first_delay.count()) *
                          std::pow(policy_.multiplier, static_cast<double>(attempts_));
  const double capped = std::min(uncapped, static_cast<double>(policy_.max_delay.count()));
  const double drawn = capped * (1.0 - policy_.jitter * std::clamp(uniform_(), 0.0, 1.0));
  ++attempts_;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::max(drawn, 0.0)));
}

FailureClass classify(const ConnectionFailure& failure) {
  switch (failure.stage) {
    case xmpp::NegotiationStage::connect:
    case xmpp::NegotiationStage::stream:
    case xmpp::NegotiationStage::tls:
    case xmpp::NegotiationStage::bind:
      // A certificate judged and refused shows up at the tls stage when the judge's refusal
      // ends the handshake; the decision tells.
      if (failure.trust && !failure.trust->connects()) return FailureClass::permanent;
      return FailureClass::transient;
    case xmpp::NegotiationStage::starttls:
    case xmpp::NegotiationStage::certificate:
    case xmpp::NegotiationStage::authentication:
      return FailureClass::permanent;
  }
  return FailureClass::permanent;
}

std::expected<std::unique_ptr<Connection>, ReconnectFailure> reconnect(
    const OpenConnection& open, Backoff& backoff, const InterruptibleWait& wait,
    const ReconnectObserver& observer) {
  ReconnectFailure failure;
  for (;;) {
    const auto delay = backoff.next_delay();
    if (!delay) {
      failure.end = ReconnectEnd::attempts_exhausted;
      failure.attempts = backoff.attempts();
      return std::unexpected(std::move(failure));
    }
    const ReconnectAttempt attempt{backoff.attempts(), *delay};
    if (!wait(*delay)) {
      failure.end = ReconnectEnd::stopped;
      failure.attempts = backoff.attempts() - 1;
      return std::unexpected(std::move(failure));
    }
    if (observer.before_attempt) observer.before_attempt(attempt);
    auto connection = open();
    if (connection) {
      backoff.reset();
      return std::move(*connection);
    }
    if (observer.after_failure) observer.after_failure(attempt, connection.error());
    failure.last = std::move(connection.error());
    if (classify(*failure.last) == FailureClass::permanent) {
      failure.end = ReconnectEnd::permanent_failure;
      failure.attempts = backoff.attempts();
      return std::unexpected(std::move(failure));
    }
  }
}

}  // namespace parley::client
