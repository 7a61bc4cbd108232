#pragma once
// RouteTable: an immutable snapshot of everything the processor needs to forward — the overlay
// address of every node, and the routes through this node — built off the data path from
// control messages and swapped into the Processor between batches (shared_ptr<const>).
//
// Addresses: IPv4 (host order) and IPv6 (16 bytes, network order) overlay addresses -> node;
// self_ipv4()/self_ipv6() are this node's own (the source of the ICMP errors it sends).
// Unicast: (src, dst) -> candidate routes (route id, weight) used at the source to pick a route
// per flow by consistent hash; route id -> this node's next hops and whether it is the sink.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "nextmini/common/result.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

using NodeId = messages::NodeId;
using RouteId = messages::RouteId;

using Ipv6Address = std::array<std::uint8_t, 16>;

struct Ipv6AddressHash {
  std::size_t operator()(const Ipv6Address& address) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
    for (const std::uint8_t byte : address) h = (h ^ byte) * 0x100000001b3ULL;
    return static_cast<std::size_t>(h);
  }
};

using Ipv6AddressMap = std::unordered_map<Ipv6Address, NodeId, Ipv6AddressHash>;

struct RouteHop {
  std::vector<NodeId> next_hops;  // each gets a copy
  bool deliver_local = false;
};

struct RouteChoice {
  RouteId route_id = 0;
  std::uint32_t weight = 1;
};

class RouteTable {
 public:
  // Builds a snapshot for node `self`. `addresses` maps overlay IPv4 addresses (host order) to
  // node ids, `addresses6` the overlay IPv6 addresses; `routes` are this node's entries from
  // InstallRoutes (already merged if deltas).
  static Result<std::shared_ptr<const RouteTable>> build(
      NodeId self, const std::unordered_map<std::uint32_t, NodeId>& addresses,
      std::span<const messages::RouteEntry> routes, std::uint64_t version,
      const Ipv6AddressMap& addresses6 = {});

  NodeId self() const noexcept { return self_; }
  std::uint64_t version() const noexcept { return version_; }

  // Node owning an overlay IPv4 address (host byte order), if any.
  std::optional<NodeId> node_of_ipv4(std::uint32_t address) const noexcept;
  // Node owning an overlay IPv6 address (16 bytes, network order), if any.
  std::optional<NodeId> node_of_ipv6(std::span<const std::uint8_t, 16> address) const noexcept;
  // This node's own overlay addresses, when the table knows them.
  std::optional<std::uint32_t> self_ipv4() const noexcept { return self_ipv4_; }
  const std::optional<Ipv6Address>& self_ipv6() const noexcept { return self_ipv6_; }
  // Routes starting here toward dst (empty when none).
  std::span<const RouteChoice> routes_to(NodeId dst) const noexcept;
  // This node's part of a route, or nullptr when the route does not pass here.
  const RouteHop* hop(RouteId route) const noexcept;

 private:
  NodeId self_ = 0;
  std::uint64_t version_ = 0;
  std::unordered_map<std::uint32_t, NodeId> address_to_node_;
  Ipv6AddressMap address6_to_node_;
  std::optional<std::uint32_t> self_ipv4_;
  std::optional<Ipv6Address> self_ipv6_;
  std::unordered_map<NodeId, std::vector<RouteChoice>> routes_from_self_;
  std::unordered_map<RouteId, RouteHop> hops_;
};

}  // namespace nextmini::dataplane
