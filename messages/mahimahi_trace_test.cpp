#include "nextmini/messages/mahimahi_trace.hpp"

#include <gtest/gtest.h>

#include <string>

namespace nextmini::messages {
namespace {

MahimahiTrace parse(const std::string& text) {
  auto trace = parse_mahimahi_trace(text);
  EXPECT_TRUE(trace) << (trace ? "" : trace.error().message);
  return trace ? std::move(trace).value() : MahimahiTrace{};
}

TEST(MahimahiTrace, ParsesAndAggregatesPerMillisecond) {
  const auto trace = parse("0\n1\n1\r\n  1 \n\n5\n");
  ASSERT_EQ(trace.slots.size(), 3u);
  EXPECT_EQ(trace.slots[0].ms, 0u);
  EXPECT_EQ(trace.slots[1].opportunities, 3u);
  EXPECT_EQ(trace.slots[2].ms, 5u);
  EXPECT_EQ(trace.period_ms, 5u);
  EXPECT_EQ(trace.total_opportunities, 5u);
  EXPECT_EQ(parse("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n").average_rate_bps(), 12'000'000u);
}

TEST(MahimahiTrace, ErrorsNameLineAndValue) {
  auto bad = parse_mahimahi_trace("1\n2\nabc\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "trace.invalid");
  EXPECT_EQ(bad.error().message,
            "line 3: 'abc' is not a millisecond timestamp (a non-negative integer)");
  bad = parse_mahimahi_trace("1\n-4\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "line 2: '-4' is not a millisecond timestamp (a non-negative integer)");
  bad = parse_mahimahi_trace("5\n\n3\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "line 3: timestamp 3 is before the previous 5 (timestamps must not decrease)");
  bad = parse_mahimahi_trace("1.5\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("line 1: '1.5'"), std::string::npos);
  bad = parse_mahimahi_trace("99999999999999999999999\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("too large"), std::string::npos);
  bad = parse_mahimahi_trace("\n  \n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "the trace has no delivery opportunities");
  bad = parse_mahimahi_trace("0\n0\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("last timestamp is 0 ms"), std::string::npos);
}

}  // namespace
}  // namespace nextmini::messages
