// HttpApi without sockets: requests in, JSON and the messages handed to `deliver` out.

#include "nextmini/controller/http_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "nextmini/controller/memory_store.hpp"

namespace nextmini::controller {
namespace {

namespace json = boost::json;

const std::string kRing4 =
    "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 4 }\n"
    "[[links]]\nsrc = 2\ndst = 1\ndelay = \"10ms\"\njitter = \"8ms\"\n";

class HttpApiTest : public ::testing::Test {
 protected:
  void SetUp() override { make(kRing4); }

  void make(const std::string& toml) {
    auto config = parse_config(toml, "test.toml");
    ASSERT_TRUE(config.has_value()) << config.error().message;
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    ASSERT_TRUE(topology && routes);
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
    api_ = std::make_unique<HttpApi>(
        *bring_up_, store_,
        [this](std::vector<Outgoing> out) {
          delivered_.insert(delivered_.end(), out.begin(), out.end());
        },
        ".");
  }

  // Connects every node of the ring (connection id = node id) and forgets what that sent.
  void connect_all() {
    for (NodeId id = 1; id <= bring_up_->topology().n_nodes(); ++id) {
      bring_up_->on_connect(id, "192.0.2.1");
      messages::StartUp start;
      start.node_id = id;
      bring_up_->on_message(id, start);
    }
    for (NodeId id = 1; id <= bring_up_->topology().n_nodes(); ++id) {
      bring_up_->on_message(id, messages::NodeTopologyReady{id});
    }
    delivered_.clear();
  }

  json::value call(const std::string& method, const std::string& target,
                   const std::string& body = "", unsigned expected = 200) {
    last_ = api_->handle({method, target, body});
    EXPECT_EQ(last_.status, expected) << method << " " << target << ": " << last_.body;
    return json::parse(last_.body);
  }

  std::string error_message(const json::value& value) {
    return std::string(value.at("error").at("message").as_string());
  }

  template <typename T>
  std::vector<std::pair<ConnectionId, T>> sent() const {
    std::vector<std::pair<ConnectionId, T>> out;
    for (const auto& o : delivered_) {
      if (const auto* m = std::get_if<T>(&o.message)) out.emplace_back(o.connection, *m);
    }
    return out;
  }

  messages::LinkParams stored(NodeId src, NodeId dst) const {
    return bring_up_->link_params().at({src, dst});
  }

  MemoryStore store_;
  std::unique_ptr<BringUp> bring_up_;
  std::unique_ptr<HttpApi> api_;
  std::vector<Outgoing> delivered_;
  HttpResponse last_;
};

TEST_F(HttpApiTest, TopologyListsNodesAddressesAndEdges) {
  bring_up_->on_connect(7, "192.0.2.7");
  bring_up_->on_message(7, messages::StartUp{3, "", "100.127.0.3", 4000, "tun"});
  auto topology = call("GET", "/api/topology");
  EXPECT_EQ(topology.at("n_nodes").as_int64(), 4);
  EXPECT_EQ(topology.at("connected").as_int64(), 1);
  const auto& nodes = topology.at("nodes").as_array();
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[2].at("address").as_string(), "10.0.0.3");
  EXPECT_EQ(nodes[2].at("address6").as_string(), "fd00:6e6d::3");
  EXPECT_EQ(nodes[2].at("underlay_address").as_string(), "100.127.0.3");
  EXPECT_TRUE(nodes[2].at("connected").as_bool());
  EXPECT_FALSE(nodes[0].at("connected").as_bool());
  EXPECT_EQ(json::serialize(topology.at("edges")), "[[1,2],[1,4],[2,3],[3,4]]");
}

TEST_F(HttpApiTest, LinksShowEveryDirectedLinkWithUnitsAndCounters) {
  messages::Metrics metrics;
  metrics.node_id = 2;
  metrics.timestamp_ns = 5;
  metrics.links.push_back({1, 10, 1000, 11, 1100, {{"queue_full", 3}}, true});
  ASSERT_TRUE(store_.put_metrics(metrics));
  auto links = call("GET", "/api/links").at("links").as_array();
  ASSERT_EQ(links.size(), 8u);  // 4 edges, both ways
  const json::value* two_one = nullptr;
  for (const auto& link : links) {
    if (link.at("src").as_int64() == 2 && link.at("dst").as_int64() == 1) two_one = &link;
  }
  ASSERT_NE(two_one, nullptr);
  EXPECT_EQ(two_one->at("params").at("delay").as_string(), "10ms");
  EXPECT_EQ(two_one->at("params").at("jitter").as_string(), "8ms");
  EXPECT_TRUE(two_one->at("up").as_bool());
  EXPECT_EQ(two_one->at("counters").at("tx_packets").as_int64(), 10);
  EXPECT_EQ(two_one->at("counters").at("drops").at("queue_full").as_int64(), 3);

  auto one = call("GET", "/api/links/1/2");
  EXPECT_TRUE(one.at("params").as_object().empty());
  EXPECT_TRUE(one.at("counters").is_null());
}

TEST_F(HttpApiTest, PatchMergesStoresAndSendsTheSendingNodeItsParams) {
  connect_all();
  auto reply = call("PATCH", "/api/links/1/2",
                    R"({"delay": "20ms", "loss": "1%", "rate": "100mbit", "queue_packets": 500})");
  EXPECT_EQ(reply.at("links").as_array().size(), 1u);
  EXPECT_EQ(reply.at("links").at(0).at("params").at("rate").as_string(), "100mbit");
  EXPECT_FALSE(reply.at("rerouted").as_bool());
  EXPECT_EQ(stored(1, 2).delay_ns, 20000000u);
  EXPECT_EQ(stored(1, 2).loss_percent, 1.0);
  EXPECT_EQ(stored(1, 2).queue_packets, 500u);
  EXPECT_FALSE(stored(2, 1).loss_percent.has_value());  // the other direction is untouched
  auto set = sent<messages::SetLinkParams>();
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].first, 1u);  // node 1's connection: it sends on 1 -> 2
  EXPECT_EQ(set[0].second.src, 1u);
  EXPECT_EQ(set[0].second.dst, 2u);
  EXPECT_EQ(set[0].second.params.delay_ns, 20000000u);

  // A second change merges: the delay stays, the loss changes.
  call("PATCH", "/api/links/1/2", R"({"loss": "2%"})");
  EXPECT_EQ(stored(1, 2).delay_ns, 20000000u);
  EXPECT_EQ(stored(1, 2).loss_percent, 2.0);
}

TEST_F(HttpApiTest, BadValuesAreRefusedWithKeyAndValueAndNothingIsApplied) {
  connect_all();
  auto error =
      call("PATCH", "/api/links/1/2", R"({"delay": "20xs", "loss": "150%", "up": 1})", 400);
  EXPECT_EQ(error.at("error").at("code").as_string(), "links.invalid");
  const auto message = error_message(error);
  EXPECT_NE(message.find("links.delay: '20xs' is not a duration"), std::string::npos) << message;
  EXPECT_NE(message.find("links.loss: '150%'"), std::string::npos) << message;
  EXPECT_NE(message.find("links.up: 1 is not true or false"), std::string::npos) << message;
  EXPECT_TRUE(delivered_.empty());
  EXPECT_FALSE(stored(1, 2).delay_ns.has_value());

  // One good key beside a bad one: still nothing.
  call("PATCH", "/api/links/1/2", R"({"delay": "5ms", "rate": "0mbit"})", 400);
  EXPECT_FALSE(stored(1, 2).delay_ns.has_value());

  auto unknown = call("PATCH", "/api/links/1/2", R"({"colour": "red"})", 400);
  EXPECT_EQ(error_message(unknown), "links.colour: unknown key");
  auto empty = call("PATCH", "/api/links/1/2", "{}", 400);
  EXPECT_NE(error_message(empty).find("nothing to change"), std::string::npos);
  auto not_json = call("PATCH", "/api/links/1/2", "{delay", 400);
  EXPECT_EQ(not_json.at("error").at("code").as_string(), "http.bad_json");
  call("PATCH", "/api/links/1/2", R"(["delay"])", 400);
  EXPECT_TRUE(delivered_.empty());
}

TEST_F(HttpApiTest, BothDirectionsAreCheckedBeforeEitherIsChanged) {
  connect_all();
  // 2 -> 1 has jitter 8ms: a delay of 5ms is fine on 1 -> 2 but not on 2 -> 1.
  auto error = call("PATCH", "/api/links/1/2", R"({"delay": "5ms", "both": true})", 400);
  EXPECT_EQ(error_message(error),
            "link 2 -> 1: jitter: 8ms is larger than delay 5ms with reorder = false (the default)");
  EXPECT_FALSE(stored(1, 2).delay_ns.has_value());
  EXPECT_EQ(stored(2, 1).delay_ns, 10000000u);
  EXPECT_TRUE(delivered_.empty());

  auto reply = call("PATCH", "/api/links/1/2", R"({"delay": "30ms", "both": true})");
  EXPECT_EQ(reply.at("links").as_array().size(), 2u);
  EXPECT_EQ(stored(1, 2).delay_ns, 30000000u);
  EXPECT_EQ(stored(2, 1).delay_ns, 30000000u);
  EXPECT_EQ(stored(2, 1).jitter_ns, 8000000u);  // merged, not replaced
  auto set = sent<messages::SetLinkParams>();
  ASSERT_EQ(set.size(), 2u);
  EXPECT_EQ(set[0].first, 1u);
  EXPECT_EQ(set[1].first, 2u);
  EXPECT_EQ(set[1].second.params.jitter_ns, 8000000u);
}

TEST_F(HttpApiTest, UnknownLinksNodesAndPathsAre404AndMethods405) {
  auto not_edge = call("PATCH", "/api/links/1/3", R"({"delay": "1ms"})", 404);
  EXPECT_EQ(error_message(not_edge), "1 -> 3 is not a topology link");
  auto not_node = call("GET", "/api/links/1/9", "", 404);
  EXPECT_EQ(error_message(not_node), "link 1 -> 9: unknown node (the topology has 1..4)");
  call("GET", "/api/links/x/2", "", 404);
  call("GET", "/api/nothing", "", 404);
  call("DELETE", "/api/links/1/2", "", 405);
  call("POST", "/api/routes", "", 405);
  call("GET", "/api/links?verbose=1");  // a query string is ignored
}

TEST_F(HttpApiTest, LinkDownReroutesAroundItAndUpRestoresTheRoutes) {
  connect_all();
  const auto before = call("GET", "/api/routes");
  const auto version = before.at("version").as_int64();
  auto reply = call("PATCH", "/api/links/1/2", R"({"up": false})");
  EXPECT_TRUE(reply.at("rerouted").as_bool());
  EXPECT_FALSE(reply.at("links").at(0).at("up").as_bool());
  auto routes = call("GET", "/api/routes");
  EXPECT_GT(routes.at("version").as_int64(), version);
  EXPECT_EQ(json::serialize(routes.at("down_links")), "[[1,2]]");
  for (const auto& route : routes.at("routes").as_array()) {
    if (route.at("src").as_int64() == 1 && route.at("dst").as_int64() == 2) {
      EXPECT_EQ(json::serialize(route.at("edges")), "[[1,4],[4,3],[3,2]]");
    }
    for (const auto& edge : route.at("edges").as_array()) {
      EXPECT_FALSE(edge.at(0).as_int64() == 1 && edge.at(1).as_int64() == 2);
    }
  }
  // InstallRoutes went to the nodes whose entries changed, with the new version; 2 -> 1 is up,
  // so node 2 still routes to 1 directly.
  auto installs = sent<messages::InstallRoutes>();
  ASSERT_FALSE(installs.empty());
  for (const auto& [connection, install] : installs) {
    EXPECT_TRUE(install.full);
    EXPECT_EQ(static_cast<std::int64_t>(install.version), routes.at("version").as_int64());
  }
  const auto set = sent<messages::SetLinkParams>();
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set[0].second.params.up, false);

  delivered_.clear();
  call("PATCH", "/api/links/1/2", R"({"up": true})");
  auto restored = call("GET", "/api/routes");
  EXPECT_EQ(restored.at("routes"), before.at("routes"));
  EXPECT_TRUE(restored.at("down_links").as_array().empty());
  EXPECT_FALSE(sent<messages::InstallRoutes>().empty());
}

TEST_F(HttpApiTest, APairCutOffIsReportedUnreachableNotACrash) {
  connect_all();
  call("PATCH", "/api/links/1/2", R"({"up": false})");
  call("PATCH", "/api/links/1/4", R"({"up": false})");
  auto routes = call("GET", "/api/routes");
  EXPECT_EQ(json::serialize(routes.at("unreachable")), "[[1,2],[1,3],[1,4]]");
  for (const auto& route : routes.at("routes").as_array()) {
    EXPECT_NE(route.at("src").as_int64(), 1);
  }
  call("PATCH", "/api/links/1/4", R"({"up": true})");
  EXPECT_TRUE(call("GET", "/api/routes").at("unreachable").as_array().empty());
}

TEST_F(HttpApiTest, ConfiguredRoutesAreNotRerouted) {
  make(
      "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 4 }\n"
      "[[routes]]\nroute = [1, 2, 3]\n");
  connect_all();
  call("PATCH", "/api/links/1/2", R"({"up": false})");
  const auto routes = call("GET", "/api/routes");
  for (const auto& route : routes.at("routes").as_array()) {
    if (route.at("src").as_int64() == 1 && route.at("dst").as_int64() == 3) {
      EXPECT_TRUE(route.at("configured").as_bool());
      EXPECT_EQ(json::serialize(route.at("edges")), "[[1,2],[2,3]]");
    }
  }
}

TEST_F(HttpApiTest, ReconnectingNodeGetsTheCurrentParams) {
  connect_all();
  call("PATCH", "/api/links/2/1", R"({"delay": "40ms"})");
  bring_up_->on_disconnect(2);
  bring_up_->on_connect(20, "192.0.2.2");
  auto out = bring_up_->on_message(20, messages::StartUp{2, "", "", 4000, "tun"});
  bool found = false;
  for (const auto& o : out) {
    if (const auto* set = std::get_if<messages::SetLinkParams>(&o.message)) {
      if (set->dst == 1) {
        found = true;
        EXPECT_EQ(set->params.delay_ns, 40000000u);
        EXPECT_EQ(set->params.jitter_ns, 8000000u);
      }
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(HttpApiTest, FlowsAreValidatedStoredSentAndReported) {
  connect_all();
  // Shape: unknown keys and values of the wrong type, every one named.
  auto bad = call("POST", "/api/flows",
                  R"({"src_node_id": 1, "dst_node_id": "two", "flow_spec": {"flow_len":
                      {"Bytes": -5}, "speed": 3}})",
                  400);
  auto message = error_message(bad);
  EXPECT_NE(message.find(R"(flows[0].dst_node_id: "two" is not a node id)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("flows[0].flow_spec.flow_len.Bytes: -5 is not a number of bytes"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("flows[0].flow_spec.speed: unknown key"), std::string::npos);
  // Rules: BringUp::add_flows'.
  auto rules = call("POST", "/api/flows",
                    R"({"src_node_id": 1, "dst_node_id": 9, "flow_spec": {"flow_len":
                        {"Duration": 0}, "transport": "udp"}})",
                    400);
  message = error_message(rules);
  EXPECT_NE(message.find("flows[0].dst: 9 is not a node of the topology (1..4)"), std::string::npos)
      << message;
  EXPECT_NE(message.find("flows[0].duration_s"), std::string::npos) << message;
  EXPECT_NE(message.find("flows[0].transport"), std::string::npos) << message;
  EXPECT_TRUE(delivered_.empty());
  EXPECT_TRUE(call("GET", "/api/flows").at("flows").as_array().empty());

  auto added = call("POST", "/api/flows",
                    R"({"flows": [{"src_node_id": 1, "dst_node_id": 3,
                        "flow_spec": {"flow_len": {"Bytes": 1000000}, "flow_weight": 2}},
                       {"src_node_id": 2, "dst_node_id": 4,
                        "flow_spec": {"flow_len": {"Duration": 1.5}, "flow_rate": 125000}}]})",
                    201);
  ASSERT_EQ(added.at("flows").as_array().size(), 2u);
  EXPECT_EQ(added.at("flows").at(0).at("flow_id").as_int64(), 1);
  EXPECT_EQ(added.at("flows").at(1).at("flow_id").as_int64(), 2);
  auto adds = sent<messages::AddFlows>();
  std::set<ConnectionId> to;
  for (const auto& [connection, add] : adds) to.insert(connection);
  EXPECT_EQ(to, (std::set<ConnectionId>{1, 2, 3, 4}));

  bring_up_->on_message(1, messages::UserFlowStart{1, 1, 1000000000});
  auto flows = call("GET", "/api/flows").at("flows").as_array();
  EXPECT_EQ(flows.at(0).at("state").as_string(), "running");
  EXPECT_EQ(flows.at(1).at("state").as_string(), "pending");
  bring_up_->on_message(1, messages::FlowFinished{1, 1, 1000000000, 3500000000, 1000000, ""});
  flows = call("GET", "/api/flows").at("flows").as_array();
  EXPECT_EQ(flows.at(0).at("state").as_string(), "finished");
  EXPECT_EQ(flows.at(0).at("bytes").as_int64(), 1000000);
  EXPECT_DOUBLE_EQ(flows.at(0).at("completion_time_s").as_double(), 2.5);
  EXPECT_EQ(flows.at(1).at("flow_spec").at("flow_len").at("Duration").as_double(), 1.5);

  auto taken = call("POST", "/api/flows",
                    R"({"flow_id": 2, "src_node_id": 1, "dst_node_id": 2,
                        "flow_spec": {"flow_len": {"Bytes": 10}}})",
                    400);
  EXPECT_EQ(error_message(taken), "flows[0].flow_id: flow 2 exists already");
  EXPECT_EQ(call("GET", "/api/flows").at("flows").as_array().size(), 2u);
}

TEST(HttpListenTest, ParsesAddressPortAndOff) {
  auto parsed = parse_http_listen("0.0.0.0:8080", "--http");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->enabled);
  EXPECT_EQ(parsed->address, "0.0.0.0");
  EXPECT_EQ(parsed->port, 8080);
  EXPECT_FALSE(parse_http_listen("off", "--http")->enabled);
  auto bad = parse_http_listen("localhost:80", "--http");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message,
            "--http: \"localhost:80\" is not ADDRESS:PORT such as \"127.0.0.1:3080\" (or \"off\")");
  EXPECT_FALSE(parse_http_listen("127.0.0.1:70000", "http"));
  EXPECT_FALSE(parse_http_listen("127.0.0.1", "http"));
  auto config = parse_config(
      "http = \"nowhere\"\n[topology]\ntype = \"ring\"\n"
      "ring_config = { n_nodes = 3 }\n",
      "t.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("http: \"nowhere\" is not ADDRESS:PORT"),
            std::string::npos);
}

TEST_F(HttpApiTest, ErrorsListsRefusedRowsEmptyWithoutADatabase) {
  const auto errors = call("GET", "/api/errors");
  EXPECT_EQ(json::serialize(errors), R"({"errors":[]})");
  call("POST", "/api/errors", "", 405);
}

}  // namespace
}  // namespace nextmini::controller
