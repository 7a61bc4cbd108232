// Block encoder (RFC 6330 sections 5.3.3 and 5.3.4). See block_encoder.hpp.

#include "nextmini/raptorq/block_encoder.hpp"

#include <cstring>
#include <string>

#include "block_parameters.hpp"
#include "nextmini/raptorq/oti.hpp"
#include "plan_cache.hpp"

namespace nextmini::raptorq {

struct BlockEncoder::State {
  detail::BlockParameters params;
  std::vector<std::uint8_t> source;              // K * T
  std::unique_ptr<std::uint8_t[]> intermediate;  // L * T, every byte written by the plan
};

BlockEncoder::BlockEncoder(std::unique_ptr<State> state, std::uint16_t symbol_size)
    : state_(std::move(state)), symbol_size_(symbol_size) {}
BlockEncoder::BlockEncoder(BlockEncoder&&) noexcept = default;
BlockEncoder& BlockEncoder::operator=(BlockEncoder&&) noexcept = default;
BlockEncoder::~BlockEncoder() = default;

Result<BlockEncoder> BlockEncoder::create(std::span<const std::uint8_t> source_block,
                                          std::uint16_t symbol_size) {
  if (symbol_size == 0) return fail("raptorq.encoder", "symbol size is 0");
  if (source_block.empty() || source_block.size() % symbol_size != 0) {
    return fail("raptorq.encoder",
                "source block of " + std::to_string(source_block.size()) +
                    " bytes is not a positive multiple of T = " + std::to_string(symbol_size));
  }
  const std::size_t k = source_block.size() / symbol_size;
  if (k > detail::kMaxSourceSymbols) {
    return fail("raptorq.encoder",
                "source block of " + std::to_string(k) + " symbols exceeds 56403");
  }
  auto state = std::make_unique<State>();
  state->params = detail::BlockParameters::for_k(static_cast<std::uint32_t>(k));
  state->source.assign(source_block.begin(), source_block.end());
  const auto& p = state->params;
  state->intermediate.reset(new std::uint8_t[static_cast<std::size_t>(p.l) * symbol_size]);

  const auto plan = detail::encoder_plan(p);
  std::vector<std::uint8_t> zero(symbol_size, 0);
  std::vector<const std::uint8_t*> inputs(p.k_prime);
  for (std::uint32_t i = 0; i < p.k_prime; ++i) {
    inputs[i] =
        i < k ? state->source.data() + static_cast<std::size_t>(i) * symbol_size : zero.data();
  }
  std::vector<std::uint8_t> scratch(symbol_size);
  plan->execute(inputs.data(), state->intermediate.get(), scratch.data(), symbol_size);
  return BlockEncoder(std::move(state), symbol_size);
}

std::uint32_t BlockEncoder::source_symbols() const { return state_->params.k; }

Result<void> BlockEncoder::encode(std::uint32_t esi, std::span<std::uint8_t> out) const {
  if (esi > kMaxEsi) {
    return fail("raptorq.esi", "ESI " + std::to_string(esi) + " does not fit in 24 bits");
  }
  if (out.size() != symbol_size_) {
    return fail("raptorq.symbol_size", "output of " + std::to_string(out.size()) +
                                           " bytes for a symbol of " +
                                           std::to_string(symbol_size_));
  }
  encode_unchecked(esi, out.data());
  return ok();
}

Result<void> BlockEncoder::encode_range(std::uint32_t first_esi, std::uint32_t count,
                                        std::span<std::uint8_t> out) const {
  if (count > 0 && (first_esi > kMaxEsi || count - 1 > kMaxEsi - first_esi)) {
    return fail("raptorq.esi", "ESIs " + std::to_string(first_esi) + " + " + std::to_string(count) +
                                   " do not fit in 24 bits");
  }
  if (out.size() != static_cast<std::size_t>(count) * symbol_size_) {
    return fail("raptorq.symbol_size", "output of " + std::to_string(out.size()) + " bytes for " +
                                           std::to_string(count) + " symbols of " +
                                           std::to_string(symbol_size_));
  }
  const auto& p = state_->params;
  std::uint32_t done = 0;
  for (; done < count && first_esi + done < p.k; ++done) {
    encode_unchecked(first_esi + done, out.data() + static_cast<std::size_t>(done) * symbol_size_);
  }
  const std::uint32_t offset = p.k_prime - p.k;
  const std::uint32_t first_repair = first_esi + done;
  std::uint8_t* base = out.data() + static_cast<std::size_t>(done) * symbol_size_;
  const std::size_t t = symbol_size_;
  detail::lt_encode_many(
      p, state_->intermediate.get(), t, count - done,
      [&](std::size_t i) { return first_repair + static_cast<std::uint32_t>(i) + offset; },
      [&](std::size_t i) { return base + i * t; });
  return ok();
}

void BlockEncoder::encode_unchecked(std::uint32_t esi, std::uint8_t* out) const {
  const auto& p = state_->params;
  if (esi < p.k) {
    std::memcpy(out, state_->source.data() + static_cast<std::size_t>(esi) * symbol_size_,
                symbol_size_);
    return;
  }
  detail::lt_encode(p, state_->intermediate.get(), symbol_size_, esi + (p.k_prime - p.k), out);
}

}  // namespace nextmini::raptorq
