// Link emulation config: [link_defaults], [[links]], [[link_rates]] -> Config::link_params.

#include "nextmini/controller/link_config.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/config.hpp"
#include "nextmini/controller/memory_store.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/topology.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {
namespace {

using messages::LinkParams;

// Ring of 4: edges 1-2, 2-3, 3-4, 4-1.
const std::string kRing4 = "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 4 }\n";

Config parse_ok(const std::string& text) {
  auto result = parse_config(kRing4 + text, "test.toml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  return result ? *result : Config{};
}

std::string parse_error(const std::string& text) {
  auto result = parse_config(kRing4 + text, "test.toml");
  EXPECT_FALSE(result.has_value()) << "config was accepted:\n" << text;
  if (result) return "";
  EXPECT_EQ(result.error().code, "config.invalid");
  return result.error().message;
}

TEST(LinkConfigTest, NoLinkTablesMeansNoParams) {
  const Config config = parse_ok("");
  EXPECT_TRUE(config.link_params.empty());
  EXPECT_FALSE(messages::has_any_knob(config.link_defaults));
}

TEST(LinkConfigTest, EveryKeyInLinkDefaultsReachesEveryDirectedLink) {
  const Config config = parse_ok(R"(
[link_defaults]
rate = "100mbit"
burst = "64kib"
delay = "10ms"
jitter = "500us"
jitter_distribution = "normal"
reorder = true
loss = "1.5%"
duplicate = "0.1%"
corrupt = "2%"
queue_packets = 1000
queue_bytes = 150000
drop_policy = "codel"
scheduler = "drr"
mtu = 1400
up = true
)");
  ASSERT_EQ(config.link_params.size(), 8u);  // 4 edges, both directions
  const LinkParams& p = config.link_params.at({2, 1});
  EXPECT_EQ(p.rate_bps, 100'000'000u);
  EXPECT_EQ(p.burst_bytes, 65536u);
  EXPECT_EQ(p.delay_ns, 10'000'000u);
  EXPECT_EQ(p.jitter_ns, 500'000u);
  EXPECT_EQ(p.jitter_distribution, "normal");
  EXPECT_EQ(p.reorder, true);
  EXPECT_DOUBLE_EQ(*p.loss_percent, 1.5);
  EXPECT_DOUBLE_EQ(*p.duplicate_percent, 0.1);
  EXPECT_DOUBLE_EQ(*p.corrupt_percent, 2.0);
  EXPECT_EQ(p.queue_packets, 1000u);
  EXPECT_EQ(p.queue_bytes, 150000u);
  EXPECT_EQ(p.drop_policy, "codel");
  EXPECT_EQ(p.scheduler, "drr");
  EXPECT_EQ(p.mtu, 1400u);
  EXPECT_EQ(p.up, true);
  for (const auto& [key, params] : config.link_params) EXPECT_EQ(params, p);
  EXPECT_FALSE(config.link_params.contains({1, 3}));  // not an edge
}

TEST(LinkConfigTest, LinksOverrideDefaultsPerDirection) {
  const Config config = parse_ok(R"(
[link_defaults]
delay = "5ms"
[[links]]
src = 1
dst = 2
delay = "20ms"
loss = "1%"
[[links]]
src = 3
dst = 4
bidirectional = true
rate = "unlimited"
up = false
)");
  ASSERT_EQ(config.link_params.size(), 8u);
  EXPECT_EQ(config.link_params.at({1, 2}).delay_ns, 20'000'000u);
  EXPECT_DOUBLE_EQ(*config.link_params.at({1, 2}).loss_percent, 1.0);
  EXPECT_EQ(config.link_params.at({2, 1}).delay_ns, 5'000'000u);  // other direction untouched
  EXPECT_FALSE(config.link_params.at({2, 1}).loss_percent.has_value());
  for (const auto& key : {std::pair<NodeId, NodeId>{3, 4}, {4, 3}}) {
    const LinkParams& p = config.link_params.at(key);
    EXPECT_EQ(p.rate_bps, 0u);  // unlimited
    EXPECT_EQ(p.up, false);
    EXPECT_EQ(p.delay_ns, 5'000'000u);
  }
}

TEST(LinkConfigTest, OnlyConfiguredLinksWithoutDefaults) {
  const Config config = parse_ok(R"(
[[links]]
src = 4
dst = 1
queue_bytes = "1mb"
)");
  ASSERT_EQ(config.link_params.size(), 1u);
  EXPECT_EQ(config.link_params.at({4, 1}).queue_bytes, 1'000'000u);
}

TEST(LinkConfigTest, NextminiLinkRatesAreBytesPerSecond) {
  const Config config = parse_ok(R"(
[[link_rates]]
src_node_id = 1
dst_node_id = 2
rate = 12500000
bucket_size = 30000
[[link_rates]]
src_node_id = 2
dst_node_id = 3
rate = 1000
[[links]]
src = 2
dst = 3
rate = "1gbit"
)");
  ASSERT_EQ(config.link_params.size(), 2u);
  EXPECT_EQ(config.link_params.at({1, 2}).rate_bps, 100'000'000u);
  EXPECT_EQ(config.link_params.at({1, 2}).burst_bytes, 30000u);
  EXPECT_EQ(config.link_params.at({2, 3}).rate_bps, 1'000'000'000u);  // [[links]] wins
}

TEST(LinkConfigTest, JitterWithinDelayOrReorderingIsFine) {
  const Config config = parse_ok(R"(
[[links]]
src = 1
dst = 2
delay = "10ms"
jitter = "10ms"
reorder = false
[[links]]
src = 2
dst = 3
delay = "1ms"
jitter = "5ms"
reorder = true
)");
  EXPECT_EQ(config.link_params.size(), 2u);
}

TEST(LinkConfigTest, BadValuesNameKeyPathAndValueAllTogether) {
  const std::string message = parse_error(R"(
[link_defaults]
rate = "100"
loss = "150%"
queue_packets = 0
[[links]]
src = 1
dst = 2
delay = "20xs"
jitter_distribution = "pareto"
drop_policy = "fq"
scheduler = "sfq"
reorder = "no"
mtu = 50
burst = "lots"
duplicate = 5
corrupt = "-1%"
colour = "red"
[[links]]
src = 9
dst = 2
[[links]]
dst = 2
rate = "0mbit"
[[link_rates]]
src_node_id = 1
dst_node_id = 2
rate = -5
size = 1
)");
  for (const std::string expected : {
           "link_defaults.rate: '100'",
           "link_defaults.loss: '150%'",
           "link_defaults.queue_packets: 0 is not an integer between 1 and 1e8",
           "links[0].delay: '20xs' is not a duration",
           R"(links[0].jitter_distribution: "pareto" is not one of "uniform", "normal")",
           R"(links[0].drop_policy: "fq" is not one of "taildrop", "red", "codel")",
           R"(links[0].scheduler: "sfq" is not one of "fifo", "wrr", "drr")",
           R"(links[0].reorder: "no" is not true or false)",
           "links[0].mtu: 50 is not an integer between 68 and 65535",
           "links[0].burst: 'lots'",
           "links[0].duplicate: 5 is not a percentage",
           "links[0].corrupt: '-1%'",
           "links[0].colour: unknown key",
           "links[1].src: 9 is not a node id (1..4)",
           "links[2].src: missing",
           R"(links[2].rate: "0mbit" is zero)",
           "link_rates[0].rate: -5 is not a positive integer (bytes per second)",
           "link_rates[0].size: unknown key",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
}

TEST(LinkConfigTest, LinkNotInTheTopologyIsRefused) {
  EXPECT_NE(parse_error("[[links]]\nsrc = 1\ndst = 3\ndelay = \"1ms\"\n")
                .find("links[0]: 1 -> 3 is not a topology link"),
            std::string::npos);
  EXPECT_NE(parse_error("[[link_rates]]\nsrc_node_id = 2\ndst_node_id = 4\nrate = 100\n")
                .find("link_rates[0]: 2 -> 4 is not a topology link"),
            std::string::npos);
  EXPECT_NE(parse_error("[[links]]\nsrc = 2\ndst = 2\n").find("links[0]: 2 -> 2 is not"),
            std::string::npos);
}

TEST(LinkConfigTest, JitterLargerThanDelayWithoutReorderingIsRefused) {
  const std::string message = parse_error(R"(
[link_defaults]
delay = "10ms"
[[links]]
src = 1
dst = 2
jitter = "15ms"
reorder = false
)");
  EXPECT_NE(
      message.find(
          R"(links[0]: link 1 -> 2: jitter: 15ms is larger than delay 10ms with reorder = false)"),
      std::string::npos)
      << message;
  // reorder unset means false (the node keeps order by default).
  const std::string unset = parse_error("[[links]]\nsrc = 2\ndst = 3\njitter = \"1ms\"\n");
  EXPECT_NE(unset.find(R"(links[0]: link 2 -> 3: jitter: 1ms is larger than delay 0ms with )"
                       R"(reorder = false (the default))"),
            std::string::npos)
      << unset;
}

TEST(LinkConfigTest, GilbertElliottLossTable) {
  const Config config = parse_ok(R"(
[link_defaults]
loss = "1%"
[[links]]
src = 1
dst = 2
loss = { model = "gilbert_elliott", p = "1%", r = "30%", one_minus_h = "90%", one_minus_k = "0.5%" }
[[links]]
src = 2
dst = 3
loss = { model = "gilbert_elliott", p = "2%", r = "25%" }
[[links]]
src = 2
dst = 3
bidirectional = true
loss = "3%"
)");
  const LinkParams& ge = config.link_params.at({1, 2});
  EXPECT_FALSE(ge.loss_percent.has_value());  // the table replaced the default Bernoulli loss
  EXPECT_DOUBLE_EQ(ge.ge_p_percent.value_or(-1), 1.0);
  EXPECT_DOUBLE_EQ(ge.ge_r_percent.value_or(-1), 30.0);
  EXPECT_DOUBLE_EQ(ge.ge_one_minus_h_percent.value_or(-1), 90.0);
  EXPECT_DOUBLE_EQ(ge.ge_one_minus_k_percent.value_or(-1), 0.5);
  const LinkParams& back = config.link_params.at({2, 3});  // GE, then Bernoulli again
  EXPECT_DOUBLE_EQ(back.loss_percent.value_or(-1), 3.0);
  EXPECT_FALSE(back.ge_p_percent.has_value());
  EXPECT_FALSE(back.ge_one_minus_h_percent.has_value());
  EXPECT_DOUBLE_EQ(config.link_params.at({2, 1}).loss_percent.value_or(-1), 1.0);

  const Config defaults = parse_ok(R"(
[[links]]
src = 3
dst = 4
loss = { model = "gilbert_elliott", p = "2%", r = "25%" }
)");
  const LinkParams& simple = defaults.link_params.at({3, 4});
  EXPECT_DOUBLE_EQ(simple.ge_one_minus_h_percent.value_or(-1), 100.0);
  EXPECT_DOUBLE_EQ(simple.ge_one_minus_k_percent.value_or(-1), 0.0);
}

TEST(LinkConfigTest, BadGilbertElliottTable) {
  const std::string message = parse_error(R"(
[link_defaults]
loss = { model = "markov", p = "120%", one_minus_k = 3, q = "1%" }
)");
  for (const std::string expected : {
           R"(link_defaults.loss.model: "markov" is not one of "gilbert_elliott")",
           "link_defaults.loss.p: '120%'",
           "link_defaults.loss.r: missing",
           "link_defaults.loss.one_minus_k: 3 is not a percentage",
           "link_defaults.loss.q: unknown key",
       }) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << "\nin:\n" << message;
  }
}

TEST(LinkConfigTest, TraceFileIsReadCheckedAndSent) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("nextmini_link_config_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "good.up") << "1\n1\n2\n5\n";
  std::ofstream(dir / "bad.up") << "1\n7\n3\n";
  const std::string config_text = kRing4 + R"(
[[links]]
src = 1
dst = 2
trace = "good.up"
)";
  // A relative path is relative to the config file's directory.
  auto config = parse_config(config_text, (dir / "net.toml").string());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(config->link_params.at({1, 2}).trace, "1\n1\n2\n5\n");

  auto refused = parse_config(kRing4 + "[[links]]\nsrc = 1\ndst = 2\ntrace = \"bad.up\"\n" +
                                  "[[links]]\nsrc = 2\ndst = 3\ntrace = \"missing.up\"\n" +
                                  "[[links]]\nsrc = 3\ndst = 4\ntrace = 5\n" +
                                  "[[links]]\nsrc = 4\ndst = 1\ntrace = \"/dev/zero\"\n",
                              (dir / "net.toml").string());
  ASSERT_FALSE(refused.has_value());
  const std::string& message = refused.error().message;
  EXPECT_NE(message.find("links[0].trace: \"" + (dir / "bad.up").string() + "\": line 3"),
            std::string::npos)
      << message;
  EXPECT_NE(
      message.find("links[1].trace: \"" + (dir / "missing.up").string() + "\" cannot be read"),
      std::string::npos)
      << message;
  EXPECT_NE(message.find("links[2].trace: 5 is not a path to a Mahimahi trace file"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("links[3].trace: \"/dev/zero\" cannot be read"), std::string::npos)
      << message;
  std::filesystem::remove_all(dir);
}

TEST(LinkConfigTest, FlowWeightOnALinkIsRefused) {
  const std::string message = parse_error("[link_defaults]\nflow_weight = 2\n");
  EXPECT_NE(message.find("link_defaults.flow_weight: per-flow weights belong to [[flows]]"),
            std::string::npos)
      << message;
}

TEST(LinkConfigTest, WrongTableShapes) {
  // Top-level keys must come before kRing4's [topology] table.
  auto result = parse_config("link_defaults = 3\nlinks = [1, 2]\n" + kRing4, "test.toml");
  ASSERT_FALSE(result.has_value());
  const std::string& message = result.error().message;
  EXPECT_NE(message.find("link_defaults: 3 is not a table"), std::string::npos) << message;
  EXPECT_NE(message.find("links: [1, 2] is not a list of [[links]] tables"), std::string::npos)
      << message;
}

// BringUp sends each node, after its InstallRoutes, one SetLinkParams per configured outgoing link.
TEST(LinkConfigTest, BringUpSendsSetLinkParamsAfterInstallRoutes) {
  const Config config = parse_ok(R"(
[[links]]
src = 1
dst = 2
bidirectional = true
delay = "10ms"
[[links]]
src = 1
dst = 4
loss = "2%"
)");
  auto topology = build_topology(config);
  ASSERT_TRUE(topology.has_value());
  auto routes = build_routes(config, *topology);
  ASSERT_TRUE(routes.has_value());
  MemoryStore store;
  BringUp bring_up(config, *topology, *routes, store);

  auto start = [&](ConnectionId c, NodeId id) {
    bring_up.on_connect(c, "192.0.2." + std::to_string(c));
    messages::StartUp message;
    message.node_id = id;
    message.link_port = static_cast<std::uint16_t>(7000 + c);
    return bring_up.on_message(c, message);
  };
  auto link_messages = [](const std::vector<Outgoing>& out, ConnectionId c) {
    std::vector<messages::SetLinkParams> found;
    bool after_routes = false;
    for (const auto& o : out) {
      if (o.connection != c) continue;
      if (std::holds_alternative<messages::InstallRoutes>(o.message)) after_routes = true;
      if (const auto* set = std::get_if<messages::SetLinkParams>(&o.message)) {
        EXPECT_TRUE(after_routes) << "SetLinkParams before InstallRoutes";
        found.push_back(*set);
      }
    }
    return found;
  };

  const auto node1 = link_messages(start(1, 1), 1);
  ASSERT_EQ(node1.size(), 2u);
  EXPECT_EQ(node1[0].src, 1u);
  EXPECT_EQ(node1[0].dst, 2u);
  EXPECT_EQ(node1[0].params.delay_ns, 10'000'000u);
  EXPECT_EQ(node1[1].src, 1u);
  EXPECT_EQ(node1[1].dst, 4u);
  EXPECT_DOUBLE_EQ(node1[1].params.loss_percent.value_or(-1), 2.0);

  const auto node2 = link_messages(start(2, 2), 2);
  ASSERT_EQ(node2.size(), 1u);
  EXPECT_EQ(node2[0].src, 2u);
  EXPECT_EQ(node2[0].dst, 1u);
  EXPECT_EQ(node2[0].params.delay_ns, 10'000'000u);

  EXPECT_TRUE(link_messages(start(3, 3), 3).empty());  // no knob on 3's links
  EXPECT_TRUE(link_messages(start(4, 4), 4).empty());  // 1 -> 4 only, not 4 -> 1
}

}  // namespace
}  // namespace nextmini::controller
