#pragma once
// OverlayHeader: the header of ours that precedes every packet sent between nodes (DESIGN.md §2;
// byte layout in docs/protocol.md, "Overlay header"). Version 1 is 36 bytes, big-endian fields:
//   0 version | 1 flags | 2 hop_limit | 3 header_length | 4-7 src node | 8-11 dst node or group
//   12-15 route or tree id | 16-19 flow hash | 20-27 send timestamp (ns, CLOCK_REALTIME)
//   28-29 gso_size | 30 gso_type | 31 flow_weight (0 = unset = 1) | 32-33 csum_start
//   34-35 csum_offset
// A receiver skips header_length bytes, so a later version may append fields; a header_length
// below 36 is invalid. Decoding is a bounds-checked read of a byte span: no allocation, no throw,
// and a status a data path can count (decode_overlay_header) rather than an error string.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace nextmini::dataplane {

inline constexpr std::uint8_t kOverlayVersion = 1;
inline constexpr std::size_t kOverlayHeaderSize = 36;

// Flag bits (byte 1). Other bits are reserved and must be zero in version 1.
inline constexpr std::uint8_t kOverlayFlagGso = 0x01;        // gso_* and csum_* fields are valid
inline constexpr std::uint8_t kOverlayFlagMulticast = 0x02;  // dst is a group id, route a tree id
inline constexpr std::uint8_t kOverlayFlagControl = 0x04;    // control / probe packet
inline constexpr std::uint8_t kOverlayKnownFlags =
    kOverlayFlagGso | kOverlayFlagMulticast | kOverlayFlagControl;

// Byte offsets of the fields a forwarding node rewrites in place.
inline constexpr std::size_t kOverlayHopLimitOffset = 2;
inline constexpr std::size_t kOverlayHeaderLengthOffset = 3;
inline constexpr std::size_t kOverlayFlowWeightOffset = 31;

struct OverlayHeader {
  std::uint8_t version = kOverlayVersion;
  std::uint8_t flags = 0;
  std::uint8_t hop_limit = 0;
  std::uint8_t header_length = kOverlayHeaderSize;  // bytes a receiver skips to reach the packet
  std::uint32_t src = 0;                            // source node
  std::uint32_t dst = 0;                            // destination node (or group)
  std::uint32_t route_id = 0;                       // route (or tree) id
  std::uint32_t flow_hash = 0;
  std::uint64_t send_time_ns = 0;
  std::uint16_t gso_size = 0;
  std::uint8_t gso_type = 0;
  std::uint8_t flow_weight = 0;  // the flow's WRR/DRR weight, set by its source; 0 = unset (1)
  std::uint16_t csum_start = 0;
  std::uint16_t csum_offset = 0;

  friend bool operator==(const OverlayHeader&, const OverlayHeader&) = default;
};

// Why a header did not decode; the data path maps kTooShort to DropReason::kTooShort and every
// other failure to DropReason::kBadOverlayHeader.
enum class OverlayStatus : std::uint8_t {
  kOk,
  kTooShort,    // fewer bytes than 36 or than header_length
  kBadVersion,  // version is not 1
  kBadLength,   // header_length < 36
  kBadFlags,    // a reserved flag bit is set
};

struct OverlayDecode {
  OverlayStatus status = OverlayStatus::kTooShort;
  OverlayHeader header{};
  bool ok() const noexcept { return status == OverlayStatus::kOk; }
};

namespace detail {

inline void store_be16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_be32(std::uint8_t* p, std::uint32_t v) noexcept {
  store_be16(p, static_cast<std::uint16_t>(v >> 16));
  store_be16(p + 2, static_cast<std::uint16_t>(v));
}
inline void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}
inline std::uint16_t load_be16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (static_cast<std::uint32_t>(load_be16(p)) << 16) | load_be16(p + 2);
}
inline std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  return (static_cast<std::uint64_t>(load_be32(p)) << 32) | load_be32(p + 4);
}

}  // namespace detail

// Writes the 36 bytes of version 1. header.header_length is written as given (normally 36).
inline void write_overlay_header(const OverlayHeader& header,
                                 std::span<std::uint8_t, kOverlayHeaderSize> out) noexcept {
  std::uint8_t* p = out.data();
  p[0] = header.version;
  p[1] = header.flags;
  p[2] = header.hop_limit;
  p[3] = header.header_length;
  detail::store_be32(p + 4, header.src);
  detail::store_be32(p + 8, header.dst);
  detail::store_be32(p + 12, header.route_id);
  detail::store_be32(p + 16, header.flow_hash);
  detail::store_be64(p + 20, header.send_time_ns);
  detail::store_be16(p + 28, header.gso_size);
  p[30] = header.gso_type;
  p[kOverlayFlowWeightOffset] = header.flow_weight;
  detail::store_be16(p + 32, header.csum_start);
  detail::store_be16(p + 34, header.csum_offset);
}

// Decodes and validates the header at the front of `bytes` (which holds the header and the
// packet after it). On kOk, the packet starts header.header_length bytes into `bytes`.
inline OverlayDecode decode_overlay_header(std::span<const std::uint8_t> bytes) noexcept {
  OverlayDecode result;
  if (bytes.size() < kOverlayHeaderSize) return result;  // kTooShort
  const std::uint8_t* p = bytes.data();
  if (p[0] != kOverlayVersion) {
    result.status = OverlayStatus::kBadVersion;
    return result;
  }
  if (p[kOverlayHeaderLengthOffset] < kOverlayHeaderSize) {
    result.status = OverlayStatus::kBadLength;
    return result;
  }
  if (p[kOverlayHeaderLengthOffset] > bytes.size()) return result;  // kTooShort
  if ((p[1] & ~kOverlayKnownFlags) != 0) {
    result.status = OverlayStatus::kBadFlags;
    return result;
  }
  OverlayHeader& h = result.header;
  h.version = p[0];
  h.flags = p[1];
  h.hop_limit = p[2];
  h.header_length = p[3];
  h.src = detail::load_be32(p + 4);
  h.dst = detail::load_be32(p + 8);
  h.route_id = detail::load_be32(p + 12);
  h.flow_hash = detail::load_be32(p + 16);
  h.send_time_ns = detail::load_be64(p + 20);
  h.gso_size = detail::load_be16(p + 28);
  h.gso_type = p[30];
  h.flow_weight = p[kOverlayFlowWeightOffset];
  h.csum_start = detail::load_be16(p + 32);
  h.csum_offset = detail::load_be16(p + 34);
  result.status = OverlayStatus::kOk;
  return result;
}

// The header at the front of `bytes`, or nullopt when it is missing, truncated or invalid.
inline std::optional<OverlayHeader> read_overlay_header(
    std::span<const std::uint8_t> bytes) noexcept {
  OverlayDecode decoded = decode_overlay_header(bytes);
  if (!decoded.ok()) return std::nullopt;
  return decoded.header;
}

}  // namespace nextmini::dataplane
