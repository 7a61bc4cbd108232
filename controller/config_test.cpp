#include "nextmini/controller/config.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

namespace nextmini::controller {
namespace {

Config parse_ok(const std::string& text) {
  auto result = parse_config(text, "test.toml");
  EXPECT_TRUE(result.has_value()) << (result ? "" : result.error().message);
  return result ? *result : Config{};
}

// The error message of a config that must be refused.
std::string parse_error(const std::string& text) {
  auto result = parse_config(text, "test.toml");
  EXPECT_FALSE(result.has_value()) << "config was accepted:\n" << text;
  if (result) return "";
  EXPECT_EQ(result.error().code, "config.invalid");
  return result.error().message;
}

const std::string kRing4 = R"(
[topology]
type = "ring"
[topology.ring_config]
n_nodes = 4
)";

TEST(ConfigTest, DefaultsForAMinimalRing) {
  const Config config = parse_ok(kRing4);
  EXPECT_EQ(config.port, 3000);
  EXPECT_EQ(config.listen_address, "0.0.0.0");
  EXPECT_EQ(config.base_addr, "10.0.0.0");
  EXPECT_EQ(config.net_mask, "255.255.0.0");
  EXPECT_EQ(config.protocol, "tcp");
  EXPECT_EQ(config.token, "");
  EXPECT_EQ(config.mtu, 1400u);
  EXPECT_EQ(config.metrics_interval_ms, 1000u);
  EXPECT_EQ(config.routing_protocol, "shortest_path");
  EXPECT_EQ(parse_ok("protocol = \"udp\"\n" + kRing4).protocol, "udp");
  EXPECT_EQ(config.topology.type, TopologyType::kRing);
  EXPECT_EQ(config.n_nodes(), 4u);
  EXPECT_TRUE(config.routes.empty());
  EXPECT_TRUE(config.nodes.empty());
  EXPECT_EQ(node_address(config, 3), "10.0.0.3");
  EXPECT_EQ(prefix_length(config), 16u);
}

TEST(ConfigTest, EveryTopLevelKey) {
  const Config config = parse_ok(R"(
port = 4000
listen_address = "127.0.0.1"
base_addr = "192.168.0.0"
net_mask = "255.255.255.0"
protocol = "tcp"
token = "s3cret"
mtu = 9000
metrics_interval_ms = 250
[topology]
type = "full_mesh"
[topology.full_mesh_config]
n_nodes = 5
[routing]
protocol = "shortest_path"
[[nodes]]
node_id = 2
operating_mode = "python"
[[nodes]]
node_id = 3
workers = 4
)");
  EXPECT_EQ(config.port, 4000);
  EXPECT_EQ(config.listen_address, "127.0.0.1");
  EXPECT_EQ(config.token, "s3cret");
  EXPECT_EQ(config.mtu, 9000u);
  EXPECT_EQ(config.metrics_interval_ms, 250u);
  EXPECT_EQ(config.topology.type, TopologyType::kFullMesh);
  EXPECT_EQ(config.n_nodes(), 5u);
  EXPECT_EQ(node_address(config, 5), "192.168.0.5");
  EXPECT_EQ(prefix_length(config), 24u);
  ASSERT_EQ(config.nodes.size(), 2u);
  EXPECT_EQ(config.nodes[0].node_id, 2u);
  EXPECT_EQ(config.nodes[0].operating_mode, "python");
  EXPECT_EQ(config.nodes[1].operating_mode, "tun");
  EXPECT_EQ(config.nodes[0].workers, 0u);  // the launcher's default
  EXPECT_EQ(config.nodes[1].workers, 4u);
}

TEST(ConfigTest, FatTreeAndTorusPresets) {
  const Config fat_tree = parse_ok(R"(
[topology]
type = "fat_tree"
[topology.fat_tree_config]
k = 4
)");
  EXPECT_EQ(fat_tree.topology.k, 4u);
  EXPECT_EQ(fat_tree.n_nodes(), 4u + 16u + 16u);

  const Config torus = parse_ok(R"(
[topology]
type = "torus"
[topology.torus_config]
dim = 2
n = 3
)");
  EXPECT_EQ(torus.topology.dim, 2u);
  EXPECT_EQ(torus.topology.n, 3u);
  EXPECT_EQ(torus.n_nodes(), 9u);
}

TEST(ConfigTest, UnselectedPresetTablesMayStay) {
  const Config config = parse_ok(R"(
[topology]
type = "torus"
[topology.ring_config]
n_nodes = 8
[topology.torus_config]
dim = 3
n = 2
)");
  EXPECT_EQ(config.n_nodes(), 8u);
  EXPECT_EQ(config.topology.type, TopologyType::kTorus);
}

TEST(ConfigTest, CustomEdges) {
  const Config config = parse_ok(R"(
[topology]
type = "custom"
n_nodes = 5
edges = [[1, 2], [2, 3], [3, 1], [4, 3]]
)");
  EXPECT_EQ(config.n_nodes(), 5u);
  ASSERT_EQ(config.topology.edges.size(), 4u);
  EXPECT_EQ(config.topology.edges[3], (std::pair<NodeId, NodeId>{4, 3}));

  const Config implied = parse_ok(R"(
[topology]
type = "custom"
edges = [[1, 2], [2, 7]]
)");
  EXPECT_EQ(implied.n_nodes(), 7u);
}

TEST(ConfigTest, ExplicitPathAndDagRoutes) {
  const Config config = parse_ok(kRing4 + R"(
[[routes]]
route = [1, 4, 3]
[[routes]]
route = [[1, 2], [2, 3], [1, 4], [4, 3]]
weight = 3
)");
  ASSERT_EQ(config.routes.size(), 2u);
  const auto& path = config.routes[0];
  EXPECT_TRUE(path.is_path);
  EXPECT_EQ(path.path, (std::vector<NodeId>{1, 4, 3}));
  EXPECT_EQ(path.src, 1u);
  EXPECT_EQ(path.dst, 3u);
  EXPECT_EQ(path.edges.size(), 2u);
  EXPECT_EQ(path.weight, 1u);
  const auto& dag = config.routes[1];
  EXPECT_FALSE(dag.is_path);
  EXPECT_EQ(dag.src, 1u);
  EXPECT_EQ(dag.dst, 3u);
  EXPECT_EQ(dag.edges.size(), 4u);
  EXPECT_EQ(dag.weight, 3u);
}

TEST(ConfigTest, TomlSyntaxErrorNamesFileAndLine) {
  const std::string message = parse_error("port = \n");
  EXPECT_EQ(message.rfind("test.toml:1:", 0), 0u) << message;
}

TEST(ConfigTest, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(parse_error(kRing4 + "[routing]\nprotocl = \"shortest_path\"\n"),
            "routing.protocl: unknown key");
  EXPECT_EQ(parse_error("prot = 1\n" + kRing4), "prot: unknown key");
  EXPECT_EQ(parse_error(R"(
[topology]
type = "ring"
typo = 1
[topology.ring_config]
n_nodes = 4
nodes = 4
)"),
            "topology.typo: unknown key\ntopology.ring_config.nodes: unknown key");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nrout = [1, 2]\n"),
            "routes[0].rout: unknown key\nroutes[0].route: missing");
}

TEST(ConfigTest, BadScalarValues) {
  EXPECT_EQ(parse_error("port = 70000\n" + kRing4), "port: 70000 is not a port number (0..65535)");
  EXPECT_EQ(parse_error("port = \"3000\"\n" + kRing4),
            "port: \"3000\" is not a port number (0..65535)");
  EXPECT_EQ(parse_error("protocol = \"sctp\"\n" + kRing4),
            "protocol: \"sctp\" is not supported (only \"tcp\" or \"udp\" for now)");
  EXPECT_EQ(parse_error("token = 5\n" + kRing4), "token: 5 is not a string");
  EXPECT_EQ(parse_error("mtu = 100\n" + kRing4),
            "mtu: 100 is not an integer between 576 and 65535");
  EXPECT_EQ(parse_error("metrics_interval_ms = 0\n" + kRing4),
            "metrics_interval_ms: 0 is not an integer between 1 and 3600000");
  EXPECT_EQ(parse_error("listen_address = \"localhost\"\n" + kRing4),
            "listen_address: \"localhost\" is not an IPv4 address");
}

TEST(ConfigTest, BadAddressing) {
  EXPECT_EQ(parse_error("base_addr = \"10.0.0\"\n" + kRing4),
            "base_addr: \"10.0.0\" is not an IPv4 address");
  EXPECT_EQ(parse_error("net_mask = \"255.0.255.0\"\n" + kRing4),
            "net_mask: \"255.0.255.0\" is not a contiguous network mask");
  EXPECT_EQ(parse_error("net_mask = \"255.255.255.252\"\n" + kRing4),
            "net_mask: 4 nodes do not fit in \"255.255.255.252\" from base_addr \"10.0.0.0\" "
            "(room for 2)");
}

TEST(ConfigTest, Ipv6Addressing) {
  const Config defaults = parse_ok(kRing4);
  EXPECT_EQ(defaults.base_addr6, "fd00:6e6d::");
  EXPECT_EQ(defaults.prefix_length6, 64u);
  EXPECT_EQ(node_address6(defaults, 3), "fd00:6e6d::3");
  EXPECT_EQ(node_address6(defaults, 300), "fd00:6e6d::12c");

  const Config custom =
      parse_ok("base_addr6 = \"2001:db8:1::ff00\"\nprefix_length6 = 112\n" + kRing4);
  EXPECT_EQ(node_address6(custom, 1), "2001:db8:1::ff01");
  EXPECT_EQ(node_address6(custom, 256), "2001:db8:1::1:0");  // carries into the next group
  const Config off = parse_ok("base_addr6 = \"\"\n" + kRing4);
  EXPECT_EQ(node_address6(off, 1), "");

  EXPECT_EQ(parse_error("base_addr6 = \"fd00::g\"\n" + kRing4),
            "base_addr6: \"fd00::g\" is not an IPv6 address");
  EXPECT_EQ(parse_error("prefix_length6 = 200\n" + kRing4),
            "prefix_length6: 200 is not an integer between 8 and 124");
  EXPECT_EQ(parse_error("base_addr6 = \"fd00::fffe\"\nprefix_length6 = 112\n" + kRing4),
            "prefix_length6: 4 nodes do not fit in /112 from base_addr6 \"fd00::fffe\"");
}

TEST(ConfigTest, BadTopology) {
  EXPECT_EQ(parse_error("port = 1\n"),
            "topology: missing (a [topology] table with type = \"full_mesh\", \"ring\", "
            "\"fat_tree\", \"torus\" or \"custom\")");
  EXPECT_EQ(parse_error("[topology]\ntype = \"star\"\n"),
            "topology.type: \"star\" is not one of \"full_mesh\", \"ring\", \"fat_tree\", "
            "\"torus\" or \"custom\"");
  EXPECT_EQ(parse_error("[topology]\ntype = \"ring\"\n"),
            "topology.ring_config: missing (needed when topology.type is \"ring\")");
  EXPECT_EQ(parse_error("[topology]\ntype = \"ring\"\n[topology.ring_config]\nn_nodes = -3\n"),
            "topology.ring_config.n_nodes: -3 is not a positive integer");
  EXPECT_EQ(parse_error("[topology]\ntype = \"full_mesh\"\n[topology.full_mesh_config]\n"),
            "topology.full_mesh_config.n_nodes: missing");
  EXPECT_EQ(parse_error("[topology]\ntype = \"fat_tree\"\n[topology.fat_tree_config]\nk = 3\n"),
            "topology.fat_tree_config.k: 3 is not an even integer between 2 and 64");
  EXPECT_EQ(parse_error("[topology]\ntype = \"torus\"\n[topology.torus_config]\ndim = 2\nn = 1\n"),
            "topology.torus_config.n: 1 is not an integer of at least 2");
  EXPECT_EQ(parse_error("[topology]\ntype = \"torus\"\n[topology.torus_config]\ndim = 8\nn = 10\n"),
            "topology.torus_config: makes more than 10000 nodes");
  EXPECT_EQ(parse_error(kRing4 + "\n[topology.full_mesh_config]\nn_nodes = 0\n"),
            "topology.full_mesh_config.n_nodes: 0 is not a positive integer");
  EXPECT_EQ(parse_error("[topology]\ntype = \"ring\"\nedges = [[1, 2]]\n"
                        "[topology.ring_config]\nn_nodes = 4\n"),
            "topology.edges: only used when topology.type is \"custom\"");
}

TEST(ConfigTest, BadCustomEdges) {
  EXPECT_EQ(parse_error("[topology]\ntype = \"custom\"\nn_nodes = 3\n"),
            "topology.edges: missing (a list of [a, b] node pairs when topology.type is "
            "\"custom\")");
  EXPECT_EQ(parse_error(R"(
[topology]
type = "custom"
n_nodes = 3
edges = [[1, 2], [2], [2, 2], [3, 4], [2, 1], ["a", 1]]
)"),
            "topology.edges[1]: [2] is not a pair of node ids [a, b]\n"
            "topology.edges[2]: [2, 2] connects node 2 to itself\n"
            "topology.edges[3]: node 4 is out of range 1..3\n"
            "topology.edges[4]: [2, 1] repeats topology.edges[0]\n"
            "topology.edges[5]: [\"a\", 1] is not a pair of node ids [a, b]");
}

TEST(ConfigTest, BadRoutes) {
  EXPECT_EQ(parse_error(kRing4 + "[routing]\nprotocol = \"ospf\"\n"),
            "routing.protocol: \"ospf\" is not supported (only \"shortest_path\")");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [1, 9]\n"),
            "routes[0].route: node 9 is out of range 1..4");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [1]\n"),
            "routes[0].route: [1] needs at least two nodes");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [1, 2, 1]\n"),
            "routes[0].route: [1, 2, 1] visits node 1 twice");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [1, [2, 3]]\n"),
            "routes[0].route: [1, [2, 3]] is neither a path [1, 2, 3] nor a list of edges "
            "[[1, 2], [2, 3]]");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [[1, 2], [2, 3], [2, 1]]\n"),
            "routes[0].route: a DAG route needs exactly one start node (no incoming edge), "
            "found 0 ()\nroutes[0].route: the edges form a cycle");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [[1, 2], [4, 3]]\n"),
            "routes[0].route: a DAG route needs exactly one start node (no incoming edge), "
            "found 2 (1, 4)\n"
            "routes[0].route: a DAG route needs exactly one end node (no outgoing edge), "
            "found 2 (2, 3)");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [[1, 2], [1, 2]]\n"),
            "routes[0].route[1]: [1, 2] is listed twice");
  EXPECT_EQ(parse_error(kRing4 + "[[routes]]\nroute = [1, 2]\nweight = 0\n"),
            "routes[0].weight: 0 is not an integer between 1 and 1000000");
  EXPECT_EQ(parse_error("routes = 5\n" + kRing4), "routes: 5 is not a list of [[routes]] tables");
}

TEST(ConfigTest, BadNodes) {
  EXPECT_EQ(parse_error(kRing4 + "[[nodes]]\nnode_id = 5\n"),
            "nodes[0].node_id: node 5 is out of range 1..4");
  EXPECT_EQ(parse_error(kRing4 + "[[nodes]]\noperating_mode = \"tun\"\n"),
            "nodes[0].node_id: missing");
  EXPECT_EQ(parse_error(kRing4 + "[[nodes]]\nnode_id = 1\noperating_mode = \"kernel\"\n"),
            "nodes[0].operating_mode: \"kernel\" is not \"tun\" or \"python\"");
  EXPECT_EQ(parse_error(kRing4 + "[[nodes]]\nnode_id = 1\nworkers = 0\n"),
            "nodes[0].workers: 0 is not an integer between 1 and 64");
  EXPECT_EQ(parse_error(kRing4 + "[[nodes]]\nnode_id = 1\n[[nodes]]\nnode_id = 1\n"),
            "nodes[1].node_id: node 1 is already configured by nodes[0]");
}

TEST(ConfigTest, ReportsEveryErrorAtOnce) {
  const std::string message = parse_error(R"(
port = -1
protocol = "quic"
bogus = true
[topology]
type = "ring"
[topology.ring_config]
n_nodes = 0
)");
  EXPECT_EQ(message,
            "bogus: unknown key\n"
            "port: -1 is not a port number (0..65535)\n"
            "protocol: \"quic\" is not supported (only \"tcp\" or \"udp\" for now)\n"
            "topology.ring_config.n_nodes: 0 is not a positive integer");
}

TEST(ConfigTest, LoadFileReportsUnreadableFile) {
  auto missing = load_config_file("/nonexistent/controller.toml");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, "config.io");
  EXPECT_EQ(missing.error().message, "/nonexistent/controller.toml: cannot be read");

  const auto path = std::filesystem::temp_directory_path() / "nextmini_config_test.toml";
  {
    std::ofstream file(path);
    file << kRing4;
  }
  auto loaded = load_config_file(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  EXPECT_EQ(loaded->n_nodes(), 4u);
  EXPECT_EQ(loaded->source_name, path.string());
}

TEST(ConfigTest, DbTableNamesTheDatabase) {
  auto config =
      parse_config(kRing4 + "[db]\nurl = \"postgresql://nm@127.0.0.1:5432/nm\"\n", "test.toml");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->db_url, "postgresql://nm@127.0.0.1:5432/nm");
  EXPECT_TRUE(parse_config(kRing4 + "[db]\nurl = \"host=/tmp port=5432 dbname=nm\"\n", "t"));
  EXPECT_TRUE(parse_config(kRing4, "t")->db_url.empty());

  EXPECT_EQ(parse_error(kRing4 + "[db]\nurl = \"mysql://u:secret@h/d\"\nuser = \"x\"\n"),
            "db.user: unknown key\n"
            "db.url: \"mysql://u:***@h/d\" is not a PostgreSQL URL (postgresql://... or key=value "
            "...)");
  EXPECT_EQ(parse_error(kRing4 + "[db]\nurl = 5\n"), "db.url: 5 is not a string");
  EXPECT_EQ(parse_error("db = 1\n" + kRing4), "db: 1 is not a table");
}

}  // namespace
}  // namespace nextmini::controller
