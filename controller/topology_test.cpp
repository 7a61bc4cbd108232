#include "nextmini/controller/topology.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace nextmini::controller {
namespace {

Topology build(const std::string& toml) {
  auto config = parse_config(toml, "test.toml");
  EXPECT_TRUE(config.has_value()) << (config ? "" : config.error().message);
  if (!config) return {};
  auto topology = build_topology(*config);
  EXPECT_TRUE(topology.has_value()) << (topology ? "" : topology.error().message);
  return topology ? *topology : Topology{};
}

// Number of nodes having each degree.
std::map<std::size_t, std::uint32_t> degree_histogram(const Topology& topology) {
  std::map<std::size_t, std::uint32_t> histogram;
  for (NodeId id = 1; id <= topology.n_nodes(); ++id) ++histogram[topology.neighbors(id).size()];
  return histogram;
}

void expect_canonical(const Topology& topology) {
  for (std::size_t i = 0; i < topology.edges().size(); ++i) {
    const auto& [a, b] = topology.edges()[i];
    EXPECT_LT(a, b);
    EXPECT_GE(a, 1u);
    EXPECT_LE(b, topology.n_nodes());
    if (i > 0) {
      EXPECT_LT(topology.edges()[i - 1], topology.edges()[i]);
    }
  }
}

TEST(TopologyTest, Ring) {
  const Topology ring = build("[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = 6\n");
  EXPECT_EQ(ring.n_nodes(), 6u);
  EXPECT_EQ(ring.edges().size(), 6u);
  EXPECT_EQ(degree_histogram(ring), (std::map<std::size_t, std::uint32_t>{{2, 6}}));
  EXPECT_TRUE(ring.has_edge(1, 6));
  EXPECT_TRUE(ring.has_edge(6, 1));
  EXPECT_FALSE(ring.has_edge(1, 3));
  EXPECT_EQ(ring.neighbors(1), (std::vector<NodeId>{2, 6}));
  expect_canonical(ring);
}

TEST(TopologyTest, SmallRingsHaveNoDuplicateEdges) {
  const Topology two = build("[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = 2\n");
  EXPECT_EQ(two.edges().size(), 1u);
  const Topology one = build("[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = 1\n");
  EXPECT_EQ(one.n_nodes(), 1u);
  EXPECT_TRUE(one.edges().empty());
}

TEST(TopologyTest, FullMesh) {
  const Topology mesh =
      build("[topology]\ntype = \"full_mesh\"\n[topology.full_mesh_config]\nn_nodes = 5\n");
  EXPECT_EQ(mesh.n_nodes(), 5u);
  EXPECT_EQ(mesh.edges().size(), 10u);
  EXPECT_EQ(degree_histogram(mesh), (std::map<std::size_t, std::uint32_t>{{4, 5}}));
  expect_canonical(mesh);
}

TEST(TopologyTest, FatTreeK4) {
  const Topology tree =
      build("[topology]\ntype = \"fat_tree\"\n[topology.fat_tree_config]\nk = 4\n");
  // 4 core + 4 pods x (2 aggregation + 2 edge) + 16 hosts.
  EXPECT_EQ(tree.n_nodes(), 36u);
  // core-aggregation 16, aggregation-edge 16, edge-host 16.
  EXPECT_EQ(tree.edges().size(), 48u);
  // Switches have degree k = 4, hosts degree 1.
  EXPECT_EQ(degree_histogram(tree), (std::map<std::size_t, std::uint32_t>{{1, 16}, {4, 20}}));
  // Numbering: core 1..4; pod 0 aggregation 5, 6 and edge 7, 8; hosts from 21.
  EXPECT_EQ(tree.neighbors(1), (std::vector<NodeId>{5, 9, 13, 17}));
  EXPECT_EQ(tree.neighbors(3), (std::vector<NodeId>{6, 10, 14, 18}));
  EXPECT_EQ(tree.neighbors(5), (std::vector<NodeId>{1, 2, 7, 8}));
  EXPECT_EQ(tree.neighbors(7), (std::vector<NodeId>{5, 6, 21, 22}));
  EXPECT_EQ(tree.neighbors(21), (std::vector<NodeId>{7}));
  EXPECT_EQ(tree.neighbors(36), (std::vector<NodeId>{20}));
  expect_canonical(tree);
}

TEST(TopologyTest, Torus2By3) {
  const Topology torus =
      build("[topology]\ntype = \"torus\"\n[topology.torus_config]\ndim = 2\nn = 3\n");
  EXPECT_EQ(torus.n_nodes(), 9u);
  EXPECT_EQ(torus.edges().size(), 18u);
  EXPECT_EQ(degree_histogram(torus), (std::map<std::size_t, std::uint32_t>{{4, 9}}));
  // id = 1 + x + 3y: node 1 (0,0) neighbours (1,0)=2, (2,0)=3, (0,1)=4, (0,2)=7.
  EXPECT_EQ(torus.neighbors(1), (std::vector<NodeId>{2, 3, 4, 7}));
  expect_canonical(torus);
}

TEST(TopologyTest, TorusWithTwoPerDimensionIsAHypercube) {
  const Topology cube =
      build("[topology]\ntype = \"torus\"\n[topology.torus_config]\ndim = 3\nn = 2\n");
  EXPECT_EQ(cube.n_nodes(), 8u);
  EXPECT_EQ(cube.edges().size(), 12u);
  EXPECT_EQ(degree_histogram(cube), (std::map<std::size_t, std::uint32_t>{{3, 8}}));
}

TEST(TopologyTest, CustomEdgesAreCanonicalised) {
  const Topology custom =
      build("[topology]\ntype = \"custom\"\nn_nodes = 5\nedges = [[3, 1], [2, 1], [4, 3]]\n");
  EXPECT_EQ(custom.n_nodes(), 5u);
  EXPECT_EQ(custom.edges(), (std::vector<std::pair<NodeId, NodeId>>{{1, 2}, {1, 3}, {3, 4}}));
  EXPECT_TRUE(custom.neighbors(5).empty());
  EXPECT_TRUE(custom.neighbors(99).empty());
}

TEST(TopologyTest, RefusesAnInvalidHandBuiltConfig) {
  Config config;
  config.topology.type = TopologyType::kRing;
  config.topology.n_nodes = 0;
  auto topology = build_topology(config);
  ASSERT_FALSE(topology.has_value());
  EXPECT_EQ(topology.error().message, "topology: 0 nodes is not between 1 and 10000");
}

}  // namespace
}  // namespace nextmini::controller
