#include "nextmini/dataplane/core/datagram_gro.hpp"

#include <cstring>

#include "nextmini/dataplane/core/byte_order.hpp"
#include "nextmini/dataplane/core/gro.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::size_t kTcpChecksumOffset = 16;

}  // namespace

std::size_t datagram_count(std::size_t bytes, std::size_t datagram_size) noexcept {
  if (bytes == 0) return 0;
  if (datagram_size == 0 || datagram_size >= bytes) return 1;
  return (bytes + datagram_size - 1) / datagram_size;
}

std::span<const std::uint8_t> datagram_at(std::span<const std::uint8_t> bytes,
                                          std::size_t datagram_size, std::size_t index) noexcept {
  if (datagram_size == 0) return bytes;
  const std::size_t start = index * datagram_size;
  if (start >= bytes.size()) return {};
  const std::size_t rest = bytes.size() - start;
  return bytes.subspan(start, rest < datagram_size ? rest : datagram_size);
}

bool regroup_datagrams(Packet& packet, std::size_t datagram_size) noexcept {
  const std::span<const std::uint8_t> all = packet.bytes();
  const std::size_t count = datagram_count(all.size(), datagram_size);
  if (count < 2) return false;
  // The first datagram: an overlay header of ours saying "one packet, partial TCP checksum".
  const std::span<const std::uint8_t> first = datagram_at(all, datagram_size, 0);
  const OverlayDecode decoded = decode_overlay_header(first);
  if (!decoded.ok()) return false;
  const OverlayHeader& header = decoded.header;
  if (header.header_length != kOverlayHeaderSize || header.flags != kOverlayFlagGso ||
      header.gso_size != 0 || header.gso_type != 0 || header.csum_offset != kTcpChecksumOffset)
    return false;
  PacketMeta partial;
  partial.needs_csum = true;
  partial.csum_start = header.csum_start;
  partial.csum_offset = header.csum_offset;
  const std::span<const std::uint8_t> first_ip = first.subspan(kOverlayHeaderSize);
  const TcpSegment a = inspect_tcp_segment(first_ip, partial);
  if (!a.ok || !a.partial || tcp_segment_ends_run(a)) return false;

  // Check every datagram before changing a byte.
  std::size_t total = first_ip.size();
  std::uint32_t expected = a.seq + static_cast<std::uint32_t>(a.payload);
  std::uint8_t last_flags = a.flags;
  for (std::size_t k = 1; k < count; ++k) {
    const std::span<const std::uint8_t> datagram = datagram_at(all, datagram_size, k);
    if (datagram.size() <= kOverlayHeaderSize) return false;
    if (std::memcmp(datagram.data(), first.data(), kOverlayHeaderSize) != 0) return false;
    const std::span<const std::uint8_t> ip = datagram.subspan(kOverlayHeaderSize);
    const TcpSegment b = inspect_tcp_segment(ip, partial);
    if (!b.ok || !b.partial || !tcp_segment_continues(first_ip.data(), a, ip.data(), b, expected))
      return false;
    const bool last = k + 1 == count;
    if (!last && (b.payload != a.payload || tcp_segment_ends_run(b))) return false;
    total += b.payload;
    expected += static_cast<std::uint32_t>(b.payload);
    last_flags = b.flags;
  }

  // Move the payloads up behind the first datagram (each lands before where it was).
  std::uint8_t* out = packet.data();
  std::size_t at = first.size();
  for (std::size_t k = 1; k < count; ++k) {
    const std::span<const std::uint8_t> datagram = datagram_at(all, datagram_size, k);
    const std::size_t skip = kOverlayHeaderSize + a.header;
    std::memmove(out + at, datagram.data() + skip, datagram.size() - skip);
    at += datagram.size() - skip;
  }
  PacketMeta meta;
  std::uint8_t* ip = out + kOverlayHeaderSize;
  finish_tcp_super_packet(ip, a, total, last_flags, meta);
  store16(out + 28, meta.gso_size);
  out[30] = meta.gso_type;
  store16(out + 32, meta.csum_start);
  store16(out + 34, meta.csum_offset);
  packet.resize(kOverlayHeaderSize + total);
  return true;
}

}  // namespace nextmini::dataplane
