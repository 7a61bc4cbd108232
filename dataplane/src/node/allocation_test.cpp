// "No per-packet allocation", proven (issue 5): this test binary replaces the global operator
// new with a counting one, sends batches of packets through a real in-process line of three
// forwarding stages and asserts that, after a warm-up, 100 batches cross it with exactly zero
// heap allocations.
//   Path: Processor(1).process_local (as a TUN read would) -> EmulatedLink 1->2 -> TcpLink over
//   127.0.0.1 -> TcpLink receive loop -> Processor(2).process_from_link (transit: hop limit,
//   TTL decrement) -> EmulatedLink 2->3 -> TcpLink -> Processor(3) -> local delivery.
//   Run twice: link emulation off, and with a rate (1 Gbit/s) and a delay (1 ms) on both links
//   (scheduler, shaper, delay line and the per-link timer).
//   And over udp links (UdpLink -> UdpTransport on 127.0.0.1, UDP GSO and UDP_GRO) with TSO
//   super-packets from "the TUN": sent as segments without a copy, regrouped by the receiving
//   transport, forwarded and regrouped again.
//   Everything runs on one io_context on the test thread, as on a node's worker: the driver
//   injects the next batch from a handler once the last one has been delivered.
//   Workers (NodeConfig::workers > 1): a third test hands batches from one worker thread to
//   another through a LinkHandoff (SPSC ring + the one posted drain) whose owner releases the
//   buffers back to the producer's pool (its return stack): zero allocations on both threads,
//   and every drain handler in the handoff's own slot (asio takes handler memory with
//   aligned_alloc, which the operator new counter does not see).

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <unordered_map>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "nextmini/dataplane/core/gso.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/node/emulated_link.hpp"
#include "nextmini/dataplane/node/link_handoff.hpp"
#include "nextmini/dataplane/node/processor.hpp"
#include "nextmini/dataplane/route/route_table.hpp"
#include "nextmini/dataplane/transport/link_listener.hpp"
#include "nextmini/dataplane/transport/tcp_link.hpp"
#include "nextmini/dataplane/transport/udp_link.hpp"
#include "nextmini/dataplane/transport/udp_transport.hpp"
#include "processor_test_support.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};

void* counted_alloc(std::size_t size, std::size_t alignment) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else if (::posix_memalign(&p, alignment, size) != 0) {
    p = nullptr;
  }
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace

void* operator new(std::size_t size) { return counted_alloc(size, 0); }
void* operator new[](std::size_t size) { return counted_alloc(size, 0); }
void* operator new(std::size_t size, std::align_val_t a) {
  return counted_alloc(size, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return counted_alloc(size, static_cast<std::size_t>(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted_alloc(size, 0);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace nextmini::dataplane {
namespace {

namespace asio = boost::asio;
using messages::RouteEntry;
using testing::node_ip;

constexpr std::size_t kPacketsPerBatch = 32;
constexpr std::size_t kWarmupBatches = 300;
constexpr std::size_t kMeasuredBatches = 100;
constexpr RouteId kRoute = 10;

// Local delivery at node 3: counts and releases; asks the driver for the next batch.
class CountingSink final : public PacketSink {
 public:
  explicit CountingSink(std::function<void()> on_batch_done) : done_(std::move(on_batch_done)) {}
  void send(PacketBatch& batch) override {
    for (const Packet& packet : batch) {
      // A super-packet stands for its segments.
      received += packet.meta().gso_valid ? GsoSegmenter(packet).segments() : 1;
      bytes += packet.size();
    }
    batch.clear();
    if (received == expected) done_();
  }
  std::uint64_t received = 0;
  std::uint64_t expected = 0;
  std::uint64_t bytes = 0;

 private:
  std::function<void()> done_;
};

std::shared_ptr<const RouteTable> table_for(NodeId self) {
  std::unordered_map<std::uint32_t, NodeId> addresses;
  for (NodeId n = 1; n <= 3; ++n) addresses[node_ip(n)] = n;
  RouteEntry entry;
  entry.route_id = kRoute;
  entry.src = 1;
  entry.dst = 3;
  if (self == 3) {
    entry.deliver_local = true;
  } else {
    entry.next_hops = {self + 1};
  }
  auto built = RouteTable::build(self, addresses, std::vector<RouteEntry>{entry}, 1);
  EXPECT_TRUE(built) << built.error().message;
  return built ? *built : nullptr;
}

// The link self -> neighbor: dialing 127.0.0.1:port when port != 0, else accepting.
TcpLinkConfig link_config(NodeId self, NodeId neighbor, std::uint16_t port) {
  TcpLinkConfig config;
  config.self = self;
  config.neighbor = neighbor;
  config.dial = port != 0;
  config.address = "127.0.0.1";
  config.port = port;
  return config;
}

class Line {
 public:
  explicit Line(bool emulated)
      : pool_(8192, 2048),
        p1_({1, 32}, pool_),
        p2_({2, 32}, pool_),
        p3_({3, 32}, pool_),
        e12_(io_, pool_, 12),
        e23_(io_, pool_, 23),
        sink_([this] { asio::post(io_, [this] { step(); }); }) {
    if (emulated) {
      messages::LinkParams params;
      params.rate_bps = 1'000'000'000;
      params.delay_ns = 1'000'000;
      EXPECT_TRUE(e12_.apply(params));
      EXPECT_TRUE(e23_.apply(params));
    }
    p1_.set_routes(table_for(1));
    p2_.set_routes(table_for(2));
    p3_.set_routes(table_for(3));
    l2_ = std::make_unique<LinkListener>(
        io_, [this](messages::NodeId, asio::ip::tcp::socket s) { t21_->adopt(std::move(s)); });
    l3_ = std::make_unique<LinkListener>(
        io_, [this](messages::NodeId, asio::ip::tcp::socket s) { t32_->adopt(std::move(s)); });
    EXPECT_TRUE(l2_->listen("127.0.0.1", 0));
    EXPECT_TRUE(l3_->listen("127.0.0.1", 0));
    const auto ignore = [](messages::NodeId, PacketBatch& batch) { batch.clear(); };
    t12_ = std::make_unique<TcpLink>(io_, pool_, link_config(1, 2, l2_->port()), ignore);
    t23_ = std::make_unique<TcpLink>(io_, pool_, link_config(2, 3, l3_->port()), ignore);
    t21_ = std::make_unique<TcpLink>(
        io_, pool_, link_config(2, 1, 0),
        [this](messages::NodeId from, PacketBatch& batch) { p2_.process_from_link(from, batch); });
    t32_ = std::make_unique<TcpLink>(
        io_, pool_, link_config(3, 2, 0),
        [this](messages::NodeId from, PacketBatch& batch) { p3_.process_from_link(from, batch); });
    e12_.set_transport(t12_.get());
    e23_.set_transport(t23_.get());
    p1_.attach_link(2, &e12_);
    p2_.attach_link(3, &e23_);
    p3_.attach_local(&sink_);
    t12_->start();
    t23_->start();
  }

  ~Line() {
    e12_.close();
    e23_.close();
    for (TcpLink* link : {t12_.get(), t21_.get(), t23_.get(), t32_.get()}) link->close();
    l2_->close();
    l3_->close();
    io_.restart();
    io_.poll();
  }

  bool connect() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!(t12_->connected() && t21_->connected() && t23_->connected() && t32_->connected())) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      io_.run_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Runs warm-up and measured batches; returns the allocations during the measured ones.
  std::uint64_t run() {
    asio::post(io_, [this] { step(); });
    io_.run_for(std::chrono::seconds(60));
    return measured_allocations_;
  }

  std::size_t batches_done() const { return batches_done_; }
  std::uint64_t received() const { return sink_.received; }
  const Processor& transit() const { return p2_; }
  PacketPool& pool() { return pool_; }

 private:
  // One batch from "the TUN" of node 1: 4 flows, 1000-byte UDP packets, written into pool
  // buffers (as a TUN read would).
  void step() {
    if (sink_.expected != 0) ++batches_done_;  // the previous batch arrived whole
    if (batches_done_ == kWarmupBatches) baseline_ = g_allocations.load();
    if (batches_done_ == kWarmupBatches + kMeasuredBatches) {
      measured_allocations_ = g_allocations.load() - baseline_;
      io_.stop();
      return;
    }
    for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
      batch_.push(testing::make_udp(pool_, node_ip(1), node_ip(3),
                                    static_cast<std::uint16_t>(4000 + i % 4), 5001, 972));
    }
    sink_.expected += kPacketsPerBatch;
    p1_.process_local(batch_);
  }

  asio::io_context io_;
  PacketPool pool_;
  Processor p1_, p2_, p3_;
  EmulatedLink e12_, e23_;
  CountingSink sink_;
  std::unique_ptr<LinkListener> l2_, l3_;
  std::unique_ptr<TcpLink> t12_, t21_, t23_, t32_;
  PacketBatch batch_;
  std::size_t batches_done_ = 0;
  std::uint64_t baseline_ = 0;
  std::uint64_t measured_allocations_ = ~std::uint64_t{0};
};

// The same line over udp links, fed with TCP super-packets (as a TUN with TSO reads them).
class UdpLine {
 public:
  static constexpr std::size_t kSuperPackets = 4;
  static constexpr std::size_t kPayload = 20'000;
  static constexpr std::uint16_t kMss = 1000;

  UdpLine()
      : pool_(8192, 2048),
        large_(256, 70'000),
        p1_({1, 32}, pool_),
        p2_({2, 32}, pool_),
        p3_({3, 32}, pool_),
        e12_(io_, pool_, 12),
        e23_(io_, pool_, 23),
        sink_([this] { asio::post(io_, [this] { step(); }); }),
        u1_(io_, pool_, config(), ignore(), &large_),
        u2_(
            io_, pool_, config(),
            [this](messages::NodeId from, PacketBatch& batch) {
              p2_.process_from_link(from, batch);
            },
            &large_),
        u3_(
            io_, pool_, config(),
            [this](messages::NodeId from, PacketBatch& batch) {
              p3_.process_from_link(from, batch);
            },
            &large_) {
    p1_.set_routes(table_for(1));
    p2_.set_routes(table_for(2));
    p3_.set_routes(table_for(3));
    EXPECT_TRUE(u1_.open() && u2_.open() && u3_.open());
    auto l12 = UdpLink::create(u1_, 2, "127.0.0.1", u2_.port());
    auto l21 = UdpLink::create(u2_, 1, "127.0.0.1", u1_.port());
    auto l23 = UdpLink::create(u2_, 3, "127.0.0.1", u3_.port());
    auto l32 = UdpLink::create(u3_, 2, "127.0.0.1", u2_.port());
    EXPECT_TRUE(l12 && l21 && l23 && l32);
    l12_ = std::move(*l12);
    l21_ = std::move(*l21);
    l23_ = std::move(*l23);
    l32_ = std::move(*l32);
    e12_.set_transport(l12_.get());
    e23_.set_transport(l23_.get());
    p1_.attach_link(2, &e12_);
    p2_.attach_link(3, &e23_);
    p3_.attach_local(&sink_);
    // The super-packets of one batch, built once (the builder allocates).
    for (std::size_t i = 0; i < kSuperPackets; ++i) {
      Packet super = test_support::make_super_packet(large_, {false, true, kPayload, kMss, 0x10});
      super.data()[19] = 3;                             // to node 3 (10.0.0.3)
      super.data()[21] = static_cast<std::uint8_t>(i);  // one flow each (source port)
      templates_.push_back(std::move(super));
    }
  }

  ~UdpLine() {
    templates_.clear();
    e12_.close();
    e23_.close();
    for (UdpLink* link : {l12_.get(), l21_.get(), l23_.get(), l32_.get()}) link->close();
    for (UdpTransport* transport : {&u1_, &u2_, &u3_}) transport->close();
    io_.restart();
    io_.poll();
  }

  std::uint64_t run() {
    asio::post(io_, [this] { step(); });
    io_.run_for(std::chrono::seconds(60));
    return measured_allocations_;
  }

  std::size_t batches_done() const { return batches_done_; }
  std::uint64_t received() const { return sink_.received; }
  std::uint64_t regrouped() const { return u2_.counters().regrouped + u3_.counters().regrouped; }

 private:
  static UdpTransportConfig config() {
    UdpTransportConfig udp;
    udp.listen_address = "127.0.0.1";
    return udp;
  }
  static UdpTransport::ReceiveHandler ignore() {
    return [](messages::NodeId, PacketBatch& batch) { batch.clear(); };
  }

  void step() {
    if (sink_.expected != 0) ++batches_done_;
    if (batches_done_ == kWarmupBatches) baseline_ = g_allocations.load();
    if (batches_done_ == kWarmupBatches + kMeasuredBatches) {
      measured_allocations_ = g_allocations.load() - baseline_;
      io_.stop();
      return;
    }
    for (const Packet& source : templates_) {  // copied as a TUN read would fill a buffer
      Packet super = large_.acquire();
      super.resize(source.size());
      std::memcpy(super.data(), source.data(), source.size());
      super.meta() = source.meta();
      batch_.push(std::move(super));
    }
    sink_.expected += kSuperPackets * (kPayload / kMss);
    p1_.process_local(batch_);
  }

  asio::io_context io_;
  PacketPool pool_;
  PacketPool large_;
  Processor p1_, p2_, p3_;
  EmulatedLink e12_, e23_;
  CountingSink sink_;
  UdpTransport u1_, u2_, u3_;
  std::unique_ptr<UdpLink> l12_, l21_, l23_, l32_;
  std::vector<Packet> templates_;
  PacketBatch batch_;
  std::size_t batches_done_ = 0;
  std::uint64_t baseline_ = 0;
  std::uint64_t measured_allocations_ = ~std::uint64_t{0};
};

void expect_no_allocation(bool emulated) {
  auto line = std::make_unique<Line>(emulated);
  ASSERT_TRUE(line->connect()) << "the links did not connect";
  const std::uint64_t allocations = line->run();
  ASSERT_EQ(line->batches_done(), kWarmupBatches + kMeasuredBatches)
      << "only " << line->received() << " packets arrived";
  EXPECT_EQ(allocations, 0u) << "heap allocations while " << kMeasuredBatches * kPacketsPerBatch
                             << " packets crossed the line";
  EXPECT_EQ(line->transit().drops()[DropReason::kTtlExpired], 0u);
  line.reset();
}

TEST(NoPerPacketAllocation, ThroughTwoTcpLinksWithoutEmulation) { expect_no_allocation(false); }

TEST(NoPerPacketAllocation, ThroughTwoTcpLinksWithRateAndDelay) { expect_no_allocation(true); }

TEST(NoPerPacketAllocation, SuperPacketsThroughTwoUdpLinks) {
  auto line = std::make_unique<UdpLine>();
  const std::uint64_t allocations = line->run();
  ASSERT_EQ(line->batches_done(), kWarmupBatches + kMeasuredBatches)
      << "only " << line->received() << " segments arrived";
  EXPECT_EQ(allocations, 0u) << "heap allocations while "
                             << kMeasuredBatches * UdpLine::kSuperPackets
                             << " super-packets crossed the line";
  // Loopback hands a UDP GSO message over whole: every hop regrouped them.
  EXPECT_GE(line->regrouped(), 2 * (kWarmupBatches + kMeasuredBatches) * UdpLine::kSuperPackets);
  line.reset();
}

// Worker A (a plain thread owning the pool) sends batches to a link owned by worker B (an
// io_context thread); B releases every packet, so each buffer crosses back through the pool's
// return stack. A sends the next batch once B has seen the last one.
TEST(NoPerPacketAllocation, AcrossWorkersThroughALinkHandoff) {
  boost::asio::io_context owner_io;
  auto guard = boost::asio::make_work_guard(owner_io);
  PacketPool pool(1024, 2048);
  std::atomic<std::uint64_t> seen{0};
  class ReleasingSink final : public PacketSink {
   public:
    explicit ReleasingSink(std::atomic<std::uint64_t>& seen) : seen_(seen) {}
    void send(PacketBatch& batch) override {
      const std::size_t n = batch.size();
      batch.clear();  // B releases A's buffers
      seen_.fetch_add(n, std::memory_order_release);
    }

   private:
    std::atomic<std::uint64_t>& seen_;
  } sink(seen);
  LinkHandoff handoff(owner_io, sink);
  std::thread owner([&] { owner_io.run(); });

  std::uint64_t measured = ~std::uint64_t{0};
  std::thread producer([&] {
    pool.bind_to_this_thread();
    PacketBatch batch;
    std::uint64_t baseline = 0;
    for (std::size_t b = 0; b < kWarmupBatches + kMeasuredBatches; ++b) {
      if (b == kWarmupBatches) baseline = g_allocations.load();
      for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
        Packet packet = pool.acquire();
        if (!packet.valid() || !packet.resize(1000)) return;
        batch.push(std::move(packet));
      }
      handoff.send(batch);
      const std::uint64_t target = (b + 1) * kPacketsPerBatch;
      while (seen.load(std::memory_order_acquire) < target) std::this_thread::yield();
    }
    measured = g_allocations.load() - baseline;
  });
  producer.join();
  guard.reset();
  owner.join();
  EXPECT_EQ(seen.load(), (kWarmupBatches + kMeasuredBatches) * kPacketsPerBatch);
  EXPECT_EQ(measured, 0u) << "heap allocations while " << kMeasuredBatches * kPacketsPerBatch
                          << " packets were handed from one worker to another";
  EXPECT_GT(pool.remote_releases(), 0u);
  EXPECT_EQ(handoff.drops()[DropReason::kQueueFull], 0u);
  // Asio takes handler memory with aligned_alloc, which the operator new counter cannot see:
  // every drain's handler must have lived in the handoff's slot instead.
  EXPECT_GE(handoff.drains_posted(), kMeasuredBatches);
  EXPECT_EQ(handoff.drain_slot_misses(), 0u);
  pool.unbind();
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(NoPerPacketAllocation, TheCounterSeesAllocations) {
  // The test can fail: an allocation on the path would be counted.
  const std::uint64_t before = g_allocations.load();
  auto* sink = new std::vector<int>(100);
  delete sink;
  EXPECT_GE(g_allocations.load() - before, 2u);
}

}  // namespace
}  // namespace nextmini::dataplane
