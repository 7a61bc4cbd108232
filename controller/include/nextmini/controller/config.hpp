#pragma once
// Config: the controller's TOML file (docs/config.md lists every key) as plain data.
// parse_config() checks every key and reports ALL problems at once, each naming its key path
// and value ("topology.ring_config.n_nodes: -3 is not a positive integer"), joined by newlines
// in one Error{"config.invalid", ...}. Unknown keys are errors. Route edges are checked against
// the topology later, by build_routes() (routing.hpp), which needs the topology.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

using NodeId = messages::NodeId;
using RouteId = messages::RouteId;

enum class TopologyType { kFullMesh, kRing, kFatTree, kTorus, kCustom };

std::string_view topology_type_name(TopologyType type);

struct TopologyConfig {
  TopologyType type = TopologyType::kRing;
  std::uint32_t n_nodes = 0;                     // full_mesh, ring, custom
  std::uint32_t k = 0;                           // fat_tree
  std::uint32_t dim = 0;                         // torus: number of dimensions
  std::uint32_t n = 0;                           // torus: nodes per dimension
  std::vector<std::pair<NodeId, NodeId>> edges;  // custom, as written
};

// One [[routes]] entry: a path (route = [1, 2, 3]) or a DAG (route = [[1, 2], [2, 3], ...]).
struct RouteConfig {
  bool is_path = true;
  std::vector<NodeId> path;                      // when is_path
  std::vector<std::pair<NodeId, NodeId>> edges;  // directed; for a path, its consecutive pairs
  NodeId src = 0;  // a path's first node, a DAG's only node without incoming edges
  NodeId dst = 0;  // a path's last node, a DAG's only node without outgoing edges
  std::uint32_t weight = 1;
};

// One [[nodes]] entry.
struct NodeConfig {
  NodeId node_id = 0;
  std::string operating_mode = "tun";  // "tun" or "python"
  // The node's worker threads (`nextmini up` passes `--workers`); 0: the launcher's default.
  std::uint32_t workers = 0;
};

// One [[links]] or [[link_rates]] entry: knobs for src -> dst (and dst -> src when
// bidirectional). `path` ("links[2]", "link_rates[0]") names it in error messages.
struct LinkEntry {
  NodeId src = 0;
  NodeId dst = 0;
  bool bidirectional = false;
  messages::LinkParams params;
  std::string path;
};

// Upper bound on the number of nodes a topology may have (every ordered pair gets a route).
inline constexpr std::uint32_t kMaxNodes = 10000;

struct Config {
  std::uint16_t port = 3000;  // 0: any free port
  std::string listen_address = "0.0.0.0";
  std::string base_addr = "10.0.0.0";  // node n gets base_addr + n
  std::string net_mask = "255.255.0.0";
  std::string base_addr6 = "fd00:6e6d::";  // node n gets base_addr6 + n; "" = no IPv6
  std::uint32_t prefix_length6 = 64;
  std::string protocol = "tcp";         // link transport
  std::string token;                    // shared secret; empty: no authentication
  std::string http = "127.0.0.1:3080";  // the HTTP JSON API's ADDRESS:PORT, or "off"
  std::uint32_t mtu = 1400;
  std::uint32_t metrics_interval_ms = 1000;
  TopologyConfig topology;
  std::string routing_protocol = "shortest_path";
  std::vector<RouteConfig> routes;
  std::vector<NodeConfig> nodes;
  std::string source_name;  // file name, for messages
  // Link emulation (link_config.hpp): [link_defaults], then [[link_rates]] and [[links]] in
  // file order, and the resolved knobs per directed topology link (only links with a knob set).
  messages::LinkParams link_defaults;
  std::vector<LinkEntry> link_entries;
  std::map<std::pair<NodeId, NodeId>, messages::LinkParams> link_params;
  // [[flows]] (flow_config.hpp), in file order, every one with its id (given or assigned).
  std::vector<messages::FlowSpec> flows;
  // [db] url: the PostgreSQL database to keep the state in (docs/database.md); empty: memory.
  std::string db_url;

  // Number of nodes the topology has (ids 1..n_nodes), derived from the topology settings.
  std::uint32_t n_nodes() const;
};

// Parses TOML text. `source_name` (a file name) prefixes TOML syntax errors.
Result<Config> parse_config(std::string_view toml_text, std::string_view source_name);

// Whether `url` has the shape of a libpq connection string: "postgresql://...",
// "postgres://..." or "key=value ..." (whether it connects is only known by trying).
bool looks_like_db_url(std::string_view url);

// Reads and parses a file. Error code "config.io" when it cannot be read.
Result<Config> load_config_file(const std::string& path);

// The overlay (TUN) address of a node: base_addr + id, dotted quad.
std::string node_address(const Config& config, NodeId id);

// The overlay IPv6 address of a node: base_addr6 + id ("" when base_addr6 is "").
std::string node_address6(const Config& config, NodeId id);

// The number of leading one bits of net_mask (16 for 255.255.0.0).
std::uint32_t prefix_length(const Config& config);

}  // namespace nextmini::controller
