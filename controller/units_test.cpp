#include "nextmini/controller/units.hpp"

#include <gtest/gtest.h>

#include <string>

namespace nextmini::controller {
namespace {

std::uint64_t rate(const char* text) {
  auto r = parse_rate_bps(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : 0;
}
std::uint64_t duration(const char* text) {
  auto r = parse_duration_ns(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : 0;
}
std::uint64_t size(const char* text) {
  auto r = parse_size_bytes(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : 0;
}
double percentage(const char* text) {
  auto r = parse_percentage(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : -1;
}

template <typename T>
std::string error_of(const Result<T>& r) {
  EXPECT_FALSE(r);
  if (r) return "";
  EXPECT_EQ(r.error().code, "units.invalid");
  return r.error().message;
}

TEST(Units, Rates) {
  EXPECT_EQ(rate("100mbit"), 100'000'000u);
  EXPECT_EQ(rate("2.5gbit"), 2'500'000'000u);
  EXPECT_EQ(rate("10kbit"), 10'000u);
  EXPECT_EQ(rate("300bit"), 300u);
  EXPECT_EQ(rate("1tbit"), 1'000'000'000'000u);
  EXPECT_EQ(rate("1gbps"), 1'000'000'000u);
  EXPECT_EQ(rate("1Gbps"), 1'000'000'000u);
  EXPECT_EQ(rate("10Mbit"), 10'000'000u);
  EXPECT_EQ(rate("64kbps"), 64'000u);
  EXPECT_EQ(rate("9bps"), 9u);
  EXPECT_EQ(rate("1MBps"), 8'000'000u);
  EXPECT_EQ(rate("1.5kBps"), 12'000u);
  EXPECT_EQ(rate("2Bps"), 16u);
  EXPECT_EQ(rate(" 40 gbit "), 40'000'000'000u);
  EXPECT_EQ(rate(".5mbit"), 500'000u);
  EXPECT_EQ(rate("0bit"), 0u);
  EXPECT_EQ(rate("0.0000001bit"), 0u);  // rounded to the nearest bit/s
}

TEST(Units, RateErrors) {
  EXPECT_EQ(error_of(parse_rate_bps("100")),
            "'100' is not a rate (a number and one of bit, kbit, mbit, gbit, tbit, bps, kbps, "
            "mbps, gbps, tbps (bits/s) or Bps, kBps, MBps, GBps, TBps (bytes/s), e.g. 100mbit)");
  EXPECT_EQ(error_of(parse_rate_bps("10xbit")).substr(0, 25), "'10xbit' is not a rate (a");
  EXPECT_NE(error_of(parse_rate_bps("mbit")).find("'mbit' is not a rate"), std::string::npos);
  EXPECT_NE(error_of(parse_rate_bps("-1mbit")).find("'-1mbit' is not a rate"), std::string::npos);
  EXPECT_NE(error_of(parse_rate_bps("1..2mbit")).find("is not a rate"), std::string::npos);
  EXPECT_NE(error_of(parse_rate_bps("1e9bit")).find("is not a rate"), std::string::npos);
  EXPECT_NE(error_of(parse_rate_bps("")).find("'' is not a rate"), std::string::npos);
  EXPECT_EQ(error_of(parse_rate_bps("99999999999tbit")),
            "'99999999999tbit' is too large for a rate");
  EXPECT_NE(error_of(parse_rate_bps("12345678901234567890123bit")).find("is not a rate"),
            std::string::npos);
}

TEST(Units, Durations) {
  EXPECT_EQ(duration("10ms"), 10'000'000u);
  EXPECT_EQ(duration("500us"), 500'000u);
  EXPECT_EQ(duration("2s"), 2'000'000'000u);
  EXPECT_EQ(duration("1.5ms"), 1'500'000u);
  EXPECT_EQ(duration("250ns"), 250u);
  EXPECT_EQ(duration("0"), 0u);
  EXPECT_EQ(duration("0.000"), 0u);
  EXPECT_EQ(duration("0ms"), 0u);
  EXPECT_EQ(duration("10MS"), 10'000'000u);
  EXPECT_EQ(duration("1 s"), 1'000'000'000u);
}

TEST(Units, DurationErrors) {
  EXPECT_EQ(error_of(parse_duration_ns("20xs")),
            "'20xs' is not a duration (a number and one of ns, us, ms, s, e.g. 10ms)");
  EXPECT_NE(error_of(parse_duration_ns("10")).find("'10' is not a duration"), std::string::npos);
  EXPECT_NE(error_of(parse_duration_ns("ms")).find("'ms' is not a duration"), std::string::npos);
  EXPECT_NE(error_of(parse_duration_ns("-5ms")).find("'-5ms'"), std::string::npos);
  EXPECT_EQ(error_of(parse_duration_ns("99999999999999s")),
            "'99999999999999s' is too large for a duration");
}

TEST(Units, Percentages) {
  EXPECT_DOUBLE_EQ(percentage("1%"), 0.01);
  EXPECT_DOUBLE_EQ(percentage("0.5%"), 0.005);
  EXPECT_DOUBLE_EQ(percentage("100%"), 1.0);
  EXPECT_DOUBLE_EQ(percentage("0%"), 0.0);
  EXPECT_DOUBLE_EQ(percentage(" 2.25 % "), 0.0225);
}

TEST(Units, PercentageErrors) {
  EXPECT_EQ(error_of(parse_percentage("150%")), "'150%' is not a percentage between 0% and 100%");
  EXPECT_EQ(error_of(parse_percentage("1")),
            "'1' is not a percentage (a number and '%', e.g. 0.5%)");
  EXPECT_NE(error_of(parse_percentage("-1%")).find("'-1%' is not a percentage"), std::string::npos);
  EXPECT_NE(error_of(parse_percentage("1%%")).find("is not a percentage"), std::string::npos);
  EXPECT_NE(error_of(parse_percentage("%")).find("is not a percentage"), std::string::npos);
}

TEST(Units, Sizes) {
  EXPECT_EQ(size("1500"), 1500u);
  EXPECT_EQ(size("1500b"), 1500u);
  EXPECT_EQ(size("64kb"), 64'000u);
  EXPECT_EQ(size("64k"), 64'000u);
  EXPECT_EQ(size("64KB"), 64'000u);
  EXPECT_EQ(size("1mb"), 1'000'000u);
  EXPECT_EQ(size("1.5mb"), 1'500'000u);
  EXPECT_EQ(size("2gb"), 2'000'000'000u);
  EXPECT_EQ(size("64kib"), 65'536u);
  EXPECT_EQ(size("1MiB"), 1'048'576u);
  EXPECT_EQ(size("1gib"), 1'073'741'824u);
  EXPECT_EQ(size("0"), 0u);
}

TEST(Units, SizeErrors) {
  EXPECT_EQ(error_of(parse_size_bytes("12xb")),
            "'12xb' is not a size (a number of bytes, optionally with b, kb, mb, gb (x1000) or "
            "kib, mib, gib (x1024), e.g. 64kb)");
  EXPECT_NE(error_of(parse_size_bytes("kb")).find("'kb' is not a size"), std::string::npos);
  EXPECT_NE(error_of(parse_size_bytes("1tb")).find("'1tb' is not a size"), std::string::npos);
  EXPECT_NE(error_of(parse_size_bytes("1bb")).find("'1bb' is not a size"), std::string::npos);
  EXPECT_NE(error_of(parse_size_bytes("1kibb")).find("is not a size"), std::string::npos);
  EXPECT_EQ(error_of(parse_size_bytes("99999999999gb")), "'99999999999gb' is too large for a size");
}

}  // namespace
}  // namespace nextmini::controller
