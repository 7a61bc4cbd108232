#pragma once
// Route computation. build_routes() gives every ordered pair (src, dst), src != dst, its routes:
//   - explicit [[routes]] of the config for that pair (a path or a DAG), in config order;
//     every edge must be a topology edge, otherwise the config is refused (all such edges
//     listed);
//   - otherwise one shortest path by hop count. Ties are broken by lowest node id: at every
//     hop the next hop is the lowest-id neighbour one hop closer to the destination (so the
//     path is the lexicographically smallest shortest path, and routes toward one destination
//     form a tree).
// Pairs with neither are listed in `unreachable` ("no path from 3 to 7"); they are not fatal.
// Route ids are 1, 2, ... in (src, dst) order, explicit routes of a pair in config order.
// Per node, `entries(node)` is what InstallRoutes carries: for every route through the node,
// its next hops there, and deliver_local at the route's sink.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/config.hpp"
#include "nextmini/controller/topology.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

struct Route {
  RouteId route_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  std::uint32_t weight = 1;
  std::vector<std::pair<NodeId, NodeId>> edges;  // directed; a path's in hop order
  bool configured = false;                       // from [[routes]] rather than computed
};

class RoutePlan {
 public:
  RoutePlan() = default;
  RoutePlan(std::uint32_t n_nodes, std::vector<Route> routes,
            std::vector<std::pair<NodeId, NodeId>> unreachable);

  const std::vector<Route>& routes() const { return routes_; }
  // (src, dst) pairs without any route, in order.
  const std::vector<std::pair<NodeId, NodeId>>& unreachable() const { return unreachable_; }
  // "no path from 3 to 7", one per unreachable pair.
  std::vector<std::string> unreachable_messages() const;
  // This node's InstallRoutes entries, by route id, built on demand (a plan keeps only an index
  // of the routes through each node). Empty for an unknown node.
  std::vector<messages::RouteEntry> entries(NodeId node) const;
  // Only the entries of route `route_id` at this node (empty when the route does not pass it).
  std::vector<messages::RouteEntry> entries(NodeId node, RouteId route_id) const;
  // The route with this id, or nullptr.
  const Route* find(RouteId route_id) const;
  std::uint32_t n_nodes() const {
    return through_.empty() ? 0 : static_cast<std::uint32_t>(through_.size() - 1);
  }

 private:
  std::vector<Route> routes_;
  std::vector<std::pair<NodeId, NodeId>> unreachable_;
  std::vector<std::vector<std::uint32_t>> through_;  // index = node id; positions in routes_
};

// Shortest path (node sequence) from src to dst, or empty when there is none.
std::vector<NodeId> shortest_path(const Topology& topology, NodeId src, NodeId dst);

Result<RoutePlan> build_routes(const Config& config, const Topology& topology);

// Directed links (src, dst).
using DirectedLinks = std::set<std::pair<NodeId, NodeId>>;

// The routes of `base` (a build_routes() plan, every link up) with the directed links in `down`
// avoided: each computed (shortest-path) route is recomputed by the same rule on the remaining
// links and keeps its route id; a pair left without a path joins `unreachable`. Configured
// [[routes]] are kept as they are, even over a down link. reroute(base, topology, {}) == base.
RoutePlan reroute(const RoutePlan& base, const Topology& topology, const DirectedLinks& down);

// `plan` with route `route_id` replaced by `route`, added when new, or removed (nullopt); routes
// stay in route id order. The route's (src, dst) pair leaves `unreachable` when it gets a route
// and joins it when its last route goes. For routes written by other programs (the database).
RoutePlan with_route(const RoutePlan& plan, RouteId route_id, std::optional<Route> route);

// A plan of exactly `routes` for a topology of n_nodes nodes: every ordered pair (src != dst)
// without a route is unreachable. Routes are put in route id order.
RoutePlan plan_of_routes(std::uint32_t n_nodes, std::vector<Route> routes);

}  // namespace nextmini::controller
