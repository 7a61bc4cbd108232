"""iperf3 between two nodes of a running network, through `nextmini exec`."""

import json
import subprocess
import time


def start_server(network, node, address, port=5201, extra=(), wrapper=()):
    """Starts a one-shot iperf3 server in `node` bound to `address` (with `extra` options);
    waits until it listens. `wrapper` prefixes the command (e.g. `("chrt", "-f", "50")`)."""
    server = subprocess.Popen(
        [network.binary, "exec", str(node), "--", *wrapper, "iperf3", "-s", "-1", "-B", address,
         "-p", str(port), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        listening = network.exec(node, "ss", "-ltnH", f"sport = :{port}").stdout
        if f":{port}" in listening:
            return server
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    output = server.communicate()[0]
    raise AssertionError(f"iperf3 server in node {node} did not start:\n{output}")


def run_client(network, node, address, *extra, port=5201, timeout=60, wrapper=()):
    """Runs an iperf3 client in `node` against `address` (the command prefixed by `wrapper`);
    returns iperf3's JSON report."""
    result = network.exec(node, *wrapper, "iperf3", "-c", address, "-p", str(port), "-J", *extra,
                          timeout=timeout)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(
            f"iperf3 client output is not JSON ({error}):\n{result.stdout}\n{result.stderr}")
    assert result.returncode == 0 and "error" not in report, (
        f"iperf3 client failed: {report.get('error')}\n{network.logs()}")
    return report


def stop_server(server):
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
