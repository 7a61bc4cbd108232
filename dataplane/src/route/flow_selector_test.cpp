#include "nextmini/dataplane/route/flow_selector.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <vector>

namespace nextmini::dataplane {
namespace {

// Distinct, well-spread flow hashes (what FlowKey::hash() produces for distinct flows).
std::uint64_t flow(std::uint64_t i) {
  std::uint64_t x = i * 0x9e3779b97f4a7c15ULL + 1;
  x ^= x >> 29;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 32;
  return x;
}

std::map<RouteId, int> shares(const std::vector<RouteChoice>& choices, int flows) {
  std::map<RouteId, int> count;
  for (int i = 0; i < flows; ++i) ++count[*FlowSelector::rendezvous(flow(i), choices)];
  return count;
}

TEST(FlowSelector, NoCandidateNoRoute) {
  FlowSelector selector(64);
  EXPECT_FALSE(selector.select(flow(1), 3, {}));
  EXPECT_FALSE(FlowSelector::rendezvous(flow(1), {}));
}

TEST(FlowSelector, DeterministicAcrossInstancesAndOrder) {
  const std::vector<RouteChoice> a = {{1, 1}, {2, 1}, {3, 2}};
  const std::vector<RouteChoice> b = {{3, 2}, {1, 1}, {2, 1}};
  FlowSelector one(256);
  FlowSelector two(1024);
  for (int i = 0; i < 1000; ++i) {
    const auto r = one.select(flow(i), 3, a);
    ASSERT_TRUE(r);
    EXPECT_EQ(r, two.select(flow(i), 3, b));
    EXPECT_EQ(r, FlowSelector::rendezvous(flow(i), a));
  }
}

TEST(FlowSelector, EqualWeightsSpreadEvenly) {
  const auto count = shares({{10, 1}, {20, 1}, {30, 1}, {40, 1}}, 10000);
  ASSERT_EQ(count.size(), 4u);
  for (const auto& [route, n] : count) {
    EXPECT_NEAR(n, 2500, 250) << "route " << route;
  }
}

TEST(FlowSelector, WeightsAreRoughlyRespected) {
  const auto count = shares({{1, 1}, {2, 3}, {3, 6}}, 10000);
  EXPECT_NEAR(count.at(1), 1000, 200);
  EXPECT_NEAR(count.at(2), 3000, 300);
  EXPECT_NEAR(count.at(3), 6000, 300);
}

TEST(FlowSelector, ZeroWeightIsNeverChosenUnlessAllAreZero) {
  auto count = shares({{1, 0}, {2, 1}}, 2000);
  EXPECT_EQ(count.count(1), 0u);
  EXPECT_EQ(count.at(2), 2000);
  count = shares({{1, 0}, {2, 0}}, 2000);
  EXPECT_GT(count.at(1), 700);
  EXPECT_GT(count.at(2), 700);
}

TEST(FlowSelector, AddingARouteMovesOnlyFlowsToIt) {
  const std::vector<RouteChoice> before = {{1, 1}, {2, 1}};
  const std::vector<RouteChoice> after = {{1, 1}, {2, 1}, {3, 1}};
  int moved = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto old_route = FlowSelector::rendezvous(flow(i), before);
    const auto new_route = FlowSelector::rendezvous(flow(i), after);
    if (old_route != new_route) {
      EXPECT_EQ(*new_route, 3u);
      ++moved;
    }
  }
  EXPECT_NEAR(moved, 1000, 200);
}

TEST(FlowSelector, PinsSurviveReinstallThatAddsRoutes) {
  FlowSelector selector(16384);  // room for every flow: the table is a set-associative cache
  const std::vector<RouteChoice> before = {{1, 1}, {2, 1}};
  std::vector<RouteId> first(1000);
  for (int i = 0; i < 1000; ++i) first[i] = *selector.select(flow(i), 7, before);
  // Reinstall: a heavy new route appears. Stateless hashing would move most flows...
  const std::vector<RouteChoice> after = {{1, 1}, {2, 1}, {3, 8}};
  int would_move = 0;
  for (int i = 0; i < 1000; ++i) {
    if (FlowSelector::rendezvous(flow(i), after) != first[i]) ++would_move;
  }
  EXPECT_GT(would_move, 500);
  // ...but pinned flows stay put, and new flows use the new route.
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(selector.select(flow(i), 7, after), first[i]);
  EXPECT_EQ(selector.evictions(), 0u);
  EXPECT_EQ(selector.pin_hits(), 1000u);
  int new_on_3 = 0;
  for (int i = 1000; i < 2000; ++i) new_on_3 += selector.select(flow(i), 7, after) == 3u;
  EXPECT_GT(new_on_3, 600);
}

TEST(FlowSelector, ExplicitPinOverridesTheHashUntilTheRouteGoes) {
  FlowSelector selector(64);
  const std::vector<RouteChoice> choices = {{1, 1}, {2, 1}};
  // Pin every flow to the route the hash would not pick, before its first packet.
  for (int i = 0; i < 8; ++i) {
    const RouteId hashed = *FlowSelector::rendezvous(flow(i), choices);
    const RouteId other = hashed == 1 ? 2 : 1;
    selector.pin(flow(i), 5, other);
    EXPECT_EQ(selector.select(flow(i), 5, choices), other);
    // Re-pinning replaces the pin.
    selector.pin(flow(i), 5, hashed);
    EXPECT_EQ(selector.select(flow(i), 5, choices), hashed);
  }
  // A pin to a route that is not a candidate falls back to the hash.
  selector.pin(flow(20), 5, 9);
  EXPECT_EQ(selector.select(flow(20), 5, choices), FlowSelector::rendezvous(flow(20), choices));
}

TEST(FlowSelector, PinsMoveWhenTheirRouteIsRemoved) {
  FlowSelector selector(16384);
  const std::vector<RouteChoice> before = {{1, 1}, {2, 1}, {3, 1}};
  std::vector<RouteId> first(900);
  for (int i = 0; i < 900; ++i) first[i] = *selector.select(flow(i), 7, before);
  const std::vector<RouteChoice> after = {{1, 1}, {3, 1}};  // route 2 withdrawn
  std::uint64_t expected_repins = 0;
  for (int i = 0; i < 900; ++i) {
    const RouteId now = *selector.select(flow(i), 7, after);
    if (first[i] == 2) {
      ++expected_repins;
      EXPECT_NE(now, 2u);
    } else {
      EXPECT_EQ(now, first[i]);  // untouched flows keep their route
    }
  }
  EXPECT_EQ(selector.evictions(), 0u);
  EXPECT_GT(expected_repins, 200u);
  EXPECT_EQ(selector.repins(), expected_repins);
  // Once re-pinned, they stay even when route 2 comes back.
  for (int i = 0; i < 900; ++i) {
    if (first[i] == 2) {
      EXPECT_NE(selector.select(flow(i), 7, before), 2u);
    }
  }
}

TEST(FlowSelector, PinTableIsBoundedAndEvictsLeastRecentlyUsed) {
  FlowSelector selector(16);
  EXPECT_EQ(selector.slots(), 16u);
  const std::vector<RouteChoice> routes = {{1, 1}, {2, 1}};
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(selector.select(flow(i), 5, routes));
  EXPECT_EQ(selector.pinned(), 16u);
  EXPECT_EQ(selector.evictions(), 1000u - 16u);
  selector.clear();
  EXPECT_EQ(selector.pinned(), 0u);
}

TEST(FlowSelector, PinsAreKeptPerDestination) {
  FlowSelector selector(256);
  const std::vector<RouteChoice> to_a = {{1, 1}};
  const std::vector<RouteChoice> to_b = {{9, 1}};
  EXPECT_EQ(selector.select(flow(1), 2, to_a), 1u);
  EXPECT_EQ(selector.select(flow(1), 3, to_b), 9u);
  EXPECT_EQ(selector.select(flow(1), 2, to_a), 1u);
  EXPECT_EQ(selector.pin_hits(), 1u);
}

}  // namespace
}  // namespace nextmini::dataplane
