// Incremental block decoder (RFC 6330 section 5.4). See block_decoder.hpp.

#include "nextmini/raptorq/block_decoder.hpp"

#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "block_parameters.hpp"
#include "nextmini/raptorq/oti.hpp"
#include "solve_plan.hpp"

namespace nextmini::raptorq {
namespace {
constexpr std::uint32_t kChunkSymbols = 64;
}  // namespace

struct BlockDecoder::State {
  detail::BlockParameters params;
  // K * T, received source symbols land here directly; missing ones are written when the
  // block decodes (the buffer is not zeroed: nothing reads a slot before it is written).
  std::unique_ptr<std::uint8_t[]> source;
  std::size_t source_size = 0;
  std::vector<std::uint8_t> have_source;
  std::uint32_t source_received = 0;
  // Repair symbols in fixed-size chunks, so they never move once stored.
  std::vector<std::unique_ptr<std::uint8_t[]>> chunks;
  std::vector<std::uint32_t> repair_esis;
  std::unordered_set<std::uint32_t> repair_seen;
  bool decoded = false;
  std::uint32_t failed_attempts = 0;
  std::vector<std::uint8_t> zero;  // one zero symbol for the padding ISIs

  std::uint8_t* repair_symbol(std::size_t index, std::size_t symbol_size) {
    return chunks[index / kChunkSymbols].get() + (index % kChunkSymbols) * symbol_size;
  }
};

BlockDecoder::BlockDecoder(std::unique_ptr<State> state, std::uint16_t symbol_size)
    : state_(std::move(state)), symbol_size_(symbol_size) {}
BlockDecoder::BlockDecoder(BlockDecoder&&) noexcept = default;
BlockDecoder& BlockDecoder::operator=(BlockDecoder&&) noexcept = default;
BlockDecoder::~BlockDecoder() = default;

Result<BlockDecoder> BlockDecoder::create(std::uint32_t source_symbols, std::uint16_t symbol_size) {
  if (symbol_size == 0) return fail("raptorq.decoder", "symbol size is 0");
  if (source_symbols == 0 || source_symbols > detail::kMaxSourceSymbols) {
    return fail("raptorq.decoder", "source block of " + std::to_string(source_symbols) +
                                       " symbols is outside 1..56403");
  }
  auto state = std::make_unique<State>();
  state->params = detail::BlockParameters::for_k(source_symbols);
  state->have_source.assign(source_symbols, 0);
  state->zero.assign(symbol_size, 0);
  return BlockDecoder(std::move(state), symbol_size);
}

bool BlockDecoder::decoded() const { return state_->decoded; }
std::uint32_t BlockDecoder::source_symbols() const { return state_->params.k; }
std::uint32_t BlockDecoder::failed_attempts() const { return state_->failed_attempts; }
std::uint32_t BlockDecoder::symbols_received() const {
  return state_->source_received + static_cast<std::uint32_t>(state_->repair_esis.size());
}
std::span<const std::uint8_t> BlockDecoder::source_block() const {
  return {state_->source.get(), state_->source_size};
}

Result<bool> BlockDecoder::add_symbol(std::uint32_t esi, std::span<const std::uint8_t> symbol) {
  State& st = *state_;
  if (esi > kMaxEsi) {
    return fail("raptorq.esi", "ESI " + std::to_string(esi) + " does not fit in 24 bits");
  }
  if (symbol.size() != symbol_size_) {
    return fail("raptorq.symbol_size", "symbol of " + std::to_string(symbol.size()) +
                                           " bytes, the block's symbol size is " +
                                           std::to_string(symbol_size_));
  }
  if (st.decoded) return true;
  const std::uint32_t k = st.params.k;
  // The block buffer is allocated with the first symbol, so an untrusted OTI announcing a
  // huge object costs nothing until data actually arrives.
  if (!st.source) {
    st.source_size = static_cast<std::size_t>(k) * symbol_size_;
    st.source.reset(new std::uint8_t[st.source_size]);
  }
  if (esi < k) {
    if (st.have_source[esi]) {
      return fail("raptorq.duplicate",
                  "source symbol ESI " + std::to_string(esi) + " received twice");
    }
    std::memcpy(st.source.get() + static_cast<std::size_t>(esi) * symbol_size_, symbol.data(),
                symbol_size_);
    st.have_source[esi] = 1;
    ++st.source_received;
  } else {
    // ISI = ESI + K' - K must stay below 2^32 and the tuple generator wraps fine; ESI < 2^24.
    if (!st.repair_seen.insert(esi).second) {
      return fail("raptorq.duplicate",
                  "repair symbol ESI " + std::to_string(esi) + " received twice");
    }
    const std::size_t index = st.repair_esis.size();
    if (index % kChunkSymbols == 0) {
      st.chunks.emplace_back(new std::uint8_t[kChunkSymbols * symbol_size_]);
    }
    std::memcpy(st.repair_symbol(index, symbol_size_), symbol.data(), symbol_size_);
    st.repair_esis.push_back(esi);
  }
  if (st.source_received == k) {
    st.decoded = true;
    return true;
  }
  if (symbols_received() >= k) return try_decode();
  return false;
}

bool BlockDecoder::try_decode() {
  State& st = *state_;
  const auto& p = st.params;
  const std::uint32_t k = p.k;
  std::vector<std::uint32_t> isis;
  std::vector<const std::uint8_t*> inputs;
  const std::size_t rows = st.source_received + (p.k_prime - k) + st.repair_esis.size();
  isis.reserve(rows);
  inputs.reserve(rows);
  for (std::uint32_t i = 0; i < k; ++i) {
    if (!st.have_source[i]) continue;
    isis.push_back(i);
    inputs.push_back(st.source.get() + static_cast<std::size_t>(i) * symbol_size_);
  }
  for (std::uint32_t i = k; i < p.k_prime; ++i) {
    isis.push_back(i);
    inputs.push_back(st.zero.data());
  }
  for (std::size_t i = 0; i < st.repair_esis.size(); ++i) {
    isis.push_back(st.repair_esis[i] + (p.k_prime - k));
    inputs.push_back(st.repair_symbol(i, symbol_size_));
  }
  auto plan = detail::SolvePlan::build(p, isis);
  if (!plan) {
    ++st.failed_attempts;
    return false;
  }
  // Every byte is written by the plan before it is read: no need to zero it.
  std::unique_ptr<std::uint8_t[]> intermediate(
      new std::uint8_t[static_cast<std::size_t>(p.l) * symbol_size_]);
  std::vector<std::uint8_t> scratch(symbol_size_);
  plan->execute(inputs.data(), intermediate.get(), scratch.data(), symbol_size_);
  std::vector<std::uint32_t> missing;
  missing.reserve(k - st.source_received);
  for (std::uint32_t i = 0; i < k; ++i) {
    if (!st.have_source[i]) missing.push_back(i);
  }
  std::uint8_t* source = st.source.get();
  const std::size_t t = symbol_size_;
  detail::lt_encode_many(
      p, intermediate.get(), t, missing.size(), [&](std::size_t i) { return missing[i]; },
      [&](std::size_t i) { return source + static_cast<std::size_t>(missing[i]) * t; });
  st.decoded = true;
  st.chunks.clear();
  return true;
}

}  // namespace nextmini::raptorq
