#pragma once
// Internet checksum (RFC 1071) pieces for the data path: a running sum over byte spans (summed as
// big-endian 16-bit words; an odd last byte is padded with zero), the fold to the 16-bit
// one's-complement value written into IPv4/TCP/UDP/ICMP headers, and the incremental update of
// RFC 1624 (the IPv4 header after a TTL decrement). Pure, no allocation.

#include <cstddef>
#include <cstdint>
#include <span>

namespace nextmini::dataplane {

// Adds `bytes` to `sum`. Spans that are summed one after the other must start at even offsets
// of the checksummed data (all but the last must have an even length).
inline std::uint64_t checksum_add(std::span<const std::uint8_t> bytes,
                                  std::uint64_t sum = 0) noexcept {
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  while (n >= 2) {
    sum += static_cast<std::uint32_t>((p[0] << 8) | p[1]);
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += static_cast<std::uint32_t>(p[0] << 8);
  return sum;
}

inline std::uint64_t checksum_add16(std::uint16_t value, std::uint64_t sum) noexcept {
  return sum + value;
}

// The one's-complement of the folded sum: the value a checksum field holds.
inline std::uint16_t checksum_finish(std::uint64_t sum) noexcept {
  while ((sum >> 16) != 0) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// The pseudo-header sum of an L4 segment of `l4_length` bytes (TCP or UDP, `protocol`) in the IP
// packet at `ip` (IPv4 or IPv6, RFC 793 / RFC 8200 section 8.1).
inline std::uint64_t pseudo_header_sum(const std::uint8_t* ip, bool ipv6, std::uint8_t protocol,
                                       std::size_t l4_length) noexcept {
  std::uint64_t sum = ipv6 ? checksum_add({ip + 8, 32}) : checksum_add({ip + 12, 8});
  sum += static_cast<std::uint32_t>(l4_length >> 16);
  sum += static_cast<std::uint32_t>(l4_length & 0xffff);
  return sum + protocol;
}

// RFC 1624, eqn. 3: the checksum after one 16-bit word covered by it changes from `old_word` to
// `new_word`: HC' = ~(~HC + ~m + m').
inline std::uint16_t checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                                     std::uint16_t new_word) noexcept {
  std::uint64_t sum = static_cast<std::uint16_t>(~checksum);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  return checksum_finish(sum);
}

}  // namespace nextmini::dataplane
