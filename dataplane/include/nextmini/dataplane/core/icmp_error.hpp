#pragma once
// build_icmp_error: the ICMP error a router sends back to the source of a packet it cannot
// forward — Time Exceeded (IPv4 type 11 code 0, ICMPv6 type 3 code 0) when the TTL / hop limit
// runs out, Destination Unreachable / no route (IPv4 type 3 code 0, ICMPv6 type 1 code 0) when
// no node owns the destination or no route leads there.
//   Input: the offending IP packet (as received, a GSO super-packet too), the router's own
//   address of the same family (4 or 16 bytes, network order) as the error's source.
//   Output: a complete IP packet in `out` (IP header, ICMP header, checksums filled), addressed
//   to the offending packet's source; returns its size, or 0 when no error may be sent.
//   Quoting: as much of the offending packet as fits in 576 bytes for IPv4 (RFC 1812 §4.3.2.3;
//   at least its IP header + 8 bytes, RFC 792) and in the IPv6 minimum MTU, 1280 bytes, for
//   ICMPv6 (RFC 4443 §2.4(c)).
//   No error about (RFC 1122 §3.2.2, RFC 4443 §2.4(e)): a packet that does not parse, an ICMP
//   error, a non-first IPv4 fragment, an IPv6 fragment, a packet from an unspecified, loopback,
//   multicast or broadcast address, or to a multicast or broadcast address. Never allocates or
//   throws; `out` needs kIcmpErrorMaxSize bytes to hold any error.

#include <cstddef>
#include <cstdint>
#include <span>

namespace nextmini::dataplane {

enum class IcmpErrorKind : std::uint8_t {
  kTimeExceeded,    // TTL / hop limit exceeded in transit
  kNetUnreachable,  // no route to the destination
};

inline constexpr std::size_t kIcmpv4ErrorMaxSize = 576;
inline constexpr std::size_t kIcmpv6ErrorMaxSize = 1280;
inline constexpr std::size_t kIcmpErrorMaxSize = kIcmpv6ErrorMaxSize;

std::size_t build_icmp_error(IcmpErrorKind kind, std::span<const std::uint8_t> original,
                             std::span<const std::uint8_t> source,
                             std::span<std::uint8_t> out) noexcept;

}  // namespace nextmini::dataplane
