#pragma once
// Topology: the node set (ids 1..n_nodes) and undirected edges a Config describes.
// Presets (numbering documented in docs/config.md):
//   full_mesh  every pair connected;  ring  i -- i+1 and n -- 1;
//   fat_tree   standard k-ary fat tree: (k/2)^2 core, k pods of k/2 aggregation + k/2 edge
//              switches, k^3/4 hosts; numbered core, then pod by pod (aggregation, edge), then
//              hosts;
//   torus      dim dimensions of n nodes each, wrap-around; id = 1 + sum(x_d * n^d);
//   custom     the configured edges.
// Edges are stored once, lower id first, sorted.

#include <cstdint>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/controller/config.hpp"

namespace nextmini::controller {

class Topology {
 public:
  Topology() = default;
  // Takes edges in any order or direction; drops duplicates and self-loops.
  Topology(std::uint32_t n_nodes, std::vector<std::pair<NodeId, NodeId>> edges);

  std::uint32_t n_nodes() const { return n_nodes_; }
  // Undirected, each once, lower id first, sorted.
  const std::vector<std::pair<NodeId, NodeId>>& edges() const { return edges_; }
  // Neighbours of `id`, ascending. Empty for an unknown id.
  const std::vector<NodeId>& neighbors(NodeId id) const;
  bool has_edge(NodeId a, NodeId b) const;
  bool has_node(NodeId id) const { return id >= 1 && id <= n_nodes_; }

 private:
  std::uint32_t n_nodes_ = 0;
  std::vector<std::pair<NodeId, NodeId>> edges_;
  std::vector<std::vector<NodeId>> adjacency_;  // index = node id (0 unused)
};

// Builds the topology of a parsed config. Fails ("config.invalid") only on a config that
// parse_config() would have refused.
Result<Topology> build_topology(const Config& config);

}  // namespace nextmini::controller
