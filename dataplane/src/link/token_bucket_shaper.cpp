#include "nextmini/dataplane/link/token_bucket_shaper.hpp"

#include <algorithm>

namespace nextmini::dataplane {

std::uint64_t TokenBucketShaper::default_burst(std::uint64_t rate_bps) noexcept {
  // One millisecond at the rate: rate / 8 bytes/s * 1e-3 s.
  return std::max<std::uint64_t>(kDefaultMtu, rate_bps / 8000);
}

TokenBucketShaper::TokenBucketShaper(std::uint64_t rate_bps, std::uint64_t burst_bytes,
                                     TimeNs now) noexcept {
  set_rate(rate_bps, burst_bytes, now);
  tokens_ = static_cast<Units>(burst_bytes_) * kUnitsPerByte;
}

void TokenBucketShaper::set_rate(std::uint64_t rate_bps, std::uint64_t burst_bytes,
                                 TimeNs now) noexcept {
  refill(now);
  last_ = std::max(last_, now);
  const bool was_unlimited = unlimited();
  rate_bps_ = rate_bps;
  burst_bytes_ = burst_bytes != 0 ? burst_bytes : default_burst(rate_bps);
  const Units cap = static_cast<Units>(burst_bytes_) * kUnitsPerByte;
  // Leaving unlimited mode starts with a full bucket; otherwise earned tokens are kept.
  tokens_ = was_unlimited ? cap : std::min(tokens_, cap);
}

void TokenBucketShaper::refill(TimeNs now) noexcept {
  if (now <= last_) return;  // time never runs backwards for the bucket
  if (rate_bps_ != kUnlimited) {
    Units cap = static_cast<Units>(burst_bytes_) * kUnitsPerByte;
    if (backlogged_) {
      cap = std::max(cap, static_cast<Units>(kCatchUpNs) * static_cast<Units>(rate_bps_));
    }
    const Units earned = static_cast<Units>(now - last_) * static_cast<Units>(rate_bps_);
    tokens_ = std::min(cap, tokens_ + earned);
  }
  last_ = now;
}

TokenBucketShaper::Units TokenBucketShaper::needed(std::uint64_t size_bytes) const noexcept {
  return static_cast<Units>(std::min(size_bytes, burst_bytes_)) * kUnitsPerByte;
}

bool TokenBucketShaper::can_send(std::uint64_t size_bytes, TimeNs now) noexcept {
  if (unlimited()) return true;
  refill(now);
  if (tokens_ >= needed(size_bytes)) return true;
  ++throttled_;
  backlogged_ = true;
  return false;
}

void TokenBucketShaper::consume(std::uint64_t size_bytes, TimeNs now, std::uint64_t segments,
                                bool more_waiting) noexcept {
  bytes_sent_ += size_bytes;
  packets_sent_ += segments;
  if (unlimited()) return;
  refill(now);
  tokens_ -= static_cast<Units>(size_bytes) * kUnitsPerByte;
  backlogged_ = more_waiting;
}

TimeNs TokenBucketShaper::next_send_time(std::uint64_t size_bytes, TimeNs now) noexcept {
  if (unlimited()) return now;
  refill(now);
  const Units need = needed(size_bytes);
  if (tokens_ >= need) return now;
  backlogged_ = true;
  const Units missing = need - tokens_;
  const Units rate = static_cast<Units>(rate_bps_);
  const Units wait = (missing + rate - 1) / rate;  // ceil: the bucket is full enough then
  const Units at = static_cast<Units>(std::max(now, last_)) + wait;
  return at >= static_cast<Units>(kNever) ? kNever : static_cast<TimeNs>(at);
}

std::int64_t TokenBucketShaper::tokens_bytes(TimeNs now) noexcept {
  refill(now);
  return static_cast<std::int64_t>(tokens_ / kUnitsPerByte);
}

}  // namespace nextmini::dataplane
