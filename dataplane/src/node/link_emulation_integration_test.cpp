// Link emulation on the real data path: two real Nodes (no TUN) joined by a real link on
// 127.0.0.1 — every test runs over tcp links and over udp links (the emulation sits before the
// transport and must behave the same on both), driven by a FakeController that sends SetLinkParams
// like the controller (before AddNode, and at run time). Packets are injected at node 1 with
// inject_local, each carrying its injection time and a sequence number, and received at node 2
// through local_delivery. Measured: a 20 ms delay on 1 -> 2 (and none on 2 -> 1), a rate limit over
// ~1 s of traffic, a run-time change of delay without a lost packet, link down dropping everything
// (and reported in Metrics), and an invalid SetLinkParams answered with an ErrorMessage. Bounds are
// tolerant (a busy 2-core machine); every test ends with no packet buffer in use.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "node_test_support.hpp"

namespace nextmini::dataplane {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kStampOffset = 28;  // after the IPv4 and UDP headers
constexpr std::size_t kPoolBuffers = 4096;

std::int64_t ns_of(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

struct Stamp {
  std::int64_t sent_ns = 0;
  std::uint32_t seq = 0;
};

Stamp stamp_of(const Bytes& packet) {
  Stamp stamp;
  std::memcpy(&stamp.sent_ns, packet.data() + kStampOffset, sizeof(stamp.sent_ns));
  std::memcpy(&stamp.seq, packet.data() + kStampOffset + 8, sizeof(stamp.seq));
  return stamp;
}

// The links' protocol and the nodes' workers: with 2, node 1's Processor (worker 0, where
// inject() runs) hands its packets to worker 1, which owns the link and its emulation.
struct LinkSetup {
  std::string protocol;
  unsigned workers = 1;
};

class LinkEmulation : public ::testing::TestWithParam<LinkSetup> {
 protected:
  // Brings the line 1 - 2 up; `params` (if any) is what node 1 hears for link 1 -> 2 before its
  // AddNode, as from the controller.
  void bring_up_line(const std::optional<messages::LinkParams>& params = std::nullopt) {
    first_ =
        std::make_unique<TestNode>(controller_.port(), false, kPoolBuffers, 0, GetParam().workers);
    second_ =
        std::make_unique<TestNode>(controller_.port(), false, kPoolBuffers, 0, GetParam().workers);
    first_->start();
    ASSERT_TRUE(run_until(
        io_, [&] { return controller_.connections() == 1 && !controller_.received(0).empty(); }));
    second_->start();
    ASSERT_TRUE(run_until(
        io_, [&] { return controller_.connections() == 2 && !controller_.received(1).empty(); }));
    const auto startup1 = std::get<messages::StartUp>(controller_.received(0)[0]);
    const auto startup2 = std::get<messages::StartUp>(controller_.received(1)[0]);
    std::vector<messages::Message> link_params;
    if (params) link_params.push_back(messages::SetLinkParams{1, 2, *params});
    bring_up(controller_, 0, 1, startup2, link_params, GetParam().protocol);
    bring_up(controller_, 1, 2, startup1, {}, GetParam().protocol);
    ASSERT_TRUE(run_until(io_, [&] {
      return count_of<messages::NodeTopologyReady>(controller_.received(0)) == 1 &&
             count_of<messages::NodeTopologyReady>(controller_.received(1)) == 1;
    }));
  }

  ~LinkEmulation() override {
    if (first_) first_->stop();
    if (second_) second_->stop();
    if (first_) {
      EXPECT_EQ(first_->node.buffers_in_use(), 0u) << "node 1 leaked a packet buffer";
    }
    if (second_) {
      EXPECT_EQ(second_->node.buffers_in_use(), 0u) << "node 2 leaked a packet buffer";
    }
    controller_.close();
    io_.restart();
    io_.run();
  }

  // Injects `count` packets of `payload` bytes at `from` (in batches of up to 64, one posted
  // task), each stamped on the node's thread with the time and the next sequence number.
  void inject(TestNode& from, const char* src, const char* dst, std::size_t count,
              std::size_t payload = 100, std::uint16_t src_port = 4000) {
    const Bytes model = udp_packet(src, dst, src_port, 5000, std::string(payload, 'x'));
    const std::uint32_t first_seq = next_seq_;
    next_seq_ += static_cast<std::uint32_t>(count);
    asio::post(from.node.io_context(), [&from, model, count, first_seq] {
      for (std::size_t done = 0; done < count;) {
        PacketBatch batch;
        for (; done < count && !batch.full(); ++done) {
          Packet packet = from.node.pool().acquire();
          ASSERT_TRUE(packet.valid());
          ASSERT_TRUE(packet.resize(model.size()));
          std::memcpy(packet.data(), model.data(), model.size());
          const std::int64_t now = ns_of(Clock::now());
          const std::uint32_t seq = first_seq + static_cast<std::uint32_t>(done);
          std::memcpy(packet.data() + kStampOffset, &now, sizeof(now));
          std::memcpy(packet.data() + kStampOffset + 8, &seq, sizeof(seq));
          batch.push(std::move(packet));
        }
        from.node.inject_local(batch);
      }
    });
  }

  // One-way delays (ms) of what `at` received, in arrival order.
  static std::vector<double> delays_ms(TestNode& at) {
    std::lock_guard lock(at.mutex);
    std::vector<double> delays;
    for (std::size_t i = 0; i < at.delivered.size(); ++i)
      delays.push_back((ns_of(at.arrivals[i]) - stamp_of(at.delivered[i]).sent_ns) / 1e6);
    return delays;
  }

  static double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values.empty() ? 0 : values[values.size() / 2];
  }

  void set_link(const messages::LinkParams& params) {
    controller_.send(0, messages::SetLinkParams{1, 2, params});
  }

  // The latest Metrics entry node 1 sent for its link to node 2 (nullptr if none yet).
  const messages::LinkCounters* latest_link_metrics() {
    const auto& received = controller_.received(0);
    for (auto it = received.rbegin(); it != received.rend(); ++it) {
      const auto* metrics = std::get_if<messages::Metrics>(&*it);
      if (metrics == nullptr) continue;
      for (const auto& link : metrics->links)
        if (link.neighbor == 2) return &link;
    }
    return nullptr;
  }

  asio::io_context io_;
  FakeController controller_{io_};
  std::unique_ptr<TestNode> first_;
  std::unique_ptr<TestNode> second_;
  std::uint32_t next_seq_ = 0;
};

messages::LinkParams delay_ms(std::uint64_t ms) {
  messages::LinkParams params;
  params.delay_ns = ms * 1'000'000;
  return params;
}

TEST_P(LinkEmulation, DelaySetBeforeTheLinkExistsDelaysThatDirectionOnly) {
  bring_up_line(delay_ms(20));
  for (int i = 0; i < 40; ++i) {
    inject(*first_, "10.0.0.1", "10.0.0.2", 1);
    inject(*second_, "10.0.0.2", "10.0.0.1", 1);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(run_until(
      io_, [&] { return second_->received_count() == 40 && first_->received_count() == 40; }));
  const auto forward = delays_ms(*second_);
  const auto backward = delays_ms(*first_);
  std::printf("one-way delay 1 -> 2 (20 ms configured): median %.3f ms; 2 -> 1: %.3f ms\n",
              median(forward), median(backward));
  EXPECT_GE(*std::min_element(forward.begin(), forward.end()), 20.0);
  EXPECT_NEAR(median(forward), 20.0, 1.5);  // a loaded machine may wake the timer late
  EXPECT_LT(median(backward), 5.0);         // 2 -> 1 has no emulation
}

TEST_P(LinkEmulation, RateLimitHoldsOverASecondOfTraffic) {
  constexpr std::uint64_t kRate = 20'000'000;  // bits/s
  constexpr std::size_t kPayload = 1000;
  constexpr std::size_t kPackets = 2500;  // ~1.06 s at 20 Mbit/s
  messages::LinkParams params;
  params.rate_bps = kRate;
  params.queue_packets = kPackets;
  bring_up_line(params);
  inject(*first_, "10.0.0.1", "10.0.0.2", kPackets, kPayload);
  ASSERT_TRUE(run_until(
      io_, [&] { return second_->received_count() == kPackets; }, 10s))
      << second_->received_count();
  std::lock_guard lock(second_->mutex);
  const double seconds = (ns_of(second_->arrivals.back()) - ns_of(second_->arrivals.front())) / 1e9;
  // The rate applies to the IP packets (the overlay header in front is not counted).
  const double link_bits = (kPackets - 1) * second_->delivered[0].size() * 8.0;
  const double measured = link_bits / seconds;
  std::printf("rate 1 -> 2 (20 Mbit/s configured): %.3f Mbit/s over %.3f s\n", measured / 1e6,
              seconds);
  EXPECT_NEAR(measured / kRate, 1.0, 0.025) << measured << " bit/s over " << seconds << " s";
}

TEST_P(LinkEmulation, RunTimeDelayChangeAppliesAtOnceAndLosesNothing) {
  bring_up_line(delay_ms(10));
  constexpr int kPackets = 150;
  Clock::time_point changed;
  for (int i = 0; i < kPackets; ++i) {
    if (i == kPackets / 2) {
      set_link(delay_ms(40));
      changed = Clock::now();
    }
    inject(*first_, "10.0.0.1", "10.0.0.2", 1);
    std::this_thread::sleep_for(2ms);
    io_.poll();  // the controller's writes
  }
  ASSERT_TRUE(run_until(io_, [&] { return second_->received_count() == kPackets; }));
  std::lock_guard lock(second_->mutex);
  std::uint32_t late = 0;
  for (std::size_t i = 0; i < second_->delivered.size(); ++i) {
    const Stamp stamp = stamp_of(second_->delivered[i]);
    EXPECT_EQ(stamp.seq, i) << "lost or reordered";
    const double delay = (ns_of(second_->arrivals[i]) - stamp.sent_ns) / 1e6;
    if (stamp.sent_ns < ns_of(changed)) {
      EXPECT_GE(delay, 10.0) << i;
      EXPECT_LT(delay, 40.0) << i;  // sent before the change: the old delay (no reordering)
    } else if (stamp.sent_ns > ns_of(changed + 20ms)) {  // well within a control round trip
      EXPECT_GE(delay, 40.0) << i;
      EXPECT_LT(delay, 45.0) << i;
      ++late;
    }
  }
  EXPECT_GT(late, 40u);
}

TEST_P(LinkEmulation, LinkDownDropsEverythingAndIsReportedUntilItComesBack) {
  bring_up_line(delay_ms(100));
  inject(*first_, "10.0.0.1", "10.0.0.2", 20);
  std::this_thread::sleep_for(20ms);  // queued in the delay line
  messages::LinkParams down;
  down.up = false;
  set_link(down);
  ASSERT_TRUE(run_until(io_, [&] {
    const auto* link = latest_link_metrics();
    return link != nullptr && !link->up;
  }));
  inject(*first_, "10.0.0.1", "10.0.0.2", 10);
  ASSERT_TRUE(run_until(io_, [&] {
    const auto* link = latest_link_metrics();
    return link != nullptr && link->drops.contains("link_down") &&
           link->drops.at("link_down") == 30;
  }));
  EXPECT_EQ(second_->received_count(), 0u);
  EXPECT_EQ(latest_link_metrics()->queued_packets, 0u);

  messages::LinkParams up = delay_ms(1);
  up.up = true;
  set_link(up);
  ASSERT_TRUE(run_until(io_, [&] {
    const auto* link = latest_link_metrics();
    return link != nullptr && link->up;
  }));
  inject(*first_, "10.0.0.1", "10.0.0.2", 5);
  ASSERT_TRUE(run_until(io_, [&] { return second_->received_count() == 5; }));
}

TEST_P(LinkEmulation, InvalidParamsAreAnsweredWithAnErrorAndChangeNothing) {
  bring_up_line(delay_ms(15));
  messages::LinkParams bad = delay_ms(1);
  bad.loss_percent = 150;
  set_link(bad);
  ASSERT_TRUE(run_until(
      io_, [&] { return count_of<messages::ErrorMessage>(controller_.received(0)) == 1; }));
  for (const auto& message : controller_.received(0)) {
    if (const auto* error = std::get_if<messages::ErrorMessage>(&message)) {
      EXPECT_EQ(error->code, "link_params.invalid");
      EXPECT_NE(error->message.find("loss: 150%"), std::string::npos) << error->message;
      EXPECT_NE(error->message.find("150"), std::string::npos) << error->message;
      EXPECT_EQ(error->in_reply_to, "SetLinkParams");
    }
  }
  // Not node 1's link: refused too.
  controller_.send(0, messages::SetLinkParams{2, 1, delay_ms(1)});
  ASSERT_TRUE(run_until(
      io_, [&] { return count_of<messages::ErrorMessage>(controller_.received(0)) == 2; }));
  inject(*first_, "10.0.0.1", "10.0.0.2", 5);
  ASSERT_TRUE(run_until(io_, [&] { return second_->received_count() == 5; }));
  for (double delay : delays_ms(*second_)) EXPECT_GE(delay, 15.0);  // the delay did not change
}

TEST_P(LinkEmulation, FlowWeightSetAtTheSourceWeighsTheFlowOnAWrrLink) {
  messages::LinkParams params;
  params.rate_bps = 10'000'000;
  params.scheduler = "wrr";
  params.queue_packets = 4000;
  bring_up_line(params);
  // Flow B (source port 4002) gets weight 2 at node 1, flow A (4001) keeps weight 1.
  const Bytes flow_b = udp_packet("10.0.0.1", "10.0.0.2", 4002, 5000, "");
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(std::span<const std::uint8_t>(flow_b), view), IpParseStatus::kOk);
  asio::post(first_->node.io_context(),
             [&, key = FlowKey::from(view)] { first_->node.set_flow_weight(key, 2); });
  for (int round = 0; round < 15; ++round) {  // both flows backlogged from the start
    inject(*first_, "10.0.0.1", "10.0.0.2", 64, 1000, 4001);
    inject(*first_, "10.0.0.1", "10.0.0.2", 64, 1000, 4002);
  }
  ASSERT_TRUE(run_until(
      io_, [&] { return second_->received_count() >= 900; }, 10s));
  std::lock_guard lock(second_->mutex);
  std::size_t a = 0;
  std::size_t b = 0;
  for (std::size_t i = 100; i < 900; ++i) {  // after the first (unshaped) burst
    const Bytes& packet = second_->delivered[i];
    const std::uint16_t port = static_cast<std::uint16_t>((packet[20] << 8) | packet[21]);
    (port == 4002 ? b : a) += 1;
  }
  std::printf("wrr weights 1:2 over 10 Mbit/s: %zu vs %zu packets (ratio %.3f)\n", a, b,
              static_cast<double>(b) / static_cast<double>(a));
  EXPECT_NEAR(static_cast<double>(b) / static_cast<double>(a), 2.0, 0.2);
}

INSTANTIATE_TEST_SUITE_P(Protocols, LinkEmulation,
                         ::testing::Values(LinkSetup{"tcp", 1}, LinkSetup{"udp", 1},
                                           LinkSetup{"tcp", 2}, LinkSetup{"udp", 2}),
                         [](const auto& info) {
                           return info.param.workers == 1
                                      ? info.param.protocol
                                      : info.param.protocol + "_" +
                                            std::to_string(info.param.workers) + "_workers";
                         });

}  // namespace
}  // namespace nextmini::dataplane
