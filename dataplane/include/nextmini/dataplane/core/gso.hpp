#pragma once
// Software GSO and checksum completion: what a NIC (or the kernel) does to a super-packet before
// it reaches a wire that takes one packet at a time.
//   GsoSegmenter: cuts a GSO super-packet (PacketMeta::gso_valid; TCP over IPv4/IPv6, UDP (USO)
//   over IPv4/IPv6) into gso_size payload pieces, each a complete packet in a fresh pool buffer:
//   IPv4 total length, id (+1 per segment) and header checksum; IPv6 payload length; TCP
//   sequence number, FIN/PSH on the last segment only, CWR on the first only; UDP length; the
//   L4 checksum computed in full (the segments carry no offload fields). Validation happens in
//   the constructor (status()); next() hands out one segment per call, so a caller can feed a
//   batch, a datagram socket or a queue without any allocation. Without copying the payload:
//   write_partial_headers() writes segment i's headers (its L4 checksum partial, the pseudo-header
//   sum) into caller memory and payload(i) is the segment's payload in place, so a gathering
//   sender (the udp transport's UDP GSO over iovecs) sends it as it is. `prefix`: bytes in front of
//   the IP packet (0 for a raw IP packet; kOverlayHeaderSize for the Processor's output) copied in
//   front of every segment; an overlay header there loses its offload flag and fields.
//   gso_segment(): all segments of one packet appended to a PacketBatch.
//   complete_checksum(): finishes a NEEDS_CSUM packet's L4 checksum in place.
//   software_offload(): either of the two, as a packet needs, for consumers of plain packets.
// Pure functions over packet bytes and a pool; no logging, no throw. Thread: the pool's.

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"

namespace nextmini::dataplane {

enum class GsoStatus : std::uint8_t {
  kOk,
  kNotGso,         // no GSO metadata: nothing to cut (the packet is one segment as it is)
  kBadHeaders,     // IP/L4 headers do not match the metadata, or are truncated
  kPoolExhausted,  // no buffer for the next segment
  kTooBig,         // a segment does not fit a pool buffer
  kBatchFull,      // gso_segment(): `out` has less room than segments()
};

class GsoSegmenter {
 public:
  // Checks `packet` (which must outlive the segmenter and stay unchanged while next() is used);
  // its IP packet starts `prefix` bytes in.
  explicit GsoSegmenter(const Packet& packet, std::size_t prefix = 0) noexcept;

  GsoStatus status() const noexcept { return status_; }
  // Segments in total (0 unless status() is kOk); remaining() of them not handed out yet.
  std::size_t segments() const noexcept { return segments_; }
  std::size_t remaining() const noexcept { return segments_ - next_; }
  // L3 + L4 header bytes repeated in every segment.
  std::size_t header_length() const noexcept { return header_length_; }
  // Where the L4 header starts in the IP packet, and its checksum field in it (16 TCP, 6 UDP):
  // a partial segment's csum_start and csum_offset.
  std::size_t l4_offset() const noexcept { return l4_offset_; }
  std::size_t checksum_offset() const noexcept { return tcp_ ? 16 : 6; }

  // The payload of segment `index` (< segments()), in place in the super-packet.
  std::span<const std::uint8_t> payload(std::size_t index) const noexcept;
  // Writes the IP and L4 headers of segment `index` (< segments(); header_length() bytes) to
  // `out`, the L4 checksum partial (the segment's pseudo-header sum, as the kernel's NEEDS_CSUM:
  // completed by whoever gets the segment with csum_start = l4_offset(), csum_offset =
  // checksum_offset()). Requires status() kOk.
  void write_partial_headers(std::size_t index, std::uint8_t* out) const noexcept;

  // The next segment in a buffer from `pool` (pool headroom in front, meta copied without the
  // offload fields), or an invalid Packet when done or on failure (status() says which).
  Packet next(PacketPool& pool) noexcept;

 private:
  const Packet& packet_;
  std::size_t prefix_ = 0;
  GsoStatus status_ = GsoStatus::kNotGso;
  bool ipv6_ = false;
  bool tcp_ = false;
  std::size_t l4_offset_ = 0;
  std::size_t header_length_ = 0;
  std::size_t payload_ = 0;
  std::size_t gso_size_ = 0;
  std::size_t segments_ = 0;
  std::size_t next_ = 0;
};

// Appends every segment of `packet` to `out`; on a status other than kOk, nothing is appended.
GsoStatus gso_segment(const Packet& packet, PacketPool& pool, PacketBatch& out,
                      std::size_t prefix = 0) noexcept;

// Completes the L4 checksum of a packet with needs_csum (clearing it); false if csum_start /
// csum_offset lie outside the packet (whose IP packet starts `prefix` bytes in; an overlay
// header there loses its offload flag and fields). Without needs_csum: unchanged (true).
bool complete_checksum(Packet& packet, std::size_t prefix = 0) noexcept;

// Clears the offload flag and fields of the overlay header at the front of `bytes` (at least
// kOverlayHeaderSize long): the packet behind it is plain now.
void clear_overlay_offload(std::uint8_t* bytes) noexcept;

// Sets the overlay header at the front of `bytes` to say "one packet, its L4 checksum partial at
// csum_start + csum_offset" (protocol.md, "Offload fields": gso flag, gso_size and gso_type 0).
void mark_overlay_partial_checksum(std::uint8_t* bytes, std::uint16_t csum_start,
                                   std::uint16_t csum_offset) noexcept;

// True if `packet` is a GSO super-packet that stands for more than one wire packet, or a
// single one whose checksum is still partial: what a consumer that takes only plain, complete
// packets must segment or complete first.
bool needs_software_offload(const Packet& packet) noexcept;

// What software_offload() did with one packet.
struct SoftwareOffload {
  GsoStatus status = GsoStatus::kOk;  // kOk, or why `lost` segments (or the packet) were lost
  std::size_t emitted = 0;            // plain packets handed to emit
  std::size_t lost = 0;               // segments (or 1 packet) not made
  bool segmented = false;             // a super-packet was cut
  bool completed = false;             // a partial checksum was completed
};

// Makes `packet` plain for a consumer that takes only complete packets of wire size: a GSO
// super-packet is cut (segments from `pool`, the super-packet released), a partial checksum is
// completed in place; anything else passes as it is. Each plain packet goes to
// emit(Packet&&). Malformed offload metadata: status kBadHeaders, the packet released.
template <typename Emit>
SoftwareOffload software_offload(Packet& packet, PacketPool& pool, Emit&& emit,
                                 std::size_t prefix = 0) {
  SoftwareOffload result;
  if (!packet.meta().gso_valid || packet.meta().gso_size == 0) {
    if (packet.meta().needs_csum) {
      if (!complete_checksum(packet, prefix)) {
        result.status = GsoStatus::kBadHeaders;
        result.lost = 1;
        packet.reset();
        return result;
      }
      result.completed = true;
    }
    ++result.emitted;
    emit(std::move(packet));
    return result;
  }
  GsoSegmenter segmenter(packet, prefix);
  if (segmenter.status() != GsoStatus::kOk) {
    result.status = segmenter.status();
    result.lost = 1;
    packet.reset();
    return result;
  }
  result.segmented = true;
  while (segmenter.remaining() > 0) {
    Packet segment = segmenter.next(pool);
    if (!segment.valid()) {
      result.status = segmenter.status();
      result.lost = segmenter.remaining();
      break;
    }
    ++result.emitted;
    emit(std::move(segment));
  }
  packet.reset();
  return result;
}

}  // namespace nextmini::dataplane
