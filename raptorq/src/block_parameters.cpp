// Block parameters and tuple generation (RFC 6330 sections 5.3.3.3, 5.3.5.4, 5.6).

#include "block_parameters.hpp"

#include <cstring>
#include <functional>

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

namespace {

// The intermediate symbols one ISI sums: at most 30 LT and 3 PI neighbours (section 5.3.5.4).
struct Neighbours {
  const std::uint8_t* srcs[40];
  std::size_t count = 0;
};

void find_neighbours(const BlockParameters& params, const std::uint8_t* intermediate,
                     std::size_t symbol_size, std::uint32_t isi, Neighbours& out) {
  out.count = 0;
  for_each_tuple_column(params, make_tuple(params, isi), [&](std::uint32_t c) {
    out.srcs[out.count++] = intermediate + static_cast<std::size_t>(c) * symbol_size;
  });
}

}  // namespace

void lt_encode(const BlockParameters& params, const std::uint8_t* intermediate,
               std::size_t symbol_size, std::uint32_t isi, std::uint8_t* out) {
  Neighbours n;
  find_neighbours(params, intermediate, symbol_size, isi, n);
  symbol_xor_sum(out, n.srcs, n.count, symbol_size);
}

void lt_encode_many(const BlockParameters& params, const std::uint8_t* intermediate,
                    std::size_t symbol_size, std::size_t count,
                    const std::function<std::uint32_t(std::size_t)>& isi_of,
                    const std::function<std::uint8_t*(std::size_t)>& out_of) {
  if (count == 0) return;
  // While one symbol is summed, the next one's neighbours are already being fetched.
  const std::size_t lines = symbol_size < 256 ? (symbol_size + 63) / 64 : 4;
  Neighbours buffers[2];
  find_neighbours(params, intermediate, symbol_size, isi_of(0), buffers[0]);
  for (std::size_t i = 0; i < count; ++i) {
    Neighbours& current = buffers[i % 2];
    if (i + 1 < count) {
      Neighbours& next = buffers[(i + 1) % 2];
      find_neighbours(params, intermediate, symbol_size, isi_of(i + 1), next);
      for (std::size_t s = 0; s < next.count; ++s) {
        for (std::size_t line = 0; line < lines; ++line) {
          __builtin_prefetch(next.srcs[s] + 64 * line);
        }
      }
    }
    symbol_xor_sum(out_of(i), current.srcs, current.count, symbol_size);
  }
}

}  // namespace nextmini::raptorq::detail
