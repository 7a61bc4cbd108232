#include "nextmini/dataplane/core/gro.hpp"

#include <cstring>

#include "nextmini/dataplane/core/byte_order.hpp"
#include "nextmini/dataplane/core/checksum.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpAck = 0x10;

}  // namespace

TcpSegment inspect_tcp_segment(std::span<const std::uint8_t> ip, const PacketMeta& meta) noexcept {
  TcpSegment s;
  if (meta.gso_valid) return s;
  const std::uint8_t* p = ip.data();
  const std::size_t size = ip.size();
  if (size < 40) return s;
  const std::uint8_t version = p[0] >> 4;
  if (version == 4) {
    const std::size_t ihl = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (ihl < 20 || p[9] != kIpProtoTcp || load16(p + 2) != size) return s;
    if ((load16(p + 6) & 0x3fff) != 0) return s;  // fragment
    s.l4 = ihl;
  } else if (version == 6) {
    if (p[6] != kIpProtoTcp || static_cast<std::size_t>(load16(p + 4)) + 40 != size) return s;
    s.ipv6 = true;
    s.l4 = 40;
  } else {
    return s;
  }
  if (s.l4 + 20 > size) return s;
  // A partial checksum counts only where it is the TCP one (csum_start at the TCP header).
  if (meta.needs_csum && (meta.csum_start != s.l4 || meta.csum_offset != 16)) return s;
  s.partial = meta.needs_csum;
  const std::size_t tcp_header = static_cast<std::size_t>(p[s.l4 + 12] >> 4) * 4;
  if (tcp_header < 20) return s;
  s.header = s.l4 + tcp_header;
  if (s.header >= size) return s;  // pure ACKs are not merged
  s.payload = size - s.header;
  s.seq = load32(p + s.l4 + 4);
  s.flags = p[s.l4 + 13];
  if ((s.flags & static_cast<std::uint8_t>(~(kTcpPsh | kTcpFin))) != kTcpAck) return s;
  s.ok = true;
  return s;
}

bool tcp_segment_checksum_ok(std::span<const std::uint8_t> ip, const TcpSegment& s) noexcept {
  if (s.partial) return true;  // nothing to verify: the receiver's kernel completes it
  const std::uint8_t* p = ip.data();
  const std::size_t l4_length = ip.size() - s.l4;
  return checksum_finish(checksum_add({p + s.l4, l4_length},
                                      pseudo_header_sum(p, s.ipv6, kIpProtoTcp, l4_length))) == 0;
}

bool tcp_segment_continues(const std::uint8_t* p, const TcpSegment& a, const std::uint8_t* q,
                           const TcpSegment& b, std::uint32_t expected_seq) noexcept {
  if (b.ipv6 != a.ipv6 || b.header != a.header || b.seq != expected_seq) return false;
  if (b.payload > a.payload) return false;
  if (a.ipv6) {
    // Version, traffic class, flow label; next header, hop limit; addresses.
    if (std::memcmp(p, q, 4) != 0 || std::memcmp(p + 6, q + 6, 34) != 0) return false;
  } else {
    if (p[0] != q[0] || p[1] != q[1] || p[8] != q[8] || std::memcmp(p + 12, q + 12, 8) != 0)
      return false;
    if (a.l4 > 20 && std::memcmp(p + 20, q + 20, a.l4 - 20) != 0) return false;
  }
  const std::uint8_t* ta = p + a.l4;
  const std::uint8_t* tb = q + b.l4;
  if (std::memcmp(ta, tb, 4) != 0) return false;          // ports
  if (std::memcmp(ta + 8, tb + 8, 4) != 0) return false;  // ack number
  if (a.header > a.l4 + 20 && std::memcmp(ta + 20, tb + 20, a.header - a.l4 - 20) != 0)
    return false;  // options (timestamps)
  return (tb[13] & static_cast<std::uint8_t>(~(kTcpPsh | kTcpFin))) == kTcpAck;
}

bool tcp_segment_ends_run(const TcpSegment& s) noexcept {
  return (s.flags & (kTcpPsh | kTcpFin)) != 0;
}

void finish_tcp_super_packet(std::uint8_t* out, const TcpSegment& first, std::size_t total,
                             std::uint8_t last_flags, PacketMeta& meta) noexcept {
  out[first.l4 + 13] = last_flags;  // PSH / FIN of the last segment
  if (first.ipv6) {
    store16(out + 4, static_cast<std::uint16_t>(total - 40));
  } else {
    store16(out + 2, static_cast<std::uint16_t>(total));
    store16(out + 10, 0);
    store16(out + 10, checksum_finish(checksum_add({out, first.l4})));
  }
  // Partial checksum: the folded pseudo-header sum, completed by the kernel (NEEDS_CSUM).
  const std::uint16_t pseudo = static_cast<std::uint16_t>(
      ~checksum_finish(pseudo_header_sum(out, first.ipv6, kIpProtoTcp, total - first.l4)));
  store16(out + first.l4 + 16, pseudo);
  meta.gso_valid = true;
  meta.gso_type = first.ipv6 ? kGsoTypeTcpV6 : kGsoTypeTcpV4;
  meta.gso_size = static_cast<std::uint16_t>(first.payload);
  meta.needs_csum = true;
  meta.csum_start = static_cast<std::uint16_t>(first.l4);
  meta.csum_offset = 16;
}

void GroCoalescer::coalesce(PacketBatch& batch) noexcept {
  const std::size_t n = batch.size();
  std::size_t write = 0;
  std::size_t i = 0;
  while (i < n) {
    const TcpSegment a = inspect_tcp_segment(batch[i].bytes(), batch[i].meta());
    std::size_t end = i + 1;  // the run is [i, end)
    std::size_t total = batch[i].size();
    if (a.ok && !tcp_segment_ends_run(a) && tcp_segment_checksum_ok(batch[i].bytes(), a)) {
      std::uint32_t expected = a.seq + static_cast<std::uint32_t>(a.payload);
      while (end < n) {
        const TcpSegment b = inspect_tcp_segment(batch[end].bytes(), batch[end].meta());
        if (!b.ok || total + b.payload > kMaxSuperPacket ||
            !tcp_segment_continues(batch[i].data(), a, batch[end].data(), b, expected) ||
            !tcp_segment_checksum_ok(batch[end].bytes(), b))
          break;
        total += b.payload;
        expected += static_cast<std::uint32_t>(b.payload);
        ++end;
        // A shorter segment, PSH or FIN ends the run.
        if (b.payload < a.payload || tcp_segment_ends_run(b)) break;
      }
    }
    Packet merged;
    if (end - i > 1) merged = large_pool_.acquire();
    if (merged.valid() && merged.resize(total)) {
      std::uint8_t* out = merged.data();
      std::memcpy(out, batch[i].data(), batch[i].size());
      std::size_t at = batch[i].size();
      for (std::size_t k = i + 1; k < end; ++k) {
        std::memcpy(out + at, batch[k].data() + a.header, batch[k].size() - a.header);
        at += batch[k].size() - a.header;
      }
      merged.meta() = batch[i].meta();
      finish_tcp_super_packet(out, a, total, batch[end - 1].data()[a.l4 + 13], merged.meta());
      merged_packets_ += end - i;
      ++super_packets_;
      for (std::size_t k = i; k < end; ++k) batch[k].reset();
      batch[write++] = std::move(merged);
    } else {
      for (std::size_t k = i; k < end; ++k) {
        if (write != k) batch[write] = std::move(batch[k]);
        ++write;
      }
    }
    i = end;
  }
  while (batch.size() > write) batch.pop_back();
}

}  // namespace nextmini::dataplane
