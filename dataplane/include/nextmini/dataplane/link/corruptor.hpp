#pragma once
// Corruptor: damages some packets by flipping one random bit (netem's "corrupt").
// Input: maybe_corrupt(packet) once per packet (segment GSO super-packets first). The bit is
// chosen uniformly among the bytes after the first kProtectedBytes (20: the minimum IPv4
// header), so the packet is still routed and delivered, and the receiver's kernel rejects it by
// its TCP/UDP/ICMP checksum, as with netem. Only corrupt packets whose checksum is complete:
// a packet still carrying a partial checksum (virtio NEEDS_CSUM) would get a valid checksum
// computed over the damaged bytes later.
// Output: true when a bit was flipped (in place). A packet of kProtectedBytes or less is left
// intact and counted in too_short().
// Knob: probability in [0, 1] (clamped). Counters: decisions(), corrupted(), too_short().
// Thread: the link's worker; seeded RNG owned here.

#include <cstddef>
#include <cstdint>
#include <random>

#include "nextmini/dataplane/core/packet.hpp"
#include "nextmini/dataplane/link/link_random.hpp"

namespace nextmini::dataplane {

class Corruptor {
 public:
  static constexpr std::size_t kProtectedBytes = 20;

  explicit Corruptor(double probability = 0.0, std::uint64_t seed = 1) noexcept
      : p_(clamp_probability(probability)), rng_(seed) {}

  void set_probability(double probability) noexcept { p_ = clamp_probability(probability); }
  double probability() const noexcept { return p_; }

  bool maybe_corrupt(Packet& packet) noexcept {
    ++decisions_;
    if (!(p_ > 0.0) || !bernoulli(rng_, p_)) return false;
    if (packet.size() <= kProtectedBytes) {
      ++too_short_;
      return false;
    }
    const std::uint64_t bits = (packet.size() - kProtectedBytes) * 8;
    const std::uint64_t bit = rng_() % bits;
    packet.data()[kProtectedBytes + bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    ++corrupted_;
    return true;
  }

  std::uint64_t decisions() const noexcept { return decisions_; }
  std::uint64_t corrupted() const noexcept { return corrupted_; }
  std::uint64_t too_short() const noexcept { return too_short_; }

 private:
  double p_;
  std::mt19937_64 rng_;
  std::uint64_t decisions_ = 0;
  std::uint64_t corrupted_ = 0;
  std::uint64_t too_short_ = 0;
};

}  // namespace nextmini::dataplane
