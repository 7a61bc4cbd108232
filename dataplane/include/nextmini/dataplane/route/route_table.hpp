#pragma once
// RouteTable: an immutable snapshot of everything the processor needs to forward — the overlay
// address of every node, and the routes through this node — built off the data path from
// control messages and swapped into the Processor between batches (shared_ptr<const>).
//
// Unicast: (src, dst) -> candidate routes (route id, weight) used at the source to pick a route
// per flow by consistent hash; route id -> this node's next hops and whether it is the sink.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

using NodeId = messages::NodeId;
using RouteId = messages::RouteId;

struct RouteHop {
  std::vector<NodeId> next_hops;  // each gets a copy
  bool deliver_local = false;
};

struct RouteChoice {
  RouteId route_id = 0;
  std::uint32_t weight = 1;
};

class RouteTable {
 public:
  // Builds a snapshot for node `self`. `addresses` maps overlay IPv4 addresses (host order) to
  // node ids; `routes` are this node's entries from InstallRoutes (already merged if deltas).
  static Result<std::shared_ptr<const RouteTable>> build(
      NodeId self, const std::unordered_map<std::uint32_t, NodeId>& addresses,
      std::span<const messages::RouteEntry> routes, std::uint64_t version);

  NodeId self() const noexcept { return self_; }
  std::uint64_t version() const noexcept { return version_; }

  // Node owning an overlay IPv4 address (host byte order), if any.
  std::optional<NodeId> node_of_ipv4(std::uint32_t address) const noexcept;
  // Routes starting here toward dst (empty when none).
  std::span<const RouteChoice> routes_to(NodeId dst) const noexcept;
  // This node's part of a route, or nullptr when the route does not pass here.
  const RouteHop* hop(RouteId route) const noexcept;

 private:
  NodeId self_ = 0;
  std::uint64_t version_ = 0;
  std::unordered_map<std::uint32_t, NodeId> address_to_node_;
  std::unordered_map<NodeId, std::vector<RouteChoice>> routes_from_self_;
  std::unordered_map<RouteId, RouteHop> hops_;
};

}  // namespace nextmini::dataplane
