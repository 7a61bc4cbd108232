#include "nextmini/dataplane/node/node.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "fake_controller.hpp"
#include "nextmini/dataplane/io/unique_fd.hpp"
#include "node_test_support.hpp"

namespace nextmini::dataplane {
namespace {

// Starts `first`, then `second`, against `controller` (connections 0 and 1), checks the first
// StartUp, brings them up as nodes 1 and 2 joined by one link and waits until both are
// topology-ready. Their StartUps are left in `startup1` and `startup2`.
void bring_two_nodes_up(asio::io_context& io, FakeController& controller, TestNode& first,
                        TestNode& second, messages::StartUp& startup1,
                        messages::StartUp& startup2) {
  first.start();
  ASSERT_TRUE(run_until(
      io, [&] { return controller.connections() == 1 && !controller.received(0).empty(); }));
  second.start();
  ASSERT_TRUE(run_until(
      io, [&] { return controller.connections() == 2 && !controller.received(1).empty(); }));
  startup1 = std::get<messages::StartUp>(controller.received(0)[0]);
  startup2 = std::get<messages::StartUp>(controller.received(1)[0]);
  EXPECT_EQ(startup1.node_id, 0u);
  EXPECT_EQ(startup1.underlay_address, "127.0.0.1");
  EXPECT_EQ(startup1.link_port, first.node.link_port());
  EXPECT_NE(startup1.link_port, 0);
  EXPECT_EQ(startup1.operating_mode, "python");

  bring_up(controller, 0, 1, startup2);
  bring_up(controller, 1, 2, startup1);
  ASSERT_TRUE(run_until(io, [&] {
    return count_of<messages::NodeTopologyReady>(controller.received(0)) == 1 &&
           count_of<messages::NodeTopologyReady>(controller.received(1)) == 1;
  }));
  EXPECT_EQ(first.node.id(), 1u);
  EXPECT_EQ(second.node.id(), 2u);
  controller.send(0, messages::TopologyReady{2});
  controller.send(1, messages::TopologyReady{2});
  ASSERT_TRUE(
      run_until(io, [&] { return first.node.topology_ready() && second.node.topology_ready(); }));
}

TEST(Node, TwoNodesComeUpForwardBothWaysReportAndResync) {
  asio::io_context io;
  FakeController controller(io);
  TestNode first(controller.port());
  TestNode second(controller.port());
  messages::StartUp startup1;
  messages::StartUp startup2;
  ASSERT_NO_FATAL_FAILURE(bring_two_nodes_up(io, controller, first, second, startup1, startup2));

  const Bytes forward = udp_packet("10.0.0.1", "10.0.0.2", 5000, 6000, "over the link");
  const Bytes backward = udp_packet("10.0.0.2", "10.0.0.1", 6000, 5000, "and back");
  first.inject(forward);
  second.inject(backward);
  ASSERT_TRUE(
      run_until(io, [&] { return second.received().size() == 1 && first.received().size() == 1; }));
  EXPECT_EQ(second.received()[0], routed(forward));  // the source node is a router
  EXPECT_EQ(first.received()[0], routed(backward));

  // Metrics arrive on the interval, with the link's counters.
  auto link_counters_sent = [&] {
    for (const auto& message : controller.received(0)) {
      const auto* metrics = std::get_if<messages::Metrics>(&message);
      if (metrics == nullptr) continue;
      for (const auto& link : metrics->links)
        if (link.neighbor == 2 && link.up && link.tx_packets >= 1) return true;
    }
    return false;
  };
  ASSERT_TRUE(run_until(io, link_counters_sent));

  // Node 2's controller connection drops: it reconnects as node 2, is resynced, reports ready
  // again, and the data path kept working meanwhile.
  controller.drop(1);
  ASSERT_TRUE(run_until(
      io, [&] { return controller.connections() == 3 && !controller.received(2).empty(); }));
  EXPECT_EQ(std::get<messages::StartUp>(controller.received(2)[0]).node_id, 2u);
  first.inject(forward);
  ASSERT_TRUE(run_until(io, [&] { return second.received().size() == 2; }));
  bring_up(controller, 2, 2, startup1);
  ASSERT_TRUE(run_until(
      io, [&] { return count_of<messages::NodeTopologyReady>(controller.received(2)) == 1; }));

  // Garbage from the controller is not fatal.
  controller.send_bytes(0, {0x93, 0x01});
  first.inject(forward);
  ASSERT_TRUE(run_until(io, [&] { return second.received().size() == 3; }));

  first.stop();
  second.stop();
  EXPECT_EQ(first.node.pool().in_use(), 0u);
  EXPECT_EQ(second.node.pool().in_use(), 0u);
  controller.close();
  io.restart();
  io.run();
}

TEST(Node, ASuperPacketCrossesWholeAndIsDeliveredLocallyAsSegments) {
  asio::io_context io;
  FakeController controller(io);
  TestNode first(controller.port());
  TestNode second(controller.port());
  messages::StartUp startup1;
  messages::StartUp startup2;
  ASSERT_NO_FATAL_FAILURE(bring_two_nodes_up(io, controller, first, second, startup1, startup2));

  // A TCP super-packet (20,000 bytes of payload, MSS 1,448, partial checksum) from node 1's
  // "TUN": it crosses the tcp link whole (a 20 KB frame) and node 2's local delivery, which
  // takes plain packets, gets its 14 segments with complete checksums.
  PacketPool builder(1, 70'000);
  Packet super = test_support::make_super_packet(builder, {false, true, 20'000, 1448});
  first.inject(Bytes(super.data(), super.data() + super.size()), super.meta());
  ASSERT_TRUE(run_until(io, [&] { return second.received().size() == 14; }))
      << second.received().size();
  std::size_t payload = 0;
  for (const Bytes& segment : second.received()) {
    EXPECT_LE(segment.size(), 1500u);
    EXPECT_TRUE(test_support::ipv4_header_ok(segment.data()));
    EXPECT_TRUE(test_support::l4_checksum_ok(segment.data(), segment.size(), 20, false, 6));
    payload += segment.size() - 52;
  }
  EXPECT_EQ(payload, 20'000u);
  first.stop();
  second.stop();
  EXPECT_EQ(second.node.pool().in_use(), 0u);
  EXPECT_EQ(first.node.large_pool().in_use(), 0u);
  controller.close();
  io.restart();
  io.run();
}

// `workers` > 1: the held connection moves to the worker that owns the link.
void link_accepted_before_its_add_node_is_kept(unsigned workers) {
  asio::io_context io;
  FakeController controller(io);
  TestNode first(controller.port(), false, 256, 0, workers);
  TestNode second(controller.port(), false, 256, 0, workers);
  first.start();
  second.start();
  ASSERT_TRUE(run_until(io, [&] {
    return controller.connections() == 2 && !controller.received(0).empty() &&
           !controller.received(1).empty();
  }));
  const auto startup_a = std::get<messages::StartUp>(controller.received(0)[0]);
  const auto startup_b = std::get<messages::StartUp>(controller.received(1)[0]);
  // The dialer (node 2) hears about the link first; node 1 learns of it only later.
  bring_up(controller, 1, 2, startup_a);
  // Node 1 must hold node 2's connection before it hears of the link.
  ASSERT_TRUE(run_until(
      io, [&] { return first.node.early_connections() + second.node.early_connections() == 1; }));
  bring_up(controller, 0, 1, startup_b);
  ASSERT_TRUE(run_until(io, [&] {
    return count_of<messages::NodeTopologyReady>(controller.received(0)) == 1 &&
           count_of<messages::NodeTopologyReady>(controller.received(1)) == 1;
  }));
  first.stop();
  second.stop();
  EXPECT_EQ(first.node.early_connections() + second.node.early_connections(), 1u);
  EXPECT_EQ(first.node.buffers_in_use(), 0u);
  EXPECT_EQ(second.node.buffers_in_use(), 0u);
  controller.close();
  io.restart();
  io.run();
}

TEST(Node, LinkAcceptedBeforeItsAddNodeIsKept) { link_accepted_before_its_add_node_is_kept(1); }

TEST(Node, LinkAcceptedBeforeItsAddNodeIsKeptWithTwoWorkers) {
  link_accepted_before_its_add_node_is_kept(2);
}

TEST(Node, StartFailsClearlyOnABadControllerUrl) {
  NodeConfig config;
  config.controller_url = "http://nowhere";
  config.use_tun = false;
  config.listen_address = "127.0.0.1";
  config.link_port = 0;
  Node node(config);
  auto started = node.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, "control.url");
}

TEST(Node, StopsWithAnErrorWhenTheControllerRefusesTheToken) {
  asio::io_context io;
  FakeController controller(io);
  TestNode node(controller.port());
  std::promise<Result<void>> outcome;
  node.thread = std::thread([&] { outcome.set_value(node.node.run()); });
  ASSERT_TRUE(run_until(
      io, [&] { return controller.connections() == 1 && !controller.received(0).empty(); }));
  controller.send(0, messages::ErrorMessage{"auth.denied", "wrong token", "StartUp"});
  auto future = outcome.get_future();
  ASSERT_TRUE(run_until(io, [&] { return future.wait_for(0ms) == std::future_status::ready; }));
  node.thread.join();
  auto result = future.get();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "control.refused");
  EXPECT_NE(result.error().message.find("wrong token"), std::string::npos);
  controller.close();
  io.restart();
  io.run();
}

// ---- with a real TUN, as root, in a private network namespace --------------------------------

void bring_loopback_up() {
  UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(socket_fd.valid());
  ifreq request{};
  std::strcpy(request.ifr_name, "lo");
  ASSERT_EQ(::ioctl(socket_fd.get(), SIOCGIFFLAGS, &request), 0);
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  ASSERT_EQ(::ioctl(socket_fd.get(), SIOCSIFFLAGS, &request), 0);
}

// Node 1 has a TUN (10.0.0.1/16); node 2 runs without one. Everything — the controller, both
// nodes and the sockets — lives in a namespace of its own, so the host's interfaces are untouched.
// `workers`: both nodes' workers (node 1's TUN then has as many queues).
void tun_traffic_crosses_a_link_both_ways(unsigned workers) {
  std::thread body([workers] {
    if (::unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
      return;
    }
    bring_loopback_up();
    asio::io_context io;
    FakeController controller(io);
    TestNode first(controller.port(), /*use_tun=*/true, 256, 0, workers);
    TestNode second(controller.port(), false, 256, 0, workers);
    first.start();  // threads inherit this thread's namespace
    ASSERT_TRUE(run_until(
        io, [&] { return controller.connections() == 1 && !controller.received(0).empty(); }));
    second.start();
    ASSERT_TRUE(run_until(
        io, [&] { return controller.connections() == 2 && !controller.received(1).empty(); }));
    const auto startup1 = std::get<messages::StartUp>(controller.received(0)[0]);
    const auto startup2 = std::get<messages::StartUp>(controller.received(1)[0]);
    EXPECT_EQ(startup1.operating_mode, "tun");
    bring_up(controller, 0, 1, startup2);
    bring_up(controller, 1, 2, startup1);
    ASSERT_TRUE(run_until(io, [&] {
      return count_of<messages::NodeTopologyReady>(controller.received(0)) == 1 &&
             count_of<messages::NodeTopologyReady>(controller.received(1)) == 1;
    }));

    // An application on node 1 sends to 10.0.0.2: TUN -> processor -> link -> node 2.
    UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(udp.valid());
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, "10.0.0.1", &local.sin_addr);
    ASSERT_EQ(::bind(udp.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0)
        << std::strerror(errno);
    socklen_t local_size = sizeof(local);
    ASSERT_EQ(::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&local), &local_size), 0);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(7000);
    ::inet_pton(AF_INET, "10.0.0.2", &remote.sin_addr);
    const std::string hello = "from an application on node 1";
    ASSERT_EQ(::sendto(udp.get(), hello.data(), hello.size(), 0,
                       reinterpret_cast<sockaddr*>(&remote), sizeof(remote)),
              static_cast<ssize_t>(hello.size()));
    auto arrived = [&] {
      for (const Bytes& packet : second.received())
        if (packet.size() == 28 + hello.size() && packet[9] == 17 &&
            std::equal(hello.begin(), hello.end(), packet.begin() + 28))
          return true;
      return false;
    };
    ASSERT_TRUE(run_until(io, arrived)) << second.received().size() << " other packets arrived";

    // Node 2 answers: link -> node 1 -> TUN -> the application's socket.
    const std::string answer = "answer from node 2";
    second.inject(udp_packet("10.0.0.2", "10.0.0.1", 7000, ntohs(local.sin_port), answer));
    timeval timeout{5, 0};
    ::setsockopt(udp.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buffer[128] = {};
    const ssize_t got = ::recv(udp.get(), buffer, sizeof(buffer), 0);
    ASSERT_EQ(got, static_cast<ssize_t>(answer.size())) << std::strerror(errno);
    EXPECT_EQ(std::string(buffer, static_cast<std::size_t>(got)), answer);

    first.stop();
    second.stop();
    EXPECT_EQ(first.node.buffers_in_use(), 0u);
    EXPECT_EQ(second.node.buffers_in_use(), 0u);
    controller.close();
    io.restart();
    io.run();
  });
  body.join();
}

TEST(NodeRoot, TunTrafficCrossesALinkBothWays) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  tun_traffic_crosses_a_link_both_ways(1);
}

// Node 1's TUN has 2 queues (IFF_MULTI_QUEUE); its link is owned by worker 1.
TEST(NodeRoot, TunTrafficCrossesALinkBothWaysWithTwoWorkers) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  tun_traffic_crosses_a_link_both_ways(2);
}

// A controller flow with a weight: the weight is set before its first packet and dropped when
// its FlowFinished goes out, so finished flows leave nothing behind. Node 1 sends to its own
// TUN address (the kernel keeps that on loopback), in a namespace of its own.
TEST(NodeRoot, AControllerFlowsWeightIsDroppedWhenItFinishes) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  std::thread body([] {
    if (::unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
      return;
    }
    bring_loopback_up();
    asio::io_context io;
    FakeController controller(io);
    TestNode node(controller.port(), /*use_tun=*/true);
    node.start();
    ASSERT_TRUE(run_until(
        io, [&] { return controller.connections() == 1 && !controller.received(0).empty(); }));
    messages::StartUpReply reply;
    reply.node_id = 1;
    reply.tun_address = "10.0.0.1";
    controller.send(0, reply);
    controller.send(0, messages::AddNodeAddress{1, "10.0.0.1"});
    messages::FlowSpec spec;
    spec.flow_id = 7;
    spec.src = 1;
    spec.dst = 1;
    spec.duration_s = 0.5;
    spec.rate_bytes_per_s = 100'000;
    spec.weight = 3;
    controller.send(0, messages::AddFlows{{spec}});

    auto weighted_flows = [&] {
      std::promise<std::size_t> count;
      auto future = count.get_future();
      asio::post(node.node.io_context(),
                 [&] { count.set_value(node.node.weighted_controller_flows()); });
      return future.get();
    };
    ASSERT_TRUE(run_until(
        io, [&] { return count_of<messages::UserFlowStart>(controller.received(0)) == 1; }));
    EXPECT_EQ(weighted_flows(), 1u);
    ASSERT_TRUE(run_until(
        io, [&] { return count_of<messages::FlowFinished>(controller.received(0)) == 1; }));
    for (const auto& message : controller.received(0)) {
      if (const auto* finished = std::get_if<messages::FlowFinished>(&message)) {
        EXPECT_EQ(finished->error, "");
        EXPECT_GE(finished->bytes, 40'000u);
      }
    }
    EXPECT_EQ(weighted_flows(), 0u);

    node.stop();
    EXPECT_EQ(node.node.pool().in_use(), 0u);
    controller.close();
    io.restart();
    io.run();
  });
  body.join();
}

}  // namespace
}  // namespace nextmini::dataplane
