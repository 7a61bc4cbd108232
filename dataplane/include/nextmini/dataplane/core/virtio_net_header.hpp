#pragma once
// The virtio_net_hdr a TUN device opened with IFF_VNET_HDR puts before every packet read and
// expects before every packet written (10 bytes, little-endian on the hosts we run on):
//   0 flags (NEEDS_CSUM 1, DATA_VALID 2) | 1 gso_type (NONE 0, TCPV4 1, UDP 3, TCPV6 4,
//   UDP_L4 5, | ECN 0x80) | 2-3 hdr_len | 4-5 gso_size | 6-7 csum_start | 8-9 csum_offset
// parse_virtio_net_header() checks a header against the packet it precedes and fills the
// offload fields of PacketMeta; write_virtio_net_header() builds one from them. Pure: no
// allocation, no throw; a malformed header gives a status the caller counts and drops.
// NEEDS_CSUM: the packet's L4 checksum field (at csum_start + csum_offset) holds only the
// pseudo-header sum; whoever delivers the packet completes it (the far TUN's kernel, or
// complete_checksum() in gso.hpp).

#include <cstddef>
#include <cstdint>
#include <span>

#include "nextmini/dataplane/core/packet.hpp"

namespace nextmini::dataplane {

inline constexpr std::size_t kVirtioNetHeaderSize = 10;
inline constexpr std::uint8_t kVirtioNetFlagNeedsCsum = 0x01;
inline constexpr std::uint8_t kVirtioNetFlagDataValid = 0x02;

// gso_type values (PacketMeta::gso_type keeps the ECN bit).
inline constexpr std::uint8_t kGsoTypeNone = 0;
inline constexpr std::uint8_t kGsoTypeTcpV4 = 1;
inline constexpr std::uint8_t kGsoTypeUdp = 3;  // UFO (IP fragmentation): never accepted
inline constexpr std::uint8_t kGsoTypeTcpV6 = 4;
inline constexpr std::uint8_t kGsoTypeUdpL4 = 5;  // USO
inline constexpr std::uint8_t kGsoTypeEcn = 0x80;

enum class VnetStatus : std::uint8_t {
  kOk,
  kBadFlags,     // a flag other than NEEDS_CSUM / DATA_VALID
  kBadGsoType,   // unknown type, or UFO
  kBadGsoSize,   // a GSO type with gso_size 0
  kBadChecksum,  // GSO without NEEDS_CSUM, or csum_start/offset outside the packet
};

namespace detail {
inline std::uint16_t load_le16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline void store_le16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
}  // namespace detail

// Reads `header` (which precedes a packet of `packet_size` bytes) into meta's gso_* / csum_*
// fields and needs_csum. On a status other than kOk, meta is left unchanged.
inline VnetStatus parse_virtio_net_header(
    std::span<const std::uint8_t, kVirtioNetHeaderSize> header, std::size_t packet_size,
    PacketMeta& meta) noexcept {
  const std::uint8_t flags = header[0];
  const std::uint8_t gso_type = header[1];
  const std::uint16_t gso_size = detail::load_le16(&header[4]);
  const std::uint16_t csum_start = detail::load_le16(&header[6]);
  const std::uint16_t csum_offset = detail::load_le16(&header[8]);
  if ((flags & ~(kVirtioNetFlagNeedsCsum | kVirtioNetFlagDataValid)) != 0)
    return VnetStatus::kBadFlags;
  const bool needs_csum = (flags & kVirtioNetFlagNeedsCsum) != 0;
  if (needs_csum && static_cast<std::size_t>(csum_start) + csum_offset + 2 > packet_size)
    return VnetStatus::kBadChecksum;
  const std::uint8_t type = gso_type & static_cast<std::uint8_t>(~kGsoTypeEcn);
  if (type != kGsoTypeNone) {
    if (type != kGsoTypeTcpV4 && type != kGsoTypeTcpV6 && type != kGsoTypeUdpL4)
      return VnetStatus::kBadGsoType;
    if (gso_size == 0) return VnetStatus::kBadGsoSize;
    if (!needs_csum) return VnetStatus::kBadChecksum;
  } else if (gso_type != kGsoTypeNone) {
    return VnetStatus::kBadGsoType;  // ECN without a GSO type
  }
  meta.gso_valid = type != kGsoTypeNone;
  meta.gso_type = meta.gso_valid ? gso_type : 0;
  meta.gso_size = meta.gso_valid ? gso_size : 0;
  meta.needs_csum = needs_csum;
  meta.csum_start = needs_csum ? csum_start : 0;
  meta.csum_offset = needs_csum ? csum_offset : 0;
  return VnetStatus::kOk;
}

// The header for writing `packet` (its meta and bytes: hdr_len is the L3 + L4 header length,
// read from the TCP data offset; UDP: 8). A packet without offload fields gets a zero header.
inline void write_virtio_net_header(const Packet& packet,
                                    std::span<std::uint8_t, kVirtioNetHeaderSize> out) noexcept {
  const PacketMeta& meta = packet.meta();
  std::uint8_t* p = out.data();
  for (std::size_t i = 0; i < kVirtioNetHeaderSize; ++i) p[i] = 0;
  if (meta.needs_csum) {
    p[0] = kVirtioNetFlagNeedsCsum;
    detail::store_le16(p + 6, meta.csum_start);
    detail::store_le16(p + 8, meta.csum_offset);
  }
  if (!meta.gso_valid || meta.gso_size == 0) return;
  p[1] = meta.gso_type;
  detail::store_le16(p + 4, meta.gso_size);
  std::size_t hdr_len = meta.csum_start;
  const std::uint8_t type = meta.gso_type & static_cast<std::uint8_t>(~kGsoTypeEcn);
  if (type == kGsoTypeUdpL4) {
    hdr_len += 8;
  } else if (hdr_len + 13 <= packet.size()) {
    hdr_len += static_cast<std::size_t>(packet.data()[hdr_len + 12] >> 4) * 4;
  }
  if (hdr_len > packet.size()) hdr_len = packet.size();
  detail::store_le16(p + 2, static_cast<std::uint16_t>(hdr_len));
}

}  // namespace nextmini::dataplane
