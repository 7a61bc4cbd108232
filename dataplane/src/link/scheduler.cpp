#include "nextmini/dataplane/link/scheduler.hpp"

#include <algorithm>
#include <utility>

#include "nextmini/dataplane/link/packet_segments.hpp"
#include "nextmini/dataplane/link/tail_drop.hpp"

namespace nextmini::dataplane {

Scheduler::Scheduler(const SchedulerConfig& config, std::size_t buckets,
                     std::unique_ptr<DropPolicy> policy)
    : config_(config),
      queue_(config.limit, std::max<std::size_t>(buckets, 1), config.max_entries),
      weights_(queue_.list_count(), 1),
      policy_(policy ? std::move(policy) : std::make_unique<TailDrop>()) {
  if (config_.mtu == 0) config_.mtu = 1500;
}

void Scheduler::set_policy(std::unique_ptr<DropPolicy> policy) noexcept {
  policy_ = policy ? std::move(policy) : std::make_unique<TailDrop>();
}

std::uint64_t Scheduler::set_limit(QueueLimit limit, std::size_t max_entries) {
  queue_.set_limit(limit, max_entries);
  std::uint64_t dropped = 0;
  while (queue_.over_limit()) {
    std::size_t fattest = 0;
    for (std::size_t bucket = 1; bucket < queue_.list_count(); ++bucket)
      if (queue_.list_bytes(bucket) > queue_.list_bytes(fattest)) fattest = bucket;
    const std::uint32_t segments = queue_.front_segments(fattest);
    queue_.pop(fattest);
    on_trimmed(fattest);
    counters_.drops.add(DropReason::kLinkQueueFull, segments);
    dropped += segments;
  }
  return dropped;
}

void Scheduler::set_flow_weight(std::uint32_t flow_hash, std::uint32_t weight) noexcept {
  weights_[bucket_of(flow_hash)] = weight == 0 ? 1 : weight;
}

void Scheduler::enqueue(Packet&& packet, TimeNs now) noexcept {
  Packet taken = std::move(packet);
  if (!taken.valid()) return;
  const std::uint32_t segments = packet_segments(taken);
  const auto size = static_cast<std::uint32_t>(taken.size());
  if (policy_->on_enqueue(snapshot(), size, segments, now)) {
    counters_.drops.add(DropReason::kAqmDrop, segments);
    return;  // `taken` returns to its pool
  }
  const std::size_t bucket = bucket_of(taken.meta().flow_hash);
  const bool was_empty = queue_.empty(bucket);
  if (queue_.push(bucket, taken, now) != LinkQueue::PushResult::kQueued) {
    counters_.drops.add(DropReason::kLinkQueueFull, segments);
    return;
  }
  counters_.enqueued_packets += segments;
  counters_.enqueued_bytes += size;
  if (was_empty) on_activate(bucket);
}

void Scheduler::enqueue(PacketBatch& batch, TimeNs now) noexcept {
  for (Packet& packet : batch) enqueue(std::move(packet), now);
  batch.clear();
}

Packet Scheduler::dequeue(TimeNs now) noexcept {
  while (!queue_.empty()) {
    const std::size_t bucket = select();
    const std::uint32_t bytes = queue_.front_bytes(bucket);
    const std::uint32_t segments = queue_.front_segments(bucket);
    TimeNs enqueued = 0;
    Packet packet = queue_.pop(bucket, &enqueued);
    on_dequeued(bucket, bytes, segments);
    const TimeNs sojourn = now > enqueued ? now - enqueued : 0;
    const bool drop = policy_->on_dequeue(sojourn, snapshot(), now);
    if (queue_.empty()) policy_->on_empty(now);
    if (drop) {
      counters_.drops.add(DropReason::kAqmDrop, segments);
      continue;  // `packet` returns to its pool
    }
    counters_.dequeued_packets += segments;
    counters_.dequeued_bytes += bytes;
    return packet;
  }
  return {};
}

void Scheduler::drop_all(DropReason reason) noexcept {
  for (std::size_t bucket = 0; bucket < queue_.list_count(); ++bucket) {
    while (!queue_.empty(bucket)) {
      const std::uint32_t segments = queue_.front_segments(bucket);
      queue_.pop(bucket);
      counters_.drops.add(reason, segments);
    }
  }
  on_reset();
}

}  // namespace nextmini::dataplane
