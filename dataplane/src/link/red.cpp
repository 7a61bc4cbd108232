#include "nextmini/dataplane/link/red.hpp"

#include <cmath>

namespace nextmini::dataplane {

Red::Red(const RedConfig& config, const QueueLimit& limit)
    : config_(config), in_bytes_(limit.in_bytes()), rng_(config.seed != 0 ? config.seed : 1) {
  const double capacity =
      in_bytes_ ? static_cast<double>(limit.bytes) : static_cast<double>(limit.effective_packets());
  max_th_ = config.max_th;
  min_th_ = config.min_th;
  if (max_th_ <= 0) max_th_ = min_th_ > 0 ? 3 * min_th_ : capacity / 2;
  if (min_th_ <= 0) min_th_ = max_th_ / 3;
  // Keep the ramp well defined even for inconsistent knobs (the config loader rejects them).
  if (max_th_ <= min_th_) max_th_ = min_th_ + 1;
}

double Red::uniform() noexcept {
  // xorshift64*: a small owned generator, reproducible from the seed.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  const std::uint64_t value = rng_ * 0x2545F4914F6CDD1DULL;
  return static_cast<double>(value >> 11) * 0x1.0p-53;
}

void Red::on_empty(TimeNs now) noexcept { q_time_ = now; }

bool Red::on_enqueue(const QueueSnapshot& queue, std::uint32_t, std::uint32_t,
                     TimeNs now) noexcept {
  const double q = static_cast<double>(in_bytes_ ? queue.bytes : queue.packets);
  if (q > 0) {
    avg_ = (1 - config_.w_q) * avg_ + config_.w_q * q;
  } else {
    // Idle-period correction: decay as if m small packets had been sent since q_time (when the
    // queue emptied, or the last arrival that found it empty and was dropped).
    const TimeNs idle = now > q_time_ ? now - q_time_ : 0;
    const double m =
        config_.small_packet_time != 0
            ? static_cast<double>(idle) / static_cast<double>(config_.small_packet_time)
            : 0.0;
    avg_ = std::pow(1 - config_.w_q, m) * avg_;
    q_time_ = now;
  }

  double p_b = 0;
  if (avg_ < min_th_) {
    count_ = -1;
    last_probability_ = 0;
    return false;
  }
  if (avg_ < max_th_) {
    p_b = config_.max_p * (avg_ - min_th_) / (max_th_ - min_th_);
  } else if (config_.gentle && avg_ < 2 * max_th_) {
    p_b = config_.max_p + (1 - config_.max_p) * (avg_ - max_th_) / max_th_;
  } else {
    count_ = 0;
    last_probability_ = 1;
    ++forced_drops_;
    return true;
  }
  ++count_;
  const double spaced = static_cast<double>(count_) * p_b;
  const double p_a = spaced >= 1 ? 1.0 : p_b / (1 - spaced);
  last_probability_ = p_a;
  if (uniform() < p_a) {
    count_ = 0;
    ++early_drops_;
    return true;
  }
  return false;
}

}  // namespace nextmini::dataplane
