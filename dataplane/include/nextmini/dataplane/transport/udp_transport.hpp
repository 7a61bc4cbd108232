#pragma once
// UdpTransport: the udp transport of a node (DESIGN.md §2, "transport"): one UDP socket, bound
// to the node's link address and port, carries the datagrams of every udp neighbour (the
// wireguard-go model: one socket, many peers).
//   Output: peer(N) is neighbour N's BoundedSink. send(batch) puts each packet (the overlay
//   header and packet the Processor produced, no framing) in the transport's send queue (at most
//   send_queue_packets entries; beyond that kQueueFull) and flushes the queue with sendmmsg, one
//   datagram per packet. A GSO super-packet (PacketMeta::gso_valid, TCP or UDP inside) is one
//   queue entry sent as one datagram per segment without copying its payload: each segment's
//   overlay header and IP/L4 headers are built in scratch memory (GsoSegmenter::
//   write_partial_headers; the overlay header says "partial checksum", protocol.md "Offload
//   fields", so nobody computes the inner checksum here) and its payload is referenced in place
//   (two iovecs a segment). One whose headers do not parse is dropped kBadOffload. With UDP GSO
//   (UDP_SEGMENT) a super-packet's segments go as GSO messages of up to kMaxGsoSegments /
//   kMaxGsoBytes, and consecutive plain packets to the same peer with the same size (the last may
//   be shorter) as one message too, gathered from the packets' own buffers (no copy). A GSO send
//   the kernel refuses (EIO, or EINVAL/ENOPROTOOPT) turns GSO off for good, logged once; the
//   packets are sent again without. send_room() is the free room of the shared queue;
//   want_room() arms the peer's room handler, called once the socket drained after a full send
//   buffer (or the transport closed). When the socket is full (EAGAIN) the transport waits for it
//   to drain; the queue absorbs the burst. Socket buffers: SO_SNDBUF/SO_RCVBUF of
//   socket_buffer_bytes (the FORCE variants when privileged, above net.core.[rw]mem_max); what the
//   kernel granted is logged once at open() and kept in counters(). A datagram lost on the underlay
//   is simply lost, as on a real link.
//   Input: recvmmsg straight into pool packets (ingress_neighbor set), handed to on_receive per
//   neighbour in batches of up to PacketBatch::kMaxBatch. With a large pool and UDP_GRO (asked at
//   open(); a kernel that refuses it: as without), the receive slots are kGroSlots large buffers
//   and one slot may hold many datagrams of the UDP_GRO control message's size: the segments of
//   one super-packet are regrouped in place into it (core/datagram_gro.hpp: one buffer, no copy
//   but one memmove; the Processor takes it as a super-packet from a tcp link), anything else is
//   copied datagram by datagram into small buffers. A datagram from an address that is no peer
//   is dropped kUnknownPeer, a truncated one kTooBig, an empty one kTooShort; the pool running dry
//   drops kPoolExhausted (the datagram is read and discarded). Knobs: UdpTransportConfig.
//   Counters: counters() (transport-wide) and peer_counters(N) (datagrams, not regrouped
//   packets). Underlay: IPv4 only for now (the launcher's underlay is IPv4). Thread: the
//   io_context's thread. close() before destroying; destroy only after the io_context has run
//   the cancelled handlers.

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct UdpTransportConfig {
  std::string listen_address = "0.0.0.0";
  std::uint16_t port = 0;  // 0: an ephemeral port
  std::size_t send_queue_packets = 4096;
  int socket_buffer_bytes = 8 << 20;  // SO_SNDBUF and SO_RCVBUF (forced when privileged)
  bool gso = true;                    // try UDP_SEGMENT; off after the first refusal
  bool gro = true;                    // ask for UDP_GRO (needs the large pool)
};

struct UdpPeerCounters {
  std::uint64_t tx_packets = 0;  // datagrams handed to the kernel
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  DropCounters drops;  // kQueueFull, kTooBig, kBadOffload, kLinkDown
};

struct UdpTransportCounters {
  std::uint64_t send_calls = 0;     // sendmmsg calls that sent something
  std::uint64_t gso_messages = 0;   // messages carrying more than one segment
  std::uint64_t receive_calls = 0;  // recvmmsg calls that returned datagrams
  std::uint64_t send_errors = 0;    // datagrams dropped on a send error other than EAGAIN
  std::uint64_t gro_receives = 0;   // receives that returned more than one datagram (UDP_GRO)
  std::uint64_t regrouped = 0;      // of them regrouped into one super-packet
  bool gso_enabled = false;
  bool gro_enabled = false;
  int send_buffer_bytes = 0;     // SO_SNDBUF as granted (the kernel reports twice the request)
  int receive_buffer_bytes = 0;  // SO_RCVBUF as granted
  DropCounters drops;            // kUnknownPeer, kTooBig, kTooShort, kPoolExhausted (receive side)
};

class UdpTransport {
 public:
  static constexpr std::size_t kMaxGsoSegments = 64;   // the kernel's UDP_MAX_SEGMENTS
  static constexpr std::size_t kMaxGsoBytes = 65'000;  // below the 65,507-byte UDP payload limit
  using ReceiveHandler = std::function<void(messages::NodeId neighbor, PacketBatch& batch)>;

  // `large_pool` (optional; buffers of 64 KB + headroom): receive slots for UDP_GRO.
  UdpTransport(boost::asio::io_context& io, PacketPool& pool, UdpTransportConfig config,
               ReceiveHandler on_receive, PacketPool* large_pool = nullptr);
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;
  ~UdpTransport();

  // Binds the socket and starts receiving. Errors: "udp.address" (not an IPv4 address),
  // "udp.bind" (the address or port cannot be bound).
  Result<void> open();
  // The bound port (after open()).
  std::uint16_t port() const noexcept { return bound_port_; }

  // Adds neighbour `neighbor` at address:port, or moves it there. Error "udp.address".
  Result<void> set_peer(messages::NodeId neighbor, const std::string& address, std::uint16_t port);
  // The sink for neighbour `neighbor` (set_peer first); valid until remove_peer or destruction.
  BoundedSink* peer(messages::NodeId neighbor) noexcept;
  // Forgets the neighbour; packets queued for it are dropped kLinkDown.
  void remove_peer(messages::NodeId neighbor);
  // Stops for good: no more receiving, queued packets released. Idempotent.
  void close();

  const UdpTransportCounters& counters() const noexcept { return counters_; }
  const UdpPeerCounters* peer_counters(messages::NodeId neighbor) const noexcept;

 private:
  class PeerSink;
  struct Peer;
  struct Queued;

  void enqueue(Peer& peer, PacketBatch& batch);
  std::size_t send_room() const noexcept;
  void want_room(Peer& peer) noexcept;
  // Calls the room handler of every peer that asked for room (once each).
  void notify_room();
  void flush();
  // Why a super-packet cannot be sent (its headers), or nullopt (also for plain packets).
  static std::optional<DropReason> check_super_packet(const Packet& packet) noexcept;
  // Builds up to kMaxBatch messages from the queue head; returns how many.
  std::size_t build_messages(bool gso);
  void set_message(std::size_t m, Peer& peer, std::size_t first_iovec, std::size_t iovecs,
                   std::size_t segments, std::size_t segment_size, std::size_t bytes, bool super);
  void pop_head();
  void wait_writable();
  void start_receive();
  void receive_ready();
  std::size_t receive_once();
  // The UDP_GRO control message's datagram size, or 0 (one datagram).
  static std::size_t gro_segment_size(const msghdr& header) noexcept;
  // Copies the `count` datagrams of a received slot into small buffers, each to push().
  template <typename Push>
  void split_datagrams(Packet& packet, std::size_t datagram_size, std::size_t count, Push& push);
  static std::uint64_t endpoint_key(std::uint32_t address, std::uint16_t port) noexcept;

  boost::asio::io_context& io_;
  PacketPool& pool_;
  PacketPool* large_pool_;
  UdpTransportConfig config_;
  ReceiveHandler on_receive_;
  boost::asio::ip::udp::socket socket_;
  std::uint16_t bound_port_ = 0;
  std::map<messages::NodeId, std::unique_ptr<Peer>> peers_;
  std::unordered_map<std::uint64_t, Peer*> by_endpoint_;
  std::vector<Queued> queue_;  // ring
  std::size_t queue_head_ = 0;
  std::size_t queue_count_ = 0;
  struct SendScratch;
  std::unique_ptr<SendScratch> send_;
  struct ReceiveScratch;
  std::unique_ptr<ReceiveScratch> receive_;
  bool gso_ = false;
  bool gro_ = false;
  bool waiting_writable_ = false;
  bool closed_ = false;
  UdpTransportCounters counters_;
};

}  // namespace nextmini::dataplane
