#include "nextmini/dataplane/transport/link_frame_reader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/test_support/bytes.hpp"

namespace nextmini::dataplane {
namespace {

using nextmini::test_support::Bytes;
using nextmini::test_support::pattern;

// The wire bytes of `payloads`, each framed.
Bytes frame_stream(const std::vector<Bytes>& payloads) {
  Bytes stream;
  for (const Bytes& payload : payloads) {
    const std::size_t at = stream.size();
    stream.resize(at + kLinkFramePrefix + payload.size());
    write_link_frame_prefix(stream.data() + at, payload.size());
    std::copy(payload.begin(), payload.end(), stream.begin() + at + kLinkFramePrefix);
  }
  return stream;
}

// Plays a socket: each read hands over at most `chunk(at)` of the bytes not read yet (`at`: how
// many were read before), filling the
// buffers the reader offers in order; after each read every frame is taken out. Returns the
// frames' payloads; stops at kBad (setting `bad`).
struct Feed {
  std::vector<Bytes> frames;
  std::size_t no_buffer = 0;
  std::size_t reads = 0;
  bool bad = false;
  std::vector<Packet> held;  // frames kept alive (to exhaust a pool), when asked
};

template <typename Chunk>
Feed feed(LinkFrameReader& reader, const Bytes& stream, Chunk chunk, bool hold = false) {
  Feed out;
  std::size_t at = 0;
  while (at < stream.size() && !out.bad) {
    const LinkFrameReader::Buffers into = reader.read_buffers();
    std::size_t budget = std::min(chunk(at), stream.size() - at);
    std::size_t n = 0;
    for (std::size_t i = 0; i < into.count && budget > 0; ++i) {
      const std::size_t take = std::min(budget, into.spans[i].size());
      std::memcpy(into.spans[i].data(), stream.data() + at + n, take);
      n += take;
      budget -= take;
    }
    EXPECT_GT(n, 0u);
    reader.commit(n);
    at += n;
    ++out.reads;
    for (;;) {
      Packet packet;
      const auto next = reader.next(packet);
      if (next == LinkFrameReader::Next::kFrame) {
        out.frames.emplace_back(packet.data(), packet.data() + packet.size());
        if (hold) out.held.push_back(std::move(packet));
      } else if (next == LinkFrameReader::Next::kNoBuffer) {
        ++out.no_buffer;
      } else {
        out.bad = next == LinkFrameReader::Next::kBad;
        break;
      }
    }
  }
  return out;
}

// Small buffers with 100 bytes of room, large ones with 2,000.
struct Pools {
  PacketPool small{64, 100 + PacketPool::kDefaultHeadroom};
  PacketPool large{16, 2'000 + PacketPool::kDefaultHeadroom};
};

TEST(LinkFrameReader, CutsManySmallFramesFromOneRead) {
  Pools pools;
  LinkFrameReader reader(pools.small, &pools.large, 2'000);
  std::vector<Bytes> payloads;
  for (std::uint32_t i = 0; i < 20; ++i) payloads.push_back(pattern(1 + i * 5, i));
  const Bytes stream = frame_stream(payloads);
  const Feed out = feed(reader, stream, [](std::size_t) { return std::size_t{1} << 20; });
  EXPECT_EQ(out.reads, 1u);
  EXPECT_EQ(out.frames, payloads);
  EXPECT_EQ(reader.frames(), 20u);
  EXPECT_EQ(reader.direct_bytes(), 0u);
}

TEST(LinkFrameReader, ReadsSuperPacketsStraightIntoTheirBuffers) {
  PacketPool small(8, 2'048);
  PacketPool large(8, 70'000);
  LinkFrameReader reader(small, &large, 70'000 - large.headroom());
  std::vector<Bytes> payloads;
  for (std::uint32_t i = 0; i < 6; ++i) payloads.push_back(pattern(60'000 + i, i));
  const Bytes stream = frame_stream(payloads);
  // 16 KB arrive per read, as from a socket whose reader keeps up.
  const Feed out = feed(reader, stream, [](std::size_t) { return std::size_t{16'384}; });
  ASSERT_FALSE(out.bad);
  EXPECT_EQ(out.frames, payloads);
  // Only the first read's bytes and one lookahead per later frame are copied.
  const std::size_t copied_bound = 16'384 + 5 * LinkFrameReader::kDefaultLookahead;
  EXPECT_LE(reader.copied_bytes(), copied_bound);
  EXPECT_GE(reader.direct_bytes(), 6 * 60'000 - copied_bound);
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(LinkFrameReader, KeepsReadingStraightWhenSmallFramesComeBetweenLargeOnes) {
  PacketPool small(8, 2'048);
  PacketPool large(8, 70'000);
  LinkFrameReader reader(small, &large, 70'000 - large.headroom());
  std::vector<Bytes> payloads;
  for (std::uint32_t i = 0; i < 6; ++i) {
    payloads.push_back(pattern(60'000, i));
    payloads.push_back(pattern(60, 100 + i));  // e.g. an ACK of a flow the other way
  }
  const Bytes stream = frame_stream(payloads);
  // The sender wrote each super-packet and the small frame after it together: a read never
  // goes past the end of a small frame (16 KB at most).
  const std::size_t pair = 2 * kLinkFramePrefix + 60'000 + 60;
  const Feed out = feed(reader, stream, [pair](std::size_t at) {
    return std::min<std::size_t>(16'384, pair - at % pair);
  });
  EXPECT_EQ(out.frames, payloads);
  EXPECT_LE(reader.copied_bytes(), 16'384 + 5 * LinkFrameReader::kDefaultLookahead + 6 * 60);
}

TEST(LinkFrameReader, AnySplitOfAMixedStreamGivesTheSameFrames) {
  std::vector<Bytes> payloads;
  std::mt19937 random(7);
  for (std::uint32_t i = 0; i < 60; ++i) {
    const std::size_t size = (i % 3 == 0) ? 101 + random() % 1'900 : 1 + random() % 100;
    payloads.push_back(pattern(size, i));
  }
  const Bytes stream = frame_stream(payloads);
  for (std::size_t chunk : {1, 2, 3, 5, 7, 13, 64, 101, 500, 1'999, 4'096, 100'000}) {
    Pools pools;
    LinkFrameReader reader(pools.small, &pools.large, 2'000, 0, 16);
    const Feed out = feed(reader, stream, [chunk](std::size_t) { return chunk; });
    EXPECT_FALSE(out.bad) << chunk;
    EXPECT_EQ(out.frames, payloads) << chunk;
    EXPECT_EQ(reader.copied_bytes() + reader.direct_bytes(), stream.size() - 4 * payloads.size())
        << chunk;
    EXPECT_EQ(pools.small.in_use() + pools.large.in_use(), 0u) << chunk;
  }
  Pools pools;
  LinkFrameReader reader(pools.small, &pools.large, 2'000, 0, 16);
  const Feed out = feed(reader, stream, [&random](std::size_t) { return 1 + random() % 3'000; });
  EXPECT_EQ(out.frames, payloads);
}

TEST(LinkFrameReader, OutOfRangeLengthsAreBad) {
  for (const std::size_t bad_length : {std::size_t{0}, std::size_t{2'001}}) {
    Pools pools;
    LinkFrameReader reader(pools.small, &pools.large, 2'000);
    Bytes stream = frame_stream({pattern(1'500, 1), pattern(10, 2)});
    const std::size_t at = stream.size();
    stream.resize(at + 8);
    write_link_frame_prefix(stream.data() + at, bad_length);
    // Behind a large frame read straight into its buffer, in small reads.
    const Feed out = feed(reader, stream, [](std::size_t) { return std::size_t{700}; });
    EXPECT_TRUE(out.bad) << bad_length;
    EXPECT_EQ(out.frames.size(), 2u) << bad_length;
  }
  Pools pools;
  LinkFrameReader reader(pools.small, nullptr, 2'000);  // no large pool: at most 100 bytes
  EXPECT_EQ(reader.max_payload(), 100u);
  const Feed out =
      feed(reader, frame_stream({pattern(101, 1)}), [](std::size_t) { return std::size_t{50}; });
  EXPECT_TRUE(out.bad);
}

TEST(LinkFrameReader, AFrameWithoutABufferIsSkippedWhole) {
  PacketPool small(2, 100 + PacketPool::kDefaultHeadroom);
  PacketPool large(1, 2'000 + PacketPool::kDefaultHeadroom);
  LinkFrameReader reader(small, &large, 2'000, 0, 16);
  // Held frames exhaust the pools: the second large frame (partly staged, then skipped while it
  // arrives), the third small frame and the last large one find no buffer; the stream stays in
  // sync.
  const std::vector<Bytes> payloads = {pattern(1'500, 1), pattern(50, 2), pattern(1'800, 3),
                                       pattern(60, 4),    pattern(70, 5), pattern(1'000, 6)};
  const Bytes stream = frame_stream(payloads);
  const Feed out = feed(
      reader, stream, [](std::size_t) { return std::size_t{300}; }, /*hold=*/true);
  EXPECT_FALSE(out.bad);
  EXPECT_EQ(out.no_buffer, 3u);
  EXPECT_EQ(out.frames, (std::vector<Bytes>{payloads[0], payloads[1], payloads[3]}));
}

TEST(LinkFrameReader, ClearReleasesAPartlyReadFrame) {
  Pools pools;
  LinkFrameReader reader(pools.small, &pools.large, 2'000);
  const Bytes stream = frame_stream({pattern(1'900, 1)});
  const Feed out = feed(reader, Bytes(stream.begin(), stream.begin() + 1'000),
                        [](std::size_t) { return std::size_t{1'000}; });
  EXPECT_TRUE(out.frames.empty());
  EXPECT_EQ(pools.large.in_use(), 1u);
  reader.clear();
  EXPECT_EQ(pools.large.in_use(), 0u);
  // A new stream starts clean.
  const Feed again =
      feed(reader, frame_stream({pattern(30, 2)}), [](std::size_t) { return std::size_t{1'000}; });
  EXPECT_EQ(again.frames, (std::vector<Bytes>{pattern(30, 2)}));
}

}  // namespace
}  // namespace nextmini::dataplane
