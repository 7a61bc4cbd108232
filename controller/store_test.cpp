// The Store contract, run against every implementation: MemoryStore, and PgStore backed by a
// PostgreSQL server this test starts (PgTestServer). A server that cannot start fails the test.

#include <gtest/gtest.h>

#include <memory>

#include "nextmini/controller/memory_store.hpp"
#include "nextmini/controller/pg_store.hpp"
#include "pg_test_server.hpp"

namespace nextmini::controller {
namespace {

// Makes a fresh, empty store of type S; keeps whatever backs it alive.
template <typename S>
struct StoreFactory;

template <>
struct StoreFactory<MemoryStore> {
  std::unique_ptr<Store> make() { return std::make_unique<MemoryStore>(); }
};

template <>
struct StoreFactory<PgStore> {
  std::unique_ptr<testing::PgTestServer> server;
  std::unique_ptr<Store> make() {
    auto started = testing::PgTestServer::start();
    if (!started) {
      ADD_FAILURE() << "cannot start the test PostgreSQL server: " << started.error().message;
      return nullptr;
    }
    server = std::move(*started);
    auto store = PgStore::open(server->url());
    if (!store) {
      ADD_FAILURE() << "PgStore::open: " << store.error().message;
      return nullptr;
    }
    return std::move(*store);
  }
};

template <typename S>
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    owned_ = factory_.make();
    ASSERT_NE(owned_, nullptr);
  }
  Store& store() { return *owned_; }

  StoreFactory<S> factory_;
  std::unique_ptr<Store> owned_;
};

using StoreTypes = ::testing::Types<MemoryStore, PgStore>;
class StoreTypeNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::is_same_v<T, MemoryStore> ? "Memory" : "Pg";
  }
};
TYPED_TEST_SUITE(StoreTest, StoreTypes, StoreTypeNames);

TYPED_TEST(StoreTest, NodesAreReplacedWholeAndListedById) {
  Store& store = this->store();
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

TYPED_TEST(StoreTest, RoutesReplaceAndVersion) {
  Store& store = this->store();
  EXPECT_EQ(*store.routes_version(), 0u);
  auto v1 = store.replace_routes({{2, 2, 1, 1, {{2, 1}}}, {1, 1, 2, 1, {{1, 2}}}});
  ASSERT_TRUE(v1);
  EXPECT_GT(*v1, 0u);
  EXPECT_EQ(*store.routes_version(), *v1);
  auto routes = store.list_routes();
  ASSERT_EQ(routes->size(), 2u);
  EXPECT_EQ((*routes)[0].route_id, 1u);
  auto duplicate = store.replace_routes({{1, 1, 2, 1, {}}, {1, 2, 1, 1, {}}});
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message, "route id 1 appears twice");
  EXPECT_EQ(store.list_routes()->size(), 2u);  // unchanged
  auto v2 = store.replace_routes({});
  ASSERT_TRUE(v2);
  EXPECT_GT(*v2, *v1);
  EXPECT_TRUE(store.list_routes()->empty());
}

TYPED_TEST(StoreTest, LinkParamsMergeSetFieldsOnly) {
  Store& store = this->store();
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

TYPED_TEST(StoreTest, LinkParamsMergeFollowsTheConfigRules) {
  // The store merges exactly as the config loader does: every field, including the
  // Gilbert-Elliott loss and the trace, and one loss form replaces the other.
  Store& store = this->store();
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

TYPED_TEST(StoreTest, FlowLifecycle) {
  Store& store = this->store();
  FlowRecord flow;
  flow.spec.flow_id = 7;
  flow.spec.src = 1;
  flow.spec.dst = 3;
  flow.spec.length_bytes = 4096;
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

TYPED_TEST(StoreTest, LatestMetricsReplacePrevious) {
  Store& store = this->store();
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

TYPED_TEST(StoreTest, Groups) {
  Store& store = this->store();
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

TYPED_TEST(StoreTest, RoutesKeepEdgesWeightsAndSurviveAPartialReplace) {
  Store& store = this->store();
  const RouteRecord a{1, 1, 3, 2, {{1, 2}, {2, 3}}};
  const RouteRecord b{2, 3, 1, 1, {{3, 4}, {4, 1}}};
  const RouteRecord c{3, 1, 4, 5, {{1, 4}}};
  ASSERT_TRUE(store.replace_routes({a, b, c}));
  EXPECT_EQ(*store.list_routes(), (std::vector<RouteRecord>{a, b, c}));
  RouteRecord b2 = b;
  b2.edges = {{3, 2}, {2, 1}};
  ASSERT_TRUE(store.replace_routes({a, b2}));
  EXPECT_EQ(*store.list_routes(), (std::vector<RouteRecord>{a, b2}));
}

TYPED_TEST(StoreTest, FlowSpecsRoundTrip) {
  Store& store = this->store();
  FlowRecord by_bytes;
  by_bytes.spec = {11, 1, 2, 1'000'000, std::nullopt, 125'000, 3, "tcp", 7};
  FlowRecord by_time;
  by_time.spec = {12, 2, 1, std::nullopt, 2.5, std::nullopt, std::nullopt, "udp", std::nullopt};
  ASSERT_TRUE(store.put_flow(by_time));
  ASSERT_TRUE(store.put_flow(by_bytes));
  auto flows = store.list_flows();
  ASSERT_TRUE(flows);
  ASSERT_EQ(flows->size(), 2u);
  EXPECT_EQ((*flows)[0].spec, by_bytes.spec);
  EXPECT_EQ((*flows)[1].spec, by_time.spec);
  by_bytes.spec.route_id = std::nullopt;  // unpinned again
  ASSERT_TRUE(store.put_flow(by_bytes));
  EXPECT_EQ((*store.get_flow(11))->spec, by_bytes.spec);
  EXPECT_FALSE(store.get_flow(99)->has_value());
}

}  // namespace
}  // namespace nextmini::controller
