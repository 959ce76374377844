#pragma once
// Edge-triggered input readiness for many sockets through one epoll set of their own, which an
// Asio io_context waits on like any other descriptor.
//
// Why not Asio's own reads: Asio re-arms a descriptor in its epoll set for every wait
// (epoll_ctl), or, for a read, first tries it speculatively, which after every short read ends
// in EAGAIN; either way one system call per wake-up of each socket that carries no data. Here a
// socket is registered once; a wake-up of the poller costs one epoll_wait for every socket that
// became readable in that turn, and each of them is read exactly as often as it has input.
//
// Contract for a listener: on_input() runs on the io_context thread, inside the poller's
// handler, when new input arrives at the descriptor (or it is closed, or fails). It is
// edge-triggered: the listener must read until a read comes back short (or fails with EAGAIN),
// since the next call comes only with input that arrives after that; a listener that stops
// early (fairness, flow control) must come back to the descriptor by itself. cancel() (or the
// Watch's destruction) stops the calls at once, also for events already collected in the
// current turn; a listener must not be destroyed inside its own on_input().
//
// Lifetime: a Watch may outlive the poller (it then does nothing). One thread only, like the
// io_context it runs on. Linux only (epoll).
#include <sys/epoll.h>

#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "core/error.hpp"

namespace parley::net {

class InputListener {
 public:
  virtual void on_input() = 0;

 protected:
  virtual ~InputListener() = default;  // not deleted through this interface
};

class EdgePoller {
  struct State;

 public:
  // A registration: calls to its listener stop when it is cancelled or destroyed.
  class Watch {
   public:
    Watch() = default;
    Watch(Watch&& other) noexcept;
    Watch& operator=(Watch&& other) noexcept;
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;
    ~Watch();

    void cancel();
    bool active() const;

   private:
    friend class EdgePoller;
    Watch(std::weak_ptr<State> state, std::uint32_t slot, std::uint32_t generation)
        : state_(std::move(state)), slot_(slot), generation_(generation) {}
    std::weak_ptr<State> state_;
    std::uint32_t slot_ = 0;
    std::uint32_t generation_ = 0;
  };

  static Result<std::unique_ptr<EdgePoller>> create(const boost::asio::any_io_executor& executor);
  ~EdgePoller();
  EdgePoller(const EdgePoller&) = delete;
  EdgePoller& operator=(const EdgePoller&) = delete;

  // Registers `fd` (a socket the caller keeps open until it cancels, or closes afterwards) for
  // input. The listener must outlive the Watch's activity.
  Result<Watch> watch_input(int fd, InputListener& listener);
  std::size_t watched() const;

 private:
  explicit EdgePoller(const boost::asio::any_io_executor& executor, int epoll_fd);
  void arm();
  void dispatch();

  std::shared_ptr<State> state_;
  boost::asio::posix::stream_descriptor descriptor_;  // the epoll set, as Asio waits on it
  bool armed_ = false;
};

}  // namespace parley::net
