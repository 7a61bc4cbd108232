// Micro-benchmarks of the control-message codec: encode and decode of the two messages that get
// large (InstallRoutes for a big topology, Metrics of a busy node). Reports bytes per second.

#include <benchmark/benchmark.h>

#include <string>

#include "nextmini/messages/codec.hpp"

namespace nextmini::messages {
namespace {

Message big_install_routes(std::uint32_t n_routes) {
  InstallRoutes m;
  m.version = 42;
  for (std::uint32_t i = 0; i < n_routes; ++i) {
    m.routes.push_back(RouteEntry{i + 1, i % 64 + 1, (i * 7) % 64 + 1, 1, {i % 5 + 1}, i % 9 == 0});
  }
  return m;
}

Message busy_metrics(std::uint32_t n_links, std::uint32_t n_flows) {
  Metrics m;
  m.node_id = 3;
  m.timestamp_ns = 1'700'000'000'000'000'000ULL;
  for (std::uint32_t i = 0; i < n_links; ++i) {
    m.links.push_back(LinkCounters{i + 1,
                                   1'000'000 + i,
                                   1'400'000'000ULL + i,
                                   900'000 + i,
                                   1'300'000'000ULL + i,
                                   {{"queue_full", i}, {"loss", 2 * i}},
                                   true});
  }
  for (std::uint32_t i = 0; i < n_flows; ++i) {
    m.flows.push_back(
        FlowCounters{3, i % 64 + 1, 6, "10.0.0.3", "10.0.0." + std::to_string(i % 250),
                     static_cast<std::uint16_t>(40000 + i), 5201, 100'000 + i, 150'000'000ULL + i});
  }
  m.drops = {{"no_route", 5}, {"hop_limit", 1}};
  return m;
}

void encode_bench(benchmark::State& state, const Message& message) {
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto encoded = encode(message);
    bytes += encoded.size();
    benchmark::DoNotOptimize(encoded.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}

void decode_bench(benchmark::State& state, const Message& message) {
  const auto encoded = encode(message);
  for (auto _ : state) {
    auto decoded = decode(encoded);
    if (!decoded) state.SkipWithError(decoded.error().message.c_str());
    benchmark::DoNotOptimize(decoded);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * encoded.size()));
}

void BM_EncodeInstallRoutes(benchmark::State& state) {
  encode_bench(state, big_install_routes(static_cast<std::uint32_t>(state.range(0))));
}
void BM_DecodeInstallRoutes(benchmark::State& state) {
  decode_bench(state, big_install_routes(static_cast<std::uint32_t>(state.range(0))));
}
void BM_EncodeMetrics(benchmark::State& state) { encode_bench(state, busy_metrics(16, 256)); }
void BM_DecodeMetrics(benchmark::State& state) { decode_bench(state, busy_metrics(16, 256)); }

BENCHMARK(BM_EncodeInstallRoutes)->Arg(16)->Arg(4096);
BENCHMARK(BM_DecodeInstallRoutes)->Arg(16)->Arg(4096);
BENCHMARK(BM_EncodeMetrics);
BENCHMARK(BM_DecodeMetrics);

}  // namespace
}  // namespace nextmini::messages

BENCHMARK_MAIN();
