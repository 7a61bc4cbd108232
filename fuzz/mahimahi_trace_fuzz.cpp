// Fuzz target: the Mahimahi trace parser and a TraceShaper driven by what it accepts.
// Input: the whole input is trace text. Checks, beyond "no crash": an accepted trace has
// ascending slots, a positive period equal to the last timestamp and consistent totals; a
// shaper on it never answers a send time in the past, and can_send() holds at the time it
// answered; bytes sent are all counted.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "nextmini/dataplane/link/trace_shaper.hpp"
#include "nextmini/messages/mahimahi_trace.hpp"

namespace {

namespace dp = nextmini::dataplane;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = nextmini::messages::parse_mahimahi_trace(text);
  if (!parsed) {
    check(!parsed.error().message.empty());
    return 0;
  }
  const nextmini::messages::MahimahiTrace& trace = *parsed;
  check(!trace.slots.empty());
  check(trace.period_ms > 0 && trace.period_ms == trace.slots.back().ms);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < trace.slots.size(); ++i) {
    check(trace.slots[i].opportunities > 0);
    if (i > 0) check(trace.slots[i].ms > trace.slots[i - 1].ms);
    total += trace.slots[i].opportunities;
  }
  check(total == trace.total_opportunities);

  dp::TraceShaper shaper(trace, 1000);
  dp::TimeNs now = 0;
  std::uint64_t sent = 0;
  for (std::size_t step = 0; step < 64; ++step) {
    const std::uint64_t packet = 64 + (static_cast<std::uint64_t>(data[step % size]) * 257) % 65536;
    const dp::TimeNs at = shaper.next_send_time(packet, now);
    if (at == dp::kNever) break;
    check(at >= now);
    now = at;
    check(shaper.can_send(packet, now));
    shaper.consume(packet, now);
    sent += packet;
  }
  check(shaper.bytes_sent() == sent);
  return 0;
}
