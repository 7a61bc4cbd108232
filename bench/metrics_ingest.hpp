#pragma once
// The metrics half of issue 6's speed targets, shared by pg_store_bench and db_bench (bench/db):
// `reports` Metrics reports from 16 nodes (1 node row + 4 link rows + 8 flow rows each) through
// PgStore::put_metrics — batched by COPY as the controller writes them — then flush_metrics().
// Returns the rows written and the time it took.

#include <chrono>

#include "nextmini/controller/pg_store.hpp"

namespace nextmini::bench {

struct IngestFigures {
  double rows = 0;
  double seconds = 0;
  double rows_per_s() const { return rows / seconds; }
};

inline messages::Metrics make_metrics_report(messages::NodeId node, std::uint64_t t) {
  messages::Metrics report;
  report.node_id = node;
  report.timestamp_ns = t;
  for (messages::NodeId n = 1; n <= 4; ++n) {
    report.links.push_back({n, t, t * 1500, t, t * 1500, {{"queue_full", t % 7}}, true});
  }
  for (std::uint16_t f = 0; f < 8; ++f) {
    report.flows.push_back({node, 1, 6, "10.0.0.2", "10.0.0.1",
                            static_cast<std::uint16_t>(40000 + f), 5201, t, t * 1400});
  }
  report.drops = {{"no_route", t % 3}};
  return report;
}

inline Result<IngestFigures> ingest_metrics(controller::PgStore& store, int reports) {
  constexpr int kNodes = 16;
  const double rows_before = static_cast<double>(store.metric_rows_written());
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reports; ++i) {
    auto put = store.put_metrics(make_metrics_report(1 + i % kNodes, 1 + i / kNodes));
    if (!put) return Failure{put.error()};
  }
  if (auto flushed = store.flush_metrics(); !flushed) return Failure{flushed.error()};
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return IngestFigures{static_cast<double>(store.metric_rows_written()) - rows_before,
                       took.count()};
}

}  // namespace nextmini::bench
