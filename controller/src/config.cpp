#include "nextmini/controller/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <bit>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "flow_config_reader.hpp"
#include "link_config_reader.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/controller/link_config.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/topology.hpp"
#include "toml_text.hpp"

namespace nextmini::controller {

namespace {

constexpr std::string_view kTopologyTypes =
    R"("full_mesh", "ring", "fat_tree", "torus" or "custom")";

std::optional<std::uint32_t> parse_ipv4(const std::string& text) {
  in_addr address{};
  if (inet_pton(AF_INET, text.c_str(), &address) != 1) return std::nullopt;
  return ntohl(address.s_addr);
}

std::string format_ipv4(std::uint32_t host_order) {
  return fmt::format("{}.{}.{}.{}", host_order >> 24, (host_order >> 16) & 0xff,
                     (host_order >> 8) & 0xff, host_order & 0xff);
}

std::optional<std::array<std::uint8_t, 16>> parse_ipv6(const std::string& text) {
  std::array<std::uint8_t, 16> address{};
  if (inet_pton(AF_INET6, text.c_str(), address.data()) != 1) return std::nullopt;
  return address;
}

std::string format_ipv6(const std::array<std::uint8_t, 16>& address) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, address.data(), text, sizeof(text)) == nullptr) return {};
  return text;
}

// `base` + `n` (the low 32 bits carry into the bytes above them).
std::array<std::uint8_t, 16> add_to_ipv6(std::array<std::uint8_t, 16> base, std::uint64_t n) {
  for (std::size_t i = 16; i-- > 0 && n != 0;) {
    const std::uint64_t sum = base[i] + (n & 0xff);
    base[i] = static_cast<std::uint8_t>(sum);
    n = (n >> 8) + (sum >> 8);
  }
  return base;
}

std::string join_path(std::string_view prefix, std::string_view key) {
  if (prefix.empty()) return std::string(key);
  return fmt::format("{}.{}", prefix, key);
}

// Collects every problem found while reading a document.
class Checker {
 public:
  void error(std::string message) { errors_.push_back(std::move(message)); }
  bool failed() const { return !errors_.empty(); }
  const std::vector<std::string>& errors() const { return errors_; }

  // Reports every key of `table` that is not in `allowed`.
  void only_keys(const toml::table& table, std::string_view path,
                 std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        error(fmt::format("{}: unknown key", join_path(path, key.str())));
      }
    }
  }

  // An integer in [min, max]; `what` describes the range for the message.
  std::optional<std::int64_t> integer(const toml::node& node, const std::string& path,
                                      std::int64_t min, std::int64_t max, std::string_view what) {
    const auto* value = node.as_integer();
    if (value == nullptr || value->get() < min || value->get() > max) {
      error(fmt::format("{}: {} is not {}", path, describe_toml_value(node), what));
      return std::nullopt;
    }
    return value->get();
  }

  std::optional<std::string> string(const toml::node& node, const std::string& path) {
    const auto* value = node.as_string();
    if (value == nullptr) {
      error(fmt::format("{}: {} is not a string", path, describe_toml_value(node)));
      return std::nullopt;
    }
    return value->get();
  }

  // Reads table[key] into `out` (unsigned) when present.
  template <typename T>
  void read_uint(const toml::table& table, std::string_view prefix, std::string_view key,
                 std::int64_t min, std::int64_t max, std::string_view what, T& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return;
    if (auto value = integer(*node, join_path(prefix, key), min, max, what)) {
      out = static_cast<T>(*value);
    }
  }

  void read_string(const toml::table& table, std::string_view prefix, std::string_view key,
                   std::string& out) {
    const toml::node* node = table.get(key);
    if (node == nullptr) return;
    if (auto value = string(*node, join_path(prefix, key))) out = std::move(*value);
  }

 private:
  std::vector<std::string> errors_;
};

constexpr std::int64_t kMaxId = kMaxNodes;
constexpr std::string_view kPositive = "a positive integer";

// Reads `table.<key>` for a preset table: must exist and be a positive integer.
std::uint32_t required_count(Checker& check, const toml::table& table, std::string_view prefix,
                             std::string_view key, std::int64_t max) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    check.error(fmt::format("{}: missing", join_path(prefix, key)));
    return 0;
  }
  if (auto value = check.integer(*node, join_path(prefix, key), 1, max, kPositive)) {
    return static_cast<std::uint32_t>(*value);
  }
  return 0;
}

std::uint64_t fat_tree_nodes(std::uint64_t k) { return k * k / 4 + k * k + k * k * k / 4; }

// Reads [topology]. Returns the node count (0 when it cannot be known).
std::uint32_t read_topology(Checker& check, const toml::table& root, TopologyConfig& topology) {
  const toml::node* node = root.get("topology");
  if (node == nullptr) {
    check.error(
        fmt::format("topology: missing (a [topology] table with type = {})", kTopologyTypes));
    return 0;
  }
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    check.error(fmt::format("topology: {} is not a table", describe_toml_value(*node)));
    return 0;
  }
  check.only_keys(*table, "topology",
                  {"type", "full_mesh_config", "ring_config", "fat_tree_config", "torus_config",
                   "n_nodes", "edges"});

  std::optional<TopologyType> type;
  if (const toml::node* type_node = table->get("type"); type_node == nullptr) {
    check.error(fmt::format("topology.type: missing (one of {})", kTopologyTypes));
  } else if (auto name = check.string(*type_node, "topology.type")) {
    static const std::map<std::string, TopologyType, std::less<>> kTypes = {
        {"full_mesh", TopologyType::kFullMesh},
        {"ring", TopologyType::kRing},
        {"fat_tree", TopologyType::kFatTree},
        {"torus", TopologyType::kTorus},
        {"custom", TopologyType::kCustom}};
    if (auto it = kTypes.find(*name); it != kTypes.end()) {
      type = it->second;
      topology.type = it->second;
    } else {
      check.error(
          fmt::format("topology.type: {} is not one of {}", quoted_value(*name), kTopologyTypes));
    }
  }

  // Every preset table present is checked (a file may keep several and switch `type`); the
  // selected one must be present.
  struct Preset {
    TopologyType type;
    std::string_view table;
  };
  static constexpr Preset kPresets[] = {{TopologyType::kFullMesh, "full_mesh_config"},
                                        {TopologyType::kRing, "ring_config"},
                                        {TopologyType::kFatTree, "fat_tree_config"},
                                        {TopologyType::kTorus, "torus_config"}};
  std::uint64_t n_nodes = 0;
  for (const auto& preset : kPresets) {
    const std::string path = join_path("topology", preset.table);
    const toml::node* preset_node = table->get(preset.table);
    const bool selected = type && *type == preset.type;
    if (preset_node == nullptr) {
      if (selected) {
        check.error(fmt::format("{}: missing (needed when topology.type is {})", path,
                                quoted_value(topology_type_name(preset.type))));
      }
      continue;
    }
    const toml::table* preset_table = preset_node->as_table();
    if (preset_table == nullptr) {
      check.error(fmt::format("{}: {} is not a table", path, describe_toml_value(*preset_node)));
      continue;
    }
    std::uint64_t count = 0;
    switch (preset.type) {
      case TopologyType::kFullMesh:
      case TopologyType::kRing: {
        check.only_keys(*preset_table, path, {"n_nodes"});
        const auto n = required_count(check, *preset_table, path, "n_nodes", kMaxId);
        if (selected) topology.n_nodes = n;
        count = n;
        break;
      }
      case TopologyType::kFatTree: {
        check.only_keys(*preset_table, path, {"k"});
        const toml::node* k_node = preset_table->get("k");
        if (k_node == nullptr) {
          check.error(fmt::format("{}.k: missing", path));
          break;
        }
        auto k = check.integer(*k_node, path + ".k", 2, 64, "an even integer between 2 and 64");
        if (k && *k % 2 != 0) {
          check.error(fmt::format("{}.k: {} is not an even integer between 2 and 64", path, *k));
          k.reset();
        }
        if (k) {
          count = fat_tree_nodes(static_cast<std::uint64_t>(*k));
          if (selected) topology.k = static_cast<std::uint32_t>(*k);
        }
        break;
      }
      case TopologyType::kTorus: {
        check.only_keys(*preset_table, path, {"dim", "n"});
        const auto dim = required_count(check, *preset_table, path, "dim", 16);
        std::uint32_t n = 0;
        if (const toml::node* n_node = preset_table->get("n"); n_node == nullptr) {
          check.error(fmt::format("{}.n: missing", path));
        } else if (auto value =
                       check.integer(*n_node, path + ".n", 2, kMaxId, "an integer of at least 2")) {
          n = static_cast<std::uint32_t>(*value);
        }
        if (dim > 0 && n > 0) {
          count = 1;
          for (std::uint32_t d = 0; d < dim && count <= kMaxNodes; ++d) count *= n;
        }
        if (selected) {
          topology.dim = dim;
          topology.n = n;
        }
        break;
      }
      case TopologyType::kCustom:
        break;
    }
    if (count > kMaxNodes) {
      check.error(fmt::format("{}: makes more than {} nodes", path, kMaxNodes));
      count = 0;
    }
    if (selected) n_nodes = count;
  }

  // custom: n_nodes + edges directly in [topology].
  const bool custom = type && *type == TopologyType::kCustom;
  const toml::node* edges_node = table->get("edges");
  const toml::node* count_node = table->get("n_nodes");
  if (!custom) {
    if (edges_node != nullptr) {
      check.error(R"(topology.edges: only used when topology.type is "custom")");
    }
    if (count_node != nullptr) {
      check.error(R"(topology.n_nodes: only used when topology.type is "custom")");
    }
    return static_cast<std::uint32_t>(n_nodes);
  }
  std::uint32_t declared = 0;
  if (count_node != nullptr) {
    if (auto value = check.integer(*count_node, "topology.n_nodes", 1, kMaxId, kPositive)) {
      declared = static_cast<std::uint32_t>(*value);
    }
  }
  if (edges_node == nullptr) {
    check.error(
        R"(topology.edges: missing (a list of [a, b] node pairs when topology.type is "custom"))");
    topology.n_nodes = declared;
    return declared;
  }
  const toml::array* edges = edges_node->as_array();
  if (edges == nullptr) {
    check.error(fmt::format("topology.edges: {} is not a list of [a, b] node pairs",
                            describe_toml_value(*edges_node)));
    return 0;
  }
  std::map<std::pair<NodeId, NodeId>, std::size_t> seen;
  NodeId max_id = 0;
  for (std::size_t i = 0; i < edges->size(); ++i) {
    const toml::node& edge = *edges->get(i);
    const std::string path = fmt::format("topology.edges[{}]", i);
    const toml::array* pair = edge.as_array();
    if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_integer() ||
        !(*pair)[1].is_integer()) {
      check.error(
          fmt::format("{}: {} is not a pair of node ids [a, b]", path, describe_toml_value(edge)));
      continue;
    }
    const auto a = (*pair)[0].as_integer()->get();
    const auto b = (*pair)[1].as_integer()->get();
    const std::int64_t limit = declared > 0 ? declared : kMaxId;
    bool valid = true;
    for (const auto id : {a, b}) {
      if (id < 1 || id > limit) {
        check.error(fmt::format("{}: node {} is out of range 1..{}", path, id, limit));
        valid = false;
      }
    }
    if (!valid) continue;
    if (a == b) {
      check.error(
          fmt::format("{}: {} connects node {} to itself", path, describe_toml_value(edge), a));
      continue;
    }
    const std::pair<NodeId, NodeId> key{static_cast<NodeId>(std::min(a, b)),
                                        static_cast<NodeId>(std::max(a, b))};
    if (auto [it, inserted] = seen.emplace(key, i); !inserted) {
      check.error(fmt::format("{}: {} repeats topology.edges[{}]", path, describe_toml_value(edge),
                              it->second));
      continue;
    }
    topology.edges.emplace_back(static_cast<NodeId>(a), static_cast<NodeId>(b));
    max_id = std::max({max_id, static_cast<NodeId>(a), static_cast<NodeId>(b)});
  }
  topology.n_nodes = declared > 0 ? declared : max_id;
  return topology.n_nodes;
}

void read_routing(Checker& check, const toml::table& root, Config& config) {
  const toml::node* node = root.get("routing");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    check.error(fmt::format("routing: {} is not a table", describe_toml_value(*node)));
    return;
  }
  check.only_keys(*table, "routing", {"protocol"});
  std::string protocol = config.routing_protocol;
  check.read_string(*table, "routing", "protocol", protocol);
  if (protocol != "shortest_path") {
    check.error(fmt::format(R"(routing.protocol: {} is not supported (only "shortest_path"))",
                            quoted_value(protocol)));
    return;
  }
  config.routing_protocol = protocol;
}

// Checks that node ids are in 1..n_nodes (when n_nodes is known).
bool in_range(Checker& check, const std::string& path, std::int64_t id, std::uint32_t n_nodes) {
  const std::int64_t limit = n_nodes > 0 ? n_nodes : kMaxId;
  if (id < 1 || id > limit) {
    check.error(fmt::format("{}: node {} is out of range 1..{}", path, id, limit));
    return false;
  }
  return true;
}

// A DAG route: one source, one sink, no cycle, every node on some source-to-sink path.
bool check_dag(Checker& check, const std::string& path, RouteConfig& route) {
  std::map<NodeId, std::vector<NodeId>> out;
  std::map<NodeId, int> in_degree;
  for (const auto& [a, b] : route.edges) {
    out[a].push_back(b);
    out[b];
    in_degree[a];
    in_degree[b] += 1;
  }
  std::vector<NodeId> sources;
  std::vector<NodeId> sinks;
  for (const auto& [id, next] : out) {
    if (in_degree[id] == 0) sources.push_back(id);
    if (next.empty()) sinks.push_back(id);
  }
  auto list = [](const std::vector<NodeId>& ids) {
    return fmt::format("{}", fmt::join(ids, ", "));
  };
  bool valid = true;
  if (sources.size() != 1) {
    check.error(
        fmt::format("{}: a DAG route needs exactly one start node (no incoming edge), "
                    "found {} ({})",
                    path, sources.size(), list(sources)));
    valid = false;
  }
  if (sinks.size() != 1) {
    check.error(
        fmt::format("{}: a DAG route needs exactly one end node (no outgoing edge), "
                    "found {} ({})",
                    path, sinks.size(), list(sinks)));
    valid = false;
  }
  // Kahn's algorithm: a cycle leaves nodes unvisited.
  std::vector<NodeId> ready = sources;
  std::size_t visited = 0;
  auto remaining = in_degree;
  while (!ready.empty()) {
    const NodeId id = ready.back();
    ready.pop_back();
    ++visited;
    for (NodeId next : out[id]) {
      if (--remaining[next] == 0) ready.push_back(next);
    }
  }
  if (visited != out.size()) {
    check.error(fmt::format("{}: the edges form a cycle", path));
    valid = false;
  }
  if (!valid) return false;
  route.src = sources.front();
  route.dst = sinks.front();
  // With one source, one sink and no cycle, every node is reachable from the source (it has an
  // incoming edge, walk back) and reaches the sink (it has an outgoing edge, walk forward).
  return true;
}

void read_routes(Checker& check, const toml::table& root, std::uint32_t n_nodes, Config& config) {
  const toml::node* node = root.get("routes");
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    check.error(
        fmt::format("routes: {} is not a list of [[routes]] tables", describe_toml_value(*node)));
    return;
  }
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    const std::string prefix = fmt::format("routes[{}]", i);
    check.only_keys(table, prefix, {"route", "weight"});
    RouteConfig route;
    check.read_uint(table, prefix, "weight", 1, 1000000, "an integer between 1 and 1000000",
                    route.weight);
    const std::string path = prefix + ".route";
    const toml::node* route_node = table.get("route");
    if (route_node == nullptr) {
      check.error(fmt::format("{}: missing", path));
      continue;
    }
    const toml::array* hops = route_node->as_array();
    if (hops == nullptr || hops->empty()) {
      check.error(
          fmt::format("{}: {} is neither a path [1, 2, 3] nor a list of edges "
                      "[[1, 2], [2, 3]]",
                      path, describe_toml_value(*route_node)));
      continue;
    }
    bool valid = true;
    if (hops->is_homogeneous(toml::node_type::integer)) {
      route.is_path = true;
      std::set<NodeId> seen;
      for (const auto& hop : *hops) {
        const auto id = hop.as_integer()->get();
        if (!in_range(check, path, id, n_nodes)) {
          valid = false;
          continue;
        }
        if (!seen.insert(static_cast<NodeId>(id)).second) {
          check.error(
              fmt::format("{}: {} visits node {} twice", path, describe_toml_value(*hops), id));
          valid = false;
        }
        route.path.push_back(static_cast<NodeId>(id));
      }
      if (hops->size() < 2) {
        check.error(
            fmt::format("{}: {} needs at least two nodes", path, describe_toml_value(*hops)));
        valid = false;
      }
      if (!valid) continue;
      for (std::size_t h = 0; h + 1 < route.path.size(); ++h) {
        route.edges.emplace_back(route.path[h], route.path[h + 1]);
      }
      route.src = route.path.front();
      route.dst = route.path.back();
    } else if (hops->is_homogeneous(toml::node_type::array)) {
      route.is_path = false;
      std::set<std::pair<NodeId, NodeId>> seen;
      for (std::size_t e = 0; e < hops->size(); ++e) {
        const toml::array& pair = *hops->get(e)->as_array();
        const std::string edge_path = fmt::format("{}[{}]", path, e);
        if (pair.size() != 2 || !pair[0].is_integer() || !pair[1].is_integer()) {
          check.error(fmt::format("{}: {} is not an edge [from, to]", edge_path,
                                  describe_toml_value(pair)));
          valid = false;
          continue;
        }
        const auto a = pair[0].as_integer()->get();
        const auto b = pair[1].as_integer()->get();
        const bool a_ok = in_range(check, edge_path, a, n_nodes);
        const bool b_ok = in_range(check, edge_path, b, n_nodes);
        if (!a_ok || !b_ok) {
          valid = false;
          continue;
        }
        if (a == b) {
          check.error(fmt::format("{}: {} connects node {} to itself", edge_path,
                                  describe_toml_value(pair), a));
          valid = false;
          continue;
        }
        const std::pair<NodeId, NodeId> edge{static_cast<NodeId>(a), static_cast<NodeId>(b)};
        if (!seen.insert(edge).second) {
          check.error(fmt::format("{}: {} is listed twice", edge_path, describe_toml_value(pair)));
          valid = false;
          continue;
        }
        route.edges.push_back(edge);
      }
      if (!valid || !check_dag(check, path, route)) continue;
    } else {
      check.error(
          fmt::format("{}: {} is neither a path [1, 2, 3] nor a list of edges "
                      "[[1, 2], [2, 3]]",
                      path, describe_toml_value(*hops)));
      continue;
    }
    config.routes.push_back(std::move(route));
  }
}

void read_nodes(Checker& check, const toml::table& root, std::uint32_t n_nodes, Config& config) {
  const toml::node* node = root.get("nodes");
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    check.error(
        fmt::format("nodes: {} is not a list of [[nodes]] tables", describe_toml_value(*node)));
    return;
  }
  std::map<NodeId, std::size_t> seen;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    const std::string prefix = fmt::format("nodes[{}]", i);
    check.only_keys(table, prefix, {"node_id", "operating_mode", "workers"});
    NodeConfig entry;
    const toml::node* id_node = table.get("node_id");
    bool valid = true;
    if (id_node == nullptr) {
      check.error(fmt::format("{}.node_id: missing", prefix));
      valid = false;
    } else if (auto id = check.integer(*id_node, prefix + ".node_id", 1, kMaxId, kPositive)) {
      if (!in_range(check, prefix + ".node_id", *id, n_nodes)) {
        valid = false;
      } else if (auto [it, inserted] = seen.emplace(static_cast<NodeId>(*id), i); !inserted) {
        check.error(fmt::format("{}.node_id: node {} is already configured by nodes[{}]", prefix,
                                *id, it->second));
        valid = false;
      }
      entry.node_id = static_cast<NodeId>(*id);
    } else {
      valid = false;
    }
    check.read_string(table, prefix, "operating_mode", entry.operating_mode);
    if (entry.operating_mode != "tun" && entry.operating_mode != "python") {
      check.error(fmt::format(R"({}.operating_mode: {} is not "tun" or "python")", prefix,
                              quoted_value(entry.operating_mode)));
      valid = false;
    }
    check.read_uint(table, prefix, "workers", 1, 64, "an integer between 1 and 64", entry.workers);
    if (valid) config.nodes.push_back(std::move(entry));
  }
}

// base_addr6 ("" turns IPv6 off) and prefix_length6: node n gets base_addr6 + n.
void read_addressing6(Checker& check, const toml::table& root, std::uint32_t n_nodes,
                      Config& config) {
  check.read_string(root, "", "base_addr6", config.base_addr6);
  check.read_uint(root, "", "prefix_length6", 8, 124, "an integer between 8 and 124",
                  config.prefix_length6);
  if (config.base_addr6.empty()) return;
  const auto base = parse_ipv6(config.base_addr6);
  if (!base) {
    check.error(
        fmt::format("base_addr6: {} is not an IPv6 address", quoted_value(config.base_addr6)));
    return;
  }
  // The last node's address must keep base_addr6's first prefix_length6 bits.
  const auto last = add_to_ipv6(*base, n_nodes);
  const std::uint32_t prefix = config.prefix_length6;
  for (std::uint32_t bit = 0; bit < prefix; ++bit) {
    const std::uint8_t mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if ((last[bit / 8] & mask) != ((*base)[bit / 8] & mask)) {
      check.error(fmt::format("prefix_length6: {} nodes do not fit in /{} from base_addr6 {}",
                              n_nodes, prefix, quoted_value(config.base_addr6)));
      return;
    }
  }
}

void read_addressing(Checker& check, const toml::table& root, std::uint32_t n_nodes,
                     Config& config) {
  check.read_string(root, "", "base_addr", config.base_addr);
  check.read_string(root, "", "net_mask", config.net_mask);
  const auto base = parse_ipv4(config.base_addr);
  const auto mask = parse_ipv4(config.net_mask);
  if (!base) {
    check.error(
        fmt::format("base_addr: {} is not an IPv4 address", quoted_value(config.base_addr)));
  }
  if (mask && (~*mask & (~*mask + 1)) != 0) {
    // Not of the form 1...10...0: ~mask + 1 must be a power of two.
    check.error(fmt::format("net_mask: {} is not a contiguous network mask",
                            quoted_value(config.net_mask)));
    return;
  }
  if (!mask) {
    check.error(
        fmt::format("net_mask: {} is not an IPv4 network mask", quoted_value(config.net_mask)));
    return;
  }
  if (!base || n_nodes == 0) return;
  const std::uint64_t host_bits = ~*mask;
  const std::uint64_t host = *base & host_bits;
  // The last node must stay inside the subnet and below its broadcast address.
  if (host + n_nodes >= host_bits) {
    const std::uint64_t room = host_bits > host + 1 ? host_bits - host - 1 : 0;
    check.error(fmt::format("net_mask: {} nodes do not fit in {} from base_addr {} (room for {})",
                            n_nodes, quoted_value(config.net_mask), quoted_value(config.base_addr),
                            room));
  }
}

// Reads [db]: url = a libpq URL ("postgresql://...", "postgres://...") or key=value string.
void read_db(Checker& check, const toml::table& root, Config& config) {
  const toml::node* node = root.get("db");
  if (node == nullptr) return;
  const toml::table* db = node->as_table();
  if (db == nullptr) {
    check.error(fmt::format("db: {} is not a table", describe_toml_value(*node)));
    return;
  }
  check.only_keys(*db, "db", {"url"});
  check.read_string(*db, "db", "url", config.db_url);
  const toml::node* url = db->get("url");
  if (url != nullptr && url->is_string() && !looks_like_db_url(config.db_url)) {
    check.error(
        fmt::format("db.url: {} is not a PostgreSQL URL (postgresql://... or key=value ...)",
                    quoted_value(pg::redact_url(config.db_url))));
  }
}

}  // namespace

std::string_view topology_type_name(TopologyType type) {
  switch (type) {
    case TopologyType::kFullMesh:
      return "full_mesh";
    case TopologyType::kRing:
      return "ring";
    case TopologyType::kFatTree:
      return "fat_tree";
    case TopologyType::kTorus:
      return "torus";
    case TopologyType::kCustom:
      return "custom";
  }
  return "unknown";
}

std::uint32_t Config::n_nodes() const {
  switch (topology.type) {
    case TopologyType::kFullMesh:
    case TopologyType::kRing:
    case TopologyType::kCustom:
      return topology.n_nodes;
    case TopologyType::kFatTree:
      return static_cast<std::uint32_t>(fat_tree_nodes(topology.k));
    case TopologyType::kTorus: {
      std::uint64_t count = topology.dim > 0 ? 1 : 0;
      for (std::uint32_t d = 0; d < topology.dim; ++d) count *= topology.n;
      return static_cast<std::uint32_t>(count);
    }
  }
  return 0;
}

bool looks_like_db_url(std::string_view url) {
  return url.starts_with("postgresql://") || url.starts_with("postgres://") ||
         (url.find('=') != std::string_view::npos && url.find("://") == std::string_view::npos);
}

Result<Config> parse_config(std::string_view toml_text, std::string_view source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& error) {
    const auto& where = error.source().begin;
    return fail("config.invalid", fmt::format("{}:{}:{}: {}", source_name, where.line, where.column,
                                              error.description()));
  }

  Config config;
  config.source_name = std::string(source_name);
  Checker check;
  check.only_keys(
      root, "", {"port",           "listen_address", "base_addr", "net_mask", "base_addr6",
                 "prefix_length6", "protocol",       "token",     "mtu",      "metrics_interval_ms",
                 "topology",       "routing",        "routes",    "nodes",    "link_defaults",
                 "links",          "link_rates",     "http",      "flows",    "db"});
  check.read_uint(root, "", "port", 0, 65535, "a port number (0..65535)", config.port);
  check.read_string(root, "", "listen_address", config.listen_address);
  if (!parse_ipv4(config.listen_address)) {
    check.error(fmt::format("listen_address: {} is not an IPv4 address",
                            quoted_value(config.listen_address)));
  }
  check.read_string(root, "", "protocol", config.protocol);
  if (config.protocol != "tcp" && config.protocol != "udp") {
    check.error(fmt::format(R"(protocol: {} is not supported (only "tcp" or "udp" for now))",
                            quoted_value(config.protocol)));
  }
  check.read_string(root, "", "token", config.token);
  check.read_string(root, "", "http", config.http);
  if (auto http = parse_http_listen(config.http, "http"); !http) check.error(http.error().message);
  check.read_uint(root, "", "mtu", 576, 65535, "an integer between 576 and 65535", config.mtu);
  check.read_uint(root, "", "metrics_interval_ms", 1, 3600000, "an integer between 1 and 3600000",
                  config.metrics_interval_ms);

  read_db(check, root, config);

  const std::uint32_t n_nodes = read_topology(check, root, config.topology);
  read_addressing(check, root, n_nodes, config);
  read_addressing6(check, root, n_nodes, config);
  read_routing(check, root, config);
  read_routes(check, root, n_nodes, config);
  read_nodes(check, root, n_nodes, config);
  std::vector<std::string> link_errors;
  read_link_config(root, n_nodes, config, link_errors);
  read_flow_config(root, n_nodes, config, link_errors);
  for (auto& message : link_errors) check.error(std::move(message));
  link_errors.clear();
  // Links are checked against the topology once everything else is valid.
  if (!check.failed()) {
    if (auto topology = build_topology(config)) {
      config.link_params = resolve_link_params(config, *topology, link_errors);
      for (auto& message : link_errors) check.error(std::move(message));
    }
  }

  if (check.failed()) {
    return fail("config.invalid", fmt::format("{}", fmt::join(check.errors(), "\n")));
  }
  return config;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return fail("config.io", fmt::format("{}: cannot be read", path));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) return fail("config.io", fmt::format("{}: read error", path));
  return parse_config(text.str(), path);
}

std::string node_address(const Config& config, NodeId id) {
  const auto base = parse_ipv4(config.base_addr).value_or(0);
  return format_ipv4(base + id);
}

std::string node_address6(const Config& config, NodeId id) {
  if (config.base_addr6.empty()) return {};
  const auto base = parse_ipv6(config.base_addr6);
  if (!base) return {};
  return format_ipv6(add_to_ipv6(*base, id));
}

std::uint32_t prefix_length(const Config& config) {
  const auto mask = parse_ipv4(config.net_mask).value_or(0);
  return static_cast<std::uint32_t>(std::popcount(mask));
}

}  // namespace nextmini::controller
