#pragma once
// Duplicator: sends some packets twice (netem's "duplicate").
// Input: should_duplicate() once per packet (segment GSO super-packets first); when true, the
// caller makes the copy with duplicate(packet, pool) and sends both.
// Output: the copy (same bytes and metadata, from the caller's pool), or an invalid Packet when
// the pool is exhausted or the packet does not fit a pool buffer (counted in copy_failures();
// the original still goes).
// Knob: probability in [0, 1] (clamped; "1%" from the config is 0.01).
// Counters: decisions(), duplicated() (copies made), copy_failures().
// Thread: the link's worker; seeded RNG owned here; the copy uses a pooled buffer.

#include <cstdint>
#include <random>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/link_random.hpp"

namespace nextmini::dataplane {

class Duplicator {
 public:
  explicit Duplicator(double probability = 0.0, std::uint64_t seed = 1) noexcept
      : p_(clamp_probability(probability)), rng_(seed) {}

  void set_probability(double probability) noexcept { p_ = clamp_probability(probability); }
  double probability() const noexcept { return p_; }

  bool should_duplicate() noexcept {
    ++decisions_;
    return p_ > 0.0 && bernoulli(rng_, p_);
  }
  Packet duplicate(const Packet& packet, PacketPool& pool) noexcept;

  std::uint64_t decisions() const noexcept { return decisions_; }
  std::uint64_t duplicated() const noexcept { return duplicated_; }
  std::uint64_t copy_failures() const noexcept { return copy_failures_; }

 private:
  double p_;
  std::mt19937_64 rng_;
  std::uint64_t decisions_ = 0;
  std::uint64_t duplicated_ = 0;
  std::uint64_t copy_failures_ = 0;
};

}  // namespace nextmini::dataplane
