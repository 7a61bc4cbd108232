#include "nextmini/dataplane/link/drr_scheduler.hpp"

namespace nextmini::dataplane {

DrrScheduler::DrrScheduler(const SchedulerConfig& config, std::unique_ptr<DropPolicy> policy,
                           bool cost_in_packets)
    : Scheduler(config, config.flow_buckets, std::move(policy)),
      cost_in_packets_(cost_in_packets),
      deficit_(queue_.list_count(), 0),
      in_round_(queue_.list_count(), 0),
      active_(queue_.list_count(), 0) {}

std::int64_t DrrScheduler::quantum(std::size_t bucket) const noexcept {
  const std::int64_t weight = weights_[bucket];
  return cost_in_packets_ ? weight : weight * static_cast<std::int64_t>(config_.mtu);
}

std::int64_t DrrScheduler::head_cost(std::size_t bucket) const noexcept {
  return cost_in_packets_ ? queue_.front_segments(bucket) : queue_.front_bytes(bucket);
}

void DrrScheduler::on_activate(std::size_t bucket) noexcept {
  deficit_[bucket] = quantum(bucket);
  if (in_round_[bucket]) return;  // emptied by set_limit() but still has its place
  in_round_[bucket] = 1;
  active_[(active_head_ + active_count_) % active_.size()] = static_cast<std::uint32_t>(bucket);
  ++active_count_;
}

std::size_t DrrScheduler::select() noexcept {
  // Terminates: every pass adds a positive quantum to the front bucket's deficit.
  for (;;) {
    const std::size_t bucket = active_[active_head_];
    if (queue_.empty(bucket)) {
      // Emptied by set_limit(): it leaves the round now.
      in_round_[bucket] = 0;
      deficit_[bucket] = 0;
      active_head_ = (active_head_ + 1) % active_.size();
      --active_count_;
      continue;
    }
    if (deficit_[bucket] >= head_cost(bucket)) return bucket;
    deficit_[bucket] += quantum(bucket);
    if (active_count_ > 1) {
      // Move it to the back of the round (the ring is full of active buckets only).
      active_[(active_head_ + active_count_) % active_.size()] = static_cast<std::uint32_t>(bucket);
      active_head_ = (active_head_ + 1) % active_.size();
    }
  }
}

void DrrScheduler::on_dequeued(std::size_t bucket, std::uint32_t bytes,
                               std::uint32_t segments) noexcept {
  deficit_[bucket] -= cost_in_packets_ ? segments : bytes;
  if (queue_.empty(bucket)) {
    // select() returned the front of the round, so that is where the bucket sits.
    deficit_[bucket] = 0;
    in_round_[bucket] = 0;
    active_head_ = (active_head_ + 1) % active_.size();
    --active_count_;
  }
}

void DrrScheduler::on_trimmed(std::size_t) noexcept {
  // An emptied bucket keeps its place until select() reaches it (removing it from the middle
  // of the round would cost a scan); on_activate() reuses the place if it refills first.
}

void DrrScheduler::on_reset() noexcept {
  for (std::size_t i = 0; i < active_count_; ++i) {
    const std::size_t bucket = active_[(active_head_ + i) % active_.size()];
    deficit_[bucket] = 0;
    in_round_[bucket] = 0;
  }
  active_head_ = 0;
  active_count_ = 0;
}

}  // namespace nextmini::dataplane
