#pragma once
// IpPacketView: a bounds-checked, zero-copy view of an IPv4 or IPv6 packet's headers — the
// addresses, the transport protocol and, for TCP/UDP (ports) and ICMP echo (identifier), the two
// "ports" a FlowKey needs. parse_ip_packet() reads only inside the span it is given and never
// allocates or throws; the view's address spans point into that span, so it is valid as long as
// the packet's bytes are.
//   IPv4: options are skipped (IHL); total_length must fit in the span (0 is taken as "the whole
//         span", which GSO super-packets may carry); fragments (MF set or offset != 0) carry no
//         ports, so every fragment of a datagram classifies the same.
//   IPv6: hop-by-hop, routing, destination-options, fragment and AH extension headers are walked
//         (at most kMaxIpv6ExtensionHeaders); a fragment header makes the packet a fragment.

#include <cstddef>
#include <cstdint>
#include <span>

namespace nextmini::dataplane {

inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::size_t kMaxIpv6ExtensionHeaders = 8;

enum class IpParseStatus : std::uint8_t {
  kOk,
  kTooShort,    // the bytes end before a header they claim to carry
  kBadVersion,  // neither 4 nor 6 (or empty)
  kBadHeader,   // a length field is inconsistent, or too many IPv6 extension headers
};

struct IpPacketView {
  std::uint8_t version = 0;                   // 4 or 6
  std::uint8_t protocol = 0;                  // transport protocol (after IPv6 extension headers)
  std::span<const std::uint8_t> src_address;  // 4 or 16 bytes, network order
  std::span<const std::uint8_t> dst_address;
  std::size_t l4_offset = 0;      // where the transport header starts
  std::size_t packet_length = 0;  // bytes the IP header says the packet has
  bool fragment = false;
  bool has_ports = false;
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;

  // IPv4 addresses in host byte order (0 for IPv6).
  std::uint32_t src_ipv4() const noexcept { return version == 4 ? load(src_address) : 0; }
  std::uint32_t dst_ipv4() const noexcept { return version == 4 ? load(dst_address) : 0; }

 private:
  static std::uint32_t load(std::span<const std::uint8_t> a) noexcept {
    return (static_cast<std::uint32_t>(a[0]) << 24) | (static_cast<std::uint32_t>(a[1]) << 16) |
           (static_cast<std::uint32_t>(a[2]) << 8) | a[3];
  }
};

namespace detail {

inline std::uint16_t ip_load16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// Fills the ports from the transport header at [offset, end) of `bytes`.
inline IpParseStatus parse_ports(std::span<const std::uint8_t> bytes, std::size_t end, bool icmpv6,
                                 IpPacketView& view) noexcept {
  const std::size_t offset = view.l4_offset;
  switch (view.protocol) {
    case kIpProtoTcp:
    case kIpProtoUdp:
      if (end < offset + 4) return IpParseStatus::kTooShort;
      view.src_port = ip_load16(bytes.data() + offset);
      view.dst_port = ip_load16(bytes.data() + offset + 2);
      view.has_ports = true;
      return IpParseStatus::kOk;
    case kIpProtoIcmp:
    case kIpProtoIcmpv6: {
      if ((view.protocol == kIpProtoIcmpv6) != icmpv6) return IpParseStatus::kOk;
      if (end < offset + 4) return IpParseStatus::kTooShort;
      const std::uint8_t type = bytes[offset];
      const bool echo = icmpv6 ? (type == 128 || type == 129) : (type == 8 || type == 0);
      if (echo) {
        if (end < offset + 6) return IpParseStatus::kTooShort;
        // Request and reply share the identifier, so both directions classify by it.
        view.src_port = view.dst_port = ip_load16(bytes.data() + offset + 4);
        view.has_ports = true;
      }
      return IpParseStatus::kOk;
    }
    default:
      return IpParseStatus::kOk;
  }
}

inline IpParseStatus parse_ipv4(std::span<const std::uint8_t> bytes, IpPacketView& view) noexcept {
  if (bytes.size() < 20) return IpParseStatus::kTooShort;
  const std::uint8_t* p = bytes.data();
  const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
  if (ihl < 20) return IpParseStatus::kBadHeader;
  if (ihl > bytes.size()) return IpParseStatus::kTooShort;
  std::size_t total = ip_load16(p + 2);
  if (total == 0) total = bytes.size();
  if (total < ihl) return IpParseStatus::kBadHeader;
  if (total > bytes.size()) return IpParseStatus::kTooShort;
  view.version = 4;
  view.protocol = p[9];
  view.src_address = bytes.subspan(12, 4);
  view.dst_address = bytes.subspan(16, 4);
  view.l4_offset = ihl;
  view.packet_length = total;
  const std::uint16_t frag = ip_load16(p + 6);
  view.fragment = (frag & 0x3fff) != 0;  // MF flag or a fragment offset
  if (view.fragment) return IpParseStatus::kOk;
  return parse_ports(bytes, total, false, view);
}

inline IpParseStatus parse_ipv6(std::span<const std::uint8_t> bytes, IpPacketView& view) noexcept {
  constexpr std::size_t kFixed = 40;
  if (bytes.size() < kFixed) return IpParseStatus::kTooShort;
  const std::uint8_t* p = bytes.data();
  std::size_t total = kFixed + ip_load16(p + 4);
  if (total == kFixed && bytes.size() > kFixed) total = bytes.size();  // jumbo / GSO: no length
  if (total > bytes.size()) return IpParseStatus::kTooShort;
  view.version = 6;
  view.src_address = bytes.subspan(8, 16);
  view.dst_address = bytes.subspan(24, 16);
  view.packet_length = total;
  std::uint8_t next = p[6];
  std::size_t offset = kFixed;
  for (std::size_t i = 0;; ++i) {
    const bool extension = next == 0 || next == 43 || next == 44 || next == 60 || next == 51;
    if (!extension) break;
    if (i >= kMaxIpv6ExtensionHeaders) return IpParseStatus::kBadHeader;
    if (total < offset + 8) return IpParseStatus::kTooShort;
    const std::uint8_t* ext = p + offset;
    std::size_t length = 0;
    if (next == 44) {
      length = 8;
      view.fragment = true;
    } else if (next == 51) {
      length = (static_cast<std::size_t>(ext[1]) + 2) * 4;
    } else {
      length = (static_cast<std::size_t>(ext[1]) + 1) * 8;
    }
    next = ext[0];
    offset += length;
    if (offset > total) return IpParseStatus::kTooShort;
  }
  view.protocol = next;
  view.l4_offset = offset;
  if (view.fragment) return IpParseStatus::kOk;
  return parse_ports(bytes, total, true, view);
}

}  // namespace detail

// Parses the IP packet at the front of `bytes` into `view` (reset first).
inline IpParseStatus parse_ip_packet(std::span<const std::uint8_t> bytes,
                                     IpPacketView& view) noexcept {
  view = IpPacketView{};
  if (bytes.empty()) return IpParseStatus::kTooShort;
  switch (bytes[0] >> 4) {
    case 4:
      return detail::parse_ipv4(bytes, view);
    case 6:
      return detail::parse_ipv6(bytes, view);
    default:
      return IpParseStatus::kBadVersion;
  }
}

}  // namespace nextmini::dataplane
