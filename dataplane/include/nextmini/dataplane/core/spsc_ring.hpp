#pragma once
// SpscRing<T>: a bounded single-producer single-consumer queue of movable values (DESIGN.md §3:
// workers exchange work through SPSC rings). One thread pushes, one other thread pops; both
// are wait-free (an acquire/release pair of indices, no lock, no allocation after
// construction). Capacity is rounded up to a power of two. push() fails when full, pop() when
// empty. Slots keep a moved-from T until reused; the destructor destroys what is still queued.

#include <atomic>
#include <bit>
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace nextmini::dataplane {

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(std::size_t capacity)
      : capacity_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity)),
        mask_(capacity_ - 1),
        slots_(std::make_unique<T[]>(capacity_)) {}
  SpscRing(const SpscRing&) = delete;
  SpscRing& operator=(const SpscRing&) = delete;

  std::size_t capacity() const noexcept { return capacity_; }

  // Producer thread. False (value untouched) when full.
  bool push(T&& value) noexcept {
    const std::size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ == capacity_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ == capacity_) return false;
    }
    slots_[tail & mask_] = std::move(value);
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread. False when empty.
  bool pop(T& out) noexcept {
    const std::size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    out = std::move(slots_[head & mask_]);
    slots_[head & mask_] = T{};  // release what the slot held now, on the consumer
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Either thread; a snapshot.
  bool empty() const noexcept {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

 private:
  static constexpr std::size_t kLine = 64;
  const std::size_t capacity_;
  const std::size_t mask_;
  std::unique_ptr<T[]> slots_;
  alignas(kLine) std::atomic<std::size_t> head_{0};  // consumer's
  std::size_t tail_cache_ = 0;                       // consumer's view of tail_
  alignas(kLine) std::atomic<std::size_t> tail_{0};  // producer's
  std::size_t head_cache_ = 0;                       // producer's view of head_
};

}  // namespace nextmini::dataplane
