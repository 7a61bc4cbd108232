#pragma once
// NeighborLink: the transport of one link to a topology neighbour as the Node drives it, whatever
// the link protocol (DESIGN.md §2, "Transports"): TcpLink (one TCP connection, dialled or
// accepted) or UdpLink (a peer of the node's one UdpTransport socket). node/LinkFactory makes
// them; the Node never asks which kind it holds.
//   Output: a BoundedSink (the EmulatedLink in front of it pumps into it).
//   Input: each implementation hands received batches to the handler it was made with.
//   connected(): a tcp link while its connection is open; a udp link always (there is no
//   connection: a datagram to a peer that is gone is lost, as on a real wire).
//   Counters: link_counters() — one shape for every kind (connects/disconnects/bad frames stay
//   0 where they mean nothing).
//   Thread: the node's io_context thread. close() before destroying.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"

namespace nextmini::dataplane {

struct LinkTransportCounters {
  std::uint64_t connects = 0;
  std::uint64_t disconnects = 0;
  std::uint64_t bad_frames = 0;
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_writes = 0;  // completed gather writes (tcp) or send calls: packets per write
  std::uint64_t rx_reads = 0;   // completed socket reads: bytes per read
  DropCounters drops;
};

class NeighborLink : public BoundedSink {
 public:
  // Starts the link (a dialling tcp link connects).
  virtual void start() = 0;
  // The controller named the neighbour again (AddNode): its underlay address, link port and
  // whether this side dials. Returns false when the link cannot follow in place (a tcp link
  // whose dialling side changed); the caller then replaces it.
  virtual bool update(const std::string& address, std::uint16_t port, bool dial) = 0;
  // A connection the link listener accepted from this neighbour. Returns false when the link
  // takes none (a dialling tcp link, a udp link); the caller then closes it.
  virtual bool offer_connection(boost::asio::ip::tcp::socket& socket) = 0;
  virtual bool connected() const noexcept = 0;
  virtual LinkTransportCounters link_counters() const = 0;
  // Stops for good; queued packets are released. Idempotent.
  virtual void close() = 0;
};

}  // namespace nextmini::dataplane
