"""Controller flows ([[flows]]): real kernel TCP between the nodes' TUN addresses, started at
TopologyReady, reported to the controller (UserFlowStart, FlowFinished) and shown by
`nextmini status`; route pins (route_id) and weights (flow_weight on a wrr link) take effect."""

import time

from conftest import CONFIGS, link_bytes

RING4_FLOWS = CONFIGS / "ring4_flows.toml"
RING4_PINNED = CONFIGS / "ring4_pinned_flow.toml"
RING4_WEIGHTED = CONFIGS / "ring4_weighted_flows.toml"


def wait_for_flows(network, count, within=90):
    """Polls the controller's status file until `count` flows are finished or failed."""
    deadline = time.monotonic() + within
    flows = []
    while time.monotonic() < deadline:
        status = network.status()["controller_status"] or {}
        flows = status.get("flows", [])
        if len(flows) == count and all(f["state"] in ("finished", "failed") for f in flows):
            return {f["id"]: f for f in flows}
        time.sleep(0.5)
    raise AssertionError(f"flows did not finish within {within} s: {flows}\n{network.logs()}")


def test_bytes_and_paced_duration_flows(network):
    network.up(RING4_FLOWS)
    flows = wait_for_flows(network, 2)
    for flow in flows.values():
        print(f"flow {flow['id']} {flow['src']} -> {flow['dst']}: {flow['state']}, "
              f"{flow['bytes']} B in {flow['completion_ms']} ms")
        assert flow["state"] == "finished", f"{flow}\n{network.logs()}"
        assert flow["error"] == ""
        assert flow["start_ns"] < flow["finish_ns"]

    whole = flows[1]
    assert (whole["src"], whole["dst"]) == (1, 3)
    assert whole["bytes"] == 10_000_000, "the sink did not confirm every byte"

    paced = flows[2]
    assert (paced["src"], paced["dst"]) == (2, 4)
    seconds = (paced["finish_ns"] - paced["start_ns"]) / 1e9
    rate = paced["bytes"] / seconds
    print(f"paced flow: {paced['bytes']} B in {seconds:.3f} s = {rate / 1e6:.3f} MB/s "
          f"(configured 1 MB/s for 2 s)")
    assert 1.9 <= seconds <= 2.6, f"a 2-second flow took {seconds:.3f} s"
    assert 0.85e6 <= rate <= 1.1e6, f"paced at {rate:.0f} B/s instead of 1000000"
    assert 1.8e6 <= paced["bytes"] <= 2.2e6

    # The human view lists them too.
    text = network.cmd("status", check=True).stdout
    assert "flows:" in text and "finished" in text, text


def test_flows_pinned_to_routes(network):
    network.up(RING4_PINNED)
    flows = wait_for_flows(network, 2)
    # The flows may be over before `up` returns: count everything since the ports were created
    # (bring-up's control traffic is a few kB).
    via2, via4 = link_bytes("nmv2"), link_bytes("nmv4")
    print(f"pinned flows: underlay node 2 {via2} B, node 4 {via4} B; {flows}")
    assert flows[1]["state"] == "finished" and flows[1]["bytes"] == 20_000_000, flows[1]
    assert flows[2]["state"] == "finished" and flows[2]["bytes"] == 10_000_000, flows[2]
    # Data crosses a transit node's port twice (in and out). Node 2 carries flow 1 (40 MB) and
    # every acknowledgement (3 -> 2 -> 1); node 4 only flow 2 (20 MB).
    assert 36e6 < via2 < 50e6, "flow 1 (route 2, through node 2) was not where it was pinned"
    assert 18e6 < via4 < 26e6, "flow 2 (route 3, through node 4) was not where it was pinned"


def test_flow_weights_share_a_wrr_link(network):
    network.up(RING4_WEIGHTED)
    flows = wait_for_flows(network, 2)
    light, heavy = flows[1], flows[2]
    assert light["state"] == "finished" and heavy["state"] == "finished", flows
    ratio = heavy["bytes"] / light["bytes"]
    total_mbit = (light["bytes"] + heavy["bytes"]) * 8 / 4.0 / 1e6
    print(f"weights 1 and 2 on a 20 Mbit/s wrr link: {light['bytes']} B and {heavy['bytes']} B, "
          f"ratio {ratio:.2f}, together {total_mbit:.1f} Mbit/s")
    # Tolerant bounds (a busy machine, TCP's start-up and the final drain blur the ratio).
    assert 1.6 <= ratio <= 2.5, f"weight 2 against weight 1 got {ratio:.2f} times the bytes"
    assert 14 <= total_mbit <= 24, f"the two flows moved {total_mbit:.1f} Mbit/s on a 20 Mbit/s link"
