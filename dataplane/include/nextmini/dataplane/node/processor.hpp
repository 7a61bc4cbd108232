#pragma once
// Processor: the forwarding stage of a node (DESIGN.md §2).
//   Inputs:  process_local(batch)  — raw IP packets from the TUN (or Python);
//            process_from_link(neighbor, batch) — overlay-framed packets from a neighbour link.
//   Outputs: a PacketSink per neighbour (attach_link) and one local sink (attach_local) that
//            receives raw IP packets for the TUN.
//   Local packets: classify (FlowKey), map the destination IP to a node, pick a route by
//   consistent hash of the 5-tuple (pinned per flow), prepend the overlay header, copy to every
//   next hop. Link packets: validate the header, decrement the hop limit, deliver locally
//   and/or forward to the route's next hops here.
//   Every packet is emitted or dropped with a DropReason; nothing throws, logs or allocates per
//   packet (a new flow's counter entry and a new neighbour's output are the bounded exceptions).
//   IPv4 and IPv6: a destination address maps to its node through the table's IPv4 or IPv6
//   overlay addresses (RouteTable::node_of_ipv4 / node_of_ipv6).
//   Router behaviour (ICMP): a node that forwards a link packet to another node decrements the
//   inner IP TTL / hop limit (ip_ttl.hpp; the IP header only, so GSO super-packets too); the
//   source node (its TUN is its host's interface) and the destination (local delivery) do not.
//   A packet whose TTL would expire is dropped (ttl_expired) and answered with ICMP Time
//   Exceeded; a packet with no node owning its destination or no route is answered with ICMP
//   Destination Unreachable (net unreachable / no route) — both from this node's own overlay
//   address of the packet's family, built in a pool buffer (icmp_error.hpp) and sent like a
//   packet from the TUN (so to the source's node, or straight to the local sink when this node's
//   own host sent it). Errors are rate-limited by a token bucket (icmp_errors_per_s, icmp_burst;
//   0 errors per second turns them off), counted in icmp_counters().
//   Drops: too_short / bad_ip_header (a TUN packet that does not parse), unknown_destination (no
//   node owns the address), no_route, too_short / bad_overlay_header (a link packet whose header
//   does not decode), hop_limit (it would be forwarded with an overlay hop limit <= 1),
//   ttl_expired (inner TTL), link_down (next hop or local sink not attached), pool_exhausted /
//   too_big (no copy possible).
//   Flow weights: set_flow_weight(key, w) gives a local flow a weight for weighted schedulers;
//   the source stamps it into the overlay header (byte 31) and every hop copies it into
//   PacketMeta::flow_weight for its link's pipeline. One table lookup per local packet, only
//   while the table is not empty.
//   Outputs are collected per sink and sent once per input batch (or whenever 64 are waiting).
//   The header's send time is written per link (at batch time); PacketMeta's GSO fields travel
//   in the header's offload fields and are restored at the receiving node.
//   Counters: per link (tx = handed to its sink, rx = received, drops on its account), per flow
//   (at the flow's source node and at its sink, bounded, expire_flows()), node-wide drops.
//   Thread: the worker that owns the node's pool; set_routes() swaps the snapshot between batches.
//   Not re-entrant: a sink's send() must not call back into the same Processor synchronously
//   (queue the batch and hand it over later, as links and the in-process tests do).

#include <cstddef>
#include <cstdint>
#include <memory>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/node/flow_table.hpp"
#include "nextmini/dataplane/node/link_stats.hpp"
#include "nextmini/dataplane/route/flow_selector.hpp"
#include "nextmini/dataplane/route/route_table.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct ProcessorConfig {
  NodeId self = 0;
  std::uint8_t initial_hop_limit = 32;
  std::size_t max_flows = FlowTable::kDefaultMaxFlows;     // per-flow counter entries
  std::size_t pin_slots = FlowSelector::kDefaultPinSlots;  // route pins
  std::uint32_t icmp_errors_per_s = 1000;  // ICMP error token bucket rate; 0: no ICMP errors
  std::uint32_t icmp_burst = 50;           // and its depth
};

// ICMP errors this node sent (or would have sent), by kind.
struct IcmpCounters {
  std::uint64_t time_exceeded = 0;  // sent: TTL / hop limit ran out here
  std::uint64_t unreachable = 0;    // sent: no node owns the destination, or no route
  std::uint64_t rate_limited = 0;   // not sent: the token bucket was empty
  std::uint64_t not_sent = 0;       // not sent: no own address of that family, the packet
                                    // may not be answered (RFC 1122), or no pool buffer
};

class Processor {
 public:
  // `pool` supplies buffers for copies when a route has several next hops; `large_pool` (when
  // given) for copies of GSO super-packets that do not fit `pool`'s buffers.
  Processor(ProcessorConfig config, PacketPool& pool, PacketPool* large_pool = nullptr);
  ~Processor();

  void process_local(PacketBatch& batch);
  void process_from_link(NodeId neighbor, PacketBatch& batch);

  void set_routes(std::shared_ptr<const RouteTable> table);
  void attach_link(NodeId neighbor, PacketSink* sink);  // sink outlives its attachment
  void detach_link(NodeId neighbor);                    // later packets to it: kLinkDown
  void attach_local(PacketSink* sink);
  // The weight (1..255; 0 removes it) that packets of the local flow `key` carry in the overlay
  // header. Control path (allocates); same thread as the data path.
  void set_flow_weight(const FlowKey& key, std::uint8_t weight);
  // Pins a local flow toward node `dst` to `route` before its first packet (FlowSelector::pin);
  // the pin holds while the route is one of the (src, dst) pair's candidates.
  void pin_flow(const FlowKey& flow, NodeId dst, RouteId route);

  // A snapshot of the counters in the Metrics message's shape (node_id and timestamp filled).
  messages::Metrics metrics() const;
  // Forgets the counters of flows without a packet for `idle_ns` (so the bounded flow table
  // makes room for new flows); returns how many. Call it off the per-packet path, e.g. on the
  // metrics timer.
  std::size_t expire_flows(std::uint64_t idle_ns);
  // Node-wide drops by reason (also in metrics()).
  const DropCounters& drops() const noexcept;
  const IcmpCounters& icmp_counters() const noexcept;
  // Counters of the link to `neighbor`, or nullptr if no packet or attachment concerned it yet.
  const LinkStats* link_stats(NodeId neighbor) const noexcept;
  // Packets delivered to (tx) the local sink; drops there are under kLinkDown when detached.
  const LinkStats& local_stats() const noexcept;
  const FlowTable& flows() const noexcept;
  const FlowSelector& selector() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nextmini::dataplane
