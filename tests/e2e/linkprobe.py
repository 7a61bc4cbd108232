"""Measurements of Nextmini's link emulation with real tools, shared by the end-to-end tests
(tests/e2e/test_fidelity.py, loose bounds) and the benchmark (bench/fidelity, tight bounds).

Each `measure_*` function brings a small line topology up through `net` (an object with
`up(config)`, `down()`, `exec(node, *argv)` and `binary`, as conftest.Network), measures with
ping / iperf3 inside the node namespaces, takes the network down and returns a dict of figures.
The caller decides the bounds. Sizes (probe counts, seconds) come from a `Profile`, so the
benchmark can measure longer than the tests.

Nothing here fakes a figure: a probe that cannot run raises (AssertionError with the output).
"""

import json
import math
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from iperf import run_client, start_server, stop_server


@dataclass
class Profile:
    """How long each measurement runs."""
    rtt_probes: int = 100          # pings for an RTT median (rate + delay, no emulation)
    loss_probes: int = 2000        # pings for the Bernoulli loss rate
    burst_probes: int = 3000       # pings for the Gilbert-Elliott burst length
    jitter_probes: int = 200       # pings for the RTT standard deviation
    tcp_seconds: int = 5           # iperf3 TCP at 100 Mbit/s (after tcp_omit)
    long_fat_seconds: int = 6      # iperf3 TCP at 1 Gbit/s, 50 ms (after long_fat_omit)
    udp_seconds: int = 3           # iperf3 UDP reorder probe
    tcp_omit: int = 1              # iperf3 -O: seconds of slow start left out
    share_seconds: int = 8         # two TCP flows sharing a FIFO link (after share_omit)
    share_omit: int = 2
    long_fat_omit: int = 3


# ---------------------------------------------------------------------------- configs

def toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def line_config(n_nodes, links=(), defaults=None, flows=()):
    """TOML text of a controller config: nodes 1 - 2 - ... - n in a line; `defaults` is a
    [link_defaults] dict, `links` a list of [[links]] dicts, `flows` of [[flows]] dicts."""
    edges = ", ".join(f"[{i}, {i + 1}]" for i in range(1, n_nodes))
    text = f"[topology]\ntype = \"custom\"\nn_nodes = {n_nodes}\nedges = [{edges}]\n"
    tables = ([("link_defaults", defaults)] if defaults else []) + \
        [("[links]", link) for link in links] + [("[flows]", flow) for flow in flows]
    for name, table in tables:
        text += f"\n[{name}]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in table.items())
    return text


def write_config(workdir, name, text):
    path = Path(workdir) / f"{name}.toml"
    path.write_text(text)
    return path


def address(node):
    """Overlay (TUN) address of a node with the default base_addr."""
    return f"10.0.0.{node}"


# ---------------------------------------------------------------------------- ping

PING_LINE = re.compile(r"^(?:\[(?P<stamp>[\d.]+)\] )?\d+ bytes from [\d.]+: icmp_seq=(?P<seq>\d+) "
                       r"ttl=\d+ time=(?P<rtt>[\d.]+) ms(?P<dup> \(DUP!\))?")


@dataclass
class PingRun:
    count: int        # probes sent (ping -c)
    rtts: dict        # icmp_seq -> RTT in ms, first reply only
    stamps: dict      # icmp_seq -> arrival time of the reply (Unix s), with timestamps=True
    duplicates: int
    output: str

    @property
    def received(self):
        return len(self.rtts)

    @property
    def lost(self):
        return sorted(set(range(1, self.count + 1)) - set(self.rtts))

    def rtt_list(self):
        return [self.rtts[seq] for seq in sorted(self.rtts)]


def ping_argv(target, count, interval, timestamps=False):
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2"]
    return argv + (["-D"] if timestamps else []) + [target]


def parse_ping(output, count, where):
    """Every reply of a `ping -c count` output by its icmp_seq (the first; later ones count as
    duplicates). `where` names the run in the error when there is no reply at all."""
    rtts, stamps, duplicates = {}, {}, 0
    for line in output.splitlines():
        match = PING_LINE.match(line)
        if not match:
            continue
        seq = int(match.group("seq"))
        if match.group("dup") or seq in rtts:
            duplicates += 1
            continue
        rtts[seq] = float(match.group("rtt"))
        if match.group("stamp"):
            stamps[seq] = float(match.group("stamp"))
    if not rtts:
        raise AssertionError(f"no ping reply ({where}):\n{output[-2000:]}")
    return PingRun(count, rtts, stamps, duplicates, output)


def ping(net, node, target, count, interval, timestamps=False, timeout=None):
    """`ping -c count -i interval` from `node`; every reply parsed by its icmp_seq."""
    budget = timeout or (count * interval * 3 + 30)
    result = net.exec(node, *ping_argv(target, count, interval, timestamps), timeout=budget)
    return parse_ping(result.stdout + result.stderr, count, f"{target} from node {node}")


def ping_together(runs, count, interval):
    """Several pings at once, each `(argv prefix, target)` (e.g. `[nextmini, "exec", "1",
    "--"]`), so that what else the machine runs meanwhile weighs on all of them alike."""
    started = [subprocess.Popen([*prefix, *ping_argv(target, count, interval)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for prefix, target in runs]
    outputs = [process.communicate(timeout=count * interval * 3 + 30)[0] for process in started]
    return [parse_ping(output, count, f"{target} from {' '.join(map(str, prefix))}")
            for output, (prefix, target) in zip(outputs, runs)]


# ---------------------------------------------------------------------------- statistics

def binomial_interval(n, p, level):
    """Central `level` interval [lo, hi] of the number of successes of Binomial(n, p): the
    smallest lo and largest hi with P(X < lo) <= (1-level)/2 and P(X > hi) <= (1-level)/2."""
    tail = (1 - level) / 2
    def log_pmf(k):
        return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                + k * math.log(p) + (n - k) * math.log1p(-p))

    pmf = [math.exp(log_pmf(k)) for k in range(n + 1)]
    below, lo = 0.0, 0
    while below + pmf[lo] <= tail:
        below += pmf[lo]
        lo += 1
    above, hi = 0.0, n
    while above + pmf[hi] <= tail:
        above += pmf[hi]
        hi -= 1
    return lo, hi


def bursts(lost, count):
    """Lengths of the runs of consecutive lost sequence numbers. A run touching the last
    probe is left out (it may continue past the end)."""
    runs, length, previous = [], 0, None
    for seq in lost:
        if previous is not None and seq == previous + 1:
            length += 1
        else:
            if length:
                runs.append(length)
            length = 1
        previous = seq
    if length and previous != count:
        runs.append(length)
    return runs


# ---------------------------------------------------------------------------- iperf3

def raise_tcp_buffers(net, nodes, max_bytes=64 * 1024 * 1024):
    """Lets TCP autotuning in the nodes' namespaces grow windows to `max_bytes` (per-netns
    sysctls: the root namespace is not touched)."""
    for node in nodes:
        for key in ("net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"):
            result = net.exec(node, "sysctl", "-q", "-w", f"{key}=4096 131072 {max_bytes}")
            assert result.returncode == 0, f"sysctl {key} in node {node}: {result.stderr}"


# TCP congestion control of the iperf3 runs: the kernel's default, named, so that a machine
# whose root namespace default was changed (new namespaces inherit it) measures the same.
CONGESTION_CONTROL = "cubic"


def iperf(net, src, dst, *extra, port=5201, seconds=5, wrapper=()):
    """iperf3 from node `src` to node `dst`'s overlay address; the client's JSON report (with
    the server's, as server_output_json, when `extra` has --get-server-output). TCP runs use
    CONGESTION_CONTROL. `wrapper` prefixes both iperf3 commands (e.g. REALTIME)."""
    server = start_server(net, dst, address(dst), port=port, extra=("-J",), wrapper=wrapper)
    if "-u" not in extra:
        extra = ("-C", CONGESTION_CONTROL, *extra)
    try:
        return run_client(net, src, address(dst), *extra, port=port, timeout=seconds + 60,
                          wrapper=wrapper)
    finally:
        stop_server(server)


def tcp_mbps(report):
    return report["end"]["sum_received"]["bits_per_second"] / 1e6


def stream_mbps(report):
    """Received Mbit/s of every parallel stream (-P) of one iperf3 TCP run."""
    return [stream["receiver"]["bits_per_second"] / 1e6 for stream in report["end"]["streams"]]


def udp_out_of_order(report):
    """Datagrams the iperf3 server saw out of order, and datagrams it received, from a UDP
    client report taken with --get-server-output (the client's own streams count nothing)."""
    server = report.get("server_output_json")
    assert server, "no server_output_json in the iperf3 report (--get-server-output?)"
    streams = server["end"]["streams"]
    return (sum(s["udp"]["out_of_order"] for s in streams),
            sum(s["udp"]["packets"] - s["udp"]["lost_packets"] for s in streams))


# ---------------------------------------------------------------------------- one network

class Up:
    """`with Up(net, workdir, name, text):` writes the config, brings the network up and
    always takes it down."""

    def __init__(self, net, workdir, name, text):
        self.net = net
        self.path = write_config(workdir, name, text)

    def __enter__(self):
        self.net.up(self.path)
        return self.net

    def __exit__(self, *exc):
        down = self.net.down()
        if down.returncode != 0 and exc[0] is None:
            raise AssertionError(f"nextmini down failed:\n{down.stdout}\n{down.stderr}")


def wait_reachable(net, src, dst, within=20):
    deadline = time.monotonic() + within
    while True:
        result = net.exec(src, "ping", "-n", "-c", "1", "-W", "1", address(dst), timeout=10)
        if result.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"node {src} cannot ping node {dst}:\n{result.stdout}")
        time.sleep(0.2)


# ---------------------------------------------------------------------------- the cases

RATE_DELAY_MS = 10
RATE_DELAY = {"src": 1, "dst": 2, "bidirectional": True, "rate": "100mbit",
              "delay": f"{RATE_DELAY_MS}ms"}


def measure_rate_delay(net, workdir, profile):
    """rate 100 Mbit/s + delay 10 ms each way: ping RTT median, iperf3 TCP throughput."""
    with Up(net, workdir, "rate_delay", line_config(2, [RATE_DELAY])):
        wait_reachable(net, 1, 2)
        run = ping(net, 1, address(2), profile.rtt_probes, 0.02)
        report = iperf(net, 1, 2, "-t", str(profile.tcp_seconds), "-O", str(profile.tcp_omit),
                       seconds=profile.tcp_seconds + profile.tcp_omit)
    mbps = tcp_mbps(report)
    return {"rtt_median_ms": statistics.median(run.rtt_list()), "rtt_probes": run.received,
            "tcp_mbps": mbps, "tcp_ratio": mbps / 100.0}


LONG_FAT = {"src": 1, "dst": 2, "bidirectional": True, "rate": "1gbit", "delay": "50ms",
            "queue_bytes": "16mb"}


def measure_long_fat(net, workdir, profile):
    """rate 1 Gbit/s, delay 50 ms each way, queue 16 MB (> the 12.5 MB BDP): iperf3 TCP with
    autotuned windows up to 64 MiB."""
    with Up(net, workdir, "long_fat", line_config(2, [LONG_FAT])):
        wait_reachable(net, 1, 2)
        raise_tcp_buffers(net, (1, 2))
        report = iperf(net, 1, 2, "-t", str(profile.long_fat_seconds),
                       "-O", str(profile.long_fat_omit),
                       seconds=profile.long_fat_seconds + profile.long_fat_omit)
    mbps = tcp_mbps(report)
    return {"tcp_mbps": mbps, "tcp_ratio": mbps / 1000.0}


def measure_loss(net, workdir, profile, percent=2.0):
    """Bernoulli loss on 1 -> 2 only (the ping requests), so a probe is lost with `percent`."""
    link = {"src": 1, "dst": 2, "loss": f"{percent}%"}
    with Up(net, workdir, "loss", line_config(2, [link])):
        wait_reachable(net, 1, 2)
        run = ping(net, 1, address(2), profile.loss_probes, 0.002)
    lost = run.count - run.received
    return {"probes": run.count, "lost": lost, "loss_percent": 100.0 * lost / run.count}


def measure_gilbert_elliott(net, workdir, profile, p=5.0, r=25.0):
    """Gilbert-Elliott loss (1-h = 100 %, 1-k = 0 %) on 1 -> 2: bursts of lost ping probes,
    configured mean length 1/r, loss rate p/(p+r)."""
    link = {"src": 1, "dst": 2,
            "loss": {"model": "gilbert_elliott", "p": f"{p}%", "r": f"{r}%",
                     "one_minus_h": "100%", "one_minus_k": "0%"}}
    with Up(net, workdir, "gilbert_elliott", line_config(2, [link])):
        wait_reachable(net, 1, 2)
        run = ping(net, 1, address(2), profile.burst_probes, 0.002)
    runs = bursts(run.lost, run.count)
    return {"probes": run.count, "lost": len(run.lost),
            "loss_percent": 100.0 * len(run.lost) / run.count, "bursts": len(runs),
            "mean_burst": statistics.mean(runs) if runs else 0.0,
            "expected_burst": 100.0 / r, "expected_loss_percent": 100.0 * p / (p + r)}


def jitter_link(reorder):
    return {"src": 1, "dst": 2, "bidirectional": True, "delay": "20ms", "jitter": "5ms",
            "jitter_distribution": "normal", "reorder": reorder}


def udp_reorder(net, profile):
    """iperf3 UDP at 20 Mbit/s from 1 to 2 (a datagram every ~0.5 ms, far closer than the
    jitter): (out-of-order datagrams, datagrams)."""
    report = iperf(net, 1, 2, "-u", "-b", "20M", "-t", str(profile.udp_seconds),
                   "--get-server-output", seconds=profile.udp_seconds)
    return udp_out_of_order(report)


def measure_jitter(net, workdir, profile):
    """delay 20 ms + normal jitter sigma 5 ms in both directions, reorder = false: the RTT
    standard deviation (expected sqrt(2) * 5 ms: independent per direction) and the UDP
    datagrams out of order (expected none)."""
    with Up(net, workdir, "jitter", line_config(2, [jitter_link(False)])):
        wait_reachable(net, 1, 2)
        # 50 ms between probes: far more than the jitter, so order keeping never holds one back.
        run = ping(net, 1, address(2), profile.jitter_probes, 0.05)
        out_of_order, datagrams = udp_reorder(net, profile)
    rtts = run.rtt_list()
    return {"rtt_stdev_ms": statistics.stdev(rtts), "expected_stdev_ms": math.sqrt(2) * 5.0,
            "rtt_median_ms": statistics.median(rtts), "probes": run.received,
            "out_of_order": out_of_order, "datagrams": datagrams}


def measure_reorder_control(net, workdir, profile):
    """The same jitter with reorder = true: datagrams do overtake (shows that the UDP probe
    can see reordering at all)."""
    with Up(net, workdir, "jitter_reorder", line_config(2, [jitter_link(True)])):
        wait_reachable(net, 1, 2)
        out_of_order, datagrams = udp_reorder(net, profile)
    return {"out_of_order": out_of_order, "datagrams": datagrams}


# Real-time scheduling for the timing-sensitive share runs: a loaded machine's noise
# (threads waiting for a CPU) changes how two TCP flows share a FIFO, so both the emulator
# and its kernel reference run their node threads and iperf3 under SCHED_FIFO.
REALTIME_PRIORITY = 50
REALTIME = ("chrt", "-f", str(REALTIME_PRIORITY))


def make_nodes_realtime(net):
    """Every thread of every node process under SCHED_FIFO at REALTIME_PRIORITY."""
    for key, pid in net.pids().items():
        if key != "controller":
            sh(["chrt", "-a", "-f", "-p", str(REALTIME_PRIORITY), str(pid)])


SHARE_RTT_PROBES = 20  # pings before the flows: the idle RTT, the same in both setups


def share_figures(report):
    """Each stream's received Mbit/s and retransmitted segments, and the faster / slower ratio."""
    flows = stream_mbps(report)
    return {"flow_mbps": flows, "ratio": max(flows) / min(flows) if min(flows) > 0 else math.inf,
            "retransmits": [s["sender"].get("retransmits") for s in report["end"]["streams"]]}


def two_flows(net, profile, wrapper):
    """iperf3 -P 2 from node 1 to node 2 (after share_omit seconds of slow start)."""
    return iperf(net, 1, 2, "-P", "2", "-t", str(profile.share_seconds),
                 "-O", str(profile.share_omit),
                 seconds=profile.share_seconds + profile.share_omit, wrapper=wrapper)


def measure_fifo_share(net, workdir, profile, realtime=False, delay_ms=RATE_DELAY_MS):
    """Two TCP flows (iperf3 -P 2) over one 100 Mbit/s, 10 ms FIFO link: per-flow Mbit/s.
    `realtime`: node threads and iperf3 under SCHED_FIFO (see REALTIME); `delay_ms`: the
    link's delay each way instead."""
    link = dict(RATE_DELAY, scheduler="fifo", delay=f"{delay_ms}ms")
    with Up(net, workdir, "fifo_share", line_config(2, [link])):
        wait_reachable(net, 1, 2)
        if realtime:
            make_nodes_realtime(net)
        run = ping(net, 1, address(2), SHARE_RTT_PROBES, 0.05)
        report = two_flows(net, profile, REALTIME if realtime else ())
    return dict(share_figures(report), rtt_median_ms=statistics.median(run.rtt_list()))


# Two namespaces joined by a veth pair, the reference of the no-emulation case (the same names
# as bench/throughput's reference).
REF_A, REF_B = "nm-ref-a", "nm-ref-b"
REF_A_ADDR, REF_B_ADDR = "100.127.254.1", "100.127.254.2"


def sh(argv, timeout=60):
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {result.returncode}: {result.stderr}")
    return result


class VethPair:
    """`with VethPair():` namespaces REF_A and REF_B joined by a kernel veth pair (REF_A_ADDR,
    REF_B_ADDR), removed on exit."""

    def __enter__(self):
        try:
            for ns in (REF_A, REF_B):
                sh(["ip", "netns", "add", ns])
            sh(["ip", "link", "add", "veth0", "netns", REF_A, "type", "veth",
                "peer", "name", "veth0", "netns", REF_B])
            for ns, addr in ((REF_A, REF_A_ADDR), (REF_B, REF_B_ADDR)):
                sh(["ip", "-n", ns, "addr", "add", f"{addr}/24", "dev", "veth0"])
                sh(["ip", "-n", ns, "link", "set", "lo", "up"])
                sh(["ip", "-n", ns, "link", "set", "veth0", "up"])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for ns in (REF_A, REF_B):
            if Path(f"/run/netns/{ns}").exists():
                subprocess.run(["ip", "netns", "delete", ns], capture_output=True)


def measure_no_emulation(net, workdir, profile):
    """No link keys set. RTT medians of a kernel veth pair, of one Nextmini hop (1 -> 2) and
    of two (1 -> 3 through node 2), pinged at the same time: what a hop adds over veth, and
    what one forwarding node adds (RTT 1 -> 3 minus RTT 1 -> 2, both directions through it)."""
    with Up(net, workdir, "no_emulation", line_config(3)):
        wait_reachable(net, 1, 3)
        with VethPair():  # after `up`, which refuses to start beside nm-* namespaces
            node1 = [net.binary, "exec", "1", "--"]
            veth_run, one_hop, two_hops = ping_together(
                [(["ip", "netns", "exec", REF_A], REF_B_ADDR), (node1, address(2)),
                 (node1, address(3))], profile.rtt_probes, 0.01)
    veth_ms = statistics.median(veth_run.rtt_list())
    one_ms = statistics.median(one_hop.rtt_list())
    two_ms = statistics.median(two_hops.rtt_list())
    return {"veth_rtt_ms": veth_ms, "one_hop_rtt_ms": one_ms, "two_hop_rtt_ms": two_ms,
            "hop_adds_rtt_ms": one_ms - veth_ms, "forwarding_node_adds_rtt_ms": two_ms - one_ms}



# The kernel reference of the FIFO share: the same two flows through the kernel's tbf, at the
# same RTT. The data path is node 1's namespace -> veth -> REF_ROUTER (forwarding; egress tbf
# at the link's rate with a byte limit equal to the link's default queue) -> veth -> node 2's
# namespace, all kernel. The kernel here has no netem, so the RTT comes from the ACK path:
# node 2 answers over its TUN through Nextmini, whose link 2 -> 1 has twice the one-way delay
# and no rate. The bottleneck queue sits in another namespace's forwarding path, so the
# sender's TCP small queues never hold packets back at it (veth hands a packet over at once).
REF_ROUTER = "nm-ff-r"
REF_SENDER_IF, REF_ROUTER_IN, REF_ROUTER_OUT, REF_RECEIVER_IF = "ffs0", "ffr0", "ffr1", "ffd0"
# TEST-NET-1 (RFC 5737): no overlap with the overlay (10.0.0.0/16) or the underlay.
REF_NET_IN = ("192.0.2.1", "192.0.2.2")    # sender side, router side (/30)
REF_NET_OUT = ("192.0.2.5", "192.0.2.6")   # router side, receiver side (/30)
ETHERNET_HEADER = 14  # tbf counts it; the link's `rate` counts IP packets


def node_namespace(node):
    return f"nm-n{node}"


def in_ns(ns, *argv):
    return sh(["ip", "netns", "exec", ns, *argv])


class KernelBottleneck:
    """`with KernelBottleneck(rate_bps, queue_packets, mtu):` the data path 1 -> 2 through
    REF_ROUTER's tbf (see above), for a network already up; removed on exit. Offloads are off
    on the veths, so the queue holds MTU-sized packets as the link's queue does.
    `qdisc_stats()` reads the tbf's counters (packets sent, drops)."""

    def __init__(self, rate_bps=100_000_000, queue_packets=1000, mtu=1400, burst_bytes=12_500):
        self.rate_bps = rate_bps
        self.frame = mtu + ETHERNET_HEADER
        self.limit_bytes = queue_packets * self.frame
        self.mtu = mtu
        self.burst_bytes = burst_bytes

    def __enter__(self):
        sender, receiver = node_namespace(1), node_namespace(2)
        try:
            sh(["ip", "netns", "add", REF_ROUTER])
            sh(["ip", "link", "add", REF_SENDER_IF, "netns", sender, "type", "veth",
                "peer", "name", REF_ROUTER_IN, "netns", REF_ROUTER])
            sh(["ip", "link", "add", REF_ROUTER_OUT, "netns", REF_ROUTER, "type", "veth",
                "peer", "name", REF_RECEIVER_IF, "netns", receiver])
            for ns, dev, addr in ((sender, REF_SENDER_IF, REF_NET_IN[0]),
                                  (REF_ROUTER, REF_ROUTER_IN, REF_NET_IN[1]),
                                  (REF_ROUTER, REF_ROUTER_OUT, REF_NET_OUT[0]),
                                  (receiver, REF_RECEIVER_IF, REF_NET_OUT[1])):
                sh(["ip", "-n", ns, "link", "set", dev, "mtu", str(self.mtu), "up"])
                sh(["ip", "-n", ns, "addr", "add", f"{addr}/30", "dev", dev])
                in_ns(ns, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off")
            sh(["ip", "-n", REF_ROUTER, "link", "set", "lo", "up"])
            in_ns(REF_ROUTER, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
            # Replies return over the TUN, not the veth they came in on: no reverse-path check.
            for ns in (sender, REF_ROUTER, receiver):
                for conf in ("all", "default"):
                    in_ns(ns, "sysctl", "-q", "-w", f"net.ipv4.conf.{conf}.rp_filter=0")
            for ns, dev in ((sender, REF_SENDER_IF), (REF_ROUTER, REF_ROUTER_IN),
                            (REF_ROUTER, REF_ROUTER_OUT), (receiver, REF_RECEIVER_IF)):
                in_ns(ns, "sysctl", "-q", "-w", f"net.ipv4.conf.{dev}.rp_filter=0")
            sh(["ip", "-n", sender, "route", "add", f"{address(2)}/32", "via", REF_NET_IN[1],
                "dev", REF_SENDER_IF, "src", address(1)])
            sh(["ip", "-n", REF_ROUTER, "route", "add", f"{address(2)}/32", "via",
                REF_NET_OUT[1], "dev", REF_ROUTER_OUT])
            # tbf counts the Ethernet header: its rate is scaled so that IP packets of the MTU
            # leave at rate_bps, as the link's shaper lets them.
            tbf_rate = self.rate_bps * self.frame // self.mtu
            sh(["tc", "-n", REF_ROUTER, "qdisc", "add", "dev", REF_ROUTER_OUT, "root", "tbf",
                "rate", f"{tbf_rate}bit", "burst", str(self.burst_bytes),
                "limit", str(self.limit_bytes)])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def qdisc_stats(self):
        out = sh(["tc", "-n", REF_ROUTER, "-s", "-j", "qdisc", "show", "dev",
                  REF_ROUTER_OUT]).stdout
        stats = json.loads(out)[0]
        return {"sent_packets": stats.get("packets"), "drops": stats.get("drops")}

    def __exit__(self, *exc):
        # The veths go with the router's namespace (their peers too).
        if Path(f"/run/netns/{REF_ROUTER}").exists():
            subprocess.run(["ip", "netns", "delete", REF_ROUTER], capture_output=True)


def measure_fifo_share_kernel(net, workdir, profile, realtime=False, delay_ms=RATE_DELAY_MS):
    """The reference of measure_fifo_share: the same iperf3 -P 2 through the kernel's tbf at
    100 Mbit/s with the link's default queue (1,000 packets, in bytes), at the same RTT,
    2 x `delay_ms` (see KernelBottleneck). Also the RTT an idle ping sees and the tbf's drops."""
    ack_path = {"src": 2, "dst": 1, "delay": f"{2 * delay_ms}ms"} if delay_ms else None
    with Up(net, workdir, "fifo_share_kernel", line_config(2, [ack_path] if ack_path else [])):
        wait_reachable(net, 1, 2)
        with KernelBottleneck() as bottleneck:  # after `up`, which refuses nm-* namespaces
            if realtime:
                make_nodes_realtime(net)
            run = ping(net, 1, address(2), SHARE_RTT_PROBES, 0.05)
            report = two_flows(net, profile, REALTIME if realtime else ())
            qdisc = bottleneck.qdisc_stats()
    return dict(share_figures(report), rtt_median_ms=statistics.median(run.rtt_list()),
                tbf_drops=qdisc["drops"], tbf_packets=qdisc["sent_packets"])


def measure_fifo_share_against_kernel(net, workdir, profile, runs=3, realtime=True):
    """`runs` pairs of measure_fifo_share and measure_fifo_share_kernel, alternating so that
    the machine's load weighs on both alike: every run's figures, and the medians of the
    ratios. Two cubic flows' split is set mostly by how their slow starts end, so single runs
    of either setup scatter between a few outcomes; the medians and the spread compare them."""
    emulator, kernel = [], []
    for _ in range(runs):
        emulator.append(measure_fifo_share(net, workdir, profile, realtime))
        kernel.append(measure_fifo_share_kernel(net, workdir, profile, realtime))
    emulator_ratios = [run["ratio"] for run in emulator]
    kernel_ratios = [run["ratio"] for run in kernel]
    return {"emulator": emulator, "kernel": kernel, "realtime": realtime,
            "emulator_ratios": emulator_ratios, "kernel_ratios": kernel_ratios,
            "emulator_ratio_median": statistics.median(emulator_ratios),
            "kernel_ratio_median": statistics.median(kernel_ratios),
            "relative": statistics.median(emulator_ratios) / statistics.median(kernel_ratios)}


def wait_flows(net, count, within):
    """Polls the controller's status until `count` flows are finished or failed; the flows."""
    deadline = time.monotonic() + within
    while True:
        status = net.status().get("controller_status") or {}
        flows = status.get("flows", [])
        done = [f for f in flows if f.get("state") in ("finished", "failed")]
        if len(done) >= count:
            return flows
        if time.monotonic() > deadline:
            raise AssertionError(f"flows not done within {within} s: {flows}")
        time.sleep(0.5)


def measure_wrr(net, workdir, profile, seconds=None):
    """Two controller flows 1 -> 2 of the same duration, flow_weight 1 and 2, over one
    100 Mbit/s, 10 ms link with scheduler = "wrr": each flow's goodput (bytes / completion
    time) and the ratio weight-2 / weight-1."""
    seconds = seconds or profile.tcp_seconds + profile.tcp_omit
    flows = [{"id": weight, "src_node_id": 1, "dst_node_id": 2,
              "flow_spec": {"flow_len": {"Duration": float(seconds)}, "flow_weight": weight,
                            "transport": "tcp"}} for weight in (1, 2)]
    text = line_config(2, [dict(RATE_DELAY, scheduler="wrr")], flows=flows)
    with Up(net, workdir, "wrr", text):
        # The flows start at TopologyReady, with the namespace's default congestion control.
        congestion = net.exec(1, "sysctl", "-n", "net.ipv4.tcp_congestion_control").stdout
        done = wait_flows(net, 2, within=seconds + 60)
    by_id = {f["id"]: f for f in done}
    for flow in by_id.values():
        assert flow["state"] == "finished", f"flow {flow['id']} failed: {flow}"
    mbps = {w: by_id[w]["bytes"] * 8 / (by_id[w]["completion_ms"] / 1000) / 1e6 for w in (1, 2)}
    return {"weight1_mbps": mbps[1], "weight2_mbps": mbps[2], "ratio": mbps[2] / mbps[1],
            "weight1_bytes": by_id[1]["bytes"], "weight2_bytes": by_id[2]["bytes"],
            "congestion_control": congestion.strip()}


def measure_runtime_change(net, workdir, profile, before_ms=10, after_ms=40):
    """Delay 10 ms on 1 -> 2; node 1 pings node 2 every 10 ms (`ping -D`) while
    `nextmini ctl link set 1 2 --delay 40ms` runs. Returns how long after the command started
    the first probe with the new RTT was sent, whether every later probe has it, and the lost
    probes (of all)."""
    link = {"src": 1, "dst": 2, "delay": f"{before_ms}ms"}
    interval, count = 0.01, 300
    threshold = before_ms + (after_ms - before_ms) / 2  # RTT between the old and the new
    with Up(net, workdir, "runtime_change", line_config(2, [link])):
        wait_reachable(net, 1, 2)
        pinger = subprocess.Popen(
            [net.binary, "exec", "1", "--", *ping_argv(address(2), count, interval, True)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(1.0)
        changed_at = time.time()
        change = net.cmd("ctl", "link", "set", "1", "2", "--delay", f"{after_ms}ms")
        answered_at = time.time()
        output = pinger.communicate(timeout=count * interval * 3 + 30)[0]
    assert change.returncode == 0, f"ctl link set failed:\n{change.stdout}\n{change.stderr}"
    run = parse_ping(output, count, "node 1 to node 2 during the change")
    rtts, stamps = run.rtts, run.stamps
    new = [seq for seq in sorted(rtts) if rtts[seq] >= threshold]
    assert new, f"no ping saw the new delay (RTTs up to {max(rtts.values())} ms)"
    first = new[0]
    sent_at = stamps[first] - rtts[first] / 1000
    later = [seq for seq in sorted(rtts) if seq >= first]
    return {"shows_after_s": sent_at - changed_at, "ctl_took_s": answered_at - changed_at,
            "lost": count - len(rtts), "probes": count,
            "old_rtt_ms": statistics.median([rtts[s] for s in sorted(rtts) if s < first]
                                            or [math.nan]),
            "new_rtt_ms": statistics.median([rtts[s] for s in later]),
            "stays_new": all(rtts[s] >= threshold for s in later)}
