#include "nextmini/dataplane/core/packet_pool.hpp"

#include <algorithm>
#include <cassert>
#include <new>
#include <stdexcept>

namespace nextmini::dataplane {

PacketPool::PacketPool(std::size_t buffer_count, std::size_t buffer_size, std::size_t headroom)
    : buffer_size_(buffer_size), headroom_(std::min(headroom, buffer_size)) {
  if (!add_buffers(buffer_count)) throw std::bad_alloc();
}

PacketPool::~PacketPool() { assert(in_use() == 0 && "a Packet outlived its PacketPool"); }

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

void PacketPool::release(std::uint8_t* buffer) noexcept { free_.push_back(buffer); }

}  // namespace nextmini::dataplane
