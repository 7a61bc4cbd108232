#pragma once
// TailDrop: the plain policy. It never drops by itself; arrivals beyond the queue limit are
// dropped by the limit (DropReason::kLinkQueueFull). No knobs, no state, no counters.
//   Thread: the link's worker.

#include "nextmini/dataplane/link/drop_policy.hpp"

namespace nextmini::dataplane {

class TailDrop final : public DropPolicy {
 public:
  bool on_enqueue(const QueueSnapshot&, std::uint32_t, std::uint32_t, TimeNs) noexcept override {
    return false;
  }
  bool on_dequeue(TimeNs, const QueueSnapshot&, TimeNs) noexcept override { return false; }
  void on_empty(TimeNs) noexcept override {}
};

}  // namespace nextmini::dataplane
