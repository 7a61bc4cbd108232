#pragma once
// ObjectEncoder: RFC 6330 encoding of a whole object. Splits the object into source blocks and
// sub-blocks as the OTI says (section 4.4.1.2), builds a BlockEncoder per source block, and
// produces encoding packets: the 4-byte FEC Payload ID followed by the T-byte symbol.
// Thread: immutable after create().

#include <cstdint>
#include <span>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/raptorq/block_encoder.hpp"
#include "nextmini/raptorq/oti.hpp"

namespace nextmini::raptorq {

class ObjectEncoder {
 public:
  // object.size() must equal oti.transfer_length.
  static Result<ObjectEncoder> create(std::span<const std::uint8_t> object,
                                      const ObjectTransmissionInfo& oti);

  const ObjectTransmissionInfo& oti() const { return oti_; }
  std::uint32_t block_count() const { return static_cast<std::uint32_t>(blocks_.size()); }
  std::uint32_t source_symbols(std::uint8_t sbn) const;

  // Payload ID + symbol of one encoding symbol.
  Result<std::vector<std::uint8_t>> packet(std::uint8_t sbn, std::uint32_t esi) const;

  // For each source block in order: its source symbols (ESI 0..K-1), then `repair_per_block`
  // repair symbols (ESI K, K+1, ...).
  std::vector<std::vector<std::uint8_t>> packets(std::uint32_t repair_per_block) const;

 private:
  ObjectEncoder(const ObjectTransmissionInfo& oti, std::vector<BlockEncoder> blocks);

  ObjectTransmissionInfo oti_;
  std::vector<BlockEncoder> blocks_;
};

}  // namespace nextmini::raptorq
