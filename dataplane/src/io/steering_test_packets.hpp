#pragma once
// Test helpers for TUN queue steering: raw IPv4/IPv6 packets of a flow (TCP, UDP, SCTP or any
// other protocol; IPv4 options, fragments; IPv6 extension headers), and the same flow's answer
// (addresses and ports swapped). Checksums are not filled: steering never reads them.

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace nextmini::dataplane::test_support {

struct FlowSpec {
  bool ipv6 = false;
  std::uint8_t protocol = 17;
  std::array<std::uint8_t, 16> src{};  // IPv4: the first 4 bytes
  std::array<std::uint8_t, 16> dst{};
  std::uint16_t src_port = 0;
  std::uint16_t dst_port = 0;
  std::size_t payload = 16;
  std::size_t ipv4_option_words = 0;  // IHL = 5 + this
  std::uint16_t ipv4_fragment = 0;    // the flags + offset field (0x2000: MF)
  // IPv6 extension headers in order, each {type, length byte}: 0, 43, 60 (8 * (length + 1)
  // bytes), 51 (4 * (length + 2) bytes), 44 (8 bytes, the length byte unused).
  std::vector<std::array<std::uint8_t, 2>> ipv6_extensions;

  FlowSpec answer() const {
    FlowSpec back = *this;
    std::swap(back.src, back.dst);
    std::swap(back.src_port, back.dst_port);
    return back;
  }
};

inline void store16(std::uint8_t* at, std::uint16_t value) {
  at[0] = static_cast<std::uint8_t>(value >> 8);
  at[1] = static_cast<std::uint8_t>(value);
}

inline std::vector<std::uint8_t> build_flow_packet(const FlowSpec& spec) {
  std::vector<std::uint8_t> packet;
  std::size_t l4 = 0;
  if (spec.ipv6) {
    packet.assign(40, 0);
    packet[0] = 0x60;
    packet[7] = 64;
    std::memcpy(&packet[8], spec.src.data(), 16);
    std::memcpy(&packet[24], spec.dst.data(), 16);
    std::size_t next_at = 6;  // where the current "next header" byte lives
    for (const auto& [type, length] : spec.ipv6_extensions) {
      packet[next_at] = type;
      const std::size_t at = packet.size();
      const std::size_t size = type == 44   ? 8
                               : type == 51 ? 4 * (static_cast<std::size_t>(length) + 2)
                                            : 8 * (static_cast<std::size_t>(length) + 1);
      packet.resize(at + size, 0);
      if (type != 44) packet[at + 1] = length;
      next_at = at;
    }
    packet[next_at] = spec.protocol;
    l4 = packet.size();
  } else {
    l4 = 20 + 4 * spec.ipv4_option_words;
    packet.assign(l4, 0);
    packet[0] = static_cast<std::uint8_t>(0x40 | (5 + spec.ipv4_option_words));
    store16(&packet[6], spec.ipv4_fragment);
    packet[8] = 64;
    packet[9] = spec.protocol;
    std::memcpy(&packet[12], spec.src.data(), 4);
    std::memcpy(&packet[16], spec.dst.data(), 4);
    for (std::size_t i = 20; i < l4; ++i) packet[i] = 1;  // NOP options
  }
  const std::size_t l4_header = spec.protocol == 6 ? 20 : spec.protocol == 132 ? 12 : 8;
  packet.resize(l4 + l4_header + spec.payload, 0);
  store16(&packet[l4], spec.src_port);
  store16(&packet[l4 + 2], spec.dst_port);
  if (spec.protocol == 6) packet[l4 + 12] = 0x50;  // TCP data offset: 5 words
  if (spec.protocol == 17) store16(&packet[l4 + 4], static_cast<std::uint16_t>(8 + spec.payload));
  for (std::size_t i = l4 + l4_header; i < packet.size(); ++i)
    packet[i] = static_cast<std::uint8_t>(i);
  if (spec.ipv6) {
    store16(&packet[4], static_cast<std::uint16_t>(packet.size() - 40));
  } else {
    store16(&packet[2], static_cast<std::uint16_t>(packet.size()));
  }
  return packet;
}

}  // namespace nextmini::dataplane::test_support
