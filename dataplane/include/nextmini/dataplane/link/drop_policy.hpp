#pragma once
// DropPolicy: a link queue's drop policy (tail drop, RED, CoDel) behind one interface. A
// Scheduler consults it for every arrival (on_enqueue, before the limit check) and for every
// packet it takes from the queue (on_dequeue); the policy only answers "drop or not" and keeps
// its own state. The Scheduler does the dropping and counts it as DropReason::kAqmDrop; the
// hard limit (LinkQueue) is counted separately as kLinkQueueFull.
//   Thread: the link's worker, like the Scheduler that owns it. No I/O, no clock reads.

#include <cstdint>

#include "nextmini/dataplane/link/link_time.hpp"

namespace nextmini::dataplane {

// The queue as a policy sees it when a packet arrives or leaves.
struct QueueSnapshot {
  std::uint64_t packets = 0;  // GSO segments count as packets
  std::uint64_t bytes = 0;
};

class DropPolicy {
 public:
  virtual ~DropPolicy() = default;

  // A packet of `bytes` / `segments` arrives at a queue in state `queue` (before it is added).
  // True: drop it.
  virtual bool on_enqueue(const QueueSnapshot& queue, std::uint32_t bytes, std::uint32_t segments,
                          TimeNs now) noexcept = 0;
  // A packet that waited `sojourn` leaves; `queue` is the state after its removal. True: drop it
  // (the scheduler then asks again about the next packet).
  virtual bool on_dequeue(TimeNs sojourn, const QueueSnapshot& queue, TimeNs now) noexcept = 0;
  // The queue just became empty (the last packet left, delivered or dropped).
  virtual void on_empty(TimeNs now) noexcept = 0;
};

}  // namespace nextmini::dataplane
