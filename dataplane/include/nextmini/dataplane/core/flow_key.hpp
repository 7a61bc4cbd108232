#pragma once
// FlowKey: the 5-tuple that names a flow (addresses, transport protocol, ports), built from an
// IpPacketView. IPv4 addresses are stored in the first 4 bytes of the 16-byte address fields,
// the rest zero, so one key type serves both families. hash() is a fixed, seedless 64-bit mix:
// every node computes the same value for the same flow (the overlay header carries its 32-bit
// fold, flow_hash32()), and it is what route selection hashes on.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "nextmini/dataplane/core/ip_packet.hpp"

namespace nextmini::dataplane {

struct FlowKey {
  std::array<std::uint8_t, 16> src_address{};
  std::array<std::uint8_t, 16> dst_address{};
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::uint8_t protocol = 0;
  std::uint8_t ip_version = 0;  // 4 or 6

  static FlowKey from(const IpPacketView& view) noexcept {
    FlowKey key;
    std::copy(view.src_address.begin(), view.src_address.end(), key.src_address.begin());
    std::copy(view.dst_address.begin(), view.dst_address.end(), key.dst_address.begin());
    key.src_port = view.src_port;
    key.dst_port = view.dst_port;
    key.protocol = view.protocol;
    key.ip_version = view.version;
    return key;
  }

  std::uint64_t hash() const noexcept {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ ip_version;
    const auto mix_word = [&h](std::uint64_t word) {
      h ^= word;
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 33;
    };
    // Byte-wise big-endian loads, so the value does not depend on the host's byte order.
    const auto load64 = [](const std::uint8_t* p) {
      std::uint64_t word = 0;
      for (std::size_t i = 0; i < 8; ++i) word = (word << 8) | p[i];
      return word;
    };
    for (std::size_t i = 0; i < 16; i += 8) {
      mix_word(load64(src_address.data() + i));
      mix_word(load64(dst_address.data() + i));
    }
    mix_word((static_cast<std::uint64_t>(src_port) << 24) |
             (static_cast<std::uint64_t>(dst_port) << 8) | protocol);
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
  }

  std::uint32_t flow_hash32() const noexcept {
    const std::uint64_t h = hash();
    return static_cast<std::uint32_t>(h ^ (h >> 32));
  }

  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& key) const noexcept {
    return static_cast<std::size_t>(key.hash());
  }
};

}  // namespace nextmini::dataplane
