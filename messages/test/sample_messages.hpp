#pragma once
// Test fixtures: messages of every type with a non-default value in every field (and, where a
// struct has optional fields, variants with them set and unset). Shared by the codec tests and
// the fuzz-corpus writer.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "nextmini/messages/messages.hpp"

namespace nextmini::messages::testing {

inline LinkParams all_link_params() {
  LinkParams p;
  p.rate_bps = 10'000'000'000ULL;
  p.burst_bytes = 65'536;
  p.delay_ns = 20'000'000;
  p.jitter_ns = 1'500'000;
  p.jitter_distribution = "normal";
  p.reorder = true;
  p.loss_percent = 0.25;
  p.duplicate_percent = 1.5;
  p.corrupt_percent = 0.001;
  p.queue_packets = 1000;
  p.queue_bytes = 1ULL << 33;
  p.drop_policy = "codel";
  p.scheduler = "drr";
  p.mtu = 9000;
  p.up = false;
  p.ge_p_percent = 1.0;
  p.ge_r_percent = 30.0;
  p.ge_one_minus_h_percent = 100.0;
  p.ge_one_minus_k_percent = 0.5;
  p.trace = "1\n1\n3\n";
  return p;
}

// One or more messages per alternative of Message, in variant order.
inline std::vector<Message> sample_messages() {
  std::vector<Message> out;
  out.push_back(StartUp{7, "s3cr\xc3\xa9t", "192.168.1.20", 40001, "python"});
  out.push_back(StartUp{});  // every field at its default
  out.push_back(StartUpReply{3, "10.0.0.3", "255.255.0.0", 20, "udp", 9000, 250});
  out.push_back(AddNode{12, "fd00::12", 65535, true});
  out.push_back(AddNodeAddress{4'000'000'000U, "10.0.15.160"});
  {
    InstallRoutes m;
    m.version = 1ULL << 40;
    m.full = false;
    m.routes.push_back(RouteEntry{1, 1, 3, 2, {2, 4}, false});
    m.routes.push_back(RouteEntry{2, 4, 1, 0, {}, true});
    m.routes.push_back(RouteEntry{0xffffffffU, 5, 9, 7, {6, 7, 8, 300, 70000}, true});
    m.removed = {9, 10, 0xffffffffU};
    out.push_back(m);
  }
  out.push_back(NodeTopologyReady{42});
  out.push_back(TopologyReady{1024});
  out.push_back(SetLinkParams{2, 3, all_link_params()});
  {
    SetLinkParams partial{5, 6, {}};
    partial.params.delay_ns = 0;  // set, but to zero: must stay set
    partial.params.loss_percent = 100.0;
    out.push_back(partial);
  }
  {
    AddFlows m;
    FlowSpec full{1ULL << 50, 1, 4, 1'000'000, 2.5, 125'000'000, 3, "quic", 17};
    FlowSpec bare;
    bare.flow_id = 2;
    bare.src = 4;
    bare.dst = 1;
    bare.transport = "udp";
    m.flows = {full, bare};
    out.push_back(m);
  }
  out.push_back(UserFlowStart{99, 3, 1'700'000'000'123'456'789ULL});
  out.push_back(FlowFinished{99, 3, 1'700'000'000'000'000'000ULL, 1'700'000'005'000'000'000ULL,
                             std::numeric_limits<std::uint64_t>::max(), ""});
  out.push_back(AppFlowStart{2, 2, 5, 17, "10.0.0.2", "10.0.0.5", 5353, 443, 123456789});
  out.push_back(RouteAssigned{77, 2, 5, 6, "10.0.0.2", "10.0.0.5", 50000, 5201, 8});
  {
    Metrics m;
    m.node_id = 6;
    m.timestamp_ns = 1'700'000'000'000'000'001ULL;
    m.links.push_back(
        LinkCounters{2, 10, 15000, 20, 30000, {{"queue_full", 4}, {"loss", 1}}, false, 5, 6, 7});
    m.links.push_back(LinkCounters{3, 0, 1, 2, 3, {}, true});
    m.flows.push_back(FlowCounters{6, 2, 6, "10.0.0.6", "10.0.0.2", 40000, 80, 1234, 5678910});
    m.drops = {{"no_route", 12}, {"hop_limit", 3}, {"bad_header", 1ULL << 63}};
    out.push_back(m);
  }
  out.push_back(CreateGroup{5, 3, "video"});
  out.push_back(GroupCreated{5, 11, "video"});
  out.push_back(JoinGroup{11, 4});
  out.push_back(LeaveGroup{11, 9});
  {
    InstallGroupDirectory m;
    m.groups.push_back(GroupInfo{11, "video", {3, 4, 9}});
    m.groups.push_back(GroupInfo{12, "", {}});
    out.push_back(m);
  }
  {
    SetGroupRoutes m;
    m.group_id = 11;
    m.src = 3;
    m.trees.push_back(GroupTree{1, 3, {{3, 4}, {4, 9}}});
    m.trees.push_back(GroupTree{2, 5, {{3, 9}}});
    out.push_back(m);
  }
  {
    InstallGroupRoutes m;
    m.full = false;
    m.routes.push_back(GroupRouteEntry{11, 3, 2, 4, {4, 9}, true});
    out.push_back(m);
  }
  out.push_back(ProbeLink{8, 1, 2, 10});
  out.push_back(ProbeLinkResult{8, 1, 2, true, 250'000, "timeout on 1 of 10"});
  out.push_back(ErrorMessage{"decode.unknown_type", "unknown message type \"Foo\"", "Foo"});
  {
    // Long forms: str8 / str16 strings, array16 and map16 containers.
    ErrorMessage long_error{std::string(40, 'c'), std::string(300, 'm'), std::string(1000, 't')};
    out.push_back(long_error);
    InstallRoutes many;
    for (RouteId id = 1; id <= 20; ++id) many.removed.push_back(id * 1000);
    many.routes.push_back(RouteEntry{7, 1, 2, 1, std::vector<NodeId>(300, 9), false});
    out.push_back(many);
    Metrics counters;
    for (int i = 0; i < 20; ++i) counters.drops["reason_" + std::to_string(i)] = 1ULL << i;
    out.push_back(counters);
  }
  // A failed flow (FlowFinished.error); last, so the corpus files of the others keep their names.
  out.push_back(FlowFinished{100, 1, 5, 6, 0, "connect to 10.0.0.4:4100: Connection refused"});
  return out;
}

}  // namespace nextmini::messages::testing
