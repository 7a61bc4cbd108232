#pragma once
// MemoryStore: the Store (store.hpp) kept in ordered maps in this process. State is lost when the
// controller exits. Not thread-safe: one thread (the controller's io_context) uses it.

#include <map>

#include "nextmini/controller/store.hpp"

namespace nextmini::controller {

class MemoryStore final : public Store {
 public:
  Result<void> put_node(const NodeRecord& node) override;
  Result<std::optional<NodeRecord>> get_node(messages::NodeId node_id) const override;
  Result<std::vector<NodeRecord>> list_nodes() const override;

  Result<std::uint64_t> replace_routes(std::vector<RouteRecord> routes) override;
  Result<std::vector<RouteRecord>> list_routes() const override;
  Result<std::uint64_t> routes_version() const override;

  Result<void> merge_link_params(messages::NodeId src, messages::NodeId dst,
                                 const messages::LinkParams& params) override;
  Result<std::vector<LinkRecord>> list_links() const override;

  Result<void> put_flow(const FlowRecord& flow) override;
  Result<void> flow_started(messages::FlowId flow_id, std::uint64_t start_time_ns) override;
  Result<void> flow_finished(const messages::FlowFinished& finished) override;
  Result<std::optional<FlowRecord>> get_flow(messages::FlowId flow_id) const override;
  Result<std::vector<FlowRecord>> list_flows() const override;

  Result<void> put_metrics(const messages::Metrics& metrics) override;
  Result<std::optional<messages::Metrics>> latest_metrics(messages::NodeId node_id) const override;

  Result<messages::GroupId> create_group(const std::string& name) override;
  Result<void> join_group(messages::GroupId group_id, messages::NodeId node_id) override;
  Result<void> leave_group(messages::GroupId group_id, messages::NodeId node_id) override;
  Result<std::vector<GroupRecord>> list_groups() const override;

 private:
  std::map<messages::NodeId, NodeRecord> nodes_;
  std::vector<RouteRecord> routes_;
  std::uint64_t routes_version_ = 0;
  std::map<std::pair<messages::NodeId, messages::NodeId>, messages::LinkParams> links_;
  std::map<messages::FlowId, FlowRecord> flows_;
  std::map<messages::NodeId, messages::Metrics> metrics_;
  std::map<messages::GroupId, GroupRecord> groups_;
};

}  // namespace nextmini::controller
