#include "nextmini/dataplane/transport/link_frame_reader.hpp"

#include <algorithm>
#include <cstring>

#include "nextmini/dataplane/transport/link_frame.hpp"

namespace nextmini::dataplane {
namespace {

std::size_t room_of(const PacketPool& pool) noexcept {
  return pool.buffer_size() - pool.headroom();
}

}  // namespace

LinkFrameReader::LinkFrameReader(PacketPool& pool, PacketPool* large_pool, std::size_t max_payload,
                                 std::size_t staging_size, std::size_t lookahead)
    : pool_(pool),
      large_pool_(large_pool),
      max_payload_(std::min(max_payload, large_pool != nullptr
                                             ? std::max(room_of(*large_pool), room_of(pool))
                                             : room_of(pool))),
      small_room_(room_of(pool)),
      lookahead_(std::max<std::size_t>(lookahead, 1)),
      // After compact() at most a partial small frame is staged; the rest is read space.
      staging_(std::max(staging_size, kLinkFramePrefix + small_room_ + lookahead_)) {}

LinkFrameReader::Buffers LinkFrameReader::read_buffers() noexcept {
  Buffers buffers;
  if (direct_.valid())
    buffers.spans[buffers.count++] = {direct_.data() + direct_filled_,
                                      direct_.size() - direct_filled_};
  std::size_t space = staging_.size() - end_;
  if (direct_.valid() || large_in_read_) space = std::min(space, skip_ + lookahead_);
  buffers.spans[buffers.count++] = {staging_.data() + end_, space};
  return buffers;
}

void LinkFrameReader::commit(std::size_t n) noexcept {
  if (direct_.valid()) {
    const std::size_t into_direct = std::min(n, direct_.size() - direct_filled_);
    direct_filled_ += into_direct;
    direct_bytes_ += into_direct;
    n -= into_direct;
  }
  end_ = std::min(end_ + n, staging_.size());
  large_in_read_ = false;  // next() tells again for this read's frames
}

LinkFrameReader::Next LinkFrameReader::next(Packet& out) noexcept {
  if (direct_.valid()) {
    // While a frame is read straight into its buffer nothing is staged behind it.
    if (direct_filled_ < direct_.size()) return Next::kNeedMore;
    out = std::move(direct_);
    direct_filled_ = 0;
    large_in_read_ = true;
    ++frames_;
    return Next::kFrame;
  }
  if (skip_ > 0) {
    const std::size_t skipped = std::min(skip_, staged());
    begin_ += skipped;
    skip_ -= skipped;
    if (skip_ > 0) {
      begin_ = end_ = 0;
      return Next::kNeedMore;
    }
  }
  const LinkFrameCut cut = cut_link_frame(
      std::span<const std::uint8_t>(staging_.data() + begin_, staged()), max_payload_);
  if (cut.status == LinkFrameCut::Status::kBad) return Next::kBad;
  if (cut.status == LinkFrameCut::Status::kNeedMore) {
    if (cut.length > small_room_) return start_direct(cut.length);
    compact();
    return Next::kNeedMore;
  }
  begin_ += cut.consumed;
  const bool large = cut.length > small_room_;
  large_in_read_ = large_in_read_ || large;
  Packet packet = large ? large_pool_->acquire() : pool_.acquire();
  if (!packet.valid()) return Next::kNoBuffer;
  packet.resize(cut.length);
  std::memcpy(packet.data(), cut.payload.data(), cut.length);
  copied_bytes_ += cut.length;
  ++frames_;
  out = std::move(packet);
  return Next::kFrame;
}

LinkFrameReader::Next LinkFrameReader::start_direct(std::size_t length) noexcept {
  // length <= max_payload_ and > small_room_: only possible with a large pool.
  const std::uint8_t* staged_payload = staging_.data() + begin_ + kLinkFramePrefix;
  const std::size_t have = staged() - kLinkFramePrefix;  // < length
  large_in_read_ = true;
  begin_ = end_ = 0;
  Packet packet = large_pool_->acquire();
  if (!packet.valid()) {
    skip_ = length - have;
    return Next::kNoBuffer;
  }
  packet.resize(length);
  std::memcpy(packet.data(), staged_payload, have);
  copied_bytes_ += have;
  direct_filled_ = have;
  direct_ = std::move(packet);
  return Next::kNeedMore;
}

void LinkFrameReader::compact() noexcept {
  const std::size_t rest = staged();
  if (rest > 0 && begin_ > 0) std::memmove(staging_.data(), staging_.data() + begin_, rest);
  begin_ = 0;
  end_ = rest;
}

void LinkFrameReader::clear() noexcept {
  direct_.reset();
  direct_filled_ = 0;
  skip_ = 0;
  begin_ = end_ = 0;
  large_in_read_ = false;
}

}  // namespace nextmini::dataplane
