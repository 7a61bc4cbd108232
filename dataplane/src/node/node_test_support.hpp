#pragma once
// Test helpers for real Nodes driven by a FakeController (node_test.cpp and
// link_emulation_integration_test.cpp): run_until on the controller's io_context, an IPv4/UDP
// packet builder, TestNode (a Node without TUN on its own thread that records what it delivers
// and when), and bring_up (what the controller tells each node of the two-node line 1 - 2).

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fake_controller.hpp"
#include "nextmini/dataplane/core/ip_ttl.hpp"
#include "nextmini/dataplane/node/node.hpp"
#include "nextmini/test_support/run_until.hpp"

namespace nextmini::dataplane {

using test_support::FakeController;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;
namespace asio = boost::asio;

using nextmini::test_support::run_until;

// `packet` as it arrives after `routers` nodes forwarded it (the source node is the first):
// TTL - 1 at each, header checksum updated (core/ip_ttl.hpp).
inline Bytes routed(Bytes packet, int routers = 1) {
  for (int i = 0; i < routers; ++i) decrement_ip_ttl(packet);
  return packet;
}

// `packets`, each as it arrives after one router.
inline std::vector<Bytes> routed(std::vector<Bytes> packets) {
  for (Bytes& packet : packets) packet = routed(std::move(packet));
  return packets;
}

// An IPv4/UDP packet (no checksums needed by the overlay) between two overlay addresses.
inline Bytes udp_packet(const char* src, const char* dst, std::uint16_t src_port,
                        std::uint16_t dst_port, const std::string& payload) {
  Bytes p(28 + payload.size(), 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  p[8] = 64;
  p[9] = 17;
  ::inet_pton(AF_INET, src, p.data() + 12);
  ::inet_pton(AF_INET, dst, p.data() + 16);
  p[20] = static_cast<std::uint8_t>(src_port >> 8);
  p[21] = static_cast<std::uint8_t>(src_port);
  p[22] = static_cast<std::uint8_t>(dst_port >> 8);
  p[23] = static_cast<std::uint8_t>(dst_port);
  const std::size_t udp_length = 8 + payload.size();
  p[24] = static_cast<std::uint8_t>(udp_length >> 8);
  p[25] = static_cast<std::uint8_t>(udp_length);
  std::memcpy(p.data() + 28, payload.data(), payload.size());
  std::uint32_t sum = 0;  // IPv4 header checksum (the kernel checks it on TUN writes)
  for (std::size_t i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  p[10] = static_cast<std::uint8_t>(~sum >> 8);
  p[11] = static_cast<std::uint8_t>(~sum);
  return p;
}

// A node without a TUN, running on its own thread, recording what it delivers locally (from
// any of its workers' threads).
struct TestNode {
  explicit TestNode(std::uint16_t controller_port, bool use_tun = false,
                    std::size_t pool_buffers = 256, std::uint16_t link_port = 0,
                    unsigned workers = 1)
      : node(make_config(controller_port, use_tun, pool_buffers, link_port, workers)) {}

  NodeConfig make_config(std::uint16_t controller_port, bool use_tun, std::size_t pool_buffers,
                         std::uint16_t link_port, unsigned workers) {
    NodeConfig config;
    config.workers = workers;
    config.controller_url = "ws://127.0.0.1:" + std::to_string(controller_port);
    config.use_tun = use_tun;
    config.listen_address = "127.0.0.1";
    config.link_port = link_port;
    config.pool_buffers = pool_buffers;
    config.local_delivery = [this](PacketBatch& batch) {
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard lock(mutex);
      for (Packet& packet : batch) {
        delivered.emplace_back(packet.data(), packet.data() + packet.size());
        arrivals.push_back(now);
      }
    };
    return config;
  }

  void start() {
    thread = std::thread([this] {
      auto result = node.run();
      EXPECT_TRUE(result) << result.error().message;
    });
  }
  void stop() {
    node.async_stop();
    if (thread.joinable()) thread.join();
  }
  void inject(const Bytes& bytes) {
    asio::post(node.io_context(), [this, bytes] {
      PacketBatch batch;
      Packet packet = node.pool().acquire();
      ASSERT_TRUE(packet.valid());
      ASSERT_TRUE(packet.resize(bytes.size()));
      std::memcpy(packet.data(), bytes.data(), bytes.size());
      batch.push(std::move(packet));
      node.inject_local(batch);
    });
  }
  // Injects `bytes` with `meta` (e.g. a GSO super-packet's offload fields), in a large buffer
  // when it does not fit a small one.
  void inject(const Bytes& bytes, const PacketMeta& meta) {
    asio::post(node.io_context(), [this, bytes, meta] {
      PacketBatch batch;
      PacketPool& pool = bytes.size() + node.pool().headroom() > node.pool().buffer_size()
                             ? node.large_pool()
                             : node.pool();
      Packet packet = pool.acquire();
      ASSERT_TRUE(packet.valid());
      ASSERT_TRUE(packet.resize(bytes.size()));
      std::memcpy(packet.data(), bytes.data(), bytes.size());
      packet.meta() = meta;
      batch.push(std::move(packet));
      node.inject_local(batch);
    });
  }
  std::vector<Bytes> received() {
    std::lock_guard lock(mutex);
    return delivered;
  }
  std::size_t received_count() {
    std::lock_guard lock(mutex);
    return delivered.size();
  }

  std::mutex mutex;
  std::vector<Bytes> delivered;
  std::vector<std::chrono::steady_clock::time_point> arrivals;  // of `delivered`, same order
  Node node;
  std::thread thread;
};

template <typename T>
std::size_t count_of(const std::vector<messages::Message>& messages) {
  std::size_t n = 0;
  for (const auto& message : messages) n += std::holds_alternative<T>(message) ? 1 : 0;
  return n;
}

// What the controller tells node `self` (1 or 2) of the two-node line 1 - 2; `before_add_node`
// is sent after the routes and before AddNode (where the real controller sends SetLinkParams).
// `protocol`: the links' transport (StartUpReply.protocol).
inline void bring_up(FakeController& controller, std::size_t connection, messages::NodeId self,
                     const messages::StartUp& peer,
                     const std::vector<messages::Message>& before_add_node = {},
                     const std::string& protocol = "tcp") {
  messages::StartUpReply reply;
  reply.node_id = self;
  reply.protocol = protocol;
  reply.tun_address = self == 1 ? "10.0.0.1" : "10.0.0.2";
  reply.metrics_interval_ms = 50;
  controller.send(connection, reply);
  controller.send(connection, messages::AddNodeAddress{1, "10.0.0.1"});
  controller.send(connection, messages::AddNodeAddress{2, "10.0.0.2"});
  messages::InstallRoutes routes;
  routes.version = 1;
  messages::RouteEntry one_to_two{10, 1, 2, 1, {}, false};
  messages::RouteEntry two_to_one{20, 2, 1, 1, {}, false};
  if (self == 1) {
    one_to_two.next_hops = {2};
    two_to_one.deliver_local = true;
  } else {
    one_to_two.deliver_local = true;
    two_to_one.next_hops = {1};
  }
  routes.routes = {one_to_two, two_to_one};
  controller.send(connection, routes);
  for (const messages::Message& message : before_add_node) controller.send(connection, message);
  // The higher id dials.
  controller.send(connection, messages::AddNode{self == 1 ? 2u : 1u, peer.underlay_address,
                                                peer.link_port, self == 2});
}

}  // namespace nextmini::dataplane
