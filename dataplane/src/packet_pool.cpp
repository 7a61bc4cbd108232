#include "nextmini/dataplane/core/packet_pool.hpp"

#include <algorithm>
#include <cassert>

namespace nextmini::dataplane {

PacketPool::PacketPool(std::size_t buffer_count, std::size_t buffer_size, std::size_t headroom)
    : buffer_count_(buffer_count),
      buffer_size_(buffer_size),
      headroom_(std::min(headroom, buffer_size)),
      storage_(new std::uint8_t[buffer_count * buffer_size]) {
  free_.reserve(buffer_count);
  for (std::size_t i = buffer_count; i > 0; --i)
    free_.push_back(storage_.get() + (i - 1) * buffer_size);
}

PacketPool::~PacketPool() { assert(in_use() == 0 && "a Packet outlived its PacketPool"); }

Packet PacketPool::acquire() noexcept {
  if (free_.empty()) {
    ++exhausted_;
    return {};
  }
  std::uint8_t* buffer = free_.back();
  free_.pop_back();
  peak_in_use_ = std::max(peak_in_use_, in_use());
  return Packet(this, buffer, buffer_size_, headroom_);
}

void PacketPool::release(std::uint8_t* buffer) noexcept { free_.push_back(buffer); }

}  // namespace nextmini::dataplane
