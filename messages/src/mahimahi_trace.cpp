#include "nextmini/messages/mahimahi_trace.hpp"

#include <string>

namespace nextmini::messages {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

Failure trace_error(std::size_t line, const std::string& what) {
  return fail("trace.invalid", "line " + std::to_string(line) + ": " + what);
}

}  // namespace

Result<MahimahiTrace> parse_mahimahi_trace(std::string_view text) {
  MahimahiTrace trace;
  std::size_t line_no = 0;
  bool any = false;
  std::uint64_t previous = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t end = text.find('\n');
    const std::string_view raw = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    const std::string_view value = trim(raw);
    if (value.empty()) continue;
    std::uint64_t ms = 0;
    for (const char c : value) {
      if (c < '0' || c > '9') {
        return trace_error(line_no, "'" + std::string(value) +
                                        "' is not a millisecond timestamp (a non-negative "
                                        "integer)");
      }
      ms = ms * 10 + static_cast<std::uint64_t>(c - '0');
      if (ms > MahimahiTrace::kMaxTimestampMs) {
        return trace_error(line_no, "timestamp '" + std::string(value) + "' is too large (max " +
                                        std::to_string(MahimahiTrace::kMaxTimestampMs) + " ms)");
      }
    }
    if (any && ms < previous) {
      return trace_error(line_no, "timestamp " + std::to_string(ms) + " is before the previous " +
                                      std::to_string(previous) + " (timestamps must not decrease)");
    }
    if (!trace.slots.empty() && trace.slots.back().ms == ms) {
      ++trace.slots.back().opportunities;
    } else {
      trace.slots.push_back(TraceSlot{ms, 1});
    }
    ++trace.total_opportunities;
    previous = ms;
    any = true;
  }
  if (!any) return fail("trace.invalid", "the trace has no delivery opportunities");
  if (previous == 0) {
    return fail("trace.invalid",
                "the trace's last timestamp is 0 ms; it must be positive (it is the loop period)");
  }
  trace.period_ms = previous;
  return trace;
}

}  // namespace nextmini::messages
