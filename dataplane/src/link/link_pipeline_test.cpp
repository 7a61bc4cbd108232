#include "nextmini/dataplane/link/link_pipeline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "link_test_support.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"

namespace nextmini::dataplane {
namespace {

using link_test::make_packet;

constexpr TimeNs kMs = 1'000'000;
constexpr TimeNs kSecond = 1'000'000'000;

// Runs the pipeline on a fake clock from `start` until `until`: before every poll `feed(now)`
// may enqueue, every released packet goes to `sink(packet, now)`, and the clock jumps to
// next_wakeup(). Returns the time it stopped at.
TimeNs run(LinkPipeline& pipeline, TimeNs start, TimeNs until,
           const std::function<void(TimeNs)>& feed,
           const std::function<void(const Packet&, TimeNs)>& sink) {
  TimeNs now = start;
  PacketBatch out;
  for (std::uint64_t steps = 0; steps < 50'000'000; ++steps) {
    feed(now);
    pipeline.poll(now, out);
    for (Packet& packet : out) sink(packet, now);
    out.clear();
    const TimeNs next = pipeline.next_wakeup(now);
    if (next == kNever || next >= until) return now;
    EXPECT_GE(next, now);
    now = next;
  }
  ADD_FAILURE() << "simulation did not finish";
  return now;
}

// Runs `pipeline` with nothing more fed from `start` until `until`; returns packets delivered.
std::uint64_t drain(LinkPipeline& pipeline, TimeNs start, TimeNs until) {
  std::uint64_t delivered = 0;
  run(
      pipeline, start, until, [](TimeNs) {}, [&](const Packet&, TimeNs) { ++delivered; });
  return delivered;
}

PacketBatch batch_of(PacketPool& pool, std::size_t count, std::size_t size,
                     std::uint32_t flow = 0) {
  PacketBatch batch;
  for (std::size_t i = 0; i < count; ++i) batch.push(make_packet(pool, size, flow));
  return batch;
}

TEST(LinkPipeline, NoKnobsIsAPassThrough) {
  PacketPool pool(256, 2048);
  LinkPipeline pipeline(LinkPipelineConfig{}, pool, 7);
  PacketBatch in;
  for (std::uint8_t i = 0; i < 10; ++i) {
    Packet packet = make_packet(pool, 100 + i);
    packet.data()[0] = i;
    in.push(std::move(packet));
  }
  pipeline.enqueue(in, 5 * kMs);
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(pipeline.next_wakeup(5 * kMs), 5 * kMs);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(5 * kMs, out), 10u);
  ASSERT_EQ(out.size(), 10u);
  for (std::uint8_t i = 0; i < 10; ++i) {
    EXPECT_EQ(out[i].data()[0], i);
    EXPECT_EQ(out[i].size(), 100u + i);
  }
  EXPECT_EQ(pipeline.next_wakeup(5 * kMs), kNever);
  const LinkPipelineCounters counters = pipeline.counters();
  EXPECT_EQ(counters.packets_out, 10u);
  EXPECT_EQ(counters.bytes_out, 10u * 100u + 45u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, PollStopsWhenOutIsFullAndContinuesLater) {
  PacketPool pool(512, 2048);
  LinkPipeline pipeline(LinkPipelineConfig{}, pool, 7);
  for (int i = 0; i < 3; ++i) {
    PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 200);
    pipeline.enqueue(in, 0);
  }
  PacketBatch out;
  std::size_t total = 0;
  for (int round = 0; round < 4; ++round) {
    total += pipeline.poll(0, out);
    EXPECT_LE(out.size(), PacketBatch::kMaxBatch);
    out.clear();
  }
  EXPECT_EQ(total, 3 * PacketBatch::kMaxBatch);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, RateOf100MbitPerSecondWithinOnePercent) {
  PacketPool pool(4096, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 100'000'000;
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t bytes = 0;
  run(
      pipeline, 0, kSecond,
      [&](TimeNs now) {
        if (pipeline.queued_packets() < 200) {
          PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 1500);
          pipeline.enqueue(in, now);
        }
      },
      [&](const Packet& packet, TimeNs now) {
        if (now < kSecond) bytes += packet.size();
      });
  const double expected = 100'000'000.0 / 8.0;
  EXPECT_NEAR(static_cast<double>(bytes), expected, expected * 0.01);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], 0u);
}

TEST(LinkPipeline, DelayOf10MsIsExact) {
  PacketPool pool(64, 2048);
  LinkPipelineConfig config;
  config.delay.delay_ns = 10 * kMs;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 3, 500);
  const TimeNs t0 = 5 * kMs + 123;
  pipeline.enqueue(in, t0);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(t0, out), 0u);
  EXPECT_EQ(pipeline.next_wakeup(t0), t0 + 10 * kMs);
  EXPECT_EQ(pipeline.poll(t0 + 10 * kMs - 1, out), 0u);
  EXPECT_EQ(pipeline.poll(t0 + 10 * kMs, out), 3u);
  EXPECT_EQ(pipeline.next_wakeup(t0 + 10 * kMs), kNever);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, LossOf2PercentWithinTheBinomialInterval) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.loss_percent = 2.0;
  LinkPipeline pipeline(config, pool, 11);
  constexpr std::uint64_t kTotal = 100'000;
  std::uint64_t delivered = 0;
  PacketBatch out;
  for (std::uint64_t sent = 0; sent < kTotal; sent += PacketBatch::kMaxBatch) {
    const std::size_t n = std::min<std::uint64_t>(PacketBatch::kMaxBatch, kTotal - sent);
    PacketBatch in = batch_of(pool, n, 100);
    pipeline.enqueue(in, sent);
    delivered += pipeline.poll(sent, out);
    out.clear();
  }
  const LinkPipelineCounters counters = pipeline.counters();
  EXPECT_EQ(delivered + counters.lost, kTotal);
  // Binomial(100000, 0.02): mean 2000, sd ~44.3; accept +-4 sd.
  const double sd = std::sqrt(kTotal * 0.02 * 0.98);
  EXPECT_NEAR(static_cast<double>(counters.lost), kTotal * 0.02, 4 * sd);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, RunTimeDelayChangeAppliesToNewPacketsOnly) {
  PacketPool pool(64, 2048);
  LinkPipelineConfig config;
  config.delay.delay_ns = 10 * kMs;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch out;
  PacketBatch first = batch_of(pool, 1, 300);
  pipeline.enqueue(first, 0);
  pipeline.poll(0, out);

  messages::LinkParams change;
  change.delay_ns = 40 * kMs;
  ASSERT_TRUE(pipeline.apply(change, 1 * kMs));
  EXPECT_EQ(pipeline.config().delay.delay_ns, 40 * kMs);
  PacketBatch second = batch_of(pool, 1, 400);
  pipeline.enqueue(second, 1 * kMs);
  pipeline.poll(1 * kMs, out);
  EXPECT_TRUE(out.empty());

  EXPECT_EQ(pipeline.next_wakeup(1 * kMs), 10 * kMs);  // the queued packet kept its 10 ms
  ASSERT_EQ(pipeline.poll(10 * kMs, out), 1u);
  EXPECT_EQ(out[0].size(), 300u);
  out.clear();
  EXPECT_EQ(pipeline.next_wakeup(10 * kMs), 41 * kMs);
  EXPECT_EQ(pipeline.poll(41 * kMs - 1, out), 0u);
  ASSERT_EQ(pipeline.poll(41 * kMs, out), 1u);
  EXPECT_EQ(out[0].size(), 400u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, DownDropsEverythingAndCounts) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000;  // slow: most packets wait in the scheduler
  config.delay.delay_ns = 5 * kMs;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 20, 1000);
  pipeline.enqueue(in, 0);
  PacketBatch out;
  pipeline.poll(0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(pipeline.queued_packets(), 20u);

  messages::LinkParams down;
  down.up = false;
  ASSERT_TRUE(pipeline.apply(down, 1 * kMs));
  EXPECT_FALSE(pipeline.up());
  EXPECT_EQ(pipeline.queued_packets(), 0u);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkDown], 20u);
  EXPECT_EQ(pool.in_use(), 0u);

  PacketBatch more = batch_of(pool, 5, 1000);
  pipeline.enqueue(more, 2 * kMs);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkDown], 25u);
  EXPECT_EQ(pipeline.next_wakeup(2 * kMs), kNever);
  EXPECT_EQ(pool.in_use(), 0u);

  messages::LinkParams up;
  up.up = true;
  ASSERT_TRUE(pipeline.apply(up, 3 * kMs));
  PacketBatch again = batch_of(pool, 1, 1000);
  pipeline.enqueue(again, 3 * kMs);
  EXPECT_EQ(drain(pipeline, 3 * kMs, kSecond), 1u);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkDown], 25u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, InvalidApplyChangesNothing) {
  PacketPool pool(64, 2048);
  LinkPipeline pipeline(LinkPipelineConfig{}, pool, 7);

  messages::LinkParams bad_loss;
  bad_loss.delay_ns = 10 * kMs;  // valid, but must not be applied either
  bad_loss.loss_percent = 150.0;
  auto result = pipeline.apply(bad_loss, 0);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "link_params.invalid");  // messages/link_params_rules
  EXPECT_EQ(result.error().message.find("loss: 150%"), 0u) << result.error().message;

  messages::LinkParams bad_jitter;
  bad_jitter.delay_ns = 1 * kMs;
  bad_jitter.jitter_ns = 5 * kMs;
  bad_jitter.reorder = false;
  result = pipeline.apply(bad_jitter, 0);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message.find("jitter: 5ms"), 0u) << result.error().message;

  messages::LinkParams bad_names;
  bad_names.rate_bps = 1'000'000;
  bad_names.scheduler = "lifo";
  EXPECT_FALSE(pipeline.apply(bad_names, 0));
  messages::LinkParams bad_policy;
  bad_policy.drop_policy = "random";
  EXPECT_FALSE(pipeline.apply(bad_policy, 0));
  messages::LinkParams bad_distribution;
  bad_distribution.jitter_distribution = "pareto";
  EXPECT_FALSE(pipeline.apply(bad_distribution, 0));
  messages::LinkParams burst_without_rate;
  burst_without_rate.burst_bytes = 10'000;
  EXPECT_FALSE(pipeline.apply(burst_without_rate, 0));
  messages::LinkParams bad_mtu;
  bad_mtu.mtu = 20;
  EXPECT_FALSE(pipeline.apply(bad_mtu, 0));
  messages::LinkParams nan_duplicate;
  nan_duplicate.duplicate_percent = std::nan("");
  EXPECT_FALSE(pipeline.apply(nan_duplicate, 0));

  const LinkPipelineConfig& config = pipeline.config();
  EXPECT_EQ(config.delay.delay_ns, 0u);
  EXPECT_EQ(config.delay.jitter_ns, 0u);
  EXPECT_EQ(config.loss_percent, 0.0);
  EXPECT_EQ(config.rate_bps, 0u);
  EXPECT_EQ(config.queue.scheduler, SchedulerKind::kFifo);
  EXPECT_EQ(config.mtu, 0u);
  // Still a pass-through.
  PacketBatch in = batch_of(pool, 4, 100);
  pipeline.enqueue(in, 0);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(0, out), 4u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, DrrWeightsOneToTwoGiveATwoToOneByteShareUnderARate) {
  PacketPool pool(4096, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 10'000'000;
  config.queue.scheduler = SchedulerKind::kDrr;
  config.queue.flow_weights = {{1, 1}, {2, 2}};
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t flow_bytes[3] = {0, 0, 0};
  std::uint64_t flow_sent[3] = {0, 0, 0};
  std::uint64_t flow_out[3] = {0, 0, 0};
  run(
      pipeline, 0, kSecond,
      [&](TimeNs now) {
        // Keep both flows backlogged.
        for (std::uint32_t flow = 1; flow <= 2; ++flow) {
          if (flow_sent[flow] - flow_out[flow] < 100) {
            PacketBatch batch = batch_of(pool, 32, 1200, flow);
            pipeline.enqueue(batch, now);
            flow_sent[flow] += 32;
          }
        }
      },
      [&](const Packet& packet, TimeNs) {
        const std::uint32_t flow = packet.meta().flow_hash;
        ASSERT_TRUE(flow == 1 || flow == 2);
        flow_bytes[flow] += packet.size();
        ++flow_out[flow];
      });
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], 0u);
  ASSERT_GT(flow_bytes[1], 0u);
  const double ratio = static_cast<double>(flow_bytes[2]) / static_cast<double>(flow_bytes[1]);
  EXPECT_NEAR(ratio, 2.0, 0.05);
  const double total = static_cast<double>(flow_bytes[1] + flow_bytes[2]);
  EXPECT_NEAR(total, 10'000'000.0 / 8.0, 10'000'000.0 / 8.0 * 0.02);
}

TEST(LinkPipeline, PacketsAboveTheMtuAreDroppedAsTooBig) {
  PacketPool pool(64, 4096);
  LinkPipelineConfig config;
  config.mtu = 1500;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in;
  in.push(make_packet(pool, 1500));
  in.push(make_packet(pool, 1501));
  in.push(make_packet(pool, 3000));
  pipeline.enqueue(in, 0);
  PacketBatch out;
  ASSERT_EQ(pipeline.poll(0, out), 1u);
  EXPECT_EQ(out[0].size(), 1500u);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kTooBig], 2u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, SuperPacketsPassWholeWhenNoStageActsPerPacket) {
  PacketPool pool(64, 2048);
  PacketPool large(4, 70'000);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000'000;
  config.delay.delay_ns = kMs;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in;
  in.push(test_support::make_super_packet(large, {false, true, 20'000, 1448}));
  pipeline.enqueue(in, 0);
  PacketBatch out;
  run(
      pipeline, 0, kSecond, [](TimeNs) {},
      [&](const Packet& packet, TimeNs) {
        EXPECT_TRUE(packet.meta().gso_valid);
        EXPECT_EQ(packet.size(), 20'052u);
      });
  EXPECT_EQ(pipeline.counters().segmented, 0u);
  EXPECT_EQ(pipeline.counters().packets_out, 14u);  // counted by segments
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(LinkPipeline, SuperPacketsAreCutBeforePerPacketStages) {
  PacketPool pool(64, 2048);
  PacketPool large(4, 70'000);
  LinkPipelineConfig config;
  config.duplicate_percent = 100.0;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in;
  in.push(test_support::make_super_packet(large, {false, true, 20'000, 1448}));
  pipeline.enqueue(in, 0);
  EXPECT_EQ(large.in_use(), 0u);  // the super-packet is gone, its segments are queued
  PacketBatch out;
  std::size_t released = 0;
  while (pipeline.poll(0, out) > 0) {
    for (Packet& packet : out) {
      EXPECT_FALSE(packet.meta().gso_valid);
      EXPECT_LE(packet.size(), 1500u);
      EXPECT_TRUE(test_support::l4_checksum_ok(packet.data(), packet.size(), 20, false, 6));
    }
    released += out.size();
    out.clear();
  }
  EXPECT_EQ(released, 28u);  // 14 segments, each duplicated
  EXPECT_EQ(pipeline.counters().segmented, 1u);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kTooBig], 0u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, SegmentsBehindAnOverlayHeaderKeepItWithoutTheOffloadFields) {
  PacketPool pool(64, 2048);
  PacketPool large(4, 70'000);
  LinkPipelineConfig config;
  config.loss_percent = 0.001;  // a stage that acts per packet; loses nothing here (seeded)
  LinkPipeline pipeline(config, pool, 7);
  Packet super = test_support::make_super_packet(large, {true, true, 5'000, 1000});
  ASSERT_TRUE(super.push_front(kOverlayHeaderSize));
  super.meta().l3_offset = kOverlayHeaderSize;
  OverlayHeader header;
  header.flags = kOverlayFlagGso;
  header.hop_limit = 9;
  header.route_id = 77;
  header.gso_size = 1000;
  header.gso_type = kGsoTypeTcpV6;
  header.csum_start = 40;
  header.csum_offset = 16;
  write_overlay_header(
      header, std::span<std::uint8_t, kOverlayHeaderSize>(super.data(), kOverlayHeaderSize));
  PacketBatch in;
  in.push(std::move(super));
  pipeline.enqueue(in, 0);
  PacketBatch out;
  ASSERT_EQ(pipeline.poll(0, out), 5u);
  for (Packet& packet : out) {
    const auto decoded = read_overlay_header(packet.bytes());
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->flags, 0);
    EXPECT_EQ(decoded->hop_limit, 9);
    EXPECT_EQ(decoded->route_id, 77u);
    EXPECT_EQ(decoded->gso_size, 0);
    EXPECT_EQ(decoded->csum_offset, 0);
    const std::uint8_t* ip = packet.data() + kOverlayHeaderSize;
    EXPECT_TRUE(test_support::l4_checksum_ok(ip, packet.size() - kOverlayHeaderSize, 40, true, 6));
  }
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, DuplicateAndCorruptAtOneHundredPercent) {
  PacketPool pool(64, 2048);
  LinkPipelineConfig config;
  config.duplicate_percent = 100.0;
  config.corrupt_percent = 100.0;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 5, 200);
  pipeline.enqueue(in, 0);
  PacketBatch out;
  ASSERT_EQ(pipeline.poll(0, out), 10u);
  const LinkPipelineCounters counters = pipeline.counters();
  EXPECT_EQ(counters.duplicated, 5u);
  EXPECT_EQ(counters.corrupted, 5u);
  // Exactly one of each pair (the original) has one bit flipped past the IP header.
  std::size_t damaged = 0;
  for (Packet& packet : out) {
    std::size_t ones = 0;
    for (std::uint8_t byte : packet.bytes())
      ones += static_cast<std::size_t>(__builtin_popcount(byte));
    EXPECT_LE(ones, 1u);
    damaged += ones;
  }
  EXPECT_EQ(damaged, 5u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, LowerQueueLimitAtRunTimeDropsOnlyTheExcess) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 50, 1000);
  pipeline.enqueue(in, 0, /*output_ready=*/false);  // all 50 wait in the queue
  messages::LinkParams limit;
  limit.queue_packets = 10;
  ASSERT_TRUE(pipeline.apply(limit, 0));
  EXPECT_EQ(pipeline.queued_packets(), 10u);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], 40u);
  EXPECT_EQ(drain(pipeline, 0, 10 * kSecond), 10u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, DropPolicyChangeAtRunTimeKeepsQueuedPackets) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000;
  config.queue.queue.limit.packets = 100;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 30, 1000);
  pipeline.enqueue(in, 0);
  messages::LinkParams change;
  change.drop_policy = "red";
  change.queue_packets = 200;
  ASSERT_TRUE(pipeline.apply(change, 0));
  EXPECT_EQ(pipeline.config().queue.policy, DropPolicyKind::kRed);
  EXPECT_EQ(pipeline.queued_packets(), 30u);
  messages::LinkParams back;
  back.drop_policy = "taildrop";
  ASSERT_TRUE(pipeline.apply(back, 0));
  EXPECT_EQ(pipeline.queued_packets(), 30u);
  EXPECT_EQ(drain(pipeline, 0, 10 * kSecond), 30u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, SchedulerChangeAtRunTimeKeepsQueuedPackets) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 30, 1000, 3);
  pipeline.enqueue(in, 0);
  messages::LinkParams change;
  change.scheduler = "drr";
  ASSERT_TRUE(pipeline.apply(change, 0));
  EXPECT_EQ(pipeline.config().queue.scheduler, SchedulerKind::kDrr);
  EXPECT_EQ(drain(pipeline, 0, 10 * kSecond), 30u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, RateZeroAtRunTimeMeansUnlimitedAndClearsTheBurst) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 1'000'000;
  config.burst_bytes = 3000;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = batch_of(pool, 20, 1000);
  pipeline.enqueue(in, 0);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(0, out), 3u);  // the 3000-byte burst
  out.clear();
  messages::LinkParams change;
  change.rate_bps = 0;
  ASSERT_TRUE(pipeline.apply(change, 0));
  EXPECT_EQ(pipeline.config().burst_bytes, 0u);
  EXPECT_EQ(pipeline.poll(0, out), 17u);
  out.clear();
  // A burst without a rate is refused.
  messages::LinkParams burst;
  burst.burst_bytes = 5000;
  EXPECT_FALSE(pipeline.apply(burst, 0));
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, FlowWeightSurvivesASchedulerChange) {
  PacketPool pool(16, 2048);
  LinkPipeline pipeline(LinkPipelineConfig{}, pool, 7);
  pipeline.set_flow_weight(9, 3);
  messages::LinkParams change;
  change.scheduler = "wrr";
  ASSERT_TRUE(pipeline.apply(change, 0));
  ASSERT_EQ(pipeline.config().queue.flow_weights.count(9), 1u);
  EXPECT_EQ(pipeline.config().queue.flow_weights.at(9), 3u);
}

TEST(LinkPipeline, MergeBuildsAConfigFromLinkParams) {
  messages::LinkParams params;
  params.rate_bps = 5'000'000;
  params.delay_ns = 20 * kMs;
  params.jitter_ns = 30 * kMs;
  params.jitter_distribution = "normal";
  params.reorder = true;
  params.loss_percent = 1.5;
  params.queue_packets = 100;
  params.drop_policy = "codel";
  params.scheduler = "wrr";
  params.mtu = 9000;
  auto merged = merge_link_params(LinkPipelineConfig{}, params);
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->rate_bps, 5'000'000u);
  EXPECT_EQ(merged->delay.jitter_ns, 30 * kMs);
  EXPECT_EQ(merged->delay.distribution, JitterDistribution::kNormal);
  EXPECT_TRUE(merged->delay.reorder);
  EXPECT_EQ(merged->queue.policy, DropPolicyKind::kCodel);
  EXPECT_EQ(merged->queue.scheduler, SchedulerKind::kWrr);
  EXPECT_EQ(merged->queue.queue.limit.packets, 100u);
  EXPECT_EQ(merged->mtu, 9000u);
  EXPECT_EQ(merged->queue.queue.mtu, 9000u);
}

TEST(LinkPipeline, CreateRefusesAnInvalidConfig) {
  PacketPool pool(16, 2048);
  LinkPipelineConfig config;
  config.delay.delay_ns = 1 * kMs;
  config.delay.jitter_ns = 2 * kMs;
  auto pipeline = LinkPipeline::create(config, pool, 7);
  ASSERT_FALSE(pipeline);
  EXPECT_EQ(pipeline.error().code, "link_params.invalid");
  EXPECT_THROW(LinkPipeline(config, pool, 7), std::invalid_argument);
  config.delay.reorder = true;  // jitter above the delay is fine when packets may reorder
  EXPECT_TRUE(LinkPipeline::create(config, pool, 7));
}

// Sends 500 packets one per 100 us through a 10 ms +- 5 ms uniform jitter and returns how
// many arrived out of order (a packet with a smaller id than one seen before).
std::uint64_t jitter_inversions(bool reorder, std::uint64_t* delivered) {
  PacketPool pool(1024, 2048);
  LinkPipelineConfig config;
  config.delay.delay_ns = 10 * kMs;
  config.delay.jitter_ns = 5 * kMs;
  config.delay.reorder = reorder;
  LinkPipeline pipeline(config, pool, 3);
  std::uint64_t inversions = 0;
  std::uint32_t highest = 0;
  *delivered = 0;
  const auto sink = [&](const Packet& packet, TimeNs now) {
    const std::uint32_t id = packet.meta().flow_hash;
    const TimeNs sent = id * (kMs / 10);
    EXPECT_GE(now, sent + 5 * kMs);
    if (!reorder) {
      EXPECT_GE(id, highest);
    }
    if (*delivered > 0 && id < highest) ++inversions;
    highest = std::max(highest, id);
    ++*delivered;
  };
  for (std::uint32_t id = 0; id < 500; ++id) {
    const TimeNs now = id * (kMs / 10);
    PacketBatch batch;
    batch.push(make_packet(pool, 100, id));
    pipeline.enqueue(batch, now);
    // Deliver what is due up to the next send time.
    run(
        pipeline, now, now + kMs / 10, [](TimeNs) {}, sink);
  }
  run(
      pipeline, 50 * kMs, kSecond, [](TimeNs) {}, sink);
  EXPECT_EQ(pool.in_use(), 0u);
  return inversions;
}

TEST(LinkPipeline, JitterWithoutReorderKeepsArrivalOrder) {
  std::uint64_t delivered = 0;
  EXPECT_EQ(jitter_inversions(false, &delivered), 0u);
  EXPECT_EQ(delivered, 500u);
  // The same jitter with reorder allowed does reorder (so the first check is not vacuous).
  EXPECT_GT(jitter_inversions(true, &delivered), 10u);
  EXPECT_EQ(delivered, 500u);
}

TEST(LinkPipeline, RateChangeAtRunTimeTakesEffect) {
  PacketPool pool(4096, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 10'000'000;
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  const auto feed = [&](TimeNs now) {
    if (pipeline.queued_packets() < 200) {
      PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 1000);
      pipeline.enqueue(in, now);
    }
  };
  const TimeNs stopped = run(pipeline, 0, kSecond / 2, feed,
                             [&](const Packet& packet, TimeNs) { before += packet.size(); });
  messages::LinkParams change;
  change.rate_bps = 40'000'000;
  ASSERT_TRUE(pipeline.apply(change, stopped));
  run(pipeline, stopped, stopped + kSecond / 2, feed,
      [&](const Packet& packet, TimeNs) { after += packet.size(); });
  EXPECT_NEAR(static_cast<double>(before), 10e6 / 8 / 2, 10e6 / 8 / 2 * 0.02);
  EXPECT_NEAR(static_cast<double>(after), 40e6 / 8 / 2, 40e6 / 8 / 2 * 0.02);
}

TEST(LinkPipeline, TraceShaperPacesByTheTrace) {
  // One opportunity (1500 bytes) per millisecond: 1.5 MB/s.
  auto trace = messages::parse_mahimahi_trace("1\n");
  ASSERT_TRUE(trace) << trace.error().message;
  PacketPool pool(4096, 2048);
  LinkPipelineConfig config;
  config.trace = *trace;
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t bytes = 0;
  run(
      pipeline, 0, kSecond,
      [&](TimeNs now) {
        if (pipeline.queued_packets() < 200) {
          PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 1500);
          pipeline.enqueue(in, now);
        }
      },
      [&](const Packet& packet, TimeNs) { bytes += packet.size(); });
  EXPECT_NEAR(static_cast<double>(bytes), 1'500'000.0, 1'500'000.0 * 0.01);

  // A rate given at run time replaces the trace.
  messages::LinkParams change;
  change.rate_bps = 8'000'000;
  ASSERT_TRUE(pipeline.apply(change, kSecond));
  EXPECT_FALSE(pipeline.config().trace.has_value());
}

TEST(LinkPipeline, GilbertElliottLossIsBursty) {
  PacketPool pool(256, 2048);
  LinkPipelineConfig config;
  // Simple Gilbert model: loss rate p / (p + r) = 0.01 / 0.26 ~ 3.8 %, bursts of 1/r = 4.
  config.gilbert_elliott = GilbertElliottParams{0.01, 0.25, 1.0, 0.0};
  LinkPipeline pipeline(config, pool, 5);
  constexpr std::uint64_t kTotal = 200'000;
  std::uint64_t delivered = 0;
  PacketBatch out;
  for (std::uint64_t sent = 0; sent < kTotal; sent += PacketBatch::kMaxBatch) {
    PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 100);
    pipeline.enqueue(in, sent);
    delivered += pipeline.poll(sent, out);
    out.clear();
  }
  const LinkPipelineCounters counters = pipeline.counters();
  EXPECT_EQ(delivered + counters.lost, kTotal);
  const double rate = static_cast<double>(counters.lost) / kTotal;
  EXPECT_NEAR(rate, 0.01 / 0.26, 0.006);

  // Switching to Bernoulli loss at run time drops the Gilbert-Elliott model.
  messages::LinkParams change;
  change.loss_percent = 0.0;
  ASSERT_TRUE(pipeline.apply(change, kTotal));
  EXPECT_FALSE(pipeline.config().gilbert_elliott.has_value());
  PacketBatch in = batch_of(pool, 50, 100);
  pipeline.enqueue(in, kTotal);
  EXPECT_EQ(pipeline.poll(kTotal, out), 50u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkPipeline, ApplyReadsGilbertElliottAndTraceFields) {
  PacketPool pool(64, 2048);
  LinkPipeline pipeline(LinkPipelineConfig{}, pool, 7);
  messages::LinkParams ge;
  ge.ge_p_percent = 1;
  ge.ge_r_percent = 25;
  ge.ge_one_minus_h_percent = 90;
  ASSERT_TRUE(pipeline.apply(ge, 0));
  ASSERT_TRUE(pipeline.config().gilbert_elliott.has_value());
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->p, 0.01);
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->r, 0.25);
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->one_minus_h, 0.90);
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->one_minus_k, 0.0);  // the default
  messages::LinkParams only_k;  // a later message changes one field of the running model
  only_k.ge_one_minus_k_percent = 2;
  ASSERT_TRUE(pipeline.apply(only_k, 0));
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->one_minus_k, 0.02);
  EXPECT_DOUBLE_EQ(pipeline.config().gilbert_elliott->p, 0.01);

  messages::LinkParams trace;
  trace.trace = "1\n2\n";
  ASSERT_TRUE(pipeline.apply(trace, 0));
  ASSERT_TRUE(pipeline.config().trace.has_value());
  EXPECT_EQ(pipeline.config().trace->period_ms, 2u);
  messages::LinkParams burst;  // a burst replaces a running trace (as a rate does): it needs a rate
  burst.burst_bytes = 3000;
  EXPECT_FALSE(pipeline.apply(burst, 0));
  messages::LinkParams bad_trace;
  bad_trace.trace = "abc\n";
  auto refused = pipeline.apply(bad_trace, 0);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message.find("trace"), 0u) << refused.error().message;
  EXPECT_EQ(pipeline.config().trace->period_ms, 2u);  // unchanged
}

TEST(LinkPipeline, FramingOverheadIsNotShaped) {
  // 8 Mbit/s = 1 byte/us. Packets of 1036 bytes with 36 bytes of framing (PacketMeta::
  // l3_offset, as the Processor sets it): 1000 shaped bytes.
  PacketPool pool(4096, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t packets = 0;
  run(
      pipeline, 0, kSecond,
      [&](TimeNs now) {
        if (pipeline.queued_packets() < 200) {
          PacketBatch in = batch_of(pool, PacketBatch::kMaxBatch, 1036);
          for (Packet& packet : in) packet.meta().l3_offset = 36;
          pipeline.enqueue(in, now);
        }
      },
      [&](const Packet&, TimeNs now) {
        if (now < kSecond) ++packets;
      });
  EXPECT_NEAR(static_cast<double>(packets), 1000.0, 10.0);  // 1 MB/s of 1000-byte packets
}

// A link that holds nothing back (no rate, no delay: e.g. only `rate = unlimited` was set) lets
// a whole batch of super-packets through, although their segments (64 x 45) are far more than
// the queue's limit: the queue would never hold them. Before, the batch was queued whole before
// poll() drained it and all but the first 22 were dropped as link_queue_full.
TEST(LinkPipeline, APassThroughLinkTakesABatchLargerThanItsQueue) {
  PacketPool pool(80, 70'000);
  LinkPipelineConfig config;
  config.queue.queue.limit.packets = 1000;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in;
  for (std::size_t i = 0; i < PacketBatch::kMaxBatch; ++i)
    in.push(link_test::make_gso_packet(pool, 60'000, 1348, static_cast<std::uint32_t>(i)));
  pipeline.enqueue(in, 0);
  EXPECT_EQ(pipeline.next_wakeup(0), 0u);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(0, out), PacketBatch::kMaxBatch);
  for (std::size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i].meta().flow_hash, i) << "order";
  const LinkPipelineCounters counters = pipeline.counters();
  EXPECT_EQ(counters.drops[DropReason::kLinkQueueFull], 0u);
  EXPECT_EQ(counters.packets_out, PacketBatch::kMaxBatch * 45u);
  EXPECT_EQ(pipeline.queued_packets(), 0u);
}

// A GSO super-packet leaves a real link as segments that each carry the IP and TCP headers, so
// the shaper charges them all: 3 segments of 52 + 1000 bytes are 3156 wire bytes, not the 3052
// of the super-packet. Charging the super-packet's own size let TCP goodput exceed the rate.
TEST(LinkPipeline, SuperPacketsAreChargedTheirSegmentsHeaders) {
  PacketPool pool(64, 70'000);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;  // 1 byte/us
  LinkPipeline pipeline(config, pool, 7);
  std::uint64_t segments = 0;
  std::uint64_t bytes = 0;
  run(
      pipeline, 0, kSecond,
      [&](TimeNs now) {
        if (pipeline.queued_packets() < 30) {
          PacketBatch in;
          for (int i = 0; i < 8; ++i) {
            Packet super = link_test::make_gso_packet(pool, 3000, 1000);
            ASSERT_TRUE(super.push_front(36));  // the overlay header in front
            super.meta().l3_offset = 36;
            in.push(std::move(super));
          }
          pipeline.enqueue(in, now);
        }
      },
      [&](const Packet& packet, TimeNs now) {
        if (now >= kSecond) return;
        segments += packet_segments(packet);
        bytes += packet.size();
      });
  // 1,000,000 wire bytes in a second (plus the starting burst) / 1052 per segment.
  EXPECT_NEAR(static_cast<double>(segments), 1'000'000.0 / 1052, 6.0);
  EXPECT_EQ(pipeline.counters().packets_out % 3, 0u);  // whole super-packets, 3 segments each
  EXPECT_GT(bytes, 0u);
}

// A batch of 1,000-byte packets numbered (flow_hash) first .. end - 1: at 8 Mbit/s, one a ms.
PacketBatch numbered_batch(PacketPool& pool, std::uint32_t first, std::uint32_t end) {
  PacketBatch batch;
  for (std::uint32_t i = first; i < end; ++i) batch.push(make_packet(pool, 1000, i));
  return batch;
}

// A rate-limited link sends the first packets of a burst at once, as a real link does: a batch
// larger than the queue passes what the bucket holds as it is enqueued, the next packet waits
// at the head of the line for the shaper, the queue takes what fits behind it, and only the
// rest is dropped. Before, the batch was queued whole before the shaper let anything go, so
// the queue's limit applied to the whole batch: 44 of 64 dropped here instead of 33.
TEST(LinkPipeline, ARateLimitedLinkPassesWhatItsBucketHoldsAsABatchArrives) {
  PacketPool pool(128, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;  // 1 byte/us: a 1000-byte packet every ms
  config.burst_bytes = 10'000;  // 10 packets in the bucket (it starts full)
  config.queue.queue.limit.packets = 20;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = numbered_batch(pool, 0, PacketBatch::kMaxBatch);
  pipeline.enqueue(in, 0);
  constexpr std::uint64_t kPassed = 10;  // the bucket's 10,000 bytes
  constexpr std::uint64_t kHead = 1;     // waiting for the shaper, out of the queue
  constexpr std::uint64_t kQueued = 20;  // the queue's limit
  const std::uint64_t dropped = PacketBatch::kMaxBatch - kPassed - kHead - kQueued;
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], dropped);
  EXPECT_EQ(pipeline.queued_packets(), kPassed + kHead + kQueued);

  // The first ten leave at once, in order; then one a millisecond, in order.
  PacketBatch out;
  ASSERT_EQ(pipeline.poll(0, out), kPassed);
  for (std::uint32_t i = 0; i < kPassed; ++i) EXPECT_EQ(out[i].meta().flow_hash, i);
  out.clear();
  EXPECT_EQ(pipeline.next_wakeup(0), kMs);
  std::uint32_t next = kPassed;
  run(
      pipeline, kMs, kSecond, [](TimeNs) {},
      [&](const Packet& packet, TimeNs now) {
        EXPECT_EQ(packet.meta().flow_hash, next) << "order";
        EXPECT_EQ(now, (next - kPassed + 1) * kMs);
        ++next;
      });
  EXPECT_EQ(next, kPassed + kHead + kQueued);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], dropped);
  EXPECT_EQ(pool.in_use(), 0u);
}

// A new batch never overtakes packets queued before it, although the bucket has refilled by
// the time it arrives: the shaper serves the queue's head first.
TEST(LinkPipeline, ANewBatchQueuesBehindPacketsThatWaitForTheShaper) {
  PacketPool pool(128, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;
  config.burst_bytes = 2'000;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch first = numbered_batch(pool, 0, 6);
  pipeline.enqueue(first, 0);  // 0 and 1 pass, 2..5 wait
  PacketBatch second = numbered_batch(pool, 6, 9);
  pipeline.enqueue(second, 2 * kMs);  // tokens for 2 more: they go to 2 and 3, not to 6 and 7
  std::vector<std::uint32_t> order;
  PacketBatch out;
  pipeline.poll(2 * kMs, out);
  for (const Packet& packet : out) order.push_back(packet.meta().flow_hash);
  out.clear();
  EXPECT_EQ(order, (std::vector<std::uint32_t>{0, 1, 2, 3}));
  run(
      pipeline, 2 * kMs, kSecond, [](TimeNs) {},
      [&](const Packet& packet, TimeNs) { order.push_back(packet.meta().flow_hash); });
  EXPECT_EQ(order, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(pool.in_use(), 0u);
}

// A delay still delays the packets the shaper lets go at enqueue: only the shaper's wait is
// skipped when the bucket has the tokens.
TEST(LinkPipeline, PacketsPassedAtEnqueueStillCrossTheDelay) {
  PacketPool pool(128, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;
  config.burst_bytes = 3'000;
  config.delay.delay_ns = 10 * kMs;
  config.queue.queue.limit.packets = 2;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = numbered_batch(pool, 0, 8);
  pipeline.enqueue(in, 0);  // 3 pass into the delay line, 1 waits, 2 queued, 2 dropped
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], 2u);
  PacketBatch out;
  EXPECT_EQ(pipeline.poll(0, out), 0u);
  std::vector<std::pair<std::uint32_t, TimeNs>> seen;
  run(
      pipeline, 0, kSecond, [](TimeNs) {},
      [&](const Packet& packet, TimeNs now) { seen.emplace_back(packet.meta().flow_hash, now); });
  const std::vector<std::pair<std::uint32_t, TimeNs>> expected = {
      {0, 10 * kMs}, {1, 10 * kMs}, {2, 10 * kMs}, {3, 11 * kMs}, {4, 12 * kMs}, {5, 13 * kMs}};
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pool.in_use(), 0u);
}

// A link whose output is busy (EmulatedLink: its transport has no room) lets nothing pass at
// enqueue: the packets wait in the queue, whose limit decides, and the bucket keeps its tokens.
TEST(LinkPipeline, ABusyOutputKeepsPacketsInTheQueue) {
  PacketPool pool(128, 2048);
  LinkPipelineConfig config;
  config.rate_bps = 8'000'000;
  config.burst_bytes = 10'000;
  config.queue.queue.limit.packets = 20;
  LinkPipeline pipeline(config, pool, 7);
  PacketBatch in = numbered_batch(pool, 0, 30);
  pipeline.enqueue(in, 0, /*output_ready=*/false);
  EXPECT_EQ(pipeline.counters().drops[DropReason::kLinkQueueFull], 10u);
  PacketBatch out;
  ASSERT_EQ(pipeline.poll(0, out), 10u);  // the output is ready again: the bucket's 10
  for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(out[i].meta().flow_hash, i);
  out.clear();
  EXPECT_EQ(drain(pipeline, 0, kSecond), 10u);
  EXPECT_EQ(pool.in_use(), 0u);
}

// A super-packet whose segments fit the link's MTU crosses whole: it leaves the real link as
// segments of that size anyway. One whose segments do not fit is cut, and each segment is
// judged as a plain packet: too big ones are dropped (too_big), a last short one passes.
TEST(LinkPipeline, TheMtuCutsOnlySuperPacketsWhoseSegmentsDoNotFit) {
  PacketPool pool(64, 2048);
  PacketPool large(4, 70'000);
  {
    SCOPED_TRACE("segments of 20 + 32 + 1448 = 1500 bytes, mtu 1500: whole");
    LinkPipelineConfig config;
    config.mtu = 1500;
    LinkPipeline pipeline(config, pool, 7);
    PacketBatch in;
    in.push(test_support::make_super_packet(large, {false, true, 20'000, 1448}));
    pipeline.enqueue(in, 0);
    PacketBatch out;
    ASSERT_EQ(pipeline.poll(0, out), 1u);
    EXPECT_TRUE(out[0].meta().gso_valid);
    EXPECT_EQ(out[0].size(), 20'052u);
    const LinkPipelineCounters counters = pipeline.counters();
    EXPECT_EQ(counters.segmented, 0u);
    EXPECT_EQ(counters.packets_out, 14u);
    EXPECT_EQ(counters.drops[DropReason::kTooBig], 0u);
  }
  {
    SCOPED_TRACE("the same behind a 36-byte overlay header: the mtu counts the IP packet");
    LinkPipelineConfig config;
    config.mtu = 1500;
    LinkPipeline pipeline(config, pool, 7);
    Packet super = test_support::make_super_packet(large, {false, true, 20'000, 1448});
    ASSERT_TRUE(super.push_front(kOverlayHeaderSize));
    super.meta().l3_offset = kOverlayHeaderSize;
    PacketBatch in;
    in.push(std::move(super));
    pipeline.enqueue(in, 0);
    PacketBatch out;
    ASSERT_EQ(pipeline.poll(0, out), 1u);
    EXPECT_TRUE(out[0].meta().gso_valid);
    EXPECT_EQ(pipeline.counters().segmented, 0u);
  }
  {
    SCOPED_TRACE("mtu 1499: cut, 13 full segments too big, the last (52 + 1176 bytes) passes");
    LinkPipelineConfig config;
    config.mtu = 1499;
    LinkPipeline pipeline(config, pool, 7);
    PacketBatch in;
    in.push(test_support::make_super_packet(large, {false, true, 20'000, 1448}));
    pipeline.enqueue(in, 0);
    PacketBatch out;
    ASSERT_EQ(pipeline.poll(0, out), 1u);
    EXPECT_FALSE(out[0].meta().gso_valid);
    EXPECT_EQ(out[0].size(), 52u + 20'000u - 13u * 1448u);
    const LinkPipelineCounters counters = pipeline.counters();
    EXPECT_EQ(counters.segmented, 1u);
    EXPECT_EQ(counters.drops[DropReason::kTooBig], 13u);
  }
  EXPECT_EQ(large.in_use(), 0u);
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
