#include "nextmini/dataplane/link/trace_shaper.hpp"

#include <algorithm>
#include <utility>

namespace nextmini::dataplane {

TraceShaper::TraceShaper(messages::MahimahiTrace trace, TimeNs start) noexcept {
  set_trace(std::move(trace), start);
}

void TraceShaper::set_trace(messages::MahimahiTrace trace, TimeNs now) noexcept {
  trace_ = std::move(trace);
  start_ = now;
  base_ms_ = 0;
  next_ = 0;
  credit_ = 0;
  credit_ms_ = 0;
}

void TraceShaper::forfeit() noexcept {
  if (credit_ > 0) wasted_bytes_ += static_cast<std::uint64_t>(credit_);
  credit_ = 0;
}

void TraceShaper::apply(std::uint64_t abs_ms, std::uint32_t opportunities) noexcept {
  if (credit_ > 0 && credit_ms_ != abs_ms) forfeit();
  credit_ += static_cast<std::int64_t>(opportunities * messages::MahimahiTrace::kOpportunityBytes);
  credit_ms_ = abs_ms;
}

void TraceShaper::advance(TimeNs now) noexcept {
  if (now < start_ || trace_.slots.empty() || trace_.period_ms == 0) return;
  const std::uint64_t now_ms = (now - start_) / kNsPerMs;
  const auto& slots = trace_.slots;
  const std::uint64_t period = trace_.period_ms;
  // Finish the current loop (at most one pass over the slots).
  while (next_ != 0 && base_ms_ + slots[next_].ms <= now_ms) {
    apply(base_ms_ + slots[next_].ms, slots[next_].opportunities);
    if (++next_ == slots.size()) {
      next_ = 0;
      base_ms_ += period;
    }
  }
  // After a long idle time, skip whole loops at once: their credit only repays debt.
  if (next_ == 0 && now_ms >= base_ms_ + 2 * period) {
    const std::uint64_t loops = (now_ms - base_ms_) / period - 1;
    forfeit();
    const std::uint64_t loop_bytes =
        trace_.total_opportunities * messages::MahimahiTrace::kOpportunityBytes;
    const std::uint64_t debt = static_cast<std::uint64_t>(-credit_);
    const std::uint64_t paid = std::min(debt, loops * loop_bytes);
    credit_ += static_cast<std::int64_t>(paid);
    wasted_bytes_ += loops * loop_bytes - paid;
    base_ms_ += loops * period;
  }
  while (base_ms_ + slots[next_].ms <= now_ms) {
    apply(base_ms_ + slots[next_].ms, slots[next_].opportunities);
    if (++next_ == slots.size()) {
      next_ = 0;
      base_ms_ += period;
    }
  }
  if (credit_ > 0 && credit_ms_ < now_ms) forfeit();
}

bool TraceShaper::can_send(std::uint64_t /*size_bytes*/, TimeNs now) noexcept {
  advance(now);
  if (credit_ > 0) return true;
  ++throttled_;
  return false;
}

void TraceShaper::consume(std::uint64_t size_bytes, TimeNs now, std::uint64_t segments) noexcept {
  advance(now);
  credit_ -= static_cast<std::int64_t>(size_bytes);
  bytes_sent_ += size_bytes;
  packets_sent_ += segments;
}

TimeNs TraceShaper::next_send_time(std::uint64_t /*size_bytes*/, TimeNs now) noexcept {
  advance(now);
  if (credit_ > 0) return now;
  if (trace_.slots.empty() || trace_.period_ms == 0) return kNever;
  if (now < start_) return start_ + trace_.slots.front().ms * kNsPerMs;
  const std::uint64_t debt = static_cast<std::uint64_t>(-credit_);
  std::uint64_t granted = 0;
  std::uint64_t base = base_ms_;
  std::size_t i = next_;
  for (;;) {
    granted += trace_.slots[i].opportunities * messages::MahimahiTrace::kOpportunityBytes;
    if (granted > debt) return start_ + (base + trace_.slots[i].ms) * kNsPerMs;
    if (++i == trace_.slots.size()) {
      i = 0;
      base += trace_.period_ms;
    }
  }
}

std::int64_t TraceShaper::credit_bytes(TimeNs now) noexcept {
  advance(now);
  return credit_;
}

}  // namespace nextmini::dataplane
