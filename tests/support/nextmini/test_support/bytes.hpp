#pragma once
// Test payloads: byte strings whose content depends on a seed, so a test can tell packets apart
// and see a corrupted or misplaced byte.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nextmini::test_support {

using Bytes = std::vector<std::uint8_t>;

// `size` bytes: byte i is (seed * 31 + i) mod 256.
inline Bytes pattern(std::size_t size, std::uint32_t seed) {
  Bytes bytes(size);
  for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return bytes;
}

}  // namespace nextmini::test_support
