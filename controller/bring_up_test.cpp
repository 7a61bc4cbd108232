// BringUp without sockets: which messages go to which connection.

#include "nextmini/controller/bring_up.hpp"

#include <gtest/gtest.h>

#include "nextmini/controller/memory_store.hpp"

namespace nextmini::controller {
namespace {

using messages::Message;

class BringUpTest : public ::testing::Test {
 protected:
  void make(const std::string& toml) {
    auto config = parse_config(toml, "test.toml");
    ASSERT_TRUE(config.has_value()) << config.error().message;
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    ASSERT_TRUE(topology && routes);
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
  }

  // Opens connection `c` and sends StartUp{id}.
  std::vector<Outgoing> start(ConnectionId c, NodeId id, const std::string& token = "") {
    bring_up_->on_connect(c, "192.0.2." + std::to_string(c));
    messages::StartUp message;
    message.node_id = id;
    message.token = token;
    message.link_port = static_cast<std::uint16_t>(7000 + c);
    return bring_up_->on_message(c, message);
  }

  static std::vector<const Outgoing*> to(const std::vector<Outgoing>& out, ConnectionId c) {
    std::vector<const Outgoing*> picked;
    for (const auto& o : out) {
      if (o.connection == c) picked.push_back(&o);
    }
    return picked;
  }

  static const messages::ErrorMessage* error_of(const Outgoing& out) {
    return std::get_if<messages::ErrorMessage>(&out.message);
  }

  MemoryStore store_;
  std::unique_ptr<BringUp> bring_up_;
};

const std::string kRing3 = "[topology]\ntype = \"ring\"\nring_config = { n_nodes = 3 }\n";

TEST_F(BringUpTest, IdZeroGetsTheLowestFreeIdUntilFull) {
  make(kRing3);
  auto first = start(1, 2);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(std::get<messages::StartUpReply>(first[0].message).node_id, 2u);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(2, 0)[0].message).node_id, 1u);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(3, 0)[0].message).node_id, 3u);
  auto full = start(4, 0);
  ASSERT_EQ(full.size(), 1u);
  ASSERT_NE(error_of(full[0]), nullptr);
  EXPECT_EQ(error_of(full[0])->code, "startup.full");
  EXPECT_TRUE(full[0].close_after);
  // Once node 1 leaves, id 0 takes 1 again.
  bring_up_->on_disconnect(2);
  EXPECT_EQ(std::get<messages::StartUpReply>(start(5, 0)[0].message).node_id, 1u);
}

TEST_F(BringUpTest, EmptyUnderlayAddressFallsBackToThePeerAddress) {
  make(kRing3);
  start(1, 1);
  auto out = start(2, 2);
  // Node 2 learns node 1 at the address its connection came from, and the reverse.
  const messages::AddNode* to_two = nullptr;
  const messages::AddNode* to_one = nullptr;
  for (const auto& o : out) {
    if (const auto* add = std::get_if<messages::AddNode>(&o.message)) {
      (o.connection == 2 ? to_two : to_one) = add;
    }
  }
  ASSERT_NE(to_two, nullptr);
  ASSERT_NE(to_one, nullptr);
  EXPECT_EQ(to_two->underlay_address, "192.0.2.1");
  EXPECT_EQ(to_two->link_port, 7001);
  EXPECT_TRUE(to_two->dial);
  EXPECT_EQ(to_one->underlay_address, "192.0.2.2");
  EXPECT_FALSE(to_one->dial);
}

TEST_F(BringUpTest, SameIdAgainReplacesTheOldConnection) {
  make(kRing3);
  start(1, 1);
  auto out = start(2, 1);
  auto old = to(out, 1);
  ASSERT_EQ(old.size(), 1u);
  ASSERT_NE(error_of(*old[0]), nullptr);
  EXPECT_EQ(error_of(*old[0])->code, "startup.replaced");
  EXPECT_TRUE(old[0]->close_after);
  EXPECT_TRUE(std::holds_alternative<messages::StartUpReply>(to(out, 2)[0]->message));
  // The old connection closing later does not disconnect the node.
  bring_up_->on_disconnect(1);
  EXPECT_EQ(bring_up_->status().connected, 1u);
  EXPECT_EQ(bring_up_->node_of(2), 1u);
  EXPECT_FALSE(bring_up_->node_of(1).has_value());
}

TEST_F(BringUpTest, WrongDirectionAndUnsupportedMessagesAreAnswered) {
  make(kRing3);
  bring_up_->on_connect(1, "192.0.2.1");
  auto early = bring_up_->on_message(1, messages::Metrics{});
  ASSERT_EQ(early.size(), 1u);
  EXPECT_EQ(error_of(early[0])->code, "protocol.unexpected");
  EXPECT_EQ(error_of(early[0])->message,
            "Metrics before StartUp: a connection starts with StartUp");
  EXPECT_FALSE(early[0].close_after);

  start(1, 1);
  auto again = bring_up_->on_message(1, messages::StartUp{});
  EXPECT_EQ(error_of(again[0])->code, "protocol.unexpected");
  auto wrong_way = bring_up_->on_message(1, messages::InstallRoutes{});
  EXPECT_EQ(error_of(wrong_way[0])->message, "InstallRoutes is sent by the controller, not to it");
  auto group = bring_up_->on_message(1, messages::CreateGroup{});
  EXPECT_EQ(error_of(group[0])->code, "protocol.unsupported");
  EXPECT_EQ(error_of(group[0])->in_reply_to, "CreateGroup");
  EXPECT_TRUE(bring_up_->on_message(1, messages::AppFlowStart{}).empty());
  EXPECT_TRUE(bring_up_->on_message(9, messages::NodeTopologyReady{}).empty());  // unknown
}

TEST_F(BringUpTest, TopologyReadyOnceForAllThenPerReturningNode) {
  make(kRing3);
  for (ConnectionId c = 1; c <= 3; ++c) start(c, static_cast<NodeId>(c));
  EXPECT_TRUE(bring_up_->on_message(1, messages::NodeTopologyReady{1}).empty());
  EXPECT_TRUE(bring_up_->on_message(1, messages::NodeTopologyReady{1}).empty());  // repeated
  EXPECT_TRUE(bring_up_->on_message(2, messages::NodeTopologyReady{2}).empty());
  auto all = bring_up_->on_message(3, messages::NodeTopologyReady{3});
  ASSERT_EQ(all.size(), 3u);
  for (ConnectionId c = 1; c <= 3; ++c) {
    ASSERT_EQ(to(all, c).size(), 1u);
    EXPECT_EQ(std::get<messages::TopologyReady>(to(all, c)[0]->message).n_nodes, 3u);
  }
  EXPECT_TRUE(bring_up_->announced());

  bring_up_->on_disconnect(2);
  EXPECT_FALSE(bring_up_->status().topology_ready);
  start(4, 2);
  auto back = bring_up_->on_message(4, messages::NodeTopologyReady{2});
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].connection, 4u);
  EXPECT_TRUE(std::holds_alternative<messages::TopologyReady>(back[0].message));
  auto record = store_.get_node(2);
  ASSERT_TRUE(record && record->has_value());
  EXPECT_EQ((*record)->connections, 2u);
  EXPECT_EQ((*record)->underlay_address, "192.0.2.4");
}

TEST_F(BringUpTest, RoutesAreSavedInTheStore) {
  make(kRing3);
  EXPECT_EQ(store_.list_routes()->size(), 6u);
  EXPECT_EQ(*store_.routes_version(), 1u);
  auto out = start(1, 1);
  const messages::InstallRoutes* routes = nullptr;
  for (const auto& o : out) {
    if (const auto* r = std::get_if<messages::InstallRoutes>(&o.message)) routes = r;
  }
  ASSERT_NE(routes, nullptr);
  EXPECT_EQ(routes->version, 1u);
  // Node 1 of a 3-ring: source of 2 routes, sink of 2, transit of none.
  EXPECT_EQ(routes->routes.size(), 4u);
}

}  // namespace
}  // namespace nextmini::controller
