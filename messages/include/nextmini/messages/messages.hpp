#pragma once
// Every controller <-> node message (DESIGN.md §5) as a plain C++ struct.
// The wire form (MessagePack maps inside a versioned envelope) lives in codec.hpp; these types
// carry no encoding logic. Optional fields are std::optional: absent on the wire means "not set"
// (for SetLinkParams: "leave as is"). Times are nanoseconds since the Unix epoch unless named
// otherwise; rates are bits per second; sizes are bytes. Every struct compares with == (all
// fields), so tests and stores can diff messages.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace nextmini::messages {

// Version of the control protocol. A peer answers a different major version with an Error.
inline constexpr std::uint32_t kProtocolVersion = 1;

using NodeId = std::uint32_t;  // 1-based; 0 means "not assigned yet"
using RouteId = std::uint32_t;
using GroupId = std::uint32_t;
using FlowId = std::uint64_t;

// ---- bring-up -------------------------------------------------------------------------------

// node -> controller, first message on a connection.
struct StartUp {
  NodeId node_id = 0;            // 0: the controller assigns one
  std::string token;             // shared secret, empty when the controller has none
  std::string underlay_address;  // where neighbours reach this node's link listener
  std::uint16_t link_port = 0;   // that listener's port
  std::string operating_mode;    // "tun" (default) or "python"

  friend bool operator==(const StartUp&, const StartUp&) = default;
};

// controller -> node, the answer to StartUp ("StartUp both ways" in DESIGN.md §5).
struct StartUpReply {
  NodeId node_id = 0;
  std::string tun_address;  // dotted quad, e.g. "10.0.0.3"
  std::string net_mask;     // e.g. "255.255.0.0"
  std::uint32_t prefix_length = 16;
  std::string protocol = "tcp";  // link transport: "tcp" (later "udp", "quic", "max")
  std::uint32_t mtu = 1400;
  std::uint32_t metrics_interval_ms = 1000;
  std::string tun_address6{};  // its overlay IPv6 address, e.g. "fd00:6e6d::3"; "" = no IPv6
  std::uint32_t prefix_length6 = 64;

  friend bool operator==(const StartUpReply&, const StartUpReply&) = default;
};

// controller -> node: a topology neighbour. Each edge is dialed once, by its higher-id node
// (nodes are numbered in start order, so the later node dials the earlier one).
struct AddNode {
  NodeId node_id = 0;
  std::string underlay_address;
  std::uint16_t link_port = 0;
  bool dial = false;  // true: this node opens the connection to the neighbour

  friend bool operator==(const AddNode&, const AddNode&) = default;
};

// controller -> node: the overlay (TUN) address of a node, so a destination IP maps to a node.
struct AddNodeAddress {
  NodeId node_id = 0;
  std::string tun_address;
  std::string tun_address6{};  // "" when the overlay has no IPv6

  friend bool operator==(const AddNodeAddress&, const AddNodeAddress&) = default;
};

// One route as seen by one node: where a packet of this route goes next from here.
struct RouteEntry {
  RouteId route_id = 0;
  NodeId src = 0;                 // first node of the route
  NodeId dst = 0;                 // last node of the route
  std::uint32_t weight = 1;       // relative share of flows among routes of (src, dst)
  std::vector<NodeId> next_hops;  // every listed hop gets a copy
  bool deliver_local = false;     // this node is the route's sink

  friend bool operator==(const RouteEntry&, const RouteEntry&) = default;
};

// controller -> node: routes through this node. `full` replaces the table; otherwise a delta
// that adds or replaces `routes` and removes `removed`.
struct InstallRoutes {
  std::uint64_t version = 0;
  bool full = true;
  std::vector<RouteEntry> routes;
  std::vector<RouteId> removed;

  friend bool operator==(const InstallRoutes&, const InstallRoutes&) = default;
};

// node -> controller: this node's links and routes are in.
struct NodeTopologyReady {
  NodeId node_id = 0;

  friend bool operator==(const NodeTopologyReady&, const NodeTopologyReady&) = default;
};

// controller -> every node: every node has reported NodeTopologyReady.
struct TopologyReady {
  std::uint32_t n_nodes = 0;

  friend bool operator==(const TopologyReady&, const TopologyReady&) = default;
};

// ---- link parameters ------------------------------------------------------------------------

// Every link knob; unset means "leave as is". The link-emulation issue gives them meaning.
struct LinkParams {
  std::optional<std::uint64_t> rate_bps;
  std::optional<std::uint64_t> burst_bytes;
  std::optional<std::uint64_t> delay_ns;
  std::optional<std::uint64_t> jitter_ns;
  std::optional<std::string> jitter_distribution;  // "uniform" | "normal"
  std::optional<bool> reorder;
  std::optional<double> loss_percent;
  std::optional<double> duplicate_percent;
  std::optional<double> corrupt_percent;
  std::optional<std::uint64_t> queue_packets;
  std::optional<std::uint64_t> queue_bytes;
  std::optional<std::string> drop_policy;  // "taildrop" | "red" | "codel"
  std::optional<std::string> scheduler;    // "fifo" | "wrr" | "drr"
  std::optional<std::uint32_t> mtu;
  std::optional<bool> up;
  // Gilbert-Elliott loss (percentages 0-100): with ge_p_percent set the link uses this model
  // instead of loss_percent; a message with loss_percent and no ge_p_percent switches back.
  std::optional<double> ge_p_percent;            // P(good -> bad)
  std::optional<double> ge_r_percent;            // P(bad -> good)
  std::optional<double> ge_one_minus_h_percent;  // loss probability in the bad state
  std::optional<double> ge_one_minus_k_percent;  // loss probability in the good state
  // A Mahimahi bandwidth trace, its text (one millisecond timestamp per 1500-byte delivery
  // opportunity, looping); when set the link is shaped by it instead of rate_bps.
  std::optional<std::string> trace;

  friend bool operator==(const LinkParams&, const LinkParams&) = default;
};

// controller -> node: parameters of the directed link src -> dst (src is the receiving node).
struct SetLinkParams {
  NodeId src = 0;
  NodeId dst = 0;
  LinkParams params;

  friend bool operator==(const SetLinkParams&, const SetLinkParams&) = default;
};

// ---- flows ----------------------------------------------------------------------------------

struct FlowSpec {
  FlowId flow_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  std::optional<std::uint64_t> length_bytes;      // flow_len = { Bytes = N }
  std::optional<double> duration_s;               // flow_len = { Duration = S }
  std::optional<std::uint64_t> rate_bytes_per_s;  // optional pacing
  std::optional<std::uint32_t> weight;
  std::string transport = "tcp";
  std::optional<RouteId> route_id;  // pin to this route

  friend bool operator==(const FlowSpec&, const FlowSpec&) = default;
};

// controller -> node: flows this node starts (src) or receives (dst).
struct AddFlows {
  std::vector<FlowSpec> flows;

  friend bool operator==(const AddFlows&, const AddFlows&) = default;
};

// node -> controller: a controller flow started sending.
struct UserFlowStart {
  FlowId flow_id = 0;
  NodeId node_id = 0;
  std::uint64_t start_time_ns = 0;

  friend bool operator==(const UserFlowStart&, const UserFlowStart&) = default;
};

// node -> controller: a controller flow finished (error empty) or failed (error says why; bytes
// is what the sink confirmed, 0 when it never connected).
struct FlowFinished {
  FlowId flow_id = 0;
  NodeId node_id = 0;
  std::uint64_t start_time_ns = 0;
  std::uint64_t finish_time_ns = 0;
  std::uint64_t bytes = 0;
  std::string error;

  friend bool operator==(const FlowFinished&, const FlowFinished&) = default;
};

// node -> controller: an application (not controller) flow appeared at this node.
struct AppFlowStart {
  NodeId node_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  std::uint8_t ip_protocol = 0;
  std::string src_address;
  std::string dst_address;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint64_t start_time_ns = 0;

  friend bool operator==(const AppFlowStart&, const AppFlowStart&) = default;
};

// controller -> node: the route a flow should take (answer to AppFlowStart or a re-pin).
struct RouteAssigned {
  FlowId flow_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  std::uint8_t ip_protocol = 0;
  std::string src_address;
  std::string dst_address;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  RouteId route_id = 0;

  friend bool operator==(const RouteAssigned&, const RouteAssigned&) = default;
};

// ---- metrics --------------------------------------------------------------------------------

struct LinkCounters {
  NodeId neighbor = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::map<std::string, std::uint64_t> drops;  // by DropReason name ("loss": emulated loss)
  bool up = true;
  // Link emulation (zero while no knob is set on the link):
  std::uint64_t duplicated = 0;      // copies made by `duplicate`
  std::uint64_t corrupted = 0;       // packets with a flipped bit (`corrupt`)
  std::uint64_t queued_packets = 0;  // packets (segments) held in the link's queue and delay line

  friend bool operator==(const LinkCounters&, const LinkCounters&) = default;
};

struct FlowCounters {
  NodeId src = 0;
  NodeId dst = 0;
  std::uint8_t ip_protocol = 0;
  std::string src_address;
  std::string dst_address;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;

  friend bool operator==(const FlowCounters&, const FlowCounters&) = default;
};

// node -> controller, every metrics interval.
struct Metrics {
  NodeId node_id = 0;
  std::uint64_t timestamp_ns = 0;
  std::vector<LinkCounters> links;
  std::vector<FlowCounters> flows;
  std::map<std::string, std::uint64_t> drops;  // node-wide, by DropReason name

  friend bool operator==(const Metrics&, const Metrics&) = default;
};

// ---- multicast ------------------------------------------------------------------------------

struct CreateGroup {
  std::uint64_t request_id = 0;
  NodeId node_id = 0;  // the requester
  std::string name;

  friend bool operator==(const CreateGroup&, const CreateGroup&) = default;
};

struct GroupCreated {
  std::uint64_t request_id = 0;
  GroupId group_id = 0;
  std::string name;

  friend bool operator==(const GroupCreated&, const GroupCreated&) = default;
};

struct JoinGroup {
  GroupId group_id = 0;
  NodeId node_id = 0;

  friend bool operator==(const JoinGroup&, const JoinGroup&) = default;
};

struct LeaveGroup {
  GroupId group_id = 0;
  NodeId node_id = 0;

  friend bool operator==(const LeaveGroup&, const LeaveGroup&) = default;
};

struct GroupInfo {
  GroupId group_id = 0;
  std::string name;
  std::vector<NodeId> members;

  friend bool operator==(const GroupInfo&, const GroupInfo&) = default;
};

// controller -> node: every group and its members.
struct InstallGroupDirectory {
  std::vector<GroupInfo> groups;

  friend bool operator==(const InstallGroupDirectory&, const InstallGroupDirectory&) = default;
};

struct Edge {
  NodeId from = 0;
  NodeId to = 0;

  friend bool operator==(const Edge&, const Edge&) = default;
};

struct GroupTree {
  std::uint32_t tree_id = 0;
  std::uint32_t weight = 1;
  std::vector<Edge> edges;

  friend bool operator==(const GroupTree&, const GroupTree&) = default;
};

// anyone -> controller: the trees that carry group traffic from src (one tree or several).
struct SetGroupRoutes {
  GroupId group_id = 0;
  NodeId src = 0;
  std::vector<GroupTree> trees;

  friend bool operator==(const SetGroupRoutes&, const SetGroupRoutes&) = default;
};

struct GroupRouteEntry {
  GroupId group_id = 0;
  NodeId src = 0;
  std::uint32_t tree_id = 0;
  std::uint32_t weight = 1;
  std::vector<NodeId> next_hops;
  bool deliver_local = false;

  friend bool operator==(const GroupRouteEntry&, const GroupRouteEntry&) = default;
};

// controller -> node: group routes through this node.
struct InstallGroupRoutes {
  bool full = true;
  std::vector<GroupRouteEntry> routes;

  friend bool operator==(const InstallGroupRoutes&, const InstallGroupRoutes&) = default;
};

// ---- probing --------------------------------------------------------------------------------

// controller -> node src: measure the link src -> dst.
struct ProbeLink {
  std::uint64_t probe_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  std::uint32_t count = 1;

  friend bool operator==(const ProbeLink&, const ProbeLink&) = default;
};

struct ProbeLinkResult {
  std::uint64_t probe_id = 0;
  NodeId src = 0;
  NodeId dst = 0;
  bool ok = false;
  std::uint64_t rtt_ns = 0;
  std::string error;

  friend bool operator==(const ProbeLinkResult&, const ProbeLinkResult&) = default;
};

// ---- errors ---------------------------------------------------------------------------------

// Either way: the answer to a message that could not be taken (undecodable, unknown type,
// wrong version, bad token). The connection stays open unless the code says otherwise.
struct ErrorMessage {
  std::string code;  // e.g. "decode.unknown_type", "auth.denied"
  std::string message;
  std::string in_reply_to;  // the offending message's type, if known

  friend bool operator==(const ErrorMessage&, const ErrorMessage&) = default;
};

using Message =
    std::variant<StartUp, StartUpReply, AddNode, AddNodeAddress, InstallRoutes, NodeTopologyReady,
                 TopologyReady, SetLinkParams, AddFlows, UserFlowStart, FlowFinished, AppFlowStart,
                 RouteAssigned, Metrics, CreateGroup, GroupCreated, JoinGroup, LeaveGroup,
                 InstallGroupDirectory, SetGroupRoutes, InstallGroupRoutes, ProbeLink,
                 ProbeLinkResult, ErrorMessage>;

}  // namespace nextmini::messages
