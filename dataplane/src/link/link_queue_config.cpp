#include "nextmini/dataplane/link/link_queue_config.hpp"

#include <cmath>
#include <string>

#include "nextmini/dataplane/link/drr_scheduler.hpp"
#include "nextmini/dataplane/link/fifo_scheduler.hpp"
#include "nextmini/dataplane/link/tail_drop.hpp"
#include "nextmini/dataplane/link/wrr_scheduler.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::uint32_t kMinMtu = 68;  // the IPv4 minimum
constexpr std::uint32_t kMaxMtu = 65'535;
constexpr std::size_t kMaxFlowBuckets = std::size_t{1} << 20;

Failure invalid(std::string_view key, const std::string& value, std::string_view why) {
  return fail("config.invalid", std::string(key) + ": " + value + " " + std::string(why));
}

std::string number(double value) {
  std::string text = std::to_string(value);
  // Trim trailing zeros of the fixed notation ("0.500000" -> "0.5").
  while (text.find('.') != std::string::npos && (text.back() == '0' || text.back() == '.')) {
    const bool dot = text.back() == '.';
    text.pop_back();
    if (dot) break;
  }
  return text;
}

}  // namespace

std::optional<SchedulerKind> parse_scheduler_kind(std::string_view text) noexcept {
  if (text == "fifo") return SchedulerKind::kFifo;
  if (text == "drr") return SchedulerKind::kDrr;
  if (text == "wrr") return SchedulerKind::kWrr;
  return std::nullopt;
}

std::optional<DropPolicyKind> parse_drop_policy_kind(std::string_view text) noexcept {
  if (text == "taildrop") return DropPolicyKind::kTailDrop;
  if (text == "red") return DropPolicyKind::kRed;
  if (text == "codel") return DropPolicyKind::kCodel;
  return std::nullopt;
}

std::string_view scheduler_kind_name(SchedulerKind kind) noexcept {
  switch (kind) {
    case SchedulerKind::kFifo:
      return "fifo";
    case SchedulerKind::kDrr:
      return "drr";
    case SchedulerKind::kWrr:
      return "wrr";
  }
  return "unknown";
}

std::string_view drop_policy_kind_name(DropPolicyKind kind) noexcept {
  switch (kind) {
    case DropPolicyKind::kTailDrop:
      return "taildrop";
    case DropPolicyKind::kRed:
      return "red";
    case DropPolicyKind::kCodel:
      return "codel";
  }
  return "unknown";
}

Result<void> validate(const LinkQueueConfig& config) {
  const SchedulerConfig& queue = config.queue;
  if (queue.mtu < kMinMtu || queue.mtu > kMaxMtu)
    return invalid("mtu", std::to_string(queue.mtu), "is not between 68 and 65535");
  if (queue.flow_buckets == 0 || queue.flow_buckets > kMaxFlowBuckets)
    return invalid("flow_buckets", std::to_string(queue.flow_buckets),
                   "is not between 1 and 1048576");
  if (queue.limit.bytes != 0 && queue.limit.bytes < queue.mtu)
    return invalid("queue_bytes", std::to_string(queue.limit.bytes),
                   "is smaller than one MTU (" + std::to_string(queue.mtu) + " bytes)");
  for (const auto& [flow, weight] : config.flow_weights)
    if (weight == 0)
      return invalid("flow_weight", "0", "for flow " + std::to_string(flow) + " must be >= 1");

  if (config.policy == DropPolicyKind::kRed) {
    const RedConfig& red = config.red;
    if (!(red.max_p > 0 && red.max_p <= 1))
      return invalid("red.max_p", number(red.max_p), "is not in (0, 1]");
    if (!(red.w_q > 0 && red.w_q <= 1))
      return invalid("red.w_q", number(red.w_q), "is not in (0, 1]");
    if (!(red.min_th >= 0) || !std::isfinite(red.min_th))
      return invalid("red.min_th", number(red.min_th), "is negative");
    if (!(red.max_th >= 0) || !std::isfinite(red.max_th))
      return invalid("red.max_th", number(red.max_th), "is negative");
    if (red.min_th > 0 && red.max_th > 0 && red.max_th <= red.min_th)
      return invalid("red.max_th", number(red.max_th),
                     "is not above red.min_th (" + number(red.min_th) + ")");
    const QueueLimit& limit = queue.limit;
    const double capacity = limit.in_bytes() ? static_cast<double>(limit.bytes)
                                             : static_cast<double>(limit.effective_packets());
    if (red.min_th >= capacity)
      return invalid("red.min_th", number(red.min_th),
                     "is not below the queue limit (" + number(capacity) + ")");
    if (red.small_packet_time == 0)
      return invalid("red.small_packet_time", "0", "must be positive");
  }
  if (config.policy == DropPolicyKind::kCodel) {
    if (config.codel.target == 0) return invalid("codel.target", "0", "must be positive");
    if (config.codel.interval < config.codel.target)
      return invalid(
          "codel.interval", std::to_string(config.codel.interval) + "ns",
          "is shorter than codel.target (" + std::to_string(config.codel.target) + "ns)");
  }
  return ok();
}

std::unique_ptr<DropPolicy> make_drop_policy(const LinkQueueConfig& config) {
  switch (config.policy) {
    case DropPolicyKind::kRed:
      return std::make_unique<Red>(config.red, config.queue.limit);
    case DropPolicyKind::kCodel: {
      CodelConfig codel = config.codel;
      codel.mtu = config.queue.mtu;
      return std::make_unique<Codel>(codel);
    }
    case DropPolicyKind::kTailDrop:
      break;
  }
  return std::make_unique<TailDrop>();
}

std::unique_ptr<Scheduler> make_link_scheduler(const LinkQueueConfig& config) {
  std::unique_ptr<Scheduler> scheduler;
  switch (config.scheduler) {
    case SchedulerKind::kDrr:
      scheduler = std::make_unique<DrrScheduler>(config.queue, make_drop_policy(config));
      break;
    case SchedulerKind::kWrr:
      scheduler = std::make_unique<WrrScheduler>(config.queue, make_drop_policy(config));
      break;
    case SchedulerKind::kFifo:
      scheduler = std::make_unique<FifoScheduler>(config.queue, make_drop_policy(config));
      break;
  }
  for (const auto& [flow, weight] : config.flow_weights) scheduler->set_flow_weight(flow, weight);
  return scheduler;
}

}  // namespace nextmini::dataplane
