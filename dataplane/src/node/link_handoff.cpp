#include "nextmini/dataplane/node/link_handoff.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/post.hpp>

namespace nextmini::dataplane {

LinkHandoff::LinkHandoff(boost::asio::io_context& owner, PacketSink& target, std::size_t capacity)
    : owner_(owner), target_(target), ring_(capacity) {}

void LinkHandoff::send(PacketBatch& batch) {
  std::size_t pushed = 0;
  for (Packet& packet : batch) {
    if (ring_.push(std::move(packet))) {
      ++pushed;
    } else {
      drops_.add(DropReason::kQueueFull);
    }
  }
  batch.clear();  // what the ring refused is released here, on its own pool's thread
  handed_off_ += pushed;
  if (pushed != 0 && !drain_posted_.exchange(true, std::memory_order_acq_rel)) {
    boost::asio::post(owner_, boost::asio::bind_allocator(DrainSlotAllocator<void>(&drain_slot_),
                                                          [this] { drain(); }));
  }
}

void LinkHandoff::drain() {
  // Cleared before popping: a push after this point posts the next drain.
  drain_posted_.store(false, std::memory_order_release);
  Packet packet;
  while (ring_.pop(packet)) {
    out_.push(std::move(packet));
    if (out_.full()) {
      target_.send(out_);
      out_.clear();
    }
  }
  if (!out_.empty()) {
    target_.send(out_);
    out_.clear();
  }
}

}  // namespace nextmini::dataplane
