#pragma once
// decrement_ip_ttl: what a router does to the IP header of a packet it forwards — the IPv4 TTL
// (byte 8, header checksum updated incrementally, RFC 1624) or the IPv6 hop limit (byte 7) goes
// down by one. A packet whose TTL / hop limit is already <= 1 is left as it is and reported as
// expired: its forwarder answers with ICMP Time Exceeded instead (RFC 1812 §5.3.1, RFC 4443
// §3.3). Only the IP header is read and written, so a GSO super-packet is handled the same
// (the kernel copies the header into every segment). Never allocates or throws.

#include <cstdint>
#include <span>

#include "nextmini/dataplane/core/checksum.hpp"

namespace nextmini::dataplane {

enum class TtlStatus : std::uint8_t {
  kDecremented,
  kExpired,  // TTL / hop limit <= 1: not decremented, must not be forwarded
  kNotIp,    // too short for an IPv4/IPv6 header, or another version: left alone
};

inline TtlStatus decrement_ip_ttl(std::span<std::uint8_t> ip) noexcept {
  if (ip.empty()) return TtlStatus::kNotIp;
  const std::uint8_t version = ip[0] >> 4;
  if (version == 4 && ip.size() >= 20) {
    const std::uint8_t ttl = ip[8];
    if (ttl <= 1) return TtlStatus::kExpired;
    const auto old_word = static_cast<std::uint16_t>((ttl << 8) | ip[9]);
    const auto new_word = static_cast<std::uint16_t>(old_word - 0x100);
    const auto checksum = static_cast<std::uint16_t>((ip[10] << 8) | ip[11]);
    const std::uint16_t updated = checksum_update(checksum, old_word, new_word);
    ip[8] = static_cast<std::uint8_t>(ttl - 1);
    ip[10] = static_cast<std::uint8_t>(updated >> 8);
    ip[11] = static_cast<std::uint8_t>(updated);
    return TtlStatus::kDecremented;
  }
  if (version == 6 && ip.size() >= 40) {
    if (ip[7] <= 1) return TtlStatus::kExpired;
    --ip[7];
    return TtlStatus::kDecremented;
  }
  return TtlStatus::kNotIp;
}

}  // namespace nextmini::dataplane
