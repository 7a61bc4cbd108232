#pragma once
// RFC 6330 section 3.3: the FEC Object Transmission Information (12 bytes: F 40 bits,
// reserved 8 bits, T 16 bits, Z 8 bits, N 16 bits, Al 8 bits, big-endian) and the FEC Payload
// ID (SBN 8 bits, ESI 24 bits) that prefixes every encoding symbol, plus the source-block and
// sub-block partitioning of section 4.4.1.2 that the OTI implies.

#include <array>
#include <cstdint>
#include <span>

#include "nextmini/common/result.hpp"

namespace nextmini::raptorq {

inline constexpr std::uint64_t kMaxTransferLength = 946270874880ull;  // RFC 6330 section 4.1
inline constexpr std::uint32_t kMaxSourceSymbolsPerBlock = 56403;
inline constexpr std::uint32_t kMaxEsi = (1u << 24) - 1;
inline constexpr std::size_t kOtiSize = 12;
inline constexpr std::size_t kPayloadIdSize = 4;

// Partition[I, J] of section 4.4.1.2: I split into JL parts of IL and JS parts of IS.
struct Partition {
  std::uint32_t il = 0;
  std::uint32_t is = 0;
  std::uint32_t jl = 0;
  std::uint32_t js = 0;
};
Partition partition(std::uint64_t i, std::uint32_t j);

struct ObjectTransmissionInfo {
  std::uint64_t transfer_length = 0;  // F, bytes
  std::uint16_t symbol_size = 0;      // T, bytes
  std::uint8_t source_blocks = 1;     // Z
  std::uint16_t sub_blocks = 1;       // N
  std::uint8_t alignment = 1;         // Al

  // Checks the parameters describe a codable object: every size non-zero, F <= 946270874880,
  // T a multiple of Al, Z <= ceil(F/T), ceil(ceil(F/T)/Z) <= 56,403, N <= T/Al.
  Result<void> validate() const;

  std::array<std::uint8_t, kOtiSize> encode() const;
  // Parses and validates 12 bytes.
  static Result<ObjectTransmissionInfo> parse(std::span<const std::uint8_t> bytes);

  // The OTI an encoder would choose for F bytes with symbol size T: the fewest source blocks
  // that keep each under 56,403 symbols (and at most `max_block_symbols`), one sub-block.
  static Result<ObjectTransmissionInfo> for_object(
      std::uint64_t transfer_length, std::uint16_t symbol_size, std::uint8_t alignment = 1,
      std::uint32_t max_block_symbols = kMaxSourceSymbolsPerBlock);

  friend bool operator==(const ObjectTransmissionInfo&, const ObjectTransmissionInfo&) = default;
};

// Where one source block lies in the object (valid OTI only).
struct SourceBlockLayout {
  std::uint32_t source_symbols = 0;  // K of this block
  std::uint64_t offset = 0;          // first byte of the block in the object
};

// Sizes derived from a valid OTI.
class ObjectLayout {
 public:
  explicit ObjectLayout(const ObjectTransmissionInfo& oti);

  std::uint32_t total_symbols() const { return kt_; }  // ceil(F/T)
  std::uint32_t block_count() const { return oti_.source_blocks; }
  SourceBlockLayout block(std::uint8_t sbn) const;
  // Sub-block j's sub-symbol size in bytes (TL*Al for the first NL, TS*Al for the rest).
  std::uint32_t sub_symbol_size(std::uint32_t j) const;

 private:
  ObjectTransmissionInfo oti_;
  std::uint32_t kt_ = 0;
  Partition blocks_;
  Partition sub_blocks_;
};

struct PayloadId {
  std::uint8_t sbn = 0;
  std::uint32_t esi = 0;  // 24 bits

  std::array<std::uint8_t, kPayloadIdSize> encode() const;
  static Result<PayloadId> parse(std::span<const std::uint8_t> bytes);

  friend bool operator==(const PayloadId&, const PayloadId&) = default;
};

}  // namespace nextmini::raptorq
