#pragma once
// Internal: SolvePlan turns a set of received rows (ISIs) of one source block into a program of
// symbol operations that computes the L intermediate symbols from the received symbols
// (RFC 6330 section 5.4: solving A * C = D).
//
// Building the plan touches no symbol data: it runs inactivation decoding on the structure of A
// (peel the sparse LDPC + LT rows, inactivating columns where no row of degree one is left;
// the P PI columns start inactive), then Gaussian elimination on the small dense system of the
// inactive columns (the remaining binary rows and the H HDPC rows, whose MT * GAMMA product is
// evaluated by a Horner recurrence instead of a dense H x (K'+S) matrix). Executing the plan
// replays the recorded operations on symbols. The same plan serves every block with the same
// rows: the encoder caches one per K'.
//
// Slots: [0, N) are the N received symbols (read only, never written); [N, N + L) the
// intermediate symbols C[0..L); slot N + L is one scratch symbol.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "block_parameters.hpp"

namespace nextmini::raptorq::detail {

// kSum: dst = XOR of `count` slots listed in the plan's term list from index `src`.
// kScaleAdd: dst = coef * dst ^ src.
enum class OpKind : std::uint8_t { kZero, kCopy, kXor, kMulAdd, kScale, kSum, kScaleAdd };

struct SymbolOp {
  std::uint32_t dst;
  std::uint32_t src;
  std::uint32_t count;
  OpKind kind;
  std::uint8_t coef;
};

class SolvePlan {
 public:
  // Rows are the encoding symbols with these ISIs, in this order. Returns nothing when they do
  // not determine the intermediate symbols (rank deficient: more symbols are needed).
  static std::optional<SolvePlan> build(const BlockParameters& params,
                                        std::span<const std::uint32_t> isis);

  // inputs[i] is the symbol of ISI isis[i]; intermediate holds L symbols; scratch one symbol.
  void execute(const std::uint8_t* const* inputs, std::uint8_t* intermediate, std::uint8_t* scratch,
               std::size_t symbol_size) const;

  std::uint32_t inactive_columns() const { return inactive_; }
  std::size_t op_count() const { return ops_.size(); }
  std::span<const SymbolOp> ops() const { return ops_; }

 private:
  std::uint32_t num_inputs_ = 0;
  std::uint32_t l_ = 0;
  std::uint32_t inactive_ = 0;
  std::vector<SymbolOp> ops_;
  std::vector<std::uint32_t> terms_;
};

}  // namespace nextmini::raptorq::detail
