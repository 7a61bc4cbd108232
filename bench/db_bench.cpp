// db_bench (run by bench/db): issue 6's speed targets end to end, on this machine.
//   route changes   a throw-away PostgreSQL 15 (PgTestServer), the real controller as a child
//                   process (`nextmini controller --db URL --reset-db`, a 4-node full mesh on
//                   127.0.0.1) and four real dataplane Nodes in this process (no TUN). An SQL
//                   session INSERTs route 1000 (1 -> 3) and UPDATEs its edges, alternating
//                   1 -> 2 -> 3 and 1 -> 4 -> 3. "A node has it": the node's installed route
//                   table (Node::installed_routes, read on the node's thread) holds that
//                   change's entry for route 1000 — next hop 2 or 4 at node 1, next hop 3 at
//                   the transit node, no entry at the other one (nodes 1, 2 and 4: every node
//                   a change affects; node 3, the sink, is not checked).
//     pipelined     N UPDATEs back to back, the last one back to the direct edge 1 -> 3 (a
//                   state no earlier change had); time from the first UPDATE until every node
//                   holds the last. The controller reads the change log in order, so the last
//                   change arriving means every earlier one was read (a burst may be pushed as
//                   fewer InstallRoutes).
//     one at a time each UPDATE waits until every node holds it: latency median and p99.
//   metrics ingest  PgStore::put_metrics batched by COPY (metrics_ingest.hpp, as
//                   pg_store_bench), rows/s.
// Usage: db_bench [route_changes] [metric_reports]   (defaults 1000 and 20000; the one-at-a-time
// run does a fifth of route_changes). NEXTMINI_BIN names the nextmini binary (default: the one
// built with this bench). Prints a table, then one JSON line. Exit 1 on any failure.

#include <fmt/format.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_args.hpp"
#include "metrics_ingest.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/pg_store.hpp"
#include "nextmini/dataplane/node/node.hpp"
#include "pg_test_server.hpp"

namespace {

using namespace nextmini;
using namespace nextmini::controller;
using Clock = std::chrono::steady_clock;
using messages::NodeId;

constexpr messages::RouteId kRoute = 1000;
constexpr NodeId kNodes = 4;

// The controller child, killed with this process whatever happens (die() included).
pid_t g_controller = 0;
std::string g_controller_log;
std::filesystem::path g_work;  // the config and the controller's log; removed at the end

void stop_controller() {
  if (g_controller <= 0) return;
  ::kill(g_controller, SIGTERM);
  for (int i = 0; i < 50 && ::waitpid(g_controller, nullptr, WNOHANG) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ::kill(g_controller, SIGKILL);
  ::waitpid(g_controller, nullptr, 0);
  g_controller = 0;
}

std::string log_tail() {
  std::ifstream in(g_controller_log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string tail;
  for (std::size_t i = lines.size() > 15 ? lines.size() - 15 : 0; i < lines.size(); ++i) {
    tail += "  " + lines[i] + "\n";
  }
  return tail;
}

[[noreturn]] void die(const std::string& what, const std::string& message) {
  fmt::print(stderr, "db_bench: {}: {}\n", what, message);
  if (!g_controller_log.empty()) {
    fmt::print(stderr, "controller log ({}):\n{}", g_controller_log, log_tail());
  }
  stop_controller();
  if (!g_work.empty()) std::filesystem::remove_all(g_work);
  std::_Exit(1);  // no destructors: the Nodes' threads may still run (PgTestServer's watchdog
                  // removes the server)
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint16_t free_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor probe(
      io, {boost::asio::ip::make_address("127.0.0.1"), static_cast<std::uint16_t>(0)});
  return probe.local_endpoint().port();
}

std::string nextmini_binary() {
  if (const char* env = std::getenv("NEXTMINI_BIN"); env != nullptr && *env != '\0') return env;
  return NEXTMINI_BUILT_BINARY;
}

// `nextmini controller --db URL --reset-db` on 127.0.0.1:port, output to `log`.
void start_controller(const std::string& config, const std::string& url, std::uint16_t port,
                      const std::string& log) {
  const std::string binary = nextmini_binary();
  std::vector<std::string> args = {binary,      "controller", "--config",           config,
                                   "--db",      url,          "--reset-db",         "--listen",
                                   "127.0.0.1", "--port",     std::to_string(port), "--http",
                                   "off"};
  g_controller_log = log;
  const pid_t pid = ::fork();
  if (pid < 0) die("fork", "cannot start the controller");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::FILE* out = std::fopen(log.c_str(), "w");
    if (out != nullptr) {
      ::dup2(::fileno(out), STDOUT_FILENO);
      ::dup2(::fileno(out), STDERR_FILENO);
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    std::fprintf(stderr, "cannot run %s\n", binary.c_str());
    std::_Exit(127);
  }
  g_controller = pid;
}

// A dataplane node without TUN on its own thread.
class NodeThread {
 public:
  NodeThread(std::uint16_t controller_port, NodeId id) : node_(make_config(controller_port, id)) {
    thread_ = std::thread([this] { result_ = node_.run(); });
  }
  ~NodeThread() {
    node_.async_stop();
    thread_.join();
  }
  NodeThread(const NodeThread&) = delete;
  NodeThread& operator=(const NodeThread&) = delete;

  bool ready() const { return node_.topology_ready(); }
  // This node's entry for `route` (read on its thread), if it has one.
  std::optional<messages::RouteEntry> route(messages::RouteId route) {
    std::packaged_task<std::optional<messages::RouteEntry>()> task(
        [this, route]() -> std::optional<messages::RouteEntry> {
          const auto& routes = node_.installed_routes();
          auto found = routes.find(route);
          if (found == routes.end()) return std::nullopt;
          return found->second;
        });
    auto entry = task.get_future();
    boost::asio::post(node_.io_context(), [&task] { task(); });
    return entry.get();
  }

 private:
  static dataplane::NodeConfig make_config(std::uint16_t controller_port, NodeId id) {
    dataplane::NodeConfig config;
    config.controller_url = fmt::format("ws://127.0.0.1:{}", controller_port);
    config.node_id = id;
    config.use_tun = false;
    config.listen_address = "127.0.0.1";
    config.link_port = 0;
    config.flow_port = 0;
    config.pool_buffers = 256;
    config.local_delivery = [](dataplane::PacketBatch&) {};
    return config;
  }

  dataplane::Node node_;
  Result<void> result_;
  std::thread thread_;
};

// Route 1000 from node 1 to node 3 through `via` (2 or 4), or the direct edge (via == 3).
std::string edges_through(NodeId via) {
  return via == 3 ? "[[1, 3]]" : fmt::format("[[1, {}], [{}, 3]]", via, via);
}

// Whether nodes 1, 2 and 4 hold route 1000 through `via`.
bool nodes_hold(std::vector<std::unique_ptr<NodeThread>>& nodes, NodeId via) {
  const auto first = nodes[1]->route(kRoute);
  if (!first || first->next_hops != std::vector<NodeId>{via}) return false;
  for (const NodeId transit : {NodeId{2}, NodeId{4}}) {
    const auto entry = nodes[transit]->route(kRoute);
    if (transit == via) {
      if (!entry || entry->next_hops != std::vector<NodeId>{3}) return false;
    } else if (entry) {
      return false;
    }
  }
  return true;
}

void wait_until_nodes_hold(std::vector<std::unique_ptr<NodeThread>>& nodes, NodeId via,
                           std::chrono::seconds limit, const std::string& what) {
  const auto deadline = Clock::now() + limit;
  while (!nodes_hold(nodes, via)) {
    if (Clock::now() > deadline) {
      die(what, fmt::format("the nodes do not hold route {} via node {} after {} s", kRoute, via,
                            limit.count()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

void update_route(pg::Connection& sql, NodeId via) {
  auto updated = sql.exec("UPDATE routes SET edges = $1::jsonb WHERE route_id = $2",
                          pg::Params(edges_through(via), kRoute));
  if (!updated) die("UPDATE routes", updated.error().message);
}

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

constexpr const char* kUsage =
    "Usage: db_bench [ROUTE_CHANGES [METRIC_REPORTS]]   (defaults 1000 and 20000)\n"
    "\n"
    "Issue 6's speed targets end to end (bench/db runs it): a throw-away PostgreSQL 15, the real\n"
    "controller (`nextmini controller --db`), four in-process nodes. Measures SQL route changes\n"
    "until every affected node holds them (pipelined, and one at a time with p50/p99 latency)\n"
    "and metrics ingest rows/s. Prints a table, then one JSON line. No root needed.\n"
    "\n"
    "Options: -h, --help   this text\n"
    "Environment: NEXTMINI_BIN (default: the nextmini built with this bench)\n"
    "Exit status: 0 when every target is met; 1 on failure or a missed target; 2 bad option.\n";

int main(int argc, char** argv) {
  nextmini::bench::handle_help(argc, argv, "db_bench", kUsage);
  const int route_changes = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int reports = argc > 2 ? std::atoi(argv[2]) : 20000;
  const int serial_changes = std::max(route_changes / 5, 2);
  if (route_changes < 2 || reports < 1) die("usage", "db_bench [route_changes>=2] [reports>=1]");
  spdlog::set_level(spdlog::level::warn);  // the in-process nodes' info lines

  auto server = testing::PgTestServer::start();
  if (!server) die("starting PostgreSQL", server.error().message);
  const std::string url = (*server)->url();

  char work_template[] = "/tmp/nextmini-db-bench-XXXXXX";
  if (::mkdtemp(work_template) == nullptr) die("mkdtemp", "cannot make a work directory");
  const std::filesystem::path work(work_template);
  g_work = work;
  const std::string config = (work / "mesh4.toml").string();
  std::ofstream(config) << "[topology]\ntype = \"full_mesh\"\nfull_mesh_config = { n_nodes = 4 }\n";
  const std::uint16_t port = free_port();
  start_controller(config, url, port, (work / "controller.log").string());

  // ---- the network: four Nodes on the controller ----
  std::vector<std::unique_ptr<NodeThread>> nodes(kNodes + 1);
  {
    // The controller migrates (or resets) the database before it listens: wait for its port.
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      boost::asio::io_context io;
      boost::asio::ip::tcp::socket probe(io);
      boost::system::error_code error;
      probe.connect({boost::asio::ip::make_address("127.0.0.1"), port}, error);
      if (!error) break;
      if (::waitpid(g_controller, nullptr, WNOHANG) == g_controller) {
        g_controller = 0;
        die("controller", "exited before listening");
      }
      if (Clock::now() > deadline) die("controller", "not listening after 30 s");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  for (NodeId id = 1; id <= kNodes; ++id) nodes[id] = std::make_unique<NodeThread>(port, id);
  const auto ready_deadline = Clock::now() + std::chrono::seconds(30);
  while (!std::all_of(nodes.begin() + 1, nodes.end(), [](auto& node) { return node->ready(); })) {
    if (Clock::now() > ready_deadline) die("bring-up", "the nodes are not ready after 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  auto sql = pg::Connection::open(url);
  if (!sql) die("connecting", sql.error().message);
  auto inserted = sql->exec(
      "INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES ($1, 1, 3, $2)",
      pg::Params(kRoute, edges_through(3)));
  if (!inserted) die("INSERT INTO routes", inserted.error().message);
  wait_until_nodes_hold(nodes, 3, std::chrono::seconds(10), "the first route");

  // ---- pipelined: route_changes UPDATEs back to back, the last one back to 1 -> 3 ----
  const auto pipelined_start = Clock::now();
  for (int i = 0; i < route_changes - 1; ++i) update_route(*sql, i % 2 == 0 ? 2 : 4);
  update_route(*sql, 3);
  const double written_s = seconds_since(pipelined_start);
  wait_until_nodes_hold(nodes, 3, std::chrono::seconds(60), "pipelined changes");
  const double pipelined_s = seconds_since(pipelined_start);
  const double pipelined_rate = route_changes / pipelined_s;

  // ---- one at a time: each UPDATE waits until the nodes hold it ----
  std::vector<double> latencies_ms;
  const auto serial_start = Clock::now();
  for (int i = 0; i < serial_changes; ++i) {
    const NodeId via = i % 2 == 0 ? 2 : 4;
    const auto written = Clock::now();
    update_route(*sql, via);
    wait_until_nodes_hold(nodes, via, std::chrono::seconds(10), "one change at a time");
    latencies_ms.push_back(seconds_since(written) * 1e3);
  }
  const double serial_rate = serial_changes / seconds_since(serial_start);

  nodes.clear();
  stop_controller();

  // ---- metrics ingest ----
  auto store = controller::PgStore::open(url, {.metrics_batch_rows = 5000});
  if (!store) die("PgStore::open", store.error().message);
  auto ingest = bench::ingest_metrics(**store, reports);
  if (!ingest) die("metrics ingest", ingest.error().message);

  const double p50 = percentile(latencies_ms, 0.5);
  const double p99 = percentile(latencies_ms, 0.99);
  fmt::print("{:<44} {:>10} {:>12}  {}\n", "figure", "value", "target", "what");
  fmt::print(
      "{:<44} {:>10.0f} {:>12}  {} changes, SQL written in {:.3f} s, "
      "nodes 1, 2, 4 hold the last\n",
      "route changes/s, pipelined (SQL -> nodes)", pipelined_rate, ">= 500", route_changes,
      written_s);
  fmt::print("{:<44} {:>10.0f} {:>12}  {} changes, each waited for\n",
             "route changes/s, one at a time", serial_rate, "", serial_changes);
  fmt::print("{:<44} {:>10.2f} {:>12}  UPDATE -> every affected node holds it\n",
             "route change latency p50 (ms)", p50, "");
  fmt::print("{:<44} {:>10.2f} {:>12}\n", "route change latency p99 (ms)", p99, "");
  fmt::print("{:<44} {:>10.0f} {:>12}  {:.0f} rows, PgStore COPY batches\n",
             "metric rows/s ingested", ingest->rows_per_s(), ">= 50000", ingest->rows);
  fmt::print(
      "{{\"route_changes\":{},\"route_changes_per_s\":{:.0f},\"route_changes_per_s_serial\":{:.0f},"
      "\"route_change_latency_ms_p50\":{:.2f},\"route_change_latency_ms_p99\":{:.2f},"
      "\"metric_rows\":{:.0f},\"metric_rows_per_s\":{:.0f},"
      "\"observed\":\"in-process nodes' installed route tables\"}}\n",
      route_changes, pipelined_rate, serial_rate, p50, p99, ingest->rows, ingest->rows_per_s());
  std::filesystem::remove_all(work);
  return pipelined_rate >= 500 && ingest->rows_per_s() >= 50000 ? 0 : 1;
}
