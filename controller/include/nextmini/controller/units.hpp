#pragma once
// Values with units, as written in the config file, the HTTP API and `nextmini ctl` alike.
// Each parser takes the text, returns the value in the base unit, or an Error (code
// "units.invalid") whose message quotes the text: "'20xs' is not a duration (...)".
// Syntax: a non-negative decimal number ("10", "2.5", ".5"), optional spaces, then the unit.
// Spaces around the whole text are ignored. Fractions are rounded to the nearest base unit.
// Prefixes are decimal (k = 1000) unless the unit says "i" (kib = 1024).
//
//  rate (bits/s)   bit kbit mbit gbit tbit, and bps kbps mbps gbps tbps (the same, bits/s);
//                  with a capital B — Bps kBps MBps GBps TBps — bytes/s (x 8).
//                  The prefix letter and "bit"/"ps" are case-insensitive; only b/B matters.
//                  A bare number is refused (tc reads bits, others read bytes: say which).
//  duration (ns)   ns us ms s (case-insensitive); a bare "0" is allowed.
//  percentage      a number and '%', 0% to 100%; returned as a fraction ("1%" -> 0.01).
//  size (bytes)    a bare number or b; k/kb m/mb g/gb (1000^n); kib mib gib (1024^n);
//                  case-insensitive.

#include <cstdint>
#include <string_view>

#include "nextmini/common/result.hpp"

namespace nextmini::controller {

Result<std::uint64_t> parse_rate_bps(std::string_view text);
Result<std::uint64_t> parse_duration_ns(std::string_view text);
Result<double> parse_percentage(std::string_view text);
Result<std::uint64_t> parse_size_bytes(std::string_view text);

}  // namespace nextmini::controller
