"""Nodes with 2 workers (issue 5, `[[nodes]] workers`): each node opens its TUN with 2 queues
(IFF_MULTI_QUEUE) and runs 2 worker threads. Through the line 1 - 2 - 3, ping and 4 parallel
iperf3 TCP flows work, node 2 hands the transit traffic from the worker that received it to
the worker that owns the next link, and a rate-limited link keeps its rate for the aggregate
of flows coming from both workers. Every node's TUN steers each flow (and its answers) to one
queue for good (a steering eBPF program): on node 1, whose one link belongs to worker 1, the flows
the program puts on queue 0 are read by worker 0 and handed to worker 1 for their whole life,
while their answers arrive on worker 1's queue, and every flow stays in order both ways."""

import json
import re
import subprocess
import time
from pathlib import Path

from conftest import CONFIGS, RUN_DIR
from iperf import run_client, start_server, stop_server

LINE3 = CONFIGS / "line3_workers.toml"
UDP_ORDER = Path(__file__).resolve().parent / "udp_order.py"


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


def udp_order_round(network, address, port):
    """16 sequence-numbered UDP flows node 1 -> node 3 `address`, echoed back; both reports."""
    server = subprocess.Popen(
        [network.binary, "exec", "3", "--", "/usr/bin/python3", str(UDP_ORDER), "server",
         address, str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout.readline().strip() == "listening"
        time.sleep(0.2)
        client = network.exec(1, "/usr/bin/python3", str(UDP_ORDER), "client", address, str(port),
                              "16", "3000", timeout=120)
        assert client.returncode == 0, client.stdout + client.stderr
        echoes = json.loads(client.stdout.strip().splitlines()[-1])
        served = json.loads(server.communicate(timeout=30)[0].strip().splitlines()[-1])
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    print(f"{address}: 16 UDP flows, {echoes['sent']} datagrams sent: node 3 received "
          f"{served['received']} ({served['out_of_order']} out of order), node 1 got "
          f"{echoes['echoed']} echoes ({echoes['out_of_order']} out of order)")
    return served, echoes


def test_flows_stay_on_their_queue_and_in_order_while_answers_arrive_on_the_other(network):
    network.up(LINE3)
    network.wait_for_ping(1, "10.0.0.3")
    rounds = [udp_order_round(network, "10.0.0.3", 7400),
              udp_order_round(network, "fd00:6e6d::3", 7401)]
    down = network.down()
    assert down.returncode == 0, down.stderr
    for node in (1, 2, 3):
        assert "queue steering: flow hash (eBPF)" in node_log(node), node_log(node)[-2000:]
    for served, echoes in rounds:
        assert served["flows"] == 16, served
        # (UDP: datagrams may be dropped, mostly by the Python ends' socket buffers.)
        assert served["received"] > 0.25 * echoes["sent"], (served, echoes)
        assert echoes["echoed"] > 0.25 * echoes["sent"], echoes
        assert served["out_of_order"] == 0, served
        assert echoes["out_of_order"] == 0, echoes
    # Node 1's worker 0 kept reading the flows steered to queue 0 although their answers came
    # in on worker 1's link and queue (the kernel's own steering would have moved those flows to
    # queue 1 after their first answer, leaving worker 0 a few hundred packets at most).
    moved = handed_off(1)
    print(f"node 1 handed {moved} packets from worker 0 to worker 1")
    assert moved > 5000, node_log(1)[-3000:]
