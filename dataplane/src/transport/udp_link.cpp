#include "nextmini/dataplane/transport/udp_link.hpp"

#include <spdlog/spdlog.h>

namespace nextmini::dataplane {

namespace {

LinkTransportCounters from_peer(const UdpPeerCounters& peer) {
  LinkTransportCounters counters;
  counters.tx_packets = peer.tx_packets;
  counters.tx_bytes = peer.tx_bytes;
  counters.rx_packets = peer.rx_packets;
  counters.rx_bytes = peer.rx_bytes;
  counters.drops = peer.drops;
  return counters;
}

}  // namespace

Result<std::unique_ptr<UdpLink>> UdpLink::create(UdpTransport& transport, messages::NodeId neighbor,
                                                 const std::string& address, std::uint16_t port) {
  if (auto added = transport.set_peer(neighbor, address, port); !added)
    return Failure{added.error()};
  return std::unique_ptr<UdpLink>(new UdpLink(transport, neighbor, transport.peer(neighbor)));
}

UdpLink::~UdpLink() { close(); }

void UdpLink::send(PacketBatch& batch) {
  if (sink_ == nullptr) {
    drops_.add(DropReason::kLinkDown, batch.size());
    batch.clear();
    return;
  }
  sink_->send(batch);
}

std::size_t UdpLink::send_room() const noexcept {
  return sink_ == nullptr ? SIZE_MAX : sink_->send_room();
}

void UdpLink::set_room_handler(std::function<void()> handler) {
  if (sink_ != nullptr) sink_->set_room_handler(std::move(handler));
}

void UdpLink::want_room() noexcept {
  if (sink_ != nullptr) sink_->want_room();
}

bool UdpLink::update(const std::string& address, std::uint16_t port, bool /*dial*/) {
  if (sink_ == nullptr) return false;
  if (auto moved = transport_.set_peer(neighbor_, address, port); !moved) {
    spdlog::warn("udp link to node {}: {}; keeping the previous address", neighbor_,
                 moved.error().message);
  }
  return true;
}

bool UdpLink::offer_connection(boost::asio::ip::tcp::socket& /*socket*/) { return false; }

LinkTransportCounters UdpLink::link_counters() const {
  LinkTransportCounters counters = closed_counters_;
  if (sink_ != nullptr) {
    if (const UdpPeerCounters* peer = transport_.peer_counters(neighbor_)) {
      counters = from_peer(*peer);
    }
  }
  for (std::size_t i = 0; i < kDropReasonCount; ++i) counters.drops.counts[i] += drops_.counts[i];
  return counters;
}

void UdpLink::close() {
  if (sink_ == nullptr) return;
  if (const UdpPeerCounters* peer = transport_.peer_counters(neighbor_)) {
    closed_counters_ = from_peer(*peer);
  }
  sink_ = nullptr;
  transport_.remove_peer(neighbor_);
}

}  // namespace nextmini::dataplane
