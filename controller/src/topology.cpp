#include "nextmini/controller/topology.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace nextmini::controller {

namespace {

std::vector<std::pair<NodeId, NodeId>> full_mesh_edges(std::uint32_t n) {
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (NodeId a = 1; a <= n; ++a) {
    for (NodeId b = a + 1; b <= n; ++b) edges.emplace_back(a, b);
  }
  return edges;
}

std::vector<std::pair<NodeId, NodeId>> ring_edges(std::uint32_t n) {
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (NodeId a = 1; a < n; ++a) edges.emplace_back(a, a + 1);
  if (n >= 3) edges.emplace_back(1, n);
  return edges;
}

std::vector<std::pair<NodeId, NodeId>> fat_tree_edges(std::uint32_t k) {
  const std::uint32_t half = k / 2;
  const NodeId first_pod = 1 + half * half;
  const NodeId first_host = first_pod + k * k;
  auto aggregation = [&](std::uint32_t pod, std::uint32_t i) { return first_pod + pod * k + i; };
  auto edge_switch = [&](std::uint32_t pod, std::uint32_t i) {
    return first_pod + pod * k + half + i;
  };
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (std::uint32_t pod = 0; pod < k; ++pod) {
    // Core switch (group g, member m) = 1 + g * k/2 + m links to aggregation switch g of each pod.
    for (std::uint32_t g = 0; g < half; ++g) {
      for (std::uint32_t m = 0; m < half; ++m) {
        edges.emplace_back(1 + g * half + m, aggregation(pod, g));
      }
    }
    for (std::uint32_t a = 0; a < half; ++a) {
      for (std::uint32_t e = 0; e < half; ++e) {
        edges.emplace_back(aggregation(pod, a), edge_switch(pod, e));
      }
    }
    for (std::uint32_t e = 0; e < half; ++e) {
      for (std::uint32_t h = 0; h < half; ++h) {
        edges.emplace_back(edge_switch(pod, e), first_host + (pod * half + e) * half + h);
      }
    }
  }
  return edges;
}

std::vector<std::pair<NodeId, NodeId>> torus_edges(std::uint32_t dim, std::uint32_t n) {
  std::uint32_t count = 1;
  for (std::uint32_t d = 0; d < dim; ++d) count *= n;
  std::vector<std::pair<NodeId, NodeId>> edges;
  for (std::uint32_t index = 0; index < count; ++index) {
    std::uint32_t stride = 1;
    for (std::uint32_t d = 0; d < dim; ++d) {
      const std::uint32_t x = (index / stride) % n;
      const std::uint32_t next = index - x * stride + ((x + 1) % n) * stride;
      edges.emplace_back(1 + index, 1 + next);
      stride *= n;
    }
  }
  return edges;
}

}  // namespace

Topology::Topology(std::uint32_t n_nodes, std::vector<std::pair<NodeId, NodeId>> edges)
    : n_nodes_(n_nodes), adjacency_(n_nodes + 1) {
  for (auto& edge : edges) {
    if (edge.first > edge.second) std::swap(edge.first, edge.second);
  }
  std::sort(edges.begin(), edges.end());
  edges.erase(std::unique(edges.begin(), edges.end()), edges.end());
  for (const auto& [a, b] : edges) {
    if (a == b || !has_node(a) || !has_node(b)) continue;
    edges_.emplace_back(a, b);
    adjacency_[a].push_back(b);
    adjacency_[b].push_back(a);
  }
  for (auto& list : adjacency_) std::sort(list.begin(), list.end());
}

const std::vector<NodeId>& Topology::neighbors(NodeId id) const {
  static const std::vector<NodeId> kNone;
  return has_node(id) ? adjacency_[id] : kNone;
}

bool Topology::has_edge(NodeId a, NodeId b) const {
  const auto& list = neighbors(a);
  return std::binary_search(list.begin(), list.end(), b);
}

Result<Topology> build_topology(const Config& config) {
  const auto& topology = config.topology;
  const std::uint32_t n = config.n_nodes();
  if (n == 0 || n > kMaxNodes) {
    return fail("config.invalid",
                fmt::format("topology: {} nodes is not between 1 and {}", n, kMaxNodes));
  }
  switch (topology.type) {
    case TopologyType::kFullMesh:
      return Topology(n, full_mesh_edges(n));
    case TopologyType::kRing:
      return Topology(n, ring_edges(n));
    case TopologyType::kFatTree:
      if (topology.k < 2 || topology.k % 2 != 0) {
        return fail(
            "config.invalid",
            fmt::format("topology.fat_tree_config.k: {} is not an even integer >= 2", topology.k));
      }
      return Topology(n, fat_tree_edges(topology.k));
    case TopologyType::kTorus:
      if (topology.n < 2) {
        return fail(
            "config.invalid",
            fmt::format("topology.torus_config.n: {} is not an integer of at least 2", topology.n));
      }
      return Topology(n, torus_edges(topology.dim, topology.n));
    case TopologyType::kCustom:
      for (const auto& [a, b] : topology.edges) {
        if (a < 1 || b < 1 || a > n || b > n) {
          return fail("config.invalid",
                      fmt::format("topology.edges: [{}, {}] is outside nodes 1..{}", a, b, n));
        }
      }
      return Topology(n, topology.edges);
  }
  return fail("config.invalid", "topology.type: unknown");
}

}  // namespace nextmini::controller
