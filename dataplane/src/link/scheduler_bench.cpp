// Micro-benchmark: enqueue + dequeue cost of the link schedulers and drop policies, per packet,
// with a standing queue of 512 packets spread over 64 flows (reported as items/s).

#include <benchmark/benchmark.h>

#include <memory>

#include "nextmini/dataplane/core/packet_pool.hpp"
#include "nextmini/dataplane/link/link_queue_config.hpp"

namespace nextmini::dataplane {
namespace {

void run(benchmark::State& state, SchedulerKind kind, DropPolicyKind policy) {
  PacketPool pool(1024, 2048);
  {
    LinkQueueConfig config;
    config.scheduler = kind;
    config.policy = policy;
    config.queue.limit = QueueLimit{.packets = 1000};
    std::unique_ptr<Scheduler> scheduler = make_link_scheduler(config);
    TimeNs now = 0;
    std::uint32_t flow = 0;
    auto push = [&] {
      Packet packet = pool.acquire();
      packet.resize(64 + (flow * 97) % 1400);
      packet.meta().flow_hash = (flow++ % 64) * 2654435761u;
      scheduler->enqueue(std::move(packet), now);
    };
    for (int i = 0; i < 512; ++i) push();
    for (auto _ : state) {
      now += 1000;
      push();
      Packet out = scheduler->dequeue(now);
      benchmark::DoNotOptimize(out.size());
    }
    state.SetItemsProcessed(state.iterations());
    scheduler->drop_all(DropReason::kLinkDown);
  }
}

void BM_FifoTailDrop(benchmark::State& s) {
  run(s, SchedulerKind::kFifo, DropPolicyKind::kTailDrop);
}
void BM_FifoRed(benchmark::State& s) { run(s, SchedulerKind::kFifo, DropPolicyKind::kRed); }
void BM_FifoCodel(benchmark::State& s) { run(s, SchedulerKind::kFifo, DropPolicyKind::kCodel); }
void BM_DrrTailDrop(benchmark::State& s) { run(s, SchedulerKind::kDrr, DropPolicyKind::kTailDrop); }
void BM_WrrTailDrop(benchmark::State& s) { run(s, SchedulerKind::kWrr, DropPolicyKind::kTailDrop); }
BENCHMARK(BM_FifoTailDrop);
BENCHMARK(BM_FifoRed);
BENCHMARK(BM_FifoCodel);
BENCHMARK(BM_DrrTailDrop);
BENCHMARK(BM_WrrTailDrop);

}  // namespace
}  // namespace nextmini::dataplane

BENCHMARK_MAIN();
