#pragma once
// LinkFactory: the one place that knows the link protocols (the controller's `protocol`, sent in
// StartUpReply). The Node asks it for the NeighborLink of each neighbour its AddNode names and
// never asks which kind it got.
//   "tcp": a TcpLink per neighbour — the higher id dials the neighbour's underlay address and
//          link port; the other side adopts the connection its LinkListener accepts.
//   "udp": one UdpTransport socket for the node, bound to the link listener's address and port
//          number (UDP, beside the TCP listener), and a UdpLink per neighbour at the neighbour's
//          underlay address and link port (the same address and port scheme as tcp links).
//          Datagrams are told apart by their source address and port.
//   Inputs: the received batches of every link go to on_receive; tcp connection changes to
//   on_state. Counters: transport_drops() (drops no neighbour owns: udp datagrams from unknown
//   addresses, truncated ones) and summary() for the node's stop log.
//   Workers (NodeConfig::workers > 1): a tcp link runs on the worker that owns it — make() takes
//   that worker's LinkContext (io_context, pools, handlers); follows_workers() is true. udp links
//   share the node's one socket, so they all stay on the factory's io_context (worker 0) and
//   ignore the context.
//   Thread: the node's io_context thread (worker 0). close() before destroying; destroy it after
//   the links it made.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/transport/neighbor_link.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct LinkFactoryConfig {
  std::string listen_address = "0.0.0.0";  // the link listener's address
  std::uint16_t port = 0;                  // the link listener's bound port
  std::function<void(messages::NodeId neighbor, PacketBatch& batch)> on_receive;
  std::function<void(messages::NodeId neighbor, bool connected)> on_state;
};

// Where a link runs and reports: its worker's io_context and pools, and its handlers.
struct LinkContext {
  boost::asio::io_context* io = nullptr;
  PacketPool* pool = nullptr;
  PacketPool* large_pool = nullptr;
  std::function<void(messages::NodeId neighbor, PacketBatch& batch)> on_receive;
  std::function<void(messages::NodeId neighbor, bool connected)> on_state;
};

class LinkFactory {
 public:
  virtual ~LinkFactory() = default;

  // The factory of `protocol`, ready to make links (udp: its socket is bound). `pool` holds
  // packets (and a udp link's segments); `large_pool` (optional) the GSO super-packets a tcp
  // link receives whole. Errors: "link.protocol" (a protocol this node does not run),
  // "udp.bind", "udp.address".
  static Result<std::unique_ptr<LinkFactory>> create(const std::string& protocol,
                                                     boost::asio::io_context& io, PacketPool& pool,
                                                     PacketPool* large_pool,
                                                     LinkFactoryConfig config);

  virtual const std::string& protocol() const noexcept = 0;
  // The link from `self` to the neighbour an AddNode names (not started). Error "udp.address".
  // `context`: the worker it runs on (when follows_workers()); nullptr: the factory's own.
  virtual Result<std::unique_ptr<NeighborLink>> make(messages::NodeId self,
                                                     const messages::AddNode& add,
                                                     const LinkContext* context = nullptr) = 0;
  // Whether make() puts a link on the worker its LinkContext names (false: every link on the
  // factory's io_context).
  virtual bool follows_workers() const noexcept { return false; }
  // Drops that belong to no neighbour.
  virtual DropCounters transport_drops() const { return {}; }
  // One line for the node's stop log, or "" when there is nothing beyond the links' counters.
  virtual std::string summary() const { return {}; }
  // Stops what the factory owns (after closing the links). Idempotent.
  virtual void close() {}
};

}  // namespace nextmini::dataplane
