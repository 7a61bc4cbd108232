#pragma once
// PacketSink: where a stage emits packets — a link to a neighbour, the local TUN writer, a test
// collector. send() takes every packet out of the batch (leaving it empty): each is either
// queued for output or dropped and counted by the sink. Called on the owning worker's thread.

#include "nextmini/dataplane/core/packet_batch.hpp"

namespace nextmini::dataplane {

class PacketSink {
 public:
  virtual ~PacketSink() = default;
  virtual void send(PacketBatch& batch) = 0;
};

}  // namespace nextmini::dataplane
