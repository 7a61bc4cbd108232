// udp links on the real data path: two real Nodes (no TUN) on 127.0.0.1 told `protocol = "udp"`
// by a FakeController, so every link is a UdpLink over the node's one UDP socket. Checked: packets
// of every size from the smallest IPv4/UDP packet to the MTU cross a rate-limited link intact and
// in order (and both ways); Metrics report a udp link up without any connection and count a
// stranger's datagram as unknown_peer; a neighbour that stops and comes back on the same address
// and port gets traffic again without any reconnect; a GSO super-packet leaves as one datagram
// per segment, each with complete checksums. Every test ends with no packet buffer in use.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"
#include "node_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kPoolBuffers = 4096;
constexpr std::size_t kHeaders = 28;  // IPv4 + UDP
constexpr std::size_t kMtu = 1500;
constexpr std::size_t kSeqOffset = kHeaders;  // a 4-byte sequence number opens every payload

class UdpLinks : public ::testing::Test {
 protected:
  // Brings the line 1 - 2 up over udp links; `params`, if any, is link 1 -> 2's (set before
  // node 1's AddNode, as the controller does). Ports 0: ephemeral.
  void bring_up_line(const std::optional<messages::LinkParams>& params = std::nullopt,
                     std::uint16_t second_port = 0) {
    first_ = std::make_unique<TestNode>(controller_.port(), false, kPoolBuffers);
    first_->start();
    ASSERT_TRUE(run_until(
        io_, [&] { return controller_.connections() == 1 && !controller_.received(0).empty(); }));
    start_second(second_port);
    startup1_ = std::get<messages::StartUp>(controller_.received(0)[0]);
    std::vector<messages::Message> link_params;
    if (params) link_params.push_back(messages::SetLinkParams{1, 2, *params});
    bring_up(controller_, 0, 1, startup2_, link_params, "udp");
    bring_up(controller_, connection2_, 2, startup1_, {}, "udp");
    ASSERT_TRUE(run_until(io_, [&] {
      return count_of<messages::NodeTopologyReady>(controller_.received(0)) == 1 &&
             count_of<messages::NodeTopologyReady>(controller_.received(connection2_)) == 1;
    }));
  }

  // Starts node 2 (again) on its own controller connection and records its StartUp.
  void start_second(std::uint16_t link_port) {
    connection2_ = controller_.connections();
    second_ = std::make_unique<TestNode>(controller_.port(), false, kPoolBuffers, link_port);
    second_->start();
    ASSERT_TRUE(run_until(io_, [&] {
      return controller_.connections() == connection2_ + 1 &&
             !controller_.received(connection2_).empty();
    }));
    startup2_ = std::get<messages::StartUp>(controller_.received(connection2_)[0]);
  }

  ~UdpLinks() override {
    for (TestNode* node : {first_.get(), second_.get()}) {
      if (node == nullptr) continue;
      node->stop();
      EXPECT_EQ(node->node.pool().in_use(), 0u) << "a node leaked a packet buffer";
    }
    controller_.close();
    io_.restart();
    io_.run();
  }

  // A packet from `src` to `dst` of exactly `size` bytes whose payload starts with `seq` and is
  // filled with a pattern of seq.
  static Bytes numbered(const char* src, const char* dst, std::size_t size, std::uint32_t seq) {
    std::string payload(size - kHeaders, '\0');
    for (std::size_t i = 0; i < payload.size(); ++i)
      payload[i] = static_cast<char>((seq * 31 + i) & 0xff);
    Bytes packet = udp_packet(src, dst, 4000, 5000, payload);
    if (packet.size() >= kSeqOffset + 4) std::memcpy(packet.data() + kSeqOffset, &seq, 4);
    return packet;
  }

  // Injects `packets` at `from` in batches of up to 64 (one posted task).
  static void inject_all(TestNode& from, std::vector<Bytes> packets) {
    asio::post(from.node.io_context(), [&from, packets = std::move(packets)] {
      for (std::size_t done = 0; done < packets.size();) {
        PacketBatch batch;
        for (; done < packets.size() && !batch.full(); ++done) {
          Packet packet = from.node.pool().acquire();
          ASSERT_TRUE(packet.valid());
          ASSERT_TRUE(packet.resize(packets[done].size()));
          std::memcpy(packet.data(), packets[done].data(), packets[done].size());
          batch.push(std::move(packet));
        }
        from.node.inject_local(batch);
      }
    });
  }

  // The latest Metrics node `connection` sent (nullopt if none yet).
  std::optional<messages::Metrics> latest_metrics(std::size_t connection) {
    const auto& received = controller_.received(connection);
    for (auto it = received.rbegin(); it != received.rend(); ++it)
      if (const auto* metrics = std::get_if<messages::Metrics>(&*it)) return *metrics;
    return std::nullopt;
  }

  asio::io_context io_;
  test_support::FakeController controller_{io_};
  std::unique_ptr<TestNode> first_;
  std::unique_ptr<TestNode> second_;
  messages::StartUp startup1_;
  messages::StartUp startup2_;
  std::size_t connection2_ = 1;
};

TEST_F(UdpLinks, EveryPacketSizeArrivesIntactAndInOrderUnderARateLimit) {
  constexpr std::uint64_t kRate = 50'000'000;  // bits/s
  std::vector<Bytes> forward;
  std::vector<Bytes> backward;
  std::uint32_t seq = 0;
  for (std::size_t size = kHeaders; size <= kMtu; ++size) {
    forward.push_back(numbered("10.0.0.1", "10.0.0.2", size, seq++));
    if (size % 16 == 0) backward.push_back(numbered("10.0.0.2", "10.0.0.1", size, seq++));
  }
  std::size_t forward_bytes = 0;
  for (const Bytes& packet : forward) forward_bytes += packet.size();
  messages::LinkParams params;
  params.rate_bps = kRate;
  params.queue_packets = forward.size();  // the whole burst waits in the link queue
  bring_up_line(params);

  const auto started = Clock::now();
  inject_all(*first_, forward);
  inject_all(*second_, backward);
  ASSERT_TRUE(run_until(
      io_,
      [&] {
        return second_->received_count() == forward.size() &&
               first_->received_count() == backward.size();
      },
      20s))
      << second_->received_count() << " of " << forward.size() << " forward, "
      << first_->received_count() << " of " << backward.size() << " backward";
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  EXPECT_EQ(second_->received(), routed(forward));  // every byte (but the TTL), in order
  EXPECT_EQ(first_->received(), routed(backward));
  // The rate limit holds on a udp link: the burst cannot cross faster than the configured rate.
  const double expected = static_cast<double>(forward_bytes) * 8 / kRate;
  std::printf("%zu packets (%zu B) over a %.0f Mbit/s udp link in %.3f s (%.3f s at the rate)\n",
              forward.size(), forward_bytes, kRate / 1e6, seconds, expected);
  EXPECT_GE(seconds, expected * 0.9);
  ASSERT_TRUE(run_until(io_, [&] {
    auto metrics = latest_metrics(0);
    if (!metrics) return false;
    for (const auto& link : metrics->links)
      if (link.neighbor == 2 && link.tx_packets >= forward.size()) return true;
    return false;
  })) << "node 1's Metrics never counted its packets on the udp link";
}

TEST_F(UdpLinks, LinksAreUpWithoutAConnectionAndStrangersAreCounted) {
  bring_up_line();
  // A datagram to node 2's link port from a socket that is no neighbour.
  UniqueFd stranger(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(stranger.valid());
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(startup2_.link_port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  const Bytes junk = numbered("10.0.0.9", "10.0.0.2", 100, 0);
  ASSERT_EQ(::sendto(stranger.get(), junk.data(), junk.size(), 0,
                     reinterpret_cast<const sockaddr*>(&to), sizeof to),
            static_cast<ssize_t>(junk.size()));
  ASSERT_TRUE(run_until(io_, [&] {
    auto metrics = latest_metrics(connection2_);
    if (!metrics) return false;
    auto found = metrics->drops.find("unknown_peer");
    return found != metrics->drops.end() && found->second == 1;
  })) << "node 2 did not count the stranger's datagram";
  auto metrics = latest_metrics(connection2_);
  ASSERT_EQ(metrics->links.size(), 1u);
  EXPECT_EQ(metrics->links[0].neighbor, 1u);
  EXPECT_TRUE(metrics->links[0].up);
  EXPECT_EQ(second_->received_count(), 0u);
}

TEST_F(UdpLinks, ANeighbourThatComesBackOnTheSamePortGetsTrafficAgain) {
  bring_up_line();
  const std::uint16_t port = startup2_.link_port;
  inject_all(*first_, {numbered("10.0.0.1", "10.0.0.2", 200, 1)});
  ASSERT_TRUE(run_until(io_, [&] { return second_->received_count() == 1; }));

  // Node 2 goes away: what node 1 sends meanwhile is lost on the underlay (no error, no drop
  // counted at node 1: a udp link has no connection to lose).
  second_->stop();
  EXPECT_EQ(second_->node.pool().in_use(), 0u);
  inject_all(*first_, {numbered("10.0.0.1", "10.0.0.2", 200, 2)});

  // It comes back on the same address and port; the controller names node 1 to it again.
  start_second(port);
  ASSERT_EQ(startup2_.link_port, port);
  bring_up(controller_, connection2_, 2, startup1_, {}, "udp");
  ASSERT_TRUE(run_until(io_, [&] {
    return count_of<messages::NodeTopologyReady>(controller_.received(connection2_)) == 1;
  }));
  inject_all(*first_, {numbered("10.0.0.1", "10.0.0.2", 200, 3)});
  inject_all(*second_, {numbered("10.0.0.2", "10.0.0.1", 300, 4)});
  ASSERT_TRUE(run_until(
      io_, [&] { return second_->received_count() == 1 && first_->received_count() == 1; }));
  EXPECT_EQ(second_->received()[0], routed(numbered("10.0.0.1", "10.0.0.2", 200, 3)));
  EXPECT_EQ(first_->received()[0], routed(numbered("10.0.0.2", "10.0.0.1", 300, 4)));
}

TEST_F(UdpLinks, ASuperPacketLeavesAsSegmentsWithCompleteChecksums) {
  bring_up_line();
  constexpr std::size_t kPayload = 1500;
  constexpr std::uint16_t kMss = 500;
  asio::post(first_->node.io_context(), [this] {
    PacketBatch batch;
    test_support::SuperPacket spec;
    spec.payload = kPayload;
    spec.mss = kMss;
    batch.push(test_support::make_super_packet(first_->node.pool(), spec));
    first_->node.inject_local(batch);
  });
  ASSERT_TRUE(run_until(io_, [&] { return second_->received_count() == kPayload / kMss; }));
  std::uint32_t expected_seq = 0xffffff00;  // make_super_packet's first sequence number
  for (const Bytes& segment : second_->received()) {
    ASSERT_EQ(segment.size(), 20u + 32u + kMss);
    EXPECT_TRUE(test_support::ipv4_header_ok(segment.data()));
    EXPECT_TRUE(test_support::l4_checksum_ok(segment.data(), segment.size(), 20, false, 6));
    EXPECT_EQ(test_support::be32(segment.data() + 24), expected_seq);
    expected_seq += kMss;
  }
}

}  // namespace
}  // namespace nextmini::dataplane
