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
//   packet. Counters: per link (tx/rx packets and bytes, drops), per flow, node-wide drops.
//   Thread: the worker that owns the node's pool; set_routes() swaps the snapshot between batches.

#include <cstdint>
#include <memory>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/route/route_table.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct ProcessorConfig {
  NodeId self = 0;
  std::uint8_t initial_hop_limit = 32;
};

class Processor {
 public:
  // `pool` supplies buffers for copies when a route has several next hops.
  Processor(ProcessorConfig config, PacketPool& pool);
  ~Processor();

  void process_local(PacketBatch& batch);
  void process_from_link(NodeId neighbor, PacketBatch& batch);

  void set_routes(std::shared_ptr<const RouteTable> table);
  void attach_link(NodeId neighbor, PacketSink* sink);  // sink outlives its attachment
  void detach_link(NodeId neighbor);                    // later packets to it: kLinkDown
  void attach_local(PacketSink* sink);

  // A snapshot of the counters in the Metrics message's shape (node_id and timestamp filled).
  messages::Metrics metrics() const;
  // Node-wide drops by reason (also in metrics()).
  const DropCounters& drops() const noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nextmini::dataplane
