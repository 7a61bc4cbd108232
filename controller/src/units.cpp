#include "nextmini/controller/units.hpp"

#include <array>
#include <cctype>
#include <string>

namespace nextmini::controller {
namespace {

__extension__ using U128 = unsigned __int128;

constexpr int kMaxDigits = 19;  // digits of the number (integer and fraction together)

constexpr std::string_view kRateHelp =
    "a number and one of bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps (bits/s) or "
    "Bps, kBps, MBps, GBps, TBps (bytes/s), e.g. 100mbit";
constexpr std::string_view kDurationHelp = "a number and one of ns, us, ms, s, e.g. 10ms";
constexpr std::string_view kPercentHelp = "a number and '%', e.g. 0.5%";
constexpr std::string_view kSizeHelp =
    "a number of bytes, optionally with b, kb, mb, gb (x1000) or kib, mib, gib (x1024), e.g. "
    "64kb";

// A decimal number split off the front of the text: mantissa / 10^scale.
struct Decimal {
  std::uint64_t mantissa = 0;
  int scale = 0;
  std::string_view unit;  // the rest, spaces trimmed
  bool ok = false;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

Decimal split_number(std::string_view text) {
  Decimal d;
  std::size_t i = 0;
  int digits = 0;
  bool seen_point = false;
  bool any_digit = false;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '.' && !seen_point) {
      seen_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    any_digit = true;
    if (d.mantissa == 0 && c == '0' && !seen_point) continue;  // leading zeros are free
    if (++digits > kMaxDigits) return d;
    d.mantissa = d.mantissa * 10 + static_cast<std::uint64_t>(c - '0');
    if (seen_point) ++d.scale;
  }
  if (!any_digit) return d;
  d.unit = trim(text.substr(i));
  d.ok = true;
  return d;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

U128 pow10(int n) {
  U128 v = 1;
  for (int i = 0; i < n; ++i) v *= 10;
  return v;
}

// mantissa * factor / 10^scale, rounded to nearest; false if above 2^64 - 1.
bool scale_value(const Decimal& d, std::uint64_t factor, std::uint64_t& out) {
  const U128 num = static_cast<U128>(d.mantissa) * factor;
  const U128 div = pow10(d.scale);
  const U128 v = (num + div / 2) / div;
  if (v > static_cast<U128>(~std::uint64_t{0})) return false;
  out = static_cast<std::uint64_t>(v);
  return true;
}

Failure not_a(std::string_view text, std::string_view what, std::string_view help) {
  return fail("units.invalid", "'" + std::string(text) + "' is not " + std::string(what) + " (" +
                                   std::string(help) + ")");
}

Failure too_large(std::string_view text, std::string_view what) {
  return fail("units.invalid", "'" + std::string(text) + "' is too large for " + std::string(what));
}

// The multiplier of a decimal prefix letter ("" -> 1), or 0 if unknown.
std::uint64_t si_prefix(std::string_view p) {
  if (p.empty()) return 1;
  if (p.size() != 1) return 0;
  switch (std::tolower(static_cast<unsigned char>(p[0]))) {
    case 'k':
      return 1'000;
    case 'm':
      return 1'000'000;
    case 'g':
      return 1'000'000'000;
    case 't':
      return 1'000'000'000'000;
    default:
      return 0;
  }
}

}  // namespace

Result<std::uint64_t> parse_rate_bps(std::string_view text) {
  const std::string_view t = trim(text);
  const Decimal d = split_number(t);
  if (!d.ok || d.unit.empty()) return not_a(t, "a rate", kRateHelp);
  const std::string unit = lower(d.unit);
  std::uint64_t factor = 0;
  if (unit.size() >= 3 && unit.ends_with("bit")) {
    factor = si_prefix(d.unit.substr(0, d.unit.size() - 3));
  } else if (unit.size() >= 3 && unit.ends_with("bps")) {
    const char b = d.unit[d.unit.size() - 3];
    const std::uint64_t prefix = si_prefix(d.unit.substr(0, d.unit.size() - 3));
    factor = b == 'B' ? prefix * 8 : prefix;
  }
  if (factor == 0) return not_a(t, "a rate", kRateHelp);
  std::uint64_t v = 0;
  if (!scale_value(d, factor, v)) return too_large(t, "a rate");
  return v;
}

Result<std::uint64_t> parse_duration_ns(std::string_view text) {
  const std::string_view t = trim(text);
  const Decimal d = split_number(t);
  if (!d.ok) return not_a(t, "a duration", kDurationHelp);
  const std::string unit = lower(d.unit);
  std::uint64_t factor = 0;
  if (unit.empty() && d.mantissa == 0) return std::uint64_t{0};
  if (unit == "ns") factor = 1;
  if (unit == "us") factor = 1'000;
  if (unit == "ms") factor = 1'000'000;
  if (unit == "s") factor = 1'000'000'000;
  if (factor == 0) return not_a(t, "a duration", kDurationHelp);
  std::uint64_t v = 0;
  if (!scale_value(d, factor, v)) return too_large(t, "a duration");
  return v;
}

Result<double> parse_percentage(std::string_view text) {
  const std::string_view t = trim(text);
  const Decimal d = split_number(t);
  if (!d.ok || d.unit != "%") return not_a(t, "a percentage", kPercentHelp);
  const double percent = static_cast<double>(d.mantissa) /
                         static_cast<double>(static_cast<std::uint64_t>(pow10(d.scale)));
  if (percent > 100.0) {
    return fail("units.invalid",
                "'" + std::string(t) + "' is not a percentage between 0% and 100%");
  }
  return percent / 100.0;
}

Result<std::uint64_t> parse_size_bytes(std::string_view text) {
  const std::string_view t = trim(text);
  const Decimal d = split_number(t);
  if (!d.ok) return not_a(t, "a size", kSizeHelp);
  std::string unit = lower(d.unit);
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "b") {
    factor = 1;
  } else if (unit.size() == 3 && unit.ends_with("ib")) {
    const std::uint64_t si = si_prefix(unit.substr(0, 1));
    factor = si == 1'000           ? 1ull << 10
             : si == 1'000'000     ? 1ull << 20
             : si == 1'000'000'000 ? 1ull << 30
                                   : 0;
  } else {
    if (unit.ends_with("b")) unit.pop_back();
    factor = unit == "t" ? 0 : si_prefix(unit);
  }
  if (factor == 0) return not_a(t, "a size", kSizeHelp);
  std::uint64_t v = 0;
  if (!scale_value(d, factor, v)) return too_large(t, "a size");
  return v;
}

}  // namespace nextmini::controller
