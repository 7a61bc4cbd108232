// Micro-benchmark: cost per packet of a LinkPipeline with no knob set (the pass-through every
// link pays) and with a rate, a delay and 1 % loss, moving batches of 64 packets through
// enqueue + poll (reported as items/s).

#include <benchmark/benchmark.h>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/link_pipeline.hpp"

namespace nextmini::dataplane {
namespace {

void run(benchmark::State& state, const LinkPipelineConfig& config) {
  PacketPool pool(4096, 2048);
  {
    LinkPipeline pipeline(config, pool, 1);
    PacketBatch in;
    PacketBatch out;
    TimeNs now = 0;
    for (auto _ : state) {
      for (std::size_t i = 0; i < PacketBatch::kMaxBatch; ++i) {
        Packet packet = pool.acquire();
        packet.resize(1200);
        packet.meta().flow_hash = static_cast<std::uint32_t>(i);
        in.push(std::move(packet));
      }
      pipeline.enqueue(in, now);
      // 64 x 1200 bytes at 10 Gbit/s take ~61 us.
      now += 62'000;
      while (pipeline.poll(now, out) > 0) {
        benchmark::DoNotOptimize(out[0].size());
        out.clear();
      }
    }
    state.SetItemsProcessed(state.iterations() * PacketBatch::kMaxBatch);
  }
}

void BM_PassThrough(benchmark::State& state) { run(state, LinkPipelineConfig{}); }

void BM_RateDelayLoss(benchmark::State& state) {
  LinkPipelineConfig config;
  config.rate_bps = 10'000'000'000;
  config.delay.delay_ns = 50'000;
  config.loss_percent = 1.0;
  run(state, config);
}

BENCHMARK(BM_PassThrough);
BENCHMARK(BM_RateDelayLoss);

}  // namespace
}  // namespace nextmini::dataplane

BENCHMARK_MAIN();
