#pragma once
// FlowTable: per-flow packet and byte counters, keyed by the 5-tuple (FlowKey), bounded to
// max_flows entries. The processor counts a flow where it enters the overlay (its source node)
// and where it leaves it (its sink). The first packet of a new flow inserts an entry (the only
// allocation, and bounded); once the table is full, packets of flows not in it are counted in
// untracked_packets()/untracked_bytes() instead; expire() forgets idle flows to make room.
// Thread: the processor's worker.

#include <cstddef>
#include <cstdint>
#include <unordered_map>

#include "nextmini/dataplane/core/flow_key.hpp"
#include "nextmini/messages/messages.hpp"

namespace nextmini::dataplane {

struct FlowStats {
  messages::NodeId src = 0;  // node where the flow enters the overlay
  messages::NodeId dst = 0;  // node where it leaves
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t last_seen_ns = 0;  // time of the batch that carried its latest packet
};

class FlowTable {
 public:
  static constexpr std::size_t kDefaultMaxFlows = 4096;

  explicit FlowTable(std::size_t max_flows = kDefaultMaxFlows) : max_flows_(max_flows) {
    flows_.reserve(max_flows);
  }

  // Adds `packets` wire packets (a GSO super-packet's segments) of `bytes` together, seen at
  // `now_ns`, to the flow (inserting it if there is room).
  void count(const FlowKey& key, messages::NodeId src, messages::NodeId dst, std::size_t bytes,
             std::uint64_t now_ns = 0, std::uint64_t packets = 1) {
    auto it = flows_.find(key);
    if (it == flows_.end()) {
      if (flows_.size() >= max_flows_) {
        untracked_packets_ += packets;
        untracked_bytes_ += bytes;
        return;
      }
      it = flows_.emplace(key, FlowStats{src, dst, 0, 0, now_ns}).first;
    }
    it->second.packets += packets;
    it->second.bytes += bytes;
    it->second.last_seen_ns = now_ns;
  }

  // Removes flows last seen more than `idle_ns` before `now_ns`; returns how many.
  std::size_t expire(std::uint64_t now_ns, std::uint64_t idle_ns) {
    return static_cast<std::size_t>(std::erase_if(flows_, [&](const auto& entry) {
      const std::uint64_t seen = entry.second.last_seen_ns;
      return seen < now_ns && now_ns - seen > idle_ns;
    }));
  }

  const FlowStats* find(const FlowKey& key) const noexcept {
    const auto it = flows_.find(key);
    return it == flows_.end() ? nullptr : &it->second;
  }

  std::size_t size() const noexcept { return flows_.size(); }
  std::size_t max_flows() const noexcept { return max_flows_; }
  std::uint64_t untracked_packets() const noexcept { return untracked_packets_; }
  std::uint64_t untracked_bytes() const noexcept { return untracked_bytes_; }

  auto begin() const noexcept { return flows_.begin(); }
  auto end() const noexcept { return flows_.end(); }

 private:
  std::size_t max_flows_;
  std::unordered_map<FlowKey, FlowStats, FlowKeyHash> flows_;
  std::uint64_t untracked_packets_ = 0;
  std::uint64_t untracked_bytes_ = 0;
};

}  // namespace nextmini::dataplane
