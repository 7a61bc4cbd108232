"""Data arrives intact: a 50 MB file of random bytes, served over HTTP by node 4, is fetched
with curl by node 1 through three hops (1 - 2 - 3 - 4), over IPv4 and over IPv6, over tcp links
and over udp links (where the segments travel with partial checksums that only the far TUN's
kernel completes, and are regrouped at every hop), and its SHA-256 compared with the
original's."""

import hashlib
import os
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import CONFIGS

LINE4 = CONFIGS / "line4.toml"
LINE4_UDP = CONFIGS / "line4_udp.toml"
SIZE = 50 * 1024 * 1024
PORT = 8080


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def start_http_server(network, node, directory):
    """python3 -m http.server in `node`, on every address (IPv4 and IPv6) of its namespace."""
    server = subprocess.Popen(
        [network.binary, "exec", str(node), "--", "/usr/bin/python3", "-m", "http.server",
         str(PORT), "--bind", "::", "--directory", str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if f":{PORT}" in network.exec(node, "ss", "-ltnH", f"sport = :{PORT}").stdout:
            return server
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    raise AssertionError(f"http.server in node {node} did not start:\n{server.communicate()[0]}")


@pytest.mark.parametrize("config", [LINE4, LINE4_UDP], ids=["tcp_links", "udp_links"])
def test_file_sha256_through_three_hops(network, config):
    network.up(config)
    with tempfile.TemporaryDirectory(prefix="nextmini-e2e-") as tmp:
        served = Path(tmp) / "served"
        served.mkdir()
        original = served / "random.bin"
        original.write_bytes(os.urandom(SIZE))
        expected = sha256_of(original)
        assert network.wait_for_ping(1, "10.0.0.4").returncode == 0, network.logs()
        server = start_http_server(network, 4, served)
        try:
            for url in (f"http://10.0.0.4:{PORT}/random.bin",
                        f"http://[fd00:6e6d::4]:{PORT}/random.bin"):
                fetched = Path(tmp) / "fetched.bin"
                started = time.monotonic()
                result = network.exec(1, "curl", "-sS", "-g", "--max-time", "120", "-o",
                                      str(fetched), url, timeout=150)
                seconds = time.monotonic() - started
                assert result.returncode == 0, f"curl {url}: {result.stderr}\n{network.logs()}"
                assert fetched.stat().st_size == SIZE, f"{url}: {fetched.stat().st_size} bytes"
                assert sha256_of(fetched) == expected, f"{url}: the file arrived corrupted"
                print(f"{url}: {SIZE} bytes intact in {seconds:.1f} s "
                      f"({SIZE * 8 / seconds / 1e6:.0f} Mbit/s)")
                fetched.unlink()
        finally:
            server.kill()
            server.wait()
