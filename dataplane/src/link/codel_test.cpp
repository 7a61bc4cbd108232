#include "nextmini/dataplane/link/codel.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "link_test_support.hpp"
#include "nextmini/dataplane/link/fifo_scheduler.hpp"

namespace nextmini::dataplane {
namespace {

constexpr TimeNs kMs = 1'000'000;
const QueueSnapshot kBacklog{.packets = 100, .bytes = 150'000};

// Dequeues one packet per millisecond from `from` to `to` (exclusive) with a fixed sojourn
// time; returns the times CoDel dropped at.
std::vector<TimeNs> run(Codel& codel, TimeNs from, TimeNs to, TimeNs sojourn,
                        QueueSnapshot queue = kBacklog) {
  std::vector<TimeNs> drops;
  for (TimeNs now = from; now < to; now += kMs)
    if (codel.on_dequeue(sojourn, queue, now)) drops.push_back(now);
  return drops;
}

TEST(CodelTest, NeverDropsBelowTarget) {
  Codel codel;
  EXPECT_TRUE(run(codel, 0, 2000 * kMs, 4 * kMs).empty());
  EXPECT_FALSE(codel.dropping());
}

TEST(CodelTest, NeverDropsWithLessThanAnMtuQueued) {
  Codel codel;
  EXPECT_TRUE(run(codel, 0, 2000 * kMs, 50 * kMs, QueueSnapshot{1, 1500}).empty());
}

TEST(CodelTest, DropsAfterAnIntervalAboveTargetThenFasterByTheControlLaw) {
  Codel codel;
  const std::vector<TimeNs> drops = run(codel, 0, 1000 * kMs, 10 * kMs);
  ASSERT_GE(drops.size(), 6u);
  // First above target at t = 0: first drop once a whole interval has passed.
  EXPECT_EQ(drops[0], 100 * kMs);
  // Then drop_next = 100 ms + 100 ms / sqrt(1), + 100 / sqrt(2), + 100 / sqrt(3), ...
  double expected = 100.0;
  for (std::size_t i = 1; i < drops.size(); ++i) {
    expected += 100.0 / std::sqrt(static_cast<double>(i));
    // Dequeues happen every millisecond, so a drop lands on the first tick at or after it.
    EXPECT_EQ(drops[i], static_cast<TimeNs>(std::ceil(expected)) * kMs) << "drop " << i;
  }
  // The gaps shrink with count.
  for (std::size_t i = 2; i < drops.size(); ++i)
    EXPECT_LE(drops[i] - drops[i - 1], drops[i - 1] - drops[i - 2]);
  EXPECT_TRUE(codel.dropping());
  EXPECT_EQ(codel.count(), drops.size());
  EXPECT_EQ(codel.drops(), drops.size());
}

TEST(CodelTest, StopsDroppingOnceSojournFallsBelowTarget) {
  Codel codel;
  ASSERT_FALSE(run(codel, 0, 400 * kMs, 10 * kMs).empty());
  ASSERT_TRUE(codel.dropping());
  EXPECT_FALSE(codel.on_dequeue(1 * kMs, kBacklog, 400 * kMs));
  EXPECT_FALSE(codel.dropping());
  EXPECT_TRUE(run(codel, 401 * kMs, 2000 * kMs, 2 * kMs).empty());
}

TEST(CodelTest, StopsWhenTheQueueEmpties) {
  Codel codel;
  ASSERT_FALSE(run(codel, 0, 300 * kMs, 10 * kMs).empty());
  codel.on_empty(300 * kMs);
  EXPECT_FALSE(codel.dropping());
  // A fresh standing queue must again last a whole interval before the next drop.
  const std::vector<TimeNs> drops = run(codel, 301 * kMs, 1000 * kMs, 10 * kMs);
  ASSERT_FALSE(drops.empty());
  EXPECT_EQ(drops[0], 401 * kMs);
}

TEST(CodelTest, ReentryReusesTheCountWhenRecentAndRestartsOtherwise) {
  Codel codel;
  // First episode: drops at 100, 200, 271, 329, 379 ms: count climbs to 5 (lastcount 1).
  ASSERT_EQ(run(codel, 0, 400 * kMs, 10 * kMs).size(), 5u);
  ASSERT_EQ(codel.count(), 5u);
  EXPECT_FALSE(codel.on_dequeue(0, kBacklog, 400 * kMs));  // leaves the dropping state
  // Standing again right away: after one interval CoDel re-enters with count = 5 - 1 = 4.
  const std::vector<TimeNs> again = run(codel, 401 * kMs, 502 * kMs, 10 * kMs);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], 501 * kMs);
  EXPECT_EQ(codel.count(), 4u);
  EXPECT_EQ(codel.drop_next(), codel.control_law(501 * kMs, 4));

  // The packet after an entry drop is delivered; the next one below target leaves the state.
  EXPECT_FALSE(codel.on_dequeue(0, kBacklog, 502 * kMs));
  EXPECT_FALSE(codel.on_dequeue(0, kBacklog, 503 * kMs));
  EXPECT_FALSE(codel.dropping());
  // Standing again only after more than 16 intervals: the count restarts at 1.
  const std::vector<TimeNs> late = run(codel, 3000 * kMs, 3101 * kMs, 10 * kMs);
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(codel.count(), 1u);
  EXPECT_EQ(codel.drop_next(), late[0] + 100 * kMs);
}

TEST(CodelTest, UnderAFifoOnlyTheStandingQueueIsDroppedAndNothingLeaks) {
  PacketPool pool(2048, 2048);
  {
    FifoScheduler fifo(SchedulerConfig{.limit = QueueLimit{.packets = 1000}},
                       std::make_unique<Codel>());
    // Arrivals every 1.0 ms, departures every 1.25 ms: a queue builds and CoDel drops at
    // dequeue to keep the sojourn time near target.
    const TimeNs arrival_gap = 1'000'000;
    const TimeNs departure_gap = 1'250'000;
    TimeNs next_arrival = 0;
    TimeNs next_departure = 0;
    const TimeNs end = 20'000 * kMs;
    while (next_arrival < end) {
      if (next_arrival <= next_departure) {
        fifo.enqueue(link_test::make_packet(pool, 1500, 1), next_arrival);
        next_arrival += arrival_gap;
      } else {
        Packet packet = fifo.dequeue(next_departure);
        next_departure += departure_gap;
      }
    }
    const auto& drops = fifo.counters().drops;
    EXPECT_GT(drops[DropReason::kAqmDrop], 100u);
    EXPECT_EQ(drops[DropReason::kLinkQueueFull], 0u);
    // Without CoDel the queue would hold 20 s * (1000 - 800)/s = 4000 packets (over the
    // limit); with it the standing queue stays small: well under 100 ms of packets.
    EXPECT_LT(fifo.packets(), 80u);
    EXPECT_EQ(fifo.counters().enqueued_packets,
              fifo.counters().dequeued_packets + drops[DropReason::kAqmDrop] + fifo.packets());
    fifo.drop_all(DropReason::kLinkDown);
    EXPECT_TRUE(fifo.empty());
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

}  // namespace
}  // namespace nextmini::dataplane
