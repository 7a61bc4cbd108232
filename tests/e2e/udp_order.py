#!/usr/bin/python3
"""Per-flow order of UDP flows and their answers, for the end-to-end tests (test_workers.py).
Run inside a node's namespace (`nextmini exec N -- /usr/bin/python3 udp_order.py ...`):

  server ADDRESS PORT            echoes every datagram to its sender; counts, per sender
                                 (address, port), datagrams whose sequence number is not above
                                 the last one seen; after 3 s without a datagram (or 120 s in all)
                                 prints one JSON line {"received", "out_of_order", "flows"}.
  client ADDRESS PORT FLOWS COUNT
                                 FLOWS sockets (FLOWS flows, one source port each) send COUNT
                                 sequence-numbered datagrams each, round robin, reading the echoes
                                 every 8 rounds; prints one JSON line {"sent" (what the
                                 sockets took), "echoed",
                                 "out_of_order", "flows"} once the echoes stop for 2 s.

A datagram is 64 bytes: flow number and sequence number (two big-endian u32), then padding.
Datagrams lost on the way are allowed (they only lower "received"/"echoed"); one arriving after a
later one of its flow is out of order.

Exit status: 0 when the run finished (the JSON line says what happened), 2 for bad arguments.
"""

import json
import select
import socket
import struct
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts" / "lib"))
import cli_help  # noqa: E402  (scripts/lib/cli_help.py)

HEADER = struct.Struct("!II")
SIZE = 64


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def serve(address, port):
    sock = socket.socket(family_of(address), socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)  # Python reads slowly
    sock.bind((address, port))
    print("listening", flush=True)
    last = {}
    received = out_of_order = 0
    started = time.monotonic()
    sock.settimeout(120)
    while time.monotonic() - started < 120:
        try:
            data, peer = sock.recvfrom(2048)
        except socket.timeout:
            break
        sock.settimeout(3)
        received += 1
        _, seq = HEADER.unpack_from(data)
        key = peer[:2]
        if key in last and seq <= last[key]:
            out_of_order += 1
        last[key] = max(seq, last.get(key, -1))
        sock.sendto(data, peer)
    print(json.dumps({"received": received, "out_of_order": out_of_order, "flows": len(last)}),
          flush=True)


def run_client(address, port, flows, count):
    socks = []
    for _ in range(flows):
        sock = socket.socket(family_of(address), socket.SOCK_DGRAM)
        sock.connect((address, port))
        sock.setblocking(False)
        socks.append(sock)
    last = [-1] * flows
    echoed = out_of_order = 0

    def drain(wait):
        nonlocal echoed, out_of_order
        got_any = False
        readable, _, _ = select.select(socks, [], [], wait)
        for sock in readable:
            while True:
                try:
                    data = sock.recv(2048)
                except BlockingIOError:
                    break
                flow, seq = HEADER.unpack_from(data)
                echoed += 1
                got_any = True
                if seq <= last[flow]:
                    out_of_order += 1
                last[flow] = max(seq, last[flow])
        return got_any

    padding = bytes(SIZE - HEADER.size)
    sent = 0
    for seq in range(count):
        for flow, sock in enumerate(socks):
            try:
                sock.send(HEADER.pack(flow, seq) + padding)
                sent += 1
            except BlockingIOError:
                pass
        if seq % 8 == 7:
            drain(0.001)
    while drain(2.0):
        pass
    print(json.dumps({"sent": sent, "echoed": echoed, "out_of_order": out_of_order,
                      "flows": flows}), flush=True)


def main():
    parser = cli_help.ArgumentParser("udp_order.py", __doc__)
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("address")
    parser.add_argument("port", type=int)
    parser.add_argument("flows", type=int, nargs="?", help="client: sockets, one flow each")
    parser.add_argument("count", type=int, nargs="?", help="client: datagrams per flow")
    args = parser.parse_args()
    if args.mode == "server":
        serve(args.address, args.port)
    elif args.flows is None or args.count is None:
        parser.error("client needs FLOWS and COUNT")
    else:
        run_client(args.address, args.port, args.flows, args.count)


if __name__ == "__main__":
    main()
