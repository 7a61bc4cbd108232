// Fuzz target: the unit parsers (rates, durations, percentages, sizes) on arbitrary text.
// Checks, beyond "no crash": an error always has a message quoting the text; a number accepted
// with one unit scales consistently with the next larger unit (n "kb" = 1000 x n "b", n "ms" =
// 1000 x n "us", n "mbit" = 1000 x n "kbit", each up to rounding); a percentage is in [0, 1].

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "nextmini/controller/units.hpp"

namespace {

namespace ctl = nextmini::controller;

void check(bool condition) {
  if (!condition) std::abort();
}

template <typename T>
void check_error(const nextmini::Result<T>& r) {
  if (!r) check(r.error().message.find('\'') != std::string::npos);
}

// Both parse or neither; when both do, big = 1000 x small within rounding of both.
template <typename Parse>
void check_scaling(Parse parse, const std::string& number, const char* small_unit,
                   const char* big_unit) {
  const auto small = parse(number + small_unit);
  const auto big = parse(number + big_unit);
  if (!small || !big) return;
  __extension__ using U128 = unsigned __int128;
  const U128 lo = static_cast<U128>(*small) * 1000;
  const U128 hi = static_cast<U128>(*big);
  const U128 diff = lo > hi ? lo - hi : hi - lo;
  check(diff <= 1000);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_error(ctl::parse_rate_bps(text));
  check_error(ctl::parse_duration_ns(text));
  check_error(ctl::parse_size_bytes(text));
  const auto pct = ctl::parse_percentage(text);
  check_error(pct);
  if (pct) check(*pct >= 0.0 && *pct <= 1.0);

  // The leading number-like part, for the scaling checks.
  std::size_t n = 0;
  while (n < text.size() && ((text[n] >= '0' && text[n] <= '9') || text[n] == '.')) ++n;
  const std::string number = text.substr(0, n);
  check_scaling(ctl::parse_size_bytes, number, "b", "kb");
  check_scaling(ctl::parse_duration_ns, number, "us", "ms");
  check_scaling(ctl::parse_rate_bps, number, "kbit", "mbit");
  return 0;
}
