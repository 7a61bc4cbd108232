#pragma once
// Node: one dataplane node (DESIGN.md §3) — an object, not a process. It owns its io_context,
// PacketPool, Processor, TunDevice, tcp links, LinkListener and ControlClient, and applies what
// the controller says:
//   StartUpReply   adopt the id, open/configure the TUN (address, prefix, MTU), metrics interval
//   AddNode        create the link to that neighbour with the LinkFactory of the StartUpReply's
//                  `protocol` (tcp: dial, or wait for its connection; udp: a peer of the node's
//                  one UDP socket, bound to the link port number, up at once)
//   AddNodeAddress, InstallRoutes (full or delta)  merge, rebuild the RouteTable snapshot and
//                  swap it into the Processor
//   TopologyReady  logged
//   SetLinkParams  (this node is src) applied to the EmulatedLink of the directed link
//                  self -> dst at once, also before that neighbour's AddNode (the link keeps it
//                  and gets its transport when the neighbour appears); an invalid one (bad
//                  value, or a src that is not this node) is answered with ErrorMessage
//                  "link_params.invalid" naming the key and value, and changes nothing
//   AddFlows       flows naming this node as src start on its FlowRunner (flow/flow_runner.hpp):
//                  kernel TCP from this node's TUN address to the dst's (AddNodeAddress) at
//                  flow_port, the route pinned (route_id) and the weight set before the first
//                  packet; UserFlowStart/FlowFinished go to the controller. The flow sink
//                  listens on the TUN address at flow_port from StartUpReply on (TUN nodes only).
//   others         logged
// It sends NodeTopologyReady when, on the current controller connection, routes are installed
// and every link it was told about, and every next hop its routes name, is connected
// (re-evaluated on each event, once per controller connection), and Metrics every
// metrics interval (processor counters merged with link and TUN counters).
// Data path: TUN (or inject_local) -> Processor -> EmulatedLink per neighbour (link emulation;
// a pass-through while no knob is set) -> NeighborLink (TcpLink or UdpLink) / local sink (TUN,
// or a callback when the TUN is disabled); links -> Processor.process_from_link. The
// EmulatedLink of a neighbour lives as long as the node (its pipeline and queued packets survive
// reconnects and TcpLink replacement).
// Flow weights: set_flow_weight(key, weight) gives a local flow (by 5-tuple) the weight its
// packets carry in the overlay header (byte 31), which every wrr/drr link on its path uses.
// A controller flow's weight is set before its first packet and dropped when it finishes.
// Threads (NodeConfig::workers, DESIGN.md §3): worker 0 is io_context() on run()'s calling
// thread: control client, link listener, flow runner, metrics, the udp transport, and all the
// node's state (routes, link maps). Workers 1..N-1 are io_contexts on threads of their own that
// run() starts and joins. Each worker k has its own pools, its own TUN queue (IFF_MULTI_QUEUE:
// the kernel keeps a flow on one queue) and its own Processor (the route table is one shared
// immutable snapshot; routes, flow weights and pins are posted to every worker). Each directed
// link (EmulatedLink + tcp link) is owned by one worker (round robin over neighbours as they
// appear); a Processor that outputs to a link another worker owns hands the packets over
// through a LinkHandoff (SPSC ring + one post per burst); the owner receives on the link and
// writes to its own TUN queue. So a flow goes TUN queue -> one worker -> one link owner -> one
// connection -> one receiving worker, never reordered. udp links share one socket: they all
// stay on worker 0. With one worker everything runs on the calling thread, as before.
// Without a TUN, local_delivery is called on the worker that owns the link the packet came in
// on. async_stop() is safe from any thread. Destroy the Node only after run() has returned (or
// if it never ran); the destructor closes what is open without blocking.

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/route/route_table.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

class ControlClient;
class EmulatedLink;
class FlowRunner;
class LinkFactory;
class LinkListener;
class NeighborLink;
class PacketSink;
class Processor;
class TunDevice;

struct NodeConfig {
  std::string controller_url;    // ws://HOST:PORT
  messages::NodeId node_id = 0;  // 0: the controller assigns one
  std::string token;
  bool use_tun = true;
  std::string tun_name = "utun";
  // The TUN's kernel transmit queue, in packets (what the node has not read yet; see
  // InterfaceSettings::tx_queue_length). 0 keeps the kernel's default of 500.
  std::uint32_t tun_tx_queue = 4096;
  std::string listen_address = "0.0.0.0";
  // Where neighbours reach the listener; empty: the listen address, or when that is a wildcard
  // the first non-loopback IPv4 address of this network namespace.
  std::string advertise_address;
  std::uint16_t link_port = 4000;  // 0: an ephemeral port
  // Controller flows: every node's flow sink listens on its TUN address at this port, and
  // sources connect to the destination's TUN address at the same port. 0: no flows.
  std::uint16_t flow_port = 4100;
  // Worker threads, each with its own TUN queue, Processor and links (see Thread above); 0 is 1.
  unsigned workers = 1;
  std::size_t pool_buffers = 8192;  // allocated at start
  // The pool grows (in chunks, when traffic needs it) up to this many buffers: an emulated link
  // holds its queue and its bandwidth-delay product in buffers (1 Gbit/s x 50 ms: ~4,500).
  std::size_t pool_max_buffers = 131'072;
  std::size_t buffer_size = 2048;
  // GSO super-packets (TUN offloads, docs/architecture.md): a second pool of large buffers,
  // used only for TUN reads and link frames larger than a small buffer, and for copies of them.
  std::size_t large_pool_buffers = 16;
  std::size_t large_pool_max_buffers = 1024;
  std::size_t large_buffer_size = 69'632;  // 64 KB + IPv6 header + headroom + frame reserve
  // TUN with a virtio_net_hdr and TSO/USO/checksum offloads (probed; falls back by itself).
  // false: plain packets, one <= MTU packet per read, as without offloads.
  bool tun_offloads = true;
  // Stop cleanly on SIGINT/SIGTERM (the `node` command; not for embedded nodes).
  bool handle_signals = false;
  // Without a TUN, packets delivered locally go here (on the thread of the worker that owns the
  // link they came in on; the node's thread with one worker).
  std::function<void(PacketBatch& batch)> local_delivery;
};

class Node {
 public:
  explicit Node(NodeConfig config);
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  ~Node();

  // Opens the link listener and starts the control client. Errors: bad url, listen failure.
  Result<void> start();
  // start() (if needed), then runs until stopped. Returns a fatal error that stopped the node
  // (TUN cannot be opened, the controller refused the token), or success after async_stop().
  Result<void> run();
  // Refuses new work and closes everything; run() returns once in-flight work is done.
  // Safe from any thread and from signal-handling code running on the node's io_context.
  void async_stop();

  // Raw IP packets as if read from the TUN (the Python package's path). Node thread only.
  void inject_local(PacketBatch& batch);
  // The WRR/DRR weight of the local flow `key` (its 5-tuple as the TUN sees it, e.g. a flow
  // runner's TCP socket: src = this node's address and port, dst = the peer's, protocol 6).
  // Weights above 255 are capped at 255 (the header has one byte); 0 removes the entry (weight
  // 1). Node thread only (post it to io_context()); kept across a controller reconnect.
  void set_flow_weight(const FlowKey& key, std::uint32_t weight);

  boost::asio::io_context& io_context() noexcept { return io_; }
  PacketPool& pool() noexcept { return pool_; }
  // Buffers for GSO super-packets (NodeConfig::large_buffer_size). Node thread only.
  PacketPool& large_pool() noexcept { return large_pool_; }
  // Readable from any thread.
  messages::NodeId id() const noexcept { return id_.load(); }
  bool topology_ready() const noexcept { return topology_ready_.load(); }
  bool reported_ready() const noexcept { return reported_ready_.load(); }
  std::uint16_t link_port() const noexcept { return bound_port_.load(); }
  // Neighbour connections accepted before their AddNode arrived (held until it does).
  std::uint64_t early_connections() const noexcept { return early_connections_.load(); }
  // The counters as they go into Metrics (every worker's, merged). Node thread only; with
  // several workers running it waits for each worker's part.
  messages::Metrics metrics() const;
  unsigned workers() const noexcept { return static_cast<unsigned>(workers_.size()); }
  // Buffers in use in every worker's pools, small and large (leak checks once run() returned).
  std::size_t buffers_in_use() const noexcept;
  // The routes the controller installed here (InstallRoutes, merged), by route id. Node thread
  // only (post to io_context()); for tests and benchmarks that check what a node holds.
  const std::map<messages::RouteId, messages::RouteEntry>& installed_routes() const noexcept {
    return routes_;
  }
  // Running controller flows whose connections carry a weight. Node thread only.
  std::size_t weighted_controller_flows() const noexcept { return controller_flow_keys_.size(); }

 private:
  class LocalSink;
  struct Worker;

  void on_message(messages::Message& message);
  void on_control_state(bool connected);
  void apply(const messages::StartUpReply& reply);
  void apply(const messages::AddNode& add);
  void apply(const messages::AddNodeAddress& address);
  void apply(const messages::InstallRoutes& install);
  void apply(const messages::SetLinkParams& set);
  void apply(const messages::AddFlows& add);
  void start_flow_runner();
  // The LinkFactory of `protocol` (made on the first StartUpReply). False: fatal, node stopping.
  bool ensure_link_factory(const std::string& protocol);
  // Drops the weights of a finished controller flow's connections.
  void forget_flow_weights(messages::FlowId flow);
  // The output of the directed link to `neighbor`, created on first use.
  EmulatedLink& output_to(messages::NodeId neighbor);
  // The worker that owns the link to `neighbor` (assigned on first use).
  Worker& owner_of(messages::NodeId neighbor);
  // Runs `fn` on `worker`'s thread: at once on worker 0 (call it on worker 0), else posted.
  template <typename F>
  void on_worker(Worker& worker, F&& fn);
  // What `worker`'s Processor sends toward `neighbor`: the EmulatedLink when it owns the link,
  // else a LinkHandoff to the owner.
  PacketSink* sink_for(Worker& worker, messages::NodeId neighbor);
  void attach_everywhere(messages::NodeId neighbor);
  void detach_everywhere(messages::NodeId neighbor);
  void on_link_state(messages::NodeId neighbor, bool connected);
  bool link_connected(messages::NodeId neighbor) const;
  void on_accept(messages::NodeId neighbor, boost::asio::ip::tcp::socket socket);
  void offer_pending(messages::NodeId neighbor, NeighborLink& link, Worker& owner,
                     boost::asio::ip::tcp::socket socket);
  bool open_tun(messages::NodeId id);
  void ensure_processor();
  void start_workers();
  void join_workers();
  // `worker`'s part of the Metrics (its Processor, the links it owns, its TUN queue). On that
  // worker's thread (or after the workers joined).
  messages::Metrics worker_metrics(const Worker& worker) const;
  void rebuild_routes();
  void evaluate_readiness();
  void schedule_metrics();
  void stop_now(std::optional<Error> fatal);
  void log_summary() const;

  NodeConfig config_;
  PacketPool pool_;  // declared before io_ so it outlives handlers destroyed with io_
  PacketPool large_pool_;
  boost::asio::io_context io_;
  // Worker 0 (io_, pool_, large_pool_) and the others; declared before the links, which run on
  // their io_contexts and hold their buffers.
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<LinkListener> listener_;
  std::unique_ptr<ControlClient> client_;
  std::unique_ptr<FlowRunner> flows_;
  // Makes the links of the StartUpReply's protocol; declared before them (a udp link uses its
  // transport).
  std::unique_ptr<LinkFactory> link_factory_;
  // Declared before the links: destroyed after them (a link's room handler points here).
  std::map<messages::NodeId, std::unique_ptr<EmulatedLink>> outputs_;
  std::map<messages::NodeId, std::unique_ptr<NeighborLink>> links_;
  std::vector<std::unique_ptr<NeighborLink>> retired_links_;  // closed, kept until handlers drain
  std::map<messages::NodeId, boost::asio::ip::tcp::socket> pending_accepts_;
  std::map<messages::NodeId, unsigned> owners_;  // neighbour -> worker owning its link
  unsigned next_owner_ = 0;
  std::map<messages::NodeId, bool> link_dial_;  // whether this side dials, per link
  std::map<messages::NodeId, bool> link_up_;    // links on other workers, as they reported
  std::unordered_map<std::uint32_t, messages::NodeId> addresses_;
  Ipv6AddressMap addresses6_;
  std::map<messages::RouteId, messages::RouteEntry> routes_;
  std::uint64_t routes_version_ = 0;
  bool routes_this_session_ = false;
  std::unordered_map<FlowKey, std::uint8_t, FlowKeyHash> flow_weights_;  // set_flow_weight
  // The connections (one per connect attempt) of each running controller flow with a weight;
  // their weights are dropped when the flow's FlowFinished is reported.
  std::unordered_map<messages::FlowId, std::vector<FlowKey>> controller_flow_keys_;
  std::string tun_address_;
  std::string tun_address6_;
  std::uint32_t metrics_interval_ms_ = 1000;
  boost::asio::steady_timer metrics_timer_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  bool metrics_running_ = false;
  bool started_ = false;
  bool processors_made_ = false;
  bool workers_running_ = false;
  std::atomic<bool> stopping_{false};
  std::optional<Error> fatal_;
  std::atomic<messages::NodeId> id_{0};
  std::atomic<bool> topology_ready_{false};
  std::atomic<bool> reported_ready_{false};
  std::atomic<std::uint16_t> bound_port_{0};
  std::atomic<std::uint64_t> early_connections_{0};
};

}  // namespace nextmini::dataplane
