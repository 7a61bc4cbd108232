#pragma once
// LinkQueue: the packet store of one directed link. Holds packets in one or more FIFO lists
// (one per flow bucket of a scheduler; a plain FIFO uses one) that share a single limit, in
// packets or in bytes, and stamps every packet with its enqueue time (for CoDel's sojourn time).
// The entries live in a slab allocated at construction (or by set_limit, off the data path), so
// push and pop never allocate.
//   Inputs: push(list, packet, now). Outputs: pop(list) -> packet and its enqueue time.
//   Knobs: QueueLimit {packets, bytes} (packets count GSO segments, see packet_segments()),
//          the number of lists, max_entries (slab size; default derived from the limit).
//   Counters: packets() (segments), bytes(), entries() — the current occupancy.
//   Thread: the link's worker; not thread-safe. Does not count drops: push() refuses and the
//   caller (a Scheduler) drops and counts.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/link/link_time.hpp"

namespace nextmini::dataplane {

// A queue limit. Zero means "no limit of that kind"; when both are zero the queue holds
// kDefaultPackets packets. When both are set, both apply.
struct QueueLimit {
  static constexpr std::uint64_t kDefaultPackets = 1000;
  std::uint64_t packets = 0;  // GSO segments count as packets
  std::uint64_t bytes = 0;

  bool in_bytes() const noexcept { return bytes != 0; }
  std::uint64_t effective_packets() const noexcept {
    return packets == 0 && bytes == 0 ? kDefaultPackets : packets;
  }
};

class LinkQueue {
 public:
  // Smallest packet assumed when deriving the slab size from a byte limit.
  static constexpr std::size_t kMinPacketBytes = 64;
  // Upper bound on a derived slab size (a caller may pass max_entries explicitly).
  static constexpr std::size_t kMaxDerivedEntries = std::size_t{1} << 20;

  enum class PushResult { kQueued, kOverLimit, kNoEntry };

  explicit LinkQueue(QueueLimit limit, std::size_t lists = 1, std::size_t max_entries = 0);
  LinkQueue(const LinkQueue&) = delete;
  LinkQueue& operator=(const LinkQueue&) = delete;

  // True when a packet of `bytes` and `segments` fits under the limit right now.
  bool fits(std::size_t bytes, std::uint32_t segments) const noexcept;
  // Appends `packet` to `list` (taken only on kQueued; otherwise the caller still owns it).
  PushResult push(std::size_t list, Packet& packet, TimeNs now) noexcept;
  // Removes the head of `list`; an invalid Packet when the list is empty.
  Packet pop(std::size_t list, TimeNs* enqueued = nullptr) noexcept;

  bool empty() const noexcept { return entries_ == 0; }
  bool empty(std::size_t list) const noexcept { return lists_[list].head == kNone; }
  // Size, segments and enqueue time of the head of a non-empty list.
  std::uint32_t front_bytes(std::size_t list) const noexcept;
  std::uint32_t front_segments(std::size_t list) const noexcept;
  TimeNs front_enqueued(std::size_t list) const noexcept;
  // Occupancy of one list.
  std::uint64_t list_packets(std::size_t list) const noexcept { return lists_[list].packets; }
  std::uint64_t list_bytes(std::size_t list) const noexcept { return lists_[list].bytes; }
  // True while the occupancy exceeds the limit (possible after set_limit lowered it).
  bool over_limit() const noexcept { return !fits(0, 0); }

  std::size_t list_count() const noexcept { return lists_.size(); }
  std::uint64_t packets() const noexcept { return packets_; }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::size_t entries() const noexcept { return entries_; }
  std::size_t capacity() const noexcept { return slab_.size(); }
  // Occupancy in the limit's unit: bytes for a byte limit, packets otherwise.
  std::uint64_t occupancy() const noexcept { return limit_.in_bytes() ? bytes_ : packets_; }

  const QueueLimit& limit() const noexcept { return limit_; }
  // Changes the limit. Queued packets stay (they drain); only new arrivals see the new limit.
  // Grows the slab when the new limit needs more entries (allocates: call off the data path).
  void set_limit(QueueLimit limit, std::size_t max_entries = 0);

 private:
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  struct Entry {
    Packet packet;
    TimeNs enqueued = 0;
    std::uint32_t bytes = 0;
    std::uint32_t segments = 0;
    std::uint32_t next = kNone;
  };
  struct List {
    std::uint32_t head = kNone;
    std::uint32_t tail = kNone;
    std::uint64_t packets = 0;
    std::uint64_t bytes = 0;
  };

  static std::size_t derive_entries(const QueueLimit& limit, std::size_t max_entries) noexcept;
  void grow_slab(std::size_t entries);

  QueueLimit limit_;
  std::vector<Entry> slab_;
  std::vector<List> lists_;
  std::uint32_t free_ = kNone;
  std::uint64_t packets_ = 0;
  std::uint64_t bytes_ = 0;
  std::size_t entries_ = 0;
};

}  // namespace nextmini::dataplane
