#pragma once
// LinkPipeline: every emulation stage of one directed link, composed in order:
//   enqueue -> [MTU check, up/down] -> Scheduler (queue limit, drop policy, FIFO/DRR/WRR)
//   poll    -> shaper (token bucket or Mahimahi trace) -> loss (Bernoulli or Gilbert-Elliott)
//           -> duplicate -> corrupt -> DelayLine (delay, jitter, reorder) -> out
// Pure: no I/O, no timers, no clock reads; the caller passes `now` (monotonic ns) and arms one
// timer at next_wakeup(now).
//   Inputs: enqueue(batch, now, output_ready) takes every packet: too big for the MTU ->
//   dropped kTooBig; link down -> dropped kLinkDown; otherwise into the scheduler (which may drop
//   per its limit and policy). A packet whose PacketMeta carries a flow_weight (from the overlay
//   header) sets its flow's scheduler weight (overriding set_flow_weight for that flow's bucket).
//   As each packet is queued, what the shaper allows now goes on at once (through the scheduler,
//   shaper and impairments into the delay line, or ready for poll() when no delay is set), as a
//   real link starts sending the first packet of a burst at once: so a batch larger than the
//   queue (a TUN read of 64 super-packets is ~2,900 segments) loses only what exceeds the
//   bucket's tokens, the one packet waiting for the shaper and the queue's limit, and a delay
//   still delays. Not when `output_ready` is false (the caller's output is busy; EmulatedLink:
//   its transport has no room): then the packets wait in the queue, as on a real link whose wire
//   is busy — except on a link that can hold nothing back (no rate, trace or delay), whose queue
//   would never hold them. The batch is left empty.
//   Outputs: poll(now, out) moves what the shaper allows from the scheduler through the
//   impairments into the delay line (while the delay line has room: it back-pressures, never
//   drops), then appends to `out` what is due, until `out` is full (call again when it is).
//   Knobs (LinkPipelineConfig, or a messages::LinkParams through apply() at run time — every
//   field, including ge_*_percent (Gilbert-Elliott) and trace (Mahimahi text, parsed there,
//   restarting the trace); only the fields that are set change, queued packets stay — except what a
//   lower limit cannot hold, and a link going down drops everything it holds, counted kLinkDown):
//   rate/burst or trace, delay/jitter/distribution/reorder, loss (Bernoulli %, or Gilbert-Elliott),
//   duplicate %, corrupt %, queue limit/drop policy/scheduler/flow weights, mtu (0 = no check;
//   a GSO super-packet is checked by its largest segment, headers included), up. Super-packets
//   (PacketMeta GSO fields; the IP packet starts PacketMeta::l3_offset bytes in, behind the
//   overlay header) are cut into segments at enqueue (software GSO, core/gso.hpp, into `pool`;
//   counted in `segmented`) when loss, duplicate or corrupt is set or their segments do not fit
//   the MTU, so those stages act per wire packet (and each segment over the MTU is dropped
//   kTooBig, as a plain packet would be); otherwise they pass whole, also across an MTU their
//   segments fit (they leave a real link as those segments anyway). A rate of 0 means unlimited;
//   the shaper charges the IP bytes a packet puts on the wire (a super-packet: its segments with
//   their headers, wire_size(); never the overlay header in front), so `rate` is the rate of the IP
//   packets a real link of that rate would carry. With nothing set the pipeline is a pass-through:
//   poll releases everything at once. The packet next in line for the shaper is taken out of the
//   scheduler (by enqueue, poll or next_wakeup) and held until the shaper lets it go;
//   queued_packets() includes it. Random decisions are per packet (a GSO super-packet is lost,
//   duplicated or corrupted as a whole); counters count its segments. Counters: counters(): drops
//   by reason (the pipeline's own plus the scheduler's), random losses, duplicates, corruptions,
//   packets (segments) and bytes out. Thread: the link's worker; not thread-safe. apply() allocates
//   (control path); enqueue and poll do not.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/bernoulli_loss.hpp"
#include "nextmini/dataplane/link/corruptor.hpp"
#include "nextmini/dataplane/link/delay_line.hpp"
#include "nextmini/dataplane/link/duplicator.hpp"
#include "nextmini/dataplane/link/gilbert_elliott_loss.hpp"
#include "nextmini/dataplane/link/link_queue_config.hpp"
#include "nextmini/dataplane/link/link_time.hpp"
#include "nextmini/dataplane/link/scheduler.hpp"
#include "nextmini/dataplane/link/token_bucket_shaper.hpp"
#include "nextmini/dataplane/link/trace_shaper.hpp"
#include "nextmini/messages/mahimahi_trace.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct LinkPipelineConfig {
  static constexpr std::size_t kDefaultDelayCapacity = 16'384;

  std::uint64_t rate_bps = 0;                           // 0 = unlimited
  std::uint64_t burst_bytes = 0;                        // 0 = the shaper's default; needs a rate
  std::optional<messages::MahimahiTrace> trace;         // when set, replaces rate/burst
  DelayParams delay;                                    // delay, jitter, distribution, reorder
  double loss_percent = 0.0;                            // Bernoulli, [0, 100]
  std::optional<GilbertElliottParams> gilbert_elliott;  // when set, replaces loss_percent
  double duplicate_percent = 0.0;                       // [0, 100]
  double corrupt_percent = 0.0;                         // [0, 100]
  LinkQueueConfig queue;                                // scheduler, drop policy, limit, weights
  std::uint32_t mtu = 0;                                // 0 = no MTU check
  bool up = true;
  std::size_t delay_capacity = kDefaultDelayCapacity;  // packets the delay line can hold
};

// Ok, or an error naming the first bad key and its value: "link_params.invalid" for a rule of
// messages/link_params_rules.hpp (checked on the LinkParams the config stands for — one rule,
// one place), "config.invalid" for the pipeline's own knobs (delay_capacity, RED, CoDel, flow
// buckets and weights).
Result<void> validate(const LinkPipelineConfig& config);
// `base` with the set fields of `params` applied (messages::merge_link_params semantics, except
// that a rate or burst replaces a running trace), validated; `base` is not changed.
Result<LinkPipelineConfig> merge_link_params(const LinkPipelineConfig& base,
                                             const messages::LinkParams& params);

struct LinkPipelineCounters {
  DropCounters drops;             // in segments: kTooBig, kLinkDown, and the scheduler's
  std::uint64_t lost = 0;         // segments dropped by the loss model
  std::uint64_t duplicated = 0;   // copies made
  std::uint64_t corrupted = 0;    // packets with a flipped bit
  std::uint64_t packets_out = 0;  // segments released into `out`
  std::uint64_t bytes_out = 0;
  std::uint64_t segmented = 0;  // super-packets cut into segments before a per-packet stage
};

class LinkPipeline {
 public:
  // `pool` provides the duplicates' buffers and must outlive the pipeline. The config must be
  // valid (see validate()); an invalid one throws std::invalid_argument.
  LinkPipeline(LinkPipelineConfig config, PacketPool& pool, std::uint64_t seed, TimeNs now = 0);
  // The same, but an invalid config is an error (see validate()) instead of an exception.
  static Result<std::unique_ptr<LinkPipeline>> create(LinkPipelineConfig config, PacketPool& pool,
                                                      std::uint64_t seed, TimeNs now = 0);
  LinkPipeline(const LinkPipeline&) = delete;
  LinkPipeline& operator=(const LinkPipeline&) = delete;

  // `output_ready`: the caller's output takes packets now (see "Inputs" above).
  void enqueue(PacketBatch& batch, TimeNs now, bool output_ready = true) noexcept;
  // Returns how many packets were appended to `out`.
  std::size_t poll(TimeNs now, PacketBatch& out) noexcept;
  // The earliest time poll() can make progress: `now` when something is ready, kNever when
  // the pipeline is empty.
  TimeNs next_wakeup(TimeNs now) noexcept;

  // Drops every packet the pipeline holds, counted under `reason` (e.g. the node stopping).
  void drop_all(DropReason reason) noexcept { drop_everything(reason); }
  // Applies the set fields of `params`. On error nothing changes.
  Result<void> apply(const messages::LinkParams& params, TimeNs now);
  // Weight of a flow for DRR/WRR (0 is taken as 1); kept across a scheduler change.
  void set_flow_weight(std::uint32_t flow_hash, std::uint32_t weight);
  // The weight the scheduler uses for `flow_hash` now (1 unless set).
  std::uint32_t flow_weight(std::uint32_t flow_hash) const noexcept {
    return scheduler_->flow_weight(flow_hash);
  }

  const LinkPipelineConfig& config() const noexcept { return config_; }
  // Counters including the scheduler's drops.
  LinkPipelineCounters counters() const noexcept;
  // Segments waiting in the scheduler plus packets in the delay line (or held by the shaper).
  std::uint64_t queued_packets() const noexcept;
  bool up() const noexcept { return config_.up; }

 private:
  // True when a stage acts per wire packet (loss, duplicate, corrupt).
  bool acts_per_packet() const noexcept;
  // True when `packet` must be cut (or its checksum completed) before it is admitted.
  bool must_go_plain(const Packet& packet) const noexcept;
  // The MTU and up checks, then the scheduler.
  void admit(Packet&& packet, TimeNs now) noexcept;
  // Makes `packet` the head waiting for the shaper, with its segments and wire bytes.
  void take_head(Packet&& packet) noexcept;
  bool shaper_ready(std::uint64_t bytes, TimeNs now) noexcept;
  TimeNs shaper_next(std::uint64_t bytes, TimeNs now) noexcept;
  void shaper_consume(std::uint64_t bytes, std::uint32_t segments, TimeNs now,
                      bool more_waiting) noexcept;
  bool lose() noexcept;
  // Moves what the shaper allows through the impairments into the delay line (or, with no
  // delay set and the delay line empty, straight into `out` while it has room).
  void transmit(TimeNs now, PacketBatch& out) noexcept;
  // True when nothing can hold a packet back (no rate, trace or delay): enqueue() transmits
  // each packet into ready_ (then the delay line) at once even when the output is busy.
  bool passes_at_once() const noexcept;
  void drop_everything(DropReason reason) noexcept;
  void add_scheduler_drops(DropCounters& into, const Scheduler& scheduler) const noexcept;

  LinkPipelineConfig config_;
  PacketPool& pool_;
  std::unique_ptr<Scheduler> scheduler_;
  DropCounters retired_scheduler_drops_;  // drops of schedulers replaced by apply()
  TokenBucketShaper bucket_;
  std::optional<TraceShaper> trace_shaper_;
  BernoulliLoss bernoulli_;
  GilbertElliottLoss gilbert_;
  Duplicator duplicator_;
  Corruptor corruptor_;
  DelayLine delay_line_;
  PacketBatch ready_;  // transmitted at enqueue with no delay, handed out first by poll()
  Packet head_;        // taken from the scheduler, waiting for the shaper
  std::uint32_t head_segments_ = 0;
  std::uint64_t head_bytes_ = 0;  // the IP bytes its segments put on the wire (wire_size())
  LinkPipelineCounters counters_;
};

}  // namespace nextmini::dataplane
