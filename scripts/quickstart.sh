#!/usr/bin/env bash
# Usage: scripts/quickstart.sh [CONFIG]      (as root; CONFIG default examples/ring4.toml)
#
# The quickstart experiment, from a fresh Debian 12 machine: installs what is missing and
# builds (scripts/build.sh), brings up the 4-node ring of examples/ring4.toml (or CONFIG),
# pings node 3 from node 1 (two hops) and runs a 5-second iperf3 TCP test across the same two
# hops, printing the figures, then takes the network down. The network is always taken down,
# also when a step fails or on Ctrl-C.
#
# Options: -h, --help   this text
# Environment: NEXTMINI_BIN=path/to/nextmini skips the install-and-build step and uses that
#              binary.
# Exit status: 0 when every step worked; 1 when one failed or when not run as root; 2 for an
# unknown option; 130 on Ctrl-C.
set -euo pipefail
. "$(dirname "$0")/lib/help.sh"
case "${1:-}" in
  -h | --help) print_help "$0" && exit 0 ;;
  -*) unknown_option quickstart "$0" "$1" ;;
esac
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "quickstart: run me as root (the network lives in network namespaces)" >&2
  exit 1
fi

config="${1:-examples/ring4.toml}"
if [ ! -f "$config" ]; then
  echo "quickstart: config $config not found" >&2
  exit 1
fi

if [ -n "${NEXTMINI_BIN:-}" ]; then
  nextmini="$NEXTMINI_BIN"
else
  bash scripts/build.sh
  nextmini="$PWD/build/cli/nextmini"
fi

iperf_server=""
cleanup() {
  if [ -n "$iperf_server" ]; then kill "$iperf_server" 2>/dev/null || true; fi
  echo "== nextmini down"
  "$nextmini" down || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== nextmini up $config --detach"
"$nextmini" up "$config" --detach

echo
echo "== ping from node 1 to node 3 (10.0.0.3, two hops)"
ping_output="$("$nextmini" exec 1 -- ping -c 5 -i 0.2 10.0.0.3)"
echo "$ping_output"
rtt_line="$(grep -E '^(rtt|round-trip)' <<<"$ping_output" || true)"
loss_line="$(grep -E 'packet loss' <<<"$ping_output" || true)"

echo
echo "== iperf3: 5 seconds of TCP from node 1 to node 3 (two hops)"
"$nextmini" exec 3 -- iperf3 -s -1 -B 10.0.0.3 >/dev/null &
iperf_server=$!
for _ in $(seq 100); do
  if "$nextmini" exec 3 -- ss -ltnH "sport = :5201" | grep -q 5201; then break; fi
  sleep 0.1
done
iperf_json="$("$nextmini" exec 1 -- iperf3 -c 10.0.0.3 -t 5 -J)"
wait "$iperf_server" || true
iperf_server=""
gbps="$(/usr/bin/python3 -c '
import json, sys
report = json.load(sys.stdin)
if "error" in report:
    sys.exit("iperf3: " + report["error"])
print("%.2f" % (report["end"]["sum_received"]["bits_per_second"] / 1e9))
' <<<"$iperf_json")"

echo
echo "== results"
echo "ping 1 -> 3: $loss_line"
echo "ping 1 -> 3: $rtt_line"
echo "iperf3 TCP 1 -> 3 (5 s, two hops): $gbps Gbit/s"
