#include "nextmini/dataplane/node/processor.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <map>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/dataplane/core/icmp_error.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/ip_ttl.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/link/packet_segments.hpp"

namespace nextmini::dataplane {

namespace {

std::uint64_t realtime_ns() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

DropReason ip_drop_reason(IpParseStatus status) noexcept {
  return status == IpParseStatus::kTooShort ? DropReason::kTooShort : DropReason::kBadIpHeader;
}

DropReason overlay_drop_reason(OverlayStatus status) noexcept {
  return status == OverlayStatus::kTooShort ? DropReason::kTooShort : DropReason::kBadOverlayHeader;
}

std::string address_string(const FlowKey& key, const std::array<std::uint8_t, 16>& address) {
  char text[INET6_ADDRSTRLEN] = {};
  const int family = key.ip_version == 6 ? AF_INET6 : AF_INET;
  if (::inet_ntop(family, address.data(), text, sizeof(text)) == nullptr) return {};
  return text;
}

std::map<std::string, std::uint64_t> drop_map(const DropCounters& drops) {
  std::map<std::string, std::uint64_t> out;
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    if (drops.counts[i] != 0) {
      out.emplace(std::string(drop_reason_name(static_cast<DropReason>(i))), drops.counts[i]);
    }
  }
  return out;
}

// An output: a neighbour link or the local sink, with the batch collected for it.
struct Output {
  PacketSink* sink = nullptr;
  LinkStats stats;
  PacketBatch out;
  bool pending = false;  // listed in State::pending
};

}  // namespace

struct Processor::State {
  State(ProcessorConfig cfg, PacketPool& packet_pool, PacketPool* large)
      : config(cfg),
        pool(packet_pool),
        large_pool(large),
        selector(cfg.pin_slots),
        flows(cfg.max_flows),
        icmp_tokens(cfg.icmp_burst) {
    pending.reserve(16);
  }

  ProcessorConfig config;
  PacketPool& pool;
  PacketPool* large_pool;  // copies of super-packets; may be null
  std::shared_ptr<const RouteTable> table;
  FlowSelector selector;
  FlowTable flows;
  std::unordered_map<NodeId, std::unique_ptr<Output>> links;
  Output local;
  std::vector<Output*> pending;  // outputs with packets collected in this input batch
  DropCounters drops;
  std::unordered_map<FlowKey, std::uint8_t, FlowKeyHash> flow_weights;  // set_flow_weight
  std::uint64_t now_ns = 0;
  IcmpCounters icmp;
  double icmp_tokens = 0;  // ICMP error token bucket
  std::uint64_t icmp_refill_ns = 0;

  std::uint8_t weight_of(const FlowKey& key) const noexcept {
    if (flow_weights.empty()) return 0;
    const auto it = flow_weights.find(key);
    return it == flow_weights.end() ? 0 : it->second;
  }

  // The output of the link to `neighbor`, created (once per neighbour) on first use.
  Output& link(NodeId neighbor) {
    auto it = links.find(neighbor);
    if (it == links.end()) {
      it = links.emplace(neighbor, std::make_unique<Output>()).first;
      pending.reserve(links.size() + 1);
    }
    return *it->second;
  }

  // Drops count wire packets, as every packet counter does (a super-packet: its segments).
  void drop(Packet& packet, DropReason reason, LinkStats* stats) noexcept {
    const std::uint32_t segments = packet_segments(packet);
    drops.add(reason, segments);
    if (stats != nullptr) stats->drops.add(reason, segments);
    packet.reset();
  }

  // Queues `packet` for `output` (whose sink is attached); sends early if its batch is full.
  void emit(Output& output, Packet&& packet) {
    if (output.out.full()) flush(output);
    output.stats.tx_packets += packet_segments(packet);  // wire packets: a super-packet's segments
    output.stats.tx_bytes += packet.size();
    output.out.push(std::move(packet));
    if (!output.pending) {
      output.pending = true;
      pending.push_back(&output);
    }
  }

  void flush(Output& output) {
    if (output.out.empty()) return;
    if (output.sink != nullptr) output.sink->send(output.out);
    output.out.clear();  // releases anything a sink left behind
  }

  void flush_all() {
    // By index: a sink's send() may attach a link, which can grow `pending`'s capacity.
    for (std::size_t i = 0; i < pending.size(); ++i) {
      flush(*pending[i]);
      pending[i]->pending = false;
    }
    pending.clear();
  }

  // A copy of `packet` (bytes and metadata) in a fresh pool buffer with at least `min_headroom`
  // bytes in front, or an invalid Packet after counting why none could be made (on `stats` too
  // when given).
  Packet copy_of(const Packet& packet, std::size_t min_headroom, LinkStats* stats) noexcept {
    const std::size_t size = packet.size();
    DropReason reason = DropReason::kTooBig;
    Packet copy;
    PacketPool* source = size + min_headroom <= pool.buffer_size() ? &pool : large_pool;
    if (source != nullptr && size + min_headroom <= source->buffer_size()) {
      copy = source->acquire();
      reason = DropReason::kPoolExhausted;
    }
    if (!copy.valid()) {
      drops.add(reason, packet_segments(packet));
      if (stats != nullptr) stats->drops.add(reason, packet_segments(packet));
      return copy;
    }
    // Keep the pool's usual headroom when it fits, less (but >= min_headroom) when it does not.
    if (copy.room() < size || copy.headroom() < min_headroom) {
      copy.clear(source->buffer_size() - size);
    }
    copy.resize(size);
    std::memcpy(copy.data(), packet.data(), size);
    copy.meta() = packet.meta();
    return copy;
  }

  // Sends `packet` (overlay header in front) to every hop, and — when `strip` is non-zero —
  // delivers it locally without its first `strip` bytes. The original buffer goes to the last
  // consumer (the local sink, else the last attached hop); the others get copies.
  void fan_out(Packet&& packet, std::span<const NodeId> hops, std::size_t strip) {
    const bool local_delivery = strip != 0;
    std::size_t last_attached = hops.size();
    for (std::size_t i = 0; i < hops.size(); ++i) {
      const auto it = links.find(hops[i]);
      if (it != links.end() && it->second->sink != nullptr) last_attached = i;
    }
    for (std::size_t i = 0; i < hops.size(); ++i) {
      Output& output = link(hops[i]);
      if (output.sink == nullptr) {
        drops.add(DropReason::kLinkDown, packet_segments(packet));
        output.stats.drops.add(DropReason::kLinkDown, packet_segments(packet));
        continue;
      }
      if (!local_delivery && i == last_attached) {
        emit(output, std::move(packet));
        return;
      }
      Packet copy = copy_of(packet, 0, &output.stats);
      if (copy.valid()) emit(output, std::move(copy));
    }
    if (local_delivery) {
      packet.pull_front(strip);
      packet.meta().l3_offset = 0;
      deliver_local(std::move(packet));
      return;
    }
    packet.reset();  // no attached hop: every copy was counted as kLinkDown
  }

  void deliver_local(Packet&& packet) {
    if (local.sink == nullptr) {
      drop(packet, DropReason::kLinkDown, &local.stats);
      return;
    }
    emit(local, std::move(packet));
  }

  // Takes a token from the ICMP error bucket (refilled at icmp_errors_per_s up to icmp_burst).
  bool take_icmp_token() noexcept {
    if (config.icmp_errors_per_s == 0) return false;
    if (now_ns > icmp_refill_ns) {
      const double earned =
          static_cast<double>(now_ns - icmp_refill_ns) * 1e-9 * config.icmp_errors_per_s;
      icmp_tokens = std::min<double>(icmp_tokens + earned, config.icmp_burst);
      icmp_refill_ns = now_ns;
    }
    if (icmp_tokens < 1) return false;
    icmp_tokens -= 1;
    return true;
  }

  // Answers the IP packet `original` with an ICMP error from this node's own address, sent like
  // a packet from the TUN. Never about an ICMP error (build_icmp_error refuses), so this does
  // not recurse more than once. A packet that may not be answered takes no token.
  void send_icmp_error(IcmpErrorKind kind, std::span<const std::uint8_t> original) {
    if (config.icmp_errors_per_s == 0) return;
    std::array<std::uint8_t, 4> source4{};
    std::span<const std::uint8_t> source;
    const std::uint8_t version = original.empty() ? 0 : original[0] >> 4;
    if (version == 4 && table && table->self_ipv4()) {
      const std::uint32_t own = *table->self_ipv4();
      source4 = {static_cast<std::uint8_t>(own >> 24), static_cast<std::uint8_t>(own >> 16),
                 static_cast<std::uint8_t>(own >> 8), static_cast<std::uint8_t>(own)};
      source = source4;
    } else if (version == 6 && table && table->self_ipv6()) {
      source = *table->self_ipv6();
    }
    Packet reply = source.empty() ? Packet{} : pool.acquire();
    if (!reply.valid() || reply.room() < kIcmpErrorMaxSize) {
      ++icmp.not_sent;
      return;
    }
    reply.resize(kIcmpErrorMaxSize);
    const std::size_t size = build_icmp_error(kind, original, source, reply.bytes());
    if (size == 0) {
      ++icmp.not_sent;
      return;
    }
    if (!take_icmp_token()) {
      ++icmp.rate_limited;
      return;
    }
    reply.resize(size);
    ++(kind == IcmpErrorKind::kTimeExceeded ? icmp.time_exceeded : icmp.unreachable);
    process_local_packet(reply, /*own=*/true);
  }

  // `own`: the packet was made here (an ICMP error), not sent by the host through the TUN.
  void process_local_packet(Packet& packet, bool own = false);
  void process_link_packet(Output& ingress, NodeId neighbor, Packet& packet);
};

void Processor::State::process_local_packet(Packet& packet, bool own) {
  packet.meta().ingress_neighbor = 0;
  packet.meta().l3_offset = 0;
  IpPacketView view;
  const IpParseStatus status = parse_ip_packet(packet.bytes(), view);
  if (status != IpParseStatus::kOk) return drop(packet, ip_drop_reason(status), nullptr);
  if (!table) return drop(packet, DropReason::kUnknownDestination, nullptr);
  const auto dst = view.version == 4
                       ? table->node_of_ipv4(view.dst_ipv4())
                       : table->node_of_ipv6(std::span<const std::uint8_t, 16>(view.dst_address));
  if (!dst) {
    send_icmp_error(IcmpErrorKind::kNetUnreachable, packet.bytes());
    return drop(packet, DropReason::kUnknownDestination, nullptr);
  }

  const FlowKey key = FlowKey::from(view);
  const std::uint64_t hash = key.hash();
  packet.meta().flow_hash = key.flow_hash32();
  packet.meta().flow_weight = weight_of(key);
  const std::size_t ip_bytes = packet.size();
  if (*dst == config.self) {
    if (local.sink != nullptr)
      flows.count(key, config.self, config.self, ip_bytes, now_ns, packet_segments(packet));
    return deliver_local(std::move(packet));
  }
  const auto route = selector.select(hash, *dst, table->routes_to(*dst));
  const RouteHop* hop = route ? table->hop(*route) : nullptr;
  if (hop == nullptr || hop->next_hops.empty()) {
    send_icmp_error(IcmpErrorKind::kNetUnreachable, packet.bytes());
    return drop(packet, DropReason::kNoRoute, nullptr);
  }
  // As the host's first router, the node forwards the host's packet on: the TTL / hop limit goes
  // down by one here (so `ping -t 1` to a neighbour is answered with Time Exceeded from this
  // node, as a router answers). A packet this node made itself leaves with its TTL as it is.
  if (!own && decrement_ip_ttl(packet.bytes()) == TtlStatus::kExpired) {
    send_icmp_error(IcmpErrorKind::kTimeExceeded, packet.bytes());
    return drop(packet, DropReason::kTtlExpired, nullptr);
  }

  if (!packet.push_front(kOverlayHeaderSize)) {
    // Too little headroom (a buffer from elsewhere): move the packet into a pool buffer.
    Packet copy = copy_of(packet, kOverlayHeaderSize, nullptr);
    packet.reset();
    if (!copy.valid()) return;  // counted by copy_of
    packet = std::move(copy);
    packet.push_front(kOverlayHeaderSize);
  }
  packet.meta().l3_offset = kOverlayHeaderSize;
  const PacketMeta& meta = packet.meta();
  OverlayHeader header;
  const bool offload = meta.gso_valid || meta.needs_csum;
  header.flags = offload ? kOverlayFlagGso : 0;
  header.hop_limit = config.initial_hop_limit;
  header.src = config.self;
  header.dst = *dst;
  header.route_id = *route;
  header.flow_hash = meta.flow_hash;
  header.flow_weight = meta.flow_weight;
  header.send_time_ns = now_ns;
  if (offload) {
    header.gso_size = meta.gso_valid ? meta.gso_size : 0;
    header.gso_type = meta.gso_valid ? meta.gso_type : 0;
    header.csum_start = meta.needs_csum ? meta.csum_start : 0;
    header.csum_offset = meta.needs_csum ? meta.csum_offset : 0;
  }
  write_overlay_header(
      header, std::span<std::uint8_t, kOverlayHeaderSize>(packet.data(), kOverlayHeaderSize));
  flows.count(key, config.self, *dst, ip_bytes, now_ns, packet_segments(packet));
  fan_out(std::move(packet), hop->next_hops, 0);
}

void Processor::State::process_link_packet(Output& ingress, NodeId neighbor, Packet& packet) {
  packet.meta().ingress_neighbor = neighbor;
  ingress.stats.rx_bytes += packet.size();
  const OverlayDecode decoded = decode_overlay_header(packet.bytes());
  if (!decoded.ok()) {
    ++ingress.stats.rx_packets;
    return drop(packet, overlay_drop_reason(decoded.status), &ingress.stats);
  }
  const OverlayHeader& header = decoded.header;
  PacketMeta& meta = packet.meta();
  meta.flow_hash = header.flow_hash;
  meta.flow_weight = header.flow_weight;
  // Offload fields (protocol.md): a GSO type and size make a super-packet, a checksum offset
  // a partial checksum (csum_offset is never 0 for TCP or UDP).
  const bool offload = (header.flags & kOverlayFlagGso) != 0;
  meta.gso_valid = offload && header.gso_type != 0 && header.gso_size != 0;
  meta.gso_type = meta.gso_valid ? header.gso_type : 0;
  meta.gso_size = meta.gso_valid ? header.gso_size : 0;
  meta.needs_csum = offload && header.csum_offset != 0;
  meta.csum_start = meta.needs_csum ? header.csum_start : 0;
  meta.csum_offset = meta.needs_csum ? header.csum_offset : 0;
  meta.l3_offset = header.header_length;
  ingress.stats.rx_packets += packet_segments(packet);
  // Multicast trees and control packets are not this stage's (yet): no route for them here.
  if ((header.flags & (kOverlayFlagMulticast | kOverlayFlagControl)) != 0 || !table) {
    return drop(packet, DropReason::kNoRoute, &ingress.stats);
  }
  const RouteHop* hop = table->hop(header.route_id);
  if (hop == nullptr) {
    send_icmp_error(IcmpErrorKind::kNetUnreachable, packet.bytes().subspan(header.header_length));
    return drop(packet, DropReason::kNoRoute, &ingress.stats);
  }

  std::span<const NodeId> hops = hop->next_hops;
  if (!hops.empty() && header.hop_limit <= 1) {
    drops.add(DropReason::kHopLimit, packet_segments(packet));
    ingress.stats.drops.add(DropReason::kHopLimit, packet_segments(packet));
    hops = {};
  }
  if (!hops.empty()) {
    // As a router: the inner TTL / hop limit goes down by one here (a packet both delivered
    // here and forwarded reaches the local sink decremented too).
    const auto inner = packet.bytes().subspan(header.header_length);
    if (decrement_ip_ttl(inner) == TtlStatus::kExpired) {
      drops.add(DropReason::kTtlExpired, packet_segments(packet));
      ingress.stats.drops.add(DropReason::kTtlExpired, packet_segments(packet));
      send_icmp_error(IcmpErrorKind::kTimeExceeded, inner);
      hops = {};
    }
  }
  bool local_delivery = hop->deliver_local;
  if (local_delivery) {
    const auto inner = packet.bytes().subspan(header.header_length);
    IpPacketView view;
    const IpParseStatus status = parse_ip_packet(inner, view);
    if (status != IpParseStatus::kOk) {
      drops.add(ip_drop_reason(status));
      ingress.stats.drops.add(ip_drop_reason(status));
      local_delivery = false;
    } else if (local.sink != nullptr) {  // (a detached local sink is counted as link_down)
      flows.count(FlowKey::from(view), header.src, config.self, inner.size(), now_ns,
                  packet_segments(packet));
    }
  }
  if (hops.empty() && !local_delivery) {
    packet.reset();  // every reason was counted above
    return;
  }
  if (!hops.empty()) {
    std::uint8_t* bytes = packet.data();
    bytes[kOverlayHopLimitOffset] = static_cast<std::uint8_t>(header.hop_limit - 1);
    detail::store_be64(bytes + 20, now_ns);  // the send time of the next link
  }
  fan_out(std::move(packet), hops, local_delivery ? header.header_length : 0);
}

Processor::Processor(ProcessorConfig config, PacketPool& pool, PacketPool* large_pool)
    : state_(std::make_unique<State>(config, pool, large_pool)) {}

Processor::~Processor() = default;

void Processor::process_local(PacketBatch& batch) {
  State& s = *state_;
  s.now_ns = realtime_ns();
  for (Packet& packet : batch) {
    if (packet.valid()) s.process_local_packet(packet);
  }
  batch.clear();
  s.flush_all();
}

void Processor::process_from_link(NodeId neighbor, PacketBatch& batch) {
  State& s = *state_;
  s.now_ns = realtime_ns();
  Output& ingress = s.link(neighbor);
  for (Packet& packet : batch) {
    if (packet.valid()) s.process_link_packet(ingress, neighbor, packet);
  }
  batch.clear();
  s.flush_all();
}

void Processor::set_routes(std::shared_ptr<const RouteTable> table) {
  state_->table = std::move(table);
}

void Processor::attach_link(NodeId neighbor, PacketSink* sink) {
  state_->link(neighbor).sink = sink;
}

void Processor::detach_link(NodeId neighbor) {
  const auto it = state_->links.find(neighbor);
  if (it == state_->links.end()) return;
  Output& output = *it->second;
  output.out.clear();
  output.sink = nullptr;
}

void Processor::attach_local(PacketSink* sink) { state_->local.sink = sink; }

void Processor::set_flow_weight(const FlowKey& key, std::uint8_t weight) {
  if (weight == 0) {
    state_->flow_weights.erase(key);
  } else {
    state_->flow_weights[key] = weight;
  }
}

messages::Metrics Processor::metrics() const {
  const State& s = *state_;
  messages::Metrics metrics;
  metrics.node_id = s.config.self;
  metrics.timestamp_ns = realtime_ns();
  metrics.links.reserve(s.links.size());
  for (const auto& [neighbor, output] : s.links) {
    messages::LinkCounters link;
    link.neighbor = neighbor;
    link.tx_packets = output->stats.tx_packets;
    link.tx_bytes = output->stats.tx_bytes;
    link.rx_packets = output->stats.rx_packets;
    link.rx_bytes = output->stats.rx_bytes;
    link.drops = drop_map(output->stats.drops);
    link.up = output->sink != nullptr;
    metrics.links.push_back(std::move(link));
  }
  std::sort(metrics.links.begin(), metrics.links.end(),
            [](const auto& a, const auto& b) { return a.neighbor < b.neighbor; });
  metrics.flows.reserve(s.flows.size());
  for (const auto& [key, stats] : s.flows) {
    messages::FlowCounters flow;
    flow.src = stats.src;
    flow.dst = stats.dst;
    flow.ip_protocol = key.protocol;
    flow.src_address = address_string(key, key.src_address);
    flow.dst_address = address_string(key, key.dst_address);
    flow.src_port = key.src_port;
    flow.dst_port = key.dst_port;
    flow.packets = stats.packets;
    flow.bytes = stats.bytes;
    metrics.flows.push_back(std::move(flow));
  }
  metrics.drops = drop_map(s.drops);
  return metrics;
}

std::size_t Processor::expire_flows(std::uint64_t idle_ns) {
  return state_->flows.expire(realtime_ns(), idle_ns);
}

const DropCounters& Processor::drops() const noexcept { return state_->drops; }

const IcmpCounters& Processor::icmp_counters() const noexcept { return state_->icmp; }

const LinkStats* Processor::link_stats(NodeId neighbor) const noexcept {
  const auto it = state_->links.find(neighbor);
  return it == state_->links.end() ? nullptr : &it->second->stats;
}

const LinkStats& Processor::local_stats() const noexcept { return state_->local.stats; }

const FlowTable& Processor::flows() const noexcept { return state_->flows; }

const FlowSelector& Processor::selector() const noexcept { return state_->selector; }

void Processor::pin_flow(const FlowKey& flow, NodeId dst, RouteId route) {
  state_->selector.pin(flow.hash(), dst, route);
}

}  // namespace nextmini::dataplane
