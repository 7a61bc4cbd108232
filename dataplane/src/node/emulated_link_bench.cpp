// Micro-benchmark: what link emulation costs a batch of 64 packets (1400 bytes) on its way from
// the Processor to the transport. Direct: the batch handed to the transport itself (the floor).
// Off: through an EmulatedLink that never got a knob (the node's path without link keys). NoOp:
// through an EmulatedLink whose pipeline exists but does nothing (`rate = unlimited`). Rate:
// 100 Gbit/s on a clock that advances 64 x 1400 bytes' worth per batch (the shaper lets every
// batch go at once, so no timer is armed). Each iteration also takes the 64 packets from the pool
// and the transport returns them, the same in every case; the differences are emulation's.

#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/node/emulated_link.hpp"

namespace nextmini::dataplane {
namespace {

// A transport with unlimited room that releases what it is sent.
class DiscardTransport final : public BoundedSink {
 public:
  void send(PacketBatch& batch) override {
    packets += batch.size();
    batch.clear();
  }
  std::size_t send_room() const noexcept override { return SIZE_MAX; }
  void set_room_handler(std::function<void()>) override {}
  void want_room() noexcept override {}
  std::uint64_t packets = 0;
};

constexpr std::size_t kPacketBytes = 1400;

void fill(PacketPool& pool, PacketBatch& batch) {
  for (std::size_t i = 0; i < PacketBatch::kMaxBatch; ++i) {
    Packet packet = pool.acquire();
    packet.resize(kPacketBytes);
    packet.meta().flow_hash = static_cast<std::uint32_t>(i);
    batch.push(std::move(packet));
  }
}

enum class Mode { kDirect, kOff, kNoOp, kRate };

void run(benchmark::State& state, Mode mode) {
  PacketPool pool(256, 2048);
  boost::asio::io_context io;
  DiscardTransport transport;
  TimeNs now = 0;
  {
    EmulatedLink link(io, pool, 1, [&now] { return now; });
    link.set_transport(&transport);
    messages::LinkParams params;
    if (mode == Mode::kNoOp) params.rate_bps = 0;
    if (mode == Mode::kRate) params.rate_bps = 100'000'000'000;
    if (mode == Mode::kNoOp || mode == Mode::kRate) {
      if (!link.apply(params)) state.SkipWithError("apply failed");
    }
    PacketBatch batch;
    for (auto _ : state) {
      fill(pool, batch);
      // 64 x 1400 bytes take 7.2 us at 100 Gbit/s.
      now += 7'200;
      if (mode == Mode::kDirect) {
        transport.send(batch);
      } else {
        link.send(batch);
      }
    }
    state.SetItemsProcessed(state.iterations() * PacketBatch::kMaxBatch);
    if (transport.packets != state.iterations() * PacketBatch::kMaxBatch)
      state.SkipWithError("packets were held back");
    link.close();
  }
  io.run();
}

void BM_DirectToTransport(benchmark::State& state) { run(state, Mode::kDirect); }
void BM_EmulationOff(benchmark::State& state) { run(state, Mode::kOff); }
void BM_EmulationNoOp(benchmark::State& state) { run(state, Mode::kNoOp); }
void BM_EmulationRate100G(benchmark::State& state) { run(state, Mode::kRate); }

BENCHMARK(BM_DirectToTransport);
BENCHMARK(BM_EmulationOff);
BENCHMARK(BM_EmulationNoOp);
BENCHMARK(BM_EmulationRate100G);

}  // namespace
}  // namespace nextmini::dataplane

BENCHMARK_MAIN();
