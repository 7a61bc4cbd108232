#pragma once
// GroCoalescer: GRO in software before a TUN write. Consecutive, in-order TCP segments of one
// flow in a batch (plain packets: from a udp link, or cut by software GSO on the way) become one
// GSO super-packet, so the kernel takes one write and one pass through its stack for them.
//   Merged: IPv4 (no fragment, same addresses, TOS, TTL, header length) or IPv6 (TCP right after
//   the fixed header, same addresses and traffic class), same ports, TCP sequence numbers that
//   follow each other, the same ACK number, flags and option bytes (ACK with PSH/FIN only on
//   the last of a run), every segment but the last of the first one's payload size, each with a
//   checksum that verifies (a corrupted segment is never merged: its checksum would be
//   recomputed over the damaged bytes). A run stops at 64 KB.
//   Output: the run's first packet is replaced by a super-packet in a large pool buffer
//   (gso_valid, gso_type TCPV4/TCPV6, gso_size = the first segment's payload, needs_csum with the
//   pseudo-header sum in place, IPv4 length and header checksum fixed); the others are released.
//   Packets that merge with nothing stay as they are, in order.
// Knobs: the large pool (no buffer: nothing merged). Counters: merged_packets() (segments folded
// into super-packets), super_packets() (made). Thread: the pool's; no allocation.

#include <cstddef>
#include <cstdint>

#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"

namespace nextmini::dataplane {

class GroCoalescer {
 public:
  static constexpr std::size_t kMaxSuperPacket = 65'535;

  explicit GroCoalescer(PacketPool& large_pool) noexcept : large_pool_(large_pool) {}

  // Merges runs in `batch` in place (the batch may get shorter).
  void coalesce(PacketBatch& batch) noexcept;

  std::uint64_t merged_packets() const noexcept { return merged_packets_; }
  std::uint64_t super_packets() const noexcept { return super_packets_; }

 private:
  PacketPool& large_pool_;
  std::uint64_t merged_packets_ = 0;
  std::uint64_t super_packets_ = 0;
};

}  // namespace nextmini::dataplane
