#pragma once
// Test helpers for the forwarding path: IPv4/UDP packet builders, a sink that collects what it
// is sent (a fake TUN or a link end), and an in-memory wire that queues a node's output toward a
// neighbour's Processor until the test pumps it (Processors are not re-entrant).

#include <cstdint>
#include <deque>
#include <vector>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/core/packet_sink.hpp"
#include "nextmini/dataplane/node/processor.hpp"

namespace nextmini::dataplane::testing {

// 10.0.0.n in host byte order.
inline std::uint32_t node_ip(std::uint32_t n) { return 0x0a000000u + n; }

// Writes an IPv4/UDP packet of `payload` bytes (each byte `fill`) into a fresh pool Packet.
inline Packet make_udp(PacketPool& pool, std::uint32_t src, std::uint32_t dst,
                       std::uint16_t src_port, std::uint16_t dst_port, std::size_t payload,
                       std::uint8_t fill = 0xab) {
  Packet packet = pool.acquire();
  if (!packet.valid()) return packet;
  const std::size_t size = 28 + payload;
  if (!packet.resize(size)) {
    packet.reset();
    return packet;
  }
  std::uint8_t* p = packet.data();
  for (std::size_t i = 0; i < size; ++i) p[i] = 0;
  p[0] = 0x45;
  p[2] = static_cast<std::uint8_t>(size >> 8);
  p[3] = static_cast<std::uint8_t>(size);
  p[8] = 64;
  p[9] = 17;
  for (int i = 0; i < 4; ++i) {
    p[12 + i] = static_cast<std::uint8_t>(src >> (24 - 8 * i));
    p[16 + i] = static_cast<std::uint8_t>(dst >> (24 - 8 * i));
  }
  p[20] = static_cast<std::uint8_t>(src_port >> 8);
  p[21] = static_cast<std::uint8_t>(src_port);
  p[22] = static_cast<std::uint8_t>(dst_port >> 8);
  p[23] = static_cast<std::uint8_t>(dst_port);
  p[24] = static_cast<std::uint8_t>((8 + payload) >> 8);
  p[25] = static_cast<std::uint8_t>(8 + payload);
  for (std::size_t i = 28; i < size; ++i) p[i] = fill;
  return packet;
}

inline std::vector<std::uint8_t> bytes_of(const Packet& packet) {
  return {packet.data(), packet.data() + packet.size()};
}

// Keeps every packet it is sent, in order; counts send() calls.
class CollectSink : public PacketSink {
 public:
  void send(PacketBatch& batch) override {
    ++send_calls;
    for (Packet& packet : batch) packets.push_back(std::move(packet));
    batch.clear();
  }
  void clear() { packets.clear(); }

  std::vector<Packet> packets;
  std::size_t send_calls = 0;
};

// The sending end of a link from node `from` to a neighbour: queues packets until pump().
class Wire : public PacketSink {
 public:
  Wire(std::uint32_t from, Processor& to) : from_(from), to_(to) {}

  void send(PacketBatch& batch) override {
    ++send_calls;
    for (Packet& packet : batch) queue_.push_back(std::move(packet));
    batch.clear();
  }
  // Hands queued packets to the neighbour's Processor in batches; returns how many it moved.
  std::size_t pump() {
    std::size_t moved = 0;
    while (!queue_.empty()) {
      PacketBatch batch;
      while (!queue_.empty() && !batch.full()) {
        batch.push(std::move(queue_.front()));
        queue_.pop_front();
      }
      moved += batch.size();
      to_.process_from_link(from_, batch);
    }
    return moved;
  }
  std::size_t queued() const { return queue_.size(); }
  void drop_all() { queue_.clear(); }

  std::size_t send_calls = 0;

 private:
  std::uint32_t from_;
  Processor& to_;
  std::deque<Packet> queue_;
};

}  // namespace nextmini::dataplane::testing
