#pragma once
// Big-endian (network order) loads and stores of 16- and 32-bit header fields at a byte pointer,
// for the code that edits packet headers in place. The caller guarantees the bytes exist.

#include <cstdint>

namespace nextmini::dataplane {

inline std::uint16_t load16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline std::uint32_t load32(const std::uint8_t* p) noexcept {
  return (static_cast<std::uint32_t>(load16(p)) << 16) | load16(p + 2);
}
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept {
  store16(p, static_cast<std::uint16_t>(v >> 16));
  store16(p + 2, static_cast<std::uint16_t>(v));
}

}  // namespace nextmini::dataplane
