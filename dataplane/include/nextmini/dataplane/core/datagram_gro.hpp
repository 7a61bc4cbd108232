#pragma once
// Datagram GRO: undoes, on the receiving node, what the udp transport's UDP GSO did on the sending
// one. A UDP socket with UDP_GRO hands over several datagrams in one receive — `datagram_size`
// bytes each, back to back, the last possibly shorter (the UDP_GRO control message's gso_size).
// When they are the segments of one GSO super-packet as the udp transport sends them (each an
// overlay header, identical in all, saying "partial checksum at the TCP checksum", and a TCP
// segment continuing the one before: GroCoalescer's rules, core/gro.hpp), regroup_datagrams()
// rewrites the buffer in place into that super-packet: the first datagram's headers, every
// payload moved up behind them (one memmove, no other buffer), the IP length and header checksum,
// the TCP checksum partial over the whole, and the overlay header's offload fields set (gso
// type TCPv4/TCPv6, gso_size the segments' payload). The Processor then takes it as it takes a
// super-packet from a tcp link. Anything else (one datagram, other protocols, several flows,
// a gap, PSH/FIN before the last, an overlay header that differs) is left unchanged, and the
// caller delivers the datagrams one by one (datagram_count / datagram_at).
// Pure function over the packet's bytes: no allocation, no throw; fuzzed
// (fuzz/datagram_gro_fuzz.cpp). Thread: the caller's.

#include <cstddef>
#include <cstdint>
#include <span>

#include "nextmini/dataplane/core/packet.hpp"

namespace nextmini::dataplane {

// Datagrams in `bytes` received as datagrams of `datagram_size` (0: one datagram).
std::size_t datagram_count(std::size_t bytes, std::size_t datagram_size) noexcept;
// Datagram `index` of `bytes` (index < datagram_count).
std::span<const std::uint8_t> datagram_at(std::span<const std::uint8_t> bytes,
                                          std::size_t datagram_size, std::size_t index) noexcept;

// True if `packet` (overlay header + packet, datagram after datagram) held two or more segments
// of one TCP run and is now one super-packet with its overlay header; false: unchanged.
bool regroup_datagrams(Packet& packet, std::size_t datagram_size) noexcept;

}  // namespace nextmini::dataplane
