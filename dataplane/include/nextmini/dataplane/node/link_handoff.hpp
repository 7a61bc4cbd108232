#pragma once
// LinkHandoff: the Processor output of one worker toward a link another worker owns (DESIGN.md
// §3: one owner per link; workers exchange work through SPSC rings and posts).
//   Input:  send(batch) on the producing worker (its Processor, as for any PacketSink): each
//           packet is moved into an SpscRing; the first push into an idle ring posts one drain
//           to the owner's io_context (one post per burst, not per packet).
//   Output: drain() on the owning worker pops everything queued into batches of up to
//           PacketBatch::kMaxBatch and sends them to `target` (the link's EmulatedLink).
//   A flow goes through one ring from one producer, so its order is kept. Buffers stay in the
//   producer's pool and return there when the link is done with them (PacketPool's return
//   stack), so nothing is copied or allocated per packet.
//   Knobs: capacity (packets; default 4096). Counters (producer thread): handed_off(), drops()
//   (kQueueFull when the ring is full: the owner is behind by a whole ring).
//   Thread: send() on one producing worker, drain() on the owner. Destroy only after both
//   io_contexts have stopped and run their handlers (the Node does).

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <cstdint>

#include "nextmini/dataplane/core/drop_reason.hpp"
#include "nextmini/dataplane/core/packet_batch.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/core/spsc_ring.hpp"

namespace nextmini::dataplane {

class LinkHandoff final : public PacketSink {
 public:
  static constexpr std::size_t kDefaultCapacity = 4096;

  // `target` (on `owner`'s thread) must outlive the handoff.
  LinkHandoff(boost::asio::io_context& owner, PacketSink& target,
              std::size_t capacity = kDefaultCapacity);
  LinkHandoff(const LinkHandoff&) = delete;
  LinkHandoff& operator=(const LinkHandoff&) = delete;

  void send(PacketBatch& batch) override;

  std::uint64_t handed_off() const noexcept { return handed_off_; }
  const DropCounters& drops() const noexcept { return drops_; }

 private:
  void drain();

  boost::asio::io_context& owner_;
  PacketSink& target_;
  SpscRing<Packet> ring_;
  std::atomic<bool> drain_posted_{false};
  PacketBatch out_;  // owner's
  std::uint64_t handed_off_ = 0;
  DropCounters drops_;
};

}  // namespace nextmini::dataplane
