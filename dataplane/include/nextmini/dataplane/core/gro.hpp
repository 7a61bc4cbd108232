#pragma once
// GroCoalescer: GRO in software before a TUN write. Consecutive, in-order TCP segments of one
// flow in a batch (plain packets: from a udp link, or cut by software GSO on the way) become one
// GSO super-packet, so the kernel takes one write and one pass through its stack for them.
//   Merged: IPv4 (no fragment, same addresses, TOS, TTL, header length) or IPv6 (TCP right after
//   the fixed header, same addresses and traffic class), same ports, TCP sequence numbers that
//   follow each other, the same ACK number, flags and option bytes (ACK with PSH/FIN only on
//   the last of a run), every segment but the last of the first one's payload size, each with a
//   checksum that verifies (a corrupted segment is never merged: its checksum would be
//   recomputed over the damaged bytes) or a partial one (needs_csum at the TCP checksum: a
//   segment our own sender cut, whose checksum nobody computed yet; nothing to verify). A run
//   stops at 64 KB.
//   Output: the run's first packet is replaced by a super-packet in a large pool buffer
//   (gso_valid, gso_type TCPV4/TCPV6, gso_size = the first segment's payload, needs_csum with the
//   pseudo-header sum in place, IPv4 length and header checksum fixed); the others are released.
//   Packets that merge with nothing stay as they are, in order.
// Knobs: the large pool (no buffer: nothing merged). Counters: merged_packets() (segments folded
// into super-packets), super_packets() (made). Thread: the pool's; no allocation.

#include <cstddef>
#include <cstdint>
#include <span>

#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"

namespace nextmini::dataplane {

// The pieces of GRO, shared by GroCoalescer and the udp transport's datagram GRO
// (core/datagram_gro.hpp). A TCP segment (IPv4 or IPv6, bytes `ip`) that could be part of a run:
// ACK (with PSH/FIN) only, a payload, no GSO; a partial checksum only at the TCP checksum.
struct TcpSegment {
  bool ok = false;
  bool ipv6 = false;
  bool partial = false;     // its checksum is partial (needs_csum): nothing to verify
  std::size_t l4 = 0;       // TCP header offset
  std::size_t header = 0;   // L3 + TCP header length
  std::size_t payload = 0;  // TCP payload bytes
  std::uint32_t seq = 0;
  std::uint8_t flags = 0;
};
TcpSegment inspect_tcp_segment(std::span<const std::uint8_t> ip, const PacketMeta& meta) noexcept;
// True if the segment's checksum verifies (or is partial).
bool tcp_segment_checksum_ok(std::span<const std::uint8_t> ip, const TcpSegment& s) noexcept;
// True when segment `next` (bytes q, inspected as b) continues the run that starts with `first`
// (bytes p, inspected as a) and so far ends at `expected_seq`: same addresses, ports, IP fields,
// ACK, options and header size, at most the first's payload.
bool tcp_segment_continues(const std::uint8_t* p, const TcpSegment& a, const std::uint8_t* q,
                           const TcpSegment& b, std::uint32_t expected_seq) noexcept;
// PSH or FIN: the segment ends a run.
bool tcp_segment_ends_run(const TcpSegment& s) noexcept;
// Makes the merged bytes at `out` (the first segment's headers, then every payload; `total`
// bytes) a super-packet: the last segment's flags, IP length and header checksum, the partial
// TCP checksum; `meta` gets gso_* (size: the first's payload) and needs_csum.
void finish_tcp_super_packet(std::uint8_t* out, const TcpSegment& first, std::size_t total,
                             std::uint8_t last_flags, PacketMeta& meta) noexcept;

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
