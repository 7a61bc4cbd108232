#include "nextmini/dataplane/link/delay_line.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nextmini/dataplane/core/packet_pool.hpp"

namespace nextmini::dataplane {
namespace {

constexpr TimeNs kMs = 1'000'000;

// A packet whose first 8 bytes hold `id`.
Packet make_packet(PacketPool& pool, std::uint64_t id) {
  Packet p = pool.acquire();
  EXPECT_TRUE(p.valid());
  p.resize(64);
  std::memcpy(p.data(), &id, sizeof id);
  return p;
}

std::uint64_t id_of(const Packet& p) {
  std::uint64_t id = 0;
  std::memcpy(&id, p.data(), sizeof id);
  return id;
}

TEST(DelayLine, ExactFixedDelay) {
  PacketPool pool(16, 256);
  {
    DelayLine line(8, DelayParams{10 * kMs, 0, JitterDistribution::kUniform, false});
    ASSERT_TRUE(line.enqueue(make_packet(pool, 1), 5 * kMs));
    ASSERT_TRUE(line.enqueue(make_packet(pool, 2), 6 * kMs));
    EXPECT_EQ(line.next_release_time(), 15 * kMs);
    PacketBatch out;
    EXPECT_EQ(line.release(15 * kMs - 1, out), 0u);
    EXPECT_EQ(line.release(15 * kMs, out), 1u);
    EXPECT_EQ(id_of(out[0]), 1u);
    EXPECT_EQ(line.next_release_time(), 16 * kMs);
    EXPECT_EQ(line.release(16 * kMs, out), 1u);
    EXPECT_EQ(id_of(out[1]), 2u);
    EXPECT_EQ(line.next_release_time(), kNever);
    EXPECT_EQ(line.released(), 2u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(DelayLine, CapacityRefusesAndLeavesPacketWithCaller) {
  PacketPool pool(8, 256);
  {
    DelayLine line(2, DelayParams{kMs, 0, JitterDistribution::kUniform, false});
    ASSERT_TRUE(line.enqueue(make_packet(pool, 1), 0));
    ASSERT_TRUE(line.enqueue(make_packet(pool, 2), 0));
    Packet third = make_packet(pool, 3);
    EXPECT_FALSE(line.enqueue(std::move(third), 0));
    EXPECT_TRUE(third.valid());
    EXPECT_EQ(id_of(third), 3u);
    EXPECT_EQ(line.rejected_full(), 1u);
    EXPECT_EQ(line.clear(), 2u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

struct Moments {
  double mean = 0;
  double stddev = 0;
};

Moments sample_moments(DelayLine& line, int n) {
  double sum = 0;
  double sq = 0;
  for (int i = 0; i < n; ++i) {
    const double d = static_cast<double>(line.sample_delay());
    sum += d;
    sq += d * d;
  }
  const double mean = sum / n;
  return {mean, std::sqrt(sq / n - mean * mean)};
}

TEST(DelayLine, UniformJitterDistribution) {
  DelayLine line(1, DelayParams{20 * kMs, 5 * kMs, JitterDistribution::kUniform, true}, 7);
  TimeNs lo = kNever;
  TimeNs hi = 0;
  for (int i = 0; i < 1000; ++i) {
    const TimeNs d = line.sample_delay();
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  EXPECT_GE(lo, 15 * kMs);
  EXPECT_LE(hi, 25 * kMs);
  const Moments m = sample_moments(line, 100'000);
  EXPECT_NEAR(m.mean, 20e6, 20e6 * 0.005);
  const double expected_sd = 5e6 / std::sqrt(3.0);
  EXPECT_NEAR(m.stddev, expected_sd, expected_sd * 0.02);
}

TEST(DelayLine, NormalJitterDistribution) {
  DelayLine line(1, DelayParams{50 * kMs, 5 * kMs, JitterDistribution::kNormal, true}, 11);
  const Moments m = sample_moments(line, 100'000);
  EXPECT_NEAR(m.mean, 50e6, 50e6 * 0.005);
  EXPECT_NEAR(m.stddev, 5e6, 5e6 * 0.02);
}

TEST(DelayLine, NormalJitterTruncatedAtZero) {
  DelayLine line(1, DelayParams{1 * kMs, 10 * kMs, JitterDistribution::kNormal, true}, 3);
  int zeros = 0;
  for (int i = 0; i < 10'000; ++i) zeros += line.sample_delay() == 0 ? 1 : 0;
  // Redrawn, not clamped: a point mass at 0 would hold ~46% of the samples.
  EXPECT_LT(zeros, 10);
}

TEST(DelayLine, UniformJitterTruncatedAtZero) {
  // delay 2 ms, jitter 6 ms: uniform over [0, 8 ms], mean 4 ms, no pile-up at 0.
  DelayLine line(1, DelayParams{2 * kMs, 6 * kMs, JitterDistribution::kUniform, true}, 13);
  int zeros = 0;
  double sum = 0;
  for (int i = 0; i < 100'000; ++i) {
    const TimeNs d = line.sample_delay();
    ASSERT_LE(d, 8 * kMs);
    zeros += d == 0 ? 1 : 0;
    sum += static_cast<double>(d);
  }
  EXPECT_LT(zeros, 10);
  EXPECT_NEAR(sum / 100'000, 4e6, 4e6 * 0.01);
}

// Enqueues n packets 100 us apart and returns the release order of their ids.
std::vector<std::uint64_t> run_order(DelayLine& line, PacketPool& pool, int n) {
  std::vector<std::uint64_t> order;
  PacketBatch out;
  TimeNs now = 0;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(line.enqueue(make_packet(pool, i), now));
    now += 100'000;
    line.release(now, out);
    for (auto& p : out) order.push_back(id_of(p));
    out.clear();
  }
  while (!line.empty()) {
    now = line.next_release_time();
    line.release(now, out);
    for (auto& p : out) order.push_back(id_of(p));
    out.clear();
  }
  return order;
}

int inversions(const std::vector<std::uint64_t>& order) {
  int n = 0;
  for (std::size_t i = 1; i < order.size(); ++i) n += order[i] < order[i - 1] ? 1 : 0;
  return n;
}

TEST(DelayLine, ReorderFalseNeverReorders) {
  PacketPool pool(2048, 128);
  for (const auto dist : {JitterDistribution::kUniform, JitterDistribution::kNormal}) {
    DelayLine line(2048, DelayParams{10 * kMs, 10 * kMs, dist, false}, 5);
    const auto order = run_order(line, pool, 2000);
    ASSERT_EQ(order.size(), 2000u);
    EXPECT_EQ(inversions(order), 0);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(DelayLine, ReorderTrueLetsJitteredPacketsOvertake) {
  PacketPool pool(2048, 128);
  DelayLine line(2048, DelayParams{10 * kMs, 5 * kMs, JitterDistribution::kUniform, true}, 5);
  const auto order = run_order(line, pool, 2000);
  ASSERT_EQ(order.size(), 2000u);
  EXPECT_GT(inversions(order), 100);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(DelayLine, RunTimeChangeKeepsQueuedReleaseTimes) {
  PacketPool pool(16, 256);
  DelayLine line(16, DelayParams{10 * kMs, 0, JitterDistribution::kUniform, false});
  ASSERT_TRUE(line.enqueue(make_packet(pool, 1), 0));
  line.set_params(DelayParams{40 * kMs, 0, JitterDistribution::kUniform, false});
  ASSERT_TRUE(line.enqueue(make_packet(pool, 2), 1 * kMs));
  EXPECT_EQ(line.size(), 2u);
  EXPECT_EQ(line.next_release_time(), 10 * kMs);
  PacketBatch out;
  EXPECT_EQ(line.release(10 * kMs, out), 1u);
  EXPECT_EQ(line.next_release_time(), 41 * kMs);
  // Back to 10 ms with reorder off: a new packet waits behind the 41-ms one.
  line.set_params(DelayParams{10 * kMs, 0, JitterDistribution::kUniform, false});
  ASSERT_TRUE(line.enqueue(make_packet(pool, 3), 2 * kMs));
  EXPECT_EQ(line.release(40 * kMs, out), 0u);
  EXPECT_EQ(line.release(41 * kMs, out), 2u);
  EXPECT_EQ(id_of(out[1]), 2u);
  EXPECT_EQ(id_of(out[2]), 3u);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(DelayLine, ReleaseStopsAtFullBatch) {
  PacketPool pool(200, 128);
  DelayLine line(200, DelayParams{0, 0, JitterDistribution::kUniform, false});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(line.enqueue(make_packet(pool, i), 0));
  PacketBatch out;
  EXPECT_EQ(line.release(0, out), PacketBatch::kMaxBatch);
  out.clear();
  EXPECT_EQ(line.release(0, out), 100 - PacketBatch::kMaxBatch);
  out.clear();
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
