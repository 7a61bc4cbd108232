#!/bin/sh
# Reroute the traffic of a running network by SQL: every flow from node SRC to node DST moves to
# PATH. The controller must run with --db (docs/database.md); it hears the change (LISTEN/NOTIFY)
# and pushes the new route to the nodes on it within a second.
#
#   examples/reroute_by_sql.sh [--db URL] SRC DST NODE NODE...
#   examples/reroute_by_sql.sh --db "$DATABASE_URL" 1 3 1 4 3      # 1 -> 3 by way of node 4
#
# URL: --db, else $DATABASE_URL, else libpq's own environment (PGHOST, PGUSER, ...). For a
# network from `sudo nextmini up CONFIG --db URL`, use the same URL.
# What it does, in one transaction: UPDATE the edges of every route of (SRC, DST) to the path
# (or INSERT a route when the pair has none), marked with origin 'reroute_by_sql' in the change
# log. Then it waits a second and reports what the controller refused (config_errors), if
# anything: exit 1 then, the network keeps its previous route.
set -eu

usage() {
  echo "usage: $0 [--db URL] SRC DST NODE NODE...   (PATH from SRC to DST, e.g. 1 3 1 4 3)" >&2
  exit 2
}

db="${DATABASE_URL:-}"
if [ "${1:-}" = "--db" ]; then
  [ $# -ge 2 ] || usage
  db=$2
  shift 2
fi
[ $# -ge 4 ] || usage
src=$1
dst=$2
shift 2

edges=""
previous=""
for node in "$@"; do
  case $node in '' | *[!0-9]*) echo "$0: '$node' is not a node id" >&2 && exit 2 ;; esac
  [ -z "$previous" ] || edges="$edges${edges:+, }[$previous, $node]"
  previous=$node
done
[ "$1" = "$src" ] && [ "$previous" = "$dst" ] || {
  echo "$0: the path must go from node $src to node $dst" >&2
  exit 2
}
edges="[$edges]"

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 ${db:+-d "$db"} -v src="$src" -v dst="$dst" \
  -v edges="$edges" "$@"; }

sql <<'SQL'
BEGIN;
SET LOCAL nextmini.origin = 'reroute_by_sql';
UPDATE routes SET edges = :'edges'::jsonb WHERE src_node_id = :src AND dst_node_id = :dst;
INSERT INTO routes (route_id, src_node_id, dst_node_id, edges)
  SELECT coalesce(max(route_id), 0) + 1, :src, :dst, :'edges'::jsonb FROM routes
  HAVING NOT EXISTS (SELECT 1 FROM routes WHERE src_node_id = :src AND dst_node_id = :dst);
COMMIT;
SQL

sleep 1
refused=$(sql <<'SQL'
SELECT 'route ' || e.row_id || ': ' || e.message FROM config_errors e
  JOIN routes r ON e.table_name = 'routes' AND e.row_id = r.route_id::text
  WHERE r.src_node_id = :src AND r.dst_node_id = :dst;
SQL
)
if [ -n "$refused" ]; then
  echo "the controller refused it (the network keeps the previous route):" >&2
  echo "$refused" >&2
  exit 1
fi
sql <<'SQL'
SELECT 'route ' || route_id || ' (' || src_node_id || ' -> ' || dst_node_id || '): ' || edges
  FROM routes WHERE src_node_id = :src AND dst_node_id = :dst ORDER BY route_id;
SQL
