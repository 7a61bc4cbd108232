#include "nextmini/dataplane/node/control_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <vector>

#include "fake_controller.hpp"
#include "nextmini/messages/codec.hpp"
#include "nextmini/test_support/run_until.hpp"

namespace nextmini::dataplane {
namespace {

using test_support::FakeController;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using nextmini::test_support::run_until;

TEST(ControlClientConfig, ParsesUrls) {
  auto plain = ControlClientConfig::from_url("ws://127.0.0.1:3000");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 3000);
  EXPECT_EQ(plain->target, "/");
  auto with_path = ControlClientConfig::from_url("ws://controller.local:81/nodes");
  ASSERT_TRUE(with_path);
  EXPECT_EQ(with_path->host, "controller.local");
  EXPECT_EQ(with_path->port, 81);
  EXPECT_EQ(with_path->target, "/nodes");
  auto v6 = ControlClientConfig::from_url("ws://[::1]:3001/");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 3001);
  for (const char* bad :
       {"http://x:1", "ws://:3000", "ws://host:99999", "ws://host:12ab", "wss://h:1"}) {
    auto parsed = ControlClientConfig::from_url(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, "control.url");
    EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
  }
}

ControlClientConfig config_for(const FakeController& server) {
  ControlClientConfig config;
  config.host = "127.0.0.1";
  config.port = server.port();
  config.backoff = BackoffConfig{20ms, 200ms};
  return config;
}

TEST(ControlClient, SendsStartUpFirstAndDeliversMessages) {
  asio::io_context io;
  FakeController server(io);
  std::vector<messages::Message> got;
  std::vector<bool> states;
  ControlClient client(
      io, config_for(server), [&](messages::Message& message) { got.push_back(message); },
      [&](bool up) { states.push_back(up); });
  client.set_startup(messages::StartUp{0, "secret", "192.0.2.1", 4000, "tun"});
  client.send(messages::NodeTopologyReady{9});  // not connected yet: dropped and counted
  EXPECT_EQ(client.counters().dropped_sends, 1u);
  client.start();
  ASSERT_TRUE(run_until(io, [&] { return client.connected(); }));
  client.send(messages::NodeTopologyReady{9});
  ASSERT_TRUE(
      run_until(io, [&] { return server.connections() == 1 && server.received(0).size() == 2; }));

  const auto* startup = std::get_if<messages::StartUp>(&server.received(0)[0]);
  ASSERT_NE(startup, nullptr);
  EXPECT_EQ(startup->token, "secret");
  EXPECT_EQ(startup->underlay_address, "192.0.2.1");
  EXPECT_EQ(startup->link_port, 4000);
  ASSERT_TRUE(std::holds_alternative<messages::NodeTopologyReady>(server.received(0)[1]));

  messages::StartUpReply reply;
  reply.node_id = 5;
  reply.tun_address = "10.0.0.5";
  server.send(0, reply);
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 1; }));
  const auto* got_reply = std::get_if<messages::StartUpReply>(&got[0]);
  ASSERT_NE(got_reply, nullptr);
  EXPECT_EQ(got_reply->node_id, 5u);
  EXPECT_EQ(got_reply->tun_address, "10.0.0.5");
  EXPECT_EQ(states, std::vector<bool>{true});

  client.close();
  server.close();
  io.restart();
  io.run();
}

TEST(ControlClient, ReconnectsWithBackoffAndResendsStartUp) {
  asio::io_context io;
  FakeController server(io);
  std::vector<bool> states;
  ControlClient client(
      io, config_for(server), [](messages::Message&) {}, [&](bool up) { states.push_back(up); });
  client.set_startup(messages::StartUp{0, "", "192.0.2.1", 4000, "tun"});
  client.start();
  ASSERT_TRUE(
      run_until(io, [&] { return server.connections() == 1 && !server.received(0).empty(); }));

  // The controller assigned id 7; the node records it, then the controller drops the connection.
  messages::StartUp updated = client.startup();
  updated.node_id = 7;
  client.set_startup(updated);
  server.drop(0);
  ASSERT_TRUE(run_until(io, [&] { return client.counters().disconnects == 1; }));
  EXPECT_FALSE(client.connected());
  ASSERT_TRUE(
      run_until(io, [&] { return server.connections() == 2 && !server.received(1).empty(); }));
  const auto* startup = std::get_if<messages::StartUp>(&server.received(1)[0]);
  ASSERT_NE(startup, nullptr);
  EXPECT_EQ(startup->node_id, 7u);
  EXPECT_EQ(client.counters().connects, 2u);
  EXPECT_EQ(states, (std::vector<bool>{true, false, true}));

  client.close();
  server.close();
  io.restart();
  io.run();
}

TEST(ControlClient, RetriesUntilTheControllerComesUp) {
  asio::io_context io;
  std::uint16_t port = 0;
  {
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  ControlClientConfig config;
  config.host = "127.0.0.1";
  config.port = port;
  config.backoff = BackoffConfig{20ms, 100ms};
  ControlClient client(io, config, [](messages::Message&) {});
  client.start();
  run_until(
      io, [] { return false; }, 200ms);
  EXPECT_FALSE(client.connected());
  EXPECT_EQ(client.counters().connects, 0u);

  FakeController server(io, port);
  ASSERT_TRUE(
      run_until(io, [&] { return server.connections() == 1 && !server.received(0).empty(); }));
  EXPECT_TRUE(std::holds_alternative<messages::StartUp>(server.received(0)[0]));
  EXPECT_EQ(client.counters().connects, 1u);
  client.close();
  server.close();
  io.restart();
  io.run();
}

TEST(ControlClient, UndecodableFramesAreCountedAnsweredAndNotFatal) {
  asio::io_context io;
  FakeController server(io);
  std::vector<messages::Message> got;
  ControlClient client(io, config_for(server),
                       [&](messages::Message& message) { got.push_back(message); });
  client.start();
  ASSERT_TRUE(
      run_until(io, [&] { return server.connections() == 1 && !server.received(0).empty(); }));

  server.send_bytes(0, {0xc1, 0xff, 0x00});  // not MessagePack
  server.send_bytes(0, {0xc1});
  server.send(0, messages::TopologyReady{4});
  ASSERT_TRUE(run_until(io, [&] { return got.size() == 1; }));
  EXPECT_TRUE(std::holds_alternative<messages::TopologyReady>(got[0]));
  EXPECT_EQ(client.counters().undecodable, 2u);
  EXPECT_EQ(client.counters().undecodable_by_code.size(), 1u);
  EXPECT_TRUE(client.connected());
  // Each undecodable frame is answered with an ErrorMessage naming the decode error.
  ASSERT_TRUE(run_until(io, [&] { return server.received(0).size() == 3; }));
  const auto* answer = std::get_if<messages::ErrorMessage>(&server.received(0)[1]);
  ASSERT_NE(answer, nullptr);
  EXPECT_EQ(answer->code.rfind("decode.", 0), 0u) << answer->code;

  client.close();
  server.close();
  io.restart();
  io.run();
}

}  // namespace
}  // namespace nextmini::dataplane
