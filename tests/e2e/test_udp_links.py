"""The 4-node ring over udp links (`protocol = "udp"`): ping and iperf3 TCP across two hops,
and proof that the nodes talk UDP to each other (one UDP socket per node on the link port, no
TCP link connection, underlay UDP datagrams and bytes counted by the kernel) and that the
super-packets crossed as UDP GSO messages regrouped by the receiver (UDP_GRO)."""

import re

from conftest import CONFIGS, RUN_DIR
from iperf import run_client, start_server, stop_server

RING4_UDP = CONFIGS / "ring4_udp.toml"
LINK_PORT = 4000


def udp_datagrams(network, node):
    """Datagrams node `node`'s namespace has received over UDP (kernel SNMP counters)."""
    text = network.exec(node, "cat", "/proc/net/snmp", check=True).stdout
    lines = [line.split() for line in text.splitlines() if line.startswith("Udp:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["InDatagrams"])


def underlay_rx_bytes(network, node):
    """Bytes node `node`'s underlay interface (eth0) has received."""
    text = network.exec(node, "cat", "/sys/class/net/eth0/statistics/rx_bytes", check=True).stdout
    return int(text.strip())


def test_ping_and_iperf3_two_hops_over_udp_links(network):
    network.up(RING4_UDP)
    result = network.wait_for_ping(1, "10.0.0.3")
    assert result.returncode == 0, f"ping 1 -> 3 failed:\n{result.stdout}\n{network.logs()}"
    result = network.ping(1, "10.0.0.3", count=5)
    assert " 0% packet loss" in result.stdout, result.stdout

    before = udp_datagrams(network, 2)
    bytes_before = underlay_rx_bytes(network, 2)
    server = start_server(network, 3, "10.0.0.3")
    try:
        report = run_client(network, 1, "10.0.0.3", "-t", "5")
    finally:
        stop_server(server)
    received = report["end"]["sum_received"]
    mbps = received["bits_per_second"] / 1e6
    forwarded = udp_datagrams(network, 2) - before
    underlay_bytes = underlay_rx_bytes(network, 2) - bytes_before
    print(f"iperf3 1 -> 3 over udp links: {mbps:.1f} Mbit/s, {received['bytes']} bytes; "
          f"node 2 received {forwarded} underlay UDP receives, {underlay_bytes} bytes")
    assert received["seconds"] >= 4.5
    assert received["bytes"] > 10 * 1024 * 1024
    assert mbps > 20, f"only {mbps:.1f} Mbit/s from node 1 to node 3 over udp links"
    # Node 2 forwards the data 1 -> 3 (and the acks back): every byte reached its underlay, in
    # UDP receives (one per datagram, or per UDP GSO message when the kernel hands it over whole).
    assert underlay_bytes > received["bytes"], underlay_bytes
    assert forwarded > 1000, forwarded

    # UDP inside crosses too (the TUN's partial UDP checksums travel as they are and node 3's
    # kernel completes them; that the completed checksums are right is proven byte for byte in
    # dataplane_transport_test): iperf3 -u at a rate the machine always keeps.
    server = start_server(network, 3, "10.0.0.3")
    try:
        report = run_client(network, 1, "10.0.0.3", "-u", "-b", "100M", "-l", "1300", "-t", "2")
    finally:
        stop_server(server)
    udp_sum = report["end"]["sum"]
    print(f"iperf3 -u 1 -> 3: {udp_sum['packets']} datagrams, {udp_sum['lost_percent']:.2f} % lost")
    assert udp_sum["packets"] > 10_000 and udp_sum["lost_percent"] < 5, udp_sum

    # The links are UDP: node 2 has a UDP socket on the link port and no TCP link connection.
    udp = network.exec(2, "ss", "-uanH", check=True).stdout
    assert re.search(rf":{LINK_PORT}\b", udp), f"no UDP socket on port {LINK_PORT}:\n{udp}"
    tcp = network.exec(2, "ss", "-tnH", "state", "established", check=True).stdout
    links = [line for line in tcp.splitlines() if re.search(rf":{LINK_PORT}\b", line)]
    assert links == [], f"tcp link connections on a udp network:\n{tcp}"

    down = network.down()
    assert down.returncode == 0, down.stderr
    log = (RUN_DIR / "logs" / "node-2.log").read_text(errors="replace")
    assert "udp link" in log and "udp transport:" in log, log[-3000:]
    # The segments of the super-packets crossed as UDP GSO messages and node 2's socket (UDP_GRO)
    # got them back whole: regrouped into super-packets.
    summary = re.search(r"(\d+) GRO receives, (\d+) regrouped into super-packets \(GRO on\)", log)
    assert summary and int(summary.group(2)) > 0, log[-3000:]
