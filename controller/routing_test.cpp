#include "nextmini/controller/routing.hpp"

#include <gtest/gtest.h>

#include <string>

namespace nextmini::controller {
namespace {

struct Built {
  Config config;
  Topology topology;
};

Built build(const std::string& toml) {
  auto config = parse_config(toml, "test.toml");
  EXPECT_TRUE(config.has_value()) << (config ? "" : config.error().message);
  if (!config) return {};
  auto topology = build_topology(*config);
  EXPECT_TRUE(topology.has_value());
  return {*config, topology ? *topology : Topology{}};
}

RoutePlan plan(const std::string& toml) {
  const Built built = build(toml);
  auto routes = build_routes(built.config, built.topology);
  EXPECT_TRUE(routes.has_value()) << (routes ? "" : routes.error().message);
  return routes ? *routes : RoutePlan{};
}

const Route* find_route(const RoutePlan& plan, NodeId src, NodeId dst) {
  for (const auto& route : plan.routes()) {
    if (route.src == src && route.dst == dst) return &route;
  }
  return nullptr;
}

using Edges = std::vector<std::pair<NodeId, NodeId>>;

const std::string kRing4 = "[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = 4\n";
const std::string kRing6 = "[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = 6\n";

TEST(RoutingTest, EveryOrderedPairOfARing) {
  const RoutePlan routes = plan(kRing6);
  EXPECT_EQ(routes.routes().size(), 30u);
  EXPECT_TRUE(routes.unreachable().empty());
  RouteId expected_id = 1;
  for (const auto& route : routes.routes()) {
    EXPECT_EQ(route.route_id, expected_id++);
    EXPECT_FALSE(route.configured);
    // Hop count on a 6-ring: min(|a - b|, 6 - |a - b|).
    const int diff = std::abs(static_cast<int>(route.src) - static_cast<int>(route.dst));
    EXPECT_EQ(route.edges.size(), static_cast<std::size_t>(std::min(diff, 6 - diff)))
        << route.src << " -> " << route.dst;
    EXPECT_EQ(route.edges.front().first, route.src);
    EXPECT_EQ(route.edges.back().second, route.dst);
  }
}

TEST(RoutingTest, TiesGoToTheLowestNodeId) {
  const RoutePlan routes = plan(kRing4);
  // 1 -> 3 has two 2-hop paths (via 2 or via 4): via 2.
  EXPECT_EQ(find_route(routes, 1, 3)->edges, (Edges{{1, 2}, {2, 3}}));
  // 2 -> 4: via 1 or via 3: via 1.
  EXPECT_EQ(find_route(routes, 2, 4)->edges, (Edges{{2, 1}, {1, 4}}));
  EXPECT_EQ(find_route(routes, 3, 1)->edges, (Edges{{3, 2}, {2, 1}}));
  EXPECT_EQ(shortest_path(build(kRing4).topology, 4, 2), (std::vector<NodeId>{4, 1, 2}));
}

TEST(RoutingTest, FatTreeHostToHostCrossesTheCore) {
  const RoutePlan routes =
      plan("[topology]\ntype = \"fat_tree\"\n[topology.fat_tree_config]\nk = 4\n");
  EXPECT_EQ(routes.routes().size(), 36u * 35u);
  EXPECT_TRUE(routes.unreachable().empty());
  // Host 21 (pod 0) to host 36 (pod 3): host-edge-agg-core-agg-edge-host = 6 hops.
  EXPECT_EQ(find_route(routes, 21, 36)->edges.size(), 6u);
  // Same edge switch: 2 hops.
  EXPECT_EQ(find_route(routes, 21, 22)->edges.size(), 2u);
  // Same pod, other edge switch: 4 hops.
  EXPECT_EQ(find_route(routes, 21, 23)->edges.size(), 4u);
}

TEST(RoutingTest, ExplicitPathReplacesTheShortestPath) {
  const RoutePlan routes = plan(kRing6 + "[[routes]]\nroute = [1, 6, 5, 4, 3]\n");
  const Route* route = find_route(routes, 1, 3);
  ASSERT_NE(route, nullptr);
  EXPECT_TRUE(route->configured);
  EXPECT_EQ(route->edges, (Edges{{1, 6}, {6, 5}, {5, 4}, {4, 3}}));
  EXPECT_EQ(routes.routes().size(), 30u);
  // The reverse direction keeps its shortest path.
  EXPECT_EQ(find_route(routes, 3, 1)->edges.size(), 2u);
  // Node 5 forwards route 1->3 to 4; node 3 delivers it; node 2 does not see it.
  std::vector<std::vector<messages::RouteEntry>> entries(7);
  for (NodeId node = 1; node <= 6; ++node) entries[node] = routes.entries(node);
  auto entry_at = [&](NodeId node) -> const messages::RouteEntry* {
    for (const auto& entry : entries[node]) {
      if (entry.route_id == route->route_id) return &entry;
    }
    return nullptr;
  };
  ASSERT_NE(entry_at(5), nullptr);
  EXPECT_EQ(entry_at(5)->next_hops, (std::vector<NodeId>{4}));
  EXPECT_FALSE(entry_at(5)->deliver_local);
  ASSERT_NE(entry_at(3), nullptr);
  EXPECT_TRUE(entry_at(3)->deliver_local);
  EXPECT_TRUE(entry_at(3)->next_hops.empty());
  EXPECT_EQ(entry_at(2), nullptr);
}

TEST(RoutingTest, DagRouteAndSeveralRoutesForOnePair) {
  const RoutePlan routes = plan(kRing4 +
                                "[[routes]]\nroute = [[1, 2], [2, 3], [1, 4], [4, 3]]\n"
                                "[[routes]]\nroute = [1, 2, 3]\nweight = 5\n");
  std::vector<const Route*> one_to_three;
  for (const auto& route : routes.routes()) {
    if (route.src == 1 && route.dst == 3) one_to_three.push_back(&route);
  }
  ASSERT_EQ(one_to_three.size(), 2u);
  EXPECT_EQ(one_to_three[0]->edges.size(), 4u);
  EXPECT_EQ(one_to_three[1]->weight, 5u);
  EXPECT_EQ(one_to_three[1]->route_id, one_to_three[0]->route_id + 1);
  // The DAG's source copies to both 2 and 4.
  const auto& source_entries = routes.entries(1);
  auto dag_entry = std::find_if(source_entries.begin(), source_entries.end(), [&](const auto& e) {
    return e.route_id == one_to_three[0]->route_id;
  });
  ASSERT_NE(dag_entry, source_entries.end());
  EXPECT_EQ(dag_entry->next_hops, (std::vector<NodeId>{2, 4}));
  EXPECT_EQ(dag_entry->src, 1u);
  EXPECT_EQ(dag_entry->dst, 3u);
}

TEST(RoutingTest, EveryRouteHasOneEntryPerNodeOnIt) {
  const RoutePlan routes = plan(kRing6);
  std::size_t total = 0;
  for (NodeId node = 1; node <= 6; ++node) {
    for (const auto& entry : routes.entries(node)) {
      ++total;
      EXPECT_EQ(entry.deliver_local, entry.dst == node);
      EXPECT_EQ(entry.next_hops.empty(), entry.dst == node);
    }
  }
  std::size_t expected = 0;
  for (const auto& route : routes.routes()) expected += route.edges.size() + 1;
  EXPECT_EQ(total, expected);
  EXPECT_TRUE(routes.entries(0).empty());
  EXPECT_TRUE(routes.entries(7).empty());
}

TEST(RoutingTest, ExplicitEdgeNotInTopologyIsAConfigError) {
  const Built built = build(kRing6 +
                            "[[routes]]\nroute = [1, 3]\n"
                            "[[routes]]\nroute = [1, 2]\n"
                            "[[routes]]\nroute = [[2, 5], [5, 6], [2, 6]]\n");
  auto routes = build_routes(built.config, built.topology);
  ASSERT_FALSE(routes.has_value());
  EXPECT_EQ(routes.error().code, "config.invalid");
  EXPECT_EQ(routes.error().message,
            "routes[0].route: edge 1 -> 3 is not in the topology\n"
            "routes[2].route: edge 2 -> 5 is not in the topology\n"
            "routes[2].route: edge 2 -> 6 is not in the topology");
}

TEST(RoutingTest, DisconnectedPairsAreListedOneByOne) {
  const RoutePlan routes =
      plan("[topology]\ntype = \"custom\"\nn_nodes = 4\nedges = [[1, 2], [3, 4]]\n");
  EXPECT_EQ(routes.routes().size(), 4u);
  EXPECT_EQ(
      routes.unreachable_messages(),
      (std::vector<std::string>{"no path from 1 to 3", "no path from 1 to 4", "no path from 2 to 3",
                                "no path from 2 to 4", "no path from 3 to 1", "no path from 3 to 2",
                                "no path from 4 to 1", "no path from 4 to 2"}));
}

TEST(RerouteTest, NoDownLinksGivesTheBasePlan) {
  const Built built = build(kRing4);
  const RoutePlan base = *build_routes(built.config, built.topology);
  const RoutePlan same = reroute(base, built.topology, {});
  ASSERT_EQ(same.routes().size(), base.routes().size());
  for (std::size_t i = 0; i < base.routes().size(); ++i) {
    EXPECT_EQ(same.routes()[i].route_id, base.routes()[i].route_id);
    EXPECT_EQ(same.routes()[i].edges, base.routes()[i].edges);
  }
}

TEST(RerouteTest, AvoidsADownDirectedLinkAndKeepsRouteIds) {
  const Built built = build(kRing4);
  const RoutePlan base = *build_routes(built.config, built.topology);
  const RoutePlan rerouted = reroute(base, built.topology, {{1, 2}});
  ASSERT_EQ(rerouted.routes().size(), base.routes().size());
  const Route* one_two = find_route(rerouted, 1, 2);
  ASSERT_NE(one_two, nullptr);
  EXPECT_EQ(one_two->route_id, find_route(base, 1, 2)->route_id);
  EXPECT_EQ(one_two->edges, (Edges{{1, 4}, {4, 3}, {3, 2}}));
  // 1 -> 3 went via 2; now via 4. The other direction (2 -> 1) is still direct.
  EXPECT_EQ(find_route(rerouted, 1, 3)->edges, (Edges{{1, 4}, {4, 3}}));
  EXPECT_EQ(find_route(rerouted, 2, 1)->edges, (Edges{{2, 1}}));
  for (const auto& route : rerouted.routes()) {
    for (const auto& edge : route.edges) EXPECT_NE(edge, (std::pair<NodeId, NodeId>{1, 2}));
  }
  EXPECT_TRUE(rerouted.unreachable().empty());
}

TEST(RerouteTest, CutOffPairsBecomeUnreachable) {
  const Built built = build(kRing4);
  const RoutePlan base = *build_routes(built.config, built.topology);
  const RoutePlan rerouted = reroute(base, built.topology, {{1, 2}, {1, 4}});
  EXPECT_EQ(rerouted.unreachable(), (Edges{{1, 2}, {1, 3}, {1, 4}}));
  EXPECT_EQ(find_route(rerouted, 1, 3), nullptr);
  EXPECT_NE(find_route(rerouted, 3, 1), nullptr);  // into node 1 still works
  EXPECT_TRUE(rerouted.entries(1).size() < base.entries(1).size());
}

TEST(RerouteTest, ConfiguredRoutesStayAsConfigured) {
  const Built built = build(kRing4 + "[[routes]]\nroute = [1, 2, 3]\n");
  const RoutePlan base = *build_routes(built.config, built.topology);
  const RoutePlan rerouted = reroute(base, built.topology, {{1, 2}});
  const Route* configured = find_route(rerouted, 1, 3);
  ASSERT_NE(configured, nullptr);
  EXPECT_TRUE(configured->configured);
  EXPECT_EQ(configured->edges, (Edges{{1, 2}, {2, 3}}));
}

// Routes written by other programs (the database): one replaced, removed, added.
TEST(RoutingTest, WithRouteReplacesRemovesAndAddsOneRoute) {
  const RoutePlan base = plan(kRing4);
  const Route* one_three = find_route(base, 1, 3);
  ASSERT_NE(one_three, nullptr);
  const RouteId id = one_three->route_id;

  Route moved{id, 1, 3, 1, {{1, 4}, {4, 3}}, true};
  const RoutePlan replaced = with_route(base, id, moved);
  ASSERT_NE(replaced.find(id), nullptr);
  EXPECT_EQ(replaced.find(id)->edges, (Edges{{1, 4}, {4, 3}}));
  EXPECT_EQ(replaced.routes().size(), base.routes().size());
  EXPECT_TRUE(replaced.entries(2, id).empty());  // node 2 is off the new path
  EXPECT_EQ(replaced.entries(4, id).size(), 1u);
  EXPECT_EQ(replaced.entries(1, id).size(), 1u);

  const RoutePlan removed = with_route(replaced, id, std::nullopt);
  EXPECT_EQ(removed.find(id), nullptr);
  EXPECT_EQ(removed.unreachable(), (Edges{{1, 3}}));
  EXPECT_EQ(removed.unreachable_messages(), (std::vector<std::string>{"no path from 1 to 3"}));

  const RoutePlan added = with_route(removed, 500, Route{0, 1, 3, 1, {{1, 2}, {2, 3}}, true});
  ASSERT_NE(added.find(500), nullptr);
  EXPECT_EQ(added.find(500)->route_id, 500u);
  EXPECT_TRUE(added.unreachable().empty());
  EXPECT_EQ(added.routes().back().route_id, 500u);  // kept in route id order
}

TEST(RoutingTest, PlanOfRoutesMarksPairsWithoutARouteUnreachable) {
  const RoutePlan only =
      plan_of_routes(3, {Route{7, 1, 2, 1, {{1, 2}}, true}, Route{3, 2, 1, 1, {{2, 1}}, true}});
  ASSERT_EQ(only.routes().size(), 2u);
  EXPECT_EQ(only.routes()[0].route_id, 3u);
  EXPECT_EQ(only.unreachable(), (Edges{{1, 3}, {2, 3}, {3, 1}, {3, 2}}));
  EXPECT_EQ(only.n_nodes(), 3u);
}

}  // namespace
}  // namespace nextmini::controller
