// Fake nodes connect to a real ControllerServer over WebSocket (Beast, 127.0.0.1, port 0) and
// check the bring-up sequence, reconnect resync, token refusal and garbage frames.

#include "nextmini/controller/controller_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include "nextmini/controller/memory_store.hpp"
#include "nextmini/messages/codec.hpp"

namespace nextmini::controller {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using messages::Message;

constexpr auto kTimeout = std::chrono::seconds(5);

const std::string kRing4 = R"(
port = 0
[topology]
type = "ring"
[topology.ring_config]
n_nodes = 4
)";

// A controller on its own thread.
class Controller {
 public:
  explicit Controller(const std::string& toml) {
    auto config = parse_config(toml, "test.toml");
    if (!config) throw std::runtime_error(config.error().message);
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    if (!topology || !routes) throw std::runtime_error("bad test topology");
    routes_ = *routes;
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
    status_path_ = std::filesystem::temp_directory_path() /
                   ("nextmini_controller_status_" + std::to_string(::getpid()) + ".json");
    server_ = std::make_unique<ControllerServer>(
        io_, *bring_up_, ControllerServer::Options{"127.0.0.1", 0, status_path_.string()});
    server_->on_topology_ready([this] { ++ready_callbacks_; });
    auto started = server_->start();
    if (!started) throw std::runtime_error(started.error().message);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Controller() {
    server_->async_stop();
    thread_.join();
    std::filesystem::remove(status_path_);
  }

  std::uint16_t port() const { return server_->port(); }
  const RoutePlan& routes() const { return routes_; }

  // Runs `f` on the controller's thread and returns its result.
  template <typename F>
  auto on_thread(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  BringUpStatus status() {
    return on_thread([this] { return bring_up_->status(); });
  }
  ServerCounters counters() {
    return on_thread([this] { return server_->counters(); });
  }
  int ready_callbacks() {
    return on_thread([this] { return ready_callbacks_; });
  }
  std::optional<NodeRecord> stored_node(NodeId id) {
    return on_thread([this, id] { return *store_.get_node(id); });
  }
  std::optional<messages::Metrics> stored_metrics(NodeId id) {
    return on_thread([this, id] { return *store_.latest_metrics(id); });
  }
  std::string status_file() {
    std::ifstream file(status_path_);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

 private:
  asio::io_context io_;
  MemoryStore store_;
  RoutePlan routes_;
  std::unique_ptr<BringUp> bring_up_;
  std::unique_ptr<ControllerServer> server_;
  std::filesystem::path status_path_;
  std::thread thread_;
  int ready_callbacks_ = 0;
};

// A node's control connection, as a dataplane node would open it.
class FakeNode {
 public:
  explicit FakeNode(std::uint16_t port) {
    tcp::resolver resolver(io_);
    asio::connect(ws_.next_layer(), resolver.resolve("127.0.0.1", std::to_string(port)));
    ws_.handshake("127.0.0.1", "/");
    ws_.binary(true);
  }

  void send(const Message& message) { send_bytes(messages::encode(message)); }
  void send_bytes(const std::vector<std::uint8_t>& bytes) {
    ws_.binary(true);
    ws_.write(asio::buffer(bytes));
  }
  void send_text(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
    ws_.binary(true);
  }

  // The next message; nullopt (and a test failure) on timeout, close or an undecodable frame.
  std::optional<Message> read() {
    beast::flat_buffer buffer;
    bool done = false;
    beast::error_code error;
    ws_.async_read(buffer, [&](beast::error_code e, std::size_t) {
      done = true;
      error = e;
    });
    io_.restart();
    io_.run_for(kTimeout);
    if (!done) {
      ws_.next_layer().cancel();
      io_.restart();
      io_.run();
      ADD_FAILURE() << "no message within the timeout";
      return std::nullopt;
    }
    if (error) {
      last_error_ = error;
      return std::nullopt;
    }
    const auto data = buffer.cdata();
    auto decoded =
        messages::decode(std::span(static_cast<const std::uint8_t*>(data.data()), data.size()));
    if (!decoded) {
      ADD_FAILURE() << "controller sent an undecodable frame: " << decoded.error().message;
      return std::nullopt;
    }
    return *decoded;
  }

  template <typename T>
  T read_as() {
    auto message = read();
    if (!message) {
      ADD_FAILURE() << "expected " << typeid(T).name()
                    << ", connection ended: " << last_error_.message();
      return T{};
    }
    if (!std::holds_alternative<T>(*message)) {
      ADD_FAILURE() << "expected " << typeid(T).name() << ", got " << messages::type_name(*message);
      return T{};
    }
    return std::get<T>(*message);
  }

  // True when the controller closes the connection (next read ends with an error).
  bool closed_by_peer() {
    auto message = read();
    if (message) {
      ADD_FAILURE() << "expected a close, got " << messages::type_name(*message);
      return false;
    }
    return last_error_ == websocket::error::closed || last_error_ == asio::error::eof ||
           last_error_ == asio::error::connection_reset;
  }

  void close() { ws_.close(websocket::close_code::normal); }

 private:
  asio::io_context io_;
  websocket::stream<tcp::socket> ws_{io_};
  beast::error_code last_error_;
};

messages::StartUp start_up(NodeId id, const std::string& token = "") {
  messages::StartUp message;
  message.node_id = id;
  message.token = token;
  message.underlay_address = "127.0.0.1";
  message.link_port = static_cast<std::uint16_t>(5000 + id);
  message.operating_mode = "tun";
  return message;
}

// Reads the fixed part of a node's bring-up: StartUpReply, an address per node, InstallRoutes.
messages::InstallRoutes expect_state(FakeNode& node, NodeId id, const Controller& controller) {
  const auto reply = node.read_as<messages::StartUpReply>();
  EXPECT_EQ(reply.node_id, id);
  EXPECT_EQ(reply.tun_address, "10.0.0." + std::to_string(id));
  EXPECT_EQ(reply.net_mask, "255.255.0.0");
  EXPECT_EQ(reply.prefix_length, 16u);
  EXPECT_EQ(reply.protocol, "tcp");
  EXPECT_EQ(reply.mtu, 1400u);
  EXPECT_EQ(reply.metrics_interval_ms, 1000u);
  for (NodeId other = 1; other <= 4; ++other) {
    const auto address = node.read_as<messages::AddNodeAddress>();
    EXPECT_EQ(address.node_id, other);
    EXPECT_EQ(address.tun_address, "10.0.0." + std::to_string(other));
  }
  const auto routes = node.read_as<messages::InstallRoutes>();
  EXPECT_TRUE(routes.full);
  EXPECT_EQ(routes.routes, controller.routes().entries(id));
  EXPECT_FALSE(routes.routes.empty());
  return routes;
}

void expect_add_node(FakeNode& node, NodeId neighbor, bool dial) {
  const auto add = node.read_as<messages::AddNode>();
  EXPECT_EQ(add.node_id, neighbor);
  EXPECT_EQ(add.underlay_address, "127.0.0.1");
  EXPECT_EQ(add.link_port, 5000 + neighbor);
  EXPECT_EQ(add.dial, dial) << "AddNode " << neighbor;
}

// Brings up the 4-node ring in order 1, 2, 3, 4, checking every message.
std::vector<std::unique_ptr<FakeNode>> bring_up_ring(Controller& controller) {
  std::vector<std::unique_ptr<FakeNode>> nodes(5);
  for (NodeId id = 1; id <= 4; ++id) {
    nodes[id] = std::make_unique<FakeNode>(controller.port());
    nodes[id]->send(start_up(id));
    expect_state(*nodes[id], id, controller);
  }
  // Ring 1-2-3-4-1; the higher id of an edge dials. Node 2 found 1 up; 3 found 2; 4 found 1, 3.
  expect_add_node(*nodes[1], 2, false);
  expect_add_node(*nodes[1], 4, false);
  expect_add_node(*nodes[2], 1, true);
  expect_add_node(*nodes[2], 3, false);
  expect_add_node(*nodes[3], 2, true);
  expect_add_node(*nodes[3], 4, false);
  expect_add_node(*nodes[4], 1, true);
  expect_add_node(*nodes[4], 3, true);
  return nodes;
}

TEST(ControllerServerTest, FourNodeRingBringUpEndsInTopologyReady) {
  Controller controller(kRing4);
  auto nodes = bring_up_ring(controller);
  EXPECT_EQ(controller.status().connected, 4u);

  for (NodeId id = 1; id <= 3; ++id) nodes[id]->send(messages::NodeTopologyReady{id});
  // Wait until the controller counted three; nothing is announced yet.
  for (int i = 0; i < 500 && controller.status().ready < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(controller.status().ready, 3u);
  EXPECT_FALSE(controller.status().topology_ready);
  EXPECT_EQ(controller.ready_callbacks(), 0);

  nodes[4]->send(messages::NodeTopologyReady{4});
  // The next message of every node is TopologyReady: nothing else came in between.
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_EQ(nodes[id]->read_as<messages::TopologyReady>().n_nodes, 4u);
  }
  const auto status = controller.status();
  EXPECT_TRUE(status.topology_ready);
  EXPECT_EQ(status.routes, 12u);
  EXPECT_EQ(status.edges, 4u);
  EXPECT_EQ(controller.ready_callbacks(), 1);
  const std::string file = controller.status_file();
  EXPECT_NE(file.find("\"n_nodes\":4,\"connected\":4,\"ready\":4,\"topology_ready\":true,"
                      "\"routes\":12,\"edges\":4,"),
            std::string::npos)
      << file;
  EXPECT_NE(
      file.find(
          "\"connected_nodes\":[1,2,3,4],\"ready_nodes\":[1,2,3,4],\"http\":\"\",\"flows\":[]}"),
      std::string::npos)
      << file;

  // Metrics are stored under the connection's node id.
  messages::Metrics metrics;
  metrics.node_id = 99;
  metrics.timestamp_ns = 42;
  metrics.drops["no_route"] = 3;
  nodes[2]->send(metrics);
  std::optional<messages::Metrics> stored;
  for (int i = 0; i < 500 && !stored; ++i) {
    stored = controller.stored_metrics(2);
    if (!stored) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->node_id, 2u);
  EXPECT_EQ(stored->timestamp_ns, 42u);
  EXPECT_EQ(stored->drops.at("no_route"), 3u);
}

TEST(ControllerServerTest, ReconnectingNodeIsResyncedAndNeighboursRelink) {
  Controller controller(kRing4);
  auto nodes = bring_up_ring(controller);
  for (NodeId id = 1; id <= 4; ++id) nodes[id]->send(messages::NodeTopologyReady{id});
  for (NodeId id = 1; id <= 4; ++id) nodes[id]->read_as<messages::TopologyReady>();

  nodes[3]->close();
  for (int i = 0; i < 500 && controller.status().connected == 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(controller.status().connected, 3u);
  EXPECT_FALSE(controller.status().topology_ready);

  nodes[3] = std::make_unique<FakeNode>(controller.port());
  nodes[3]->send(start_up(3));
  expect_state(*nodes[3], 3, controller);
  expect_add_node(*nodes[3], 2, true);
  expect_add_node(*nodes[3], 4, false);
  expect_add_node(*nodes[2], 3, false);
  expect_add_node(*nodes[4], 3, true);

  nodes[3]->send(messages::NodeTopologyReady{3});
  EXPECT_EQ(nodes[3]->read_as<messages::TopologyReady>().n_nodes, 4u);
  EXPECT_TRUE(controller.status().topology_ready);
  const auto record = controller.stored_node(3);
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->connections, 2u);
  EXPECT_TRUE(record->connected);
  EXPECT_TRUE(record->ready);
  EXPECT_EQ(controller.ready_callbacks(), 1);
}

TEST(ControllerServerTest, WrongTokenIsDeniedAndClosed) {
  Controller controller("token = \"s3cret\"\n" + kRing4);
  FakeNode intruder(controller.port());
  intruder.send(start_up(1, "guess"));
  const auto error = intruder.read_as<messages::ErrorMessage>();
  EXPECT_EQ(error.code, "auth.denied");
  EXPECT_EQ(error.in_reply_to, "StartUp");
  EXPECT_TRUE(intruder.closed_by_peer());
  EXPECT_EQ(controller.status().connected, 0u);

  FakeNode node(controller.port());
  node.send(start_up(1, "s3cret"));
  EXPECT_EQ(node.read_as<messages::StartUpReply>().node_id, 1u);
}

TEST(ControllerServerTest, GarbageFramesGetAnErrorAndTheServerKeepsServing) {
  Controller controller(kRing4);
  FakeNode node(controller.port());
  node.send_bytes({0xc1, 0xff, 0x00, 0x13});
  const auto garbage = node.read_as<messages::ErrorMessage>();
  EXPECT_EQ(garbage.code.rfind("decode.", 0), 0u) << garbage.code;
  node.send_bytes({});
  EXPECT_EQ(node.read_as<messages::ErrorMessage>().code.rfind("decode.", 0), 0u);
  // A known envelope whose body does not decode: the answer names its type.
  auto start = messages::encode(start_up(1));
  start.resize(start.size() - 3);
  node.send_bytes(start);
  const auto truncated = node.read_as<messages::ErrorMessage>();
  EXPECT_EQ(truncated.code.rfind("decode.", 0), 0u);
  EXPECT_EQ(truncated.in_reply_to, "StartUp");
  node.send_text("hello");
  EXPECT_EQ(node.read_as<messages::ErrorMessage>().code, "decode.malformed");
  node.send(messages::NodeTopologyReady{1});
  EXPECT_EQ(node.read_as<messages::ErrorMessage>().code, "protocol.unexpected");

  // The same connection still works.
  node.send(start_up(0));
  EXPECT_EQ(node.read_as<messages::StartUpReply>().node_id, 1u);
  // A second connection too; id 0 takes the lowest free id.
  FakeNode other(controller.port());
  other.send(start_up(0));
  EXPECT_EQ(other.read_as<messages::StartUpReply>().node_id, 2u);

  const auto counters = controller.counters();
  EXPECT_EQ(counters.decode_errors, 4u);
  EXPECT_EQ(counters.protocol_errors, 1u);
  EXPECT_EQ(counters.connections, 2u);
}

TEST(ControllerServerTest, UnknownNodeIdIsRefused) {
  Controller controller(kRing4);
  FakeNode node(controller.port());
  node.send(start_up(9));
  const auto error = node.read_as<messages::ErrorMessage>();
  EXPECT_EQ(error.code, "startup.unknown_node");
  EXPECT_EQ(error.message, "node 9 is not in the topology (nodes 1..4)");
  EXPECT_TRUE(node.closed_by_peer());
}

TEST(ControllerServerTest, ListenFailureIsAnError) {
  asio::io_context io;
  MemoryStore store;
  auto config = parse_config(kRing4, "test.toml");
  ASSERT_TRUE(config);
  auto topology = build_topology(*config);
  auto routes = build_routes(*config, *topology);
  BringUp bring_up(*config, *topology, *routes, store);
  ControllerServer server(io, bring_up, {"not-an-address", 0, ""});
  auto started = server.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "server.listen");
}

}  // namespace
}  // namespace nextmini::controller
