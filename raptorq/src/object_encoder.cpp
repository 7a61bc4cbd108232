// Object encoder (RFC 6330 section 4.4). See object_encoder.hpp.

#include "nextmini/raptorq/object_encoder.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "interleave.hpp"

namespace nextmini::raptorq {

ObjectEncoder::ObjectEncoder(const ObjectTransmissionInfo& oti, std::vector<BlockEncoder> blocks)
    : oti_(oti), blocks_(std::move(blocks)) {}

Result<ObjectEncoder> ObjectEncoder::create(std::span<const std::uint8_t> object,
                                            const ObjectTransmissionInfo& oti) {
  if (auto valid = oti.validate(); !valid) return Failure{valid.error()};
  if (object.size() != oti.transfer_length) {
    return fail("raptorq.encoder",
                "object of " + std::to_string(object.size()) +
                    " bytes, the OTI says F = " + std::to_string(oti.transfer_length));
  }
  const ObjectLayout layout(oti);
  std::vector<BlockEncoder> blocks;
  blocks.reserve(layout.block_count());
  std::vector<std::uint8_t> block_bytes;
  std::vector<std::uint8_t> symbols;
  for (std::uint32_t sbn = 0; sbn < layout.block_count(); ++sbn) {
    const SourceBlockLayout b = layout.block(static_cast<std::uint8_t>(sbn));
    const std::size_t size = static_cast<std::size_t>(b.source_symbols) * oti.symbol_size;
    block_bytes.assign(size, 0);
    const std::size_t available =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, object.size() - b.offset));
    std::memcpy(block_bytes.data(), object.data() + b.offset, available);
    symbols.resize(size);
    detail::block_to_symbols(layout, oti, b.source_symbols, block_bytes.data(), symbols.data());
    auto encoder = BlockEncoder::create(symbols, oti.symbol_size);
    if (!encoder) return Failure{encoder.error()};
    blocks.push_back(std::move(*encoder));
  }
  return ObjectEncoder(oti, std::move(blocks));
}

std::uint32_t ObjectEncoder::source_symbols(std::uint8_t sbn) const {
  return sbn < blocks_.size() ? blocks_[sbn].source_symbols() : 0;
}

Result<std::vector<std::uint8_t>> ObjectEncoder::packet(std::uint8_t sbn, std::uint32_t esi) const {
  if (sbn >= blocks_.size()) {
    return fail("raptorq.sbn", "SBN " + std::to_string(sbn) + " but the object has " +
                                   std::to_string(blocks_.size()) + " source blocks");
  }
  std::vector<std::uint8_t> out(kPayloadIdSize + oti_.symbol_size);
  const auto id = PayloadId{sbn, esi}.encode();
  std::copy(id.begin(), id.end(), out.begin());
  if (auto r = blocks_[sbn].encode(esi, std::span(out).subspan(kPayloadIdSize)); !r) {
    return Failure{r.error()};
  }
  return out;
}

std::vector<std::vector<std::uint8_t>> ObjectEncoder::packets(
    std::uint32_t repair_per_block) const {
  std::vector<std::vector<std::uint8_t>> out;
  for (std::size_t sbn = 0; sbn < blocks_.size(); ++sbn) {
    const std::uint32_t total = blocks_[sbn].source_symbols() + repair_per_block;
    for (std::uint32_t esi = 0; esi < total && esi <= kMaxEsi; ++esi) {
      std::vector<std::uint8_t> p(kPayloadIdSize + oti_.symbol_size);
      const auto id = PayloadId{static_cast<std::uint8_t>(sbn), esi}.encode();
      std::copy(id.begin(), id.end(), p.begin());
      blocks_[sbn].encode_unchecked(esi, p.data() + kPayloadIdSize);
      out.push_back(std::move(p));
    }
  }
  return out;
}

}  // namespace nextmini::raptorq
