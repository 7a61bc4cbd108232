#pragma once
// Test helpers for offloads: a reference RFC 1071 checksum (independent of core/checksum.hpp),
// L4/IPv4 checksum checks, and GSO super-packets built as the kernel hands them over with
// TSO/USO (full lengths, partial checksum, PacketMeta offload fields).

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace nextmini::dataplane::test_support {

// RFC 1071, byte by byte, as a textbook would write it.
inline std::uint16_t reference_checksum(const std::vector<std::uint8_t>& data) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < data.size(); i += 2) {
    std::uint32_t word = static_cast<std::uint32_t>(data[i]) << 8;
    if (i + 1 < data.size()) word |= data[i + 1];
    sum += word;
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

inline std::uint16_t be16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(be16(p)) << 16 | be16(p + 2);
}

// True if the L4 checksum of the complete packet `bytes` (IPv4 or IPv6, L4 at l4) verifies.
inline bool l4_checksum_ok(const std::uint8_t* bytes, std::size_t size, std::size_t l4, bool ipv6,
                           std::uint8_t protocol) {
  std::vector<std::uint8_t> pseudo;
  const std::size_t l4_length = size - l4;
  if (ipv6) {
    pseudo.assign(bytes + 8, bytes + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(l4_length >> 8),
                                 static_cast<std::uint8_t>(l4_length), 0, 0, 0, protocol});
  } else {
    pseudo.assign(bytes + 12, bytes + 20);
    pseudo.insert(pseudo.end(), {0, protocol, static_cast<std::uint8_t>(l4_length >> 8),
                                 static_cast<std::uint8_t>(l4_length)});
  }
  pseudo.insert(pseudo.end(), bytes + l4, bytes + size);
  return reference_checksum(pseudo) == 0;
}

inline bool ipv4_header_ok(const std::uint8_t* bytes) {
  return reference_checksum(std::vector<std::uint8_t>(bytes, bytes + 20)) == 0;
}

struct SuperPacket {
  bool ipv6 = false;
  bool tcp = true;
  std::size_t payload = 0;
  std::uint16_t mss = 1000;
  std::uint8_t tcp_flags = 0x18;  // PSH | ACK
};

// A super-packet as the kernel hands it over with TSO/USO: full lengths, partial checksum.
inline Packet make_super_packet(PacketPool& pool, const SuperPacket& spec) {
  Packet packet = pool.acquire();
  const std::size_t ip = spec.ipv6 ? 40 : 20;
  const std::size_t l4 = spec.tcp ? 32 : 8;  // TCP with 12 bytes of options (timestamps)
  const std::size_t size = ip + l4 + spec.payload;
  EXPECT_TRUE(packet.resize(size));
  std::uint8_t* p = packet.data();
  std::memset(p, 0, ip + l4);
  const std::uint8_t protocol = spec.tcp ? 6 : 17;
  if (spec.ipv6) {
    p[0] = 0x60;
    p[4] = static_cast<std::uint8_t>((size - 40) >> 8);
    p[5] = static_cast<std::uint8_t>(size - 40);
    p[6] = protocol;
    p[7] = 64;
    for (int i = 0; i < 16; ++i) p[8 + i] = static_cast<std::uint8_t>(0x20 + i);
    for (int i = 0; i < 16; ++i) p[24 + i] = static_cast<std::uint8_t>(0x40 + i);
  } else {
    p[0] = 0x45;
    p[2] = static_cast<std::uint8_t>(size >> 8);
    p[3] = static_cast<std::uint8_t>(size);
    p[4] = 0x12;
    p[5] = 0x34;  // id
    p[6] = 0x40;  // DF
    p[8] = 64;
    p[9] = protocol;
    const std::uint8_t addresses[8] = {10, 0, 0, 1, 10, 0, 0, 2};
    std::memcpy(p + 12, addresses, 8);
  }
  std::uint8_t* h = p + ip;
  h[0] = 0x9c;
  h[1] = 0x40;  // port 40000
  h[2] = 0x14;
  h[3] = 0x51;  // port 5201
  if (spec.tcp) {
    h[4] = 0xff;
    h[5] = 0xff;
    h[6] = 0xff;
    h[7] = 0x00;   // seq near wrap-around
    h[12] = 0x80;  // data offset 8 words
    h[13] = spec.tcp_flags;
    h[14] = 0x01;                                                       // window
    for (int i = 20; i < 32; ++i) h[i] = static_cast<std::uint8_t>(i);  // options
  } else {
    h[4] = static_cast<std::uint8_t>((l4 + spec.payload) >> 8);
    h[5] = static_cast<std::uint8_t>(l4 + spec.payload);
  }
  for (std::size_t i = 0; i < spec.payload; ++i)
    p[ip + l4 + i] = static_cast<std::uint8_t>(i * 7 + i / 251);
  // Partial checksum: the folded pseudo-header sum, as the kernel leaves it for NEEDS_CSUM.
  const std::size_t checksum_offset = spec.tcp ? 16 : 6;
  std::vector<std::uint8_t> pseudo;
  const std::size_t l4_length = l4 + spec.payload;
  if (spec.ipv6) {
    pseudo.assign(p + 8, p + 40);
    pseudo.insert(pseudo.end(), {0, 0, static_cast<std::uint8_t>(l4_length >> 8),
                                 static_cast<std::uint8_t>(l4_length), 0, 0, 0, protocol});
  } else {
    pseudo.assign(p + 12, p + 20);
    pseudo.insert(pseudo.end(), {0, protocol, static_cast<std::uint8_t>(l4_length >> 8),
                                 static_cast<std::uint8_t>(l4_length)});
  }
  const std::uint16_t folded = static_cast<std::uint16_t>(~reference_checksum(pseudo));
  h[checksum_offset] = static_cast<std::uint8_t>(folded >> 8);
  h[checksum_offset + 1] = static_cast<std::uint8_t>(folded);
  PacketMeta& meta = packet.meta();
  meta.gso_valid = true;
  meta.gso_type = spec.tcp ? (spec.ipv6 ? kGsoTypeTcpV6 : kGsoTypeTcpV4) : kGsoTypeUdpL4;
  meta.gso_size = spec.mss;
  meta.needs_csum = true;
  meta.csum_start = static_cast<std::uint16_t>(ip);
  meta.csum_offset = static_cast<std::uint16_t>(checksum_offset);
  meta.flow_hash = 77;
  return packet;
}

// `super` as the Processor hands it to a link: an overlay header (flag gso, offload fields from
// its meta) pushed in front of it.
inline void prepend_overlay(Packet& super) {
  ASSERT_TRUE(super.push_front(kOverlayHeaderSize));
  OverlayHeader header;
  header.flags = kOverlayFlagGso;
  header.hop_limit = 32;
  header.src = 1;
  header.dst = 2;
  header.route_id = 12;
  header.flow_hash = 77;
  header.send_time_ns = 123456789;
  header.gso_size = super.meta().gso_size;
  header.gso_type = super.meta().gso_type;
  header.csum_start = super.meta().csum_start;
  header.csum_offset = super.meta().csum_offset;
  write_overlay_header(
      header, std::span<std::uint8_t, kOverlayHeaderSize>(super.data(), kOverlayHeaderSize));
}

}  // namespace nextmini::dataplane::test_support
