#pragma once
// CoDel: Controlled Delay (RFC 8289) as a drop policy, dropping at dequeue. A packet's sojourn
// time is now minus its enqueue time. When the sojourn time has stayed at or above `target` for
// at least `interval` (and more than one MTU is queued), CoDel enters the dropping state: it
// drops a packet, then the next one interval / sqrt(count) later, and so on, until a packet
// leaves with a sojourn time below target (or the queue empties). On re-entering the dropping
// state soon after leaving it (within 16 intervals of the last scheduled drop), count restarts
// from its last increase (count - lastcount) instead of 1, as RFC 8289 §5.6 specifies.
//   Knobs (CodelConfig): target (5 ms), interval (100 ms), mtu (1500 bytes: the "maxpacket"
//   below which the queue is never considered standing).
//   Counters: drops(), count(), dropping().
//   Thread: the link's worker.

#include <cstdint>

#include "nextmini/dataplane/link/drop_policy.hpp"

namespace nextmini::dataplane {

struct CodelConfig {
  TimeNs target = 5'000'000;
  TimeNs interval = 100'000'000;
  std::uint32_t mtu = 1500;
};

class Codel final : public DropPolicy {
 public:
  explicit Codel(const CodelConfig& config = {}) noexcept : config_(config) {}

  bool on_enqueue(const QueueSnapshot&, std::uint32_t, std::uint32_t, TimeNs) noexcept override {
    return false;
  }
  bool on_dequeue(TimeNs sojourn, const QueueSnapshot& queue, TimeNs now) noexcept override;
  void on_empty(TimeNs now) noexcept override;

  bool dropping() const noexcept { return dropping_; }
  std::uint32_t count() const noexcept { return count_; }
  TimeNs drop_next() const noexcept { return drop_next_; }
  std::uint64_t drops() const noexcept { return drops_; }

  // RFC 8289's control law: t + interval / sqrt(count).
  TimeNs control_law(TimeNs t, std::uint32_t count) const noexcept;

 private:
  // The RFC's dodequeue() decision for one packet: may this packet be dropped?
  bool ok_to_drop(TimeNs sojourn, const QueueSnapshot& queue, TimeNs now) noexcept;

  CodelConfig config_;
  TimeNs first_above_time_ = 0;
  TimeNs drop_next_ = 0;
  std::uint32_t count_ = 0;
  std::uint32_t lastcount_ = 0;
  bool dropping_ = false;
  // The RFC evaluates the packet after a drop together with it; we see it on the next call.
  bool after_entry_drop_ = false;  // next packet: delivered, state only updated
  bool after_drop_ = false;        // next packet: reschedule drop_next if still ok to drop
  std::uint64_t drops_ = 0;
};

}  // namespace nextmini::dataplane
