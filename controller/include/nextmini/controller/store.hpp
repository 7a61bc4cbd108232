#pragma once
// Store: where the controller keeps its state — nodes, routes, flows, link parameters, the latest
// metrics of each node, multicast groups. Plain data in and out, so a second implementation
// (PostgreSQL) can sit behind the same interface; MemoryStore (memory_store.hpp) is the first.
// Every call may fail (a database can) with a Result; MemoryStore fails only on bad arguments
// ("store.not_found", "store.invalid"). Callers use one thread (the controller's io_context).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

struct NodeRecord {
  messages::NodeId node_id = 0;
  std::string underlay_address;  // where neighbours reach its link listener
  std::uint16_t link_port = 0;
  std::string operating_mode;
  bool connected = false;
  bool ready = false;             // reported NodeTopologyReady since it last connected
  std::uint64_t connections = 0;  // how many times it has connected (StartUp accepted)

  friend bool operator==(const NodeRecord&, const NodeRecord&) = default;
};

struct RouteRecord {
  messages::RouteId route_id = 0;
  messages::NodeId src = 0;
  messages::NodeId dst = 0;
  std::uint32_t weight = 1;
  std::vector<std::pair<messages::NodeId, messages::NodeId>> edges;  // directed

  friend bool operator==(const RouteRecord&, const RouteRecord&) = default;
};

struct LinkRecord {
  messages::NodeId src = 0;  // directed link src -> dst
  messages::NodeId dst = 0;
  messages::LinkParams params;
};

struct FlowRecord {
  messages::FlowSpec spec;
  std::optional<std::uint64_t> start_time_ns;
  std::optional<std::uint64_t> finish_time_ns;
  std::uint64_t bytes = 0;
  std::string error;  // FlowFinished.error: empty unless the flow failed
};

// "pending" (not started), "running", "finished" or "failed".
inline std::string_view flow_state(const FlowRecord& flow) {
  if (flow.finish_time_ns) return flow.error.empty() ? "finished" : "failed";
  return flow.start_time_ns ? "running" : "pending";
}

struct GroupRecord {
  messages::GroupId group_id = 0;
  std::string name;
  std::vector<messages::NodeId> members;  // ascending

  friend bool operator==(const GroupRecord&, const GroupRecord&) = default;
};

// A row another program wrote that the controller refused (PgStore: table config_errors).
struct RowError {
  std::string table_name;
  std::string row_id;
  std::string code;
  std::string message;
};

class Store {
 public:
  virtual ~Store() = default;

  // Nodes: inserted or replaced whole, by node_id.
  virtual Result<void> put_node(const NodeRecord& node) = 0;
  virtual Result<std::optional<NodeRecord>> get_node(messages::NodeId node_id) const = 0;
  virtual Result<std::vector<NodeRecord>> list_nodes() const = 0;  // by node_id

  // Routes: the whole set replaced at once, with a version that increases on each replace.
  virtual Result<std::uint64_t> replace_routes(std::vector<RouteRecord> routes) = 0;
  virtual Result<std::vector<RouteRecord>> list_routes() const = 0;  // by route_id
  virtual Result<std::uint64_t> routes_version() const = 0;          // 0: never set

  // Link parameters: set fields overwrite, unset fields keep their stored value.
  virtual Result<void> merge_link_params(messages::NodeId src, messages::NodeId dst,
                                         const messages::LinkParams& params) = 0;
  virtual Result<std::vector<LinkRecord>> list_links() const = 0;  // by (src, dst)

  // Flows: inserted or replaced by flow id; started/finished fill in the times.
  virtual Result<void> put_flow(const FlowRecord& flow) = 0;
  virtual Result<void> flow_started(messages::FlowId flow_id, std::uint64_t start_time_ns) = 0;
  virtual Result<void> flow_finished(const messages::FlowFinished& finished) = 0;
  virtual Result<std::optional<FlowRecord>> get_flow(messages::FlowId flow_id) const = 0;
  virtual Result<std::vector<FlowRecord>> list_flows() const = 0;  // by flow id

  // Metrics: the latest report of each node replaces its previous one.
  virtual Result<void> put_metrics(const messages::Metrics& metrics) = 0;
  virtual Result<std::optional<messages::Metrics>> latest_metrics(
      messages::NodeId node_id) const = 0;

  // Groups: ids 1, 2, ...; a name is unique.
  virtual Result<messages::GroupId> create_group(const std::string& name) = 0;
  virtual Result<void> join_group(messages::GroupId group_id, messages::NodeId node_id) = 0;
  virtual Result<void> leave_group(messages::GroupId group_id, messages::NodeId node_id) = 0;
  virtual Result<std::vector<GroupRecord>> list_groups() const = 0;  // by group id

  // Rows written by other programs that were refused (only a database has them).
  virtual Result<std::vector<RowError>> row_errors() const { return std::vector<RowError>{}; }
};

}  // namespace nextmini::controller
