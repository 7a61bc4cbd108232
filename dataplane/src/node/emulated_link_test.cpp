// EmulatedLink on a real io_context with a fake transport (a BoundedSink that records what it
// gets and when, with a settable room): the pass-through when no knob is set, delay measured on
// the real clock, timer wake-ups driven by an injected clock, back-pressure from a full
// transport, a rate-limited link sending what its bucket holds as a batch arrives, a transport swap
// that keeps the queued packets, link down, weights from the packet metadata, and refusal of
// invalid params. Every test ends with no buffer in use.

#include "nextmini/dataplane/node/emulated_link.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <vector>

namespace nextmini::dataplane {
namespace {

using namespace std::chrono_literals;

// A transport that keeps what it is sent (with the real monotonic time of arrival).
class FakeTransport final : public BoundedSink {
 public:
  void send(PacketBatch& batch) override {
    ++send_calls;
    std::size_t got = 0;
    for (Packet& packet : batch) {
      if (!packet.valid()) continue;
      arrivals.push_back(monotonic_now_ns());
      packets.push_back(std::move(packet));
      ++got;
    }
    batch.clear();
    if (room != SIZE_MAX) room -= std::min(room, got);
  }
  std::size_t send_room() const noexcept override { return room; }
  void set_room_handler(std::function<void()> handler) override { on_room = std::move(handler); }
  void want_room() noexcept override { wants_room = true; }

  // Frees room (as a completed write would) and calls the handler if it was asked for.
  void free_room(std::size_t n) {
    room += n;
    if (wants_room && on_room) {
      wants_room = false;
      on_room();
    }
  }
  void clear() {
    packets.clear();
    arrivals.clear();
  }

  std::vector<Packet> packets;
  std::vector<TimeNs> arrivals;
  std::size_t room = SIZE_MAX;
  std::size_t send_calls = 0;
  bool wants_room = false;
  std::function<void()> on_room;
};

class EmulatedLinkTest : public ::testing::Test {
 protected:
  ~EmulatedLinkTest() override {
    link.close();
    io.restart();
    io.poll();
    transport.clear();
    other.clear();
    EXPECT_EQ(pool.in_use(), 0u) << "a packet buffer leaked";
  }

  Packet packet(std::size_t size = 1000, std::uint32_t flow_hash = 1) {
    Packet p = pool.acquire();
    EXPECT_TRUE(p.valid());
    p.resize(size);
    p.data()[0] = static_cast<std::uint8_t>(sent_++);
    p.meta().flow_hash = flow_hash;
    return p;
  }
  // Sends `n` packets in one batch; returns the send time.
  TimeNs send(std::size_t n, std::size_t size = 1000) {
    PacketBatch batch;
    for (std::size_t i = 0; i < n; ++i) batch.push(packet(size));
    const TimeNs now = monotonic_now_ns();
    link.send(batch);
    EXPECT_TRUE(batch.empty());
    return now;
  }
  // Runs the io_context until `transport` holds `n` packets or `limit` passes.
  bool run_until(FakeTransport& t, std::size_t n, std::chrono::milliseconds limit = 2s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (t.packets.size() < n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io.restart();  // run_one_for stops the io_context whenever it runs out of work
      io.run_one_for(1ms);
    }
    return true;
  }

  boost::asio::io_context io;
  PacketPool pool{512, 2048};
  FakeTransport transport;
  FakeTransport other;
  EmulatedLink link{io, pool, 42};
  std::size_t sent_ = 0;
};

messages::LinkParams delay_ms(std::uint64_t ms) {
  messages::LinkParams params;
  params.delay_ns = ms * 1'000'000;
  return params;
}

TEST_F(EmulatedLinkTest, WithoutKnobsBatchesGoStraightThrough) {
  link.set_transport(&transport);
  send(5);
  EXPECT_EQ(transport.packets.size(), 5u);  // synchronously, no timer
  EXPECT_EQ(transport.send_calls, 1u);
  EXPECT_FALSE(link.emulated());
  EXPECT_EQ(link.pipeline(), nullptr);
  EXPECT_EQ(link.wakeups(), 0u);
}

TEST_F(EmulatedLinkTest, DelaysEveryPacketByTheConfiguredDelay) {
  link.set_transport(&transport);
  ASSERT_TRUE(link.apply(delay_ms(5)));
  EXPECT_TRUE(link.emulated());
  const TimeNs sent = send(20);
  EXPECT_TRUE(transport.packets.empty());
  ASSERT_TRUE(run_until(transport, 20));
  for (std::size_t i = 0; i < transport.arrivals.size(); ++i) {
    const TimeNs took = transport.arrivals[i] - sent;
    EXPECT_GE(took, 5'000'000u) << i;
    EXPECT_LT(took, 15'000'000u) << i;             // tolerant: a busy machine may wake late
    EXPECT_EQ(transport.packets[i].data()[0], i);  // in order
  }
  EXPECT_GE(link.wakeups(), 1u);
}

TEST_F(EmulatedLinkTest, TimerWakesUpAtTheInjectedClocksTime) {
  std::atomic<TimeNs> fake_now{1'000'000'000};
  EmulatedLink fake(io, pool, 7, [&] { return fake_now.load(); });
  fake.set_transport(&other);
  ASSERT_TRUE(fake.apply(delay_ms(3)));
  PacketBatch batch;
  for (int i = 0; i < 3; ++i) batch.push(packet());
  fake.send(batch);
  EXPECT_TRUE(other.packets.empty());
  // The timer waits 3 ms of real time; when it fires, the injected clock says the delay is
  // over, so everything due is released in that one wake-up.
  fake_now += 3'000'000;
  ASSERT_TRUE(run_until(other, 3));
  EXPECT_EQ(fake.wakeups(), 1u);
  fake.close();
  io.poll();  // the cancelled handler runs while `fake` still exists
}

TEST_F(EmulatedLinkTest, AFullTransportHoldsPacketsInThePipelineInsteadOfDroppingThem) {
  link.set_transport(&transport);
  messages::LinkParams params;
  params.queue_packets = 1000;
  ASSERT_TRUE(link.apply(params));
  transport.room = 10;  // less than a batch: nothing is polled
  send(40);
  EXPECT_TRUE(transport.packets.empty());
  EXPECT_TRUE(transport.wants_room);
  EXPECT_EQ(link.pipeline()->queued_packets(), 40u);
  transport.free_room(1000);
  EXPECT_EQ(transport.packets.size(), 40u);
  EXPECT_EQ(link.pipeline()->queued_packets(), 0u);
  std::uint64_t drops = 0;
  for (auto n : link.pipeline()->counters().drops.counts) drops += n;
  EXPECT_EQ(drops, 0u);
}

TEST_F(EmulatedLinkTest, ATransportSwapKeepsThePipelineAndItsQueuedPackets) {
  link.set_transport(&transport);
  ASSERT_TRUE(link.apply(delay_ms(20)));
  send(8);
  const LinkPipeline* pipeline = link.pipeline();
  link.set_transport(&other);  // e.g. the TcpLink was replaced
  EXPECT_EQ(link.pipeline(), pipeline);
  ASSERT_TRUE(run_until(other, 8));
  EXPECT_TRUE(transport.packets.empty());
  EXPECT_EQ(link.pipeline()->config().delay.delay_ns, 20'000'000u);
}

TEST_F(EmulatedLinkTest, RunTimeChangeKeepsQueuedPacketsAndAppliesToNewOnes) {
  link.set_transport(&transport);
  ASSERT_TRUE(link.apply(delay_ms(2)));
  const TimeNs first = send(5);
  ASSERT_TRUE(link.apply(delay_ms(20)));  // queued packets keep their release time
  const TimeNs second = send(5);
  ASSERT_TRUE(run_until(transport, 10));
  for (std::size_t i = 0; i < 10; ++i) {
    const TimeNs took = transport.arrivals[i] - (i < 5 ? first : second);
    const TimeNs expected = i < 5 ? 2'000'000 : 20'000'000;
    EXPECT_GE(took, expected) << i;
    EXPECT_LT(took, expected + 10'000'000) << i;
    EXPECT_EQ(transport.packets[i].data()[0], i);
  }
  EXPECT_EQ(link.pipeline()->counters().packets_out, 10u);
}

TEST_F(EmulatedLinkTest, LinkDownDropsWhatItHoldsAndEverythingAfter) {
  link.set_transport(&transport);
  ASSERT_TRUE(link.apply(delay_ms(50)));
  send(6);
  messages::LinkParams down;
  down.up = false;
  ASSERT_TRUE(link.apply(down));
  EXPECT_FALSE(link.admin_up());
  send(4);
  io.run_for(60ms);
  EXPECT_TRUE(transport.packets.empty());
  EXPECT_EQ(link.pipeline()->counters().drops[DropReason::kLinkDown], 10u);
  messages::LinkParams up;
  up.up = true;
  ASSERT_TRUE(link.apply(up));
  EXPECT_TRUE(link.admin_up());
  send(1);
  ASSERT_TRUE(run_until(transport, 1));
}

TEST_F(EmulatedLinkTest, NoTransportCountsLinkDown) {
  ASSERT_TRUE(link.apply(delay_ms(0)));
  send(3);
  EXPECT_EQ(link.drops()[DropReason::kLinkDown], 3u);
}

TEST_F(EmulatedLinkTest, InvalidParamsAreRefusedAndChangeNothing) {
  link.set_transport(&transport);
  messages::LinkParams bad;
  bad.loss_percent = 150;
  auto refused = link.apply(bad);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("loss: 150%"), std::string::npos)
      << refused.error().message;
  EXPECT_FALSE(link.emulated());  // a refused first message does not create the pipeline
  ASSERT_TRUE(link.apply(delay_ms(4)));
  messages::LinkParams bad_ge;
  bad_ge.ge_r_percent = 50;  // without a running Gilbert-Elliott model
  bad_ge.delay_ns = 9'000'000;
  ASSERT_FALSE(link.apply(bad_ge));
  EXPECT_EQ(link.pipeline()->config().delay.delay_ns, 4'000'000u);
}

TEST_F(EmulatedLinkTest, WeightFromThePacketMetadataReachesTheScheduler) {
  link.set_transport(&transport);
  messages::LinkParams params;
  params.scheduler = "wrr";
  ASSERT_TRUE(link.apply(params));
  PacketBatch batch;
  Packet p = packet(100, 0xabcd);
  p.meta().flow_weight = 3;
  batch.push(std::move(p));
  link.send(batch);
  EXPECT_EQ(link.pipeline()->flow_weight(0xabcd), 3u);
  EXPECT_EQ(transport.packets.size(), 1u);
}

messages::LinkParams rate_with_queue(std::uint64_t rate_bps, std::uint64_t burst_bytes,
                                     std::uint64_t queue_packets) {
  messages::LinkParams params;
  params.rate_bps = rate_bps;
  params.burst_bytes = burst_bytes;
  params.queue_packets = queue_packets;
  return params;
}

// A TUN read batch larger than a rate-limited link's queue: what the bucket holds reaches the
// transport within send(), the next packet waits for the shaper, the queue holds 20 behind it
// and only the rest is dropped; then one packet a millisecond, in order. Before, the whole batch
// was queued before the shaper let anything go and 44 of the 64 were dropped.
TEST_F(EmulatedLinkTest, ABatchLargerThanTheQueueSendsWhatTheBucketHoldsAtOnce) {
  std::atomic<TimeNs> fake_now{1'000'000'000};
  EmulatedLink fake(io, pool, 7, [&] { return fake_now.load(); });
  fake.set_transport(&other);
  // 8 Mbit/s: a 1000-byte packet a millisecond; a bucket of 10 packets; a queue of 20.
  ASSERT_TRUE(fake.apply(rate_with_queue(8'000'000, 10'000, 20)));
  PacketBatch batch;
  for (std::size_t i = 0; i < PacketBatch::kMaxBatch; ++i) batch.push(packet());
  fake.send(batch);
  ASSERT_EQ(other.packets.size(), 10u);  // at once, no timer
  EXPECT_EQ(fake.pipeline()->counters().drops[DropReason::kLinkQueueFull], 64u - 10u - 1u - 20u);
  EXPECT_EQ(fake.pipeline()->queued_packets(), 21u);
  for (std::size_t i = 1; i <= 21; ++i) {
    fake_now += 1'000'000;
    ASSERT_TRUE(run_until(other, 10 + i)) << i;
    EXPECT_EQ(other.packets.size(), 10 + i);  // one a millisecond
  }
  for (std::size_t i = 0; i < other.packets.size(); ++i)
    EXPECT_EQ(other.packets[i].data()[0], i) << "order";
  EXPECT_EQ(fake.pipeline()->counters().drops[DropReason::kLinkQueueFull], 33u);
  fake.close();
  io.poll();
}

// While the transport has no room for a batch, a rate-limited link sends nothing at enqueue:
// the packets wait in its queue (whose limit decides) and the bucket keeps its tokens for them.
TEST_F(EmulatedLinkTest, ABusyTransportKeepsARateLimitedLinksPacketsInItsQueue) {
  std::atomic<TimeNs> fake_now{1'000'000'000};
  EmulatedLink fake(io, pool, 7, [&] { return fake_now.load(); });
  fake.set_transport(&other);
  ASSERT_TRUE(fake.apply(rate_with_queue(8'000'000, 10'000, 20)));
  other.room = 10;
  PacketBatch batch;
  for (std::size_t i = 0; i < 30; ++i) batch.push(packet());
  fake.send(batch);
  EXPECT_TRUE(other.packets.empty());
  EXPECT_TRUE(other.wants_room);
  EXPECT_EQ(fake.pipeline()->counters().drops[DropReason::kLinkQueueFull], 10u);
  other.free_room(1000);
  ASSERT_EQ(other.packets.size(), 10u);  // the bucket's 10, the first in line
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(other.packets[i].data()[0], i);
  fake.close();
  io.poll();
}

}  // namespace
}  // namespace nextmini::dataplane
