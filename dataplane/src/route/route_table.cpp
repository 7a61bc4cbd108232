#include "nextmini/dataplane/route/route_table.hpp"

#include <algorithm>
#include <string>

namespace nextmini::dataplane {

namespace {

std::string describe(const messages::RouteEntry& entry) {
  return "route " + std::to_string(entry.route_id) + " (" + std::to_string(entry.src) + " -> " +
         std::to_string(entry.dst) + ")";
}

}  // namespace

Result<std::shared_ptr<const RouteTable>> RouteTable::build(
    NodeId self, const std::unordered_map<std::uint32_t, NodeId>& addresses,
    std::span<const messages::RouteEntry> routes, std::uint64_t version,
    const Ipv6AddressMap& addresses6) {
  if (self == 0) return fail("routes.invalid", "route table for node 0: the node has no id yet");
  auto table = std::make_shared<RouteTable>();
  table->self_ = self;
  table->version_ = version;

  for (const auto& [address, node] : addresses) {
    if (node == 0) {
      return fail("routes.invalid", "address " + std::to_string(address) + " maps to node 0");
    }
    if (node == self) table->self_ipv4_ = address;
  }
  for (const auto& [address, node] : addresses6) {
    if (node == 0) return fail("routes.invalid", "an IPv6 address maps to node 0");
    if (node == self) table->self_ipv6_ = address;
  }
  table->address_to_node_ = addresses;
  table->address6_to_node_ = addresses6;

  table->hops_.reserve(routes.size());
  for (const auto& entry : routes) {
    if (entry.src == 0 || entry.dst == 0) {
      return fail("routes.invalid", describe(entry) + ": src and dst must be node ids (>= 1)");
    }
    if (entry.next_hops.empty() && !entry.deliver_local) {
      return fail("routes.dangling", describe(entry) + " at node " + std::to_string(self) +
                                         ": no next hop and no local delivery");
    }
    if (entry.deliver_local && entry.dst != self) {
      return fail("routes.invalid", describe(entry) + ": local delivery at node " +
                                        std::to_string(self) + ", which is not its destination");
    }
    for (std::size_t i = 0; i < entry.next_hops.size(); ++i) {
      const NodeId hop = entry.next_hops[i];
      if (hop == 0 || hop == self) {
        return fail("routes.invalid", describe(entry) + ": next hop " + std::to_string(hop) +
                                          " is not a neighbour of node " + std::to_string(self));
      }
      if (std::find(entry.next_hops.begin(), entry.next_hops.begin() + i, hop) !=
          entry.next_hops.begin() + i) {
        return fail("routes.invalid",
                    describe(entry) + ": next hop " + std::to_string(hop) + " listed twice");
      }
    }
    RouteHop hop{entry.next_hops, entry.deliver_local};
    if (!table->hops_.emplace(entry.route_id, std::move(hop)).second) {
      return fail("routes.duplicate_id",
                  "route id " + std::to_string(entry.route_id) + " appears twice in the table");
    }
    if (entry.src == self && entry.dst != self) {
      table->routes_from_self_[entry.dst].push_back(RouteChoice{entry.route_id, entry.weight});
    }
  }
  for (auto& [dst, choices] : table->routes_from_self_) {
    std::sort(choices.begin(), choices.end(),
              [](const RouteChoice& a, const RouteChoice& b) { return a.route_id < b.route_id; });
  }
  return std::shared_ptr<const RouteTable>(std::move(table));
}

std::optional<NodeId> RouteTable::node_of_ipv4(std::uint32_t address) const noexcept {
  const auto it = address_to_node_.find(address);
  if (it == address_to_node_.end()) return std::nullopt;
  return it->second;
}

std::optional<NodeId> RouteTable::node_of_ipv6(
    std::span<const std::uint8_t, 16> address) const noexcept {
  if (address6_to_node_.empty()) return std::nullopt;
  Ipv6Address key;
  std::copy(address.begin(), address.end(), key.begin());
  const auto it = address6_to_node_.find(key);
  if (it == address6_to_node_.end()) return std::nullopt;
  return it->second;
}

std::span<const RouteChoice> RouteTable::routes_to(NodeId dst) const noexcept {
  const auto it = routes_from_self_.find(dst);
  if (it == routes_from_self_.end()) return {};
  return it->second;
}

const RouteHop* RouteTable::hop(RouteId route) const noexcept {
  const auto it = hops_.find(route);
  return it == hops_.end() ? nullptr : &it->second;
}

}  // namespace nextmini::dataplane
