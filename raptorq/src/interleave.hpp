#pragma once
// Internal: sub-block interleaving (RFC 6330 section 4.4.1.2). A source block of K symbols is
// N sub-blocks laid end to end in the object; sub-block j holds K sub-symbols of T_j bytes.
// Source symbol i is the concatenation of sub-symbol i of every sub-block, in order.

#include <cstdint>
#include <cstring>

#include "nextmini/raptorq/oti.hpp"

namespace nextmini::raptorq::detail {

// block: K*T bytes as they lie in the object; symbols: K*T bytes, symbol after symbol.
inline void block_to_symbols(const ObjectLayout& layout, const ObjectTransmissionInfo& oti,
                             std::uint32_t k, const std::uint8_t* block, std::uint8_t* symbols) {
  std::size_t sub_block_offset = 0;
  std::size_t symbol_offset = 0;
  for (std::uint32_t j = 0; j < oti.sub_blocks; ++j) {
    const std::size_t tj = layout.sub_symbol_size(j);
    for (std::uint32_t i = 0; i < k; ++i) {
      std::memcpy(symbols + static_cast<std::size_t>(i) * oti.symbol_size + symbol_offset,
                  block + sub_block_offset + i * tj, tj);
    }
    sub_block_offset += tj * k;
    symbol_offset += tj;
  }
}

inline void symbols_to_block(const ObjectLayout& layout, const ObjectTransmissionInfo& oti,
                             std::uint32_t k, const std::uint8_t* symbols, std::uint8_t* block) {
  std::size_t sub_block_offset = 0;
  std::size_t symbol_offset = 0;
  for (std::uint32_t j = 0; j < oti.sub_blocks; ++j) {
    const std::size_t tj = layout.sub_symbol_size(j);
    for (std::uint32_t i = 0; i < k; ++i) {
      std::memcpy(block + sub_block_offset + i * tj,
                  symbols + static_cast<std::size_t>(i) * oti.symbol_size + symbol_offset, tj);
    }
    sub_block_offset += tj * k;
    symbol_offset += tj;
  }
}

}  // namespace nextmini::raptorq::detail
