#include "nextmini/dataplane/transport/udp_transport.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstring>
#include <optional>
#include <span>

#include "nextmini/dataplane/core/datagram_gro.hpp"
#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"

namespace nextmini::dataplane {

namespace asio = boost::asio;
using udp = asio::ip::udp;

namespace {

constexpr std::size_t kMaxMessages = PacketBatch::kMaxBatch;
constexpr std::size_t kMaxIovecs = 1024;   // segments per sendmmsg call
constexpr std::size_t kReceiveRounds = 8;  // recvmmsg calls before yielding to other work
constexpr std::size_t kDiscardBytes = 65'536;
// A super-packet's segment goes as two iovecs: its headers (overlay + IP + L4, built in
// SendScratch) and its payload in place.
constexpr std::size_t kMaxSegmentHeader = 256;
constexpr std::size_t kMaxHeaderBlocks = kMaxIovecs / 2;
// recvmmsg slots with UDP_GRO: each a large buffer (up to 64 KB of datagrams).
constexpr std::size_t kGroSlots = 16;

Result<sockaddr_in> ipv4_endpoint(const std::string& address, std::uint16_t port) {
  boost::system::error_code error;
  const auto parsed = asio::ip::make_address_v4(address, error);
  if (error) return fail("udp.address", "\"" + address + "\" is not an IPv4 address");
  sockaddr_in endpoint{};
  endpoint.sin_family = AF_INET;
  endpoint.sin_port = htons(port);
  endpoint.sin_addr.s_addr = htonl(parsed.to_uint());
  return endpoint;
}

// SO_SNDBUF/SO_RCVBUF: the FORCE variants exceed net.core.*mem_max when privileged. Returns what
// the kernel granted.
int set_buffer(int fd, int force_option, int option, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, force_option, &bytes, sizeof bytes) != 0)
    setsockopt(fd, SOL_SOCKET, option, &bytes, sizeof bytes);
  int granted = 0;
  socklen_t length = sizeof granted;
  getsockopt(fd, SOL_SOCKET, option, &granted, &length);
  return granted;
}

bool gso_refused(int error) { return error == EIO || error == EINVAL || error == ENOPROTOOPT; }

// A GSO super-packet: more than one wire packet's worth, sent segment by segment.
bool is_super_packet(const Packet& packet) noexcept {
  return packet.meta().gso_valid && packet.meta().gso_size != 0;
}

}  // namespace

struct UdpTransport::Peer {
  messages::NodeId id = 0;
  sockaddr_in address{};
  std::uint64_t key = 0;
  UdpPeerCounters counters;
  std::unique_ptr<PeerSink> sink;
  std::function<void()> on_room;
  bool want_room = false;
};

struct UdpTransport::Queued {
  Packet packet;
  Peer* peer = nullptr;        // null: its peer was removed (dropped at send time)
  std::uint32_t segments = 1;  // datagrams it makes (a GSO super-packet: its segments)
  std::uint32_t sent = 0;      // of them handed to the kernel already
  bool super() const noexcept { return segments > 1 || is_super_packet(packet); }
};

class UdpTransport::PeerSink final : public BoundedSink {
 public:
  PeerSink(UdpTransport& transport, Peer& peer) : transport_(transport), peer_(peer) {}
  void send(PacketBatch& batch) override { transport_.enqueue(peer_, batch); }
  std::size_t send_room() const noexcept override { return transport_.send_room(); }
  void set_room_handler(std::function<void()> handler) override {
    peer_.on_room = std::move(handler);
  }
  void want_room() noexcept override { transport_.want_room(peer_); }

 private:
  UdpTransport& transport_;
  Peer& peer_;
};

// The messages of one sendmmsg call: each message's datagrams are consecutive queue entries
// (plain packets), or consecutive segments of one super-packet (super[m]).
struct UdpTransport::SendScratch {
  std::array<mmsghdr, kMaxMessages> messages{};
  std::array<std::size_t, kMaxMessages> segments{};
  std::array<std::size_t, kMaxMessages> bytes{};
  std::array<bool, kMaxMessages> super{};
  std::array<iovec, kMaxIovecs> iovecs{};
  alignas(cmsghdr) std::array<std::array<std::uint8_t, CMSG_SPACE(sizeof(std::uint16_t))>,
                              kMaxMessages> control{};
  std::array<std::array<std::uint8_t, kMaxSegmentHeader>, kMaxHeaderBlocks> headers{};
};

// recvmmsg's slots; each holds a pool packet between calls so a read needs no acquire.
struct UdpTransport::ReceiveScratch {
  std::array<mmsghdr, kMaxMessages> messages{};
  std::array<iovec, kMaxMessages> iovecs{};
  std::array<sockaddr_in, kMaxMessages> sources{};
  // Room for UDP_GRO's control message (and any other the kernel might add).
  alignas(cmsghdr) std::array<std::array<std::uint8_t, 64>, kMaxMessages> control{};
  std::array<Packet, kMaxMessages> packets;
  std::vector<std::uint8_t> discard = std::vector<std::uint8_t>(kDiscardBytes);
  PacketBatch batch;
};

UdpTransport::UdpTransport(asio::io_context& io, PacketPool& pool, UdpTransportConfig config,
                           ReceiveHandler on_receive, PacketPool* large_pool)
    : io_(io),
      pool_(pool),
      large_pool_(large_pool),
      config_(std::move(config)),
      on_receive_(std::move(on_receive)),
      socket_(io),
      queue_(std::max<std::size_t>(config_.send_queue_packets, 1)),
      send_(std::make_unique<SendScratch>()),
      receive_(std::make_unique<ReceiveScratch>()) {}

UdpTransport::~UdpTransport() { close(); }

Result<void> UdpTransport::open() {
  auto local = ipv4_endpoint(config_.listen_address, config_.port);
  if (!local) return Failure{local.error()};
  boost::system::error_code error;
  socket_.open(udp::v4(), error);
  if (!error) socket_.non_blocking(true, error);
  if (error) return fail("udp.bind", "cannot open a UDP socket: " + error.message());
  const int fd = socket_.native_handle();
  counters_.send_buffer_bytes =
      set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, config_.socket_buffer_bytes);
  counters_.receive_buffer_bytes =
      set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, config_.socket_buffer_bytes);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*local), sizeof(sockaddr_in)) != 0) {
    const int bind_error = errno;
    socket_.close(error);
    return fail("udp.bind", "cannot bind udp " + config_.listen_address + ":" +
                                std::to_string(config_.port) + ": " + std::strerror(bind_error));
  }
  sockaddr_in bound{};
  socklen_t length = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &length);
  bound_port_ = ntohs(bound.sin_port);
  spdlog::info(
      "udp link: socket {}:{}, buffers asked {} B, granted send {} B receive {} B (the kernel "
      "reports twice what it grants)",
      config_.listen_address, bound_port_, config_.socket_buffer_bytes, counters_.send_buffer_bytes,
      counters_.receive_buffer_bytes);
  // UDP_SEGMENT is a per-message option; a kernel without it refuses the first GSO send.
  gso_ = config_.gso;
  counters_.gso_enabled = gso_;
  // UDP_GRO: one receive may return many datagrams (up to 64 KB), so it needs large buffers.
  if (config_.gro && large_pool_ != nullptr) {
    const int on = 1;
    gro_ = setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) == 0;
    if (!gro_) {
      spdlog::info("udp link: the kernel refused UDP_GRO ({}); one datagram per receive slot",
                   std::strerror(errno));
    }
  }
  counters_.gro_enabled = gro_;
  start_receive();
  return ok();
}

std::uint64_t UdpTransport::endpoint_key(std::uint32_t address, std::uint16_t port) noexcept {
  return (std::uint64_t{address} << 16) | port;
}

Result<void> UdpTransport::set_peer(messages::NodeId neighbor, const std::string& address,
                                    std::uint16_t port) {
  auto endpoint = ipv4_endpoint(address, port);
  if (!endpoint) return Failure{endpoint.error()};
  auto& slot = peers_[neighbor];
  if (!slot) {
    slot = std::make_unique<Peer>();
    slot->id = neighbor;
    slot->sink = std::make_unique<PeerSink>(*this, *slot);
  } else {
    by_endpoint_.erase(slot->key);
  }
  slot->address = *endpoint;
  slot->key = endpoint_key(endpoint->sin_addr.s_addr, endpoint->sin_port);
  by_endpoint_[slot->key] = slot.get();
  return ok();
}

BoundedSink* UdpTransport::peer(messages::NodeId neighbor) noexcept {
  auto it = peers_.find(neighbor);
  return it == peers_.end() ? nullptr : it->second->sink.get();
}

const UdpPeerCounters* UdpTransport::peer_counters(messages::NodeId neighbor) const noexcept {
  auto it = peers_.find(neighbor);
  return it == peers_.end() ? nullptr : &it->second->counters;
}

void UdpTransport::remove_peer(messages::NodeId neighbor) {
  auto it = peers_.find(neighbor);
  if (it == peers_.end()) return;
  for (std::size_t i = 0; i < queue_count_; ++i) {
    Queued& entry = queue_[(queue_head_ + i) % queue_.size()];
    if (entry.peer == it->second.get()) entry.peer = nullptr;
  }
  by_endpoint_.erase(it->second->key);
  peers_.erase(it);
}

void UdpTransport::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ignored;
  socket_.close(ignored);
  for (std::size_t i = 0; i < queue_count_; ++i) {
    queue_[(queue_head_ + i) % queue_.size()].packet.reset();
  }
  queue_count_ = 0;
  for (Packet& packet : receive_->packets) packet.reset();
  receive_->batch.clear();
  notify_room();  // send() drops everything now: nobody should wait
}

std::size_t UdpTransport::send_room() const noexcept {
  return closed_ ? SIZE_MAX : queue_.size() - queue_count_;
}

void UdpTransport::want_room(Peer& peer) noexcept {
  peer.want_room = true;
  // Not waiting for the socket: the queue drained already (flush() empties it unless the
  // socket is full); answer from the io_context, never from inside want_room().
  if (!waiting_writable_) asio::post(io_, [this] { notify_room(); });
}

void UdpTransport::notify_room() {
  for (auto& [id, peer] : peers_) {
    if (!peer->want_room || !peer->on_room) continue;
    peer->want_room = false;
    peer->on_room();
  }
}

void UdpTransport::enqueue(Peer& peer, PacketBatch& batch) {
  for (Packet& packet : batch) {
    if (closed_) {
      peer.counters.drops.add(DropReason::kLinkDown);
    } else if (queue_count_ == queue_.size()) {
      peer.counters.drops.add(DropReason::kQueueFull);
    } else if (const auto bad = check_super_packet(packet)) {
      peer.counters.drops.add(*bad);
    } else {
      std::uint32_t segments = 1;
      if (is_super_packet(packet)) {
        segments = static_cast<std::uint32_t>(GsoSegmenter(packet, kOverlayHeaderSize).segments());
      }
      queue_[(queue_head_ + queue_count_) % queue_.size()] =
          Queued{std::move(packet), &peer, segments, 0};
      ++queue_count_;
      continue;
    }
    packet.reset();
  }
  batch.clear();
  if (!waiting_writable_) flush();
}

std::optional<DropReason> UdpTransport::check_super_packet(const Packet& packet) noexcept {
  if (!is_super_packet(packet)) return std::nullopt;
  const GsoSegmenter segmenter(packet, kOverlayHeaderSize);
  if (segmenter.status() != GsoStatus::kOk) return DropReason::kBadOffload;
  if (kOverlayHeaderSize + segmenter.header_length() > kMaxSegmentHeader)
    return DropReason::kTooBig;
  return std::nullopt;
}

void UdpTransport::set_message(std::size_t m, Peer& peer, std::size_t first_iovec,
                               std::size_t iovecs, std::size_t segments, std::size_t segment_size,
                               std::size_t bytes, bool super) {
  SendScratch& s = *send_;
  msghdr& header = s.messages[m].msg_hdr;
  header = msghdr{};
  header.msg_name = &peer.address;
  header.msg_namelen = sizeof(sockaddr_in);
  header.msg_iov = &s.iovecs[first_iovec];
  header.msg_iovlen = iovecs;
  if (segments > 1) {
    header.msg_control = s.control[m].data();
    header.msg_controllen = s.control[m].size();
    cmsghdr* control = CMSG_FIRSTHDR(&header);
    control->cmsg_level = SOL_UDP;
    control->cmsg_type = UDP_SEGMENT;
    control->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
    const auto size16 = static_cast<std::uint16_t>(segment_size);
    std::memcpy(CMSG_DATA(control), &size16, sizeof size16);
  }
  s.segments[m] = segments;
  s.bytes[m] = bytes;
  s.super[m] = super;
}

std::size_t UdpTransport::build_messages(bool gso) {
  SendScratch& s = *send_;
  std::size_t messages = 0;
  std::size_t iovecs = 0;
  std::size_t headers = 0;
  std::size_t index = 0;  // queue position, relative to the head
  while (messages < kMaxMessages && index < queue_count_ && iovecs < kMaxIovecs) {
    Queued& first = queue_[(queue_head_ + index) % queue_.size()];
    if (first.peer == nullptr) break;  // a removed peer's packet: the caller drops it
    if (first.super()) {
      // Its segments: each the overlay header (partial checksum) and the segment's headers,
      // built here, then its payload in place; as many GSO messages as the limits need.
      const GsoSegmenter segmenter(first.packet, kOverlayHeaderSize);
      const std::size_t header_bytes = kOverlayHeaderSize + segmenter.header_length();
      const std::size_t segment_size = header_bytes + first.packet.meta().gso_size;
      const std::size_t per_message =
          gso ? std::max<std::size_t>(
                    1, std::min(kMaxGsoSegments,
                                kMaxGsoBytes / std::max<std::size_t>(segment_size, 1)))
              : 1;
      std::size_t next = first.sent;
      while (next < first.segments && messages < kMaxMessages && iovecs + 2 <= kMaxIovecs) {
        const std::size_t count =
            std::min({per_message, first.segments - next, (kMaxIovecs - iovecs) / 2});
        std::size_t bytes = 0;
        for (std::size_t k = 0; k < count; ++k) {
          std::uint8_t* block = s.headers[headers++].data();
          std::memcpy(block, first.packet.data(), kOverlayHeaderSize);
          mark_overlay_partial_checksum(block, static_cast<std::uint16_t>(segmenter.l4_offset()),
                                        static_cast<std::uint16_t>(segmenter.checksum_offset()));
          segmenter.write_partial_headers(next + k, block + kOverlayHeaderSize);
          const std::span<const std::uint8_t> payload = segmenter.payload(next + k);
          s.iovecs[iovecs + 2 * k] = iovec{block, header_bytes};
          s.iovecs[iovecs + 2 * k + 1] =
              iovec{const_cast<std::uint8_t*>(payload.data()), payload.size()};
          bytes += header_bytes + payload.size();
        }
        set_message(messages, *first.peer, iovecs, 2 * count, count, segment_size, bytes, true);
        iovecs += 2 * count;
        next += count;
        ++messages;
      }
      if (next < first.segments) break;  // the rest in the next call
      ++index;
      continue;
    }
    const std::size_t segment_size = first.packet.size();
    std::size_t segments = 0;
    std::size_t bytes = 0;
    while (index + segments < queue_count_ && iovecs + segments < kMaxIovecs) {
      Queued& next = queue_[(queue_head_ + index + segments) % queue_.size()];
      if (segments > 0) {
        // A GSO message: same peer, same size (only the last may be shorter), bounded.
        if (!gso || next.peer != first.peer || next.super() || next.packet.size() > segment_size ||
            segments == kMaxGsoSegments || bytes + next.packet.size() > kMaxGsoBytes)
          break;
      }
      s.iovecs[iovecs + segments] = iovec{next.packet.data(), next.packet.size()};
      bytes += next.packet.size();
      ++segments;
      if (next.packet.size() < segment_size) break;  // a shorter segment ends the message
    }
    set_message(messages, *first.peer, iovecs, segments, segments, segment_size, bytes, false);
    iovecs += segments;
    index += segments;
    ++messages;
  }
  return messages;
}

void UdpTransport::pop_head() {
  queue_[queue_head_].packet.reset();
  queue_head_ = (queue_head_ + 1) % queue_.size();
  --queue_count_;
}

void UdpTransport::flush() {
  while (queue_count_ > 0 && !closed_) {
    // Entries of removed peers at the head are dropped here.
    Queued& head = queue_[queue_head_];
    if (head.peer == nullptr) {
      counters_.drops.add(DropReason::kLinkDown);
      pop_head();
      continue;
    }
    const std::size_t built = build_messages(gso_);
    const int sent = sendmmsg(socket_.native_handle(), send_->messages.data(), built, MSG_DONTWAIT);
    if (sent < 0) {
      const int error = errno;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        wait_writable();
        return;
      }
      if (error == EINTR) continue;
      if (gso_ && send_->segments[0] > 1 && gso_refused(error)) {
        gso_ = false;
        counters_.gso_enabled = false;
        spdlog::info("udp link: the kernel refused UDP GSO ({}); sending one datagram per call",
                     std::strerror(error));
        continue;
      }
      // The first message cannot be sent (no route, too big): drop it (a super-packet: all of
      // what is left of it), keep the rest.
      if (send_->super[0]) {
        const std::size_t lost = head.segments - head.sent;
        counters_.send_errors += lost;
        head.peer->counters.drops.add(DropReason::kTooBig, lost);
        pop_head();
      } else {
        counters_.send_errors += send_->segments[0];
        for (std::size_t i = 0; i < send_->segments[0]; ++i) {
          queue_[queue_head_].peer->counters.drops.add(DropReason::kTooBig);
          pop_head();
        }
      }
      continue;
    }
    ++counters_.send_calls;
    for (int m = 0; m < sent; ++m) {
      const std::size_t segments = send_->segments[m];
      if (segments > 1) ++counters_.gso_messages;
      Queued& entry = queue_[queue_head_];
      if (send_->super[m]) {
        entry.peer->counters.tx_packets += segments;
        entry.peer->counters.tx_bytes += send_->bytes[m];
        entry.sent += static_cast<std::uint32_t>(segments);
        if (entry.sent >= entry.segments) pop_head();
        continue;
      }
      for (std::size_t i = 0; i < segments; ++i) {
        Queued& plain = queue_[queue_head_];
        ++plain.peer->counters.tx_packets;
        plain.peer->counters.tx_bytes += plain.packet.size();
        pop_head();
      }
    }
  }
}

void UdpTransport::wait_writable() {
  waiting_writable_ = true;
  socket_.async_wait(udp::socket::wait_write, [this](boost::system::error_code error) {
    waiting_writable_ = false;
    if (error || closed_) return;
    flush();
    if (!waiting_writable_) notify_room();
  });
}

void UdpTransport::start_receive() {
  socket_.async_wait(udp::socket::wait_read, [this](boost::system::error_code error) {
    if (error || closed_) return;
    receive_ready();
  });
}

void UdpTransport::receive_ready() {
  for (std::size_t round = 0; round < kReceiveRounds; ++round) {
    if (receive_once() == 0 || closed_) break;
  }
  if (!closed_) start_receive();
}

std::size_t UdpTransport::receive_once() {
  ReceiveScratch& r = *receive_;
  // With UDP_GRO a slot may receive up to 64 KB of datagrams: large buffers.
  PacketPool& slot_pool = gro_ ? *large_pool_ : pool_;
  const std::size_t max_slots = gro_ ? kGroSlots : kMaxMessages;
  std::size_t slots = 0;
  for (; slots < max_slots; ++slots) {
    Packet& packet = r.packets[slots];
    if (!packet.valid()) packet = slot_pool.acquire();
    if (!packet.valid()) break;
    packet.clear(slot_pool.headroom());
    packet.meta() = PacketMeta{};
    r.iovecs[slots] = iovec{packet.data(), packet.room()};
    msghdr& header = r.messages[slots].msg_hdr;
    header = msghdr{};
    header.msg_name = &r.sources[slots];
    header.msg_namelen = sizeof(sockaddr_in);
    header.msg_iov = &r.iovecs[slots];
    header.msg_iovlen = 1;
    if (gro_) {
      header.msg_control = r.control[slots].data();
      header.msg_controllen = r.control[slots].size();
    }
  }
  const int fd = socket_.native_handle();
  if (slots == 0) {
    // No buffer for it: read one datagram into scratch and drop it, so the socket drains.
    const ssize_t n = recv(fd, r.discard.data(), r.discard.size(), MSG_DONTWAIT);
    if (n < 0) return 0;
    counters_.drops.add(DropReason::kPoolExhausted);
    return 1;
  }
  const int received = recvmmsg(fd, r.messages.data(), slots, MSG_DONTWAIT, nullptr);
  if (received <= 0) return 0;
  ++counters_.receive_calls;
  Peer* current = nullptr;
  auto deliver = [&] {
    if (current != nullptr && !r.batch.empty()) on_receive_(current->id, r.batch);
    r.batch.clear();  // on_receive took the packets it keeps
  };
  auto push = [&](Packet&& packet) {
    if (r.batch.full()) deliver();
    packet.meta().ingress_neighbor = current->id;
    r.batch.push(std::move(packet));
  };
  for (int i = 0; i < received; ++i) {
    const mmsghdr& message = r.messages[i];
    if (message.msg_hdr.msg_flags & MSG_TRUNC) {
      counters_.drops.add(DropReason::kTooBig);
      continue;
    }
    if (message.msg_len == 0) {
      counters_.drops.add(DropReason::kTooShort);
      continue;
    }
    const sockaddr_in& source = r.sources[i];
    auto found = by_endpoint_.find(endpoint_key(source.sin_addr.s_addr, source.sin_port));
    if (found == by_endpoint_.end()) {
      counters_.drops.add(DropReason::kUnknownPeer);
      continue;
    }
    Peer* peer = found->second;
    if (peer != current) {
      deliver();
      current = peer;
    }
    Packet& packet = r.packets[i];
    packet.resize(message.msg_len);
    peer->counters.rx_bytes += message.msg_len;
    if (!gro_) {
      ++peer->counters.rx_packets;
      push(std::move(packet));
      continue;
    }
    const std::size_t datagram_size = gro_segment_size(message.msg_hdr);
    const std::size_t count = datagram_count(message.msg_len, datagram_size);
    peer->counters.rx_packets += count;
    if (count > 1) ++counters_.gro_receives;
    if (count > 1 && regroup_datagrams(packet, datagram_size)) {
      ++counters_.regrouped;
      push(std::move(packet));
      continue;
    }
    split_datagrams(packet, datagram_size, count, push);
  }
  deliver();
  return static_cast<std::size_t>(received);
}

std::size_t UdpTransport::gro_segment_size(const msghdr& header) noexcept {
  for (const cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr;
       control = CMSG_NXTHDR(const_cast<msghdr*>(&header), const_cast<cmsghdr*>(control))) {
    if (control->cmsg_level == SOL_UDP && control->cmsg_type == UDP_GRO &&
        control->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(control), sizeof size);
      return size > 0 ? static_cast<std::size_t>(size) : 0;
    }
  }
  return 0;
}

template <typename Push>
void UdpTransport::split_datagrams(Packet& packet, std::size_t datagram_size, std::size_t count,
                                   Push& push) {
  // One datagram that fits no small buffer keeps its large one.
  if (count == 1 && packet.size() > pool_.buffer_size() - pool_.headroom()) {
    push(std::move(packet));
    return;
  }
  for (std::size_t k = 0; k < count; ++k) {
    const std::span<const std::uint8_t> datagram = datagram_at(packet.bytes(), datagram_size, k);
    Packet copy = pool_.acquire();
    if (!copy.valid()) {
      counters_.drops.add(DropReason::kPoolExhausted);
      continue;
    }
    if (!copy.resize(datagram.size())) {
      counters_.drops.add(DropReason::kTooBig);
      continue;
    }
    std::memcpy(copy.data(), datagram.data(), datagram.size());
    push(std::move(copy));
  }
  // The slot keeps its large buffer for the next receive.
}

}  // namespace nextmini::dataplane
