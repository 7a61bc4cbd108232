#pragma once
// PacketSink: where a stage emits packets — a link to a neighbour, the local TUN writer, a test
// collector. send() takes every packet out of the batch (leaving it empty): each is either
// queued for output or dropped and counted by the sink. Called on the owning worker's thread.
// BoundedSink: a PacketSink with a bounded send queue (a transport) that says how much room it
// has and calls back once it has more, so a stage in front of it (a link's emulation pipeline)
// can hold packets instead of having them dropped as queue_full.

#include <cstddef>
#include <functional>

#include "nextmini/dataplane/core/packet_batch.hpp"

namespace nextmini::dataplane {

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void send(PacketBatch& batch) = 0;
};

class BoundedSink : public PacketSink {
 public:
  // Packets send() would queue now without dropping them for lack of room; SIZE_MAX when it
  // does not queue at all (e.g. not connected: send() drops everything as link_down).
  virtual std::size_t send_room() const noexcept = 0;
  // The handler want_room() arms (one per sink; replaces the previous one).
  virtual void set_room_handler(std::function<void()> handler) = 0;
  // Calls the room handler once, on the sink's thread, the next time room is freed (a write
  // completed, or the connection went away). Not re-entrant: never calls it from want_room().
  virtual void want_room() noexcept = 0;
};

}  // namespace nextmini::dataplane
