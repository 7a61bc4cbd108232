#include "nextmini/controller/database_sync.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <utility>

namespace nextmini::controller {

namespace {

// The database is away (as opposed to a statement it refused): try the change again later.
bool database_away(const Error& error) {
  return error.code == "pg.connection_lost" || error.code == "pg.connect";
}

template <typename T>
std::optional<T> parse_id(std::string_view text) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// "3,4" -> (3, 4).
std::optional<std::pair<NodeId, NodeId>> parse_link(std::string_view text) {
  const auto comma = text.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  auto src = parse_id<NodeId>(text.substr(0, comma));
  auto dst = parse_id<NodeId>(text.substr(comma + 1));
  if (!src || !dst) return std::nullopt;
  return std::pair<NodeId, NodeId>(*src, *dst);
}

}  // namespace

Result<OpenedDatabase> open_database(const std::string& url, bool reset, const Topology& topology) {
  PgStoreOptions options;
  options.reset = reset;
  auto opened = PgStore::open(url, options);
  if (!opened) return Failure{opened.error()};
  OpenedDatabase database;
  database.store = std::move(*opened);
  database.store->set_topology(topology);
  // Read before the state: a change made while restoring is applied again, never lost.
  auto seq = database.store->last_change_seq();
  if (!seq) return Failure{seq.error()};
  auto holds = database.store->holds_network();
  if (!holds) return Failure{holds.error()};
  database.after_seq = *seq;
  if (*holds) {
    database.start = StartFrom::kStore;
    spdlog::info(
        "database: holds a network: restoring it (the config gives the topology; "
        "--reset-db starts from the config)");
  } else {
    spdlog::info("database: empty: writing the config's network into it");
  }
  return database;
}

DatabaseSync::DatabaseSync(boost::asio::any_io_executor executor, PgStore& store, std::string url,
                           BringUp& bring_up, Deliver deliver, DatabaseSyncOptions options)
    : store_(store),
      bring_up_(bring_up),
      deliver_(std::move(deliver)),
      options_(options),
      feed_(
          executor, store, std::move(url),
          [this](const std::vector<Change>& changes) { apply(changes); },
          [this](const Error& error) {
            // A failing read is retried every few hundred ms: log an outage every 10 s at most.
            const auto now = std::chrono::steady_clock::now();
            if (now - last_feed_error_log_ < std::chrono::seconds(10)) return;
            last_feed_error_log_ = now;
            spdlog::warn(
                "database: change feed: {}: {} (the network keeps its current state; "
                "changes made meanwhile are applied when it is back)",
                error.code, error.message);
          },
          options.feed),
      flush_timer_(executor),
      retry_timer_(executor) {}

DatabaseSync::~DatabaseSync() { stop(); }

void DatabaseSync::start(std::uint64_t after_seq) {
  if (running_) return;
  running_ = true;
  last_prune_ = std::chrono::steady_clock::now();
  feed_.start(after_seq);
  schedule_flush();
}

void DatabaseSync::stop() {
  running_ = false;
  token_ = std::make_shared<bool>(true);
  feed_.stop();
  flush_timer_.cancel();
  retry_timer_.cancel();
}

void DatabaseSync::send(std::vector<Outgoing> outgoing) {
  if (!outgoing.empty() && deliver_) deliver_(std::move(outgoing));
}

void DatabaseSync::apply(const std::vector<Change>& changes) {
  // One entry per row, in the order rows first changed, with the row's last operation.
  std::vector<Change> rows;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
  for (const Change& change : changes) {
    if (change.origin == "controller") {
      ++own_skipped_;
      continue;
    }
    auto [it, inserted] = index.try_emplace({change.table_name, change.row_id}, rows.size());
    if (inserted) {
      rows.push_back(change);
    } else {
      rows[it->second].op = change.op;
      rows[it->second].seq = change.seq;
    }
  }
  const auto applied_before = applied_;
  const auto refused_before = refused_;
  for (const Change& row : rows) {
    bool done = true;
    if (row.table_name == "routes") {
      done = apply_route(row);
    } else if (row.table_name == "flows") {
      done = apply_flow(row);
    } else if (row.table_name == "flow_routes") {
      done = apply_flow_route(row);
    } else if (row.table_name == "link_params") {
      done = apply_link(row);
    } else {
      spdlog::debug("database: {} {} {}: not applied by this controller", row.table_name, row.op,
                    row.row_id);
    }
    if (!done) {
      unapplied_.push_back(row);
      schedule_retry();
    }
  }
  if (applied_ != applied_before || refused_ != refused_before) {
    spdlog::info("database: {} rows applied, {} refused (seq {}..{})", applied_ - applied_before,
                 refused_ - refused_before, changes.front().seq, changes.back().seq);
  }
}

bool DatabaseSync::apply_route(const Change& change) {
  if (change.row_id == "*") return apply_all_routes();
  const auto id = parse_id<RouteId>(change.row_id);
  if (!id) {
    spdlog::warn("database: routes change with row id '{}' ignored", change.row_id);
    return true;
  }
  auto route = store_.get_route(*id);
  if (!route) {
    if (database_away(route.error())) return false;
    spdlog::error("database: route {} not read: {}", *id, route.error().message);
    return true;
  }
  if (!*route && change.op != "DELETE") {
    ++refused_;  // refused by PgStore's checks (recorded in config_errors), or deleted since
    return true;
  }
  auto outgoing = bring_up_.set_route(*id, std::move(*route));
  if (!outgoing) {
    ++refused_;
    spdlog::error("database: routes row {} ignored: {}", *id, outgoing.error().message);
    store_.record_row_error("routes", change.row_id, outgoing.error());
    return true;
  }
  ++applied_;
  send(std::move(*outgoing));
  return true;
}

bool DatabaseSync::apply_all_routes() {
  auto routes = store_.list_routes();
  if (!routes) return !database_away(routes.error());
  std::vector<Outgoing> outgoing;
  std::set<RouteId> kept;
  for (auto& record : *routes) {
    kept.insert(record.route_id);
    const RouteId id = record.route_id;
    if (auto out = bring_up_.set_route(id, std::move(record))) {
      outgoing.insert(outgoing.end(), std::make_move_iterator(out->begin()),
                      std::make_move_iterator(out->end()));
    } else {
      ++refused_;
      store_.record_row_error("routes", std::to_string(id), out.error());
    }
  }
  std::vector<RouteId> gone;
  for (const auto& route : bring_up_.routes().routes()) {
    if (!kept.contains(route.route_id)) gone.push_back(route.route_id);
  }
  for (const RouteId id : gone) {
    if (auto out = bring_up_.set_route(id, std::nullopt)) {
      outgoing.insert(outgoing.end(), std::make_move_iterator(out->begin()),
                      std::make_move_iterator(out->end()));
    }
  }
  ++applied_;
  send(std::move(outgoing));
  return true;
}

bool DatabaseSync::apply_flow(const Change& change) {
  const auto id = parse_id<messages::FlowId>(change.row_id);
  if (!id) {
    spdlog::warn("database: flows {}: running flows are not stopped", change.op);
    return true;
  }
  if (bring_up_.flow_spec(*id) != nullptr) {
    spdlog::warn("database: flow {} {}: a flow is not changed or stopped once added", *id,
                 change.op == "DELETE" ? "deleted" : "updated");
    return true;
  }
  if (change.op == "DELETE") return true;  // never seen: nothing to undo
  auto flow = store_.get_flow(*id);
  if (!flow) {
    if (database_away(flow.error())) return false;
    spdlog::error("database: flow {} not read: {}", *id, flow.error().message);
    return true;
  }
  if (!*flow) {
    ++refused_;  // refused by PgStore's checks (recorded in config_errors), or deleted since
    return true;
  }
  auto added = bring_up_.add_flows({(*flow)->spec});
  if (!added) {
    ++refused_;
    // "flows[0].route_id: ..." (add_flows' wording for a list) -> "flow 7: route_id: ...".
    std::string message = added.error().message;
    const std::string prefix = "flows[0].";
    for (auto at = message.find(prefix); at != std::string::npos; at = message.find(prefix)) {
      message.replace(at, prefix.size(), fmt::format("flow {}: ", *id));
    }
    store_.record_row_error("flows", change.row_id, Error{"store.bad_row", message});
    return true;
  }
  ++applied_;
  send(std::move(added->outgoing));
  return true;
}

bool DatabaseSync::apply_flow_route(const Change& change) {
  const auto id = parse_id<messages::FlowId>(change.row_id);
  if (!id) return true;
  const messages::FlowSpec* known = bring_up_.flow_spec(*id);
  if (known == nullptr) return true;  // its flows INSERT reads the pin with the flow
  auto flow = store_.get_flow(*id);
  if (!flow) return !database_away(flow.error());
  if (!*flow) return true;
  const auto pin = (*flow)->spec.route_id;
  if (pin == known->route_id) return true;
  if (bring_up_.pin_waiting_flow(*id, pin)) {
    ++applied_;
    spdlog::info("database: flow {} pinned to {}", *id,
                 pin ? fmt::format("route {}", *pin) : std::string("no route"));
    return true;
  }
  spdlog::warn(
      "database: flow {}: pin to {} not applied: the flow has started, and a pin applies when a "
      "flow starts (UPDATE the route's edges to move a running flow)",
      *id, pin ? fmt::format("route {}", *pin) : std::string("no route"));
  return true;
}

bool DatabaseSync::apply_link(const Change& change) {
  if (change.row_id == "*") {
    std::vector<Outgoing> outgoing;
    for (const auto& [a, b] : bring_up_.topology().edges()) {
      for (const auto& [src, dst] : {std::pair(a, b), std::pair(b, a)}) {
        auto out = bring_up_.link_params_changed(src, dst);
        outgoing.insert(outgoing.end(), std::make_move_iterator(out.begin()),
                        std::make_move_iterator(out.end()));
      }
    }
    ++applied_;
    send(std::move(outgoing));
    return true;
  }
  const auto link = parse_link(change.row_id);
  if (!link) return true;
  const auto [src, dst] = *link;
  auto record = store_.get_link(src, dst);
  if (!record) {
    if (database_away(record.error())) return false;
    spdlog::error("database: link_params {} not read: {}", change.row_id, record.error().message);
    return true;
  }
  if (!*record && change.op != "DELETE") {
    ++refused_;  // refused by PgStore's checks (recorded in config_errors), or deleted since
    return true;
  }
  if (*record) {
    // The HTTP API's checks: a topology link, and consistent knobs.
    if (auto valid = bring_up_.check_link_params(src, dst, (*record)->params); !valid) {
      ++refused_;
      store_.record_row_error("link_params", change.row_id,
                              Error{"store.bad_row", valid.error().message});
      return true;
    }
  }
  ++applied_;
  send(bring_up_.link_params_changed(src, dst));
  return true;
}

void DatabaseSync::schedule_retry() {
  if (!running_) return;
  std::weak_ptr<bool> token = token_;
  retry_timer_.expires_after(options_.retry_interval);
  retry_timer_.async_wait([this, token](const boost::system::error_code& error) {
    if (error || token.expired() || !running_ || unapplied_.empty()) return;
    auto again = std::move(unapplied_);
    unapplied_.clear();
    retried_ += again.size();
    apply(again);
  });
}

void DatabaseSync::schedule_flush() {
  if (!running_) return;
  std::weak_ptr<bool> token = token_;
  flush_timer_.expires_after(options_.flush_interval);
  flush_timer_.async_wait([this, token](const boost::system::error_code& error) {
    if (error || token.expired() || !running_) return;
    if (store_.pending_metric_rows() > 0) {
      if (auto flushed = store_.flush_metrics(); !flushed) {
        if (!flush_failing_) {
          spdlog::warn("database: metrics not written yet ({} rows wait): {}",
                       store_.pending_metric_rows(), flushed.error().message);
        }
        flush_failing_ = true;
      } else {
        flush_failing_ = false;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_prune_ >= options_.prune_interval && feed_.low_mark() > 0) {
      last_prune_ = now;
      if (auto pruned = store_.prune_changes(feed_.low_mark()); !pruned) {
        spdlog::debug("database: change log not pruned: {}", pruned.error().message);
      }
    }
    schedule_flush();
  });
}

}  // namespace nextmini::controller
