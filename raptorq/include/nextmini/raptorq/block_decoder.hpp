#pragma once
// BlockDecoder: incremental RFC 6330 decoding of one source block (K symbols of T bytes).
// Inputs: encoding symbols (ESI + T bytes) one at a time, in any order. Source symbols are
// stored straight into the output block, repair symbols into fixed chunks (never moved or
// copied again). Once K symbols are held it tries to decode after every new symbol, by
// inactivation decoding (section 5.4); a rank-deficient set (about 1% at exactly K) simply
// waits for the next symbol. Errors (a clear Result error, the decoder stays usable): ESI
// >= 2^24, a symbol of the wrong size, a duplicate ESI.
// Thread: one thread at a time.

#include <cstdint>
#include <memory>
#include <span>

#include "nextmini/common/result.hpp"

namespace nextmini::raptorq {

class BlockDecoder {
 public:
  static Result<BlockDecoder> create(std::uint32_t source_symbols, std::uint16_t symbol_size);

  // Adds one encoding symbol; the value is true once the block is decoded (also for symbols
  // arriving after that, which are ignored).
  Result<bool> add_symbol(std::uint32_t esi, std::span<const std::uint8_t> symbol);

  bool decoded() const;
  std::uint32_t source_symbols() const;
  std::uint16_t symbol_size() const { return symbol_size_; }
  std::uint32_t symbols_received() const;
  // Decode attempts that found the received set rank deficient.
  std::uint32_t failed_attempts() const;
  // K * T bytes once the first symbol arrived (empty before); only meaningful once decoded().
  std::span<const std::uint8_t> source_block() const;

  BlockDecoder(BlockDecoder&&) noexcept;
  BlockDecoder& operator=(BlockDecoder&&) noexcept;
  ~BlockDecoder();

 private:
  struct State;
  BlockDecoder(std::unique_ptr<State> state, std::uint16_t symbol_size);
  bool try_decode();

  std::unique_ptr<State> state_;
  std::uint16_t symbol_size_ = 0;
};

}  // namespace nextmini::raptorq
