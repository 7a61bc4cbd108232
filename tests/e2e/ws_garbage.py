#!/usr/bin/python3
"""Sends bad control traffic to a Nextmini controller: a WebSocket connection that completes
the upgrade, then sends one well-framed binary message whose payload is not MessagePack, then a
truncated frame (the header promises more bytes than arrive) and hangs up. Prints what it did.
(test_ring.py runs it inside the controller's namespace: `nextmini exec ctl`.)

Exit status: 0 once the upgrade succeeded, 1 when the controller refused it or cannot be
reached, 2 for bad arguments.
"""

import base64
import os
import socket
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))
import cli_help  # noqa: E402  (scripts/lib/cli_help.py)


def masked_frame(payload, length=None):
    """A client-to-server binary frame (FIN, opcode 2, masked); `length` may lie."""
    length = len(payload) if length is None else length
    header = bytes([0x82])
    if length < 126:
        header += bytes([0x80 | length])
    elif length < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", length)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", length)
    mask = os.urandom(4)
    return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def main():
    parser = cli_help.ArgumentParser("ws_garbage.py", __doc__)
    parser.add_argument("host", help="the controller's address")
    parser.add_argument("port", type=int, help="its WebSocket port")
    args = parser.parse_args()
    host, port = args.host, args.port
    sock = socket.create_connection((host, port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        if not chunk:
            break
        response += chunk
    status = response.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"upgrade: {status}")
    if " 101 " not in status + " ":
        return 1
    sock.sendall(masked_frame(b"\xc1\xff\x00 this is not msgpack " + os.urandom(64)))
    print("sent an undecodable binary message")
    sock.sendall(masked_frame(os.urandom(10), length=1000)[:20])
    print("sent a truncated frame; hanging up")
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
