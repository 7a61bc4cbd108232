#include "nextmini/messages/link_params_rules.hpp"

#include <cmath>
#include <initializer_list>
#include <sstream>
#include <string_view>

#include "nextmini/messages/mahimahi_trace.hpp"

namespace nextmini::messages {
namespace {

Failure invalid(std::string_view key, const std::string& value, std::string_view why) {
  return fail("link_params.invalid", std::string(key) + ": " + value + " " + std::string(why));
}

std::string number_text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A percentage field: unset, or finite in [0, 100].
Result<void> check_percent(std::string_view key, const std::optional<double>& value) {
  if (!value || (std::isfinite(*value) && *value >= 0 && *value <= 100)) return ok();
  return invalid(key, number_text(*value) + "%", "is not between 0% and 100%");
}

Result<void> check_name(std::string_view key, const std::optional<std::string>& value,
                        std::initializer_list<std::string_view> allowed) {
  if (!value) return ok();
  std::string listed;
  for (auto name : allowed) {
    if (*value == name) return ok();
    listed += listed.empty() ? "" : ", ";
    listed += name;
  }
  return invalid(key, "\"" + *value + "\"", "is not one of " + listed);
}

Result<void> check_duration(std::string_view key, const std::optional<std::uint64_t>& value) {
  if (!value || *value <= kMaxLinkDelayNs) return ok();
  return invalid(key, format_duration_ns(*value), "is longer than one hour");
}

}  // namespace

bool has_any_knob(const LinkParams& params) { return params != LinkParams{}; }

void merge_link_params(LinkParams& base, const LinkParams& over) {
  auto take = [](auto& to, const auto& from) {
    if (from) to = from;
  };
  // A rate or burst shapes the link instead of a trace: it clears the trace unless the update
  // sets one too (a trace, while set, shapes the link instead of the rate).
  if ((over.rate_bps || over.burst_bytes) && !over.trace) base.trace.reset();
  take(base.rate_bps, over.rate_bps);
  // An unlimited rate has no burst: it clears the old one unless the update sets one.
  if (over.rate_bps == 0u && !over.burst_bytes) base.burst_bytes.reset();
  take(base.burst_bytes, over.burst_bytes);
  take(base.delay_ns, over.delay_ns);
  take(base.jitter_ns, over.jitter_ns);
  take(base.jitter_distribution, over.jitter_distribution);
  take(base.reorder, over.reorder);
  // `loss` is one key: its Bernoulli and Gilbert-Elliott forms replace each other.
  if (over.loss_percent && !over.ge_p_percent) {
    base.ge_p_percent.reset();
    base.ge_r_percent.reset();
    base.ge_one_minus_h_percent.reset();
    base.ge_one_minus_k_percent.reset();
  }
  if (over.ge_p_percent && !over.loss_percent) base.loss_percent.reset();
  take(base.loss_percent, over.loss_percent);
  take(base.ge_p_percent, over.ge_p_percent);
  take(base.ge_r_percent, over.ge_r_percent);
  take(base.ge_one_minus_h_percent, over.ge_one_minus_h_percent);
  take(base.ge_one_minus_k_percent, over.ge_one_minus_k_percent);
  take(base.duplicate_percent, over.duplicate_percent);
  take(base.corrupt_percent, over.corrupt_percent);
  take(base.queue_packets, over.queue_packets);
  take(base.queue_bytes, over.queue_bytes);
  take(base.drop_policy, over.drop_policy);
  take(base.scheduler, over.scheduler);
  take(base.mtu, over.mtu);
  take(base.trace, over.trace);
  take(base.up, over.up);
}

Result<void> check_link_params(const LinkParams& p) {
  const Result<void> checks[] = {
      check_duration("delay", p.delay_ns),
      check_duration("jitter", p.jitter_ns),
      check_name("jitter_distribution", p.jitter_distribution, {"uniform", "normal"}),
      check_percent("loss", p.loss_percent),
      check_percent("loss.p", p.ge_p_percent),
      check_percent("loss.r", p.ge_r_percent),
      check_percent("loss.one_minus_h", p.ge_one_minus_h_percent),
      check_percent("loss.one_minus_k", p.ge_one_minus_k_percent),
      check_percent("duplicate", p.duplicate_percent),
      check_percent("corrupt", p.corrupt_percent),
      check_name("drop_policy", p.drop_policy, {"taildrop", "red", "codel"}),
      check_name("scheduler", p.scheduler, {"fifo", "wrr", "drr"}),
  };
  for (const auto& check : checks) {
    if (!check) return check;
  }
  const bool gilbert_elliott =
      p.ge_p_percent || p.ge_r_percent || p.ge_one_minus_h_percent || p.ge_one_minus_k_percent;
  if (gilbert_elliott && !(p.ge_p_percent && p.ge_r_percent)) {
    return invalid("loss", "a Gilbert-Elliott model", "needs both p and r");
  }
  const std::uint64_t delay = p.delay_ns.value_or(0);
  const std::uint64_t jitter = p.jitter_ns.value_or(0);
  if (!p.reorder.value_or(false) && jitter > delay) {
    return invalid("jitter", format_duration_ns(jitter),
                   "is larger than delay " + format_duration_ns(delay) + " with reorder = false" +
                       (p.reorder ? "" : " (the default)"));
  }
  if (p.burst_bytes && p.rate_bps.value_or(0) == 0 && !p.trace) {
    return invalid("burst", std::to_string(*p.burst_bytes) + " bytes",
                   "needs a rate (the link is unlimited)");
  }
  if (p.burst_bytes && *p.burst_bytes == 0) return invalid("burst", "0 bytes", "is not positive");
  if (p.queue_packets && (*p.queue_packets < 1 || *p.queue_packets > kMaxLinkQueuePackets)) {
    return invalid("queue_packets", std::to_string(*p.queue_packets),
                   "is not between 1 and 100000000");
  }
  if (p.queue_bytes && *p.queue_bytes < 1) return invalid("queue_bytes", "0", "is not positive");
  if (p.mtu && (*p.mtu < kMinLinkMtu || *p.mtu > kMaxLinkMtu)) {
    return invalid("mtu", std::to_string(*p.mtu), "is not between 68 and 65535");
  }
  if (p.trace) {
    if (auto parsed = parse_mahimahi_trace(*p.trace); !parsed) {
      return invalid("trace", "(a Mahimahi trace)", "does not parse: " + parsed.error().message);
    }
  }
  return ok();
}

std::string format_duration_ns(std::uint64_t ns) {
  if (ns % 1'000'000 == 0) return std::to_string(ns / 1'000'000) + "ms";
  if (ns % 1'000 == 0) return std::to_string(ns / 1'000) + "us";
  return std::to_string(ns) + "ns";
}

}  // namespace nextmini::messages
