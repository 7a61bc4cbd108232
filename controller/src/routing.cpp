#include "nextmini/controller/routing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <map>

namespace nextmini::controller {

namespace {

constexpr std::uint32_t kUnreached = std::numeric_limits<std::uint32_t>::max();

const DirectedLinks kNoLinksDown;

// Hop distance of every node to `dst` (index = node id), over the directed links not in `down`.
std::vector<std::uint32_t> distances_to(const Topology& topology, NodeId dst,
                                        const DirectedLinks& down = kNoLinksDown) {
  std::vector<std::uint32_t> distance(topology.n_nodes() + 1, kUnreached);
  std::vector<NodeId> frontier{dst};
  distance[dst] = 0;
  for (std::size_t i = 0; i < frontier.size(); ++i) {
    const NodeId node = frontier[i];
    for (NodeId next : topology.neighbors(node)) {
      if (distance[next] != kUnreached || down.contains({next, node})) continue;
      distance[next] = distance[node] + 1;
      frontier.push_back(next);
    }
  }
  return distance;
}

// Walks from src to dst, at each hop taking the lowest-id neighbour one hop closer.
std::vector<NodeId> walk(const Topology& topology, const std::vector<std::uint32_t>& distance,
                         NodeId src, const DirectedLinks& down = kNoLinksDown) {
  if (distance[src] == kUnreached) return {};
  std::vector<NodeId> path{src};
  NodeId node = src;
  while (distance[node] != 0) {
    for (NodeId next : topology.neighbors(node)) {  // ascending
      if (distance[next] + 1 == distance[node] && !down.contains({node, next})) {
        node = next;
        break;
      }
    }
    path.push_back(node);
  }
  return path;
}

std::vector<std::pair<NodeId, NodeId>> path_edges(const std::vector<NodeId>& path) {
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (std::size_t i = 0; i + 1 < path.size(); ++i) edges.emplace_back(path[i], path[i + 1]);
  return edges;
}

}  // namespace

RoutePlan::RoutePlan(std::uint32_t n_nodes, std::vector<Route> routes,
                     std::vector<std::pair<NodeId, NodeId>> unreachable)
    : routes_(std::move(routes)), unreachable_(std::move(unreachable)), through_(n_nodes + 1) {
  std::vector<NodeId> nodes;
  for (std::uint32_t index = 0; index < routes_.size(); ++index) {
    const auto& route = routes_[index];
    nodes.clear();
    nodes.push_back(route.dst);
    for (const auto& edge : route.edges) nodes.push_back(edge.first);
    std::sort(nodes.begin(), nodes.end());
    nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
    for (NodeId node : nodes) {
      if (node < through_.size()) through_[node].push_back(index);
    }
  }
}

std::vector<std::string> RoutePlan::unreachable_messages() const {
  std::vector<std::string> messages;
  messages.reserve(unreachable_.size());
  for (const auto& [src, dst] : unreachable_) {
    messages.push_back(fmt::format("no path from {} to {}", src, dst));
  }
  return messages;
}

std::vector<messages::RouteEntry> RoutePlan::entries(NodeId node) const {
  std::vector<messages::RouteEntry> entries;
  if (node >= through_.size()) return entries;
  entries.reserve(through_[node].size());
  for (std::uint32_t index : through_[node]) {  // ascending, so by route id
    const auto& route = routes_[index];
    messages::RouteEntry entry;
    entry.route_id = route.route_id;
    entry.src = route.src;
    entry.dst = route.dst;
    entry.weight = route.weight;
    for (const auto& [from, to] : route.edges) {
      if (from == node) entry.next_hops.push_back(to);
    }
    std::sort(entry.next_hops.begin(), entry.next_hops.end());
    entry.deliver_local = node == route.dst;
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::vector<NodeId> shortest_path(const Topology& topology, NodeId src, NodeId dst) {
  if (!topology.has_node(src) || !topology.has_node(dst)) return {};
  return walk(topology, distances_to(topology, dst), src);
}

Result<RoutePlan> build_routes(const Config& config, const Topology& topology) {
  const std::uint32_t n = topology.n_nodes();
  if (config.routing_protocol != "shortest_path") {
    return fail("config.invalid",
                fmt::format(R"(routing.protocol: "{}" is not supported (only "shortest_path"))",
                            config.routing_protocol));
  }

  // Explicit routes by pair, checked against the topology.
  std::map<std::pair<NodeId, NodeId>, std::vector<const RouteConfig*>> configured;
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const auto& route = config.routes[i];
    bool valid = true;
    for (const auto& [a, b] : route.edges) {
      if (!topology.has_edge(a, b)) {
        errors.push_back(
            fmt::format("routes[{}].route: edge {} -> {} is not in the topology", i, a, b));
        valid = false;
      }
    }
    if (valid) configured[{route.src, route.dst}].push_back(&route);
  }
  if (!errors.empty()) {
    return fail("config.invalid", fmt::format("{}", fmt::join(errors, "\n")));
  }

  std::vector<Route> routes;
  std::vector<std::pair<NodeId, NodeId>> unreachable;
  // Computed paths toward each destination; index [dst][src].
  std::vector<std::vector<std::uint32_t>> distance(n + 1);
  for (NodeId dst = 1; dst <= n; ++dst) distance[dst] = distances_to(topology, dst);

  RouteId next_id = 1;
  for (NodeId src = 1; src <= n; ++src) {
    for (NodeId dst = 1; dst <= n; ++dst) {
      if (src == dst) continue;
      if (auto it = configured.find({src, dst}); it != configured.end()) {
        for (const RouteConfig* route : it->second) {
          routes.push_back(Route{next_id++, src, dst, route->weight, route->edges, true});
        }
        continue;
      }
      auto path = walk(topology, distance[dst], src);
      if (path.empty()) {
        unreachable.emplace_back(src, dst);
        continue;
      }
      routes.push_back(Route{next_id++, src, dst, 1, path_edges(path), false});
    }
  }
  return RoutePlan(n, std::move(routes), std::move(unreachable));
}

RoutePlan reroute(const RoutePlan& base, const Topology& topology, const DirectedLinks& down) {
  std::vector<Route> routes;
  routes.reserve(base.routes().size());
  std::vector<std::pair<NodeId, NodeId>> unreachable = base.unreachable();
  std::map<NodeId, std::vector<std::uint32_t>> distance;  // by destination, computed on demand
  for (const Route& route : base.routes()) {
    if (route.configured) {
      routes.push_back(route);
      continue;
    }
    auto [at, inserted] = distance.try_emplace(route.dst);
    if (inserted) at->second = distances_to(topology, route.dst, down);
    auto path = walk(topology, at->second, route.src, down);
    if (path.empty()) {
      unreachable.emplace_back(route.src, route.dst);
      continue;
    }
    Route rerouted = route;
    rerouted.edges = path_edges(path);
    routes.push_back(std::move(rerouted));
  }
  std::sort(unreachable.begin(), unreachable.end());
  return RoutePlan(topology.n_nodes(), std::move(routes), std::move(unreachable));
}

namespace {

bool by_route_id(const Route& a, const Route& b) { return a.route_id < b.route_id; }
bool id_below(const Route& route, RouteId id) { return route.route_id < id; }

}  // namespace

const Route* RoutePlan::find(RouteId route_id) const {
  auto it = std::lower_bound(routes_.begin(), routes_.end(), route_id, id_below);
  if (it != routes_.end() && it->route_id == route_id) return &*it;
  // Plans built by reroute() keep their base's order, which is by id too; a linear fallback
  // keeps this correct for any order.
  for (const Route& route : routes_) {
    if (route.route_id == route_id) return &route;
  }
  return nullptr;
}

std::vector<messages::RouteEntry> RoutePlan::entries(NodeId node, RouteId route_id) const {
  auto all = entries(node);
  std::erase_if(all, [&](const messages::RouteEntry& entry) { return entry.route_id != route_id; });
  return all;
}

RoutePlan with_route(const RoutePlan& plan, RouteId route_id, std::optional<Route> route) {
  std::vector<Route> routes = plan.routes();
  std::sort(routes.begin(), routes.end(), by_route_id);
  auto unreachable = plan.unreachable();
  auto it = std::lower_bound(routes.begin(), routes.end(), route_id, id_below);
  std::optional<std::pair<NodeId, NodeId>> old_pair;
  if (it != routes.end() && it->route_id == route_id) {
    old_pair.emplace(it->src, it->dst);
    it = routes.erase(it);
  }
  if (route) {
    route->route_id = route_id;
    std::erase(unreachable, std::pair<NodeId, NodeId>(route->src, route->dst));
    routes.insert(it, std::move(*route));
  }
  if (old_pair && std::none_of(routes.begin(), routes.end(), [&](const Route& other) {
        return other.src == old_pair->first && other.dst == old_pair->second;
      })) {
    unreachable.insert(std::lower_bound(unreachable.begin(), unreachable.end(), *old_pair),
                       *old_pair);
  }
  return RoutePlan(plan.n_nodes(), std::move(routes), std::move(unreachable));
}

RoutePlan plan_of_routes(std::uint32_t n_nodes, std::vector<Route> routes) {
  std::sort(routes.begin(), routes.end(), by_route_id);
  std::vector<std::pair<NodeId, NodeId>> covered;
  covered.reserve(routes.size());
  for (const Route& route : routes) covered.emplace_back(route.src, route.dst);
  std::sort(covered.begin(), covered.end());
  std::vector<std::pair<NodeId, NodeId>> unreachable;
  auto next = covered.begin();
  for (NodeId src = 1; src <= n_nodes; ++src) {
    for (NodeId dst = 1; dst <= n_nodes; ++dst) {
      if (src == dst) continue;
      const std::pair<NodeId, NodeId> pair(src, dst);
      while (next != covered.end() && *next < pair) ++next;
      if (next == covered.end() || *next != pair) unreachable.push_back(pair);
    }
  }
  return RoutePlan(n_nodes, std::move(routes), std::move(unreachable));
}

}  // namespace nextmini::controller
