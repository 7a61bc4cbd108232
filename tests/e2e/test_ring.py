"""A 4-node ring (1-2-3-4-1) carrying real traffic: ping and iperf3 across two hops, an
explicit route taking the long way round, a killed node restarted, garbage on the wire."""

import os
import re
import signal
import time
from pathlib import Path

from conftest import CONFIGS, RUN_DIR, link_bytes
from iperf import run_client, start_server, stop_server

RING4 = CONFIGS / "ring4.toml"
RING4_LONG = CONFIGS / "ring4_long_route.toml"


def test_ping_two_hops(network):
    network.up(RING4)
    result = network.ping(1, "10.0.0.3", count=5)
    assert result.returncode == 0, f"ping 1 -> 3 failed:\n{result.stdout}\n{network.logs()}"
    assert " 0% packet loss" in result.stdout, result.stdout
    # And the other way, and to a neighbour.
    assert network.ping(3, "10.0.0.1").returncode == 0
    assert network.ping(2, "10.0.0.1").returncode == 0


def test_iperf3_tcp_two_hops(network):
    network.up(RING4)
    server = start_server(network, 3, "10.0.0.3")
    try:
        report = run_client(network, 1, "10.0.0.3", "-t", "5")
    finally:
        stop_server(server)
    received = report["end"]["sum_received"]
    mbps = received["bits_per_second"] / 1e6
    print(f"iperf3 1 -> 3 (two hops): {mbps:.1f} Mbit/s, {received['bytes']} bytes")
    assert received["seconds"] >= 4.5
    assert received["bytes"] > 10 * 1024 * 1024
    assert mbps > 20, f"only {mbps:.1f} Mbit/s from node 1 to node 3"


def bytes_through_nodes_2_and_4(network, megabytes=20):
    """Sends `megabytes` from node 1 to node 3 and returns how many underlay bytes went
    through node 2's and node 4's bridge ports meanwhile."""
    server = start_server(network, 3, "10.0.0.3")
    before = link_bytes("nmv2"), link_bytes("nmv4")
    try:
        run_client(network, 1, "10.0.0.3", "-n", f"{megabytes}M")
    finally:
        stop_server(server)
    after = link_bytes("nmv2"), link_bytes("nmv4")
    return after[0] - before[0], after[1] - before[1]


def link_tx_bytes(node):
    """Nextmini's own per-link counters of `node`, {neighbour: tx bytes}, from the summary the
    node logs when it stops (so read after `nextmini down`, which keeps the logs)."""
    log = (RUN_DIR / "logs" / f"node-{node}.log").read_text(errors="replace")
    counters = {}
    for match in re.finditer(rf"node {node}: link (\d+): .*?tx (\d+) pkts (\d+) B", log):
        counters[int(match.group(1))] = int(match.group(3))
    assert counters, f"no per-link counters in node {node}'s log:\n{log[-2000:]}"
    return counters


def test_explicit_route_takes_the_long_way(network):
    # iperf3 -n stops once the client has written this much; a little may still be in flight
    # when the counters are read, hence the 0.8 (per link) and 1.2 (underlay, counted twice).
    sent = 20 * 1024 * 1024
    # The computed route 1 -> 2 -> 3: node 2 forwards the data, node 4 sees only control
    # traffic and (the replies' route 3 -> 2 -> 1 also avoids it) nothing else.
    network.up(RING4)
    via2, via4 = bytes_through_nodes_2_and_4(network)
    down = network.down()
    assert down.returncode == 0, down.stderr
    node1, node2 = link_tx_bytes(1), link_tx_bytes(2)
    print(f"computed route: underlay node 2 {via2} B, node 4 {via4} B; "
          f"nextmini links 1->2 {node1[2]} B, 1->4 {node1[4]} B, 2->3 {node2[3]} B")
    # The data crosses node 2's port twice (into node 2, and out to node 3).
    assert via2 > 1.2 * sent, "the data did not go through node 2"
    assert via4 < sent / 20, "the data went through node 4 without an explicit route"
    assert node1[2] > 0.8 * sent and node2[3] > 0.8 * sent, \
        "Nextmini's link counters miss the data"
    assert node1[4] < sent / 20

    # [[routes]] route = [1, 4, 3]: the data goes 1 -> 4 -> 3 (in and out of node 4's port);
    # only the replies (TCP acknowledgements, 3 -> 2 -> 1) cross node 2.
    network.up(RING4_LONG)
    via2, via4 = bytes_through_nodes_2_and_4(network)
    down = network.down()
    assert down.returncode == 0, down.stderr
    node1, node2, node4 = link_tx_bytes(1), link_tx_bytes(2), link_tx_bytes(4)
    print(f"explicit route 1-4-3: underlay node 2 {via2} B, node 4 {via4} B; "
          f"nextmini links 1->2 {node1[2]} B, 1->4 {node1[4]} B, 4->3 {node4[3]} B, "
          f"2->3 {node2[3]} B")
    assert via4 > 1.2 * sent, "the data did not take the explicit route through node 4"
    assert via2 < via4 / 5, "most of the traffic still went through node 2"
    assert node1[4] > 0.8 * sent and node4[3] > 0.8 * sent, \
        "Nextmini's link counters miss the long way"
    assert node1[2] < sent / 20 and node2[3] < sent / 20, "data still went 1 -> 2 -> 3"


def test_killed_node_restarts_and_traffic_comes_back(network):
    network.up(RING4)
    assert network.ping(1, "10.0.0.3").returncode == 0
    before = network.pids()

    # Node 2 is on the route 1 -> 2 -> 3.
    os.kill(before[2], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{before[2]}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{before[2]}")
    assert "NOT RUNNING" in network.cmd("status").stdout

    restarted = network.cmd("restart", "2")
    assert restarted.returncode == 0, restarted.stderr
    result = network.wait_for_ping(1, "10.0.0.3", within=30)
    assert result.returncode == 0, f"no ping after the restart:\n{result.stdout}\n{network.logs()}"

    after = network.pids()
    assert after[2] != before[2]
    assert os.path.exists(f"/proc/{after[2]}")
    for name in ("controller", 1, 3, 4):
        assert after[name] == before[name], f"{name} was restarted too"
        assert os.path.exists(f"/proc/{after[name]}"), f"{name} is not running"


def test_garbage_on_the_wire_does_not_break_the_network(network):
    network.up(RING4)
    # Random bytes at node 2's link port and at the controller's WebSocket port, from the
    # controller's namespace (which reaches every node over the underlay bridge).
    for target in ("100.127.0.2 4000", "100.127.255.254 3000"):
        network.exec("ctl", "sh", "-c",
                     f"head -c 65536 /dev/urandom | timeout 5 nc -q 1 {target} || true",
                     timeout=30)
    # A truncated WebSocket upgrade followed by a hang-up.
    network.exec("ctl", "sh", "-c",
                 "printf 'GET / HTTP/1.1\\r\\nHost: x\\r\\nUpgrade: webs' | "
                 "timeout 5 nc -q 1 100.127.255.254 3000 || true", timeout=30)
    # A real WebSocket session sending an undecodable message and then a truncated frame.
    garbage = network.exec("ctl", "/usr/bin/python3", str(Path(__file__).parent / "ws_garbage.py"),
                           "100.127.255.254", "3000", timeout=30)
    assert garbage.returncode == 0, garbage.stdout + garbage.stderr
    pids = network.pids()
    for name, pid in pids.items():
        assert os.path.exists(f"/proc/{pid}"), f"{name} died after garbage input"
    result = network.wait_for_ping(1, "10.0.0.3", within=15)
    assert result.returncode == 0, f"ping failed after garbage input:\n{network.logs()}"

    # The controller counted the undecodable message (its stop summary says how many).
    down = network.down()
    assert down.returncode == 0, down.stderr
    log = (RUN_DIR / "logs" / "controller.log").read_text(errors="replace")
    counted = re.findall(r"(\d+) undecodable", log)
    assert counted and int(counted[-1]) >= 1, f"undecodable message not counted:\n{log[-2000:]}"
