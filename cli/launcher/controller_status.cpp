#include "controller_status.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json_text.hpp"

namespace nextmini::launcher {
namespace {

// A key that is either a count or a list: the count, and the list's values when it is one.
struct CountOrList {
  std::uint32_t count = 0;
  std::optional<std::vector<std::uint32_t>> ids;
};

Result<CountOrList> count_or_list(const JsonTree& tree, const std::string& key) {
  CountOrList result;
  auto child = tree.get_child_optional(key);
  if (!child) return result;
  if (child->empty()) {
    // A scalar (or an empty list, which reads as an empty string).
    if (child->data().empty()) return result;
    auto value = child->get_value_optional<std::uint32_t>();
    if (!value) {
      return fail("launcher.status",
                  fmt::format("status file: '{}' is '{}', not a count", key, child->data()));
    }
    result.count = *value;
    return result;
  }
  result.ids.emplace();
  for (const auto& [unused, item] : *child) {
    ++result.count;
    if (auto id = item.get_value_optional<std::uint32_t>()) result.ids->push_back(*id);
  }
  return result;
}

}  // namespace

std::string ControllerStatus::progress_line() const {
  return fmt::format("nodes: {}/{} connected, {}/{} ready", connected, n_nodes, ready, n_nodes);
}

Result<ControllerStatus> parse_controller_status(const std::string& text) {
  auto parsed = parse_json(text, "controller status file");
  if (!parsed) return Failure{parsed.error()};
  const JsonTree& tree = *parsed;
  ControllerStatus status;
  status.text = text;
  auto n_nodes = count_or_list(tree, "n_nodes");
  if (!n_nodes) return Failure{n_nodes.error()};
  status.n_nodes = n_nodes->count;
  auto connected = count_or_list(tree, "connected");
  if (!connected) return Failure{connected.error()};
  status.connected = connected->count;
  status.connected_ids = connected->ids;
  auto ready = count_or_list(tree, "ready");
  if (!ready) return Failure{ready.error()};
  status.ready = ready->count;
  status.ready_ids = ready->ids;
  // Optional lists of node ids next to the counts (named in timeouts when present).
  if (auto listed = count_or_list(tree, "connected_nodes"); listed && listed->ids) {
    status.connected_ids = listed->ids;
  }
  if (auto listed = count_or_list(tree, "ready_nodes"); listed && listed->ids) {
    status.ready_ids = listed->ids;
  }
  auto routes = count_or_list(tree, "routes");
  if (!routes) return Failure{routes.error()};
  status.routes = routes->count;
  auto edges = count_or_list(tree, "edges");
  if (!edges) return Failure{edges.error()};
  status.edges = edges->count;
  auto topology_ready = tree.get_optional<bool>("topology_ready");
  status.topology_ready = topology_ready.value_or(false);
  status.pid = static_cast<pid_t>(tree.get<long>("pid", 0));
  if (auto errors = tree.get_child_optional("errors")) {
    for (const auto& [unused, item] : *errors) {
      if (!item.data().empty()) {
        status.errors.push_back(item.data());
      } else if (!item.empty()) {
        // A structured error: keep its fields as "key=value" pairs.
        std::string joined;
        for (const auto& [key, field] : item) {
          if (!joined.empty()) joined += ", ";
          joined += fmt::format("{}={}", key, field.data());
        }
        status.errors.push_back(joined);
      }
    }
  }
  if (auto flows = tree.get_child_optional("flows")) {
    for (const auto& [unused, item] : *flows) {
      FlowStatus flow;
      flow.id = item.get<std::uint64_t>("id", 0);
      flow.src = item.get<std::uint32_t>("src", 0);
      flow.dst = item.get<std::uint32_t>("dst", 0);
      flow.state = item.get<std::string>("state", "");
      flow.bytes = item.get<std::uint64_t>("bytes", 0);
      if (auto ms = item.get_optional<double>("completion_ms"))
        flow.completion_ms = *ms;  // null: none
      flow.error = item.get<std::string>("error", "");
      status.flows.push_back(std::move(flow));
    }
  }
  return status;
}

Result<std::optional<ControllerStatus>> read_controller_status(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return std::optional<ControllerStatus>{};
    return fail("launcher.status", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto status = parse_controller_status(buffer.str());
  if (!status) return Failure{status.error()};
  return std::optional<ControllerStatus>{std::move(*status)};
}

}  // namespace nextmini::launcher
