"""TUN offloads with real kernel TCP (issue 5): GSO super-packets from node 1's TUN cross the
tcp link whole and are written whole into node 2's TUN; with loss on the link they are cut
into segments first (software GSO) and merged again before node 2's TUN write (GRO); a link
mtu their segments fit does not cut them; and the receiving kernel's checksum checks pass
(iperf3 moves its data)."""

import re
from pathlib import Path

from conftest import RUN_DIR
from iperf import run_client, start_server, stop_server

LINE2 = Path(__file__).resolve().parents[2] / "bench" / "configs" / "line2.toml"


def node_log(node):
    return (RUN_DIR / "logs" / f"node-{node}.log").read_text(errors="replace")


def tun_counters(node):
    """The TUN summary node `node` logs when it stops, as a dict of ints."""
    match = re.search(
        rf"node {node}: tun \S+: rx (\d+) pkts (\d+) B \((\d+) super\), tx (\d+) pkts (\d+) B "
        rf"\((\d+) super\), segmented (\d+), coalesced (\d+), checksums completed (\d+), "
        rf"bad vnet headers (\d+)", node_log(node))
    assert match, f"no TUN summary in node {node}'s log:\n{node_log(node)[-2000:]}"
    keys = ["rx_packets", "rx_bytes", "rx_super", "tx_packets", "tx_bytes", "tx_super",
            "segmented", "coalesced", "checksums_completed", "bad_vnet_headers"]
    return dict(zip(keys, (int(g) for g in match.groups())))


def iperf_1_to_2(network, seconds):
    server = start_server(network, 2, "10.0.0.2")
    try:
        report = run_client(network, 1, "10.0.0.2", "-t", str(seconds))
    finally:
        stop_server(server)
    return report["end"]["sum_received"]


def test_super_packets_cross_whole(network):
    network.up(LINE2)
    received = iperf_1_to_2(network, 3)
    assert received["bytes"] > 50 * 1024 * 1024, received
    down = network.down()
    assert down.returncode == 0, down.stderr
    assert "offloads: vnet header, csum, tso4" in node_log(1), node_log(1)[-2000:]
    sender, receiver = tun_counters(1), tun_counters(2)
    print(f"node 1 tun: {sender}\nnode 2 tun: {receiver}")
    assert sender["rx_super"] > 100, sender
    assert sender["rx_bytes"] / sender["rx_packets"] > 1500, "no reads larger than the MTU"
    assert receiver["tx_super"] > 100, receiver
    assert receiver["segmented"] == 0 and receiver["bad_vnet_headers"] == 0, receiver


def flow_through_link_set(network, link_args, min_bytes):
    """Brings LINE2 up, sets link 1 -> 2 with `nextmini ctl link set 1 2 LINK_ARGS`, moves one
    3 s iperf3 flow 1 -> 2 (at least `min_bytes`) and brings the network down (the nodes'
    stop summaries are then in their logs)."""
    network.up(LINE2)
    result = network.cmd("ctl", "link", "set", "1", "2", *link_args, timeout=30)
    assert result.returncode == 0, result.stderr
    received = iperf_1_to_2(network, 3)
    assert received["bytes"] > min_bytes, received
    down = network.down()
    assert down.returncode == 0, down.stderr


def test_loss_cuts_super_packets_and_gro_merges_them_again(network):
    flow_through_link_set(network, ["--loss", "0.5%"], min_bytes=5 * 1024 * 1024)
    link = re.search(r"node 1: emulated link 2: out (\d+) pkts .*?lost (\d+), .*?segmented (\d+)",
                     node_log(1))
    assert link, node_log(1)[-2000:]
    out, lost, segmented = (int(g) for g in link.groups())
    receiver = tun_counters(2)
    print(f"link 1 -> 2: out {out}, lost {lost}, segmented {segmented}; node 2 tun: {receiver}")
    assert segmented > 100 and lost > 0, (out, lost, segmented)
    assert receiver["coalesced"] > 0 and receiver["tx_super"] > 0, receiver


def test_a_link_mtu_the_segments_fit_lets_super_packets_cross_whole(network):
    """A link `mtu` of the TUN's 1400 bytes: every segment of the kernel's super-packets fits
    (it cut them to that MTU), so they cross the link whole instead of being cut and merged."""
    flow_through_link_set(network, ["--mtu", "1400"], min_bytes=50 * 1024 * 1024)
    link = re.search(r"node 1: emulated link 2: out (\d+) pkts .*?segmented (\d+), .*?drops:(.*)",
                     node_log(1))
    assert link, node_log(1)[-2000:]
    out, segmented, drops = int(link.group(1)), int(link.group(2)), link.group(3)
    receiver = tun_counters(2)
    print(f"link 1 -> 2: out {out}, segmented {segmented}, drops:{drops}; node 2 tun: {receiver}")
    assert out > 10_000 and segmented == 0, (out, segmented)
    assert "too_big" not in drops, drops
    assert receiver["tx_super"] > 100, receiver
