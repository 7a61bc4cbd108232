#pragma once
// LinkHello: the first bytes the dialing side of a link connection sends, so the accepting side
// knows which neighbour this is. A fixed 12-byte record, all big-endian:
//   offset 0  magic "NMLK" (4 bytes)
//   offset 4  version (u16, currently 1)
//   offset 6  reserved (u16, zero)
//   offset 8  node id of the dialer (u32, non-zero)
// parse() rejects a wrong magic, an unknown version or node id 0 with a "link.hello" error.

#include <array>
#include <cstdint>
#include <span>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct LinkHello {
  static constexpr std::size_t kSize = 12;
  static constexpr std::uint16_t kVersion = 1;
  static constexpr std::array<std::uint8_t, 4> kMagic = {'N', 'M', 'L', 'K'};

  messages::NodeId node_id = 0;

  std::array<std::uint8_t, kSize> encode() const noexcept;
  static Result<LinkHello> parse(std::span<const std::uint8_t> bytes);
};

}  // namespace nextmini::dataplane
