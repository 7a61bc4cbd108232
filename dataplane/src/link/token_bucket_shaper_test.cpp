#include "nextmini/dataplane/link/token_bucket_shaper.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace nextmini::dataplane {
namespace {

constexpr TimeNs kSecond = 1'000'000'000;

// Sends back-to-back packets of `size` for one simulated second, waking exactly at
// next_send_time(); returns the bytes sent in [0, 1 s).
std::uint64_t saturate(TokenBucketShaper& shaper, std::uint64_t size) {
  TimeNs now = 0;
  std::uint64_t bytes = 0;
  for (;;) {
    now = shaper.next_send_time(size, now);
    if (now >= kSecond) break;
    EXPECT_TRUE(shaper.can_send(size, now));
    shaper.consume(size, now);
    bytes += size;
  }
  return bytes;
}

TEST(TokenBucketShaper, OutputWithinOnePercentOverASecond) {
  struct Case {
    std::uint64_t rate_bps;
    std::uint64_t packet_bytes;
  };
  const Case cases[] = {{100'000'000, 1500},    {100'000'000, 65536},   {1'000'000'000, 1500},
                        {1'000'000'000, 65536}, {10'000'000'000, 1500}, {10'000'000'000, 65536},
                        {40'000'000'000, 9000}, {1'000'000, 64}};
  for (const auto& [rate, size] : cases) {
    SCOPED_TRACE("rate " + std::to_string(rate) + " size " + std::to_string(size));
    TokenBucketShaper shaper(rate, 0, 0);
    const std::uint64_t bytes = saturate(shaper, size);
    EXPECT_EQ(shaper.bytes_sent(), bytes);
    // The bucket starts full: the first `burst` bytes go at once, the rest at the rate.
    const double paced_bits = static_cast<double>(bytes - shaper.burst_bytes()) * 8.0;
    EXPECT_NEAR(paced_bits / static_cast<double>(rate), 1.0, 0.01);
    EXPECT_LE(bytes, rate / 8 + shaper.burst_bytes() + size);
  }
}

TEST(TokenBucketShaper, DefaultBurstIsOneMillisecondOrOneMtu) {
  EXPECT_EQ(TokenBucketShaper(1'000'000'000).burst_bytes(), 125'000u);
  EXPECT_EQ(TokenBucketShaper(1'000'000).burst_bytes(), 1500u);
  EXPECT_EQ(TokenBucketShaper(1'000'000, 9000).burst_bytes(), 9000u);
}

TEST(TokenBucketShaper, BurstRespected) {
  // 8 Mbit/s = 1 byte/us; burst 15,000 bytes: after a long idle time exactly 10 packets of
  // 1500 go at once, the 11th waits 1.5 ms.
  TokenBucketShaper shaper(8'000'000, 15'000, 0);
  const TimeNs later = 10 * kSecond;
  int sent = 0;
  while (shaper.can_send(1500, later)) {
    shaper.consume(1500, later);
    ++sent;
  }
  EXPECT_EQ(sent, 10);
  EXPECT_EQ(shaper.next_send_time(1500, later), later + 1'500'000);
  EXPECT_FALSE(shaper.can_send(1500, later + 1'499'999));
  EXPECT_TRUE(shaper.can_send(1500, later + 1'500'000));
  EXPECT_GE(shaper.throttled(), 2u);
}

TEST(TokenBucketShaper, LargePacketBorrowsAndRateHolds) {
  // A 64-KB packet on a 1500-byte bucket still goes (after 1500 bytes of tokens) and is repaid.
  TokenBucketShaper shaper(8'000'000, 1500, 0);
  ASSERT_TRUE(shaper.can_send(65536, 0));
  shaper.consume(65536, 0);
  EXPECT_EQ(shaper.tokens_bytes(0), 1500 - 65536);
  // Debt 64,036 bytes + 1,500 needed = 65,536 us.
  EXPECT_EQ(shaper.next_send_time(65536, 0), 65'536'000u);
}

TEST(TokenBucketShaper, UnlimitedAlwaysSends) {
  TokenBucketShaper shaper;
  EXPECT_TRUE(shaper.unlimited());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(shaper.can_send(65536, 0));
    shaper.consume(65536, 0, 45);
  }
  EXPECT_EQ(shaper.next_send_time(1500, 7), 7u);
  EXPECT_EQ(shaper.packets_sent(), 45'000u);
}

TEST(TokenBucketShaper, RateChangeKeepsEarnedTokens) {
  TokenBucketShaper shaper(8'000'000, 3000, 0);
  shaper.consume(3000, 0);
  EXPECT_EQ(shaper.tokens_bytes(1'000'000), 1000);  // 1 ms at 1 byte/us
  shaper.set_rate(16'000'000, 3000, 1'000'000);
  EXPECT_EQ(shaper.tokens_bytes(2'000'000), 3000);  // +2000 at the new rate (= the burst)
  shaper.set_rate(16'000'000, 500, 2'000'000);
  EXPECT_EQ(shaper.tokens_bytes(2'000'000), 500);  // a smaller burst caps the bucket
}

TEST(TokenBucketShaper, UnlimitedToLimitedStartsWithFullBucket) {
  TokenBucketShaper shaper;
  for (int i = 0; i < 100; ++i) shaper.consume(65536, 0);
  shaper.set_rate(8'000'000, 3000, 5);
  EXPECT_FALSE(shaper.unlimited());
  EXPECT_EQ(shaper.tokens_bytes(5), 3000);
  shaper.consume(3000, 5);
  EXPECT_FALSE(shaper.can_send(1500, 5));
  EXPECT_EQ(shaper.next_send_time(1500, 5), 5u + 1'500'000);
  shaper.set_rate(TokenBucketShaper::kUnlimited, 0, 6);
  EXPECT_TRUE(shaper.can_send(65536, 6));
}

TEST(TokenBucketShaper, NoOverflowOverLongIdleAtHighRate) {
  TokenBucketShaper shaper(100'000'000'000, 0, 0);
  const TimeNs year = 365ull * 24 * 3600 * kSecond;
  EXPECT_EQ(shaper.tokens_bytes(year), static_cast<std::int64_t>(shaper.burst_bytes()));
  EXPECT_TRUE(shaper.can_send(1500, year));
}

TEST(TokenBucketShaper, ALateWakeUpCatchesUpWhileBackloggedButNotAfterIdling) {
  // 8 Mbit/s = one byte per microsecond; burst 1500 bytes; 1000-byte packets.
  TokenBucketShaper shaper(8'000'000, 1500, 0);
  ASSERT_TRUE(shaper.can_send(1000, 0));
  shaper.consume(1000, 0);  // 500 bytes left, nothing waits
  // Idle for 10 ms: the bucket fills up to its burst only.
  EXPECT_EQ(shaper.tokens_bytes(10'000'000), 1500);
  ASSERT_TRUE(shaper.can_send(1000, 10'000'000));
  shaper.consume(1000, 10'000'000);
  EXPECT_FALSE(shaper.can_send(1000, 10'000'000));  // the next packet waits (backlogged)
  // The caller wakes 10 ms late: the link would have sent 10 packets meanwhile, not 1.
  int sent = 0;
  while (shaper.can_send(1000, 20'000'000)) {
    shaper.consume(1000, 20'000'000);
    ++sent;
  }
  EXPECT_EQ(sent, 10);
}

// A caller that sends a packet and knows more wait behind it (its queue is not empty) but asks
// again only later — it had no room downstream — keeps what the bucket earned meanwhile, as a
// link that never stopped sending would have. Without more_waiting the bucket is capped at its
// burst, as after idling (previous test).
TEST(TokenBucketShaper, TokensEarnedWhilePacketsWaitAreKeptAfterConsume) {
  TokenBucketShaper shaper(8'000'000, 1500, 0);  // one byte per microsecond
  ASSERT_TRUE(shaper.can_send(1000, 0));
  shaper.consume(1000, 0, 1, /*more_waiting=*/true);
  int sent = 0;
  while (shaper.can_send(1000, 10'000'000)) {  // asked again 10 ms later
    shaper.consume(1000, 10'000'000, 1, /*more_waiting=*/true);
    ++sent;
  }
  EXPECT_EQ(sent, 10);  // 500 left + 10,000 earned = 10 packets of 1000

  TokenBucketShaper idle(8'000'000, 1500, 0);
  ASSERT_TRUE(idle.can_send(1000, 0));
  idle.consume(1000, 0, 1, /*more_waiting=*/false);
  sent = 0;
  while (idle.can_send(1000, 10'000'000)) {
    idle.consume(1000, 10'000'000);
    ++sent;
  }
  EXPECT_EQ(sent, 1);  // capped at the burst: 1500 bytes
}

}  // namespace
}  // namespace nextmini::dataplane
