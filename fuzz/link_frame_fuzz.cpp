// Fuzz target for the link's stream decoders (dataplane/transport): cut_link_frame() over an
// arbitrary byte stream, and LinkHello::parse() on its first 12 bytes. Any input must give
// frames inside the input, "need more" or "bad", never a read out of bounds or a crash; the
// frames cut must tile the input exactly up to where cutting stopped. Then LinkFrameReader (the
// tcp link's receive side) reads the same stream in reads of pseudo-random sizes (seeded from
// the input), with pools small enough to run out: it must hand out exactly the frames cut above,
// in order (a frame it had no buffer for skipped whole), and be out of sync exactly where they
// were.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/dataplane/transport/link_frame_reader.hpp"
#include "nextmini/dataplane/transport/link_hello.hpp"

namespace {

[[noreturn]] void fuzz_failure() { std::abort(); }

constexpr std::size_t kMaxPayload = 1920;

// Feeds `stream` to a LinkFrameReader and checks it against `frames` (what cut_link_frame found)
// and `bad` (whether cutting stopped out of sync).
void check_reader(std::span<const std::uint8_t> stream,
                  const std::vector<std::span<const std::uint8_t>>& frames, bool bad) {
  using namespace nextmini::dataplane;
  PacketPool small(4, 64 + PacketPool::kDefaultHeadroom);
  PacketPool large(1, kMaxPayload + PacketPool::kDefaultHeadroom);
  LinkFrameReader reader(small, &large, kMaxPayload, 0, 1 + stream.size() % 32);
  std::minstd_rand random(static_cast<std::uint32_t>(stream.size()) +
                          (stream.empty() ? 0u : stream[0]));
  Packet held[2];  // the last two frames handed out stay alive, so the pools run out
  std::size_t next_held = 0;
  std::size_t index = 0;  // the next frame expected
  std::size_t at = 0;
  bool reader_bad = false;
  while (at < stream.size() && !reader_bad) {
    const LinkFrameReader::Buffers into = reader.read_buffers();
    std::size_t budget = std::min<std::size_t>(1 + random() % 700, stream.size() - at);
    std::size_t n = 0;
    for (std::size_t i = 0; i < into.count && budget > 0; ++i) {
      const std::size_t take = std::min(budget, into.spans[i].size());
      std::memcpy(into.spans[i].data(), stream.data() + at + n, take);
      n += take;
      budget -= take;
    }
    if (n == 0) fuzz_failure();  // the reader must always offer room
    reader.commit(n);
    at += n;
    for (;;) {
      Packet packet;
      const auto next = reader.next(packet);
      if (next == LinkFrameReader::Next::kNeedMore) break;
      if (next == LinkFrameReader::Next::kBad) {
        reader_bad = true;
        break;
      }
      // A frame that is not in the stream; only the trailing partial frame may be skipped
      // (no buffer) before it is complete.
      if (index > frames.size() ||
          (index == frames.size() && next == LinkFrameReader::Next::kFrame))
        fuzz_failure();
      if (next == LinkFrameReader::Next::kFrame) {
        const auto& expected = frames[index];
        if (packet.size() != expected.size() ||
            std::memcmp(packet.data(), expected.data(), expected.size()) != 0)
          fuzz_failure();
        held[next_held] = std::move(packet);
        next_held = (next_held + 1) % 2;
      }
      ++index;
    }
  }
  if (index < frames.size() || index > frames.size() + 1 || reader_bad != bad) fuzz_failure();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace nextmini::dataplane;
  const std::span<const std::uint8_t> bytes(data, size);
  std::size_t offset = 0;  // where frames start: after a valid hello, as on a real connection
  if (size >= LinkHello::kSize) {
    auto hello = LinkHello::parse(bytes.first(LinkHello::kSize));
    if (hello && hello->node_id == 0) fuzz_failure();
    if (hello) {
      // A parsed hello re-encodes to the same bytes, except the reserved field.
      const auto again = LinkHello{hello->node_id}.encode();
      for (std::size_t i = 0; i < LinkHello::kSize; ++i)
        if (again[i] != bytes[i] && i != 6 && i != 7) fuzz_failure();
      offset = LinkHello::kSize;
    }
  }
  const std::size_t frames_start = offset;
  std::vector<std::span<const std::uint8_t>> frames;
  bool bad = false;
  for (;;) {
    const auto cut = cut_link_frame(bytes.subspan(offset), kMaxPayload);
    if (cut.status == LinkFrameCut::Status::kBad) bad = true;
    if (cut.status != LinkFrameCut::Status::kFrame) break;
    frames.push_back(cut.payload);
    if (cut.payload.empty() || cut.payload.size() > kMaxPayload) fuzz_failure();
    if (cut.consumed != kLinkFramePrefix + cut.payload.size()) fuzz_failure();
    if (cut.payload.data() != data + offset + kLinkFramePrefix) fuzz_failure();
    offset += cut.consumed;
    if (offset > size) fuzz_failure();
  }
  check_reader(bytes.subspan(frames_start), frames, bad);
  return 0;
}
