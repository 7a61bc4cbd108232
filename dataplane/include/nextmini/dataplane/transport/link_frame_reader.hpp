#pragma once
// LinkFrameReader: cuts the link frames of a byte stream (a tcp link's receive side) into pool
// Packets, copying as few bytes as it can. No I/O: the owner reads into the buffers it offers.
//   Reads land in a staging buffer; a frame found whole there is copied into a packet buffer
//   (a small frame: a copy of at most a small buffer's room). A frame longer than a small
//   buffer's room (a GSO super-packet, up to 64 KB) gets its large-pool buffer as soon as its
//   4-byte prefix is seen: the payload bytes already staged are copied into it and the rest is
//   read straight into it (the first buffer the next read fills), so most of a super-packet's
//   bytes are never copied in user space. After a read that brought a large frame the staging
//   part of the next read is kept to `lookahead` bytes, so the next frame's payload also lands in
//   its own buffer (also when small frames come between large ones); after a read of small
//   frames only, reads fill the whole staging buffer again (many small frames per read).
//   Input: read_buffers() — up to two buffers in stream order; commit(n) with the bytes read.
//   Output: next() hands out the complete frames in stream order (payload only; the caller
//   tags them), then kNeedMore.
//   Untrusted input: a frame length of 0 or above max_payload puts the stream out of sync:
//   next() returns kBad (the caller closes the stream), never reads or writes out of bounds.
//   A frame no buffer was free for (pool exhausted) is skipped whole: next() returns kNoBuffer
//   once for it and carries on with the next frame.
//   Knobs: max_payload (the largest frame payload), staging size, lookahead. Counters: frames,
//   bytes read straight into packet buffers and bytes copied from staging. No allocation after
//   construction. Thread: the owner's.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"

namespace nextmini::dataplane {

class LinkFrameReader {
 public:
  static constexpr std::size_t kDefaultStaging = 256 * 1024;
  static constexpr std::size_t kDefaultLookahead = 4096;

  enum class Next { kFrame, kNeedMore, kNoBuffer, kBad };

  // Up to two buffers, in stream order: [the rest of a large frame's payload,] staging space.
  struct Buffers {
    std::array<std::span<std::uint8_t>, 2> spans;
    std::size_t count = 0;
  };

  // `large_pool` (optional) holds frames longer than `pool`'s room. `max_payload` must not
  // exceed the room of the largest pool buffer; the staging buffer is made at least big enough
  // for a partial small frame plus `lookahead`.
  LinkFrameReader(PacketPool& pool, PacketPool* large_pool, std::size_t max_payload,
                  std::size_t staging_size = kDefaultStaging,
                  std::size_t lookahead = kDefaultLookahead);
  LinkFrameReader(const LinkFrameReader&) = delete;
  LinkFrameReader& operator=(const LinkFrameReader&) = delete;

  // Where the next read should go (never empty: there is always staging space). Ask once next()
  // has returned kNeedMore (or before the first read).
  Buffers read_buffers() noexcept;
  // `n` bytes were read into the buffers read_buffers() last offered (filled in order).
  void commit(std::size_t n) noexcept;
  // The next complete frame into `out` (kFrame), or why there is none.
  Next next(Packet& out) noexcept;
  // Forgets the stream (a new connection): releases a partly read frame's buffer.
  void clear() noexcept;

  std::uint64_t frames() const noexcept { return frames_; }
  std::uint64_t direct_bytes() const noexcept { return direct_bytes_; }
  std::uint64_t copied_bytes() const noexcept { return copied_bytes_; }
  std::size_t max_payload() const noexcept { return max_payload_; }

 private:
  std::size_t staged() const noexcept { return end_ - begin_; }
  // The staged bytes start with a partial frame of `length` payload bytes: give it a large
  // buffer and read the rest straight into it (or skip it when no buffer is free).
  Next start_direct(std::size_t length) noexcept;
  // Moves a partial frame to the front of the staging buffer.
  void compact() noexcept;

  PacketPool& pool_;
  PacketPool* large_pool_;
  std::size_t max_payload_;
  std::size_t small_room_;
  std::size_t lookahead_;
  std::vector<std::uint8_t> staging_;
  std::size_t begin_ = 0;  // first staged byte not cut yet
  std::size_t end_ = 0;    // one past the last staged byte
  Packet direct_;          // a large frame being read straight into its buffer
  std::size_t direct_filled_ = 0;
  std::size_t skip_ = 0;        // payload bytes still to discard (a frame without a buffer)
  bool large_in_read_ = false;  // the last read brought (part of) a large frame
  std::uint64_t frames_ = 0;
  std::uint64_t direct_bytes_ = 0;
  std::uint64_t copied_bytes_ = 0;
};

}  // namespace nextmini::dataplane
