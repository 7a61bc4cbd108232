#include "nextmini/dataplane/route/flow_selector.hpp"

#include <algorithm>
#include <cmath>

namespace nextmini::dataplane {

namespace {

std::uint64_t mix64(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

bool all_weights_zero(std::span<const RouteChoice> choices) noexcept {
  return std::all_of(choices.begin(), choices.end(),
                     [](const RouteChoice& c) { return c.weight == 0; });
}

// Whether `route` may still be chosen: a candidate with a weight (or every weight is 0).
bool selectable(std::span<const RouteChoice> choices, RouteId route) noexcept {
  const bool any_weight = !all_weights_zero(choices);
  return std::any_of(choices.begin(), choices.end(), [&](const RouteChoice& c) {
    return c.route_id == route && (c.weight > 0 || !any_weight);
  });
}

}  // namespace

FlowSelector::FlowSelector(std::size_t pin_slots) {
  std::size_t sets = 1;
  while (sets * kWays < pin_slots) sets <<= 1;
  slots_.resize(sets * kWays);
  set_mask_ = sets - 1;
}

std::optional<RouteId> FlowSelector::rendezvous(std::uint64_t flow_hash,
                                                std::span<const RouteChoice> choices) noexcept {
  if (choices.empty()) return std::nullopt;
  const bool all_zero = all_weights_zero(choices);
  std::optional<RouteId> best;
  double best_score = -1.0;
  for (const RouteChoice& choice : choices) {
    const double weight = all_zero ? 1.0 : static_cast<double>(choice.weight);
    if (weight <= 0.0) continue;
    const std::uint64_t h = mix64(flow_hash ^ mix64(0x5851f42d4c957f2dULL + choice.route_id));
    // 53 random bits -> u in (0, 1), never 0 or 1, so -ln(u) is finite and positive.
    const double u = (static_cast<double>(h >> 11) + 0.5) * 0x1.0p-53;
    const double score = weight / -std::log(u);
    if (score > best_score || (score == best_score && best && choice.route_id < *best)) {
      best_score = score;
      best = choice.route_id;
    }
  }
  return best;
}

FlowSelector::Slot* FlowSelector::find_slot(std::uint64_t flow_hash, NodeId dst,
                                            bool& found) noexcept {
  const std::size_t set = static_cast<std::size_t>(mix64(flow_hash ^ dst) & set_mask_);
  Slot* const first = slots_.data() + set * kWays;
  Slot* victim = first;
  for (Slot* slot = first; slot != first + kWays; ++slot) {
    if (slot->dst == dst && slot->flow_hash == flow_hash) {
      found = true;
      return slot;
    }
    // Prefer an empty slot, then the least recently used one.
    if (victim->dst != 0 && (slot->dst == 0 || slot->last_used < victim->last_used)) victim = slot;
  }
  found = false;
  return victim;
}

std::optional<RouteId> FlowSelector::select(std::uint64_t flow_hash, NodeId dst,
                                            std::span<const RouteChoice> choices) noexcept {
  if (choices.empty()) return std::nullopt;
  ++clock_;
  bool found = false;
  Slot* slot = find_slot(flow_hash, dst, found);
  if (found) {
    slot->last_used = clock_;
    if (selectable(choices, slot->route)) {
      ++pin_hits_;
      return slot->route;
    }
    ++repins_;
    const auto route = rendezvous(flow_hash, choices);
    if (route) slot->route = *route;
    return route;
  }
  const auto route = rendezvous(flow_hash, choices);
  if (!route) return route;
  if (slot->dst != 0) ++evictions_;
  *slot = Slot{flow_hash, dst, *route, clock_};
  return route;
}

void FlowSelector::pin(std::uint64_t flow_hash, NodeId dst, RouteId route) noexcept {
  if (dst == 0) return;
  ++clock_;
  bool found = false;
  Slot* slot = find_slot(flow_hash, dst, found);
  if (!found && slot->dst != 0) ++evictions_;
  *slot = Slot{flow_hash, dst, route, clock_};
}

void FlowSelector::clear() noexcept {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  clock_ = 0;
}

std::size_t FlowSelector::pinned() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return s.dst != 0; }));
}

}  // namespace nextmini::dataplane
