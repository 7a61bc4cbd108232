#include "nextmini/dataplane/link/duplicator.hpp"

#include <cstring>

namespace nextmini::dataplane {

Packet Duplicator::duplicate(const Packet& packet, PacketPool& pool) noexcept {
  Packet copy = pool.acquire();
  if (!copy.valid() || !copy.resize(packet.size())) {
    ++copy_failures_;
    return {};
  }
  if (packet.size() != 0) std::memcpy(copy.data(), packet.data(), packet.size());
  copy.meta() = packet.meta();
  ++duplicated_;
  return copy;
}

}  // namespace nextmini::dataplane
