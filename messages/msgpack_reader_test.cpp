#include "nextmini/messages/detail/msgpack_reader.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nextmini/messages/detail/msgpack_writer.hpp"

namespace nextmini::messages::detail {
namespace {

using Bytes = std::vector<std::uint8_t>;

MsgpackReader reader_of(const Bytes& bytes) { return MsgpackReader(bytes); }

// ---- bytes written by hand from the MessagePack specification ---------------------------------

TEST(MsgpackReader, NilAndBool) {
  const Bytes bytes{0xc0, 0xc2, 0xc3};
  auto r = reader_of(bytes);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kNil);
  EXPECT_TRUE(r.read_nil().has_value());
  EXPECT_EQ(*r.read_bool(), false);
  EXPECT_EQ(*r.read_bool(), true);
  EXPECT_TRUE(r.at_end());
}

TEST(MsgpackReader, UnsignedFormats) {
  struct Case {
    Bytes bytes;
    std::uint64_t value;
  };
  const std::vector<Case> cases{
      {{0x00}, 0},
      {{0x7f}, 127},
      {{0xcc, 0x80}, 128},
      {{0xcc, 0xff}, 255},
      {{0xcd, 0x01, 0x00}, 256},
      {{0xcd, 0xff, 0xff}, 65535},
      {{0xce, 0x00, 0x01, 0x00, 0x00}, 65536},
      {{0xce, 0xff, 0xff, 0xff, 0xff}, 0xffffffffULL},
      {{0xcf, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}, 0x100000000ULL},
      {{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       std::numeric_limits<std::uint64_t>::max()},
      // Signed formats that carry a non-negative value read as unsigned too.
      {{0xd0, 0x05}, 5},
      {{0xd1, 0x7f, 0xff}, 32767},
      {{0xd2, 0x7f, 0xff, 0xff, 0xff}, 0x7fffffffULL},
      {{0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())},
  };
  for (const auto& c : cases) {
    auto r = reader_of(c.bytes);
    EXPECT_EQ(*r.peek_type(), MsgpackType::kUint) << c.value;
    auto value = r.read_uint();
    ASSERT_TRUE(value.has_value()) << c.value << ": " << value.error().message;
    EXPECT_EQ(*value, c.value);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(MsgpackReader, SignedFormats) {
  struct Case {
    Bytes bytes;
    std::int64_t value;
  };
  const std::vector<Case> cases{
      {{0xff}, -1},
      {{0xe0}, -32},
      {{0xd0, 0xdf}, -33},
      {{0xd0, 0x80}, -128},
      {{0xd1, 0xff, 0x7f}, -129},
      {{0xd1, 0x80, 0x00}, -32768},
      {{0xd2, 0xff, 0xff, 0x7f, 0xff}, -32769},
      {{0xd2, 0x80, 0x00, 0x00, 0x00}, std::numeric_limits<std::int32_t>::min()},
      {{0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff},
       static_cast<std::int64_t>(std::numeric_limits<std::int32_t>::min()) - 1},
      {{0xd3, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
       std::numeric_limits<std::int64_t>::min()},
      {{0x05}, 5},
      {{0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
       std::numeric_limits<std::int64_t>::max()},
  };
  for (const auto& c : cases) {
    auto r = reader_of(c.bytes);
    auto value = r.read_int();
    ASSERT_TRUE(value.has_value()) << c.value << ": " << value.error().message;
    EXPECT_EQ(*value, c.value);
    EXPECT_TRUE(r.at_end());
  }
}

TEST(MsgpackReader, IntegerRangeErrors) {
  {
    const Bytes minus_one{0xff};
    auto r = reader_of(minus_one);
    EXPECT_EQ(*r.peek_type(), MsgpackType::kInt);
    auto value = r.read_uint();
    ASSERT_FALSE(value.has_value());
    EXPECT_EQ(value.error().code, "msgpack.range");
    EXPECT_EQ(r.position(), 0u) << "a failed read must not move the reader";
  }
  {
    const Bytes above_int64{0xcf, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    auto r = reader_of(above_int64);
    auto value = r.read_int();
    ASSERT_FALSE(value.has_value());
    EXPECT_EQ(value.error().code, "msgpack.range");
    EXPECT_EQ(*r.read_uint(), 1ULL << 63);
  }
}

TEST(MsgpackReader, Floats) {
  // 1.5 as float32 (0x3fc00000) and -0.1 as float64 (0xbfb999999999999a).
  const Bytes bytes{0xca, 0x3f, 0xc0, 0x00, 0x00, 0xcb, 0xbf, 0xb9, 0x99, 0x99,
                    0x99, 0x99, 0x99, 0x9a, 0xca, 0x7f, 0xc0, 0x00, 0x00};
  auto r = reader_of(bytes);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kFloat32);
  EXPECT_EQ(*r.read_float(), 1.5);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kFloat64);
  EXPECT_EQ(*r.read_float(), -0.1);
  EXPECT_TRUE(std::isnan(*r.read_float()));
  EXPECT_TRUE(r.at_end());
}

TEST(MsgpackReader, StringFormats) {
  for (std::size_t size : {0u, 1u, 31u, 32u, 255u, 256u, 65535u, 65536u}) {
    const std::string text(size, 'x');
    MsgpackWriter writer;
    writer.write_str(text);
    const Bytes& bytes = writer.bytes();
    // The header is the smallest one that fits: fixstr, str8, str16 or str32.
    const std::size_t header = size <= 31 ? 1 : size <= 255 ? 2 : size <= 65535 ? 3 : 5;
    EXPECT_EQ(bytes.size(), header + size) << size;
    auto r = reader_of(bytes);
    EXPECT_EQ(*r.peek_type(), MsgpackType::kStr);
    EXPECT_EQ(*r.read_str(), text);
    EXPECT_TRUE(r.at_end());
  }
  const Bytes str8{0xd9, 0x03, 'a', 'b', 'c'};
  auto r = reader_of(str8);
  EXPECT_EQ(*r.read_str(), "abc");
}

TEST(MsgpackReader, BinFormats) {
  for (std::size_t size : {0u, 5u, 255u, 256u, 65535u, 65536u}) {
    Bytes payload(size);
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<std::uint8_t>(i * 7);
    MsgpackWriter writer;
    writer.write_bin(payload);
    const std::size_t header = size <= 255 ? 2 : size <= 65535 ? 3 : 5;
    EXPECT_EQ(writer.bytes().size(), header + size);
    auto r = reader_of(writer.bytes());
    EXPECT_EQ(*r.peek_type(), MsgpackType::kBin);
    auto read = r.read_bin();
    ASSERT_TRUE(read.has_value());
    EXPECT_EQ(Bytes(read->begin(), read->end()), payload);
  }
}

TEST(MsgpackReader, ArraysAndMaps) {
  // [1, {"a": nil}] with a fixarray and a fixmap, then array16 and map32 headers.
  const Bytes bytes{0x92, 0x01, 0x81, 0xa1, 'a',  0xc0, 0xdc, 0x00, 0x01, 0x02,
                    0xdf, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x90, 0x80};
  auto r = reader_of(bytes);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kArray);
  EXPECT_EQ(*r.read_array_header(), 2u);
  EXPECT_EQ(*r.read_uint(), 1u);
  EXPECT_EQ(*r.read_map_header(), 1u);
  EXPECT_EQ(*r.read_str(), "a");
  EXPECT_TRUE(r.read_nil().has_value());
  EXPECT_EQ(*r.read_array_header(), 1u);
  EXPECT_EQ(*r.read_uint(), 2u);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kMap);
  EXPECT_EQ(*r.read_map_header(), 1u);
  EXPECT_EQ(*r.read_uint(), 3u);
  EXPECT_EQ(*r.read_uint(), 4u);
  EXPECT_EQ(*r.read_array_header(), 0u);
  EXPECT_EQ(*r.read_map_header(), 0u);
  EXPECT_TRUE(r.at_end());
}

TEST(MsgpackReader, ExtIsSkippedAsOneValue) {
  // fixext1, fixext16, ext8 with 3 data bytes, then a marker.
  Bytes bytes{0xd4, 0x01, 0xaa, 0xd8, 0x02};
  bytes.insert(bytes.end(), 16, 0x55);
  bytes.insert(bytes.end(), {0xc7, 0x03, 0x05, 0x01, 0x02, 0x03, 0x2a});
  auto r = reader_of(bytes);
  EXPECT_EQ(*r.peek_type(), MsgpackType::kExt);
  ASSERT_TRUE(r.skip().has_value());
  ASSERT_TRUE(r.skip().has_value());
  ASSERT_TRUE(r.skip().has_value());
  EXPECT_EQ(*r.read_uint(), 42u);
  EXPECT_TRUE(r.at_end());
}

TEST(MsgpackReader, SkipsNestedContainers) {
  // {"k": [1, [2, {"x": "y"}], -5, 1.5], "z": true} followed by 7.
  const Bytes bytes{0x82, 0xa1, 'k',  0x94, 0x01, 0x92, 0x02, 0x81, 0xa1, 'x',  0xa1,
                    'y',  0xfb, 0xca, 0x3f, 0xc0, 0x00, 0x00, 0xa1, 'z',  0xc3, 0x07};
  auto r = reader_of(bytes);
  ASSERT_TRUE(r.skip().has_value());
  EXPECT_EQ(*r.read_uint(), 7u);
  EXPECT_TRUE(r.at_end());
}

// ---- bad input ---------------------------------------------------------------------------------

TEST(MsgpackReader, WrongTypeIsAnErrorAndDoesNotMove) {
  const Bytes bytes{0xa2, 'h', 'i'};
  auto r = reader_of(bytes);
  const std::vector<Error> errors{r.read_uint().error(), r.read_bool().error(),
                                  r.read_map_header().error(), r.read_float().error()};
  for (const auto& error : errors) {
    EXPECT_EQ(error.code, "msgpack.type");
    EXPECT_NE(error.message.find("got str"), std::string::npos) << error.message;
  }
  EXPECT_EQ(r.position(), 0u);
  EXPECT_EQ(*r.read_str(), "hi");
}

TEST(MsgpackReader, NeverUsedByteIsInvalid) {
  const Bytes bytes{0xc1};
  auto r = reader_of(bytes);
  auto type = r.peek_type();
  ASSERT_FALSE(type.has_value());
  EXPECT_EQ(type.error().code, "msgpack.invalid");
  EXPECT_EQ(r.skip().error().code, "msgpack.invalid");
}

TEST(MsgpackReader, EmptyInputIsTruncated) {
  const Bytes bytes;
  auto r = reader_of(bytes);
  EXPECT_EQ(r.peek_type().error().code, "msgpack.truncated");
  EXPECT_EQ(r.skip().error().code, "msgpack.truncated");
}

TEST(MsgpackReader, EveryTruncationOfEveryFormatIsReported) {
  MsgpackWriter writer;
  writer.write_map_header(3);
  writer.write_str("n");
  writer.write_array_header(9);
  writer.write_uint(200);
  writer.write_uint(60000);
  writer.write_uint(4'000'000'000U);
  writer.write_uint(1ULL << 60);
  writer.write_int(-100);
  writer.write_int(-30000);
  writer.write_int(-2'000'000'000);
  writer.write_int(-(1LL << 60));
  writer.write_float64(2.5);
  writer.write_str(std::string(40, 's'));
  writer.write_bin(Bytes(300, 1));
  writer.write_str("f");
  writer.write_float32(0.5f);
  const Bytes& whole = writer.bytes();
  ASSERT_TRUE(reader_of(whole).skip().has_value());
  for (std::size_t size = 0; size < whole.size(); ++size) {
    const Bytes prefix(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(size));
    auto r = reader_of(prefix);
    auto skipped = r.skip();
    ASSERT_FALSE(skipped.has_value()) << "prefix of " << size << " bytes";
    EXPECT_EQ(skipped.error().code, "msgpack.truncated") << size;
    EXPECT_EQ(r.position(), 0u);
  }
}

TEST(MsgpackReader, HugeDeclaredLengthsAreTruncationNotAllocation) {
  const std::vector<Bytes> cases{
      {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'},   // str32 of 4 GiB
      {0xc6, 0xff, 0xff, 0xff, 0xff},        // bin32 of 4 GiB
      {0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},  // array32 of 4 G elements
      {0xdf, 0x80, 0x00, 0x00, 0x00, 0x01},  // map32 of 2 G pairs
      {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},  // ext32
  };
  for (const auto& bytes : cases) {
    auto r = reader_of(bytes);
    EXPECT_EQ(r.skip().error().code, "msgpack.truncated");
  }
  const Bytes array32{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01};
  auto r = reader_of(array32);
  EXPECT_EQ(r.read_array_header().error().code, "msgpack.truncated");
}

TEST(MsgpackReader, DepthIsLimited) {
  Bytes deep(100, 0x91);  // [[[[...]]]] 100 levels
  deep.push_back(0x01);
  EXPECT_EQ(MsgpackReader(deep).skip().error().code, "msgpack.depth");
  EXPECT_TRUE(MsgpackReader(deep, 200).skip().has_value());
  const Bytes shallow{0x91, 0x91, 0x01};
  EXPECT_EQ(MsgpackReader(shallow, 1).skip().error().code, "msgpack.depth");
  EXPECT_TRUE(MsgpackReader(shallow, 2).skip().has_value());
}

// ---- writer: smallest format, exact bytes -------------------------------------------------------

TEST(MsgpackWriter, IntegerEdgesUseTheSmallestFormat) {
  struct Case {
    std::int64_t value;
    Bytes bytes;
  };
  const std::vector<Case> cases{
      {0, {0x00}},
      {127, {0x7f}},
      {128, {0xcc, 0x80}},
      {255, {0xcc, 0xff}},
      {256, {0xcd, 0x01, 0x00}},
      {65536, {0xce, 0x00, 0x01, 0x00, 0x00}},
      {-1, {0xff}},
      {-32, {0xe0}},
      {-33, {0xd0, 0xdf}},
      {-128, {0xd0, 0x80}},
      {-129, {0xd1, 0xff, 0x7f}},
      {-32769, {0xd2, 0xff, 0xff, 0x7f, 0xff}},
      {std::numeric_limits<std::int64_t>::min(), {0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const auto& c : cases) {
    MsgpackWriter writer;
    writer.write_int(c.value);
    EXPECT_EQ(writer.bytes(), c.bytes) << c.value;
    auto r = reader_of(writer.bytes());
    EXPECT_EQ(*r.read_int(), c.value);
  }
  MsgpackWriter writer;
  writer.write_uint(std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(writer.bytes(), (Bytes{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}));
}

TEST(MsgpackWriter, ContainerHeaders) {
  MsgpackWriter writer;
  writer.write_array_header(15);
  writer.write_array_header(16);
  writer.write_array_header(70000);
  writer.write_map_header(15);
  writer.write_map_header(16);
  writer.write_map_header(70000);
  EXPECT_EQ(writer.bytes(), (Bytes{0x9f, 0xdc, 0x00, 0x10, 0xdd, 0x00, 0x01, 0x11, 0x70, 0x8f, 0xde,
                                   0x00, 0x10, 0xdf, 0x00, 0x01, 0x11, 0x70}));
}

TEST(MsgpackWriter, FloatsRoundTrip) {
  MsgpackWriter writer;
  writer.write_float64(std::numeric_limits<double>::infinity());
  writer.write_float64(-0.0);
  writer.write_float32(3.25f);
  EXPECT_EQ(writer.bytes().size(), 9u + 9u + 5u);
  auto r = reader_of(writer.bytes());
  EXPECT_EQ(*r.read_float(), std::numeric_limits<double>::infinity());
  const double negative_zero = *r.read_float();
  EXPECT_EQ(negative_zero, 0.0);
  EXPECT_TRUE(std::signbit(negative_zero));
  EXPECT_EQ(*r.read_float(), 3.25);
}

}  // namespace
}  // namespace nextmini::messages::detail
