#pragma once
// FifoScheduler: first in, first out over a single queue (flows are not separated). See
// Scheduler for inputs, outputs, knobs and counters. Thread: the link's worker.

#include "nextmini/dataplane/link/scheduler.hpp"

namespace nextmini::dataplane {

class FifoScheduler final : public Scheduler {
 public:
  explicit FifoScheduler(const SchedulerConfig& config,
                         std::unique_ptr<DropPolicy> policy = nullptr)
      : Scheduler(config, 1, std::move(policy)) {}

 protected:
  void on_activate(std::size_t) noexcept override {}
  std::size_t select() noexcept override { return 0; }
  void on_dequeued(std::size_t, std::uint32_t, std::uint32_t) noexcept override {}
  void on_reset() noexcept override {}
  void on_trimmed(std::size_t) noexcept override {}
};

}  // namespace nextmini::dataplane
