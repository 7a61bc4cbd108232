#pragma once
// LinkHandoff: the Processor output of one worker toward a link another worker owns (DESIGN.md
// §3: one owner per link; workers exchange work through SPSC rings and posts).
//   Input:  send(batch) on the producing worker (its Processor, as for any PacketSink): each
//           packet is moved into an SpscRing; the first push into an idle ring posts one drain
//           to the owner's io_context (one post per burst, not per packet).
//   Output: drain() on the owning worker pops everything queued into batches of up to
//           PacketBatch::kMaxBatch and sends them to `target` (the link's EmulatedLink).
//   At most one drain is posted at a time, so its handler lives in one slot the handoff owns
//   (DrainSlotAllocator): posting allocates nothing either.
//   A flow goes through one ring from one producer, so its order is kept. Buffers stay in the
//   producer's pool and return there when the link is done with them (PacketPool's return
//   stack), so nothing is copied or allocated per packet.
//   Knobs: capacity (packets; default 4096). Counters (producer thread): handed_off(), drops()
//   (kQueueFull when the ring is full: the owner is behind by a whole ring).
//   Thread: send() on one producing worker, drain() on the owner. Destroy only after both
//   io_contexts have stopped and run their handlers (the Node does).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/core/spsc_ring.hpp"

namespace nextmini::dataplane {

// The memory of the one posted drain handler: allocate() hands out the slot while it is free
// and the request fits, else falls back to operator new (never on the steady path).
struct DrainSlot {
  static constexpr std::size_t kSize = 256;
  alignas(std::max_align_t) unsigned char storage[kSize];
  std::atomic<bool> used{false};
  std::atomic<std::uint64_t> hits{0};    // allocations served by the slot
  std::atomic<std::uint64_t> misses{0};  // allocations that fell back to the heap
};

template <typename T>
class DrainSlotAllocator {
 public:
  using value_type = T;
  explicit DrainSlotAllocator(DrainSlot* slot) noexcept : slot_(slot) {}
  template <typename U>
  DrainSlotAllocator(const DrainSlotAllocator<U>& other) noexcept : slot_(other.slot()) {}

  T* allocate(std::size_t n) {
    if (n * sizeof(T) <= DrainSlot::kSize && alignof(T) <= alignof(std::max_align_t) &&
        !slot_->used.exchange(true, std::memory_order_acquire)) {
      slot_->hits.fetch_add(1, std::memory_order_relaxed);
      return reinterpret_cast<T*>(slot_->storage);
    }
    slot_->misses.fetch_add(1, std::memory_order_relaxed);
    return std::allocator<T>().allocate(n);
  }
  void deallocate(T* p, std::size_t n) noexcept {
    if (reinterpret_cast<unsigned char*>(p) == slot_->storage) {
      slot_->used.store(false, std::memory_order_release);
      return;
    }
    std::allocator<T>().deallocate(p, n);
  }
  DrainSlot* slot() const noexcept { return slot_; }
  template <typename U>
  bool operator==(const DrainSlotAllocator<U>& other) const noexcept {
    return slot_ == other.slot();
  }

 private:
  DrainSlot* slot_;
};

class LinkHandoff final : public PacketSink {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  // `target` (on `owner`'s thread) must outlive the handoff.
  LinkHandoff(boost::asio::io_context& owner, PacketSink& target,
              std::size_t capacity = kDefaultCapacity);
  LinkHandoff(const LinkHandoff&) = delete;
  LinkHandoff& operator=(const LinkHandoff&) = delete;

  void send(PacketBatch& batch) override;

  std::uint64_t handed_off() const noexcept { return handed_off_; }
  const DropCounters& drops() const noexcept { return drops_; }
  // Drain handlers posted, and how many of them needed heap memory (0 on the steady path).
  std::uint64_t drains_posted() const noexcept {
    return drain_slot_.hits.load(std::memory_order_relaxed) + drain_slot_misses();
  }
  std::uint64_t drain_slot_misses() const noexcept {
    return drain_slot_.misses.load(std::memory_order_relaxed);
  }

 private:
  void drain();

  boost::asio::io_context& owner_;
  PacketSink& target_;
  SpscRing<Packet> ring_;
  std::atomic<bool> drain_posted_{false};
  DrainSlot drain_slot_;
  PacketBatch out_;  // owner's
  std::uint64_t handed_off_ = 0;
  DropCounters drops_;
};

}  // namespace nextmini::dataplane
