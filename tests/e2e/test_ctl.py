"""`nextmini ctl` against a running 4-node ring (1-2-3-4-1): a run-time delay change seen in
ping, a link set down (traffic reroutes the other way round, shown by ping and by the nodes'
own per-link counters) and up again (the routes return), and the errors: bad values (exit 2,
the API's message), no network / no API (exit 1 with a hint)."""

import json
import re
import statistics
import time

from conftest import CONFIGS

RING4 = CONFIGS / "ring4.toml"


def ctl(network, *args, check=True):
    result = network.cmd("ctl", *args, timeout=30)
    if check:
        assert result.returncode == 0, (
            f"nextmini ctl {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def ctl_json(network, *args):
    return json.loads(ctl(network, *args, "--json").stdout)


def rtt_median_ms(network, src, address, count=10):
    result = network.exec(src, "ping", "-c", str(count), "-i", "0.2", "-W", "2", address,
                          timeout=60)
    assert result.returncode == 0, f"ping {src} -> {address} failed:\n{result.stdout}"
    times = [float(t) for t in re.findall(r"time=([0-9.]+) ms", result.stdout)]
    assert len(times) >= count - 1, result.stdout
    return statistics.median(times)


def tx_packets(network, src, dst):
    link = ctl_json(network, "link", "show", str(src), str(dst))
    counters = link["counters"]
    return None if counters is None else counters["tx_packets"]


def wait_for_counters(network, src, dst, within=10):
    """The nodes report Metrics every second; waits until the link has counters."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = tx_packets(network, src, dst)
        if value is not None:
            return value
        time.sleep(0.5)
    raise AssertionError(f"no counters for link {src} -> {dst} after {within} s")


def route_edges(network, src, dst):
    for route in ctl_json(network, "routes")["routes"]:
        if route["src"] == src and route["dst"] == dst:
            return [tuple(edge) for edge in route["edges"]]
    return None


def test_ctl_without_a_network_says_so(network):
    result = ctl(network, "link", "show", check=False)
    assert result.returncode == 1, result
    assert "is a network up? try --url" in result.stderr, result.stderr
    result = ctl(network, "--url", "http://127.0.0.1:1", "routes", check=False)
    assert result.returncode == 1, result
    assert "cannot connect" in result.stderr and "try --url" in result.stderr, result.stderr
    result = ctl(network, "--url", "localhost:3080", "routes", check=False)
    assert result.returncode == 2, result


def test_ctl_link_set_shows_in_ping_rtt(network):
    network.up(RING4)
    topology = ctl_json(network, "topology")
    assert topology["topology_ready"] is True
    assert [node["address"] for node in topology["nodes"]] == [
        "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    table = ctl(network, "link", "show").stdout
    assert "1->2" in table and "4->1" in table, table
    # The API itself, with curl inside the controller's namespace (docs/http-api.md).
    curl = network.exec("ctl", "curl", "-s", "-X", "PATCH", "-d", '{"duplicate": "0%"}',
                        "http://127.0.0.1:3080/api/links/3/4", check=True)
    assert json.loads(curl.stdout)["links"][0]["params"] == {"duplicate": "0%"}, curl.stdout
    curl = network.exec("ctl", "curl", "-s", "-w", "\n%{http_code}",
                        "http://127.0.0.1:3080/api/links/1/3", check=True)
    assert curl.stdout.rstrip().endswith("404"), curl.stdout

    assert network.wait_for_ping(1, "10.0.0.2").returncode == 0
    before = rtt_median_ms(network, 1, "10.0.0.2")
    ctl(network, "link", "set", "1", "2", "--delay", "20ms")
    link = ctl_json(network, "link", "show", "1", "2")
    assert link["params"]["delay"] == "20ms", link
    assert "delay" not in ctl_json(network, "link", "show", "2", "1")["params"]

    # Bad values are refused with the API's reason (key and value), and nothing changes.
    bad = ctl(network, "link", "set", "1", "2", "--delay", "20xs", "--loss", "5%", check=False)
    assert bad.returncode == 2, bad
    assert "links.delay: '20xs' is not a duration" in bad.stderr, bad.stderr
    assert "loss" not in ctl_json(network, "link", "show", "1", "2")["params"]
    unknown = ctl(network, "link", "set", "1", "3", "--delay", "1ms", check=False)
    assert unknown.returncode == 2 and "1 -> 3 is not a topology link" in unknown.stderr, unknown
    jitter = ctl(network, "link", "set", "2", "1", "--jitter", "5ms", check=False)
    assert jitter.returncode == 2 and "jitter" in jitter.stderr, jitter

    # Gilbert-Elliott bursty loss from the command line, checked by the API like every key.
    ctl(network, "link", "set", "2", "3", "--loss-ge", "1%,30%")
    loss = ctl_json(network, "link", "show", "2", "3")["params"]["loss"]
    assert loss["model"] == "gilbert_elliott" and loss["p"] == "1%" and loss["r"] == "30%", loss
    short = ctl(network, "link", "set", "2", "3", "--loss-ge", "1%", check=False)
    assert short.returncode == 2 and "expected P,R" in short.stderr, short
    absurd = ctl(network, "link", "set", "2", "3", "--loss-ge", "1%,300%", check=False)
    assert absurd.returncode == 2 and "300%" in absurd.stderr, absurd
    ctl(network, "link", "set", "2", "3", "--loss", "0%")

    after = rtt_median_ms(network, 1, "10.0.0.2")
    print(f"ping 1 -> 2 median RTT: {before:.2f} ms before, {after:.2f} ms after delay 20ms")
    # One direction delayed by 20 ms: the RTT grows by about 20 ms (the node's link emulation).
    assert 17 <= after - before <= 40, f"RTT {before:.2f} -> {after:.2f} ms"


def test_ctl_link_down_reroutes_and_up_restores(network):
    network.up(RING4)
    assert network.wait_for_ping(1, "10.0.0.2").returncode == 0
    direct = route_edges(network, 1, 2)
    assert direct == [(1, 2)], direct

    ctl(network, "link", "down", "1", "2", "--both")
    routes = ctl_json(network, "routes")
    assert sorted(tuple(link) for link in routes["down_links"]) == [(1, 2), (2, 1)]
    assert route_edges(network, 1, 2) == [(1, 4), (4, 3), (3, 2)]
    assert route_edges(network, 2, 1) == [(2, 3), (3, 4), (4, 1)]
    assert routes["unreachable"] == []
    assert "DOWN" in ctl(network, "link", "show").stdout

    # Traffic 1 -> 2 now goes round the other way: ping works, and the nodes' own counters
    # show nothing sent on 1 -> 2 while 1 -> 4 carries the pings.
    wait_for_counters(network, 1, 2)
    time.sleep(1.5)
    direct_before = tx_packets(network, 1, 2)
    around_before = wait_for_counters(network, 1, 4)
    result = network.ping(1, "10.0.0.2", count=10)
    assert result.returncode == 0 and " 0% packet loss" in result.stdout, result.stdout
    time.sleep(2.5)  # the next Metrics reports
    direct_sent = tx_packets(network, 1, 2) - direct_before
    around_sent = tx_packets(network, 1, 4) - around_before
    print(f"while 1 -> 2 is down: {direct_sent} packets on 1 -> 2, {around_sent} on 1 -> 4")
    assert direct_sent <= 2, direct_sent
    assert around_sent >= 10, around_sent

    ctl(network, "link", "up", "1", "2", "--both")
    routes = ctl_json(network, "routes")
    assert routes["down_links"] == []
    assert route_edges(network, 1, 2) == [(1, 2)]
    result = network.ping(1, "10.0.0.2", count=5)
    assert result.returncode == 0 and " 0% packet loss" in result.stdout, result.stdout


def test_ctl_flows_add_runs_a_flow_to_completion(network):
    network.up(RING4)
    added = ctl_json(network, "flows", "add", "1", "3", "--bytes", "2000000")
    flow_id = added["flows"][0]["flow_id"]
    bad = ctl(network, "flows", "add", "1", "9", "--bytes", "10", check=False)
    assert bad.returncode == 2 and "flows[0].dst: 9 is not a node" in bad.stderr, bad
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        flow = next(f for f in ctl_json(network, "flows")["flows"] if f["flow_id"] == flow_id)
        if flow["state"] in ("finished", "failed"):
            break
        time.sleep(0.5)
    assert flow["state"] == "finished", flow
    assert flow["bytes"] == 2000000, flow
    assert flow["completion_time_s"] > 0, flow
    table = ctl(network, "flows").stdout
    print(table)
    assert f"{flow_id}" in table and "finished" in table, table
