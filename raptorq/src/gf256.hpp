#pragma once
// Internal: arithmetic in GF(256) as RFC 6330 section 5.7 defines it (polynomial
// x^8 + x^4 + x^3 + x^2 + 1, OCT_EXP / OCT_LOG), and the symbol operations the codec spends its
// time in: dst ^= src, dst ^= c * src, dst = c * dst over whole symbols.
// The symbol operations pick an AVX2 (split-nibble pshufb) or a portable implementation once at
// start-up from the CPU's features; both give identical bytes.

#include <array>
#include <cstddef>
#include <cstdint>

namespace nextmini::raptorq::detail {

struct OctTables {
  std::array<std::uint8_t, 510> exp{};
  std::array<std::uint8_t, 256> log{};
};

// OCT_EXP and OCT_LOG of section 5.7 (OCT_LOG[0] is unused and left 0).
constexpr OctTables make_oct_tables() {
  OctTables tables;
  std::uint32_t value = 1;
  for (std::size_t i = 0; i < 255; ++i) {
    tables.exp[i] = static_cast<std::uint8_t>(value);
    tables.exp[i + 255] = static_cast<std::uint8_t>(value);
    tables.log[value] = static_cast<std::uint8_t>(i);
    value <<= 1;
    if (value & 0x100u) value ^= 0x11du;
  }
  return tables;
}

inline constexpr OctTables kOct = make_oct_tables();

constexpr std::uint8_t gf_mul(std::uint8_t a, std::uint8_t b) {
  if (a == 0 || b == 0) return 0;
  return kOct.exp[kOct.log[a] + kOct.log[b]];
}

// Multiplicative inverse; a != 0.
constexpr std::uint8_t gf_inv(std::uint8_t a) { return kOct.exp[255 - kOct.log[a]]; }

// alpha^i (alpha = 2), any i >= 0.
constexpr std::uint8_t gf_alpha_pow(std::uint32_t i) { return kOct.exp[i % 255]; }

// dst[0..n) ^= src[0..n)
void symbol_xor(std::uint8_t* dst, const std::uint8_t* src, std::size_t n);
// dst[0..n) = srcs[0][0..n) ^ ... ^ srcs[count-1][0..n), count >= 1, in one pass over dst.
void symbol_xor_sum(std::uint8_t* dst, const std::uint8_t* const* srcs, std::size_t count,
                    std::size_t n);
// dst[0..n) ^= c * src[0..n)
void symbol_mul_add(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n);
// dst[0..n) = c * dst[0..n) ^ src[0..n) (one Horner step)
void symbol_scale_add(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n);
// dst[0..n) = c * dst[0..n)
void symbol_scale(std::uint8_t* dst, std::uint8_t c, std::size_t n);

// Which implementation the symbol operations use ("avx2" or "portable").
const char* symbol_ops_backend();
// Force the portable implementation (tests compare it with the vector one).
void force_portable_symbol_ops(bool portable);

}  // namespace nextmini::raptorq::detail
