#include "nextmini/controller/flow_config.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

#include "nextmini/controller/config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"

namespace nextmini::controller {
namespace {

const std::string kRing4 = R"(
[topology]
type = "ring"
[topology.ring_config]
n_nodes = 4
)";

Config parse_ok(const std::string& text) {
  auto result = parse_config(kRing4 + text, "test.toml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  return result ? *result : Config{};
}

std::string parse_error(const std::string& text) {
  auto result = parse_config(kRing4 + text, "test.toml");
  EXPECT_FALSE(result.has_value()) << "config was accepted:\n" << text;
  return result ? "" : result.error().message;
}

TEST(FlowConfigTest, NextminiSpellingBytesAndDuration) {
  const Config config = parse_ok(R"(
[[flows]]
src_node_id = 1
dst_node_id = 3
flow_spec = { flow_len = { Bytes = 10000000 }, transport = "tcp" }

[[flows]]
id = 7
src_node_id = 2
dst_node_id = 4
flow_spec = { flow_len = { Duration = 2.5 }, flow_rate = 250000, flow_weight = 2 }

[[flows]]
src_node_id = 4
dst_node_id = 1
[flows.flow_spec]
flow_len = { Duration = 3 }
)");
  ASSERT_EQ(config.flows.size(), 3u);
  const auto& bytes = config.flows[0];
  EXPECT_EQ(bytes.flow_id, 1u);
  EXPECT_EQ(bytes.src, 1u);
  EXPECT_EQ(bytes.dst, 3u);
  EXPECT_EQ(bytes.length_bytes, 10000000u);
  EXPECT_FALSE(bytes.duration_s);
  EXPECT_FALSE(bytes.rate_bytes_per_s);
  EXPECT_FALSE(bytes.weight);
  EXPECT_EQ(bytes.transport, "tcp");
  EXPECT_FALSE(bytes.route_id);
  const auto& paced = config.flows[1];
  EXPECT_EQ(paced.flow_id, 7u);
  EXPECT_EQ(paced.duration_s, 2.5);
  EXPECT_EQ(paced.rate_bytes_per_s, 250000u);
  EXPECT_EQ(paced.weight, 2u);
  // Ids not given take the lowest free ones, in file order.
  EXPECT_EQ(config.flows[2].flow_id, 2u);
  EXPECT_EQ(config.flows[2].duration_s, 3.0);
}

TEST(FlowConfigTest, EveryBadValueIsReportedWithItsPath) {
  const std::string message = parse_error(R"(
[[flows]]
src_node_id = 9
dst_node_id = 1
flow_spec = { flow_len = { Bytes = 0 } }

[[flows]]
src_node_id = 2
dst_node_id = 2
flow_spec = { flow_len = { Bytes = 5, Duration = 1.0 }, transport = "udp" }

[[flows]]
src_node_id = 1
dst_node_id = 2
flow_spec = { flow_len = { Duration = -1.0 }, flow_rate = 0, flow_weight = 0 }

[[flows]]
src_node_id = 1
dst_node_id = 2
flow_spec = { flow_rate = "fast", colour = "red" }
speed = 3

[[flows]]
id = 4
src_node_id = "one"
flow_spec = { flow_len = { Packets = 3 } }

[[flows]]
id = 4
src_node_id = 1
dst_node_id = 3
)");
  for (const char* expected : {
           "flows[0].src_node_id: 9 is not a node of the topology (1..4)",
           "flows[0].flow_spec.flow_len: 0 bytes: a flow sends at least 1 byte",
           "flows[1].dst_node_id: 2 is also the source",
           "flows[1].flow_spec.flow_len: both a length in bytes and a duration are given",
           "flows[1].flow_spec.transport: \"udp\" is not supported (only \"tcp\")",
           "flows[2].flow_spec.flow_len.Duration: -1 is not a duration in seconds",
           "flows[2].flow_spec.flow_rate: 0 bytes/s",
           "flows[2].flow_spec.flow_weight: 0 is not a weight (1..255)",
           "flows[3].speed: unknown key",
           "flows[3].flow_spec.colour: unknown key",
           "flows[3].flow_spec.flow_rate: \"fast\" is not a rate in bytes per second",
           "flows[3].flow_spec.flow_len: missing",
           "flows[4].src_node_id: \"one\" is not a node id",
           "flows[4].dst_node_id: missing",
           "flows[4].flow_spec.flow_len.Packets: unknown key",
           "flows[5].flow_spec: missing",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
}

TEST(FlowConfigTest, DuplicateIdsAreRefused) {
  const std::string message = parse_error(R"(
[[flows]]
id = 3
src_node_id = 1
dst_node_id = 2
flow_spec = { flow_len = { Bytes = 100 } }
[[flows]]
id = 3
src_node_id = 2
dst_node_id = 1
flow_spec = { flow_len = { Bytes = 100 } }
)");
  EXPECT_NE(message.find("flows[1].id: 3 is already the id of flows[0]"), std::string::npos)
      << message;
}

TEST(FlowConfigTest, FlowsIsAListOfTables) {
  auto result = parse_config("flows = 3\n" + kRing4, "test.toml");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("flows: 3 is not a list of [[flows]] tables"),
            std::string::npos)
      << result.error().message;
}

TEST(FlowConfigTest, RoutePinMustNameARouteBetweenTheSameNodes) {
  Config config = parse_ok(R"(
[[routes]]
route = [1, 2, 3]
[[routes]]
route = [1, 4, 3]

[[flows]]
src_node_id = 1
dst_node_id = 3
route_id = 2
flow_spec = { flow_len = { Bytes = 100 } }
[[flows]]
src_node_id = 2
dst_node_id = 4
route_id = 1
flow_spec = { flow_len = { Bytes = 100 } }
[[flows]]
src_node_id = 2
dst_node_id = 4
route_id = 999
flow_spec = { flow_len = { Bytes = 100 } }
)");
  auto topology = build_topology(config);
  ASSERT_TRUE(topology);
  auto routes = build_routes(config, *topology);
  ASSERT_TRUE(routes);
  // Route ids follow (src, dst) order: 1 -> 2 is route 1, 1 -> 3's configured routes 2 and 3.
  const auto errors = check_flow_routes(config, *routes);
  ASSERT_EQ(errors.size(), 2u) << fmt::format("{}", fmt::join(errors, "\n"));
  EXPECT_EQ(errors[0], "flows[1].route_id: route 1 goes from 1 to 2, not from 2 to 4");
  EXPECT_EQ(errors[1].rfind("flows[2].route_id: route 999 does not exist", 0), 0u) << errors[1];
}

TEST(FlowConfigTest, CheckFlowNamesSpecFields) {
  messages::FlowSpec spec;
  spec.src = 1;
  spec.dst = 5;
  spec.length_bytes = 10;
  const auto problems = check_flow(spec, 4, nullptr);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(flow_spec_field_name(problems[0].field), "dst");
  spec.dst = 2;
  EXPECT_TRUE(check_flow(spec, 4, nullptr).empty());
}

}  // namespace
}  // namespace nextmini::controller
