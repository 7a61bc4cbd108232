"""The controller on a real PostgreSQL 15 (`nextmini up --db`, issue 6), end to end on the 4-node
ring of configs/ring4_db.toml in namespaces, each test with its own throw-away server
(`pg_server`, reached by the controller in nm-ctl through its unix socket):

- an SQL UPDATE of a route moves traffic to the new path within a second (ping RTTs with a
  40 ms marker on 1 -> 4, and the nodes' per-link counters);
- an INSERT into flows starts a flow whose finish time appears in the table;
- an INSERT and then an UPDATE of a link's delay in link_params show in ping RTT;
- PostgreSQL stopped mid-run: ping keeps going without loss; a route change made while the
  controller could not reach the server is applied once it can;
- `nextmini restart controller` with the same database restores routes and link parameters;
- bad rows (a route through a node that does not exist, edges of the wrong shape, a flow of
  length 0) are reported in config_errors and the HTTP API and ignored, traffic unharmed; an
  unreachable --db fails `nextmini controller` and `nextmini up` quickly with a clear message.
"""

import json
import subprocess
import time

from conftest import CONFIGS, REPO, run
from linkprobe import parse_ping, ping, ping_argv
from pg_server import pg_server  # noqa: F401  (a fixture)
from test_ctl import ctl_json, route_edges, rtt_median_ms, tx_packets, wait_for_counters

RING4_DB = CONFIGS / "ring4_db.toml"
VIA_4_MS = 40  # the delay of 1 -> 4 in ring4_db.toml
METRICS_WAIT_S = 1.0  # four metrics intervals of ring4_db.toml: the counters are fresh
VIA_2 = [[1, 2], [2, 3]]
VIA_4 = [[1, 4], [4, 3]]


# ---------------------------------------------------------------------------- helpers

def up_with_db(network, pg, *extra, timeout=60):
    result = network.cmd("up", RING4_DB, "--db", pg.socket_url, *extra, "--detach",
                         "--timeout", str(timeout), timeout=timeout + 60)
    assert result.returncode == 0, (
        f"nextmini up --db failed ({result.returncode})\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}\n{network.logs()}")
    assert network.wait_for_ping(1, "10.0.0.3").returncode == 0, network.logs()


def sql_first(pg, sql):
    """The first output line of `sql` (an INSERT ... RETURNING prints its command tag after)."""
    return pg.psql(sql).splitlines()[0]


def route_1_to_3(pg):
    """(route_id, edges) of the one route from node 1 to node 3."""
    rows = pg.psql("SELECT route_id, edges FROM routes WHERE src_node_id = 1 AND dst_node_id = 3"
                   " ORDER BY route_id").splitlines()
    assert len(rows) == 1, f"routes 1 -> 3: {rows}"
    route_id, edges = rows[0].split("|")
    return int(route_id), json.loads(edges)


def packets_sent(network, src, neighbors, traffic):
    """Packets node `src` sent to each of `neighbors` while `traffic()` ran, by the nodes' own
    per-link counters (`nextmini ctl link show`, from their Metrics reports)."""
    for neighbor in neighbors:
        wait_for_counters(network, src, neighbor)
    time.sleep(METRICS_WAIT_S)
    before = {n: tx_packets(network, src, n) for n in neighbors}
    traffic()
    time.sleep(METRICS_WAIT_S)
    return {n: tx_packets(network, src, n) - before[n] for n in neighbors}


def ping_1_to_3(network, count=10):
    run = ping(network, 1, "10.0.0.3", count, 0.2)
    assert run.lost == [], f"pings 1 -> 3 lost: {run.lost}\n{run.output}"
    return run


def assert_path(network, via):
    """Node 1's pings to node 3 leave on 1 -> `via` and not on the other link."""
    other = 4 if via == 2 else 2
    sent = packets_sent(network, 1, [via, other], lambda: ping_1_to_3(network))
    print(f"10 pings 1 -> 3: {sent[via]} packets on 1 -> {via}, {sent[other]} on 1 -> {other}")
    assert sent[via] >= 10 and sent[other] <= 2, (
        f"expected 1 -> 3 via node {via}: 1 -> 2 sent {sent[2]}, 1 -> 4 sent {sent[4]}")


def start_pinger(network, count, interval):
    """`ping -D` from node 1 to node 3 in the background."""
    return subprocess.Popen(
        [network.binary, "exec", "1", "--", *ping_argv("10.0.0.3", count, interval, True)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until(what, check, within):
    deadline = time.monotonic() + within
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"{what}: not within {within} s"
            return value
        time.sleep(0.2)


def topology_ready(network):
    """Whether the controller's API answers and says every node is ready (False while a
    restarted controller is still starting)."""
    result = network.cmd("ctl", "topology", "--json", timeout=30)
    return result.returncode == 0 and json.loads(result.stdout)["topology_ready"] is True


def config_errors(pg, table):
    rows = pg.psql(f"SELECT row_id, code, message FROM config_errors WHERE table_name = '{table}'"
                   " ORDER BY row_id")
    return {line.split("|")[0]: line.split("|", 2)[1:] for line in rows.splitlines()}


# ---------------------------------------------------------------------------- tests

def test_sql_route_update_moves_traffic_within_a_second(network, pg_server):
    up_with_db(network, pg_server, "--reset-db")
    route_id, edges = route_1_to_3(pg_server)
    assert edges == VIA_2, f"route {route_id}: {edges}"
    assert_path(network, via=2)

    count, interval = 80, 0.05
    pinger = start_pinger(network, count, interval)
    time.sleep(1.0)
    changed_at = time.time()
    assert pg_server.psql(f"UPDATE routes SET edges = '{json.dumps(VIA_4)}' "
                          f"WHERE route_id = {route_id}") == "UPDATE 1"
    run = parse_ping(pinger.communicate(timeout=count * interval * 3 + 30)[0], count,
                     "1 -> 3 during the route change")
    assert run.lost == [], f"lost {run.lost}\n{run.output}"
    threshold = VIA_4_MS * 0.75
    seqs = sorted(run.rtts)
    # The switch: the first probe from which on every RTT carries the 40 ms of 1 -> 4.
    switch = next((i for i in range(len(seqs)) if all(run.rtts[s] >= threshold for s in seqs[i:])),
                  len(seqs))
    assert switch < len(seqs), f"the route never changed: RTTs {run.rtt_list()}"
    first = seqs[switch]
    shows_after = run.stamps[first] - run.rtts[first] / 1000 - changed_at
    before = [run.rtts[s] for s in seqs[:switch] if run.stamps[s] < changed_at]
    print(f"UPDATE routes -> first probe via node 4 sent {shows_after:.3f} s later "
          f"(RTT {min(before):.1f}-{max(before):.1f} ms before, {run.rtts[first]:.1f} ms after)")
    assert before and sorted(before)[len(before) // 2] < threshold, run.rtt_list()
    assert shows_after <= 1.0, f"the new route showed {shows_after:.3f} s after the UPDATE"

    assert route_edges(network, 1, 3) == [tuple(e) for e in VIA_4]
    assert_path(network, via=4)
    assert config_errors(pg_server, "routes") == {}


def test_sql_insert_into_flows_runs_the_flow_and_records_its_finish(network, pg_server):
    up_with_db(network, pg_server, "--reset-db")
    flow_id = int(sql_first(pg_server, "INSERT INTO flows (src_node_id, dst_node_id, "
                            "flow_len_type, flow_len_bytes) VALUES (1, 3, 'bytes', 2000000) "
                            "RETURNING id"))

    def finished():
        row = pg_server.psql(f"SELECT is_finished, start_time, finish_time, bytes_received, error "
                             f"FROM flows WHERE id = {flow_id}")
        return row.split("|") if row.startswith("t|") else None

    _, start, finish, received, error = wait_until(f"flow {flow_id} finished", finished, 60)
    print(f"flow {flow_id}: {received} B, {(int(finish) - int(start)) / 1e6:.1f} ms")
    assert error == ""
    assert int(received) == 2_000_000
    assert 0 < int(start) < int(finish)
    assert abs(int(finish) / 1e9 - time.time()) < 120, "finish_time is not ns since the epoch"
    flows = {f["flow_id"]: f for f in ctl_json(network, "flows")["flows"]}
    assert flows[flow_id]["state"] == "finished", flows


def tx_bytes(network, src, dst):
    return ctl_json(network, "link", "show", str(src), str(dst))["counters"]["tx_bytes"]


def test_example_script_reroutes_a_running_flow(network, pg_server):
    """examples/reroute_by_sql.sh moves a running paced flow 1 -> 3 from node 2 to node 4."""
    up_with_db(network, pg_server, "--reset-db")
    flow_id = int(sql_first(pg_server, "INSERT INTO flows (src_node_id, dst_node_id, "
                            "flow_len_type, flow_len_duration, flow_rate) "
                            "VALUES (1, 3, 'duration', 6, 1000000) RETURNING id"))
    wait_until(f"flow {flow_id} started", lambda: pg_server.psql(
        f"SELECT start_time FROM flows WHERE id = {flow_id}") not in ("", "0"), within=10)
    time.sleep(1.5)
    wait_for_counters(network, 1, 4)
    via_4_before = tx_bytes(network, 1, 4)
    script = run([REPO / "examples" / "reroute_by_sql.sh", "--db", pg_server.url,
                  "1", "3", "1", "4", "3"], timeout=30)
    assert script.returncode == 0, f"{script.stdout}\n{script.stderr}"
    assert "[[1, 4], [4, 3]]" in script.stdout, script.stdout
    wait_until(f"flow {flow_id} finished", lambda: pg_server.psql(
        f"SELECT is_finished FROM flows WHERE id = {flow_id}") == "t", within=30)
    time.sleep(METRICS_WAIT_S)
    via_4 = tx_bytes(network, 1, 4) - via_4_before
    row = pg_server.psql(f"SELECT bytes_received, error FROM flows WHERE id = {flow_id}")
    print(f"flow {flow_id} after the reroute: {via_4} bytes on 1 -> 4; bytes, error: {row}")
    # About 4 s of the flow's 1 MB/s after the reroute. Bytes, not packets: with TUN offloads
    # the flow crosses the link as GSO super-packets, far fewer than 1,400-byte packets.
    assert via_4 >= 1_400_000, f"only {via_4} bytes on 1 -> 4 after the reroute"
    assert row.endswith("|"), f"the flow failed: {row}"


def test_sql_link_delay_shows_in_ping_rtt(network, pg_server):
    up_with_db(network, pg_server, "--reset-db")
    base = rtt_median_ms(network, 1, "10.0.0.2")
    pg_server.psql("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) "
                   "VALUES (1, 2, 10000000) ON CONFLICT (src_node_id, dst_node_id) "
                   "DO UPDATE SET delay_ns = excluded.delay_ns")
    time.sleep(1.0)
    ten = rtt_median_ms(network, 1, "10.0.0.2")
    assert pg_server.psql("UPDATE link_params SET delay_ns = 30000000 "
                          "WHERE src_node_id = 1 AND dst_node_id = 2") == "UPDATE 1"
    time.sleep(1.0)
    thirty = rtt_median_ms(network, 1, "10.0.0.2")
    print(f"ping 1 -> 2 median RTT: {base:.2f} ms, delay 10 ms: {ten:.2f}, 30 ms: {thirty:.2f}")
    assert 8 <= ten - base <= 25, f"delay 10 ms: RTT {base:.2f} -> {ten:.2f} ms"
    assert 27 <= thirty - base <= 50, f"delay 30 ms: RTT {base:.2f} -> {thirty:.2f} ms"
    assert ctl_json(network, "link", "show", "1", "2")["params"]["delay"] == "30ms"
    assert "delay" not in ctl_json(network, "link", "show", "2", "1")["params"]


def test_postgres_stopped_mid_run_and_a_change_made_meanwhile(network, pg_server):
    up_with_db(network, pg_server, "--reset-db")
    route_id, _ = route_1_to_3(pg_server)

    count, interval = 60, 0.1
    pinger = start_pinger(network, count, interval)
    time.sleep(1.0)
    pg_server.stop()
    time.sleep(2.0)
    # Back on TCP only: the controller (unix socket) still cannot reach it, psql can. The
    # change it misses (no LISTEN while away) must come from the change log when it is back.
    pg_server.restart(unix_socket=False)
    pg_server.psql(f"UPDATE routes SET edges = '{json.dumps(VIA_4)}' WHERE route_id = {route_id}")
    pg_server.stop()
    run = parse_ping(pinger.communicate(timeout=count * interval * 3 + 30)[0], count,
                     "1 -> 3 while PostgreSQL is away")
    print(f"{run.received}/{count} pings while PostgreSQL was away, RTT max "
          f"{max(run.rtt_list()):.1f} ms")
    assert run.lost == [], f"lost {run.lost}\n{run.output}"
    assert max(run.rtt_list()) < VIA_4_MS * 0.75, "the route changed while the database was away"
    assert route_edges(network, 1, 3) == [tuple(e) for e in VIA_2]

    restarted_at = time.monotonic()
    pg_server.restart()
    wait_until("the change made while away reaches the controller",
               lambda: route_edges(network, 1, 3) == [tuple(e) for e in VIA_4], within=15)
    print(f"caught up {time.monotonic() - restarted_at:.1f} s after PostgreSQL came back")
    assert_path(network, via=4)
    ping_1_to_3(network)


def test_restarted_controller_restores_the_network_from_the_database(network, pg_server):
    # `up` passes --reset-db to the controller; `restart controller` must not (it would wipe the
    # database it restores from).
    up_with_db(network, pg_server, "--reset-db")
    route_id, _ = route_1_to_3(pg_server)
    pg_server.psql(f"UPDATE routes SET edges = '{json.dumps(VIA_4)}' WHERE route_id = {route_id}")
    pg_server.psql("INSERT INTO link_params (src_node_id, dst_node_id, delay_ns) "
                   "VALUES (2, 1, 25000000) ON CONFLICT (src_node_id, dst_node_id) "
                   "DO UPDATE SET delay_ns = excluded.delay_ns")
    wait_until("the SQL route change is applied",
               lambda: route_edges(network, 1, 3) == [tuple(e) for e in VIA_4], within=5)
    rows_before = pg_server.psql("SELECT count(*) FROM routes")
    old_pid = network.pids()["controller"]

    restarted = network.cmd("restart", "controller", timeout=60)
    assert restarted.returncode == 0, f"{restarted.stdout}\n{restarted.stderr}"
    assert network.pids()["controller"] != old_pid
    wait_until("the nodes are back with the restarted controller",
               lambda: topology_ready(network), within=30)

    assert pg_server.psql("SELECT count(*) FROM routes") == rows_before
    assert route_edges(network, 1, 3) == [tuple(e) for e in VIA_4]
    assert ctl_json(network, "link", "show", "2", "1")["params"].get("delay") == "25ms"
    assert ctl_json(network, "link", "show", "1", "4")["params"].get("delay") == "40ms"
    assert_path(network, via=4)
    rtt = rtt_median_ms(network, 1, "10.0.0.2")
    assert rtt >= 23, f"ping 1 -> 2 RTT {rtt:.2f} ms: the 25 ms delay on 2 -> 1 was not restored"


def test_bad_rows_are_reported_and_ignored_while_traffic_continues(network, pg_server):
    up_with_db(network, pg_server, "--reset-db")
    route_id, _ = route_1_to_3(pg_server)
    count, interval = 60, 0.1
    pinger = start_pinger(network, count, interval)

    pg_server.psql("INSERT INTO routes (route_id, src_node_id, dst_node_id, edges) "
                   "VALUES (900, 1, 3, '[[1, 9], [9, 3]]')")
    pg_server.psql(f"UPDATE routes SET edges = '[[1, 4, 3]]' WHERE route_id = {route_id}")
    not_json = pg_server.psql(f"UPDATE routes SET edges = '[[1, 4], [4, 3]' "
                              f"WHERE route_id = {route_id}", check=False)
    assert not_json.returncode != 0 and "invalid input syntax for type json" in not_json.stderr
    zero = sql_first(pg_server, "INSERT INTO flows (src_node_id, dst_node_id, flow_len_type, "
                     "flow_len_bytes) VALUES (1, 3, 'bytes', 0) RETURNING id")

    errors = wait_until("the bad rows are in config_errors",
                        lambda: (lambda e: e if {"900", str(route_id)} <= set(e) else None)(
                            config_errors(pg_server, "routes")), within=5)
    print(f"config_errors: {errors}")
    assert "node 9" in errors["900"][1], errors
    assert "is not a [from, to] pair" in errors[str(route_id)][1], errors
    flow_errors = wait_until("the zero-length flow is in config_errors",
                             lambda: config_errors(pg_server, "flows"), within=5)
    assert zero in flow_errors and "flow_len_bytes" in flow_errors[zero][1], flow_errors

    run = parse_ping(pinger.communicate(timeout=count * interval * 3 + 30)[0], count,
                     "1 -> 3 while bad rows arrive")
    assert run.lost == [], f"lost {run.lost}\n{run.output}"
    # The controller keeps the last good state of the route it refused and never took 900.
    assert route_edges(network, 1, 3) == [tuple(e) for e in VIA_2]
    api = network.exec("ctl", "curl", "-s", "http://127.0.0.1:3080/api/errors", check=True)
    reported = json.loads(api.stdout)
    text = json.dumps(reported)
    assert "node 9" in text and str(route_id) in text, reported
    assert_path(network, via=2)
    assert topology_ready(network)

    # Fixing the row clears its entry and the fix is applied.
    pg_server.psql(f"UPDATE routes SET edges = '{json.dumps(VIA_4)}' WHERE route_id = {route_id}")
    wait_until("the fixed route is applied",
               lambda: route_edges(network, 1, 3) == [tuple(e) for e in VIA_4], within=5)
    assert str(route_id) not in config_errors(pg_server, "routes")


def test_unreachable_database_fails_quickly_with_a_clear_message(network, tmp_path):
    url = "postgresql://postgres:sekret@127.0.0.1:1/postgres"
    started = time.monotonic()
    result = network.cmd("controller", "--config", RING4_DB, "--db", url, "--port", "0",
                         "--http", "off", "--status-file", tmp_path / "status.json", timeout=60)
    took = time.monotonic() - started
    print(f"nextmini controller --db (nothing listening): exit {result.returncode} after "
          f"{took:.1f} s: {result.stderr.strip()}")
    assert result.returncode != 0
    assert took < 15, f"took {took:.1f} s"
    assert "127.0.0.1" in result.stderr, result.stderr
    assert "port 1 " in result.stderr or "127.0.0.1:1/" in result.stderr, result.stderr
    assert "sekret" not in result.stdout + result.stderr, "the password was printed"

    socket_url = "postgresql:///postgres?host=/nonexistent-nextmini-pg&port=5432&user=postgres"
    started = time.monotonic()
    up = network.cmd("up", RING4_DB, "--db", socket_url, "--detach", "--timeout", "60",
                     timeout=120)
    took = time.monotonic() - started
    print(f"nextmini up --db (no such socket): exit {up.returncode} after {took:.1f} s")
    assert up.returncode != 0, up.stdout
    assert took < 30, f"took {took:.1f} s"
    message = up.stdout + up.stderr
    assert "nonexistent-nextmini-pg" in message, message
