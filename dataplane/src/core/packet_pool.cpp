#include "nextmini/dataplane/core/packet_pool.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>
#include <stdexcept>

namespace nextmini::dataplane {

namespace {
// Its address tells threads apart (cheaper than std::this_thread::get_id()).
thread_local const char tls_thread_marker = 0;
}  // namespace

PacketPool::PacketPool(std::size_t buffer_count, std::size_t buffer_size, std::size_t headroom)
    : buffer_size_(buffer_size), headroom_(std::min(headroom, buffer_size)) {
  if (!add_buffers(buffer_count)) throw std::bad_alloc();
}

PacketPool::~PacketPool() {
  take_returned();
  assert(in_use() == 0 && "a Packet outlived its PacketPool");
}

bool PacketPool::add_buffers(std::size_t count) noexcept {
  if (count == 0) return true;
  try {
    auto chunk = std::make_unique<std::uint8_t[]>(count * buffer_size_);
    free_.reserve(buffer_count_ + count);
    chunks_.reserve(chunks_.size() + 1);
    // Lowest addresses handed out first.
    for (std::size_t i = count; i > 0; --i) free_.push_back(chunk.get() + (i - 1) * buffer_size_);
    chunks_.push_back(std::move(chunk));
  } catch (const std::bad_alloc&) {
    return false;
  }
  buffer_count_ += count;
  return true;
}

Packet PacketPool::acquire() noexcept {
  if (free_.empty() && returned_.load(std::memory_order_relaxed) != nullptr) take_returned();
  if (free_.empty()) {
    const std::size_t room = growth_limit_ > buffer_count_ ? growth_limit_ - buffer_count_ : 0;
    const std::size_t chunk =
        std::min({room, std::max<std::size_t>(buffer_count_, 1), kMaxGrowthChunk});
    if (chunk == 0 || !add_buffers(chunk)) {
      ++exhausted_;
      return {};
    }
    ++growths_;
  }
  std::uint8_t* buffer = free_.back();
  free_.pop_back();
  peak_in_use_ = std::max(peak_in_use_, in_use());
  return Packet(this, buffer, buffer_size_, headroom_);
}

void PacketPool::release(std::uint8_t* buffer) noexcept {
  const void* owner = owner_.load(std::memory_order_relaxed);
  if (owner != nullptr && owner != &tls_thread_marker) {
    push_returned(buffer);
    return;
  }
  free_.push_back(buffer);
}

void PacketPool::push_returned(std::uint8_t* buffer) noexcept {
  // Count first, so take_returned() never subtracts a buffer that is not counted yet.
  returned_count_.fetch_add(1, std::memory_order_relaxed);
  remote_releases_.fetch_add(1, std::memory_order_relaxed);
  std::uint8_t* head = returned_.load(std::memory_order_relaxed);
  do {
    std::memcpy(buffer, &head, sizeof(head));
  } while (!returned_.compare_exchange_weak(head, buffer, std::memory_order_release,
                                            std::memory_order_relaxed));
}

void PacketPool::take_returned() noexcept {
  // Whole-stack exchange: no ABA (nobody else pops).
  std::uint8_t* buffer = returned_.exchange(nullptr, std::memory_order_acquire);
  std::size_t taken = 0;
  while (buffer != nullptr) {
    std::uint8_t* next = nullptr;
    std::memcpy(&next, buffer, sizeof(next));
    free_.push_back(buffer);  // reserved: free_ has room for every buffer
    buffer = next;
    ++taken;
  }
  returned_count_.fetch_sub(taken, std::memory_order_relaxed);
}

void PacketPool::bind_to_this_thread() noexcept {
  owner_.store(&tls_thread_marker, std::memory_order_relaxed);
}

void PacketPool::unbind() noexcept {
  owner_.store(nullptr, std::memory_order_relaxed);
  take_returned();
}

}  // namespace nextmini::dataplane
