#pragma once
// TokenBucketShaper: paces a link to `rate` bits/s with a bucket of `burst` bytes.
// Inputs: the caller asks can_send(size, now) for the head packet, calls consume(size, now)
// when it sends it, and otherwise arms one timer at next_send_time(size, now).
// Outputs: none (it only decides when); it never holds packets.
// Knobs: rate_bps (0 = unlimited: every packet may go at once), burst_bytes (0 = default:
// max(kDefaultMtu, rate * 1 ms / 8)). The bucket starts full.
// Arithmetic: tokens are kept as an exact integer in units of 1/(8e9) byte (one byte =
// 8e9 units; a nanosecond at `rate` adds `rate` units), 128-bit, so 10+ Gbit/s over any span
// has neither overflow nor rounding drift.
// Packets larger than the bucket (64-KB GSO super-packets on a small burst) may go once the
// bucket holds min(size, burst) bytes; the rest is borrowed (tokens go negative), so the long-run
// rate stays exact and a large packet is never stuck forever.
// Catch-up: while packets wait (can_send said no, next_send_time had to wait, or the caller
// said more_waiting when it consumed) the bucket is not capped at `burst` but at kCatchUpNs of
// the rate, so a caller that wakes up late (a busy machine, a transport that had no room) sends
// what the link would have sent meanwhile and the long-run rate holds; while idle (nothing
// waiting) the usual `burst` cap applies.
// Counters: bytes_sent(), packets_sent() (segments: pass a super-packet's segment count),
// throttled() (can_send answered false).
// Thread: the link's worker; no I/O, no clock reads, no allocation.

#include <cstdint>

#include "nextmini/dataplane/link/link_time.hpp"

namespace nextmini::dataplane {

class TokenBucketShaper {
 public:
  static constexpr std::uint64_t kUnlimited = 0;
  static constexpr std::uint64_t kDefaultMtu = 1500;
  static constexpr TimeNs kCatchUpNs = 20'000'000;  // bound on the credit of a late wake-up

  // rate_bps = kUnlimited disables shaping; burst_bytes = 0 picks the default (see above).
  explicit TokenBucketShaper(std::uint64_t rate_bps = kUnlimited, std::uint64_t burst_bytes = 0,
                             TimeNs now = 0) noexcept;

  // Changes rate and burst at run time; tokens earned so far at the old rate are kept (capped
  // by the new burst). Going from unlimited to a rate starts with a full bucket.
  void set_rate(std::uint64_t rate_bps, std::uint64_t burst_bytes, TimeNs now) noexcept;

  bool can_send(std::uint64_t size_bytes, TimeNs now) noexcept;
  // Takes size_bytes from the bucket (it may go negative; see above). `more_waiting`: packets
  // still wait behind this one, so the bucket stays backlogged (see "Catch-up").
  void consume(std::uint64_t size_bytes, TimeNs now, std::uint64_t segments = 1,
               bool more_waiting = false) noexcept;
  // The earliest time at which can_send(size_bytes) will be true (now if it already is).
  TimeNs next_send_time(std::uint64_t size_bytes, TimeNs now) noexcept;

  bool unlimited() const noexcept { return rate_bps_ == kUnlimited; }
  std::uint64_t rate_bps() const noexcept { return rate_bps_; }
  std::uint64_t burst_bytes() const noexcept { return burst_bytes_; }
  // Whole bytes currently in the bucket (negative while repaying a large packet).
  std::int64_t tokens_bytes(TimeNs now) noexcept;

  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  std::uint64_t packets_sent() const noexcept { return packets_sent_; }
  std::uint64_t throttled() const noexcept { return throttled_; }

  static std::uint64_t default_burst(std::uint64_t rate_bps) noexcept;

 private:
  __extension__ using Units = __int128;
  static constexpr Units kUnitsPerByte = 8'000'000'000;

  void refill(TimeNs now) noexcept;
  Units needed(std::uint64_t size_bytes) const noexcept;

  std::uint64_t rate_bps_ = kUnlimited;
  std::uint64_t burst_bytes_ = 0;
  Units tokens_ = 0;
  TimeNs last_ = 0;
  bool backlogged_ = false;  // a packet is waiting for tokens (see "Catch-up")
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t throttled_ = 0;
};

}  // namespace nextmini::dataplane
