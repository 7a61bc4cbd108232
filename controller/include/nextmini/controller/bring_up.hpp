#pragma once
// BringUp: the controller's side of the control protocol, as a state machine without I/O.
// The server (controller_server.hpp) feeds it connection events and decoded messages; it
// answers with the messages to send, each addressed to a connection.
//
// Sequence for a node (issue 2, docs/protocol.md):
//   StartUp{node_id or 0, token}  ->  StartUpReply{id, tun_address = base_addr + id, ...},
//     AddNodeAddress for every node, InstallRoutes{full} with this node's entries,
//     SetLinkParams for each of its outgoing links with a knob configured (config.link_params),
//     AddNode for each topology neighbour already connected, and AddNode about this node to
//     each of them. Of the two ends of an edge, the higher node id dials (dial = true).
//   NodeTopologyReady  ->  once every node is ready: TopologyReady to all (the first time), or
//     to the node that just became ready again (after a reconnect).
// Flows (config [[flows]], add_flows): stored at construction; when TopologyReady is first
//   announced, each node gets AddFlows with the flows it receives (it is dst), then each node
//   gets AddFlows with the flows it sends (it is src) — sinks listen from StartUpReply on, and
//   sources retry a refused connect, so this order is a courtesy, not a requirement. Flows added
//   later are sent at once. UserFlowStart -> store.flow_started, FlowFinished ->
//   store.flow_finished, each logged; a report from a node other than the flow's src is ignored.
//   When a flow's src node disconnects after its AddFlows went out, its unfinished flows are
//   marked failed ("source node N disconnected"): a stopping node cancels its flows without a
//   report, and flows are not restarted. A later FlowFinished from that node still overrides.
// A node id that connects again (same id) gets the full state again and its neighbours get
// AddNode again, so they re-dial or accept; the previous connection of that id is closed.
// Run-time control (the HTTP API, http_api.hpp): set_link_params() merges a change into the
// Store and sends the link's sending node its current SetLinkParams; a link going down or up
// recomputes the shortest-path routes around the down links (routing.hpp, reroute()) and sends
// InstallRoutes{full, new version} to every connected node whose entries changed. A node that
// (re)connects gets the Store's current link parameters and the current routes.
// Refusals: wrong token -> ErrorMessage "auth.denied" and close; an id outside 1..n ->
// "startup.unknown_node" and close; no free id -> "startup.full" and close. A message other than
// StartUp first, a second StartUp, or a controller-to-node type -> "protocol.unexpected"
// (connection stays open). Multicast requests -> "protocol.unsupported" for now.
// Thread: one (the controller's io_context); not thread-safe.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/controller/config.hpp"
#include "nextmini/controller/routing.hpp"
#include "nextmini/controller/store.hpp"
#include "nextmini/controller/topology.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::controller {

using ConnectionId = std::uint64_t;

// A message to send on a connection; close_after: close the connection once it is sent.
struct Outgoing {
  ConnectionId connection = 0;
  messages::Message message;
  bool close_after = false;
};

// What add_flows() did: the ids of the flows (given or assigned, in order) and the AddFlows to
// send now (empty until TopologyReady, when they are sent with the configured flows).
struct FlowsAdded {
  std::vector<messages::FlowId> ids;
  std::vector<Outgoing> outgoing;
};

struct BringUpStatus {
  std::uint32_t n_nodes = 0;
  std::uint32_t connected = 0;
  std::uint32_t ready = 0;
  bool topology_ready = false;  // every node is connected and ready now
  std::size_t routes = 0;
  std::size_t edges = 0;
  std::vector<NodeId> connected_nodes;  // ascending
  std::vector<NodeId> ready_nodes;      // ascending
};

// Where BringUp takes the network's routes, link parameters and flows from at construction.
enum class StartFrom {
  kConfig,  // the config (and `routes`, built from it), written into the Store
  kStore,   // the Store (a database that already holds the network): restored, not overwritten
};

class BringUp {
 public:
  // Nodes must present config.token when it is not empty. With StartFrom::kStore the Store's
  // routes replace `routes` (a route equal to the config's keeps its `configured` flag), its link
  // parameters replace the config's, and its flows are known (those not started yet start at
  // TopologyReady); the config's topology, addresses and token still apply.
  BringUp(Config config, Topology topology, RoutePlan routes, Store& store,
          StartFrom start = StartFrom::kConfig);

  // A connection opened from `remote_address` (used as a node's underlay address when its
  // StartUp leaves that empty).
  void on_connect(ConnectionId connection, std::string remote_address);
  // A decoded message arrived on `connection`.
  std::vector<Outgoing> on_message(ConnectionId connection, const messages::Message& message);
  // The connection closed (by either side).
  void on_disconnect(ConnectionId connection);

  // Whether `change` may be merged into the current parameters of the directed link src -> dst:
  // "link.not_found" for a pair that is not a topology link (naming the nodes), "link.invalid"
  // when the merged result is inconsistent (jitter larger than delay with reorder = false).
  Result<void> check_link_params(NodeId src, NodeId dst, const messages::LinkParams& change) const;
  // Merges `change` (checked with check_link_params first) into the Store; returns the
  // SetLinkParams for src (when connected) and any InstallRoutes a reroute needs.
  std::vector<Outgoing> set_link_params(NodeId src, NodeId dst, const messages::LinkParams& change);
  // The Store's parameters of src -> dst changed (set_link_params, or another program wrote the
  // database): sends src its current SetLinkParams, and reroutes when the link went down or up.
  std::vector<Outgoing> link_params_changed(NodeId src, NodeId dst);
  // Installs, replaces (same id) or removes (nullopt) one route written by another program
  // (the database); it counts as configured (kept over down links). Returns incremental
  // InstallRoutes{full = false} for the nodes on its old and new paths: the route's entries at
  // nodes it passes, `removed` at nodes it no longer passes. Error "route.invalid" (nothing
  // changed) when an edge is not a topology link or a node is outside the topology.
  Result<std::vector<Outgoing>> set_route(RouteId route_id, std::optional<RouteRecord> route);
  // A known flow (configured, added, or restored from the Store), or nullptr.
  const messages::FlowSpec* flow_spec(messages::FlowId flow_id) const {
    auto it = flow_specs_.find(flow_id);
    return it != flow_specs_.end() ? &it->second : nullptr;
  }
  // Re-pins a known flow whose AddFlows has not gone out yet; false when it already started
  // (a pin applies when a flow starts) or is unknown.
  bool pin_waiting_flow(messages::FlowId flow_id, std::optional<RouteId> route_id);
  // The current parameters of every directed topology link (empty params: nothing set).
  std::map<std::pair<NodeId, NodeId>, messages::LinkParams> link_params() const;
  // Adds flows at run time (the HTTP API): checks every one (flow_config.hpp: nodes, length,
  // transport, route pin; a given id must be new), all or nothing; id 0 gets the next free id;
  // stores them. Error "flows.invalid" lists every problem as "flows[i].field: message" with
  // FlowSpec's field names.
  Result<FlowsAdded> add_flows(std::vector<messages::FlowSpec> flows);
  // Every flow the store knows, by id (empty if the store fails; the failure is logged).
  std::vector<FlowRecord> flows() const;

  BringUpStatus status() const;
  const Topology& topology() const { return topology_; }
  // The routes in force (with down links avoided) and their version.
  const RoutePlan& routes() const { return routes_; }
  std::uint64_t routes_version() const { return routes_version_; }
  // Directed links that are down (up = false).
  const DirectedLinks& down_links() const { return down_; }
  // The node a connection speaks for, once its StartUp was accepted.
  std::optional<NodeId> node_of(ConnectionId connection) const;
  // Whether TopologyReady has been broadcast to every node (it is, once).
  bool announced() const { return announced_; }
  const Config& config() const { return config_; }

 private:
  struct Connection {
    std::string remote_address;
    NodeId node = 0;  // 0 until StartUp is accepted
  };
  struct NodeState {
    ConnectionId connection = 0;  // 0: not connected
    std::string underlay_address;
    std::uint16_t link_port = 0;
    std::string operating_mode;
    bool ready = false;
  };

  std::vector<Outgoing> start_up(ConnectionId connection, const messages::StartUp& message);
  std::vector<Outgoing> node_ready(ConnectionId connection, NodeId node);
  std::vector<Outgoing> refuse(ConnectionId connection, std::string code, std::string message,
                               std::string_view in_reply_to, bool close);
  void persist(NodeId node);
  // Recomputes routes_ from base_routes_ without down_, stores them and returns the
  // InstallRoutes for every connected node whose entries changed.
  std::vector<Outgoing> reroute_now();
  void save_routes();
  void restore_from_store(const RoutePlan& config_routes);
  std::uint64_t next_routes_version() const;
  // AddFlows for `flows`: to each dst node first, then to each src node.
  std::vector<Outgoing> flow_messages(const std::vector<messages::FlowSpec>& flows) const;
  void flow_started(NodeId node, const messages::UserFlowStart& started);
  void flow_finished(NodeId node, const messages::FlowFinished& finished);
  void fail_flows_of(NodeId node);

  Config config_;
  Topology topology_;
  RoutePlan base_routes_;  // every link up
  RoutePlan routes_;       // in force: base_routes_ rerouted around down_
  DirectedLinks down_;
  Store& store_;
  std::uint64_t routes_version_ = 1;
  std::map<ConnectionId, Connection> connections_;
  std::vector<NodeState> nodes_;  // index = node id (0 unused)
  std::map<NodeId, std::uint64_t> connection_counts_;
  bool announced_ = false;
  std::vector<messages::FlowSpec> waiting_flows_;  // sent at the first TopologyReady
  std::map<messages::FlowId, messages::FlowSpec> flow_specs_;
};

}  // namespace nextmini::controller
