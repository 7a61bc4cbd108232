#include "nextmini/dataplane/link/link_queue.hpp"

#include <algorithm>

#include "nextmini/dataplane/link/packet_segments.hpp"

namespace nextmini::dataplane {

LinkQueue::LinkQueue(QueueLimit limit, std::size_t lists, std::size_t max_entries)
    : limit_(limit), lists_(std::max<std::size_t>(lists, 1)) {
  grow_slab(derive_entries(limit_, max_entries));
}

std::size_t LinkQueue::derive_entries(const QueueLimit& limit, std::size_t max_entries) noexcept {
  if (max_entries != 0) return max_entries;
  std::uint64_t derived = kMaxDerivedEntries;
  if (limit.effective_packets() != 0)
    derived = std::min<std::uint64_t>(derived, limit.effective_packets());
  if (limit.bytes != 0)
    derived = std::min<std::uint64_t>(derived, limit.bytes / kMinPacketBytes + 1);
  return static_cast<std::size_t>(std::max<std::uint64_t>(derived, 1));
}

void LinkQueue::grow_slab(std::size_t entries) {
  const std::size_t old_size = slab_.size();
  if (entries <= old_size) return;
  slab_.resize(entries);
  // Thread the new entries onto the free list, lowest index first.
  for (std::size_t i = entries; i > old_size; --i) {
    slab_[i - 1].next = free_;
    free_ = static_cast<std::uint32_t>(i - 1);
  }
}

void LinkQueue::set_limit(QueueLimit limit, std::size_t max_entries) {
  limit_ = limit;
  grow_slab(derive_entries(limit_, max_entries));
}

bool LinkQueue::fits(std::size_t bytes, std::uint32_t segments) const noexcept {
  const std::uint64_t packet_limit = limit_.effective_packets();
  if (packet_limit != 0 && packets_ + segments > packet_limit) return false;
  if (limit_.bytes != 0 && bytes_ + bytes > limit_.bytes) return false;
  return true;
}

LinkQueue::PushResult LinkQueue::push(std::size_t list, Packet& packet, TimeNs now) noexcept {
  const std::uint32_t segments = packet_segments(packet);
  const std::size_t size = packet.size();
  if (!fits(size, segments)) return PushResult::kOverLimit;
  if (free_ == kNone) return PushResult::kNoEntry;
  const std::uint32_t index = free_;
  Entry& entry = slab_[index];
  free_ = entry.next;
  entry.packet = std::move(packet);
  entry.enqueued = now;
  entry.bytes = static_cast<std::uint32_t>(size);
  entry.segments = segments;
  entry.next = kNone;
  List& l = lists_[list];
  if (l.tail == kNone) {
    l.head = index;
  } else {
    slab_[l.tail].next = index;
  }
  l.tail = index;
  l.packets += segments;
  l.bytes += size;
  packets_ += segments;
  bytes_ += size;
  ++entries_;
  return PushResult::kQueued;
}

Packet LinkQueue::pop(std::size_t list, TimeNs* enqueued) noexcept {
  List& l = lists_[list];
  if (l.head == kNone) return {};
  const std::uint32_t index = l.head;
  Entry& entry = slab_[index];
  l.head = entry.next;
  if (l.head == kNone) l.tail = kNone;
  if (enqueued != nullptr) *enqueued = entry.enqueued;
  l.packets -= entry.segments;
  l.bytes -= entry.bytes;
  packets_ -= entry.segments;
  bytes_ -= entry.bytes;
  --entries_;
  Packet packet = std::move(entry.packet);
  entry.next = free_;
  free_ = index;
  return packet;
}

std::uint32_t LinkQueue::front_bytes(std::size_t list) const noexcept {
  return slab_[lists_[list].head].bytes;
}

std::uint32_t LinkQueue::front_segments(std::size_t list) const noexcept {
  return slab_[lists_[list].head].segments;
}

TimeNs LinkQueue::front_enqueued(std::size_t list) const noexcept {
  return slab_[lists_[list].head].enqueued;
}

}  // namespace nextmini::dataplane
