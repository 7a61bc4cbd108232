#pragma once
// PacketBatch: the unit every stage takes and emits (DESIGN.md §2). A vector of Packets whose
// capacity is reserved once (kMaxBatch), so filling and draining it never allocates.

#include <cstddef>
#include <vector>

#include "nextmini/dataplane/core/packet.hpp"

namespace nextmini::dataplane {

class PacketBatch {
 public:
  static constexpr std::size_t kMaxBatch = 64;

  PacketBatch() { packets_.reserve(kMaxBatch); }

  bool empty() const noexcept { return packets_.empty(); }
  std::size_t size() const noexcept { return packets_.size(); }
  bool full() const noexcept { return packets_.size() >= kMaxBatch; }
  // Appends; the caller keeps size() <= kMaxBatch (checked by full()).
  void push(Packet&& packet) { packets_.push_back(std::move(packet)); }
  void clear() noexcept { packets_.clear(); }
  // Removes (and releases) the last packet of a non-empty batch.
  void pop_back() noexcept { packets_.pop_back(); }
  // Exchanges the packets of two batches without moving any (both keep kMaxBatch capacity).
  void swap(PacketBatch& other) noexcept { packets_.swap(other.packets_); }

  Packet& operator[](std::size_t i) noexcept { return packets_[i]; }
  const Packet& operator[](std::size_t i) const noexcept { return packets_[i]; }
  auto begin() noexcept { return packets_.begin(); }
  auto end() noexcept { return packets_.end(); }

 private:
  std::vector<Packet> packets_;
};

}  // namespace nextmini::dataplane
