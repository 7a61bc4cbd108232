// Tests of the offload pieces in core/: the virtio_net_hdr parser and builder, software GSO
// (GsoSegmenter / gso_segment) and checksum completion. Checksums are verified with the
// reference implementation in offload_test_support.hpp, written independently of checksum.hpp.

#include "nextmini/dataplane/core/gso.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "nextmini/dataplane/core/virtio_net_header.hpp"
#include "offload_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using namespace test_support;

struct SegmentCase {
  bool ipv6;
  bool tcp;
};

class GsoSegmentTest : public ::testing::TestWithParam<SegmentCase> {};

TEST_P(GsoSegmentTest, EverySegmentIsACompletePacketWithTheRightBytes) {
  const SegmentCase c = GetParam();
  PacketPool big(2, 70'000);
  PacketPool small(64, 2048);
  SuperPacket spec{c.ipv6, c.tcp, 4500, 1000, 0x19};  // FIN | PSH | ACK; last segment 500
  Packet super = make_super_packet(big, spec);
  const std::size_t ip = c.ipv6 ? 40 : 20;
  const std::size_t hdr = ip + (c.tcp ? 32 : 8);

  PacketBatch out;
  ASSERT_EQ(gso_segment(super, small, out), GsoStatus::kOk);
  ASSERT_EQ(out.size(), 5u);
  std::size_t payload_seen = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    SCOPED_TRACE(i);
    const Packet& seg = out[i];
    const std::uint8_t* p = seg.data();
    const std::size_t chunk = i + 1 < out.size() ? 1000 : 500;
    ASSERT_EQ(seg.size(), hdr + chunk);
    EXPECT_FALSE(seg.meta().gso_valid);
    EXPECT_FALSE(seg.meta().needs_csum);
    EXPECT_EQ(seg.meta().flow_hash, 77u);
    if (c.ipv6) {
      EXPECT_EQ(be16(p + 4), hdr + chunk - 40);
    } else {
      EXPECT_EQ(be16(p + 2), hdr + chunk);
      EXPECT_EQ(be16(p + 4), 0x1234 + i);
      EXPECT_TRUE(ipv4_header_ok(p));
    }
    const std::uint8_t* l4 = p + ip;
    if (c.tcp) {
      EXPECT_EQ(be32(l4 + 4), static_cast<std::uint32_t>(0xffffff00u + i * 1000));
      const std::uint8_t flags = l4[13];
      const bool last = i + 1 == out.size();
      EXPECT_EQ((flags & 0x01) != 0, last) << "FIN only on the last";
      EXPECT_EQ((flags & 0x08) != 0, last) << "PSH only on the last";
      EXPECT_TRUE(flags & 0x10);
      for (int k = 20; k < 32; ++k) EXPECT_EQ(l4[k], k);  // options copied
    } else {
      EXPECT_EQ(be16(l4 + 4), 8 + chunk);
    }
    EXPECT_TRUE(l4_checksum_ok(p, seg.size(), ip, c.ipv6, c.tcp ? 6 : 17));
    for (std::size_t k = 0; k < chunk; ++k) {
      const std::size_t at = payload_seen + k;
      ASSERT_EQ(p[hdr + k], static_cast<std::uint8_t>(at * 7 + at / 251)) << at;
    }
    payload_seen += chunk;
  }
  EXPECT_EQ(payload_seen, 4500u);
  out.clear();
  EXPECT_EQ(small.in_use(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, GsoSegmentTest,
                         ::testing::Values(SegmentCase{false, true}, SegmentCase{true, true},
                                           SegmentCase{false, false}, SegmentCase{true, false}),
                         [](const auto& info) {
                           return std::string(info.param.ipv6 ? "Ipv6" : "Ipv4") +
                                  (info.param.tcp ? "Tcp" : "Udp");
                         });

// What a gathering sender does (the udp transport): each segment's headers with a partial
// checksum, its payload in place. Completed, they are byte for byte what next() makes.
TEST(GsoSegmenter, PartialHeadersAndPayloadInPlaceMakeTheSameSegments) {
  for (const bool ipv6 : {false, true}) {
    for (const bool tcp : {false, true}) {
      SCOPED_TRACE(std::string(ipv6 ? "IPv6" : "IPv4") + (tcp ? " TCP" : " UDP"));
      PacketPool pool(64, 70'000);
      Packet super = make_super_packet(pool, {ipv6, tcp, 5'500, 1000});
      GsoSegmenter reference(super);
      GsoSegmenter gather(super);
      ASSERT_EQ(gather.segments(), 6u);
      for (std::size_t i = 0; i < gather.segments(); ++i) {
        Packet expected = reference.next(pool);
        ASSERT_TRUE(expected.valid());
        const auto payload = gather.payload(i);
        EXPECT_EQ(payload.data(), super.data() + gather.header_length() + i * 1000);  // no copy
        Packet built = pool.acquire();
        ASSERT_TRUE(built.resize(gather.header_length() + payload.size()));
        gather.write_partial_headers(i, built.data());
        std::memcpy(built.data() + gather.header_length(), payload.data(), payload.size());
        built.meta().needs_csum = true;
        built.meta().csum_start = static_cast<std::uint16_t>(gather.l4_offset());
        built.meta().csum_offset = static_cast<std::uint16_t>(gather.checksum_offset());
        ASSERT_TRUE(complete_checksum(built));
        ASSERT_EQ(built.size(), expected.size());
        EXPECT_EQ(std::memcmp(built.data(), expected.data(), built.size()), 0) << "segment " << i;
      }
    }
  }
}

TEST(GsoSegmenter, CwrStaysOnTheFirstSegmentOnly) {
  PacketPool big(1, 70'000);
  PacketPool small(8, 2048);
  Packet super = make_super_packet(big, {false, true, 2000, 1000, 0x90});  // CWR | ACK
  GsoSegmenter segmenter(super);
  ASSERT_EQ(segmenter.status(), GsoStatus::kOk);
  ASSERT_EQ(segmenter.segments(), 2u);
  Packet first = segmenter.next(small);
  Packet second = segmenter.next(small);
  EXPECT_EQ(first.data()[20 + 13], 0x90);
  EXPECT_EQ(second.data()[20 + 13], 0x10);
  EXPECT_FALSE(segmenter.next(small).valid());
  EXPECT_EQ(segmenter.status(), GsoStatus::kOk);
}

TEST(GsoSegmenter, RejectsHeadersThatDoNotMatchTheMetadata) {
  PacketPool big(1, 70'000);
  Packet super = make_super_packet(big, {false, true, 3000, 1000});
  super.meta().gso_type = kGsoTypeTcpV6;  // an IPv4 packet
  EXPECT_EQ(GsoSegmenter(super).status(), GsoStatus::kBadHeaders);
  super.meta().gso_type = kGsoTypeTcpV4;
  super.meta().csum_start = 24;  // not where TCP starts
  EXPECT_EQ(GsoSegmenter(super).status(), GsoStatus::kBadHeaders);
  super.meta().csum_start = 20;
  super.data()[9] = 17;  // says UDP
  EXPECT_EQ(GsoSegmenter(super).status(), GsoStatus::kBadHeaders);
  super.data()[9] = 6;
  super.resize(30);  // truncated TCP header
  EXPECT_EQ(GsoSegmenter(super).status(), GsoStatus::kBadHeaders);
  super.meta().gso_valid = false;
  EXPECT_EQ(GsoSegmenter(super).status(), GsoStatus::kNotGso);
}

TEST(GsoSegmenter, ReportsAnEmptyPoolAndABatchWithoutRoom) {
  PacketPool big(2, 70'000);
  PacketPool small(2, 2048);
  Packet super = make_super_packet(big, {false, true, 3000, 1000});
  PacketBatch out;
  EXPECT_EQ(gso_segment(super, small, out), GsoStatus::kPoolExhausted);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(small.in_use(), 0u);
  PacketPool enough(64, 2048);
  Packet tiny_mss = make_super_packet(big, {false, true, 6500, 100});
  EXPECT_EQ(gso_segment(tiny_mss, enough, out), GsoStatus::kBatchFull);  // 65 segments
  EXPECT_TRUE(out.empty());
  GsoSegmenter one_by_one(tiny_mss);
  std::size_t made = 0;
  for (Packet p = one_by_one.next(enough); p.valid(); p = one_by_one.next(enough)) ++made;
  EXPECT_EQ(made, 65u);
}

TEST(CompleteChecksum, FinishesAPartialChecksum) {
  PacketPool pool(2, 2048);
  for (const bool tcp : {true, false}) {
    Packet packet = make_super_packet(pool, {false, tcp, 777, 1000});
    packet.meta().gso_valid = false;
    ASSERT_TRUE(needs_software_offload(packet));
    EXPECT_FALSE(l4_checksum_ok(packet.data(), packet.size(), 20, false, tcp ? 6 : 17));
    ASSERT_TRUE(complete_checksum(packet));
    EXPECT_FALSE(packet.meta().needs_csum);
    EXPECT_FALSE(needs_software_offload(packet));
    EXPECT_TRUE(l4_checksum_ok(packet.data(), packet.size(), 20, false, tcp ? 6 : 17));
  }
  Packet bad = pool.acquire();
  bad.resize(40);
  bad.meta().needs_csum = true;
  bad.meta().csum_start = 30;
  bad.meta().csum_offset = 16;
  EXPECT_FALSE(complete_checksum(bad));
}

// --- virtio_net_hdr ---

std::array<std::uint8_t, kVirtioNetHeaderSize> vnet(std::uint8_t flags, std::uint8_t type,
                                                    std::uint16_t hdr_len, std::uint16_t gso_size,
                                                    std::uint16_t start, std::uint16_t offset) {
  return {flags,
          type,
          static_cast<std::uint8_t>(hdr_len),
          static_cast<std::uint8_t>(hdr_len >> 8),
          static_cast<std::uint8_t>(gso_size),
          static_cast<std::uint8_t>(gso_size >> 8),
          static_cast<std::uint8_t>(start),
          static_cast<std::uint8_t>(start >> 8),
          static_cast<std::uint8_t>(offset),
          static_cast<std::uint8_t>(offset >> 8)};
}

TEST(VirtioNetHeader, ParsesATsoHeaderAndBuildsItBack) {
  PacketPool pool(1, 70'000);
  Packet packet = make_super_packet(pool, {false, true, 20000, 1448});
  packet.meta() = {};
  const auto header = vnet(kVirtioNetFlagNeedsCsum, kGsoTypeTcpV4 | kGsoTypeEcn, 52, 1448, 20, 16);
  ASSERT_EQ(parse_virtio_net_header(header, packet.size(), packet.meta()), VnetStatus::kOk);
  const PacketMeta& meta = packet.meta();
  EXPECT_TRUE(meta.gso_valid);
  EXPECT_TRUE(meta.needs_csum);
  EXPECT_EQ(meta.gso_type, kGsoTypeTcpV4 | kGsoTypeEcn);
  EXPECT_EQ(meta.gso_size, 1448);
  EXPECT_EQ(meta.csum_start, 20);
  EXPECT_EQ(meta.csum_offset, 16);
  std::array<std::uint8_t, kVirtioNetHeaderSize> built{};
  write_virtio_net_header(packet, built);
  EXPECT_EQ(built, header);  // hdr_len 52 = 20 + the TCP data offset (32)
}

TEST(VirtioNetHeader, PlainAndChecksumOnlyHeaders) {
  PacketMeta meta;
  ASSERT_EQ(parse_virtio_net_header(vnet(0, 0, 0, 0, 0, 0), 100, meta), VnetStatus::kOk);
  EXPECT_FALSE(meta.gso_valid);
  EXPECT_FALSE(meta.needs_csum);
  ASSERT_EQ(parse_virtio_net_header(vnet(kVirtioNetFlagDataValid, 0, 0, 0, 0, 0), 100, meta),
            VnetStatus::kOk);
  ASSERT_EQ(parse_virtio_net_header(vnet(kVirtioNetFlagNeedsCsum, 0, 0, 0, 20, 6), 100, meta),
            VnetStatus::kOk);
  EXPECT_FALSE(meta.gso_valid);
  EXPECT_TRUE(meta.needs_csum);
  PacketPool pool(1, 256);
  Packet packet = pool.acquire();
  packet.resize(100);
  packet.meta() = meta;
  std::array<std::uint8_t, kVirtioNetHeaderSize> built{};
  write_virtio_net_header(packet, built);
  EXPECT_EQ(built, vnet(kVirtioNetFlagNeedsCsum, 0, 0, 0, 20, 6));
  packet.meta() = {};
  write_virtio_net_header(packet, built);
  EXPECT_EQ(built, vnet(0, 0, 0, 0, 0, 0));
}

TEST(VirtioNetHeader, RejectsMalformedHeadersAndLeavesTheMetaAlone) {
  PacketMeta meta;
  meta.flow_hash = 5;
  const PacketMeta before = meta;
  auto same = [&] { return !meta.gso_valid && !meta.needs_csum && meta.flow_hash == 5; };
  EXPECT_EQ(parse_virtio_net_header(vnet(0x04, 0, 0, 0, 0, 0), 100, meta), VnetStatus::kBadFlags);
  EXPECT_EQ(parse_virtio_net_header(vnet(1, 2, 0, 1000, 20, 16), 100, meta),
            VnetStatus::kBadGsoType);
  EXPECT_EQ(parse_virtio_net_header(vnet(1, kGsoTypeUdp, 0, 1000, 20, 6), 100, meta),
            VnetStatus::kBadGsoType);
  EXPECT_EQ(parse_virtio_net_header(vnet(0, kGsoTypeEcn, 0, 0, 0, 0), 100, meta),
            VnetStatus::kBadGsoType);
  EXPECT_EQ(parse_virtio_net_header(vnet(1, kGsoTypeTcpV4, 0, 0, 20, 16), 100, meta),
            VnetStatus::kBadGsoSize);
  EXPECT_EQ(parse_virtio_net_header(vnet(0, kGsoTypeTcpV4, 0, 1000, 0, 0), 100, meta),
            VnetStatus::kBadChecksum);
  EXPECT_EQ(parse_virtio_net_header(vnet(1, 0, 0, 0, 90, 16), 100, meta), VnetStatus::kBadChecksum);
  EXPECT_EQ(parse_virtio_net_header(vnet(1, 0, 0, 0, 0xffff, 0xffff), 100, meta),
            VnetStatus::kBadChecksum);
  EXPECT_TRUE(same());
  (void)before;
}

}  // namespace
}  // namespace nextmini::dataplane
