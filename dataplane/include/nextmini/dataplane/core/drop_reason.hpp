#pragma once
// DropReason: why the data path dropped a packet. Every drop is counted under one of these;
// the names are what Metrics and the docs show. Add new reasons before kCount.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nextmini::dataplane {

enum class DropReason : std::uint8_t {
  kTooShort,            // shorter than the headers it claims to carry
  kBadOverlayHeader,    // overlay header version, length or fields invalid
  kBadIpHeader,         // not IPv4/IPv6, or an IP header that does not parse
  kUnknownDestination,  // destination address maps to no node
  kNoRoute,             // no route for (src, dst) or an unknown route id here
  kHopLimit,            // overlay hop limit reached zero (loop protection)
  kLinkDown,            // next hop's link is not connected
  kQueueFull,           // a link or TUN queue is at its limit
  kPoolExhausted,       // no free packet buffer
  kTooBig,              // larger than the link MTU or buffer
  kBadFrame,            // link frame length out of range
  kAqmDrop,             // dropped by a link's active queue management (RED, CoDel)
  kLinkQueueFull,       // a link queue is at its configured packet or byte limit
  kUnknownPeer,         // a udp datagram from an address that is no neighbour
  kBadOffload,          // a malformed virtio_net_hdr, or GSO metadata its headers contradict
  kGsoUnsegmented,      // a GSO super-packet on a link that sends one datagram per segment
  kCount
};

inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

constexpr std::string_view drop_reason_name(DropReason reason) {
  constexpr std::array<std::string_view, kDropReasonCount> kNames = {
      "too_short",       "bad_overlay_header",
      "bad_ip_header",   "unknown_destination",
      "no_route",        "hop_limit",
      "link_down",       "queue_full",
      "pool_exhausted",  "too_big",
      "bad_frame",       "aqm",
      "link_queue_full", "unknown_peer",
      "bad_offload",     "gso_unsegmented"};
  const auto index = static_cast<std::size_t>(reason);
  return index < kNames.size() ? kNames[index] : std::string_view("unknown");
}

// Counts by reason; one per stage or link, owned by the thread that runs it.
struct DropCounters {
  std::array<std::uint64_t, kDropReasonCount> counts{};
  void add(DropReason reason, std::uint64_t n = 1) noexcept {
    counts[static_cast<std::size_t>(reason)] += n;
  }
  std::uint64_t operator[](DropReason reason) const noexcept {
    return counts[static_cast<std::size_t>(reason)];
  }
};

}  // namespace nextmini::dataplane
