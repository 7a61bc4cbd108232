#pragma once
// UdpLink: the udp transport of one link to a topology neighbour — a NeighborLink over a peer of
// the node's one UdpTransport (one socket for every udp neighbour).
//   Output: send(batch) goes to the transport's peer sink (one datagram per packet, sendmmsg,
//   UDP GSO). A GSO super-packet (a TUN read with offloads) goes whole: the transport sends its
//   wire-sized segments without copying them (each with partial checksums, protocol.md "Offload
//   fields"). A packet with only a partial checksum travels as it is: its overlay header
//   carries the checksum fields for the far node.
//   Input: the transport hands this neighbour's datagrams to the handler it was made with.
//   Connection: none. The link is "up" (connected()) from the moment it exists until close():
//   a neighbour that vanishes loses what is sent to it (its datagrams simply go nowhere) and
//   gets them again when it comes back on the same address and port; update() follows a
//   neighbour that came back elsewhere. No hello, no dial; offer_connection() refuses tcp
//   connections.
//   Counters: link_counters() — the peer's tx/rx datagrams and bytes and drops.
//   Thread: the node's io_context thread. The transport must outlive the link.

#include <cstdint>
#include <string>

#include "nextmini/common/result.hpp"
#include "nextmini/dataplane/transport/neighbor_link.hpp"
#include "nextmini/dataplane/transport/udp_transport.hpp"

namespace nextmini::dataplane {

class UdpLink final : public NeighborLink {
 public:
  // Registers `neighbor` at address:port with the transport. Error "udp.address".
  static Result<std::unique_ptr<UdpLink>> create(UdpTransport& transport, messages::NodeId neighbor,
                                                 const std::string& address, std::uint16_t port);
  UdpLink(const UdpLink&) = delete;
  UdpLink& operator=(const UdpLink&) = delete;
  ~UdpLink() override;

  void send(PacketBatch& batch) override;
  std::size_t send_room() const noexcept override;
  void set_room_handler(std::function<void()> handler) override;
  void want_room() noexcept override;

  void start() override {}
  bool update(const std::string& address, std::uint16_t port, bool dial) override;
  bool offer_connection(boost::asio::ip::tcp::socket& socket) override;
  bool connected() const noexcept override { return sink_ != nullptr; }
  LinkTransportCounters link_counters() const override;
  void close() override;

 private:
  UdpLink(UdpTransport& transport, messages::NodeId neighbor, BoundedSink* sink)
      : transport_(transport), neighbor_(neighbor), sink_(sink) {}

  UdpTransport& transport_;
  messages::NodeId neighbor_;
  BoundedSink* sink_;                      // the transport's peer sink; null once closed
  LinkTransportCounters closed_counters_;  // the peer's counters when it was removed
  DropCounters drops_;                     // sends after close()
};

}  // namespace nextmini::dataplane
