#pragma once
// PacketPool: a bounded set of equally sized packet buffers, allocated once at construction.
// acquire() hands out an empty Packet with `headroom` bytes in front; when the pool is empty it
// returns an invalid Packet and the caller drops with DropReason::kPoolExhausted (bounded pools
// are the data path's backpressure). Single-threaded: one pool per worker thread.
// Counters: in_use(), peak_in_use(), exhausted() (acquire calls that found the pool empty).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nextmini/dataplane/core/packet.hpp"

namespace nextmini::dataplane {

class PacketPool {
 public:
  static constexpr std::size_t kDefaultHeadroom = 128;

  PacketPool(std::size_t buffer_count, std::size_t buffer_size,
             std::size_t headroom = kDefaultHeadroom);
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;
  // Every Packet must have been released before the pool is destroyed (asserted in debug builds).
  ~PacketPool();

  // An empty packet with headroom() bytes in front, or an invalid Packet when none is free.
  Packet acquire() noexcept;

  std::size_t buffer_size() const noexcept { return buffer_size_; }
  std::size_t headroom() const noexcept { return headroom_; }
  std::size_t capacity() const noexcept { return buffer_count_; }
  std::size_t in_use() const noexcept { return buffer_count_ - free_.size(); }
  std::size_t peak_in_use() const noexcept { return peak_in_use_; }
  std::uint64_t exhausted() const noexcept { return exhausted_; }

 private:
  friend class Packet;
  void release(std::uint8_t* buffer) noexcept;

  std::size_t buffer_count_;
  std::size_t buffer_size_;
  std::size_t headroom_;
  std::unique_ptr<std::uint8_t[]> storage_;
  std::vector<std::uint8_t*> free_;
  std::size_t peak_in_use_ = 0;
  std::uint64_t exhausted_ = 0;
};

inline void Packet::reset() noexcept {
  if (buffer_ != nullptr) {
    pool_->release(buffer_);
    pool_ = nullptr;
    buffer_ = nullptr;
    capacity_ = offset_ = size_ = 0;
    meta_ = {};
  }
}

}  // namespace nextmini::dataplane
