#include "nextmini/dataplane/transport/link_hello.hpp"

#include <algorithm>
#include <string>

namespace nextmini::dataplane {

std::array<std::uint8_t, LinkHello::kSize> LinkHello::encode() const noexcept {
  std::array<std::uint8_t, kSize> bytes{};
  std::copy(kMagic.begin(), kMagic.end(), bytes.begin());
  bytes[4] = static_cast<std::uint8_t>(kVersion >> 8);
  bytes[5] = static_cast<std::uint8_t>(kVersion);
  for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<std::uint8_t>(node_id >> (24 - 8 * i));
  return bytes;
}

Result<LinkHello> LinkHello::parse(std::span<const std::uint8_t> bytes) {
  if (bytes.size() != kSize)
    return fail("link.hello", "link hello has " + std::to_string(bytes.size()) + " bytes, not " +
                                  std::to_string(kSize));
  if (!std::equal(kMagic.begin(), kMagic.end(), bytes.begin()))
    return fail("link.hello", "link hello does not start with \"NMLK\"");
  const std::uint16_t version = static_cast<std::uint16_t>((bytes[4] << 8) | bytes[5]);
  if (version != kVersion)
    return fail("link.hello", "link hello version " + std::to_string(version) +
                                  " is not supported (this build speaks " +
                                  std::to_string(kVersion) + ")");
  LinkHello hello;
  for (int i = 0; i < 4; ++i) hello.node_id = (hello.node_id << 8) | bytes[8 + i];
  if (hello.node_id == 0) return fail("link.hello", "link hello carries node id 0");
  return hello;
}

}  // namespace nextmini::dataplane
