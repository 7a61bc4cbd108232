#pragma once
// Random helpers shared by the link stages (delay line, loss models, duplicator, corruptor).
// Every stage owns a std::mt19937_64 seeded from its config, so a run is reproducible.

#include <cstdint>
#include <random>

namespace nextmini::dataplane {

// A uniform double in [0, 1) with 53 random bits.
inline double unit_uniform(std::mt19937_64& rng) noexcept {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// True with probability p (p <= 0: never, p >= 1: always).
inline bool bernoulli(std::mt19937_64& rng, double p) noexcept { return unit_uniform(rng) < p; }

// A probability clamped to [0, 1]; NaN becomes 0.
inline double clamp_probability(double p) noexcept {
  if (!(p > 0.0)) return 0.0;
  return p > 1.0 ? 1.0 : p;
}

}  // namespace nextmini::dataplane
