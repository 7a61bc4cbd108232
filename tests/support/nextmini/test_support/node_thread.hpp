#pragma once
// NodeThread: a dataplane Node without TUN on a thread of its own, for in-process tests that run
// a real controller with real nodes. It records the packets delivered to it and when they
// arrived; inject() sends packets as if read from its TUN; tx_packets() reads its link counters
// on the node's thread.

#include <gtest/gtest.h>

#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "nextmini/dataplane/node/node.hpp"
#include "nextmini/test_support/bytes.hpp"

namespace nextmini::test_support {

class NodeThread {
 public:
  NodeThread(std::uint16_t controller_port, messages::NodeId id)
      : node_(make_config(controller_port, id)) {
    thread_ = std::thread([this] {
      auto result = node_.run();
      EXPECT_TRUE(result) << result.error().message;
    });
  }
  ~NodeThread() {
    node_.async_stop();
    thread_.join();
  }

  bool ready() const { return node_.topology_ready(); }

  void inject(const Bytes& bytes) {
    boost::asio::post(node_.io_context(), [this, bytes] {
      dataplane::PacketBatch batch;
      dataplane::Packet packet = node_.pool().acquire();
      ASSERT_TRUE(packet.valid());
      ASSERT_TRUE(packet.resize(bytes.size()));
      std::memcpy(packet.data(), bytes.data(), bytes.size());
      batch.push(std::move(packet));
      node_.inject_local(batch);
    });
  }

  // Packets this node has sent to `neighbor` (its Metrics counters, read on its thread).
  std::uint64_t tx_packets(messages::NodeId neighbor) {
    std::packaged_task<std::uint64_t()> task([this, neighbor] {
      for (const auto& link : node_.metrics().links) {
        if (link.neighbor == neighbor) return link.tx_packets;
      }
      return std::uint64_t{0};
    });
    auto result = task.get_future();
    boost::asio::post(node_.io_context(), [&task] { task(); });
    return result.get();
  }

  std::vector<Bytes> delivered() {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  // When each packet of delivered() arrived.
  std::vector<std::chrono::steady_clock::time_point> arrivals() {
    std::lock_guard lock(mutex_);
    return arrivals_;
  }

  // Whether `got` is the IPv4 packet `sent` but for the TTL and header checksum, which the
  // nodes on the way (routers) update.
  static bool routed_equal(const Bytes& got, const Bytes& sent) {
    if (got.size() != sent.size() || got.size() < 20) return got == sent;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (i != 8 && i != 10 && i != 11 && got[i] != sent[i]) return false;
    }
    return true;
  }

  // When `packet` was delivered here, if it was.
  std::optional<std::chrono::steady_clock::time_point> arrival(const Bytes& packet) {
    std::lock_guard lock(mutex_);
    for (std::size_t i = 0; i < delivered_.size(); ++i) {
      if (routed_equal(delivered_[i], packet)) return arrivals_[i];
    }
    return std::nullopt;
  }

 private:
  dataplane::NodeConfig make_config(std::uint16_t controller_port, messages::NodeId id) {
    dataplane::NodeConfig config;
    config.controller_url = "ws://127.0.0.1:" + std::to_string(controller_port);
    config.node_id = id;
    config.use_tun = false;
    config.listen_address = "127.0.0.1";
    config.link_port = 0;
    config.pool_buffers = 256;
    config.local_delivery = [this](dataplane::PacketBatch& batch) {
      const auto now = std::chrono::steady_clock::now();
      std::lock_guard lock(mutex_);
      for (dataplane::Packet& packet : batch) {
        delivered_.emplace_back(packet.data(), packet.data() + packet.size());
        arrivals_.push_back(now);
      }
    };
    return config;
  }

  std::mutex mutex_;
  std::vector<Bytes> delivered_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
  dataplane::Node node_;
  std::thread thread_;
};

}  // namespace nextmini::test_support
