#include "net/edge_poller.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace parley::net {

namespace asio = boost::asio;

namespace {

// Events taken per epoll_wait, and epoll_waits per wake-up before the poller yields to the
// other handlers of the io_context (what is left makes the epoll set readable again at once).
constexpr int kEventsPerWait = 128;
constexpr int kWaitsPerWakeUp = 8;

std::uint64_t pack(std::uint32_t slot, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | slot;
}

}  // namespace

struct EdgePoller::State {
  struct Slot {
    InputListener* listener = nullptr;
    int fd = -1;
    std::uint32_t generation = 0;  // bumped when the slot is freed: older events are stale
    bool live = false;
  };

  int epoll_fd = -1;
  std::vector<Slot> slots;
  std::vector<std::uint32_t> free_slots;
  std::size_t live_count = 0;

  void cancel(std::uint32_t index, std::uint32_t generation) {
    if (index >= slots.size()) return;
    Slot& slot = slots[index];
    if (!slot.live || slot.generation != generation) return;
    // The descriptor is still open (callers cancel before they close), so this removes exactly
    // this registration; a failure (already closed) leaves nothing registered either.
    epoll_event ignored{};
    (void)::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, slot.fd, &ignored);
    slot = Slot{.listener = nullptr, .fd = -1, .generation = generation + 1, .live = false};
    free_slots.push_back(index);
    --live_count;
  }
};

EdgePoller::Watch::Watch(Watch&& other) noexcept
    : state_(std::move(other.state_)), slot_(other.slot_), generation_(other.generation_) {
  other.state_.reset();
}

EdgePoller::Watch& EdgePoller::Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    cancel();
    state_ = std::move(other.state_);
    slot_ = other.slot_;
    generation_ = other.generation_;
    other.state_.reset();
  }
  return *this;
}

EdgePoller::Watch::~Watch() {
  cancel();
}

void EdgePoller::Watch::cancel() {
  if (auto state = state_.lock()) state->cancel(slot_, generation_);
  state_.reset();
}

bool EdgePoller::Watch::active() const {
  auto state = state_.lock();
  if (!state || slot_ >= state->slots.size()) return false;
  const auto& slot = state->slots[slot_];
  return slot.live && slot.generation == generation_;
}

Result<std::unique_ptr<EdgePoller>> EdgePoller::create(const asio::any_io_executor& executor) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return fail(Error::io(std::string("epoll_create1: ") + std::strerror(errno)));
  return std::unique_ptr<EdgePoller>(new EdgePoller(executor, fd));
}

EdgePoller::EdgePoller(const asio::any_io_executor& executor, int epoll_fd)
    : state_(std::make_shared<State>()), descriptor_(executor, epoll_fd) {
  state_->epoll_fd = epoll_fd;
}

EdgePoller::~EdgePoller() {
  state_.reset();  // Watches left behind become no-ops; a pending wait sees this and returns
  boost::system::error_code ignored;
  descriptor_.close(ignored);
}

std::size_t EdgePoller::watched() const {
  return state_->live_count;
}

Result<EdgePoller::Watch> EdgePoller::watch_input(int fd, InputListener& listener) {
  State& state = *state_;
  std::uint32_t index = 0;
  if (!state.free_slots.empty()) {
    index = state.free_slots.back();
    state.free_slots.pop_back();
  } else {
    index = static_cast<std::uint32_t>(state.slots.size());
    state.slots.emplace_back();
  }
  State::Slot& slot = state.slots[index];
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.u64 = pack(index, slot.generation);
  if (::epoll_ctl(state.epoll_fd, EPOLL_CTL_ADD, fd, &event) != 0) {
    const int error = errno;
    state.free_slots.push_back(index);
    return fail(Error::io(std::string("epoll_ctl(ADD): ") + std::strerror(error)));
  }
  slot.listener = &listener;
  slot.fd = fd;
  slot.live = true;
  ++state.live_count;
  arm();
  return Watch(state_, index, slot.generation);
}

void EdgePoller::arm() {
  if (armed_) return;
  armed_ = true;
  // A wait, not a read: the epoll set is readable while it holds events; Asio re-arms it on
  // every wait, which is one epoll_ctl per wake-up of the whole poller, not per socket.
  descriptor_.async_wait(
      asio::posix::stream_descriptor::wait_read,
      [this, alive = std::weak_ptr<State>(state_)](const boost::system::error_code& error) {
        if (alive.expired()) return;  // the poller is gone
        armed_ = false;
        if (!error) dispatch();
        if (alive.expired()) return;
        if (state_->live_count > 0) arm();
      });
}

void EdgePoller::dispatch() {
  // Kept alive for the loop: a listener may cancel any Watch, including its own.
  const std::shared_ptr<State> state = state_;
  std::array<epoll_event, kEventsPerWait> events;
  for (int round = 0; round < kWaitsPerWakeUp; ++round) {
    const int count = ::epoll_wait(state->epoll_fd, events.data(), kEventsPerWait, 0);
    if (count <= 0) break;  // nothing left (or EINTR: the re-armed wait comes back)
    for (int i = 0; i < count; ++i) {
      const std::uint64_t data = events[static_cast<std::size_t>(i)].data.u64;
      const auto index = static_cast<std::uint32_t>(data & 0xffffffffu);
      const auto generation = static_cast<std::uint32_t>(data >> 32);
      if (index >= state->slots.size()) continue;
      const State::Slot& slot = state->slots[index];
      if (!slot.live || slot.generation != generation) continue;  // cancelled since
      InputListener* listener = slot.listener;  // `slot` may move: the listener may add watches
      listener->on_input();
    }
    if (count < kEventsPerWait) break;
  }
}

}  // namespace parley::net
