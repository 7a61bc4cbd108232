#include "nextmini/dataplane/link/link_pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "nextmini/dataplane/link/packet_segments.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::uint32_t kMinMtu = 68;
constexpr std::uint32_t kMaxMtu = 65'535;
constexpr TimeNs kMaxDelayNs = 3'600'000'000'000;  // one hour

Failure invalid(std::string_view key, const std::string& value, std::string_view why) {
  return fail("config.invalid", std::string(key) + ": " + value + " " + std::string(why));
}

bool valid_percent(double value) noexcept {
  return std::isfinite(value) && value >= 0 && value <= 100;
}
bool valid_probability(double value) noexcept {
  return std::isfinite(value) && value >= 0 && value <= 1;
}

std::string text(double value) { return std::to_string(value); }

// Seeds for the stages, all different, all derived from the pipeline's seed.
std::uint64_t stage_seed(std::uint64_t seed, std::uint64_t stage) noexcept {
  return seed * 0x9E3779B97F4A7C15ULL + stage * 0xBF58476D1CE4E5B9ULL + 1;
}

bool too_big(const Packet& packet, std::uint32_t mtu) noexcept {
  if (mtu == 0) return false;
  const PacketMeta& meta = packet.meta();
  // A GSO super-packet leaves as segments of gso_size payload bytes each.
  if (meta.gso_valid && meta.gso_size > 0 && packet.size() > meta.gso_size)
    return meta.gso_size > mtu;
  return packet.size() > mtu;
}

// The Gilbert-Elliott model after `params`: its ge_* percentages (0-100) over the current model.
// ge_p_percent starts the model (the others default to r = 100 %, 1-h = 100 %, 1-k = 0 %
// unless given); the other ge_* keys alone only change a model already running.
Result<std::optional<GilbertElliottParams>> merge_gilbert_elliott(
    std::optional<GilbertElliottParams> model, const messages::LinkParams& params) {
  const std::pair<std::string_view, const std::optional<double>*> parts[] = {
      {"ge_p_percent", &params.ge_p_percent},
      {"ge_r_percent", &params.ge_r_percent},
      {"ge_one_minus_h_percent", &params.ge_one_minus_h_percent},
      {"ge_one_minus_k_percent", &params.ge_one_minus_k_percent}};
  bool any = false;
  for (const auto& [key, value] : parts) {
    if (!*value) continue;
    any = true;
    if (!valid_percent(**value)) return invalid(key, text(**value), "is not in [0, 100]");
  }
  if (!any) return model;
  if (!model && !params.ge_p_percent) {
    for (const auto& [key, value] : parts) {
      if (*value)
        return invalid(key, text(**value),
                       "needs ge_p_percent (no Gilbert-Elliott model is running on this link)");
    }
  }
  GilbertElliottParams next = model.value_or(GilbertElliottParams{});
  if (params.ge_p_percent) next.p = *params.ge_p_percent / 100.0;
  if (params.ge_r_percent) next.r = *params.ge_r_percent / 100.0;
  if (params.ge_one_minus_h_percent) next.one_minus_h = *params.ge_one_minus_h_percent / 100.0;
  if (params.ge_one_minus_k_percent) next.one_minus_k = *params.ge_one_minus_k_percent / 100.0;
  return std::optional<GilbertElliottParams>(next);
}

}  // namespace

Result<void> validate(const LinkPipelineConfig& config) {
  if (!config.trace && config.rate_bps == 0 && config.burst_bytes != 0)
    return invalid("burst_bytes", std::to_string(config.burst_bytes),
                   "needs a rate (rate_bps is 0: unlimited)");
  if (config.delay.delay_ns > kMaxDelayNs)
    return invalid("delay_ns", std::to_string(config.delay.delay_ns), "is above one hour");
  if (config.delay.jitter_ns > kMaxDelayNs)
    return invalid("jitter_ns", std::to_string(config.delay.jitter_ns), "is above one hour");
  if (!config.delay.reorder && config.delay.jitter_ns > config.delay.delay_ns)
    return invalid("jitter_ns", std::to_string(config.delay.jitter_ns),
                   "is larger than delay_ns (" + std::to_string(config.delay.delay_ns) +
                       ") while reorder is false");
  if (!valid_percent(config.loss_percent))
    return invalid("loss_percent", text(config.loss_percent), "is not in [0, 100]");
  if (config.gilbert_elliott) {
    const GilbertElliottParams& ge = *config.gilbert_elliott;
    if (!valid_probability(ge.p)) return invalid("gemodel.p", text(ge.p), "is not in [0, 1]");
    if (!valid_probability(ge.r)) return invalid("gemodel.r", text(ge.r), "is not in [0, 1]");
    if (!valid_probability(ge.one_minus_h))
      return invalid("gemodel.one_minus_h", text(ge.one_minus_h), "is not in [0, 1]");
    if (!valid_probability(ge.one_minus_k))
      return invalid("gemodel.one_minus_k", text(ge.one_minus_k), "is not in [0, 1]");
  }
  if (!valid_percent(config.duplicate_percent))
    return invalid("duplicate_percent", text(config.duplicate_percent), "is not in [0, 100]");
  if (!valid_percent(config.corrupt_percent))
    return invalid("corrupt_percent", text(config.corrupt_percent), "is not in [0, 100]");
  if (config.mtu != 0 && (config.mtu < kMinMtu || config.mtu > kMaxMtu))
    return invalid("mtu", std::to_string(config.mtu), "is not between 68 and 65535");
  if (config.delay_capacity == 0) return invalid("delay_capacity", "0", "must be positive");
  return validate(config.queue);
}

Result<LinkPipelineConfig> merge_link_params(const LinkPipelineConfig& base,
                                             const messages::LinkParams& params) {
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
  if (params.jitter_distribution) {
    if (*params.jitter_distribution == "uniform") {
      config.delay.distribution = JitterDistribution::kUniform;
    } else if (*params.jitter_distribution == "normal") {
      config.delay.distribution = JitterDistribution::kNormal;
    } else {
      return invalid("jitter_distribution", "\"" + *params.jitter_distribution + "\"",
                     "is not uniform or normal");
    }
  }
  if (params.reorder) config.delay.reorder = *params.reorder;
  if (params.loss_percent) {
    config.loss_percent = *params.loss_percent;
    // Bernoulli and Gilbert-Elliott replace each other; a message with both keeps the latter.
    if (!params.ge_p_percent) config.gilbert_elliott.reset();
  }
  if (auto merged = merge_gilbert_elliott(config.gilbert_elliott, params); !merged) {
    return Failure{merged.error()};
  } else {
    config.gilbert_elliott = *merged;
  }
  if (params.duplicate_percent) config.duplicate_percent = *params.duplicate_percent;
  if (params.corrupt_percent) config.corrupt_percent = *params.corrupt_percent;
  if (params.queue_packets) config.queue.queue.limit.packets = *params.queue_packets;
  if (params.queue_bytes) config.queue.queue.limit.bytes = *params.queue_bytes;
  if (params.drop_policy) {
    const auto kind = parse_drop_policy_kind(*params.drop_policy);
    if (!kind)
      return invalid("drop_policy", "\"" + *params.drop_policy + "\"",
                     "is not taildrop, red or codel");
    config.queue.policy = *kind;
  }
  if (params.scheduler) {
    const auto kind = parse_scheduler_kind(*params.scheduler);
    if (!kind)
      return invalid("scheduler", "\"" + *params.scheduler + "\"", "is not fifo, drr or wrr");
    config.queue.scheduler = *kind;
  }
  if (params.mtu) {
    config.mtu = *params.mtu;
    if (*params.mtu != 0) config.queue.queue.mtu = *params.mtu;
  }
  if (params.up) config.up = *params.up;
  if (params.trace) {
    auto trace = parse_mahimahi_trace(*params.trace);
    if (!trace)
      return invalid("trace", "(" + std::to_string(params.trace->size()) + " bytes)",
                     "is not a Mahimahi trace: " + trace.error().message);
    config.trace = std::move(*trace);
  }
  if (auto valid = validate(config); !valid) return Failure{valid.error()};
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

void LinkPipeline::enqueue(PacketBatch& batch, TimeNs now) noexcept {
  for (Packet& packet : batch) {
    if (!packet.valid()) continue;
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
  batch.clear();
}

bool LinkPipeline::shaper_ready(std::uint64_t bytes, TimeNs now) noexcept {
  if (trace_shaper_) return trace_shaper_->can_send(bytes, now);
  return bucket_.unlimited() || bucket_.can_send(bytes, now);
}

TimeNs LinkPipeline::shaper_next(std::uint64_t bytes, TimeNs now) noexcept {
  if (trace_shaper_) return trace_shaper_->next_send_time(bytes, now);
  return bucket_.unlimited() ? now : bucket_.next_send_time(bytes, now);
}

void LinkPipeline::shaper_consume(std::uint64_t bytes, std::uint32_t segments,
                                  TimeNs now) noexcept {
  if (trace_shaper_) {
    trace_shaper_->consume(bytes, now, segments);
  } else if (!bucket_.unlimited()) {
    bucket_.consume(bytes, now, segments);
  }
}

bool LinkPipeline::lose() noexcept {
  if (config_.gilbert_elliott) return gilbert_.lose();
  return bernoulli_.probability() > 0.0 && bernoulli_.lose();
}

void LinkPipeline::transmit(TimeNs now) noexcept {
  while (delay_line_.size() < delay_line_.capacity()) {
    if (!head_.valid()) {
      head_ = scheduler_->dequeue(now);
      if (!head_.valid()) return;
      head_segments_ = packet_segments(head_);
    }
    if (!shaper_ready(head_.size(), now)) return;
    shaper_consume(head_.size(), head_segments_, now);
    Packet packet = std::move(head_);
    if (lose()) {
      counters_.lost += head_segments_;
      continue;  // `packet` returns to its pool here
    }
    Packet copy;
    if (duplicator_.probability() > 0.0 && duplicator_.should_duplicate())
      copy = duplicator_.duplicate(packet, pool_);
    if (corruptor_.probability() > 0.0 && corruptor_.maybe_corrupt(packet)) ++counters_.corrupted;
    delay_line_.enqueue(std::move(packet), now);  // there is room (loop condition)
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
  std::size_t released = 0;
  while (!out.full()) {
    transmit(now);
    const std::size_t before = out.size();
    delay_line_.release(now, out);
    const std::size_t moved = out.size() - before;
    if (moved == 0) break;
    for (std::size_t i = before; i < out.size(); ++i) {
      counters_.packets_out += packet_segments(out[i]);
      counters_.bytes_out += out[i].size();
    }
    released += moved;
  }
  return released;
}

TimeNs LinkPipeline::next_wakeup(TimeNs now) noexcept {
  TimeNs wake = delay_line_.next_release_time();
  if (delay_line_.size() < delay_line_.capacity()) {
    if (!head_.valid() && !scheduler_->empty()) {
      head_ = scheduler_->dequeue(now);
      if (head_.valid()) head_segments_ = packet_segments(head_);
    }
    if (head_.valid()) wake = std::min(wake, shaper_next(head_.size(), now));
  }
  if (wake != kNever && wake < now) wake = now;
  return wake;
}

void LinkPipeline::drop_everything(DropReason reason) noexcept {
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
  return scheduler_->packets() + (head_.valid() ? head_segments_ : 0) + delay_line_.size();
}

}  // namespace nextmini::dataplane
