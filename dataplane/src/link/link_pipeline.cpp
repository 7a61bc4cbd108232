#include "nextmini/dataplane/link/link_pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/link/packet_segments.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::dataplane {
namespace {

Failure invalid(std::string_view key, const std::string& value, std::string_view why) {
  return fail("config.invalid", std::string(key) + ": " + value + " " + std::string(why));
}

// Seeds for the stages, all different, all derived from the pipeline's seed.
std::uint64_t stage_seed(std::uint64_t seed, std::uint64_t stage) noexcept {
  return seed * 0x9E3779B97F4A7C15ULL + stage * 0xBF58476D1CE4E5B9ULL + 1;
}

// The MTU counts the IP packets on the wire, not the framing in front of them (PacketMeta::
// l3_offset); a GSO super-packet leaves as its segments, so its largest segment must fit.
bool too_big(const Packet& packet, std::uint32_t mtu) noexcept {
  return mtu != 0 && wire_size(packet).largest > mtu;
}

std::string_view distribution_name(JitterDistribution distribution) noexcept {
  return distribution == JitterDistribution::kNormal ? "normal" : "uniform";
}

// The LinkParams a config stands for, so the rules of messages/link_params_rules apply to
// configs and to updates alike. A parsed trace has no text and is left out (see check()).
messages::LinkParams link_params_of(const LinkPipelineConfig& config) {
  messages::LinkParams p;
  if (config.rate_bps != 0) p.rate_bps = config.rate_bps;
  if (config.burst_bytes != 0) p.burst_bytes = config.burst_bytes;
  if (config.delay.delay_ns != 0) p.delay_ns = config.delay.delay_ns;
  if (config.delay.jitter_ns != 0) p.jitter_ns = config.delay.jitter_ns;
  p.jitter_distribution = std::string(distribution_name(config.delay.distribution));
  p.reorder = config.delay.reorder;
  p.loss_percent = config.loss_percent;
  if (config.gilbert_elliott) {
    const GilbertElliottParams& ge = *config.gilbert_elliott;
    p.ge_p_percent = ge.p * 100;
    p.ge_r_percent = ge.r * 100;
    p.ge_one_minus_h_percent = ge.one_minus_h * 100;
    p.ge_one_minus_k_percent = ge.one_minus_k * 100;
  }
  p.duplicate_percent = config.duplicate_percent;
  p.corrupt_percent = config.corrupt_percent;
  if (config.queue.queue.limit.packets != 0) p.queue_packets = config.queue.queue.limit.packets;
  if (config.queue.queue.limit.bytes != 0) p.queue_bytes = config.queue.queue.limit.bytes;
  p.drop_policy = std::string(drop_policy_kind_name(config.queue.policy));
  p.scheduler = std::string(scheduler_kind_name(config.queue.scheduler));
  if (config.mtu != 0) p.mtu = config.mtu;
  p.up = config.up;
  return p;
}

// Checks what the rules in messages/ do not know: the pipeline's own sizes and the queue's
// knobs (RED, CoDel, buckets, weights).
Result<void> validate_pipeline_only(const LinkPipelineConfig& config) {
  if (config.delay_capacity == 0) return invalid("delay_capacity", "0", "must be positive");
  return validate(config.queue);
}

// `params` checked by the LinkParams rules. `parsed_trace`: the link runs a trace that parsed
// before (its text is not kept), which the rule "a burst needs a rate" must see as a rate.
Result<void> check(messages::LinkParams params, bool parsed_trace) {
  if (parsed_trace && params.burst_bytes && params.rate_bps.value_or(0) == 0) params.rate_bps = 1;
  return messages::check_link_params(params);
}

}  // namespace

Result<void> validate(const LinkPipelineConfig& config) {
  if (auto valid = check(link_params_of(config), config.trace.has_value()); !valid)
    return Failure{valid.error()};
  return validate_pipeline_only(config);
}

Result<LinkPipelineConfig> merge_link_params(const LinkPipelineConfig& base,
                                             const messages::LinkParams& params) {
  // The rules judge the link's parameters after the update (one place: messages/).
  // A rate or burst update replaces a running trace; a new trace's text is checked by the rules.
  const bool parsed_trace = base.trace && !params.rate_bps && !params.burst_bytes && !params.trace;
  messages::LinkParams merged = link_params_of(base);
  messages::merge_link_params(merged, params);
  if (auto valid = check(merged, parsed_trace); !valid) return Failure{valid.error()};

  LinkPipelineConfig config = base;
  if (params.rate_bps || params.burst_bytes) config.trace.reset();
  if (params.rate_bps) {
    config.rate_bps = *params.rate_bps;
    // Rate 0 (unlimited) without a burst in the same message also clears the old burst.
    if (*params.rate_bps == 0 && !params.burst_bytes) config.burst_bytes = 0;
  }
  if (params.burst_bytes) config.burst_bytes = *params.burst_bytes;
  if (params.delay_ns) config.delay.delay_ns = *params.delay_ns;
  if (params.jitter_ns) config.delay.jitter_ns = *params.jitter_ns;
  if (params.jitter_distribution)
    config.delay.distribution = *params.jitter_distribution == "normal"
                                    ? JitterDistribution::kNormal
                                    : JitterDistribution::kUniform;
  if (params.reorder) config.delay.reorder = *params.reorder;
  config.loss_percent = merged.loss_percent.value_or(0.0);
  if (merged.ge_p_percent && merged.ge_r_percent) {
    // Bernoulli and Gilbert-Elliott replace each other (merge_link_params cleared the other).
    config.gilbert_elliott =
        GilbertElliottParams{*merged.ge_p_percent / 100.0, *merged.ge_r_percent / 100.0,
                             merged.ge_one_minus_h_percent.value_or(100.0) / 100.0,
                             merged.ge_one_minus_k_percent.value_or(0.0) / 100.0};
  } else {
    config.gilbert_elliott.reset();
  }
  if (params.duplicate_percent) config.duplicate_percent = *params.duplicate_percent;
  if (params.corrupt_percent) config.corrupt_percent = *params.corrupt_percent;
  if (params.queue_packets) config.queue.queue.limit.packets = *params.queue_packets;
  if (params.queue_bytes) config.queue.queue.limit.bytes = *params.queue_bytes;
  if (params.drop_policy) config.queue.policy = *parse_drop_policy_kind(*params.drop_policy);
  if (params.scheduler) config.queue.scheduler = *parse_scheduler_kind(*params.scheduler);
  if (params.mtu) {
    config.mtu = *params.mtu;
    if (*params.mtu != 0) config.queue.queue.mtu = *params.mtu;
  }
  if (params.up) config.up = *params.up;
  if (params.trace) {
    auto trace = messages::parse_mahimahi_trace(*params.trace);
    if (!trace)
      return invalid("trace", "(a Mahimahi trace)", "does not parse: " + trace.error().message);
    config.trace = std::move(*trace);
  }
  if (auto valid = validate_pipeline_only(config); !valid) return Failure{valid.error()};
  return config;
}

LinkPipeline::LinkPipeline(LinkPipelineConfig config, PacketPool& pool, std::uint64_t seed,
                           TimeNs now)
    : config_(std::move(config)),
      pool_(pool),
      bernoulli_(config_.loss_percent / 100.0, stage_seed(seed, 1)),
      gilbert_(config_.gilbert_elliott.value_or(GilbertElliottParams{}), stage_seed(seed, 2)),
      duplicator_(config_.duplicate_percent / 100.0, stage_seed(seed, 3)),
      corruptor_(config_.corrupt_percent / 100.0, stage_seed(seed, 4)),
      delay_line_(std::max<std::size_t>(config_.delay_capacity, 1), config_.delay,
                  stage_seed(seed, 5)) {
  if (auto valid = validate(config_); !valid) throw std::invalid_argument(valid.error().message);
  scheduler_ = make_link_scheduler(config_.queue);
  bucket_.set_rate(config_.rate_bps, config_.burst_bytes, now);
  if (config_.trace) trace_shaper_.emplace(*config_.trace, now);
}

Result<std::unique_ptr<LinkPipeline>> LinkPipeline::create(LinkPipelineConfig config,
                                                           PacketPool& pool, std::uint64_t seed,
                                                           TimeNs now) {
  if (auto valid = validate(config); !valid) return Failure{valid.error()};
  return std::make_unique<LinkPipeline>(std::move(config), pool, seed, now);
}

bool LinkPipeline::acts_per_packet() const noexcept {
  return config_.loss_percent > 0.0 || config_.gilbert_elliott.has_value() ||
         config_.duplicate_percent > 0.0 || config_.corrupt_percent > 0.0;
}

bool LinkPipeline::must_go_plain(const Packet& packet) const noexcept {
  const PacketMeta& meta = packet.meta();
  // Segments that fit the MTU cross whole (they leave a real link at that size anyway); those
  // that do not are cut, so that each is judged as a plain packet (too big ones are dropped).
  if (meta.gso_valid && meta.gso_size != 0)
    return acts_per_packet() || too_big(packet, config_.mtu);
  // A partial checksum would be completed over corrupted bytes: complete it first.
  return meta.needs_csum && config_.corrupt_percent > 0.0;
}

void LinkPipeline::enqueue(PacketBatch& batch, TimeNs now, bool output_ready) noexcept {
  // What the shaper allows now goes on as it is queued, if the output is ready (a link that can
  // hold nothing back: even if not). Once the shaper (or the delay line's room) holds the head
  // back, the rest of the batch can only queue behind it: `now`, and so the bucket, stays.
  bool sending = output_ready || passes_at_once();
  const auto admit_and_send = [&](Packet&& packet) {
    admit(std::move(packet), now);
    if (!sending) return;
    transmit(now, ready_);
    sending = !head_.valid();
  };
  for (Packet& packet : batch) {
    if (!packet.valid()) continue;
    if (must_go_plain(packet)) {
      // Loss, duplication, corruption and an MTU the segments exceed act per wire packet: cut
      // the super-packet into its segments first (software GSO), each admitted on its own.
      const SoftwareOffload done =
          software_offload(packet, pool_, admit_and_send, packet.meta().l3_offset);
      if (done.segmented) ++counters_.segmented;
      if (done.lost > 0)
        counters_.drops.add(done.status == GsoStatus::kPoolExhausted ? DropReason::kPoolExhausted
                            : done.status == GsoStatus::kTooBig      ? DropReason::kTooBig
                                                                     : DropReason::kBadOffload,
                            done.lost);
      continue;
    }
    admit_and_send(std::move(packet));
  }
  batch.clear();
}

bool LinkPipeline::passes_at_once() const noexcept {
  const DelayParams& delay = delay_line_.params();
  return !trace_shaper_ && bucket_.unlimited() && delay.delay_ns == 0 && delay.jitter_ns == 0;
}

void LinkPipeline::admit(Packet&& packet, TimeNs now) noexcept {
  {
    if (too_big(packet, config_.mtu)) {
      counters_.drops.add(DropReason::kTooBig, packet_segments(packet));
      packet = Packet{};
    } else if (!config_.up) {
      counters_.drops.add(DropReason::kLinkDown, packet_segments(packet));
      packet = Packet{};
    } else {
      // A weight from the overlay header (set by the flow's source) reaches the scheduler here;
      // Scheduler::set_flow_weight does not allocate.
      const PacketMeta& meta = packet.meta();
      if (meta.flow_weight != 0 && scheduler_->flow_weight(meta.flow_hash) != meta.flow_weight)
        scheduler_->set_flow_weight(meta.flow_hash, meta.flow_weight);
      scheduler_->enqueue(std::move(packet), now);
    }
  }
}

void LinkPipeline::take_head(Packet&& packet) noexcept {
  head_ = std::move(packet);
  if (!head_.valid()) return;
  const WireSize wire = wire_size(head_);
  head_segments_ = wire.segments;
  head_bytes_ = wire.bytes;
}

bool LinkPipeline::shaper_ready(std::uint64_t bytes, TimeNs now) noexcept {
  if (trace_shaper_) return trace_shaper_->can_send(bytes, now);
  return bucket_.unlimited() || bucket_.can_send(bytes, now);
}

TimeNs LinkPipeline::shaper_next(std::uint64_t bytes, TimeNs now) noexcept {
  if (trace_shaper_) return trace_shaper_->next_send_time(bytes, now);
  return bucket_.unlimited() ? now : bucket_.next_send_time(bytes, now);
}

void LinkPipeline::shaper_consume(std::uint64_t bytes, std::uint32_t segments, TimeNs now,
                                  bool more_waiting) noexcept {
  if (trace_shaper_) {
    trace_shaper_->consume(bytes, now, segments);
  } else if (!bucket_.unlimited()) {
    bucket_.consume(bytes, now, segments, more_waiting);
  }
}

bool LinkPipeline::lose() noexcept {
  if (config_.gilbert_elliott) return gilbert_.lose();
  return bernoulli_.probability() > 0.0 && bernoulli_.lose();
}

void LinkPipeline::transmit(TimeNs now, PacketBatch& out) noexcept {
  // Without delay or jitter, and nothing in the delay line ahead of them, packets skip it (its
  // heap costs more than every other pass-through stage together) and go straight to `out`.
  const DelayParams& delay = delay_line_.params();
  const bool no_delay = delay.delay_ns == 0 && delay.jitter_ns == 0;
  while (delay_line_.size() < delay_line_.capacity()) {
    const bool bypass = no_delay && delay_line_.empty() && !out.full();
    if (!head_.valid()) {
      if (scheduler_->empty()) return;
      take_head(scheduler_->dequeue(now));
      if (!head_.valid()) return;
    }
    if (!shaper_ready(head_bytes_, now)) return;
    // Packets still waiting keep the shaper backlogged: what it earns meanwhile is theirs.
    shaper_consume(head_bytes_, head_segments_, now, !scheduler_->empty());
    Packet packet = std::move(head_);
    if (lose()) {
      counters_.lost += head_segments_;
      continue;  // `packet` returns to its pool here
    }
    Packet copy;
    if (duplicator_.probability() > 0.0 && duplicator_.should_duplicate())
      copy = duplicator_.duplicate(packet, pool_);
    if (corruptor_.probability() > 0.0 && corruptor_.maybe_corrupt(packet)) ++counters_.corrupted;
    if (bypass) {
      out.push(std::move(packet));
      if (copy.valid() && !out.full()) {
        out.push(std::move(copy));
        ++counters_.duplicated;
        continue;
      }
    } else {
      delay_line_.enqueue(std::move(packet), now);  // there is room (loop condition)
    }
    if (copy.valid()) {
      if (delay_line_.enqueue(std::move(copy), now)) {
        ++counters_.duplicated;
      } else {
        counters_.drops.add(DropReason::kQueueFull, head_segments_);
      }
    }
  }
}

std::size_t LinkPipeline::poll(TimeNs now, PacketBatch& out) noexcept {
  const std::size_t start = out.size();
  // What passed at enqueue with no delay leaves first: it is ahead of the delay line.
  if (out.empty()) out.swap(ready_);  // the whole of it, without moving a packet
  std::size_t taken = 0;
  while (taken < ready_.size() && !out.full()) out.push(std::move(ready_[taken++]));
  if (taken == ready_.size()) {
    ready_.clear();
  } else if (taken > 0) {  // `out` had less room: the rest moves to the front, in order
    const std::size_t left = ready_.size() - taken;
    for (std::size_t i = 0; i < left; ++i) ready_[i] = std::move(ready_[taken + i]);
    while (ready_.size() > left) ready_.pop_back();
  }
  while (!out.full() && ready_.empty()) {
    const std::size_t before = out.size();
    transmit(now, out);
    delay_line_.release(now, out);
    if (out.size() == before) break;
  }
  for (std::size_t i = start; i < out.size(); ++i) {
    counters_.packets_out += packet_segments(out[i]);
    counters_.bytes_out += out[i].size();
  }
  return out.size() - start;
}

TimeNs LinkPipeline::next_wakeup(TimeNs now) noexcept {
  if (!ready_.empty()) return now;
  TimeNs wake = delay_line_.next_release_time();
  if (delay_line_.size() < delay_line_.capacity()) {
    if (!head_.valid() && !scheduler_->empty()) take_head(scheduler_->dequeue(now));
    if (head_.valid()) wake = std::min(wake, shaper_next(head_bytes_, now));
  }
  if (wake != kNever && wake < now) wake = now;
  return wake;
}

void LinkPipeline::drop_everything(DropReason reason) noexcept {
  for (const Packet& packet : ready_)
    if (packet.valid()) counters_.drops.add(reason, packet_segments(packet));
  ready_.clear();
  scheduler_->drop_all(reason);
  if (head_.valid()) {
    counters_.drops.add(reason, head_segments_);
    head_ = Packet{};
  }
  counters_.drops.add(reason, delay_line_.clear());
}

Result<void> LinkPipeline::apply(const messages::LinkParams& params, TimeNs now) {
  auto merged = merge_link_params(config_, params);
  if (!merged) return Failure{merged.error()};
  LinkPipelineConfig next = std::move(merged).value();

  if (config_.up && !next.up) drop_everything(DropReason::kLinkDown);

  if (params.rate_bps || params.burst_bytes) {
    trace_shaper_.reset();
    bucket_.set_rate(next.rate_bps, next.burst_bytes, now);
  }
  if (params.trace) trace_shaper_.emplace(*next.trace, now);  // restarts at the trace's start
  delay_line_.set_params(next.delay);
  bernoulli_.set_probability(next.loss_percent / 100.0);
  if (next.gilbert_elliott) gilbert_.set_params(*next.gilbert_elliott);
  duplicator_.set_probability(next.duplicate_percent / 100.0);
  corruptor_.set_probability(next.corrupt_percent / 100.0);

  const LinkQueueConfig& old_queue = config_.queue;
  const LinkQueueConfig& new_queue = next.queue;
  if (new_queue.scheduler != old_queue.scheduler || new_queue.queue.mtu != old_queue.queue.mtu) {
    // A new scheduler; the queued packets move over in the old one's order (the new limit and
    // policy decide what stays). The old one drains under tail drop so it drops nothing more.
    std::unique_ptr<Scheduler> fresh = make_link_scheduler(new_queue);
    scheduler_->set_policy(make_drop_policy(LinkQueueConfig{}));
    for (Packet packet = scheduler_->dequeue(now); packet.valid();
         packet = scheduler_->dequeue(now))
      fresh->enqueue(std::move(packet), now);
    add_scheduler_drops(retired_scheduler_drops_, *scheduler_);
    scheduler_ = std::move(fresh);
  } else {
    const bool limit_changed = new_queue.queue.limit.packets != old_queue.queue.limit.packets ||
                               new_queue.queue.limit.bytes != old_queue.queue.limit.bytes;
    if (limit_changed) scheduler_->set_limit(new_queue.queue.limit, new_queue.queue.max_entries);
    // RED's thresholds derive from the limit, so a new limit also needs a new RED.
    if (new_queue.policy != old_queue.policy ||
        (limit_changed && new_queue.policy == DropPolicyKind::kRed))
      scheduler_->set_policy(make_drop_policy(new_queue));
  }
  config_ = std::move(next);
  return ok();
}

void LinkPipeline::set_flow_weight(std::uint32_t flow_hash, std::uint32_t weight) {
  const std::uint32_t effective = weight == 0 ? 1 : weight;
  config_.queue.flow_weights[flow_hash] = effective;
  scheduler_->set_flow_weight(flow_hash, effective);
}

void LinkPipeline::add_scheduler_drops(DropCounters& into,
                                       const Scheduler& scheduler) const noexcept {
  const DropCounters& drops = scheduler.counters().drops;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) into.counts[i] += drops.counts[i];
}

LinkPipelineCounters LinkPipeline::counters() const noexcept {
  LinkPipelineCounters result = counters_;
  add_scheduler_drops(result.drops, *scheduler_);
  for (std::size_t i = 0; i < kDropReasonCount; ++i)
    result.drops.counts[i] += retired_scheduler_drops_.counts[i];
  return result;
}

std::uint64_t LinkPipeline::queued_packets() const noexcept {
  std::uint64_t ready = 0;
  for (std::size_t i = 0; i < ready_.size(); ++i)
    if (ready_[i].valid()) ready += packet_segments(ready_[i]);
  return scheduler_->packets() + (head_.valid() ? head_segments_ : 0) + delay_line_.size() + ready;
}

}  // namespace nextmini::dataplane
