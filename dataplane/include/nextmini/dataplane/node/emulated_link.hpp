#pragma once
// EmulatedLink: the output of one directed link (this node -> a neighbour) on the node's data
// path, between the Processor and the neighbour's transport (DESIGN.md §2, "Links"):
//   Processor --send(batch)--> EmulatedLink --[LinkPipeline, timer]--> transport (TcpLink)
//   Emulation off (no knob was ever set): send() hands the batch straight to the transport —
//   no pipeline, no timer, no clock read; one branch per batch.
//   Emulation on (the first apply() with a knob creates the LinkPipeline): send() enqueues the
//   batch into the pipeline at `now` (which lets what the shaper allows go on at once while the
//   transport has room, so a batch larger than the queue is not dropped in part before the
//   shaper sends anything) and pumps: poll() everything due into the transport, then arm the
//   timer at next_wakeup(now). The timer's handler pumps again. Every wake-up polls
//   everything due, so a late wake-up never loses time (the delay line releases by due time and
//   the shaper's bucket kept earning).
//   The pipeline shapes the IP packets on the wire: the overlay header in front (the Processor
//   sets PacketMeta::l3_offset) is not counted against `rate`, and a GSO super-packet is charged
//   for every segment's headers (wire_size()), so iperf3 sees the rate a real link gives.
//   Timer: one asio steady_timer per link, armed at the pipeline's exact next wake-up (relative
//   to the injected clock), re-armed only when the new wake-up is earlier than the armed one —
//   no fixed tick. One timer per link rather than one per node: asio already keeps its timers
//   in a heap, so per-link timers need no second scheduler of ours, and a link's wake-ups do
//   not depend on any other link's.
//   Back-pressure: the transport is a BoundedSink. Before each poll the link checks that the
//   transport has room for a whole batch (PacketBatch::kMaxBatch); if not, the packets stay in
//   the pipeline (its queue limit and drop policy decide what it holds, as on a real link whose
//   wire is busy) and the link waits for the transport's room handler, which pumps again. A
//   disconnected transport reports unlimited room and drops what it gets as link_down (a link
//   that is down loses what is sent on it).
//   Run-time changes: apply(params) changes the pipeline in place (LinkPipeline::apply: queued
//   packets stay, except what new limits cannot hold or a link going down); an invalid params
//   changes nothing and is returned as an error. set_transport() swaps the transport (a
//   TcpLink replaced by a new AddNode) and keeps the pipeline: the pipeline belongs to the
//   directed link, not to a connection.
//   Counters: pipeline() (drops by reason, lost, duplicated, corrupted, queued packets) and
//   drops() for packets that had no transport (link_down). admin_up(): false once `up = false`.
//   Thread: the node's io_context thread; not thread-safe. close() before destroying, and
//   destroy only after the io_context ran the cancelled timer handler.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/link/link_pipeline.hpp"
#include "nextmini/dataplane/link/link_time.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

class EmulatedLink final : public PacketSink {
 public:
  using Clock = std::function<TimeNs()>;

  // `pool` (for the pipeline's duplicates) must outlive the link. `seed` makes the random
  // impairments reproducible. `clock` defaults to monotonic_now_ns (the steady_timer's clock).
  EmulatedLink(boost::asio::io_context& io, PacketPool& pool, std::uint64_t seed,
               Clock clock = monotonic_now_ns);
  EmulatedLink(const EmulatedLink&) = delete;
  EmulatedLink& operator=(const EmulatedLink&) = delete;
  ~EmulatedLink() override;

  // Where packets leave (nullptr: none; they are dropped as link_down). Moves the room handler
  // from the previous transport to this one. A transport must outlive its attachment.
  void set_transport(BoundedSink* transport);
  BoundedSink* transport() const noexcept { return transport_; }

  void send(PacketBatch& batch) override;

  // Applies the set knobs of `params` (creating the pipeline for the first knob). On error
  // ("config.invalid" naming the key and value) nothing changes.
  Result<void> apply(const messages::LinkParams& params);

  // Stops the timer and releases every queued packet (counted as link_down); the counters stay.
  // Later sends go straight to the transport (the node is stopping). Idempotent.
  void close();

  bool emulated() const noexcept { return pipeline_ != nullptr; }
  bool admin_up() const noexcept { return pipeline_ == nullptr || pipeline_->up(); }
  // The pipeline (counters, config), or nullptr while emulation is off.
  const LinkPipeline* pipeline() const noexcept { return pipeline_.get(); }
  // Packets dropped here because there was no transport.
  const DropCounters& drops() const noexcept { return drops_; }
  // Timer wake-ups that ran (for tests and benchmarks).
  std::uint64_t wakeups() const noexcept { return wakeups_; }

 private:
  // False while the transport cannot take a whole batch (then packets wait in the pipeline).
  bool transport_has_room() const noexcept;
  void pump(TimeNs now);
  void arm(TimeNs wake, TimeNs now);
  void forward(PacketBatch& batch);

  PacketPool& pool_;
  std::uint64_t seed_;
  Clock clock_;
  BoundedSink* transport_ = nullptr;
  std::unique_ptr<LinkPipeline> pipeline_;
  boost::asio::steady_timer timer_;
  TimeNs armed_for_ = kNever;     // the wake-up the timer waits for, kNever when idle
  std::uint64_t generation_ = 0;  // a handler of an older arm() is ignored
  bool waiting_for_room_ = false;
  bool closed_ = false;
  PacketBatch out_;
  DropCounters drops_;
  std::uint64_t wakeups_ = 0;
};

}  // namespace nextmini::dataplane
