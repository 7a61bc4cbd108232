// pg_store_bench: the database half of issue 6's speed targets, against a throw-away
// PostgreSQL 15 (PgTestServer) on this machine.
//   metrics ingest  PgStore::put_metrics (metrics_ingest.hpp) of reports from 16 nodes (1 + 4 +
//                   8 rows each), batched by COPY, in rows/s; the reference in the same run
//                   is one INSERT statement per row on the same server (what batching avoids).
//   route changes   an SQL session UPDATEs one route's edges N times; the controller side
//                   (a Listener on an io_context and a PgStore) hears each NOTIFY, reads the
//                   change log and the changed route. Changes/s from the first UPDATE to the
//                   last route read (the push to nodes is not included: that needs the wiring).
// Usage: pg_store_bench [metric_reports] [route_changes]   (defaults 20000 and 1000)
// Prints one line per figure and a JSON line last.

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdlib>
#include <string>

#include "bench_args.hpp"
#include "metrics_ingest.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/pg/listener.hpp"
#include "nextmini/controller/pg_store.hpp"
#include "pg_test_server.hpp"

namespace {

using namespace nextmini;
using namespace nextmini::controller;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& what, const Error& error) {
  fmt::print(stderr, "pg_store_bench: {}: {}\n", what, error.message);
  std::exit(1);
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

constexpr const char* kUsage =
    "Usage: pg_store_bench [METRIC_REPORTS [ROUTE_CHANGES]]   (defaults 20000 and 1000)\n"
    "\n"
    "The PostgreSQL store's speed against a throw-away PostgreSQL 15: metrics ingest through\n"
    "PgStore (COPY batches) against one INSERT per row, and SQL route changes heard through\n"
    "LISTEN/NOTIFY. Prints one line per figure and a JSON line last. No root needed.\n"
    "\n"
    "Options: -h, --help   this text\n"
    "Exit status: 0 when done; 1 on failure; 2 for a bad option.\n";

int main(int argc, char** argv) {
  nextmini::bench::handle_help(argc, argv, "pg_store_bench", kUsage);
  const int reports = argc > 1 ? std::atoi(argv[1]) : 20000;
  const int route_changes = argc > 2 ? std::atoi(argv[2]) : 1000;
  auto server = testing::PgTestServer::start();
  if (!server) die("starting PostgreSQL", server.error());
  auto store = PgStore::open((*server)->url(), {.metrics_batch_rows = 5000});
  if (!store) die("PgStore::open", store.error());
  auto sql = pg::Connection::open((*server)->url());
  if (!sql) die("connecting", sql.error());

  // ---- metrics: batched ----
  constexpr int kNodes = 16;
  auto batched = bench::ingest_metrics(**store, reports);
  if (!batched) die("metrics ingest", batched.error());
  const double batched_rows = batched->rows;

  // ---- metrics: one INSERT per row (reference), a tenth of the rows ----
  const int reference_rows = static_cast<int>(batched_rows / 10);
  const auto single_start = Clock::now();
  for (int i = 0; i < reference_rows; ++i) {
    auto inserted = sql->exec(
        "INSERT INTO metrics (node_id, timestamp_ns, neighbor_id, tx_packets, tx_bytes, "
        "rx_packets, rx_bytes, drops, up) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        pg::Params(1 + i % kNodes, std::uint64_t(i), 2, std::uint64_t(i), std::uint64_t(i) * 1500,
                   std::uint64_t(i), std::uint64_t(i) * 1500, "{\"queue_full\": 1}", true));
    if (!inserted) die("reference insert", inserted.error());
  }
  const double single_s = seconds_since(single_start);
  const double batched_rate = batched->rows_per_s();
  const double single_rate = reference_rows / single_s;
  fmt::print("metrics, batched (COPY)        {:>10.0f} rows/s  ({} rows)\n", batched_rate,
             batched_rows);
  fmt::print("metrics, one INSERT per row    {:>10.0f} rows/s  (reference; ratio {:.1f})\n",
             single_rate, batched_rate / single_rate);

  // ---- route changes: UPDATE -> NOTIFY -> change log -> route read ----
  if (auto saved = (*store)->replace_routes({{1, 1, 3, 1, {{1, 2}, {2, 3}}}}); !saved) {
    die("replace_routes", saved.error());
  }
  auto start_seq = (*store)->last_change_seq();
  if (!start_seq) die("last_change_seq", start_seq.error());
  boost::asio::io_context io;
  std::uint64_t applied_seq = *start_seq;
  int routes_read = 0;
  bool ready = false;
  pg::Listener listener(
      io.get_executor(), (*server)->url(), {"nextmini"},
      {[&](const pg::Notification&) {
         auto changes = (*store)->changes_since(applied_seq);
         if (!changes) die("changes_since", changes.error());
         for (const auto& change : *changes) {
           applied_seq = change.seq;
           if (change.table_name != "routes") continue;
           auto route =
               (*store)->get_route(static_cast<messages::RouteId>(std::stoul(change.row_id)));
           if (!route || !route->has_value())
             die("get_route", route ? Error{"?", "gone"} : route.error());
           ++routes_read;
         }
       },
       [&] { ready = true; }, [&](const Error& error) { die("listener", error); }});
  listener.start();
  while (!ready) io.run_for(std::chrono::milliseconds(10));
  const auto routes_start = Clock::now();
  for (int i = 0; i < route_changes; ++i) {
    const char* edges = i % 2 == 0 ? "[[1, 4], [4, 3]]" : "[[1, 2], [2, 3]]";
    auto updated =
        sql->exec("UPDATE routes SET edges = $1::jsonb WHERE route_id = 1", pg::Params(edges));
    if (!updated) die("UPDATE routes", updated.error());
    io.poll();
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (routes_read < route_changes && Clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(5));
  }
  const double routes_s = seconds_since(routes_start);
  if (routes_read < route_changes) {
    fmt::print(stderr, "pg_store_bench: only {} of {} route changes arrived\n", routes_read,
               route_changes);
    return 1;
  }
  const double route_rate = route_changes / routes_s;
  fmt::print("route changes, SQL -> read     {:>10.0f} changes/s  ({} changes)\n", route_rate,
             route_changes);
  fmt::print(
      "{{\"metric_rows_per_s\":{:.0f},\"metric_rows_per_s_one_insert_each\":{:.0f},"
      "\"route_changes_per_s\":{:.0f}}}\n",
      batched_rate, single_rate, route_rate);
  return 0;
}
