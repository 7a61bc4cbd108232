// Several Processors in one process, wired by in-memory links (queued Wires) and fake TUN sinks:
// a 4-node ring 1-2-3-4-1 with shortest-path routes, explicit longer routes, a DAG route whose
// hops each get a copy, equal-cost routes chosen per flow, and a routing loop that the hop limit
// ends. Every test ends with no packet buffer in use in any node's pool.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "nextmini/dataplane/core/ip_ttl.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/node/processor.hpp"
#include "processor_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using messages::RouteEntry;
using testing::CollectSink;
using testing::make_udp;
using testing::node_ip;
using testing::Wire;

constexpr NodeId kNodes = 4;

// One route: either a path (each node forwards to the next) or a DAG given as edges.
struct RouteSpec {
  RouteId id;
  std::vector<std::pair<NodeId, NodeId>> edges;  // from -> to
  NodeId src;
  NodeId dst;
  std::uint32_t weight = 1;
};

RouteSpec path(RouteId id, std::vector<NodeId> nodes, std::uint32_t weight = 1) {
  RouteSpec spec{id, {}, nodes.front(), nodes.back(), weight};
  for (std::size_t i = 0; i + 1 < nodes.size(); ++i)
    spec.edges.emplace_back(nodes[i], nodes[i + 1]);
  return spec;
}

class Ring : public ::testing::Test {
 protected:
  struct Node {
    explicit Node(NodeId id) : pool(256, 2048), processor({id, 32}, pool) {}
    PacketPool pool;
    Processor processor;
    CollectSink tun;
  };

  Ring() {
    for (NodeId n = 1; n <= kNodes; ++n) nodes_.push_back(std::make_unique<Node>(n));
    for (NodeId n = 1; n <= kNodes; ++n) {
      node(n).processor.attach_local(&node(n).tun);
      connect(n, n % kNodes + 1);
    }
  }

  ~Ring() override {
    for (auto& wire : wires_) wire.second->drop_all();
    for (auto& n : nodes_) n->tun.clear();
    for (NodeId n = 1; n <= kNodes; ++n) {
      EXPECT_EQ(node(n).pool.in_use(), 0u) << "node " << n << " leaked a packet buffer";
    }
  }

  Node& node(NodeId n) { return *nodes_[n - 1]; }
  Wire& wire(NodeId from, NodeId to) { return *wires_.at({from, to}); }

  // A bidirectional link between a and b.
  void connect(NodeId a, NodeId b) {
    for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
      auto wire = std::make_unique<Wire>(from, node(to).processor);
      node(from).processor.attach_link(to, wire.get());
      wires_[{from, to}] = std::move(wire);
    }
  }

  // Installs `routes` on every node (what InstallRoutes would carry to each).
  void install(const std::vector<RouteSpec>& routes) {
    std::unordered_map<std::uint32_t, NodeId> addresses;
    for (NodeId n = 1; n <= kNodes; ++n) addresses[node_ip(n)] = n;
    for (NodeId n = 1; n <= kNodes; ++n) {
      std::vector<RouteEntry> entries;
      for (const RouteSpec& spec : routes) {
        RouteEntry entry;
        entry.route_id = spec.id;
        entry.src = spec.src;
        entry.dst = spec.dst;
        entry.weight = spec.weight;
        bool on_route = spec.dst == n;
        for (const auto& [from, to] : spec.edges) {
          if (from == n) {
            entry.next_hops.push_back(to);
            on_route = true;
          }
        }
        entry.deliver_local = spec.dst == n;
        if (on_route) entries.push_back(entry);
      }
      auto table = RouteTable::build(n, addresses, entries, 1);
      ASSERT_TRUE(table) << table.error().message;
      node(n).processor.set_routes(*table);
    }
  }

  // Shortest paths around the ring (two-hop pairs go clockwise), route id = 10 * src + dst.
  void install_shortest_paths() {
    std::vector<RouteSpec> routes;
    for (NodeId s = 1; s <= kNodes; ++s) {
      for (NodeId d = 1; d <= kNodes; ++d) {
        if (s == d) continue;
        std::vector<NodeId> nodes = {s};
        const NodeId clockwise = (d + kNodes - s) % kNodes;
        for (NodeId step = 1; step <= (clockwise == 3 ? 1 : clockwise); ++step) {
          nodes.push_back(clockwise == 3 ? d : (s + step - 1) % kNodes + 1);
        }
        routes.push_back(path(10 * s + d, nodes));
      }
    }
    install(routes);
  }

  void send(NodeId from, Packet packet) {
    PacketBatch batch;
    batch.push(std::move(packet));
    node(from).processor.process_local(batch);
  }

  // Moves queued packets across every wire until the network is quiet.
  void run() {
    for (int round = 0; round < 1000; ++round) {
      std::size_t moved = 0;
      for (auto& w : wires_) moved += w.second->pump();
      if (moved == 0) return;
    }
    FAIL() << "network did not go quiet";
  }

  std::uint64_t tx(NodeId from, NodeId to) {
    const LinkStats* stats = node(from).processor.link_stats(to);
    return stats == nullptr ? 0 : stats->tx_packets;
  }
  std::uint64_t rx(NodeId at, NodeId from) {
    const LinkStats* stats = node(at).processor.link_stats(from);
    return stats == nullptr ? 0 : stats->rx_packets;
  }
  std::uint64_t drops(DropReason reason) {
    std::uint64_t total = 0;
    for (auto& n : nodes_) total += n->processor.drops()[reason];
    return total;
  }

  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::pair<NodeId, NodeId>, std::unique_ptr<Wire>> wires_;
};

// `sent` as it arrives after `routers` routers (the source node and every transit node): TTL - 1
// at each (ip_ttl.hpp), the rest untouched.
std::vector<std::uint8_t> as_routed(std::vector<std::uint8_t> sent, int routers) {
  for (int i = 0; i < routers; ++i) decrement_ip_ttl(sent);
  return sent;
}

TEST_F(Ring, EveryPairReachesEveryOtherIntact) {
  install_shortest_paths();
  std::map<NodeId, std::vector<std::vector<std::uint8_t>>> expected;
  for (NodeId s = 1; s <= kNodes; ++s) {
    for (NodeId d = 1; d <= kNodes; ++d) {
      if (s == d) continue;
      Packet packet = make_udp(node(s).pool, node_ip(s), node_ip(d), static_cast<std::uint16_t>(s),
                               static_cast<std::uint16_t>(d), 200 + 10 * s + d,
                               static_cast<std::uint8_t>(s * 16 + d));
      // Shortest paths on the ring: a node two hops away is reached through one transit node;
      // every node that forwards (the source too) is a router.
      const int distance = std::min<int>((s + kNodes - d) % kNodes, (d + kNodes - s) % kNodes);
      expected[d].push_back(as_routed(testing::bytes_of(packet), distance));
      send(s, std::move(packet));
    }
  }
  run();
  for (NodeId d = 1; d <= kNodes; ++d) {
    std::vector<std::vector<std::uint8_t>> got;
    for (const Packet& p : node(d).tun.packets) got.push_back(testing::bytes_of(p));
    std::sort(got.begin(), got.end());
    std::sort(expected[d].begin(), expected[d].end());
    EXPECT_EQ(got, expected[d]) << "node " << d;
  }
  EXPECT_EQ(drops(DropReason::kNoRoute) + drops(DropReason::kLinkDown), 0u);
}

TEST_F(Ring, TwoHopPathIsCountedOnEveryLinkItCrosses) {
  install_shortest_paths();
  for (int i = 0; i < 5; ++i)
    send(1, make_udp(node(1).pool, node_ip(1), node_ip(3), 9000, 80, 500));
  run();
  ASSERT_EQ(node(3).tun.packets.size(), 5u);
  EXPECT_EQ(tx(1, 2), 5u);
  EXPECT_EQ(rx(2, 1), 5u);
  EXPECT_EQ(tx(2, 3), 5u);
  EXPECT_EQ(rx(3, 2), 5u);
  EXPECT_EQ(tx(1, 4), 0u);
  EXPECT_EQ(node(2).processor.flows().size(), 0u);  // transit nodes do not count flows
  ASSERT_EQ(node(1).processor.flows().size(), 1u);
  ASSERT_EQ(node(3).processor.flows().size(), 1u);
  EXPECT_EQ(node(1).processor.flows().begin()->second.packets, 5u);
  EXPECT_EQ(node(3).processor.flows().begin()->second.bytes, 5u * 528);
  EXPECT_EQ(node(3).processor.flows().begin()->second.src, 1u);
}

TEST_F(Ring, ExplicitLongerRouteTakesTheLongWay) {
  install({path(1, {1, 4, 3}), path(2, {3, 2, 1})});
  send(1, make_udp(node(1).pool, node_ip(1), node_ip(3), 1, 2, 100));
  send(3, make_udp(node(3).pool, node_ip(3), node_ip(1), 2, 1, 100));
  run();
  EXPECT_EQ(node(3).tun.packets.size(), 1u);
  EXPECT_EQ(node(1).tun.packets.size(), 1u);
  EXPECT_EQ(tx(1, 4), 1u);
  EXPECT_EQ(tx(4, 3), 1u);
  EXPECT_EQ(tx(1, 2), 0u);
  EXPECT_EQ(tx(3, 2), 1u);
  EXPECT_EQ(tx(2, 1), 1u);
}

TEST_F(Ring, DagRouteSendsACopyAlongEveryBranch) {
  RouteSpec dag{7, {{1, 2}, {2, 3}, {1, 4}, {4, 3}}, 1, 3};
  install({dag});
  Packet packet = make_udp(node(1).pool, node_ip(1), node_ip(3), 1, 2, 900, 0x3c);
  const auto original = testing::bytes_of(packet);
  send(1, std::move(packet));
  run();
  ASSERT_EQ(node(3).tun.packets.size(), 2u);
  for (const Packet& p : node(3).tun.packets)
    EXPECT_EQ(testing::bytes_of(p), as_routed(original, 2));
  EXPECT_EQ(tx(1, 2), 1u);
  EXPECT_EQ(tx(1, 4), 1u);
  EXPECT_EQ(node(1).pool.peak_in_use(), 2u);  // one copy made at the fork, none elsewhere
}

TEST_F(Ring, EqualCostRoutesSplitFlowsAndKeepEachFlowOnOnePath) {
  install({path(1, {1, 2, 3}), path(2, {1, 4, 3})});
  for (int round = 0; round < 3; ++round) {
    for (std::uint16_t port = 1; port <= 60; ++port) {
      send(1, make_udp(node(1).pool, node_ip(1), node_ip(3), port, 80, 64));
    }
    run();
  }
  EXPECT_EQ(node(3).tun.packets.size(), 180u);
  EXPECT_EQ(tx(1, 2) + tx(1, 4), 180u);
  EXPECT_GT(tx(1, 2), 30u);
  EXPECT_GT(tx(1, 4), 30u);
  // Each flow's packets all arrived over the same neighbour.
  std::map<std::uint16_t, std::set<NodeId>> via;
  for (const Packet& p : node(3).tun.packets) {
    via[static_cast<std::uint16_t>((p.data()[20] << 8) | p.data()[21])].insert(
        p.meta().ingress_neighbor);
  }
  ASSERT_EQ(via.size(), 60u);
  for (const auto& [port, neighbours] : via) EXPECT_EQ(neighbours.size(), 1u) << "port " << port;
}

TEST_F(Ring, HopLimitEndsARoutingLoop) {
  // Route 5 (1 -> 3) is misconfigured into a cycle: nobody delivers, everyone forwards.
  std::unordered_map<std::uint32_t, NodeId> addresses;
  for (NodeId n = 1; n <= kNodes; ++n) addresses[node_ip(n)] = n;
  for (NodeId n = 1; n <= kNodes; ++n) {
    RouteEntry entry;
    entry.route_id = 5;
    entry.src = 1;
    entry.dst = 3;
    entry.next_hops = {n % kNodes + 1};
    auto table = RouteTable::build(n, addresses, std::vector<RouteEntry>{entry}, 1);
    ASSERT_TRUE(table);
    node(n).processor.set_routes(*table);
  }
  send(1, make_udp(node(1).pool, node_ip(1), node_ip(3), 1, 2, 64));
  run();
  EXPECT_EQ(drops(DropReason::kHopLimit), 1u);
  std::uint64_t transmissions = 0;
  for (NodeId n = 1; n <= kNodes; ++n) transmissions += tx(n, n % kNodes + 1);
  EXPECT_EQ(transmissions, 32u);  // sent with hop limit 32: the source plus 31 forwards
  for (NodeId n = 1; n <= kNodes; ++n) EXPECT_TRUE(node(n).tun.packets.empty());
}

TEST_F(Ring, GarbageOnALinkIsCountedAndTrafficContinues) {
  install_shortest_paths();
  std::mt19937 rng(7);
  PacketBatch garbage;
  for (int i = 0; i < 50; ++i) {
    Packet p = node(1).pool.acquire();
    p.resize(rng() % 120);
    for (std::size_t j = 0; j < p.size(); ++j) p.data()[j] = static_cast<std::uint8_t>(rng());
    garbage.push(std::move(p));
  }
  node(2).processor.process_from_link(1, garbage);
  std::uint64_t dropped = 0;
  for (auto count : node(2).processor.drops().counts) dropped += count;
  EXPECT_EQ(dropped, 50u);
  EXPECT_GT(node(2).processor.drops()[DropReason::kBadOverlayHeader], 0u);
  EXPECT_EQ(node(2).processor.link_stats(1)->rx_packets, 50u);
  send(1, make_udp(node(1).pool, node_ip(1), node_ip(3), 1, 2, 64));
  run();
  EXPECT_EQ(node(3).tun.packets.size(), 1u);
}

TEST_F(Ring, LinkDownDropsAreCountedAndRecoveryWorks) {
  install_shortest_paths();
  node(1).processor.detach_link(2);
  send(1, make_udp(node(1).pool, node_ip(1), node_ip(2), 1, 2, 64));
  run();
  EXPECT_TRUE(node(2).tun.packets.empty());
  EXPECT_EQ(node(1).processor.link_stats(2)->drops[DropReason::kLinkDown], 1u);
  node(1).processor.attach_link(2, &wire(1, 2));
  send(1, make_udp(node(1).pool, node_ip(1), node_ip(2), 1, 2, 64));
  run();
  EXPECT_EQ(node(2).tun.packets.size(), 1u);
}

}  // namespace
}  // namespace nextmini::dataplane
