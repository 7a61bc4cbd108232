#pragma once
// ObjectDecoder: RFC 6330 decoding of a whole object from encoding packets (Payload ID +
// symbol) arriving in any order, with any subset lost. One BlockDecoder per source block;
// the object is complete when every block has decoded. A packet with an SBN or ESI out of
// range, the wrong length or a duplicate ESI is refused with a clear error and changes nothing.
// Thread: one thread at a time.

#include <cstdint>
#include <span>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/raptorq/block_decoder.hpp"
#include "nextmini/raptorq/oti.hpp"

namespace nextmini::raptorq {

class ObjectDecoder {
 public:
  static Result<ObjectDecoder> create(const ObjectTransmissionInfo& oti);

  // Adds one packet (4-byte Payload ID then T bytes); true once the whole object is decoded.
  Result<bool> add_packet(std::span<const std::uint8_t> packet);
  Result<bool> add_symbol(std::uint8_t sbn, std::uint32_t esi,
                          std::span<const std::uint8_t> symbol);

  bool complete() const { return blocks_done_ == blocks_.size(); }
  std::uint32_t blocks_decoded() const { return blocks_done_; }
  const ObjectTransmissionInfo& oti() const { return oti_; }
  // The object (F bytes); an error until complete().
  Result<std::vector<std::uint8_t>> object() const;

 private:
  ObjectDecoder(const ObjectTransmissionInfo& oti, std::vector<BlockDecoder> blocks);

  ObjectTransmissionInfo oti_;
  std::vector<BlockDecoder> blocks_;
  std::uint32_t blocks_done_ = 0;
};

}  // namespace nextmini::raptorq
