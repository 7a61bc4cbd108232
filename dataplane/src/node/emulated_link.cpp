#include "nextmini/dataplane/node/emulated_link.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

namespace nextmini::dataplane {

EmulatedLink::EmulatedLink(boost::asio::io_context& io, PacketPool& pool, std::uint64_t seed,
                           Clock clock)
    : pool_(pool), seed_(seed), clock_(std::move(clock)), timer_(io) {}

EmulatedLink::~EmulatedLink() { close(); }

void EmulatedLink::set_transport(BoundedSink* transport) {
  if (transport_ == transport) return;
  if (transport_ != nullptr) transport_->set_room_handler({});
  transport_ = transport;
  waiting_for_room_ = false;
  if (transport_ == nullptr) return;
  transport_->set_room_handler([this] {
    waiting_for_room_ = false;
    if (pipeline_ && !closed_) pump(clock_());
  });
  if (pipeline_ && !closed_) pump(clock_());  // what waited for the old transport's room
}

void EmulatedLink::forward(PacketBatch& batch) {
  if (transport_ != nullptr) {
    transport_->send(batch);
    return;
  }
  for (Packet& packet : batch)
    if (packet.valid()) drops_.add(DropReason::kLinkDown);
  batch.clear();
}

void EmulatedLink::send(PacketBatch& batch) {
  if (!pipeline_ || closed_) {
    forward(batch);  // emulation off: straight to the transport
    return;
  }
  const TimeNs now = clock_();
  pipeline_->enqueue(batch, now, transport_has_room());
  pump(now);
}

bool EmulatedLink::transport_has_room() const noexcept {
  return transport_ == nullptr ||
         (!waiting_for_room_ && transport_->send_room() >= PacketBatch::kMaxBatch);
}

void EmulatedLink::pump(TimeNs now) {
  if (waiting_for_room_) return;  // the room handler pumps
  for (;;) {
    if (!transport_has_room()) {
      waiting_for_room_ = true;
      transport_->want_room();
      return;
    }
    const std::size_t released = pipeline_->poll(now, out_);
    if (released != 0) forward(out_);
    out_.clear();
    if (released < PacketBatch::kMaxBatch) break;  // nothing more is due now
  }
  arm(pipeline_->next_wakeup(now), now);
}

void EmulatedLink::arm(TimeNs wake, TimeNs now) {
  if (wake == kNever || closed_) return;
  if (armed_for_ != kNever && armed_for_ <= wake) return;  // an earlier wake-up is armed
  armed_for_ = wake;
  const std::uint64_t generation = ++generation_;
  // Relative to the clock read now (not `now`, which may be a batch's time ago), so the work
  // done since does not delay the wake-up.
  const TimeNs current = std::max(now, clock_());
  timer_.expires_after(std::chrono::nanoseconds(wake > current ? wake - current : 0));
  timer_.async_wait([this, generation](const boost::system::error_code& error) {
    if (error || generation != generation_ || closed_) return;
    armed_for_ = kNever;
    ++wakeups_;
    pump(clock_());
  });
}

Result<void> EmulatedLink::apply(const messages::LinkParams& params) {
  const TimeNs now = clock_();
  if (!pipeline_) {
    auto created = LinkPipeline::create(LinkPipelineConfig{}, pool_, seed_, now);
    if (!created) return Failure{created.error()};
    if (auto applied = (*created)->apply(params, now); !applied) return applied;
    pipeline_ = std::move(*created);
  } else if (auto applied = pipeline_->apply(params, now); !applied) {
    return applied;
  }
  // New limits may let packets go now, or later than the armed wake-up (which then finds
  // nothing to do and re-arms).
  if (!closed_) pump(now);
  return ok();
}

void EmulatedLink::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  if (transport_ != nullptr) transport_->set_room_handler({});
  // Queued packets return to the pool now (counted as link_down); the counters stay readable.
  if (pipeline_) pipeline_->drop_all(DropReason::kLinkDown);
}

}  // namespace nextmini::dataplane
