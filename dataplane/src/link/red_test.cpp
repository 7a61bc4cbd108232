#include "nextmini/dataplane/link/red.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "link_test_support.hpp"
#include "nextmini/dataplane/link/fifo_scheduler.hpp"

namespace nextmini::dataplane {
namespace {

QueueSnapshot packets(std::uint64_t n) { return {n, n * 1000}; }

TEST(RedTest, ThresholdsAreDerivedFromTheLimit) {
  Red by_packets(RedConfig{}, QueueLimit{.packets = 1200});
  EXPECT_DOUBLE_EQ(by_packets.max_th(), 600);
  EXPECT_DOUBLE_EQ(by_packets.min_th(), 200);
  Red by_bytes(RedConfig{}, QueueLimit{.bytes = 30'000});
  EXPECT_DOUBLE_EQ(by_bytes.max_th(), 15'000);
  EXPECT_DOUBLE_EQ(by_bytes.min_th(), 5'000);
  Red only_min(RedConfig{.min_th = 10}, QueueLimit{.packets = 1000});
  EXPECT_DOUBLE_EQ(only_min.max_th(), 30);
  Red defaults(RedConfig{}, QueueLimit{});
  EXPECT_DOUBLE_EQ(defaults.max_th(), 500);
}

TEST(RedTest, AverageFollowsTheEwma) {
  Red red(RedConfig{.min_th = 1000, .max_th = 2000, .w_q = 0.5}, QueueLimit{.packets = 5000});
  red.on_enqueue(packets(10), 1000, 1, 1);
  EXPECT_DOUBLE_EQ(red.average(), 5.0);
  red.on_enqueue(packets(10), 1000, 1, 2);
  EXPECT_DOUBLE_EQ(red.average(), 7.5);
  red.on_enqueue(packets(2), 1000, 1, 3);
  EXPECT_DOUBLE_EQ(red.average(), 4.75);
}

TEST(RedTest, AverageUsesBytesUnderAByteLimit) {
  Red red(RedConfig{.min_th = 1e9, .max_th = 2e9, .w_q = 0.25}, QueueLimit{.bytes = 10'000'000});
  red.on_enqueue(QueueSnapshot{.packets = 3, .bytes = 4000}, 1000, 1, 1);
  EXPECT_DOUBLE_EQ(red.average(), 1000.0);
  red.on_enqueue(QueueSnapshot{.packets = 3, .bytes = 4000}, 1000, 1, 2);
  EXPECT_DOUBLE_EQ(red.average(), 1750.0);
}

TEST(RedTest, DefaultWeightConvergesSlowly) {
  Red red(RedConfig{}, QueueLimit{.packets = 10'000});
  for (int i = 0; i < 500; ++i) red.on_enqueue(packets(100), 1000, 1, i + 1);
  // avg = 100 * (1 - 0.998^500) = 63.249...
  EXPECT_NEAR(red.average(), 100 * (1 - std::pow(0.998, 500)), 1e-9);
  EXPECT_NEAR(red.average(), 63.249, 0.001);
}

TEST(RedTest, IdleTimeDecaysTheAverageAsIfSmallPacketsWereSent) {
  Red red(RedConfig{.min_th = 1000, .max_th = 2000, .w_q = 0.01, .small_packet_time = 1000},
          QueueLimit{.packets = 5000});
  for (int i = 0; i < 300; ++i) red.on_enqueue(packets(100), 1000, 1, 1000 + i);
  const double before = red.average();
  ASSERT_GT(before, 90.0);
  red.on_empty(10'000);
  // 50 us idle at 1 us per small packet: m = 50.
  red.on_enqueue(packets(0), 1000, 1, 60'000);
  EXPECT_NEAR(red.average(), before * std::pow(0.99, 50), 1e-9);
  EXPECT_NEAR(red.average(), before * 0.605, 0.001 * before);
  // A much longer idle time decays it to nearly nothing.
  red.on_empty(100'000);
  red.on_enqueue(packets(0), 1000, 1, 100'000 + 2'000'000);
  EXPECT_LT(red.average(), before * 1e-8);
}

TEST(RedTest, ProbabilityGrowsBetweenTheThresholds) {
  // w_q = 1 makes avg follow q exactly. An arrival below min_th resets count, so each probe
  // below sees count = 0 and p_a = p_b = max_p * (avg - min_th) / (max_th - min_th).
  Red red(RedConfig{.min_th = 100, .max_th = 300, .max_p = 0.1, .w_q = 1, .gentle = false},
          QueueLimit{.packets = 1000});
  double previous = -1;
  for (std::uint64_t q : {100u, 150u, 200u, 250u, 299u}) {
    red.on_enqueue(packets(50), 1000, 1, 1);
    EXPECT_DOUBLE_EQ(red.last_probability(), 0.0);
    red.on_enqueue(packets(q), 1000, 1, 2);
    const double expected = 0.1 * (static_cast<double>(q) - 100) / 200;
    EXPECT_NEAR(red.last_probability(), expected, 1e-12) << "q=" << q;
    EXPECT_GT(red.last_probability(), previous);
    previous = red.last_probability();
  }
  // At or above max_th (not gentle): every arrival is dropped.
  EXPECT_TRUE(red.on_enqueue(packets(300), 1000, 1, 3));
  EXPECT_TRUE(red.on_enqueue(packets(900), 1000, 1, 4));
  EXPECT_EQ(red.forced_drops(), 2u);
}

TEST(RedTest, GentleModeRampsFromMaxPToOne) {
  Red red(RedConfig{.min_th = 100, .max_th = 300, .max_p = 0.1, .w_q = 1, .gentle = true},
          QueueLimit{.packets = 1000});
  red.on_enqueue(packets(50), 1000, 1, 1);
  red.on_enqueue(packets(450), 1000, 1, 2);
  EXPECT_NEAR(red.last_probability(), 0.1 + 0.9 * 150.0 / 300.0, 1e-12);
  EXPECT_TRUE(red.on_enqueue(packets(600), 1000, 1, 3));
  EXPECT_EQ(red.forced_drops(), 1u);
}

TEST(RedTest, CountSpacesTheDrops) {
  // At a fixed avg, p_a = p_b / (1 - count * p_b), count counting this arrival, makes the gap
  // between drops uniform in 1..(1/p_b - 1): never longer than 19 arrivals for p_b = 0.05, a
  // mean gap of 1 / (2 p_b), so drops at about 2 p_b of arrivals.
  Red red(RedConfig{.min_th = 100, .max_th = 300, .max_p = 0.1, .w_q = 1, .seed = 42},
          QueueLimit{.packets = 1000});
  const double p_b = 0.05;      // q = 200
  int since_last = -1'000'000;  // the first gap (from count = -1) is not measured
  int longest_gap = 0;
  int drops = 0;
  const int arrivals = 200'000;
  for (int i = 0; i < arrivals; ++i) {
    ++since_last;
    if (red.on_enqueue(packets(200), 1000, 1, i + 1)) {
      ++drops;
      if (drops > 1) longest_gap = std::max(longest_gap, since_last);
      since_last = 0;
    }
  }
  EXPECT_LE(longest_gap, 19);
  EXPECT_GE(longest_gap, 15);
  const double rate = static_cast<double>(drops) / arrivals;
  EXPECT_NEAR(rate, 2 * p_b, 0.003);
  EXPECT_EQ(red.early_drops(), static_cast<std::uint64_t>(drops));
  EXPECT_EQ(red.forced_drops(), 0u);
}

TEST(RedTest, UnderAFifoItDropsEarlyBeforeTheLimit) {
  PacketPool pool(1200, 2048);
  {
    FifoScheduler fifo(SchedulerConfig{.limit = QueueLimit{.packets = 1000}},
                       std::make_unique<Red>(RedConfig{.w_q = 0.02}, QueueLimit{.packets = 1000}));
    // Two arrivals for every departure: the queue would fill up without RED.
    TimeNs now = 0;
    for (int i = 0; i < 4000; ++i) {
      now += 1000;
      fifo.enqueue(link_test::make_packet(pool, 1000, 7), now);
      fifo.enqueue(link_test::make_packet(pool, 1000, 7), now);
      fifo.dequeue(now);
    }
    const auto& drops = fifo.counters().drops;
    EXPECT_GT(drops[DropReason::kAqmDrop], 1000u);
    EXPECT_EQ(drops[DropReason::kLinkQueueFull], 0u);
    EXPECT_LT(fifo.packets(), 1000u);
    // Gentle RED holds the average below 2 * max_th = the limit, around the ramp.
    const auto& red = static_cast<Red&>(fifo.policy());
    EXPECT_GT(red.average(), red.min_th());
    EXPECT_LT(red.average(), 2 * red.max_th());
    EXPECT_EQ(fifo.counters().enqueued_packets, fifo.counters().dequeued_packets + fifo.packets());
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
