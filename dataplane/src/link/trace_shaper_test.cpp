#include "nextmini/dataplane/link/trace_shaper.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "nextmini/messages/mahimahi_trace.hpp"

namespace nextmini::dataplane {
namespace {

constexpr TimeNs kMs = 1'000'000;
constexpr TimeNs kSecond = 1'000 * kMs;

// A trace of `per_ms` opportunities in every millisecond 1..period_ms.
std::string constant_trace(int per_ms, int period_ms) {
  std::string text;
  for (int ms = 1; ms <= period_ms; ++ms)
    for (int i = 0; i < per_ms; ++i) text += std::to_string(ms) + "\n";
  return text;
}

messages::MahimahiTrace parse(const std::string& text) {
  auto trace = messages::parse_mahimahi_trace(text);
  EXPECT_TRUE(trace) << (trace ? "" : trace.error().message);
  return trace ? std::move(trace).value() : messages::MahimahiTrace{};
}

// Saturates the shaper with `size`-byte packets from `start` for `span`; returns bytes sent.
std::uint64_t saturate(TraceShaper& shaper, std::uint64_t size, TimeNs start, TimeNs span) {
  TimeNs now = start;
  std::uint64_t bytes = 0;
  int wakeups = 0;
  for (;;) {
    now = shaper.next_send_time(size, now);
    if (now >= start + span) break;
    ++wakeups;
    while (shaper.can_send(size, now)) {
      shaper.consume(size, now);
      bytes += size;
    }
  }
  // Granting in aggregate: at most one wake-up per millisecond of the span.
  EXPECT_LE(wakeups, static_cast<int>(span / kMs) + 1);
  return bytes;
}

TEST(TraceShaper, TwelveMbitConstantTrace) {
  TraceShaper shaper(parse(constant_trace(1, 100)), 0);
  const std::uint64_t bytes = saturate(shaper, 1500, 0, kSecond);
  // 1 opportunity per ms: 1000 x 1500 bytes in a second (12 Mbit/s).
  EXPECT_NEAR(static_cast<double>(bytes) * 8, 12e6, 12e6 * 0.01);
}

TEST(TraceShaper, OnePointTwoGbitTraceWithSmallAndLargePackets) {
  for (const std::uint64_t size : {std::uint64_t{1500}, std::uint64_t{65536}, std::uint64_t{100}}) {
    TraceShaper shaper(parse(constant_trace(100, 50)), 0);
    const std::uint64_t bytes = saturate(shaper, size, 0, kSecond);
    EXPECT_NEAR(static_cast<double>(bytes) * 8, 1.2e9, 1.2e9 * 0.01) << "size " << size;
  }
}

TEST(TraceShaper, LoopsAtLastTimestamp) {
  // Opportunities at ms 2 and 10 of each 10-ms loop: absolute ms 2, 10, 12, 20, 22, ...
  TraceShaper shaper(parse("2\n10\n"), 0);
  std::string times;
  TimeNs now = 0;
  for (int i = 0; i < 6; ++i) {
    now = shaper.next_send_time(1500, now);
    ASSERT_TRUE(shaper.can_send(1500, now));
    shaper.consume(1500, now);
    times += std::to_string(now / kMs) + " ";
  }
  EXPECT_EQ(times, "2 10 12 20 22 30 ");
}

TEST(TraceShaper, UnusedOpportunitiesAreNotBanked) {
  TraceShaper shaper(parse(constant_trace(10, 10)), 0);
  // Idle for 5 ms: only the current millisecond's 15,000 bytes are usable.
  const TimeNs now = 5 * kMs + 300'000;
  EXPECT_EQ(shaper.credit_bytes(now), 15'000);
  int sent = 0;
  while (shaper.can_send(1500, now)) {
    shaper.consume(1500, now);
    ++sent;
  }
  EXPECT_EQ(sent, 10);
  EXPECT_EQ(shaper.next_send_time(1500, now), 6 * kMs);
  EXPECT_EQ(shaper.wasted_bytes(), 4u * 15'000);
  // Credit left in a millisecond is gone at its end.
  EXPECT_TRUE(shaper.can_send(100, 6 * kMs));
  shaper.consume(100, 6 * kMs);
  EXPECT_EQ(shaper.credit_bytes(6 * kMs + 999'999), 14'900);
  EXPECT_EQ(shaper.credit_bytes(7 * kMs), 15'000);
}

TEST(TraceShaper, LongIdleSkipsLoopsAndRepaysDebt) {
  TraceShaper shaper(parse(constant_trace(1, 10)), 0);
  ASSERT_TRUE(shaper.can_send(65536, kMs));
  shaper.consume(65536, kMs);
  // An hour later the debt is long repaid and the current millisecond's credit is there.
  const TimeNs hour = 3600 * kSecond;
  EXPECT_EQ(shaper.credit_bytes(hour), 1500);
  EXPECT_TRUE(shaper.can_send(1500, hour));
}

TEST(TraceShaper, RunTimeTraceChange) {
  TraceShaper shaper(parse(constant_trace(1, 10)), 0);
  saturate(shaper, 1500, 0, 100 * kMs);
  shaper.set_trace(parse(constant_trace(100, 10)), 100 * kMs);
  const std::uint64_t bytes = saturate(shaper, 1500, 100 * kMs, 100 * kMs);
  EXPECT_NEAR(static_cast<double>(bytes), 100 * 150'000.0, 150'000.0);
}

}  // namespace
}  // namespace nextmini::dataplane
