#pragma once
// Scheduler: the queueing stage of a directed link. It owns the link's LinkQueue (one FIFO
// sub-queue per flow bucket, all under one packet or byte limit) and its DropPolicy, and decides
// which packet leaves next. Subclasses pick the order: FifoScheduler (one bucket, arrival
// order), DrrScheduler (deficit round robin over flows, by bytes), WrrScheduler (weighted round
// robin over flows, by packets).
//   Inputs: enqueue(packet or batch, now): the packet is queued, or dropped and counted —
//   DropReason::kAqmDrop when the policy refuses it, kLinkQueueFull over the limit.
//   Outputs: dequeue(now): the next packet to transmit, or an invalid Packet when empty; packets
//   the policy drops at dequeue (CoDel) are counted as kAqmDrop and skipped.
//   Knobs: SchedulerConfig {limit, flow_buckets (default 1024; a flow goes to bucket
//   flow_hash % flow_buckets), mtu (DRR quantum = mtu * weight), max_entries}; per-flow weights
//   (set_flow_weight, default 1; flows sharing a bucket share its weight); set_limit and
//   set_policy at run time, keeping queued packets (but what a lower limit cannot hold).
//   Counters: counters(): enqueued/dequeued packets (GSO segments) and bytes, drops by reason
//   (in segments).
//   Thread: the link's worker. No I/O, no clock reads, no allocation per packet.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/link/drop_policy.hpp"
#include "nextmini/dataplane/link/link_queue.hpp"
#include "nextmini/dataplane/link/link_time.hpp"

namespace nextmini::dataplane {

struct SchedulerConfig {
  static constexpr std::size_t kDefaultFlowBuckets = 1024;
  QueueLimit limit;
  std::size_t flow_buckets = kDefaultFlowBuckets;  // FifoScheduler always uses one
  std::uint32_t mtu = 1500;                        // DRR quantum unit
  std::size_t max_entries = 0;                     // slab size; 0 = derived from the limit
};

struct SchedulerCounters {
  std::uint64_t enqueued_packets = 0;  // segments
  std::uint64_t enqueued_bytes = 0;
  std::uint64_t dequeued_packets = 0;  // segments
  std::uint64_t dequeued_bytes = 0;
  DropCounters drops;  // in segments
};

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues the packet or drops it (counted). The argument is always consumed.
  void enqueue(Packet&& packet, TimeNs now) noexcept;
  // Enqueues every packet of the batch; the batch is left empty.
  void enqueue(PacketBatch& batch, TimeNs now) noexcept;
  // The next packet to send, or an invalid Packet when the queue is empty.
  Packet dequeue(TimeNs now) noexcept;
  // Drops every queued packet, counted under `reason` (e.g. kLinkDown when the link goes down).
  void drop_all(DropReason reason) noexcept;

  // Weight of the flow bucket `flow_hash` maps to (0 is taken as 1). Control path.
  void set_flow_weight(std::uint32_t flow_hash, std::uint32_t weight) noexcept;
  std::uint32_t flow_weight(std::uint32_t flow_hash) const noexcept {
    return weights_[bucket_of(flow_hash)];
  }
  // Control path: a new limit. What the lower limit cannot hold is dropped (counted as
  // kLinkQueueFull), oldest first from the flow bucket holding the most bytes; everything else
  // stays queued. Returns the segments dropped.
  std::uint64_t set_limit(QueueLimit limit, std::size_t max_entries = 0);
  // Control path: a new policy (starting from a fresh state); queued packets stay.
  void set_policy(std::unique_ptr<DropPolicy> policy) noexcept;

  std::size_t bucket_of(std::uint32_t flow_hash) const noexcept {
    return flow_hash % queue_.list_count();
  }
  bool empty() const noexcept { return queue_.empty(); }
  std::uint64_t packets() const noexcept { return queue_.packets(); }
  std::uint64_t bytes() const noexcept { return queue_.bytes(); }
  const LinkQueue& queue() const noexcept { return queue_; }
  DropPolicy& policy() noexcept { return *policy_; }
  const SchedulerCounters& counters() const noexcept { return counters_; }

 protected:
  // `policy` null means TailDrop.
  Scheduler(const SchedulerConfig& config, std::size_t buckets, std::unique_ptr<DropPolicy> policy);

  // Bucket `bucket` just went from empty to non-empty.
  virtual void on_activate(std::size_t bucket) noexcept = 0;
  // A non-empty bucket whose head packet leaves next (called only when the queue is non-empty).
  virtual std::size_t select() noexcept = 0;
  // The head of `bucket` (as chosen by select()) was removed; it may now be empty.
  virtual void on_dequeued(std::size_t bucket, std::uint32_t bytes,
                           std::uint32_t segments) noexcept = 0;
  // Every bucket was emptied by drop_all().
  virtual void on_reset() noexcept = 0;
  // set_limit() dropped the head of `bucket` (not necessarily the one select() would pick); it
  // may now be empty.
  virtual void on_trimmed(std::size_t bucket) noexcept = 0;

  QueueSnapshot snapshot() const noexcept { return {queue_.packets(), queue_.bytes()}; }

  SchedulerConfig config_;
  LinkQueue queue_;
  std::vector<std::uint32_t> weights_;
  std::unique_ptr<DropPolicy> policy_;
  SchedulerCounters counters_;
};

}  // namespace nextmini::dataplane
