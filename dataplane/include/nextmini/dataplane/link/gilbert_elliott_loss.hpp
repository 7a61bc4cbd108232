#pragma once
// GilbertElliottLoss: bursty loss from a two-state Markov chain (the 4-parameter model, as in
// netem's "loss gemodel p r 1-h 1-k").
// Knobs (probabilities in [0, 1], clamped): p = P(good -> bad), r = P(bad -> good),
// one_minus_h = loss probability in the bad state, one_minus_k = loss probability in the good
// state. With one_minus_h = 1 and one_minus_k = 0 (the simple Gilbert model) a loss burst
// lasts 1/r packets on average and the loss rate is p / (p + r).
// Input: lose() once per packet (segment GSO super-packets first). Per packet: the loss is
// drawn in the current state, then the state moves. The chain starts in the good state.
// Counters: decisions(), losses(), bad_entries() (good -> bad transitions).
// Thread: the link's worker; seeded RNG owned here.

#include <cstdint>
#include <random>

#include "nextmini/dataplane/link/link_random.hpp"

namespace nextmini::dataplane {

struct GilbertElliottParams {
  double p = 0.0;
  double r = 1.0;
  double one_minus_h = 1.0;
  double one_minus_k = 0.0;
};

class GilbertElliottLoss {
 public:
  explicit GilbertElliottLoss(GilbertElliottParams params = {}, std::uint64_t seed = 1) noexcept
      : rng_(seed) {
    set_params(params);
  }

  // Changes the model at run time; the current state is kept.
  void set_params(GilbertElliottParams params) noexcept {
    params_ = {clamp_probability(params.p), clamp_probability(params.r),
               clamp_probability(params.one_minus_h), clamp_probability(params.one_minus_k)};
  }
  const GilbertElliottParams& params() const noexcept { return params_; }

  bool lose() noexcept {
    ++decisions_;
    const bool lost = bernoulli(rng_, bad_ ? params_.one_minus_h : params_.one_minus_k);
    if (bad_) {
      if (bernoulli(rng_, params_.r)) bad_ = false;
    } else if (bernoulli(rng_, params_.p)) {
      bad_ = true;
      ++bad_entries_;
    }
    losses_ += lost ? 1 : 0;
    return lost;
  }

  bool in_bad_state() const noexcept { return bad_; }
  std::uint64_t decisions() const noexcept { return decisions_; }
  std::uint64_t losses() const noexcept { return losses_; }
  std::uint64_t bad_entries() const noexcept { return bad_entries_; }

 private:
  GilbertElliottParams params_;
  std::mt19937_64 rng_;
  bool bad_ = false;
  std::uint64_t decisions_ = 0;
  std::uint64_t losses_ = 0;
  std::uint64_t bad_entries_ = 0;
};

}  // namespace nextmini::dataplane
