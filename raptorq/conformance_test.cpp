// Conformance with the independent implementation's vectors (../shared/raptorq-vectors):
// the encoder reproduces every .enc packet byte for byte, the decoder recovers .src from
// .lossy and from .enc.

#include <gtest/gtest.h>

#include <map>

#include "nextmini/raptorq/raptorq.hpp"
#include "vector_files.hpp"

namespace nextmini::raptorq {
namespace {

using testing::kVectorDir;
using testing::read_bytes;
using testing::split_packets;

class VectorCase : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const std::string name = GetParam();
    ASSERT_TRUE(std::filesystem::exists(kVectorDir / (name + ".src")))
        << "missing vector " << name << " under " << std::filesystem::absolute(kVectorDir);
    source_ = read_bytes(kVectorDir / (name + ".src"));
    auto oti = ObjectTransmissionInfo::parse(read_bytes(kVectorDir / (name + ".oti")));
    ASSERT_TRUE(oti) << oti.error().message;
    oti_ = *oti;
    bool ok = false;
    enc_ = split_packets(read_bytes(kVectorDir / (name + ".enc")), &ok);
    ASSERT_TRUE(ok);
    lossy_ = split_packets(read_bytes(kVectorDir / (name + ".lossy")), &ok);
    ASSERT_TRUE(ok);
    ASSERT_FALSE(enc_.empty());
  }

  std::vector<std::uint8_t> decode(const std::vector<std::vector<std::uint8_t>>& packets) {
    auto decoder = ObjectDecoder::create(oti_);
    EXPECT_TRUE(decoder);
    if (!decoder) return {};
    for (const auto& packet : packets) {
      auto added = decoder->add_packet(packet);
      EXPECT_TRUE(added) << added.error().message;
      if (added && *added) break;
    }
    auto object = decoder->object();
    EXPECT_TRUE(object) << object.error().message;
    return object ? *object : std::vector<std::uint8_t>{};
  }

  std::vector<std::uint8_t> source_;
  ObjectTransmissionInfo oti_;
  std::vector<std::vector<std::uint8_t>> enc_;
  std::vector<std::vector<std::uint8_t>> lossy_;
};

TEST_P(VectorCase, EncoderReproducesEveryPacket) {
  ASSERT_EQ(source_.size(), oti_.transfer_length);
  auto encoder = ObjectEncoder::create(source_, oti_);
  ASSERT_TRUE(encoder) << encoder.error().message;
  // The .enc file shows, per block, K source then some repair packets: rebuild that order.
  std::map<std::uint8_t, std::uint32_t> packets_per_block;
  for (const auto& packet : enc_) ++packets_per_block[packet[0]];
  ASSERT_EQ(packets_per_block.size(), encoder->block_count());
  std::size_t index = 0;
  for (const auto& [sbn, count] : packets_per_block) {
    ASSERT_GE(count, encoder->source_symbols(sbn)) << "block " << int(sbn);
    for (std::uint32_t esi = 0; esi < count; ++esi, ++index) {
      ASSERT_LT(index, enc_.size());
      auto packet = encoder->packet(sbn, esi);
      ASSERT_TRUE(packet) << packet.error().message;
      ASSERT_EQ(*packet, enc_[index]) << "block " << int(sbn) << " ESI " << esi;
    }
  }
  EXPECT_EQ(index, enc_.size());
}

TEST_P(VectorCase, DecoderRecoversFromLossy) { EXPECT_EQ(decode(lossy_), source_); }

TEST_P(VectorCase, DecoderRecoversFromEnc) { EXPECT_EQ(decode(enc_), source_); }

TEST_P(VectorCase, DecoderRecoversFromRepairFirst) {
  // The same packets in reverse order: repair symbols first, so decoding must solve.
  std::vector<std::vector<std::uint8_t>> reversed(lossy_.rbegin(), lossy_.rend());
  EXPECT_EQ(decode(reversed), source_);
}

INSTANTIATE_TEST_SUITE_P(Vectors, VectorCase,
                         ::testing::Values("tiny", "small", "k79", "multiblock", "subblocks",
                                           "odd_symbol", "k10000", "half_lost"));

}  // namespace
}  // namespace nextmini::raptorq
