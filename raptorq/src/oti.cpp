// OTI, Payload ID and partitioning (RFC 6330 sections 3.3 and 4.4.1.2).

#include "nextmini/raptorq/oti.hpp"

#include <string>

namespace nextmini::raptorq {

Partition partition(std::uint64_t i, std::uint32_t j) {
  Partition p;
  p.il = static_cast<std::uint32_t>((i + j - 1) / j);
  p.is = static_cast<std::uint32_t>(i / j);
  p.jl = static_cast<std::uint32_t>(i - static_cast<std::uint64_t>(p.is) * j);
  p.js = j - p.jl;
  return p;
}

Result<void> ObjectTransmissionInfo::validate() const {
  if (transfer_length == 0) return fail("raptorq.oti", "transfer length F is 0");
  if (transfer_length > kMaxTransferLength) {
    return fail("raptorq.oti",
                "transfer length F = " + std::to_string(transfer_length) + " exceeds 946270874880");
  }
  if (symbol_size == 0) return fail("raptorq.oti", "symbol size T is 0");
  if (alignment == 0) return fail("raptorq.oti", "symbol alignment Al is 0");
  if (source_blocks == 0) return fail("raptorq.oti", "number of source blocks Z is 0");
  if (sub_blocks == 0) return fail("raptorq.oti", "number of sub-blocks N is 0");
  if (symbol_size % alignment != 0) {
    return fail("raptorq.oti",
                "symbol size T = " + std::to_string(symbol_size) +
                    " is not a multiple of the alignment Al = " + std::to_string(alignment));
  }
  const std::uint64_t kt = (transfer_length + symbol_size - 1) / symbol_size;
  if (source_blocks > kt) {
    return fail("raptorq.oti", "Z = " + std::to_string(source_blocks) + " source blocks for only " +
                                   std::to_string(kt) + " symbols");
  }
  const std::uint64_t kl = (kt + source_blocks - 1) / source_blocks;
  if (kl > kMaxSourceSymbolsPerBlock) {
    return fail("raptorq.oti", "ceil(ceil(F/T)/Z) = " + std::to_string(kl) +
                                   " source symbols per block exceeds 56403");
  }
  if (sub_blocks > symbol_size / alignment) {
    return fail("raptorq.oti", "N = " + std::to_string(sub_blocks) +
                                   " sub-blocks do not fit T/Al = " +
                                   std::to_string(symbol_size / alignment) + " aligned units");
  }
  return ok();
}

std::array<std::uint8_t, kOtiSize> ObjectTransmissionInfo::encode() const {
  std::array<std::uint8_t, kOtiSize> out{};
  for (int i = 0; i < 5; ++i) out[i] = static_cast<std::uint8_t>(transfer_length >> (32 - 8 * i));
  out[5] = 0;
  out[6] = static_cast<std::uint8_t>(symbol_size >> 8);
  out[7] = static_cast<std::uint8_t>(symbol_size);
  out[8] = source_blocks;
  out[9] = static_cast<std::uint8_t>(sub_blocks >> 8);
  out[10] = static_cast<std::uint8_t>(sub_blocks);
  out[11] = alignment;
  return out;
}

Result<ObjectTransmissionInfo> ObjectTransmissionInfo::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kOtiSize) {
    return fail("raptorq.oti", "an OTI is 12 bytes, got " + std::to_string(bytes.size()));
  }
  ObjectTransmissionInfo oti;
  oti.transfer_length = 0;
  for (int i = 0; i < 5; ++i) oti.transfer_length = (oti.transfer_length << 8) | bytes[i];
  oti.symbol_size = static_cast<std::uint16_t>((bytes[6] << 8) | bytes[7]);
  oti.source_blocks = bytes[8];
  oti.sub_blocks = static_cast<std::uint16_t>((bytes[9] << 8) | bytes[10]);
  oti.alignment = bytes[11];
  if (auto valid = oti.validate(); !valid) return Failure{valid.error()};
  return oti;
}

Result<ObjectTransmissionInfo> ObjectTransmissionInfo::for_object(std::uint64_t transfer_length,
                                                                  std::uint16_t symbol_size,
                                                                  std::uint8_t alignment,
                                                                  std::uint32_t max_block_symbols) {
  ObjectTransmissionInfo oti;
  oti.transfer_length = transfer_length;
  oti.symbol_size = symbol_size;
  oti.alignment = alignment;
  if (symbol_size != 0 && max_block_symbols != 0 && transfer_length != 0) {
    const std::uint64_t kt = (transfer_length + symbol_size - 1) / symbol_size;
    const std::uint64_t cap = max_block_symbols < kMaxSourceSymbolsPerBlock
                                  ? max_block_symbols
                                  : kMaxSourceSymbolsPerBlock;
    const std::uint64_t z = (kt + cap - 1) / cap;
    if (z > 255) {
      return fail("raptorq.oti", "object of " + std::to_string(transfer_length) +
                                     " bytes needs more than 255 source blocks at T = " +
                                     std::to_string(symbol_size));
    }
    oti.source_blocks = static_cast<std::uint8_t>(z);
  }
  if (auto valid = oti.validate(); !valid) return Failure{valid.error()};
  return oti;
}

ObjectLayout::ObjectLayout(const ObjectTransmissionInfo& oti) : oti_(oti) {
  kt_ = static_cast<std::uint32_t>((oti.transfer_length + oti.symbol_size - 1) / oti.symbol_size);
  blocks_ = partition(kt_, oti.source_blocks);
  sub_blocks_ = partition(oti.symbol_size / oti.alignment, oti.sub_blocks);
}

SourceBlockLayout ObjectLayout::block(std::uint8_t sbn) const {
  SourceBlockLayout b;
  std::uint64_t symbols_before = 0;
  if (sbn < blocks_.jl) {
    b.source_symbols = blocks_.il;
    symbols_before = static_cast<std::uint64_t>(sbn) * blocks_.il;
  } else {
    b.source_symbols = blocks_.is;
    symbols_before = static_cast<std::uint64_t>(blocks_.jl) * blocks_.il +
                     static_cast<std::uint64_t>(sbn - blocks_.jl) * blocks_.is;
  }
  b.offset = symbols_before * oti_.symbol_size;
  return b;
}

std::uint32_t ObjectLayout::sub_symbol_size(std::uint32_t j) const {
  return (j < sub_blocks_.jl ? sub_blocks_.il : sub_blocks_.is) * oti_.alignment;
}

std::array<std::uint8_t, kPayloadIdSize> PayloadId::encode() const {
  return {sbn, static_cast<std::uint8_t>(esi >> 16), static_cast<std::uint8_t>(esi >> 8),
          static_cast<std::uint8_t>(esi)};
}

Result<PayloadId> PayloadId::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kPayloadIdSize) {
    return fail("raptorq.payload_id",
                "a Payload ID is 4 bytes, got " + std::to_string(bytes.size()));
  }
  return PayloadId{bytes[0], (static_cast<std::uint32_t>(bytes[1]) << 16) |
                                 (static_cast<std::uint32_t>(bytes[2]) << 8) | bytes[3]};
}

}  // namespace nextmini::raptorq
