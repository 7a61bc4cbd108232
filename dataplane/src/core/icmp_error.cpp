#include "nextmini/dataplane/core/icmp_error.hpp"

#include <algorithm>
#include <cstring>

#include "nextmini/dataplane/core/byte_order.hpp"
#include "nextmini/dataplane/core/checksum.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"

namespace nextmini::dataplane {

namespace {

constexpr std::size_t kIpv4HeaderSize = 20;
constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::size_t kIcmpHeaderSize = 8;  // type, code, checksum, 4 unused bytes
constexpr std::uint8_t kErrorTtl = 64;

bool ipv4_source_ok(std::span<const std::uint8_t> a) noexcept {
  const bool unspecified = a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0;
  const bool broadcast = a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255;
  return !unspecified && !broadcast && a[0] != 127 && (a[0] & 0xf0) != 0xe0;
}

bool ipv4_destination_ok(std::span<const std::uint8_t> a) noexcept {
  const bool broadcast = a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255;
  return !broadcast && (a[0] & 0xf0) != 0xe0;
}

bool ipv6_source_ok(std::span<const std::uint8_t> a) noexcept {
  const bool zero_prefix = std::all_of(a.begin(), a.begin() + 15, [](auto b) { return b == 0; });
  const bool unspecified_or_loopback = zero_prefix && a[15] <= 1;
  return !unspecified_or_loopback && a[0] != 0xff;
}

// Whether `view` (of `original`) is a packet an error may be sent about.
bool may_answer(const IpPacketView& view, std::span<const std::uint8_t> original) noexcept {
  if (view.version == 4) {
    if (!ipv4_source_ok(view.src_address) || !ipv4_destination_ok(view.dst_address)) return false;
    const std::uint16_t fragment_offset =
        static_cast<std::uint16_t>(((original[6] << 8) | original[7]) & 0x1fff);
    if (fragment_offset != 0) return false;
    if (view.protocol == kIpProtoIcmp && original.size() > view.l4_offset) {
      const std::uint8_t type = original[view.l4_offset];
      const bool error = type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
      if (error) return false;
    }
    return true;
  }
  if (!ipv6_source_ok(view.src_address) || view.dst_address[0] == 0xff) return false;
  if (view.fragment) return false;  // a non-first fragment carries no ICMPv6 header to check
  if (view.protocol == kIpProtoIcmpv6 && original.size() > view.l4_offset &&
      original[view.l4_offset] < 128) {
    return false;
  }
  return true;
}

std::size_t build_ipv4(IcmpErrorKind kind, const IpPacketView& view,
                       std::span<const std::uint8_t> original, std::span<const std::uint8_t> source,
                       std::span<std::uint8_t> out) noexcept {
  const std::size_t available = std::min(original.size(), view.packet_length);
  const std::size_t quote =
      std::min(available, kIcmpv4ErrorMaxSize - kIpv4HeaderSize - kIcmpHeaderSize);
  const std::size_t total = kIpv4HeaderSize + kIcmpHeaderSize + quote;
  if (out.size() < total) return 0;
  std::uint8_t* ip = out.data();
  std::memset(ip, 0, kIpv4HeaderSize + kIcmpHeaderSize);
  ip[0] = 0x45;
  ip[1] = 0xc0;  // precedence: internetwork control, as routers send their errors
  store16(ip + 2, static_cast<std::uint16_t>(total));
  ip[8] = kErrorTtl;
  ip[9] = kIpProtoIcmp;
  std::memcpy(ip + 12, source.data(), 4);
  std::memcpy(ip + 16, view.src_address.data(), 4);
  store16(ip + 10, checksum_finish(checksum_add({ip, kIpv4HeaderSize})));

  std::uint8_t* icmp = ip + kIpv4HeaderSize;
  icmp[0] = kind == IcmpErrorKind::kTimeExceeded ? 11 : 3;
  icmp[1] = 0;  // time to live exceeded in transit / net unreachable
  std::memcpy(icmp + kIcmpHeaderSize, original.data(), quote);
  store16(icmp + 2, checksum_finish(checksum_add({icmp, kIcmpHeaderSize + quote})));
  return total;
}

std::size_t build_ipv6(IcmpErrorKind kind, const IpPacketView& view,
                       std::span<const std::uint8_t> original, std::span<const std::uint8_t> source,
                       std::span<std::uint8_t> out) noexcept {
  const std::size_t available = std::min(original.size(), view.packet_length);
  const std::size_t quote =
      std::min(available, kIcmpv6ErrorMaxSize - kIpv6HeaderSize - kIcmpHeaderSize);
  const std::size_t payload = kIcmpHeaderSize + quote;
  const std::size_t total = kIpv6HeaderSize + payload;
  if (out.size() < total) return 0;
  std::uint8_t* ip = out.data();
  std::memset(ip, 0, kIpv6HeaderSize + kIcmpHeaderSize);
  ip[0] = 0x60;
  store16(ip + 4, static_cast<std::uint16_t>(payload));
  ip[6] = kIpProtoIcmpv6;
  ip[7] = kErrorTtl;
  std::memcpy(ip + 8, source.data(), 16);
  std::memcpy(ip + 24, view.src_address.data(), 16);

  std::uint8_t* icmp = ip + kIpv6HeaderSize;
  icmp[0] = kind == IcmpErrorKind::kTimeExceeded ? 3 : 1;
  icmp[1] = 0;  // hop limit exceeded in transit / no route to destination
  std::memcpy(icmp + kIcmpHeaderSize, original.data(), quote);
  // The pseudo-header: source, destination, upper-layer length, next header (RFC 8200 §8.1).
  std::uint64_t sum = checksum_add({ip + 8, 32});
  sum += static_cast<std::uint32_t>(payload >> 16) + static_cast<std::uint32_t>(payload & 0xffff);
  sum += kIpProtoIcmpv6;
  sum = checksum_add({icmp, payload}, sum);
  store16(icmp + 2, checksum_finish(sum));
  return total;
}

}  // namespace

std::size_t build_icmp_error(IcmpErrorKind kind, std::span<const std::uint8_t> original,
                             std::span<const std::uint8_t> source,
                             std::span<std::uint8_t> out) noexcept {
  IpPacketView view;
  if (parse_ip_packet(original, view) != IpParseStatus::kOk) return 0;
  if (source.size() != view.src_address.size()) return 0;
  if (!may_answer(view, original)) return 0;
  return view.version == 4 ? build_ipv4(kind, view, original, source, out)
                           : build_ipv6(kind, view, original, source, out);
}

}  // namespace nextmini::dataplane
