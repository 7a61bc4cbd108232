#pragma once
// PacketPool: a bounded set of equally sized packet buffers. acquire() hands out an empty Packet
// with `headroom` bytes in front; when the pool is empty and at its limit it returns an invalid
// Packet and the caller drops with DropReason::kPoolExhausted (bounded pools are the data
// path's backpressure).
// Growth: the buffers given at construction are allocated at once. With set_growth_limit(max),
// an acquire() that finds the pool empty adds a chunk (as many buffers as the pool has, at most
// kMaxGrowthChunk, never beyond max) and carries on — one allocation per chunk, not per packet,
// and only while traffic actually needs more (a long fat emulated link holds a bandwidth-delay
// product of packets). The pool never shrinks.
// Threads: one pool per worker thread; acquire() only on that thread. A Packet may end on
// another worker (a batch handed to the worker that owns a link): once bind_to_this_thread() was
// called (by the owning worker, before traffic), a release on any other thread pushes the buffer
// onto a lock-free return stack (the buffer's own bytes hold the link), which acquire() takes
// back when its free list is empty — no lock and no allocation on either side. An unbound pool
// (one worker, tests) releases in place as before. Counters: capacity(), in_use(),
// peak_in_use(), exhausted() (acquire calls that found the pool empty at its limit), growths(),
// remote_releases() (buffers returned from another thread).

#include <atomic>
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

  static constexpr std::size_t kMaxGrowthChunk = 16'384;

  // An empty packet with headroom() bytes in front, or an invalid Packet when none is free and
  // the pool cannot grow (or the allocation for growing fails).
  Packet acquire() noexcept;
  // Lets the pool grow up to `max_buffers` (no effect when at or below capacity()).
  void set_growth_limit(std::size_t max_buffers) noexcept { growth_limit_ = max_buffers; }
  // Makes the calling thread the pool's owner: releases on other threads go to the return
  // stack. unbind() (once no other thread holds its packets, e.g. after the workers joined)
  // takes the returned buffers back and makes every release local again.
  void bind_to_this_thread() noexcept;
  void unbind() noexcept;

  std::size_t buffer_size() const noexcept { return buffer_size_; }
  std::size_t headroom() const noexcept { return headroom_; }
  std::size_t capacity() const noexcept { return buffer_count_; }
  std::size_t in_use() const noexcept {
    return buffer_count_ - free_.size() - returned_count_.load(std::memory_order_relaxed);
  }
  std::size_t peak_in_use() const noexcept { return peak_in_use_; }
  std::uint64_t exhausted() const noexcept { return exhausted_; }
  std::uint64_t growths() const noexcept { return growths_; }
  std::uint64_t remote_releases() const noexcept {
    return remote_releases_.load(std::memory_order_relaxed);
  }

 private:
  friend class Packet;
  void release(std::uint8_t* buffer) noexcept;
  // The return stack: pushed by other threads, taken whole by the owner.
  void push_returned(std::uint8_t* buffer) noexcept;
  void take_returned() noexcept;
  // Adds `count` buffers; false when the allocation fails.
  bool add_buffers(std::size_t count) noexcept;

  std::size_t buffer_count_ = 0;
  std::size_t buffer_size_;
  std::size_t headroom_;
  std::size_t growth_limit_ = 0;
  std::vector<std::unique_ptr<std::uint8_t[]>> chunks_;
  std::vector<std::uint8_t*> free_;
  std::size_t peak_in_use_ = 0;
  std::uint64_t exhausted_ = 0;
  std::uint64_t growths_ = 0;
  // The owner thread's marker (a thread_local's address), or nullptr while unbound.
  std::atomic<const void*> owner_{nullptr};
  std::atomic<std::uint8_t*> returned_{nullptr};
  std::atomic<std::size_t> returned_count_{0};
  std::atomic<std::uint64_t> remote_releases_{0};
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
