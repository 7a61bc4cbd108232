#!/usr/bin/env bash
# Throughput benchmark (root). In one run, iperf3 TCP (one stream) over:
#   1. a plain kernel veth pair between two namespaces (the reference),
#   2. wireguard-go between two namespaces joined by a veth pair (a user-space tunnel peer),
#   3. a Nextmini path of 1 hop  (bench/configs/line2.toml, node 1 -> node 2),
#   4. a Nextmini path of 3 hops (bench/configs/line4.toml, node 1 -> node 4),
# prints each in Gbit/s with its ratios to the veth reference and to wireguard-go; the last line
# is JSON: {"veth_gbps":…,"wireguard_go_gbps":…,"nextmini_1hop_gbps":…,"nextmini_3hop_gbps":…,
#           "ratio_1hop":…,"ratio_3hop":…,"ratio_1hop_to_wireguard_go":…}
# Every namespace it makes is removed at exit, also on failure or Ctrl-C.
# Environment: NEXTMINI_BIN (default build/cli/nextmini, built if missing),
#              DURATION (seconds per iperf3 run, default 5).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "throughput: run me as root (network namespaces)" >&2
  exit 1
fi

duration="${DURATION:-5}"
nextmini="${NEXTMINI_BIN:-$PWD/build/cli/nextmini}"
if [ ! -x "$nextmini" ]; then
  bash scripts/build.sh >&2
fi
ref_a=nm-ref-a
ref_b=nm-ref-b
ref_a_addr=100.127.254.1
ref_b_addr=100.127.254.2
iperf_server=""
network_up=0

# delete_namespace NS: stops what runs inside (wireguard-go daemons) and removes it.
delete_namespace() {
  if [ ! -e "/run/netns/$1" ]; then return 0; fi
  local pids
  pids="$(ip netns pids "$1" 2>/dev/null || true)"
  if [ -n "$pids" ]; then
    kill $pids 2>/dev/null || true
    for _ in $(seq 50); do
      if [ -z "$(ip netns pids "$1" 2>/dev/null || true)" ]; then break; fi
      sleep 0.1
    done
  fi
  ip netns delete "$1"
}

cleanup() {
  if [ -n "$iperf_server" ]; then kill "$iperf_server" 2>/dev/null || true; fi
  for ns in "$ref_a" "$ref_b"; do delete_namespace "$ns"; done
  if [ "$network_up" -eq 1 ]; then "$nextmini" down >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# gbps_of: iperf3 JSON on stdin -> received Gbit/s
gbps_of() {
  /usr/bin/python3 -c '
import json, sys
report = json.load(sys.stdin)
if "error" in report:
    sys.exit("iperf3: " + report["error"])
print("%.3f" % (report["end"]["sum_received"]["bits_per_second"] / 1e9))
'
}

# wait_listening RUNNER...: waits until the iperf3 server of the given exec prefix listens
wait_listening() {
  for _ in $(seq 150); do
    if "$@" ss -ltnH "sport = :5201" | grep -q 5201; then return 0; fi
    sleep 0.1
  done
  echo "throughput: the iperf3 server did not start" >&2
  return 1
}

# make_pair: two namespaces joined by a veth pair with the reference addresses.
make_pair() {
  ip netns add "$ref_a"
  ip netns add "$ref_b"
  ip link add veth0 netns "$ref_a" type veth peer name veth0 netns "$ref_b"
  ip -n "$ref_a" addr add "$ref_a_addr/24" dev veth0
  ip -n "$ref_b" addr add "$ref_b_addr/24" dev veth0
  for ns in "$ref_a" "$ref_b"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" link set veth0 up
  done
}

# pair_run ADDRESS: sets run_gbps to the Gbit/s from $ref_a to ADDRESS in $ref_b.
pair_run() {
  ip netns exec "$ref_b" iperf3 -s -1 -B "$1" >/dev/null &
  iperf_server=$!
  wait_listening ip netns exec "$ref_b"
  run_gbps="$(ip netns exec "$ref_a" iperf3 -c "$1" -t "$duration" -J | gbps_of)"
  wait "$iperf_server" || true
  iperf_server=""
}

# 1. Reference: a veth pair between two namespaces.
if "$nextmini" status >/dev/null 2>&1; then
  echo "throughput: a Nextmini network is up; run \`nextmini down\` first" >&2
  exit 1
fi
echo "== kernel veth reference (${duration} s)" >&2
make_pair
pair_run "$ref_b_addr"
veth_gbps="$run_gbps"
delete_namespace "$ref_a"
delete_namespace "$ref_b"

# 2. wireguard-go over the same kind of veth pair (Debian's wireguard-go; on a kernel with
# WireGuard built in it must be told that user space is wanted).
echo "== wireguard-go (${duration} s)" >&2
make_pair
key_a="$(wg genkey)"
key_b="$(wg genkey)"
export WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
# Distinct interface names: both daemons share /var/run/wireguard for their control sockets.
ip netns exec "$ref_a" wireguard-go nmwga >/dev/null 2>&1
ip netns exec "$ref_b" wireguard-go nmwgb >/dev/null 2>&1
ip netns exec "$ref_a" wg set nmwga private-key <(echo "$key_a") listen-port 51820 \
  peer "$(echo "$key_b" | wg pubkey)" allowed-ips 10.99.0.2/32 endpoint "$ref_b_addr:51820"
ip netns exec "$ref_b" wg set nmwgb private-key <(echo "$key_b") listen-port 51820 \
  peer "$(echo "$key_a" | wg pubkey)" allowed-ips 10.99.0.1/32 endpoint "$ref_a_addr:51820"
ip -n "$ref_a" addr add 10.99.0.1/24 dev nmwga
ip -n "$ref_b" addr add 10.99.0.2/24 dev nmwgb
ip -n "$ref_a" link set nmwga up
ip -n "$ref_b" link set nmwgb up
pair_run 10.99.0.2
wireguard_gbps="$run_gbps"
delete_namespace "$ref_a"
delete_namespace "$ref_b"

# 3./4. Nextmini paths.
# nextmini_run CONFIG DST_NODE: sets run_gbps to the Gbit/s from node 1 to DST_NODE. Not run in
# a subshell, so the EXIT trap knows whether a network is up.
nextmini_run() {
  local config="$1" dst="$2"
  echo "== nextmini $config: node 1 -> node $dst (${duration} s)" >&2
  network_up=1
  "$nextmini" up "$config" --detach >&2
  "$nextmini" exec "$dst" -- iperf3 -s -1 -B "10.0.0.$dst" >/dev/null &
  iperf_server=$!
  wait_listening "$nextmini" exec "$dst" --
  run_gbps="$("$nextmini" exec 1 -- iperf3 -c "10.0.0.$dst" -t "$duration" -J | gbps_of)"
  wait "$iperf_server" || true
  iperf_server=""
  "$nextmini" down >&2
  network_up=0
}
nextmini_run bench/configs/line2.toml 2
one_hop_gbps="$run_gbps"
nextmini_run bench/configs/line4.toml 4
three_hop_gbps="$run_gbps"

ratio() { /usr/bin/python3 -c "print('%.3f' % ($1 / $2 if $2 > 0 else 0))"; }
ratio_1hop="$(ratio "$one_hop_gbps" "$veth_gbps")"
ratio_3hop="$(ratio "$three_hop_gbps" "$veth_gbps")"
ratio_1hop_wg="$(ratio "$one_hop_gbps" "$wireguard_gbps")"

printf '%-28s %8s Gbit/s\n' "kernel veth (reference)" "$veth_gbps"
printf '%-28s %8s Gbit/s  (ratio %s)\n' "wireguard-go" "$wireguard_gbps" \
  "$(ratio "$wireguard_gbps" "$veth_gbps")"
printf '%-28s %8s Gbit/s  (ratio %s; %s x wireguard-go)\n' "nextmini, 1 hop" "$one_hop_gbps" \
  "$ratio_1hop" "$ratio_1hop_wg"
printf '%-28s %8s Gbit/s  (ratio %s)\n' "nextmini, 3 hops" "$three_hop_gbps" "$ratio_3hop"
printf '{"veth_gbps":%s,"wireguard_go_gbps":%s,"nextmini_1hop_gbps":%s,"nextmini_3hop_gbps":%s,"ratio_1hop":%s,"ratio_3hop":%s,"ratio_1hop_to_wireguard_go":%s}\n' \
  "$veth_gbps" "$wireguard_gbps" "$one_hop_gbps" "$three_hop_gbps" "$ratio_1hop" "$ratio_3hop" \
  "$ratio_1hop_wg"
