"""Nodes with 2 workers (issue 5, `[[nodes]] workers`): each node opens its TUN with 2 queues
(IFF_MULTI_QUEUE) and runs 2 worker threads. Through the line 1 - 2 - 3, ping and 4 parallel
iperf3 TCP flows work, node 2 hands the transit traffic from the worker that received it to
the worker that owns the next link, and a rate-limited link keeps its rate for the aggregate
of flows coming from both workers."""

import re
from pathlib import Path

from conftest import CONFIGS, RUN_DIR
from iperf import run_client, start_server, stop_server

LINE3 = CONFIGS / "line3_workers.toml"


def node_log(node):
    return (RUN_DIR / "logs" / f"node-{node}.log").read_text(errors="replace")


def iperf_1_to_3(network, *extra):
    server = start_server(network, 3, "10.0.0.3")
    try:
        report = run_client(network, 1, "10.0.0.3", *extra)
    finally:
        stop_server(server)
    return report["end"]["sum_received"]


def handed_off(node):
    """Packets node `node`'s workers handed to other workers (its stop summary)."""
    return sum(int(n) for n in re.findall(rf"node {node}: worker \d+ handed (\d+) pkts",
                                          node_log(node)))


def test_two_workers_carry_ping_and_parallel_flows(network):
    network.up(LINE3)
    network.wait_for_ping(1, "10.0.0.3")
    ping = network.ping(1, "10.0.0.3", count=5)
    assert ping.returncode == 0, ping.stdout + ping.stderr
    ping6 = network.ping(3, "fd00:6e6d::1", count=3)
    assert ping6.returncode == 0, ping6.stdout + ping6.stderr
    received = iperf_1_to_3(network, "-t", "3", "-P", "4")
    assert received["bytes"] > 20 * 1024 * 1024, received
    down = network.down()
    assert down.returncode == 0, down.stderr
    for node in (1, 2, 3):
        log = node_log(node)
        assert "2 workers" in log, log[-2000:]
        assert "2 queues (IFF_MULTI_QUEUE)" in log, log[-2000:]
    moved = handed_off(2)
    print(f"node 2 handed {moved} packets between its workers")
    assert moved > 1000, node_log(2)[-3000:]


def test_a_rate_limited_link_keeps_its_rate_with_two_workers(network):
    network.up(LINE3)
    network.wait_for_ping(1, "10.0.0.3")
    result = network.cmd("ctl", "link", "set", "2", "3", "--rate", "100mbit", timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    received = iperf_1_to_3(network, "-t", "4", "-P", "4")
    rate = received["bits_per_second"]
    print(f"4 flows over a 100 Mbit/s link (node 2 has 2 workers): {rate / 1e6:.1f} Mbit/s")
    down = network.down()
    assert down.returncode == 0, down.stderr
    assert 85e6 <= rate <= 102e6, rate
