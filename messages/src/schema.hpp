#pragma once
// The wire schema of every control message: for each struct, its wire type name and the list of
// its fields (wire name + member). This is the ONE place that lists fields; the generic encoder
// and decoder in codec.cpp walk these lists, so encoding and decoding cannot drift apart.
// Nested structs (RouteEntry, LinkParams, ...) have a schema too; their kName is used only in
// diagnostics. Wire names are the struct names, except ErrorMessage, which is "Error".
// Adding a field: add the member in messages.hpp and one field(...) line here (append it).

#include <cstddef>
#include <string_view>
#include <tuple>
#include <type_traits>

#include "nextmini/messages/messages.hpp"

namespace nextmini::messages::detail {

// One field: its wire name and a pointer to the member that holds it.
template <typename Struct, typename Member>
struct Field {
  using StructType = Struct;
  using MemberType = Member;
  std::string_view name;
  Member Struct::*member;
};

template <typename Struct, typename Member>
constexpr Field<Struct, Member> field(std::string_view name, Member Struct::*member) {
  return {name, member};
}

// Specialized for every message and nested struct below.
template <typename T>
struct Schema;

// Compile-time guard that a schema lists every member: the number of members of an aggregate,
// found by brace-initializing it from ever more values that convert to anything (except the
// aggregate itself, so a lone value is not taken for a copy).
template <typename Aggregate>
struct AnyMember {
  template <typename T>
  requires(!std::is_same_v<T, Aggregate>) operator T()
      const;  // never defined: only used in unevaluated requires-expressions
};

template <typename Aggregate, typename... Members>
constexpr std::size_t member_count() {
  if constexpr (requires { Aggregate{Members{}..., AnyMember<Aggregate>{}}; }) {
    return member_count<Aggregate, Members..., AnyMember<Aggregate>>();
  } else {
    return sizeof...(Members);
  }
}

template <typename T>
constexpr bool schema_is_complete() {
  return member_count<T>() == std::tuple_size_v<std::decay_t<decltype(Schema<T>::kFields)>>;
}

template <>
struct Schema<StartUp> {
  static constexpr std::string_view kName = "StartUp";
  static constexpr auto kFields = std::make_tuple(
      field("node_id", &StartUp::node_id), field("token", &StartUp::token),
      field("underlay_address", &StartUp::underlay_address),
      field("link_port", &StartUp::link_port), field("operating_mode", &StartUp::operating_mode));
};

template <>
struct Schema<StartUpReply> {
  static constexpr std::string_view kName = "StartUpReply";
  static constexpr auto kFields = std::make_tuple(
      field("node_id", &StartUpReply::node_id), field("tun_address", &StartUpReply::tun_address),
      field("net_mask", &StartUpReply::net_mask),
      field("prefix_length", &StartUpReply::prefix_length),
      field("protocol", &StartUpReply::protocol), field("mtu", &StartUpReply::mtu),
      field("metrics_interval_ms", &StartUpReply::metrics_interval_ms),
      field("tun_address6", &StartUpReply::tun_address6),
      field("prefix_length6", &StartUpReply::prefix_length6));
};

template <>
struct Schema<AddNode> {
  static constexpr std::string_view kName = "AddNode";
  static constexpr auto kFields = std::make_tuple(
      field("node_id", &AddNode::node_id), field("underlay_address", &AddNode::underlay_address),
      field("link_port", &AddNode::link_port), field("dial", &AddNode::dial));
};

template <>
struct Schema<AddNodeAddress> {
  static constexpr std::string_view kName = "AddNodeAddress";
  static constexpr auto kFields =
      std::make_tuple(field("node_id", &AddNodeAddress::node_id),
                      field("tun_address", &AddNodeAddress::tun_address),
                      field("tun_address6", &AddNodeAddress::tun_address6));
};

template <>
struct Schema<RouteEntry> {
  static constexpr std::string_view kName = "RouteEntry";
  static constexpr auto kFields =
      std::make_tuple(field("route_id", &RouteEntry::route_id), field("src", &RouteEntry::src),
                      field("dst", &RouteEntry::dst), field("weight", &RouteEntry::weight),
                      field("next_hops", &RouteEntry::next_hops),
                      field("deliver_local", &RouteEntry::deliver_local));
};

template <>
struct Schema<InstallRoutes> {
  static constexpr std::string_view kName = "InstallRoutes";
  static constexpr auto kFields = std::make_tuple(
      field("version", &InstallRoutes::version), field("full", &InstallRoutes::full),
      field("routes", &InstallRoutes::routes), field("removed", &InstallRoutes::removed));
};

template <>
struct Schema<NodeTopologyReady> {
  static constexpr std::string_view kName = "NodeTopologyReady";
  static constexpr auto kFields = std::make_tuple(field("node_id", &NodeTopologyReady::node_id));
};

template <>
struct Schema<TopologyReady> {
  static constexpr std::string_view kName = "TopologyReady";
  static constexpr auto kFields = std::make_tuple(field("n_nodes", &TopologyReady::n_nodes));
};

template <>
struct Schema<LinkParams> {
  static constexpr std::string_view kName = "LinkParams";
  static constexpr auto kFields = std::make_tuple(
      field("rate_bps", &LinkParams::rate_bps), field("burst_bytes", &LinkParams::burst_bytes),
      field("delay_ns", &LinkParams::delay_ns), field("jitter_ns", &LinkParams::jitter_ns),
      field("jitter_distribution", &LinkParams::jitter_distribution),
      field("reorder", &LinkParams::reorder), field("loss_percent", &LinkParams::loss_percent),
      field("duplicate_percent", &LinkParams::duplicate_percent),
      field("corrupt_percent", &LinkParams::corrupt_percent),
      field("queue_packets", &LinkParams::queue_packets),
      field("queue_bytes", &LinkParams::queue_bytes),
      field("drop_policy", &LinkParams::drop_policy), field("scheduler", &LinkParams::scheduler),
      field("mtu", &LinkParams::mtu), field("up", &LinkParams::up),
      field("ge_p_percent", &LinkParams::ge_p_percent),
      field("ge_r_percent", &LinkParams::ge_r_percent),
      field("ge_one_minus_h_percent", &LinkParams::ge_one_minus_h_percent),
      field("ge_one_minus_k_percent", &LinkParams::ge_one_minus_k_percent),
      field("trace", &LinkParams::trace));
};

template <>
struct Schema<SetLinkParams> {
  static constexpr std::string_view kName = "SetLinkParams";
  static constexpr auto kFields =
      std::make_tuple(field("src", &SetLinkParams::src), field("dst", &SetLinkParams::dst),
                      field("params", &SetLinkParams::params));
};

template <>
struct Schema<FlowSpec> {
  static constexpr std::string_view kName = "FlowSpec";
  static constexpr auto kFields = std::make_tuple(
      field("flow_id", &FlowSpec::flow_id), field("src", &FlowSpec::src),
      field("dst", &FlowSpec::dst), field("length_bytes", &FlowSpec::length_bytes),
      field("duration_s", &FlowSpec::duration_s),
      field("rate_bytes_per_s", &FlowSpec::rate_bytes_per_s), field("weight", &FlowSpec::weight),
      field("transport", &FlowSpec::transport), field("route_id", &FlowSpec::route_id));
};

template <>
struct Schema<AddFlows> {
  static constexpr std::string_view kName = "AddFlows";
  static constexpr auto kFields = std::make_tuple(field("flows", &AddFlows::flows));
};

template <>
struct Schema<UserFlowStart> {
  static constexpr std::string_view kName = "UserFlowStart";
  static constexpr auto kFields = std::make_tuple(
      field("flow_id", &UserFlowStart::flow_id), field("node_id", &UserFlowStart::node_id),
      field("start_time_ns", &UserFlowStart::start_time_ns));
};

template <>
struct Schema<FlowFinished> {
  static constexpr std::string_view kName = "FlowFinished";
  static constexpr auto kFields = std::make_tuple(
      field("flow_id", &FlowFinished::flow_id), field("node_id", &FlowFinished::node_id),
      field("start_time_ns", &FlowFinished::start_time_ns),
      field("finish_time_ns", &FlowFinished::finish_time_ns), field("bytes", &FlowFinished::bytes),
      field("error", &FlowFinished::error));
};

template <>
struct Schema<AppFlowStart> {
  static constexpr std::string_view kName = "AppFlowStart";
  static constexpr auto kFields = std::make_tuple(
      field("node_id", &AppFlowStart::node_id), field("src", &AppFlowStart::src),
      field("dst", &AppFlowStart::dst), field("ip_protocol", &AppFlowStart::ip_protocol),
      field("src_address", &AppFlowStart::src_address),
      field("dst_address", &AppFlowStart::dst_address), field("src_port", &AppFlowStart::src_port),
      field("dst_port", &AppFlowStart::dst_port),
      field("start_time_ns", &AppFlowStart::start_time_ns));
};

template <>
struct Schema<RouteAssigned> {
  static constexpr std::string_view kName = "RouteAssigned";
  static constexpr auto kFields = std::make_tuple(
      field("flow_id", &RouteAssigned::flow_id), field("src", &RouteAssigned::src),
      field("dst", &RouteAssigned::dst), field("ip_protocol", &RouteAssigned::ip_protocol),
      field("src_address", &RouteAssigned::src_address),
      field("dst_address", &RouteAssigned::dst_address),
      field("src_port", &RouteAssigned::src_port), field("dst_port", &RouteAssigned::dst_port),
      field("route_id", &RouteAssigned::route_id));
};

template <>
struct Schema<LinkCounters> {
  static constexpr std::string_view kName = "LinkCounters";
  static constexpr auto kFields = std::make_tuple(
      field("neighbor", &LinkCounters::neighbor), field("tx_packets", &LinkCounters::tx_packets),
      field("tx_bytes", &LinkCounters::tx_bytes), field("rx_packets", &LinkCounters::rx_packets),
      field("rx_bytes", &LinkCounters::rx_bytes), field("drops", &LinkCounters::drops),
      field("up", &LinkCounters::up), field("duplicated", &LinkCounters::duplicated),
      field("corrupted", &LinkCounters::corrupted),
      field("queued_packets", &LinkCounters::queued_packets));
};

template <>
struct Schema<FlowCounters> {
  static constexpr std::string_view kName = "FlowCounters";
  static constexpr auto kFields = std::make_tuple(
      field("src", &FlowCounters::src), field("dst", &FlowCounters::dst),
      field("ip_protocol", &FlowCounters::ip_protocol),
      field("src_address", &FlowCounters::src_address),
      field("dst_address", &FlowCounters::dst_address), field("src_port", &FlowCounters::src_port),
      field("dst_port", &FlowCounters::dst_port), field("packets", &FlowCounters::packets),
      field("bytes", &FlowCounters::bytes));
};

template <>
struct Schema<Metrics> {
  static constexpr std::string_view kName = "Metrics";
  static constexpr auto kFields = std::make_tuple(
      field("node_id", &Metrics::node_id), field("timestamp_ns", &Metrics::timestamp_ns),
      field("links", &Metrics::links), field("flows", &Metrics::flows),
      field("drops", &Metrics::drops));
};

template <>
struct Schema<CreateGroup> {
  static constexpr std::string_view kName = "CreateGroup";
  static constexpr auto kFields =
      std::make_tuple(field("request_id", &CreateGroup::request_id),
                      field("node_id", &CreateGroup::node_id), field("name", &CreateGroup::name));
};

template <>
struct Schema<GroupCreated> {
  static constexpr std::string_view kName = "GroupCreated";
  static constexpr auto kFields = std::make_tuple(field("request_id", &GroupCreated::request_id),
                                                  field("group_id", &GroupCreated::group_id),
                                                  field("name", &GroupCreated::name));
};

template <>
struct Schema<JoinGroup> {
  static constexpr std::string_view kName = "JoinGroup";
  static constexpr auto kFields = std::make_tuple(field("group_id", &JoinGroup::group_id),
                                                  field("node_id", &JoinGroup::node_id));
};

template <>
struct Schema<LeaveGroup> {
  static constexpr std::string_view kName = "LeaveGroup";
  static constexpr auto kFields = std::make_tuple(field("group_id", &LeaveGroup::group_id),
                                                  field("node_id", &LeaveGroup::node_id));
};

template <>
struct Schema<GroupInfo> {
  static constexpr std::string_view kName = "GroupInfo";
  static constexpr auto kFields =
      std::make_tuple(field("group_id", &GroupInfo::group_id), field("name", &GroupInfo::name),
                      field("members", &GroupInfo::members));
};

template <>
struct Schema<InstallGroupDirectory> {
  static constexpr std::string_view kName = "InstallGroupDirectory";
  static constexpr auto kFields = std::make_tuple(field("groups", &InstallGroupDirectory::groups));
};

template <>
struct Schema<Edge> {
  static constexpr std::string_view kName = "Edge";
  static constexpr auto kFields =
      std::make_tuple(field("from", &Edge::from), field("to", &Edge::to));
};

template <>
struct Schema<GroupTree> {
  static constexpr std::string_view kName = "GroupTree";
  static constexpr auto kFields =
      std::make_tuple(field("tree_id", &GroupTree::tree_id), field("weight", &GroupTree::weight),
                      field("edges", &GroupTree::edges));
};

template <>
struct Schema<SetGroupRoutes> {
  static constexpr std::string_view kName = "SetGroupRoutes";
  static constexpr auto kFields =
      std::make_tuple(field("group_id", &SetGroupRoutes::group_id),
                      field("src", &SetGroupRoutes::src), field("trees", &SetGroupRoutes::trees));
};

template <>
struct Schema<GroupRouteEntry> {
  static constexpr std::string_view kName = "GroupRouteEntry";
  static constexpr auto kFields = std::make_tuple(
      field("group_id", &GroupRouteEntry::group_id), field("src", &GroupRouteEntry::src),
      field("tree_id", &GroupRouteEntry::tree_id), field("weight", &GroupRouteEntry::weight),
      field("next_hops", &GroupRouteEntry::next_hops),
      field("deliver_local", &GroupRouteEntry::deliver_local));
};

template <>
struct Schema<InstallGroupRoutes> {
  static constexpr std::string_view kName = "InstallGroupRoutes";
  static constexpr auto kFields = std::make_tuple(field("full", &InstallGroupRoutes::full),
                                                  field("routes", &InstallGroupRoutes::routes));
};

template <>
struct Schema<ProbeLink> {
  static constexpr std::string_view kName = "ProbeLink";
  static constexpr auto kFields =
      std::make_tuple(field("probe_id", &ProbeLink::probe_id), field("src", &ProbeLink::src),
                      field("dst", &ProbeLink::dst), field("count", &ProbeLink::count));
};

template <>
struct Schema<ProbeLinkResult> {
  static constexpr std::string_view kName = "ProbeLinkResult";
  static constexpr auto kFields = std::make_tuple(
      field("probe_id", &ProbeLinkResult::probe_id), field("src", &ProbeLinkResult::src),
      field("dst", &ProbeLinkResult::dst), field("ok", &ProbeLinkResult::ok),
      field("rtt_ns", &ProbeLinkResult::rtt_ns), field("error", &ProbeLinkResult::error));
};

template <>
struct Schema<ErrorMessage> {
  static constexpr std::string_view kName = "Error";
  static constexpr auto kFields =
      std::make_tuple(field("code", &ErrorMessage::code), field("message", &ErrorMessage::message),
                      field("in_reply_to", &ErrorMessage::in_reply_to));
};

}  // namespace nextmini::messages::detail
