#include "nextmini/dataplane/node/processor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/ip_ttl.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"
#include "processor_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using messages::RouteEntry;
using testing::CollectSink;
using testing::make_udp;
using testing::node_ip;

RouteEntry entry(RouteId id, NodeId src, NodeId dst, std::vector<NodeId> hops, bool local = false,
                 std::uint32_t weight = 1) {
  RouteEntry e;
  e.route_id = id;
  e.src = src;
  e.dst = dst;
  e.weight = weight;
  e.next_hops = std::move(hops);
  e.deliver_local = local;
  return e;
}

std::shared_ptr<const RouteTable> table(NodeId self, const std::vector<RouteEntry>& routes) {
  std::unordered_map<std::uint32_t, NodeId> addresses;
  for (NodeId n = 1; n <= 4; ++n) addresses[node_ip(n)] = n;
  auto built = RouteTable::build(self, addresses, routes, 1);
  EXPECT_TRUE(built) << built.error().message;
  return built ? *built : nullptr;
}

// Wraps a raw IP packet in an overlay header as node `src` would have sent it.
Packet framed(Packet packet, const OverlayHeader& header) {
  const std::size_t extra = header.header_length - kOverlayHeaderSize;
  EXPECT_TRUE(packet.push_front(header.header_length));
  write_overlay_header(
      header, std::span<std::uint8_t, kOverlayHeaderSize>(packet.data(), kOverlayHeaderSize));
  std::fill(packet.data() + kOverlayHeaderSize, packet.data() + kOverlayHeaderSize + extra, 0x77);
  return packet;
}

// `ip` as it leaves a router: TTL / hop limit one lower (the source node is the host's router).
std::vector<std::uint8_t> routed(std::vector<std::uint8_t> ip) {
  EXPECT_EQ(decrement_ip_ttl(ip), TtlStatus::kDecremented);
  return ip;
}

OverlayHeader header_for(NodeId src, NodeId dst, RouteId route, std::uint8_t hop_limit = 32) {
  OverlayHeader h;
  h.src = src;
  h.dst = dst;
  h.route_id = route;
  h.hop_limit = hop_limit;
  return h;
}

// Node 1 (10.0.0.1) with links to 2 and 3 and a local (TUN) sink.
class ProcessorTest : public ::testing::Test {
 protected:
  static constexpr std::size_t kBufferSize = 2048;

  ProcessorTest() : pool_(64, kBufferSize), processor_({1, 32}, pool_) {
    processor_.attach_link(2, &link2_);
    processor_.attach_link(3, &link3_);
    processor_.attach_local(&local_);
  }

  void TearDown() override {
    link2_.clear();
    link3_.clear();
    local_.clear();
    EXPECT_EQ(pool_.in_use(), 0u) << "a packet buffer leaked";
  }

  void send_local(Packet packet) {
    PacketBatch batch;
    batch.push(std::move(packet));
    processor_.process_local(batch);
    EXPECT_TRUE(batch.empty());
  }
  void send_from(NodeId neighbor, Packet packet) {
    PacketBatch batch;
    batch.push(std::move(packet));
    processor_.process_from_link(neighbor, batch);
    EXPECT_TRUE(batch.empty());
  }
  // Node 3 (route 10 from node 1 ends there) takes link 2's one packet from node 1 and delivers
  // it locally; returns the metadata its TUN writer gets, or nothing if it delivered no packet.
  std::optional<PacketMeta> meta_delivered_at_node3() {
    Processor sink({3, 32}, pool_);
    CollectSink tun;
    sink.attach_local(&tun);
    sink.set_routes(table(3, {entry(10, 1, 3, {}, true)}));
    PacketBatch batch;
    batch.push(std::move(link2_.packets[0]));
    link2_.clear();
    sink.process_from_link(1, batch);
    if (tun.packets.size() != 1) return std::nullopt;
    return tun.packets[0].meta();
  }
  std::uint64_t dropped(DropReason reason) const { return processor_.drops()[reason]; }
  std::uint64_t total_drops() const {
    std::uint64_t n = 0;
    for (auto c : processor_.drops().counts) n += c;
    return n;
  }

  PacketPool pool_;
  Processor processor_;
  CollectSink link2_;
  CollectSink link3_;
  CollectSink local_;
};

TEST_F(ProcessorTest, LocalDestinationIsDeliveredUnchanged) {
  processor_.set_routes(table(1, {}));
  Packet packet = make_udp(pool_, node_ip(1), node_ip(1), 1000, 2000, 100);
  const auto original = testing::bytes_of(packet);
  send_local(std::move(packet));
  ASSERT_EQ(local_.packets.size(), 1u);
  EXPECT_EQ(testing::bytes_of(local_.packets[0]), original);
  EXPECT_EQ(processor_.local_stats().tx_packets, 1u);
  EXPECT_EQ(total_drops(), 0u);
  ASSERT_EQ(processor_.flows().size(), 1u);
  const FlowStats& flow = processor_.flows().begin()->second;
  EXPECT_EQ(flow.src, 1u);
  EXPECT_EQ(flow.dst, 1u);
  EXPECT_EQ(flow.bytes, original.size());
}

TEST_F(ProcessorTest, SourceStampsTheFlowWeightAndHopsCopyItIntoTheMetadata) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2}), entry(30, 3, 2, {2})}));
  Packet weighted = make_udp(pool_, node_ip(1), node_ip(3), 1000, 2000, 100);
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(weighted.bytes(), view), IpParseStatus::kOk);
  processor_.set_flow_weight(FlowKey::from(view), 5);
  send_local(std::move(weighted));
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 1001, 2000, 100));  // another flow
  ASSERT_EQ(link2_.packets.size(), 2u);
  EXPECT_EQ(link2_.packets[0].data()[kOverlayFlowWeightOffset], 5);
  EXPECT_EQ(link2_.packets[0].meta().flow_weight, 5);
  EXPECT_EQ(link2_.packets[1].data()[kOverlayFlowWeightOffset], 0);  // unset: weight 1
  EXPECT_EQ(link2_.packets[1].meta().flow_weight, 0);

  // A transit hop takes the weight from the header into PacketMeta (for its link's pipeline).
  OverlayHeader header = header_for(3, 2, 30);
  header.flow_weight = 7;
  send_from(3, framed(make_udp(pool_, node_ip(3), node_ip(2), 1, 2, 64), header));
  ASSERT_EQ(link2_.packets.size(), 3u);
  EXPECT_EQ(link2_.packets[2].meta().flow_weight, 7);
  EXPECT_EQ(link2_.packets[2].data()[kOverlayFlowWeightOffset], 7);

  processor_.set_flow_weight(FlowKey::from(view), 0);  // removed
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 1000, 2000, 100));
  ASSERT_EQ(link2_.packets.size(), 4u);
  EXPECT_EQ(link2_.packets[3].data()[kOverlayFlowWeightOffset], 0);
}

TEST_F(ProcessorTest, SourcePrependsHeaderInHeadroomWithoutCopy) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  Packet packet = make_udp(pool_, node_ip(1), node_ip(3), 1000, 2000, 100);
  const auto original = routed(testing::bytes_of(packet));
  const std::uint8_t* payload_address = packet.data();
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(packet.bytes(), view), IpParseStatus::kOk);
  const FlowKey key = FlowKey::from(view);
  send_local(std::move(packet));

  ASSERT_EQ(link2_.packets.size(), 1u);
  EXPECT_TRUE(link3_.packets.empty());
  const Packet& out = link2_.packets[0];
  EXPECT_EQ(pool_.in_use(), 1u);                                // the same buffer went out
  EXPECT_EQ(out.data() + kOverlayHeaderSize, payload_address);  // header in the headroom
  ASSERT_EQ(out.size(), original.size() + kOverlayHeaderSize);
  const auto header = read_overlay_header(out.bytes());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->version, kOverlayVersion);
  EXPECT_EQ(header->hop_limit, 32);
  EXPECT_EQ(header->src, 1u);
  EXPECT_EQ(header->dst, 3u);
  EXPECT_EQ(header->route_id, 10u);
  EXPECT_EQ(header->flow_hash, key.flow_hash32());
  EXPECT_EQ(header->flags, 0);
  EXPECT_GT(header->send_time_ns, 1'600'000'000'000'000'000ULL);  // a CLOCK_REALTIME value
  EXPECT_TRUE(std::equal(original.begin(), original.end(), out.data() + kOverlayHeaderSize));

  const LinkStats* stats = processor_.link_stats(2);
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(stats->tx_packets, 1u);
  EXPECT_EQ(stats->tx_bytes, original.size() + kOverlayHeaderSize);
  const FlowStats* flow = processor_.flows().find(key);
  ASSERT_NE(flow, nullptr);
  EXPECT_EQ(flow->dst, 3u);
  EXPECT_EQ(flow->packets, 1u);
  EXPECT_EQ(flow->bytes, original.size());
}

TEST_F(ProcessorTest, EveryNextHopGetsAnIntactCopy) {
  processor_.set_routes(table(1, {entry(10, 1, 4, {2, 3})}));
  Packet packet = make_udp(pool_, node_ip(1), node_ip(4), 1000, 2000, 300, 0x5a);
  const auto original = routed(testing::bytes_of(packet));
  send_local(std::move(packet));
  ASSERT_EQ(link2_.packets.size(), 1u);
  ASSERT_EQ(link3_.packets.size(), 1u);
  EXPECT_NE(link2_.packets[0].data(), link3_.packets[0].data());
  EXPECT_EQ(testing::bytes_of(link2_.packets[0]), testing::bytes_of(link3_.packets[0]));
  EXPECT_TRUE(
      std::equal(original.begin(), original.end(), link3_.packets[0].data() + kOverlayHeaderSize));
  EXPECT_EQ(pool_.in_use(), 2u);
}

TEST_F(ProcessorTest, FullSizePacketIsCopiedToEveryHop) {
  // The largest packet a fresh buffer holds, plus the header in front: copies must still fit.
  processor_.set_routes(table(1, {entry(10, 1, 4, {2, 3})}));
  const std::size_t payload = kBufferSize - PacketPool::kDefaultHeadroom - 28;
  send_local(make_udp(pool_, node_ip(1), node_ip(4), 1, 2, payload));
  ASSERT_EQ(link2_.packets.size(), 1u);
  ASSERT_EQ(link3_.packets.size(), 1u);
  EXPECT_EQ(testing::bytes_of(link2_.packets[0]), testing::bytes_of(link3_.packets[0]));
  EXPECT_EQ(total_drops(), 0u);
}

TEST_F(ProcessorTest, OutputsAreBatchedPerSink) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2}), entry(11, 1, 4, {3})}));
  PacketBatch batch;
  for (int i = 0; i < 20; ++i) {
    batch.push(make_udp(pool_, node_ip(1), node_ip(i % 2 == 0 ? 3 : 4),
                        static_cast<std::uint16_t>(1000 + i), 80, 64));
  }
  batch.push(make_udp(pool_, node_ip(1), node_ip(1), 7, 7, 10));
  processor_.process_local(batch);
  EXPECT_EQ(link2_.packets.size(), 10u);
  EXPECT_EQ(link3_.packets.size(), 10u);
  EXPECT_EQ(local_.packets.size(), 1u);
  EXPECT_EQ(link2_.send_calls, 1u);
  EXPECT_EQ(link3_.send_calls, 1u);
  EXPECT_EQ(local_.send_calls, 1u);
  EXPECT_EQ(processor_.flows().size(), 21u);
}

TEST_F(ProcessorTest, LocalInputDropReasons) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  // Too short: an IPv4 header cut at 12 bytes.
  Packet short_packet = make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 10);
  short_packet.resize(12);
  send_local(std::move(short_packet));
  EXPECT_EQ(dropped(DropReason::kTooShort), 1u);
  // Not IP.
  Packet not_ip = make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 10);
  not_ip.data()[0] = 0x55;
  send_local(std::move(not_ip));
  EXPECT_EQ(dropped(DropReason::kBadIpHeader), 1u);
  // Unknown destination address (answered with an ICMP error to the local host, below).
  send_local(make_udp(pool_, node_ip(1), 0xc0a80001, 1, 2, 10));
  EXPECT_EQ(dropped(DropReason::kUnknownDestination), 1u);
  // An IPv6 address no node owns (from the unspecified address: no ICMP error).
  Packet v6 = pool_.acquire();
  v6.resize(48);
  std::fill(v6.data(), v6.data() + 48, 0);
  v6.data()[0] = 0x60;
  v6.data()[5] = 8;
  v6.data()[6] = 59;  // no next header
  send_local(std::move(v6));
  EXPECT_EQ(dropped(DropReason::kUnknownDestination), 2u);
  // A known node without a route from here.
  send_local(make_udp(pool_, node_ip(1), node_ip(4), 1, 2, 10));
  EXPECT_EQ(dropped(DropReason::kNoRoute), 1u);
  EXPECT_TRUE(link2_.packets.empty());
  EXPECT_EQ(total_drops(), 5u);
  // The local host hears of both unreachable destinations (ICMP type 3, from its own address).
  ASSERT_EQ(local_.packets.size(), 2u);
  for (const Packet& error : local_.packets) {
    IpPacketView view;
    ASSERT_EQ(parse_ip_packet(error.bytes(), view), IpParseStatus::kOk);
    EXPECT_EQ(view.protocol, kIpProtoIcmp);
    EXPECT_EQ(view.src_ipv4(), node_ip(1));
    EXPECT_EQ(view.dst_ipv4(), node_ip(1));
    EXPECT_EQ(error.bytes()[view.l4_offset], 3);
  }
  EXPECT_EQ(processor_.icmp_counters().unreachable, 2u);
  EXPECT_EQ(processor_.icmp_counters().not_sent, 1u);  // the IPv6 packet from ::
}

TEST_F(ProcessorTest, NoTableMeansUnknownDestination) {
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 10));
  EXPECT_EQ(dropped(DropReason::kUnknownDestination), 1u);
  send_from(2, framed(make_udp(pool_, node_ip(3), node_ip(1), 1, 2, 10), header_for(3, 1, 5)));
  EXPECT_EQ(dropped(DropReason::kNoRoute), 1u);
}

TEST_F(ProcessorTest, UnattachedOrDetachedLinkIsLinkDown) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2}), entry(11, 1, 4, {4, 3})}));
  processor_.detach_link(2);
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 10));
  EXPECT_EQ(dropped(DropReason::kLinkDown), 1u);
  EXPECT_EQ(processor_.link_stats(2)->drops[DropReason::kLinkDown], 1u);
  // Neighbour 4 never attached: counted on its own link; neighbour 3 still gets its copy.
  send_local(make_udp(pool_, node_ip(1), node_ip(4), 1, 2, 10));
  EXPECT_EQ(dropped(DropReason::kLinkDown), 2u);
  ASSERT_NE(processor_.link_stats(4), nullptr);
  EXPECT_EQ(processor_.link_stats(4)->drops[DropReason::kLinkDown], 1u);
  EXPECT_EQ(link3_.packets.size(), 1u);
  // Re-attaching brings the link back.
  processor_.attach_link(2, &link2_);
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 10));
  EXPECT_EQ(link2_.packets.size(), 1u);
  const auto metrics = processor_.metrics();
  const auto link4 = std::find_if(metrics.links.begin(), metrics.links.end(),
                                  [](const auto& l) { return l.neighbor == 4; });
  ASSERT_NE(link4, metrics.links.end());
  EXPECT_FALSE(link4->up);
  EXPECT_EQ(link4->drops.at("link_down"), 1u);
}

TEST_F(ProcessorTest, DetachedLocalSinkIsLinkDown) {
  Processor lonely({1, 32}, pool_);
  lonely.set_routes(table(1, {}));
  PacketBatch batch;
  batch.push(make_udp(pool_, node_ip(1), node_ip(1), 1, 2, 10));
  lonely.process_local(batch);
  EXPECT_EQ(lonely.drops()[DropReason::kLinkDown], 1u);
  EXPECT_EQ(lonely.local_stats().drops[DropReason::kLinkDown], 1u);
  EXPECT_EQ(lonely.flows().size(), 0u);  // a dropped packet is not counted as delivered
  // The same at a route's sink.
  lonely.set_routes(table(1, {entry(30, 3, 1, {}, true)}));
  batch.push(framed(make_udp(pool_, node_ip(3), node_ip(1), 1, 2, 10), header_for(3, 1, 30)));
  lonely.process_from_link(3, batch);
  EXPECT_EQ(lonely.drops()[DropReason::kLinkDown], 2u);
  EXPECT_EQ(lonely.flows().size(), 0u);
}

TEST_F(ProcessorTest, PoolExhaustionOnCopyIsCounted) {
  PacketPool tiny(1, kBufferSize);
  Processor processor({1, 32}, tiny);
  processor.attach_link(2, &link2_);
  processor.attach_link(3, &link3_);
  processor.set_routes(table(1, {entry(10, 1, 4, {2, 3})}));
  PacketBatch batch;
  batch.push(make_udp(tiny, node_ip(1), node_ip(4), 1, 2, 10));
  processor.process_local(batch);
  EXPECT_EQ(processor.drops()[DropReason::kPoolExhausted], 1u);
  EXPECT_EQ(processor.link_stats(2)->drops[DropReason::kPoolExhausted], 1u);
  ASSERT_EQ(link3_.packets.size(), 1u);  // the original still went to the last hop
  link3_.clear();
  EXPECT_EQ(tiny.in_use(), 0u);
}

TEST_F(ProcessorTest, CopyLargerThanThePoolBuffersIsTooBig) {
  // The processor's pool has small buffers; the packet came from a reader's bigger pool.
  PacketPool small(4, 256);
  Processor processor({1, 32}, small);
  processor.attach_link(2, &link2_);
  processor.attach_link(3, &link3_);
  processor.set_routes(table(1, {entry(10, 1, 4, {2, 3}), entry(11, 1, 3, {2})}));
  PacketBatch batch;
  batch.push(make_udp(pool_, node_ip(1), node_ip(4), 1, 2, 600));
  processor.process_local(batch);
  EXPECT_EQ(processor.drops()[DropReason::kTooBig], 1u);
  EXPECT_EQ(processor.link_stats(2)->drops[DropReason::kTooBig], 1u);
  EXPECT_EQ(link3_.packets.size(), 1u);  // the original buffer still went to the last hop
  // Without headroom for the overlay header it must be moved, and does not fit either.
  PacketPool no_headroom(1, 2048, 0);
  batch.push(make_udp(no_headroom, node_ip(1), node_ip(3), 1, 2, 600));
  processor.process_local(batch);
  EXPECT_EQ(processor.drops()[DropReason::kTooBig], 2u);
  EXPECT_EQ(no_headroom.in_use(), 0u);
  EXPECT_EQ(small.in_use(), 0u);
}

TEST_F(ProcessorTest, PacketWithoutHeadroomIsMovedIntoAPoolBuffer) {
  PacketPool no_headroom(4, kBufferSize, 0);
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  Packet packet = make_udp(no_headroom, node_ip(1), node_ip(3), 1, 2, 50);
  const auto original = routed(testing::bytes_of(packet));
  send_local(std::move(packet));
  EXPECT_EQ(no_headroom.in_use(), 0u);
  ASSERT_EQ(link2_.packets.size(), 1u);
  EXPECT_TRUE(
      std::equal(original.begin(), original.end(), link2_.packets[0].data() + kOverlayHeaderSize));
}

TEST_F(ProcessorTest, TransitForwardsWithDecrementedHopLimit) {
  processor_.set_routes(table(1, {entry(20, 2, 3, {3})}));
  Packet packet =
      framed(make_udp(pool_, node_ip(2), node_ip(3), 5, 6, 40), header_for(2, 3, 20, 9));
  const std::size_t size = packet.size();
  send_from(2, std::move(packet));
  ASSERT_EQ(link3_.packets.size(), 1u);
  const auto header = read_overlay_header(link3_.packets[0].bytes());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->hop_limit, 8);
  EXPECT_EQ(header->src, 2u);
  EXPECT_EQ(header->route_id, 20u);
  EXPECT_NE(header->send_time_ns, 0u);  // rewritten for the next link
  EXPECT_EQ(link3_.packets[0].meta().ingress_neighbor, 2u);
  EXPECT_EQ(processor_.link_stats(2)->rx_packets, 1u);
  EXPECT_EQ(processor_.link_stats(2)->rx_bytes, size);
  EXPECT_EQ(processor_.link_stats(3)->tx_packets, 1u);
  EXPECT_EQ(processor_.flows().size(), 0u);  // neither source nor sink of this flow
}

TEST_F(ProcessorTest, SinkStripsHeaderAndCountsTheFlow) {
  processor_.set_routes(table(1, {entry(30, 3, 1, {}, true)}));
  Packet inner = make_udp(pool_, node_ip(3), node_ip(1), 5, 6, 40);
  const auto original = testing::bytes_of(inner);
  OverlayHeader h = header_for(3, 1, 30, 1);  // hop limit 1 is fine for local delivery
  h.header_length = 44;                       // a longer (future) header is skipped whole
  send_from(3, framed(std::move(inner), h));
  ASSERT_EQ(local_.packets.size(), 1u);
  EXPECT_EQ(testing::bytes_of(local_.packets[0]), original);
  ASSERT_EQ(processor_.flows().size(), 1u);
  const FlowStats& flow = processor_.flows().begin()->second;
  EXPECT_EQ(flow.src, 3u);
  EXPECT_EQ(flow.dst, 1u);
  EXPECT_EQ(flow.bytes, original.size());
  EXPECT_EQ(total_drops(), 0u);
}

TEST_F(ProcessorTest, GsoMetadataTravelsInTheHeader) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  Packet packet = make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 100);
  packet.meta().gso_valid = true;
  packet.meta().gso_size = 1448;
  packet.meta().gso_type = 4;
  packet.meta().needs_csum = true;
  packet.meta().csum_start = 20;
  packet.meta().csum_offset = 16;
  send_local(std::move(packet));
  ASSERT_EQ(link2_.packets.size(), 1u);
  const auto header = read_overlay_header(link2_.packets[0].bytes());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->flags, kOverlayFlagGso);
  EXPECT_EQ(header->gso_size, 1448);
  EXPECT_EQ(header->gso_type, 4);
  EXPECT_EQ(header->csum_start, 20);
  EXPECT_EQ(header->csum_offset, 16);

  // The receiving side restores the metadata for the TUN writer.
  const std::optional<PacketMeta> delivered = meta_delivered_at_node3();
  ASSERT_TRUE(delivered);
  const PacketMeta& meta = *delivered;
  EXPECT_TRUE(meta.gso_valid);
  EXPECT_TRUE(meta.needs_csum);
  EXPECT_EQ(meta.gso_size, 1448);
  EXPECT_EQ(meta.gso_type, 4);
  EXPECT_EQ(meta.csum_start, 20);
  EXPECT_EQ(meta.csum_offset, 16);
}

TEST_F(ProcessorTest, AChecksumOnlyOffloadTravelsWithoutGso) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  Packet packet = make_udp(pool_, node_ip(1), node_ip(3), 1, 2, 100);
  packet.meta().needs_csum = true;
  packet.meta().csum_start = 20;
  packet.meta().csum_offset = 6;
  send_local(std::move(packet));
  ASSERT_EQ(link2_.packets.size(), 1u);
  const auto header = read_overlay_header(link2_.packets[0].bytes());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->flags, kOverlayFlagGso);
  EXPECT_EQ(header->gso_type, 0);
  EXPECT_EQ(header->gso_size, 0);
  EXPECT_EQ(header->csum_offset, 6);

  const std::optional<PacketMeta> delivered = meta_delivered_at_node3();
  ASSERT_TRUE(delivered);
  const PacketMeta& meta = *delivered;
  EXPECT_FALSE(meta.gso_valid);
  EXPECT_TRUE(meta.needs_csum);
  EXPECT_EQ(meta.csum_start, 20);
  EXPECT_EQ(meta.csum_offset, 6);
}

TEST_F(ProcessorTest, LinkInputDropReasons) {
  processor_.set_routes(table(1, {entry(20, 2, 3, {3}), entry(30, 3, 1, {}, true)}));
  // Shorter than a header.
  Packet short_packet = pool_.acquire();
  short_packet.resize(10);
  send_from(2, std::move(short_packet));
  EXPECT_EQ(dropped(DropReason::kTooShort), 1u);
  // Wrong version.
  Packet bad = framed(make_udp(pool_, node_ip(2), node_ip(3), 1, 2, 10), header_for(2, 3, 20));
  bad.data()[0] = 9;
  send_from(2, std::move(bad));
  EXPECT_EQ(dropped(DropReason::kBadOverlayHeader), 1u);
  // Unknown route id here: dropped, and its ICMP error finds no route back to node 2 either.
  send_from(2, framed(make_udp(pool_, node_ip(2), node_ip(3), 1, 2, 10), header_for(2, 3, 99)));
  EXPECT_EQ(dropped(DropReason::kNoRoute), 2u);
  EXPECT_EQ(processor_.icmp_counters().unreachable, 1u);
  // Multicast is not routed by this stage yet.
  OverlayHeader group = header_for(2, 3, 20);
  group.flags = kOverlayFlagMulticast;
  send_from(2, framed(make_udp(pool_, node_ip(2), node_ip(3), 1, 2, 10), group));
  EXPECT_EQ(dropped(DropReason::kNoRoute), 3u);
  // Hop limit exhausted on a forwarding hop.
  send_from(2, framed(make_udp(pool_, node_ip(2), node_ip(3), 1, 2, 10), header_for(2, 3, 20, 1)));
  send_from(2, framed(make_udp(pool_, node_ip(2), node_ip(3), 1, 2, 10), header_for(2, 3, 20, 0)));
  EXPECT_EQ(dropped(DropReason::kHopLimit), 2u);
  // A sink whose inner packet is not IP.
  Packet garbage = make_udp(pool_, node_ip(3), node_ip(1), 1, 2, 10);
  garbage.data()[0] = 0x00;
  send_from(3, framed(std::move(garbage), header_for(3, 1, 30)));
  EXPECT_EQ(dropped(DropReason::kBadIpHeader), 1u);

  EXPECT_TRUE(link3_.packets.empty());
  EXPECT_TRUE(local_.packets.empty());
  EXPECT_EQ(total_drops(), 8u);
  const LinkStats* from2 = processor_.link_stats(2);
  ASSERT_NE(from2, nullptr);
  EXPECT_EQ(from2->rx_packets, 6u);
  EXPECT_EQ(from2->drops[DropReason::kHopLimit], 2u);
  EXPECT_EQ(from2->drops[DropReason::kTooShort], 1u);
  EXPECT_EQ(processor_.link_stats(3)->drops[DropReason::kBadIpHeader], 1u);
}

TEST_F(ProcessorTest, MetricsReportLinksFlowsAndDrops) {
  processor_.set_routes(table(1, {entry(10, 1, 3, {2})}));
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 4000, 5001, 100));
  send_local(make_udp(pool_, node_ip(1), node_ip(3), 4000, 5001, 100));
  send_local(make_udp(pool_, node_ip(1), 0x0b000001, 1, 1, 1));
  // (That one's ICMP error went to the local host: a flow 10.0.0.1 -> 10.0.0.1 of its own.)
  ASSERT_EQ(local_.packets.size(), 1u);
  const messages::Metrics all = processor_.metrics();
  ASSERT_EQ(all.flows.size(), 2u);
  messages::Metrics metrics = all;
  std::erase_if(metrics.flows, [](const auto& f) { return f.ip_protocol == 1; });
  EXPECT_EQ(metrics.node_id, 1u);
  EXPECT_GT(metrics.timestamp_ns, 0u);
  const auto link2 = std::find_if(metrics.links.begin(), metrics.links.end(),
                                  [](const auto& l) { return l.neighbor == 2; });
  ASSERT_NE(link2, metrics.links.end());
  EXPECT_EQ(link2->tx_packets, 2u);
  EXPECT_EQ(link2->tx_bytes, 2u * (128 + kOverlayHeaderSize));
  EXPECT_TRUE(link2->up);
  ASSERT_EQ(metrics.flows.size(), 1u);
  const auto& flow = metrics.flows[0];
  EXPECT_EQ(flow.src, 1u);
  EXPECT_EQ(flow.dst, 3u);
  EXPECT_EQ(flow.ip_protocol, 17);
  EXPECT_EQ(flow.src_address, "10.0.0.1");
  EXPECT_EQ(flow.dst_address, "10.0.0.3");
  EXPECT_EQ(flow.src_port, 4000);
  EXPECT_EQ(flow.dst_port, 5001);
  EXPECT_EQ(flow.packets, 2u);
  EXPECT_EQ(flow.bytes, 256u);
  ASSERT_EQ(metrics.drops.size(), 1u);
  EXPECT_EQ(metrics.drops.at("unknown_destination"), 1u);
}

TEST_F(ProcessorTest, FlowTableIsBounded) {
  Processor small({1, 32, 3}, pool_);
  small.attach_link(2, &link2_);
  small.set_routes(table(1, {entry(10, 1, 3, {2})}));
  for (std::uint16_t port = 1; port <= 5; ++port) {
    PacketBatch batch;
    batch.push(make_udp(pool_, node_ip(1), node_ip(3), port, 80, 10));
    small.process_local(batch);
  }
  EXPECT_EQ(link2_.packets.size(), 5u);  // counting is bounded, forwarding is not
  EXPECT_EQ(small.flows().size(), 3u);
  EXPECT_EQ(small.flows().untracked_packets(), 2u);
}

TEST_F(ProcessorTest, FlowsStayOnTheirRouteAcrossAReinstall) {
  processor_.set_routes(table(1, {entry(10, 1, 4, {2}), entry(11, 1, 4, {3})}));
  std::vector<RouteId> first;
  for (std::uint16_t port = 1; port <= 40; ++port) {
    send_local(make_udp(pool_, node_ip(1), node_ip(4), port, 80, 10));
  }
  const auto route_of = [](const Packet& p) { return read_overlay_header(p.bytes())->route_id; };
  std::vector<std::pair<std::uint16_t, RouteId>> before;
  for (auto* sink : {&link2_, &link3_}) {
    for (const Packet& p : sink->packets) {
      before.emplace_back(static_cast<std::uint16_t>((p.data()[36 + 20] << 8) | p.data()[36 + 21]),
                          route_of(p));
    }
  }
  ASSERT_EQ(before.size(), 40u);
  link2_.clear();
  link3_.clear();
  // Reinstall with a new, heavy route via 2: running flows keep their route.
  processor_.set_routes(
      table(1, {entry(10, 1, 4, {2}), entry(11, 1, 4, {3}), entry(12, 1, 4, {2}, false, 10)}));
  for (const auto& [port, route] : before) {
    send_local(make_udp(pool_, node_ip(1), node_ip(4), port, 80, 10));
    CollectSink& sink = route == 11 ? link3_ : link2_;
    ASSERT_FALSE(sink.packets.empty());
    EXPECT_EQ(route_of(sink.packets.back()), route) << "port " << port;
  }
}

}  // namespace
}  // namespace nextmini::dataplane

namespace nextmini::dataplane {
namespace {

FlowKey key_with_port(std::uint16_t port) {
  FlowKey key;
  key.ip_version = 4;
  key.protocol = 17;
  key.src_port = port;
  return key;
}

TEST(FlowTable, ExpireForgetsIdleFlowsAndMakesRoom) {
  FlowTable table(2);
  table.count(key_with_port(1), 1, 2, 100, 1'000);
  table.count(key_with_port(2), 1, 2, 100, 5'000);
  table.count(key_with_port(3), 1, 2, 100, 5'000);  // full: untracked
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.untracked_packets(), 1u);
  EXPECT_EQ(table.expire(6'000, 10'000), 0u);  // nothing idle that long
  EXPECT_EQ(table.expire(6'000, 2'000), 1u);   // port 1 was idle 5,000 ns
  EXPECT_EQ(table.find(key_with_port(1)), nullptr);
  ASSERT_NE(table.find(key_with_port(2)), nullptr);
  table.count(key_with_port(3), 1, 2, 100, 7'000);
  ASSERT_NE(table.find(key_with_port(3)), nullptr);
  EXPECT_EQ(table.find(key_with_port(3))->last_seen_ns, 7'000u);
}

TEST(ProcessorFlows, ExpireFlowsUsesTheClock) {
  PacketPool pool(8, 2048);
  Processor processor({1, 32}, pool);
  CollectSink tun;
  processor.attach_local(&tun);
  processor.set_routes(table(1, {}));
  PacketBatch batch;
  batch.push(make_udp(pool, node_ip(1), node_ip(1), 1, 2, 10));
  processor.process_local(batch);
  tun.clear();
  ASSERT_EQ(processor.flows().size(), 1u);
  EXPECT_EQ(processor.expire_flows(3'600'000'000'000ULL), 0u);  // an hour: still fresh
  EXPECT_EQ(processor.flows().size(), 1u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_EQ(processor.expire_flows(1'000'000), 1u);  // idle for more than 1 ms
  EXPECT_EQ(processor.flows().size(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane

// IPv6 and router behaviour (ICMP errors, TTL) --------------------------------------------------

namespace nextmini::dataplane {
namespace {

Ipv6Address node_ip6(NodeId n) {
  Ipv6Address a{0xfd, 0x00, 0x6e, 0x6d};
  a[15] = static_cast<std::uint8_t>(n);
  return a;
}

std::shared_ptr<const RouteTable> dual_table(NodeId self, const std::vector<RouteEntry>& routes) {
  std::unordered_map<std::uint32_t, NodeId> addresses;
  Ipv6AddressMap addresses6;
  for (NodeId n = 1; n <= 4; ++n) {
    addresses[node_ip(n)] = n;
    addresses6[node_ip6(n)] = n;
  }
  auto built = RouteTable::build(self, addresses, routes, 1, addresses6);
  EXPECT_TRUE(built) << built.error().message;
  return built ? *built : nullptr;
}

// An IPv6/UDP packet of `payload` bytes between two node addresses.
Packet make_udp6(PacketPool& pool, NodeId src, NodeId dst, std::size_t payload,
                 std::uint8_t hop_limit = 64) {
  Packet packet = pool.acquire();
  const std::size_t size = 48 + payload;
  packet.resize(size);
  std::uint8_t* p = packet.data();
  std::fill(p, p + size, 0x5a);
  p[0] = 0x60;
  p[1] = p[2] = p[3] = 0;
  p[4] = static_cast<std::uint8_t>((size - 40) >> 8);
  p[5] = static_cast<std::uint8_t>(size - 40);
  p[6] = kIpProtoUdp;
  p[7] = hop_limit;
  const Ipv6Address s = node_ip6(src);
  const Ipv6Address d = node_ip6(dst);
  std::copy(s.begin(), s.end(), p + 8);
  std::copy(d.begin(), d.end(), p + 24);
  return packet;
}

std::span<const std::uint8_t> inner_of(const Packet& framed_packet) {
  const auto header = read_overlay_header(framed_packet.bytes());
  EXPECT_TRUE(header);
  return framed_packet.bytes().subspan(header ? header->header_length : 0);
}

bool ipv4_header_checksum_ok(std::span<const std::uint8_t> ip) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += (ip[i] << 8) | ip[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

TEST_F(ProcessorTest, Ipv6DestinationsMapToTheirNodes) {
  processor_.set_routes(dual_table(1, {entry(10, 1, 3, {2})}));
  Packet packet = make_udp6(pool_, 1, 3, 100);
  const auto original = routed(testing::bytes_of(packet));
  send_local(std::move(packet));
  ASSERT_EQ(link2_.packets.size(), 1u);
  const auto header = read_overlay_header(link2_.packets[0].bytes());
  ASSERT_TRUE(header);
  EXPECT_EQ(header->dst, 3u);
  EXPECT_EQ(header->route_id, 10u);
  const auto inner = inner_of(link2_.packets[0]);
  EXPECT_TRUE(std::equal(inner.begin(), inner.end(), original.begin(), original.end()));
  EXPECT_EQ(total_drops(), 0u);
  // Its own IPv6 address is delivered locally.
  send_local(make_udp6(pool_, 1, 1, 10));
  EXPECT_EQ(local_.packets.size(), 1u);
}

// `v4` with its IPv4 header checksum filled in.
Packet with_header_checksum(Packet v4) {
  v4.data()[10] = v4.data()[11] = 0;
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += (v4.data()[i] << 8) | v4.data()[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  v4.data()[10] = static_cast<std::uint8_t>(~sum >> 8);
  v4.data()[11] = static_cast<std::uint8_t>(~sum);
  return v4;
}

TEST_F(ProcessorTest, TransitDecrementsTheInnerTtlAndHopLimit) {
  processor_.set_routes(dual_table(1, {entry(20, 2, 3, {3})}));
  Packet v4 = with_header_checksum(make_udp(pool_, node_ip(2), node_ip(3), 5, 6, 40));
  send_from(2, framed(std::move(v4), header_for(2, 3, 20)));
  send_from(2, framed(make_udp6(pool_, 2, 3, 40, 2), header_for(2, 3, 20)));
  ASSERT_EQ(link3_.packets.size(), 2u);
  const auto inner4 = inner_of(link3_.packets[0]);
  EXPECT_EQ(inner4[8], 63);
  EXPECT_TRUE(ipv4_header_checksum_ok(inner4));
  EXPECT_EQ(inner_of(link3_.packets[1])[7], 1);
  EXPECT_EQ(total_drops(), 0u);
}

TEST_F(ProcessorTest, SinkDoesNotDecrementTheTtl) {
  processor_.set_routes(dual_table(1, {entry(30, 3, 1, {}, true)}));
  send_from(3, framed(make_udp6(pool_, 3, 1, 40, 1), header_for(3, 1, 30)));
  ASSERT_EQ(local_.packets.size(), 1u);
  EXPECT_EQ(local_.packets[0].bytes()[7], 1);
  EXPECT_EQ(total_drops(), 0u);
}

// Node 1 forwards 2 -> 3; the route back to node 2 goes straight to it.
TEST_F(ProcessorTest, ExpiredTtlIsAnsweredWithTimeExceededTowardTheSource) {
  processor_.set_routes(dual_table(1, {entry(20, 2, 3, {3}), entry(40, 1, 2, {2})}));
  Packet v4 = make_udp(pool_, node_ip(2), node_ip(3), 5, 6, 40);
  v4.data()[8] = 1;
  const auto original4 = testing::bytes_of(v4);
  send_from(2, framed(std::move(v4), header_for(2, 3, 20)));
  Packet v6 = make_udp6(pool_, 2, 3, 40, 1);
  const auto original6 = testing::bytes_of(v6);
  send_from(2, framed(std::move(v6), header_for(2, 3, 20)));

  EXPECT_TRUE(link3_.packets.empty());
  EXPECT_EQ(dropped(DropReason::kTtlExpired), 2u);
  EXPECT_EQ(processor_.link_stats(2)->drops[DropReason::kTtlExpired], 2u);
  EXPECT_EQ(processor_.icmp_counters().time_exceeded, 2u);
  ASSERT_EQ(link2_.packets.size(), 2u);

  const auto header4 = read_overlay_header(link2_.packets[0].bytes());
  ASSERT_TRUE(header4);
  EXPECT_EQ(header4->src, 1u);
  EXPECT_EQ(header4->dst, 2u);
  EXPECT_EQ(header4->route_id, 40u);
  const auto error4 = inner_of(link2_.packets[0]);
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(error4, view), IpParseStatus::kOk);
  EXPECT_EQ(view.src_ipv4(), node_ip(1));
  EXPECT_EQ(view.dst_ipv4(), node_ip(2));
  EXPECT_EQ(error4[20], 11);
  EXPECT_TRUE(ipv4_header_checksum_ok(error4));
  EXPECT_TRUE(std::equal(original4.begin(), original4.end(), error4.begin() + 28));

  const auto error6 = inner_of(link2_.packets[1]);
  ASSERT_EQ(parse_ip_packet(error6, view), IpParseStatus::kOk);
  EXPECT_EQ(view.protocol, kIpProtoIcmpv6);
  const Ipv6Address own = node_ip6(1);
  EXPECT_TRUE(std::equal(own.begin(), own.end(), view.src_address.begin()));
  EXPECT_EQ(error6[40], 3);
  EXPECT_TRUE(std::equal(original6.begin(), original6.end(), error6.begin() + 48));
}

// The source node is its host's first router: it decrements the TTL / hop limit of what it
// forwards, and answers a packet whose TTL runs out with Time Exceeded from its own address,
// straight to its host (so `ping -t 1` to a neighbour is not answered by the neighbour).
TEST_F(ProcessorTest, SourceDecrementsTheTtlAndAnswersAnExpiredOneItself) {
  processor_.set_routes(dual_table(1, {entry(10, 1, 3, {2})}));
  Packet two = make_udp(pool_, node_ip(1), node_ip(3), 5, 6, 40);
  two.data()[8] = 2;
  send_local(with_header_checksum(std::move(two)));
  ASSERT_EQ(link2_.packets.size(), 1u);
  const auto inner = inner_of(link2_.packets[0]);
  EXPECT_EQ(inner[8], 1);
  EXPECT_TRUE(ipv4_header_checksum_ok(inner));
  link2_.clear();

  Packet v4 = make_udp(pool_, node_ip(1), node_ip(3), 5, 6, 40);
  v4.data()[8] = 1;
  send_local(std::move(v4));
  send_local(make_udp6(pool_, 1, 3, 40, 1));
  EXPECT_TRUE(link2_.packets.empty());
  EXPECT_EQ(dropped(DropReason::kTtlExpired), 2u);
  EXPECT_EQ(processor_.icmp_counters().time_exceeded, 2u);
  ASSERT_EQ(local_.packets.size(), 2u);
  IpPacketView view;
  const auto error4 = testing::bytes_of(local_.packets[0]);
  ASSERT_EQ(parse_ip_packet(error4, view), IpParseStatus::kOk);
  EXPECT_EQ(view.src_ipv4(), node_ip(1));
  EXPECT_EQ(error4[8], 64) << "an error this node makes leaves with a full TTL";
  EXPECT_EQ(error4[20], 11);
  const auto error6 = testing::bytes_of(local_.packets[1]);
  ASSERT_EQ(parse_ip_packet(error6, view), IpParseStatus::kOk);
  EXPECT_EQ(view.protocol, kIpProtoIcmpv6);
  EXPECT_EQ(error6[40], 3);
}

// Packet counters count wire packets: a GSO super-packet of 5 segments counts 5 on the link
// it leaves by, on the link it arrives on, and in its flow (bytes stay bytes).
TEST_F(ProcessorTest, PacketCountersCountASuperPacketsSegments) {
  PacketPool large(4, 70'000);
  processor_.set_routes(table(1, {entry(10, 1, 2, {2})}));
  Packet super = test_support::make_super_packet(large, {false, true, 5'000, 1000});
  const std::size_t ip_bytes = super.size();
  send_local(std::move(super));
  ASSERT_EQ(link2_.packets.size(), 1u);
  const LinkStats* out = processor_.link_stats(2);
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->tx_packets, 5u);
  EXPECT_EQ(out->tx_bytes, ip_bytes + kOverlayHeaderSize);
  const messages::Metrics metrics = processor_.metrics();
  ASSERT_EQ(metrics.flows.size(), 1u);
  EXPECT_EQ(metrics.flows[0].packets, 5u);
  EXPECT_EQ(metrics.flows[0].bytes, ip_bytes);

  // Node 2 receives it (the overlay header in front) and delivers it to its host.
  Processor sink({2, 32}, pool_);
  CollectSink tun;
  sink.attach_local(&tun);
  sink.set_routes(table(2, {entry(10, 1, 2, {}, true)}));
  PacketBatch batch;
  batch.push(std::move(link2_.packets[0]));
  link2_.clear();
  sink.process_from_link(1, batch);
  ASSERT_EQ(tun.packets.size(), 1u);
  EXPECT_EQ(tun.packets[0].meta().l3_offset, 0u);
  EXPECT_EQ(sink.link_stats(1)->rx_packets, 5u);
  EXPECT_EQ(sink.local_stats().tx_packets, 5u);
  const messages::Metrics received = sink.metrics();
  ASSERT_EQ(received.flows.size(), 1u);
  EXPECT_EQ(received.flows[0].packets, 5u);
}

TEST_F(ProcessorTest, IcmpErrorsAreRateLimited) {
  ProcessorConfig config{1, 32};
  config.icmp_errors_per_s = 1;
  config.icmp_burst = 3;
  Processor limited(config, pool_);
  CollectSink to2;
  limited.attach_link(2, &to2);
  limited.set_routes(dual_table(1, {entry(20, 2, 3, {3}), entry(40, 1, 2, {2})}));
  PacketBatch batch;
  for (int i = 0; i < 10; ++i) {
    Packet packet = make_udp(pool_, node_ip(2), node_ip(3), 5, 6, 40);
    packet.data()[8] = 1;
    batch.push(framed(std::move(packet), header_for(2, 3, 20)));
  }
  limited.process_from_link(2, batch);
  EXPECT_EQ(to2.packets.size(), 3u);
  EXPECT_EQ(limited.icmp_counters().time_exceeded, 3u);
  EXPECT_EQ(limited.icmp_counters().rate_limited, 7u);
  EXPECT_EQ(limited.drops()[DropReason::kTtlExpired], 10u);
  to2.clear();
}

}  // namespace
}  // namespace nextmini::dataplane
