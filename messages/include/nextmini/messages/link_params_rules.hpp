#pragma once
// The rules of messages::LinkParams, in one place for everyone who accepts link parameters: the
// controller's config loader and HTTP API, and the node that applies SetLinkParams.
//   merge_link_params  how an update combines with what a link has (set fields replace;
//                      `loss` in its Bernoulli and Gilbert-Elliott forms replace each other)
//   check_link_params  whether a link's parameters are valid, each value and the combination;
//                      callers check the merged result, not the update alone, so a rule that
//                      relates two keys (jitter against delay) sees both.
// Errors have the code "link_params.invalid" and a message that names the key as the config
// and the API spell it, and its value: "jitter: 6ms is larger than delay 5ms with reorder =
// false (the default)". Thread: none (pure functions).

#include <cstdint>
#include <string>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::messages {

inline constexpr std::uint32_t kMinLinkMtu = 68;  // RFC 791: every IPv4 link carries 68 bytes
inline constexpr std::uint32_t kMaxLinkMtu = 65'535;
inline constexpr std::uint64_t kMaxLinkQueuePackets = 100'000'000;
inline constexpr std::uint64_t kMaxLinkDelayNs = 3'600'000'000'000;  // one hour

// Whether any field of `params` is set.
bool has_any_knob(const LinkParams& params);

// `over`'s set fields replace those of `base`. A rate or burst without a trace clears the trace
// (the two ways of shaping replace each other). An unlimited rate (rate_bps = 0) without a
// burst clears the burst. Setting loss_percent without ge_p_percent clears
// the Gilbert-Elliott fields; setting ge_p_percent without loss_percent clears loss_percent.
void merge_link_params(LinkParams& base, const LinkParams& over);

// Ok, or the first rule `params` breaks. Unset fields take the link's defaults (no delay, no
// jitter, reorder = false, no loss, unlimited rate). Rules: percentages in [0, 100]; delay and
// jitter at most one hour; jitter not above delay unless reorder = true; a burst needs a rate;
// Gilbert-Elliott needs p and r; mtu in [68, 65535]; queue limits at least 1 (packets at most
// 1e8); names of jitter_distribution, drop_policy and scheduler known; a trace that parses.
Result<void> check_link_params(const LinkParams& params);

// A duration for messages: "10ms", "500us", "7ns".
std::string format_duration_ns(std::uint64_t ns);

}  // namespace nextmini::messages
