// Fuzz target: the RaptorQ object decoder fed untrusted bytes. Input: a 12-byte OTI, then
// packets as [2-byte big-endian length][Payload ID + symbol]. Every packet must be accepted or
// refused with an error; nothing may crash or read out of bounds. Objects are capped at 64 KB
// so one input stays fast.

#include <cstdint>
#include <cstdlib>
#include <span>

#include "nextmini/raptorq/object_decoder.hpp"

using nextmini::raptorq::ObjectDecoder;
using nextmini::raptorq::ObjectTransmissionInfo;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 12) return 0;
  auto oti = ObjectTransmissionInfo::parse(std::span(data, 12));
  if (!oti || oti->transfer_length > 65536) return 0;
  auto decoder = ObjectDecoder::create(*oti);
  if (!decoder) return 0;
  std::size_t pos = 12;
  while (pos + 2 <= size) {
    const std::size_t len = (static_cast<std::size_t>(data[pos]) << 8) | data[pos + 1];
    pos += 2;
    const std::size_t take = len < size - pos ? len : size - pos;
    auto added = decoder->add_packet(std::span(data + pos, take));
    pos += take;
    if (added && *added) {
      auto object = decoder->object();
      if (!object || object->size() != oti->transfer_length) std::abort();
    }
  }
  if (!decoder->complete() && decoder->object()) std::abort();
  return 0;
}
