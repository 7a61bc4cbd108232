#pragma once
// LinkQueueConfig: everything that shapes a link's queueing stage — scheduler kind (fifo, drr,
// wrr), drop policy (taildrop, red, codel), limit, flow buckets, MTU, RED and CoDel knobs and
// per-flow weights — with validation that names the bad key and value, and the factory that
// builds the Scheduler (with its DropPolicy) from it. Control path only: validate() and
// make_link_scheduler() allocate; the built Scheduler then runs on the link's worker.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/link/codel.hpp"
#include "nextmini/dataplane/link/red.hpp"
#include "nextmini/dataplane/link/scheduler.hpp"

namespace nextmini::dataplane {

enum class SchedulerKind : std::uint8_t { kFifo, kDrr, kWrr };
enum class DropPolicyKind : std::uint8_t { kTailDrop, kRed, kCodel };

// "fifo" | "drr" | "wrr"; nullopt for anything else.
std::optional<SchedulerKind> parse_scheduler_kind(std::string_view text) noexcept;
// "taildrop" | "red" | "codel"; nullopt for anything else.
std::optional<DropPolicyKind> parse_drop_policy_kind(std::string_view text) noexcept;
std::string_view scheduler_kind_name(SchedulerKind kind) noexcept;
std::string_view drop_policy_kind_name(DropPolicyKind kind) noexcept;

struct LinkQueueConfig {
  SchedulerKind scheduler = SchedulerKind::kFifo;
  DropPolicyKind policy = DropPolicyKind::kTailDrop;
  SchedulerConfig queue;  // limit (queue_packets / queue_bytes), flow_buckets, mtu
  RedConfig red;          // used when policy == kRed
  CodelConfig codel;      // used when policy == kCodel (codel.mtu follows queue.mtu)
  std::map<std::uint32_t, std::uint32_t> flow_weights;  // flow_hash -> weight (default 1)
};

// Ok, or a "config.invalid" error naming the first bad key and its value.
Result<void> validate(const LinkQueueConfig& config);
// The configured policy (TailDrop, Red or Codel). Assumes validate() passed.
std::unique_ptr<DropPolicy> make_drop_policy(const LinkQueueConfig& config);
// The configured scheduler with its policy and weights. Assumes validate() passed.
std::unique_ptr<Scheduler> make_link_scheduler(const LinkQueueConfig& config);

}  // namespace nextmini::dataplane
