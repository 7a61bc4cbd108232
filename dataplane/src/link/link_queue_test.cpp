#include "nextmini/dataplane/link/link_queue.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "link_test_support.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/packet_segments.hpp"

namespace nextmini::dataplane {
namespace {

using link_test::make_gso_packet;
using link_test::make_packet;

class LinkQueueTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }
  PacketPool pool_{256, 70'000};
};

TEST_F(LinkQueueTest, PacketLimitRefusesTheArrivalBeyondIt) {
  LinkQueue queue(QueueLimit{.packets = 3});
  for (std::uint32_t i = 0; i < 3; ++i) {
    Packet packet = make_packet(pool_, 100 + i);
    EXPECT_EQ(queue.push(0, packet, 10 * i), LinkQueue::PushResult::kQueued);
    EXPECT_FALSE(packet.valid());
  }
  Packet extra = make_packet(pool_, 50);
  EXPECT_EQ(queue.push(0, extra, 40), LinkQueue::PushResult::kOverLimit);
  EXPECT_TRUE(extra.valid()) << "a refused packet stays with the caller";
  EXPECT_EQ(queue.packets(), 3u);
  EXPECT_EQ(queue.bytes(), 303u);

  // FIFO order, each with its enqueue time.
  for (std::uint32_t i = 0; i < 3; ++i) {
    TimeNs enqueued = 0;
    Packet packet = queue.pop(0, &enqueued);
    ASSERT_TRUE(packet.valid());
    EXPECT_EQ(packet.size(), 100u + i);
    EXPECT_EQ(enqueued, 10u * i);
  }
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.pop(0).valid());
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST_F(LinkQueueTest, ByteLimitCountsBytes) {
  LinkQueue queue(QueueLimit{.bytes = 3000});
  for (int i = 0; i < 3; ++i) {
    Packet packet = make_packet(pool_, 1000);
    ASSERT_EQ(queue.push(0, packet, 0), LinkQueue::PushResult::kQueued);
  }
  Packet one_byte = make_packet(pool_, 1);
  EXPECT_EQ(queue.push(0, one_byte, 0), LinkQueue::PushResult::kOverLimit);
  EXPECT_EQ(queue.occupancy(), 3000u);
  queue.pop(0);
  Packet small = make_packet(pool_, 600);
  EXPECT_EQ(queue.push(0, small, 0), LinkQueue::PushResult::kQueued);
  Packet too_big = make_packet(pool_, 401);
  EXPECT_EQ(queue.push(0, too_big, 0), LinkQueue::PushResult::kOverLimit);
  EXPECT_EQ(queue.bytes(), 2600u);
  EXPECT_EQ(queue.packets(), 3u);
  while (!queue.empty()) queue.pop(0);
}

TEST(PacketSegmentsTest, GsoSuperPacketCountsItsSegments) {
  PacketPool pool(4, 70'000);
  EXPECT_EQ(packet_segments(make_packet(pool, 1500)), 1u);
  EXPECT_EQ(packet_segments(make_gso_packet(pool, 3000, 1000)), 3u);
  EXPECT_EQ(packet_segments(make_gso_packet(pool, 3001, 1000)), 4u);
  EXPECT_EQ(packet_segments(make_gso_packet(pool, 64'000, 1448)), 45u);  // 44.2 -> 45
  {
    // No valid gso_size: one packet.
    Packet zero = make_gso_packet(pool, 3000, 1000);
    zero.meta().gso_size = 0;
    EXPECT_EQ(packet_segments(zero), 1u);
    // A csum_start beyond the packet falls back to counting the whole packet.
    Packet bad = make_gso_packet(pool, 3000, 1000);
    bad.meta().csum_start = 60'000;
    EXPECT_EQ(packet_segments(bad), 4u);  // 3052 bytes / 1000
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(PacketSegmentsTest, WireBytesRepeatTheHeadersInEverySegment) {
  PacketPool pool(4, 70'000);
  // 3000 payload bytes of gso_size 1000 behind 20 + 32 header bytes: 3 segments of 1052.
  const WireSize three = wire_size(make_gso_packet(pool, 3000, 1000));
  EXPECT_EQ(three.segments, 3u);
  EXPECT_EQ(three.bytes, 3u * 1052u);
  EXPECT_EQ(three.largest, 1052u);
  // A short last segment: the largest is still a full one.
  const WireSize short_last = wire_size(make_gso_packet(pool, 2500, 1000));
  EXPECT_EQ(short_last.segments, 3u);
  EXPECT_EQ(short_last.bytes, 2500u + 3u * 52u);
  EXPECT_EQ(short_last.largest, 1052u);
  const WireSize plain = wire_size(make_packet(pool, 1400));
  EXPECT_EQ(plain.segments, 1u);
  EXPECT_EQ(plain.bytes, 1400u);
  EXPECT_EQ(plain.largest, 1400u);
  EXPECT_EQ(pool.in_use(), 0u);
}

// A super-packet with the overlay header in front (as the Processor hands it to a link):
// csum_start counts from the IP packet, l3_offset bytes in. Counting from the front of the
// buffer read an overlay byte as the TCP data offset and counted 4 segments, not 3.
TEST(PacketSegmentsTest, CountsFromTheIpPacketBehindAPrefix) {
  PacketPool pool(4, 70'000);
  constexpr std::size_t kPrefix = 36;
  Packet packet = make_gso_packet(pool, 3000, 1000);
  ASSERT_TRUE(packet.push_front(kPrefix));
  std::memset(packet.data(), 0, kPrefix);
  packet.data()[20 + 12] = 5 << 4;  // an overlay byte where the TCP data offset is not
  packet.meta().l3_offset = kPrefix;
  const WireSize size = wire_size(packet);
  EXPECT_EQ(size.segments, 3u);
  EXPECT_EQ(size.bytes, 3u * 1052u) << "the prefix is not wire bytes of the IP packet";
  EXPECT_EQ(packet_segments(packet), 3u);
  packet.reset();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST_F(LinkQueueTest, PacketLimitCountsGsoSegments) {
  LinkQueue queue(QueueLimit{.packets = 4});
  Packet gso = make_gso_packet(pool_, 3000, 1000);  // 3 segments
  ASSERT_EQ(queue.push(0, gso, 0), LinkQueue::PushResult::kQueued);
  EXPECT_EQ(queue.packets(), 3u);
  EXPECT_EQ(queue.entries(), 1u);
  Packet second_gso = make_gso_packet(pool_, 2000, 1000);  // 2 segments: 5 > 4
  EXPECT_EQ(queue.push(0, second_gso, 0), LinkQueue::PushResult::kOverLimit);
  Packet plain = make_packet(pool_, 1500);
  EXPECT_EQ(queue.push(0, plain, 0), LinkQueue::PushResult::kQueued);
  EXPECT_EQ(queue.packets(), 4u);
  EXPECT_EQ(queue.front_segments(0), 3u);
  queue.pop(0);
  EXPECT_EQ(queue.packets(), 1u);
  queue.pop(0);
}

TEST_F(LinkQueueTest, ListsKeepTheirOwnOrderUnderOneLimit) {
  LinkQueue queue(QueueLimit{.packets = 4}, 3);
  std::size_t sizes[] = {10, 20, 11, 21};
  std::size_t lists[] = {0, 2, 0, 2};
  for (int i = 0; i < 4; ++i) {
    Packet packet = make_packet(pool_, sizes[i]);
    ASSERT_EQ(queue.push(lists[i], packet, 0), LinkQueue::PushResult::kQueued);
  }
  Packet extra = make_packet(pool_, 5);
  EXPECT_EQ(queue.push(1, extra, 0), LinkQueue::PushResult::kOverLimit);
  EXPECT_TRUE(queue.empty(1));
  EXPECT_EQ(queue.front_bytes(2), 20u);
  EXPECT_EQ(queue.pop(2).size(), 20u);
  EXPECT_EQ(queue.pop(0).size(), 10u);
  EXPECT_EQ(queue.pop(0).size(), 11u);
  EXPECT_TRUE(queue.empty(0));
  EXPECT_EQ(queue.pop(2).size(), 21u);
  EXPECT_TRUE(queue.empty());
}

TEST_F(LinkQueueTest, SlabExhaustionIsReportedAndSetLimitGrowsIt) {
  LinkQueue queue(QueueLimit{.bytes = 1'000'000}, 1, 2);
  EXPECT_EQ(queue.capacity(), 2u);
  for (int i = 0; i < 2; ++i) {
    Packet packet = make_packet(pool_, 100);
    ASSERT_EQ(queue.push(0, packet, 0), LinkQueue::PushResult::kQueued);
  }
  Packet third = make_packet(pool_, 100);
  EXPECT_EQ(queue.push(0, third, 0), LinkQueue::PushResult::kNoEntry);
  // Growing keeps what is queued, in order.
  queue.set_limit(QueueLimit{.packets = 10});
  EXPECT_EQ(queue.capacity(), 10u);
  EXPECT_EQ(queue.push(0, third, 7), LinkQueue::PushResult::kQueued);
  EXPECT_EQ(queue.entries(), 3u);
  TimeNs enqueued = 0;
  queue.pop(0);
  queue.pop(0);
  EXPECT_EQ(queue.pop(0, &enqueued).size(), 100u);
  EXPECT_EQ(enqueued, 7u);
}

TEST_F(LinkQueueTest, ShrinkingTheLimitKeepsQueuedPacketsButRefusesArrivals) {
  LinkQueue queue(QueueLimit{.packets = 5});
  for (int i = 0; i < 5; ++i) {
    Packet packet = make_packet(pool_, 100);
    ASSERT_EQ(queue.push(0, packet, 0), LinkQueue::PushResult::kQueued);
  }
  queue.set_limit(QueueLimit{.packets = 2});
  EXPECT_EQ(queue.entries(), 5u);
  Packet packet = make_packet(pool_, 100);
  EXPECT_EQ(queue.push(0, packet, 0), LinkQueue::PushResult::kOverLimit);
  for (int i = 0; i < 4; ++i) queue.pop(0);
  EXPECT_EQ(queue.push(0, packet, 0), LinkQueue::PushResult::kQueued);
  while (!queue.empty()) queue.pop(0);
}

TEST(QueueLimitTest, DefaultsToAPacketLimit) {
  EXPECT_EQ(QueueLimit{}.effective_packets(), QueueLimit::kDefaultPackets);
  EXPECT_EQ((QueueLimit{.bytes = 10}.effective_packets()), 0u);
  EXPECT_TRUE((QueueLimit{.bytes = 10}.in_bytes()));
  LinkQueue queue(QueueLimit{.bytes = 64 * 100});
  EXPECT_EQ(queue.capacity(), 101u);
}

}  // namespace
}  // namespace nextmini::dataplane
