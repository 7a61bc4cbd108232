#!/bin/sh
# Usage: examples/reroute_by_sql.sh [--db URL] SRC DST NODE NODE...
#
# Reroute the traffic of a running network by SQL: every flow from node SRC to node DST moves to
# the path NODE NODE... (from SRC to DST). The controller must run with --db
# (docs/database.md); it hears the change (LISTEN/NOTIFY) and pushes the new route to the nodes
# on it within a second.
#
#   examples/reroute_by_sql.sh --db "$DATABASE_URL" 1 3 1 4 3      # 1 -> 3 by way of node 4
#
# What it does, in one transaction: UPDATE the edges of every route of (SRC, DST) to the path
# (or INSERT a route when the pair has none), marked with origin 'reroute_by_sql' in the change
# log. Then it waits a second and reports what the controller refused (config_errors), if
# anything. Needs psql.
#
# Options: --db URL     the database (for a network from `sudo nextmini up CONFIG --db URL`,
#                       the same URL)
#          -h, --help   this text
# Environment: DATABASE_URL (when --db is not given), else libpq's own (PGHOST, PGUSER, ...).
# Exit status: 0 when the route is in; 1 when the controller refused it (the network keeps its
# previous route) or psql failed; 2 for bad arguments.
set -eu
. "$(dirname "$0")/../scripts/lib/help.sh"

usage() {
  echo "$0: $1 (see $0 --help)" >&2
  exit 2
}

case "${1:-}" in
  -h | --help) print_help "$0" && exit 0 ;;
  --db) ;;
  -*) unknown_option reroute_by_sql.sh "$0" "$1" ;;
esac
db="${DATABASE_URL:-}"
if [ "${1:-}" = "--db" ]; then
  [ $# -ge 2 ] || usage "--db needs a URL"
  db=$2
  shift 2
fi
[ $# -ge 4 ] || usage "give SRC, DST and a path of at least two nodes"
src=$1
dst=$2
shift 2

edges=""
previous=""
for node in "$@"; do
  case $node in '' | *[!0-9]*) usage "'$node' is not a node id" ;; esac
  [ -z "$previous" ] || edges="$edges${edges:+, }[$previous, $node]"
  previous=$node
done
[ "$1" = "$src" ] && [ "$previous" = "$dst" ] || usage "the path must go from node $src to node $dst"
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
