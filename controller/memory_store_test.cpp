#include "nextmini/controller/memory_store.hpp"

#include <gtest/gtest.h>

namespace nextmini::controller {
namespace {

TEST(MemoryStoreTest, NodesAreReplacedWholeAndListedById) {
  MemoryStore store;
  ASSERT_TRUE(store.put_node({3, "127.0.0.1", 4003, "tun", true, false, 1}));
  ASSERT_TRUE(store.put_node({1, "127.0.0.1", 4001, "tun", true, true, 1}));
  ASSERT_TRUE(store.put_node({3, "127.0.0.2", 5003, "python", false, false, 2}));
  auto nodes = store.list_nodes();
  ASSERT_TRUE(nodes);
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].node_id, 1u);
  EXPECT_EQ((*nodes)[1], (NodeRecord{3, "127.0.0.2", 5003, "python", false, false, 2}));
  auto missing = store.get_node(2);
  ASSERT_TRUE(missing);
  EXPECT_FALSE(missing->has_value());
  EXPECT_FALSE(store.put_node({0, "", 0, "", false, false, 0}));
}

TEST(MemoryStoreTest, RoutesReplaceAndVersion) {
  MemoryStore store;
  EXPECT_EQ(*store.routes_version(), 0u);
  auto v1 = store.replace_routes({{2, 2, 1, 1, {{2, 1}}}, {1, 1, 2, 1, {{1, 2}}}});
  ASSERT_TRUE(v1);
  EXPECT_EQ(*v1, 1u);
  auto routes = store.list_routes();
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].route_id, 1u);
  auto duplicate = store.replace_routes({{1, 1, 2, 1, {}}, {1, 2, 1, 1, {}}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message, "route id 1 appears twice");
  EXPECT_EQ(store.list_routes()->size(), 2u);  // unchanged
  EXPECT_EQ(*store.replace_routes({}), 2u);
  EXPECT_TRUE(store.list_routes()->empty());
}

TEST(MemoryStoreTest, LinkParamsMergeSetFieldsOnly) {
  MemoryStore store;
  messages::LinkParams first;
  first.rate_bps = 1'000'000;
  first.delay_ns = 5'000'000;
  ASSERT_TRUE(store.merge_link_params(1, 2, first));
  messages::LinkParams second;
  second.delay_ns = 7'000'000;
  second.loss_percent = 1.5;
  ASSERT_TRUE(store.merge_link_params(1, 2, second));
  auto links = store.list_links();
  ASSERT_EQ(links->size(), 1u);
  const auto& params = (*links)[0].params;
  EXPECT_EQ(params.rate_bps, 1'000'000u);
  EXPECT_EQ(params.delay_ns, 7'000'000u);
  EXPECT_EQ(params.loss_percent, 1.5);
  EXPECT_FALSE(params.jitter_ns.has_value());
  EXPECT_FALSE(store.merge_link_params(2, 2, first));
}

TEST(MemoryStoreTest, LinkParamsMergeFollowsTheConfigRules) {
  // The store merges exactly as the config loader does: every field, including the
  // Gilbert-Elliott loss and the trace, and one loss form replaces the other.
  MemoryStore store;
  messages::LinkParams bernoulli;
  bernoulli.loss_percent = 2.0;
  ASSERT_TRUE(store.merge_link_params(1, 2, bernoulli));
  messages::LinkParams bursty;
  bursty.ge_p_percent = 1.0;
  bursty.ge_r_percent = 30.0;
  bursty.trace = "1\n2\n";
  ASSERT_TRUE(store.merge_link_params(1, 2, bursty));
  const auto links = store.list_links();
  ASSERT_EQ(links->size(), 1u);
  const auto& params = (*links)[0].params;
  EXPECT_FALSE(params.loss_percent.has_value());
  EXPECT_EQ(params.ge_p_percent, 1.0);
  EXPECT_EQ(params.ge_r_percent, 30.0);
  EXPECT_EQ(params.trace, "1\n2\n");
}

TEST(MemoryStoreTest, FlowLifecycle) {
  MemoryStore store;
  FlowRecord flow;
  flow.spec.flow_id = 7;
  flow.spec.src = 1;
  flow.spec.dst = 3;
  ASSERT_TRUE(store.put_flow(flow));
  EXPECT_EQ(flow_state(**store.get_flow(7)), "pending");
  ASSERT_TRUE(store.flow_started(7, 100));
  EXPECT_EQ(flow_state(**store.get_flow(7)), "running");
  ASSERT_TRUE(store.flow_finished({7, 1, 100, 900, 4096, ""}));
  auto stored = store.get_flow(7);
  ASSERT_TRUE(stored && stored->has_value());
  EXPECT_EQ(flow_state(**stored), "finished");
  EXPECT_EQ((*stored)->start_time_ns, 100u);
  EXPECT_EQ((*stored)->finish_time_ns, 900u);
  EXPECT_EQ((*stored)->bytes, 4096u);
  auto unknown = store.flow_started(8, 1);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "store.not_found");
  EXPECT_EQ(store.list_flows()->size(), 1u);
  // A failure keeps its reason.
  ASSERT_TRUE(store.flow_finished({7, 1, 0, 950, 0, "connection refused"}));
  EXPECT_EQ(flow_state(**store.get_flow(7)), "failed");
  EXPECT_EQ((*store.get_flow(7))->error, "connection refused");
}

TEST(MemoryStoreTest, LatestMetricsReplacePrevious) {
  MemoryStore store;
  messages::Metrics metrics;
  metrics.node_id = 2;
  metrics.timestamp_ns = 1;
  ASSERT_TRUE(store.put_metrics(metrics));
  metrics.timestamp_ns = 2;
  metrics.drops["no_route"] = 4;
  ASSERT_TRUE(store.put_metrics(metrics));
  auto latest = store.latest_metrics(2);
  ASSERT_TRUE(latest && latest->has_value());
  EXPECT_EQ((*latest)->timestamp_ns, 2u);
  EXPECT_EQ((*latest)->drops.at("no_route"), 4u);
  EXPECT_FALSE(store.latest_metrics(1)->has_value());
  EXPECT_FALSE(store.put_metrics(messages::Metrics{}));
}

TEST(MemoryStoreTest, Groups) {
  MemoryStore store;
  auto a = store.create_group("video");
  auto b = store.create_group("audio");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, 1u);
  EXPECT_EQ(*b, 2u);
  EXPECT_FALSE(store.create_group("video"));
  ASSERT_TRUE(store.join_group(1, 4));
  ASSERT_TRUE(store.join_group(1, 2));
  ASSERT_TRUE(store.join_group(1, 4));
  ASSERT_TRUE(store.leave_group(1, 9));
  auto groups = store.list_groups();
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0], (GroupRecord{1, "video", {2, 4}}));
  ASSERT_TRUE(store.leave_group(1, 2));
  EXPECT_EQ((*store.list_groups())[0].members, (std::vector<messages::NodeId>{4}));
  EXPECT_EQ(store.join_group(5, 1).error().code, "store.not_found");
}

}  // namespace
}  // namespace nextmini::controller
