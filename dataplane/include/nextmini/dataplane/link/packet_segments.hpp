#pragma once
// packet_segments(): how many wire packets a Packet stands for. A plain packet is one; a GSO
// super-packet (PacketMeta::gso_valid, gso_size > 0) is ceil(payload / gso_size), where the
// payload follows the L4 header: csum_start marks where L4 starts, and the TCP header length is
// read from its data-offset field (UDP: 8 bytes). Out-of-range fields fall back to counting
// from csum_start. Pure function; never fails, never returns 0.

#include <cstdint>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace nextmini::dataplane {

inline std::uint32_t packet_segments(const Packet& packet) noexcept {
  const PacketMeta& meta = packet.meta();
  const std::size_t size = packet.size();
  if (!meta.gso_valid || meta.gso_size == 0 || size <= meta.gso_size) return 1;
  std::size_t header = meta.csum_start < size ? meta.csum_start : 0;
  const std::uint8_t type = meta.gso_type & 0x7f;
  if ((type == kGsoTypeTcpV4 || type == kGsoTypeTcpV6) && header + 20 <= size) {
    const std::size_t tcp_header = static_cast<std::size_t>(packet.data()[header + 12] >> 4) * 4;
    if (tcp_header >= 20 && header + tcp_header <= size) header += tcp_header;
  } else if (type == kGsoTypeUdpL4 && header + 8 <= size) {
    header += 8;
  }
  const std::size_t payload = size - header;
  const std::size_t segments = (payload + meta.gso_size - 1) / meta.gso_size;
  return segments == 0 ? 1u : static_cast<std::uint32_t>(segments);
}

}  // namespace nextmini::dataplane
