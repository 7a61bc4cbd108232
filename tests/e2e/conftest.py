"""Shared fixtures of the end-to-end tests: real network namespaces, the real `nextmini`
binary, real ping and iperf3. They need root. Every test that brings a network up does it
through the `network` fixture, which always runs `nextmini down` afterwards and then checks
that no nm-* namespace, nmbr*/nmv* interface or nextmini process is left.

The binary is given with --nextmini-bin (CTest passes the one it built) or $NEXTMINI_BIN.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

CONFIGS = Path(__file__).resolve().parent / "configs"
REPO = Path(__file__).resolve().parents[2]
RUN_DIR = Path(os.environ.get("NEXTMINI_RUN_DIR", "/run/nextmini"))


def pytest_addoption(parser):
    parser.addoption("--nextmini-bin", default=os.environ.get("NEXTMINI_BIN"),
                     help="path of the nextmini binary under test")


def run(argv, timeout=120, check=False, input_text=None):
    """Runs a command, returns CompletedProcess with text stdout/stderr."""
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=timeout, input=input_text)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, argv))} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def leftovers(binary):
    """Everything a network could leave behind: namespaces, interfaces, processes."""
    found = []
    names = run(["ip", "netns", "list"], check=True).stdout.split("\n")
    found += [f"namespace {line.split()[0]}" for line in names
              if line.strip() and line.split()[0].startswith("nm-")]
    links = run(["ip", "-o", "link", "show"], check=True).stdout.split("\n")
    for line in links:
        parts = line.split(": ")
        if len(parts) > 1:
            name = parts[1].split("@")[0]
            if name.startswith("nmbr") or name.startswith("nmv"):
                found.append(f"interface {name}")
    real_binary = os.path.realpath(binary)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) >= 2 and argv[1] in (b"controller", b"node"):
            # Only processes of the binary under test (other builds may run their own).
            try:
                exe = os.readlink(entry / "exe").removesuffix(" (deleted)")
            except OSError:
                continue
            if exe == real_binary:
                found.append(f"process {entry.name}: {b' '.join(argv).decode(errors='replace')}")
    if (RUN_DIR / "state.json").exists():
        found.append(f"state file {RUN_DIR / 'state.json'}")
    return found


class Network:
    """A handle on `nextmini` for one test; `down()` is always called by the fixture."""

    def __init__(self, binary):
        self.binary = binary

    def cmd(self, *args, timeout=120, check=False):
        return run([self.binary, *args], timeout=timeout, check=check)

    def up(self, config, timeout=60):
        result = self.cmd("up", config, "--detach", "--timeout", str(timeout),
                          timeout=timeout + 60)
        assert result.returncode == 0, (
            f"nextmini up {config} failed ({result.returncode})\nstdout:\n{result.stdout}\n"
            f"stderr:\n{result.stderr}\n{self.logs()}")
        return result

    def down(self):
        return self.cmd("down", timeout=120)

    def exec(self, node, *argv, timeout=120, check=False):
        return self.cmd("exec", str(node), "--", *argv, timeout=timeout, check=check)

    def status(self):
        result = self.cmd("status", "--json", check=True)
        return json.loads(result.stdout)

    def pids(self):
        """{"controller": pid, 1: pid, 2: pid, ...} as recorded by the launcher."""
        state = self.status()["state"]
        pids = {"controller": state["controller"]["pid"]}
        for node in state["nodes"]:
            pids[node["id"]] = node["process"]["pid"]
        return pids

    def ping(self, node, address, count=3, timeout=60):
        return self.exec(node, "ping", "-c", str(count), "-i", "0.2", "-W", "2", address,
                         timeout=timeout)

    def wait_for_ping(self, node, address, within=30):
        """Pings until one succeeds; returns the successful result or the last failure."""
        deadline = time.monotonic() + within
        while True:
            result = self.ping(node, address, count=1)
            if result.returncode == 0 or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def logs(self):
        """The tail of every log, for assertion messages."""
        text = ""
        log_dir = RUN_DIR / "logs"
        if log_dir.is_dir():
            for log in sorted(log_dir.glob("*.log")):
                lines = log.read_text(errors="replace").splitlines()[-15:]
                text += f"--- {log} (last {len(lines)} lines)\n" + "\n".join(lines) + "\n"
        return text


@pytest.fixture(scope="session")
def nextmini_bin(request):
    binary = request.config.getoption("--nextmini-bin")
    if os.geteuid() != 0:
        pytest.fail("the end-to-end tests need root (network namespaces)")
    if not binary or not os.access(binary, os.X_OK):
        pytest.fail("no nextmini binary: pass --nextmini-bin or set NEXTMINI_BIN")
    # Start from a clean machine: take down whatever an earlier run left.
    run([binary, "down"], timeout=120)
    assert leftovers(binary) == [], "could not clean up before the tests"
    yield binary
    assert leftovers(binary) == [], "the end-to-end tests left something behind"


@pytest.fixture
def network(nextmini_bin):
    net = Network(nextmini_bin)
    try:
        yield net
    finally:
        down = net.down()
        left = leftovers(nextmini_bin)
        assert down.returncode == 0, f"nextmini down failed:\n{down.stdout}\n{down.stderr}"
        assert left == [], f"left behind after nextmini down: {left}"


def link_bytes(port):
    """rx + tx bytes of a bridge port (nmv<N>) in the controller namespace: the underlay
    traffic of node N."""
    result = run(["ip", "-n", "nm-ctl", "-s", "-j", "link", "show", port], check=True)
    stats = json.loads(result.stdout)[0]["stats64"]
    return stats["rx"]["bytes"] + stats["tx"]["bytes"]
