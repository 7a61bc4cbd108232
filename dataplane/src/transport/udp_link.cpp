#include "nextmini/dataplane/transport/udp_link.hpp"

#include <spdlog/spdlog.h>

#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"

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

Result<std::unique_ptr<UdpLink>> UdpLink::create(UdpTransport& transport, PacketPool& pool,
                                                 messages::NodeId neighbor,
                                                 const std::string& address, std::uint16_t port) {
  if (auto added = transport.set_peer(neighbor, address, port); !added)
    return Failure{added.error()};
  return std::unique_ptr<UdpLink>(new UdpLink(transport, pool, neighbor, transport.peer(neighbor)));
}

UdpLink::~UdpLink() { close(); }

void UdpLink::send(PacketBatch& batch) {
  if (sink_ == nullptr) {
    drops_.add(DropReason::kLinkDown, batch.size());
    batch.clear();
    return;
  }
  for (const Packet& packet : batch) {
    if (packet.meta().gso_valid && packet.meta().gso_size != 0) {
      send_segmented(batch);
      return;
    }
  }
  sink_->send(batch);
}

void UdpLink::send_segmented(PacketBatch& batch) {
  auto emit = [this](Packet&& plain) {
    if (out_.full()) sink_->send(out_);
    out_.push(std::move(plain));
  };
  for (Packet& packet : batch) {
    if (!packet.meta().gso_valid || packet.meta().gso_size == 0) {
      emit(std::move(packet));
      continue;
    }
    const SoftwareOffload done = software_offload(packet, pool_, emit, kOverlayHeaderSize);
    if (done.segmented) ++segmented_;
    if (done.lost > 0)
      drops_.add(done.status == GsoStatus::kPoolExhausted ? DropReason::kPoolExhausted
                 : done.status == GsoStatus::kTooBig      ? DropReason::kTooBig
                                                          : DropReason::kBadOffload,
                 done.lost);
  }
  batch.clear();
  if (!out_.empty()) sink_->send(out_);
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
