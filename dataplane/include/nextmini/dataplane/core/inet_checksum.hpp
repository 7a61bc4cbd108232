#pragma once
// The Internet checksum (RFC 1071) and its incremental update (RFC 1624): a one's-complement sum
// of big-endian 16-bit words. Used for the IPv4 header checksum after a TTL decrement and for the
// ICMP/ICMPv6 errors a node builds. No allocation, no throw.

#include <cstddef>
#include <cstdint>
#include <span>

namespace nextmini::dataplane {

// Adds the bytes (big-endian words; an odd last byte is the high half of a word) to `sum`.
inline std::uint32_t inet_checksum_add(std::span<const std::uint8_t> bytes,
                                       std::uint32_t sum = 0) noexcept {
  std::size_t i = 0;
  for (; i + 1 < bytes.size(); i += 2) {
    sum += static_cast<std::uint32_t>((bytes[i] << 8) | bytes[i + 1]);
    if (sum & 0x80000000u) sum = (sum & 0xffff) + (sum >> 16);  // keep room for more words
  }
  if (i < bytes.size()) sum += static_cast<std::uint32_t>(bytes[i] << 8);
  return sum;
}

// The checksum field's value for a running sum: the one's complement of the folded sum.
inline std::uint16_t inet_checksum_finish(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// RFC 1624, eqn. 3: the checksum after one 16-bit word covered by it changes from `old_word` to
// `new_word`: HC' = ~(~HC + ~m + m').
inline std::uint16_t inet_checksum_update(std::uint16_t checksum, std::uint16_t old_word,
                                          std::uint16_t new_word) noexcept {
  std::uint32_t sum = static_cast<std::uint16_t>(~checksum);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  return inet_checksum_finish(sum);
}

}  // namespace nextmini::dataplane
