#pragma once
// MahimahiTrace: a bandwidth trace in Mahimahi's format, parsed once off the data path.
// The text has one line per delivery opportunity of kOpportunityBytes (1500) bytes: an integer
// millisecond timestamp, non-decreasing. The trace loops: after the last line it starts over,
// shifted by the last timestamp (the period), exactly as Mahimahi does. Blank lines and
// surrounding spaces (also a trailing '\r') are ignored; anything else is an error naming the
// line and the value.
// Stored compactly as one slot per distinct millisecond with its opportunity count, so a
// 1-Gbit/s trace (~83 lines per ms) costs one slot per ms.

#include <cstdint>
#include <string_view>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::messages {

struct TraceSlot {
  std::uint64_t ms = 0;             // timestamp within one period
  std::uint32_t opportunities = 0;  // lines with this timestamp
};

struct MahimahiTrace {
  static constexpr std::uint64_t kOpportunityBytes = 1500;
  // Timestamps above this (~50 days) are refused, so ns arithmetic over thousands of loops
  // cannot overflow.
  static constexpr std::uint64_t kMaxTimestampMs = std::uint64_t{1} << 32;

  std::vector<TraceSlot> slots;  // ascending ms, at least one
  std::uint64_t period_ms = 0;   // the last timestamp, > 0
  std::uint64_t total_opportunities = 0;

  // Long-run average rate of the trace in bits/s.
  std::uint64_t average_rate_bps() const noexcept {
    return period_ms == 0 ? 0 : total_opportunities * kOpportunityBytes * 8 * 1000 / period_ms;
  }
};

// Parses Mahimahi trace text. Errors (code "trace.invalid"): a line that is not a non-negative
// integer ("line 3: 'abc' is not a millisecond timestamp"), a timestamp below the previous one,
// a too large one, an empty trace, a trace whose last timestamp is 0.
Result<MahimahiTrace> parse_mahimahi_trace(std::string_view text);

}  // namespace nextmini::messages
