#pragma once
// PgStore: the Store (store.hpp) kept in PostgreSQL, in the tables of docs/database.md, so the
// state outlives the controller and any program that writes a row can drive the network.
// open() connects and migrates (never wipes: reset_database() in pg/migrations.hpp does that on
// request). The session marks its own writes origin = 'controller' in the change log, so the
// controller can tell them from writes made by users' SQL.
// Reads validate what other programs wrote: a route whose edges are not a list of [from, to]
// pairs, that names a node or an edge outside the topology (set_topology), a flow with zero
// length, link parameters that break check_link_params... are logged once, recorded in
// config_errors (table, row id, code, message), and skipped; a row that becomes valid again
// clears its entry.
// Metrics are batched: put_metrics() only appends to an in-memory COPY buffer, flushed as one
// COPY per table (plus one multi-row upsert of metrics_latest) when metrics_batch_rows rows are
// pending or flush_metrics() is called (the controller calls it on a timer).
// After a lost connection, the next call reconnects; while the server stays away, attempts are
// spaced by a backoff (100 ms doubling to 5 s) and calls in between fail at once with
// "pg.connection_lost" instead of blocking the controller's thread.
// Knobs: PgStoreOptions. Counters: metric_rows_written(), metric_rows_dropped().
// Thread: one (the controller's io_context), like every Store.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nextmini/common/backoff.hpp"
#include "nextmini/controller/pg/connection.hpp"
#include "nextmini/controller/store.hpp"
#include "nextmini/controller/topology.hpp"

namespace nextmini::controller {

struct PgStoreOptions {
  std::size_t metrics_batch_rows = 1000;          // flush when this many rows are pending
  std::size_t metrics_max_pending_rows = 100000;  // beyond this (database down) rows are dropped
  bool reset = false;  // open(): wipe every table first (--reset-db), then migrate
};

// One entry of the change log (table `changes`).
struct Change {
  std::uint64_t seq = 0;
  std::string table_name;  // routes | flows | flow_routes | link_params | probe_requests
  std::string op;          // INSERT | UPDATE | DELETE | TRUNCATE (row_id "*")
  std::string row_id;      // the key as text; link_params: "<src>,<dst>"
  std::string origin;      // "controller" (PgStore's own writes) or "sql" (anyone else)

  friend bool operator==(const Change&, const Change&) = default;
};

class PgStore final : public Store {
 public:
  // Connects to `url` (libpq URL; credentials from it or from PGPASSWORD/PGPASSFILE) and
  // migrates (options.reset: wipes and migrates). Errors: "pg.connect", "pg.schema_newer",
  // "pg.<SQLSTATE>".
  static Result<std::unique_ptr<PgStore>> open(std::string url, PgStoreOptions options = {});
  ~PgStore() override;

  // Routes are checked against this topology from now on (nodes and edges must exist).
  void set_topology(Topology topology) { topology_ = std::move(topology); }

  Result<void> put_node(const NodeRecord& node) override;
  Result<std::optional<NodeRecord>> get_node(messages::NodeId node_id) const override;
  Result<std::vector<NodeRecord>> list_nodes() const override;

  Result<std::uint64_t> replace_routes(std::vector<RouteRecord> routes) override;
  Result<std::vector<RouteRecord>> list_routes() const override;
  Result<std::uint64_t> routes_version() const override;
  // One route, validated; std::nullopt when absent or refused (see row_errors()).
  Result<std::optional<RouteRecord>> get_route(messages::RouteId route_id) const;

  Result<void> merge_link_params(messages::NodeId src, messages::NodeId dst,
                                 const messages::LinkParams& params) override;
  Result<std::vector<LinkRecord>> list_links() const override;
  Result<std::optional<LinkRecord>> get_link(messages::NodeId src, messages::NodeId dst) const;

  Result<void> put_flow(const FlowRecord& flow) override;
  Result<void> flow_started(messages::FlowId flow_id, std::uint64_t start_time_ns) override;
  Result<void> flow_finished(const messages::FlowFinished& finished) override;
  Result<std::optional<FlowRecord>> get_flow(messages::FlowId flow_id) const override;
  Result<std::vector<FlowRecord>> list_flows() const override;

  Result<void> put_metrics(const messages::Metrics& metrics) override;
  Result<std::optional<messages::Metrics>> latest_metrics(messages::NodeId node_id) const override;
  Result<void> flush_metrics();
  std::size_t pending_metric_rows() const { return pending_rows_; }
  std::uint64_t metric_rows_written() const { return metric_rows_written_; }
  std::uint64_t metric_rows_dropped() const { return metric_rows_dropped_; }

  Result<messages::GroupId> create_group(const std::string& name) override;
  Result<void> join_group(messages::GroupId group_id, messages::NodeId node_id) override;
  Result<void> leave_group(messages::GroupId group_id, messages::NodeId node_id) override;
  Result<std::vector<GroupRecord>> list_groups() const override;

  // The change log: entries after `seq`, and those whose seq is in `missing` (gaps a reader
  // waits for), oldest first, at most `limit`.
  Result<std::vector<Change>> changes_since(std::uint64_t seq, std::size_t limit = 10000,
                                            const std::vector<std::uint64_t>& missing = {}) const;
  Result<std::uint64_t> last_change_seq() const;
  // Deletes entries up to and including `seq` (the controller has applied them).
  Result<void> prune_changes(std::uint64_t seq);

  Result<std::vector<RowError>> row_errors() const override;
  // Records a row the controller refused for a reason found outside PgStore (e.g. a flow whose
  // pinned route does not exist): logged once, kept in config_errors until cleared.
  void record_row_error(const std::string& table, const std::string& row_id, const Error& error) {
    report_bad_row(table, row_id, error);
  }
  void clear_row_error(const std::string& table, const std::string& row_id) {
    clear_bad_row(table, row_id);
  }

  // Whether the database holds a network already: any row in nodes, routes, link_params or
  // flows (the controller then restores it instead of writing its config's).
  Result<bool> holds_network() const;

  // The session, connected (reconnecting if it was lost).
  Result<const pg::Connection*> session() const;

 private:
  PgStore(std::string url, PgStoreOptions options) : url_(std::move(url)), options_(options) {}
  Result<void> connect() const;
  Result<RouteRecord> route_from_row(const pg::Rows& rows, int row) const;
  Result<FlowRecord> flow_from_row(const pg::Rows& rows, int row) const;
  Result<LinkRecord> link_from_row(const pg::Rows& rows, int row) const;
  // Logs (once) and records a refused row; clears the record of a good one.
  void report_bad_row(const std::string& table, const std::string& row_id,
                      const Error& error) const;
  void clear_bad_rows(const std::string& table, const std::vector<std::string>& still_bad) const;
  // The records of every row `convert` reads; a refused row is reported under `table` with the
  // id row_id(rows, r) gives it, and the other rows' earlier reports are cleared.
  template <typename Record, typename RowId>
  std::vector<Record> good_rows(const pg::Rows& rows, const std::string& table,
                                Result<Record> (PgStore::*convert)(const pg::Rows&, int) const,
                                RowId row_id) const;
  void clear_bad_row(const std::string& table, const std::string& row_id) const;

  std::string url_;
  PgStoreOptions options_;
  mutable pg::Connection connection_;
  mutable Backoff reconnect_backoff_{
      {std::chrono::milliseconds(100), std::chrono::milliseconds(5000)}};
  mutable std::chrono::steady_clock::time_point next_attempt_{};
  std::optional<Topology> topology_;

  pg::CopyBuffer link_rows_;
  pg::CopyBuffer flow_rows_;
  std::map<messages::NodeId, messages::Metrics> pending_latest_;
  std::size_t pending_rows_ = 0;
  std::uint64_t metric_rows_written_ = 0;
  std::uint64_t metric_rows_dropped_ = 0;
};

}  // namespace nextmini::controller
