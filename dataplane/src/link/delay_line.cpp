#include "nextmini/dataplane/link/delay_line.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "nextmini/dataplane/link/link_random.hpp"

namespace nextmini::dataplane {
namespace {

constexpr int kMaxRedraws = 64;

// Standard normal by Box-Muller (one of the pair; cheap enough and allocation free).
double standard_normal(std::mt19937_64& rng) noexcept {
  double u1 = unit_uniform(rng);
  while (u1 <= 0.0) u1 = unit_uniform(rng);
  const double u2 = unit_uniform(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * 3.14159265358979323846 * u2);
}

}  // namespace

DelayLine::DelayLine(std::size_t capacity_packets, DelayParams params, std::uint64_t seed)
    : capacity_(capacity_packets), params_(params), rng_(seed) {
  heap_.reserve(capacity_);
}

TimeNs DelayLine::sample_delay() noexcept {
  const double delay = static_cast<double>(params_.delay_ns);
  const double jitter = static_cast<double>(params_.jitter_ns);
  if (params_.jitter_ns == 0) return params_.delay_ns;
  double value = 0;
  if (params_.distribution == JitterDistribution::kUniform) {
    // Truncated at 0: uniform over [max(0, delay - jitter), delay + jitter].
    const double lo = delay > jitter ? delay - jitter : 0.0;
    value = lo + unit_uniform(rng_) * (delay + jitter - lo);
  } else {
    for (int i = 0; i < kMaxRedraws; ++i) {
      value = delay + standard_normal(rng_) * jitter;
      if (value >= 0) break;
    }
  }
  if (value <= 0) return 0;
  return static_cast<TimeNs>(std::llround(value));
}

bool DelayLine::enqueue(Packet&& packet, TimeNs now) noexcept {
  if (heap_.size() >= capacity_) {
    ++rejected_full_;
    return false;
  }
  const TimeNs delay = sample_delay();
  TimeNs release = delay > kNever - now ? kNever : now + delay;
  if (!params_.reorder) release = std::max(release, last_release_);
  last_release_ = std::max(last_release_, release);
  heap_.push_back(Entry{release, seq_++, std::move(packet)});
  std::push_heap(heap_.begin(), heap_.end(), later);
  ++enqueued_;
  return true;
}

std::size_t DelayLine::release(TimeNs now, PacketBatch& out) noexcept {
  std::size_t n = 0;
  while (!heap_.empty() && !out.full() && heap_.front().release <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    out.push(std::move(heap_.back().packet));
    heap_.pop_back();
    ++n;
  }
  released_ += n;
  return n;
}

TimeNs DelayLine::next_release_time() const noexcept {
  return heap_.empty() ? kNever : heap_.front().release;
}

std::size_t DelayLine::clear() noexcept {
  const std::size_t n = heap_.size();
  heap_.clear();
  return n;
}

}  // namespace nextmini::dataplane
