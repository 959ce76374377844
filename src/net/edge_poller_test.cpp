#include "net/edge_poller.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace parley::net {
namespace {

using namespace std::chrono_literals;

// A connected pair of non-blocking stream sockets: writes to `peer` arrive at `watched`.
struct SocketPair {
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
      std::abort();
    watched = fds[0];
    peer = fds[1];
  }
  ~SocketPair() {
    if (watched >= 0) ::close(watched);
    if (peer >= 0) ::close(peer);
  }
  void send(const std::string& text) const {
    ASSERT_EQ(::write(peer, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  int watched = -1;
  int peer = -1;
};

// Reads everything available on every call, as the contract asks, and keeps it.
class Reader : public InputListener {
 public:
  explicit Reader(int fd) : fd_(fd) {}
  void on_input() override {
    ++calls;
    char buffer[4];  // small: several reads per call for longer input
    for (;;) {
      const ssize_t n = ::read(fd_, buffer, sizeof buffer);
      if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
      if (n <= 0) {
        if (n == 0) ended = true;
        break;
      }
    }
    if (after_input) after_input();
  }
  int fd_;
  int calls = 0;
  bool ended = false;
  std::string received;
  std::function<void()> after_input;
};

void run_for(boost::asio::io_context& io, std::chrono::milliseconds time) {
  io.restart();
  io.run_for(time);
}

TEST(EdgePollerTest, CallsTheListenerOnceForEachArrivalOfInput) {
  boost::asio::io_context io;
  auto poller = EdgePoller::create(io.get_executor());
  ASSERT_TRUE(poller) << poller.error().message;
  SocketPair pair;
  Reader reader(pair.watched);
  auto watch = (*poller)->watch_input(pair.watched, reader);
  ASSERT_TRUE(watch) << watch.error().message;
  EXPECT_TRUE(watch->active());
  EXPECT_EQ((*poller)->watched(), 1u);

  run_for(io, 20ms);
  EXPECT_EQ(reader.calls, 0) << "no input, no call";
  pair.send("hello, world");
  run_for(io, 50ms);
  EXPECT_EQ(reader.received, "hello, world");
  EXPECT_EQ(reader.calls, 1) << "edge-triggered: one call for one arrival";
  run_for(io, 20ms);
  EXPECT_EQ(reader.calls, 1) << "nothing new arrived";

  pair.send("again");
  run_for(io, 50ms);
  EXPECT_EQ(reader.received, "hello, worldagain");
  EXPECT_EQ(reader.calls, 2);

  ::shutdown(pair.peer, SHUT_WR);
  run_for(io, 50ms);
  EXPECT_TRUE(reader.ended) << "the end of input is input too";
}

TEST(EdgePollerTest, CancelledOrDestroyedWatchesAreNotCalledAndSlotsAreReused) {
  boost::asio::io_context io;
  auto poller = EdgePoller::create(io.get_executor());
  ASSERT_TRUE(poller);
  SocketPair first, second;
  Reader first_reader(first.watched), second_reader(second.watched);
  auto first_watch = (*poller)->watch_input(first.watched, first_reader);
  ASSERT_TRUE(first_watch);
  {
    auto second_watch = (*poller)->watch_input(second.watched, second_reader);
    ASSERT_TRUE(second_watch);
    EXPECT_EQ((*poller)->watched(), 2u);
  }
  EXPECT_EQ((*poller)->watched(), 1u) << "a destroyed Watch is cancelled";
  second.send("ignored");
  first.send("seen");
  run_for(io, 50ms);
  EXPECT_EQ(first_reader.received, "seen");
  EXPECT_EQ(second_reader.calls, 0);

  // Input for both in one turn: the first listener cancels the second's new watch (which took
  // the freed slot) before its event is handled; the event must not reach it.
  second_reader.on_input();  // takes "ignored": a descriptor with input is ready when added
  ASSERT_EQ(second_reader.received, "ignored");
  second_reader.calls = 0;
  auto second_again = (*poller)->watch_input(second.watched, second_reader);
  ASSERT_TRUE(second_again);
  first_reader.after_input = [&] { second_again->cancel(); };
  first.send("y");  // ready first, so handled first
  second.send("x");
  run_for(io, 50ms);
  EXPECT_EQ(first_reader.received, "seeny");
  EXPECT_EQ(second_reader.calls, 0) << "an event collected before cancel() is dropped";
  EXPECT_EQ(second_reader.received, "ignored");
  EXPECT_FALSE(second_again->active());
}

TEST(EdgePollerTest, ManySocketsInOneTurnAndAWatchThatOutlivesThePoller) {
  boost::asio::io_context io;
  auto poller = EdgePoller::create(io.get_executor());
  ASSERT_TRUE(poller);
  std::vector<std::unique_ptr<SocketPair>> pairs;
  std::vector<std::unique_ptr<Reader>> readers;
  std::vector<EdgePoller::Watch> watches;
  for (int i = 0; i < 300; ++i) {  // more than one epoll_wait's worth of events
    pairs.push_back(std::make_unique<SocketPair>());
    readers.push_back(std::make_unique<Reader>(pairs.back()->watched));
    auto watch = (*poller)->watch_input(pairs.back()->watched, *readers.back());
    ASSERT_TRUE(watch);
    watches.push_back(std::move(*watch));
  }
  for (auto& pair : pairs) pair->send("m");
  run_for(io, 200ms);
  for (auto& reader : readers) {
    EXPECT_EQ(reader->received, "m");
    EXPECT_EQ(reader->calls, 1);
  }
  poller->reset();
  for (auto& watch : watches) EXPECT_FALSE(watch.active());
  watches.clear();  // cancelling after the poller is gone does nothing, and does not crash
  run_for(io, 20ms);
}

}  // namespace
}  // namespace parley::net
