#include "nextmini/dataplane/route/route_table.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace nextmini::dataplane {
namespace {

using messages::RouteEntry;

RouteEntry entry(RouteId id, NodeId src, NodeId dst, std::vector<NodeId> hops, bool local = false,
                 std::uint32_t weight = 1) {
  RouteEntry e;
  e.route_id = id;
  e.src = src;
  e.dst = dst;
  e.weight = weight;
  e.next_hops = std::move(hops);
  e.deliver_local = local;
  return e;
}

const std::unordered_map<std::uint32_t, NodeId> kAddresses = {
    {0x0a000001, 1}, {0x0a000002, 2}, {0x0a000003, 3}};

TEST(RouteTable, BuildsFromEntriesAndAddresses) {
  const std::vector<RouteEntry> routes = {entry(7, 1, 3, {2}, false, 3), entry(5, 1, 3, {4}),
                                          entry(9, 2, 1, {}, true), entry(11, 4, 2, {2, 3})};
  auto built = RouteTable::build(1, kAddresses, routes, 42);
  ASSERT_TRUE(built) << built.error().message;
  const auto& table = **built;
  EXPECT_EQ(table.self(), 1u);
  EXPECT_EQ(table.version(), 42u);
  EXPECT_EQ(table.node_of_ipv4(0x0a000003), 3u);
  EXPECT_FALSE(table.node_of_ipv4(0x0a000009));

  const auto choices = table.routes_to(3);
  ASSERT_EQ(choices.size(), 2u);
  EXPECT_EQ(choices[0].route_id, 5u);  // sorted by id
  EXPECT_EQ(choices[1].route_id, 7u);
  EXPECT_EQ(choices[1].weight, 3u);
  EXPECT_TRUE(table.routes_to(2).empty());  // route 11 starts at 4, not here

  const RouteHop* sink = table.hop(9);
  ASSERT_NE(sink, nullptr);
  EXPECT_TRUE(sink->deliver_local);
  EXPECT_TRUE(sink->next_hops.empty());
  ASSERT_NE(table.hop(11), nullptr);
  EXPECT_EQ(table.hop(11)->next_hops, (std::vector<NodeId>{2, 3}));
  EXPECT_EQ(table.hop(12), nullptr);
}

TEST(RouteTable, EmptyTableIsValid) {
  auto built = RouteTable::build(1, {}, {}, 0);
  ASSERT_TRUE(built);
  EXPECT_TRUE((*built)->routes_to(2).empty());
  EXPECT_EQ((*built)->hop(1), nullptr);
}

TEST(RouteTable, DuplicateRouteIdIsAnError) {
  const std::vector<RouteEntry> routes = {entry(7, 1, 3, {2}), entry(7, 1, 3, {4})};
  auto built = RouteTable::build(1, kAddresses, routes, 1);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().code, "routes.duplicate_id");
  EXPECT_NE(built.error().message.find("7"), std::string::npos);
}

TEST(RouteTable, DanglingEntryIsAnError) {
  const std::vector<RouteEntry> routes = {entry(3, 1, 3, {})};
  auto built = RouteTable::build(1, kAddresses, routes, 1);
  ASSERT_FALSE(built);
  EXPECT_EQ(built.error().code, "routes.dangling");
}

TEST(RouteTable, InvalidEntriesAreErrors) {
  const std::vector<std::vector<RouteEntry>> cases = {
      {entry(1, 0, 3, {2})},       // src 0
      {entry(1, 1, 0, {2})},       // dst 0
      {entry(1, 1, 3, {1})},       // next hop is self
      {entry(1, 1, 3, {0})},       // next hop 0
      {entry(1, 1, 3, {2, 2})},    // hop listed twice
      {entry(1, 2, 3, {}, true)},  // local delivery at a node that is not the destination
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto built = RouteTable::build(1, kAddresses, cases[i], 1);
    ASSERT_FALSE(built) << "case " << i;
    EXPECT_EQ(built.error().code, "routes.invalid") << "case " << i;
  }
  EXPECT_FALSE(RouteTable::build(0, kAddresses, {}, 1));
  EXPECT_FALSE(RouteTable::build(1, {{0x0a000001, 0}}, {}, 1));
}

}  // namespace
}  // namespace nextmini::dataplane
