// The PostgreSQL layer against a real server started by the test (PgTestServer): the libpq
// wrapper, migrations, the change log and its notifications, the listener across a server
// restart, and PgStore's handling of rows other programs wrote badly.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "nextmini/controller/pg/change_feed.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/pg/edges_json.hpp"
#include "nextmini/controller/pg/listener.hpp"
#include "nextmini/controller/pg/migrations.hpp"
#include "nextmini/controller/pg_store.hpp"
#include "pg_test_server.hpp"

namespace nextmini::controller {
namespace {

using namespace std::chrono_literals;
using pg::Connection;
using pg::Params;

// Runs `io` until `done()` or `timeout`; returns done().
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    if (io.stopped()) io.restart();
    io.run_for(10ms);
  }
  return done();
}

class PgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto started = testing::PgTestServer::start();
    ASSERT_TRUE(started) << "cannot start the test PostgreSQL server: " << started.error().message;
    server_ = std::move(*started);
    auto opened = Connection::open(server_->url());
    ASSERT_TRUE(opened) << opened.error().message;
    sql_ = std::move(*opened);
  }

  // A statement that must succeed.
  pg::Rows run(const std::string& statement, const Params& params = Params()) {
    auto rows = sql_.exec(statement, params);
    EXPECT_TRUE(rows) << statement << ": " << rows.error().message;
    return rows ? *rows : pg::Rows();
  }

  std::unique_ptr<PgStore> open_store(PgStoreOptions options = {}) {
    auto store = PgStore::open(server_->url(), options);
    EXPECT_TRUE(store) << store.error().message;
    return store ? std::move(*store) : nullptr;
  }

  std::unique_ptr<testing::PgTestServer> server_;
  Connection sql_;
};

// ---- connection -----------------------------------------------------------------------------

TEST_F(PgTest, ConnectFailuresNameTheServerButNotThePassword) {
  auto refused = Connection::open("postgresql://postgres:secret@127.0.0.1:1/postgres");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "pg.connect");
  EXPECT_NE(refused.error().message.find("postgresql://postgres:***@127.0.0.1:1/postgres"),
            std::string::npos)
      << refused.error().message;
  EXPECT_EQ(refused.error().message.find("secret"), std::string::npos);

  const std::string wrong =
      "postgresql://postgres:wrong@127.0.0.1:" + std::to_string(server_->port()) + "/postgres";
  auto denied = Connection::open(wrong);
  ASSERT_FALSE(denied);
  EXPECT_NE(denied.error().message.find("password authentication failed"), std::string::npos)
      << denied.error().message;
}

TEST_F(PgTest, CredentialsCanComeFromTheEnvironment) {
  const std::string url =
      "postgresql://postgres@127.0.0.1:" + std::to_string(server_->port()) + "/postgres";
  ::unsetenv("PGPASSWORD");
  EXPECT_FALSE(Connection::open(url));
  ::setenv("PGPASSWORD", server_->password().c_str(), 1);
  auto opened = Connection::open(url);
  ::unsetenv("PGPASSWORD");
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_TRUE(opened->is_open());
}

TEST_F(PgTest, ParametersAndTypedGetters) {
  auto rows = sql_.exec(
      "SELECT $1::bigint AS big, $2::text AS words, $3::float8 AS real, "
      "$4::boolean AS flag, $5::integer AS missing, '\\x00ff10'::bytea AS raw",
      Params(std::uint64_t{1} << 40, "tab\there", 2.5, true, std::nullopt));
  ASSERT_TRUE(rows) << rows.error().message;
  ASSERT_EQ(rows->size(), 1);
  EXPECT_EQ(*rows->get_uint(0, 0), std::uint64_t{1} << 40);
  EXPECT_EQ(*rows->get_string(0, 1), "tab\there");
  EXPECT_EQ(*rows->get_double(0, 2), 2.5);
  EXPECT_EQ(*rows->get_bool(0, 3), true);
  EXPECT_FALSE(rows->get_optional_int(0, 4)->has_value());
  EXPECT_EQ(*rows->get_bytes(0, 5), (std::vector<std::uint8_t>{0x00, 0xff, 0x10}));
  EXPECT_EQ(rows->column("flag"), 3);

  auto null = rows->get_int(0, 4);
  ASSERT_FALSE(null);
  EXPECT_EQ(null.error().code, "pg.value");
  EXPECT_EQ(null.error().message, "column missing of row 0 is NULL, not an integer");
  auto text = rows->get_int(0, 1);
  ASSERT_FALSE(text);
  EXPECT_EQ(text.error().message, "column words of row 0: 'tab\there' is not an integer");
}

TEST_F(PgTest, ServerErrorsCarryTheirSqlstate) {
  auto missing = sql_.exec("SELECT * FROM no_such_table");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "pg.42P01");
  EXPECT_NE(missing.error().message.find("relation \"no_such_table\" does not exist"),
            std::string::npos);
  run("CREATE TABLE t (id integer PRIMARY KEY)");
  run("INSERT INTO t VALUES (1)");
  auto duplicate = sql_.exec("INSERT INTO t VALUES ($1)", Params(1));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "pg.23505");
  EXPECT_NE(duplicate.error().message.find("Key (id)=(1) already exists"), std::string::npos)
      << duplicate.error().message;
  EXPECT_TRUE(sql_.exec("SELECT 1"));  // the connection is still usable
}

TEST_F(PgTest, TransactionsCommitOrRollBack) {
  run("CREATE TABLE t (id integer)");
  auto failed = sql_.transaction([&]() -> Result<void> {
    run("INSERT INTO t VALUES (1)");
    return fail("test.abort", "changed my mind");
  });
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "test.abort");
  EXPECT_EQ(run("SELECT count(*) FROM t").text(0, 0), "0");
  auto done = sql_.transaction([&]() -> Result<int> {
    run("INSERT INTO t VALUES (2)");
    return 2;
  });
  ASSERT_TRUE(done);
  EXPECT_EQ(run("SELECT count(*) FROM t").text(0, 0), "1");
}

TEST_F(PgTest, CopyInEscapesFieldsAndCountsRows) {
  run("CREATE TABLE t (n bigint, s text, x float8, b boolean)");
  pg::CopyBuffer rows;
  rows.field(std::int64_t{-5}).field("tab\tnew\nline\\back").field(0.25).field(true).end_row();
  rows.field(std::uint64_t{7}).field(std::nullopt).field(std::nullopt).field(false).end_row();
  rows.field(std::uint64_t{8}).field("\\N").field(1e300).field(std::nullopt).end_row();
  auto copied = sql_.copy_in("t", "n, s, x, b", rows);
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(*copied, 3u);
  auto back = run("SELECT n, s, x, b FROM t ORDER BY n");
  ASSERT_EQ(back.size(), 3);
  EXPECT_EQ(*back.get_string(0, 1), "tab\tnew\nline\\back");
  EXPECT_EQ(*back.get_double(0, 2), 0.25);
  EXPECT_TRUE(back.is_null(1, 1));
  EXPECT_EQ(*back.get_string(2, 1), "\\N");
  EXPECT_EQ(*back.get_double(2, 2), 1e300);

  auto bad = sql_.copy_in("t", "n, nope", rows);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "pg.42703");
  pg::CopyBuffer wrong_type;
  wrong_type.field("not a number").field("x").field(1.0).field(true).end_row();
  auto refused = sql_.copy_in("t", "n, s, x, b", wrong_type);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "pg.22P02");
  EXPECT_EQ(run("SELECT count(*) FROM t").text(0, 0), "3");  // usable, nothing half-copied
}

// ---- migrations -----------------------------------------------------------------------------

TEST_F(PgTest, MigratesFromEmptyAndAgainIsANoOp) {
  EXPECT_EQ(*pg::schema_version(sql_), 0);
  auto version = pg::migrate(sql_);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, pg::latest_schema_version());
  for (const char* table :
       {"nodes", "routes", "flows", "flow_routes", "link_params", "metrics", "flow_metrics",
        "metrics_latest", "app_flows", "groups", "group_members", "group_routes", "probe_requests",
        "probe_results", "config_errors", "changes", "schema_version"}) {
    EXPECT_EQ(run("SELECT to_regclass($1) IS NOT NULL", Params(table)).text(0, 0), "t") << table;
  }
  run("INSERT INTO nodes (id) VALUES (1)");
  auto again = pg::migrate(sql_);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(*again, pg::latest_schema_version());
  EXPECT_EQ(run("SELECT count(*) FROM schema_version").text(0, 0),
            std::to_string(pg::migrations().size()));
  EXPECT_EQ(run("SELECT count(*) FROM nodes").text(0, 0), "1");  // start-up never wipes
}

TEST_F(PgTest, ANewerSchemaIsRefusedAndLeftAlone) {
  ASSERT_TRUE(pg::migrate(sql_));
  const int newer = pg::latest_schema_version() + 1;
  run("INSERT INTO schema_version (version, name) VALUES ($1, 'from the future')", Params(newer));
  auto refused = pg::migrate(sql_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "pg.schema_newer");
  EXPECT_NE(refused.error().message.find(std::to_string(newer)), std::string::npos)
      << refused.error().message;
  auto store = PgStore::open(server_->url());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, "pg.schema_newer");
  EXPECT_EQ(*pg::schema_version(sql_), newer);
}

TEST_F(PgTest, ResetDropsTheDataAndRecreatesTheSchema) {
  ASSERT_TRUE(pg::migrate(sql_));
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES (1, 1, 2, "
      "'[[1, 2]]')");
  run("INSERT INTO flows (src_node_id, dst_node_id, flow_len_bytes) VALUES (1, 2, 10)");
  // Creating every object again would fail if reset missed one.
  auto version = pg::reset_database(sql_);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(*version, pg::latest_schema_version());
  EXPECT_EQ(run("SELECT count(*) FROM routes").text(0, 0), "0");
  EXPECT_EQ(run("SELECT count(*) FROM changes").text(0, 0), "0");
  EXPECT_EQ(run("SELECT is_called FROM routes_version_seq").text(0, 0), "f");
  // And on a database that never had the schema.
  run("DROP TABLE schema_version");
  EXPECT_TRUE(pg::reset_database(sql_));
}

// ---- change log and notifications -----------------------------------------------------------

TEST_F(PgTest, TriggersLogChangesAndTheListenerHearsThem) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  boost::asio::io_context io;
  std::vector<std::string> payloads;
  int connected = 0;
  pg::Listener listener(io.get_executor(), server_->url(), {"nextmini"},
                        {[&](const pg::Notification& n) {
                           EXPECT_EQ(n.channel, "nextmini");
                           payloads.push_back(n.payload);
                         },
                         [&] { ++connected; }, [](const Error&) {}});
  listener.start();
  ASSERT_TRUE(run_until(io, [&] { return connected == 1; }));

  // Writes by "someone else" (a plain SQL session).
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES (5, 1, 2, "
      "'[[1, 2]]')");
  run("UPDATE routes SET edges = '[[1, 3], [3, 2]]' WHERE route_id = 5");
  run("UPDATE routes SET route_id = 6 WHERE route_id = 5");
  const std::string flow_id(run("INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, "
                                "flow_len_bytes) VALUES (1, 2, 'bytes', 1000) RETURNING id")
                                .text(0, 0));
  run("UPDATE flows SET finish_time = 5, is_finished = true");  // progress: not a change
  run("INSERT INTO flow_routes (flow_id, route_id) VALUES ($1, 6)", Params(flow_id));
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (1, 2, 1000000)");
  run("DELETE FROM routes WHERE route_id = 6");
  run("TRUNCATE link_params");
  // And one by the controller's store.
  ASSERT_TRUE(store->replace_routes({{9, 1, 2, 1, {{1, 2}}}}));

  auto changes = store->changes_since(0);
  ASSERT_TRUE(changes) << changes.error().message;
  const std::vector<Change> expected{
      {1, "routes", "INSERT", "5", "sql"},        {2, "routes", "UPDATE", "5", "sql"},
      {3, "routes", "DELETE", "5", "sql"},        {4, "routes", "INSERT", "6", "sql"},
      {5, "flows", "INSERT", flow_id, "sql"},     {6, "flow_routes", "INSERT", flow_id, "sql"},
      {7, "link_params", "INSERT", "1,2", "sql"}, {8, "routes", "DELETE", "6", "sql"},
      {9, "link_params", "TRUNCATE", "*", "sql"}, {10, "routes", "INSERT", "9", "controller"},
  };
  EXPECT_EQ(*changes, expected);
  EXPECT_EQ(*store->last_change_seq(), 10u);
  EXPECT_EQ(store->changes_since(8)->size(), 2u);

  ASSERT_TRUE(run_until(io, [&] { return payloads.size() >= 10; }));
  std::vector<std::string> seqs;
  for (int i = 1; i <= 10; ++i) seqs.push_back(std::to_string(i));
  EXPECT_EQ(payloads, seqs);

  ASSERT_TRUE(store->prune_changes(8));
  EXPECT_EQ(store->changes_since(0)->size(), 2u);
}

TEST_F(PgTest, TheListenerNoticesAStopWithoutSpinningAndReconnects) {
  boost::asio::io_context io;
  int connected = 0;
  int lost = 0;
  std::string lost_code;
  std::vector<std::string> payloads;
  pg::Listener listener(
      io.get_executor(), server_->url(), {"nextmini"},
      {[&](const pg::Notification& n) { payloads.push_back(n.payload); }, [&] { ++connected; },
       [&](const Error& error) {
         ++lost;
         lost_code = error.code;
       }},
      BackoffConfig{20ms, 200ms});
  listener.start();
  ASSERT_TRUE(run_until(io, [&] { return connected == 1; }));
  EXPECT_TRUE(listener.connected());

  sql_ = Connection();
  ASSERT_TRUE(server_->stop());
  ASSERT_TRUE(run_until(io, [&] { return lost == 1; }));
  EXPECT_EQ(lost_code, "pg.connection_lost");
  EXPECT_FALSE(listener.connected());
  // While the server is away: a few reconnect attempts (backoff up to 200 ms, each a handful
  // of handlers: timer, socket wait, cancelled deadline), one report. Spinning would be
  // tens of thousands.
  if (io.stopped()) io.restart();
  const auto handlers = io.run_for(1s);
  EXPECT_LT(handlers, 200u);
  EXPECT_EQ(lost, 1);

  ASSERT_TRUE(server_->restart());
  ASSERT_TRUE(run_until(io, [&] { return connected == 2; }));
  auto opened = Connection::open(server_->url());
  ASSERT_TRUE(opened) << opened.error().message;
  ASSERT_TRUE(opened->exec("SELECT pg_notify('nextmini', 'after restart')"));
  ASSERT_TRUE(run_until(io, [&] { return !payloads.empty(); }));
  EXPECT_EQ(payloads, (std::vector<std::string>{"after restart"}));
  EXPECT_EQ(listener.losses(), 1u);
  EXPECT_EQ(listener.connects(), 2u);

  listener.stop();
  EXPECT_FALSE(listener.connected());
}

TEST_F(PgTest, TheListenerKeepsTryingWhileTheServerIsDownAtStart) {
  sql_ = Connection();
  ASSERT_TRUE(server_->stop());
  boost::asio::io_context io;
  int connected = 0;
  std::vector<std::string> lost;
  pg::Listener listener(
      io.get_executor(), server_->url(), {"nextmini"},
      {nullptr, [&] { ++connected; }, [&](const Error& error) { lost.push_back(error.code); }},
      BackoffConfig{20ms, 100ms});
  listener.start();  // returns at once: connecting happens on the io_context
  ASSERT_TRUE(run_until(io, [&] { return !lost.empty(); }));
  EXPECT_EQ(lost, (std::vector<std::string>{"pg.connect"}));
  if (io.stopped()) io.restart();
  io.run_for(300ms);
  EXPECT_EQ(lost.size(), 1u);  // one report per outage, however many retries
  ASSERT_TRUE(server_->restart());
  ASSERT_TRUE(run_until(io, [&] { return connected == 1; }));
  EXPECT_TRUE(listener.connected());
}

TEST_F(PgTest, TheStoreReconnectsAfterTheServerComesBack) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->put_node({1, "192.0.2.1", 4001, "tun", true, false, 1}));
  sql_ = Connection();
  ASSERT_TRUE(server_->stop());
  auto down = store->put_node({2, "192.0.2.2", 4002, "tun", true, false, 1});
  ASSERT_FALSE(down);
  EXPECT_TRUE(down.error().code == "pg.connection_lost" || down.error().code == "pg.connect")
      << down.error().code << ": " << down.error().message;
  // A reconnect attempt fails; until the next one is due, calls fail at once.
  auto attempt = store->put_node({2, "192.0.2.2", 4002, "tun", true, false, 1});
  ASSERT_FALSE(attempt);
  const auto before = std::chrono::steady_clock::now();
  auto waiting = store->put_node({2, "192.0.2.2", 4002, "tun", true, false, 1});
  ASSERT_FALSE(waiting);
  EXPECT_EQ(waiting.error().code, "pg.connection_lost");
  EXPECT_NE(waiting.error().message.find("tries again in"), std::string::npos)
      << waiting.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - before, 20ms);
  ASSERT_TRUE(server_->restart());
  bool saved = false;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!saved && std::chrono::steady_clock::now() < deadline) {
    saved = bool(store->put_node({2, "192.0.2.2", 4002, "tun", true, false, 1}));
    if (!saved) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(saved);
  EXPECT_EQ(store->list_nodes()->size(), 2u);
}

// ---- change feed ----------------------------------------------------------------------------

std::vector<std::uint64_t> seqs_of(const std::vector<Change>& changes) {
  std::vector<std::uint64_t> out;
  for (const auto& change : changes) out.push_back(change.seq);
  return out;
}

TEST_F(PgTest, TheChangeFeedDeliversEachChangeOnceAndFoldsBursts) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  boost::asio::io_context io;
  std::vector<Change> seen;
  pg::ChangeFeed feed(io.get_executor(), *store, server_->url(), [&](const auto& changes) {
    seen.insert(seen.end(), changes.begin(), changes.end());
  });
  feed.start(0);
  ASSERT_TRUE(run_until(io, [&] { return feed.listening(); }));
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) "
      "SELECT i, 1, 2, '[[1, 2]]' FROM generate_series(1, 200) AS i");
  ASSERT_TRUE(run_until(io, [&] { return seen.size() >= 200; }));
  run("UPDATE routes SET weight = 2 WHERE route_id = 7");
  ASSERT_TRUE(run_until(io, [&] { return seen.size() >= 201; }));
  if (io.stopped()) io.restart();
  io.run_for(100ms);
  ASSERT_EQ(seen.size(), 201u);
  std::vector<std::uint64_t> expected;
  for (std::uint64_t i = 1; i <= 201; ++i) expected.push_back(i);
  EXPECT_EQ(seqs_of(seen), expected);
  EXPECT_EQ(seen.back(), (Change{201, "routes", "UPDATE", "7", "sql"}));
  EXPECT_LT(feed.reads(), 20u);  // 201 notifications, a handful of reads
  EXPECT_EQ(feed.low_mark(), 201u);
}

TEST_F(PgTest, TheChangeFeedCatchesUpOnWhatHappenedWhileItWasAway) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  boost::asio::io_context io;
  std::vector<Change> seen;
  const auto collect = [&](const std::vector<Change>& changes) {
    seen.insert(seen.end(), changes.begin(), changes.end());
  };
  auto feed =
      std::make_unique<pg::ChangeFeed>(io.get_executor(), *store, server_->url(), collect, nullptr,
                                       pg::ChangeFeedOptions{.backoff = {20ms, 100ms}});
  feed->start(0);
  ASSERT_TRUE(run_until(io, [&] { return feed->listening(); }));
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) VALUES (1, 2, 1000)");
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 1; }));

  // The listener's session is killed; a change lands before it is back.
  run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'");
  run("UPDATE link_params SET delay_ns = 2000");
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 2; }));
  EXPECT_EQ(seen[1], (Change{2, "link_params", "UPDATE", "1,2", "sql"}));

  // The controller stops; changes meanwhile; a new feed resumes from the old low mark.
  const auto resume = feed->low_mark();
  feed.reset();
  run("DELETE FROM link_params");
  run("INSERT INTO probe_requests (src_node_id, dst_node_id) VALUES (1, 2)");
  pg::ChangeFeed again(io.get_executor(), *store, server_->url(), collect);
  again.start(resume);
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 4; }));
  EXPECT_EQ(seen[2], (Change{3, "link_params", "DELETE", "1,2", "sql"}));
  EXPECT_EQ(seen[3], (Change{4, "probe_requests", "INSERT", "1", "sql"}));
}

TEST_F(PgTest, TheChangeFeedDeliversLateCommitsAndGivesUpRolledBackSeqs) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  boost::asio::io_context io;
  std::vector<Change> seen;
  pg::ChangeFeed feed(
      io.get_executor(), *store, server_->url(),
      [&](const auto& changes) { seen.insert(seen.end(), changes.begin(), changes.end()); },
      nullptr, pg::ChangeFeedOptions{.gap_timeout = 300ms});
  feed.start(0);
  ASSERT_TRUE(run_until(io, [&] { return feed.listening(); }));
  auto slow = Connection::open(server_->url());
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->begin());
  ASSERT_TRUE(
      slow->exec("INSERT INTO routes (route_id, src_node_id, dst_node_id) "
                 "VALUES (1, 1, 2)"));  // seq 1, not committed yet
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id) VALUES (2, 1, 2)");  // seq 2
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 1; }));
  EXPECT_EQ(seqs_of(seen), (std::vector<std::uint64_t>{2}));
  EXPECT_EQ(feed.low_mark(), 0u);
  ASSERT_TRUE(slow->commit());
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 2; }));
  EXPECT_EQ(seqs_of(seen), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_EQ(feed.low_mark(), 2u);

  ASSERT_TRUE(slow->begin());
  ASSERT_TRUE(
      slow->exec("INSERT INTO routes (route_id, src_node_id, dst_node_id) "
                 "VALUES (3, 1, 2)"));  // seq 3, rolled back
  ASSERT_TRUE(slow->rollback());
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id) VALUES (4, 1, 2)");  // seq 4
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 3; }));
  EXPECT_EQ(feed.low_mark(), 2u);  // still waiting for 3
  EXPECT_EQ(feed.high_mark(), 4u);
  std::this_thread::sleep_for(350ms);
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id) VALUES (5, 1, 2)");  // seq 5
  ASSERT_TRUE(run_until(io, [&] { return seen.size() == 4; }));
  EXPECT_EQ(feed.low_mark(), 5u);  // 3 given up
}

// ---- rows written by other programs ---------------------------------------------------------

TEST_F(PgTest, BadRowsAreReportedAndSkipped) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  store->set_topology(Topology(4, {{1, 2}, {2, 3}, {3, 4}, {4, 1}}));  // a ring
  run("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) VALUES "
      "(1, 1, 3, '[[1, 2], [2, 3]]'), "
      "(2, 1, 3, '{\"from\": 1}'), "
      "(3, 1, 3, '[[1, 2, 3]]'), "
      "(4, 1, 3, '[[1, 9], [9, 3]]'), "
      "(5, 1, 3, '[[1, 3]]'), "
      "(6, 1, 3, '[[\"1\", 2], [2, 3]]')");
  run("INSERT INTO flows (id, src_node_id, dst_node_id, flow_len_type, flow_len_bytes, "
      "flow_len_duration) VALUES (1, 1, 3, 'bytes', 1000, NULL), (2, 1, 3, 'bytes', 0, NULL), "
      "(3, 1, 3, 'duration', NULL, NULL), (4, 1, 7, 'bytes', 10, NULL)");
  run("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns, jitter_ns) VALUES "
      "(1, 2, 5000000, 1000000), (2, 3, 5000000, 6000000), (1, 3, 1, NULL)");

  auto routes = store->list_routes();
  ASSERT_TRUE(routes) << routes.error().message;
  ASSERT_EQ(routes->size(), 1u);
  EXPECT_EQ((*routes)[0], (RouteRecord{1, 1, 3, 1, {{1, 2}, {2, 3}}}));
  auto flows = store->list_flows();
  ASSERT_TRUE(flows) << flows.error().message;
  ASSERT_EQ(flows->size(), 1u);
  EXPECT_EQ((*flows)[0].spec.flow_id, 1u);
  auto links = store->list_links();
  ASSERT_TRUE(links) << links.error().message;
  ASSERT_EQ(links->size(), 1u);
  EXPECT_EQ((*links)[0].dst, 2u);

  auto errors = store->row_errors();
  ASSERT_TRUE(errors);
  std::map<std::string, std::string> by_row;
  for (const auto& e : *errors) {
    EXPECT_EQ(e.code, "store.bad_row");
    by_row[e.table_name + " " + e.row_id] = e.message;
  }
  const std::map<std::string, std::string> expected{
      {"flows 2", "flow 2: flow_len_bytes is 0: a flow of type 'bytes' needs a length > 0"},
      {"flows 3",
       "flow 3: flow_len_duration is NULL: a flow of type 'duration' needs a duration > 0 "
       "(seconds)"},
      {"flows 4", "flow 4: node 7 is not in the topology (nodes 1..4)"},
      {"link_params 1,3", "link_params 1,3: 1 -> 3 is not a link of the topology"},
      {"link_params 2,3",
       "link_params 2,3: jitter: 6ms is larger than delay 5ms with reorder = false (the "
       "default)"},
      {"routes 2",
       "route 2: edges: '{\"from\": 1}' is not a JSON list; expected a list of [from, to] "
       "node-id pairs such as [[1, 2], [2, 3]]"},
      {"routes 3", "route 3: edges: element 1 is not a [from, to] pair of node ids"},
      {"routes 4", "route 4: edge [1, 9]: node 9 is not in the topology (nodes 1..4)"},
      {"routes 5", "route 5: edge [1, 3] is not a link of the topology"},
      {"routes 6", "route 6: edges: element 1 is not a [from, to] pair of node ids"},
  };
  EXPECT_EQ(by_row, expected);

  // Single-row reads skip too; fixing a row clears its error.
  EXPECT_FALSE(store->get_route(4)->has_value());
  EXPECT_FALSE(store->get_flow(2)->has_value());
  run("UPDATE routes SET edges = '[[1, 4], [4, 3]]' WHERE route_id = 5");
  ASSERT_TRUE(store->get_route(5)->has_value());
  EXPECT_EQ(store->list_routes()->size(), 2u);
  EXPECT_EQ(store->row_errors()->size(), expected.size() - 1);
}

TEST_F(PgTest, AMinimalFlowInsertGetsDefaultsAndFreshIds) {
  auto store = open_store();
  ASSERT_NE(store, nullptr);
  FlowRecord pinned;
  pinned.spec = {50, 1, 2, 100, std::nullopt, std::nullopt, 1, "tcp", std::nullopt};
  ASSERT_TRUE(store->put_flow(pinned));
  const std::string id(run("INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, "
                           "flow_len_bytes) VALUES (2, 3, 'bytes', 5000) RETURNING id")
                           .text(0, 0));
  EXPECT_EQ(id, "51");
  auto flow = store->get_flow(51);
  ASSERT_TRUE(flow && flow->has_value());
  const FlowRecord& record = **flow;
  EXPECT_EQ(record.spec.src, 2u);
  EXPECT_EQ(record.spec.length_bytes, 5000u);
  EXPECT_EQ(record.spec.weight, 1u);
  EXPECT_EQ(record.spec.transport, "tcp");
  EXPECT_FALSE(record.finish_time_ns.has_value());
  ASSERT_TRUE(store->flow_finished({51, 3, 10, 20, 5000, ""}));
  EXPECT_EQ(
      run("SELECT is_finished, finish_time, bytes_received FROM flows WHERE id = 51").text(0, 0),
      "t");
}

TEST_F(PgTest, MetricsAreWrittenInBatches) {
  auto store = open_store({.metrics_batch_rows = 10});
  ASSERT_NE(store, nullptr);
  messages::Metrics report;
  report.node_id = 3;
  report.links = {{1, 10, 1000, 20, 2000, {{"queue_full", 2}}, true},
                  {4, 11, 1100, 21, 2100, {}, false}};
  report.flows = {{3, 1, 6, "10.0.0.3", "10.0.0.1", 40000, 5201, 7, 700}};
  report.drops = {{"no_route", 1}};
  for (std::uint64_t t = 1; t <= 2; ++t) {
    report.timestamp_ns = t;
    ASSERT_TRUE(store->put_metrics(report));
  }
  EXPECT_EQ(store->pending_metric_rows(), 8u);
  EXPECT_EQ(run("SELECT count(*) FROM metrics").text(0, 0), "0");  // nothing written yet
  EXPECT_EQ((*store->latest_metrics(3))->timestamp_ns, 2u);        // but readable
  report.timestamp_ns = 3;
  ASSERT_TRUE(store->put_metrics(report));  // 12 rows >= 10: one flush
  EXPECT_EQ(store->pending_metric_rows(), 0u);
  EXPECT_EQ(store->metric_rows_written(), 12u);
  EXPECT_EQ(run("SELECT count(*) FROM metrics").text(0, 0), "9");
  EXPECT_EQ(run("SELECT count(*) FROM flow_metrics").text(0, 0), "3");
  EXPECT_EQ(run("SELECT drops::text FROM metrics WHERE neighbor_id = 1 LIMIT 1").text(0, 0),
            "{\"queue_full\": 2}");
  EXPECT_EQ(
      run("SELECT tx_bytes FROM metrics WHERE neighbor_id = 4 AND timestamp_ns = 3").text(0, 0),
      "1100");
  auto latest = store->latest_metrics(3);
  ASSERT_TRUE(latest && latest->has_value()) << (latest ? "" : latest.error().message);
  EXPECT_EQ(**latest, report);  // read back from metrics_latest
}

TEST_F(PgTest, TheRerouteExampleOfTheDocsRuns) {
  std::ifstream in(std::string(NEXTMINI_DOCS_DIR) + "/database.md");
  ASSERT_TRUE(in) << "docs/database.md";
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  // The per-flow example (the section's second SQL block, after the pair-wide one).
  const auto section =
      doc.find("To move one flow only", doc.find("## Example: reroute a flow by SQL"));
  ASSERT_NE(section, std::string::npos);
  const auto begin = doc.find("```sql\n", section);
  ASSERT_NE(begin, std::string::npos);
  const auto end = doc.find("```", begin + 7);
  const std::string script = doc.substr(begin + 7, end - begin - 7);

  auto store = open_store();
  ASSERT_NE(store, nullptr);
  const auto before = *store->last_change_seq();
  auto ran = sql_.exec_script(script);
  ASSERT_TRUE(ran) << ran.error().message;
  auto flow = store->get_flow(7);
  ASSERT_TRUE(flow && flow->has_value());
  EXPECT_EQ((*flow)->spec.route_id, 100u);
  EXPECT_EQ((*flow)->spec.duration_s, 30.0);
  auto changes = store->changes_since(before);
  ASSERT_TRUE(changes);
  EXPECT_EQ(*changes, (std::vector<Change>{{before + 1, "routes", "INSERT", "100", "sql"},
                                           {before + 2, "flows", "INSERT", "7", "sql"},
                                           {before + 3, "flow_routes", "INSERT", "7", "sql"},
                                           {before + 4, "routes", "UPDATE", "100", "sql"}}));
  store->set_topology(Topology(4, {{1, 2}, {2, 3}, {3, 4}, {4, 1}}));
  auto route = store->get_route(100);  // a valid route of the ring
  ASSERT_TRUE(route && route->has_value());
  EXPECT_EQ((*route)->edges, (std::vector<std::pair<NodeId, NodeId>>{{1, 4}, {4, 3}}));
}

// ---- edges JSON -----------------------------------------------------------------------------

TEST(EdgesJson, ParsesPairsAndNamesWhatIsWrong) {
  EXPECT_EQ(*pg::parse_edges("[]"), pg::EdgeList{});
  EXPECT_EQ(*pg::parse_edges(" [ [1,2] , [2, 3]\n] "), (pg::EdgeList{{1, 2}, {2, 3}}));
  EXPECT_EQ(pg::format_edges({{1, 2}, {2, 3}}), "[[1, 2], [2, 3]]");
  for (const char* bad : {"", "{}", "[[1, 2]", "[[1, 2]] x", "[[0, 1]]", "[[1.5, 2]]", "[[-1, 2]]",
                          "[[1, 2, 3]]", "[1, 2]", "[[4294967296, 1]]", "null"}) {
    auto parsed = pg::parse_edges(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().code, "store.bad_row");
  }
  EXPECT_EQ(pg::parse_edges("[[1, 2], [3]]").error().message,
            "edges: element 2 is not a [from, to] pair of node ids");
}

TEST(PgUrl, RedactsThePassword) {
  EXPECT_EQ(pg::redact_url("postgresql://u:p@h:5/d"), "postgresql://u:***@h:5/d");
  EXPECT_EQ(pg::redact_url("postgresql://u@h/d"), "postgresql://u@h/d");
  EXPECT_EQ(pg::redact_url("host=h user=u"), "host=h user=u");
  EXPECT_EQ(pg::redact_url("host=h password=secret user=u"), "host=h password=*** user=u");
  EXPECT_EQ(pg::redact_url("host=h password='a b' user=u"), "host=h password=*** user=u");
  EXPECT_EQ(pg::redact_url("postgresql:///d?host=/tmp&password=secret&port=5"),
            "postgresql:///d?host=/tmp&password=***&port=5");
}

}  // namespace
}  // namespace nextmini::controller
