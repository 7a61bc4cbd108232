#pragma once
// DrrScheduler: deficit round robin (Shreedhar & Varghese 1995) over flow buckets. Active
// buckets take turns; a bucket joining the round gets one quantum of credit, sends head packets
// while its credit covers them, and otherwise gets another quantum and goes to the back. The
// quantum is mtu * weight bytes, so over time each backlogged flow gets a byte share
// proportional to its weight whatever its packet sizes. See Scheduler for inputs, outputs,
// knobs and counters. Thread: the link's worker.
// WrrScheduler reuses this with packets (GSO segments) as the cost and a quantum of weight.

#include <cstdint>
#include <vector>

#include "nextmini/dataplane/link/scheduler.hpp"

namespace nextmini::dataplane {

class DrrScheduler : public Scheduler {
 public:
  explicit DrrScheduler(const SchedulerConfig& config, std::unique_ptr<DropPolicy> policy = nullptr)
      : DrrScheduler(config, std::move(policy), false) {}

  // Buckets currently in the round (including any set_limit() emptied, until their turn).
  std::size_t active_buckets() const noexcept { return active_count_; }

 protected:
  DrrScheduler(const SchedulerConfig& config, std::unique_ptr<DropPolicy> policy,
               bool cost_in_packets);

  void on_activate(std::size_t bucket) noexcept override;
  std::size_t select() noexcept override;
  void on_dequeued(std::size_t bucket, std::uint32_t bytes,
                   std::uint32_t segments) noexcept override;
  void on_reset() noexcept override;
  void on_trimmed(std::size_t bucket) noexcept override;

 private:
  std::int64_t quantum(std::size_t bucket) const noexcept;
  std::int64_t head_cost(std::size_t bucket) const noexcept;

  bool cost_in_packets_;
  std::vector<std::int64_t> deficit_;
  std::vector<std::uint8_t> in_round_;  // 1 while the bucket has a place in active_
  // The round: a ring of active bucket indices (each bucket at most once).
  std::vector<std::uint32_t> active_;
  std::size_t active_head_ = 0;
  std::size_t active_count_ = 0;
};

}  // namespace nextmini::dataplane
