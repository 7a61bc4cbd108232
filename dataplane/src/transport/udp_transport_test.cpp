#include "nextmini/dataplane/transport/udp_transport.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstring>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/test_support/bytes.hpp"
#include "nextmini/test_support/run_until.hpp"

namespace nextmini::dataplane {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using nextmini::test_support::Bytes;
using nextmini::test_support::pattern;
using namespace std::chrono_literals;

using nextmini::dataplane::test_support::ipv4_header_ok;
using nextmini::dataplane::test_support::l4_checksum_ok;
using nextmini::dataplane::test_support::make_super_packet;
using nextmini::dataplane::test_support::prepend_overlay;
using nextmini::dataplane::test_support::SuperPacket;
using nextmini::test_support::run_until;

// Sends `contents` through `sink` in batches of at most kMaxBatch.
void send_all(PacketPool& pool, PacketSink& sink, const std::vector<Bytes>& contents) {
  PacketBatch batch;
  for (const Bytes& bytes : contents) {
    Packet packet = pool.acquire();
    ASSERT_TRUE(packet.valid());
    ASSERT_TRUE(packet.resize(bytes.size()));
    std::memcpy(packet.data(), bytes.data(), bytes.size());
    batch.push(std::move(packet));
    if (batch.full()) sink.send(batch);
  }
  if (!batch.empty()) sink.send(batch);
}

struct Received {
  std::vector<Bytes> packets;
  std::vector<messages::NodeId> from;
  std::vector<messages::NodeId> ingress;
  UdpTransport::ReceiveHandler handler() {
    return [this](messages::NodeId neighbor, PacketBatch& batch) {
      for (Packet& packet : batch) {
        packets.emplace_back(packet.data(), packet.data() + packet.size());
        from.push_back(neighbor);
        ingress.push_back(packet.meta().ingress_neighbor);
      }
      batch.clear();
    };
  }
};

UdpTransportConfig loopback_config(bool gso = true, std::size_t queue = 4096, bool gro = true) {
  UdpTransportConfig config;
  config.listen_address = "127.0.0.1";
  config.gso = gso;
  config.gro = gro;
  config.send_queue_packets = queue;
  return config;
}

// Node 1 and node 2, each with a transport on loopback, peered with each other.
struct Pair {
  explicit Pair(bool gso = true, std::size_t queue = 4096, std::size_t pool_buffers = 1024,
                bool gro = true)
      : pool(pool_buffers, 2048),
        large(32, 70'000),
        one(io, pool, loopback_config(gso, queue, gro), at_one.handler(), &large),
        two(io, pool, loopback_config(gso, queue, gro), at_two.handler(), &large) {
    EXPECT_TRUE(one.open());
    EXPECT_TRUE(two.open());
    EXPECT_TRUE(one.set_peer(2, "127.0.0.1", two.port()));
    EXPECT_TRUE(two.set_peer(1, "127.0.0.1", one.port()));
  }
  ~Pair() {
    one.close();
    two.close();
    io.poll();
    EXPECT_EQ(pool.in_use(), 0u) << "a packet buffer leaked";
    EXPECT_EQ(large.in_use(), 0u) << "a large buffer leaked";
  }

  asio::io_context io;
  PacketPool pool;
  PacketPool large;
  Received at_one;
  Received at_two;
  UdpTransport one;
  UdpTransport two;
};

TEST(UdpTransport, CarriesPacketsOfEverySizeIntactAndInOrder) {
  for (const bool gso : {false, true}) {
    SCOPED_TRACE(gso ? "gso" : "no gso");
    Pair pair(gso);
    std::vector<Bytes> sent;
    for (std::uint32_t i = 0; i < 300; ++i) sent.push_back(pattern(1 + (i * 37) % 1900, i));
    send_all(pair.pool, *pair.one.peer(2), sent);
    ASSERT_TRUE(run_until(pair.io, [&] { return pair.at_two.packets.size() >= sent.size(); }));
    EXPECT_EQ(pair.at_two.packets, sent);
    EXPECT_EQ(pair.at_two.from, std::vector<messages::NodeId>(sent.size(), 1));
    EXPECT_EQ(pair.at_two.ingress, std::vector<messages::NodeId>(sent.size(), 1));
    EXPECT_EQ(pair.one.peer_counters(2)->tx_packets, sent.size());
    EXPECT_EQ(pair.two.peer_counters(1)->rx_packets, sent.size());
  }
}

TEST(UdpTransport, SendsRunsOfEqualSizeAsOneGsoMessage) {
  Pair pair(true);
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 64; ++i) sent.push_back(pattern(1200, i));
  sent.push_back(pattern(300, 99));  // a shorter last segment
  send_all(pair.pool, *pair.one.peer(2), {sent.begin(), sent.begin() + 64});
  send_all(pair.pool, *pair.one.peer(2), {sent.begin() + 64, sent.end()});
  ASSERT_TRUE(run_until(pair.io, [&] { return pair.at_two.packets.size() >= sent.size(); }));
  EXPECT_EQ(pair.at_two.packets, sent);
  // Loopback supports UDP GSO on every kernel that has it (4.18+); these machines have it.
  EXPECT_TRUE(pair.one.counters().gso_enabled);
  EXPECT_GE(pair.one.counters().gso_messages, 1u);
}

TEST(UdpTransport, BothDirectionsAndManyPeers) {
  Pair pair;
  send_all(pair.pool, *pair.one.peer(2), {pattern(100, 1)});
  send_all(pair.pool, *pair.two.peer(1), {pattern(200, 2)});
  ASSERT_TRUE(run_until(
      pair.io, [&] { return pair.at_one.packets.size() == 1 && pair.at_two.packets.size() == 1; }));
  EXPECT_EQ(pair.at_one.packets[0], pattern(200, 2));
  EXPECT_EQ(pair.at_one.from[0], 2u);
  // A third node: node 2 tells the two senders apart by their addresses.
  Received at_three;
  UdpTransport three(pair.io, pair.pool, loopback_config(), at_three.handler());
  ASSERT_TRUE(three.open());
  ASSERT_TRUE(three.set_peer(2, "127.0.0.1", pair.two.port()));
  ASSERT_TRUE(pair.two.set_peer(3, "127.0.0.1", three.port()));
  send_all(pair.pool, *three.peer(2), {pattern(300, 3)});
  ASSERT_TRUE(run_until(pair.io, [&] { return pair.at_two.packets.size() == 2; }));
  EXPECT_EQ(pair.at_two.from[1], 3u);
  three.close();
}

TEST(UdpTransport, DatagramsFromStrangersAreCountedNotDelivered) {
  Pair pair(true, 4096, 1024, /*gro=*/false);  // small receive slots: 3,000 bytes are too big
  udp::socket stranger(pair.io, udp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const udp::endpoint target(asio::ip::make_address("127.0.0.1"), pair.two.port());
  const Bytes junk = pattern(64, 7);
  stranger.send_to(asio::buffer(junk), target);
  stranger.send_to(asio::buffer(junk.data(), 0), target);  // empty
  const Bytes huge(3000, 0xAB);                            // larger than a pool buffer
  stranger.send_to(asio::buffer(huge), target);
  ASSERT_TRUE(run_until(pair.io, [&] {
    const auto& drops = pair.two.counters().drops;
    return drops[DropReason::kUnknownPeer] == 1 && drops[DropReason::kTooShort] == 1 &&
           drops[DropReason::kTooBig] == 1;
  }));
  EXPECT_TRUE(pair.at_two.packets.empty());
}

TEST(UdpTransport, AFullQueueDropsWhatDoesNotFit) {
  Pair pair(true, /*queue=*/4);
  // One batch of 64 into a queue of 4: the 60 that do not fit are dropped kQueueFull (the
  // queue is flushed only after the whole batch is queued).
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 64; ++i) sent.push_back(pattern(100, i));
  send_all(pair.pool, *pair.one.peer(2), sent);
  EXPECT_EQ(pair.one.peer_counters(2)->drops[DropReason::kQueueFull], 60u);
  ASSERT_TRUE(run_until(pair.io, [&] { return pair.at_two.packets.size() == 4; }));
}

TEST(UdpTransport, PeersAreBoundedSinksThatReportRoomAndCallBack) {
  Pair pair(true, /*queue=*/128);
  BoundedSink& sink = *pair.one.peer(2);
  EXPECT_EQ(sink.send_room(), 128u);  // the queue drains at once on an idle socket
  int called = 0;
  sink.set_room_handler([&] { ++called; });
  sink.want_room();
  EXPECT_EQ(called, 0);  // never from inside want_room()
  pair.io.poll();
  EXPECT_EQ(called, 1);
  pair.io.poll();
  EXPECT_EQ(called, 1);  // once per want_room()
  sink.want_room();
  pair.one.close();  // closing answers every waiter: nothing will queue any more
  EXPECT_EQ(called, 2);
  EXPECT_EQ(sink.send_room(), SIZE_MAX);
  EXPECT_GT(pair.two.counters().receive_buffer_bytes, 0);
  EXPECT_GT(pair.two.counters().send_buffer_bytes, 0);
}

// A super-packet as the Processor hands it to a udp link: overlay header (offload fields from
// its meta) in front of a TSO super-packet.
Packet overlay_super_packet(PacketPool& large, const SuperPacket& spec) {
  Packet super = make_super_packet(large, spec);
  prepend_overlay(super);
  return super;
}

// The plain segments software GSO makes of `super` (overlay headers without offload fields,
// complete checksums): what the far node must end up with, however the segments travelled.
std::vector<Bytes> software_segments(PacketPool& pool, const Packet& super) {
  PacketBatch out;
  EXPECT_EQ(gso_segment(super, pool, out, kOverlayHeaderSize), GsoStatus::kOk);
  std::vector<Bytes> segments;
  for (Packet& p : out) segments.emplace_back(p.data(), p.data() + p.size());
  return segments;
}

// A received packet as the Processor makes it plain: overlay offload fields to meta, then
// segmented / completed by software_offload; the bytes of every plain packet.
std::vector<Bytes> made_plain(PacketPool& large, PacketPool& pool, const Bytes& received) {
  Packet packet = large.acquire();
  EXPECT_TRUE(packet.resize(received.size()));
  std::memcpy(packet.data(), received.data(), received.size());
  const auto header = read_overlay_header(packet.bytes());
  EXPECT_TRUE(header);
  PacketMeta& meta = packet.meta();
  const bool offload = (header->flags & kOverlayFlagGso) != 0;
  meta.gso_valid = offload && header->gso_type != 0 && header->gso_size != 0;
  meta.gso_type = header->gso_type;
  meta.gso_size = header->gso_size;
  meta.needs_csum = offload && header->csum_offset != 0;
  meta.csum_start = header->csum_start;
  meta.csum_offset = header->csum_offset;
  std::vector<Bytes> plain;
  software_offload(
      packet, pool, [&](Packet&& p) { plain.emplace_back(p.data(), p.data() + p.size()); },
      kOverlayHeaderSize);
  return plain;
}

// A GSO super-packet crosses as one datagram per segment, its payload never copied by the
// sender; the far side, with UDP_GRO, gets it back as one super-packet (loopback hands the UDP
// GSO message over whole), and without UDP_GRO or UDP GSO as partial-checksum segments. Either
// way, made plain, the bytes are exactly what software GSO would have sent.
TEST(UdpTransport, SuperPacketsCrossWithoutCopiesAndAreRegrouped) {
  struct Case {
    bool gso;
    bool gro;
    bool ipv6;
    bool tcp;
  };
  for (const Case c :
       {Case{true, true, false, true}, Case{true, true, true, true}, Case{true, false, false, true},
        Case{false, true, false, true}, Case{true, true, false, false}}) {
    SCOPED_TRACE(::testing::Message()
                 << "gso " << c.gso << " gro " << c.gro << " ipv6 " << c.ipv6 << " tcp " << c.tcp);
    Pair pair(c.gso, 4096, 1024, c.gro);
    // 64,000 bytes of TCP payload with 1,348-byte segments: 48 segments, more than one UDP GSO
    // message can carry (64 KB), so two messages.
    Packet super = overlay_super_packet(pair.large, {c.ipv6, c.tcp, 64'000, 1348});
    const std::vector<Bytes> expected = software_segments(pair.pool, super);
    ASSERT_EQ(expected.size(), 48u);
    PacketBatch batch;
    batch.push(std::move(super));
    pair.one.peer(2)->send(batch);
    ASSERT_TRUE(run_until(
        pair.io, [&] { return pair.two.peer_counters(1)->rx_packets >= expected.size(); }));
    pair.io.poll();
    std::vector<Bytes> got;
    for (const Bytes& received : pair.at_two.packets) {
      for (Bytes& plain : made_plain(pair.large, pair.pool, received))
        got.push_back(std::move(plain));
    }
    ASSERT_EQ(got.size(), expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i], expected[i]) << "segment " << i;
      // Checked against the reference checksum too, not only against software GSO's bytes.
      const std::uint8_t* ip = got[i].data() + kOverlayHeaderSize;
      const std::size_t ip_size = got[i].size() - kOverlayHeaderSize;
      EXPECT_TRUE(l4_checksum_ok(ip, ip_size, c.ipv6 ? 40 : 20, c.ipv6, c.tcp ? 6 : 17)) << i;
      if (!c.ipv6) EXPECT_TRUE(ipv4_header_ok(ip)) << i;
    }
    EXPECT_EQ(pair.one.peer_counters(2)->tx_packets, 48u);
    if (c.gso && c.gro && c.tcp) {
      // Two GSO messages, each regrouped into one super-packet.
      EXPECT_EQ(pair.at_two.packets.size(), 2u);
      EXPECT_EQ(pair.two.counters().regrouped, 2u);
      EXPECT_TRUE(pair.two.counters().gro_enabled);
    } else {
      EXPECT_EQ(pair.at_two.packets.size(), 48u);
    }
  }
}

TEST(UdpTransport, SuperPacketsWhoseHeadersDoNotParseAreDropped) {
  Pair pair;
  PacketBatch batch;
  Packet super = pair.pool.acquire();
  ASSERT_TRUE(super.resize(1800));
  std::memset(super.data(), 0, 1800);
  super.meta().gso_valid = true;
  super.meta().gso_type = kGsoTypeTcpV4;
  super.meta().gso_size = 600;
  batch.push(std::move(super));
  pair.one.peer(2)->send(batch);
  send_all(pair.pool, *pair.one.peer(2), {pattern(100, 1)});
  ASSERT_TRUE(run_until(pair.io, [&] { return pair.at_two.packets.size() == 1; }));
  EXPECT_EQ(pair.at_two.packets[0], pattern(100, 1));
  EXPECT_EQ(pair.one.peer_counters(2)->drops[DropReason::kBadOffload], 1u);
}

TEST(UdpTransport, AnEmptyPoolDrainsTheSocketAndCounts) {
  asio::io_context io;
  PacketPool sender_pool(64, 2048);
  PacketPool receiver_pool(4, 2048);
  std::vector<Packet> held;  // the receiver keeps every packet, so its pool runs dry
  UdpTransport receiver(io, receiver_pool, loopback_config(),
                        [&](messages::NodeId, PacketBatch& batch) {
                          for (Packet& packet : batch) held.push_back(std::move(packet));
                          batch.clear();
                        });
  Received unused;
  UdpTransport sender(io, sender_pool, loopback_config(), unused.handler());
  ASSERT_TRUE(receiver.open());
  ASSERT_TRUE(sender.open());
  ASSERT_TRUE(sender.set_peer(2, "127.0.0.1", receiver.port()));
  ASSERT_TRUE(receiver.set_peer(1, "127.0.0.1", sender.port()));
  std::vector<Bytes> sent;
  for (std::uint32_t i = 0; i < 10; ++i) sent.push_back(pattern(100, i));
  send_all(sender_pool, *sender.peer(2), sent);
  ASSERT_TRUE(run_until(io, [&] {
    return held.size() + receiver.counters().drops[DropReason::kPoolExhausted] == 10;
  }));
  EXPECT_EQ(held.size(), 4u);
  EXPECT_EQ(receiver.counters().drops[DropReason::kPoolExhausted], 6u);
  held.clear();
  receiver.close();
  sender.close();
  io.poll();
  EXPECT_EQ(receiver_pool.in_use(), 0u);
  EXPECT_EQ(sender_pool.in_use(), 0u);
}

TEST(UdpTransport, RemovedPeerLosesItsQueueAndItsSink) {
  Pair pair;
  pair.one.remove_peer(2);
  EXPECT_EQ(pair.one.peer(2), nullptr);
  EXPECT_EQ(pair.one.peer_counters(2), nullptr);
  send_all(pair.pool, *pair.two.peer(1), {pattern(10, 1)});
  ASSERT_TRUE(
      run_until(pair.io, [&] { return pair.one.counters().drops[DropReason::kUnknownPeer] == 1; }));
}

TEST(UdpTransport, BadAddressesAndBusyPortsAreErrors) {
  asio::io_context io;
  PacketPool pool(128, 2048);
  Received received;
  UdpTransportConfig config = loopback_config();
  config.listen_address = "not-an-ip";
  UdpTransport bad(io, pool, config, received.handler());
  auto opened = bad.open();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "udp.address");

  UdpTransport first(io, pool, loopback_config(), received.handler());
  ASSERT_TRUE(first.open());
  config = loopback_config();
  config.port = first.port();
  UdpTransport second(io, pool, config, received.handler());
  opened = second.open();
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "udp.bind");
  EXPECT_NE(opened.error().message.find("in use"), std::string::npos) << opened.error().message;

  auto peer = first.set_peer(5, "::1", 4000);
  ASSERT_FALSE(peer);
  EXPECT_EQ(peer.error().code, "udp.address");
  first.close();
  io.poll();
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
