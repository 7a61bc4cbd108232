#pragma once
// WrrScheduler: weighted round robin over flow buckets, by packets: in each round a backlogged
// bucket sends `weight` packets (GSO super-packets count by segments, carrying any excess over
// to its next turn), so flows with weights 1 and 2 get packet shares 1:2. It is deficit round
// robin with packets as the cost and the weight as the quantum. See Scheduler for inputs,
// outputs, knobs and counters. Thread: the link's worker.

#include "nextmini/dataplane/link/drr_scheduler.hpp"

namespace nextmini::dataplane {

class WrrScheduler final : public DrrScheduler {
 public:
  explicit WrrScheduler(const SchedulerConfig& config, std::unique_ptr<DropPolicy> policy = nullptr)
      : DrrScheduler(config, std::move(policy), true) {}
};

}  // namespace nextmini::dataplane
