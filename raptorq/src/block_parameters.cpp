// Block parameters and tuple generation (RFC 6330 sections 5.3.3.3, 5.3.5.4, 5.6).

#include "block_parameters.hpp"

#include <cstring>

#include "gf256.hpp"
#include "rfc_tables.hpp"

namespace nextmini::raptorq::detail {
namespace {

bool is_prime(std::uint32_t n) {
  if (n < 2) return false;
  for (std::uint32_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

}  // namespace

BlockParameters BlockParameters::for_k(std::uint32_t k) {
  const SystematicIndexRow* row = find_systematic_row(k);
  BlockParameters p;
  p.k = k;
  p.k_prime = row->k_prime;
  p.j = row->j;
  p.s = row->s;
  p.h = row->h;
  p.w = row->w;
  p.l = p.k_prime + p.s + p.h;
  p.p = p.l - p.w;
  p.p1 = p.p;
  while (!is_prime(p.p1)) ++p.p1;
  p.b = p.w - p.s;
  return p;
}

Tuple make_tuple(const BlockParameters& params, std::uint32_t isi) {
  std::uint32_t a_mul = 53591u + params.j * 997u;
  if (a_mul % 2 == 0) ++a_mul;
  const std::uint32_t b_add = 10267u * (params.j + 1u);
  const std::uint32_t y = b_add + isi * a_mul;  // mod 2^32 by unsigned wrap-around
  const std::uint32_t v = rand(y, 0, 1u << 20);
  Tuple t{};
  t.d = degree(v, params.w);
  t.a = 1 + rand(y, 1, params.w - 1);
  t.b = rand(y, 2, params.w);
  t.d1 = t.d < 4 ? 2 + rand(isi, 3, 2) : 2;
  t.a1 = 1 + rand(isi, 4, params.p1 - 1);
  t.b1 = rand(isi, 5, params.p1);
  return t;
}

}  // namespace nextmini::raptorq::detail

namespace nextmini::raptorq::detail {

void lt_encode(const BlockParameters& params, const std::uint8_t* intermediate,
               std::size_t symbol_size, std::uint32_t isi, std::uint8_t* out) {
  // At most 30 LT and 3 PI neighbours (section 5.3.5.4).
  const std::uint8_t* srcs[40];
  std::size_t count = 0;
  for_each_tuple_column(params, make_tuple(params, isi), [&](std::uint32_t c) {
    srcs[count++] = intermediate + static_cast<std::size_t>(c) * symbol_size;
  });
  symbol_xor_sum(out, srcs, count, symbol_size);
}

}  // namespace nextmini::raptorq::detail
