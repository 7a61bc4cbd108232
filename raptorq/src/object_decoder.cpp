// Object decoder (RFC 6330 section 4.4). See object_decoder.hpp.

#include "nextmini/raptorq/object_decoder.hpp"

#include <algorithm>
#include <string>

#include "interleave.hpp"

namespace nextmini::raptorq {

ObjectDecoder::ObjectDecoder(const ObjectTransmissionInfo& oti, std::vector<BlockDecoder> blocks)
    : oti_(oti), blocks_(std::move(blocks)) {}

Result<ObjectDecoder> ObjectDecoder::create(const ObjectTransmissionInfo& oti) {
  if (auto valid = oti.validate(); !valid) return Failure{valid.error()};
  const ObjectLayout layout(oti);
  std::vector<BlockDecoder> blocks;
  blocks.reserve(layout.block_count());
  for (std::uint32_t sbn = 0; sbn < layout.block_count(); ++sbn) {
    auto decoder = BlockDecoder::create(layout.block(static_cast<std::uint8_t>(sbn)).source_symbols,
                                        oti.symbol_size);
    if (!decoder) return Failure{decoder.error()};
    blocks.push_back(std::move(*decoder));
  }
  return ObjectDecoder(oti, std::move(blocks));
}

Result<bool> ObjectDecoder::add_packet(std::span<const std::uint8_t> packet) {
  auto id = PayloadId::parse(packet);
  if (!id) return Failure{id.error()};
  return add_symbol(id->sbn, id->esi, packet.subspan(kPayloadIdSize));
}

Result<bool> ObjectDecoder::add_symbol(std::uint8_t sbn, std::uint32_t esi,
                                       std::span<const std::uint8_t> symbol) {
  if (sbn >= blocks_.size()) {
    return fail("raptorq.sbn", "SBN " + std::to_string(sbn) + " but the object has " +
                                   std::to_string(blocks_.size()) + " source blocks");
  }
  BlockDecoder& block = blocks_[sbn];
  const bool was_decoded = block.decoded();
  auto added = block.add_symbol(esi, symbol);
  if (!added) return Failure{added.error()};
  if (*added && !was_decoded) ++blocks_done_;
  return complete();
}

Result<std::vector<std::uint8_t>> ObjectDecoder::object() const {
  if (!complete()) {
    return fail("raptorq.incomplete", std::to_string(blocks_.size() - blocks_done_) + " of " +
                                          std::to_string(blocks_.size()) +
                                          " source blocks cannot be decoded yet");
  }
  const ObjectLayout layout(oti_);
  std::vector<std::uint8_t> out(oti_.transfer_length);
  std::vector<std::uint8_t> block_bytes;
  for (std::uint32_t sbn = 0; sbn < blocks_.size(); ++sbn) {
    const SourceBlockLayout b = layout.block(static_cast<std::uint8_t>(sbn));
    block_bytes.resize(static_cast<std::size_t>(b.source_symbols) * oti_.symbol_size);
    detail::symbols_to_block(layout, oti_, b.source_symbols, blocks_[sbn].source_block().data(),
                             block_bytes.data());
    const std::size_t take = static_cast<std::size_t>(
        std::min<std::uint64_t>(block_bytes.size(), out.size() - b.offset));
    std::copy_n(block_bytes.begin(), take, out.begin() + static_cast<std::ptrdiff_t>(b.offset));
  }
  return out;
}

}  // namespace nextmini::raptorq
