#include "nextmini/dataplane/io/tun_device.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "../core/offload_test_support.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"
#include "nextmini/dataplane/io/syscalls.hpp"
#include "nextmini/dataplane/io/tun_steering.hpp"
#include "steering_test_packets.hpp"

namespace nextmini::dataplane {
namespace {

using Bytes = std::vector<std::uint8_t>;

struct SocketPair {
  UniqueFd ours;
  UniqueFd peer;
};

SocketPair make_seqpacket_pair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(seed + i * 7);
  return bytes;
}

Packet make_packet(PacketPool& pool, const Bytes& bytes) {
  Packet packet = pool.acquire();
  EXPECT_TRUE(packet.valid());
  EXPECT_TRUE(packet.resize(bytes.size()));
  std::memcpy(packet.data(), bytes.data(), bytes.size());
  return packet;
}

Bytes read_peer(int fd) {
  Bytes buffer(65536);
  const ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (n < 0) return {};
  buffer.resize(static_cast<std::size_t>(n));
  return buffer;
}

TEST(TunDevice, ReadsPacketsIntoBatches) {
  boost::asio::io_context io;
  PacketPool pool(16, 2048);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  std::vector<Bytes> received;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0");
    tun.start([&](PacketBatch& batch) {
      for (Packet& packet : batch)
        received.emplace_back(packet.data(), packet.data() + packet.size());
    });
    std::vector<Bytes> sent = {pattern(60, 1), pattern(1400, 2), pattern(20, 3)};
    for (const Bytes& bytes : sent)
      ASSERT_EQ(::send(peer, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
    for (int i = 0; i < 100 && received.size() < sent.size(); ++i)
      io.run_one_for(std::chrono::milliseconds(20));
    EXPECT_EQ(received, sent);
    EXPECT_EQ(tun.counters().rx_packets, 3u);
    EXPECT_EQ(tun.counters().rx_bytes, 1480u);
    EXPECT_EQ(tun.counters().rx_bursts, 1u);  // all three were waiting: one wake-up read them
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TunDevice, CountsPoolExhaustionAndKeepsReading) {
  boost::asio::io_context io;
  PacketPool pool(2, 2048);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  std::size_t delivered = 0;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0");
    tun.start([&](PacketBatch& batch) { delivered += batch.size(); });
    for (std::uint8_t i = 0; i < 5; ++i) {
      Bytes bytes = pattern(100, i);
      ASSERT_EQ(::send(peer, bytes.data(), bytes.size(), 0), 100);
    }
    for (int i = 0; i < 100 && delivered + tun.counters().drops[DropReason::kPoolExhausted] < 5;
         ++i)
      io.run_one_for(std::chrono::milliseconds(20));
    // The batch holds the pool's two buffers; the other three reads find the pool empty.
    EXPECT_EQ(delivered, 2u);
    EXPECT_EQ(tun.counters().drops[DropReason::kPoolExhausted], 3u);
    // Once the batch is released the reader uses the pool again.
    Bytes more = pattern(50, 9);
    ASSERT_EQ(::send(peer, more.data(), more.size(), 0), 50);
    for (int i = 0; i < 100 && delivered < 3; ++i) io.run_one_for(std::chrono::milliseconds(20));
    EXPECT_EQ(delivered, 3u);
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

bool g_block_writes = false;
int g_write_interrupts = 0;

ssize_t controllable_write(int fd, const void* buffer, std::size_t size) {
  if (g_write_interrupts > 0) {
    --g_write_interrupts;
    errno = EINTR;
    return -1;
  }
  if (g_block_writes) {
    errno = EAGAIN;
    return -1;
  }
  return ::write(fd, buffer, size);
}

TEST(TunDevice, WritesPacketsAndRetriesEintr) {
  boost::asio::io_context io;
  PacketPool pool(8, 2048);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  SyscallTable table = syscall_table();
  table.write = &controllable_write;
  ScopedSyscallOverride override_table(table);
  g_block_writes = false;
  g_write_interrupts = 2;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0");
    PacketBatch batch;
    batch.push(make_packet(pool, pattern(64, 4)));
    batch.push(make_packet(pool, pattern(128, 5)));
    tun.send(batch);
    EXPECT_TRUE(batch.empty());
    EXPECT_EQ(read_peer(peer), pattern(64, 4));
    EXPECT_EQ(read_peer(peer), pattern(128, 5));
    EXPECT_EQ(tun.counters().tx_packets, 2u);
    EXPECT_EQ(g_write_interrupts, 0);
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TunDevice, QueuesOnEagainUpToTheLimitThenDrops) {
  boost::asio::io_context io;
  PacketPool pool(16, 2048);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  SyscallTable table = syscall_table();
  table.write = &controllable_write;
  ScopedSyscallOverride override_table(table);
  g_write_interrupts = 0;
  g_block_writes = true;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0", /*write_queue_limit=*/3);
    PacketBatch batch;
    for (std::uint8_t i = 0; i < 5; ++i) batch.push(make_packet(pool, pattern(100 + i, i)));
    tun.send(batch);
    EXPECT_EQ(tun.write_queue_size(), 3u);
    EXPECT_EQ(tun.counters().drops[DropReason::kQueueFull], 2u);
    EXPECT_EQ(pool.in_use(), 3u);
    EXPECT_TRUE(read_peer(peer).empty());

    g_block_writes = false;
    for (int i = 0; i < 100 && tun.write_queue_size() > 0; ++i)
      io.run_one_for(std::chrono::milliseconds(20));
    EXPECT_EQ(tun.write_queue_size(), 0u);
    for (std::uint8_t i = 0; i < 3; ++i) EXPECT_EQ(read_peer(peer), pattern(100 + i, i));
    EXPECT_EQ(tun.counters().tx_packets, 3u);
    EXPECT_EQ(pool.in_use(), 0u);
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(TunDevice, CloseReleasesQueuedPacketsAndLaterSendsDrop) {
  boost::asio::io_context io;
  PacketPool pool(8, 2048);
  SocketPair pair = make_seqpacket_pair();
  SyscallTable table = syscall_table();
  table.write = &controllable_write;
  ScopedSyscallOverride override_table(table);
  g_write_interrupts = 0;
  g_block_writes = true;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0");
    PacketBatch batch;
    batch.push(make_packet(pool, pattern(10, 1)));
    tun.send(batch);
    EXPECT_EQ(pool.in_use(), 1u);
    tun.close();
    EXPECT_EQ(pool.in_use(), 0u);
    batch.push(make_packet(pool, pattern(10, 1)));
    tun.send(batch);
    EXPECT_EQ(tun.counters().drops[DropReason::kLinkDown], 1u);
    io.run();
  }
  g_block_writes = false;
  EXPECT_EQ(pool.in_use(), 0u);
}

// ---- offloads: the probe, vnet headers and software fallbacks (fakes) --------------------------

TunOffloads vnet_offloads() {
  TunOffloads offloads;
  offloads.vnet_header = offloads.csum = offloads.tso4 = offloads.tso6 = true;
  return offloads;
}

Bytes with_vnet(const std::array<std::uint8_t, kVirtioNetHeaderSize>& header, const Bytes& body) {
  Bytes bytes(header.begin(), header.end());
  bytes.insert(bytes.end(), body.begin(), body.end());
  return bytes;
}

TEST(TunDevice, TheProbeFallsBackToPlainPacketsOnADescriptorThatIsNoTun) {
  boost::asio::io_context io;
  PacketPool pool(4, 2048);
  PacketPool large(2, 70'000);
  SocketPair pair = make_seqpacket_pair();
  EXPECT_FALSE(probe_tun_offloads(pair.ours.get(), true).vnet_header);
  TunDevice tun(io, pool, std::move(pair.ours), "fake0", 8, &large);
  EXPECT_FALSE(tun.offloads().vnet_header);
  EXPECT_FALSE(tun.offloads().gso());
  EXPECT_EQ(tun.offloads().describe(), "none (plain packets)");
  tun.close();
  io.run();
}

TEST(TunDevice, VnetReadsFillTheMetaAndPutOnlySuperPacketsInLargeBuffers) {
  boost::asio::io_context io;
  PacketPool pool(8, 2048);
  PacketPool large(4, 70'000);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  std::vector<Bytes> received;
  std::vector<PacketMeta> metas;
  std::vector<bool> in_large;
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0", 8, &large, vnet_offloads());
    tun.start([&](PacketBatch& batch) {
      for (Packet& packet : batch) {
        received.emplace_back(packet.data(), packet.data() + packet.size());
        metas.push_back(packet.meta());
        in_large.push_back(packet.room() > 2048);
      }
    });
    PacketPool builder(2, 70'000);
    Packet super = test_support::make_super_packet(builder, {false, true, 30'000, 1448});
    const Bytes super_bytes(super.data(), super.data() + super.size());
    const Bytes small = pattern(200, 3);
    const Bytes tso_header = with_vnet(
        {kVirtioNetFlagNeedsCsum, kGsoTypeTcpV4, 52, 0, 0xa8, 0x05, 20, 0, 16, 0}, super_bytes);
    const Bytes plain = with_vnet({}, small);
    const Bytes malformed = with_vnet({0x04, 0, 0, 0, 0, 0, 0, 0, 0, 0}, small);  // RSC flag
    for (const Bytes* bytes : {&tso_header, &plain, &malformed, &plain})
      ASSERT_EQ(::send(peer, bytes->data(), bytes->size(), 0), static_cast<ssize_t>(bytes->size()));
    for (int i = 0; i < 100 && received.size() < 3; ++i)
      io.run_one_for(std::chrono::milliseconds(20));
    ASSERT_EQ(received.size(), 3u);
    EXPECT_EQ(received[0], super_bytes);
    EXPECT_TRUE(in_large[0]);
    EXPECT_TRUE(metas[0].gso_valid);
    EXPECT_TRUE(metas[0].needs_csum);
    EXPECT_EQ(metas[0].gso_type, kGsoTypeTcpV4);
    EXPECT_EQ(metas[0].gso_size, 1448);
    EXPECT_EQ(metas[0].csum_start, 20);
    EXPECT_EQ(metas[0].csum_offset, 16);
    for (std::size_t i = 1; i < 3; ++i) {
      EXPECT_EQ(received[i], small);
      EXPECT_FALSE(in_large[i]);
      EXPECT_FALSE(metas[i].gso_valid);
      EXPECT_FALSE(metas[i].needs_csum);
    }
    EXPECT_EQ(tun.counters().rx_super_packets, 1u);
    EXPECT_EQ(tun.counters().bad_vnet_headers, 1u);
    EXPECT_EQ(tun.counters().drops[DropReason::kBadOffload], 1u);
    EXPECT_EQ(tun.counters().rx_bytes, super_bytes.size() + 2 * small.size());
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(TunDevice, VnetWritesCarryAHeaderBuiltFromTheMeta) {
  boost::asio::io_context io;
  PacketPool pool(8, 2048);
  PacketPool large(2, 70'000);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0", 8, &large, vnet_offloads());
    PacketBatch batch;
    Packet super = test_support::make_super_packet(large, {false, true, 10'000, 1000});
    const Bytes super_bytes(super.data(), super.data() + super.size());
    batch.push(std::move(super));
    batch.push(make_packet(pool, pattern(100, 1)));
    tun.send(batch);
    Bytes first(70'000);
    const ssize_t n = ::recv(peer, first.data(), first.size(), MSG_DONTWAIT);
    ASSERT_EQ(n, static_cast<ssize_t>(kVirtioNetHeaderSize + super_bytes.size()));
    first.resize(static_cast<std::size_t>(n));
    const Bytes expected_header = {
        kVirtioNetFlagNeedsCsum, kGsoTypeTcpV4, 52, 0, 0xe8, 0x03, 20, 0, 16, 0};
    EXPECT_EQ(Bytes(first.begin(), first.begin() + kVirtioNetHeaderSize), expected_header);
    EXPECT_EQ(Bytes(first.begin() + kVirtioNetHeaderSize, first.end()), super_bytes);
    EXPECT_EQ(read_peer(peer), with_vnet({}, pattern(100, 1)));
    EXPECT_EQ(tun.counters().tx_super_packets, 1u);
    EXPECT_EQ(tun.counters().segmented, 0u);
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(TunDevice, PlainModeSegmentsSuperPacketsAndCompletesChecksumsInSoftware) {
  boost::asio::io_context io;
  PacketPool pool(32, 2048);
  PacketPool large(2, 70'000);
  SocketPair pair = make_seqpacket_pair();
  const int peer = pair.peer.get();
  {
    TunDevice tun(io, pool, std::move(pair.ours), "fake0", 64);
    PacketBatch batch;
    batch.push(test_support::make_super_packet(large, {false, true, 3500, 1000}));
    Packet partial = test_support::make_super_packet(pool, {false, false, 300, 1000});
    partial.meta().gso_valid = false;  // a single UDP datagram with a partial checksum
    batch.push(std::move(partial));
    tun.send(batch);
    for (std::size_t i = 0; i < 4; ++i) {
      const Bytes segment = read_peer(peer);
      ASSERT_EQ(segment.size(), 52 + (i < 3 ? 1000u : 500u)) << i;
      EXPECT_TRUE(test_support::ipv4_header_ok(segment.data()));
      EXPECT_TRUE(test_support::l4_checksum_ok(segment.data(), segment.size(), 20, false, 6));
    }
    const Bytes datagram = read_peer(peer);
    ASSERT_EQ(datagram.size(), 328u);
    EXPECT_TRUE(test_support::l4_checksum_ok(datagram.data(), datagram.size(), 20, false, 17));
    EXPECT_TRUE(read_peer(peer).empty());
    EXPECT_EQ(tun.counters().segmented, 1u);
    EXPECT_EQ(tun.counters().checksums_completed, 1u);
    EXPECT_EQ(tun.counters().tx_packets, 5u);
    tun.close();
    io.run();
  }
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(large.in_use(), 0u);
}

// ---- the real device, as root, in a private network namespace --------------------------------

std::uint16_t checksum(const std::uint8_t* data, std::size_t size) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < size; i += 2) sum += (data[i] << 8) | data[i + 1];
  if (size % 2) sum += data[size - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* at, std::uint16_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value);
}

// An IPv4 header (20 bytes) from src to dst carrying `payload_size` bytes of `protocol`.
void write_ipv4_header(std::uint8_t* at, std::uint8_t protocol, std::size_t payload_size,
                       const char* src, const char* dst) {
  std::memset(at, 0, 20);
  at[0] = 0x45;
  put16(at + 2, static_cast<std::uint16_t>(20 + payload_size));
  at[8] = 64;
  at[9] = protocol;
  ::inet_pton(AF_INET, src, at + 12);
  ::inet_pton(AF_INET, dst, at + 16);
  put16(at + 10, checksum(at, 20));
}

// Runs `body` on a thread that first moves into a new network namespace, so nothing it does
// touches the interfaces of the namespace the test runs in.
template <typename Body>
void in_private_netns(Body body) {
  std::thread worker([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
      return;
    }
    body();
  });
  worker.join();
}

TEST(TunDeviceRoot, CarriesUdpAndIcmpInAPrivateNamespace) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  in_private_netns([] {
    boost::asio::io_context io;
    PacketPool pool(64, 2048);
    {
      auto opened = TunDevice::open(io, pool);
      ASSERT_TRUE(opened) << opened.error().message;
      TunDevice& tun = **opened;
      EXPECT_EQ(tun.name(), "utun");
      auto configured = tun.configure({"10.0.0.1", 16, 1400, 4096});
      ASSERT_TRUE(configured) << configured.error().message;
      {  // the transmit queue length was set
        UniqueFd probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        ifreq request{};
        std::strcpy(request.ifr_name, "utun");
        ASSERT_EQ(::ioctl(probe.get(), SIOCGIFTXQLEN, &request), 0);
        EXPECT_EQ(request.ifr_qlen, 4096);
      }

      std::vector<Bytes> seen;
      tun.start([&](PacketBatch& batch) {
        for (Packet& packet : batch)
          seen.emplace_back(packet.data(), packet.data() + packet.size());
      });

      // Outbound: a UDP datagram to 10.0.0.2 leaves through the TUN.
      UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ASSERT_TRUE(udp.valid());
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, "10.0.0.1", &local.sin_addr);
      ASSERT_EQ(::bind(udp.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
      socklen_t local_size = sizeof(local);
      ASSERT_EQ(::getsockname(udp.get(), reinterpret_cast<sockaddr*>(&local), &local_size), 0);
      sockaddr_in remote{};
      remote.sin_family = AF_INET;
      remote.sin_port = htons(9999);
      ::inet_pton(AF_INET, "10.0.0.2", &remote.sin_addr);
      const char kHello[] = "hello through the tun";
      ASSERT_EQ(::sendto(udp.get(), kHello, sizeof(kHello), 0, reinterpret_cast<sockaddr*>(&remote),
                         sizeof(remote)),
                static_cast<ssize_t>(sizeof(kHello)));

      auto is_our_datagram = [&](const Bytes& p) {
        return p.size() == 28 + sizeof(kHello) && (p[0] >> 4) == 4 && p[9] == 17 &&
               std::memcmp(p.data() + 16, &remote.sin_addr, 4) == 0 &&
               std::memcmp(p.data() + 28, kHello, sizeof(kHello)) == 0;
      };
      auto found = [&] {
        for (const Bytes& p : seen)
          if (is_our_datagram(p)) return true;
        return false;
      };
      for (int i = 0; i < 200 && !found(); ++i) io.run_one_for(std::chrono::milliseconds(10));
      EXPECT_TRUE(found()) << "the UDP datagram did not come out of the TUN (" << seen.size()
                           << " other packets)";

      // Inbound: a UDP datagram written into the TUN reaches the bound socket.
      timeval timeout{2, 0};
      ::setsockopt(udp.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      const char kReply[] = "reply";
      {
        PacketBatch batch;
        Packet packet = pool.acquire();
        const std::size_t udp_size = 8 + sizeof(kReply);
        ASSERT_TRUE(packet.resize(20 + udp_size));
        std::uint8_t* p = packet.data();
        write_ipv4_header(p, 17, udp_size, "10.0.0.2", "10.0.0.1");
        put16(p + 20, 7777);
        std::memcpy(p + 22, &local.sin_port, 2);
        put16(p + 24, static_cast<std::uint16_t>(udp_size));
        put16(p + 26, 0);  // no UDP checksum
        std::memcpy(p + 28, kReply, sizeof(kReply));
        batch.push(std::move(packet));
        tun.send(batch);
      }
      char buffer[64] = {};
      sockaddr_in from{};
      socklen_t from_size = sizeof(from);
      const ssize_t got = ::recvfrom(udp.get(), buffer, sizeof(buffer), 0,
                                     reinterpret_cast<sockaddr*>(&from), &from_size);
      ASSERT_EQ(got, static_cast<ssize_t>(sizeof(kReply))) << std::strerror(errno);
      EXPECT_STREQ(buffer, kReply);
      EXPECT_EQ(ntohs(from.sin_port), 7777);

      // Inbound ICMP: an echo reply written into the TUN reaches a raw ICMP socket.
      UniqueFd raw(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
      ASSERT_TRUE(raw.valid()) << std::strerror(errno);
      ::setsockopt(raw.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      {
        PacketBatch batch;
        Packet packet = pool.acquire();
        ASSERT_TRUE(packet.resize(20 + 16));
        std::uint8_t* p = packet.data();
        write_ipv4_header(p, 1, 16, "10.0.0.2", "10.0.0.1");
        std::uint8_t* icmp = p + 20;
        std::memset(icmp, 0, 16);
        icmp[0] = 0;              // echo reply
        put16(icmp + 4, 0x4e4d);  // identifier
        put16(icmp + 6, 7);       // sequence
        std::memcpy(icmp + 8, "nextmini", 8);
        put16(icmp + 2, checksum(icmp, 16));
        batch.push(std::move(packet));
        tun.send(batch);
      }
      std::uint8_t raw_buffer[128] = {};
      const ssize_t raw_got = ::recv(raw.get(), raw_buffer, sizeof(raw_buffer), 0);
      ASSERT_EQ(raw_got, 36) << std::strerror(errno);
      EXPECT_EQ(raw_buffer[20], 0);  // type: echo reply
      EXPECT_EQ((raw_buffer[24] << 8) | raw_buffer[25], 0x4e4d);
      EXPECT_EQ(std::memcmp(raw_buffer + 28, "nextmini", 8), 0);

      EXPECT_EQ(tun.counters().tx_packets, 2u);
      EXPECT_EQ(tun.counters().write_errors, 0u);
      tun.close();
      io.run();
      opened = fail("closed", "");  // destroy the device before the pool
    }
    EXPECT_EQ(pool.in_use(), 0u);
  });
}

// Two TUN devices in two namespaces, joined back to back by this test (what two nodes do over
// a link), carry a kernel TCP connection. `far_offloads`: whether the receiving side's TUN has
// a vnet header; without one, super-packets are segmented and checksums completed in software
// before the write, and the receiving kernel verifies every checksum.
void tcp_through_two_tuns(bool far_offloads) {
  boost::asio::io_context io;
  PacketPool pool(512, 2048);
  PacketPool large(64, 70'000);
  std::unique_ptr<TunDevice> near_tun;  // the client's side
  std::unique_ptr<TunDevice> far_tun;   // the server's side
  UniqueFd client;
  UniqueFd server;
  auto in_namespace = [&](const char* address, bool offloads, std::unique_ptr<TunDevice>& tun,
                          UniqueFd& socket_fd, bool listening) {
    in_private_netns([&] {
      auto opened = TunDevice::open(io, pool, "utun", &large, offloads);
      ASSERT_TRUE(opened) << opened.error().message;
      tun = std::move(*opened);
      auto configured = tun->configure({address, 24, 1500, 4096});
      ASSERT_TRUE(configured) << configured.error().message;
      socket_fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      ASSERT_TRUE(socket_fd.valid());
      if (listening) {
        sockaddr_in local{};
        local.sin_family = AF_INET;
        local.sin_port = htons(5201);
        ::inet_pton(AF_INET, address, &local.sin_addr);
        ASSERT_EQ(::bind(socket_fd.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
        ASSERT_EQ(::listen(socket_fd.get(), 1), 0);
      }
    });
  };
  in_namespace("10.77.0.1", true, near_tun, client, false);
  in_namespace("10.77.0.2", far_offloads, far_tun, server, true);
  ASSERT_TRUE(near_tun && far_tun);
  EXPECT_TRUE(near_tun->offloads().tso4) << near_tun->offloads().describe();
  EXPECT_EQ(far_tun->offloads().vnet_header, far_offloads);

  std::size_t largest = 0;
  near_tun->start([&](PacketBatch& batch) {
    for (Packet& packet : batch) largest = std::max(largest, packet.size());
    far_tun->send(batch);
  });
  far_tun->start([&](PacketBatch& batch) { near_tun->send(batch); });

  constexpr std::size_t kBytes = 8 << 20;
  std::atomic<bool> done{false};
  std::size_t received = 0;
  bool intact = true;
  std::thread receiver([&] {
    timeval timeout{10, 0};
    UniqueFd accepted(::accept(server.get(), nullptr, nullptr));
    if (!accepted) return;
    ::setsockopt(accepted.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    std::vector<std::uint8_t> buffer(1 << 16);
    for (;;) {
      const ssize_t n = ::recv(accepted.get(), buffer.data(), buffer.size(), 0);
      if (n <= 0) break;
      for (ssize_t i = 0; i < n; ++i)
        intact &= buffer[static_cast<std::size_t>(i)] ==
                  static_cast<std::uint8_t>((received + static_cast<std::size_t>(i)) % 251);
      received += static_cast<std::size_t>(n);
    }
    done = true;
  });
  std::thread sender([&] {
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(5201);
    ::inet_pton(AF_INET, "10.77.0.2", &remote.sin_addr);
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&remote), sizeof(remote)) != 0) {
      ::shutdown(server.get(), SHUT_RDWR);
      return;
    }
    std::vector<std::uint8_t> data(kBytes);
    for (std::size_t i = 0; i < kBytes; ++i) data[i] = static_cast<std::uint8_t>(i % 251);
    std::size_t sent = 0;
    while (sent < kBytes) {
      const ssize_t n = ::send(client.get(), data.data() + sent, kBytes - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(client.get(), SHUT_WR);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done && std::chrono::steady_clock::now() < deadline)
    io.run_one_for(std::chrono::milliseconds(10));
  sender.join();
  if (!done) ::shutdown(server.get(), SHUT_RDWR);
  receiver.join();

  EXPECT_EQ(received, kBytes);
  EXPECT_TRUE(intact);
  EXPECT_GT(near_tun->counters().rx_super_packets, 0u);
  EXPECT_GT(largest, 1500u) << "the kernel handed over no packet larger than the MTU";
  if (far_offloads) {
    EXPECT_GT(far_tun->counters().tx_super_packets, 0u);
    EXPECT_EQ(far_tun->counters().segmented, 0u);
  } else {
    EXPECT_GT(far_tun->counters().segmented, 0u);
    EXPECT_EQ(far_tun->counters().tx_super_packets, 0u);
  }
  EXPECT_EQ(far_tun->counters().write_errors, 0u);
  near_tun->close();
  far_tun->close();
  io.run();
  near_tun.reset();
  far_tun.reset();
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(large.in_use(), 0u);
}

TEST(TunDeviceRoot, TcpSuperPacketsCrossWholeIntoATunWithOffloads) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  tcp_through_two_tuns(true);
}

TEST(TunDeviceRoot, TcpSuperPacketsAreSegmentedForAPlainTun) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  tcp_through_two_tuns(false);
}

// Two queues of one multi-queue TUN: every flow comes out of exactly one queue, together the
// queues carry every datagram, and a packet written on either queue reaches the kernel.
TEST(TunDeviceRoot, MultiQueueKeepsEachFlowOnOneQueue) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  in_private_netns([] {
    boost::asio::io_context io;
    PacketPool pool(512, 2048);
    PacketPool large(4, 69'632);
    auto opened = TunDevice::open_queues({{&io, &pool, &large}, {&io, &pool, &large}}, "mqtun");
    if (!opened && opened.error().message.find("IFF_MULTI_QUEUE") != std::string::npos) {
      GTEST_SKIP() << "the kernel refuses IFF_MULTI_QUEUE: " << opened.error().message;
    }
    ASSERT_TRUE(opened) << opened.error().message;
    auto& queues = *opened;
    ASSERT_EQ(queues.size(), 2u);
    EXPECT_EQ(queues[1]->name(), "mqtun");
    auto configured = queues[0]->configure({"10.0.0.1", 16, 1400, 4096});
    ASSERT_TRUE(configured) << configured.error().message;

    constexpr int kFlows = 16;
    constexpr int kPerFlow = 20;
    // Per destination port (flow): which queues it came out of, and how many datagrams.
    std::map<std::uint16_t, std::set<int>> queues_of_flow;
    std::map<std::uint16_t, int> count_of_flow;
    for (int q = 0; q < 2; ++q) {
      queues[q]->start([&, q](PacketBatch& batch) {
        for (Packet& packet : batch) {
          const std::uint8_t* p = packet.data();
          if (packet.size() < 28 || (p[0] >> 4) != 4 || p[9] != 17) continue;
          const auto port = static_cast<std::uint16_t>((p[22] << 8) | p[23]);
          if (port < 7000 || port >= 7000 + kFlows) continue;
          queues_of_flow[port].insert(q);
          ++count_of_flow[port];
        }
      });
    }
    UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ASSERT_TRUE(udp.valid());
    for (int round = 0; round < kPerFlow; ++round) {
      for (int flow = 0; flow < kFlows; ++flow) {
        sockaddr_in remote{};
        remote.sin_family = AF_INET;
        remote.sin_port = htons(static_cast<std::uint16_t>(7000 + flow));
        ::inet_pton(AF_INET, "10.0.0.2", &remote.sin_addr);
        const char kData[] = "flow";
        ASSERT_EQ(::sendto(udp.get(), kData, sizeof(kData), 0, reinterpret_cast<sockaddr*>(&remote),
                           sizeof(remote)),
                  static_cast<ssize_t>(sizeof(kData)));
      }
      for (int i = 0; i < 5; ++i) io.poll();
    }
    auto total = [&] {
      int n = 0;
      for (const auto& [port, count] : count_of_flow) n += count;
      return n;
    };
    for (int i = 0; i < 200 && total() < kFlows * kPerFlow; ++i)
      io.run_one_for(std::chrono::milliseconds(10));
    EXPECT_EQ(total(), kFlows * kPerFlow);
    std::set<int> used;
    for (const auto& [port, seen_on] : queues_of_flow) {
      EXPECT_EQ(seen_on.size(), 1u) << "flow to port " << port << " came out of both queues";
      used.insert(seen_on.begin(), seen_on.end());
    }
    EXPECT_EQ(used.size(), 2u) << "16 flows should spread over both queues";

    // Inbound on queue 1: a UDP datagram 10.0.0.2 -> 10.0.0.1 reaches a local socket.
    UniqueFd sink(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(7999);
    ::inet_pton(AF_INET, "10.0.0.1", &local.sin_addr);
    ASSERT_EQ(::bind(sink.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);
    PacketBatch batch;
    Packet packet = pool.acquire();
    ASSERT_TRUE(packet.resize(28 + 5));
    std::uint8_t* p = packet.data();
    write_ipv4_header(p, 17, 8 + 5, "10.0.0.2", "10.0.0.1");
    put16(p + 20, 5555);
    put16(p + 22, 7999);
    put16(p + 24, 8 + 5);
    put16(p + 26, 0);  // no UDP checksum
    std::memcpy(p + 28, "hello", 5);
    batch.push(std::move(packet));
    queues[1]->send(batch);
    char got[16] = {};
    ssize_t n = -1;
    for (int i = 0; i < 100 && n < 0; ++i) {
      n = ::recv(sink.get(), got, sizeof(got), 0);
      if (n < 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(n, 5);
    EXPECT_EQ(std::string(got, n > 0 ? n : 0), "hello");

    for (auto& queue : queues) queue->close();
    io.run();
    queues.clear();
    EXPECT_EQ(pool.in_use(), 0u);
  });
}

// Flow steering on a real multi-queue TUN: TCP and UDP flows over IPv4 and IPv6 (raw sockets,
// so the kernel routes them out of the TUN), each read back on its queues. Phase 0: the flows
// start; then the node writes every flow's answer on another queue (queue + 1) and phase 1
// sends again; with `idle_gap`, phase 2 sends after 3.5 s of silence (the kernel's automatic
// steering forgets a flow after 3 s). Returns, per phase and flow, the queues it came out of.
struct SteeringObserved {
  std::vector<test_support::FlowSpec> flows;
  std::vector<unsigned> expected;                       // tun_steering_queue() of each flow
  std::vector<std::vector<std::set<int>>> queues_seen;  // [phase][flow]
  bool skipped = false;
};

SteeringObserved steer_flows(unsigned queue_count, bool flow_steering, bool idle_gap) {
  SteeringObserved observed;
  in_private_netns([&] {
    boost::asio::io_context io;
    PacketPool pool(1024, 2048);
    PacketPool large(4, 69'632);
    std::vector<TunDevice::QueueContext> contexts(queue_count, {&io, &pool, &large});
    auto opened = TunDevice::open_queues(contexts, "mqtun", true, flow_steering);
    if (!opened && opened.error().message.find("IFF_MULTI_QUEUE") != std::string::npos) {
      observed.skipped = true;
      return;
    }
    ASSERT_TRUE(opened) << opened.error().message;
    auto& queues = *opened;
    auto configured = queues[0]->configure({"10.0.0.1", 16, 1400, 4096, "fd00:6e6d::1", 64});
    ASSERT_TRUE(configured) << configured.error().message;

    // 16 flows of each (family, protocol): ephemeral-like source ports, three server ports.
    for (const bool ipv6 : {false, true}) {
      for (const std::uint8_t protocol : {kIpProtoTcp, kIpProtoUdp}) {
        for (int i = 0; i < 16; ++i) {
          test_support::FlowSpec spec;
          spec.ipv6 = ipv6;
          spec.protocol = protocol;
          ::inet_pton(ipv6 ? AF_INET6 : AF_INET, ipv6 ? "fd00:6e6d::1" : "10.0.0.1",
                      spec.src.data());
          ::inet_pton(ipv6 ? AF_INET6 : AF_INET, ipv6 ? "fd00:6e6d::2" : "10.0.0.2",
                      spec.dst.data());
          spec.src_port = static_cast<std::uint16_t>(40000 + 7 * i);
          spec.dst_port = static_cast<std::uint16_t>(5201 + i % 3);
          observed.flows.push_back(spec);
          observed.expected.push_back(
              tun_steering_queue(test_support::build_flow_packet(spec), queue_count));
        }
      }
    }
    const std::size_t flows = observed.flows.size();
    const auto flow_of = [&](const IpPacketView& view) -> int {
      for (std::size_t f = 0; f < flows; ++f) {
        const auto& spec = observed.flows[f];
        if ((view.version == 6) == spec.ipv6 && view.protocol == spec.protocol &&
            view.src_port == spec.src_port && view.dst_port == spec.dst_port)
          return static_cast<int>(f);
      }
      return -1;
    };
    std::size_t phase = 0;
    std::size_t seen_in_phase = 0;
    for (unsigned q = 0; q < queue_count; ++q) {
      queues[q]->start([&, q](PacketBatch& batch) {
        for (Packet& packet : batch) {
          IpPacketView view;
          if (parse_ip_packet({packet.data(), packet.size()}, view) != IpParseStatus::kOk) continue;
          const int flow = flow_of(view);
          if (flow < 0) continue;  // neighbour discovery, ICMP errors for the answers, ...
          observed.queues_seen[phase][static_cast<std::size_t>(flow)].insert(static_cast<int>(q));
          ++seen_in_phase;
        }
      });
    }

    {  // the IPv6 address takes a moment to leave the tentative state (sends fail till then)
      sockaddr_in6 own{};
      own.sin6_family = AF_INET6;
      ::inet_pton(AF_INET6, "fd00:6e6d::1", &own.sin6_addr);
      bool usable = false;
      for (int i = 0; i < 200 && !usable; ++i) {
        UniqueFd probe(::socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        usable = ::bind(probe.get(), reinterpret_cast<sockaddr*>(&own), sizeof(own)) == 0;
        if (!usable) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      ASSERT_TRUE(usable) << "fd00:6e6d::1 did not become usable";
    }
    UniqueFd raw4(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    UniqueFd raw6(::socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    ASSERT_TRUE(raw4.valid() && raw6.valid()) << std::strerror(errno);
    constexpr int kPerFlow = 4;
    const auto send_phase = [&] {
      observed.queues_seen.emplace_back(flows);
      seen_in_phase = 0;
      for (int round = 0; round < kPerFlow; ++round) {
        for (const auto& spec : observed.flows) {
          const auto bytes = test_support::build_flow_packet(spec);
          sockaddr_storage to{};
          socklen_t size = 0;
          if (spec.ipv6) {
            auto* to6 = reinterpret_cast<sockaddr_in6*>(&to);
            to6->sin6_family = AF_INET6;
            std::memcpy(&to6->sin6_addr, spec.dst.data(), 16);
            size = sizeof(sockaddr_in6);
          } else {
            auto* to4 = reinterpret_cast<sockaddr_in*>(&to);
            to4->sin_family = AF_INET;
            std::memcpy(&to4->sin_addr, spec.dst.data(), 4);
            size = sizeof(sockaddr_in);
          }
          const int fd = spec.ipv6 ? raw6.get() : raw4.get();
          ASSERT_EQ(
              ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), size),
              static_cast<ssize_t>(bytes.size()))
              << std::strerror(errno);
        }
        for (int i = 0; i < 5; ++i) io.poll();
      }
      for (int i = 0; i < 300 && seen_in_phase < flows * kPerFlow; ++i)
        io.run_one_for(std::chrono::milliseconds(10));
      EXPECT_GE(seen_in_phase, flows * kPerFlow) << "phase " << phase;
      ++phase;
    };

    send_phase();
    // The node answers every flow on a queue the steering program did not pick for it.
    for (std::size_t f = 0; f < flows; ++f) {
      PacketBatch batch;
      batch.push(make_packet(pool, test_support::build_flow_packet(observed.flows[f].answer())));
      queues[(observed.expected[f] + 1) % queue_count]->send(batch);
    }
    for (int i = 0; i < 20; ++i) io.run_one_for(std::chrono::milliseconds(5));
    send_phase();
    if (idle_gap) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3500));
      send_phase();
    }

    for (auto& queue : queues) queue->close();
    io.run();
    queues.clear();
    EXPECT_EQ(pool.in_use(), 0u);
  });
  return observed;
}

void expect_every_flow_on_its_queue(unsigned queue_count) {
  const SteeringObserved observed = steer_flows(queue_count, true, true);
  if (observed.skipped) GTEST_SKIP() << "the kernel refuses IFF_MULTI_QUEUE";
  ASSERT_EQ(observed.queues_seen.size(), 3u);
  std::set<unsigned> used;
  for (std::size_t phase = 0; phase < observed.queues_seen.size(); ++phase) {
    for (std::size_t f = 0; f < observed.flows.size(); ++f) {
      const auto& spec = observed.flows[f];
      EXPECT_EQ(observed.queues_seen[phase][f], std::set<int>{int(observed.expected[f])})
          << "phase " << phase << ": " << (spec.ipv6 ? "IPv6 " : "IPv4 ")
          << (spec.protocol == kIpProtoTcp ? "TCP" : "UDP") << " flow " << spec.src_port << " -> "
          << spec.dst_port;
    }
  }
  for (const unsigned queue : observed.expected) used.insert(queue);
  EXPECT_EQ(used.size(), queue_count) << "64 flows should use every queue";
}

TEST(TunDeviceRoot, FlowSteeringKeepsEveryFlowOnItsQueueOfTwo) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  expect_every_flow_on_its_queue(2);
}

TEST(TunDeviceRoot, FlowSteeringKeepsEveryFlowOnItsQueueOfFour) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  expect_every_flow_on_its_queue(4);
}

// Flows of a run without idle gap seen on more than one queue.
std::size_t moved_flows(const SteeringObserved& observed) {
  std::size_t moved = 0;
  for (std::size_t f = 0; f < observed.flows.size(); ++f) {
    std::set<int> both = observed.queues_seen[0][f];
    both.insert(observed.queues_seen[1][f].begin(), observed.queues_seen[1][f].end());
    if (both.size() > 1) ++moved;
  }
  return moved;
}

// The same run without the program: the kernel's automatic steering moves the flows whose
// answers were written on another queue (what the program is there to prevent), so the test
// above can fail.
TEST(TunDeviceRoot, WithoutFlowSteeringAnswersMoveFlowsToOtherQueues) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  const SteeringObserved observed = steer_flows(2, false, false);
  if (observed.skipped) GTEST_SKIP() << "the kernel refuses IFF_MULTI_QUEUE";
  ASSERT_EQ(observed.queues_seen.size(), 2u);
  EXPECT_GT(moved_flows(observed), observed.flows.size() / 4);
}

int refuse_steering_ioctl(int fd, unsigned long request, void* argument) {
  if (request == TUNSETSTEERINGEBPF) {
    errno = EINVAL;
    return -1;
  }
  return ::ioctl(fd, request, argument);
}

// A kernel that refuses the program (TUNSETSTEERINGEBPF fails): the queues open all the same
// and the kernel steers by itself, as before the program existed.
TEST(TunDeviceRoot, WhenTheProgramCannotBeAttachedTheQueuesOpenWithTheKernelsSteering) {
  ASSERT_EQ(::geteuid(), 0u) << "this test needs root (CI runs it as root)";
  SyscallTable table = syscall_table();
  table.ioctl = &refuse_steering_ioctl;
  ScopedSyscallOverride override_table(table);
  const SteeringObserved observed = steer_flows(2, true, false);
  if (observed.skipped) GTEST_SKIP() << "the kernel refuses IFF_MULTI_QUEUE";
  ASSERT_EQ(observed.queues_seen.size(), 2u);
  EXPECT_GT(moved_flows(observed), observed.flows.size() / 4);
}

TEST(TunDeviceRoot, OpenFailsWithAClearErrorForABadName) {
  boost::asio::io_context io;
  PacketPool pool(4, 2048);
  auto opened = TunDevice::open(io, pool, "a-name-that-is-far-too-long");
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, "io.tun");
  EXPECT_NE(opened.error().message.find("a-name-that-is-far-too-long"), std::string::npos);
}

TEST(InterfaceConfig, RejectsBadSettingsWithClearErrors) {
  auto bad_address = configure_interface("utun", {"10.0.0.300", 16, 1400});
  ASSERT_FALSE(bad_address);
  EXPECT_NE(bad_address.error().message.find("10.0.0.300"), std::string::npos);
  auto bad_prefix = configure_interface("utun", {"10.0.0.1", 33, 1400});
  ASSERT_FALSE(bad_prefix);
  EXPECT_NE(bad_prefix.error().message.find("33"), std::string::npos);
  EXPECT_EQ(prefix_to_netmask(16), 0xffff0000u);
  EXPECT_EQ(prefix_to_netmask(0), 0u);
  EXPECT_EQ(prefix_to_netmask(32), 0xffffffffu);
}

}  // namespace
}  // namespace nextmini::dataplane
