#pragma once
// Link frames on a stream transport (tcp): a 4-byte big-endian length, then that many bytes.
// cut_link_frame() looks at the start of received bytes and says whether a whole frame is there,
// more bytes are needed (with the frame's length once its prefix is in), or the stream is out of
// sync (length 0 or above max_payload: kBad). It never reads outside `bytes` and never
// allocates; the payload span points into `bytes`. LinkFrameReader (link_frame_reader.hpp) builds
// a tcp link's receive side on it.

#include <cstddef>
#include <cstdint>
#include <span>

namespace nextmini::dataplane {

inline constexpr std::size_t kLinkFramePrefix = 4;

struct LinkFrameCut {
  enum class Status { kNeedMore, kFrame, kBad };
  Status status = Status::kNeedMore;
  std::span<const std::uint8_t> payload;  // kFrame only
  std::size_t consumed = 0;               // kFrame: prefix + payload
  std::size_t length = 0;  // payload length: kFrame, and kNeedMore once the prefix is in (else 0)
};

inline LinkFrameCut cut_link_frame(std::span<const std::uint8_t> bytes,
                                   std::size_t max_payload) noexcept {
  if (bytes.size() < kLinkFramePrefix) return {};
  const std::size_t length = (std::size_t{bytes[0]} << 24) | (std::size_t{bytes[1]} << 16) |
                             (std::size_t{bytes[2]} << 8) | std::size_t{bytes[3]};
  if (length == 0 || length > max_payload) return {LinkFrameCut::Status::kBad, {}, 0, 0};
  if (bytes.size() - kLinkFramePrefix < length)
    return {LinkFrameCut::Status::kNeedMore, {}, 0, length};
  return {LinkFrameCut::Status::kFrame, bytes.subspan(kLinkFramePrefix, length),
          kLinkFramePrefix + length, length};
}

// Writes the prefix for a payload of `length` bytes (length < 2^32) at `at`.
inline void write_link_frame_prefix(std::uint8_t* at, std::size_t length) noexcept {
  at[0] = static_cast<std::uint8_t>(length >> 24);
  at[1] = static_cast<std::uint8_t>(length >> 16);
  at[2] = static_cast<std::uint8_t>(length >> 8);
  at[3] = static_cast<std::uint8_t>(length);
}

}  // namespace nextmini::dataplane
