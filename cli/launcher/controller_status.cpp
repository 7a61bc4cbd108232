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

Result<CountOrList> count_or_list(const JsonObject& object, std::string_view key) {
  CountOrList result;
  const JsonValue* value = object.if_contains(key);
  if (value == nullptr || value->is_null()) return result;
  if (const auto* list = value->if_array()) {
    result.ids.emplace();
    for (const auto& item : *list) {
      ++result.count;
      if (auto id = json_number<std::uint32_t>(item)) result.ids->push_back(*id);
    }
    return result;
  }
  auto count = json_number<std::uint32_t>(*value);
  if (!count) {
    return fail("launcher.status",
                fmt::format("status file: '{}' is {}, not a count", key, json_shown(*value)));
  }
  result.count = *count;
  return result;
}

}  // namespace

std::string ControllerStatus::progress_line() const {
  return fmt::format("nodes: {}/{} connected, {}/{} ready", connected, n_nodes, ready, n_nodes);
}

Result<ControllerStatus> parse_controller_status(const std::string& text) {
  auto parsed = parse_json(text, "controller status file");
  if (!parsed) return Failure{parsed.error()};
  const JsonObject& tree = *parsed;
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
  status.topology_ready = json_bool_or(tree, "topology_ready", false);
  status.pid = static_cast<pid_t>(json_number_or<long>(tree, "pid", 0));
  status.http = json_string_or(tree, "http", "");
  if (const auto* errors = tree.if_contains("errors"); errors && errors->is_array()) {
    for (const auto& item : errors->get_array()) {
      if (item.is_string()) {
        status.errors.push_back(std::string(item.get_string()));
      } else if (const auto* fields = item.if_object()) {
        // A structured error: keep its fields as "key=value" pairs.
        std::string joined;
        for (const auto& [key, field] : *fields) {
          if (!joined.empty()) joined += ", ";
          joined +=
              fmt::format("{}={}", std::string_view(key),
                          field.is_string() ? std::string(field.get_string()) : json_shown(field));
        }
        status.errors.push_back(joined);
      }
    }
  }
  if (const auto* flows = tree.if_contains("flows"); flows && flows->is_array()) {
    for (const auto& item : flows->get_array()) {
      if (!item.is_object()) continue;
      const JsonObject& object = item.get_object();
      FlowStatus flow;
      flow.id = json_number_or<std::uint64_t>(object, "id", 0);
      flow.src = json_number_or<std::uint32_t>(object, "src", 0);
      flow.dst = json_number_or<std::uint32_t>(object, "dst", 0);
      flow.state = json_string_or(object, "state", "");
      flow.bytes = json_number_or<std::uint64_t>(object, "bytes", 0);
      if (const auto* ms = object.if_contains("completion_ms")) {
        flow.completion_ms = json_number<double>(*ms);  // null: none
      }
      flow.error = json_string_or(object, "error", "");
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
