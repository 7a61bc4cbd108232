#include "nextmini/controller/memory_store.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {

Result<void> MemoryStore::put_node(const NodeRecord& node) {
  if (node.node_id == 0) return fail("store.invalid", "node id 0 cannot be stored");
  nodes_[node.node_id] = node;
  return ok();
}

Result<std::optional<NodeRecord>> MemoryStore::get_node(messages::NodeId node_id) const {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::optional<NodeRecord>{};
  return std::optional<NodeRecord>{it->second};
}

Result<std::vector<NodeRecord>> MemoryStore::list_nodes() const {
  std::vector<NodeRecord> out;
  out.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) out.push_back(node);
  return out;
}

Result<std::uint64_t> MemoryStore::replace_routes(std::vector<RouteRecord> routes) {
  std::sort(routes.begin(), routes.end(),
            [](const auto& a, const auto& b) { return a.route_id < b.route_id; });
  for (std::size_t i = 1; i < routes.size(); ++i) {
    if (routes[i].route_id == routes[i - 1].route_id) {
      return fail("store.invalid", fmt::format("route id {} appears twice", routes[i].route_id));
    }
  }
  routes_ = std::move(routes);
  return ++routes_version_;
}

Result<std::vector<RouteRecord>> MemoryStore::list_routes() const { return routes_; }

Result<std::uint64_t> MemoryStore::routes_version() const { return routes_version_; }

Result<void> MemoryStore::merge_link_params(messages::NodeId src, messages::NodeId dst,
                                            const messages::LinkParams& params) {
  if (src == 0 || dst == 0 || src == dst) {
    return fail("store.invalid", fmt::format("link {} -> {} is not a link", src, dst));
  }
  messages::merge_link_params(links_[{src, dst}], params);
  return ok();
}

Result<std::vector<LinkRecord>> MemoryStore::list_links() const {
  std::vector<LinkRecord> out;
  out.reserve(links_.size());
  for (const auto& [key, params] : links_) out.push_back({key.first, key.second, params});
  return out;
}

Result<void> MemoryStore::put_flow(const FlowRecord& flow) {
  flows_[flow.spec.flow_id] = flow;
  return ok();
}

Result<void> MemoryStore::flow_started(messages::FlowId flow_id, std::uint64_t start_time_ns) {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return fail("store.not_found", fmt::format("no flow {}", flow_id));
  it->second.start_time_ns = start_time_ns;
  return ok();
}

Result<void> MemoryStore::flow_finished(const messages::FlowFinished& finished) {
  auto it = flows_.find(finished.flow_id);
  if (it == flows_.end()) {
    return fail("store.not_found", fmt::format("no flow {}", finished.flow_id));
  }
  if (!it->second.start_time_ns) it->second.start_time_ns = finished.start_time_ns;
  it->second.finish_time_ns = finished.finish_time_ns;
  it->second.bytes = finished.bytes;
  it->second.error = finished.error;
  return ok();
}

Result<std::optional<FlowRecord>> MemoryStore::get_flow(messages::FlowId flow_id) const {
  auto it = flows_.find(flow_id);
  if (it == flows_.end()) return std::optional<FlowRecord>{};
  return std::optional<FlowRecord>{it->second};
}

Result<std::vector<FlowRecord>> MemoryStore::list_flows() const {
  std::vector<FlowRecord> out;
  out.reserve(flows_.size());
  for (const auto& [id, flow] : flows_) out.push_back(flow);
  return out;
}

Result<void> MemoryStore::put_metrics(const messages::Metrics& metrics) {
  if (metrics.node_id == 0) return fail("store.invalid", "metrics without a node id");
  metrics_[metrics.node_id] = metrics;
  return ok();
}

Result<std::optional<messages::Metrics>> MemoryStore::latest_metrics(
    messages::NodeId node_id) const {
  auto it = metrics_.find(node_id);
  if (it == metrics_.end()) return std::optional<messages::Metrics>{};
  return std::optional<messages::Metrics>{it->second};
}

Result<messages::GroupId> MemoryStore::create_group(const std::string& name) {
  if (name.empty()) return fail("store.invalid", "a group needs a name");
  for (const auto& [id, group] : groups_) {
    if (group.name == name) {
      return fail("store.invalid", fmt::format("group \"{}\" already exists (id {})", name, id));
    }
  }
  const messages::GroupId id = groups_.empty() ? 1 : groups_.rbegin()->first + 1;
  groups_[id] = GroupRecord{id, name, {}};
  return id;
}

Result<void> MemoryStore::join_group(messages::GroupId group_id, messages::NodeId node_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return fail("store.not_found", fmt::format("no group {}", group_id));
  auto& members = it->second.members;
  auto at = std::lower_bound(members.begin(), members.end(), node_id);
  if (at == members.end() || *at != node_id) members.insert(at, node_id);
  return ok();
}

Result<void> MemoryStore::leave_group(messages::GroupId group_id, messages::NodeId node_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end()) return fail("store.not_found", fmt::format("no group {}", group_id));
  auto& members = it->second.members;
  members.erase(std::remove(members.begin(), members.end(), node_id), members.end());
  return ok();
}

Result<std::vector<GroupRecord>> MemoryStore::list_groups() const {
  std::vector<GroupRecord> out;
  out.reserve(groups_.size());
  for (const auto& [id, group] : groups_) out.push_back(group);
  return out;
}

}  // namespace nextmini::controller
