// OTI, Payload ID and partitioning (RFC 6330 sections 3.3 and 4.4.1.2), and their errors.

#include "nextmini/raptorq/oti.hpp"

#include <gtest/gtest.h>

namespace nextmini::raptorq {
namespace {

TEST(Oti, RoundTrip) {
  ObjectTransmissionInfo oti;
  oti.transfer_length = 0x12'3456'789aull;
  oti.symbol_size = 65528;
  oti.source_blocks = 255;
  oti.sub_blocks = 2;
  oti.alignment = 8;
  const auto bytes = oti.encode();
  const std::array<std::uint8_t, 12> want = {0x12, 0x34, 0x56, 0x78, 0x9a, 0,
                                             0xff, 0xf8, 255,  0,    2,    8};
  EXPECT_EQ(bytes, want);
  auto parsed = ObjectTransmissionInfo::parse(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, oti);
}

ObjectTransmissionInfo make(std::uint64_t f, std::uint16_t t, std::uint8_t z, std::uint16_t n,
                            std::uint8_t al) {
  ObjectTransmissionInfo oti;
  oti.transfer_length = f;
  oti.symbol_size = t;
  oti.source_blocks = z;
  oti.sub_blocks = n;
  oti.alignment = al;
  return oti;
}

TEST(Oti, ImpossibleParametersAreErrors) {
  EXPECT_FALSE(make(0, 64, 1, 1, 4).validate());              // F = 0
  EXPECT_FALSE(make(100, 0, 1, 1, 1).validate());             // T = 0
  EXPECT_FALSE(make(100, 64, 0, 1, 4).validate());            // Z = 0
  EXPECT_FALSE(make(100, 64, 1, 0, 4).validate());            // N = 0
  EXPECT_FALSE(make(100, 64, 1, 1, 0).validate());            // Al = 0
  EXPECT_FALSE(make(100, 66, 1, 1, 4).validate());            // T not a multiple of Al
  EXPECT_FALSE(make(56404ull * 16, 16, 1, 1, 4).validate());  // 56,404 symbols in a block
  EXPECT_TRUE(make(56403ull * 16, 16, 1, 1, 4).validate());   // the largest block
  EXPECT_FALSE(make(64, 64, 2, 1, 4).validate());             // Z > ceil(F/T)
  EXPECT_FALSE(make(1000, 16, 1, 5, 4).validate());           // N > T/Al
  EXPECT_FALSE(make(kMaxTransferLength + 1, 65532, 255, 1, 4).validate());
  const auto error = make(100, 66, 1, 1, 4).validate();
  EXPECT_EQ(error.error().code, "raptorq.oti");
  EXPECT_NE(error.error().message.find("multiple"), std::string::npos);
}

TEST(Oti, ParseRejectsWrongLengthAndBadValues) {
  const std::array<std::uint8_t, 11> short_bytes{};
  EXPECT_FALSE(ObjectTransmissionInfo::parse(short_bytes));
  auto bytes = make(1000, 64, 1, 1, 4).encode();
  bytes[11] = 3;  // Al = 3 does not divide 64
  EXPECT_FALSE(ObjectTransmissionInfo::parse(bytes));
}

TEST(Oti, ForObjectSplitsLargeObjects) {
  auto oti = ObjectTransmissionInfo::for_object(100'000'000, 1024, 4);
  ASSERT_TRUE(oti) << oti.error().message;
  EXPECT_EQ(oti->source_blocks, 2);  // 97,657 symbols need two blocks
  EXPECT_FALSE(ObjectTransmissionInfo::for_object(0, 1024, 4));
  EXPECT_FALSE(ObjectTransmissionInfo::for_object(kMaxTransferLength, 64, 4));  // > 255 blocks
}

TEST(Partition, MatchesSection4412) {
  const Partition p = partition(10, 3);
  EXPECT_EQ(p.il, 4u);
  EXPECT_EQ(p.is, 3u);
  EXPECT_EQ(p.jl, 1u);
  EXPECT_EQ(p.js, 2u);
  const Partition even = partition(9, 3);
  EXPECT_EQ(even.il, 3u);
  EXPECT_EQ(even.jl, 0u);
  EXPECT_EQ(even.js, 3u);
}

TEST(ObjectLayout, BlocksAndSubBlocks) {
  // 1,000,000 bytes, T = 1024: 977 symbols in Z = 4 blocks: 245, 244, 244, 244.
  const ObjectLayout layout(make(1'000'000, 1024, 4, 1, 8));
  EXPECT_EQ(layout.total_symbols(), 977u);
  EXPECT_EQ(layout.block(0).source_symbols, 245u);
  EXPECT_EQ(layout.block(1).source_symbols, 244u);
  EXPECT_EQ(layout.block(1).offset, 245u * 1024);
  EXPECT_EQ(layout.block(3).offset, (245u + 244 * 2) * 1024);
  // T = 100, Al = 4, N = 2: 25 units split 13 + 12 -> 52 and 48 bytes.
  const ObjectLayout sub(make(54321, 100, 2, 2, 4));
  EXPECT_EQ(sub.sub_symbol_size(0), 52u);
  EXPECT_EQ(sub.sub_symbol_size(1), 48u);
}

TEST(PayloadId, RoundTripAndShortInput) {
  const PayloadId id{7, 0xabcdef};
  const auto bytes = id.encode();
  EXPECT_EQ(bytes[0], 7);
  EXPECT_EQ(bytes[1], 0xab);
  EXPECT_EQ(bytes[3], 0xef);
  auto parsed = PayloadId::parse(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, id);
  EXPECT_FALSE(PayloadId::parse(std::span(bytes).first(3)));
}

}  // namespace
}  // namespace nextmini::raptorq
