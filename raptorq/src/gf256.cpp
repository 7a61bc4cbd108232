// Symbol operations over GF(256): portable loops and AVX2 split-nibble versions, chosen at run
// time. See gf256.hpp.

#include "gf256.hpp"

#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define NEXTMINI_RAPTORQ_X86 1
#endif

namespace nextmini::raptorq::detail {
namespace {

// For each constant c: c * low nibble (16 bytes) then c * (high nibble << 4) (16 bytes).
struct NibbleTables {
  alignas(32) std::uint8_t table[256][32];
};

constexpr NibbleTables make_nibble_tables() {
  NibbleTables t{};
  for (std::uint32_t c = 0; c < 256; ++c) {
    for (std::uint32_t i = 0; i < 16; ++i) {
      t.table[c][i] = gf_mul(static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(i));
      t.table[c][16 + i] = gf_mul(static_cast<std::uint8_t>(c), static_cast<std::uint8_t>(i << 4));
    }
  }
  return t;
}

constexpr NibbleTables kNibble = make_nibble_tables();

void xor_portable(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t a;
    std::uint64_t b;
    std::memcpy(&a, dst + i, 8);
    std::memcpy(&b, src + i, 8);
    a ^= b;
    std::memcpy(dst + i, &a, 8);
  }
  for (; i < n; ++i) dst[i] ^= src[i];
}

void mul_add_portable(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) {
  const std::uint8_t* lo = kNibble.table[c];
  const std::uint8_t* hi = kNibble.table[c] + 16;
  for (std::size_t i = 0; i < n; ++i) dst[i] ^= lo[src[i] & 0x0f] ^ hi[src[i] >> 4];
}

void scale_portable(std::uint8_t* dst, std::uint8_t c, std::size_t n) {
  const std::uint8_t* lo = kNibble.table[c];
  const std::uint8_t* hi = kNibble.table[c] + 16;
  for (std::size_t i = 0; i < n; ++i) dst[i] = lo[dst[i] & 0x0f] ^ hi[dst[i] >> 4];
}

void xor_sum_portable(std::uint8_t* dst, const std::uint8_t* const* srcs, std::size_t count,
                      std::size_t n) {
  if (dst != srcs[0]) std::memcpy(dst, srcs[0], n);
  for (std::size_t i = 1; i < count; ++i) xor_portable(dst, srcs[i], n);
}

void scale_add_portable(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) {
  const std::uint8_t* lo = kNibble.table[c];
  const std::uint8_t* hi = kNibble.table[c] + 16;
  for (std::size_t i = 0; i < n; ++i) dst[i] = lo[dst[i] & 0x0f] ^ hi[dst[i] >> 4] ^ src[i];
}

#if NEXTMINI_RAPTORQ_X86
// 256 bytes at a time held in eight registers while every source is folded in.
__attribute__((target("avx2"))) void xor_sum_avx2(std::uint8_t* dst,
                                                  const std::uint8_t* const* srcs,
                                                  std::size_t count, std::size_t n) {
  std::size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    __m256i acc[8];
    for (int r = 0; r < 8; ++r) {
      acc[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(srcs[0] + i + 32 * r));
    }
    for (std::size_t s = 1; s < count; ++s) {
      const std::uint8_t* src = srcs[s] + i;
      for (int r = 0; r < 8; ++r) {
        acc[r] = _mm256_xor_si256(
            acc[r], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 32 * r)));
      }
    }
    for (int r = 0; r < 8; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32 * r), acc[r]);
    }
  }
  for (; i + 32 <= n; i += 32) {
    __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(srcs[0] + i));
    for (std::size_t s = 1; s < count; ++s) {
      acc =
          _mm256_xor_si256(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(srcs[s] + i)));
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), acc);
  }
  for (; i < n; ++i) {
    std::uint8_t v = srcs[0][i];
    for (std::size_t s = 1; s < count; ++s) v ^= srcs[s][i];
    dst[i] = v;
  }
}

__attribute__((target("avx2"))) void xor_avx2(std::uint8_t* dst, const std::uint8_t* src,
                                              std::size_t n) {
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    for (std::size_t j = 0; j < 128; j += 32) {
      const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i + j));
      const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + j));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + j), _mm256_xor_si256(a, b));
    }
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, b));
  }
  if (i < n) xor_portable(dst + i, src + i, n - i);
}

__attribute__((target("avx2"))) inline __m256i mul_avx2(__m256i x, __m256i lo, __m256i hi,
                                                        __m256i mask) {
  const __m256i l = _mm256_and_si256(x, mask);
  const __m256i h = _mm256_and_si256(_mm256_srli_epi16(x, 4), mask);
  return _mm256_xor_si256(_mm256_shuffle_epi8(lo, l), _mm256_shuffle_epi8(hi, h));
}

__attribute__((target("avx2"))) void mul_add_avx2(std::uint8_t* dst, const std::uint8_t* src,
                                                  std::uint8_t c, std::size_t n) {
  const __m128i lo128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c]));
  const __m128i hi128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c] + 16));
  const __m256i lo = _mm256_broadcastsi128_si256(lo128);
  const __m256i hi = _mm256_broadcastsi128_si256(hi128);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const __m256i x0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i x1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i d0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    const __m256i d1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i + 32));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_xor_si256(d0, mul_avx2(x0, lo, hi, mask)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32),
                        _mm256_xor_si256(d1, mul_avx2(x1, lo, hi, mask)));
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_xor_si256(d, mul_avx2(x, lo, hi, mask)));
  }
  if (i < n) mul_add_portable(dst + i, src + i, c, n - i);
}

__attribute__((target("avx2"))) void scale_avx2(std::uint8_t* dst, std::uint8_t c, std::size_t n) {
  const __m128i lo128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c]));
  const __m128i hi128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c] + 16));
  const __m256i lo = _mm256_broadcastsi128_si256(lo128);
  const __m256i hi = _mm256_broadcastsi128_si256(hi128);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), mul_avx2(x, lo, hi, mask));
  }
  if (i < n) scale_portable(dst + i, c, n - i);
}

__attribute__((target("avx2"))) void scale_add_avx2(std::uint8_t* dst, const std::uint8_t* src,
                                                    std::uint8_t c, std::size_t n) {
  const __m128i lo128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c]));
  const __m128i hi128 = _mm_load_si128(reinterpret_cast<const __m128i*>(kNibble.table[c] + 16));
  const __m256i lo = _mm256_broadcastsi128_si256(lo128);
  const __m256i hi = _mm256_broadcastsi128_si256(hi128);
  const __m256i mask = _mm256_set1_epi8(0x0f);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(dst + i));
    const __m256i y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_xor_si256(mul_avx2(x, lo, hi, mask), y));
  }
  if (i < n) scale_add_portable(dst + i, src + i, c, n - i);
}
#endif

struct Backend {
  void (*xor_fn)(std::uint8_t*, const std::uint8_t*, std::size_t);
  void (*xor_sum_fn)(std::uint8_t*, const std::uint8_t* const*, std::size_t, std::size_t);
  void (*mul_add_fn)(std::uint8_t*, const std::uint8_t*, std::uint8_t, std::size_t);
  void (*scale_fn)(std::uint8_t*, std::uint8_t, std::size_t);
  void (*scale_add_fn)(std::uint8_t*, const std::uint8_t*, std::uint8_t, std::size_t);
  const char* name;
};

constexpr Backend kPortable{&xor_portable,   &xor_sum_portable,   &mul_add_portable,
                            &scale_portable, &scale_add_portable, "portable"};

Backend detect_backend() {
#if NEXTMINI_RAPTORQ_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2"))
    return Backend{&xor_avx2, &xor_sum_avx2, &mul_add_avx2, &scale_avx2, &scale_add_avx2, "avx2"};
#endif
  return kPortable;
}

Backend& backend() {
  static Backend chosen = detect_backend();
  return chosen;
}

}  // namespace

void symbol_xor(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  backend().xor_fn(dst, src, n);
}

void symbol_xor_sum(std::uint8_t* dst, const std::uint8_t* const* srcs, std::size_t count,
                    std::size_t n) {
  backend().xor_sum_fn(dst, srcs, count, n);
}

void symbol_mul_add(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) {
  if (c == 0) return;
  if (c == 1) {
    backend().xor_fn(dst, src, n);
    return;
  }
  backend().mul_add_fn(dst, src, c, n);
}

void symbol_scale(std::uint8_t* dst, std::uint8_t c, std::size_t n) {
  if (c == 1) return;
  if (c == 0) {
    std::memset(dst, 0, n);
    return;
  }
  backend().scale_fn(dst, c, n);
}

void symbol_scale_add(std::uint8_t* dst, const std::uint8_t* src, std::uint8_t c, std::size_t n) {
  backend().scale_add_fn(dst, src, c, n);
}

const char* symbol_ops_backend() { return backend().name; }

void force_portable_symbol_ops(bool portable) {
  backend() = portable ? kPortable : detect_backend();
}

}  // namespace nextmini::raptorq::detail
