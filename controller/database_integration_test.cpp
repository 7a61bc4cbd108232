// The real controller (BringUp, ControllerServer, HttpApi, DatabaseSync on a PgStore) with a
// real PostgreSQL (PgTestServer) and real dataplane nodes without TUN devices, in one process:
// SQL writes reconfigure the running network. An UPDATE of a route moves traffic to the new path
// (per-link counters), a DELETE takes it away; an INSERT into flows reaches the source node, whose
// report is written back into the row (nodes without TUN run no flows: they report it failed; a
// flow that moves data needs TUN devices, tests/e2e); an UPDATE of a link's delay shows in the
// one-way delay; bad rows are recorded in config_errors (and GET /api/errors) and ignored; a
// controller restarted on the same database restores its routes and links without a reset; a
// route changed right after PostgreSQL restarts is applied (catch-up after the reconnect).

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "nextmini/controller/controller_server.hpp"
#include "nextmini/controller/database_sync.hpp"
#include "nextmini/controller/http_api.hpp"
#include "nextmini/dataplane/node/node.hpp"
#include "nextmini/test_support/node_thread.hpp"
#include "pg_test_server.hpp"

namespace nextmini::controller {
namespace {

namespace asio = boost::asio;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

template <typename Predicate>
bool wait_for(Predicate done, std::chrono::milliseconds limit = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// IPv4 header + UDP header + payload; the overlay needs no checksums.
Bytes ipv4_udp(NodeId src, NodeId dst, const std::string& payload) {
  Bytes packet(28 + payload.size(), 0);
  packet[0] = 0x45;
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size() & 0xff);
  packet[8] = 64;
  packet[9] = 17;
  const std::string src_address = "10.0.0." + std::to_string(src);
  const std::string dst_address = "10.0.0." + std::to_string(dst);
  ::inet_pton(AF_INET, src_address.c_str(), packet.data() + 12);
  ::inet_pton(AF_INET, dst_address.c_str(), packet.data() + 16);
  packet[20] = 0x30;
  packet[21] = 0x39;
  packet[22] = 0x1f;
  packet[23] = 0x90;
  const std::size_t udp_length = 8 + payload.size();
  packet[24] = static_cast<std::uint8_t>(udp_length >> 8);
  packet[25] = static_cast<std::uint8_t>(udp_length & 0xff);
  std::memcpy(packet.data() + 28, payload.data(), payload.size());
  return packet;
}

// The controller as `nextmini controller --db URL` assembles it, on its own thread.
class DbController {
 public:
  DbController(const std::string& toml, const std::string& url, bool reset = false) {
    auto config = parse_config(toml, "database_integration.toml");
    if (!config) throw std::runtime_error(config.error().message);
    auto topology = build_topology(*config);
    auto routes = build_routes(*config, *topology);
    if (!topology || !routes) throw std::runtime_error("bad topology");
    auto opened = open_database(url, reset, *topology);
    if (!opened) throw std::runtime_error(opened.error().message);
    database_ = std::move(*opened);
    bring_up_ =
        std::make_unique<BringUp>(*config, *topology, *routes, *database_.store, database_.start);
    server_ = std::make_unique<ControllerServer>(io_, *bring_up_,
                                                 ControllerServer::Options{"127.0.0.1", 0, ""});
    if (auto started = server_->start(); !started) {
      throw std::runtime_error(started.error().message);
    }
    auto deliver = [this](std::vector<Outgoing> out) { server_->deliver(std::move(out)); };
    api_ = std::make_unique<HttpApi>(*bring_up_, *database_.store, deliver, ".");
    DatabaseSyncOptions options;
    options.feed.backoff = {50ms, 500ms};  // reconnect quickly after the server restarts
    sync_ = std::make_unique<DatabaseSync>(io_.get_executor(), *database_.store, url, *bring_up_,
                                           deliver, options);
    sync_->start(database_.after_seq);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~DbController() {
    asio::post(io_, [this] {
      sync_->stop();
      server_->stop();
    });
    thread_.join();
  }

  template <typename F>
  auto on_thread(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  StartFrom started_from() const { return database_.start; }
  std::uint16_t port() const { return server_->port(); }
  BringUpStatus status() {
    return on_thread([this] { return bring_up_->status(); });
  }
  HttpResponse api(const std::string& method, const std::string& target) {
    return on_thread([&] { return api_->handle({method, target, ""}); });
  }
  std::optional<Route> route(RouteId id) {
    return on_thread([&]() -> std::optional<Route> {
      const Route* found = bring_up_->routes().find(id);
      return found ? std::optional<Route>(*found) : std::nullopt;
    });
  }
  std::uint64_t applied() {
    return on_thread([this] { return sync_->applied(); });
  }

 private:
  asio::io_context io_;
  OpenedDatabase database_;
  std::unique_ptr<BringUp> bring_up_;
  std::unique_ptr<ControllerServer> server_;
  std::unique_ptr<HttpApi> api_;
  std::unique_ptr<DatabaseSync> sync_;
  std::thread thread_;
};

using test_support::NodeThread;
constexpr const char* kRing4 = R"(
metrics_interval_ms = 100
[topology]
type = "ring"
ring_config = { n_nodes = 4 }
)";

class DatabaseIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = testing::PgTestServer::start();
    ASSERT_TRUE(started) << "cannot start the test PostgreSQL server: " << started.error().message;
    server_ = std::move(*started);
    connect_sql();
  }

  void connect_sql() {
    auto opened = pg::Connection::open(server_->url());
    ASSERT_TRUE(opened) << opened.error().message;
    sql_ = std::move(*opened);
  }

  // A statement that must succeed.
  pg::Rows run(const std::string& statement) {
    auto rows = sql_.exec(statement);
    EXPECT_TRUE(rows) << statement << ": " << rows.error().message;
    return rows ? *rows : pg::Rows();
  }
  std::string value(const std::string& statement) {
    auto rows = run(statement);
    return rows.size() > 0 ? std::string(rows.text(0, 0)) : std::string();
  }

  void start_network(const std::string& toml, bool reset = false) {
    controller_ = std::make_unique<DbController>(toml, server_->url(), reset);
    const auto n = controller_->status().n_nodes;
    nodes_.resize(n + 1);
    for (NodeId id = 1; id <= n; ++id) {
      nodes_[id] = std::make_unique<NodeThread>(controller_->port(), id);
    }
    ASSERT_TRUE(wait_for([&] { return controller_->status().topology_ready; }));
    for (NodeId id = 1; id <= n; ++id) ASSERT_TRUE(wait_for([&] { return nodes_[id]->ready(); }));
  }
  void stop_network() {
    nodes_.clear();
    controller_.reset();
  }

  // Sends packets src -> dst until one is delivered having left src toward `neighbor`; the time
  // from `since` to that delivery, or nullopt when it did not happen within `limit`.
  std::optional<std::chrono::milliseconds> first_via(
      NodeId src, NodeId dst, NodeId neighbor,
      std::chrono::steady_clock::time_point since = std::chrono::steady_clock::now(),
      std::chrono::milliseconds limit = 10s) {
    std::optional<std::chrono::milliseconds> took;
    wait_for(
        [&] {
          const auto before = nodes_[src]->tx_packets(neighbor);
          const Bytes packet = ipv4_udp(src, dst, "probe " + std::to_string(++sequence_));
          nodes_[src]->inject(packet);
          if (!wait_for([&] { return nodes_[dst]->arrival(packet).has_value(); }, 300ms)) {
            return false;
          }
          if (nodes_[src]->tx_packets(neighbor) <= before) return false;
          took = std::chrono::duration_cast<std::chrono::milliseconds>(
              *nodes_[dst]->arrival(packet) - since);
          return true;
        },
        limit);
    return took;
  }
  bool delivers(NodeId src, NodeId dst) {
    const Bytes packet = ipv4_udp(src, dst, "check " + std::to_string(++sequence_));
    nodes_[src]->inject(packet);
    return wait_for([&] { return nodes_[dst]->arrival(packet).has_value(); }, 1s);
  }
  std::string route_id(NodeId src, NodeId dst) {
    return value("SELECT route_id FROM routes WHERE src_node_id = " + std::to_string(src) +
                 " AND dst_node_id = " + std::to_string(dst));
  }
  bool has_error(const std::string& table, const std::string& row_id) {
    return value("SELECT count(*) FROM config_errors WHERE table_name = '" + table +
                 "' AND row_id = '" + row_id + "'") == "1";
  }

  std::unique_ptr<testing::PgTestServer> server_;
  pg::Connection sql_;
  std::unique_ptr<DbController> controller_;
  std::vector<std::unique_ptr<NodeThread>> nodes_;
  int sequence_ = 0;
};

TEST_F(DatabaseIntegrationTest, SqlRouteChangesReachTheNodesOnTheOldAndNewPaths) {
  start_network(kRing4);
  EXPECT_EQ(controller_->started_from(), StartFrom::kConfig);
  const std::string id = route_id(1, 3);
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(first_via(1, 3, 2));  // the shortest path 1 -> 2 -> 3

  const auto written = std::chrono::steady_clock::now();
  run("UPDATE routes SET edges = '[[1, 4], [4, 3]]' WHERE route_id = " + id);
  const auto moved = first_via(1, 3, 4, written);
  ASSERT_TRUE(moved) << "1 -> 3 never went through node 4";
  std::printf("route UPDATE -> first packet on the new path: %lld ms\n",
              static_cast<long long>(moved->count()));
  EXPECT_LT(moved->count(), 1000);
  // Nothing goes 1 -> 2 for this pair any more.
  const auto direct = nodes_[1]->tx_packets(2);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(delivers(1, 3));
  EXPECT_EQ(nodes_[1]->tx_packets(2), direct);
  const auto route = controller_->route(static_cast<RouteId>(std::stoul(id)));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->edges, (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}}));

  // DELETE: the pair has no route any more; INSERT under a new id brings one back.
  run("DELETE FROM routes WHERE route_id = " + id);
  ASSERT_TRUE(wait_for([&] { return !controller_->route(std::stoul(id)).has_value(); }));
  EXPECT_FALSE(delivers(1, 3));
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES (1000, 1, 3, "
      "'[[1, 2], [2, 3]]')");
  EXPECT_TRUE(first_via(1, 3, 2));
  // Our own writes (origin 'controller') were not applied again; the SQL ones were.
  EXPECT_GE(controller_->applied(), 3u);
}

// Nodes without TUN run no flows: the source reports the flow failed, and that report is
// written back into the row (finish_time, is_finished, error). A flow that moves data needs TUN
// devices: tests/e2e/test_db.py.
TEST_F(DatabaseIntegrationTest, SqlFlowInsertReachesItsSourceAndItsReportIsWrittenBack) {
  start_network(kRing4);
  const std::string id = value(
      "INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, flow_len_bytes) VALUES "
      "(1, 3, 'bytes', 100000) RETURNING id");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(wait_for([&] {
    return value("SELECT is_finished FROM flows WHERE id = " + id) == "t";
  })) << "the flow's report never reached its row";
  EXPECT_FALSE(value("SELECT finish_time FROM flows WHERE id = " + id).empty());
  EXPECT_NE(value("SELECT error FROM flows WHERE id = " + id).find("runs no flows"),
            std::string::npos);
  const auto flows = controller_->api("GET", "/api/flows");
  EXPECT_NE(flows.body.find("\"flow_id\":" + id), std::string::npos) << flows.body;
}

TEST_F(DatabaseIntegrationTest, SqlLinkDelayReachesTheSendingNode) {
  start_network(R"(
[topology]
type = "custom"
n_nodes = 2
edges = [[1, 2]]
)");
  auto one_way_ms = [&](const std::string& text) {
    const Bytes packet = ipv4_udp(1, 2, text);
    const auto sent = std::chrono::steady_clock::now();
    nodes_[1]->inject(packet);
    EXPECT_TRUE(wait_for([&] { return nodes_[2]->arrival(packet).has_value(); }));
    const auto arrived = nodes_[2]->arrival(packet);
    return arrived ? std::chrono::duration<double, std::milli>(*arrived - sent).count() : -1.0;
  };
  // Tolerant bounds: a busy machine adds milliseconds of its own.
  EXPECT_LT(one_way_ms("before"), 80.0);
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (1, 2, 100000000) "
      "ON CONFLICT (src_node_id, dst_node_id) DO UPDATE SET delay_ns = excluded.delay_ns");
  // Applied within a second; then every packet waits 100 ms on 1 -> 2.
  // Every probe has its own payload (arrival() finds a packet by its bytes).
  int probe = 0;
  ASSERT_TRUE(wait_for([&] { return one_way_ms("probe " + std::to_string(++probe)) >= 100.0; }, 2s))
      << controller_->api("GET", "/api/links/1/2").body;
  const double delayed = one_way_ms("after");
  EXPECT_GE(delayed, 100.0);
  EXPECT_LT(delayed, 180.0);
  // The other direction is untouched.
  const Bytes back = ipv4_udp(2, 1, "back");
  const auto sent = std::chrono::steady_clock::now();
  nodes_[2]->inject(back);
  ASSERT_TRUE(wait_for([&] { return nodes_[1]->arrival(back).has_value(); }));
  const std::chrono::duration<double, std::milli> back_delay = *nodes_[1]->arrival(back) - sent;
  EXPECT_LT(back_delay.count(), 80.0);
}

TEST_F(DatabaseIntegrationTest, BadRowsAreRecordedAndIgnored) {
  start_network(kRing4);
  const std::string id = route_id(1, 3);
  ASSERT_TRUE(first_via(1, 3, 2));
  run("UPDATE routes SET edges = '[[1, 9], [9, 3]]' WHERE route_id = " + id);  // no node 9
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES (500, 1, 3, "
      "'[[1, 3]]')");  // 1 - 3 is not a ring link
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES (501, 1, 3, "
      "'{\"a\": 1}')");  // not a list of edges
  const std::string zero = value(
      "INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, flow_len_bytes) VALUES "
      "(1, 3, 'bytes', 0) RETURNING id");
  const std::string pinned = value(
      "WITH f AS (INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, "
      "flow_len_bytes) VALUES (1, 3, 'bytes', 10) RETURNING id) "
      "INSERT INTO flow_routes (flow_id, route_id) SELECT id, 777 FROM f RETURNING flow_id");
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (1, 9, 1000000)");
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (1, 3, 1000000)");
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns, jitter_ns) VALUES (2, 3, "
      "1000000, 5000000)");  // jitter > delay without reorder
  for (const auto& [table, row] :
       std::vector<std::pair<std::string, std::string>>{{"routes", id},
                                                        {"routes", "500"},
                                                        {"routes", "501"},
                                                        {"flows", zero},
                                                        {"flows", pinned},
                                                        {"link_params", "1,9"},
                                                        {"link_params", "1,3"},
                                                        {"link_params", "2,3"}}) {
    EXPECT_TRUE(wait_for([&] { return has_error(table, row); }, 3s)) << table << " " << row;
  }
  const auto errors = controller_->api("GET", "/api/errors");
  EXPECT_EQ(errors.status, 200u);
  EXPECT_NE(errors.body.find("node 9 is not in the topology"), std::string::npos) << errors.body;
  EXPECT_NE(errors.body.find("flow_len_bytes is 0"), std::string::npos) << errors.body;
  // The network is unharmed: 1 -> 3 still goes through node 2, and the controller still works.
  ASSERT_TRUE(first_via(1, 3, 2));
  const auto route = controller_->route(static_cast<RouteId>(std::stoul(id)));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->edges, (std::vector<std::pair<NodeId, NodeId>>{{1, 2}, {2, 3}}));
  EXPECT_FALSE(controller_->route(500).has_value());
  // Fixing the row applies it and clears its error.
  run("UPDATE routes SET edges = '[[1, 4], [4, 3]]' WHERE route_id = " + id);
  EXPECT_TRUE(first_via(1, 3, 4));
  EXPECT_TRUE(wait_for([&] { return !has_error("routes", id); }));
}

TEST_F(DatabaseIntegrationTest, RestartedControllerRestoresTheNetworkWithoutReset) {
  start_network(kRing4);
  const std::string id = route_id(1, 3);
  run("UPDATE routes SET edges = '[[1, 4], [4, 3]]' WHERE route_id = " + id);
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (2, 3, 7000000)");
  ASSERT_TRUE(first_via(1, 3, 4));
  stop_network();

  // Same database, same config, no --reset-db: the SQL route and link come back.
  start_network(kRing4);
  EXPECT_EQ(controller_->started_from(), StartFrom::kStore);
  const auto route = controller_->route(static_cast<RouteId>(std::stoul(id)));
  ASSERT_TRUE(route);
  EXPECT_EQ(route->edges, (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}}));
  EXPECT_TRUE(first_via(1, 3, 4));
  const auto link = controller_->api("GET", "/api/links/2/3");
  EXPECT_NE(link.body.find("\"delay\":\"7ms\""), std::string::npos) << link.body;
  stop_network();

  // --reset-db starts from the config again.
  start_network(kRing4, /*reset=*/true);
  EXPECT_EQ(controller_->started_from(), StartFrom::kConfig);
  EXPECT_TRUE(first_via(1, 3, 2));
  EXPECT_EQ(value("SELECT count(*) FROM link_params WHERE delay_ns IS NOT NULL"), "0");
}

TEST_F(DatabaseIntegrationTest, ChangeMadeAroundAPostgresRestartIsApplied) {
  start_network(kRing4);
  const std::string id = route_id(1, 3);
  ASSERT_TRUE(first_via(1, 3, 2));

  ASSERT_TRUE(server_->stop());
  // The network keeps forwarding with PostgreSQL away.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(delivers(1, 3));
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(server_->restart());
  // Written at once, before the controller's listener is back: only the catch-up read sees it.
  connect_sql();
  run("UPDATE routes SET edges = '[[1, 4], [4, 3]]' WHERE route_id = " + id);
  EXPECT_TRUE(first_via(1, 3, 4, std::chrono::steady_clock::now(), 15s))
      << "the change made while the controller was not listening was never applied";
}

}  // namespace
}  // namespace nextmini::controller
