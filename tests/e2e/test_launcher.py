"""The launcher itself: bring-up and teardown leave nothing behind (also after a launcher
crash), config errors stop it before anything is made, one network at a time, exec and
status behave."""

import os
import signal
import subprocess
import threading
import time

from conftest import CONFIGS, RUN_DIR, leftovers, run

RING4 = CONFIGS / "ring4.toml"


def test_up_prints_progress_and_summary_and_down_leaves_nothing(network):
    result = network.up(RING4)
    out = result.stdout
    assert "nodes: 4/4 connected, 4/4 ready" in out, out
    assert "network ready in" in out and "4 nodes, 4 links" in out, out
    for node in range(1, 5):
        assert f"10.0.0.{node}" in out and f"100.127.0.{node}" in out and f"nm-n{node}" in out
    status = network.cmd("status")
    assert status.returncode == 0
    assert status.stdout.count("running") >= 5, status.stdout
    assert "topology ready" in status.stdout, status.stdout

    down = network.down()
    assert down.returncode == 0, down.stderr
    assert "deleted network namespace nm-ctl" in down.stdout
    assert "deleted network namespace nm-n4" in down.stdout
    assert leftovers(network.binary) == []
    # Idempotent: nothing more to do.
    again = network.down()
    assert again.returncode == 0
    assert "nothing to take down" in again.stdout
    assert network.cmd("status").returncode == 3


def test_bad_config_exits_2_with_a_clear_message_and_makes_nothing(network):
    result = network.cmd("up", CONFIGS / "bad_n_nodes.toml", "--detach")
    assert result.returncode == 2, result
    assert "n_nodes" in result.stderr and "-3" in result.stderr, result.stderr
    assert leftovers(network.binary) == []

    missing = network.cmd("up", CONFIGS / "no_such_config.toml", "--detach")
    assert missing.returncode == 2
    assert "no_such_config.toml" in missing.stderr


def test_second_up_fails_clearly_while_one_is_up(network):
    network.up(RING4)
    second = network.cmd("up", RING4, "--detach", timeout=60)
    assert second.returncode == 1
    assert "a network is already up (4 nodes" in second.stderr, second.stderr
    assert "nextmini down" in second.stderr
    # The first network is untouched.
    assert network.ping(1, "10.0.0.3").returncode == 0


def test_two_ups_at_once_one_wins(network):
    procs = [subprocess.Popen([network.binary, "up", str(RING4), "--detach"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    loser = next(err for code, _, err in results if code == 1)
    assert "in progress" in loser or "already up" in loser, loser
    assert network.ping(1, "10.0.0.3").returncode == 0


def test_exec_passes_exit_codes_and_refuses_unknown_nodes(network):
    network.up(RING4)
    assert network.exec(2, "sh", "-c", "exit 7").returncode == 7
    inside = network.exec(2, "ip", "-o", "addr", "show").stdout
    assert "100.127.0.2/16" in inside and "10.0.0.2/16" in inside, inside
    unknown = network.exec(9, "true")
    assert unknown.returncode == 1
    assert "no node 9" in unknown.stderr and "1, 2, 3, 4" in unknown.stderr, unknown.stderr
    assert network.cmd("restart", "9").returncode == 1


def read_until(stream, text, timeout):
    """Reads lines from `stream` until one contains `text`; returns everything read."""
    seen = []
    found = threading.Event()

    def reader():
        for line in stream:
            seen.append(line)
            if text in line:
                found.set()
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    found.wait(timeout)
    return "".join(seen), found.is_set()


def test_foreground_up_tears_down_on_ctrl_c(network):
    launcher = subprocess.Popen([network.binary, "up", str(RING4)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        output, ready = read_until(launcher.stdout, "running in the foreground", 90)
        assert ready, output
        assert network.ping(1, "10.0.0.3").returncode == 0
        launcher.send_signal(signal.SIGINT)
        rest = launcher.communicate(timeout=60)[0]
        assert launcher.returncode == 0, output + rest
        assert "deleted network namespace nm-ctl" in rest, rest
        assert leftovers(network.binary) == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


def test_foreground_up_exits_when_down_runs_elsewhere(network):
    launcher = subprocess.Popen([network.binary, "up", str(RING4)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        output, ready = read_until(launcher.stdout, "running in the foreground", 90)
        assert ready, output
        down = network.down()
        assert down.returncode == 0, down.stderr
        rest = launcher.communicate(timeout=30)[0]
        assert launcher.returncode == 0, output + rest
        assert ("`nextmini down` is taking the network down" in rest
                or "taken down by another command" in rest), rest
        # It did not report the processes `down` stopped as crashes.
        assert "exited" not in rest, rest
        assert leftovers(network.binary) == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


def test_down_cleans_up_after_a_launcher_crash(network):
    launcher = subprocess.Popen([network.binary, "up", str(RING4)], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        output, ready = read_until(launcher.stdout, "running in the foreground", 90)
        assert ready, output
    finally:
        launcher.kill()  # SIGKILL: no teardown
        launcher.wait()
    # Lose the state file as well: down must still find the namespaces and the processes.
    os.remove(RUN_DIR / "state.json")
    assert any(item.startswith("namespace nm-") for item in leftovers(network.binary))
    assert any(item.startswith("process") for item in leftovers(network.binary))
    down = network.down()
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout and "nm-n1" in down.stdout, down.stdout
    assert leftovers(network.binary) == []


def test_timeout_is_reported_and_cleans_up(network):
    # Node 4 is in python mode: the launcher starts no process for it, and nobody else does.
    started = time.monotonic()
    result = network.cmd("up", CONFIGS / "ring4_python_node.toml", "--detach", "--timeout", "3",
                         timeout=60)
    elapsed = time.monotonic() - started
    assert result.returncode == 1, result
    assert "not ready after 3 s" in result.stderr, result.stderr
    assert "3/4 connected" in result.stderr, result.stderr
    assert "python-mode nodes, which you start yourself in their namespaces: 4" in result.stderr
    # The controller lists ready nodes: 1 and 3 wait for their links to node 4.
    assert "nodes not ready: 1, 3, 4" in result.stderr, result.stderr
    assert f"node 1: see {RUN_DIR / 'logs' / 'node-1.log'}" in result.stderr
    assert "node 4: python mode, not started by the launcher" in result.stderr
    assert 3 <= elapsed < 30
    assert leftovers(network.binary) == []
    assert "nm-" not in run(["ip", "netns", "list"]).stdout
