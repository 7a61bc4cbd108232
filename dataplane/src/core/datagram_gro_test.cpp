// Tests of regroup_datagrams: the datagrams the udp transport makes of a super-packet (partial
// checksums, headers built per segment), received back to back as UDP_GRO hands them over,
// become that super-packet again; anything that is not one TCP run stays as it is.

#include "nextmini/dataplane/core/datagram_gro.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "offload_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using namespace test_support;
using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const Packet& packet) { return Bytes(packet.data(), packet.data() + packet.size()); }

// The datagrams the udp transport sends for `super` (overlay + partial headers + payload), back
// to back; `datagram_size` gets the size of each but the last.
Bytes transport_datagrams(const Packet& super, std::size_t& datagram_size) {
  GsoSegmenter segmenter(super, kOverlayHeaderSize);
  EXPECT_EQ(segmenter.status(), GsoStatus::kOk);
  Bytes out;
  const std::size_t header_bytes = kOverlayHeaderSize + segmenter.header_length();
  datagram_size = header_bytes + super.meta().gso_size;
  for (std::size_t i = 0; i < segmenter.segments(); ++i) {
    std::uint8_t block[256];
    std::memcpy(block, super.data(), kOverlayHeaderSize);
    mark_overlay_partial_checksum(block, static_cast<std::uint16_t>(segmenter.l4_offset()),
                                  static_cast<std::uint16_t>(segmenter.checksum_offset()));
    segmenter.write_partial_headers(i, block + kOverlayHeaderSize);
    out.insert(out.end(), block, block + header_bytes);
    const auto payload = segmenter.payload(i);
    out.insert(out.end(), payload.begin(), payload.end());
  }
  return out;
}

Packet packet_of(PacketPool& pool, const Bytes& bytes) {
  Packet packet = pool.acquire();
  EXPECT_TRUE(packet.resize(bytes.size()));
  std::memcpy(packet.data(), bytes.data(), bytes.size());
  return packet;
}

struct World {
  PacketPool large{8, 70'000};
};

TEST(DatagramGro, RegroupsTheTransportsSegmentsIntoTheSuperPacket) {
  for (const bool ipv6 : {false, true}) {
    SCOPED_TRACE(ipv6 ? "IPv6" : "IPv4");
    World w;
    Packet super = make_super_packet(w.large, {ipv6, true, 40'000, 1348});
    prepend_overlay(super);
    const Bytes original = bytes_of(super);
    std::size_t datagram_size = 0;
    const Bytes received = transport_datagrams(super, datagram_size);
    EXPECT_EQ(datagram_count(received.size(), datagram_size), 30u);
    Packet packet = packet_of(w.large, received);
    ASSERT_TRUE(regroup_datagrams(packet, datagram_size));
    const Bytes got = bytes_of(packet);
    ASSERT_EQ(got.size(), original.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      const std::size_t ip = i - kOverlayHeaderSize;
      if (i >= kOverlayHeaderSize && !ipv6 && (ip == 10 || ip == 11)) continue;  // builder: 0
      ASSERT_EQ(got[i], original[i]) << "byte " << i;
    }
    if (!ipv6) EXPECT_TRUE(ipv4_header_ok(packet.data() + kOverlayHeaderSize));
    // The overlay header says what the Processor needs: a TCP super-packet, partial checksum.
    const auto header = read_overlay_header(packet.bytes());
    ASSERT_TRUE(header);
    EXPECT_EQ(header->gso_size, 1348);
    EXPECT_EQ(header->gso_type, ipv6 ? kGsoTypeTcpV6 : kGsoTypeTcpV4);
    EXPECT_EQ(header->csum_start, ipv6 ? 40 : 20);
    EXPECT_EQ(header->csum_offset, 16);
  }
}

TEST(DatagramGro, LeavesAnythingButOneRunUnchanged) {
  World w;
  Packet super = make_super_packet(w.large, {false, true, 8'000, 1000});
  prepend_overlay(super);
  std::size_t datagram_size = 0;
  const Bytes good = transport_datagrams(super, datagram_size);
  auto unchanged = [&](Bytes bytes, std::size_t size) {
    Packet packet = packet_of(w.large, bytes);
    EXPECT_FALSE(regroup_datagrams(packet, size));
    EXPECT_EQ(bytes_of(packet), bytes);
  };
  unchanged(good, 0);  // one datagram
  unchanged(Bytes(good.begin(), good.begin() + datagram_size), datagram_size);
  Bytes gap = good;  // a sequence gap
  gap[datagram_size * 2 + kOverlayHeaderSize + 20 + 7] ^= 1;
  unchanged(gap, datagram_size);
  Bytes other_route = good;  // an overlay header that differs
  other_route[datagram_size + 15] ^= 1;
  unchanged(other_route, datagram_size);
  Bytes psh = good;  // PSH before the last segment
  psh[datagram_size + kOverlayHeaderSize + 20 + 13] |= 0x08;
  unchanged(psh, datagram_size);
  Bytes complete = good;  // no partial-checksum flag
  for (std::size_t at = 0; at < complete.size(); at += datagram_size) {
    complete[at + 1] = 0;
    std::memset(complete.data() + at + 28, 0, 8);
  }
  unchanged(complete, datagram_size);
  unchanged(Bytes(good.begin(), good.end() - 1000), datagram_size + 1);  // sizes do not match
  unchanged(Bytes(5, 1), 2);                                             // garbage
}

TEST(DatagramGro, UdpSegmentsAreNotRegrouped) {
  World w;
  Packet super = make_super_packet(w.large, {false, false, 6'000, 1200});
  prepend_overlay(super);
  std::size_t datagram_size = 0;
  const Bytes bytes = transport_datagrams(super, datagram_size);
  Packet packet = packet_of(w.large, bytes);
  EXPECT_FALSE(regroup_datagrams(packet, datagram_size));
  EXPECT_EQ(datagram_count(bytes.size(), datagram_size), 5u);
  EXPECT_EQ(datagram_at(packet.bytes(), datagram_size, 4).size(), bytes.size() - 4 * datagram_size);
}

}  // namespace
}  // namespace nextmini::dataplane
