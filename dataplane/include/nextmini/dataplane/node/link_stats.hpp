#pragma once
// LinkStats: the processor's counters for one directed neighbour link — packets and bytes sent
// to it (tx, handed to its sink) and received from it (rx, before validation), and the packets
// dropped on its account by reason (bad headers that arrived on it; copies that could not be
// sent to it). Owned and updated by the processor's worker; read through Processor::metrics().

#include <cstdint>

#include "nextmini/dataplane/core/drop_reason.hpp"

namespace nextmini::dataplane {

struct LinkStats {
  std::uint64_t tx_packets = 0;
  std::uint64_t tx_bytes = 0;
  std::uint64_t rx_packets = 0;
  std::uint64_t rx_bytes = 0;
  DropCounters drops;
};

}  // namespace nextmini::dataplane
