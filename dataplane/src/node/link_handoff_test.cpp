#include "nextmini/dataplane/node/link_handoff.hpp"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>
#include <thread>
#include <vector>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/spsc_ring.hpp"

namespace nextmini::dataplane {
namespace {

TEST(SpscRing, KeepsOrderAcrossTwoThreadsAndRefusesWhenFull) {
  SpscRing<int> ring(3);  // rounded up to 4
  EXPECT_EQ(ring.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.push(int{i}));
  EXPECT_FALSE(ring.push(4));
  int value = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.pop(value));
    EXPECT_EQ(value, i);
  }
  EXPECT_FALSE(ring.pop(value));

  constexpr int kCount = 200'000;
  SpscRing<int> shared(64);
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i) {
      while (!shared.push(int{i})) std::this_thread::yield();
    }
  });
  int expected = 0;
  while (expected < kCount) {
    if (shared.pop(value)) {
      ASSERT_EQ(value, expected);
      ++expected;
    }
  }
  producer.join();
  EXPECT_TRUE(shared.empty());
}

// Records the first byte of every packet the owner's link gets, on the owner's thread.
struct RecordingSink final : PacketSink {
  void send(PacketBatch& batch) override {
    for (Packet& packet : batch) seen.push_back(packet.data()[0] | (packet.data()[1] << 8));
    batch.clear();  // released on the owner's thread: back through the producer pool's stack
  }
  std::vector<int> seen;
};

// A producer worker hands 20,000 packets to a link owned by another worker: all arrive, in
// order, and every buffer returns to the producer's pool.
TEST(LinkHandoff, HandsPacketsToTheOwnerInOrderAndReturnsTheirBuffers) {
  boost::asio::io_context producer_io;
  boost::asio::io_context owner_io;
  auto owner_guard = boost::asio::make_work_guard(owner_io);
  PacketPool pool(512, 256);
  RecordingSink sink;
  LinkHandoff handoff(owner_io, sink, 1024);
  std::thread owner([&] { owner_io.run(); });

  constexpr int kPackets = 20'000;
  std::thread producer([&] {
    pool.bind_to_this_thread();
    int next = 0;
    while (next < kPackets) {
      PacketBatch batch;
      while (!batch.full() && next < kPackets) {
        Packet packet = pool.acquire();
        if (!packet.valid()) break;  // every buffer is on its way: wait for the owner
        packet.resize(2);
        packet.data()[0] = static_cast<std::uint8_t>(next);
        packet.data()[1] = static_cast<std::uint8_t>(next >> 8);
        batch.push(std::move(packet));
        ++next;
      }
      if (batch.empty()) std::this_thread::yield();
      handoff.send(batch);
    }
  });
  producer.join();
  // Drains posted before this one have run once it has.
  std::promise<void> done;
  boost::asio::post(owner_io, [&] { done.set_value(); });
  done.get_future().wait();
  owner_guard.reset();
  owner.join();
  // The ring (1024) holds more than the pool (512): nothing was refused.
  EXPECT_EQ(handoff.drops().counts[static_cast<std::size_t>(DropReason::kQueueFull)], 0u);
  ASSERT_EQ(sink.seen.size(), static_cast<std::size_t>(kPackets));
  for (int i = 0; i < kPackets; ++i) ASSERT_EQ(sink.seen[i], i & 0xffff) << i;
  EXPECT_GT(pool.remote_releases(), 0u);
  EXPECT_EQ(handoff.handed_off(), static_cast<std::uint64_t>(kPackets));
  pool.unbind();
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.growths(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
