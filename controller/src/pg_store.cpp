#include "nextmini/controller/pg_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nextmini/common/json_quote.hpp"
#include "nextmini/controller/pg/edges_json.hpp"
#include "nextmini/controller/pg/migrations.hpp"
#include "nextmini/messages/codec.hpp"
#include "nextmini/messages/link_params_rules.hpp"

namespace nextmini::controller {

namespace {

using pg::Params;
using pg::Rows;

// Every knob of LinkParams with its link_params column, in column order.
template <typename P, typename F>
void for_each_knob(P& p, F&& f) {
  f("rate_bps", p.rate_bps);
  f("burst_bytes", p.burst_bytes);
  f("delay_ns", p.delay_ns);
  f("jitter_ns", p.jitter_ns);
  f("jitter_distribution", p.jitter_distribution);
  f("reorder", p.reorder);
  f("loss_percent", p.loss_percent);
  f("duplicate_percent", p.duplicate_percent);
  f("corrupt_percent", p.corrupt_percent);
  f("queue_packets", p.queue_packets);
  f("queue_bytes", p.queue_bytes);
  f("drop_policy", p.drop_policy);
  f("scheduler", p.scheduler);
  f("mtu", p.mtu);
  f("up", p.up);
  f("ge_p_percent", p.ge_p_percent);
  f("ge_r_percent", p.ge_r_percent);
  f("ge_one_minus_h_percent", p.ge_one_minus_h_percent);
  f("ge_one_minus_k_percent", p.ge_one_minus_k_percent);
  f("trace", p.trace);
}

std::vector<std::string> knob_columns() {
  std::vector<std::string> names;
  messages::LinkParams params;
  for_each_knob(params, [&](const char* name, auto&) { names.emplace_back(name); });
  return names;
}

const std::string& link_select_sql() {
  static const std::string sql = [] {
    std::string columns = "src_node_id, dst_node_id";
    for (const auto& name : knob_columns()) columns += ", " + name;
    return "SELECT " + columns + " FROM link_params";
  }();
  return sql;
}

const std::string& link_upsert_sql() {
  static const std::string sql = [] {
    const auto names = knob_columns();
    std::string columns = "src_node_id, dst_node_id";
    std::string values = "$1, $2";
    std::string updates;
    for (std::size_t i = 0; i < names.size(); ++i) {
      columns += ", " + names[i];
      values += fmt::format(", ${}", i + 3);
      updates += fmt::format("{} = excluded.{}, ", names[i], names[i]);
    }
    return fmt::format(
        "INSERT INTO link_params ({}) VALUES ({}) ON CONFLICT (src_node_id, dst_node_id) "
        "DO UPDATE SET {}updated_at = now()",
        columns, values, updates);
  }();
  return sql;
}

Result<void> read_knob(const Rows& rows, int row, int col, std::optional<std::uint64_t>& out) {
  auto value = rows.get_optional_uint(row, col);
  if (!value) return Failure{value.error()};
  out = *value;
  return ok();
}
Result<void> read_knob(const Rows& rows, int row, int col, std::optional<std::uint32_t>& out) {
  auto value = rows.get_optional_uint(row, col);
  if (!value) return Failure{value.error()};
  if (*value && **value > std::numeric_limits<std::uint32_t>::max()) {
    return fail("pg.value", fmt::format("{} is out of range", **value));
  }
  out = *value ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(**value)) : std::nullopt;
  return ok();
}
Result<void> read_knob(const Rows& rows, int row, int col, std::optional<double>& out) {
  auto value = rows.get_optional_double(row, col);
  if (!value) return Failure{value.error()};
  out = *value;
  return ok();
}
Result<void> read_knob(const Rows& rows, int row, int col, std::optional<bool>& out) {
  auto value = rows.get_optional_bool(row, col);
  if (!value) return Failure{value.error()};
  out = *value;
  return ok();
}
Result<void> read_knob(const Rows& rows, int row, int col, std::optional<std::string>& out) {
  auto value = rows.get_optional_string(row, col);
  if (!value) return Failure{value.error()};
  out = *value;
  return ok();
}

// Node ids, route ids and weights are PostgreSQL integers: positive, at most 2^31 - 1.
Result<std::uint32_t> positive_id(const Rows& rows, int row, int col, std::string_view column) {
  auto value = rows.get_int(row, col);
  if (!value) return Failure{value.error()};
  if (*value <= 0 || *value > std::numeric_limits<std::uint32_t>::max()) {
    return fail("store.bad_row", fmt::format("{} is {}, not a positive id", column, *value));
  }
  return static_cast<std::uint32_t>(*value);
}

Error bad_row(std::string_view table, std::string_view row_id, const Error& error) {
  return {"store.bad_row", fmt::format("{} {}: {}", table, row_id, error.message)};
}

// Counters are BIGINT: a value above 2^63 - 1 (never seen in practice) is stored clamped.
std::uint64_t bigint(std::uint64_t value) {
  return std::min<std::uint64_t>(value, std::numeric_limits<std::int64_t>::max());
}

std::string drops_json(const std::map<std::string, std::uint64_t>& drops) {
  std::string out = "{";
  for (const auto& [reason, count] : drops) {
    if (out.size() > 1) out += ", ";
    out += fmt::format("{}: {}", json_quote(reason), bigint(count));
  }
  out += "}";
  return out;
}

std::string bytea_hex(const std::vector<std::uint8_t>& bytes) {
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (const auto byte : bytes) out += fmt::format("{:02x}", byte);
  return out;
}

std::string id_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += '"' + ids[i] + '"';  // ids are digits and commas
  }
  return out + "}";
}

constexpr std::string_view kFlowColumns =
    "f.id, f.src_node_id, f.dst_node_id, f.flow_len_type, f.flow_len_bytes, "
    "f.flow_len_duration, f.flow_rate, f.flow_weight, f.transport, f.start_time, f.finish_time, "
    "f.bytes_received, r.route_id, f.error";

// A row's id for reports: its first column.
std::string first_column(const Rows& rows, int r) { return std::string(rows.text(r, 0)); }

}  // namespace

// ---- session --------------------------------------------------------------------------------

Result<std::unique_ptr<PgStore>> PgStore::open(std::string url, PgStoreOptions options) {
  std::unique_ptr<PgStore> store(new PgStore(std::move(url), options));
  if (auto connected = store->connect(); !connected) return Failure{connected.error()};
  auto version =
      options.reset ? pg::reset_database(store->connection_) : pg::migrate(store->connection_);
  if (!version) return Failure{version.error()};
  return store;
}

Result<bool> PgStore::holds_network() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(
      "SELECT EXISTS (SELECT 1 FROM nodes) OR EXISTS (SELECT 1 FROM routes) OR "
      "EXISTS (SELECT 1 FROM link_params) OR EXISTS (SELECT 1 FROM flows)");
  if (!rows) return Failure{rows.error()};
  return rows->text(0, 0) == "t";
}

PgStore::~PgStore() {
  if (pending_rows_ > 0 && connection_.is_open()) {
    if (auto flushed = flush_metrics(); !flushed) {
      spdlog::warn("store: {} metric rows not saved at exit: {}", pending_rows_,
                   flushed.error().message);
    }
  }
}

Result<void> PgStore::connect() const {
  auto opened = pg::Connection::open(url_);
  if (!opened) return Failure{opened.error()};
  auto marked = opened->exec("SELECT set_config('nextmini.origin', 'controller', false)");
  if (!marked) return Failure{marked.error()};
  connection_ = std::move(*opened);
  return ok();
}

Result<const pg::Connection*> PgStore::session() const {
  if (connection_.is_open()) return &connection_;
  // While the server is away, calls fail at once between attempts instead of each waiting
  // for a connection (up to the connect timeout) on the controller's thread.
  const auto now = std::chrono::steady_clock::now();
  if (now < next_attempt_) {
    return fail(
        "pg.connection_lost",
        fmt::format(
            "PostgreSQL is unreachable; the store tries again in {} ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now).count()));
  }
  if (auto connected = connect(); !connected) {
    next_attempt_ = std::chrono::steady_clock::now() + reconnect_backoff_.next();
    return Failure{connected.error()};
  }
  reconnect_backoff_.reset();
  return &connection_;
}

// ---- bad rows -------------------------------------------------------------------------------

void PgStore::report_bad_row(const std::string& table, const std::string& row_id,
                             const Error& error) const {
  // Logged when the row is new to config_errors or its problem changed, not on every read.
  auto recorded = connection_.exec(
      "WITH known AS (SELECT message FROM config_errors WHERE table_name = $1 AND row_id = $2) "
      "INSERT INTO config_errors (table_name, row_id, code, message) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (table_name, row_id) DO UPDATE SET code = excluded.code, "
      "message = excluded.message, last_seen = now() "
      "RETURNING NOT EXISTS (SELECT 1 FROM known WHERE known.message = $4)",
      Params(table, row_id, error.code, error.message));
  const bool fresh = !recorded || recorded->text(0, 0) == "t";
  if (fresh) spdlog::error("store: {} row {} ignored: {}", table, row_id, error.message);
}

void PgStore::clear_bad_rows(const std::string& table,
                             const std::vector<std::string>& still_bad) const {
  (void)connection_.exec(
      "DELETE FROM config_errors WHERE table_name = $1 AND row_id <> ALL($2::text[])",
      Params(table, id_array(still_bad)));
}

void PgStore::clear_bad_row(const std::string& table, const std::string& row_id) const {
  (void)connection_.exec("DELETE FROM config_errors WHERE table_name = $1 AND row_id = $2",
                         Params(table, row_id));
}

Result<std::vector<RowError>> PgStore::row_errors() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(
      "SELECT table_name, row_id, code, message FROM config_errors ORDER BY table_name, row_id");
  if (!rows) return Failure{rows.error()};
  std::vector<RowError> out;
  for (int r = 0; r < rows->size(); ++r) {
    out.push_back({std::string(rows->text(r, 0)), std::string(rows->text(r, 1)),
                   std::string(rows->text(r, 2)), std::string(rows->text(r, 3))});
  }
  return out;
}

// ---- nodes ----------------------------------------------------------------------------------

Result<void> PgStore::put_node(const NodeRecord& node) {
  if (node.node_id == 0) return fail("store.invalid", "node id 0 cannot be stored");
  auto db = session();
  if (!db) return Failure{db.error()};
  auto saved = (*db)->exec(
      "INSERT INTO nodes (id, public_network_addr, link_port, operating_mode, connected, ready, "
      "connections) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET "
      "public_network_addr = excluded.public_network_addr, link_port = excluded.link_port, "
      "operating_mode = excluded.operating_mode, connected = excluded.connected, "
      "ready = excluded.ready, connections = excluded.connections, updated_at = now()",
      Params(node.node_id, node.underlay_address, node.link_port, node.operating_mode,
             node.connected, node.ready, bigint(node.connections)));
  if (!saved) return Failure{saved.error()};
  return ok();
}

namespace {
constexpr std::string_view kNodeSelect =
    "SELECT id, coalesce(public_network_addr, ''), link_port, operating_mode, connected, ready, "
    "connections FROM nodes";

Result<NodeRecord> node_from_row(const Rows& rows, int r) {
  NodeRecord node;
  auto id = positive_id(rows, r, 0, "id");
  auto port = rows.get_uint(r, 2);
  auto connected = rows.get_bool(r, 4);
  auto ready = rows.get_bool(r, 5);
  auto connections = rows.get_uint(r, 6);
  if (!id) return Failure{id.error()};
  if (!port) return Failure{port.error()};
  if (!connected) return Failure{connected.error()};
  if (!ready) return Failure{ready.error()};
  if (!connections) return Failure{connections.error()};
  node.node_id = *id;
  node.underlay_address = std::string(rows.text(r, 1));
  node.link_port = static_cast<std::uint16_t>(*port);
  node.operating_mode = std::string(rows.text(r, 3));
  node.connected = *connected;
  node.ready = *ready;
  node.connections = *connections;
  return node;
}
}  // namespace

Result<std::optional<NodeRecord>> PgStore::get_node(messages::NodeId node_id) const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(std::string(kNodeSelect) + " WHERE id = $1", Params(node_id));
  if (!rows) return Failure{rows.error()};
  if (rows->size() == 0) return std::optional<NodeRecord>{};
  auto node = node_from_row(*rows, 0);
  if (!node) return Failure{node.error()};
  return std::optional<NodeRecord>{std::move(*node)};
}

Result<std::vector<NodeRecord>> PgStore::list_nodes() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(std::string(kNodeSelect) + " ORDER BY id");
  if (!rows) return Failure{rows.error()};
  std::vector<NodeRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    auto node = node_from_row(*rows, r);
    if (!node) {
      report_bad_row("nodes", std::string(rows->text(r, 0)), node.error());
      continue;
    }
    out.push_back(std::move(*node));
  }
  return out;
}

// ---- routes ---------------------------------------------------------------------------------

namespace {
constexpr std::string_view kRouteSelect =
    "SELECT route_id, src_node_id, dst_node_id, weight, edges::text FROM routes";
}

template <typename Record, typename RowId>
std::vector<Record> PgStore::good_rows(const Rows& rows, const std::string& table,
                                       Result<Record> (PgStore::*convert)(const Rows&, int) const,
                                       RowId row_id) const {
  std::vector<Record> out;
  std::vector<std::string> bad;
  for (int r = 0; r < rows.size(); ++r) {
    auto record = (this->*convert)(rows, r);
    if (!record) {
      bad.push_back(row_id(rows, r));
      report_bad_row(table, bad.back(), record.error());
      continue;
    }
    out.push_back(std::move(*record));
  }
  clear_bad_rows(table, bad);
  return out;
}

Result<RouteRecord> PgStore::route_from_row(const Rows& rows, int r) const {
  const std::string row_id(rows.text(r, 0));
  RouteRecord route;
  auto route_id = positive_id(rows, r, 0, "route_id");
  auto src = positive_id(rows, r, 1, "src_node_id");
  auto dst = positive_id(rows, r, 2, "dst_node_id");
  auto weight = positive_id(rows, r, 3, "weight");
  for (const auto* part : {&route_id, &src, &dst, &weight}) {
    if (!*part) return Failure{bad_row("route", row_id, part->error())};
  }
  auto edges = pg::parse_edges(rows.text(r, 4));
  if (!edges) return Failure{bad_row("route", row_id, edges.error())};
  route.route_id = *route_id;
  route.src = *src;
  route.dst = *dst;
  route.weight = *weight;
  route.edges = std::move(*edges);
  const auto problem = [&](std::string message) {
    return fail("store.bad_row", fmt::format("route {}: {}", row_id, message));
  };
  bool leaves_src = route.src == route.dst;
  bool reaches_dst = route.src == route.dst;
  for (const auto& [from, to] : route.edges) {
    if (from == to) return problem(fmt::format("edge [{}, {}] is a self-loop", from, to));
    leaves_src = leaves_src || from == route.src;
    reaches_dst = reaches_dst || to == route.dst;
  }
  if (!leaves_src) return problem(fmt::format("no edge leaves src_node_id {}", route.src));
  if (!reaches_dst) return problem(fmt::format("no edge reaches dst_node_id {}", route.dst));
  if (topology_) {
    for (const auto node : {route.src, route.dst}) {
      if (!topology_->has_node(node)) {
        return problem(fmt::format("node {} is not in the topology (nodes 1..{})", node,
                                   topology_->n_nodes()));
      }
    }
    for (const auto& [from, to] : route.edges) {
      for (const auto node : {from, to}) {
        if (!topology_->has_node(node)) {
          return problem(fmt::format("edge [{}, {}]: node {} is not in the topology (nodes 1..{})",
                                     from, to, node, topology_->n_nodes()));
        }
      }
      if (!topology_->has_edge(from, to)) {
        return problem(fmt::format("edge [{}, {}] is not a link of the topology", from, to));
      }
    }
  }
  return route;
}

Result<std::uint64_t> PgStore::replace_routes(std::vector<RouteRecord> routes) {
  std::sort(routes.begin(), routes.end(),
            [](const auto& a, const auto& b) { return a.route_id < b.route_id; });
  for (std::size_t i = 1; i < routes.size(); ++i) {
    if (routes[i].route_id == routes[i - 1].route_id) {
      return fail("store.invalid", fmt::format("route id {} appears twice", routes[i].route_id));
    }
  }
  std::string ids = "{", srcs = "{", dsts = "{", weights = "{", edges = "{";
  for (std::size_t i = 0; i < routes.size(); ++i) {
    const char* comma = i > 0 ? "," : "";
    ids += fmt::format("{}{}", comma, routes[i].route_id);
    srcs += fmt::format("{}{}", comma, routes[i].src);
    dsts += fmt::format("{}{}", comma, routes[i].dst);
    weights += fmt::format("{}{}", comma, routes[i].weight);
    edges += fmt::format("{}\"{}\"", comma, pg::format_edges(routes[i].edges));
  }
  for (auto* array : {&ids, &srcs, &dsts, &weights, &edges}) *array += "}";
  auto db = session();
  if (!db) return Failure{db.error()};
  const pg::Connection& connection = **db;
  return connection.transaction([&]() -> Result<std::uint64_t> {
    auto removed =
        connection.exec("DELETE FROM routes WHERE route_id <> ALL($1::integer[])", Params(ids));
    if (!removed) return Failure{removed.error()};
    if (!routes.empty()) {
      auto upserted = connection.exec(
          "INSERT INTO routes AS r (route_id, src_node_id, dst_node_id, weight, edges) "
          "SELECT * FROM unnest($1::integer[], $2::integer[], $3::integer[], $4::integer[], "
          "$5::jsonb[]) ON CONFLICT (route_id) DO UPDATE SET src_node_id = excluded.src_node_id, "
          "dst_node_id = excluded.dst_node_id, weight = excluded.weight, edges = excluded.edges, "
          "updated_at = now() WHERE (r.src_node_id, r.dst_node_id, r.weight, r.edges) IS "
          "DISTINCT FROM (excluded.src_node_id, excluded.dst_node_id, excluded.weight, "
          "excluded.edges)",
          Params(ids, srcs, dsts, weights, edges));
      if (!upserted) return Failure{upserted.error()};
    }
    auto version = connection.exec("SELECT currval('routes_version_seq')");
    if (!version) return Failure{version.error()};
    return version->get_uint(0, 0);
  });
}

Result<std::vector<RouteRecord>> PgStore::list_routes() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(std::string(kRouteSelect) + " ORDER BY route_id");
  if (!rows) return Failure{rows.error()};
  return good_rows(*rows, "routes", &PgStore::route_from_row, first_column);
}

Result<std::optional<RouteRecord>> PgStore::get_route(messages::RouteId route_id) const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(std::string(kRouteSelect) + " WHERE route_id = $1", Params(route_id));
  if (!rows) return Failure{rows.error()};
  const std::string row_id = std::to_string(route_id);
  if (rows->size() == 0) {
    clear_bad_row("routes", row_id);
    return std::optional<RouteRecord>{};
  }
  auto route = route_from_row(*rows, 0);
  if (!route) {
    report_bad_row("routes", row_id, route.error());
    return std::optional<RouteRecord>{};
  }
  clear_bad_row("routes", row_id);
  return std::optional<RouteRecord>{std::move(*route)};
}

Result<std::uint64_t> PgStore::routes_version() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows =
      (*db)->exec("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM routes_version_seq");
  if (!rows) return Failure{rows.error()};
  return rows->get_uint(0, 0);
}

// ---- link parameters ------------------------------------------------------------------------

Result<LinkRecord> PgStore::link_from_row(const Rows& rows, int r) const {
  const std::string row_id = fmt::format("{},{}", rows.text(r, 0), rows.text(r, 1));
  LinkRecord link;
  auto src = positive_id(rows, r, 0, "src_node_id");
  auto dst = positive_id(rows, r, 1, "dst_node_id");
  if (!src) return Failure{bad_row("link_params", row_id, src.error())};
  if (!dst) return Failure{bad_row("link_params", row_id, dst.error())};
  link.src = *src;
  link.dst = *dst;
  int col = 2;
  Result<void> read = ok();
  for_each_knob(link.params, [&](const char*, auto& field) {
    if (read) read = read_knob(rows, r, col, field);
    ++col;
  });
  if (!read) return Failure{bad_row("link_params", row_id, read.error())};
  if (auto valid = messages::check_link_params(link.params); !valid) {
    return Failure{bad_row("link_params", row_id, valid.error())};
  }
  if (topology_ && !topology_->has_edge(link.src, link.dst)) {
    return fail("store.bad_row", fmt::format("link_params {}: {} -> {} is not a link of the "
                                             "topology",
                                             row_id, link.src, link.dst));
  }
  return link;
}

Result<void> PgStore::merge_link_params(messages::NodeId src, messages::NodeId dst,
                                        const messages::LinkParams& params) {
  if (src == 0 || dst == 0 || src == dst) {
    return fail("store.invalid", fmt::format("link {} -> {} is not a link", src, dst));
  }
  auto db = session();
  if (!db) return Failure{db.error()};
  const pg::Connection& connection = **db;
  return connection.transaction([&]() -> Result<void> {
    auto rows = connection.exec(
        link_select_sql() + " WHERE src_node_id = $1 AND dst_node_id = $2 FOR UPDATE",
        Params(src, dst));
    if (!rows) return Failure{rows.error()};
    messages::LinkParams merged;
    if (rows->size() > 0) {
      // A stored row that no longer reads (written badly by SQL) is replaced, not merged.
      auto stored = link_from_row(*rows, 0);
      if (stored) merged = stored->params;
    }
    messages::merge_link_params(merged, params);
    if (auto valid = messages::check_link_params(merged); !valid) return valid;
    Params values(src, dst);
    for_each_knob(merged, [&](const char*, const auto& field) { values.add(field); });
    auto saved = connection.exec(link_upsert_sql(), values);
    if (!saved) return Failure{saved.error()};
    return ok();
  });
}

Result<std::vector<LinkRecord>> PgStore::list_links() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(link_select_sql() + " ORDER BY src_node_id, dst_node_id");
  if (!rows) return Failure{rows.error()};
  return good_rows(*rows, "link_params", &PgStore::link_from_row, [](const Rows& link, int r) {
    return fmt::format("{},{}", link.text(r, 0), link.text(r, 1));
  });
}

Result<std::optional<LinkRecord>> PgStore::get_link(messages::NodeId src,
                                                    messages::NodeId dst) const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(link_select_sql() + " WHERE src_node_id = $1 AND dst_node_id = $2",
                          Params(src, dst));
  if (!rows) return Failure{rows.error()};
  const std::string row_id = fmt::format("{},{}", src, dst);
  if (rows->size() == 0) {
    clear_bad_row("link_params", row_id);
    return std::optional<LinkRecord>{};
  }
  auto link = link_from_row(*rows, 0);
  if (!link) {
    report_bad_row("link_params", row_id, link.error());
    return std::optional<LinkRecord>{};
  }
  clear_bad_row("link_params", row_id);
  return std::optional<LinkRecord>{std::move(*link)};
}

// ---- flows ----------------------------------------------------------------------------------

Result<FlowRecord> PgStore::flow_from_row(const Rows& rows, int r) const {
  const std::string row_id(rows.text(r, 0));
  const auto problem = [&](std::string message) {
    return fail("store.bad_row", fmt::format("flow {}: {}", row_id, message));
  };
  FlowRecord flow;
  auto id = rows.get_int(r, 0);
  auto src = positive_id(rows, r, 1, "src_node_id");
  auto dst = positive_id(rows, r, 2, "dst_node_id");
  auto length_bytes = rows.get_optional_int(r, 4);
  auto duration = rows.get_optional_double(r, 5);
  auto rate = rows.get_optional_int(r, 6);
  auto weight = rows.get_optional_int(r, 7);
  auto start = rows.get_optional_int(r, 9);
  auto finish = rows.get_optional_int(r, 10);
  auto bytes = rows.get_int(r, 11);
  auto route = rows.get_optional_int(r, 12);
  if (!id || *id < 0) return problem("id is negative");
  if (!src) return problem(src.error().message);
  if (!dst) return problem(dst.error().message);
  for (const auto* part : {&length_bytes, &rate, &weight, &start, &finish, &route}) {
    if (!*part) return problem(part->error().message);
  }
  if (!duration) return problem(duration.error().message);
  if (!bytes) return problem(bytes.error().message);
  const std::string type(rows.text(r, 3));
  if (type == "bytes" && *length_bytes && **length_bytes <= 0) {
    return problem(fmt::format("flow_len_bytes is {}: a flow of type 'bytes' needs a length > 0",
                               **length_bytes));
  }
  if (type == "duration" && (!*duration || !std::isfinite(**duration) || **duration <= 0)) {
    return problem(fmt::format(
        "flow_len_duration is {}: a flow of type 'duration' needs a duration > 0 (seconds)",
        *duration ? fmt::format("{}", **duration) : std::string("NULL")));
  }
  if (*rate && **rate <= 0) return problem(fmt::format("flow_rate is {}, not > 0", **rate));
  if (*weight && (**weight <= 0 || **weight > std::numeric_limits<std::uint32_t>::max())) {
    return problem(fmt::format("flow_weight is {}, not a positive integer", **weight));
  }
  if (*route && (**route <= 0 || **route > std::numeric_limits<std::uint32_t>::max())) {
    return problem(fmt::format("its flow_routes route_id is {}, not a route id", **route));
  }
  if (topology_) {
    for (const auto node : {*src, *dst}) {
      if (!topology_->has_node(node)) {
        return problem(fmt::format("node {} is not in the topology (nodes 1..{})", node,
                                   topology_->n_nodes()));
      }
    }
  }
  flow.spec.flow_id = static_cast<messages::FlowId>(*id);
  flow.spec.src = *src;
  flow.spec.dst = *dst;
  if (*length_bytes) flow.spec.length_bytes = static_cast<std::uint64_t>(**length_bytes);
  flow.spec.duration_s = *duration;
  if (*rate) flow.spec.rate_bytes_per_s = static_cast<std::uint64_t>(**rate);
  if (*weight) flow.spec.weight = static_cast<std::uint32_t>(**weight);
  flow.spec.transport = std::string(rows.text(r, 8));
  if (*route) flow.spec.route_id = static_cast<messages::RouteId>(**route);
  if (*start) flow.start_time_ns = static_cast<std::uint64_t>(**start);
  if (*finish) flow.finish_time_ns = static_cast<std::uint64_t>(**finish);
  flow.bytes = static_cast<std::uint64_t>(std::max<std::int64_t>(*bytes, 0));
  flow.error = std::string(rows.text(r, 13));
  return flow;
}

Result<void> PgStore::put_flow(const FlowRecord& flow) {
  const auto& spec = flow.spec;
  const bool by_duration = spec.duration_s.has_value() && !spec.length_bytes.has_value();
  auto db = session();
  if (!db) return Failure{db.error()};
  const pg::Connection& connection = **db;
  std::optional<std::uint64_t> start = flow.start_time_ns;
  std::optional<std::uint64_t> finish = flow.finish_time_ns;
  return connection.transaction([&]() -> Result<void> {
    auto saved = connection.exec(
        "INSERT INTO flows (id, src_node_id, dst_node_id, flow_len_type, flow_len_bytes, "
        "flow_len_duration, flow_rate, flow_weight, transport, start_time, finish_time, "
        "is_finished, bytes_received, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11, $12, $13, $14) ON CONFLICT (id) DO UPDATE SET src_node_id = excluded.src_node_id, "
        "dst_node_id = excluded.dst_node_id, flow_len_type = excluded.flow_len_type, "
        "flow_len_bytes = excluded.flow_len_bytes, flow_len_duration = "
        "excluded.flow_len_duration, flow_rate = excluded.flow_rate, flow_weight = "
        "excluded.flow_weight, transport = excluded.transport, start_time = excluded.start_time, "
        "finish_time = excluded.finish_time, is_finished = excluded.is_finished, "
        "bytes_received = excluded.bytes_received, error = excluded.error",
        Params(bigint(spec.flow_id), spec.src, spec.dst, by_duration ? "duration" : "bytes",
               spec.length_bytes, spec.duration_s, spec.rate_bytes_per_s, spec.weight,
               spec.transport, start, finish, finish.has_value(), bigint(flow.bytes), flow.error));
    if (!saved) return Failure{saved.error()};
    auto pinned = spec.route_id
                      ? connection.exec(
                            "INSERT INTO flow_routes (flow_id, route_id) VALUES ($1, $2) "
                            "ON CONFLICT (flow_id) DO UPDATE SET route_id = excluded.route_id "
                            "WHERE flow_routes.route_id <> excluded.route_id",
                            Params(bigint(spec.flow_id), *spec.route_id))
                      : connection.exec("DELETE FROM flow_routes WHERE flow_id = $1",
                                        Params(bigint(spec.flow_id)));
    if (!pinned) return Failure{pinned.error()};
    // Keep the id sequence above explicit ids, so a later INSERT by SQL gets a fresh one.
    auto advanced = connection.exec(
        "SELECT setval(pg_get_serial_sequence('flows', 'id'), greatest($1::bigint, "
        "(SELECT last_value FROM flows_id_seq)))",
        Params(bigint(spec.flow_id)));
    if (!advanced) return Failure{advanced.error()};
    return ok();
  });
}

Result<void> PgStore::flow_started(messages::FlowId flow_id, std::uint64_t start_time_ns) {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto updated = (*db)->exec("UPDATE flows SET start_time = $2 WHERE id = $1",
                             Params(bigint(flow_id), bigint(start_time_ns)));
  if (!updated) return Failure{updated.error()};
  if (updated->affected() == 0) return fail("store.not_found", fmt::format("no flow {}", flow_id));
  return ok();
}

Result<void> PgStore::flow_finished(const messages::FlowFinished& finished) {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto updated = (*db)->exec(
      "UPDATE flows SET start_time = coalesce(start_time, $2), finish_time = $3, "
      "bytes_received = $4, is_finished = true, error = $5 WHERE id = $1",
      Params(bigint(finished.flow_id), bigint(finished.start_time_ns),
             bigint(finished.finish_time_ns), bigint(finished.bytes), finished.error));
  if (!updated) return Failure{updated.error()};
  if (updated->affected() == 0) {
    return fail("store.not_found", fmt::format("no flow {}", finished.flow_id));
  }
  return ok();
}

Result<std::optional<FlowRecord>> PgStore::get_flow(messages::FlowId flow_id) const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(fmt::format("SELECT {} FROM flows f LEFT JOIN flow_routes r ON "
                                      "r.flow_id = f.id WHERE f.id = $1",
                                      kFlowColumns),
                          Params(bigint(flow_id)));
  if (!rows) return Failure{rows.error()};
  const std::string row_id = std::to_string(flow_id);
  if (rows->size() == 0) return std::optional<FlowRecord>{};
  auto flow = flow_from_row(*rows, 0);
  if (!flow) {
    report_bad_row("flows", row_id, flow.error());
    return std::optional<FlowRecord>{};
  }
  clear_bad_row("flows", row_id);
  return std::optional<FlowRecord>{std::move(*flow)};
}

Result<std::vector<FlowRecord>> PgStore::list_flows() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(fmt::format(
      "SELECT {} FROM flows f LEFT JOIN flow_routes r ON r.flow_id = f.id ORDER BY f.id",
      kFlowColumns));
  if (!rows) return Failure{rows.error()};
  return good_rows(*rows, "flows", &PgStore::flow_from_row, first_column);
}

// ---- metrics --------------------------------------------------------------------------------

Result<void> PgStore::put_metrics(const messages::Metrics& metrics) {
  if (metrics.node_id == 0) return fail("store.invalid", "metrics without a node id");
  const auto timestamp = static_cast<std::int64_t>(bigint(metrics.timestamp_ns));
  const auto node = static_cast<std::int64_t>(metrics.node_id);
  // One row of node-wide drops, one per link, one per flow.
  link_rows_.field(node).field(timestamp).field(std::nullopt);
  link_rows_.field(std::uint64_t{0}).field(std::uint64_t{0}).field(std::uint64_t{0});
  link_rows_.field(std::uint64_t{0}).field(drops_json(metrics.drops)).field(std::nullopt);
  link_rows_.end_row();
  for (const auto& link : metrics.links) {
    link_rows_.field(node).field(timestamp).field(link.neighbor);
    link_rows_.field(bigint(link.tx_packets)).field(bigint(link.tx_bytes));
    link_rows_.field(bigint(link.rx_packets)).field(bigint(link.rx_bytes));
    link_rows_.field(drops_json(link.drops)).field(link.up);
    link_rows_.end_row();
  }
  for (const auto& flow : metrics.flows) {
    flow_rows_.field(node).field(timestamp).field(flow.src).field(flow.dst);
    flow_rows_.field(static_cast<std::uint64_t>(flow.ip_protocol));
    flow_rows_.field(flow.src_address).field(flow.dst_address);
    flow_rows_.field(static_cast<std::uint64_t>(flow.src_port));
    flow_rows_.field(static_cast<std::uint64_t>(flow.dst_port));
    flow_rows_.field(bigint(flow.packets)).field(bigint(flow.bytes));
    flow_rows_.end_row();
  }
  pending_rows_ += 1 + metrics.links.size() + metrics.flows.size();
  auto& latest = pending_latest_[metrics.node_id];
  if (metrics.timestamp_ns >= latest.timestamp_ns) latest = metrics;
  if (pending_rows_ >= options_.metrics_batch_rows) return flush_metrics();
  return ok();
}

Result<void> PgStore::flush_metrics() {
  if (pending_rows_ == 0 && pending_latest_.empty()) return ok();
  auto db = session();
  Result<void> written = db ? ok() : Result<void>(Failure{db.error()});
  if (written) {
    const pg::Connection& connection = **db;
    written = connection.transaction([&]() -> Result<void> {
      auto links = connection.copy_in(
          "metrics",
          "node_id, timestamp_ns, neighbor_id, tx_packets, tx_bytes, rx_packets, rx_bytes, "
          "drops, up",
          link_rows_);
      if (!links) return Failure{links.error()};
      if (flow_rows_.rows() > 0) {
        auto flows = connection.copy_in("flow_metrics",
                                        "node_id, timestamp_ns, src_node_id, dst_node_id, "
                                        "ip_protocol, src_addr, dst_addr, src_port, dst_port, "
                                        "packets, bytes",
                                        flow_rows_);
        if (!flows) return Failure{flows.error()};
      }
      std::string sql = "INSERT INTO metrics_latest (node_id, timestamp_ns, report) VALUES ";
      Params params;
      for (const auto& [node, metrics] : pending_latest_) {
        const auto n = params.size();
        sql += fmt::format("{}(${}, ${}, ${}::bytea)", n == 0 ? "" : ", ", n + 1, n + 2, n + 3);
        params.add(node).add(bigint(metrics.timestamp_ns));
        params.add(bytea_hex(messages::encode(messages::Message{metrics})));
      }
      sql +=
          " ON CONFLICT (node_id) DO UPDATE SET timestamp_ns = excluded.timestamp_ns, report = "
          "excluded.report WHERE metrics_latest.timestamp_ns <= excluded.timestamp_ns";
      auto latest = connection.exec(sql, params);
      if (!latest) return Failure{latest.error()};
      return ok();
    });
  }
  if (written) {
    metric_rows_written_ += pending_rows_;
  } else if (pending_rows_ < options_.metrics_max_pending_rows) {
    return written;  // kept for the next flush
  } else {
    metric_rows_dropped_ += pending_rows_;
    spdlog::warn("store: {} metric rows dropped: {}", pending_rows_, written.error().message);
  }
  link_rows_.clear();
  flow_rows_.clear();
  pending_latest_.clear();
  pending_rows_ = 0;
  return written;
}

Result<std::optional<messages::Metrics>> PgStore::latest_metrics(messages::NodeId node_id) const {
  if (auto it = pending_latest_.find(node_id); it != pending_latest_.end()) {
    return std::optional<messages::Metrics>{it->second};
  }
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec("SELECT report FROM metrics_latest WHERE node_id = $1", Params(node_id));
  if (!rows) return Failure{rows.error()};
  if (rows->size() == 0) return std::optional<messages::Metrics>{};
  auto bytes = rows->get_bytes(0, 0);
  if (!bytes) return Failure{bytes.error()};
  auto decoded = messages::decode(*bytes);
  if (!decoded) return Failure{decoded.error()};
  if (const auto* metrics = std::get_if<messages::Metrics>(&*decoded)) {
    return std::optional<messages::Metrics>{*metrics};
  }
  return fail("store.bad_row", fmt::format("metrics_latest {}: not a Metrics report", node_id));
}

// ---- groups ---------------------------------------------------------------------------------

Result<messages::GroupId> PgStore::create_group(const std::string& name) {
  if (name.empty()) return fail("store.invalid", "a group needs a name");
  auto db = session();
  if (!db) return Failure{db.error()};
  auto created = (*db)->exec(
      "INSERT INTO groups (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id",
      Params(name));
  if (!created) return Failure{created.error()};
  if (created->size() == 0) {
    auto existing = (*db)->exec("SELECT id FROM groups WHERE name = $1", Params(name));
    const std::string id =
        existing && existing->size() > 0 ? std::string(existing->text(0, 0)) : std::string("?");
    return fail("store.invalid", fmt::format("group \"{}\" already exists (id {})", name, id));
  }
  auto id = created->get_uint(0, 0);
  if (!id) return Failure{id.error()};
  return static_cast<messages::GroupId>(*id);
}

Result<void> PgStore::join_group(messages::GroupId group_id, messages::NodeId node_id) {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto joined = (*db)->exec(
      "INSERT INTO group_members (group_id, node_id) SELECT id, $2 FROM groups WHERE id = $1 "
      "ON CONFLICT DO NOTHING RETURNING 1",
      Params(group_id, node_id));
  if (!joined) return Failure{joined.error()};
  if (joined->size() == 0) {
    auto exists = (*db)->exec("SELECT 1 FROM groups WHERE id = $1", Params(group_id));
    if (!exists) return Failure{exists.error()};
    if (exists->size() == 0) return fail("store.not_found", fmt::format("no group {}", group_id));
  }
  return ok();
}

Result<void> PgStore::leave_group(messages::GroupId group_id, messages::NodeId node_id) {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto exists = (*db)->exec("SELECT 1 FROM groups WHERE id = $1", Params(group_id));
  if (!exists) return Failure{exists.error()};
  if (exists->size() == 0) return fail("store.not_found", fmt::format("no group {}", group_id));
  auto left = (*db)->exec("DELETE FROM group_members WHERE group_id = $1 AND node_id = $2",
                          Params(group_id, node_id));
  if (!left) return Failure{left.error()};
  return ok();
}

Result<std::vector<GroupRecord>> PgStore::list_groups() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec(
      "SELECT g.id, g.name, coalesce(string_agg(m.node_id::text, ',' ORDER BY m.node_id), '') "
      "FROM groups g LEFT JOIN group_members m ON m.group_id = g.id GROUP BY g.id ORDER BY g.id");
  if (!rows) return Failure{rows.error()};
  std::vector<GroupRecord> out;
  for (int r = 0; r < rows->size(); ++r) {
    GroupRecord group;
    auto id = rows->get_uint(r, 0);
    if (!id) return Failure{id.error()};
    group.group_id = static_cast<messages::GroupId>(*id);
    group.name = std::string(rows->text(r, 1));
    std::string_view members = rows->text(r, 2);
    while (!members.empty()) {
      const auto comma = members.find(',');
      const auto part = members.substr(0, comma);
      group.members.push_back(static_cast<messages::NodeId>(std::stoul(std::string(part))));
      if (comma == std::string_view::npos) break;
      members.remove_prefix(comma + 1);
    }
    out.push_back(std::move(group));
  }
  return out;
}

// ---- change log -----------------------------------------------------------------------------

Result<std::vector<Change>> PgStore::changes_since(
    std::uint64_t seq, std::size_t limit, const std::vector<std::uint64_t>& missing) const {
  auto db = session();
  if (!db) return Failure{db.error()};
  std::string missing_array = "{";
  for (std::size_t i = 0; i < missing.size(); ++i) {
    missing_array += fmt::format("{}{}", i > 0 ? "," : "", missing[i]);
  }
  missing_array += "}";
  auto rows = (*db)->exec(
      "SELECT seq, table_name, op, row_id, origin FROM changes WHERE seq > $1 OR seq = "
      "ANY($3::bigint[]) ORDER BY seq LIMIT $2",
      Params(bigint(seq), bigint(limit), missing_array));
  if (!rows) return Failure{rows.error()};
  std::vector<Change> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int r = 0; r < rows->size(); ++r) {
    auto change_seq = rows->get_uint(r, 0);
    if (!change_seq) return Failure{change_seq.error()};
    out.push_back({*change_seq, std::string(rows->text(r, 1)), std::string(rows->text(r, 2)),
                   std::string(rows->text(r, 3)), std::string(rows->text(r, 4))});
  }
  return out;
}

Result<std::uint64_t> PgStore::last_change_seq() const {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto rows = (*db)->exec("SELECT coalesce(max(seq), 0) FROM changes");
  if (!rows) return Failure{rows.error()};
  return rows->get_uint(0, 0);
}

Result<void> PgStore::prune_changes(std::uint64_t seq) {
  auto db = session();
  if (!db) return Failure{db.error()};
  auto pruned = (*db)->exec("DELETE FROM changes WHERE seq <= $1", Params(bigint(seq)));
  if (!pruned) return Failure{pruned.error()};
  return ok();
}

}  // namespace nextmini::controller
