// ICMP errors (icmp_error.hpp), the TTL decrement (ip_ttl.hpp) and the checksum helpers
// (checksum.hpp): every error's checksums verify, the quote has the RFC length, and what
// RFC 1122 / RFC 4443 forbid answering is refused.

#include "nextmini/dataplane/core/icmp_error.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

#include "nextmini/dataplane/core/checksum.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/ip_ttl.hpp"

namespace nextmini::dataplane {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::uint16_t load16(const Bytes& b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

// An IPv4 UDP packet of `size` bytes from `src` to `dst` with a valid header checksum.
Bytes ipv4_udp(std::size_t size, const char* src = "10.0.0.1", const char* dst = "10.0.0.3",
               std::uint8_t ttl = 64) {
  Bytes p(size, 0);
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(size >> 8);
  p[3] = static_cast<std::uint8_t>(size);
  p[8] = ttl;
  p[9] = kIpProtoUdp;
  ::inet_pton(AF_INET, src, p.data() + 12);
  ::inet_pton(AF_INET, dst, p.data() + 16);
  for (std::size_t i = 20; i < size; ++i) p[i] = static_cast<std::uint8_t>(i * 7);
  if (size >= 28) {
    p[24] = static_cast<std::uint8_t>((size - 20) >> 8);  // UDP length
    p[25] = static_cast<std::uint8_t>(size - 20);
  }
  const std::uint16_t checksum = checksum_finish(checksum_add({p.data(), 20}));
  p[10] = static_cast<std::uint8_t>(checksum >> 8);
  p[11] = static_cast<std::uint8_t>(checksum);
  return p;
}

// An IPv6 packet of `size` bytes carrying `next_header` (first payload byte: `first_byte`).
Bytes ipv6(std::size_t size, std::uint8_t next_header = kIpProtoUdp, std::uint8_t first_byte = 0,
           const char* src = "fd00:6e6d::1", const char* dst = "fd00:6e6d::3",
           std::uint8_t hop_limit = 64) {
  Bytes p(size, 0);
  p[0] = 0x60;
  p[4] = static_cast<std::uint8_t>((size - 40) >> 8);
  p[5] = static_cast<std::uint8_t>(size - 40);
  p[6] = next_header;
  p[7] = hop_limit;
  ::inet_pton(AF_INET6, src, p.data() + 8);
  ::inet_pton(AF_INET6, dst, p.data() + 24);
  for (std::size_t i = 40; i < size; ++i) p[i] = static_cast<std::uint8_t>(i * 3);
  p[40] = first_byte;
  return p;
}

std::array<std::uint8_t, 4> v4(const char* text) {
  std::array<std::uint8_t, 4> a{};
  ::inet_pton(AF_INET, text, a.data());
  return a;
}

std::array<std::uint8_t, 16> v6(const char* text) {
  std::array<std::uint8_t, 16> a{};
  ::inet_pton(AF_INET6, text, a.data());
  return a;
}

Bytes build(IcmpErrorKind kind, const Bytes& original, std::span<const std::uint8_t> source) {
  Bytes out(kIcmpErrorMaxSize, 0xee);
  out.resize(build_icmp_error(kind, original, source, out));
  return out;
}

// Sum over the bytes (with the checksum field in them) folds to 0xffff when the checksum is right.
bool checksum_verifies(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
  return checksum_finish(checksum_add(bytes, sum)) == 0;
}

bool icmpv6_checksum_verifies(const Bytes& packet) {
  const std::size_t payload = packet.size() - 40;
  std::uint64_t sum = checksum_add({packet.data() + 8, 32});
  sum += static_cast<std::uint32_t>(payload) + kIpProtoIcmpv6;
  return checksum_verifies({packet.data() + 40, payload}, sum);
}

TEST(IcmpErrorTest, Ipv4TimeExceededQuotesTheWholeSmallPacket) {
  const Bytes original = ipv4_udp(100);
  const auto source = v4("10.0.0.2");
  const Bytes error = build(IcmpErrorKind::kTimeExceeded, original, source);
  ASSERT_EQ(error.size(), 20u + 8u + 100u);
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(error, view), IpParseStatus::kOk);
  EXPECT_EQ(view.version, 4);
  EXPECT_EQ(view.protocol, kIpProtoIcmp);
  EXPECT_EQ(load16(error, 2), error.size());
  EXPECT_EQ(view.src_ipv4(), 0x0a000002u);  // from the router
  EXPECT_EQ(view.dst_ipv4(), 0x0a000001u);  // to the packet's source
  EXPECT_EQ(error[8], 64);
  EXPECT_TRUE(checksum_verifies({error.data(), 20}));
  EXPECT_EQ(error[20], 11);  // time exceeded
  EXPECT_EQ(error[21], 0);   // in transit
  EXPECT_EQ(load16(error, 24), 0);
  EXPECT_EQ(load16(error, 26), 0);
  EXPECT_TRUE(checksum_verifies({error.data() + 20, error.size() - 20}));
  EXPECT_TRUE(std::equal(original.begin(), original.end(), error.begin() + 28));
}

TEST(IcmpErrorTest, Ipv4UnreachableQuotesAtMost576BytesInAll) {
  const Bytes original = ipv4_udp(1400);
  const auto source = v4("10.0.0.2");
  const Bytes error = build(IcmpErrorKind::kNetUnreachable, original, source);
  ASSERT_EQ(error.size(), kIcmpv4ErrorMaxSize);
  EXPECT_EQ(error[20], 3);  // destination unreachable
  EXPECT_EQ(error[21], 0);  // net unreachable
  EXPECT_TRUE(checksum_verifies({error.data(), 20}));
  EXPECT_TRUE(checksum_verifies({error.data() + 20, error.size() - 20}));
  EXPECT_TRUE(std::equal(error.begin() + 28, error.end(), original.begin()));
}

TEST(IcmpErrorTest, Ipv6TimeExceededQuotesUpToTheMinimumMtu) {
  const Bytes original = ipv6(1400);
  const auto source = v6("fd00:6e6d::2");
  const Bytes error = build(IcmpErrorKind::kTimeExceeded, original, source);
  ASSERT_EQ(error.size(), kIcmpv6ErrorMaxSize);
  IpPacketView view;
  ASSERT_EQ(parse_ip_packet(error, view), IpParseStatus::kOk);
  EXPECT_EQ(view.protocol, kIpProtoIcmpv6);
  EXPECT_EQ(load16(error, 4), error.size() - 40);
  EXPECT_TRUE(std::equal(source.begin(), source.end(), error.begin() + 8));
  EXPECT_TRUE(std::equal(original.begin() + 8, original.begin() + 24, error.begin() + 24));
  EXPECT_EQ(error[40], 3);  // time exceeded
  EXPECT_EQ(error[41], 0);
  EXPECT_TRUE(icmpv6_checksum_verifies(error));
  EXPECT_TRUE(std::equal(error.begin() + 48, error.end(), original.begin()));

  const Bytes small = ipv6(61);  // an odd length: the checksum's last half word
  const Bytes unreachable = build(IcmpErrorKind::kNetUnreachable, small, source);
  ASSERT_EQ(unreachable.size(), 40u + 8u + 61u);
  EXPECT_EQ(unreachable[40], 1);  // destination unreachable
  EXPECT_EQ(unreachable[41], 0);  // no route to destination
  EXPECT_TRUE(icmpv6_checksum_verifies(unreachable));
}

TEST(IcmpErrorTest, RefusesWhatMayNotBeAnswered) {
  const auto source4 = v4("10.0.0.2");
  const auto source6 = v6("fd00:6e6d::2");
  Bytes out(kIcmpErrorMaxSize);
  const auto refused = [&](const Bytes& original, std::span<const std::uint8_t> source) {
    return build_icmp_error(IcmpErrorKind::kTimeExceeded, original, source, out) == 0;
  };
  // An ICMP error is never answered; an echo request is.
  Bytes icmp_error = ipv4_udp(60);
  icmp_error[9] = kIpProtoIcmp;
  icmp_error[20] = 11;
  EXPECT_TRUE(refused(icmp_error, source4));
  icmp_error[20] = 8;
  EXPECT_FALSE(refused(icmp_error, source4));
  EXPECT_TRUE(refused(ipv6(60, kIpProtoIcmpv6, 1), source6));
  EXPECT_FALSE(refused(ipv6(60, kIpProtoIcmpv6, 128), source6));
  // Non-first fragments, multicast and broadcast, unspecified sources.
  Bytes fragment = ipv4_udp(60);
  fragment[7] = 1;
  EXPECT_TRUE(refused(fragment, source4));
  EXPECT_TRUE(refused(ipv4_udp(60, "10.0.0.1", "224.0.0.5"), source4));
  EXPECT_TRUE(refused(ipv4_udp(60, "10.0.0.1", "255.255.255.255"), source4));
  EXPECT_TRUE(refused(ipv4_udp(60, "0.0.0.0", "10.0.0.3"), source4));
  EXPECT_TRUE(refused(ipv6(60, kIpProtoUdp, 0, "::", "fd00:6e6d::3"), source6));
  EXPECT_TRUE(refused(ipv6(60, kIpProtoUdp, 0, "fd00:6e6d::1", "ff02::2"), source6));
  // Garbage, a source of the other family, and too small an output.
  EXPECT_TRUE(refused(Bytes{0x45, 0, 0}, source4));
  EXPECT_TRUE(refused(ipv4_udp(60), source6));
  EXPECT_EQ(build_icmp_error(IcmpErrorKind::kTimeExceeded, ipv4_udp(60), source4,
                             std::span<std::uint8_t>(out).first(40)),
            0u);
}

TEST(IpTtlTest, DecrementsTtlAndKeepsTheHeaderChecksumRight) {
  for (const std::uint8_t ttl : {2, 64, 255}) {
    Bytes p = ipv4_udp(60, "10.0.0.1", "10.0.0.3", ttl);
    ASSERT_TRUE(checksum_verifies({p.data(), 20}));
    EXPECT_EQ(decrement_ip_ttl(p), TtlStatus::kDecremented);
    EXPECT_EQ(p[8], ttl - 1);
    EXPECT_TRUE(checksum_verifies({p.data(), 20})) << "ttl " << int(ttl);
  }
  for (const std::uint8_t ttl : {0, 1}) {
    Bytes p = ipv4_udp(60, "10.0.0.1", "10.0.0.3", ttl);
    const Bytes before = p;
    EXPECT_EQ(decrement_ip_ttl(p), TtlStatus::kExpired);
    EXPECT_EQ(p, before);
  }
  Bytes p6 = ipv6(60, kIpProtoUdp, 0, "fd00:6e6d::1", "fd00:6e6d::3", 2);
  EXPECT_EQ(decrement_ip_ttl(p6), TtlStatus::kDecremented);
  EXPECT_EQ(p6[7], 1);
  EXPECT_EQ(decrement_ip_ttl(p6), TtlStatus::kExpired);
  EXPECT_EQ(p6[7], 1);
  Bytes garbage{0x10, 0, 0};
  EXPECT_EQ(decrement_ip_ttl(garbage), TtlStatus::kNotIp);
}

TEST(IpTtlTest, ChecksumUpdateMatchesAFullRecomputation) {
  // Every TTL and protocol, a header whose checksum is near the 0x0000 / 0xffff edge.
  Bytes p = ipv4_udp(20);
  for (int ttl = 2; ttl < 256; ++ttl) {
    for (const std::uint8_t id : {0x00, 0x7f, 0xff}) {
      p[8] = static_cast<std::uint8_t>(ttl);
      p[4] = p[5] = id;
      p[10] = p[11] = 0;
      const std::uint16_t checksum = checksum_finish(checksum_add({p.data(), 20}));
      p[10] = static_cast<std::uint8_t>(checksum >> 8);
      p[11] = static_cast<std::uint8_t>(checksum);
      Bytes decremented = p;
      ASSERT_EQ(decrement_ip_ttl(decremented), TtlStatus::kDecremented);
      ASSERT_TRUE(checksum_verifies({decremented.data(), 20})) << ttl << " " << int(id);
    }
  }
}

}  // namespace
}  // namespace nextmini::dataplane
