#pragma once
// Internal: the constant tables of RFC 6330 and the small functions built directly on them:
// Rand (section 5.3.5.1), Deg (section 5.3.5.2) and the systematic index lookup (section 5.6).

#include <array>
#include <cstdint>

namespace nextmini::raptorq::detail {

struct SystematicIndexRow {
  std::uint32_t k_prime;
  std::uint32_t j;
  std::uint32_t s;
  std::uint32_t h;
  std::uint32_t w;
};

inline constexpr std::size_t kSystematicIndexRows = 477;

extern const std::array<std::uint32_t, 256> kV0;
extern const std::array<std::uint32_t, 256> kV1;
extern const std::array<std::uint32_t, 256> kV2;
extern const std::array<std::uint32_t, 256> kV3;
extern const std::array<SystematicIndexRow, kSystematicIndexRows> kSystematicIndices;

// Table 1 of section 5.3.5.2: f[d] for d = 0..30.
inline constexpr std::array<std::uint32_t, 31> kDegreeF = {
    0,       5243,    529531,  704294,  791675,  844104,  879057,  904023,
    922747,  937311,  948962,  958494,  966438,  973160,  978921,  983914,
    988283,  992138,  995565,  998631,  1001391, 1003887, 1006157, 1008229,
    1010129, 1011876, 1013490, 1014983, 1016370, 1017662, 1048576};

// Rand[y, i, m] of section 5.3.5.1; m > 0.
inline std::uint32_t rand(std::uint32_t y, std::uint32_t i, std::uint32_t m) {
  const std::uint32_t x0 = (y + i) & 0xffu;
  const std::uint32_t x1 = ((y >> 8) + i) & 0xffu;
  const std::uint32_t x2 = ((y >> 16) + i) & 0xffu;
  const std::uint32_t x3 = ((y >> 24) + i) & 0xffu;
  return (kV0[x0] ^ kV1[x1] ^ kV2[x2] ^ kV3[x3]) % m;
}

// Deg[v] of section 5.3.5.2 for v < 2^20 and W the number of LT symbols.
inline std::uint32_t degree(std::uint32_t v, std::uint32_t w) {
  std::uint32_t d = 1;
  while (d < 30 && v >= kDegreeF[d]) ++d;
  return d < w - 2 ? d : w - 2;
}

// The first row of Table 2 whose K' is at least k; nullptr if k > 56,403.
const SystematicIndexRow* find_systematic_row(std::uint32_t k);

}  // namespace nextmini::raptorq::detail
