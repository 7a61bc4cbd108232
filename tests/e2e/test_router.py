"""Nextmini nodes behave like routers for the traffic of their hosts: IPv6 works through the
TUN as IPv4 does (ping -6, iperf3 -6 across two hops), every node that forwards a packet — the
source node (its host's first router) and each transit node — decrements the TTL / hop limit
and answers an expired packet with ICMP Time Exceeded from its own address (so TTL-limited
pings show each hop, like traceroute), and an address no node owns is answered with ICMP
Destination Unreachable. `nextmini up`, `nextmini status` and the HTTP API show each node's
IPv6 address beside its IPv4 one. Line of four nodes: 1 - 2 - 3 - 4."""

import re

from conftest import CONFIGS, RUN_DIR
from iperf import run_client, start_server, stop_server

LINE4 = CONFIGS / "line4.toml"


def v4(node):
    return f"10.0.0.{node}"


def v6(node):
    return f"fd00:6e6d::{node}"


def test_ping6_and_iperf3_6_through_two_hops(network):
    summary = network.up(LINE4).stdout
    # The IPv6 addresses are shown where the IPv4 ones are: up's summary and status.
    for node in (1, 4):
        assert re.search(rf"\b{node}\s+{re.escape(v4(node))}\s+{re.escape(v6(node))}\s", summary), \
            summary
    nodes = {node["id"]: node for node in network.status()["state"]["nodes"]}
    assert nodes[3]["overlay"] == v4(3) and nodes[3]["overlay6"] == v6(3), nodes[3]
    text = network.cmd("status", check=True).stdout
    assert re.search(rf"\b2\s+{re.escape(v4(2))}\s+{re.escape(v6(2))}\s", text), text
    first = network.wait_for_ping(1, v6(3))
    assert first.returncode == 0, f"ping -6 1 -> 3 failed:\n{first.stdout}\n{network.logs()}"
    result = network.ping(1, v6(3), count=5)
    assert " 0% packet loss" in result.stdout, result.stdout
    assert network.ping(4, v6(1)).returncode == 0, "ping -6 4 -> 1 (three hops) failed"
    # Each node has both addresses on its TUN.
    addresses = network.exec(2, "ip", "-o", "addr", "show", "dev", "utun", check=True).stdout
    assert f"{v4(2)}/16" in addresses and f"{v6(2)}/64" in addresses, addresses

    rates = {}
    for family, address in (("IPv6", v6(3)), ("IPv4", v4(3))):
        server = start_server(network, 3, address)
        try:
            report = run_client(network, 1, address, "-t", "4")
        finally:
            stop_server(server)
        received = report["end"]["sum_received"]
        rates[family] = received["bits_per_second"] / 1e6
        assert report["start"]["connected"][0]["remote_host"] == address
        assert received["bytes"] > 10 * 1024 * 1024, f"{family}: {received['bytes']} bytes"
    print(f"iperf3 1 -> 3 (two hops): IPv6 {rates['IPv6']:.1f} Mbit/s, "
          f"IPv4 {rates['IPv4']:.1f} Mbit/s")
    assert rates["IPv6"] > 20, f"only {rates['IPv6']:.1f} Mbit/s over IPv6 from node 1 to node 3"


def hop_reporting(network, address, ttl, ipv6):
    """Sends one ping with TTL / hop limit `ttl`; returns the address that answered it and
    whether the answer was a Time Exceeded (None when nothing answered)."""
    argv = ["ping", "-c", "1", "-W", "2", "-t", str(ttl), address]
    if ipv6:
        argv.insert(1, "-6")
    result = network.exec(1, *argv)
    exceeded = re.search(r"From (\S+?):? icmp_seq=\d+ Time (to live )?exceeded", result.stdout)
    if exceeded:
        return exceeded.group(1), True
    reply = re.search(r"bytes from (\S+?):? icmp_seq=\d+", result.stdout)
    if reply:
        return reply.group(1), False
    return None, f"{result.stdout}\n{result.stderr}"


def test_ttl_limited_pings_show_each_hop(network):
    network.up(LINE4)
    for ipv6, address in ((False, v4), (True, v6)):
        assert network.wait_for_ping(1, address(4)).returncode == 0, network.logs()
        # TTL 1 expires at node 1 (the host's own router, the first to forward), 2 at node 2,
        # 3 at node 3; 4 reaches node 4.
        path = [hop_reporting(network, address(4), ttl, ipv6) for ttl in (1, 2, 3, 4)]
        print(f"{'IPv6' if ipv6 else 'IPv4'} path 1 -> 4: {path}")
        assert path == [(address(1), True), (address(2), True), (address(3), True),
                        (address(4), False)], path
        # A direct neighbour is one router away: TTL 1 does not reach it, TTL 2 does.
        neighbour = [hop_reporting(network, address(2), ttl, ipv6) for ttl in (1, 2)]
        assert neighbour == [(address(1), True), (address(2), False)], neighbour
    network.down()
    for node in (1, 2, 3):
        log = (RUN_DIR / "logs" / f"node-{node}.log").read_text(errors="replace")
        sent = re.search(rf"node {node}: icmp errors: (\d+) time exceeded", log)
        assert sent and int(sent.group(1)) >= 2, log[-2000:]


def test_unreachable_destination_is_answered(network):
    network.up(LINE4)
    assert network.wait_for_ping(1, v4(4)).returncode == 0, network.logs()
    # No node owns 10.0.0.99 / fd00:6e6d::99: node 1 itself answers its host.
    result = network.exec(1, "ping", "-c", "1", "-W", "2", v4(99))
    assert re.search(rf"From {re.escape(v4(1))} icmp_seq=1 Destination Net Unreachable",
                     result.stdout), f"{result.stdout}\n{result.stderr}"
    result = network.exec(1, "ping", "-6", "-c", "1", "-W", "2", v6(99))
    assert re.search(rf"From {re.escape(v6(1))} icmp_seq=1 Destination unreachable: No route",
                     result.stdout), f"{result.stdout}\n{result.stderr}"
