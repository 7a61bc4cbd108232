#include "nextmini/dataplane/core/ip_packet.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "nextmini/dataplane/core/flow_key.hpp"

namespace nextmini::dataplane {
namespace {

void put16(std::vector<std::uint8_t>& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v >> 8);
  b[at + 1] = static_cast<std::uint8_t>(v);
}

// IPv4 header with `option_words` 4-byte option words, then `l4` bytes of transport header.
std::vector<std::uint8_t> ipv4(std::uint8_t protocol, std::vector<std::uint8_t> l4,
                               std::size_t option_words = 0) {
  const std::size_t ihl = 20 + option_words * 4;
  std::vector<std::uint8_t> b(ihl, 0);
  b[0] = static_cast<std::uint8_t>(0x40 | (ihl / 4));
  b[8] = 64;
  b[9] = protocol;
  const std::uint8_t src[] = {10, 0, 0, 1};
  const std::uint8_t dst[] = {10, 0, 0, 3};
  std::copy(src, src + 4, b.begin() + 12);
  std::copy(dst, dst + 4, b.begin() + 16);
  for (std::size_t i = 20; i < ihl; ++i) b[i] = 1;  // NOP options
  b.insert(b.end(), l4.begin(), l4.end());
  put16(b, 2, static_cast<std::uint16_t>(b.size()));
  return b;
}

std::vector<std::uint8_t> ports(std::uint16_t src, std::uint16_t dst, std::size_t size = 8) {
  std::vector<std::uint8_t> l4(size, 0);
  put16(l4, 0, src);
  put16(l4, 2, dst);
  return l4;
}

// IPv6 header followed by `chain` (already-encoded extension headers) and `l4`.
std::vector<std::uint8_t> ipv6(std::uint8_t first_next, std::vector<std::uint8_t> chain,
                               std::vector<std::uint8_t> l4) {
  std::vector<std::uint8_t> b(40, 0);
  b[0] = 0x60;
  b[6] = first_next;
  b[7] = 64;
  b[8 + 15] = 1;   // src ::1
  b[24 + 15] = 2;  // dst ::2
  b.insert(b.end(), chain.begin(), chain.end());
  b.insert(b.end(), l4.begin(), l4.end());
  put16(b, 4, static_cast<std::uint16_t>(b.size() - 40));
  return b;
}

TEST(IpPacket, Ipv4UdpPorts) {
  const auto b = ipv4(kIpProtoUdp, ports(5000, 53));
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_EQ(v.version, 4);
  EXPECT_EQ(v.protocol, kIpProtoUdp);
  EXPECT_EQ(v.src_ipv4(), 0x0a000001u);
  EXPECT_EQ(v.dst_ipv4(), 0x0a000003u);
  EXPECT_TRUE(v.has_ports);
  EXPECT_EQ(v.src_port, 5000);
  EXPECT_EQ(v.dst_port, 53);
  EXPECT_EQ(v.l4_offset, 20u);
  EXPECT_EQ(v.packet_length, b.size());
  EXPECT_EQ(v.src_address.data(), b.data() + 12);  // a view, not a copy
}

TEST(IpPacket, Ipv4WithOptionsSkipsThem) {
  const auto b = ipv4(kIpProtoTcp, ports(40000, 80, 20), 3);
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_EQ(v.l4_offset, 32u);
  EXPECT_EQ(v.src_port, 40000);
  EXPECT_EQ(v.dst_port, 80);
}

TEST(IpPacket, Ipv4IcmpEchoUsesIdentifier) {
  std::vector<std::uint8_t> icmp(8, 0);
  icmp[0] = 8;  // echo request
  put16(icmp, 4, 0x4242);
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(ipv4(kIpProtoIcmp, icmp), v), IpParseStatus::kOk);
  EXPECT_TRUE(v.has_ports);
  EXPECT_EQ(v.src_port, 0x4242);
  icmp[0] = 3;  // unreachable: no identifier
  ASSERT_EQ(parse_ip_packet(ipv4(kIpProtoIcmp, icmp), v), IpParseStatus::kOk);
  EXPECT_FALSE(v.has_ports);
}

TEST(IpPacket, Ipv4EveryTruncationIsRejected) {
  const auto full = ipv4(kIpProtoTcp, ports(1, 2, 20), 2);
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + n);
    IpPacketView v;
    EXPECT_EQ(parse_ip_packet(cut, v), IpParseStatus::kTooShort) << n;
  }
}

TEST(IpPacket, Ipv4TransportHeaderTooShortForPorts) {
  auto b = ipv4(kIpProtoUdp, std::vector<std::uint8_t>(3, 0));
  IpPacketView v;
  EXPECT_EQ(parse_ip_packet(b, v), IpParseStatus::kTooShort);
}

TEST(IpPacket, Ipv4BadLengthsAreBadHeader) {
  auto b = ipv4(kIpProtoUdp, ports(1, 2));
  b[0] = 0x44;  // IHL 16 bytes < 20
  IpPacketView v;
  EXPECT_EQ(parse_ip_packet(b, v), IpParseStatus::kBadHeader);
  b = ipv4(kIpProtoUdp, ports(1, 2));
  put16(b, 2, 10);  // total length shorter than the header
  EXPECT_EQ(parse_ip_packet(b, v), IpParseStatus::kBadHeader);
  b = ipv4(kIpProtoUdp, ports(1, 2));
  put16(b, 2, static_cast<std::uint16_t>(b.size() + 1));  // claims more than there is
  EXPECT_EQ(parse_ip_packet(b, v), IpParseStatus::kTooShort);
}

TEST(IpPacket, Ipv4TrailingBytesBeyondTotalLengthAreIgnored) {
  auto b = ipv4(kIpProtoUdp, ports(7, 8));
  const std::size_t length = b.size();
  b.resize(length + 6, 0xaa);
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_EQ(v.packet_length, length);
}

TEST(IpPacket, ZeroLengthFieldMeansTheWholeSuperPacket) {
  auto v4 = ipv4(kIpProtoTcp, ports(1, 2, 20));
  v4.resize(v4.size() + 3000, 0x11);  // a GSO super-packet larger than its length field says
  put16(v4, 2, 0);
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(v4, v), IpParseStatus::kOk);
  EXPECT_EQ(v.packet_length, v4.size());
  auto v6 = ipv6(kIpProtoTcp, {}, ports(3, 4, 20));
  v6.resize(v6.size() + 3000, 0x22);
  put16(v6, 4, 0);
  ASSERT_EQ(parse_ip_packet(v6, v), IpParseStatus::kOk);
  EXPECT_EQ(v.packet_length, v6.size());
  EXPECT_EQ(v.dst_port, 4);
}

TEST(IpPacket, Ipv4FragmentsHaveNoPorts) {
  auto first = ipv4(kIpProtoUdp, ports(1000, 2000));
  put16(first, 6, 0x2000);  // MF, offset 0
  auto later = ipv4(kIpProtoUdp, ports(9, 9));
  put16(later, 6, 0x0010);  // offset 16*8
  for (const auto& b : {first, later}) {
    IpPacketView v;
    ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
    EXPECT_TRUE(v.fragment);
    EXPECT_FALSE(v.has_ports);
    EXPECT_EQ(v.src_port, 0);
  }
  IpPacketView a;
  IpPacketView c;
  ASSERT_EQ(parse_ip_packet(first, a), IpParseStatus::kOk);
  ASSERT_EQ(parse_ip_packet(later, c), IpParseStatus::kOk);
  EXPECT_EQ(FlowKey::from(a), FlowKey::from(c));  // every fragment classifies the same
}

TEST(IpPacket, BadVersion) {
  std::vector<std::uint8_t> b(40, 0);
  b[0] = 0x50;
  IpPacketView v;
  EXPECT_EQ(parse_ip_packet(b, v), IpParseStatus::kBadVersion);
  EXPECT_EQ(parse_ip_packet({}, v), IpParseStatus::kTooShort);
}

TEST(IpPacket, Ipv6TcpPorts) {
  const auto b = ipv6(kIpProtoTcp, {}, ports(443, 51000, 20));
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_EQ(v.version, 6);
  EXPECT_EQ(v.src_address.size(), 16u);
  EXPECT_EQ(v.dst_address[15], 2);
  EXPECT_EQ(v.src_ipv4(), 0u);
  EXPECT_EQ(v.src_port, 443);
  EXPECT_EQ(v.dst_port, 51000);
}

TEST(IpPacket, Ipv6IcmpEchoUsesIdentifier) {
  std::vector<std::uint8_t> icmp(8, 0);
  icmp[0] = 128;  // echo request
  put16(icmp, 4, 0x0bad);
  IpPacketView v;
  const auto echo = ipv6(kIpProtoIcmpv6, {}, icmp);
  ASSERT_EQ(parse_ip_packet(echo, v), IpParseStatus::kOk);
  EXPECT_TRUE(v.has_ports);
  EXPECT_EQ(v.dst_port, 0x0bad);
  // ICMPv4 inside IPv6 (and ICMPv6 inside IPv4) carries no identifier we read.
  const auto odd = ipv6(kIpProtoIcmp, {}, icmp);
  ASSERT_EQ(parse_ip_packet(odd, v), IpParseStatus::kOk);
  EXPECT_FALSE(v.has_ports);
  const auto odd4 = ipv4(kIpProtoIcmpv6, icmp);
  ASSERT_EQ(parse_ip_packet(odd4, v), IpParseStatus::kOk);
  EXPECT_FALSE(v.has_ports);
}

TEST(IpPacket, Ipv6WalksExtensionHeaders) {
  // Hop-by-hop (8 bytes) then destination options (16 bytes) then UDP.
  std::vector<std::uint8_t> chain(24, 0);
  chain[0] = 60;  // next: destination options
  chain[1] = 0;   // (0 + 1) * 8 bytes
  chain[8] = kIpProtoUdp;
  chain[9] = 1;  // (1 + 1) * 8 bytes
  const auto b = ipv6(0, chain, ports(1, 2));
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_EQ(v.protocol, kIpProtoUdp);
  EXPECT_EQ(v.l4_offset, 64u);
  EXPECT_EQ(v.src_port, 1);
}

TEST(IpPacket, Ipv6FragmentHeaderMeansNoPorts) {
  std::vector<std::uint8_t> frag(8, 0);
  frag[0] = kIpProtoUdp;
  frag[3] = 1;  // offset 0, M flag
  const auto b = ipv6(44, frag, ports(1, 2));
  IpPacketView v;
  ASSERT_EQ(parse_ip_packet(b, v), IpParseStatus::kOk);
  EXPECT_TRUE(v.fragment);
  EXPECT_FALSE(v.has_ports);
  EXPECT_EQ(v.protocol, kIpProtoUdp);
}

TEST(IpPacket, Ipv6ExtensionChainLimitsAndTruncation) {
  std::vector<std::uint8_t> chain;
  for (std::size_t i = 0; i <= kMaxIpv6ExtensionHeaders; ++i) {
    chain.insert(chain.end(), {60, 0, 0, 0, 0, 0, 0, 0});
  }
  IpPacketView v;
  EXPECT_EQ(parse_ip_packet(ipv6(60, chain, ports(1, 2)), v), IpParseStatus::kBadHeader);

  std::vector<std::uint8_t> long_ext(8, 0);
  long_ext[0] = kIpProtoUdp;
  long_ext[1] = 200;  // claims 1608 bytes
  EXPECT_EQ(parse_ip_packet(ipv6(0, long_ext, ports(1, 2)), v), IpParseStatus::kTooShort);

  const auto full = ipv6(kIpProtoUdp, {}, ports(1, 2));
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::vector<std::uint8_t> cut(full.begin(), full.begin() + n);
    EXPECT_NE(parse_ip_packet(cut, v), IpParseStatus::kOk) << n;
  }
}

TEST(FlowKey, HashIsStableAndSeparatesFlows) {
  const auto packet_a = ipv4(kIpProtoUdp, ports(1000, 53));
  const auto packet_b = ipv4(kIpProtoUdp, ports(1001, 53));
  IpPacketView a;
  IpPacketView b;
  ASSERT_EQ(parse_ip_packet(packet_a, a), IpParseStatus::kOk);
  ASSERT_EQ(parse_ip_packet(packet_b, b), IpParseStatus::kOk);
  const FlowKey ka = FlowKey::from(a);
  const FlowKey kb = FlowKey::from(b);
  EXPECT_EQ(ka.hash(), FlowKey::from(a).hash());
  EXPECT_NE(ka, kb);
  EXPECT_NE(ka.hash(), kb.hash());
  EXPECT_EQ(ka.src_address[0], 10);
  EXPECT_EQ(ka.src_address[4], 0);  // IPv4 in the first four bytes
}

}  // namespace
}  // namespace nextmini::dataplane
