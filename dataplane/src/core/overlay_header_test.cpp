#include "nextmini/dataplane/core/overlay_header.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace nextmini::dataplane {
namespace {

OverlayHeader sample_header() {
  OverlayHeader h;
  h.flags = kOverlayFlagGso;
  h.hop_limit = 17;
  h.src = 0x01020304;
  h.dst = 0xa0b0c0d0;
  h.route_id = 0xdeadbeef;
  h.flow_hash = 0x11223344;
  h.send_time_ns = 0x0102030405060708ULL;
  h.gso_size = 1448;
  h.gso_type = 3;
  h.flow_weight = 7;
  h.csum_start = 0x1234;
  h.csum_offset = 0x5678;
  return h;
}

std::vector<std::uint8_t> encode(const OverlayHeader& h, std::size_t extra = 0) {
  std::vector<std::uint8_t> bytes(kOverlayHeaderSize + extra, 0xee);
  write_overlay_header(
      h, std::span<std::uint8_t, kOverlayHeaderSize>(bytes.data(), kOverlayHeaderSize));
  return bytes;
}

TEST(OverlayHeader, RoundTripsEveryField) {
  const OverlayHeader h = sample_header();
  const auto bytes = encode(h, 10);
  const auto decoded = read_overlay_header(bytes);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, h);
}

TEST(OverlayHeader, ByteLayoutIsBigEndianAsDocumented) {
  const auto b = encode(sample_header());
  const std::array<std::uint8_t, kOverlayHeaderSize> expected = {
      1,    0x01, 17,   36,                            // version, flags, hop limit, length
      0x01, 0x02, 0x03, 0x04,                          // src
      0xa0, 0xb0, 0xc0, 0xd0,                          // dst
      0xde, 0xad, 0xbe, 0xef,                          // route id
      0x11, 0x22, 0x33, 0x44,                          // flow hash
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // send time
      0x05, 0xa8, 3,    7,                             // gso size 1448, gso type, weight 7
      0x12, 0x34, 0x56, 0x78};                         // csum start, csum offset
  ASSERT_EQ(b.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(b[i], expected[i]) << "byte " << i;
}

TEST(OverlayHeader, EveryTruncationIsTooShort) {
  const auto bytes = encode(sample_header());
  for (std::size_t n = 0; n < kOverlayHeaderSize; ++n) {
    const auto d = decode_overlay_header(std::span<const std::uint8_t>(bytes.data(), n));
    EXPECT_EQ(d.status, OverlayStatus::kTooShort) << n;
    EXPECT_FALSE(read_overlay_header(std::span<const std::uint8_t>(bytes.data(), n)));
  }
}

TEST(OverlayHeader, RejectsOtherVersions) {
  for (int version : {0, 2, 255}) {
    auto bytes = encode(sample_header());
    bytes[0] = static_cast<std::uint8_t>(version);
    EXPECT_EQ(decode_overlay_header(bytes).status, OverlayStatus::kBadVersion) << version;
  }
}

TEST(OverlayHeader, RejectsHeaderLengthBelow36) {
  for (int length : {0, 1, 20, 35}) {
    auto bytes = encode(sample_header());
    bytes[3] = static_cast<std::uint8_t>(length);
    EXPECT_EQ(decode_overlay_header(bytes).status, OverlayStatus::kBadLength) << length;
  }
}

TEST(OverlayHeader, LongerHeaderIsSkippedWhenPresentAndTooShortWhenNot) {
  OverlayHeader h = sample_header();
  h.header_length = 44;  // a later version's 8 extra bytes
  auto bytes = encode(h, 8);
  const auto decoded = decode_overlay_header(bytes);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded.header.header_length, 44);
  bytes.resize(43);
  EXPECT_EQ(decode_overlay_header(bytes).status, OverlayStatus::kTooShort);
}

TEST(OverlayHeader, RejectsReservedFlagBits) {
  for (int bit = 3; bit < 8; ++bit) {
    auto bytes = encode(sample_header());
    bytes[1] = static_cast<std::uint8_t>(1u << bit);
    EXPECT_EQ(decode_overlay_header(bytes).status, OverlayStatus::kBadFlags) << bit;
  }
  auto bytes = encode(sample_header());
  bytes[1] = kOverlayKnownFlags;
  EXPECT_TRUE(decode_overlay_header(bytes).ok());
}

TEST(OverlayHeader, FlowWeightIsByte31AndEveryValueDecodes) {
  for (int weight : {0, 1, 2, 255}) {
    OverlayHeader h = sample_header();
    h.flow_weight = static_cast<std::uint8_t>(weight);
    const auto bytes = encode(h);
    EXPECT_EQ(bytes[kOverlayFlowWeightOffset], weight);
    const auto decoded = decode_overlay_header(bytes);
    ASSERT_TRUE(decoded.ok()) << weight;
    EXPECT_EQ(decoded.header.flow_weight, weight);
  }
}

}  // namespace
}  // namespace nextmini::dataplane
