#include "nextmini/dataplane/core/gso.hpp"

#include <cstring>

#include "nextmini/dataplane/core/byte_order.hpp"
#include "nextmini/dataplane/core/checksum.hpp"
#include "nextmini/dataplane/core/ip_packet.hpp"
#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/core/virtio_net_header.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::size_t kIpv6HeaderSize = 40;
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpCwr = 0x80;

}  // namespace

GsoSegmenter::GsoSegmenter(const Packet& packet, std::size_t prefix) noexcept
    : packet_(packet), prefix_(prefix) {
  const PacketMeta& meta = packet.meta();
  if (!meta.gso_valid || meta.gso_size == 0) return;  // kNotGso
  status_ = GsoStatus::kBadHeaders;
  if (packet.size() < prefix) return;
  const std::uint8_t* p = packet.data() + prefix;
  const std::size_t size = packet.size() - prefix;
  const std::uint8_t type = meta.gso_type & static_cast<std::uint8_t>(~kGsoTypeEcn);
  if (size < 20) return;
  const std::uint8_t version = p[0] >> 4;
  std::uint8_t protocol = 0;
  if (version == 4 && (type == kGsoTypeTcpV4 || type == kGsoTypeUdpL4)) {
    l4_offset_ = static_cast<std::size_t>(p[0] & 0x0f) * 4;
    if (l4_offset_ < 20 || l4_offset_ > size) return;
    if ((load16(p + 6) & 0x3fff) != 0) return;  // a fragment cannot be segmented
    protocol = p[9];
  } else if (version == 6 && (type == kGsoTypeTcpV6 || type == kGsoTypeUdpL4)) {
    if (size < kIpv6HeaderSize) return;
    ipv6_ = true;
    // Extension headers: the kernel's csum_start says where L4 starts.
    l4_offset_ =
        meta.needs_csum && meta.csum_start > kIpv6HeaderSize ? meta.csum_start : kIpv6HeaderSize;
    protocol = l4_offset_ == kIpv6HeaderSize ? p[6] : 0;
  } else {
    return;
  }
  tcp_ = type != kGsoTypeUdpL4;
  const std::uint8_t expected = tcp_ ? kIpProtoTcp : kIpProtoUdp;
  if (protocol != 0 && protocol != expected) return;
  if (meta.needs_csum && meta.csum_start != l4_offset_) return;
  std::size_t l4_header = 8;
  if (tcp_) {
    if (l4_offset_ + 20 > size) return;
    l4_header = static_cast<std::size_t>(p[l4_offset_ + 12] >> 4) * 4;
    if (l4_header < 20) return;
  }
  header_length_ = l4_offset_ + l4_header;
  if (header_length_ > size) return;
  payload_ = size - header_length_;
  gso_size_ = meta.gso_size;
  segments_ = payload_ == 0 ? 1 : (payload_ + gso_size_ - 1) / gso_size_;
  status_ = GsoStatus::kOk;
}

std::span<const std::uint8_t> GsoSegmenter::payload(std::size_t index) const noexcept {
  const std::size_t offset = index * gso_size_;
  const std::size_t chunk = payload_ - offset < gso_size_ ? payload_ - offset : gso_size_;
  return {packet_.data() + prefix_ + header_length_ + offset, chunk};
}

void GsoSegmenter::write_partial_headers(std::size_t index, std::uint8_t* q) const noexcept {
  const std::size_t offset = index * gso_size_;
  const std::size_t length = header_length_ + payload(index).size();
  const std::uint8_t* src = packet_.data() + prefix_;
  std::memcpy(q, src, header_length_);
  if (ipv6_) {
    store16(q + 4, static_cast<std::uint16_t>(length - kIpv6HeaderSize));
  } else {
    store16(q + 2, static_cast<std::uint16_t>(length));
    store16(q + 4, static_cast<std::uint16_t>(load16(src + 4) + index));
    store16(q + 10, 0);
    store16(q + 10, checksum_finish(checksum_add({q, l4_offset_})));
  }
  const bool first = index == 0;
  const bool last = index + 1 == segments_;
  std::uint8_t* l4 = q + l4_offset_;
  const std::size_t l4_length = length - l4_offset_;
  if (tcp_) {
    store32(l4 + 4, static_cast<std::uint32_t>(load32(l4 + 4) + offset));
    if (!last) l4[13] &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
    if (!first) l4[13] &= static_cast<std::uint8_t>(~kTcpCwr);
  } else {
    store16(l4 + 4, static_cast<std::uint16_t>(l4_length));
  }
  // The folded pseudo-header sum, not inverted: what the kernel leaves for NEEDS_CSUM.
  const std::uint64_t pseudo =
      pseudo_header_sum(q, ipv6_, tcp_ ? kIpProtoTcp : kIpProtoUdp, l4_length);
  store16(l4 + checksum_offset(), static_cast<std::uint16_t>(~checksum_finish(pseudo)));
}

Packet GsoSegmenter::next(PacketPool& pool) noexcept {
  if (status_ != GsoStatus::kOk || next_ >= segments_) return {};
  const std::size_t index = next_;
  const std::span<const std::uint8_t> chunk = payload(index);
  const std::size_t length = header_length_ + chunk.size();
  Packet out = pool.acquire();
  if (!out.valid()) {
    status_ = GsoStatus::kPoolExhausted;
    return {};
  }
  if (!out.resize(prefix_ + length)) {
    status_ = GsoStatus::kTooBig;
    return {};
  }
  if (prefix_ != 0) {
    std::memcpy(out.data(), packet_.data(), prefix_);
    if (prefix_ >= kOverlayHeaderSize) clear_overlay_offload(out.data());
  }
  std::uint8_t* q = out.data() + prefix_;
  write_partial_headers(index, q);
  std::memcpy(q + header_length_, chunk.data(), chunk.size());
  // Complete the checksum: the sum over the L4 bytes includes the pseudo-header sum in place.
  std::uint8_t* l4 = q + l4_offset_;
  store16(l4 + checksum_offset(), 0);
  std::uint64_t sum =
      pseudo_header_sum(q, ipv6_, tcp_ ? kIpProtoTcp : kIpProtoUdp, length - l4_offset_);
  std::uint16_t checksum = checksum_finish(checksum_add({l4, length - l4_offset_}, sum));
  if (!tcp_ && checksum == 0) checksum = 0xffff;  // UDP: 0 means "no checksum"
  store16(l4 + checksum_offset(), checksum);

  out.meta() = packet_.meta();
  PacketMeta& meta = out.meta();
  meta.gso_valid = false;
  meta.needs_csum = false;
  meta.gso_type = 0;
  meta.gso_size = 0;
  meta.csum_start = 0;
  meta.csum_offset = 0;
  ++next_;
  return out;
}

GsoStatus gso_segment(const Packet& packet, PacketPool& pool, PacketBatch& out,
                      std::size_t prefix) noexcept {
  GsoSegmenter segmenter(packet, prefix);
  if (segmenter.status() != GsoStatus::kOk) return segmenter.status();
  if (PacketBatch::kMaxBatch - out.size() < segmenter.segments()) return GsoStatus::kBatchFull;
  const std::size_t before = out.size();
  while (segmenter.remaining() > 0) {
    Packet segment = segmenter.next(pool);
    if (!segment.valid()) {
      while (out.size() > before) out.pop_back();
      return segmenter.status();
    }
    out.push(std::move(segment));
  }
  return GsoStatus::kOk;
}

bool complete_checksum(Packet& packet, std::size_t prefix) noexcept {
  PacketMeta& meta = packet.meta();
  if (!meta.needs_csum) return true;
  const std::size_t start = prefix + meta.csum_start;
  const std::size_t at = start + meta.csum_offset;
  if (at + 2 > packet.size() || start >= packet.size()) return false;
  std::uint8_t* p = packet.data();
  // The field holds the pseudo-header sum; the sum over [start, end) includes it.
  std::uint16_t checksum = checksum_finish(checksum_add({p + start, packet.size() - start}));
  if (checksum == 0) checksum = 0xffff;
  store16(p + at, checksum);
  meta.needs_csum = false;
  meta.csum_start = 0;
  meta.csum_offset = 0;
  if (prefix >= kOverlayHeaderSize) clear_overlay_offload(p);
  return true;
}

void clear_overlay_offload(std::uint8_t* bytes) noexcept {
  bytes[1] &= static_cast<std::uint8_t>(~kOverlayFlagGso);
  bytes[28] = bytes[29] = bytes[30] = 0;  // gso_size, gso_type
  std::memset(bytes + 32, 0, 4);          // csum_start, csum_offset
}

void mark_overlay_partial_checksum(std::uint8_t* bytes, std::uint16_t csum_start,
                                   std::uint16_t csum_offset) noexcept {
  bytes[1] |= kOverlayFlagGso;
  bytes[28] = bytes[29] = bytes[30] = 0;  // gso_size, gso_type: one packet
  store16(bytes + 32, csum_start);
  store16(bytes + 34, csum_offset);
}

bool needs_software_offload(const Packet& packet) noexcept {
  const PacketMeta& meta = packet.meta();
  return meta.needs_csum || (meta.gso_valid && meta.gso_size != 0);
}

}  // namespace nextmini::dataplane
