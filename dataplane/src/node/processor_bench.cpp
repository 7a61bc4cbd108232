// Micro-benchmarks of the forwarding stage, one batch of 64 packets per iteration, on one thread:
// the source path (classify, pick a route, prepend the header), a transit hop, local delivery at
// the sink and a two-hop fan-out (one copy). Sinks hand the packets straight back as the next
// input, so the loop measures the Processor and not packet generation. BM_ReferenceMemcpy copies
// the same bytes once per packet: the ratio says how many "copies' worth" of time a stage costs.

#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "nextmini/dataplane/core/overlay_header.hpp"
#include "nextmini/dataplane/node/processor.hpp"
#include "processor_test_support.hpp"

namespace nextmini::dataplane {
namespace {

constexpr std::size_t kPayload = 1372;  // a 1400-byte IP packet

// Collects what the Processor emits and turns it into the next iteration's input.
class RecycleSink : public PacketSink {
 public:
  enum class Mode { kStripHeader, kResetHopLimit, kRestoreHeader, kRelease };
  explicit RecycleSink(Mode mode) : mode_(mode) {}
  void send(PacketBatch& batch) override {
    for (Packet& packet : batch) {
      switch (mode_) {
        case Mode::kStripHeader:
          packet.pull_front(kOverlayHeaderSize);
          break;
        case Mode::kResetHopLimit:
          packet.data()[kOverlayHopLimitOffset] = 32;
          break;
        case Mode::kRestoreHeader:
          packet.push_front(kOverlayHeaderSize);  // the header bytes are still in the headroom
          break;
        case Mode::kRelease:
          packet.reset();
          continue;
      }
      next.push(std::move(packet));
    }
    batch.clear();
  }
  PacketBatch next;

 private:
  Mode mode_;
};

std::shared_ptr<const RouteTable> routes(NodeId self, std::vector<messages::RouteEntry> entries) {
  std::unordered_map<std::uint32_t, NodeId> addresses;
  for (NodeId n = 1; n <= 4; ++n) addresses[testing::node_ip(n)] = n;
  return *RouteTable::build(self, addresses, entries, 1);
}

messages::RouteEntry entry(RouteId id, NodeId src, NodeId dst, std::vector<NodeId> hops,
                           bool local) {
  messages::RouteEntry e;
  e.route_id = id;
  e.src = src;
  e.dst = dst;
  e.next_hops = std::move(hops);
  e.deliver_local = local;
  return e;
}

void fill(PacketPool& pool, PacketBatch& batch, NodeId src, NodeId dst) {
  for (std::uint16_t i = 0; i < PacketBatch::kMaxBatch; ++i) {
    batch.push(testing::make_udp(pool, testing::node_ip(src), testing::node_ip(dst),
                                 static_cast<std::uint16_t>(10000 + i % 16), 5201, kPayload));
  }
}

void report(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * PacketBatch::kMaxBatch);
  state.SetBytesProcessed(state.iterations() * PacketBatch::kMaxBatch * (kPayload + 28));
}

void BM_Source(benchmark::State& state) {
  PacketPool pool(256, 2048);
  Processor processor({1, 32}, pool);
  RecycleSink link(RecycleSink::Mode::kStripHeader);
  processor.attach_link(2, &link);
  processor.set_routes(routes(1, {entry(13, 1, 3, {2}, false)}));
  fill(pool, link.next, 1, 3);
  PacketBatch input;
  for (auto _ : state) {
    std::swap(input, link.next);
    processor.process_local(input);
  }
  report(state);
  link.next.clear();
}
BENCHMARK(BM_Source);

void BM_Transit(benchmark::State& state) {
  PacketPool pool(256, 2048);
  Processor source({1, 32}, pool);
  Processor transit({2, 32}, pool);
  RecycleSink link(RecycleSink::Mode::kResetHopLimit);
  source.attach_link(2, &link);
  transit.attach_link(3, &link);
  source.set_routes(routes(1, {entry(13, 1, 3, {2}, false)}));
  transit.set_routes(routes(2, {entry(13, 1, 3, {3}, false)}));
  PacketBatch input;
  fill(pool, input, 1, 3);
  source.process_local(input);  // framed packets now wait in link.next
  PacketBatch batch;
  for (auto _ : state) {
    std::swap(batch, link.next);
    transit.process_from_link(1, batch);
  }
  report(state);
  link.next.clear();
}
BENCHMARK(BM_Transit);

void BM_SinkDelivery(benchmark::State& state) {
  PacketPool pool(256, 2048);
  Processor source({1, 32}, pool);
  Processor sink({3, 32}, pool);
  RecycleSink wire(RecycleSink::Mode::kResetHopLimit);
  RecycleSink tun(RecycleSink::Mode::kRestoreHeader);
  source.attach_link(2, &wire);
  sink.attach_local(&tun);
  source.set_routes(routes(1, {entry(13, 1, 3, {2}, false)}));
  sink.set_routes(routes(3, {entry(13, 1, 3, {}, true)}));
  PacketBatch input;
  fill(pool, input, 1, 3);
  source.process_local(input);
  std::swap(tun.next, wire.next);
  PacketBatch batch;
  for (auto _ : state) {
    std::swap(batch, tun.next);
    sink.process_from_link(2, batch);
  }
  report(state);
  tun.next.clear();
}
BENCHMARK(BM_SinkDelivery);

void BM_FanOutTwoHops(benchmark::State& state) {
  PacketPool pool(512, 2048);
  Processor processor({1, 32}, pool);
  RecycleSink kept(RecycleSink::Mode::kStripHeader);
  RecycleSink copies(RecycleSink::Mode::kRelease);
  processor.attach_link(2, &copies);
  processor.attach_link(4, &kept);
  processor.set_routes(routes(1, {entry(13, 1, 3, {2, 4}, false)}));
  fill(pool, kept.next, 1, 3);
  PacketBatch input;
  for (auto _ : state) {
    std::swap(input, kept.next);
    processor.process_local(input);
  }
  report(state);
  kept.next.clear();
}
BENCHMARK(BM_FanOutTwoHops);

void BM_ReferenceMemcpy(benchmark::State& state) {
  std::vector<std::uint8_t> from(kPayload + 28, 0xab);
  std::vector<std::vector<std::uint8_t>> to(PacketBatch::kMaxBatch,
                                            std::vector<std::uint8_t>(kPayload + 28));
  for (auto _ : state) {
    for (auto& buffer : to) std::memcpy(buffer.data(), from.data(), from.size());
    benchmark::ClobberMemory();
  }
  report(state);
}
BENCHMARK(BM_ReferenceMemcpy);

}  // namespace
}  // namespace nextmini::dataplane

BENCHMARK_MAIN();
