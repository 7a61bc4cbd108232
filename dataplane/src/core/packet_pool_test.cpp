#include "nextmini/dataplane/core/packet_pool.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace nextmini::dataplane {
namespace {

TEST(PacketPool, HandsOutDistinctBuffersWithHeadroomUntilEmpty) {
  PacketPool pool(3, 256, 64);
  std::vector<Packet> held;
  std::set<const std::uint8_t*> buffers;
  for (int i = 0; i < 3; ++i) {
    Packet packet = pool.acquire();
    ASSERT_TRUE(packet.valid());
    EXPECT_EQ(packet.headroom(), 64u);
    EXPECT_EQ(packet.size(), 0u);
    EXPECT_EQ(packet.room(), 256u - 64u);
    buffers.insert(packet.data());
    held.push_back(std::move(packet));
  }
  EXPECT_EQ(buffers.size(), 3u);
  EXPECT_EQ(pool.in_use(), 3u);
  EXPECT_FALSE(pool.acquire().valid());  // no growth limit: bounded at 3
  EXPECT_EQ(pool.exhausted(), 1u);
  EXPECT_EQ(pool.growths(), 0u);
  held.pop_back();
  EXPECT_EQ(pool.in_use(), 2u);
  EXPECT_TRUE(pool.acquire().valid());
  EXPECT_EQ(pool.peak_in_use(), 3u);
}

TEST(PacketPool, GrowsInChunksUpToItsLimitAndNoFurther) {
  PacketPool pool(4, 128, 16);
  pool.set_growth_limit(10);
  std::vector<Packet> held;
  for (int i = 0; i < 10; ++i) {
    held.push_back(pool.acquire());
    ASSERT_TRUE(held.back().valid()) << i;
    std::memset(held.back().data(), i, held.back().room());  // every buffer is writable
  }
  // 4, then a chunk of 4 (the pool's size), then the 2 the limit leaves.
  EXPECT_EQ(pool.capacity(), 10u);
  EXPECT_EQ(pool.growths(), 2u);
  EXPECT_EQ(pool.exhausted(), 0u);
  EXPECT_FALSE(pool.acquire().valid());
  EXPECT_EQ(pool.exhausted(), 1u);
  // Buffers of every chunk go back to the pool and are handed out again.
  held.clear();
  EXPECT_EQ(pool.in_use(), 0u);
  for (int i = 0; i < 10; ++i) held.push_back(pool.acquire());
  EXPECT_EQ(pool.capacity(), 10u);
  EXPECT_EQ(pool.growths(), 2u);
  held.clear();
}

TEST(PacketPool, BuffersReleasedOnAnotherThreadComeBackToTheOwner) {
  PacketPool pool(4, 128, 16);
  pool.bind_to_this_thread();
  std::vector<Packet> held;
  std::set<const std::uint8_t*> buffers;
  for (int i = 0; i < 4; ++i) {
    held.push_back(pool.acquire());
    buffers.insert(held.back().data());
  }
  EXPECT_FALSE(pool.acquire().valid());
  // Another worker drops the packets: they return through the pool's return stack.
  std::thread other([&held] { held.clear(); });
  other.join();
  EXPECT_EQ(pool.remote_releases(), 4u);
  EXPECT_EQ(pool.in_use(), 0u);
  // The owner gets the same buffers back (no growth, nothing lost).
  for (int i = 0; i < 4; ++i) {
    held.push_back(pool.acquire());
    ASSERT_TRUE(held.back().valid()) << i;
    EXPECT_TRUE(buffers.contains(held.back().data()));
  }
  EXPECT_EQ(pool.capacity(), 4u);
  held.pop_back();  // on the owner: released in place
  EXPECT_EQ(pool.remote_releases(), 4u);
  EXPECT_EQ(pool.in_use(), 3u);
  held.clear();
}

TEST(PacketPool, ManyThreadsReleasingAtOnceLoseNoBuffer) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  PacketPool pool(kThreads * kPerThread, 64, 16);
  pool.bind_to_this_thread();
  std::vector<std::vector<Packet>> held(kThreads);
  for (auto& packets : held)
    for (int i = 0; i < kPerThread; ++i) packets.push_back(pool.acquire());
  std::vector<std::thread> threads;
  for (auto& packets : held) threads.emplace_back([&packets] { packets.clear(); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.remote_releases(), static_cast<std::uint64_t>(kThreads * kPerThread));
  std::set<const std::uint8_t*> buffers;
  std::vector<Packet> again;
  for (int i = 0; i < kThreads * kPerThread; ++i) {
    again.push_back(pool.acquire());
    ASSERT_TRUE(again.back().valid());
    buffers.insert(again.back().data());
  }
  EXPECT_EQ(buffers.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(pool.growths(), 0u);
  pool.unbind();
  again.clear();
}

TEST(PacketPool, ALimitBelowCapacityChangesNothing) {
  PacketPool pool(2, 128);
  pool.set_growth_limit(1);
  Packet a = pool.acquire();
  Packet b = pool.acquire();
  EXPECT_FALSE(pool.acquire().valid());
  EXPECT_EQ(pool.capacity(), 2u);
}

}  // namespace
}  // namespace nextmini::dataplane
