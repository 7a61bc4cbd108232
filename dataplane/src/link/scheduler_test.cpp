#include "nextmini/dataplane/link/scheduler.hpp"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <vector>

#include "link_test_support.hpp"
#include "nextmini/dataplane/link/drr_scheduler.hpp"
#include "nextmini/dataplane/link/fifo_scheduler.hpp"
#include "nextmini/dataplane/link/wrr_scheduler.hpp"

namespace nextmini::dataplane {
namespace {

using link_test::make_gso_packet;
using link_test::make_packet;

class SchedulerTest : public ::testing::Test {
 protected:
  void TearDown() override { EXPECT_EQ(pool_.in_use(), 0u); }

  // Enqueues `count` packets of flow `flow`, cycling through `sizes`.
  void fill(Scheduler& scheduler, std::uint32_t flow, const std::vector<std::size_t>& sizes,
            int count) {
    for (int i = 0; i < count; ++i)
      scheduler.enqueue(make_packet(pool_, sizes[i % sizes.size()], flow), 0);
  }

  struct Share {
    std::map<std::uint32_t, std::uint64_t> bytes;
    std::map<std::uint32_t, std::uint64_t> packets;
  };
  // Dequeues until `total_bytes` have left; returns bytes and packets (segments) per flow.
  static Share drain(Scheduler& scheduler, std::uint64_t total_bytes) {
    Share share;
    std::uint64_t sent = 0;
    while (sent < total_bytes) {
      Packet packet = scheduler.dequeue(1);
      if (!packet.valid()) break;
      sent += packet.size();
      share.bytes[packet.meta().flow_hash] += packet.size();
      share.packets[packet.meta().flow_hash] += packet_segments(packet);
    }
    return share;
  }

  PacketPool pool_{8192, 70'000};
};

TEST_F(SchedulerTest, FifoKeepsArrivalOrderAcrossFlows) {
  FifoScheduler fifo(SchedulerConfig{.limit = QueueLimit{.packets = 100}});
  for (std::uint32_t i = 0; i < 50; ++i) fifo.enqueue(make_packet(pool_, 100 + i, i % 7), i);
  for (std::uint32_t i = 0; i < 50; ++i) {
    Packet packet = fifo.dequeue(100);
    ASSERT_TRUE(packet.valid());
    EXPECT_EQ(packet.size(), 100u + i);
    EXPECT_EQ(packet.meta().flow_hash, i % 7);
  }
  EXPECT_FALSE(fifo.dequeue(100).valid());
  EXPECT_EQ(fifo.counters().dequeued_packets, 50u);
}

TEST_F(SchedulerTest, LimitDropsAreCountedBySegments) {
  FifoScheduler fifo(SchedulerConfig{.limit = QueueLimit{.packets = 10}});
  fill(fifo, 1, {1000}, 8);
  fifo.enqueue(make_gso_packet(pool_, 4000, 1000), 0);  // 4 segments: 12 > 10
  fifo.enqueue(make_gso_packet(pool_, 2000, 1000), 0);  // 2 segments: fits exactly
  fill(fifo, 1, {1000}, 3);
  const auto& counters = fifo.counters();
  EXPECT_EQ(counters.drops[DropReason::kLinkQueueFull], 4u + 3u);
  EXPECT_EQ(counters.enqueued_packets, 10u);
  EXPECT_EQ(fifo.packets(), 10u);
  fifo.drop_all(DropReason::kLinkDown);
  EXPECT_EQ(counters.drops[DropReason::kLinkDown], 10u);
  EXPECT_TRUE(fifo.empty());
}

TEST_F(SchedulerTest, ByteLimitIsSharedByAllFlows) {
  DrrScheduler drr(SchedulerConfig{.limit = QueueLimit{.bytes = 10'000}});
  fill(drr, 1, {1000}, 6);
  fill(drr, 2, {1000}, 6);
  EXPECT_EQ(drr.bytes(), 10'000u);
  EXPECT_EQ(drr.counters().drops[DropReason::kLinkQueueFull], 2u);
  const Share share = drain(drr, ~0ull);
  EXPECT_EQ(share.bytes.at(1), 6000u);
  EXPECT_EQ(share.bytes.at(2), 4000u);
}

TEST_F(SchedulerTest, DrrWeightsOneToTwoGiveOneToTwoBytesWithMixedSizes) {
  DrrScheduler drr(SchedulerConfig{.limit = QueueLimit{.packets = 8000}});
  drr.set_flow_weight(20, 2);
  EXPECT_EQ(drr.flow_weight(10), 1u);
  EXPECT_EQ(drr.flow_weight(20), 2u);
  // Different size mixes: a per-packet scheduler would not give a 1:2 byte share.
  fill(drr, 10, {100, 1400, 700, 64, 1500}, 3000);
  fill(drr, 20, {1500, 64, 900, 300}, 3000);
  // Drain while both stay backlogged (flow 20 holds 2.07 MB: drain 2.4 MB in all).
  const Share share = drain(drr, 2'400'000);
  const double ratio = static_cast<double>(share.bytes.at(20)) / share.bytes.at(10);
  EXPECT_NEAR(ratio, 2.0, 0.02);
  drr.drop_all(DropReason::kLinkDown);
}

TEST_F(SchedulerTest, DrrEqualWeightsShareBytesNotPackets) {
  DrrScheduler drr(SchedulerConfig{.limit = QueueLimit{.packets = 8000}});
  fill(drr, 1, {200}, 4000);
  fill(drr, 2, {1500}, 1000);
  const Share share = drain(drr, 1'000'000);
  const double ratio = static_cast<double>(share.bytes.at(1)) / share.bytes.at(2);
  EXPECT_NEAR(ratio, 1.0, 0.01);
  EXPECT_GT(share.packets.at(1), 5 * share.packets.at(2));
  drr.drop_all(DropReason::kLinkDown);
}

TEST_F(SchedulerTest, WrrWeightsOneToTwoGiveOneToTwoPackets) {
  WrrScheduler wrr(SchedulerConfig{.limit = QueueLimit{.packets = 8000}});
  wrr.set_flow_weight(5, 1);
  wrr.set_flow_weight(6, 2);
  fill(wrr, 5, {1500, 64}, 3000);
  fill(wrr, 6, {200, 1400, 600}, 3000);
  const Share share = drain(wrr, 1'500'000);
  ASSERT_GT(share.packets.at(5), 500u);
  const double ratio = static_cast<double>(share.packets.at(6)) / share.packets.at(5);
  EXPECT_NEAR(ratio, 2.0, 0.01);
  wrr.drop_all(DropReason::kLinkDown);
}

TEST_F(SchedulerTest, WrrCountsGsoSuperPacketsBySegments) {
  WrrScheduler wrr(SchedulerConfig{.limit = QueueLimit{.packets = 8000}});
  for (int i = 0; i < 500; ++i) wrr.enqueue(make_gso_packet(pool_, 4000, 1000, 1), 0);  // 4 each
  fill(wrr, 2, {1000}, 2000);
  const Share share = drain(wrr, 1'500'000);
  const double ratio = static_cast<double>(share.packets.at(1)) / share.packets.at(2);
  EXPECT_NEAR(ratio, 1.0, 0.02);
  wrr.drop_all(DropReason::kLinkDown);
}

TEST_F(SchedulerTest, FlowsHashIntoBoundedBuckets) {
  WrrScheduler wrr(SchedulerConfig{.limit = QueueLimit{.packets = 100}, .flow_buckets = 4});
  EXPECT_EQ(wrr.queue().list_count(), 4u);
  EXPECT_EQ(wrr.bucket_of(1), wrr.bucket_of(5));
  wrr.set_flow_weight(5, 3);
  EXPECT_EQ(wrr.flow_weight(1), 3u);  // flows sharing a bucket share its weight
  // Flows 1 and 5 share a bucket, so they keep their common FIFO order.
  wrr.enqueue(make_packet(pool_, 101, 1), 0);
  wrr.enqueue(make_packet(pool_, 105, 5), 0);
  wrr.enqueue(make_packet(pool_, 102, 2), 0);
  wrr.enqueue(make_packet(pool_, 111, 1), 0);
  EXPECT_EQ(wrr.active_buckets(), 2u);
  std::vector<std::size_t> order;
  for (Packet packet = wrr.dequeue(0); packet.valid(); packet = wrr.dequeue(0))
    order.push_back(packet.size());
  // Bucket 1 (weight 3) sends three, then bucket 2 its one.
  EXPECT_EQ(order, (std::vector<std::size_t>{101, 105, 111, 102}));
  EXPECT_EQ(wrr.active_buckets(), 0u);
}

TEST_F(SchedulerTest, WeightsChangeAtRunTime) {
  WrrScheduler wrr(SchedulerConfig{.limit = QueueLimit{.packets = 8000}});
  fill(wrr, 1, {500}, 3000);
  fill(wrr, 2, {500}, 3000);
  Share share = drain(wrr, 500 * 1000);
  EXPECT_NEAR(static_cast<double>(share.packets.at(2)) / share.packets.at(1), 1.0, 0.01);
  wrr.set_flow_weight(2, 3);
  share = drain(wrr, 500 * 2000);
  EXPECT_NEAR(static_cast<double>(share.packets.at(2)) / share.packets.at(1), 3.0, 0.03);
  wrr.drop_all(DropReason::kLinkDown);
  EXPECT_EQ(wrr.active_buckets(), 0u);
  // Usable again after drop_all.
  fill(wrr, 3, {100}, 2);
  EXPECT_EQ(drain(wrr, ~0ull).packets.at(3), 2u);
}

TEST_F(SchedulerTest, LoweringTheLimitDropsTheOldestOfTheFifo) {
  FifoScheduler fifo(SchedulerConfig{.limit = QueueLimit{.packets = 10}});
  for (std::size_t i = 0; i < 10; ++i) fifo.enqueue(make_packet(pool_, 100 + i, 1), 0);
  EXPECT_EQ(fifo.set_limit(QueueLimit{.packets = 20}), 0u);
  EXPECT_EQ(fifo.set_limit(QueueLimit{.bytes = 4 * 110}), 6u);
  EXPECT_EQ(fifo.counters().drops[DropReason::kLinkQueueFull], 6u);
  std::vector<std::size_t> sizes;
  for (Packet packet = fifo.dequeue(0); packet.valid(); packet = fifo.dequeue(0))
    sizes.push_back(packet.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{106, 107, 108, 109}));
}

TEST_F(SchedulerTest, LoweringTheLimitTrimsTheFattestFlowAndKeepsTheRoundConsistent) {
  DrrScheduler drr(SchedulerConfig{.limit = QueueLimit{.packets = 10}, .flow_buckets = 8});
  fill(drr, 1, {1000}, 3);
  fill(drr, 2, {1000}, 1);
  fill(drr, 3, {100}, 2);
  // Flow 1 holds the most bytes until it is down to one packet, level with flow 2; then the
  // lower bucket goes first: flow 1 empties while it still has a place in the round.
  EXPECT_EQ(drr.set_limit(QueueLimit{.packets = 3}), 3u);
  EXPECT_EQ(drr.queue().list_packets(1), 0u);
  EXPECT_EQ(drr.queue().list_packets(2), 1u);
  EXPECT_EQ(drr.queue().list_packets(3), 2u);
  // Flow 1 refills into its old place; nothing is served twice or lost.
  drr.set_limit(QueueLimit{.packets = 10});
  fill(drr, 1, {500}, 2);
  std::vector<std::uint32_t> flows;
  for (Packet packet = drr.dequeue(0); packet.valid(); packet = drr.dequeue(0))
    flows.push_back(packet.meta().flow_hash);
  EXPECT_EQ(flows, (std::vector<std::uint32_t>{1, 1, 2, 3, 3}));
  EXPECT_EQ(drr.active_buckets(), 0u);
  // And a bucket that emptied by trimming and stays empty leaves the round when reached.
  fill(drr, 4, {1000}, 2);
  fill(drr, 5, {100}, 1);
  EXPECT_EQ(drr.set_limit(QueueLimit{.packets = 1}), 2u);
  EXPECT_EQ(drr.active_buckets(), 2u);
  Packet last = drr.dequeue(0);
  ASSERT_TRUE(last.valid());
  EXPECT_EQ(last.meta().flow_hash, 5u);
  EXPECT_FALSE(drr.dequeue(0).valid());
  EXPECT_EQ(drr.active_buckets(), 0u);
}

TEST_F(SchedulerTest, BatchEnqueueConsumesTheBatch) {
  DrrScheduler drr(SchedulerConfig{.limit = QueueLimit{.packets = 3}});
  PacketBatch batch;
  for (std::uint32_t i = 0; i < 5; ++i) batch.push(make_packet(pool_, 100, i));
  drr.enqueue(batch, 0);
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(drr.packets(), 3u);
  EXPECT_EQ(drr.counters().drops[DropReason::kLinkQueueFull], 2u);
  EXPECT_EQ(drain(drr, ~0ull).packets.size(), 3u);
}

}  // namespace
}  // namespace nextmini::dataplane
