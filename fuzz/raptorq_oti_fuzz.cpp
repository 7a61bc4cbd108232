// Fuzz target: RaptorQ OTI and Payload ID parsing. Any 12 bytes either fail with an error or
// give an OTI whose partitioning is consistent (blocks cover ceil(F/T) symbols, sub-symbols
// cover T) and that re-encodes to the same bytes (reserved byte aside).

#include <cstdint>
#include <cstdlib>
#include <span>

#include "nextmini/raptorq/oti.hpp"

using nextmini::raptorq::ObjectLayout;
using nextmini::raptorq::ObjectTransmissionInfo;
using nextmini::raptorq::PayloadId;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  auto id = PayloadId::parse(input);
  if (id && PayloadId::parse(id->encode())->esi != id->esi) std::abort();
  auto oti = ObjectTransmissionInfo::parse(input.first(size < 12 ? size : 12));
  if (!oti) return 0;
  const auto bytes = oti->encode();
  for (std::size_t i = 0; i < 12; ++i) {
    if (i != 5 && bytes[i] != data[i]) std::abort();
  }
  const ObjectLayout layout(*oti);
  std::uint64_t symbols = 0;
  for (std::uint32_t sbn = 0; sbn < layout.block_count(); ++sbn) {
    const auto block = layout.block(static_cast<std::uint8_t>(sbn));
    if (block.source_symbols == 0 || block.source_symbols > 56403) std::abort();
    if (block.offset != symbols * oti->symbol_size) std::abort();
    symbols += block.source_symbols;
  }
  if (symbols != layout.total_symbols()) std::abort();
  std::uint64_t sub_total = 0;
  for (std::uint32_t j = 0; j < oti->sub_blocks; ++j) {
    const std::uint32_t tj = layout.sub_symbol_size(j);
    if (tj == 0 || tj % oti->alignment != 0) std::abort();
    sub_total += tj;
  }
  if (sub_total != oti->symbol_size) std::abort();
  return 0;
}
