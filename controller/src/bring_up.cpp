#include "nextmini/controller/bring_up.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <iterator>
#include <set>

#include "nextmini/controller/flow_config.hpp"
#include "nextmini/messages/codec.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {

namespace {

// Messages only the controller sends; a node sending one is a protocol error.
bool controller_to_node(const messages::Message& message) {
  return std::holds_alternative<messages::StartUpReply>(message) ||
         std::holds_alternative<messages::AddNode>(message) ||
         std::holds_alternative<messages::AddNodeAddress>(message) ||
         std::holds_alternative<messages::InstallRoutes>(message) ||
         std::holds_alternative<messages::TopologyReady>(message) ||
         std::holds_alternative<messages::SetLinkParams>(message) ||
         std::holds_alternative<messages::AddFlows>(message) ||
         std::holds_alternative<messages::RouteAssigned>(message) ||
         std::holds_alternative<messages::GroupCreated>(message) ||
         std::holds_alternative<messages::InstallGroupDirectory>(message) ||
         std::holds_alternative<messages::InstallGroupRoutes>(message) ||
         std::holds_alternative<messages::ProbeLink>(message);
}

bool multicast_request(const messages::Message& message) {
  return std::holds_alternative<messages::CreateGroup>(message) ||
         std::holds_alternative<messages::JoinGroup>(message) ||
         std::holds_alternative<messages::LeaveGroup>(message) ||
         std::holds_alternative<messages::SetGroupRoutes>(message);
}

}  // namespace

BringUp::BringUp(Config config, Topology topology, RoutePlan routes, Store& store, StartFrom start)
    : config_(std::move(config)),
      topology_(std::move(topology)),
      base_routes_(std::move(routes)),
      store_(store),
      nodes_(topology_.n_nodes() + 1) {
  if (start == StartFrom::kStore) {
    const RoutePlan config_routes = std::move(base_routes_);
    restore_from_store(config_routes);
    return;
  }
  // The configured link parameters are the Store's starting point; the API changes them there.
  for (const auto& [link, params] : config_.link_params) {
    if (auto saved = store_.merge_link_params(link.first, link.second, params); !saved) {
      spdlog::error("store: link {} -> {} not saved: {}", link.first, link.second,
                    saved.error().message);
    }
    if (params.up == false) down_.insert(link);
  }
  routes_ = down_.empty() ? base_routes_ : reroute(base_routes_, topology_, down_);
  save_routes();
  // Configured flows were checked by the config loader (and check_flow_routes).
  for (const auto& spec : config_.flows) {
    flow_specs_[spec.flow_id] = spec;
    waiting_flows_.push_back(spec);
    if (auto saved = store_.put_flow(FlowRecord{spec, {}, {}, 0, {}}); !saved) {
      spdlog::error("store: flow {} not saved: {}", spec.flow_id, saved.error().message);
    }
  }
}

void BringUp::restore_from_store(const RoutePlan& config_routes) {
  // Routes: the Store's (already checked against the topology by a PgStore).
  std::vector<Route> routes;
  std::size_t differ = 0;
  if (auto stored = store_.list_routes()) {
    for (auto& record : *stored) {
      Route route{record.route_id,         record.src, record.dst, record.weight,
                  std::move(record.edges), true};
      const Route* configured = config_routes.find(route.route_id);
      if (configured != nullptr && configured->src == route.src && configured->dst == route.dst &&
          configured->weight == route.weight && configured->edges == route.edges) {
        route.configured = configured->configured;
      } else {
        ++differ;
      }
      routes.push_back(std::move(route));
    }
  } else {
    spdlog::error("store: cannot read routes: {}; using the config's", stored.error().message);
    routes = config_routes.routes();
  }
  // A stored row that is refused (config_errors) does not leave its pair without a route: the
  // config's route of that id stands in until the row is fixed.
  std::set<RouteId> refused;
  if (auto errors = store_.row_errors()) {
    for (const auto& error : *errors) {
      if (error.table_name == "routes")
        refused.insert(std::strtoul(error.row_id.c_str(), nullptr, 10));
    }
  }
  for (const auto& route : config_routes.routes()) {
    if (std::none_of(routes.begin(), routes.end(),
                     [&](const Route& r) { return r.route_id == route.route_id; })) {
      ++differ;
      if (refused.contains(route.route_id)) {
        spdlog::warn(
            "restore: the database's route {} is refused (config_errors); the config's "
            "route {} -> {} stands in until the row is fixed",
            route.route_id, route.src, route.dst);
        routes.push_back(route);
      }
    }
  }
  if (differ > 0) {
    spdlog::warn(
        "restore: {} routes of the database differ from the config's; the database's are used "
        "(--reset-db starts from the config)",
        differ);
  }
  base_routes_ = plan_of_routes(topology_.n_nodes(), std::move(routes));
  // Link parameters: the Store's; a link stored as down is avoided.
  if (auto links = store_.list_links()) {
    for (const auto& link : *links) {
      if (link.params.up == false) down_.insert({link.src, link.dst});
    }
  }
  std::size_t links_differ = 0;
  for (const auto& [link, params] : link_params()) {
    const auto configured = config_.link_params.find(link);
    const messages::LinkParams expected =
        configured != config_.link_params.end() ? configured->second : messages::LinkParams{};
    if (!(params == expected)) ++links_differ;
  }
  if (links_differ > 0) {
    spdlog::warn(
        "restore: the database's parameters of {} links differ from the config's; the "
        "database's are used",
        links_differ);
  }
  routes_ = down_.empty() ? base_routes_ : reroute(base_routes_, topology_, down_);
  if (auto version = store_.routes_version(); version && *version > 0) routes_version_ = *version;
  // Flows: every stored flow is known; those never started start at TopologyReady.
  std::size_t waiting = 0;
  for (const auto& flow : flows()) {
    flow_specs_[flow.spec.flow_id] = flow.spec;
    if (flow_state(flow) == "pending") {
      waiting_flows_.push_back(flow.spec);
      ++waiting;
    }
  }
  spdlog::info(
      "restore: {} routes (version {}), {} links down, {} flows ({} to start) from the database",
      routes_.routes().size(), routes_version_, down_.size(), flow_specs_.size(), waiting);
}

void BringUp::save_routes() {
  std::vector<RouteRecord> records;
  records.reserve(routes_.routes().size());
  for (const auto& route : routes_.routes()) {
    records.push_back({route.route_id, route.src, route.dst, route.weight, route.edges});
  }
  if (auto version = store_.replace_routes(std::move(records))) {
    routes_version_ = *version;
  } else {
    spdlog::error("store: cannot save routes: {}", version.error().message);
    ++routes_version_;  // the nodes still need a newer version than the one they have
  }
}

Result<FlowsAdded> BringUp::add_flows(std::vector<messages::FlowSpec> flows) {
  std::vector<std::string> errors;
  std::map<messages::FlowId, std::size_t> given;
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const auto& spec = flows[i];
    for (const auto& problem : check_flow(spec, topology_.n_nodes(), &routes_)) {
      errors.push_back(
          fmt::format("flows[{}].{}: {}", i, flow_spec_field_name(problem.field), problem.message));
    }
    if (spec.flow_id == 0) continue;
    if (flow_specs_.contains(spec.flow_id)) {
      errors.push_back(fmt::format("flows[{}].flow_id: flow {} exists already", i, spec.flow_id));
    } else if (auto [it, inserted] = given.emplace(spec.flow_id, i); !inserted) {
      errors.push_back(fmt::format("flows[{}].flow_id: {} is also the id of flows[{}]", i,
                                   spec.flow_id, it->second));
    }
  }
  if (flows.empty()) errors.push_back("flows: empty; give at least one flow");
  if (!errors.empty()) return fail("flows.invalid", fmt::format("{}", fmt::join(errors, "\n")));

  FlowsAdded added;
  messages::FlowId next = flow_specs_.empty() ? 1 : flow_specs_.rbegin()->first + 1;
  for (auto& spec : flows) {
    if (spec.flow_id == 0) {
      while (flow_specs_.contains(next) || given.contains(next)) ++next;
      spec.flow_id = next++;
    }
    flow_specs_[spec.flow_id] = spec;
    added.ids.push_back(spec.flow_id);
    if (auto saved = store_.put_flow(FlowRecord{spec, {}, {}, 0, {}}); !saved) {
      spdlog::error("store: flow {} not saved: {}", spec.flow_id, saved.error().message);
    }
    spdlog::info("flow {}: {} -> {} added ({})", spec.flow_id, spec.src, spec.dst,
                 announced_ ? "starting now" : "starts at topology ready");
  }
  if (announced_) {
    added.outgoing = flow_messages(flows);
  } else {
    waiting_flows_.insert(waiting_flows_.end(), flows.begin(), flows.end());
  }
  return added;
}

std::vector<Outgoing> BringUp::flow_messages(const std::vector<messages::FlowSpec>& flows) const {
  std::map<NodeId, messages::AddFlows> receivers;
  std::map<NodeId, messages::AddFlows> senders;
  for (const auto& spec : flows) {
    receivers[spec.dst].flows.push_back(spec);
    senders[spec.src].flows.push_back(spec);
  }
  std::vector<Outgoing> out;
  for (auto* side : {&receivers, &senders}) {
    for (auto& [node, message] : *side) {
      if (nodes_[node].connection == 0) {
        spdlog::warn("flows: node {} is not connected; its AddFlows is not sent", node);
        continue;
      }
      out.push_back({nodes_[node].connection, std::move(message)});
    }
  }
  return out;
}

std::vector<FlowRecord> BringUp::flows() const {
  auto listed = store_.list_flows();
  if (!listed) {
    spdlog::warn("store: cannot list flows: {}", listed.error().message);
    return {};
  }
  return std::move(*listed);
}

void BringUp::fail_flows_of(NodeId node) {
  if (!announced_) return;  // nothing was sent yet; TopologyReady sends them later
  const auto now =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  for (const auto& flow : flows()) {
    const auto state = flow_state(flow);
    if (flow.spec.src != node || (state != "pending" && state != "running")) continue;
    // A row another program wrote that was refused (or not applied yet) was never sent.
    if (!flow_specs_.contains(flow.spec.flow_id)) continue;
    messages::FlowFinished failed{flow.spec.flow_id,
                                  node,
                                  flow.start_time_ns.value_or(now),
                                  now,
                                  0,
                                  fmt::format("source node {} disconnected", node)};
    if (auto saved = store_.flow_finished(failed); !saved) {
      spdlog::warn("store: flow {} not updated: {}", flow.spec.flow_id, saved.error().message);
    }
    spdlog::warn("flow {}: {} -> {} failed: {}", flow.spec.flow_id, node, flow.spec.dst,
                 failed.error);
  }
}

void BringUp::flow_started(NodeId node, const messages::UserFlowStart& started) {
  auto spec = flow_specs_.find(started.flow_id);
  if (spec == flow_specs_.end() || spec->second.src != node) {
    spdlog::warn("node {}: UserFlowStart for flow {}, which it does not send; ignored", node,
                 started.flow_id);
    return;
  }
  if (auto saved = store_.flow_started(started.flow_id, started.start_time_ns); !saved) {
    spdlog::warn("store: flow {} start not saved: {}", started.flow_id, saved.error().message);
  }
  spdlog::info("flow {}: {} -> {} started", started.flow_id, spec->second.src, spec->second.dst);
}

void BringUp::flow_finished(NodeId node, const messages::FlowFinished& finished) {
  auto spec = flow_specs_.find(finished.flow_id);
  if (spec == flow_specs_.end() || spec->second.src != node) {
    spdlog::warn("node {}: FlowFinished for flow {}, which it does not send; ignored", node,
                 finished.flow_id);
    return;
  }
  if (auto saved = store_.flow_finished(finished); !saved) {
    spdlog::warn("store: flow {} finish not saved: {}", finished.flow_id, saved.error().message);
  }
  const double seconds =
      finished.finish_time_ns > finished.start_time_ns
          ? static_cast<double>(finished.finish_time_ns - finished.start_time_ns) / 1e9
          : 0.0;
  if (finished.error.empty()) {
    spdlog::info("flow {}: {} -> {} finished: {} bytes in {:.3f} s ({:.2f} Mbit/s)",
                 finished.flow_id, spec->second.src, spec->second.dst, finished.bytes, seconds,
                 seconds > 0 ? static_cast<double>(finished.bytes) * 8 / seconds / 1e6 : 0.0);
  } else {
    spdlog::warn("flow {}: {} -> {} failed after {} bytes: {}", finished.flow_id, spec->second.src,
                 spec->second.dst, finished.bytes, finished.error);
  }
}

void BringUp::on_connect(ConnectionId connection, std::string remote_address) {
  connections_[connection] = Connection{std::move(remote_address), 0};
}

void BringUp::on_disconnect(ConnectionId connection) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return;
  const NodeId node = it->second.node;
  connections_.erase(it);
  if (node == 0 || nodes_[node].connection != connection) return;
  nodes_[node].connection = 0;
  nodes_[node].ready = false;
  persist(node);
  fail_flows_of(node);
  const auto now = status();
  spdlog::info("node {} disconnected ({}/{} connected)", node, now.connected, now.n_nodes);
}

std::vector<Outgoing> BringUp::refuse(ConnectionId connection, std::string code,
                                      std::string message, std::string_view in_reply_to,
                                      bool close) {
  std::vector<Outgoing> out;
  out.push_back(
      {connection,
       messages::ErrorMessage{std::move(code), std::move(message), std::string(in_reply_to)},
       close});
  return out;
}

std::vector<Outgoing> BringUp::on_message(ConnectionId connection,
                                          const messages::Message& message) {
  auto it = connections_.find(connection);
  if (it == connections_.end()) return {};
  const NodeId node = it->second.node;
  const std::string type(messages::type_name(message));

  if (const auto* start = std::get_if<messages::StartUp>(&message)) {
    if (node != 0) {
      return refuse(connection, "protocol.unexpected",
                    fmt::format("StartUp was already accepted on this connection (node {})", node),
                    type, false);
    }
    return start_up(connection, *start);
  }
  if (node == 0) {
    return refuse(connection, "protocol.unexpected",
                  fmt::format("{} before StartUp: a connection starts with StartUp", type), type,
                  false);
  }
  if (controller_to_node(message)) {
    return refuse(connection, "protocol.unexpected",
                  fmt::format("{} is sent by the controller, not to it", type), type, false);
  }
  if (multicast_request(message)) {
    return refuse(
        connection, "protocol.unsupported",
        fmt::format("{}: multicast groups are not supported by this controller yet", type), type,
        false);
  }
  if (std::holds_alternative<messages::NodeTopologyReady>(message)) {
    return node_ready(connection, node);
  }
  if (const auto* metrics = std::get_if<messages::Metrics>(&message)) {
    messages::Metrics stored = *metrics;
    stored.node_id = node;  // the connection speaks for its node, whatever the field says
    if (auto saved = store_.put_metrics(stored); !saved) {
      spdlog::warn("store: metrics of node {} not saved: {}", node, saved.error().message);
    }
    return {};
  }
  if (const auto* started = std::get_if<messages::UserFlowStart>(&message)) {
    flow_started(node, *started);
    return {};
  }
  if (const auto* finished = std::get_if<messages::FlowFinished>(&message)) {
    flow_finished(node, *finished);
    return {};
  }
  if (const auto* error = std::get_if<messages::ErrorMessage>(&message)) {
    spdlog::warn("node {} reports an error: {}: {} (in reply to {})", node, error->code,
                 error->message, error->in_reply_to.empty() ? "-" : error->in_reply_to);
    return {};
  }
  if (const auto* probe = std::get_if<messages::ProbeLinkResult>(&message)) {
    spdlog::info("probe {}: link {} -> {}: {}", probe->probe_id, probe->src, probe->dst,
                 probe->ok ? fmt::format("rtt {} ns", probe->rtt_ns) : probe->error);
    return {};
  }
  // AppFlowStart: nodes pick routes themselves by consistent hash; nothing to assign yet.
  return {};
}

std::vector<Outgoing> BringUp::start_up(ConnectionId connection, const messages::StartUp& message) {
  const std::uint32_t n = topology_.n_nodes();
  if (!config_.token.empty() && message.token != config_.token) {
    spdlog::warn("connection {}: StartUp with a wrong token refused", connection);
    return refuse(connection, "auth.denied", "wrong or missing token", "StartUp", true);
  }
  NodeId id = message.node_id;
  if (id == 0) {
    for (NodeId candidate = 1; candidate <= n; ++candidate) {
      if (nodes_[candidate].connection == 0) {
        id = candidate;
        break;
      }
    }
    if (id == 0) {
      return refuse(connection, "startup.full",
                    fmt::format("every node id 1..{} is connected already", n), "StartUp", true);
    }
  } else if (id > n) {
    return refuse(connection, "startup.unknown_node",
                  fmt::format("node {} is not in the topology (nodes 1..{})", id, n), "StartUp",
                  true);
  }

  std::vector<Outgoing> out;
  NodeState& state = nodes_[id];
  if (state.connection != 0) {
    // The same node again (a restart before its old connection was noticed closed).
    spdlog::warn("node {} connected again; closing its previous connection", id);
    out.push_back(
        {state.connection,
         messages::ErrorMessage{"startup.replaced",
                                fmt::format("node {} connected again elsewhere", id), "StartUp"},
         true});
    connections_[state.connection].node = 0;
  }
  state.connection = connection;
  state.ready = false;
  state.underlay_address = message.underlay_address.empty()
                               ? connections_[connection].remote_address
                               : message.underlay_address;
  state.link_port = message.link_port;
  state.operating_mode = message.operating_mode;
  connections_[connection].node = id;
  const std::uint64_t times = ++connection_counts_[id];
  persist(id);

  messages::StartUpReply reply;
  reply.node_id = id;
  reply.tun_address = node_address(config_, id);
  reply.net_mask = config_.net_mask;
  reply.prefix_length = prefix_length(config_);
  reply.protocol = config_.protocol;
  reply.mtu = config_.mtu;
  reply.metrics_interval_ms = config_.metrics_interval_ms;
  out.push_back({connection, reply});

  for (NodeId other = 1; other <= n; ++other) {
    out.push_back({connection, messages::AddNodeAddress{other, node_address(config_, other)}});
  }
  messages::InstallRoutes routes;
  routes.version = routes_version_;
  routes.full = true;
  routes.routes = routes_.entries(id);
  out.push_back({connection, std::move(routes)});
  // The current knobs of this node's outgoing links: the config's, changed by the API since.
  const auto links = link_params();
  for (auto it = links.lower_bound({id, 0}); it != links.end() && it->first.first == id; ++it) {
    if (!messages::has_any_knob(it->second)) continue;
    out.push_back({connection, messages::SetLinkParams{id, it->first.second, it->second}});
  }

  std::uint32_t linked = 0;
  for (NodeId neighbor : topology_.neighbors(id)) {
    const NodeState& peer = nodes_[neighbor];
    if (peer.connection == 0) continue;
    ++linked;
    out.push_back({connection, messages::AddNode{neighbor, peer.underlay_address, peer.link_port,
                                                 id > neighbor}});
    out.push_back({peer.connection,
                   messages::AddNode{id, state.underlay_address, state.link_port, neighbor > id}});
  }
  const auto now = status();
  spdlog::info("node {} {} from {}:{} ({}/{} connected, {} of {} neighbours up)", id,
               times > 1 ? "reconnected" : "connected", state.underlay_address, state.link_port,
               now.connected, n, linked, topology_.neighbors(id).size());
  return out;
}

std::vector<Outgoing> BringUp::node_ready(ConnectionId connection, NodeId node) {
  std::vector<Outgoing> out;
  if (nodes_[node].ready) return out;
  nodes_[node].ready = true;
  persist(node);
  const auto now = status();
  spdlog::info("node {} ready ({}/{} ready)", node, now.ready, now.n_nodes);
  if (!now.topology_ready) return out;
  const messages::TopologyReady ready{now.n_nodes};
  if (!announced_) {
    announced_ = true;
    spdlog::info("topology ready: all {} nodes", now.n_nodes);
    for (NodeId id = 1; id < nodes_.size(); ++id) out.push_back({nodes_[id].connection, ready});
    if (!waiting_flows_.empty()) {
      spdlog::info("starting {} flows", waiting_flows_.size());
      auto flows = flow_messages(waiting_flows_);
      out.insert(out.end(), std::make_move_iterator(flows.begin()),
                 std::make_move_iterator(flows.end()));
      waiting_flows_.clear();
    }
  } else {
    out.push_back({connection, ready});
  }
  return out;
}

void BringUp::persist(NodeId node) {
  const NodeState& state = nodes_[node];
  NodeRecord record;
  record.node_id = node;
  record.underlay_address = state.underlay_address;
  record.link_port = state.link_port;
  record.operating_mode = state.operating_mode;
  for (const auto& entry : config_.nodes) {
    if (record.operating_mode.empty() && entry.node_id == node) {
      record.operating_mode = entry.operating_mode;
    }
  }
  if (record.operating_mode.empty()) record.operating_mode = "tun";
  record.connected = state.connection != 0;
  record.ready = state.ready;
  record.connections = connection_counts_[node];
  if (auto saved = store_.put_node(record); !saved) {
    spdlog::warn("store: node {} not saved: {}", node, saved.error().message);
  }
}

Result<void> BringUp::check_link_params(NodeId src, NodeId dst,
                                        const messages::LinkParams& change) const {
  if (!topology_.has_node(src) || !topology_.has_node(dst)) {
    return fail("link.not_found",
                fmt::format("link {} -> {}: unknown node (the topology has 1..{})", src, dst,
                            topology_.n_nodes()));
  }
  if (!topology_.has_edge(src, dst)) {
    return fail("link.not_found", fmt::format("{} -> {} is not a topology link", src, dst));
  }
  const auto links = link_params();
  messages::LinkParams merged = links.at({src, dst});
  messages::merge_link_params(merged, change);
  if (auto valid = messages::check_link_params(merged); !valid) {
    return fail("link.invalid", fmt::format("link {} -> {}: {}", src, dst, valid.error().message));
  }
  return ok();
}

std::map<std::pair<NodeId, NodeId>, messages::LinkParams> BringUp::link_params() const {
  std::map<std::pair<NodeId, NodeId>, messages::LinkParams> links;
  for (const auto& [a, b] : topology_.edges()) {
    links[{a, b}];
    links[{b, a}];
  }
  if (auto stored = store_.list_links()) {
    for (auto& record : *stored) {
      if (auto it = links.find({record.src, record.dst}); it != links.end()) {
        it->second = std::move(record.params);
      }
    }
  } else {
    spdlog::warn("store: cannot list links: {}", stored.error().message);
  }
  return links;
}

std::vector<Outgoing> BringUp::set_link_params(NodeId src, NodeId dst,
                                               const messages::LinkParams& change) {
  std::vector<Outgoing> out;
  if (auto saved = store_.merge_link_params(src, dst, change); !saved) {
    spdlog::error("store: link {} -> {} not changed: {}", src, dst, saved.error().message);
    return out;
  }
  return link_params_changed(src, dst);
}

std::vector<Outgoing> BringUp::link_params_changed(NodeId src, NodeId dst) {
  std::vector<Outgoing> out;
  if (!topology_.has_node(src) || !topology_.has_edge(src, dst)) return out;
  const auto links = link_params();
  const messages::LinkParams& current = links.at({src, dst});
  if (nodes_[src].connection != 0) {
    out.push_back({nodes_[src].connection, messages::SetLinkParams{src, dst, current}});
  }
  const bool was_down = down_.contains({src, dst});
  const bool is_down = current.up == false;
  if (was_down != is_down) {
    if (is_down) {
      down_.insert({src, dst});
    } else {
      down_.erase({src, dst});
    }
    spdlog::info("link {} -> {} is {}: rerouting", src, dst, is_down ? "down" : "up");
    auto installs = reroute_now();
    out.insert(out.end(), std::make_move_iterator(installs.begin()),
               std::make_move_iterator(installs.end()));
  }
  return out;
}

std::vector<Outgoing> BringUp::reroute_now() {
  const std::uint32_t n = topology_.n_nodes();
  std::vector<std::vector<messages::RouteEntry>> before(n + 1);
  for (NodeId id = 1; id <= n; ++id) before[id] = routes_.entries(id);
  const auto unreachable_before = routes_.unreachable();
  routes_ = reroute(base_routes_, topology_, down_);
  save_routes();
  if (routes_.unreachable() != unreachable_before) {
    constexpr std::size_t kShown = 50;
    const auto lines = routes_.unreachable_messages();
    for (std::size_t i = 0; i < lines.size() && i < kShown; ++i) {
      spdlog::warn("reroute: {}", lines[i]);
    }
  }
  std::vector<Outgoing> out;
  std::size_t changed = 0;
  for (NodeId id = 1; id <= n; ++id) {
    auto entries = routes_.entries(id);
    if (entries == before[id]) continue;
    ++changed;
    if (nodes_[id].connection == 0) continue;  // it gets them when it connects
    messages::InstallRoutes install;
    install.version = routes_version_;
    install.full = true;
    install.routes = std::move(entries);
    out.push_back({nodes_[id].connection, std::move(install)});
  }
  spdlog::info("routes version {}: {} nodes changed, {} unreachable pairs", routes_version_,
               changed, routes_.unreachable().size());
  return out;
}

std::uint64_t BringUp::next_routes_version() const {
  // The Store's version moves with every write of the routes (a database's sequence moves with
  // other programs' writes too); never go back.
  const auto stored = store_.routes_version();
  return std::max(routes_version_ + 1, stored ? *stored : 0);
}

Result<std::vector<Outgoing>> BringUp::set_route(RouteId route_id,
                                                 std::optional<RouteRecord> record) {
  std::optional<Route> route;
  if (record) {
    std::vector<std::string> problems;
    for (const NodeId node : {record->src, record->dst}) {
      if (!topology_.has_node(node)) {
        problems.push_back(
            fmt::format("node {} is not in the topology (nodes 1..{})", node, topology_.n_nodes()));
      }
    }
    for (const auto& [from, to] : record->edges) {
      if (!topology_.has_node(from) || !topology_.has_node(to) || !topology_.has_edge(from, to)) {
        problems.push_back(fmt::format("edge [{}, {}] is not a link of the topology", from, to));
      }
    }
    if (!problems.empty()) {
      return fail("route.invalid",
                  fmt::format("route {}: {}", route_id, fmt::join(problems, "; ")));
    }
    route = Route{route_id, record->src, record->dst, record->weight, record->edges, true};
  }
  const Route* old_route = base_routes_.find(route_id);
  if (!route && old_route == nullptr) return std::vector<Outgoing>{};  // nothing to remove
  // The nodes on the old and the new path: they gain, change or lose the route's entries.
  std::set<NodeId> affected;
  auto add_nodes = [&](const Route* r) {
    if (r == nullptr) return;
    affected.insert(r->dst);
    for (const auto& edge : r->edges) affected.insert(edge.first);
  };
  add_nodes(routes_.find(route_id));
  base_routes_ = with_route(base_routes_, route_id, std::move(route));
  routes_ = down_.empty() ? base_routes_ : reroute(base_routes_, topology_, down_);
  add_nodes(routes_.find(route_id));
  routes_version_ = next_routes_version();

  std::vector<Outgoing> out;
  for (const NodeId node : affected) {
    if (!topology_.has_node(node) || nodes_[node].connection == 0) continue;
    messages::InstallRoutes install;
    install.version = routes_version_;
    install.full = false;
    install.routes = routes_.entries(node, route_id);
    if (install.routes.empty()) install.removed.push_back(route_id);
    out.push_back({nodes_[node].connection, std::move(install)});
  }
  spdlog::debug("route {} {} (routes version {}): {} nodes updated", route_id,
                record ? "set" : "removed", routes_version_, out.size());
  return out;
}

bool BringUp::pin_waiting_flow(messages::FlowId flow_id, std::optional<RouteId> route_id) {
  auto waiting = std::find_if(waiting_flows_.begin(), waiting_flows_.end(),
                              [&](const auto& spec) { return spec.flow_id == flow_id; });
  if (waiting == waiting_flows_.end()) return false;
  waiting->route_id = route_id;
  flow_specs_[flow_id].route_id = route_id;
  return true;
}

BringUpStatus BringUp::status() const {
  BringUpStatus status;
  status.n_nodes = topology_.n_nodes();
  for (NodeId id = 1; id < nodes_.size(); ++id) {
    if (nodes_[id].connection == 0) continue;
    ++status.connected;
    status.connected_nodes.push_back(id);
    if (nodes_[id].ready) {
      ++status.ready;
      status.ready_nodes.push_back(id);
    }
  }
  status.topology_ready = status.n_nodes > 0 && status.ready == status.n_nodes;
  status.routes = routes_.routes().size();
  status.edges = topology_.edges().size();
  return status;
}

std::optional<NodeId> BringUp::node_of(ConnectionId connection) const {
  auto it = connections_.find(connection);
  if (it == connections_.end() || it->second.node == 0) return std::nullopt;
  return it->second.node;
}

}  // namespace nextmini::controller
