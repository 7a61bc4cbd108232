// Fuzz target: the overlay header decoder and a Processor fed arbitrary link and TUN bytes.
// Input layout: byte 0 picks the ingress (low bit: 0 = from a neighbour link, 1 = from the TUN)
// and how many packets the rest is split into (bits 1..3: 1 to 8 equal pieces); the rest is the
// packet bytes. Checks, beyond "no crash": a header that decodes re-encodes to the same 36 bytes;
// every packet is emitted or dropped (no buffer is still in use afterwards); every dropped packet
// is counted; forwarded packets leave with a valid header and a smaller hop limit.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/node/processor.hpp"

namespace {

using nextmini::dataplane::DropCounters;
using nextmini::dataplane::OverlayHeader;
using nextmini::dataplane::Packet;
using nextmini::dataplane::PacketBatch;
using nextmini::dataplane::PacketPool;
using nextmini::dataplane::PacketSink;
using nextmini::dataplane::Processor;
using nextmini::dataplane::RouteTable;
namespace dp = nextmini::dataplane;

void check(bool condition) {
  if (!condition) std::abort();
}

// Checks what a link receives, then releases it.
class CheckingSink : public PacketSink {
 public:
  explicit CheckingSink(bool overlay) : overlay_(overlay) {}
  void send(PacketBatch& batch) override {
    for (Packet& packet : batch) {
      ++packets;
      if (overlay_) {
        const auto header = dp::read_overlay_header(packet.bytes());
        check(header.has_value());
        check(header->hop_limit >= 1);
      }
    }
    batch.clear();
  }
  std::uint64_t packets = 0;

 private:
  bool overlay_;
};

std::uint64_t total(const DropCounters& drops) {
  std::uint64_t n = 0;
  for (auto count : drops.counts) n += count;
  return n;
}

// Node 2 of a ring 1-2-3-4: transit for route 13 (1 -> 3), sink of route 12 (1 -> 2), source of
// routes 23 and 24 (the latter to two hops, so copies are made), and a looping route 99.
struct World {
  World() : pool(32, 2048), processor({2, 32}, pool) {
    std::unordered_map<std::uint32_t, dp::NodeId> addresses;
    for (dp::NodeId n = 1; n <= 4; ++n) addresses[0x0a000000u + n] = n;
    std::vector<nextmini::messages::RouteEntry> routes(5);
    routes[0] = {13, 1, 3, 1, {3}, false};
    routes[1] = {12, 1, 2, 1, {}, true};
    routes[2] = {23, 2, 3, 1, {3}, false};
    routes[3] = {24, 2, 4, 1, {1, 3}, false};
    routes[4] = {99, 4, 1, 1, {1}, false};
    auto table = RouteTable::build(2, addresses, routes, 1);
    check(table.has_value());
    processor.set_routes(*table);
    processor.attach_link(1, &link1);
    processor.attach_link(3, &link3);
    processor.attach_local(&tun);
  }
  PacketPool pool;
  Processor processor;
  CheckingSink link1{true};
  CheckingSink link3{true};
  CheckingSink tun{false};
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // one node for the whole run, like a long-lived process

  // The decoder alone: a header that decodes re-encodes byte for byte.
  const dp::OverlayDecode decoded = dp::decode_overlay_header({data, size});
  if (decoded.ok()) {
    std::uint8_t again[dp::kOverlayHeaderSize];
    dp::write_overlay_header(decoded.header,
                             std::span<std::uint8_t, dp::kOverlayHeaderSize>(again, sizeof(again)));
    check(std::memcmp(again, data, dp::kOverlayHeaderSize) == 0);
  }
  if (size == 0) return 0;

  const bool from_tun = (data[0] & 1) != 0;
  const std::size_t pieces = 1 + ((data[0] >> 1) & 7);
  const std::uint8_t* bytes = data + 1;
  const std::size_t length = size - 1;
  const std::size_t piece = (length + pieces - 1) / pieces;

  PacketBatch batch;
  std::size_t made = 0;
  for (std::size_t offset = 0; offset < length || (made == 0 && offset == 0); offset += piece) {
    const std::size_t n = std::min(piece, length - offset);
    Packet packet = world->pool.acquire();
    check(packet.valid());
    const std::size_t fit = std::min(n, packet.room());
    check(packet.resize(fit));
    if (fit != 0) std::memcpy(packet.data(), bytes + offset, fit);
    batch.push(std::move(packet));
    ++made;
    if (piece == 0) break;
  }

  Processor& processor = world->processor;
  const std::uint64_t drops_before = total(processor.drops());
  const std::uint64_t out_before = world->link1.packets + world->link3.packets + world->tun.packets;
  if (from_tun) {
    processor.process_local(batch);
  } else {
    processor.process_from_link(1, batch);
  }
  check(batch.empty());
  check(world->pool.in_use() == 0);  // every packet was emitted (and released) or dropped
  const std::uint64_t out =
      world->link1.packets + world->link3.packets + world->tun.packets - out_before;
  const std::uint64_t dropped = total(processor.drops()) - drops_before;
  check(out + dropped >= made);  // nothing vanished uncounted (copies may add to `out`)
  return 0;
}
