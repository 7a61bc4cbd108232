#pragma once
// TcpLink: the tcp transport of one link to a topology neighbour (DESIGN.md §2, "transport").
//   One TCP connection (TCP_NODELAY) carries frames in both directions; a frame is a 4-byte
//   big-endian length followed by that many bytes (the overlay header and packet the Processor
//   produced). The length prefix goes into the packet's headroom, so framing copies nothing.
//   A NeighborLink (the Node drives every link kind the same way).
//   Output (BoundedSink): send(batch) queues each packet (at most send_queue_packets; beyond
//   that kQueueFull; not connected: kLinkDown) and writes the queue with gathered async_writes
//   of up to max_gather frames. send_room() tells the free queue slots; want_room() asks for one
//   call of the room handler after the next completed write (or lost connection).
//   Input: a receive loop reads into a LinkFrameReader's buffers (small frames many to a read,
//   copied out of its staging buffer; a frame longer than a small buffer's room — a GSO
//   super-packet — read straight into its large pool buffer), tags the frames it cuts
//   (ingress_neighbor) and hands batches to on_receive. A frame of length 0 or longer than
//   max_frame() is kBadFrame: counted, and the connection is closed because the stream is out
//   of sync.
//   Connection: the dialing side (dial = true) connects, sends a LinkHello with its node id and
//   reconnects by itself with exponential backoff and jitter whenever the connection drops; the
//   accepting side gets its connections from a LinkListener through adopt(), and a new
//   connection replaces the current one.
//   Knobs: TcpLinkConfig. Counters: counters() — connects, disconnects, bad frames, tx/rx
//   packets and bytes (wire bytes, prefix included), drops by reason.
//   Thread: the io_context's thread. close() before destroying; destroy only after the
//   io_context has run the cancelled handlers.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/transport/backoff.hpp"
#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/dataplane/transport/neighbor_link.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct TcpLinkConfig {
  messages::NodeId self = 0;      // sent in the hello when dialing
  messages::NodeId neighbor = 0;  // the node at the other end
  bool dial = false;              // true: this side connects (and reconnects)
  std::string address;            // neighbour's underlay IP address (dialing side)
  std::uint16_t port = 0;         // neighbour's link port (dialing side)
  std::size_t send_queue_packets = 1024;
  std::size_t max_gather = 64;  // frames per gathered write
  std::chrono::milliseconds connect_timeout{3000};
  BackoffConfig backoff;
};

// The same counters as every neighbour link kind.
using TcpLinkCounters = LinkTransportCounters;

class TcpLink final : public NeighborLink {
 public:
  static constexpr std::size_t kFramePrefix = kLinkFramePrefix;
  using ReceiveHandler = std::function<void(messages::NodeId neighbor, PacketBatch& batch)>;
  using StateHandler = std::function<void(messages::NodeId neighbor, bool connected)>;

  // `large_pool` (optional): buffers for frames larger than `pool`'s (GSO super-packets); it
  // raises max_frame() to its buffers' room.
  TcpLink(boost::asio::io_context& io, PacketPool& pool, TcpLinkConfig config,
          ReceiveHandler on_receive, StateHandler on_state = {}, PacketPool* large_pool = nullptr);
  TcpLink(const TcpLink&) = delete;
  TcpLink& operator=(const TcpLink&) = delete;
  ~TcpLink() override;

  // Dialing side: starts connecting. Accepting side: nothing to do (see adopt()).
  void start() override;
  // Accepting side: a connection whose hello named this link's neighbour. Replaces the current
  // connection, if any.
  void adopt(boost::asio::ip::tcp::socket socket);
  void send(PacketBatch& batch) override;
  std::size_t send_room() const noexcept override;
  void set_room_handler(std::function<void()> handler) override { on_room_ = std::move(handler); }
  void want_room() noexcept override { want_room_ = true; }
  // Dialing side: where the next connection attempt goes (a neighbour that came back elsewhere).
  void set_remote(std::string address, std::uint16_t port);
  // Closes the current connection as if the network had failed (the dialer reconnects).
  void drop_connection();
  // Stops for good: no reconnects, queued packets released. Idempotent.
  void close() override;

  // NeighborLink: same dialling side -> follows a moved neighbour (redials); otherwise false.
  bool update(const std::string& address, std::uint16_t port, bool dial) override;
  // NeighborLink: the accepting side adopts it; the dialling side refuses it.
  bool offer_connection(boost::asio::ip::tcp::socket& socket) override;
  LinkTransportCounters link_counters() const override { return counters_; }

  bool connected() const noexcept override;
  messages::NodeId neighbor() const noexcept { return config_.neighbor; }
  const TcpLinkConfig& config() const noexcept { return config_; }
  const TcpLinkCounters& counters() const noexcept { return counters_; }
  // Largest frame payload accepted (a pool buffer's room after its headroom; the large pool's
  // when there is one).
  std::size_t max_frame() const noexcept { return max_frame_; }

 private:
  struct Connection;
  using ConnectionPtr = std::shared_ptr<Connection>;

  void dial();
  void schedule_reconnect();
  void activate(const ConnectionPtr& connection);
  void fail_connection(const ConnectionPtr& connection);
  ConnectionPtr make_connection(boost::asio::ip::tcp::socket socket);
  void start_read(const ConnectionPtr& connection);
  // Hands every complete frame the reader has to on_receive; false when the stream is out of sync.
  bool take_frames(Connection& connection);
  void deliver();
  void start_write(const ConnectionPtr& connection);
  void notify_room();

  boost::asio::io_context& io_;
  PacketPool& pool_;
  PacketPool* large_pool_;
  TcpLinkConfig config_;
  ReceiveHandler on_receive_;
  StateHandler on_state_;
  std::function<void()> on_room_;
  bool want_room_ = false;
  std::size_t max_frame_;
  ConnectionPtr current_;
  ConnectionPtr connecting_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer connect_timer_;
  Backoff backoff_;
  PacketBatch rx_batch_;
  bool started_ = false;
  bool stopped_ = false;
  bool logged_connect_error_ = false;
  TcpLinkCounters counters_;
};

}  // namespace nextmini::dataplane
