#pragma once
// BlockEncoder: RFC 6330 encoding of one source block. Built from K source symbols of T bytes,
// it computes the L intermediate symbols once (section 5.3.3, using a per-K' solve plan that is
// cached process-wide) and then produces the encoding symbol of any ESI on demand: ESI < K is
// the source symbol itself, ESI >= K a repair symbol (ISI = ESI + K' - K, section 5.3.4).
// Thread: immutable after create(); encode() may be called from several threads at once.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "nextmini/common/result.hpp"

namespace nextmini::raptorq {

class BlockEncoder {
 public:
  // source_block holds K * symbol_size bytes (1 <= K <= 56,403).
  static Result<BlockEncoder> create(std::span<const std::uint8_t> source_block,
                                     std::uint16_t symbol_size);

  std::uint32_t source_symbols() const;
  std::uint16_t symbol_size() const { return symbol_size_; }

  // Writes the encoding symbol with this ESI (< 2^24) into out (symbol_size bytes).
  Result<void> encode(std::uint32_t esi, std::span<std::uint8_t> out) const;
  // Encoding symbols first_esi .. first_esi + count - 1, one after another, into out
  // (count * symbol_size bytes); faster than one encode() per symbol for repair runs.
  Result<void> encode_range(std::uint32_t first_esi, std::uint32_t count,
                            std::span<std::uint8_t> out) const;
  // The same as encode() without checks, for hot loops: esi < 2^24, out.size() == symbol_size.
  void encode_unchecked(std::uint32_t esi, std::uint8_t* out) const;

  BlockEncoder(BlockEncoder&&) noexcept;
  BlockEncoder& operator=(BlockEncoder&&) noexcept;
  ~BlockEncoder();

 private:
  struct State;
  explicit BlockEncoder(std::unique_ptr<State> state, std::uint16_t symbol_size);

  std::unique_ptr<State> state_;
  std::uint16_t symbol_size_ = 0;
};

}  // namespace nextmini::raptorq
