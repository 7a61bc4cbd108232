// Nodes with several workers (NodeConfig::workers = 2), driven by a FakeController: the line
// 1 - 2 - 3, every node with 2 workers. Node 2 owns its two links on different workers, so a
// packet crossing it is received by one worker, processed there and handed to the other (a
// LinkHandoff) for its next link; node 1's injected packets are processed on worker 0 and
// handed to worker 1, which owns its link (the first neighbour goes to worker 1). Interleaved flows
// in both directions must each arrive complete and in order; a rate-limited link's aggregate rate
// must stay its rate; every worker's pools end with no buffer in use.

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "node_test_support.hpp"

namespace nextmini::dataplane {
namespace {

constexpr unsigned kWorkers = 2;

std::string address_of(messages::NodeId node) { return "10.0.0." + std::to_string(node); }

class Workers : public ::testing::Test {
 protected:
  // Brings the line 1 - 2 - 3 up (shortest-path routes both ways); each node hears of its
  // lower neighbour first.
  void bring_up_line() {
    for (int i = 0; i < 3; ++i) {
      nodes_.push_back(std::make_unique<TestNode>(controller_.port(), false, 4096, 0, kWorkers));
      nodes_.back()->start();
      ASSERT_TRUE(run_until(io_, [&] {
        return controller_.connections() == nodes_.size() &&
               !controller_.received(nodes_.size() - 1).empty();
      }));
    }
    std::vector<messages::StartUp> startups;
    for (std::size_t c = 0; c < 3; ++c)
      startups.push_back(std::get<messages::StartUp>(controller_.received(c)[0]));
    for (messages::NodeId self = 1; self <= 3; ++self) {
      const std::size_t connection = self - 1;
      messages::StartUpReply reply;
      reply.node_id = self;
      reply.protocol = "tcp";
      reply.tun_address = address_of(self);
      reply.metrics_interval_ms = 50;
      controller_.send(connection, reply);
      for (messages::NodeId n = 1; n <= 3; ++n)
        controller_.send(connection, messages::AddNodeAddress{n, address_of(n)});
      messages::InstallRoutes routes;
      routes.version = 1;
      messages::RouteId id = 1;
      for (messages::NodeId src = 1; src <= 3; ++src) {
        for (messages::NodeId dst = 1; dst <= 3; ++dst) {
          if (src == dst) continue;
          messages::RouteEntry entry{id++, src, dst, 1, {}, false};
          const bool on_path = (self >= std::min(src, dst) && self <= std::max(src, dst));
          if (!on_path) continue;
          if (self == dst) {
            entry.deliver_local = true;
          } else {
            entry.next_hops = {dst > self ? self + 1 : self - 1};
          }
          routes.routes.push_back(entry);
        }
      }
      controller_.send(connection, routes);
      for (messages::NodeId neighbor : {self - 1, self + 1}) {
        if (neighbor < 1 || neighbor > 3) continue;
        const messages::StartUp& peer = startups[neighbor - 1];
        controller_.send(connection, messages::AddNode{neighbor, peer.underlay_address,
                                                       peer.link_port, self > neighbor});
      }
    }
    ASSERT_TRUE(run_until(io_, [&] {
      for (std::size_t c = 0; c < 3; ++c)
        if (count_of<messages::NodeTopologyReady>(controller_.received(c)) != 1) return false;
      return true;
    }));
  }

  ~Workers() override {
    for (auto& node : nodes_) node->stop();
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      EXPECT_EQ(nodes_[i]->node.buffers_in_use(), 0u) << "node " << i + 1 << " leaked a buffer";
    }
    controller_.close();
    io_.restart();
    io_.run();
  }

  TestNode& node(messages::NodeId id) { return *nodes_[id - 1]; }

  // `flows` interleaved UDP flows from `src` to `dst` (source ports 6000..), `per_flow` packets
  // each, injected in batches on the source node's thread; the payload carries the flow and
  // its sequence number.
  void inject_flows(messages::NodeId src, messages::NodeId dst, int flows, int per_flow,
                    std::size_t payload = 200) {
    std::vector<Bytes> models;
    for (int f = 0; f < flows; ++f) {
      models.push_back(udp_packet(address_of(src).c_str(), address_of(dst).c_str(),
                                  static_cast<std::uint16_t>(6000 + f), 7000,
                                  std::string(payload, 'x')));
    }
    TestNode& from = node(src);
    asio::post(from.node.io_context(), [&from, models, per_flow] {
      PacketBatch batch;
      for (int seq = 0; seq < per_flow; ++seq) {
        for (const Bytes& model : models) {
          Packet packet = from.node.pool().acquire();
          ASSERT_TRUE(packet.valid());
          ASSERT_TRUE(packet.resize(model.size()));
          std::memcpy(packet.data(), model.data(), model.size());
          std::memcpy(packet.data() + 28, &seq, sizeof(seq));
          batch.push(std::move(packet));
          if (batch.full()) {
            from.node.inject_local(batch);
            batch.clear();
          }
        }
      }
      if (!batch.empty()) from.node.inject_local(batch);
    });
  }

  // Checks that `at` received `flows` x `per_flow` packets from `src`, each flow in order.
  void expect_complete_and_in_order(messages::NodeId at, messages::NodeId src, int flows,
                                    int per_flow) {
    std::map<int, std::vector<int>> sequences;  // source port -> sequence numbers as received
    for (const Bytes& packet : node(at).received()) {
      if (packet.size() < 32) continue;
      char source[16] = {};
      ::inet_ntop(AF_INET, packet.data() + 12, source, sizeof(source));
      if (address_of(src) != source) continue;
      int seq = 0;
      std::memcpy(&seq, packet.data() + 28, sizeof(seq));
      sequences[(packet[20] << 8) | packet[21]].push_back(seq);
    }
    ASSERT_EQ(sequences.size(), static_cast<std::size_t>(flows));
    for (const auto& [port, seqs] : sequences) {
      ASSERT_EQ(seqs.size(), static_cast<std::size_t>(per_flow)) << "flow from port " << port;
      for (int i = 0; i < per_flow; ++i) {
        ASSERT_EQ(seqs[i], i) << "flow from port " << port << " out of order at " << i;
      }
    }
  }

  asio::io_context io_;
  FakeController controller_{io_};
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST_F(Workers, InterleavedFlowsCrossATransitNodeCompleteAndInOrderBothWays) {
  bring_up_line();
  for (messages::NodeId id = 1; id <= 3; ++id) EXPECT_EQ(node(id).node.workers(), kWorkers);
  constexpr int kFlows = 8;
  constexpr int kPerFlow = 100;  // 800 packets each way, the 8 flows interleaved
  inject_flows(1, 3, kFlows, kPerFlow);
  inject_flows(3, 1, kFlows, kPerFlow);
  ASSERT_TRUE(run_until(
      io_,
      [&] {
        return node(3).received_count() == kFlows * kPerFlow &&
               node(1).received_count() == kFlows * kPerFlow;
      },
      10s))
      << node(3).received_count() << " at node 3, " << node(1).received_count() << " at node 1";
  expect_complete_and_in_order(3, 1, kFlows, kPerFlow);
  expect_complete_and_in_order(1, 3, kFlows, kPerFlow);
}

// Node 2 hears of neighbour 1 first (worker 1) and of neighbour 3 second (worker 0), so the
// rate-limited link 2 -> 3 gets transit traffic from 1 handed over by worker 1 and node 2's own
// packets (injected on worker 0) at once: one owner shapes both to the link's rate.
TEST_F(Workers, ARateLimitedLinkKeepsItsRateForTrafficFromTwoWorkers) {
  constexpr std::uint64_t kRate = 20'000'000;  // bits/s on 2 -> 3
  constexpr int kFlows = 2;
  // 2 x 400 packets of ~1,000 B from node 1 (they fit its tcp link's send queue of 1,024) and
  // 2 x 800 from node 2 itself: 2,400 packets, ~1 s at 20 Mbit/s.
  constexpr int kFromNode1 = 400;
  constexpr int kFromNode2 = 800;
  bring_up_line();
  messages::LinkParams params;
  params.rate_bps = kRate;
  params.queue_packets = 2 * kFlows * (kFromNode1 + kFromNode2);
  controller_.send(1, messages::SetLinkParams{2, 3, params});
  run_until(
      io_, [] { return false; }, 300ms);  // let node 2 apply it
  inject_flows(1, 3, kFlows, kFromNode1, 1000);
  inject_flows(2, 3, kFlows, kFromNode2, 1000);
  constexpr int kTotal = kFlows * (kFromNode1 + kFromNode2);
  ASSERT_TRUE(run_until(
      io_, [&] { return node(3).received_count() == kTotal; }, 10s))
      << node(3).received_count();
  expect_complete_and_in_order(3, 1, kFlows, kFromNode1);
  expect_complete_and_in_order(3, 2, kFlows, kFromNode2);
  std::lock_guard lock(node(3).mutex);
  const auto& arrivals = node(3).arrivals;
  const double seconds = std::chrono::duration<double>(arrivals.back() - arrivals.front()).count();
  const double bits = (arrivals.size() - 1) * node(3).delivered[0].size() * 8.0;
  std::printf(
      "rate 2 -> 3 (20 Mbit/s configured, traffic from 2 workers): %.3f Mbit/s over %.3f s\n",
      bits / seconds / 1e6, seconds);
  EXPECT_NEAR(bits / seconds / kRate, 1.0, 0.025);
}

}  // namespace
}  // namespace nextmini::dataplane
