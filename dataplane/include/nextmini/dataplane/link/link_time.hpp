#pragma once
// Time for the link stages (queue, AQM, scheduler, shaper, delay line): nanoseconds on the
// monotonic clock. Stages never read the clock themselves; the caller passes `now`, so tests
// drive them with a fake clock and a run is reproducible.

#include <cstdint>
#include <ctime>

namespace nextmini::dataplane {

using TimeNs = std::uint64_t;

inline constexpr TimeNs kNever = ~TimeNs{0};

inline TimeNs monotonic_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<TimeNs>(ts.tv_sec) * 1'000'000'000u + static_cast<TimeNs>(ts.tv_nsec);
}

}  // namespace nextmini::dataplane
