#include "nextmini/controller/pg/migrations.hpp"

#include <fmt/format.h>

#include <array>

namespace nextmini::controller::pg {

namespace {

// Version 1: every table of docs/database.md, the change log and its triggers.
constexpr std::string_view kSchemaV1 = R"sql(
-- Moves on with every statement on routes (a sequence: no row lock between writers).
CREATE SEQUENCE routes_version_seq;

CREATE TABLE nodes (
  id integer PRIMARY KEY CHECK (id > 0),
  private_network_name text,
  private_network_addr text,
  public_network_addr text,
  link_port integer NOT NULL DEFAULT 0 CHECK (link_port BETWEEN 0 AND 65535),
  operating_mode text NOT NULL DEFAULT 'tun',
  connected boolean NOT NULL DEFAULT false,
  ready boolean NOT NULL DEFAULT false,
  connections bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE routes (
  route_id integer PRIMARY KEY CHECK (route_id > 0),
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  edges jsonb NOT NULL DEFAULT '[]'::jsonb,
  weight integer NOT NULL DEFAULT 1 CHECK (weight > 0),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX routes_src_dst_idx ON routes (src_node_id, dst_node_id);

CREATE TABLE flows (
  id bigserial PRIMARY KEY,
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  flow_len_type text NOT NULL DEFAULT 'bytes' CHECK (flow_len_type IN ('bytes', 'duration')),
  flow_len_bytes bigint,
  flow_len_duration double precision,
  flow_rate bigint,
  flow_weight integer DEFAULT 1,
  transport text NOT NULL DEFAULT 'tcp',
  start_time bigint,
  finish_time bigint,
  is_finished boolean NOT NULL DEFAULT false,
  bytes_received bigint NOT NULL DEFAULT 0,
  error text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flows_unfinished_idx ON flows (id) WHERE NOT is_finished;
CREATE INDEX flows_src_dst_idx ON flows (src_node_id, dst_node_id);

CREATE TABLE flow_routes (
  flow_id bigint PRIMARY KEY REFERENCES flows (id) ON DELETE CASCADE,
  route_id integer NOT NULL
);
CREATE INDEX flow_routes_route_idx ON flow_routes (route_id);

CREATE TABLE link_params (
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  rate_bps bigint,
  burst_bytes bigint,
  delay_ns bigint,
  jitter_ns bigint,
  jitter_distribution text,
  reorder boolean,
  loss_percent double precision,
  duplicate_percent double precision,
  corrupt_percent double precision,
  queue_packets bigint,
  queue_bytes bigint,
  drop_policy text,
  scheduler text,
  mtu integer,
  up boolean,
  ge_p_percent double precision,
  ge_r_percent double precision,
  ge_one_minus_h_percent double precision,
  ge_one_minus_k_percent double precision,
  trace text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (src_node_id, dst_node_id),
  CHECK (src_node_id <> dst_node_id)
);

CREATE TABLE metrics (
  node_id integer NOT NULL,
  timestamp_ns bigint NOT NULL,
  neighbor_id integer,
  tx_packets bigint NOT NULL DEFAULT 0,
  tx_bytes bigint NOT NULL DEFAULT 0,
  rx_packets bigint NOT NULL DEFAULT 0,
  rx_bytes bigint NOT NULL DEFAULT 0,
  drops jsonb NOT NULL DEFAULT '{}'::jsonb,
  up boolean
);
CREATE INDEX metrics_node_time_idx ON metrics (node_id, timestamp_ns);

CREATE TABLE flow_metrics (
  node_id integer NOT NULL,
  timestamp_ns bigint NOT NULL,
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  ip_protocol smallint NOT NULL,
  src_addr text NOT NULL,
  dst_addr text NOT NULL,
  src_port integer NOT NULL,
  dst_port integer NOT NULL,
  packets bigint NOT NULL,
  bytes bigint NOT NULL
);
CREATE INDEX flow_metrics_node_time_idx ON flow_metrics (node_id, timestamp_ns);

CREATE TABLE metrics_latest (
  node_id integer PRIMARY KEY,
  timestamp_ns bigint NOT NULL,
  report bytea NOT NULL
);

CREATE TABLE app_flows (
  id bigserial PRIMARY KEY,
  node_id integer NOT NULL,
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  ip_protocol smallint NOT NULL,
  src_addr text NOT NULL,
  dst_addr text NOT NULL,
  src_port integer NOT NULL,
  dst_port integer NOT NULL,
  start_time bigint,
  route_id integer,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX app_flows_src_dst_idx ON app_flows (src_node_id, dst_node_id);

CREATE TABLE groups (
  id serial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE group_members (
  group_id integer NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  node_id integer NOT NULL,
  joined_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, node_id)
);
CREATE INDEX group_members_node_idx ON group_members (node_id);

CREATE TABLE group_routes (
  group_id integer NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
  tree_id integer NOT NULL DEFAULT 0,
  src_node_id integer NOT NULL,
  edges jsonb NOT NULL DEFAULT '[]'::jsonb,
  weight integer NOT NULL DEFAULT 1 CHECK (weight > 0),
  PRIMARY KEY (group_id, src_node_id, tree_id)
);

CREATE TABLE probe_requests (
  id bigserial PRIMARY KEY,
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  count integer NOT NULL DEFAULT 1 CHECK (count > 0),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'done', 'failed')),
  requested_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX probe_requests_pending_idx ON probe_requests (id) WHERE status = 'pending';

CREATE TABLE probe_results (
  request_id bigint PRIMARY KEY REFERENCES probe_requests (id) ON DELETE CASCADE,
  src_node_id integer NOT NULL,
  dst_node_id integer NOT NULL,
  ok boolean NOT NULL,
  rtt_ns bigint,
  error text,
  measured_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE config_errors (
  table_name text NOT NULL,
  row_id text NOT NULL,
  code text NOT NULL,
  message text NOT NULL,
  first_seen timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, row_id)
);

CREATE TABLE changes (
  seq bigserial PRIMARY KEY,
  table_name text NOT NULL,
  op text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')),
  row_id text NOT NULL,
  origin text NOT NULL DEFAULT 'sql',
  changed_at timestamptz NOT NULL DEFAULT now()
);

-- The id of a row as text: its key columns (trigger arguments) joined by ','.
CREATE FUNCTION nextmini_row_id(r jsonb, keys text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT string_agg(r ->> k, ',' ORDER BY i) FROM unnest(keys) WITH ORDINALITY AS u(k, i)
$$;

-- One change: a row in `changes` and NOTIFY nextmini with its seq (sent at commit).
CREATE FUNCTION nextmini_record_change(tbl text, op text, id text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  new_seq bigint;
BEGIN
  INSERT INTO changes (table_name, op, row_id, origin)
  VALUES (tbl, op, id, coalesce(nullif(current_setting('nextmini.origin', true), ''), 'sql'))
  RETURNING seq INTO new_seq;
  PERFORM pg_notify('nextmini', new_seq::text);
END
$$;

-- Row trigger; its arguments name the key columns. An UPDATE that changes the key is logged
-- as a DELETE of the old id and an INSERT of the new one.
CREATE FUNCTION nextmini_log_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  old_id text;
  new_id text;
BEGIN
  IF TG_OP <> 'INSERT' THEN old_id := nextmini_row_id(to_jsonb(OLD), TG_ARGV); END IF;
  IF TG_OP <> 'DELETE' THEN new_id := nextmini_row_id(to_jsonb(NEW), TG_ARGV); END IF;
  IF TG_OP = 'UPDATE' AND old_id IS DISTINCT FROM new_id THEN
    PERFORM nextmini_record_change(TG_TABLE_NAME, 'DELETE', old_id);
    PERFORM nextmini_record_change(TG_TABLE_NAME, 'INSERT', new_id);
  ELSE
    PERFORM nextmini_record_change(TG_TABLE_NAME, TG_OP, coalesce(new_id, old_id));
  END IF;
  RETURN NULL;
END
$$;

-- TRUNCATE fires no row trigger: log it once, row id '*'.
CREATE FUNCTION nextmini_log_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextmini_record_change(TG_TABLE_NAME, 'TRUNCATE', '*');
  RETURN NULL;
END
$$;

-- Every statement on routes moves the route-set version on.
CREATE FUNCTION nextmini_bump_routes_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval('routes_version_seq');
  RETURN NULL;
END
$$;

CREATE TRIGGER routes_changes AFTER INSERT OR UPDATE OR DELETE ON routes
  FOR EACH ROW EXECUTE FUNCTION nextmini_log_change('route_id');
CREATE TRIGGER routes_truncate AFTER TRUNCATE ON routes
  FOR EACH STATEMENT EXECUTE FUNCTION nextmini_log_truncate();
CREATE TRIGGER routes_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON routes
  FOR EACH STATEMENT EXECUTE FUNCTION nextmini_bump_routes_version();

CREATE TRIGGER flows_changes
  AFTER INSERT OR DELETE OR UPDATE OF src_node_id, dst_node_id, flow_len_type, flow_len_bytes,
    flow_len_duration, flow_rate, flow_weight, transport ON flows
  FOR EACH ROW EXECUTE FUNCTION nextmini_log_change('id');
CREATE TRIGGER flows_truncate AFTER TRUNCATE ON flows
  FOR EACH STATEMENT EXECUTE FUNCTION nextmini_log_truncate();

CREATE TRIGGER flow_routes_changes AFTER INSERT OR UPDATE OR DELETE ON flow_routes
  FOR EACH ROW EXECUTE FUNCTION nextmini_log_change('flow_id');
CREATE TRIGGER flow_routes_truncate AFTER TRUNCATE ON flow_routes
  FOR EACH STATEMENT EXECUTE FUNCTION nextmini_log_truncate();

CREATE TRIGGER link_params_changes AFTER INSERT OR UPDATE OR DELETE ON link_params
  FOR EACH ROW EXECUTE FUNCTION nextmini_log_change('src_node_id', 'dst_node_id');
CREATE TRIGGER link_params_truncate AFTER TRUNCATE ON link_params
  FOR EACH STATEMENT EXECUTE FUNCTION nextmini_log_truncate();

CREATE TRIGGER probe_requests_changes AFTER INSERT ON probe_requests
  FOR EACH ROW EXECUTE FUNCTION nextmini_log_change('id');
)sql";

constexpr std::array kMigrations{
    Migration{1, "initial schema", kSchemaV1},
};

// Every object the migrations create, for reset_database(). The reset test checks that nothing
// of ours is left in the schema after it, so a new migration must extend these lists.
constexpr std::string_view kDropEverything = R"sql(
DROP TABLE IF EXISTS changes, config_errors, probe_results, probe_requests, group_routes,
  group_members, groups, app_flows, metrics_latest, flow_metrics, metrics, link_params,
  flow_routes, flows, routes, nodes, schema_version CASCADE;
DROP SEQUENCE IF EXISTS routes_version_seq CASCADE;
DROP FUNCTION IF EXISTS nextmini_bump_routes_version(), nextmini_log_truncate(),
  nextmini_log_change(), nextmini_record_change(text, text, text),
  nextmini_row_id(jsonb, text[]) CASCADE;
)sql";

constexpr std::string_view kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (
  version integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)
)sql";

// One key for pg_advisory_xact_lock: "nextmini" in ASCII.
constexpr std::int64_t kMigrationLock = 0x6e6578746d696e69;

Result<int> recorded_version(const Connection& connection) {
  auto exists = connection.exec("SELECT to_regclass('schema_version') IS NOT NULL");
  if (!exists) return Failure{exists.error()};
  auto present = exists->get_bool(0, 0);
  if (!present) return Failure{present.error()};
  if (!*present) return 0;
  auto version = connection.exec("SELECT coalesce(max(version), 0) FROM schema_version");
  if (!version) return Failure{version.error()};
  auto value = version->get_int(0, 0);
  if (!value) return Failure{value.error()};
  return static_cast<int>(*value);
}

Result<int> migrate_locked(const Connection& connection) {
  auto locked = connection.exec("SELECT pg_advisory_xact_lock($1)", Params(kMigrationLock));
  if (!locked) return Failure{locked.error()};
  auto current = recorded_version(connection);
  if (!current) return current;
  const int latest = latest_schema_version();
  if (*current > latest) {
    return fail("pg.schema_newer",
                fmt::format("the database schema is at version {}, newer than this Nextmini "
                            "understands ({}); upgrade Nextmini or use another database",
                            *current, latest));
  }
  if (*current == latest) return latest;
  if (auto created = connection.exec_script(kCreateVersionTable); !created) {
    return Failure{created.error()};
  }
  for (const auto& migration : migrations()) {
    if (migration.version <= *current) continue;
    if (auto applied = connection.exec_script(migration.sql); !applied) {
      return fail(applied.error().code, fmt::format("migration {} ({}): {}", migration.version,
                                                    migration.name, applied.error().message));
    }
    auto recorded = connection.exec("INSERT INTO schema_version (version, name) VALUES ($1, $2)",
                                    Params(migration.version, migration.name));
    if (!recorded) return Failure{recorded.error()};
  }
  return latest;
}

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

int latest_schema_version() { return kMigrations.back().version; }

Result<int> schema_version(const Connection& connection) { return recorded_version(connection); }

Result<int> migrate(const Connection& connection) {
  return connection.transaction([&] { return migrate_locked(connection); });
}

Result<int> reset_database(const Connection& connection) {
  return connection.transaction([&]() -> Result<int> {
    auto locked = connection.exec("SELECT pg_advisory_xact_lock($1)", Params(kMigrationLock));
    if (!locked) return Failure{locked.error()};
    if (auto dropped = connection.exec_script(kDropEverything); !dropped) {
      return Failure{dropped.error()};
    }
    return migrate_locked(connection);
  });
}

}  // namespace nextmini::controller::pg
