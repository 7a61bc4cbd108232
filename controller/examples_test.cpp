// Every config in examples/ parses, builds its topology and routes, and reaches every pair.

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "nextmini/controller/config.hpp"
#include "nextmini/controller/flow_config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"

namespace nextmini::controller {
namespace {

struct Expected {
  std::uint32_t nodes;
  std::size_t edges;
  std::size_t routes;
};

TEST(ExamplesTest, EveryExampleIsAValidNetwork) {
  const std::map<std::string, Expected> expected = {
      {"ring4.toml", {4, 4, 12}},        {"full_mesh.toml", {5, 10, 20}},
      {"fat_tree.toml", {36, 48, 1260}}, {"torus.toml", {9, 18, 72}},
      {"custom_edges.toml", {6, 7, 30}}, {"explicit_routes.toml", {4, 4, 13}},
      {"secured.toml", {3, 3, 6}},       {"flows.toml", {4, 4, 13}},
  };
  std::size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(NEXTMINI_EXAMPLES_DIR)) {
    if (entry.path().extension() != ".toml") continue;
    const std::string name = entry.path().filename().string();
    SCOPED_TRACE(name);
    auto config = load_config_file(entry.path().string());
    ASSERT_TRUE(config.has_value()) << config.error().message;
    auto topology = build_topology(*config);
    ASSERT_TRUE(topology.has_value()) << topology.error().message;
    auto routes = build_routes(*config, *topology);
    ASSERT_TRUE(routes.has_value()) << routes.error().message;
    EXPECT_TRUE(routes->unreachable().empty());
    EXPECT_TRUE(check_flow_routes(*config, *routes).empty());
    auto it = expected.find(name);
    if (it == expected.end()) continue;  // a new example: valid is enough
    ++seen;
    EXPECT_EQ(topology->n_nodes(), it->second.nodes);
    EXPECT_EQ(topology->edges().size(), it->second.edges);
    EXPECT_EQ(routes->routes().size(), it->second.routes);
  }
  EXPECT_EQ(seen, expected.size());
}

}  // namespace
}  // namespace nextmini::controller
