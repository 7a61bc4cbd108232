#pragma once
// Internal: the derived parameters of one source block (RFC 6330 section 5.3.3.3 and 5.6) and
// the tuple generator of section 5.3.5.4 that maps an ISI to its LT and PI neighbours.

#include <cstddef>
#include <cstdint>
#include <functional>

namespace nextmini::raptorq::detail {

// The largest number of source symbols in one source block (Table 2's last K').
inline constexpr std::uint32_t kMaxSourceSymbols = 56403;

struct BlockParameters {
  std::uint32_t k = 0;        // source symbols of the block
  std::uint32_t k_prime = 0;  // K': K rounded up to a row of Table 2
  std::uint32_t j = 0;        // J(K')
  std::uint32_t s = 0;        // LDPC symbols
  std::uint32_t h = 0;        // HDPC symbols
  std::uint32_t w = 0;        // LT symbols
  std::uint32_t l = 0;        // intermediate symbols: K' + S + H
  std::uint32_t p = 0;        // PI symbols: L - W
  std::uint32_t p1 = 0;       // smallest prime >= P
  std::uint32_t b = 0;        // W - S

  // 1 <= k <= kMaxSourceSymbols (checked by the callers).
  static BlockParameters for_k(std::uint32_t k);
};

struct Tuple {
  std::uint32_t d, a, b, d1, a1, b1;
};

Tuple make_tuple(const BlockParameters& params, std::uint32_t isi);

// Calls visit(column) for each intermediate symbol the encoding symbol of this tuple sums
// (section 5.3.5.3), LT columns first, then PI columns.
template <typename Visit>
void for_each_tuple_column(const BlockParameters& params, const Tuple& tuple, Visit&& visit) {
  // a < W and a1 < P1, so each step wraps with one conditional subtraction instead of a
  // division.
  std::uint32_t b = tuple.b;
  visit(b);
  for (std::uint32_t j = 1; j < tuple.d; ++j) {
    b += tuple.a;
    if (b >= params.w) b -= params.w;
    visit(b);
  }
  const auto next_b1 = [&](std::uint32_t x) {
    x += tuple.a1;
    return x >= params.p1 ? x - params.p1 : x;
  };
  std::uint32_t b1 = tuple.b1;
  while (b1 >= params.p) b1 = next_b1(b1);
  visit(params.w + b1);
  for (std::uint32_t j = 1; j < tuple.d1; ++j) {
    b1 = next_b1(b1);
    while (b1 >= params.p) b1 = next_b1(b1);
    visit(params.w + b1);
  }
}

}  // namespace nextmini::raptorq::detail

namespace nextmini::raptorq::detail {

// out = the encoding symbol of this ISI, from the L intermediate symbols (section 5.3.5.3).
void lt_encode(const BlockParameters& params, const std::uint8_t* intermediate,
               std::size_t symbol_size, std::uint32_t isi, std::uint8_t* out);

// lt_encode for `count` symbols: ISI isi_of(i) into out_of(i), prefetching ahead.
void lt_encode_many(const BlockParameters& params, const std::uint8_t* intermediate,
                    std::size_t symbol_size, std::size_t count,
                    const std::function<std::uint32_t(std::size_t)>& isi_of,
                    const std::function<std::uint8_t*(std::size_t)>& out_of);

}  // namespace nextmini::raptorq::detail
