#include "nextmini/controller/flow_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "flow_config_reader.hpp"
#include "link_config_reader.hpp"

namespace nextmini::controller {

namespace {

using messages::FlowSpec;

const Route* find_route(const RoutePlan& plan, RouteId id) {
  const auto& routes = plan.routes();
  // Ids are 1, 2, ... in order (routing.hpp); fall back to a search if that ever changes.
  if (id >= 1 && id <= routes.size() && routes[id - 1].route_id == id) return &routes[id - 1];
  auto it = std::find_if(routes.begin(), routes.end(),
                         [id](const Route& route) { return route.route_id == id; });
  return it == routes.end() ? nullptr : &*it;
}

std::optional<FlowProblem> check_route(const FlowSpec& spec, const RoutePlan& routes) {
  if (!spec.route_id) return std::nullopt;
  const Route* route = find_route(routes, *spec.route_id);
  if (route == nullptr) {
    return FlowProblem{FlowField::kRoute, fmt::format("route {} does not exist (routes 1..{})",
                                                      *spec.route_id, routes.routes().size())};
  }
  if (route->src != spec.src || route->dst != spec.dst) {
    return FlowProblem{FlowField::kRoute,
                       fmt::format("route {} goes from {} to {}, not from {} to {}", *spec.route_id,
                                   route->src, route->dst, spec.src, spec.dst)};
  }
  return std::nullopt;
}

// Where each field sits in a [[flows]] table.
std::string config_path(std::size_t index, FlowField field) {
  const std::string prefix = fmt::format("flows[{}]", index);
  switch (field) {
    case FlowField::kId:
      return prefix + ".id";
    case FlowField::kSrc:
      return prefix + ".src_node_id";
    case FlowField::kDst:
      return prefix + ".dst_node_id";
    case FlowField::kLength:
      return prefix + ".flow_spec.flow_len";
    case FlowField::kDuration:
      return prefix + ".flow_spec.flow_len.Duration";
    case FlowField::kRate:
      return prefix + ".flow_spec.flow_rate";
    case FlowField::kWeight:
      return prefix + ".flow_spec.flow_weight";
    case FlowField::kTransport:
      return prefix + ".flow_spec.transport";
    case FlowField::kRoute:
      return prefix + ".route_id";
  }
  return prefix;
}

// Reads one [[flows]] table; nullopt when a value has the wrong type (already reported).
class FlowReader {
 public:
  explicit FlowReader(std::vector<std::string>& errors) : errors_(errors) {}

  std::optional<FlowSpec> read(const toml::table& table, const std::string& prefix) {
    const std::size_t before = errors_.size();
    only_keys(table, prefix, {"id", "src_node_id", "dst_node_id", "flow_spec", "route_id"});
    FlowSpec spec;
    if (const toml::node* id = table.get("id")) {
      spec.flow_id =
          integer(*id, prefix + ".id", 1, std::int64_t{1} << 53, "a flow id (a positive integer)")
              .value_or(0);
    }
    spec.src = node(table, prefix, "src_node_id");
    spec.dst = node(table, prefix, "dst_node_id");
    if (const toml::node* route = table.get("route_id")) {
      if (auto id = integer(*route, prefix + ".route_id", 1, UINT32_MAX, "a route id")) {
        spec.route_id = static_cast<RouteId>(*id);
      }
    }
    const std::string spec_path = prefix + ".flow_spec";
    const toml::node* flow_spec = table.get("flow_spec");
    if (flow_spec == nullptr) {
      error(fmt::format("{}: missing (flow_spec = {{ flow_len = {{ Bytes = N }} }})", spec_path));
    } else if (const toml::table* body = flow_spec->as_table()) {
      read_spec(*body, spec_path, spec);
    } else {
      error(fmt::format("{}: {} is not a table", spec_path, describe_toml_value(*flow_spec)));
    }
    if (errors_.size() != before) return std::nullopt;
    return spec;
  }

 private:
  void error(std::string message) { errors_.push_back(std::move(message)); }

  void only_keys(const toml::table& table, const std::string& prefix,
                 std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        error(fmt::format("{}.{}: unknown key", prefix, key.str()));
      }
    }
  }

  std::optional<std::int64_t> integer(const toml::node& value, const std::string& path,
                                      std::int64_t min, std::int64_t max, std::string_view what) {
    const auto* number = value.as_integer();
    if (number == nullptr || number->get() < min || number->get() > max) {
      error(fmt::format("{}: {} is not {}", path, describe_toml_value(value), what));
      return std::nullopt;
    }
    return number->get();
  }

  NodeId node(const toml::table& table, const std::string& prefix, std::string_view key) {
    const std::string path = fmt::format("{}.{}", prefix, key);
    const toml::node* value = table.get(key);
    if (value == nullptr) {
      error(fmt::format("{}: missing", path));
      return 0;
    }
    return static_cast<NodeId>(
        integer(*value, path, 1, kMaxNodes, "a node id (a positive integer)").value_or(0));
  }

  void read_spec(const toml::table& body, const std::string& path, FlowSpec& spec) {
    only_keys(body, path, {"flow_len", "flow_rate", "flow_weight", "transport"});
    const std::string len_path = path + ".flow_len";
    if (const toml::node* len = body.get("flow_len"); len == nullptr) {
      error(fmt::format("{}: missing ({{ Bytes = N }} or {{ Duration = S }})", len_path));
    } else if (const toml::table* choice = len->as_table()) {
      only_keys(*choice, len_path, {"Bytes", "Duration"});
      if (const toml::node* bytes = choice->get("Bytes")) {
        if (auto n = integer(*bytes, len_path + ".Bytes", 0, INT64_MAX, "a number of bytes")) {
          spec.length_bytes = static_cast<std::uint64_t>(*n);
        }
      }
      if (const toml::node* duration = choice->get("Duration")) {
        if (auto seconds = duration->value<double>()) {
          spec.duration_s = *seconds;
        } else {
          error(fmt::format("{}.Duration: {} is not a number of seconds", len_path,
                            describe_toml_value(*duration)));
        }
      }
    } else {
      error(fmt::format("{}: {} is not {{ Bytes = N }} or {{ Duration = S }}", len_path,
                        describe_toml_value(*len)));
    }
    if (const toml::node* rate = body.get("flow_rate")) {
      if (auto n =
              integer(*rate, path + ".flow_rate", 0, INT64_MAX, "a rate in bytes per second")) {
        spec.rate_bytes_per_s = static_cast<std::uint64_t>(*n);
      }
    }
    if (const toml::node* weight = body.get("flow_weight")) {
      if (auto n = integer(*weight, path + ".flow_weight", 0, UINT32_MAX, "a weight")) {
        spec.weight = static_cast<std::uint32_t>(*n);
      }
    }
    if (const toml::node* transport = body.get("transport")) {
      if (const auto* text = transport->as_string()) {
        spec.transport = text->get();
      } else {
        error(fmt::format("{}.transport: {} is not a string (\"tcp\")", path,
                          describe_toml_value(*transport)));
      }
    }
  }

  std::vector<std::string>& errors_;
};

}  // namespace

std::string_view flow_spec_field_name(FlowField field) {
  switch (field) {
    case FlowField::kId:
      return "flow_id";
    case FlowField::kSrc:
      return "src";
    case FlowField::kDst:
      return "dst";
    case FlowField::kLength:
      return "length_bytes";
    case FlowField::kDuration:
      return "duration_s";
    case FlowField::kRate:
      return "rate_bytes_per_s";
    case FlowField::kWeight:
      return "weight";
    case FlowField::kTransport:
      return "transport";
    case FlowField::kRoute:
      return "route_id";
  }
  return "flow";
}

std::vector<FlowProblem> check_flow(const FlowSpec& spec, std::uint32_t n_nodes,
                                    const RoutePlan* routes) {
  std::vector<FlowProblem> problems;
  auto add = [&](FlowField field, std::string message) {
    problems.push_back({field, std::move(message)});
  };
  const bool src_ok = spec.src >= 1 && spec.src <= n_nodes;
  const bool dst_ok = spec.dst >= 1 && spec.dst <= n_nodes;
  if (!src_ok) {
    add(FlowField::kSrc,
        fmt::format("{} is not a node of the topology (1..{})", spec.src, n_nodes));
  }
  if (!dst_ok) {
    add(FlowField::kDst,
        fmt::format("{} is not a node of the topology (1..{})", spec.dst, n_nodes));
  } else if (spec.dst == spec.src) {
    add(FlowField::kDst,
        fmt::format("{} is also the source: a flow goes from one node to another", spec.dst));
  }
  if (!spec.length_bytes && !spec.duration_s) {
    add(FlowField::kLength, "missing: a flow needs a length in bytes or a duration");
  } else if (spec.length_bytes && spec.duration_s) {
    add(FlowField::kLength, "both a length in bytes and a duration are given; choose one");
  } else if (spec.length_bytes && *spec.length_bytes == 0) {
    add(FlowField::kLength, "0 bytes: a flow sends at least 1 byte");
  } else if (spec.duration_s && !(std::isfinite(*spec.duration_s) && *spec.duration_s > 0.0 &&
                                  *spec.duration_s <= kMaxFlowDurationS)) {
    add(FlowField::kDuration,
        fmt::format("{} is not a duration in seconds (more than 0, at most {})", *spec.duration_s,
                    kMaxFlowDurationS));
  }
  if (spec.rate_bytes_per_s && *spec.rate_bytes_per_s == 0) {
    add(FlowField::kRate, "0 bytes/s: pacing needs at least 1 byte/s (leave it out for no pacing)");
  }
  if (spec.weight && (*spec.weight == 0 || *spec.weight > kMaxFlowWeight)) {
    add(FlowField::kWeight,
        fmt::format("{} is not a weight (1..{})", *spec.weight, kMaxFlowWeight));
  }
  if (spec.transport != "tcp") {
    add(FlowField::kTransport,
        fmt::format("\"{}\" is not supported (only \"tcp\")", spec.transport));
  }
  if (routes != nullptr && src_ok && dst_ok) {
    if (auto problem = check_route(spec, *routes)) problems.push_back(std::move(*problem));
  }
  return problems;
}

std::vector<std::string> check_flow_routes(const Config& config, const RoutePlan& routes) {
  std::vector<std::string> errors;
  for (std::size_t i = 0; i < config.flows.size(); ++i) {
    if (auto problem = check_route(config.flows[i], routes)) {
      errors.push_back(fmt::format("{}: {}", config_path(i, problem->field), problem->message));
    }
  }
  return errors;
}

void read_flow_config(const toml::table& root, std::uint32_t n_nodes, Config& config,
                      std::vector<std::string>& errors) {
  const toml::node* node = root.get("flows");
  if (node == nullptr) return;
  const toml::array* array = node->as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    errors.push_back(
        fmt::format("flows: {} is not a list of [[flows]] tables", describe_toml_value(*node)));
    return;
  }
  FlowReader reader(errors);
  std::map<messages::FlowId, std::size_t> ids;  // given id -> index
  for (std::size_t i = 0; i < array->size(); ++i) {
    const std::string prefix = fmt::format("flows[{}]", i);
    auto spec = reader.read(*array->get(i)->as_table(), prefix);
    if (!spec) continue;
    const std::uint32_t known_nodes = n_nodes > 0 ? n_nodes : kMaxNodes;
    const std::size_t before = errors.size();
    for (const auto& problem : check_flow(*spec, known_nodes, nullptr)) {
      errors.push_back(fmt::format("{}: {}", config_path(i, problem.field), problem.message));
    }
    if (spec->flow_id != 0) {
      if (auto [it, inserted] = ids.emplace(spec->flow_id, i); !inserted) {
        errors.push_back(fmt::format("{}: {} is already the id of flows[{}]",
                                     config_path(i, FlowField::kId), spec->flow_id, it->second));
      }
    }
    if (errors.size() == before) config.flows.push_back(std::move(*spec));
  }
  // Flows without an id get the lowest free ones, in file order.
  messages::FlowId next = 1;
  for (auto& spec : config.flows) {
    if (spec.flow_id != 0) continue;
    while (ids.contains(next)) ++next;
    spec.flow_id = next++;
  }
}

}  // namespace nextmini::controller
