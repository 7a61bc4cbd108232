#pragma once
// BernoulliLoss: drops each packet independently with probability p.
// Input: lose() once per packet (per segment for a GSO super-packet: segment it first).
// Output: true = drop it. Knob: p in [0, 1] (clamped; the config layer refuses bad values).
// Counters: decisions(), losses(). Thread: the link's worker; seeded RNG owned here.

#include <cstdint>
#include <random>

#include "nextmini/dataplane/link/link_random.hpp"

namespace nextmini::dataplane {

class BernoulliLoss {
 public:
  explicit BernoulliLoss(double p = 0.0, std::uint64_t seed = 1) noexcept
      : p_(clamp_probability(p)), rng_(seed) {}

  void set_probability(double p) noexcept { p_ = clamp_probability(p); }
  double probability() const noexcept { return p_; }

  bool lose() noexcept {
    ++decisions_;
    if (p_ <= 0.0) return false;
    const bool lost = bernoulli(rng_, p_);
    losses_ += lost ? 1 : 0;
    return lost;
  }

  std::uint64_t decisions() const noexcept { return decisions_; }
  std::uint64_t losses() const noexcept { return losses_; }

 private:
  double p_;
  std::mt19937_64 rng_;
  std::uint64_t decisions_ = 0;
  std::uint64_t losses_ = 0;
};

}  // namespace nextmini::dataplane
