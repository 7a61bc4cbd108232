// BringUp without sockets: which messages go to which connection.

#include "nextmini/controller/bring_up.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <map>

#include "nextmini/controller/memory_store.hpp"

namespace nextmini::controller {
namespace {

using messages::Message;

class BringUpTest : public ::testing::Test {
 protected:
  void make(const std::string& toml) {
    auto config = parse_config(toml, "test.toml");
    ASSERT_TRUE(config.has_value()) << config.error().message;
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    ASSERT_TRUE(topology && routes);
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
  }

  // Opens connection `c` and sends StartUp{id}.
  std::vector<Outgoing> start(ConnectionId c, NodeId id, const std::string& token = "") {
    bring_up_->on_connect(c, "192.0.2." + std::to_string(c));
    messages::StartUp message;
    message.node_id = id;
    message.token = token;
    message.link_port = static_cast<std::uint16_t>(7000 + c);
    return bring_up_->on_message(c, message);
  }

  static std::vector<const Outgoing*> to(const std::vector<Outgoing>& out, ConnectionId c) {
    std::vector<const Outgoing*> picked;
    for (const auto& o : out) {
      if (o.connection == c) picked.push_back(&o);
    }
    return picked;
  }

  static const messages::ErrorMessage* error_of(const Outgoing& out) {
    return std::get_if<messages::ErrorMessage>(&out.message);
  }

  MemoryStore store_;
  std::unique_ptr<BringUp> bring_up_;
};

const std::string kRing3 = "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 3 }\n";

TEST_F(BringUpTest, IdZeroGetsTheLowestFreeIdUntilFull) {
  make(kRing3);
  auto first = start(1, 2);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(std::get<messages::StartUpReply>(first[0].message).node_id, 2u);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(2, 0)[0].message).node_id, 1u);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(3, 0)[0].message).node_id, 3u);
  auto full = start(4, 0);
  ASSERT_EQ(full.size(), 1u);
  ASSERT_NE(error_of(full[0]), nullptr);
  EXPECT_EQ(error_of(full[0])->code, "startup.full");
  EXPECT_TRUE(full[0].close_after);
  // Once node 1 leaves, id 0 takes 1 again.
  bring_up_->on_disconnect(2);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(5, 0)[0].message).node_id, 1u);
}

TEST_F(BringUpTest, EmptyUnderlayAddressFallsBackToThePeerAddress) {
  make(kRing3);
  start(1, 1);
  auto out = start(2, 2);
  // Node 2 learns node 1 at the address its connection came from, and the reverse.
  const messages::AddNode* to_two = nullptr;
  const messages::AddNode* to_one = nullptr;
  for (const auto& o : out) {
    if (const auto* add = std::get_if<messages::AddNode>(&o.message)) {
      (o.connection == 2 ? to_two : to_one) = add;
    }
  }
  ASSERT_NE(to_two, nullptr);
  ASSERT_NE(to_one, nullptr);
  EXPECT_EQ(to_two->underlay_address, "192.0.2.1");
  EXPECT_EQ(to_two->link_port, 7001);
  EXPECT_TRUE(to_two->dial);
  EXPECT_EQ(to_one->underlay_address, "192.0.2.2");
  EXPECT_FALSE(to_one->dial);
}

TEST_F(BringUpTest, SameIdAgainReplacesTheOldConnection) {
  make(kRing3);
  start(1, 1);
  auto out = start(2, 1);
  auto old = to(out, 1);
  ASSERT_EQ(old.size(), 1u);
  ASSERT_NE(error_of(*old[0]), nullptr);
  EXPECT_EQ(error_of(*old[0])->code, "startup.replaced");
  EXPECT_TRUE(old[0]->close_after);
  EXPECT_TRUE(std::holds_alternative<messages::StartUpReply>(to(out, 2)[0]->message));
  // The old connection closing later does not disconnect the node.
  bring_up_->on_disconnect(1);
  EXPECT_EQ(bring_up_->status().connected, 1u);
  EXPECT_EQ(bring_up_->node_of(2), 1u);
  EXPECT_FALSE(bring_up_->node_of(1).has_value());
}

TEST_F(BringUpTest, WrongDirectionAndUnsupportedMessagesAreAnswered) {
  make(kRing3);
  bring_up_->on_connect(1, "192.0.2.1");
  auto early = bring_up_->on_message(1, messages::Metrics{});
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(error_of(early[0])->code, "protocol.unexpected");
  EXPECT_EQ(error_of(early[0])->message,
            "Metrics before StartUp: a connection starts with StartUp");
  EXPECT_FALSE(early[0].close_after);

  start(1, 1);
  auto again = bring_up_->on_message(1, messages::StartUp{});
  EXPECT_EQ(error_of(again[0])->code, "protocol.unexpected");
  auto wrong_way = bring_up_->on_message(1, messages::InstallRoutes{});
  EXPECT_EQ(error_of(wrong_way[0])->message, "InstallRoutes is sent by the controller, not to it");
  auto group = bring_up_->on_message(1, messages::CreateGroup{});
  EXPECT_EQ(error_of(group[0])->code, "protocol.unsupported");
  EXPECT_EQ(error_of(group[0])->in_reply_to, "CreateGroup");
  EXPECT_TRUE(bring_up_->on_message(1, messages::AppFlowStart{}).empty());
  EXPECT_TRUE(bring_up_->on_message(9, messages::NodeTopologyReady{}).empty());  // unknown
}

TEST_F(BringUpTest, TopologyReadyOnceForAllThenPerReturningNode) {
  make(kRing3);
  for (ConnectionId c = 1; c <= 3; ++c) start(c, static_cast<NodeId>(c));
  EXPECT_TRUE(bring_up_->on_message(1, messages::NodeTopologyReady{1}).empty());
  EXPECT_TRUE(bring_up_->on_message(1, messages::NodeTopologyReady{1}).empty());  // repeated
  EXPECT_TRUE(bring_up_->on_message(2, messages::NodeTopologyReady{2}).empty());
  auto all = bring_up_->on_message(3, messages::NodeTopologyReady{3});
  ASSERT_EQ(all.size(), 3u);
  for (ConnectionId c = 1; c <= 3; ++c) {
    ASSERT_EQ(to(all, c).size(), 1u);
    EXPECT_EQ(std::get<messages::TopologyReady>(to(all, c)[0]->message).n_nodes, 3u);
  }
  EXPECT_TRUE(bring_up_->announced());

  bring_up_->on_disconnect(2);
  EXPECT_FALSE(bring_up_->status().topology_ready);
  start(4, 2);
  auto back = bring_up_->on_message(4, messages::NodeTopologyReady{2});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].connection, 4u);
  EXPECT_TRUE(std::holds_alternative<messages::TopologyReady>(back[0].message));
  auto record = store_.get_node(2);
  ASSERT_TRUE(record && record->has_value());
  EXPECT_EQ((*record)->connections, 2u);
  EXPECT_EQ((*record)->underlay_address, "192.0.2.4");
}

TEST_F(BringUpTest, RoutesAreSavedInTheStore) {
  make(kRing3);
  EXPECT_EQ(store_.list_routes()->size(), 6u);
  EXPECT_EQ(*store_.routes_version(), 1u);
  auto out = start(1, 1);
  const messages::InstallRoutes* routes = nullptr;
  for (const auto& o : out) {
    if (const auto* r = std::get_if<messages::InstallRoutes>(&o.message)) routes = r;
  }
  ASSERT_NE(routes, nullptr);
  EXPECT_EQ(routes->version, 1u);
  // Node 1 of a 3-ring: source of 2 routes, sink of 2, transit of none.
  EXPECT_EQ(routes->routes.size(), 4u);
}

const std::string kRing3Flows = kRing3 + R"(
[[flows]]
src_node_id = 1
dst_node_id = 3
flow_spec = { flow_len = { Bytes = 1000000 } }
[[flows]]
src_node_id = 2
dst_node_id = 3
flow_spec = { flow_len = { Duration = 2.0 }, flow_rate = 250000, flow_weight = 2 }
)";

// The AddFlows messages of `out`, in order, with their connections.
std::vector<std::pair<ConnectionId, messages::AddFlows>> add_flows_of(
    const std::vector<Outgoing>& out) {
  std::vector<std::pair<ConnectionId, messages::AddFlows>> found;
  for (const auto& o : out) {
    if (const auto* add = std::get_if<messages::AddFlows>(&o.message)) {
      found.emplace_back(o.connection, *add);
    }
  }
  return found;
}

// Connects nodes 1..3 on connections 1..3 and reports them ready; returns the last answer.
std::vector<Outgoing> all_ready(BringUp& bring_up,
                                const std::function<void(ConnectionId, NodeId)>& start) {
  for (ConnectionId c = 1; c <= 3; ++c) start(c, static_cast<NodeId>(c));
  std::vector<Outgoing> last;
  for (ConnectionId c = 1; c <= 3; ++c) {
    last = bring_up.on_message(c, messages::NodeTopologyReady{static_cast<NodeId>(c)});
  }
  return last;
}

TEST_F(BringUpTest, ConfiguredFlowsGoToDstThenSrcAtTopologyReady) {
  make(kRing3Flows);
  // Stored as pending from the start, and not sent before TopologyReady.
  auto flows = bring_up_->flows();
  ASSERT_EQ(flows.size(), 2u);
  EXPECT_EQ(flow_state(flows[0]), "pending");
  auto early = start(1, 1);
  EXPECT_TRUE(add_flows_of(early).empty());

  auto out = all_ready(*bring_up_, [&](ConnectionId c, NodeId id) {
    if (c != 1) start(c, id);
  });
  const auto adds = add_flows_of(out);
  // The receiver (node 3: both flows) first, then each sender.
  ASSERT_EQ(adds.size(), 3u);
  EXPECT_EQ(adds[0].first, 3u);
  ASSERT_EQ(adds[0].second.flows.size(), 2u);
  EXPECT_EQ(adds[1].first, 1u);
  ASSERT_EQ(adds[1].second.flows.size(), 1u);
  EXPECT_EQ(adds[1].second.flows[0].flow_id, 1u);
  EXPECT_EQ(adds[1].second.flows[0].length_bytes, 1000000u);
  EXPECT_EQ(adds[2].first, 2u);
  EXPECT_EQ(adds[2].second.flows[0].flow_id, 2u);
  EXPECT_EQ(adds[2].second.flows[0].rate_bytes_per_s, 250000u);
  EXPECT_EQ(adds[2].second.flows[0].weight, 2u);
  // Every TopologyReady comes before the first AddFlows.
  std::size_t last_ready = 0;
  std::size_t first_add = out.size();
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (std::holds_alternative<messages::TopologyReady>(out[i].message)) last_ready = i;
    if (std::holds_alternative<messages::AddFlows>(out[i].message))
      first_add = std::min(first_add, i);
  }
  EXPECT_LT(last_ready, first_add);

  // A node that comes back does not start the flows again.
  bring_up_->on_disconnect(1);
  start(4, 1);
  EXPECT_TRUE(add_flows_of(bring_up_->on_message(4, messages::NodeTopologyReady{1})).empty());
}

TEST_F(BringUpTest, StartAndFinishAreRecordedFromTheSourceOnly) {
  make(kRing3Flows);
  all_ready(*bring_up_, [&](ConnectionId c, NodeId id) { start(c, id); });
  // Node 3 does not send flow 1: its reports are ignored.
  EXPECT_TRUE(bring_up_->on_message(3, messages::UserFlowStart{1, 3, 5}).empty());
  EXPECT_EQ(flow_state(**store_.get_flow(1)), "pending");
  EXPECT_TRUE(bring_up_->on_message(1, messages::UserFlowStart{1, 1, 1000}).empty());
  EXPECT_EQ(flow_state(**store_.get_flow(1)), "running");
  EXPECT_TRUE(
      bring_up_->on_message(1, messages::FlowFinished{1, 1, 1000, 9000, 1000000, ""}).empty());
  auto flow = **store_.get_flow(1);
  EXPECT_EQ(flow_state(flow), "finished");
  EXPECT_EQ(flow.start_time_ns, 1000u);
  EXPECT_EQ(flow.finish_time_ns, 9000u);
  EXPECT_EQ(flow.bytes, 1000000u);
  // A failure.
  EXPECT_TRUE(bring_up_->on_message(2, messages::FlowFinished{2, 2, 0, 50, 0, "refused"}).empty());
  EXPECT_EQ(flow_state(**store_.get_flow(2)), "failed");
  // An unknown flow id is ignored, not an error answer.
  EXPECT_TRUE(bring_up_->on_message(1, messages::FlowFinished{77, 1, 0, 50, 0, ""}).empty());
}

TEST_F(BringUpTest, ASourceThatLeavesFailsItsUnfinishedFlows) {
  make(kRing3Flows);
  start(1, 1);
  bring_up_->on_disconnect(1);  // before TopologyReady: the flows wait, still pending
  EXPECT_EQ(flow_state(**store_.get_flow(1)), "pending");
  bring_up_->on_connect(9, "192.0.2.9");
  messages::StartUp again;
  again.node_id = 1;
  bring_up_->on_message(9, again);
  bring_up_->on_message(9, messages::NodeTopologyReady{1});
  all_ready(*bring_up_, [&](ConnectionId c, NodeId id) {
    if (c != 1) start(c, id);
  });
  ASSERT_TRUE(bring_up_->announced());
  EXPECT_TRUE(bring_up_->on_message(9, messages::FlowFinished{1, 1, 10, 20, 1000000, ""}).empty());
  EXPECT_TRUE(bring_up_->on_message(2, messages::UserFlowStart{2, 2, 100}).empty());
  // Node 1 leaves with nothing unfinished; node 2 leaves with a running flow: it fails.
  bring_up_->on_disconnect(9);
  EXPECT_EQ(flow_state(**store_.get_flow(1)), "finished");
  bring_up_->on_disconnect(2);
  auto lost = **store_.get_flow(2);
  EXPECT_EQ(flow_state(lost), "failed");
  EXPECT_EQ(lost.error, "source node 2 disconnected");
  EXPECT_EQ(lost.start_time_ns, 100u);
}

TEST_F(BringUpTest, AddFlowsQueuesBeforeTopologyReadyAndSendsAfter) {
  make(kRing3Flows);
  messages::FlowSpec before;
  before.src = 3;
  before.dst = 1;
  before.length_bytes = 5000;
  auto queued = bring_up_->add_flows({before});
  ASSERT_TRUE(queued) << queued.error().message;
  ASSERT_EQ(queued->ids.size(), 1u);
  EXPECT_EQ(queued->ids[0], 3u);  // after the configured 1 and 2
  EXPECT_TRUE(queued->outgoing.empty());

  auto out = all_ready(*bring_up_, [&](ConnectionId c, NodeId id) { start(c, id); });
  std::size_t sent = 0;
  for (const auto& [connection, add] : add_flows_of(out)) sent += add.flows.size();
  EXPECT_EQ(sent, 6u);  // three flows, each to its dst and its src

  messages::FlowSpec after = before;
  after.src = 2;
  after.dst = 1;
  after.route_id = 3;  // ring of 3: route 3 is 2 -> 1
  messages::FlowSpec given = after;
  given.flow_id = 40;
  given.route_id.reset();
  auto now = bring_up_->add_flows({after, given});
  ASSERT_TRUE(now) << now.error().message;
  EXPECT_EQ(now->ids, (std::vector<messages::FlowId>{4, 40}));
  const auto adds = add_flows_of(now->outgoing);
  ASSERT_EQ(adds.size(), 2u);
  EXPECT_EQ(adds[0].first, 1u);  // dst first
  EXPECT_EQ(adds[1].first, 2u);
  EXPECT_EQ(adds[1].second.flows.size(), 2u);
  EXPECT_EQ(adds[1].second.flows[0].route_id, 3u);
  EXPECT_EQ(bring_up_->flows().size(), 5u);
  EXPECT_EQ(flow_state(**store_.get_flow(40)), "pending");
}

TEST_F(BringUpTest, AddFlowsRefusesEveryBadFlowAndAddsNothing) {
  make(kRing3);
  messages::FlowSpec good;
  good.src = 1;
  good.dst = 2;
  good.length_bytes = 10;
  messages::FlowSpec bad;
  bad.src = 1;
  bad.dst = 9;
  bad.transport = "udp";
  messages::FlowSpec wrong_route = good;
  wrong_route.route_id = 3;  // 2 -> 1, not 1 -> 2
  messages::FlowSpec duplicate = good;
  duplicate.flow_id = 5;
  auto refused = bring_up_->add_flows({good, bad, wrong_route, duplicate, duplicate});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "flows.invalid");
  const std::string& message = refused.error().message;
  for (const char* expected : {
           "flows[1].dst: 9 is not a node of the topology (1..3)",
           "flows[1].length_bytes: missing",
           "flows[1].transport: \"udp\" is not supported",
           "flows[2].route_id: route 3 goes from 2 to 1, not from 1 to 2",
           "flows[4].flow_id: 5 is also the id of flows[3]",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
  EXPECT_TRUE(bring_up_->flows().empty());
  EXPECT_FALSE(bring_up_->add_flows({}));
  ASSERT_TRUE(bring_up_->add_flows({duplicate}));
  auto again = bring_up_->add_flows({duplicate});
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("flows[0].flow_id: flow 5 exists already"),
            std::string::npos);
}

const std::string kRing4 = "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 4 }\n";

// A route written by another program (the database): only the nodes on its old and new paths
// hear of it, incrementally; a bad one changes nothing.
TEST_F(BringUpTest, SetRouteUpdatesOnlyTheNodesOnTheOldAndNewPaths) {
  make(kRing4);
  for (NodeId id = 1; id <= 4; ++id) start(id, id);
  const Route* one_three = nullptr;
  for (const auto& route : bring_up_->routes().routes()) {
    if (route.src == 1 && route.dst == 3) one_three = &route;
  }
  ASSERT_NE(one_three, nullptr);
  const RouteId id = one_three->route_id;
  ASSERT_EQ(one_three->edges, (std::vector<std::pair<NodeId, NodeId>>{{1, 2}, {2, 3}}));
  const auto version = bring_up_->routes_version();

  auto out = bring_up_->set_route(id, RouteRecord{id, 1, 3, 1, {{1, 4}, {4, 3}}});
  ASSERT_TRUE(out) << out.error().message;
  std::map<ConnectionId, messages::InstallRoutes> installs;
  for (const auto& o : *out) installs[o.connection] = std::get<messages::InstallRoutes>(o.message);
  ASSERT_EQ(installs.size(), 4u);  // 1, 2 (old path), 4 (new), 3 (the sink on both)
  for (const auto& [connection, install] : installs) {
    EXPECT_FALSE(install.full);
    EXPECT_GT(install.version, version);
  }
  EXPECT_EQ(installs[2].removed, (std::vector<RouteId>{id}));
  EXPECT_TRUE(installs[2].routes.empty());
  ASSERT_EQ(installs[1].routes.size(), 1u);
  EXPECT_EQ(installs[1].routes[0].route_id, id);
  EXPECT_EQ(installs[1].routes[0].next_hops, (std::vector<NodeId>{4}));
  ASSERT_EQ(installs[4].routes.size(), 1u);
  // A node that connects now gets the new route in its full InstallRoutes.
  EXPECT_EQ(bring_up_->routes().find(id)->edges,
            (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}}));

  auto bad = bring_up_->set_route(id, RouteRecord{id, 1, 3, 1, {{1, 3}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "route.invalid");
  EXPECT_EQ(bad.error().message,
            "route " + std::to_string(id) + ": edge [1, 3] is not a link of the topology");
  EXPECT_EQ(bring_up_->routes().find(id)->edges,
            (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}}));

  auto removed = bring_up_->set_route(id, std::nullopt);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->size(), 3u);  // 1, 4, 3
  EXPECT_EQ(bring_up_->routes().find(id), nullptr);
}

// A Store that already holds a network is restored, not overwritten by the config.
TEST_F(BringUpTest, StartFromTheStoreKeepsItsRoutesLinksAndFlows) {
  make(kRing4);
  std::vector<RouteRecord> routes;
  for (const auto& route : bring_up_->routes().routes()) {
    routes.push_back({route.route_id, route.src, route.dst, route.weight, route.edges});
  }
  routes[0].edges = {{1, 4}, {4, 3}, {3, 2}};  // route 1: 1 -> 2 the long way
  ASSERT_TRUE(store_.replace_routes(routes));
  messages::LinkParams delay;
  delay.delay_ns = 5000000;
  ASSERT_TRUE(store_.merge_link_params(2, 3, delay));
  messages::FlowSpec waiting;
  waiting.flow_id = 9;
  waiting.src = 1;
  waiting.dst = 3;
  waiting.length_bytes = 100;
  ASSERT_TRUE(store_.put_flow(FlowRecord{waiting, {}, {}, 0, {}}));

  auto config = parse_config(kRing4, "test.toml");
  auto topology = build_topology(*config);
  auto plan = build_routes(*config, *topology);
  BringUp restored(*config, *topology, *plan, store_, StartFrom::kStore);
  ASSERT_NE(restored.routes().find(1), nullptr);
  EXPECT_EQ(restored.routes().find(1)->edges,
            (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}, {3, 2}}));
  EXPECT_TRUE(restored.routes().find(1)->configured);   // differs from the config's
  EXPECT_FALSE(restored.routes().find(2)->configured);  // as computed from the config
  EXPECT_EQ(restored.link_params().at({2, 3}).delay_ns, 5000000u);
  ASSERT_NE(restored.flow_spec(9), nullptr);
  EXPECT_EQ(store_.list_routes()->at(0).edges,
            (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}, {3, 2}}));
}

}  // namespace
}  // namespace nextmini::controller
