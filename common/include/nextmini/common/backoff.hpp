#pragma once
// Backoff: reconnect delays that grow exponentially with random jitter, so many nodes that lost
// the same peer do not retry in lockstep. next() returns a delay drawn uniformly from
// [current/2, current], then doubles current up to `max`; reset() starts again from `initial`.
// Knobs: initial (default 50 ms), max (default 2 s). Used by tcp links, the control client and
// the controller's PostgreSQL listener.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace nextmini {

struct BackoffConfig {
  std::chrono::milliseconds initial{50};
  std::chrono::milliseconds max{2000};
};

class Backoff {
 public:
  explicit Backoff(BackoffConfig config = {}, std::uint64_t seed = std::random_device{}())
      : config_(config), current_(config.initial), random_(seed) {}

  std::chrono::milliseconds next() {
    const auto high = std::max<std::int64_t>(current_.count(), 1);
    std::uniform_int_distribution<std::int64_t> pick(high / 2, high);
    const std::chrono::milliseconds delay(pick(random_));
    current_ = std::min(config_.max, current_ * 2);
    return delay;
  }
  void reset() { current_ = config_.initial; }

 private:
  BackoffConfig config_;
  std::chrono::milliseconds current_;
  std::mt19937_64 random_;
};

}  // namespace nextmini
