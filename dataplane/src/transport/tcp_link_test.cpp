#include "nextmini/dataplane/transport/tcp_link.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "nextmini/dataplane/transport/link_frame.hpp"
#include "nextmini/dataplane/transport/link_hello.hpp"
#include "nextmini/dataplane/transport/link_listener.hpp"
#include "nextmini/test_support/bytes.hpp"
#include "nextmini/test_support/run_until.hpp"

namespace nextmini::dataplane {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using nextmini::test_support::Bytes;
using nextmini::test_support::pattern;
using namespace std::chrono_literals;

using nextmini::test_support::run_until;

TcpLinkConfig link_config(messages::NodeId self, messages::NodeId neighbor, bool dial,
                          std::string address = {}, std::uint16_t port = 0) {
  TcpLinkConfig config;
  config.self = self;
  config.neighbor = neighbor;
  config.dial = dial;
  config.address = std::move(address);
  config.port = port;
  return config;
}

PacketBatch make_batch(PacketPool& pool, const std::vector<Bytes>& contents) {
  PacketBatch batch;
  for (const Bytes& bytes : contents) {
    Packet packet = pool.acquire();
    EXPECT_TRUE(packet.valid());
    EXPECT_TRUE(packet.resize(bytes.size()));
    std::memcpy(packet.data(), bytes.data(), bytes.size());
    batch.push(std::move(packet));
  }
  return batch;
}

// Collects what a link hands up, as bytes, with the neighbour each packet was tagged with.
struct Received {
  std::vector<Bytes> packets;
  std::vector<messages::NodeId> ingress;
  TcpLink::ReceiveHandler handler() {
    return [this](messages::NodeId, PacketBatch& batch) {
      for (Packet& packet : batch) {
        packets.emplace_back(packet.data(), packet.data() + packet.size());
        ingress.push_back(packet.meta().ingress_neighbor);
      }
    };
  }
};

// Node 1 accepts (through a listener), node 2 dials it: the two ends of one link.
struct LinkPair {
  explicit LinkPair(asio::io_context& io, PacketPool& pool, TcpLinkConfig dialer_overrides = {},
                    PacketPool* large_pool = nullptr)
      : listener(io,
                 [this](messages::NodeId neighbor, tcp::socket socket) {
                   if (neighbor == 2) {
                     accepting.adopt(std::move(socket));
                   } else {
                     ++unknown_neighbors;
                   }
                 }),
        accepting(io, pool, link_config(1, 2, false), at_accepting.handler(), {}, large_pool),
        dialing(io, pool, with_defaults(dialer_overrides), at_dialing.handler(), {}, large_pool) {}

  static TcpLinkConfig with_defaults(TcpLinkConfig config) {
    config.self = 2;
    config.neighbor = 1;
    config.dial = true;
    config.address = "127.0.0.1";
    return config;
  }

  void start() {
    auto listening = listener.listen("127.0.0.1", 0);
    ASSERT_TRUE(listening) << listening.error().message;
    ASSERT_NE(listener.port(), 0);
    dialing_config_port(listener.port());
    dialing.start();
  }
  void dialing_config_port(std::uint16_t port) { dialing.set_remote("127.0.0.1", port); }

  void close() {
    listener.close();
    accepting.close();
    dialing.close();
  }

  Received at_accepting;
  Received at_dialing;
  int unknown_neighbors = 0;
  LinkListener listener;
  TcpLink accepting;
  TcpLink dialing;
};

TEST(LinkHello, RoundTripsAndRejectsBadBytes) {
  const auto bytes = LinkHello{0x01020304}.encode();
  EXPECT_EQ(std::memcmp(bytes.data(), "NMLK", 4), 0);
  auto parsed = LinkHello::parse(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->node_id, 0x01020304u);

  auto wrong_magic = bytes;
  wrong_magic[0] = 'X';
  EXPECT_FALSE(LinkHello::parse(wrong_magic));
  auto wrong_version = bytes;
  wrong_version[5] = 2;
  auto version_error = LinkHello::parse(wrong_version);
  ASSERT_FALSE(version_error);
  EXPECT_NE(version_error.error().message.find("version 2"), std::string::npos);
  EXPECT_FALSE(LinkHello::parse(LinkHello{0}.encode()));
  EXPECT_FALSE(LinkHello::parse(std::span<const std::uint8_t>(bytes.data(), 11)));
}

TEST(Backoff, GrowsWithJitterUpToTheMaximumAndResets) {
  Backoff backoff(BackoffConfig{50ms, 400ms}, 42);
  std::vector<std::chrono::milliseconds> ceilings = {50ms, 100ms, 200ms, 400ms, 400ms, 400ms};
  for (auto ceiling : ceilings) {
    const auto delay = backoff.next();
    EXPECT_GE(delay, ceiling / 2);
    EXPECT_LE(delay, ceiling);
  }
  backoff.reset();
  EXPECT_LE(backoff.next(), 50ms);
}

TEST(TcpLink, ExchangesBatchesInBothDirections) {
  asio::io_context io;
  PacketPool pool(256, 2048);
  {
    LinkPair pair(io, pool);
    pair.start();
    ASSERT_TRUE(
        run_until(io, [&] { return pair.accepting.connected() && pair.dialing.connected(); }));

    std::vector<Bytes> forward, backward;
    for (std::uint8_t i = 0; i < 100; ++i) forward.push_back(pattern(1 + i * 19, i));
    for (std::uint8_t i = 0; i < 30; ++i) backward.push_back(pattern(1900 - i * 13, i + 100));
    forward.push_back(pattern(pair.dialing.max_frame(), 7));  // the largest frame allowed

    PacketBatch batch = make_batch(pool, {forward.begin(), forward.begin() + 64});
    pair.dialing.send(batch);
    EXPECT_TRUE(batch.empty());
    batch = make_batch(pool, {forward.begin() + 64, forward.end()});
    pair.dialing.send(batch);
    batch = make_batch(pool, backward);
    pair.accepting.send(batch);

    ASSERT_TRUE(run_until(io, [&] {
      return pair.at_accepting.packets.size() == forward.size() &&
             pair.at_dialing.packets.size() == backward.size();
    }));
    EXPECT_EQ(pair.at_accepting.packets, forward);
    EXPECT_EQ(pair.at_dialing.packets, backward);
    EXPECT_EQ(pair.at_accepting.ingress, std::vector<messages::NodeId>(forward.size(), 2));
    EXPECT_EQ(pair.at_dialing.ingress, std::vector<messages::NodeId>(backward.size(), 1));

    EXPECT_EQ(pair.dialing.counters().tx_packets, forward.size());
    EXPECT_EQ(pair.accepting.counters().rx_packets, forward.size());
    EXPECT_EQ(pair.accepting.counters().rx_bytes, pair.dialing.counters().tx_bytes);
    // Frames leave in gather writes (two sends: at least two) and arrive several to a read.
    EXPECT_GE(pair.dialing.counters().tx_writes, 2u);
    EXPECT_LT(pair.dialing.counters().tx_writes, forward.size() / 4);
    EXPECT_GE(pair.accepting.counters().rx_reads, 1u);
    EXPECT_LT(pair.accepting.counters().rx_reads, forward.size());
    EXPECT_EQ(pair.dialing.counters().connects, 1u);
    EXPECT_EQ(pair.listener.counters().handed_over, 1u);

    // Too big for a frame: dropped and counted, nothing sent.
    batch = make_batch(pool, {});
    Packet big = pool.acquire();
    ASSERT_TRUE(big.resize(big.room()));
    ASSERT_TRUE(big.push_front(8));  // headers in front make it longer than any frame
    batch.push(std::move(big));
    pair.dialing.send(batch);
    EXPECT_EQ(pair.dialing.counters().drops[DropReason::kTooBig], 1u);

    pair.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TcpLink, CarriesSuperPacketFramesInLargeBuffers) {
  asio::io_context io;
  PacketPool pool(64, 2048);
  PacketPool large(8, 70'000);
  {
    LinkPair pair(io, pool, {}, &large);
    EXPECT_EQ(pair.dialing.max_frame(), 70'000u - large.headroom());
    pair.start();
    ASSERT_TRUE(
        run_until(io, [&] { return pair.accepting.connected() && pair.dialing.connected(); }));
    const std::vector<Bytes> sent = {pattern(100, 1), pattern(65'000, 2), pattern(1'900, 3),
                                     pattern(pair.dialing.max_frame(), 4), pattern(40, 5)};
    PacketBatch batch;
    for (const Bytes& bytes : sent) {
      Packet packet = bytes.size() > 1'920 ? large.acquire() : pool.acquire();
      ASSERT_TRUE(packet.resize(bytes.size()));
      std::memcpy(packet.data(), bytes.data(), bytes.size());
      batch.push(std::move(packet));
    }
    pair.dialing.send(batch);
    ASSERT_TRUE(run_until(io, [&] { return pair.at_accepting.packets.size() == sent.size(); }));
    EXPECT_EQ(pair.at_accepting.packets, sent);
    EXPECT_EQ(pair.accepting.counters().bad_frames, 0u);
    pair.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(TcpLink, SendWhileDisconnectedDropsAsLinkDown) {
  asio::io_context io;
  PacketPool pool(16, 2048);
  {
    Received received;
    TcpLink link(io, pool, link_config(1, 2, false), received.handler());
    PacketBatch batch = make_batch(pool, {pattern(10, 1), pattern(20, 2)});
    link.send(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(link.counters().drops[DropReason::kLinkDown], 2u);
    EXPECT_EQ(pool.in_use(), 0u);
    link.close();
    io.run();
  }
}

TEST(TcpLink, QueueLimitDropsWithQueueFull) {
  asio::io_context io;
  PacketPool pool(64, 2048);
  {
    TcpLinkConfig small_queue;
    small_queue.send_queue_packets = 4;
    small_queue.max_gather = 2;
    LinkPair pair(io, pool, small_queue);
    pair.start();
    ASSERT_TRUE(
        run_until(io, [&] { return pair.accepting.connected() && pair.dialing.connected(); }));
    std::vector<Bytes> contents;
    for (std::uint8_t i = 0; i < 10; ++i) contents.push_back(pattern(100, i));
    PacketBatch batch = make_batch(pool, contents);
    pair.dialing.send(batch);  // 4 fit the queue, the write takes 2 only once it starts
    EXPECT_EQ(pair.dialing.counters().drops[DropReason::kQueueFull], 6u);
    ASSERT_TRUE(run_until(io, [&] { return pair.at_accepting.packets.size() == 4; }));
    EXPECT_EQ(pair.at_accepting.packets,
              std::vector<Bytes>(contents.begin(), contents.begin() + 4));
    pair.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TcpLink, DialerReconnectsByItselfAfterTheConnectionDrops) {
  asio::io_context io;
  PacketPool pool(64, 2048);
  {
    LinkPair pair(io, pool);
    std::vector<bool> dialer_states;
    pair.start();
    ASSERT_TRUE(
        run_until(io, [&] { return pair.accepting.connected() && pair.dialing.connected(); }));

    pair.accepting.drop_connection();  // the far end goes away
    EXPECT_FALSE(pair.accepting.connected());
    ASSERT_TRUE(run_until(io, [&] { return pair.dialing.counters().disconnects == 1; }));
    ASSERT_TRUE(run_until(io, [&] {
      return pair.accepting.connected() && pair.dialing.connected() &&
             pair.dialing.counters().connects == 2;
    }));
    EXPECT_EQ(pair.accepting.counters().connects, 2u);
    EXPECT_EQ(pair.listener.counters().handed_over, 2u);

    PacketBatch batch = make_batch(pool, {pattern(500, 3)});
    pair.dialing.send(batch);
    ASSERT_TRUE(run_until(io, [&] { return pair.at_accepting.packets.size() == 1; }));
    EXPECT_EQ(pair.at_accepting.packets[0], pattern(500, 3));

    pair.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TcpLink, DialerKeepsRetryingUntilTheListenerAppears) {
  asio::io_context io;
  PacketPool pool(16, 2048);
  {
    // Reserve a port, then free it so the first attempts are refused.
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const std::uint16_t port = probe.local_endpoint().port();
    probe.close();

    Received received;
    TcpLink dialing(io, pool, link_config(2, 1, true, "127.0.0.1", port), received.handler());
    dialing.start();
    // Let a few attempts fail.
    run_until(
        io, [] { return false; }, 300ms);
    EXPECT_FALSE(dialing.connected());

    Received at_accepting;
    TcpLink accepting(io, pool, link_config(1, 2, false), at_accepting.handler());
    LinkListener listener(io, [&](messages::NodeId neighbor, tcp::socket socket) {
      if (neighbor == 2) accepting.adopt(std::move(socket));
    });
    ASSERT_TRUE(listener.listen("127.0.0.1", port));
    ASSERT_TRUE(run_until(io, [&] { return dialing.connected() && accepting.connected(); }));
    listener.close();
    accepting.close();
    dialing.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

// A hand-made connection to the listener: hello, then whatever bytes the test writes.
tcp::socket raw_connect(asio::io_context& io, std::uint16_t port) {
  tcp::socket socket(io);
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return socket;
}

TEST(TcpLink, GarbageFrameIsCountedAndTheLinkRecovers) {
  asio::io_context io;
  PacketPool pool(64, 2048);
  {
    LinkPair pair(io, pool);
    auto listening = pair.listener.listen("127.0.0.1", 0);
    ASSERT_TRUE(listening);

    // An impostor claiming to be node 2 sends a zero-length frame.
    tcp::socket raw = raw_connect(io, pair.listener.port());
    const auto hello = LinkHello{2}.encode();
    asio::write(raw, asio::buffer(hello));
    const std::uint8_t zero_frame[] = {0, 0, 0, 0, 1, 2, 3};
    asio::write(raw, asio::buffer(zero_frame));
    ASSERT_TRUE(run_until(io, [&] { return pair.accepting.counters().bad_frames == 1; }));
    EXPECT_EQ(pair.accepting.counters().drops[DropReason::kBadFrame], 1u);
    EXPECT_FALSE(pair.accepting.connected());

    // Another one announces a frame longer than a pool buffer.
    tcp::socket raw2 = raw_connect(io, pair.listener.port());
    asio::write(raw2, asio::buffer(hello));
    const std::uint8_t huge_frame[] = {0x00, 0x10, 0x00, 0x00, 9, 9, 9};
    asio::write(raw2, asio::buffer(huge_frame));
    ASSERT_TRUE(run_until(io, [&] { return pair.accepting.counters().bad_frames == 2; }));

    // The real neighbour dials and traffic flows.
    pair.dialing_config_port(pair.listener.port());
    pair.dialing.start();
    ASSERT_TRUE(
        run_until(io, [&] { return pair.accepting.connected() && pair.dialing.connected(); }));
    PacketBatch batch = make_batch(pool, {pattern(300, 1), pattern(40, 2)});
    pair.dialing.send(batch);
    ASSERT_TRUE(run_until(io, [&] { return pair.at_accepting.packets.size() == 2; }));
    EXPECT_EQ(pair.at_accepting.packets[0], pattern(300, 1));
    EXPECT_EQ(pair.at_accepting.packets[1], pattern(40, 2));

    pair.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TcpLink, DialerResyncsAfterABadFrameFromTheFarEnd) {
  asio::io_context io;
  PacketPool pool(64, 2048);
  {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    Received received;
    TcpLink dialing(io, pool,
                    link_config(2, 1, true, "127.0.0.1", acceptor.local_endpoint().port()),
                    received.handler());
    dialing.start();

    std::vector<tcp::socket> accepted;
    auto accept_one = [&] {
      acceptor.async_accept([&](const boost::system::error_code& error, tcp::socket socket) {
        if (!error) accepted.push_back(std::move(socket));
      });
    };
    accept_one();
    ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 1 && dialing.connected(); }));
    std::array<std::uint8_t, LinkHello::kSize> hello{};
    asio::read(accepted[0], asio::buffer(hello));
    auto parsed = LinkHello::parse(hello);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->node_id, 2u);

    // A good frame, then garbage: the good one is delivered, the garbage closes the connection.
    const std::uint8_t bytes[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 0};
    asio::write(accepted[0], asio::buffer(bytes));
    accept_one();
    ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 2 && dialing.connected(); }));
    EXPECT_EQ(dialing.counters().bad_frames, 1u);
    ASSERT_EQ(received.packets.size(), 1u);
    EXPECT_EQ(received.packets[0], (Bytes{'a', 'b', 'c'}));

    asio::read(accepted[1], asio::buffer(hello));
    const std::uint8_t good[] = {0, 0, 0, 2, 'o', 'k'};
    asio::write(accepted[1], asio::buffer(good));
    ASSERT_TRUE(run_until(io, [&] { return received.packets.size() == 2; }));
    EXPECT_EQ(received.packets[1], (Bytes{'o', 'k'}));
    dialing.close();
    io.restart();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(LinkListener, BadHelloIsCountedAndClosed) {
  asio::io_context io;
  int handed = 0;
  LinkListener listener(
      io, [&](messages::NodeId, tcp::socket) { ++handed; }, 200ms);
  ASSERT_TRUE(listener.listen("127.0.0.1", 0));

  tcp::socket raw = raw_connect(io, listener.port());
  const char garbage[] = "GET / HTTP/1";  // 12 bytes that are not a hello
  asio::write(raw, asio::buffer(garbage, LinkHello::kSize));
  ASSERT_TRUE(run_until(io, [&] { return listener.counters().bad_hellos == 1; }));

  // The listener closed it: our read ends.
  boost::system::error_code error;
  std::uint8_t byte;
  asio::read(raw, asio::buffer(&byte, 1), error);
  EXPECT_EQ(error, asio::error::eof);

  // Silence is cut off by the hello timeout.
  tcp::socket silent = raw_connect(io, listener.port());
  ASSERT_TRUE(run_until(io, [&] { return listener.counters().bad_hellos == 2; }));

  // A good hello is handed over with its node id.
  messages::NodeId who = 0;
  LinkListener second(io, [&](messages::NodeId neighbor, tcp::socket) { who = neighbor; });
  ASSERT_TRUE(second.listen("127.0.0.1", 0));
  tcp::socket good = raw_connect(io, second.port());
  asio::write(good, asio::buffer(LinkHello{77}.encode()));
  ASSERT_TRUE(run_until(io, [&] { return who == 77; }));
  EXPECT_EQ(handed, 0);
  EXPECT_EQ(listener.counters().accepted, 2u);
  listener.close();
  second.close();
  io.restart();
  io.run();
}

TEST(LinkListener, ReportsAClearErrorWhenThePortIsTaken) {
  asio::io_context io;
  LinkListener first(io, [](messages::NodeId, tcp::socket) {});
  ASSERT_TRUE(first.listen("127.0.0.1", 0));
  LinkListener second(io, [](messages::NodeId, tcp::socket) {});
  auto result = second.listen("127.0.0.1", first.port());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "link.listen");
  EXPECT_NE(result.error().message.find(std::to_string(first.port())), std::string::npos);
  auto bad_address = second.listen("not-an-ip", 0);
  ASSERT_FALSE(bad_address);
  first.close();
  second.close();
  io.run();
}

}  // namespace
}  // namespace nextmini::dataplane

namespace nextmini::dataplane {
namespace {

TEST(LinkFrame, CutsWholeFramesOnly) {
  std::vector<std::uint8_t> stream(4 + 3 + 4 + 2);
  write_link_frame_prefix(stream.data(), 3);
  stream[4] = 'a';
  stream[5] = 'b';
  stream[6] = 'c';
  write_link_frame_prefix(stream.data() + 7, 2);
  stream[11] = 'o';
  stream[12] = 'k';

  auto first = cut_link_frame(stream, 100);
  ASSERT_EQ(first.status, LinkFrameCut::Status::kFrame);
  EXPECT_EQ(first.consumed, 7u);
  EXPECT_EQ(std::string(first.payload.begin(), first.payload.end()), "abc");
  auto second = cut_link_frame(std::span(stream).subspan(7), 100);
  ASSERT_EQ(second.status, LinkFrameCut::Status::kFrame);
  EXPECT_EQ(std::string(second.payload.begin(), second.payload.end()), "ok");

  // Every strict prefix of a frame needs more bytes.
  for (std::size_t n = 0; n < 7; ++n)
    EXPECT_EQ(cut_link_frame(std::span(stream).first(n), 100).status,
              LinkFrameCut::Status::kNeedMore)
        << n;
  // Out of range lengths put the stream out of sync.
  EXPECT_EQ(cut_link_frame(stream, 2).status, LinkFrameCut::Status::kBad);
  const std::uint8_t zero[] = {0, 0, 0, 0, 1};
  EXPECT_EQ(cut_link_frame(zero, 100).status, LinkFrameCut::Status::kBad);
}

}  // namespace
}  // namespace nextmini::dataplane
