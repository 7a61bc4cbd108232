#pragma once
// packet_segments() / wire_size(): how many wire packets a Packet stands for, how many IP bytes
// they carry on the wire, and the IP size of the largest (what a link's MTU must hold). A plain
// packet is one packet of its IP size; a GSO super-packet (PacketMeta::gso_valid, gso_size > 0) is
// ceil(payload / gso_size) segments, where the payload follows the L3 + L4 headers, and each
// segment repeats those headers. The IP packet starts PacketMeta::l3_offset bytes into the packet
// (the overlay header in front of a packet on its way to a link); csum_start marks where L4 starts
// inside it, and the TCP header length is read from its data-offset field (UDP: 8 bytes).
// Out-of-range fields fall back to counting from csum_start (or from the IP packet's start). The
// bytes never include the l3_offset prefix. Pure functions; never fail, never return 0 segments.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace nextmini::dataplane {

struct WireSize {
  std::uint32_t segments = 1;
  std::uint64_t bytes = 0;    // IP bytes of every segment together (headers repeated)
  std::uint64_t largest = 0;  // IP bytes of the largest segment (the first)
};

inline WireSize wire_size(const Packet& packet) noexcept {
  const PacketMeta& meta = packet.meta();
  const std::size_t prefix = meta.l3_offset < packet.size() ? meta.l3_offset : 0;
  const std::size_t size = packet.size() - prefix;
  if (!meta.gso_valid || meta.gso_size == 0 || size <= meta.gso_size) return {1, size, size};
  const std::uint8_t* ip = packet.data() + prefix;
  std::size_t header = meta.csum_start < size ? meta.csum_start : 0;
  const std::uint8_t type = meta.gso_type & 0x7f;
  if ((type == kGsoTypeTcpV4 || type == kGsoTypeTcpV6) && header + 20 <= size) {
    const std::size_t tcp_header = static_cast<std::size_t>(ip[header + 12] >> 4) * 4;
    if (tcp_header >= 20 && header + tcp_header <= size) header += tcp_header;
  } else if (type == kGsoTypeUdpL4 && header + 8 <= size) {
    header += 8;
  }
  const std::size_t payload = size - header;
  const std::size_t segments = payload == 0 ? 1 : (payload + meta.gso_size - 1) / meta.gso_size;
  return {static_cast<std::uint32_t>(segments), payload + segments * header,
          header + std::min<std::size_t>(payload, meta.gso_size)};
}

inline std::uint32_t packet_segments(const Packet& packet) noexcept {
  return wire_size(packet).segments;
}

}  // namespace nextmini::dataplane
