// Tests of GroCoalescer: runs of plain TCP segments become the super-packet they were cut from;
// anything that must not merge stays as it is, in order.

#include "nextmini/dataplane/core/gro.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "nextmini/dataplane/core/gso.hpp"
#include "offload_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using namespace test_support;

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(const Packet& packet) { return Bytes(packet.data(), packet.data() + packet.size()); }

struct GroWorld {
  PacketPool large{8, 70'000};
  PacketPool small{256, 2048};
  GroCoalescer gro{large};

  // The plain segments of a super-packet, and the super-packet's bytes.
  Bytes cut(const SuperPacket& spec, PacketBatch& out) {
    Packet super = make_super_packet(large, spec);
    Bytes original = bytes_of(super);
    EXPECT_EQ(gso_segment(super, small, out), GsoStatus::kOk);
    return original;
  }
};

void expect_rebuilt(const Packet& merged, const Bytes& original, bool ipv6) {
  const Bytes got = bytes_of(merged);
  ASSERT_EQ(got.size(), original.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    if (!ipv6 && (i == 10 || i == 11)) continue;  // the builder leaves the IPv4 checksum at 0
    ASSERT_EQ(got[i], original[i]) << "byte " << i;
  }
  if (!ipv6) {
    EXPECT_TRUE(ipv4_header_ok(merged.data()));
  }
  const PacketMeta& meta = merged.meta();
  EXPECT_TRUE(meta.gso_valid);
  EXPECT_TRUE(meta.needs_csum);
  EXPECT_EQ(meta.gso_type, ipv6 ? kGsoTypeTcpV6 : kGsoTypeTcpV4);
  EXPECT_EQ(meta.csum_start, ipv6 ? 40 : 20);
  EXPECT_EQ(meta.csum_offset, 16);
}

TEST(GroCoalescer, RebuildsTheSuperPacketFromItsSegments) {
  for (const bool ipv6 : {false, true}) {
    SCOPED_TRACE(ipv6 ? "IPv6" : "IPv4");
    GroWorld w;
    PacketBatch batch;
    const Bytes original = w.cut({ipv6, true, 20'000, 1448}, batch);
    ASSERT_EQ(batch.size(), 14u);
    w.gro.coalesce(batch);
    ASSERT_EQ(batch.size(), 1u);
    expect_rebuilt(batch[0], original, ipv6);
    EXPECT_EQ(batch[0].meta().gso_size, 1448);
    EXPECT_EQ(w.gro.merged_packets(), 14u);
    EXPECT_EQ(w.gro.super_packets(), 1u);
    // What the kernel does with it: the completed checksum verifies.
    ASSERT_TRUE(complete_checksum(batch[0]));
    EXPECT_TRUE(l4_checksum_ok(batch[0].data(), batch[0].size(), ipv6 ? 40 : 20, ipv6, 6));
    batch.clear();
    EXPECT_EQ(w.small.in_use(), 0u);
  }
}

TEST(GroCoalescer, LeavesAloneWhatMustNotMerge) {
  GroWorld w;
  PacketBatch batch;
  w.cut({false, true, 4000, 1000}, batch);  // 4 segments: seq s, s+1000, s+2000, s+3000
  // Out of order: swap the last two; then a corrupted one after the batch's first two.
  std::swap(batch[2], batch[3]);
  const Bytes third = bytes_of(batch[2]);
  const Bytes fourth = bytes_of(batch[3]);
  PacketBatch other;
  w.cut({false, false, 3000, 1000}, other);  // UDP: never merged
  for (Packet& p : other) batch.push(std::move(p));
  w.gro.coalesce(batch);
  // The first two merge; the out-of-order pair and the UDP datagrams stay.
  ASSERT_EQ(batch.size(), 6u);
  EXPECT_TRUE(batch[0].meta().gso_valid);
  EXPECT_EQ(batch[0].size(), 52u + 2000u);
  EXPECT_EQ(bytes_of(batch[1]), third);
  EXPECT_EQ(bytes_of(batch[2]), fourth);
  for (std::size_t i = 3; i < 6; ++i) EXPECT_FALSE(batch[i].meta().gso_valid);

  PacketBatch damaged;
  w.cut({false, true, 3000, 1000}, damaged);
  damaged[1].data()[100] ^= 0x40;  // a corrupted payload: its checksum fails
  w.gro.coalesce(damaged);
  ASSERT_EQ(damaged.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_FALSE(damaged[i].meta().gso_valid) << i;
}

// Segments with partial checksums (as a udp link's sender leaves them, overlay csum fields ->
// needs_csum) merge without a checksum to verify; the result's completed checksum is right.
TEST(GroCoalescer, MergesPartialChecksumSegmentsWithoutVerifying) {
  GroWorld w;
  Packet super = make_super_packet(w.large, {false, true, 5000, 1000});
  GsoSegmenter segmenter(super);
  ASSERT_EQ(segmenter.status(), GsoStatus::kOk);
  PacketBatch batch;
  for (std::size_t i = 0; i < segmenter.segments(); ++i) {
    Packet segment = w.small.acquire();
    const auto payload = segmenter.payload(i);
    ASSERT_TRUE(segment.resize(segmenter.header_length() + payload.size()));
    segmenter.write_partial_headers(i, segment.data());
    std::memcpy(segment.data() + segmenter.header_length(), payload.data(), payload.size());
    segment.meta().needs_csum = true;
    segment.meta().csum_start = 20;
    segment.meta().csum_offset = 16;
    batch.push(std::move(segment));
  }
  w.gro.coalesce(batch);
  ASSERT_EQ(batch.size(), 1u);
  EXPECT_TRUE(batch[0].meta().gso_valid);
  EXPECT_EQ(batch[0].size(), super.size());
  ASSERT_TRUE(complete_checksum(batch[0]));
  EXPECT_TRUE(l4_checksum_ok(batch[0].data(), batch[0].size(), 20, false, 6));

  // A partial checksum somewhere else than the TCP checksum is not trusted: nothing merges.
  PacketBatch odd;
  w.cut({false, true, 3000, 1000}, odd);
  for (Packet& p : odd) {
    p.meta().needs_csum = true;
    p.meta().csum_start = 20;
    p.meta().csum_offset = 6;
  }
  w.gro.coalesce(odd);
  EXPECT_EQ(odd.size(), 3u);
}

TEST(GroCoalescer, InterleavedFlowsAndAnEmptyPoolMergeNothing) {
  GroWorld w;
  PacketBatch a;
  PacketBatch b;
  w.cut({false, true, 2000, 1000}, a);
  SuperPacket other_flow{false, true, 2000, 1000};
  w.cut(other_flow, b);
  b[0].data()[20] ^= 1;  // another source port (checksum no longer verifies either)
  b[1].data()[20] ^= 1;
  PacketBatch batch;
  batch.push(std::move(a[0]));
  batch.push(std::move(b[0]));
  batch.push(std::move(a[1]));
  batch.push(std::move(b[1]));
  w.gro.coalesce(batch);
  EXPECT_EQ(batch.size(), 4u);
  EXPECT_EQ(w.gro.super_packets(), 0u);

  PacketPool none(1, 70'000);
  Packet hold = none.acquire();
  GroCoalescer starved(none);
  PacketBatch run;
  w.cut({false, true, 3000, 1000}, run);
  starved.coalesce(run);
  EXPECT_EQ(run.size(), 3u);
}

}  // namespace
}  // namespace nextmini::dataplane
