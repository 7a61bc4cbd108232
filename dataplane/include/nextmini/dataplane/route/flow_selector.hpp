#pragma once
// FlowSelector: picks one route per flow among the routes of a (src, dst) pair.
//   Input:  a flow's 64-bit hash (FlowKey::hash()), its destination node and the candidate
//           routes (RouteTable::routes_to).
//   Output: the chosen route id, or nullopt when there is no candidate.
//   Choice: weighted rendezvous (highest-random-weight) hashing — each route scores
//           weight / -ln(u), u uniform in (0,1) from hash(flow, route id), highest wins — so a
//           flow's share follows the weights, and adding or removing one route only moves the
//           flows that route gains or loses. Weight 0 means "never", unless every weight is 0.
//   Pins:   the first choice of a flow is remembered in a bounded, set-associative pin table
//           (kWays entries per set, the least recently used one is replaced), and kept while the
//           pinned route is still a candidate — so a route reinstall that adds a route does not
//           move running flows; a flow whose pinned route disappears is re-chosen and re-pinned.
//           pin() sets a flow's route ahead of its first packet (a controller flow's route_id);
//           select() keeps it while it is a candidate, like any pin.
//   Knobs:  pin slots (rounded up to a power of two, at least kWays).
//   Counters: pin hits, re-pins (pinned route gone), evictions.
//   Thread: the processor's worker; no allocation after construction.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "nextmini/dataplane/route/route_table.hpp"

namespace nextmini::dataplane {

class FlowSelector {
 public:
  static constexpr std::size_t kDefaultPinSlots = 16384;
  static constexpr std::size_t kWays = 4;

  explicit FlowSelector(std::size_t pin_slots = kDefaultPinSlots);

  // The stateless choice: weighted rendezvous hashing over `choices`.
  static std::optional<RouteId> rendezvous(std::uint64_t flow_hash,
                                           std::span<const RouteChoice> choices) noexcept;

  // The pinned choice for the flow toward `dst` (pins it on first sight).
  std::optional<RouteId> select(std::uint64_t flow_hash, NodeId dst,
                                std::span<const RouteChoice> choices) noexcept;

  // Pins the flow toward `dst` to `route` (replacing its pin, or taking a slot like select()).
  void pin(std::uint64_t flow_hash, NodeId dst, RouteId route) noexcept;

  // Forgets every pin.
  void clear() noexcept;

  std::size_t slots() const noexcept { return slots_.size(); }
  std::size_t pinned() const noexcept;
  std::uint64_t pin_hits() const noexcept { return pin_hits_; }
  std::uint64_t repins() const noexcept { return repins_; }
  std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  struct Slot {
    std::uint64_t flow_hash = 0;
    NodeId dst = 0;  // 0: empty slot
    RouteId route = 0;
    std::uint64_t last_used = 0;
  };

  // The flow's slot, or the slot to replace (an empty one, else the least recently used).
  Slot* find_slot(std::uint64_t flow_hash, NodeId dst, bool& found) noexcept;

  std::vector<Slot> slots_;
  std::size_t set_mask_ = 0;
  std::uint64_t clock_ = 0;
  std::uint64_t pin_hits_ = 0;
  std::uint64_t repins_ = 0;
  std::uint64_t evictions_ = 0;
};

}  // namespace nextmini::dataplane
