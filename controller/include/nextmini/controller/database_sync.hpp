#pragma once
// DatabaseSync: the running controller's side of a PostgreSQL database (docs/database.md).
// It follows the change log (pg::ChangeFeed: LISTEN/NOTIFY, catch-up after a reconnect) and
// applies what other programs wrote, through the same BringUp operations the HTTP API uses:
//   routes       insert/update/delete -> BringUp::set_route: incremental InstallRoutes to the
//                nodes on the route's old and new paths (TRUNCATE: every route removed);
//   flows        insert -> BringUp::add_flows (as POST /api/flows): AddFlows to dst, then src;
//                the node's FlowFinished is written back by BringUp (finish_time, is_finished);
//   flow_routes  pin of a flow not started yet (a pin applies when a flow starts);
//   link_params  insert/update/delete -> BringUp::check_link_params + link_params_changed
//                (as PATCH /api/links): SetLinkParams to the link's src node, reroute when `up`
//                changes.
// Rows are read when applied (the log carries ids): several changes of one row in a batch cost
// one read. The controller's own writes (origin 'controller') are skipped. A row that is refused
// (PgStore's checks, or BringUp's) is logged, recorded in config_errors and ignored; the network
// keeps its current state. A change that cannot be read because the database went away is kept
// and applied once it is back.
// Also: flushes the metrics batch every `flush_interval`, and prunes the applied change log.
// Inputs: the PgStore, its URL, BringUp. Output: messages to `deliver` (the WebSocket server).
// Knobs: DatabaseSyncOptions. Counters: applied(), refused(), own_skipped(), retried().
// Thread: the io_context's (BringUp and the PgStore are used from it only).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "nextmini/controller/bring_up.hpp"
#include "nextmini/controller/pg/change_feed.hpp"
#include "nextmini/controller/pg_store.hpp"

namespace nextmini::controller {

struct DatabaseSyncOptions {
  std::chrono::milliseconds flush_interval{1000};   // metrics batch flush
  std::chrono::milliseconds prune_interval{10000};  // delete applied entries of `changes`
  std::chrono::milliseconds retry_interval{500};    // changes not applied: database away
  pg::ChangeFeedOptions feed;
};

// A database opened for the controller: its store, where BringUp starts from (kStore when the
// database already holds a network: any row in nodes, routes, link_params or flows), and where
// the change log stood before the state was read (DatabaseSync::start applies what follows).
struct OpenedDatabase {
  std::unique_ptr<PgStore> store;
  StartFrom start = StartFrom::kConfig;
  std::uint64_t after_seq = 0;
};

// Connects, migrates (reset: wipes first), sets the topology rows are checked against, decides
// restore or not. Errors: PgStore::open's ("pg.connect", "pg.schema_newer", ...).
Result<OpenedDatabase> open_database(const std::string& url, bool reset, const Topology& topology);

class DatabaseSync {
 public:
  using Deliver = std::function<void(std::vector<Outgoing>)>;

  DatabaseSync(boost::asio::any_io_executor executor, PgStore& store, std::string url,
               BringUp& bring_up, Deliver deliver, DatabaseSyncOptions options = {});
  ~DatabaseSync();
  DatabaseSync(const DatabaseSync&) = delete;
  DatabaseSync& operator=(const DatabaseSync&) = delete;

  // Applies every change after `after_seq` (PgStore::last_change_seq() read before the network
  // was restored or written), then follows the log; starts the flush and prune timers.
  void start(std::uint64_t after_seq);
  void stop();

  // Applies a batch of the change log (the feed calls it; public for tests).
  void apply(const std::vector<Change>& changes);

  bool listening() const { return feed_.listening(); }
  std::uint64_t applied() const { return applied_; }
  std::uint64_t refused() const { return refused_; }
  std::uint64_t own_skipped() const { return own_skipped_; }
  std::uint64_t retried() const { return retried_; }

 private:
  // Each returns false when the row could not be read (the database is away): retry later.
  bool apply_route(const Change& change);
  bool apply_flow(const Change& change);
  bool apply_flow_route(const Change& change);
  bool apply_link(const Change& change);
  bool apply_all_routes();
  void send(std::vector<Outgoing> outgoing);
  void schedule_flush();
  void schedule_retry();

  PgStore& store_;
  BringUp& bring_up_;
  Deliver deliver_;
  DatabaseSyncOptions options_;
  pg::ChangeFeed feed_;
  boost::asio::steady_timer flush_timer_;
  boost::asio::steady_timer retry_timer_;
  std::chrono::steady_clock::time_point last_prune_{};
  std::vector<Change> unapplied_;  // read failed: tried again on retry_timer_
  bool running_ = false;
  bool flush_failing_ = false;
  std::chrono::steady_clock::time_point last_feed_error_log_{};
  std::shared_ptr<bool> token_ = std::make_shared<bool>(true);
  std::uint64_t applied_ = 0;
  std::uint64_t refused_ = 0;
  std::uint64_t own_skipped_ = 0;
  std::uint64_t retried_ = 0;
};

}  // namespace nextmini::controller
