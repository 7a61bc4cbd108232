// The real controller and four real dataplane nodes (without TUN devices) in one process, on
// 127.0.0.1: a 4-node ring comes up to TopologyReady, a packet injected at node 1 for 10.0.0.3
// is delivered at node 3 over two hops, and after node 3 is stopped and started again (same id)
// traffic flows again with nothing else restarted. Through the HTTP API's handler, a link set
// down makes the nodes route around it, and set up again brings the direct route back.

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "nextmini/controller/controller_server.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/controller/memory_store.hpp"
#include "nextmini/dataplane/node/node.hpp"
#include "nextmini/test_support/node_thread.hpp"

namespace nextmini::controller {
namespace {

namespace asio = boost::asio;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

template <typename Predicate>
bool wait_for(Predicate done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// IPv4 header + UDP header + payload; the overlay needs no checksums.
Bytes ipv4_udp(const char* src, const char* dst, const std::string& payload) {
  Bytes packet(28 + payload.size(), 0);
  packet[0] = 0x45;  // version 4, 5-word header
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size() & 0xff);
  packet[8] = 64;  // TTL
  packet[9] = 17;  // UDP
  ::inet_pton(AF_INET, src, packet.data() + 12);
  ::inet_pton(AF_INET, dst, packet.data() + 16);
  packet[20] = 0x30;  // source port 12345
  packet[21] = 0x39;
  packet[22] = 0x1f;  // destination port 8080
  packet[23] = 0x90;
  const std::size_t udp_length = 8 + payload.size();
  packet[24] = static_cast<std::uint8_t>(udp_length >> 8);
  packet[25] = static_cast<std::uint8_t>(udp_length & 0xff);
  std::memcpy(packet.data() + 28, payload.data(), payload.size());
  return packet;
}

class ControllerThread {
 public:
  explicit ControllerThread(const std::string& toml) {
    auto config = parse_config(toml, "integration.toml");
    if (!config) throw std::runtime_error(config.error().message);
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    if (!topology || !routes) throw std::runtime_error("bad topology");
    bring_up_ = std::make_unique<BringUp>(*config, *topology, *routes, store_);
    server_ = std::make_unique<ControllerServer>(io_, *bring_up_,
                                                 ControllerServer::Options{"127.0.0.1", 0, ""});
    if (auto started = server_->start(); !started) {
      throw std::runtime_error(started.error().message);
    }
    api_ = std::make_unique<HttpApi>(
        *bring_up_, store_, [this](std::vector<Outgoing> out) { server_->deliver(std::move(out)); },
        ".");
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ControllerThread() {
    server_->async_stop();
    thread_.join();
  }

  template <typename F>
  auto on_thread(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  std::uint16_t port() const { return server_->port(); }
  BringUpStatus status() {
    return on_thread([this] { return bring_up_->status(); });
  }
  // An API request, handled on the controller's thread as the HTTP server would.
  HttpResponse api(const std::string& method, const std::string& target, const std::string& body) {
    return on_thread([&] { return api_->handle({method, target, body}); });
  }
  std::vector<FlowRecord> flows() {
    return on_thread([this] { return bring_up_->flows(); });
  }
  Result<FlowsAdded> add_flows(std::vector<messages::FlowSpec> flows) {
    return on_thread([this, &flows] { return server_->add_flows(std::move(flows)); });
  }
  bool has_metrics(NodeId id) {
    return on_thread([this, id] { return store_.latest_metrics(id)->has_value(); });
  }

 private:
  asio::io_context io_;
  MemoryStore store_;
  std::unique_ptr<BringUp> bring_up_;
  std::unique_ptr<ControllerServer> server_;
  std::unique_ptr<HttpApi> api_;
  std::thread thread_;
};

using test_support::NodeThread;
// Whether `packet` (IPv4) arrived at `node` as sent, but for the TTL and the header checksum
// that the nodes on the way (routers) update.
bool delivered(NodeThread& node, const Bytes& packet) {
  const auto routed_equal = [&](const Bytes& bytes) {
    if (bytes.size() != packet.size() || bytes.size() < 20) return bytes == packet;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      if (i != 8 && i != 10 && i != 11 && bytes[i] != packet[i]) return false;
    }
    return true;
  };
  for (const auto& bytes : node.delivered()) {
    if (routed_equal(bytes)) return true;
  }
  return false;
}

TEST(ControllerNodeIntegrationTest, RingComesUpForwardsAndSurvivesANodeRestart) {
  ControllerThread controller(R"(
metrics_interval_ms = 50
[topology]
type = "ring"
ring_config = { n_nodes = 4 }
)");
  std::vector<std::unique_ptr<NodeThread>> nodes(5);
  for (NodeId id = 1; id <= 4; ++id) {
    nodes[id] = std::make_unique<NodeThread>(controller.port(), id);
  }
  ASSERT_TRUE(wait_for([&] { return controller.status().topology_ready; }))
      << "ready: " << controller.status().ready << "/4";
  for (NodeId id = 1; id <= 4; ++id) {
    EXPECT_TRUE(wait_for([&] { return nodes[id]->ready(); })) << "node " << id;
  }

  const Bytes first = ipv4_udp("10.0.0.1", "10.0.0.3", "two hops via node 2");
  nodes[1]->inject(first);
  EXPECT_TRUE(wait_for([&] { return delivered(*nodes[3], first); }));
  EXPECT_FALSE(delivered(*nodes[2], first));  // node 2 forwards, does not deliver
  EXPECT_TRUE(wait_for([&] { return controller.has_metrics(1); }));

  // Node 3 goes away and comes back with the same id; nothing else restarts.
  nodes[3].reset();
  ASSERT_TRUE(wait_for([&] { return controller.status().connected == 3; }));
  nodes[3] = std::make_unique<NodeThread>(controller.port(), 3);
  ASSERT_TRUE(wait_for([&] { return controller.status().topology_ready; }))
      << "ready: " << controller.status().ready << "/4";
  const Bytes second = ipv4_udp("10.0.0.1", "10.0.0.3", "after the restart");
  // Links to the new node 3 may still be connecting when it reports ready on its side; retry.
  EXPECT_TRUE(wait_for([&] {
    nodes[1]->inject(second);
    return wait_for([&] { return delivered(*nodes[3], second); }, 200ms);
  }));
  const Bytes back = ipv4_udp("10.0.0.3", "10.0.0.1", "and back");
  nodes[3]->inject(back);
  EXPECT_TRUE(wait_for([&] { return delivered(*nodes[1], back); }));
}

TEST(ControllerNodeIntegrationTest, LinkDownThroughTheApiReroutesAndUpRestores) {
  ControllerThread controller(R"(
[topology]
type = "ring"
ring_config = { n_nodes = 4 }
)");
  std::vector<std::unique_ptr<NodeThread>> nodes(5);
  for (NodeId id = 1; id <= 4; ++id) {
    nodes[id] = std::make_unique<NodeThread>(controller.port(), id);
  }
  ASSERT_TRUE(wait_for([&] { return controller.status().topology_ready; }));

  // Sends packets from node 1 to node 2 until one leaves node 1 toward `neighbor` (the new
  // routes are installed asynchronously); true when that happened within the time limit.
  int sequence = 0;
  auto first_via = [&](NodeId neighbor) {
    return wait_for([&] {
      const auto before = nodes[1]->tx_packets(neighbor);
      const Bytes packet = ipv4_udp("10.0.0.1", "10.0.0.2", "probe " + std::to_string(++sequence));
      nodes[1]->inject(packet);
      return wait_for([&] { return delivered(*nodes[2], packet); }, 500ms) &&
             nodes[1]->tx_packets(neighbor) > before;
    });
  };
  ASSERT_TRUE(first_via(2));  // the direct route

  const auto down = controller.api("PATCH", "/api/links/1/2", R"({"up": false})");
  ASSERT_EQ(down.status, 200u) << down.body;
  EXPECT_NE(down.body.find("\"rerouted\":true"), std::string::npos) << down.body;
  ASSERT_TRUE(first_via(4));  // 1 -> 4 -> 3 -> 2
  // From now on nothing goes on 1 -> 2.
  const auto direct = nodes[1]->tx_packets(2);
  const auto around = nodes[1]->tx_packets(4);
  for (int i = 0; i < 5; ++i) {
    const Bytes packet = ipv4_udp("10.0.0.1", "10.0.0.2", "around " + std::to_string(i));
    nodes[1]->inject(packet);
    EXPECT_TRUE(wait_for([&] { return delivered(*nodes[2], packet); }));
  }
  EXPECT_EQ(nodes[1]->tx_packets(2), direct);
  EXPECT_EQ(nodes[1]->tx_packets(4), around + 5);

  const auto up = controller.api("PATCH", "/api/links/1/2", R"({"up": true})");
  ASSERT_EQ(up.status, 200u) << up.body;
  EXPECT_TRUE(first_via(2));  // the direct route is back
}

// Nodes without a TUN run no flows: the configured flow and one added at run time reach their
// source node (AddFlows after TopologyReady), which reports each as failed with the reason.
// (Flows that move data need TUN devices: tests/e2e/test_flows.py.)
TEST(ControllerNodeIntegrationTest, FlowsReachTheirSourceAndItsReportsTheStore) {
  ControllerThread controller(R"(
[topology]
type = "ring"
ring_config = { n_nodes = 3 }
[[flows]]
src_node_id = 1
dst_node_id = 3
flow_spec = { flow_len = { Bytes = 1000 } }
)");
  std::vector<std::unique_ptr<NodeThread>> nodes(4);
  for (NodeId id = 1; id <= 3; ++id) {
    nodes[id] = std::make_unique<NodeThread>(controller.port(), id);
  }
  ASSERT_TRUE(wait_for([&] { return controller.status().topology_ready; }));
  auto failed = [&](messages::FlowId id) {
    for (const auto& flow : controller.flows()) {
      if (flow.spec.flow_id == id && flow_state(flow) == "failed") return true;
    }
    return false;
  };
  ASSERT_TRUE(wait_for([&] { return failed(1); }));
  EXPECT_NE(controller.flows()[0].error.find("runs no flows"), std::string::npos)
      << controller.flows()[0].error;

  messages::FlowSpec later;
  later.src = 2;
  later.dst = 1;
  later.duration_s = 1.0;
  auto added = controller.add_flows({later});
  ASSERT_TRUE(added) << added.error().message;
  ASSERT_EQ(added->ids, (std::vector<messages::FlowId>{2}));
  EXPECT_TRUE(wait_for([&] { return failed(2); }));
}

// The config's link parameters reach the sending node of each directed link and delay its
// packets there: [link_defaults] delay = 10 ms on every link, 1 -> 2 overridden to 30 ms.
TEST(ControllerNodeIntegrationTest, ConfiguredDelayIsAppliedByTheSendingNode) {
  ControllerThread controller(R"(
metrics_interval_ms = 50
[topology]
type = "custom"
n_nodes = 2
edges = [[1, 2]]

[link_defaults]
delay = "10ms"

[[links]]
src = 1
dst = 2
delay = "30ms"
)");
  std::vector<std::unique_ptr<NodeThread>> nodes(3);
  for (NodeId id = 1; id <= 2; ++id) {
    nodes[id] = std::make_unique<NodeThread>(controller.port(), id);
  }
  ASSERT_TRUE(wait_for([&] { return controller.status().topology_ready; }));
  for (NodeId id = 1; id <= 2; ++id) ASSERT_TRUE(wait_for([&] { return nodes[id]->ready(); }));

  // One-way delay of a packet from `from` to `to`, from just before it is injected.
  auto one_way_ms = [&](NodeId from, NodeId to, const std::string& text) {
    const Bytes packet =
        ipv4_udp(from == 1 ? "10.0.0.1" : "10.0.0.2", to == 1 ? "10.0.0.1" : "10.0.0.2", text);
    const auto sent = std::chrono::steady_clock::now();
    nodes[from]->inject(packet);
    EXPECT_TRUE(wait_for([&] { return delivered(*nodes[to], packet); }));
    const auto all = nodes[to]->delivered();
    const auto arrivals = nodes[to]->arrivals();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (NodeThread::routed_equal(all[i], packet))
        return std::chrono::duration<double, std::milli>(arrivals[i] - sent).count();
    }
    return -1.0;
  };
  const double forward = one_way_ms(1, 2, "over 1 -> 2");
  const double backward = one_way_ms(2, 1, "over 2 -> 1");
  EXPECT_GE(forward, 30.0);
  EXPECT_LT(forward, 36.0);  // tolerant: a busy machine may wake the timer late
  EXPECT_GE(backward, 10.0);
  EXPECT_LT(backward, 16.0);
}

}  // namespace
}  // namespace nextmini::controller
