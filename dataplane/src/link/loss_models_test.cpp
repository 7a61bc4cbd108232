// Tests of the loss models, the duplicator and the corruptor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/bernoulli_loss.hpp"
#include "nextmini/dataplane/link/corruptor.hpp"
#include "nextmini/dataplane/link/duplicator.hpp"
#include "nextmini/dataplane/link/gilbert_elliott_loss.hpp"

namespace nextmini::dataplane {
namespace {

// Whether `count` successes of n trials at p lies in the normal-approximation 99% interval.
void expect_in_binomial_99(std::uint64_t count, std::uint64_t n, double p) {
  const double mean = static_cast<double>(n) * p;
  const double sd = std::sqrt(static_cast<double>(n) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(count), mean, 2.576 * sd) << "n=" << n << " p=" << p;
}

TEST(BernoulliLoss, RateInsideBinomialInterval) {
  for (const double p : {0.001, 0.02, 0.3}) {
    BernoulliLoss loss(p, 42);
    std::uint64_t lost = 0;
    for (int i = 0; i < 100'000; ++i) lost += loss.lose() ? 1 : 0;
    expect_in_binomial_99(lost, 100'000, p);
    EXPECT_EQ(loss.losses(), lost);
    EXPECT_EQ(loss.decisions(), 100'000u);
  }
}

TEST(BernoulliLoss, EdgesAndClamping) {
  BernoulliLoss never(0.0);
  BernoulliLoss always(1.0);
  BernoulliLoss clamped(1.5);
  BernoulliLoss nan(std::nan(""));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(never.lose());
    ASSERT_TRUE(always.lose());
    ASSERT_TRUE(clamped.lose());
    ASSERT_FALSE(nan.lose());
  }
}

TEST(BernoulliLoss, SameSeedSameSequence) {
  BernoulliLoss a(0.1, 9);
  BernoulliLoss b(0.1, 9);
  for (int i = 0; i < 10'000; ++i) ASSERT_EQ(a.lose(), b.lose());
}

TEST(GilbertElliottLoss, MeanBurstLengthMatchesModel) {
  // Simple Gilbert: every bad-state packet lost, no good-state loss: bursts last 1/r.
  for (const double r : {0.25, 0.5}) {
    GilbertElliottLoss loss({0.01, r, 1.0, 0.0}, 1234);
    std::uint64_t bursts = 0;
    std::uint64_t lost = 0;
    bool previous = false;
    for (int i = 0; i < 1'000'000; ++i) {
      const bool l = loss.lose();
      lost += l ? 1 : 0;
      bursts += (l && !previous) ? 1 : 0;
      previous = l;
    }
    ASSERT_GT(bursts, 1000u);
    const double mean_burst = static_cast<double>(lost) / static_cast<double>(bursts);
    EXPECT_NEAR(mean_burst, 1.0 / r, 0.1 / r) << "r=" << r;
    // Stationary loss rate p / (p + r).
    EXPECT_NEAR(static_cast<double>(lost) / 1e6, 0.01 / (0.01 + r), 0.1 * 0.01 / (0.01 + r));
  }
}

TEST(GilbertElliottLoss, FourParameterLossRate) {
  const GilbertElliottParams params{0.05, 0.2, 0.6, 0.01};
  GilbertElliottLoss loss(params, 77);
  std::uint64_t lost = 0;
  const int n = 1'000'000;
  for (int i = 0; i < n; ++i) lost += loss.lose() ? 1 : 0;
  const double bad = params.p / (params.p + params.r);
  const double expected = bad * params.one_minus_h + (1 - bad) * params.one_minus_k;
  EXPECT_NEAR(static_cast<double>(lost) / n, expected, expected * 0.05);
  EXPECT_GT(loss.bad_entries(), 0u);
}

TEST(Duplicator, RateAndFaithfulCopies) {
  PacketPool pool(4, 2048);
  {
    Duplicator dup(0.05, 3);
    std::uint64_t yes = 0;
    for (int i = 0; i < 100'000; ++i) yes += dup.should_duplicate() ? 1 : 0;
    expect_in_binomial_99(yes, 100'000, 0.05);

    Packet original = pool.acquire();
    ASSERT_TRUE(original.resize(1400));
    for (std::size_t i = 0; i < original.size(); ++i)
      original.data()[i] = static_cast<std::uint8_t>(i);
    original.meta().flow_hash = 99;
    Packet copy = dup.duplicate(original, pool);
    ASSERT_TRUE(copy.valid());
    ASSERT_EQ(copy.size(), original.size());
    EXPECT_EQ(std::memcmp(copy.data(), original.data(), copy.size()), 0);
    EXPECT_EQ(copy.meta().flow_hash, 99u);
    EXPECT_NE(copy.data(), original.data());
    EXPECT_EQ(dup.duplicated(), 1u);
    // Exhaust the pool: the copy fails cleanly and is counted.
    Packet a = pool.acquire();
    Packet b = pool.acquire();
    EXPECT_FALSE(dup.duplicate(original, pool).valid());
    EXPECT_EQ(dup.copy_failures(), 1u);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(Corruptor, FlipsExactlyOneBitAfterTheIpHeader) {
  PacketPool pool(2, 2048);
  {
    Corruptor corruptor(1.0, 5);
    Packet p = pool.acquire();
    ASSERT_TRUE(p.resize(100));
    std::memset(p.data(), 0, p.size());
    for (int round = 0; round < 500; ++round) {
      ASSERT_TRUE(corruptor.maybe_corrupt(p));
      int bits = 0;
      for (std::size_t i = 0; i < p.size(); ++i) {
        bits += __builtin_popcount(p.data()[i]);
        if (i < Corruptor::kProtectedBytes) {
          ASSERT_EQ(p.data()[i], 0) << "byte " << i;
        }
      }
      ASSERT_EQ(bits, 1);
      std::memset(p.data(), 0, p.size());
    }
    Packet tiny = pool.acquire();
    ASSERT_TRUE(tiny.resize(20));
    std::memset(tiny.data(), 0, tiny.size());
    EXPECT_FALSE(corruptor.maybe_corrupt(tiny));
    EXPECT_EQ(corruptor.too_short(), 1u);
    for (std::size_t i = 0; i < tiny.size(); ++i) EXPECT_EQ(tiny.data()[i], 0);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(Corruptor, RateInsideBinomialInterval) {
  PacketPool pool(1, 2048);
  {
    Corruptor corruptor(0.01, 8);
    Packet p = pool.acquire();
    ASSERT_TRUE(p.resize(1500));
    std::uint64_t hit = 0;
    for (int i = 0; i < 100'000; ++i) hit += corruptor.maybe_corrupt(p) ? 1 : 0;
    expect_in_binomial_99(hit, 100'000, 0.01);
    EXPECT_EQ(corruptor.corrupted(), hit);
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
