#pragma once
// Internet checksum (RFC 1071) pieces for the data path: a running sum over byte spans (summed as
// big-endian 16-bit words; an odd last byte is padded with zero) and the fold to the 16-bit
// one's-complement value written into IPv4/TCP/UDP headers. Pure, no allocation.

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

}  // namespace nextmini::dataplane
