"""The pure parts of linkprobe.py (the fidelity tests' and bench/fidelity's measurements):
statistics, ping parsing, config writing. No namespaces needed."""

import math
import tomllib

from linkprobe import RATE_DELAY, binomial_interval, bursts, line_config, parse_ping


def test_binomial_interval_holds_the_level():
    lo, hi = binomial_interval(2000, 0.02, 0.99)
    assert (lo, hi) == (25, 57)
    # Each tail outside [lo, hi] is at most 0.5 %, and one more value on either side would
    # push it over.
    pmf = [math.comb(2000, k) * 0.02 ** k * 0.98 ** (2000 - k) for k in range(80)]
    assert sum(pmf[:lo]) <= 0.005 < sum(pmf[:lo + 1])
    assert 1 - sum(pmf[:hi + 1]) <= 0.005 < 1 - sum(pmf[:hi])
    wide = binomial_interval(2000, 0.02, 0.999)
    assert wide[0] < lo and wide[1] > hi


def test_bursts_are_runs_of_consecutive_losses():
    assert bursts([], 10) == []
    assert bursts([1, 2, 5, 7, 8], 10) == [2, 1, 2]
    # A run reaching the last probe may go on past it: not counted.
    assert bursts([3, 9, 10], 10) == [1]


def test_parse_ping_by_sequence_number():
    output = "\n".join([
        "PING 10.0.0.2 (10.0.0.2) 56(84) bytes of data.",
        "[1764000000.100000] 64 bytes from 10.0.0.2: icmp_seq=1 ttl=64 time=20.3 ms",
        "[1764000000.130000] 64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=21.5 ms",
        "[1764000000.131000] 64 bytes from 10.0.0.2: icmp_seq=3 ttl=64 time=22.5 ms (DUP!)",
        "--- 10.0.0.2 ping statistics ---",
        "4 packets transmitted, 2 received, +1 duplicates, 50% packet loss, time 30ms"])
    run = parse_ping(output, 4, "test")
    assert run.rtts == {1: 20.3, 3: 21.5}
    assert run.stamps[3] == 1764000000.13
    assert run.lost == [2, 4]
    assert run.duplicates == 1


def test_line_config_is_the_toml_it_says():
    gilbert_elliott = {"src": 2, "dst": 1,
                       "loss": {"model": "gilbert_elliott", "p": "5%", "r": "25%"}}
    flow = {"src_node_id": 1, "dst_node_id": 3,
            "flow_spec": {"flow_len": {"Duration": 5.0}, "flow_weight": 2}}
    config = tomllib.loads(line_config(3, [RATE_DELAY, gilbert_elliott], flows=[flow]))
    assert config["topology"] == {"type": "custom", "n_nodes": 3, "edges": [[1, 2], [2, 3]]}
    assert config["links"] == [RATE_DELAY, gilbert_elliott]
    assert config["flows"] == [flow]
