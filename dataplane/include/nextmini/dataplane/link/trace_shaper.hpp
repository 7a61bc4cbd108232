#pragma once
// TraceShaper: paces a link by a Mahimahi bandwidth trace (see mahimahi_trace.hpp).
// Time 0 of the trace is `start` (given at construction or set_trace()); the trace then loops.
// Inputs/outputs: like TokenBucketShaper — can_send(size, now) for the head packet,
// consume(size, now) when it is sent, next_send_time(size, now) to arm one timer.
// Rule (as in Mahimahi): the opportunities of one millisecond give count * 1500 bytes of credit,
// usable during that millisecond only; credit left when the millisecond ends is forfeited
// (counted in wasted_bytes()), never banked. Opportunities are granted per millisecond in
// aggregate, so a 1-Gbit/s trace needs one timer per ms at most, not one per opportunity.
// A packet may start while any credit of the current millisecond is left; if it is larger than
// the credit, the difference is a debt repaid by the next opportunities (in Mahimahi a packet
// also spans opportunities), so the byte rate follows the trace for any packet size (64-KB
// super-packets included).
// Counters: bytes_sent(), packets_sent() (segments), throttled(), wasted_bytes().
// Thread: the link's worker; no I/O, no clock reads; allocation only in the constructor and
// set_trace().

#include <cstdint>

#include "nextmini/dataplane/link/link_time.hpp"
#include "nextmini/messages/mahimahi_trace.hpp"

namespace nextmini::dataplane {

class TraceShaper {
 public:
  // `trace` must come from parse_mahimahi_trace (at least one slot, period > 0).
  TraceShaper(messages::MahimahiTrace trace, TimeNs start) noexcept;

  // Replaces the trace at run time; the new one starts at `now` and any credit or debt is reset.
  void set_trace(messages::MahimahiTrace trace, TimeNs now) noexcept;

  bool can_send(std::uint64_t size_bytes, TimeNs now) noexcept;
  void consume(std::uint64_t size_bytes, TimeNs now, std::uint64_t segments = 1) noexcept;
  // The start of the first millisecond whose opportunities let the next packet go (now if it
  // can go now). A function of the debt only, so size_bytes does not change the answer.
  TimeNs next_send_time(std::uint64_t size_bytes, TimeNs now) noexcept;

  const messages::MahimahiTrace& trace() const noexcept { return trace_; }
  // Credit of the current millisecond in bytes (negative: debt).
  std::int64_t credit_bytes(TimeNs now) noexcept;

  std::uint64_t bytes_sent() const noexcept { return bytes_sent_; }
  std::uint64_t packets_sent() const noexcept { return packets_sent_; }
  std::uint64_t throttled() const noexcept { return throttled_; }
  std::uint64_t wasted_bytes() const noexcept { return wasted_bytes_; }

 private:
  static constexpr TimeNs kNsPerMs = 1'000'000;

  void advance(TimeNs now) noexcept;
  void apply(std::uint64_t abs_ms, std::uint32_t opportunities) noexcept;
  void forfeit() noexcept;

  messages::MahimahiTrace trace_;
  TimeNs start_ = 0;
  std::uint64_t base_ms_ = 0;  // start of the current loop, in ms since start_
  std::size_t next_ = 0;       // next slot of the current loop not yet granted
  std::int64_t credit_ = 0;
  std::uint64_t credit_ms_ = 0;  // the millisecond the positive credit belongs to
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t packets_sent_ = 0;
  std::uint64_t throttled_ = 0;
  std::uint64_t wasted_bytes_ = 0;
};

}  // namespace nextmini::dataplane
