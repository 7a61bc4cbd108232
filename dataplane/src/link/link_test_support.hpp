#pragma once
// Helpers shared by the link queueing tests: packets of a given size, flow and GSO shape.

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/packet_segments.hpp"

namespace nextmini::dataplane::link_test {

inline Packet make_packet(PacketPool& pool, std::size_t size, std::uint32_t flow_hash = 0) {
  Packet packet = pool.acquire();
  EXPECT_TRUE(packet.valid());
  EXPECT_TRUE(packet.resize(size));
  if (size > 0) std::memset(packet.data(), 0, size);
  packet.meta().flow_hash = flow_hash;
  return packet;
}

// A TCP/IPv4 GSO super-packet: 20-byte IP header, 32-byte TCP header, `payload` bytes of data.
inline Packet make_gso_packet(PacketPool& pool, std::size_t payload, std::uint16_t gso_size,
                              std::uint32_t flow_hash = 0) {
  Packet packet = make_packet(pool, 20 + 32 + payload, flow_hash);
  packet.data()[20 + 12] = 8 << 4;  // TCP data offset: 8 words
  PacketMeta& meta = packet.meta();
  meta.gso_valid = true;
  meta.gso_type = kGsoTypeTcpV4;
  meta.gso_size = gso_size;
  meta.csum_start = 20;
  meta.csum_offset = 16;
  return packet;
}

}  // namespace nextmini::dataplane::link_test
